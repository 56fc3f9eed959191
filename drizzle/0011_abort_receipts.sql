CREATE TABLE `abort_receipts` (
	`run_id` text NOT NULL,
	`instance` text NOT NULL,
	`abort` integer NOT NULL,
	`revision` integer NOT NULL,
	`body` text NOT NULL,
	`received_at` text NOT NULL,
	PRIMARY KEY(`run_id`, `instance`, `abort`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
