//! Feeds arbitrary bytes, split at arbitrary points, through the TCP stream decoder and the
//! UDP and single-frame decoders. Any panic, hang or unbounded allocation is a bug.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use urbanstream_actors::teltonika::codec::{
    decode_tcp_frame, decode_udp, Inbound, TeltonikaCodec, DEFAULT_MAX_FRAME,
};

fuzz_target!(|data: &[u8]| {
    let _ = decode_udp(data);
    let _ = decode_tcp_frame(data);
    // The first byte picks where the stream is split, the second whether a login comes first.
    let (split, login, stream) = match data {
        [a, b, rest @ ..] => (usize::from(*a), b & 1 == 1, rest),
        _ => return,
    };
    let mut codec = if login {
        TeltonikaCodec::new(DEFAULT_MAX_FRAME)
    } else {
        TeltonikaCodec::streaming(DEFAULT_MAX_FRAME)
    };
    let mut buf = BytesMut::new();
    let cut = split.min(stream.len());
    for part in [&stream[..cut], &stream[cut..]] {
        buf.extend_from_slice(part);
        while let Ok(Some(item)) = codec.decode(&mut buf) {
            if let Inbound::Rejected(r) = item {
                if r.fatal {
                    return;
                }
            }
        }
        assert!(buf.capacity() <= 2 * DEFAULT_MAX_FRAME + 4096, "buffer grew past the frame limit");
    }
});
