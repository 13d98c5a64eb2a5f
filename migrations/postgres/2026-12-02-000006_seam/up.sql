-- CAN values the fleet plan's IO table names, beside the existing ones.
ALTER TABLE can_data
    ADD COLUMN brake_active BOOLEAN,
    ADD COLUMN cruise_control BOOLEAN,
    ADD COLUMN check_engine BOOLEAN,
    ADD COLUMN door1_open BOOLEAN,
    ADD COLUMN door2_open BOOLEAN,
    ADD COLUMN door3_open BOOLEAN;

-- The command ledger: a client's key makes a repeated create return the first command.
ALTER TABLE device_commands ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX device_commands_idempotency ON device_commands (device_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
