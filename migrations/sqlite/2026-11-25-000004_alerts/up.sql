-- Alert rules as data, alerts with their lifecycle, notification channels with a dead-letter
-- table, device commands queued for offline devices, and vehicle groups for rule targets.

ALTER TABLE vehicles ADD COLUMN group_name TEXT;

CREATE TABLE notification_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    -- webhook | email
    kind TEXT NOT NULL,
    -- webhook: url and signing secret; email: recipients
    target TEXT NOT NULL,
    secret TEXT,
    enabled BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE alert_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    -- OVERSPEED, GEOFENCE_ENTER, … (see the API document)
    kind TEXT NOT NULL,
    -- JSON object: the kind's thresholds
    params TEXT NOT NULL,
    -- JSON arrays; both empty: every vehicle
    vehicle_ids TEXT NOT NULL,
    groups TEXT NOT NULL,
    -- CRITICAL | WARNING | INFO
    severity TEXT NOT NULL,
    cooldown_s BIGINT NOT NULL,
    -- JSON array of notification channel ids
    channel_ids TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE alerts (
    -- UUID v7: made by the rule engine, time ordered
    id TEXT PRIMARY KEY,
    rule_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    -- ACTIVE_UNACK | ACTIVE_ACK | CLEARED
    status TEXT NOT NULL,
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    vehicle_id BIGINT,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    -- JSON object: the values that raised it
    details TEXT NOT NULL,
    -- raised by a record older than the vehicle's latest: history, not live
    late BOOLEAN NOT NULL,
    occurrences INTEGER NOT NULL,
    raised_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    acknowledged_ms BIGINT,
    acknowledged_by TEXT,
    cleared_ms BIGINT,
    cleared_by TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX alerts_raised ON alerts (raised_ms DESC);
CREATE INDEX alerts_device_raised ON alerts (device_id, raised_ms DESC);
CREATE INDEX alerts_open ON alerts (status) WHERE status <> 'CLEARED';

CREATE TABLE notification_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id BIGINT NOT NULL,
    alert_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE device_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    command TEXT NOT NULL,
    -- QUEUED | SENT | ANSWERED | FAILED | EXPIRED
    status TEXT NOT NULL,
    response TEXT,
    error TEXT,
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    answered_ms BIGINT,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX device_commands_queued ON device_commands (device_id, id) WHERE status = 'QUEUED';
