//! urbanstream's camera mathematics, free of I/O and actors: floor calibration
//! ([`geometry`]), Kalman filters ([`kalman`]), assignment ([`assign`]), one camera's
//! multi-person tracker ([`tracker`]), cross-camera fusion into global identities ([`fusion`]),
//! and offline runs over MOTChallenge-style files ([`mot`], [`offline`]).

pub mod assign;
pub mod filestorage;
pub mod fusion;
pub mod geometry;
pub mod kalman;
pub mod mot;
pub mod offline;
pub mod tracker;
