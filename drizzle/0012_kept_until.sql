ALTER TABLE `runs` ADD `kept_until` text;
