-- CAN values the fleet plan's IO table names, beside the existing ones.
ALTER TABLE can_data ADD COLUMN brake_active BOOLEAN;
ALTER TABLE can_data ADD COLUMN cruise_control BOOLEAN;
ALTER TABLE can_data ADD COLUMN check_engine BOOLEAN;
ALTER TABLE can_data ADD COLUMN door1_open BOOLEAN;
ALTER TABLE can_data ADD COLUMN door2_open BOOLEAN;
ALTER TABLE can_data ADD COLUMN door3_open BOOLEAN;

-- The command ledger: a client's key makes a repeated create return the first command.
ALTER TABLE device_commands ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX device_commands_idempotency ON device_commands (device_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
