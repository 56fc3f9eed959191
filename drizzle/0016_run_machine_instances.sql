CREATE TABLE `run_machine_instances` (
	`run_id` text NOT NULL,
	`name` text NOT NULL,
	`node` text NOT NULL,
	`live` integer NOT NULL,
	`came_up` integer NOT NULL,
	`completed` integer NOT NULL,
	PRIMARY KEY(`run_id`, `name`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `run_machine_instances` (`run_id`, `name`, `node`, `live`, `came_up`, `completed`)
SELECT `runs`.`id`, `i`.`key`, json_extract(`i`.`value`, '$.node'), json_extract(`i`.`value`, '$.live'),
	json_extract(`i`.`value`, '$.cameUp'), json_extract(`i`.`value`, '$.completed')
FROM `runs`, json_each(`runs`.`snapshot`, '$.context.instances') AS `i`;
--> statement-breakpoint
UPDATE `runs` SET `snapshot` = json_set(`snapshot`, '$.context.instances', json('{}'))
WHERE json_type(`snapshot`, '$.context.instances') = 'object';
