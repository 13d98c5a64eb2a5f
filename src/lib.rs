//! urbanstream: a real-time operations backend for a smart city.
//!
//! The binary's composition root: configuration, logging, metrics, the HTTP server, and the
//! `decode` and `simulate` tools. Actors and codecs live in `urbanstream-actors`.

pub mod auth;
pub mod config;
pub mod decode;
pub mod demo;
mod duration;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod reload;
pub mod server;
pub mod simulate;
pub mod tracking;
pub mod video_feed;
pub mod ws;
