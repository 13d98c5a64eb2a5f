//! What a WebSocket client may send, parsed once at the edge into a typed request; the
//! session actor (in the binary) acts on it. Pure, so that it can be fuzzed alone.

use serde::Deserialize;

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientMessage {
    /// Authenticates, or replaces the token before it expires.
    Auth {
        token: String,
    },
    Subscribe {
        topics: Vec<String>,
    },
    Unsubscribe {
        topics: Vec<String>,
    },
    /// Limits `fleet` updates to vehicles inside `[west, south, east, north]` (degrees);
    /// `null` lifts the limit. A vehicle that leaves the area gets one last update.
    Viewport {
        bbox: Option<[f64; 4]>,
    },
    /// Telemetry (`fleet`, `device:…`, `vehicle:…`) collected for `every_ms` and sent as
    /// one `batch` frame, the latest per vehicle; 0 sends each update at once (the default).
    Batch {
        every_ms: u64,
    },
}

impl ClientMessage {
    /// A text frame as a request, or why it is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("not a valid request: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_junk_is_refused_with_why() {
        assert!(matches!(
            ClientMessage::parse(r#"{"op":"subscribe","topics":["fleet"]}"#),
            Ok(ClientMessage::Subscribe { topics }) if topics == ["fleet"]
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"op":"viewport","bbox":null}"#),
            Ok(ClientMessage::Viewport { bbox: None })
        ));
        for junk in [
            "",
            "{",
            "[]",
            r#"{"op":"fly"}"#,
            r#"{"op":"batch","every_ms":-1}"#,
            r#"{"op":"subscribe","topics":"fleet"}"#,
            r#"{"op":"auth","token":"t","x":1}"#,
        ] {
            assert!(ClientMessage::parse(junk).is_err(), "{junk}");
        }
    }
}
