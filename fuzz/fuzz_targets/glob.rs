//! Glob matching. Input: bytes 0-1 = pattern length (big endian), then the pattern, then the
//! name. The budget starts at limits::GLOB_STEPS_MAX; the matcher must stay within it and be
//! exact for patterns without wildcards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsftpd::limits::GLOB_STEPS_MAX;
use rsftpd::proto::glob::{has_wildcards, matches};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let n = u16::from_be_bytes([data[0], data[1]]) as usize;
    let rest = &data[2..];
    let pattern = &rest[..n.min(rest.len())];
    let name = &rest[pattern.len()..];

    let mut budget = GLOB_STEPS_MAX;
    let r = matches(pattern, name, &mut budget);
    assert!(budget <= GLOB_STEPS_MAX, "budget grew: {budget}");

    if r.is_ok() {
        if !has_wildcards(pattern) {
            assert_eq!(r, Ok(pattern == name));
        } else if pattern.iter().all(|&b| b == b'*') {
            assert_eq!(r, Ok(true));
        }
        // Same answer, same cost, when run again.
        let mut again = GLOB_STEPS_MAX;
        assert_eq!(matches(pattern, name, &mut again), r);
        assert_eq!(again, budget);
    }

    // An empty budget is refused, never underflowed.
    let mut zero = 0u32;
    let _ = matches(pattern, name, &mut zero);
    assert_eq!(zero, 0);
});
