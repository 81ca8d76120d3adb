//! rsftpd behind a load balancer: the PROXY protocol (proxy_protocol_enable,
//! proxy_trusted_addresses).
//!
//! The mini-inetd listens on 127.0.0.1, so the TCP peer of every connection the tests make
//! is 127.0.0.1 (trusted here) unless a socket is bound to another loopback address first
//! (127.0.0.2 plays an untrusted host). The headers written by the tests name other
//! loopback addresses (127.0.0.9 is "the real client"), so PORT/EPRT targets and passive
//! data connections stay on `lo`. What is asserted: the client address in vsftpd_log_file
//! and STAT, the bounce check against the header's address, the passive data-connection
//! check (a header on the data connection from a trusted balancer, or the real client
//! connecting directly), refusals (untrusted peer: 421; malformed or oversize header:
//! closed), headers split across segments and commands in the header's segment.
//!
//! The last test runs a real HAProxy (Debian's haproxy package) in the foreground, as the
//! test's own child, with `send-proxy-v2` on a control frontend and a passive-port-range
//! frontend on 127.0.0.2, in front of a standalone rsftpd on 127.0.0.1; curl and lftp,
//! bound to 127.0.0.3, list, download and upload through it. HAProxy and rsftpd are ended
//! by PID (Drop guards). Every wait is bounded; everything is on loopback.
mod common;
use common::ftp::{accept_within, assert_no_connection, listener, port_arg_of as port_arg};
use common::logfile::{lines as log_lines, wait_lines};
#[path = "common/syslog.rs"]
mod syslog;

use common::clients::{assert_ok, show};
use common::{random_bytes, Ctl, Fixture, Inetd, TIMEOUT};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The real client the headers name.
const REAL: &str = "127.0.0.9";

// ---------------------------------------------------------------------------------------
// Headers, written by hand from the specification (not with the crate's encoder).

/// `PROXY TCP4 src dst sport dport\r\n`.
fn v1(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let proto = if src.contains(':') { "TCP6" } else { "TCP4" };
    format!("PROXY {proto} {src} {dst} {sport} {dport}\r\n").into_bytes()
}

const SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// A version 2 PROXY header for TCP over IPv4 or IPv6.
fn v2(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let mut b = SIG.to_vec();
    let (s, d): (std::net::IpAddr, std::net::IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
    let mut addrs = Vec::new();
    let fam = match (s, d) {
        (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) => {
            addrs.extend_from_slice(&s.octets());
            addrs.extend_from_slice(&d.octets());
            0x11
        }
        (std::net::IpAddr::V6(s), std::net::IpAddr::V6(d)) => {
            addrs.extend_from_slice(&s.octets());
            addrs.extend_from_slice(&d.octets());
            0x21
        }
        _ => panic!("one family"),
    };
    addrs.extend_from_slice(&sport.to_be_bytes());
    addrs.extend_from_slice(&dport.to_be_bytes());
    b.extend_from_slice(&[0x21, fam]);
    b.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    b.extend_from_slice(&addrs);
    b
}

/// A version 2 LOCAL header (a balancer's health check).
fn v2_local() -> Vec<u8> {
    let mut b = SIG.to_vec();
    b.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    b
}

// ---------------------------------------------------------------------------------------
// Fixture and connections.

/// A served tree with a writable pub/, logs in vsftpd's shape to `vsftpd.log`, and the
/// PROXY protocol on with 127.0.0.1 (the mini-inetd's peer for the tests) trusted.
fn fixture(name: &str) -> (Fixture, PathBuf) {
    let mut f = Fixture::new(name);
    f.mkdir("pub", 0o777);
    f.file("hello.txt", b"hello\n", 0o644);
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.set("xferlog_enable=YES");
    let vlog = f.dir.join("vsftpd.log");
    f.set(&format!("vsftpd_log_file={}", vlog.display()));
    f.set("proxy_protocol_enable=YES");
    f.set("proxy_trusted_addresses=127.0.0.1");
    (f, vlog)
}

/// A TCP connection to `to` from `from_ip` (bound before connecting).
fn connect_from(from_ip: &str, to: SocketAddr) -> TcpStream {
    let local: SocketAddr = format!("{from_ip}:0").parse().unwrap();
    let s = rsftpd::sys::net::connect_from(local, to, TIMEOUT)
        .unwrap_or_else(|e| panic!("connect from {from_ip} to {to}: {e}"));
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// A control connection from the trusted 127.0.0.1 that starts with `header` and then
/// `then` in the same write; the greeting is read.
fn proxied(inetd: &Inetd, header: &[u8], then: &[u8]) -> Ctl {
    let mut s = connect_from("127.0.0.1", inetd.addr);
    let mut b = header.to_vec();
    b.extend_from_slice(then);
    s.write_all(&b).unwrap();
    let mut c = Ctl::from_stream(s);
    let (code, text) = c.read_reply();
    assert_eq!(code, 220, "greeting after a header: {text:?}");
    c
}

/// Log in anonymously through a header naming `client`.
fn login_as(inetd: &Inetd, client: &str) -> Ctl {
    let mut c = proxied(inetd, &v1(client, "127.0.0.1", 40000, 21), b"");
    c.expect("USER anonymous", 331);
    c.expect("PASS guest@example.com", 230);
    c
}

/// Everything the peer sends until it closes; a reset counts as the end.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return buf,
            Err(e) => panic!("read: {e} after {} bytes", buf.len()),
        }
    }
}

