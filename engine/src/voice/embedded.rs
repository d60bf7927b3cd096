//! The default voice compiled into the binary, so rendering needs nothing downloaded.

use super::file::Voice;
use crate::error::Result;

static DEFAULT_VOICE: Option<&[u8]> = None;

/// The built-in voice, if this build has one.
pub fn default_voice() -> Option<Result<Voice>> {
    DEFAULT_VOICE.map(|bytes| Voice::from_bytes(bytes, "the built-in voice"))
}
