//! Standalone mode (listen=YES): the server accepts connections itself and serves each in a
//! forked child through the same code path as an inetd launch.
mod common;

use std::io::Read;
use std::net::TcpStream;
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

fn free_port(any: bool) -> u16 {
    let at = if any { "0.0.0.0:0" } else { "127.0.0.1:0" };
    std::net::TcpListener::bind(at)
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(f: &mut common::Fixture) -> Listener {
    start_on(f, Some("127.0.0.1"))
}

/// Start a listener on `listen_address` (None: unset, i.e. every address) and a free port,
/// and wait until it accepts.
fn start_on(f: &mut common::Fixture, listen_address: Option<&str>) -> Listener {
    let port = free_port(listen_address.is_none());
    f.set("listen=YES");
    match listen_address {
        Some(a) => f.set(&format!("listen_address={a}")),
        None => f.set("listen_address="),
    };
    f.set(&format!("listen_port={port}"));
    let child = Command::new(common::bin())
        .args(["-c", f.conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let probe = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(
            t.elapsed() < common::TIMEOUT,
            "standalone server did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Wait for the probe's greeting, so its session has been forked (and so is counted,
    // then reaped, before the test's own connections), then hang up.
    let mut probe = common::Ctl::from_stream(probe);
    assert_eq!(
        probe.read_reply().0,
        220,
        "the readiness probe was not served"
    );
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

// ----- max_clients and max_per_ip ------------------------------------------------------------

const TOO_MANY_USERS: &[u8] = b"421 There are too many connected users, please try later.\r\n";
const TOO_MANY_FROM_IP: &[u8] =
    b"421 There are too many connections from your internet address.\r\n";

/// The listener's direct children (one per session it forked and has not reaped yet).
fn sessions(l: &Listener) -> usize {
    common::procs::children(l.child.id()).len()
}

/// Wait (bounded) until the listener has exactly `n` children, reaped ones gone.
fn wait_sessions(l: &Listener, n: usize) {
    let t = Instant::now();
    while sessions(l) != n {
        assert!(
            t.elapsed() < common::TIMEOUT,
            "listener has {} children, expected {n}",
            sessions(l)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Everything the server sends on `s` until it closes the connection.
fn all_until_eof(mut s: TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("the server closes the refused connection");
    got
}

fn connect_from(local: &str, port: u16) -> TcpStream {
    rsftpd::sys::net::connect_from(
        format!("{local}:0").parse().unwrap(),
        format!("127.0.0.1:{port}").parse().unwrap(),
        common::TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("connect from {local}: {e}"))
}

fn logged_in(port: u16) -> common::Ctl {
    let mut c = ctl(port);
    c.expect("USER anonymous", 331);
    c.expect("PASS a@b", 230);
    c
}

/// Connect until the greeting is 220 rather than `refused` (the listener reaps an ended
/// session before its next admission decision, but the session takes a moment to end).
fn accepted_once_reaped(port: u16, refused: &[u8]) -> common::Ctl {
    for _ in 0..100 {
        let mut c = common::Ctl::connect(format!("127.0.0.1:{port}").parse().unwrap());
        if c.read_reply().0 == 220 {
            return c;
        }
        assert_eq!(
            String::from_utf8_lossy(&c.transcript),
            String::from_utf8_lossy(refused),
            "unexpected greeting"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the listener never admitted a new session after one ended");
}

#[test]
fn max_clients_refuses_with_421_without_forking() {
    let mut f = common::Fixture::new("standalone-max-clients");
    f.set("max_clients=2");
    f.set("max_per_ip=0");
    let l = start(&mut f);
    // The readiness probe's session ends on its own; start counting from none.
    wait_sessions(&l, 0);
    let mut a = logged_in(l.port);
    let b = logged_in(l.port);
    wait_sessions(&l, 2);
    // The third connection: exactly vsftpd's reply, then end of file, and no new process.
    for _ in 0..3 {
        let s = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&all_until_eof(s)),
            String::from_utf8_lossy(TOO_MANY_USERS)
        );
        assert_eq!(
            sessions(&l),
            2,
            "a session was forked for a refused connection"
        );
    }
    // One session leaves: once the listener has reaped it, a new one is admitted.
    a.expect("QUIT", 221);
    drop(a);
    let mut c = accepted_once_reaped(l.port, TOO_MANY_USERS);
    c.expect("USER anonymous", 331);
    c.expect("PASS c@d", 230);
    assert_eq!(sessions(&l), 2);
    c.expect("QUIT", 221);
    drop((b, c));
    wait_sessions(&l, 0);
}

#[test]
fn max_per_ip_refuses_the_address_not_the_others() {
    let mut f = common::Fixture::new("standalone-max-per-ip");
    f.set("max_clients=10");
    f.set("max_per_ip=1");
    // listen_address unset: every address, so 127.0.0.1 and 127.0.0.2 both reach it.
    let l = start_on(&mut f, None);
    wait_sessions(&l, 0);
    let mut a = logged_in(l.port);
    wait_sessions(&l, 1);
    // A second connection from 127.0.0.1 is over its address's limit.
    let s = connect_from("127.0.0.1", l.port);
    assert_eq!(
        String::from_utf8_lossy(&all_until_eof(s)),
        String::from_utf8_lossy(TOO_MANY_FROM_IP)
    );
    assert_eq!(
        sessions(&l),
        1,
        "a session was forked for a refused connection"
    );
    // 127.0.0.2 has no session yet: admitted.
    let mut b = common::Ctl::from_stream(connect_from("127.0.0.2", l.port));
    assert_eq!(b.read_reply().0, 220);
    b.expect("USER anonymous", 331);
    b.expect("PASS b@c", 230);
    wait_sessions(&l, 2);
    // And now 127.0.0.2 is at its limit too.
    let s = connect_from("127.0.0.2", l.port);
    assert_eq!(
        String::from_utf8_lossy(&all_until_eof(s)),
        String::from_utf8_lossy(TOO_MANY_FROM_IP)
    );
    assert_eq!(sessions(&l), 2);
    // When 127.0.0.1's session ends, that address may connect again.
    a.expect("QUIT", 221);
    drop(a);
    let mut c = accepted_once_reaped(l.port, TOO_MANY_FROM_IP);
    c.expect("QUIT", 221);
    b.expect("QUIT", 221);
    drop((b, c));
    wait_sessions(&l, 0);
}

/// The lowest descriptor number not open in process `pid`: what accept(2) would get.
fn lowest_free_fd(pid: u32) -> u64 {
    let open: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).unwrap()
}

/// Set the soft RLIMIT_NOFILE of the listener (our own child) with prlimit(1).
fn set_nofile(pid: u32, soft: u64) -> bool {
    Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={soft}:")])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn accept_loop_survives_emfile() {
    let mut f = common::Fixture::new("standalone-emfile");
    let mut l = start(&mut f);
    wait_sessions(&l, 0);
    let pid = l.child.id();
    // With the soft limit at the lowest free descriptor, every accept fails with EMFILE.
    if !set_nofile(pid, lowest_free_fd(pid)) {
        eprintln!("skipped: prlimit(1) is not available");
        return;
    }
    let mut pending = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
    pending
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0u8; 64];
    let r = pending.read(&mut buf);
    assert!(
        matches!(&r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "no greeting can come while accept fails: {r:?}"
    );
    assert!(
        l.child.try_wait().unwrap().is_none(),
        "the listener died on EMFILE"
    );
    assert_eq!(sessions(&l), 0);
    // Descriptors come back: the connection that waited in the backlog is served.
    assert!(set_nofile(pid, 1024));
    pending.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    let mut c = common::Ctl::from_stream(pending);
    assert_eq!(c.read_reply().0, 220);
    c.expect("QUIT", 221);
    drop(c);
    wait_sessions(&l, 0);
}
