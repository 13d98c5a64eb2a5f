ALTER TABLE events DROP CONSTRAINT events_device_time_kind_subject;
DELETE FROM events WHERE subject <> '';
ALTER TABLE events ADD CONSTRAINT events_device_id_time_ms_kind_key UNIQUE (device_id, time_ms, kind);
ALTER TABLE events DROP COLUMN subject;
DROP TABLE geofences;
