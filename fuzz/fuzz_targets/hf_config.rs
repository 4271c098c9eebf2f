//! Hugging Face config.json import: any bytes give a model or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wanka::scenario::hf::parse(text, "fuzz config.json");
    }
});
