//! The scenario parser, `--set` overrides and resolution, then the analytic step: no
//! input may panic, hang or make a non-finite report. Input: scenario TOML, then (after
//! a NUL byte) one `--set` override per line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let (text, sets) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (Ok(text), Ok(sets)) = (std::str::from_utf8(text), std::str::from_utf8(sets)) else { return };
    let overrides: Vec<String> = sets.lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
    if let Ok(s) = wanka::scenario::parse(text, Path::new("fuzz.toml"), &overrides) {
        let r = wanka::step::simulate(&s);
        assert!(r.step_time_s.is_finite() && r.step_time_s > 0.0);
        assert!(r.memory.total_bytes.is_finite());
    }
});
