-- Vehicles, the trackers riding in them, and their telemetry history.
-- Times are milliseconds since 1970-01-01 UTC (INTEGER), the same on every backend.

CREATE TABLE vehicles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    registration TEXT NOT NULL UNIQUE,
    vehicle_type TEXT NOT NULL DEFAULT 'bus',
    make TEXT,
    model TEXT,
    year INTEGER,
    capacity INTEGER
);

CREATE TABLE devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    imei TEXT NOT NULL UNIQUE,
    name TEXT,
    model TEXT NOT NULL,
    vehicle_id INTEGER REFERENCES vehicles (id) ON DELETE SET NULL,
    online BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen_ms BIGINT,
    firmware TEXT
);

-- SQLite has no partitions: retention deletes by time range on the primary key.
CREATE TABLE telemetry (
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
    io TEXT NOT NULL,
    PRIMARY KEY (device_id, device_time_ms)
) WITHOUT ROWID;

-- What happened to a vehicle: trip start/stop, online/offline, motion changes. A frame's
-- events are committed with its records; the unique key makes a retransmit harmless.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (device_id, time_ms, kind)
);
CREATE INDEX events_time ON events (time_ms);

-- CAN bus values (LVCAN200 and the like), for the records that carry any; partitioned and
-- retained like telemetry.
CREATE TABLE can_data (
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
    PRIMARY KEY (device_id, device_time_ms)
) WITHOUT ROWID;