fn pasv_addr(text: &str) -> SocketAddr {
    let inner = &text[text.find('(').unwrap() + 1..text.find(')').unwrap()];
    let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// The client address from the header.

#[test]
fn v1_and_v2_headers_give_the_logged_client_address() {
    let (f, vlog) = fixture("proxy-addr");
    let inetd = f.inetd();
    let cases: [(&str, Vec<u8>); 3] = [
        ("203.0.113.7", v1("203.0.113.7", "192.0.2.1", 56324, 21)),
        ("198.51.100.23", v2("198.51.100.23", "192.0.2.1", 40001, 21)),
        ("2001:db8::7", v2("2001:db8::7", "2001:db8::1", 40002, 21)),
    ];
    for (client, header) in &cases {
        // Commands pipelined behind the header, in the same segment, are not lost.
        let mut c = proxied(
            &inetd,
            header,
            b"USER anonymous\r\nPASS guest@example.com\r\n",
        );
        assert_eq!(c.read_reply().0, 331, "{client}");
        assert_eq!(c.read_reply().0, 230, "{client}");
        let stat = c.expect("STAT", 211);
        assert!(
            stat.contains(&format!("     Connected to {client}\n")),
            "{stat}"
        );
        c.expect("QUIT", 221);
    }
    assert!(inetd.wait_all_exited(TIMEOUT));
    let got = wait_lines(
        &vlog,
        &cases
            .iter()
            .map(|(c, _)| format!("[ftp] OK LOGIN: Client \"{c}\""))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    for (client, _) in &cases {
        let connect = format!("CONNECT: Client \"{client}\"");
        assert!(got.iter().any(|l| l.ends_with(&connect)), "{got:#?}");
    }
    assert!(
        !got.iter().any(|l| l.contains("Client \"127.0.0.1\"")),
        "the balancer's address was logged: {got:#?}"
    );
}

#[test]
fn a_header_split_across_segments_still_works() {
    let (f, vlog) = fixture("proxy-split");
    let inetd = f.inetd();
    for (client, header) in [
        ("203.0.113.8", v1("203.0.113.8", "192.0.2.1", 1024, 21)),
        ("203.0.113.9", v2("203.0.113.9", "192.0.2.1", 1025, 21)),
    ] {
        let mut s = connect_from("127.0.0.1", inetd.addr);
        // Three segments with pauses; the last one carries the first command too.
        let cut = [3, 14];
        s.write_all(&header[..cut[0]]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(&header[cut[0]..cut[1]]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let mut last = header[cut[1]..].to_vec();
        last.extend_from_slice(b"USER anonymous\r\n");
        s.write_all(&last).unwrap();
        let mut c = Ctl::from_stream(s);
        assert_eq!(c.read_reply().0, 220);
        assert_eq!(c.read_reply().0, 331);
        c.expect("PASS split@example.com", 230);
        c.expect("QUIT", 221);
        wait_lines(&vlog, &[&format!("OK LOGIN: Client \"{client}\"")]);
    }
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn v2_local_and_v1_unknown_use_the_tcp_peer() {
    let (f, vlog) = fixture("proxy-local");
    let inetd = f.inetd();
    for header in [v2_local(), b"PROXY UNKNOWN\r\n".to_vec()] {
        let mut c = proxied(&inetd, &header, b"");
        c.expect("USER anonymous", 331);
        c.expect("PASS local@example.com", 230);
        let stat = c.expect("STAT", 211);
        assert!(stat.contains("     Connected to 127.0.0.1\n"), "{stat}");
        c.expect("QUIT", 221);
    }
    assert!(inetd.wait_all_exited(TIMEOUT));
    let got = wait_lines(&vlog, &["OK LOGIN: Client \"127.0.0.1\""]);
    assert_eq!(
        got.iter()
            .filter(|l| l.contains("OK LOGIN: Client \"127.0.0.1\""))
            .count(),
        2,
        "{got:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// Bounce protection and the passive data-connection check use the real client.

#[test]
fn port_and_eprt_must_name_the_real_client() {
    let port20s: &[&str] = if common::is_root() {
        &["NO", "YES"]
    } else {
        &["NO"]
    };
    for port20 in port20s {
        let (mut f, _) = fixture("proxy-bounce");
        f.file("visible-name", b"x", 0o644);
        f.set(&format!("connect_from_port_20={port20}"));
        let inetd = f.inetd();
        let mut c = login_as(&inetd, REAL);

        // The balancer's (TCP peer's) address is a third party now.
        let l = listener("127.0.0.1");
        let target = l.local_addr().unwrap();
        let what = format!("PORT to the balancer, connect_from_port_20={port20}");
        let (_, text) = c.cmd(&format!("PORT {}", port_arg(target)));
        assert_eq!(text, "500 Illegal PORT command.", "{what}");
        let (_, text) = c.cmd(&format!("EPRT |1|127.0.0.1|{}|", target.port()));
        assert_eq!(text, "500 Illegal EPRT command.", "{what}");
        assert_eq!(c.cmd("NLST").1, "425 Use PORT or PASV first.");
        assert_no_connection(&l, &what);

        // The header's address is the client's: PORT and EPRT to it work.
        for eprt in [false, true] {
            let l = listener(REAL);
            let target = l.local_addr().unwrap();
            if eprt {
                c.expect(&format!("EPRT |1|{REAL}|{}|", target.port()), 200);
            } else {
                c.expect(&format!("PORT {}", port_arg(target)), 200);
            }
            c.expect("NLST visible-name", 150);
            let (mut s, from) = accept_within(&l, TIMEOUT)
                .unwrap_or_else(|| panic!("no connection to {target} (port20={port20})"));
            if *port20 == "YES" {
                assert_eq!(from.port(), 20);
            }
            assert_eq!(read_to_close(&mut s), b"visible-name\r\n");
            assert_eq!(c.read_reply().0, 226);
        }
        c.expect("QUIT", 221);
        assert!(inetd.wait_all_exited(TIMEOUT));
    }
}

/// PASV, then a data connection made by `connect` (which may write a header); then
/// `command`. Returns the reply to the command.
fn pasv_then(
    c: &mut Ctl,
    connect: impl FnOnce(SocketAddr) -> TcpStream,
    command: &str,
) -> (TcpStream, (u16, String)) {
    let addr = pasv_addr(&c.expect("PASV", 227));
    let s = connect(addr);
    let reply = c.cmd(command);
    (s, reply)
}

#[test]
fn passive_connections_are_checked_against_the_real_client() {
    let (f, vlog) = fixture("proxy-pasv");
    let secret = random_bytes(70_000, 11);
    f.file("secret.bin", &secret, 0o644);
    let inetd = f.inetd();
    let mut c = login_as(&inetd, REAL);

    // Through the trusted balancer with a header naming the client: served, v1 and v2.
    for header in [
        v1(REAL, "127.0.0.1", 40100, 0),
        v2(REAL, "127.0.0.1", 40101, 0),
    ] {
        let (mut d, (code, text)) = pasv_then(
            &mut c,
            |a| {
                let mut d = connect_from("127.0.0.1", a);
                d.write_all(&header).unwrap();
                d
            },
            "RETR secret.bin",
        );
        assert_eq!(code, 150, "{text}");
        assert!(
            read_to_close(&mut d) == secret,
            "download through the balancer"
        );
        assert_eq!(c.read_reply().0, 226);
    }

    // An upload whose data follows the header in the same segment: stored byte for byte,
    // the header taken off and nothing more.
    let payload = random_bytes(20_000, 12);
    let (d, (code, text)) = pasv_then(
        &mut c,
        |a| {
            let mut d = connect_from("127.0.0.1", a);
            let mut b = v2(REAL, "127.0.0.1", 40102, 0);
            b.extend_from_slice(&payload);
            d.write_all(&b).unwrap();
            d
        },
        "STOR pub/up.bin",
    );
    assert_eq!(code, 150, "{text}");
    d.shutdown(Shutdown::Write).unwrap();
    drop(d);
    assert_eq!(c.read_reply().0, 226);
    assert!(std::fs::read(f.root.join("pub/up.bin")).unwrap() == payload);

    // The real client connecting directly (not through the balancer, no header): served.
    let (mut d, (code, _)) = pasv_then(&mut c, |a| connect_from(REAL, a), "RETR hello.txt");
    assert_eq!(code, 150);
    assert_eq!(read_to_close(&mut d), b"hello\n");
    assert_eq!(c.read_reply().0, 226);

    // Refused, each with the session going on: (what, from which address, what it sends).
    let refusals: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "through the balancer for another client",
            "127.0.0.1",
            v1("127.0.0.5", "127.0.0.1", 40103, 0),
        ),
        (
            "through the balancer without a header",
            "127.0.0.1",
            b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        ),
        (
            "through the balancer with a malformed header",
            "127.0.0.1",
            format!("PROXY TCP4 {REAL} 127.0.0.1 1 2\n").into_bytes(),
        ),
        ("from a third party", "127.0.0.2", Vec::new()),
        (
            "from an untrusted host claiming to be the client",
            "127.0.0.2",
            v1(REAL, "127.0.0.1", 40104, 0),
        ),
    ];
    for (what, from, sends) in refusals {
        let connect = |a| {
            let mut d = connect_from(from, a);
            d.write_all(&sends).unwrap();
            d
        };
        let (mut d, (code, text)) = pasv_then(&mut c, connect, "RETR secret.bin");
        assert_eq!(
            (code, text.as_str()),
            (425, "425 Security: Bad IP connecting."),
            "{what}"
        );
        assert_eq!(read_to_close(&mut d), b"", "{what}: data leaked");
        c.expect("NOOP", 200);
    }
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(TIMEOUT));
    let got = wait_lines(&vlog, &["OK UPLOAD: Client \"127.0.0.9\", \"/pub/up.bin\""]);
    assert_eq!(
        got.iter()
            .filter(|l| l.contains("OK DOWNLOAD: Client \"127.0.0.9\""))
            .count(),
        3,
        "{got:#?}"
    );
    assert!(
        !got.iter().any(|l| l.contains("Client \"127.0.0.1\"")),
        "{got:#?}"
    );
}

#[test]
fn pasv_promiscuous_still_takes_the_header_off() {
    let (mut f, _) = fixture("proxy-promisc");
    f.set("pasv_promiscuous=YES");
    let inetd = f.inetd();
    let mut c = login_as(&inetd, REAL);
    let payload = random_bytes(5_000, 13);
    let (d, (code, _)) = pasv_then(
        &mut c,
        |a| {
            let mut d = connect_from("127.0.0.1", a);
            let mut b = v1("127.0.0.5", "127.0.0.1", 40105, 0);
            b.extend_from_slice(&payload);
            d.write_all(&b).unwrap();
            d
        },
        "STOR pub/other.bin",
    );
    assert_eq!(code, 150);
    d.shutdown(Shutdown::Write).unwrap();
    drop(d);
    assert_eq!(c.read_reply().0, 226);
    assert!(std::fs::read(f.root.join("pub/other.bin")).unwrap() == payload);
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

// ---------------------------------------------------------------------------------------
// Refusals.

#[test]
fn a_control_connection_from_an_untrusted_address_is_refused() {
    let capturing = syslog::capturing();
    let (f, vlog) = fixture("proxy-untrusted");
    let inetd = f.inetd();
    for header in [v1(REAL, "127.0.0.1", 40200, 21), Vec::new()] {
        let mut s = connect_from("127.0.0.2", inetd.addr);
        let tag = s.local_addr().unwrap().to_string();
        let mut b = header.clone();
        b.extend_from_slice(b"USER anonymous\r\n");
        s.write_all(&b).unwrap();
        let got = read_to_close(&mut s);
        assert_eq!(got, b"421 Service not available.\r\n");
        if capturing {
            let want = format!(
                "refused a connection from {tag}: proxy_protocol_enable=YES and it is not in proxy_trusted_addresses"
            );
            let got = syslog::wait_for_lines(&tag, &[&want], Duration::from_secs(5));
            assert!(got.contains(&want), "{got:#?}");
        }
    }
    assert!(inetd.wait_all_exited(TIMEOUT));
    let got = log_lines(&vlog);
    assert!(!got.iter().any(|l| l.contains("CONNECT")), "{got:#?}");
}

#[test]
fn malformed_and_oversize_headers_close_the_connection() {
    let capturing = syslog::capturing();
    let (f, vlog) = fixture("proxy-malformed");
    let inetd = f.inetd();
    let mut oversize_v1 = b"PROXY UNKNOWN ".to_vec();
    oversize_v1.resize(120, b'x');
    oversize_v1.extend_from_slice(b"\r\n");
    let mut oversize_v2 = SIG.to_vec();
    oversize_v2.extend_from_slice(&[0x21, 0x11, 0x07, 0xd0]); // 2000 bytes of body
    oversize_v2.resize(16 + 2000, 0);
    let mut dgram = v2(REAL, "127.0.0.1", 1, 21);
    dgram[13] = 0x12;
    let mut version3 = v2(REAL, "127.0.0.1", 1, 21);
    version3[12] = 0x31;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "not a PROXY protocol header",
            b"USER anonymous\r\n".to_vec(),
        ),
        (
            "version 1 header not ended by CRLF",
            format!("PROXY TCP4 {REAL} 127.0.0.1 1 21\n").into_bytes(),
        ),
        (
            "version 1 header without exactly two addresses and two ports",
            format!("PROXY TCP4 {REAL} 127.0.0.1 1\r\n").into_bytes(),
        ),
        (
            "version 1 header with an address that is not of its protocol",
            b"PROXY TCP4 ::1 127.0.0.1 1 21\r\n".to_vec(),
        ),
        ("version 1 header longer than 107 bytes", oversize_v1),
        (
            "version 2 header longer than limits::PROXY_V2_MAX",
            oversize_v2,
        ),
        (
            "version 2 header for a datagram transport on a TCP connection",
            dgram,
        ),
        ("version 2 signature with another version number", version3),
    ];
    for (why, bytes) in &cases {
        let mut s = connect_from("127.0.0.1", inetd.addr);
        let tag = s.local_addr().unwrap().to_string();
        let mut b = bytes.clone();
        b.extend_from_slice(b"USER anonymous\r\n");
        // The server may close before reading it all: a reset on write is fine.
        let _ = s.write_all(&b);
        assert_eq!(
            read_to_close(&mut s),
            b"",
            "{why}: the server said something"
        );
        if capturing {
            let want = format!("closed the connection from proxy {tag}: bad PROXY header: {why}");
            let got = syslog::wait_for_lines(&tag, &[&want], Duration::from_secs(5));
            assert!(got.contains(&want), "{got:#?}");
        }
    }
    // A balancer's plain TCP health check (connect, close) ends quietly.
    drop(connect_from("127.0.0.1", inetd.addr));
    assert!(inetd.wait_all_exited(TIMEOUT));
    let got = log_lines(&vlog);
    assert!(!got.iter().any(|l| l.contains("CONNECT")), "{got:#?}");
}

// ---------------------------------------------------------------------------------------
// Standalone (listen=YES) and a real HAProxy.

/// A process this test started, killed by PID when the test ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bindable(ip: &str, port: u16) -> bool {
    TcpListener::bind((ip, port)).is_ok()
}

/// `n` consecutive ports free on both 127.0.0.1 and 127.0.0.2, below the ephemeral range
/// (bounded tries from a random start).
fn free_ports(n: u16) -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    for i in 0..200u64 {
        let base = 20_000 + ((r.wrapping_add(i * 7919)) % 10_000) as u16;
        if (base..base + n).all(|p| bindable("127.0.0.1", p) && bindable("127.0.0.2", p)) {
            return base;
        }
    }
    panic!("no {n} free consecutive ports");
}

/// Start rsftpd standalone on 127.0.0.1:`port` and wait until it greets a proxied probe.
fn start_standalone(f: &mut Fixture, port: u16) -> Guard {
    f.set("listen=YES");
    f.set("listen_address=127.0.0.1");
    f.set(&format!("listen_port={port}"));
    let child = Command::new(common::bin())
        .args(["-c", f.conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let t = Instant::now();
    let probe = loop {
        if let Ok(s) = TcpStream::connect(to) {
            break s;
        }
        assert!(t.elapsed() < TIMEOUT, "rsftpd did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    };
    probe.set_read_timeout(Some(TIMEOUT)).unwrap();
    // A client of its own (127.0.0.8), so no log line names the balancer.
    (&probe)
        .write_all(&v1("127.0.0.8", "127.0.0.1", 40400, port))
        .unwrap();
    let mut probe = Ctl::from_stream(probe);
    assert_eq!(probe.read_reply().0, 220, "readiness probe");
    guard
}

#[test]
fn standalone_max_per_ip_does_not_count_the_balancer() {
    let (mut f, vlog) = fixture("proxy-standalone");
    f.set("max_per_ip=1");
    let port = free_ports(1);
    let _server = start_standalone(&mut f, port);
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Three clients at once through one balancer address: all served.
    let mut sessions = Vec::new();
    for client in ["127.0.0.9", "127.0.0.10", "127.0.0.11"] {
        let mut s = connect_from("127.0.0.1", to);
        s.write_all(&v2(client, "127.0.0.1", 40300, 21)).unwrap();
        let mut c = Ctl::from_stream(s);
        assert_eq!(c.read_reply().0, 220, "{client}");
        c.expect("USER anonymous", 331);
        c.expect("PASS x@example.com", 230);
        sessions.push(c);
    }
    for mut c in sessions {
        c.expect("QUIT", 221);
    }
    wait_lines(
        &vlog,
        &[
            "OK LOGIN: Client \"127.0.0.9\"",
            "OK LOGIN: Client \"127.0.0.10\"",
            "OK LOGIN: Client \"127.0.0.11\"",
        ],
    );
    // An untrusted host is still refused, and still limited per address by the listener.
    let mut s = connect_from("127.0.0.2", to);
    assert_eq!(read_to_close(&mut s), b"421 Service not available.\r\n");
}

/// Run `prog` under `timeout` with the test's environment rules (common::clients::run).
fn client(prog: &str, args: &[&str], cwd: &Path) -> std::process::Output {
    common::clients::run("60", prog, args, None, cwd)
}

#[test]
fn curl_and_lftp_through_haproxy_with_send_proxy_v2() {
    let (mut f, vlog) = fixture("proxy-haproxy");
    let data = random_bytes(3 << 20, 21);
    f.file("data.bin", &data, 0o644);
    f.file("sub/inner.txt", b"inside\n", 0o644);
    // Ports: rsftpd's control port on 127.0.0.1, HAProxy's on 127.0.0.2, and a passive
    // range of 5 ports used on both (rsftpd listens on 127.0.0.1, HAProxy forwards
    // 127.0.0.2:P to 127.0.0.1:P with a header).
    let base = free_ports(7);
    let (rs_port, lb_port, pmin, pmax) = (base, base + 1, base + 2, base + 6);
    f.set(&format!("pasv_min_port={pmin}"));
    f.set(&format!("pasv_max_port={pmax}"));
    f.set("pasv_address=127.0.0.2");
    // max_per_ip would count the balancer if the listener applied it to trusted peers.
    f.set("max_per_ip=1");
    let _server = start_standalone(&mut f, rs_port);

    let cfg = f.dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    maxconn 100\n\n\
             defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\n\
             frontend ftp_control\n    bind 127.0.0.2:{lb_port}\n    default_backend rsftpd_control\n\n\
             # A health check with a port of its own is a plain TCP check, without a\n\
             # header: rsftpd neither serves nor logs it (a LOCAL header would be served).\n\
             backend rsftpd_control\n    server rsftpd 127.0.0.1:{rs_port} send-proxy-v2 check port {rs_port} inter 200ms\n\n\
             frontend ftp_passive\n    bind 127.0.0.2:{pmin}-{pmax}\n    default_backend rsftpd_passive\n\n\
             # No port: the connection goes to the port the client connected to.\n\
             backend rsftpd_passive\n    server rsftpd 127.0.0.1 send-proxy-v2\n"
        ),
    )
    .unwrap();
    let hlog = std::fs::File::create(f.dir.join("haproxy.log")).unwrap();
    let haproxy = Command::new("haproxy")
        .arg("-f")
        .arg(&cfg)
        .arg("-db")
        .stdin(Stdio::null())
        .stdout(hlog.try_clone().unwrap())
        .stderr(hlog)
        .spawn()
        .expect("haproxy (apt-get install haproxy; it is in the Makefile's PKGS)");
    let _haproxy = Guard(haproxy);
    let lb: SocketAddr = format!("127.0.0.2:{lb_port}").parse().unwrap();
    let t = Instant::now();
    // Held for the whole test: a session from 127.0.0.4 through the balancer, while
    // max_per_ip=1 (per real client, never per balancer).
    let mut held = loop {
        if let Ok(s) = rsftpd::sys::net::connect_from("127.0.0.4:0".parse().unwrap(), lb, TIMEOUT) {
            s.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut c = Ctl::from_stream(s);
            if c.read_reply().0 == 220 {
                break c;
            }
        }
        assert!(
            t.elapsed() < TIMEOUT,
            "haproxy did not come up: {}",
            std::fs::read_to_string(f.dir.join("haproxy.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    held.expect("USER anonymous", 331);
    held.expect("PASS held@example.com", 230);

    let url = |p: &str| format!("ftp://127.0.0.2:{lb_port}/{p}");
    let cwd = &f.dir;
    let up_src = f.dir.join("up-src.bin");
    let up = random_bytes(1 << 20, 22);
    std::fs::write(&up_src, &up).unwrap();

    // curl, bound to 127.0.0.3: list, download, upload (EPSV through the balancer).
    let curl = |args: &[&str]| {
        let mut a = vec!["-sS", "--interface", "127.0.0.3"];
        a.extend_from_slice(args);
        client("curl", &a, cwd)
    };
    let o = curl(&[&url("")]);
    assert_ok("curl LIST", &o);
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    for name in ["data.bin", "hello.txt", "pub", "sub"] {
        assert!(
            listing.lines().any(|l| l.ends_with(&format!(" {name}"))),
            "{name} not in {listing}"
        );
    }
    let got = f.dir.join("curl-data.bin");
    assert_ok(
        "curl RETR",
        &curl(&["-o", got.to_str().unwrap(), &url("data.bin")]),
    );
    assert_eq!(
        common::sha256(&got),
        common::sha256(&f.root.join("data.bin"))
    );
    assert_ok(
        "curl STOR",
        &curl(&["-T", up_src.to_str().unwrap(), &url("pub/up-curl.bin")]),
    );
    assert_eq!(
        common::sha256(&f.root.join("pub/up-curl.bin")),
        common::sha256(&up_src)
    );
    // PASV too (curl ignores the PASV address by default and uses the control host).
    assert_ok(
        "curl --disable-epsv RETR",
        &curl(&[
            "--disable-epsv",
            "-o",
            got.to_str().unwrap(),
            &url("sub/inner.txt"),
        ]),
    );
    assert_eq!(std::fs::read(&got).unwrap(), b"inside\n");

    // lftp, bound to 127.0.0.3: PASV with pasv_address=127.0.0.2.
    let lgot = f.dir.join("lftp-data.bin");
    let script = format!(
        "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; \
         set ftp:ssl-allow no; set cmd:fail-exit yes; set net:socket-bind-ipv4 127.0.0.3; \
         set ftp:passive-mode yes; set ftp:prefer-epsv no; \
         open -u anonymous,lftp@example.com ftp://127.0.0.2:{lb_port}; \
         cls -1 sub; get data.bin -o {}; put {} -o pub/up-lftp.bin; bye",
        lgot.display(),
        up_src.display()
    );
    let o = client("lftp", &["-c", &script], cwd);
    assert_ok("lftp", &o);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("sub/inner.txt"),
        "{}",
        show(&o)
    );
    assert_eq!(
        common::sha256(&lgot),
        common::sha256(&f.root.join("data.bin"))
    );
    assert_eq!(
        common::sha256(&f.root.join("pub/up-lftp.bin")),
        common::sha256(&up_src)
    );

    // The held session still works, through the balancer's passive port range.
    let addr = pasv_addr(&held.expect("PASV", 227));
    assert_eq!(addr.ip().to_string(), "127.0.0.2");
    assert!((pmin..=pmax).contains(&addr.port()));
    let mut d = connect_from("127.0.0.4", addr);
    held.expect("RETR hello.txt", 150);
    assert_eq!(read_to_close(&mut d), b"hello\n");
    assert_eq!(held.read_reply().0, 226);
    // Connecting to the passive port through the balancer from another address: refused.
    let addr = pasv_addr(&held.expect("PASV", 227));
    let mut thief = connect_from("127.0.0.5", addr);
    let (_, text) = held.cmd("RETR data.bin");
    assert_eq!(text, "425 Security: Bad IP connecting.");
    assert_eq!(read_to_close(&mut thief), b"");
    held.expect("QUIT", 221);

    // The log shows the real clients only, never the balancer's address.
    let lines = wait_lines(
        &vlog,
        &[
            "CONNECT: Client \"127.0.0.3\"",
            "[ftp] OK LOGIN: Client \"127.0.0.3\"",
            "[ftp] OK DOWNLOAD: Client \"127.0.0.3\", \"/data.bin\"",
            "[ftp] OK UPLOAD: Client \"127.0.0.3\", \"/pub/up-curl.bin\"",
            "[ftp] OK UPLOAD: Client \"127.0.0.3\", \"/pub/up-lftp.bin\"",
            "[ftp] OK DOWNLOAD: Client \"127.0.0.4\", \"/hello.txt\"",
        ],
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("Client \"127.0.0.1\"") || l.contains("Client \"127.0.0.2\"")),
        "{lines:#?}"
    );
}
