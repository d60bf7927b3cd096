//! Any text as a conditioning file, resolved against the Matcha phoneme map.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mellow_engine::conditioning::Conditioning;
use mellow_engine::text::PhonemeMap;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = Conditioning::from_json(text) {
            let _ = c.resolve(&PhonemeMap::matcha());
        }
    }
});
