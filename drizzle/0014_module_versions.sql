CREATE TABLE `module_versions` (
	`path` text NOT NULL,
	`version` integer NOT NULL,
	`kind` text NOT NULL,
	`doc` text NOT NULL,
	`source` text,
	`author_id` integer NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	PRIMARY KEY(`path`, `version`),
	FOREIGN KEY (`author_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `module_versions` (`path`, `version`, `kind`, `doc`, `source`, `author_id`, `created_at`)
	SELECT `path`, `version`, `kind`, `doc`, `source`, `owner_id`, `updated_at` FROM `modules`;
