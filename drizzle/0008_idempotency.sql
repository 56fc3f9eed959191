CREATE TABLE `request_answers` (
	`run_id` text NOT NULL,
	`instance` text NOT NULL,
	`request` text NOT NULL,
	`answer` text NOT NULL,
	PRIMARY KEY(`run_id`, `instance`, `request`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
