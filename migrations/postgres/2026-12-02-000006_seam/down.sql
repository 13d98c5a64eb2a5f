DROP INDEX device_commands_idempotency;
ALTER TABLE device_commands DROP COLUMN idempotency_key;
ALTER TABLE can_data
    DROP COLUMN brake_active,
    DROP COLUMN cruise_control,
    DROP COLUMN check_engine,
    DROP COLUMN door1_open,
    DROP COLUMN door2_open,
    DROP COLUMN door3_open;
