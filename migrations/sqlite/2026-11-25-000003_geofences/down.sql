CREATE TABLE events_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (device_id, time_ms, kind)
);
INSERT OR IGNORE INTO events_old (id, device_id, time_ms, kind, data) SELECT id, device_id, time_ms, kind, data FROM events;
DROP TABLE events;
ALTER TABLE events_old RENAME TO events;
CREATE INDEX events_time ON events (time_ms);
DROP TABLE geofences;
