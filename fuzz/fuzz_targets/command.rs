//! Command lines: `trim_eol` then `parse` (with `strip_telnet` and `plausible_verb`) on any
//! bytes; the argument, when there is one, as a HOST name (`proto::host::canonical`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsftpd::proto::command::{parse, plausible_verb, strip_telnet, trim_eol};
use rsftpd::proto::host;

fuzz_target!(|data: &[u8]| {
    let line = trim_eol(data);
    // trim_eol only cuts the end: a prefix, never ending in CR.
    assert!(data.starts_with(line));
    assert!(line.last() != Some(&b'\r'));

    let stripped = strip_telnet(line);
    assert!(stripped.len() <= line.len());

    let cmd = parse(line);
    // The verb never holds a space or a lower-case ASCII letter; an argument is never empty.
    assert!(!cmd.verb.contains(' '));
    assert!(!cmd.verb.bytes().any(|b| b.is_ascii_lowercase()));
    if let Some(arg) = &cmd.arg {
        assert!(!arg.is_empty());
        assert!(arg.len() <= stripped.len());
    }
    let _ = plausible_verb(&cmd.verb);
    // Parsing is deterministic.
    assert_eq!(parse(line), cmd);

    // A HOST name comes out canonical (the monitor's own check agrees) and is a safe file
    // name: no '/', no leading '.', no "..", only lower-case letters, digits and "-.:".
    if let Some(name) = cmd.arg.as_deref().and_then(host::canonical) {
        assert!(host::is_canonical(&name), "{name:?}");
        assert!(!name.is_empty() && !name.starts_with('.') && !name.contains(".."));
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b)));
    }
});
