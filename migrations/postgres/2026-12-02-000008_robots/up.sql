-- Overhead hoist robots over Modbus: the buses (a serial port or a TCP gateway), the robots
-- on them, their telemetry and their safety events. Times are milliseconds since
-- 1970-01-01 UTC, as everywhere else.

CREATE TABLE modbus_buses (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- 'tcp' (address) or 'rtu' (path, baud, parity, stop_bits).
    kind TEXT NOT NULL,
    address TEXT,
    path TEXT,
    baud INTEGER NOT NULL DEFAULT 115200,
    parity TEXT NOT NULL DEFAULT 'N',
    stop_bits INTEGER NOT NULL DEFAULT 1,
    poll_hz DOUBLE PRECISION NOT NULL DEFAULT 10,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- A robot is a device (kind 'robot'; its identifier is this row's id) at one unit id of
-- one bus.
CREATE TABLE robots (
    id BIGSERIAL PRIMARY KEY,
    device_id BIGINT UNIQUE REFERENCES devices (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    bus_id BIGINT NOT NULL REFERENCES modbus_buses (id) ON DELETE RESTRICT,
    unit_id INTEGER NOT NULL CHECK (unit_id BETWEEN 1 AND 247),
    map TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (bus_id, unit_id)
);

-- What a robot reported, at the configured telemetry rate; partitioned by UTC day (created
-- by the writer, dropped by retention).
CREATE TABLE robot_telemetry (
    robot_id BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    status_bits INTEGER NOT NULL,
    position_mm BIGINT NOT NULL,
    speed_mm_s INTEGER NOT NULL,
    hoist_mm INTEGER NOT NULL,
    battery_pct DOUBLE PRECISION NOT NULL,
    temperature_c DOUBLE PRECISION NOT NULL,
    station INTEGER NOT NULL,
    target_station INTEGER NOT NULL,
    fault_code INTEGER NOT NULL,
    load_kg DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (robot_id, time_ms)
) PARTITION BY RANGE (time_ms);

-- A safety condition began (`active`) or ended: e-stop pressed or requested, scanner field,
-- door, overload, fault code, stale or lost link.
CREATE TABLE safety_events (
    id BIGSERIAL PRIMARY KEY,
    robot_id BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    severity TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX safety_events_robot ON safety_events (robot_id, time_ms DESC);
CREATE INDEX safety_events_time ON safety_events (time_ms DESC);
