//! Small files are sent by the session itself when they fit in the socket at once; when the
//! session cannot (here: an upload of the same file holds its lock), a transfer child takes
//! over and the client still gets exactly the file. (On loopback the send buffer takes
//! 64 KiB at once, so a partial inline send cannot be provoked from a test; its hand-over
//! offset is the same `Inline::Rest` the lock case uses.)
mod common;

use std::process::Command;

/// A Python client that sets a tiny receive buffer before connecting, waits before
/// reading, then reads everything: prints the byte count, the sha256 and both replies.
const SLOW_READER: &str = r#"
import socket, sys, time, re, hashlib
port, name, wait = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
c = socket.create_connection(('127.0.0.1', port)); f = c.makefile('rb')
def rd():
    while True:
        l = f.readline()
        if l[3:4] == b' ': return l.decode().strip()
rd()
for cmd in ('USER anonymous', 'PASS a@b', 'TYPE I'):
    c.sendall(cmd.encode() + b'\r\n'); rd()
c.sendall(b'PASV\r\n'); r = rd()
n = list(map(int, re.search(r'\((.*)\)', r).group(1).split(',')))
d = socket.socket(); d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
d.connect(('127.0.0.1', n[4] * 256 + n[5]))
c.sendall(('RETR ' + name + '\r\n').encode()); first = rd()
time.sleep(wait)
data = b''
while True:
    b = d.recv(65536)
    if not b: break
    data += b
print(len(data), hashlib.sha256(data).hexdigest(), first.split()[0], rd().split()[0])
"#;

fn run(f: &common::Fixture, inetd: &common::Inetd, name: &str, wait: f64, body: &[u8]) {
    let out = Command::new("timeout")
        .args([
            "60",
            "python3",
            "-c",
            SLOW_READER,
            &inetd.addr.port().to_string(),
            name,
            &wait.to_string(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        fields.len(),
        4,
        "client said {text:?} / {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fields[0], body.len().to_string());
    assert_eq!(fields[1], common::sha256(&f.root.join(name)));
    assert_eq!((fields[2], fields[3]), ("150", "226"));
}

#[test]
fn small_files_reach_slow_and_fast_readers_whole() {
    let f = common::Fixture::new("inline");
    let body = common::xorshift_bytes(60_000, 3);
    f.file("small.bin", &body, 0o644);
    let inetd = f.inetd();
    // A 2 KB receive window, not read for 0.5 s, then read; and a reader that reads at once.
    run(&f, &inetd, "small.bin", 0.5, &body);
    run(&f, &inetd, "small.bin", 0.0, &body);
    assert!(inetd.wait_all_exited(common::TIMEOUT));
}

/// While an upload of a small file holds its lock, a download cannot be served inline: a
/// transfer child waits for the lock and then sends the whole new version.
#[test]
fn small_file_under_an_upload_lock_goes_to_a_child() {
    use std::io::{Read, Write};
    let mut f = common::Fixture::new("inline-lock");
    f.mkdir("pub", 0o777);
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.set("anon_other_write_enable=YES");
    let old = vec![b'o'; 10_000];
    let new = common::xorshift_bytes(30_000, 5);
    f.file("pub/s.bin", &old, 0o666);
    let inetd = f.inetd();
    let mut up = inetd.login();
    let mut d = up.pasv();
    up.expect("STOR pub/s.bin", 150);
    d.write_all(&new[..10_000]).unwrap();
    // Wait until the upload child holds the lock and has written.
    let t = std::time::Instant::now();
    while std::fs::read(f.root.join("pub/s.bin")).unwrap() != new[..10_000] {
        assert!(t.elapsed() < common::TIMEOUT, "upload did not start");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut down = inetd.login();
    let mut dd = down.pasv();
    down.expect("RETR pub/s.bin", 150);
    d.write_all(&new[10_000..]).unwrap();
    drop(d);
    assert_eq!(up.read_reply().0, 226);
    let mut got = Vec::new();
    dd.read_to_end(&mut got).unwrap();
    assert_eq!(down.read_reply().0, 226);
    let first_diff = got.iter().zip(&new).position(|(a, b)| a != b);
    assert!(
        got.len() == new.len() && first_diff.is_none(),
        "the download must wait for the upload and send the new version whole: got {} bytes, want {}, first difference at {first_diff:?}",
        got.len(),
        new.len()
    );
}
