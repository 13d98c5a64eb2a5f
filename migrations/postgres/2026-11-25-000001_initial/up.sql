-- Vehicles, the trackers riding in them, and their telemetry history.
-- Times are milliseconds since 1970-01-01 UTC (BIGINT), the same on every backend.

CREATE TABLE vehicles (
    id BIGSERIAL PRIMARY KEY,
    registration TEXT NOT NULL UNIQUE,
    vehicle_type TEXT NOT NULL DEFAULT 'bus',
    make TEXT,
    model TEXT,
    year INTEGER,
    capacity INTEGER
);

CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    imei TEXT NOT NULL UNIQUE,
    name TEXT,
    model TEXT NOT NULL,
    vehicle_id BIGINT REFERENCES vehicles (id) ON DELETE SET NULL,
    online BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen_ms BIGINT,
    firmware TEXT
);

-- Range-partitioned by device time, one partition per UTC day, created on demand by the
-- writer; retention drops whole partitions.
CREATE TABLE telemetry (
    device_id BIGINT NOT NULL,
    device_time_ms BIGINT NOT NULL,
    server_time_ms BIGINT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    altitude INTEGER NOT NULL,
    speed_kmh INTEGER NOT NULL,
    heading INTEGER NOT NULL,
    satellites INTEGER NOT NULL,
    fix BOOLEAN NOT NULL,
    hdop DOUBLE PRECISION,
    ignition BOOLEAN,
    movement BOOLEAN,
    external_voltage_v DOUBLE PRECISION,
    battery_voltage_v DOUBLE PRECISION,
    gsm_signal INTEGER,
    distance_m DOUBLE PRECISION NOT NULL,
    late BOOLEAN NOT NULL,
    io TEXT NOT NULL,
    PRIMARY KEY (device_id, device_time_ms)
) PARTITION BY RANGE (device_time_ms);

-- What happened to a vehicle: trip start/stop, online/offline, motion changes. A frame's
-- events are committed with its records; the unique key makes a retransmit harmless.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
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
    engine_hours_h DOUBLE PRECISION,
    coolant_temp_c DOUBLE PRECISION,
    engine_load_pct DOUBLE PRECISION,
    fuel_level_l DOUBLE PRECISION,
    fuel_level_pct DOUBLE PRECISION,
    fuel_used_l DOUBLE PRECISION,
    fuel_rate_lph DOUBLE PRECISION,
    vehicle_speed_kmh DOUBLE PRECISION,
    odometer_m DOUBLE PRECISION,
    accelerator_pct DOUBLE PRECISION,
    dtc_codes TEXT,
    doors INTEGER,
    PRIMARY KEY (device_id, device_time_ms)
) PARTITION BY RANGE (device_time_ms);
