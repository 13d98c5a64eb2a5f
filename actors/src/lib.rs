//! urbanstream actors: the device adapters, the entity actors, the aggregators, and the
//! vocabulary they share. The crate is layered, and imports run one way, down:
//!
//! | layer | modules | may use |
//! | --- | --- | --- |
//! | adapters | `teltonika`, `mqtt`, `modbus`, `replay` | everything below |
//! | registry | `registry` | entities' vocabulary and aggregators |
//! | entities | `vehicle`, `edge`, `robot`, `camera` | aggregators and shared modules |
//! | aggregators | `hub`, `rules`, `db_batcher`, `redis_bridge`, `commands`, `notify`, `system`, `reid` | each other (one way) and shared modules |
//! | shared | `entity`, `geo`, `transit`, `errors`, `metrics`, `shared`, `arbiters` | each other, and the store |
//!
//! `tests/layers.rs` fails when an import runs back up, or two modules import each other.
//! See [`entity`] for the seam every kind of device plugs into, and how to add a kind.

pub mod arbiters;
pub mod camera;
pub mod commands;
pub mod db_batcher;
pub mod edge;
pub mod entity;
pub mod errors;
pub mod geo;
pub mod hub;
pub mod metrics;
pub mod modbus;
pub mod mqtt;
pub mod notify;
pub mod redis_bridge;
pub mod registry;
pub mod reid;
pub mod replay;
pub mod robot;
pub mod rules;
pub mod shared;
pub mod system;
pub mod teltonika;
pub mod tls;
pub mod transit;
pub mod vehicle;
