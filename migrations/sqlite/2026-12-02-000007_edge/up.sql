-- Edge AI nodes over MQTT: the node list, what the nodes report, and what was refused.
-- Times are milliseconds since 1970-01-01 UTC (BIGINT), as everywhere else; JSON is TEXT.

-- Every kind of device has its row here; `imei` holds the device's own identifier (a
-- tracker's IMEI, an edge node's id).
ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'tracker';

CREATE TABLE edge_nodes (
    id TEXT PRIMARY KEY,
    device_id BIGINT NOT NULL UNIQUE REFERENCES devices (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'idle',
    location TEXT,
    cpu_usage DOUBLE NOT NULL DEFAULT 0,
    memory_usage DOUBLE NOT NULL DEFAULT 0,
    network_status TEXT NOT NULL DEFAULT 'good',
    energy_consumption DOUBLE NOT NULL DEFAULT 0,
    ip_address TEXT,
    port INTEGER,
    capabilities TEXT NOT NULL DEFAULT '{}',
    -- The API key the node registered with: its MQTT password on the embedded broker.
    api_key_id BIGINT REFERENCES api_keys (id) ON DELETE SET NULL,
    quarantined BOOLEAN NOT NULL DEFAULT FALSE,
    boot BIGINT,
    lat DOUBLE,
    lon DOUBLE,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    last_heartbeat_ms BIGINT
);

-- One row per detected object. A message's detections share (node, time, boot, seq) and
-- differ by `idx`; a redelivered message is stored once.
CREATE TABLE detections (
    node_id TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    boot BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    idx INTEGER NOT NULL,
    received_ms BIGINT NOT NULL,
    stream_id TEXT NOT NULL,
    object_type TEXT NOT NULL,
    confidence DOUBLE NOT NULL,
    bbox_x DOUBLE NOT NULL,
    bbox_y DOUBLE NOT NULL,
    bbox_width DOUBLE NOT NULL,
    bbox_height DOUBLE NOT NULL,
    bbox_normalized BOOLEAN NOT NULL,
    location TEXT,
    metadata TEXT NOT NULL,
    PRIMARY KEY (node_id, time_ms, boot, seq, idx)
);
CREATE INDEX detections_time ON detections (time_ms DESC);
CREATE INDEX detections_node ON detections (node_id, time_ms);
CREATE INDEX detections_type ON detections (object_type, time_ms);

-- Heartbeats and metrics reports, as the node sent them: a node's metrics history.
CREATE TABLE node_samples (
    node_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (node_id, kind, time_ms)
);

CREATE TABLE consensus_rounds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id TEXT NOT NULL,
    round_number BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    success BOOLEAN,
    participants INTEGER,
    duration_ms INTEGER,
    votes TEXT NOT NULL,
    result TEXT,
    -- The outcome recomputed from the votes with the configured quorum, and whether the
    -- node's own result agrees with it.
    computed_result TEXT,
    agrees BOOLEAN,
    UNIQUE (node_id, round_number, time_ms)
);
CREATE INDEX consensus_rounds_time ON consensus_rounds (time_ms DESC);

CREATE TABLE system_metrics (
    time_ms BIGINT PRIMARY KEY,
    total_nodes INTEGER NOT NULL,
    active_nodes INTEGER NOT NULL,
    total_detections BIGINT NOT NULL,
    average_latency DOUBLE NOT NULL,
    bandwidth_saved DOUBLE NOT NULL,
    energy_saved DOUBLE NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE system_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms BIGINT NOT NULL,
    level TEXT NOT NULL,
    source TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX system_logs_time ON system_logs (time_ms DESC);
CREATE INDEX system_logs_level ON system_logs (level);

-- Detections of one object type by several nodes within a window: one event.
CREATE TABLE corroborated_detections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_type TEXT NOT NULL,
    first_ms BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    nodes TEXT NOT NULL
);
CREATE INDEX corroborated_detections_time ON corroborated_detections (time_ms DESC);

-- MQTT messages refused (malformed, wrong node, oversize, …), kept for inspection.
CREATE TABLE mqtt_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms BIGINT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX mqtt_dead_letters_time ON mqtt_dead_letters (received_ms DESC);
