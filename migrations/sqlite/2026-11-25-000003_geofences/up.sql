-- Geofences, and events that name what they are about: two fences entered by one fix are
-- two events, so the unique key takes the subject too (SQLite rebuilds the table for it).

CREATE TABLE geofences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    -- circle | polygon | corridor
    kind TEXT NOT NULL,
    -- GeoJSON geometry, WGS 84: Point (a circle's centre), Polygon, LineString (a corridor)
    geometry TEXT NOT NULL,
    radius_m DOUBLE,
    width_m DOUBLE,
    hysteresis_m DOUBLE NOT NULL,
    speed_limit_kmh DOUBLE,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    UNIQUE (device_id, time_ms, kind, subject)
);
INSERT INTO events_new (id, device_id, time_ms, kind, data) SELECT id, device_id, time_ms, kind, data FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_time ON events (time_ms);
