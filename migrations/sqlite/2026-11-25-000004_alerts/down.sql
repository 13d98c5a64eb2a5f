DROP TABLE device_commands;
DROP TABLE notification_dead_letters;
DROP TABLE alerts;
DROP TABLE alert_rules;
DROP TABLE notification_channels;
ALTER TABLE vehicles DROP COLUMN group_name;
