//! Feeds arbitrary payloads on each edge node topic (and arbitrary topics) through the MQTT
//! payload parser, as the broker and the client hand them over. Any panic is a bug; every
//! refusal must name a bounded reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use urbanstream_actors::mqtt::payload::{parse, Limits};

const TOPICS: &[&str] = &[
    "edge-qi/nodes/cam-1/heartbeat",
    "edge-qi/nodes/cam-1/status",
    "edge-qi/detection/cam-1",
    "edge-qi/metrics/cam-1",
    "edge-qi/consensus/cam-1",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let now = chrono::Utc::now();
    let limits = Limits::default();
    let topic = match TOPICS.get(usize::from(pick) % (TOPICS.len() + 1)) {
        Some(t) => (*t).to_owned(),
        // The payload's first line as the topic, the rest as the payload.
        None => String::from_utf8_lossy(payload.split(|&b| b == b'\n').next().unwrap_or_default())
            .into_owned(),
    };
    if let Err(refused) = parse(&topic, payload, now, limits) {
        assert!(!refused.reason().is_empty());
    }
});
