//! Teltonika over UDP: each datagram is decoded, handed to the device's entity and
//! acknowledged once the entity has stored it.

use std::sync::Arc;
use std::time::Instant;

use actix::Recipient;
use chrono::Utc;
use tokio::net::UdpSocket;

use super::codec::{decode_udp_with, encode_udp_ack, udp_imei};
use super::SessionSettings;
use crate::entity::EntityKey;
use crate::metrics::*;
use crate::registry::AuthorizeDevice;

/// Serves the UDP socket until the task is dropped.
pub async fn run_udp_listener(
    socket: UdpSocket,
    authorize: Recipient<AuthorizeDevice>,
    settings: Arc<SessionSettings>,
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
        // The header names the device; its records are read once its model is known.
        let imei = match udp_imei(&datagram) {
            Ok(imei) => imei,
            Err(e) => {
                metrics::counter!(TELTONIKA_FRAMES_REJECTED_TOTAL, "reason" => e.reason().as_str())
                    .increment(1);
                tracing::warn!(%peer, reason = %e.reason(), "UDP datagram rejected, no ACK: {e}");
                continue;
            }
        };
        let socket = socket.clone();
        let authorize = authorize.clone();
        let settings = settings.clone();
        actix::spawn(async move {
            let started = Instant::now();
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
            let profile = settings.profiles.for_model(&grant.model);
            let packet = match decode_udp_with(&datagram, profile.decode_options()) {
                Ok(p) => p,
                Err(e) => {
                    metrics::counter!(TELTONIKA_FRAMES_REJECTED_TOTAL, "reason" => e.reason().as_str())
                        .increment(1);
                    tracing::warn!(%peer, reason = %e.reason(), "UDP datagram rejected, no ACK: {e}");
                    return;
                }
            };
            let codec = packet.packet.codec;
            let ingest = grant.entity.send(super::adapter::intake(
                packet.packet.records,
                &profile,
                settings.clock,
                Utc::now(),
            ));
            match tokio::time::timeout(settings.ack_timeout, ingest).await {
                Ok(Ok(Ok(outcome))) => {
                    let count = u8::try_from(outcome.answered()).unwrap_or(u8::MAX);
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
