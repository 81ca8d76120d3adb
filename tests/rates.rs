//! anon_max_rate and local_max_rate: a limited session never moves data faster than its
//! limit (a lower bound on the time, which is behaviour, not a speed claim), for downloads
//! and uploads; STAT shows which limit applies. Accuracy against vsftpd is `make bench`'s.
mod common;

use std::io::{Read, Write};
use std::time::Instant;

const RATE: u64 = 1_000_000;
const SIZE: usize = 3_000_000;

fn fixture(name: &str) -> common::Fixture {
    let mut f = common::Fixture::new(name);
    f.mkdir("pub", 0o777);
    f.file("pub/big.bin", &common::xorshift_bytes(SIZE, 7), 0o644);
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.set(&format!("anon_max_rate={RATE}"));
    f
}

#[test]
fn anonymous_downloads_and_uploads_keep_to_anon_max_rate() {
    let f = fixture("rate");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let stat = c.expect("STAT", 211);
    assert!(
        stat.contains(&format!("Session bandwidth limit in byte/s is {RATE}")),
        "{stat}"
    );
    let t = Instant::now();
    let (data, code, _) = c.pasv_transfer("RETR pub/big.bin");
    let took = t.elapsed().as_secs_f64();
    assert_eq!((data.len(), code), (SIZE, 226));
    assert_eq!(data, common::xorshift_bytes(SIZE, 7));
    // At RATE bytes/s, SIZE bytes take SIZE/RATE seconds; the first chunk may go at once.
    let floor = (SIZE as f64 - RATE as f64 / 20.0) / RATE as f64;
    assert!(
        took >= floor * 0.95,
        "download took {took:.2}s, faster than {RATE} B/s allows ({floor:.2}s)"
    );
    let mut d = c.pasv();
    c.expect("STOR pub/up.bin", 150);
    let body = common::xorshift_bytes(SIZE, 9);
    let t = Instant::now();
    d.write_all(&body).unwrap();
    drop(d);
    assert_eq!(c.read_reply().0, 226);
    let took = t.elapsed().as_secs_f64();
    assert!(
        took >= floor * 0.95,
        "upload took {took:.2}s, faster than {RATE} B/s allows"
    );
    assert_eq!(std::fs::read(f.root.join("pub/up.bin")).unwrap(), body);
    c.expect("QUIT", 221);
}

#[test]
fn local_max_rate_does_not_limit_anonymous_sessions_and_stat_says_so() {
    let mut f = fixture("rate-local");
    f.set("anon_max_rate=0");
    f.set("local_max_rate=1000");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let stat = c.expect("STAT", 211);
    assert!(stat.contains("No session bandwidth limit"), "{stat}");
    // At 1000 B/s this would take 50 minutes: it completes, so no limit applied.
    let mut d = c.pasv();
    c.expect("RETR pub/big.bin", 150);
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), SIZE);
    assert_eq!(c.read_reply().0, 226);
}
