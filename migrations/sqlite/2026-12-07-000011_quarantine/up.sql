-- What was received and acknowledged but could not be taken as it came: a record dated
-- outside what a clock can say (the device cannot fix it by sending it again), or rows the
-- database refused for good. Kept as received, with why, for an operator to read.
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms BIGINT NOT NULL,
    -- Who sent it: `tracker`, `edge_node`, `robot`, or `database` for refused rows.
    source TEXT NOT NULL,
    -- Its device: an IMEI, a node id, a robot id (empty when unknown).
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    -- As received: a record as JSON, or the refused rows.
    payload TEXT NOT NULL
);
CREATE INDEX quarantine_time ON quarantine (received_ms DESC);
CREATE INDEX quarantine_subject ON quarantine (subject, id DESC);
