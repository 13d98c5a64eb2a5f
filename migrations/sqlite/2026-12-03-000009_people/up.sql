-- Cameras and people: floor zones, tracking sessions, the global identities a session saw,
-- their downsampled floor trajectories, which camera saw them when, and zone entries and
-- exits. Positions are metres on the environment's floor plan; times are milliseconds since
-- 1970-01-01 UTC. Identities are anonymous (a number per session); no image is stored.

CREATE TABLE zones (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'area',
    -- JSON [[x, y], …] in metres, at least three corners.
    polygon TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (environment, name)
);

CREATE TABLE tracking_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    -- 'running', 'paused' or 'stopped'.
    state TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    ended_ms BIGINT,
    started_by TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX tracking_sessions_started ON tracking_sessions (started_ms DESC);

CREATE TABLE person_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id BIGINT NOT NULL REFERENCES tracking_sessions (id) ON DELETE CASCADE,
    global_id BIGINT NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    -- JSON array of the camera ids that saw it.
    cameras TEXT NOT NULL,
    distance_m DOUBLE NOT NULL DEFAULT 0,
    -- The identity it turned out to be (a merge), if any.
    merged_into BIGINT,
    UNIQUE (session_id, global_id)
);
CREATE INDEX person_identities_seen ON person_identities (first_seen_ms, last_seen_ms);

CREATE TABLE trajectory_points (
    session_id BIGINT NOT NULL,
    global_id BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    x_m DOUBLE NOT NULL,
    y_m DOUBLE NOT NULL,
    -- How many cameras placed it at this instant (0 while it coasts unseen).
    cameras INTEGER NOT NULL,
    PRIMARY KEY (session_id, global_id, time_ms)
);
CREATE INDEX trajectory_points_time ON trajectory_points (time_ms);

-- One camera's continuous view of an identity: the journey's camera transitions.
CREATE TABLE person_sightings (
    session_id BIGINT NOT NULL,
    global_id BIGINT NOT NULL,
    camera INTEGER NOT NULL,
    first_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    PRIMARY KEY (session_id, global_id, camera, first_ms)
);
CREATE INDEX person_sightings_camera ON person_sightings (camera, first_ms);

CREATE TABLE zone_events (
    session_id BIGINT NOT NULL,
    global_id BIGINT NOT NULL,
    zone_id BIGINT NOT NULL,
    -- 'enter' or 'exit' (an exit carries the dwell).
    kind TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    dwell_s DOUBLE,
    PRIMARY KEY (session_id, global_id, zone_id, kind, time_ms)
);
CREATE INDEX zone_events_zone ON zone_events (zone_id, time_ms);
