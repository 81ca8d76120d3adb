//! Standalone mode (listen=YES): the server accepts connections itself and serves each in a
//! forked child through the same code path as an inetd launch.
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Listener {
    child: Child,
    port: u16,
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Only the process this test started, by PID; its session children die with their
        // monitor (PDEATHSIG) or on the client's hang-up.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(f: &mut common::Fixture) -> Listener {
    let port = free_port();
    f.set("listen=YES");
    f.set("listen_address=127.0.0.1");
    f.set(&format!("listen_port={port}"));
    let child = Command::new(common::bin())
        .args(["-c", f.conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < common::TIMEOUT,
            "standalone server did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Listener { child, port }
}

fn ctl(port: u16) -> common::Ctl {
    let mut c = common::Ctl::connect(format!("127.0.0.1:{port}").parse().unwrap());
    assert_eq!(c.read_reply().0, 220);
    c
}

#[test]
fn serves_concurrent_sessions_through_the_inetd_path() {
    let mut f = common::Fixture::new("standalone");
    f.file("hello.txt", b"hello\n", 0o644);
    let l = start(&mut f);
    // A connection made only to probe readiness was served and closed; now two sessions at once.
    let mut a = ctl(l.port);
    let mut b = ctl(l.port);
    a.expect("USER anonymous", 331);
    b.expect("USER ftp", 331);
    a.expect("PASS a@b", 230);
    b.expect("PASS b@c", 230);
    let (data, code, _) = a.pasv_transfer("RETR hello.txt");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226));
    let (list, code, _) = b.pasv_transfer("NLST");
    assert_eq!(code, 226);
    assert_eq!(String::from_utf8_lossy(&list), "hello.txt\r\n");
    if common::is_root() {
        // Each connection has its own privilege-separated tree under the listener.
        let kids = common::descendants(l.child.id());
        assert!(
            kids.len() >= 4,
            "monitor + post-login per session, got {kids:?}"
        );
    }
    a.expect("QUIT", 221);
    b.expect("QUIT", 221);
    // The listener keeps serving after sessions end.
    let mut c = ctl(l.port);
    c.expect("QUIT", 221);
    let t = Instant::now();
    while !common::descendants(l.child.id()).is_empty() {
        assert!(
            t.elapsed() < common::TIMEOUT,
            "session processes left behind: {:?}",
            common::descendants(l.child.id())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_listen_address_is_reported_at_start() {
    let mut f = common::Fixture::new("standalone-bad");
    f.set("listen=YES");
    f.set("listen_address=not-an-ip");
    let out = Command::new(common::bin())
        .args(["-c", f.conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("listen_address") && err.contains("not-an-ip"),
        "{err}"
    );
}
