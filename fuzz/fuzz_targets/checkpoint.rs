//! Any bytes as a PyTorch zip checkpoint: tensors read or the file refused, nothing run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mellow_convert::pickle::read_torch_zip_from(std::io::Cursor::new(data), &["state_dict"]);
});
