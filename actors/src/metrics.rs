//! Every metric name urbanstream emits, with its description. Names follow
//! `urbanstream_<subsystem>_<what>_<unit>[_total]`; labels are bounded (never a device id).

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

pub const TELTONIKA_CONNECTIONS_TOTAL: &str = "urbanstream_teltonika_connections_total";
pub const TELTONIKA_SESSIONS_ACTIVE: &str = "urbanstream_teltonika_sessions_active";
pub const TELTONIKA_LOGINS_TOTAL: &str = "urbanstream_teltonika_logins_total";
pub const TELTONIKA_FRAMES_TOTAL: &str = "urbanstream_teltonika_frames_total";
pub const TELTONIKA_RECORDS_TOTAL: &str = "urbanstream_teltonika_records_total";
pub const TELTONIKA_FRAMES_REJECTED_TOTAL: &str = "urbanstream_teltonika_frames_rejected_total";
pub const TELTONIKA_KEEPALIVES_TOTAL: &str = "urbanstream_teltonika_keepalives_total";
pub const TELTONIKA_DISCONNECTS_TOTAL: &str = "urbanstream_teltonika_disconnects_total";
pub const TELTONIKA_ACK_LATENCY_SECONDS: &str = "urbanstream_teltonika_ack_latency_seconds";
pub const TELTONIKA_COMMANDS_TOTAL: &str = "urbanstream_teltonika_commands_total";
pub const TELTONIKA_ACCEPT_ERRORS_TOTAL: &str = "urbanstream_teltonika_accept_errors_total";
pub const VEHICLE_RECORDS_LATE_TOTAL: &str = "urbanstream_vehicle_records_late_total";
pub const VEHICLE_EVENTS_TOTAL: &str = "urbanstream_vehicle_events_total";
pub const REGISTRY_ENTITIES_ACTIVE: &str = "urbanstream_registry_entities_active";
pub const REGISTRY_DEVICES_REGISTERED_TOTAL: &str = "urbanstream_registry_devices_registered_total";
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
pub const WS_SESSIONS_ACTIVE: &str = "urbanstream_ws_sessions_active";
pub const WS_MESSAGES_REJECTED_TOTAL: &str = "urbanstream_ws_messages_rejected_total";
pub const ACTOR_RESTARTS_TOTAL: &str = "urbanstream_actor_restarts_total";
pub const ACTOR_MAILBOX_FULL_TOTAL: &str = "urbanstream_actor_mailbox_full_total";

/// Registers units and help texts with the installed recorder. Call once at start.
pub fn describe() {
    describe_counter!(
        TELTONIKA_CONNECTIONS_TOTAL,
        Unit::Count,
        "TCP connections accepted on the Teltonika listener"
    );
    describe_gauge!(
        TELTONIKA_SESSIONS_ACTIVE,
        Unit::Count,
        "Teltonika TCP sessions open now"
    );
    describe_counter!(
        TELTONIKA_LOGINS_TOTAL,
        Unit::Count,
        "IMEI logins by result (accepted, rejected)"
    );
    describe_counter!(
        TELTONIKA_FRAMES_TOTAL,
        Unit::Count,
        "AVL frames accepted, by codec and transport"
    );
    describe_counter!(
        TELTONIKA_RECORDS_TOTAL,
        Unit::Count,
        "AVL records accepted and acknowledged"
    );
    describe_counter!(
        TELTONIKA_FRAMES_REJECTED_TOTAL,
        Unit::Count,
        "Frames refused without ACK, by reason"
    );
    describe_counter!(
        TELTONIKA_KEEPALIVES_TOTAL,
        Unit::Count,
        "Single 0xFF keep-alive bytes received"
    );
    describe_counter!(
        TELTONIKA_DISCONNECTS_TOTAL,
        Unit::Count,
        "Sessions closed, by reason"
    );
    describe_histogram!(
        TELTONIKA_ACK_LATENCY_SECONDS,
        Unit::Seconds,
        "Time from a complete AVL frame to its ACK"
    );
    describe_counter!(
        TELTONIKA_COMMANDS_TOTAL,
        Unit::Count,
        "Codec 12 commands, by result"
    );
    describe_counter!(
        TELTONIKA_ACCEPT_ERRORS_TOTAL,
        Unit::Count,
        "Errors accepting TCP connections"
    );
    describe_counter!(
        VEHICLE_RECORDS_LATE_TOTAL,
        Unit::Count,
        "Records older than the device's latest (buffer flush after an outage)"
    );
    describe_gauge!(
        REGISTRY_ENTITIES_ACTIVE,
        Unit::Count,
        "Entity actors running, by kind"
    );
    describe_counter!(
        REGISTRY_DEVICES_REGISTERED_TOTAL,
        Unit::Count,
        "Unknown devices registered on first contact"
    );
    describe_counter!(
        ACTOR_RESTARTS_TOTAL,
        Unit::Count,
        "Actor restarts by their supervisor, by actor"
    );
    describe_counter!(
        ACTOR_MAILBOX_FULL_TOTAL,
        Unit::Count,
        "Messages dropped because a mailbox was full, by actor"
    );
}
