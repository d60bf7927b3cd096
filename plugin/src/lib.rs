//! Mellow as a DAW instrument (CLAP and VST3).
//!
//! The instrument is built on the engine's streaming pipeline, which lands first; until then this
//! crate holds the place in the workspace and its one direction of dependence: plugin → engine's
//! public face.

pub use mellow_engine as engine;
