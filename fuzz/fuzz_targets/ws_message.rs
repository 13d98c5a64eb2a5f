//! Feeds arbitrary text through the WebSocket request parser, the topic names and the
//! viewport checks, as a session does with every frame a client sends. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use urbanstream_actors::hub::{BBox, ClientMessage, Topic};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = text.parse::<Topic>();
    match ClientMessage::parse(text) {
        Ok(ClientMessage::Subscribe { topics } | ClientMessage::Unsubscribe { topics }) => {
            for t in topics {
                if let Ok(topic) = t.parse::<Topic>() {
                    // A topic parsed is written back as the same name.
                    assert_eq!(topic.to_string().parse::<Topic>().ok(), Some(topic));
                }
            }
        }
        Ok(ClientMessage::Viewport { bbox: Some([w, s, e, n]) }) => {
            let _ = BBox::new(w, s, e, n);
        }
        _ => {}
    }
});
