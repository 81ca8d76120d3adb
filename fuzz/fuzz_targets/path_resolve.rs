//! Path resolution. Input: byte 0 = length of cwd, byte 1 = length of home, then cwd, home,
//! and the rest is the client's argument. Checks the result's shape and idempotence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsftpd::limits::PATH_MAX;
use rsftpd::proto::path::{parent_and_name, resolve, PathError};

fn check_shape(p: &[u8]) {
    assert!(p.len() <= PATH_MAX, "longer than PATH_MAX: {}", p.len());
    assert_eq!(p.first(), Some(&b'/'), "not absolute");
    assert!(!p.contains(&0));
    if p != b"/" {
        assert!(p.last() != Some(&b'/'), "trailing slash");
    }
    for bad in [&b"//"[..], b"/./", b"/../"] {
        assert!(!p.windows(bad.len()).any(|w| w == bad), "contains {bad:?}");
    }
    assert!(
        !p.ends_with(b"/.") && !p.ends_with(b"/.."),
        "ends in . or .."
    );
    // Normalized: resolving it again changes nothing.
    assert_eq!(resolve(b"/", p, b"/").as_deref(), Ok(p));
    let (parent, name) = parent_and_name(p);
    let _ = (parent, name);
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (a, b) = (data[0] as usize, data[1] as usize);
    let rest = &data[2..];
    let cwd = &rest[..a.min(rest.len())];
    let rest = &rest[cwd.len()..];
    let home = &rest[..b.min(rest.len())];
    let arg = &rest[home.len()..];

    let has_nul = cwd.contains(&0) || home.contains(&0) || arg.contains(&0);
    match resolve(cwd, arg, home) {
        Ok(p) => {
            assert!(!has_nul);
            check_shape(&p);
        }
        Err(PathError::Nul) => assert!(has_nul),
        Err(PathError::TooLong) => assert!(!has_nul),
    }

    // As the session calls it: cwd and home already normalized.
    if let (Ok(cwd), Ok(home)) = (resolve(b"/", cwd, b"/"), resolve(b"/", home, b"/")) {
        if let Ok(p) = resolve(&cwd, arg, &home) {
            check_shape(&p);
            // A relative argument without ".." stays below cwd.
            if arg.first() != Some(&b'/')
                && arg.first() != Some(&b'~')
                && !arg.split(|&c| c == b'/').any(|c| c == b"..")
            {
                assert!(p.starts_with(&cwd));
            }
        }
    }
});
