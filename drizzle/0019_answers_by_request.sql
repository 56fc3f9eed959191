CREATE TABLE `request_answers_new` (
	`run_id` text NOT NULL,
	`instance` text NOT NULL,
	`request` text NOT NULL,
	`answer` text NOT NULL,
	PRIMARY KEY(`run_id`, `request`, `instance`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `request_answers_new` SELECT `run_id`, `instance`, `request`, `answer` FROM `request_answers`;
--> statement-breakpoint
DROP TABLE `request_answers`;
--> statement-breakpoint
ALTER TABLE `request_answers_new` RENAME TO `request_answers`;
