//! Any bytes as a voice file, loaded and turned into a synthesizer: refused or ready.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mellow_engine::{Synthesizer, Voice};

fuzz_target!(|data: &[u8]| {
    if let Ok(voice) = Voice::from_bytes(data, "fuzz input") {
        let _ = Synthesizer::new(&voice, None);
    }
});
