CREATE TABLE `cloud_access` (
	`cloud` text PRIMARY KEY NOT NULL,
	`roles` text NOT NULL,
	`users` text NOT NULL,
	`install_keys` integer NOT NULL,
	`updated_at` text NOT NULL
);
