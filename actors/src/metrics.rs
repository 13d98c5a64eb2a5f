//! Every metric name urbanstream emits, with its kind, unit and help. Names follow
//! `urbanstream_<subsystem>_<what>_<unit>[_total]`; labels are bounded (never a device id).

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

pub const TELTONIKA_CONNECTIONS_TOTAL: &str = "urbanstream_teltonika_connections_total";
pub const TELTONIKA_SESSIONS_ACTIVE: &str = "urbanstream_teltonika_sessions_active";
pub const TELTONIKA_LOGINS_TOTAL: &str = "urbanstream_teltonika_logins_total";
pub const TELTONIKA_FRAMES_TOTAL: &str = "urbanstream_teltonika_frames_total";
pub const TELTONIKA_RECORDS_TOTAL: &str = "urbanstream_teltonika_records_total";
pub const TELTONIKA_FRAMES_REJECTED_TOTAL: &str = "urbanstream_teltonika_frames_rejected_total";
pub const TELTONIKA_RECORDS_REJECTED_TOTAL: &str = "urbanstream_teltonika_records_rejected_total";
pub const TELTONIKA_FIXES_DROPPED_TOTAL: &str = "urbanstream_teltonika_fixes_dropped_total";
pub const DB_ROWS_QUARANTINED_TOTAL: &str = "urbanstream_db_rows_quarantined_total";
pub const TELTONIKA_KEEPALIVES_TOTAL: &str = "urbanstream_teltonika_keepalives_total";
pub const TELTONIKA_DISCONNECTS_TOTAL: &str = "urbanstream_teltonika_disconnects_total";
pub const TELTONIKA_ACK_LATENCY_SECONDS: &str = "urbanstream_teltonika_ack_latency_seconds";
pub const TELTONIKA_COMMANDS_TOTAL: &str = "urbanstream_teltonika_commands_total";
pub const TELTONIKA_ACCEPT_ERRORS_TOTAL: &str = "urbanstream_teltonika_accept_errors_total";
pub const TELTONIKA_CAMERA_FRAMES_TOTAL: &str = "urbanstream_teltonika_camera_frames_total";
pub const VEHICLE_RECORDS_LATE_TOTAL: &str = "urbanstream_vehicle_records_late_total";
pub const VEHICLE_EVENTS_TOTAL: &str = "urbanstream_vehicle_events_total";
pub const EDGE_EVENTS_TOTAL: &str = "urbanstream_edge_events_total";
pub const EDGE_MESSAGES_REDELIVERED_TOTAL: &str = "urbanstream_edge_messages_redelivered_total";
pub const EDGE_MESSAGES_MISSING_TOTAL: &str = "urbanstream_edge_messages_missing_total";
pub const CAMERA_FRAMES_TOTAL: &str = "urbanstream_camera_frames_total";
pub const CAMERA_DETECTIONS_OUTSIDE_TOTAL: &str = "urbanstream_camera_detections_outside_total";
pub const CAMERA_FRAMES_ENCODED_TOTAL: &str = "urbanstream_camera_frames_encoded_total";
pub const CAMERA_DETECT_SECONDS: &str = "urbanstream_camera_detect_seconds";
pub const REID_OBSERVATIONS_TOTAL: &str = "urbanstream_reid_observations_total";
pub const REID_EVENTS_TOTAL: &str = "urbanstream_reid_events_total";
pub const PEOPLE_ROWS_TOTAL: &str = "urbanstream_people_rows_total";
pub const ROBOT_EVENTS_TOTAL: &str = "urbanstream_robot_events_total";
pub const MODBUS_REQUESTS_TOTAL: &str = "urbanstream_modbus_requests_total";
pub const MODBUS_ERRORS_TOTAL: &str = "urbanstream_modbus_errors_total";
pub const MODBUS_REQUEST_SECONDS: &str = "urbanstream_modbus_request_seconds";
pub const MODBUS_ESTOP_SECONDS: &str = "urbanstream_modbus_estop_seconds";
pub const MODBUS_LINKS_UP: &str = "urbanstream_modbus_links_up";
pub const MODBUS_FLUSHED_BYTES_TOTAL: &str = "urbanstream_modbus_flushed_bytes_total";
pub const MQTT_MESSAGES_TOTAL: &str = "urbanstream_mqtt_messages_total";
pub const MQTT_MESSAGES_REJECTED_TOTAL: &str = "urbanstream_mqtt_messages_rejected_total";
pub const MQTT_CONNECTED: &str = "urbanstream_mqtt_connected";
pub const MQTT_CONNECTION_ERRORS_TOTAL: &str = "urbanstream_mqtt_connection_errors_total";
pub const MQTT_CLIENTS_ACTIVE: &str = "urbanstream_mqtt_clients_active";
pub const MQTT_CONNECTS_REFUSED_TOTAL: &str = "urbanstream_mqtt_connects_refused_total";
pub const MQTT_UNACKED: &str = "urbanstream_mqtt_unacknowledged";
pub const MQTT_ACK_SECONDS: &str = "urbanstream_mqtt_ack_seconds";
pub const REGISTRY_ENTITIES_ACTIVE: &str = "urbanstream_registry_entities_active";
pub const REGISTRY_DEVICES_REGISTERED_TOTAL: &str = "urbanstream_registry_devices_registered_total";
pub const REGISTRY_REGISTRATION_SECONDS: &str = "urbanstream_registry_registration_seconds";
pub const DB_ROWS_WRITTEN_TOTAL: &str = "urbanstream_db_rows_written_total";
pub const DB_ROWS_DUPLICATE_TOTAL: &str = "urbanstream_db_rows_duplicate_total";
pub const DB_BATCH_ROWS: &str = "urbanstream_db_batch_rows";
pub const DB_FLUSH_SECONDS: &str = "urbanstream_db_flush_seconds";
pub const DB_QUEUE_ROWS: &str = "urbanstream_db_queue_rows";
pub const DB_FLUSH_FAILURES_TOTAL: &str = "urbanstream_db_flush_failures_total";
pub const DB_REJECTED_TOTAL: &str = "urbanstream_db_rejected_total";
pub const HUB_PUSHED_TOTAL: &str = "urbanstream_hub_pushed_total";
pub const HUB_COALESCED_TOTAL: &str = "urbanstream_hub_coalesced_total";
pub const HUB_DROPPED_TOTAL: &str = "urbanstream_hub_dropped_total";
pub const HUB_SUBSCRIBERS: &str = "urbanstream_hub_subscribers";
pub const HUB_TOPICS: &str = "urbanstream_hub_topics";
pub const TLS_RELOADS_TOTAL: &str = "urbanstream_tls_reloads_total";
pub const TLS_HANDSHAKE_FAILURES_TOTAL: &str = "urbanstream_tls_handshake_failures_total";
pub const ROBOT_READINGS_UNSTORED_TOTAL: &str = "urbanstream_robot_readings_unstored_total";
pub const ROBOT_EVENTS_STORE_RETRIES_TOTAL: &str = "urbanstream_robot_events_store_retries_total";
pub const WS_SESSIONS_ACTIVE: &str = "urbanstream_ws_sessions_active";
pub const WS_MESSAGES_REJECTED_TOTAL: &str = "urbanstream_ws_messages_rejected_total";
pub const WS_CLIENTS_CUT_OFF_TOTAL: &str = "urbanstream_ws_clients_cut_off_total";
pub const ACTOR_RESTARTS_TOTAL: &str = "urbanstream_actor_restarts_total";
pub const ACTOR_MAILBOX_FULL_TOTAL: &str = "urbanstream_actor_mailbox_full_total";
pub const REDIS_UP: &str = "urbanstream_redis_up";
pub const REDIS_ERRORS_TOTAL: &str = "urbanstream_redis_errors_total";
pub const REDIS_DROPPED_TOTAL: &str = "urbanstream_redis_dropped_total";
pub const REDIS_RECEIVED_TOTAL: &str = "urbanstream_redis_received_total";
pub const RULES_RECORDS_EVALUATED_TOTAL: &str = "urbanstream_rules_records_evaluated_total";
pub const ALERTS_RAISED_TOTAL: &str = "urbanstream_alerts_raised_total";
pub const ALERTS_CLEARED_TOTAL: &str = "urbanstream_alerts_cleared_total";
pub const ALERTS_OPEN: &str = "urbanstream_alerts_open";
pub const ALERTS_WRITE_FAILURES_TOTAL: &str = "urbanstream_alerts_write_failures_total";
pub const NOTIFICATIONS_TOTAL: &str = "urbanstream_notifications_total";
pub const NOTIFICATION_ATTEMPTS_TOTAL: &str = "urbanstream_notification_attempts_total";
pub const COMMANDS_QUEUED_TOTAL: &str = "urbanstream_commands_queued_total";
pub const AUTH_LOGINS_TOTAL: &str = "urbanstream_auth_logins_total";
pub const HTTP_RESPONSES_TOTAL: &str = "urbanstream_http_responses_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "urbanstream_http_request_duration_seconds";
pub const AUTH_REJECTED_TOTAL: &str = "urbanstream_auth_rejected_total";
pub const AUDIT_WRITE_FAILURES_TOTAL: &str = "urbanstream_audit_write_failures_total";

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// (name, kind, unit, help) of every metric.
const CATALOGUE: &[(&str, Kind, Unit, &str)] = &[
    (
        HTTP_REQUEST_DURATION_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route pattern from the route table",
    ),
    (
        TELTONIKA_CAMERA_FRAMES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Codec 12 camera data frames (DualCam image parts) received",
    ),
    (
        HTTP_RESPONSES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "HTTP responses by status class (2xx, 3xx, 4xx, 5xx): refused input shows as 4xx",
    ),
    (
        AUTH_LOGINS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Password logins and refreshes by outcome (success, failure, locked, refreshed, reuse)",
    ),
    (
        AUTH_REJECTED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Requests refused by reason (unauthenticated, forbidden, rate_limited, unlisted)",
    ),
    (
        AUDIT_WRITE_FAILURES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Audit log entries that could not be written",
    ),
    (
        TELTONIKA_CONNECTIONS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "TCP connections accepted on the Teltonika listener",
    ),
    (
        TELTONIKA_SESSIONS_ACTIVE,
        Kind::Gauge,
        Unit::Count,
        "Teltonika TCP sessions open now",
    ),
    (
        TELTONIKA_LOGINS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "IMEI logins by result (accepted, rejected, error)",
    ),
    (
        TELTONIKA_FRAMES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "AVL frames accepted, by codec and transport",
    ),
    (
        TELTONIKA_RECORDS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "AVL records accepted and acknowledged",
    ),
    (
        TELTONIKA_FRAMES_REJECTED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Frames refused without ACK, by reason",
    ),
    (
        TELTONIKA_RECORDS_REJECTED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Records acknowledged but quarantined instead of taken, by reason (time_out_of_range)",
    ),
    (
        TELTONIKA_FIXES_DROPPED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "GPS fixes outside the globe dropped from their records (the rest kept), by reason",
    ),
    (
        DB_ROWS_QUARANTINED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Callers' batches the database refused for good, kept in the quarantine table instead",
    ),
    (
        TELTONIKA_KEEPALIVES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Single 0xFF keep-alive bytes received",
    ),
    (
        TELTONIKA_DISCONNECTS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Sessions closed, by reason",
    ),
    (
        TELTONIKA_ACK_LATENCY_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Time from a complete AVL frame to its ACK (durable write included)",
    ),
    (
        TELTONIKA_COMMANDS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Codec 12 commands, by result",
    ),
    (
        TELTONIKA_ACCEPT_ERRORS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Errors accepting TCP connections",
    ),
    (
        VEHICLE_RECORDS_LATE_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Records older than the device latest (buffer flush after an outage)",
    ),
    (
        VEHICLE_EVENTS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Vehicle events raised (trips, motion, online/offline), by kind",
    ),
    (
        EDGE_EVENTS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Edge node events raised (status changes, births, sequence gaps, consensus disagreements), by kind",
    ),
    (
        EDGE_MESSAGES_REDELIVERED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Edge node messages received again (same boot and sequence): stored once",
    ),
    (
        EDGE_MESSAGES_MISSING_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Edge node messages missing: sequence numbers skipped",
    ),
    (
        CAMERA_FRAMES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Camera frames, by outcome (tracked, not_running, out_of_order, bad_time, mailbox_full; from video: skipped_load, rate_cap, decode_error, detect_error)",
    ),
    (
        CAMERA_DETECTIONS_OUTSIDE_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Person boxes dropped because their feet stand outside the camera's region of interest",
    ),
    (
        CAMERA_FRAMES_ENCODED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Camera frames encoded as JPEG with overlays for WebSocket viewers",
    ),
    (
        CAMERA_DETECT_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Time to find the people in one video frame (detector and appearance), by camera",
    ),
    (
        REID_OBSERVATIONS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Tracked people fused across cameras (one per camera, track and instant)",
    ),
    (
        REID_EVENTS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Cross-camera identity events, by kind (appeared, merged, split, left, reentered)",
    ),
    (
        PEOPLE_ROWS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Rows a tracking session recorded (identities, trajectory points, sightings, zone events)",
    ),
    (
        ROBOT_EVENTS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Robot events raised (state changes, safety conditions begun and ended), by kind",
    ),
    (
        MODBUS_REQUESTS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Modbus transactions, by lane (poll, command, stop, discover) and outcome",
    ),
    (
        MODBUS_ERRORS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Modbus transactions that failed, by reason (timeout, crc, exception, io, mismatch, malformed)",
    ),
    (
        MODBUS_REQUEST_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Modbus request to reply, by lane",
    ),
    (
        MODBUS_ESTOP_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Emergency stop: request taken to the device's acknowledgement of the coil write",
    ),
    (
        MODBUS_LINKS_UP,
        Kind::Gauge,
        Unit::Count,
        "Modbus links (buses, and TCP stop connections) connected",
    ),
    (
        MODBUS_FLUSHED_BYTES_TOTAL,
        Kind::Counter,
        Unit::Bytes,
        "Bytes discarded from a serial link after a timeout or a bad frame (late replies)",
    ),
    (
        MQTT_MESSAGES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "MQTT messages received, by message type (heartbeat, status, detection, metrics, consensus)",
    ),
    (
        MQTT_MESSAGES_REJECTED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "MQTT messages refused and dead-lettered, by reason",
    ),
    (
        MQTT_CONNECTED,
        Kind::Gauge,
        Unit::Count,
        "1 while the MQTT client is connected to its broker",
    ),
    (
        MQTT_CONNECTION_ERRORS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "MQTT client connection failures and drops",
    ),
    (
        MQTT_CLIENTS_ACTIVE,
        Kind::Gauge,
        Unit::Count,
        "MQTT clients connected to the embedded broker",
    ),
    (
        MQTT_CONNECTS_REFUSED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "MQTT connections the embedded broker refused, by reason",
    ),
    (
        MQTT_UNACKED,
        Kind::Gauge,
        Unit::Count,
        "MQTT messages received and not yet acknowledged (waiting for their commit)",
    ),
    (
        MQTT_ACK_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Time from receiving an MQTT message to acknowledging it (after its commit)",
    ),
    (
        REGISTRY_ENTITIES_ACTIVE,
        Kind::Gauge,
        Unit::Count,
        "Entity actors running, by kind",
    ),
    (
        REGISTRY_DEVICES_REGISTERED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Unknown devices registered on first contact",
    ),
    (
        REGISTRY_REGISTRATION_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Time to register one batch of unknown devices (the logins that arrived together)",
    ),
    (
        DB_ROWS_WRITTEN_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Rows committed, by table",
    ),
    (
        DB_ROWS_DUPLICATE_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Rows already stored (retransmits), by table",
    ),
    (
        DB_BATCH_ROWS,
        Kind::Histogram,
        Unit::Count,
        "Rows per committed batch",
    ),
    (
        DB_FLUSH_SECONDS,
        Kind::Histogram,
        Unit::Seconds,
        "Time to commit one batch",
    ),
    (
        DB_QUEUE_ROWS,
        Kind::Gauge,
        Unit::Count,
        "Rows waiting for or in a database write",
    ),
    (
        DB_FLUSH_FAILURES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Failed batch writes (retried), by error kind",
    ),
    (
        DB_REJECTED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Write requests refused, by reason",
    ),
    (
        HUB_PUSHED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Updates handed to subscribers",
    ),
    (
        HUB_COALESCED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Updates replaced by a newer one for a slow subscriber",
    ),
    (
        HUB_DROPPED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Events dropped for a subscriber too slow to take them",
    ),
    (
        HUB_SUBSCRIBERS,
        Kind::Gauge,
        Unit::Count,
        "Live subscribers",
    ),
    (
        HUB_TOPICS,
        Kind::Gauge,
        Unit::Count,
        "Distinct topics someone subscribes to on this node's hub",
    ),
    (
        TLS_RELOADS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Certificate files read again after they changed, by result (ok, error: the old one stays)",
    ),
    (
        TLS_HANDSHAKE_FAILURES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "TLS handshakes that failed on the MQTT and Teltonika listeners, by listener",
    ),
    (
        ROBOT_READINGS_UNSTORED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Robot readings of telemetry alone not stored (the next poll follows), by error kind",
    ),
    (
        ROBOT_EVENTS_STORE_RETRIES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Writes of robot events and safety events tried again (they are kept until stored)",
    ),
    (
        WS_SESSIONS_ACTIVE,
        Kind::Gauge,
        Unit::Count,
        "Open WebSocket sessions",
    ),
    (
        WS_MESSAGES_REJECTED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Client messages answered with an error frame, by reason",
    ),
    (
        WS_CLIENTS_CUT_OFF_TOTAL,
        Kind::Counter,
        Unit::Count,
        "WebSocket clients closed by the server, by reason (slow: a frame outlasted ws.write_timeout)",
    ),
    (
        ACTOR_RESTARTS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Actor restarts by their supervisor, by actor",
    ),
    (
        ACTOR_MAILBOX_FULL_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Messages dropped because a mailbox was full, by actor",
    ),
    (
        REDIS_UP,
        Kind::Gauge,
        Unit::Count,
        "1 while the Redis connection answers, else 0",
    ),
    (
        REDIS_ERRORS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Redis errors, by operation",
    ),
    (
        REDIS_DROPPED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Live updates not published to or delivered from Redis, by stage",
    ),
    (
        REDIS_RECEIVED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Updates received from other nodes through Redis",
    ),
    (
        RULES_RECORDS_EVALUATED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Records evaluated by the rule engine, by freshness (live or late)",
    ),
    (
        ALERTS_RAISED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Alerts raised, by kind and severity",
    ),
    (
        ALERTS_CLEARED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Alerts cleared, by who (condition or user)",
    ),
    (
        ALERTS_OPEN,
        Kind::Gauge,
        Unit::Count,
        "Alerts not cleared, held by this node's rule engine",
    ),
    (
        ALERTS_WRITE_FAILURES_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Alert changes not stored after every retry, or dropped on a full queue, by stage",
    ),
    (
        NOTIFICATIONS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Notifications by channel kind and outcome (delivered, dead_letter)",
    ),
    (
        NOTIFICATION_ATTEMPTS_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Delivery attempts by channel kind and result (ok, error)",
    ),
    (
        COMMANDS_QUEUED_TOTAL,
        Kind::Counter,
        Unit::Count,
        "Device commands by outcome (sent, queued, answered, failed, expired)",
    ),
];

/// Registers units and help texts with the installed recorder. Call once at start.
pub fn describe() {
    for &(name, kind, unit, help) in CATALOGUE {
        match kind {
            Kind::Counter => describe_counter!(name, unit, help),
            Kind::Gauge => describe_gauge!(name, unit, help),
            Kind::Histogram => describe_histogram!(name, unit, help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention() {
        for &(name, kind, _, _) in CATALOGUE {
            assert!(name.starts_with("urbanstream_"), "{name}");
            let total = name.ends_with("_total");
            assert_eq!(
                total,
                matches!(kind, Kind::Counter),
                "{name}: counters, and only counters, end in _total"
            );
        }
    }
}
