//! Any bytes as a `.npy` mel: parsed or refused, never an abort or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mellow_engine::audio::npy::parse_matrix(data);
});
