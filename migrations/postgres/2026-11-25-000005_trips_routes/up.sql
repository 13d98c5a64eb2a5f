-- Trips and stays computed by the vehicle actors (stored with the frame that ended them),
-- and the transit network: routes, stops, the ordered stops of a route, timetables,
-- vehicles assigned to routes, and the arrivals detected at stops.

CREATE TABLE trips (
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    -- the vehicle the tracker rode in at the time
    vehicle_id BIGINT,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    distance_m DOUBLE PRECISION NOT NULL,
    duration_s BIGINT NOT NULL,
    max_speed_kmh DOUBLE PRECISION NOT NULL,
    idle_s DOUBLE PRECISION NOT NULL,
    fuel_used_l DOUBLE PRECISION,
    start_lat DOUBLE PRECISION,
    start_lon DOUBLE PRECISION,
    end_lat DOUBLE PRECISION,
    end_lon DOUBLE PRECISION,
    PRIMARY KEY (device_id, start_ms)
);
CREATE INDEX trips_start ON trips (start_ms);
CREATE INDEX trips_vehicle ON trips (vehicle_id, start_ms);

CREATE TABLE vehicle_stops (
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    -- the vehicle the tracker rode in at the time
    vehicle_id BIGINT,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    duration_s BIGINT NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    PRIMARY KEY (device_id, start_ms)
);
CREATE INDEX vehicle_stops_vehicle ON vehicle_stops (vehicle_id, start_ms);

CREATE TABLE routes (
    id BIGSERIAL PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    colour TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE stops (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    -- a vehicle within this distance is at the stop
    radius_m DOUBLE PRECISION NOT NULL,
    shelter BOOLEAN NOT NULL,
    display BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE route_stops (
    route_id BIGINT NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    stop_id BIGINT NOT NULL REFERENCES stops (id) ON DELETE RESTRICT,
    -- timetable: seconds after a departure the stop is due
    offset_s INTEGER NOT NULL,
    PRIMARY KEY (route_id, seq)
);

CREATE TABLE route_schedules (
    id BIGSERIAL PRIMARY KEY,
    route_id BIGINT NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    -- departure from the first stop, seconds after midnight UTC
    departure_s INTEGER NOT NULL,
    -- bit 0 Monday … bit 6 Sunday
    days INTEGER NOT NULL
);

CREATE TABLE route_assignments (
    vehicle_id BIGINT PRIMARY KEY REFERENCES vehicles (id) ON DELETE CASCADE,
    route_id BIGINT NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    assigned_ms BIGINT NOT NULL
);

CREATE TABLE stop_arrivals (
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    -- the vehicle the tracker rode in at the time
    vehicle_id BIGINT,
    route_id BIGINT NOT NULL,
    stop_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    arrived_ms BIGINT NOT NULL,
    departed_ms BIGINT,
    dwell_s DOUBLE PRECISION,
    PRIMARY KEY (device_id, arrived_ms, stop_id)
);
CREATE INDEX stop_arrivals_route ON stop_arrivals (route_id, arrived_ms);
CREATE INDEX stop_arrivals_stop ON stop_arrivals (stop_id, arrived_ms);
