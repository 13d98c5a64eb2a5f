//! Teltonika over UDP: each datagram is decoded, handed to the device's entity and
//! acknowledged once the entity has stored it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Recipient;
use chrono::Utc;
use tokio::net::UdpSocket;

use super::codec::{decode_udp, decode_udp_with, encode_udp_ack, CodecId};
use super::io_profile::IoProfiles;
use crate::entity::{EntityKey, IngestReadings};
use crate::metrics::*;
use crate::registry::AuthorizeDevice;

/// Serves the UDP socket until the task is dropped.
pub async fn run_udp_listener(
    socket: UdpSocket,
    authorize: Recipient<AuthorizeDevice>,
    profiles: Arc<IoProfiles>,
    ack_timeout: Duration,
) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("UDP receive failed: {e}");
                continue;
            }
        };
        let datagram = buf[..n].to_vec();
        let packet = match decode_udp(&datagram) {
            Ok(p) => p,
            Err(e) => {
                metrics::counter!(TELTONIKA_FRAMES_REJECTED_TOTAL, "reason" => e.reason().as_str())
                    .increment(1);
                tracing::warn!(%peer, reason = %e.reason(), "UDP datagram rejected, no ACK: {e}");
                continue;
            }
        };
        let socket = socket.clone();
        let authorize = authorize.clone();
        let profiles = profiles.clone();
        actix::spawn(async move {
            let started = Instant::now();
            let imei = packet.imei;
            let grant = match authorize
                .send(AuthorizeDevice {
                    key: EntityKey::Tracker(imei),
                    connection: None,
                })
                .await
            {
                Ok(Ok(g)) => g,
                Ok(Err(refused)) => {
                    metrics::counter!(TELTONIKA_LOGINS_TOTAL, "result" => "rejected").increment(1);
                    tracing::info!(%peer, %imei, "UDP datagram refused: {refused}");
                    return;
                }
                Err(_mailbox) => return,
            };
            let profile = profiles.for_model(&grant.model);
            let opts = profile.decode_options();
            // A model that writes Codec 8 with wide IO ids: read the datagram its way.
            let packet = if opts.codec8_wide_io && packet.packet.codec == CodecId::Codec8 {
                match decode_udp_with(&datagram, opts) {
                    Ok(p) => p,
                    Err(e) => {
                        metrics::counter!(TELTONIKA_FRAMES_REJECTED_TOTAL, "reason" => e.reason().as_str())
                            .increment(1);
                        tracing::warn!(%peer, reason = %e.reason(), "UDP datagram rejected, no ACK: {e}");
                        return;
                    }
                }
            } else {
                packet
            };
            let codec = packet.packet.codec;
            let ingest = grant.entity.send(IngestReadings {
                readings: super::adapter::readings(packet.packet.records, &profile),
                received_at: Utc::now(),
            });
            match tokio::time::timeout(ack_timeout, ingest).await {
                Ok(Ok(Ok(outcome))) => {
                    let count = u8::try_from(outcome.accepted).unwrap_or(u8::MAX);
                    let ack = encode_udp_ack(packet.packet_id, packet.avl_packet_id, count);
                    if let Err(e) = socket.send_to(&ack, peer).await {
                        tracing::debug!(%peer, "UDP ACK not sent: {e}");
                        return;
                    }
                    metrics::counter!(TELTONIKA_FRAMES_TOTAL, "codec" => codec.name(), "transport" => "udp").increment(1);
                    metrics::counter!(TELTONIKA_RECORDS_TOTAL)
                        .increment(u64::from(outcome.accepted));
                    metrics::histogram!(TELTONIKA_ACK_LATENCY_SECONDS)
                        .record(started.elapsed().as_secs_f64());
                }
                _ => tracing::warn!(%peer, %imei, "UDP records not taken in time; no ACK"),
            }
        });
    }
}
