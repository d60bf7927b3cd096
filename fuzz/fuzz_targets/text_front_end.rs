//! Any text through the whole front end, espeak-ng included: it may refuse, never crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mellow_engine::text::{read_text, PhonemeMap};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = read_text(text, "en-us", &PhonemeMap::matcha());
    }
});
