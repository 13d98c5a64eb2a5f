//! urbanstream actors: one per device connection and per entity, the aggregators, and the
//! wire codecs they own.

pub mod arbiters;
pub mod commands;
pub mod db_batcher;
pub mod hub;
pub mod metrics;
pub mod notify;
pub mod redis_bridge;
pub mod registry;
pub mod rules;
pub mod shared;
pub mod teltonika;
pub mod transit;
pub mod vehicle;
