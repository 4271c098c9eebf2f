//! The sweep file parser, then the first, middle and last points of the sweep: no input
//! may panic, hang or allocate without bound. Input: sweep TOML, read as if it sat in
//! examples/sweeps/ (so `base = "../llama3-405b-16k.toml"` finds the example).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/sweeps/fuzz.toml"));
    if let Ok(sweep) = wanka::sweep::parse(text, path) {
        let n = sweep.points();
        assert!(n >= 1 && n <= wanka::sweep::MAX_POINTS);
        for i in [0, n / 2, n - 1] {
            let row = sweep.row(i);
            assert!(row.error.is_empty() != row.outputs.is_none());
            if let Some(o) = row.outputs {
                assert!(o.step_time_s.is_finite() && o.step_time_s > 0.0);
            }
        }
    }
});
