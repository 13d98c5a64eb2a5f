-- Geofences, and events that name what they are about: two fences entered by one fix are
-- two events, so the unique key takes the subject too.

CREATE TABLE geofences (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    -- circle | polygon | corridor
    kind TEXT NOT NULL,
    -- GeoJSON geometry, WGS 84: Point (a circle's centre), Polygon, LineString (a corridor)
    geometry TEXT NOT NULL,
    radius_m DOUBLE PRECISION,
    width_m DOUBLE PRECISION,
    hysteresis_m DOUBLE PRECISION NOT NULL,
    speed_limit_kmh DOUBLE PRECISION,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

ALTER TABLE events ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE events DROP CONSTRAINT events_device_id_time_ms_kind_key;
ALTER TABLE events ADD CONSTRAINT events_device_time_kind_subject UNIQUE (device_id, time_ms, kind, subject);
