//! Control- and data-connection helpers for the protocol-level tests: exact replies,
//! passive and active data connections, listings, big files for long transfers.

use super::{Ctl, Fixture, Inetd, TIMEOUT};
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Send a command and assert the whole reply text (all lines, joined by "\n").
pub fn exact(c: &mut Ctl, line: &str, want: &str) {
    let (_, text) = c.cmd(line);
    assert_eq!(text, want, "reply to {line:?}");
}

/// Set a file's (or directory's) modification time, in UTC seconds since the epoch.
pub fn set_mtime(p: &Path, secs: u64) {
    let f = std::fs::File::open(p).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

/// Read a data connection to EOF (bounded by the socket's read timeout).
pub fn read_all(mut s: TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    buf
}

/// The last field (name) of each LIST line.
pub fn list_names(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split_terminator("\r\n")
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .collect()
}

/// Accept one connection on a listener within TIMEOUT.
pub fn accept_bounded(l: &TcpListener) -> TcpStream {
    l.set_nonblocking(true).unwrap();
    let t = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(t.elapsed() < TIMEOUT, "no active data connection arrived");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// `PORT` argument for 127.0.0.1:port.
pub fn port_arg(port: u16) -> String {
    format!("127,0,0,1,{},{}", port >> 8, port & 0xff)
}

/// A large sparse file (all zeros, mode 0644) under the served root, for transfers that
/// must still be running when the test acts.
pub fn big_file(f: &Fixture, name: &str, len: u64) {
    let p = f.root.join(name);
    let file = std::fs::File::create(&p).unwrap();
    file.set_len(len).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Close our side and check that every rsftpd this inetd started exits.
pub fn hang_up_and_check_exit(c: Ctl, inetd: &Inetd) {
    let _ = c.stream.shutdown(Shutdown::Both);
    drop(c);
    assert!(
        inetd.wait_all_exited(TIMEOUT),
        "rsftpd processes left after the client hung up"
    );
}

/// The PORT argument (h1,h2,h3,h4,p1,p2) for an IPv4 address and port.
pub fn port_arg_of(addr: std::net::SocketAddr) -> String {
    let std::net::SocketAddr::V4(a) = addr else {
        panic!("IPv4 only")
    };
    let o = a.ip().octets();
    format!(
        "{},{},{},{},{},{}",
        o[0],
        o[1],
        o[2],
        o[3],
        a.port() >> 8,
        a.port() & 0xff
    )
}

/// A nonblocking listener on `ip`, port chosen by the kernel.
pub fn listener(ip: &str) -> TcpListener {
    let l = TcpListener::bind(format!("{ip}:0")).unwrap();
    l.set_nonblocking(true).unwrap();
    l
}

/// Accept one connection within `within` (bounded polling of a nonblocking listener).
pub fn accept_within(
    l: &TcpListener,
    within: Duration,
) -> Option<(TcpStream, std::net::SocketAddr)> {
    let t = Instant::now();
    loop {
        match l.accept() {
            Ok((s, a)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                return Some((s, a));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if t.elapsed() >= within {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// How long a listener is watched before "nobody connected" is believed.
pub const QUIET: Duration = Duration::from_millis(400);

/// Assert that nobody connected to `l` within QUIET (the server would have by then).
pub fn assert_no_connection(l: &TcpListener, what: &str) {
    std::thread::sleep(QUIET);
    l.set_nonblocking(true).unwrap();
    match l.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("{what}: the listener got a connection from {from}"),
        Err(e) => panic!("{what}: accept: {e}"),
    }
}
