//! The default voice compiled into the binary, so rendering needs nothing downloaded.
//! `engine/voices/default.safetensors` is made by the training tools (see docs/training.md).

use super::file::Voice;
use crate::error::Result;

static DEFAULT_VOICE: &[u8] = include_bytes!("../../voices/default.safetensors");

/// The built-in voice, if this build has one.
pub fn default_voice() -> Option<Result<Voice>> {
    Some(Voice::from_bytes(DEFAULT_VOICE, "the built-in voice"))
}
