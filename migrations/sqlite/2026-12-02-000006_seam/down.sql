DROP INDEX device_commands_idempotency;
ALTER TABLE device_commands DROP COLUMN idempotency_key;
ALTER TABLE can_data DROP COLUMN brake_active;
ALTER TABLE can_data DROP COLUMN cruise_control;
ALTER TABLE can_data DROP COLUMN check_engine;
ALTER TABLE can_data DROP COLUMN door1_open;
ALTER TABLE can_data DROP COLUMN door2_open;
ALTER TABLE can_data DROP COLUMN door3_open;
