-- Telemetry and CAN history written in arrival order, gathered by device later.
--
-- `telemetry` and `can_data` were WITHOUT ROWID tables clustered on (device_id,
-- device_time_ms). When thousands of devices each send one record a second, every row of a
-- batch lands on a leaf page of its own, so each ~300-byte record cost a 4 KB page in the
-- WAL, its fsync and its checkpoint, and a read of that page first. Now the clustered tables
-- are `*_kept`; a device's rows that arrive one or two at a time are appended to one of two
-- staging slots (`*_a`, `*_b`: plain rowid tables, filled in arrival order) and moved into
-- the kept tables a few thousand devices at a time, when the slot is full or old, while
-- writes go on into the other slot. `history_staging` records how far the move of each slot
-- got (every device id up to `a_moved` / `b_moved` is in the kept table already; -1: none),
-- so that the views below show each row once, also in the middle of a move.
ALTER TABLE telemetry RENAME TO telemetry_kept;
ALTER TABLE can_data RENAME TO can_data_kept;

CREATE TABLE telemetry_a (
    device_id BIGINT NOT NULL,
    device_time_ms BIGINT NOT NULL,
    server_time_ms BIGINT NOT NULL,
    lat DOUBLE NOT NULL,
    lon DOUBLE NOT NULL,
    altitude INTEGER NOT NULL,
    speed_kmh INTEGER NOT NULL,
    heading INTEGER NOT NULL,
    satellites INTEGER NOT NULL,
    fix BOOLEAN NOT NULL,
    hdop DOUBLE,
    ignition BOOLEAN,
    movement BOOLEAN,
    external_voltage_v DOUBLE,
    battery_voltage_v DOUBLE,
    gsm_signal INTEGER,
    distance_m DOUBLE NOT NULL,
    late BOOLEAN NOT NULL,
    io TEXT NOT NULL
);

CREATE TABLE telemetry_b (
    device_id BIGINT NOT NULL,
    device_time_ms BIGINT NOT NULL,
    server_time_ms BIGINT NOT NULL,
    lat DOUBLE NOT NULL,
    lon DOUBLE NOT NULL,
    altitude INTEGER NOT NULL,
    speed_kmh INTEGER NOT NULL,
    heading INTEGER NOT NULL,
    satellites INTEGER NOT NULL,
    fix BOOLEAN NOT NULL,
    hdop DOUBLE,
    ignition BOOLEAN,
    movement BOOLEAN,
    external_voltage_v DOUBLE,
    battery_voltage_v DOUBLE,
    gsm_signal INTEGER,
    distance_m DOUBLE NOT NULL,
    late BOOLEAN NOT NULL,
    io TEXT NOT NULL
);

CREATE TABLE can_data_a (
    device_id BIGINT NOT NULL,
    device_time_ms BIGINT NOT NULL,
    engine_rpm INTEGER,
    engine_hours_h DOUBLE,
    coolant_temp_c DOUBLE,
    engine_load_pct DOUBLE,
    fuel_level_l DOUBLE,
    fuel_level_pct DOUBLE,
    fuel_used_l DOUBLE,
    fuel_rate_lph DOUBLE,
    vehicle_speed_kmh DOUBLE,
    odometer_m DOUBLE,
    accelerator_pct DOUBLE,
    dtc_codes TEXT,
    doors INTEGER,
    brake_active BOOLEAN,
    cruise_control BOOLEAN,
    check_engine BOOLEAN,
    door1_open BOOLEAN,
    door2_open BOOLEAN,
    door3_open BOOLEAN
);

CREATE TABLE can_data_b (
    device_id BIGINT NOT NULL,
    device_time_ms BIGINT NOT NULL,
    engine_rpm INTEGER,
    engine_hours_h DOUBLE,
    coolant_temp_c DOUBLE,
    engine_load_pct DOUBLE,
    fuel_level_l DOUBLE,
    fuel_level_pct DOUBLE,
    fuel_used_l DOUBLE,
    fuel_rate_lph DOUBLE,
    vehicle_speed_kmh DOUBLE,
    odometer_m DOUBLE,
    accelerator_pct DOUBLE,
    dtc_codes TEXT,
    doors INTEGER,
    brake_active BOOLEAN,
    cruise_control BOOLEAN,
    check_engine BOOLEAN,
    door1_open BOOLEAN,
    door2_open BOOLEAN,
    door3_open BOOLEAN
);

CREATE TABLE history_staging (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    a_moved BIGINT NOT NULL,
    b_moved BIGINT NOT NULL
);
INSERT INTO history_staging (id, a_moved, b_moved) VALUES (1, -1, -1);

-- What every query reads: the kept rows and the staged rows not moved yet.
CREATE VIEW telemetry AS
    SELECT device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading, satellites, fix, hdop, ignition, movement, external_voltage_v, battery_voltage_v, gsm_signal, distance_m, late, io FROM telemetry_kept
    UNION ALL
    SELECT device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading, satellites, fix, hdop, ignition, movement, external_voltage_v, battery_voltage_v, gsm_signal, distance_m, late, io FROM telemetry_a WHERE device_id > (SELECT a_moved FROM history_staging)
    UNION ALL
    SELECT device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading, satellites, fix, hdop, ignition, movement, external_voltage_v, battery_voltage_v, gsm_signal, distance_m, late, io FROM telemetry_b WHERE device_id > (SELECT b_moved FROM history_staging);

CREATE VIEW can_data AS
    SELECT device_id, device_time_ms, engine_rpm, engine_hours_h, coolant_temp_c, engine_load_pct, fuel_level_l, fuel_level_pct, fuel_used_l, fuel_rate_lph, vehicle_speed_kmh, odometer_m, accelerator_pct, dtc_codes, doors, brake_active, cruise_control, check_engine, door1_open, door2_open, door3_open FROM can_data_kept
    UNION ALL
    SELECT device_id, device_time_ms, engine_rpm, engine_hours_h, coolant_temp_c, engine_load_pct, fuel_level_l, fuel_level_pct, fuel_used_l, fuel_rate_lph, vehicle_speed_kmh, odometer_m, accelerator_pct, dtc_codes, doors, brake_active, cruise_control, check_engine, door1_open, door2_open, door3_open FROM can_data_a WHERE device_id > (SELECT a_moved FROM history_staging)
    UNION ALL
    SELECT device_id, device_time_ms, engine_rpm, engine_hours_h, coolant_temp_c, engine_load_pct, fuel_level_l, fuel_level_pct, fuel_used_l, fuel_rate_lph, vehicle_speed_kmh, odometer_m, accelerator_pct, dtc_codes, doors, brake_active, cruise_control, check_engine, door1_open, door2_open, door3_open FROM can_data_b WHERE device_id > (SELECT b_moved FROM history_staging);
