//! Detection: rule text and events in, matches out. Today that is Sigma ([`sigma`]): rules are
//! parsed, compiled once into matchers, and evaluated against normalised events.
//!
//! This crate never performs IO (no files, sockets, clocks or logging): callers hand it rule
//! text and events, so it stays deterministic and is tested on data alone. Walking folders of
//! rules and decoding event files belongs to the binary.

pub mod sigma;

pub mod engine;

pub use engine::{Detector, DetectorTiming, Engine, Finding};
pub mod standard;
pub mod switches;
pub use standard::standard;
pub mod privacy;
pub mod threat;
