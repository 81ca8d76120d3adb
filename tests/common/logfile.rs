//! Reading a log file the server writes (vsftpd_log_file, xferlog): its lines, and a
//! bounded wait for lines to appear.

use std::path::Path;
use std::time::{Duration, Instant};

/// The file's lines now (none when it does not exist yet).
pub fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Wait (bounded) until `p` has a line containing each of `wanted`; all its lines.
pub fn wait_lines(p: &Path, wanted: &[&str]) -> Vec<String> {
    let t = Instant::now();
    loop {
        let got = lines(p);
        if wanted.iter().all(|w| got.iter().any(|l| l.contains(w))) {
            return got;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{} lacks one of {wanted:?}:\n{}",
            p.display(),
            got.join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
