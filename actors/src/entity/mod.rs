//! The seam every kind of device plugs into: the vocabulary that adapters, entities and
//! aggregators share, and nothing else.
//!
//! ```text
//! wire ──► adapter (teltonika/)        knows one protocol; nothing below imports it
//!            │ IngestReadings { readings: [Reading { at, fix?, facts, raw }] }
//!            ▼
//!          registry/                   key → entity handle, through a factory per kind
//!            │
//!          entity actor (vehicle/)     one per thing; pure state machines inside
//!            │ EntityUpdate { key, device, vehicle?, readings, events }
//!            ▼
//!          aggregators (hub/, rules/, redis_bridge/, db_batcher/, commands/, notify/)
//!            │ store::Batch (typed rows)
//!            ▼
//!          store (urbanstream-schema)  PostgreSQL or SQLite
//! ```
//!
//! Imports run one way, down this picture (`tests/layers.rs` in this crate fails when one
//! runs back up). Below all of them sit the shared modules: this one, `geo`, `transit`'s
//! pure route logic, `errors`, `metrics`, `shared` and `arbiters`.
//!
//! - [`EntityKey`] names every tracked thing; [`EntityKind`] its kind.
//! - [`Reading`]: one device time, an optional [`Fix`], typed [`Facts`] (canonical
//!   [`Io`] names parsed once when a profile loads) and the wire's raw values.
//! - [`EntityUpdate`]: what an entity tells the aggregators, with typed [`EntityEvent`]s.
//! - [`SnapshotSlot`]: where an entity publishes its state for readers.
//!
//! # Adding a device kind
//!
//! A new kind (an edge node over MQTT, a robot over Modbus, a camera) adds:
//!
//! 1. a variant of [`EntityKind`] and [`EntityKey`] (its identifier), and any facts or
//!    events of its own ([`Io`], [`EntityEvent`]);
//! 2. an adapter folder (`mqtt/`, `modbus/`, …) that turns its wire into
//!    [`IngestReadings`] for the entity the registry hands it, and answers commands through
//!    the ledger's `Deliver` message (`commands/`);
//! 3. an entity folder with its actor and pure logic, which emits [`EntityUpdate`]s and
//!    hands its rows to the batcher as a `store::Batch`;
//! 4. condition modules under `rules/conditions/`, each registered in
//!    `rules/conditions/mod.rs`;
//! 5. a migration for its tables, their field in `store::Batch` and a writer per backend;
//! 6. its routes in the route table (`src/http/mod.rs`);
//! 7. one registration line in the composition root (`src/server.rs`):
//!    `registry.register(Box::new(ItsFactory { … }))`.
//!
//! The hub, the rule engine, the Redis bridge and the batcher do not change.

mod command;
mod event;
mod factory;
mod facts;
mod key;
mod messages;
mod observation;
mod reading;
mod snapshot;

pub use command::RobotCommand;
pub use event::{EntityEvent, Motion};
pub use factory::{DeviceRecord, EntityFactory, EntityHandle};
pub use facts::{Facts, Io, Value};
pub use key::{EntityKey, EntityKind};
pub use messages::{Control, EntityError, EntityUpdate, IngestOutcome, IngestReadings};
pub use observation::{
    BBox, Birth, CommandResult, ConsensusReport, Detection, Health, NodeStatus, Observation,
    Performance, RobotMode, RobotReport, RobotState, SafetyKind, Sequence,
};
pub use reading::{
    device_time, Accepted, ClockBounds, Fix, Quarantined, Reading, TIME_OUT_OF_RANGE,
};
pub use snapshot::{typed, Published, Snapshot, SnapshotSlot};
