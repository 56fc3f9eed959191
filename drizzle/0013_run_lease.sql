ALTER TABLE `runs` ADD `lease_grace_seconds` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `lease_expires_at` text;