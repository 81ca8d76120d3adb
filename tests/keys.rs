//! Configuration-key tests: for each tunable below, the observable behaviour with the key
//! on and with it off (or at its default), over the mini-inetd with raw control
//! connections and hand-made data connections.
//!
//! Keys: pasv_address, pasv_min_port/pasv_max_port, use_localtime, dirmessage_enable and
//! message_file, force_dot_files, dirlist_enable, download_enable, accept_timeout,
//! data_connection_timeout, connect_timeout, use_sendfile, port_enable, pasv_enable,
//! delay_failed_login, anon_root (unset), ls_recurse_enable. ftpd_banner, banner_file and hide_ids are
//! covered in tests/protocol.rs.
//!
//! Every loop is bounded in count and time and talks only to 127.0.0.1 (192.0.2.7 in the
//! pasv_address test is only text: nothing connects there). Timing assertions are lower
//! bounds on configured delays (behaviour), plus generous upper bounds that only catch a
//! hang; there are no speed claims.
mod common;

use common::ftp::{
    accept_bounded, big_file, exact, hang_up_and_check_exit, list_names, port_arg, read_all,
    set_mtime,
};
use common::{Ctl, Fixture, Inetd, TIMEOUT};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------
// Helpers (local to this file).
// ---------------------------------------------------------------------------------------

const DENIED: &str = "550 Permission denied.";
const FAILED_425: &str = "425 Failed to establish connection.";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Connect to 127.0.0.1:port (a passive data port).
fn connect_local(port: u16) -> TcpStream {
    let s = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), TIMEOUT).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// The six numbers of a 227 reply, checking vsftpd's exact wording.
fn pasv_numbers(text: &str) -> Vec<u16> {
    let inner = text
        .strip_prefix("227 Entering Passive Mode (")
        .and_then(|t| t.strip_suffix(")."))
        .unwrap_or_else(|| panic!("bad 227: {text:?}"));
    let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    assert_eq!(n.len(), 6, "{text}");
    assert!(n.iter().all(|&x| x < 256), "{text}");
    n
}

/// PASV; returns the announced port (the data address is checked to be 127.0.0.1).
fn pasv_port(c: &mut Ctl) -> u16 {
    let text = c.expect("PASV", 227);
    let n = pasv_numbers(&text);
    assert_eq!(&n[..4], &[127, 0, 0, 1], "{text}");
    n[4] * 256 + n[5]
}

/// EPSV; returns the announced port.
fn epsv_port(c: &mut Ctl) -> u16 {
    let text = c.expect("EPSV", 229);
    text.strip_prefix("229 Entering Extended Passive Mode (|||")
        .and_then(|t| t.strip_suffix("|)"))
        .unwrap_or_else(|| panic!("bad 229: {text:?}"))
        .parse()
        .unwrap()
}

/// A transfer on an already connected data socket: the command must get 150, then the
/// data to EOF and the final reply. Returns (data, final code, final text).
fn transfer_on(c: &mut Ctl, data: TcpStream, command: &str) -> (Vec<u8>, u16, String) {
    let (code, text) = c.cmd(command);
    assert_eq!(code, 150, "{command}: {text}");
    let buf = read_all(data);
    let (code, text) = c.read_reply();
    (buf, code, text)
}

/// A passive (PASV) transfer that must succeed with 226; returns the data.
fn fetch(c: &mut Ctl, command: &str) -> Vec<u8> {
    let port = pasv_port(c);
    let d = connect_local(port);
    let (data, code, text) = transfer_on(c, d, command);
    assert_eq!(code, 226, "{command}: {text}");
    data
}

/// A port on 127.0.0.1 where nothing listens (bound, then released; nothing else on this
/// machine picks it until the kernel hands out every other ephemeral port).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `n` consecutive free ports on 127.0.0.1, above the usual ephemeral range (so the
/// kernel does not hand them out meanwhile). Bounded search from a per-process start.
fn free_port_run(n: u16) -> u16 {
    let seed = u64::from(std::process::id()).wrapping_mul(7919)
        ^ u64::from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
    for attempt in 0..400u64 {
        let start = 61_000 + ((seed + attempt * 131) % 4_000) as u16;
        if (start..start + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return start;
        }
    }
    panic!("no run of {n} free ports found in 61000..65000");
}

/// sha256 of bytes, via a scratch file and the system's sha256sum.
fn sha256_bytes(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let h = common::sha256(&p);
    assert_eq!(h.len(), 64, "sha256sum failed for {}", p.display());
    h
}

/// Assert the server closed the control connection (EOF, not a read timeout).
fn assert_closed(c: &mut Ctl) {
    let (code, text) = c.read_reply();
    assert_eq!(code, 0, "expected the connection to close, got {text:?}");
}

/// (year, month 1-12, day, hour, minute) of a UTC unix time (Hinnant's civil_from_days).
fn civil(t: i64) -> (i64, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (secs / 3600) as u32, ((secs % 3600) / 60) as u32)
}

/// The `Mon DD HH:MM` column of a LIST line for a recent file at (shifted) time t.
fn ls_recent_date(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, m, d, h, mi) = civil(t);
    format!("{} {d:02} {h:02}:{mi:02}", MONTHS[(m - 1) as usize])
}

/// The MDTM reply for UTC time t.
fn mdtm_reply(t: i64) -> String {
    let (y, m, d, h, mi) = civil(t);
    let s = t.rem_euclid(60);
    format!("213 {y:04}{m:02}{d:02}{h:02}{mi:02}{s:02}")
}

// ---------------------------------------------------------------------------------------
// pasv_address
// ---------------------------------------------------------------------------------------

#[test]
fn pasv_address_is_announced_and_epsv_still_works() {
    let mut f = Fixture::new("pasvaddr");
    f.set("pasv_address=192.0.2.7");
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    // Announced, not connected to: 192.0.2.0/24 is TEST-NET-1.
    let text = c.expect("PASV", 227);
    let n = pasv_numbers(&text);
    assert_eq!(&n[..4], &[192, 0, 2, 7], "{text}");
    assert!(n[4] * 256 + n[5] > 0, "{text}");
    // EPSV names no address, so a transfer works as usual.
    let port = epsv_port(&mut c);
    let d = connect_local(port);
    let (data, code, text) = transfer_on(&mut c, d, "RETR a.txt");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226), "{text}");
    exact(&mut c, "QUIT", "221 Goodbye.");

    // Unset (the other side): the control connection's local address is announced.
    let f = Fixture::new("pasvaddr-off");
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    assert_eq!(fetch(&mut c, "RETR a.txt"), b"hello\n"); // checks 127,0,0,1
}

// ---------------------------------------------------------------------------------------
// pasv_min_port / pasv_max_port
// ---------------------------------------------------------------------------------------

#[test]
fn pasv_one_port_range_is_reused_after_transfers() {
    let port = free_port_run(1);
    let mut f = Fixture::new("pasvone");
    f.set(&format!("pasv_min_port={port}"));
    f.set(&format!("pasv_max_port={port}"));
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    // After each completed transfer the server closed first, so its side of the old data
    // connection is in TIME_WAIT on this very port: the next listener still binds it.
    for round in 0..3 {
        assert_eq!(pasv_port(&mut c), port, "PASV round {round}");
        let d = connect_local(port);
        let (data, code, text) = transfer_on(&mut c, d, "RETR a.txt");
        assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226), "{text}");
    }
    assert_eq!(epsv_port(&mut c), port);
    let d = connect_local(port);
    let (data, code, _) = transfer_on(&mut c, d, "NLST");
    assert_eq!((data.as_slice(), code), (&b"a.txt\r\n"[..], 226));
    exact(&mut c, "QUIT", "221 Goodbye.");
}

#[test]
fn pasv_small_range_ports_stay_within_it() {
    let lo = free_port_run(4);
    let hi = lo + 3;
    let mut f = Fixture::new("pasvrange");
    f.set(&format!("pasv_min_port={lo}"));
    f.set(&format!("pasv_max_port={hi}"));
    f.file("a.txt", b"a", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    for round in 0..6 {
        let p = pasv_port(&mut c);
        assert!((lo..=hi).contains(&p), "PASV port {p} outside {lo}-{hi}");
        let p = epsv_port(&mut c);
        assert!((lo..=hi).contains(&p), "EPSV port {p} outside {lo}-{hi}");
        // Every other round completes a transfer on the announced port.
        if round % 2 == 0 {
            let d = connect_local(p);
            let (data, code, _) = transfer_on(&mut c, d, "RETR a.txt");
            assert_eq!((data.as_slice(), code), (&b"a"[..], 226));
        }
    }
    exact(&mut c, "QUIT", "221 Goodbye.");
}

// ---------------------------------------------------------------------------------------
// use_localtime
// ---------------------------------------------------------------------------------------

/// LIST line and MDTM reply of f.txt (mtime t) with use_localtime=`value`, TZ=Asia/Kolkata.
fn localtime_listing(value: &str, t: u64) -> (String, String) {
    let mut f = Fixture::new(&format!("localtime-{value}"));
    f.set(&format!("use_localtime={value}"));
    let p = f.file("f.txt", b"x", 0o644);
    set_mtime(&p, t);
    let inetd = Inetd::start_with_env(&["-c", f.conf.to_str().unwrap()], &[("TZ", "Asia/Kolkata")]);
    let mut c = inetd.login();
    let list = String::from_utf8(fetch(&mut c, "LIST f.txt")).unwrap();
    let (code, mdtm) = c.cmd("MDTM f.txt");
    assert_eq!(code, 213, "{mdtm}");
    exact(&mut c, "QUIT", "221 Goodbye.");
    (list, mdtm)
}

#[test]
fn use_localtime_shifts_list_times_but_not_mdtm() {
    if !Path::new("/usr/share/zoneinfo/Asia/Kolkata").exists() {
        eprintln!("skipped: no /usr/share/zoneinfo/Asia/Kolkata (tzdata) on this machine");
        return;
    }
    // Ten days ago, 37 seconds past a minute: recent, so LIST shows HH:MM.
    let t = (now_secs() - 10 * 86_400) / 60 * 60 + 37;
    let utc = ls_recent_date(t as i64);
    // Asia/Kolkata is UTC+5:30 all year (no DST).
    let ist = ls_recent_date(t as i64 + 5 * 3600 + 30 * 60);
    assert_ne!(utc, ist);

    let (list, mdtm) = localtime_listing("NO", t);
    assert!(
        list.ends_with(&format!(" {utc} f.txt\r\n")),
        "use_localtime=NO: want {utc:?} (UTC) in {list:?}"
    );
    assert_eq!(mdtm, mdtm_reply(t as i64));

    let (list, mdtm) = localtime_listing("YES", t);
    assert!(
        list.ends_with(&format!(" {ist} f.txt\r\n")),
        "use_localtime=YES: want {ist:?} (UTC+5:30) in {list:?}"
    );
    // MDTM stays UTC (RFC 3659).
    assert_eq!(mdtm, mdtm_reply(t as i64));
}

// ---------------------------------------------------------------------------------------
// dirmessage_enable / message_file
// ---------------------------------------------------------------------------------------

fn message_fixture(name: &str) -> Fixture {
    let f = Fixture::new(name);
    f.file(".message", b"Welcome to the root.\nSecond line\n", 0o644);
    f.file("sub/.message", b"This is sub.\n", 0o644);
    f.file("WELCOME", b"Custom root message\n", 0o644);
    f.file("sub/WELCOME", b"Custom sub message\n", 0o644);
    f.mkdir("plain", 0o755);
    f
}

fn login_text(inetd: &Inetd) -> (Ctl, String) {
    let mut c = inetd.connect();
    c.expect("USER anonymous", 331);
    let (code, text) = c.cmd("PASS guest@example.com");
    assert_eq!(code, 230, "{text}");
    (c, text)
}

#[test]
fn dirmessage_shown_once_per_directory() {
    let mut f = message_fixture("dirmsg-on");
    f.set("dirmessage_enable=YES");
    f.set("message_file=.message");
    let inetd = f.inetd();
    let (mut c, text) = login_text(&inetd);
    assert_eq!(
        text,
        "230-Welcome to the root.\n230-Second line\n230 Login successful."
    );
    assert!(c
        .transcript
        .ends_with(b"230-Welcome to the root.\r\n230-Second line\r\n230 Login successful.\r\n"));
    exact(
        &mut c,
        "CWD sub",
        "250-This is sub.\n250 Directory successfully changed.",
    );
    // Second visits: no message (the root's was shown at login).
    exact(&mut c, "CWD /", "250 Directory successfully changed.");
    exact(&mut c, "CWD sub", "250 Directory successfully changed.");
    exact(&mut c, "CDUP", "250 Directory successfully changed.");
    // A directory without the file: no message lines.
    exact(&mut c, "CWD plain", "250 Directory successfully changed.");
    exact(&mut c, "QUIT", "221 Goodbye.");
}

#[test]
fn dirmessage_disabled_shows_nothing() {
    let mut f = message_fixture("dirmsg-off");
    f.set("dirmessage_enable=NO");
    f.set("message_file=.message");
    let inetd = f.inetd();
    let (mut c, text) = login_text(&inetd);
    assert_eq!(text, "230 Login successful.");
    exact(&mut c, "CWD sub", "250 Directory successfully changed.");
    exact(&mut c, "CWD /", "250 Directory successfully changed.");
    exact(&mut c, "QUIT", "221 Goodbye.");
}

#[test]
fn dirmessage_custom_message_file() {
    let mut f = message_fixture("dirmsg-custom");
    f.set("dirmessage_enable=YES");
    f.set("message_file=WELCOME");
    let inetd = f.inetd();
    let (mut c, text) = login_text(&inetd);
    // The configured name, not .message.
    assert_eq!(text, "230-Custom root message\n230 Login successful.");
    exact(
        &mut c,
        "CWD sub",
        "250-Custom sub message\n250 Directory successfully changed.",
    );
    exact(&mut c, "CWD /sub", "250 Directory successfully changed.");
    exact(&mut c, "QUIT", "221 Goodbye.");
}

// ---------------------------------------------------------------------------------------
// force_dot_files
// ---------------------------------------------------------------------------------------

fn dot_fixture(name: &str, value: &str) -> Fixture {
    let mut f = Fixture::new(name);
    f.set(&format!("force_dot_files={value}"));
    f.file(".hidden", b"h", 0o644);
    f.file("a.txt", b"a", 0o644);
    f.file("sub/.inner", b"i", 0o644);
    f
}

#[test]
fn force_dot_files_yes_lists_dot_files_but_not_dot_dirs() {
    let f = dot_fixture("dot-yes", "YES");
    let inetd = f.inetd();
    let mut c = inetd.login();
    assert_eq!(
        list_names(&fetch(&mut c, "LIST")),
        [".hidden", "a.txt", "sub"]
    );
    assert_eq!(fetch(&mut c, "NLST"), b".hidden\r\na.txt\r\nsub\r\n");
    assert_eq!(list_names(&fetch(&mut c, "LIST sub")), [".inner"]);
    exact(&mut c, "QUIT", "221 Goodbye.");
}

#[test]
fn force_dot_files_no_hides_dot_files() {
    let f = dot_fixture("dot-no", "NO");
    let inetd = f.inetd();
    let mut c = inetd.login();
    assert_eq!(list_names(&fetch(&mut c, "LIST")), ["a.txt", "sub"]);
    assert_eq!(fetch(&mut c, "NLST"), b"a.txt\r\nsub\r\n");
    assert!(fetch(&mut c, "LIST sub").is_empty());
    // -a still asks for them explicitly.
    assert_eq!(
        list_names(&fetch(&mut c, "LIST -a")),
        [".", "..", ".hidden", "a.txt", "sub"]
    );
    exact(&mut c, "QUIT", "221 Goodbye.");
}

// ---------------------------------------------------------------------------------------
// dirlist_enable / download_enable
// ---------------------------------------------------------------------------------------

#[test]
fn dirlist_disabled_refuses_listings_only() {
    let mut f = Fixture::new("dirlist-off");
    f.set("dirlist_enable=NO");
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let port = pasv_port(&mut c);
    let mut d = connect_local(port);
    for cmd in [
        "LIST",
        "LIST -a",
        "NLST",
        "NLST a.txt",
        "STAT /",
        "STAT a.txt",
    ] {
        exact(&mut c, cmd, DENIED);
    }
    // Nothing was sent on the data connection that was ready for a listing.
    d.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut b = [0u8; 16];
    match d.read(&mut b) {
        Ok(0) => panic!("data connection closed by a refused listing"),
        Ok(n) => panic!(
            "listing bytes sent despite dirlist_enable=NO: {:?}",
            &b[..n]
        ),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
    drop(d);
    // STAT without a path is not a listing; downloads still work.
    assert_eq!(c.cmd("STAT").0, 211);
    assert_eq!(fetch(&mut c, "RETR a.txt"), b"hello\n");
    exact(&mut c, "QUIT", "221 Goodbye.");

    // The other side: the default YES lists.
    let mut f = Fixture::new("dirlist-on");
    f.set("dirlist_enable=YES");
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    assert_eq!(fetch(&mut c, "NLST"), b"a.txt\r\n");
    assert_eq!(list_names(&fetch(&mut c, "LIST")), ["a.txt"]);
    let (code, text) = c.cmd("STAT /");
    assert_eq!(code, 213, "{text}");
    assert!(text.contains(" a.txt"), "{text}");
}

#[test]
fn download_disabled_refuses_retr_only() {
    let mut f = Fixture::new("download-off");
    f.set("download_enable=NO");
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let port = pasv_port(&mut c);
    let _d = connect_local(port);
    exact(&mut c, "RETR a.txt", DENIED);
    // Refused whether or not the file exists: no probing through the reply.
    exact(&mut c, "RETR missing.txt", DENIED);
    exact(&mut c, "NOOP", "200 NOOP ok.");
    // Listings and metadata still work.
    assert_eq!(fetch(&mut c, "NLST"), b"a.txt\r\n");
    exact(&mut c, "SIZE a.txt", "213 6");
    exact(&mut c, "QUIT", "221 Goodbye.");

    let mut f = Fixture::new("download-on");
    f.set("download_enable=YES");
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    assert_eq!(fetch(&mut c, "RETR a.txt"), b"hello\n");
}

// ---------------------------------------------------------------------------------------
// accept_timeout
// ---------------------------------------------------------------------------------------

#[test]
fn accept_timeout_gives_425_and_the_session_continues() {
    let mut f = Fixture::new("accept-timeout");
    f.set("accept_timeout=1");
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();

    // Nobody connects to the announced port.
    let _port = pasv_port(&mut c);
    let t = Instant::now();
    exact(&mut c, "RETR a.txt", FAILED_425);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "425 after only {took:?}"
    );
    assert!(took < Duration::from_secs(10), "425 took {took:?}");
    exact(&mut c, "NOOP", "200 NOOP ok.");
    // The setup was used up.
    exact(&mut c, "RETR a.txt", "425 Use PORT or PASV first.");

    // The other side: a client that connects within the timeout gets its data.
    let port = pasv_port(&mut c);
    let d = connect_local(port);
    let (data, code, _) = transfer_on(&mut c, d, "RETR a.txt");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226));
    // Also when it connects only after the command, but before the timeout.
    let port = pasv_port(&mut c);
    c.send("RETR a.txt");
    std::thread::sleep(Duration::from_millis(300));
    let d = connect_local(port);
    let (code, text) = c.read_reply();
    assert_eq!(code, 150, "{text}");
    assert_eq!(read_all(d), b"hello\n");
    assert_eq!(c.read_reply().0, 226);
    hang_up_and_check_exit(c, &inetd);
}

// ---------------------------------------------------------------------------------------
// data_connection_timeout
// ---------------------------------------------------------------------------------------

fn data_timeout_case(use_sendfile: &str) {
    let mut f = Fixture::new(&format!("data-timeout-{use_sendfile}"));
    f.set("data_connection_timeout=2");
    f.set(&format!("use_sendfile={use_sendfile}"));
    big_file(&f, "big.bin", 256 << 20);
    big_file(&f, "mid.bin", 8 << 20);
    let inetd = f.inetd();
    let mut c = inetd.login();

    // The other side first: a pause shorter than the timeout is not a stall.
    let port = pasv_port(&mut c);
    let d = connect_local(port);
    let (code, text) = c.cmd("RETR mid.bin");
    assert_eq!(code, 150, "{text}");
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(read_all(d).len(), 8 << 20);
    assert_eq!(c.read_reply(), (226, "226 Transfer complete.".to_string()));

    // Connected but never read: the send buffers fill and the transfer stalls.
    let port = pasv_port(&mut c);
    let d = connect_local(port);
    let (code, text) = c.cmd("RETR big.bin");
    assert_eq!(code, 150, "{text}");
    let t = Instant::now();
    let (code, text) = c.read_reply();
    let took = t.elapsed();
    assert_eq!(
        (code, text.as_str()),
        (421, "421 Data timeout. Reconnect. Sorry."),
        "use_sendfile={use_sendfile}"
    );
    assert!(
        took >= Duration::from_millis(1500),
        "421 after only {took:?}"
    );
    assert_closed(&mut c);
    assert!(
        inetd.wait_all_exited(TIMEOUT),
        "rsftpd processes left after the data timeout"
    );
    drop(d);
}

#[test]
fn data_connection_timeout_with_sendfile() {
    data_timeout_case("YES");
}

#[test]
fn data_connection_timeout_without_sendfile() {
    data_timeout_case("NO");
}

// ---------------------------------------------------------------------------------------
// connect_timeout (active mode)
// ---------------------------------------------------------------------------------------

/// A listener whose accept queue is full (a Python helper with listen(0) that never
/// accepts, and one queued connection): further SYNs to it are dropped, so a connect
/// hangs until its timeout. Returns (helper, port, the queued connections) or None when
/// it cannot be set up here.
fn black_hole() -> Option<(Child, u16, Vec<TcpStream>)> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import socket,sys\n\
             s=socket.socket()\n\
             s.bind(('127.0.0.1',0))\n\
             s.listen(0)\n\
             print(s.getsockname()[1],flush=True)\n\
             sys.stdin.read()\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut line = String::new();
    let out = child.stdout.take().unwrap();
    let _ = BufReader::new(out).read_line(&mut line);
    let Ok(port) = line.trim().parse::<u16>() else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut queued = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => queued.push(s),
            Err(_) => return Some((child, port, queued)),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn connect_timeout_case(from_port_20: bool) {
    let mut f = Fixture::new(&format!("connect-timeout-{from_port_20}"));
    f.set("connect_timeout=1");
    f.set(&format!(
        "connect_from_port_20={}",
        if from_port_20 { "YES" } else { "NO" }
    ));
    f.file("a.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();

    // Nothing listens there: refused at once.
    let dead = closed_port();
    exact(
        &mut c,
        &format!("PORT {}", port_arg(dead)),
        "200 PORT command successful. Consider using PASV.",
    );
    exact(&mut c, "RETR a.txt", FAILED_425);
    exact(&mut c, "NOOP", "200 NOOP ok.");
    exact(
        &mut c,
        &format!("EPRT |1|127.0.0.1|{dead}|"),
        "200 EPRT command successful. Consider using EPSV.",
    );
    exact(&mut c, "LIST", FAILED_425);
    exact(&mut c, "NOOP", "200 NOOP ok.");

    // A listener that never completes the handshake: the connect times out.
    match black_hole() {
        Some((mut helper, port, queued)) => {
            exact(
                &mut c,
                &format!("PORT {}", port_arg(port)),
                "200 PORT command successful. Consider using PASV.",
            );
            let t = Instant::now();
            exact(&mut c, "RETR a.txt", FAILED_425);
            let took = t.elapsed();
            assert!(
                took >= Duration::from_millis(900),
                "425 after only {took:?}"
            );
            assert!(took < Duration::from_secs(10), "425 took {took:?}");
            exact(&mut c, "NOOP", "200 NOOP ok.");
            drop(queued);
            drop(helper.stdin.take());
            let _ = helper.kill();
            let _ = helper.wait();
        }
        None => eprintln!("note: no full-backlog listener here; timed-out connect not tested"),
    }

    // The other side: a listening client gets its data.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    exact(
        &mut c,
        &format!("PORT {}", port_arg(port)),
        "200 PORT command successful. Consider using PASV.",
    );
    exact(
        &mut c,
        "RETR a.txt",
        "150 Opening BINARY mode data connection for a.txt (6 bytes).",
    );
    let d = accept_bounded(&l);
    if from_port_20 {
        assert_eq!(d.peer_addr().unwrap().port(), 20);
    }
    assert_eq!(read_all(d), b"hello\n");
    assert_eq!(c.read_reply(), (226, "226 Transfer complete.".to_string()));
    hang_up_and_check_exit(c, &inetd);
}

#[test]
fn connect_timeout_active_mode() {
    connect_timeout_case(false);
}

#[test]
fn connect_timeout_active_mode_from_port_20() {
    if !common::is_root() {
        eprintln!("skipped: connect_from_port_20 needs root");
        return;
    }
    connect_timeout_case(true);
}

// ---------------------------------------------------------------------------------------
// use_sendfile
// ---------------------------------------------------------------------------------------

fn sendfile_case(value: &str) {
    let mut f = Fixture::new(&format!("sendfile-{value}"));
    f.set(&format!("use_sendfile={value}"));
    let body = common::xorshift_bytes(3 << 20, 0x5eed_0000_0000_0001 ^ value.len() as u64);
    let src = f.file("r.bin", &body, 0o644);
    let want_all = common::sha256(&src);
    let rest: usize = 1_234_567;
    let want_tail = sha256_bytes(&f.dir, "tail.want", &body[rest..]);
    let inetd = f.inetd();
    let mut c = inetd.login();

    let got = fetch(&mut c, "RETR r.bin");
    assert_eq!(got.len(), body.len(), "use_sendfile={value}");
    assert_eq!(sha256_bytes(&f.dir, "all.got", &got), want_all);

    exact(
        &mut c,
        &format!("REST {rest}"),
        &format!("350 Restart position accepted ({rest})."),
    );
    let got = fetch(&mut c, "RETR r.bin");
    assert_eq!(got.len(), body.len() - rest, "use_sendfile={value}");
    assert_eq!(sha256_bytes(&f.dir, "tail.got", &got), want_tail);

    // Active mode as well.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    c.expect(&format!("PORT {}", port_arg(port)), 200);
    c.expect("RETR r.bin", 150);
    let got = read_all(accept_bounded(&l));
    assert_eq!(c.read_reply().0, 226);
    assert!(
        got == body,
        "active RETR not byte-exact (use_sendfile={value})"
    );
    exact(&mut c, "QUIT", "221 Goodbye.");
}

#[test]
fn use_sendfile_no_is_byte_exact() {
    sendfile_case("NO");
}

#[test]
fn use_sendfile_yes_is_byte_exact() {
    sendfile_case("YES");
}

// ---------------------------------------------------------------------------------------
// port_enable / pasv_enable
// ---------------------------------------------------------------------------------------

#[test]
fn port_disabled_refuses_active_mode() {
    let mut f = Fixture::new("port-off");
    f.set("port_enable=NO");
    f.file("a.txt", b"a", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    exact(&mut c, &format!("PORT {}", port_arg(port)), DENIED);
    exact(&mut c, &format!("EPRT |1|127.0.0.1|{port}|"), DENIED);
    // Nothing was set up, and nothing connected to the listener.
    exact(&mut c, "RETR a.txt", "425 Use PORT or PASV first.");
    l.set_nonblocking(true).unwrap();
    assert!(l.accept().is_err(), "a refused PORT still connected");
    exact(
        &mut c,
        "FEAT",
        "211-Features:\n EPSV\n HOST\n LANG EN*\n MDTM\n MLST type*;size*;modify*;perm*;unique*;unix.mode*;unix.owner*;unix.group*;\n PASV\n REST STREAM\n SIZE\n TVFS\n UTF8\n211 End",
    );
    // Passive mode is unaffected.
    assert_eq!(fetch(&mut c, "RETR a.txt"), b"a");
    exact(&mut c, "QUIT", "221 Goodbye.");

    // The other side: YES advertises EPRT and PORT works.
    let mut f = Fixture::new("port-on");
    f.set("port_enable=YES");
    f.file("a.txt", b"a", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let text = c.expect("FEAT", 211);
    assert!(text.lines().any(|l| l == " EPRT"), "{text}");
    exact(
        &mut c,
        &format!("PORT {}", port_arg(port)),
        "200 PORT command successful. Consider using PASV.",
    );
    c.expect("RETR a.txt", 150);
    assert_eq!(read_all(accept_bounded(&l)), b"a");
    assert_eq!(c.read_reply().0, 226);
}

#[test]
fn pasv_disabled_refuses_passive_mode() {
    let mut f = Fixture::new("pasv-off");
    f.set("pasv_enable=NO");
    f.file("a.txt", b"a", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "PASV", DENIED);
    exact(&mut c, "EPSV", DENIED);
    exact(&mut c, "EPSV 1", DENIED);
    exact(&mut c, "RETR a.txt", "425 Use PORT or PASV first.");
    exact(
        &mut c,
        "FEAT",
        "211-Features:\n EPRT\n HOST\n LANG EN*\n MDTM\n MLST type*;size*;modify*;perm*;unique*;unix.mode*;unix.owner*;unix.group*;\n REST STREAM\n SIZE\n TVFS\n UTF8\n211 End",
    );
    // Active mode is unaffected.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    c.expect(&format!("EPRT |1|127.0.0.1|{port}|"), 200);
    c.expect("RETR a.txt", 150);
    assert_eq!(read_all(accept_bounded(&l)), b"a");
    assert_eq!(c.read_reply().0, 226);
    exact(&mut c, "QUIT", "221 Goodbye.");

    // The other side: YES advertises both and they work.
    let mut f = Fixture::new("pasv-on");
    f.set("pasv_enable=YES");
    f.file("a.txt", b"a", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let text = c.expect("FEAT", 211);
    assert!(text.lines().any(|l| l == " PASV"), "{text}");
    assert!(text.lines().any(|l| l == " EPSV"), "{text}");
    assert_eq!(fetch(&mut c, "RETR a.txt"), b"a");
    let port = epsv_port(&mut c);
    let d = connect_local(port);
    assert_eq!(transfer_on(&mut c, d, "RETR a.txt").0, b"a");
}

// ---------------------------------------------------------------------------------------
// delay_failed_login
// ---------------------------------------------------------------------------------------

/// Time from a banned anonymous PASS to its 530, with delay_failed_login=`delay`.
fn failed_login_time(delay: u32) -> Duration {
    let mut f = Fixture::new(&format!("delay-{delay}"));
    let list = f.dir.join("banned_emails");
    std::fs::write(&list, "bad@example.com\n").unwrap();
    f.set("anonymous_enable=YES");
    f.set("deny_email_enable=YES");
    f.set(&format!("banned_email_file={}", list.display()));
    f.set(&format!("delay_failed_login={delay}"));
    f.set("max_login_fails=3");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    c.send("PASS bad@example.com");
    let t = Instant::now();
    let (code, text) = c.read_reply();
    let took = t.elapsed();
    assert_eq!((code, text.as_str()), (530, "530 Login incorrect."));
    // The session goes on and a good login still works.
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS good@example.com", "230 Login successful.");
    exact(&mut c, "QUIT", "221 Goodbye.");
    took
}

#[test]
fn delay_failed_login_one_second() {
    let took = failed_login_time(1);
    assert!(
        took >= Duration::from_millis(900),
        "530 after {took:?}, expected the 1 s delay"
    );
}

#[test]
fn delay_failed_login_zero_answers() {
    // No upper bound on the time: only that it answers (and, above, that 1 s delays).
    let _ = failed_login_time(0);
}

// ---------------------------------------------------------------------------------------
// anon_root unset: the ftp user's home is served.
// ---------------------------------------------------------------------------------------

/// (uid, gid, home) of a user from /etc/passwd.
fn passwd_entry(name: &str) -> Option<(u32, u32, String)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let v: Vec<&str> = l.split(':').collect();
        (v.len() >= 7 && v[0] == name)
            .then(|| Some((v[2].parse().ok()?, v[3].parse().ok()?, v[5].to_string())))
            .flatten()
    })
}

#[test]
fn anon_root_unset_serves_the_ftp_users_home() {
    use std::os::unix::fs::MetadataExt;
    require_root!();
    let Some((uid, gid, home)) = passwd_entry("ftp") else {
        eprintln!("skipped: no ftp user in /etc/passwd");
        return;
    };
    let Ok(md) = std::fs::metadata(&home) else {
        eprintln!("skipped: the ftp user's home {home} does not exist");
        return;
    };
    let mode = md.mode();
    let writable_by_ftp =
        md.uid() == uid || (md.gid() == gid && mode & 0o020 != 0) || mode & 0o002 != 0;
    if !md.is_dir() || md.uid() != 0 || writable_by_ftp {
        eprintln!("skipped: {home} is not a root-owned directory that ftp cannot write");
        return;
    }
    let f = Fixture::new("anonroot-unset");
    f.file("only-in-fixture.txt", b"x", 0o644);
    // The fixture's config without its anon_root line.
    let conf = f.dir.join("no-anon-root.conf");
    let text: String = std::fs::read_to_string(&f.conf)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("anon_root="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&conf, text).unwrap();
    let inetd = Inetd::start(&["-c", conf.to_str().unwrap()]);
    let mut c = inetd.login();
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    // The names the server lists are the home's (non-dot) entries.
    let mut want: Vec<String> = std::fs::read_dir(&home)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    want.sort();
    let got: Vec<String> = String::from_utf8(fetch(&mut c, "NLST"))
        .unwrap()
        .split_terminator("\r\n")
        .map(str::to_string)
        .collect();
    assert_eq!(got, want);
    exact(
        &mut c,
        "SIZE only-in-fixture.txt",
        "550 Could not get file size.",
    );
    // The post-login session is jailed there: its /proc root is the home.
    let monitor = common::procs::monitor(&inetd);
    let roots: Vec<String> = common::descendants(monitor)
        .into_iter()
        .filter_map(|p| std::fs::read_link(format!("/proc/{p}/root")).ok())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        roots.iter().any(|r| Path::new(r) == Path::new(&home)),
        "no session process rooted at {home}: {roots:?}"
    );
    hang_up_and_check_exit(c, &inetd);
}

#[test]
fn anon_root_set_serves_that_directory() {
    // The other side of anon_root: the configured tree, not the ftp user's home.
    let f = Fixture::new("anonroot-set");
    f.file("only-in-fixture.txt", b"x", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "SIZE only-in-fixture.txt", "213 1");
    assert_eq!(fetch(&mut c, "NLST"), b"only-in-fixture.txt\r\n");
}

// ---------------------------------------------------------------------------------------
// ls_recurse_enable
// ---------------------------------------------------------------------------------------

/// Levels below the listed directory that `-R` enters (src/limits.rs LIST_DEPTH_MAX).
const LIST_DEPTH_MAX: usize = 32;

/// A tree with subdirectories, an empty one, a symlink to a directory, a deny_file
/// directory and a chain of 40 nested directories (deeper than the recursion bound).
fn recurse_fixture(name: &str, value: &str) -> Fixture {
    let mut f = Fixture::new(name);
    f.set(&format!("ls_recurse_enable={value}"));
    f.set("deny_file={secret}");
    f.file("f1", b"hi\n", 0o644);
    f.file("a/f2", b"x\n", 0o644);
    f.file("a/axe", b"x\n", 0o644);
    f.file("a/b/f3", b"y\n", 0o644);
    f.mkdir("c", 0o755);
    f.file("secret/inside", b"s\n", 0o644);
    std::os::unix::fs::symlink("a", f.root.join("link")).unwrap();
    let mut deep = String::from("d");
    for _ in 1..40 {
        deep.push_str("/d");
    }
    f.mkdir(&deep, 0o755);
    f
}

/// The NLST -R text vsftpd 3.0.3 prints for `recurse_fixture` (checked live against
/// vsftpd for the a/b/c part), with our depth bound applied to the d chain.
fn expected_nlst_r() -> String {
    let mut s = String::from(".:\r\na\r\nc\r\nd\r\nf1\r\nlink\r\nsecret\r\n");
    s.push_str("\r\n./a:\r\n./a/axe\r\n./a/b\r\n./a/f2\r\n");
    s.push_str("\r\n./a/b:\r\n./a/b/f3\r\n");
    s.push_str("\r\n./c:\r\n");
    // ./d is level 1; level LIST_DEPTH_MAX is listed (its `d` shown) but not entered.
    let mut dir = String::from(".");
    for _ in 0..LIST_DEPTH_MAX {
        dir.push_str("/d");
        s.push_str(&format!("\r\n{dir}:\r\n{dir}/d\r\n"));
    }
    // Neither the symlink nor the denied directory is entered.
    s
}

#[test]
fn ls_recurse_enable_lists_subdirectories_bounded() {
    let f = recurse_fixture("recurse-on", "YES");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let got = fetch(&mut c, "NLST -R");
    assert_eq!(String::from_utf8_lossy(&got), expected_nlst_r());

    // LIST -R: the same headings in the same order, long lines under them.
    let got = String::from_utf8(fetch(&mut c, "LIST -R")).unwrap();
    let headings: Vec<&str> = got.split("\r\n").filter(|l| l.ends_with(':')).collect();
    let want: Vec<String> = expected_nlst_r()
        .split("\r\n")
        .filter(|l| l.ends_with(':'))
        .map(String::from)
        .collect();
    assert_eq!(headings, want);
    assert!(
        got.contains(" f3\r\n") && got.contains(" link -> a\r\n"),
        "{got}"
    );
    assert!(
        !got.contains("inside"),
        "a deny_file directory was entered: {got}"
    );

    // A directory argument heads the listing with the path as given; a glob filters every
    // level, as vsftpd does (a/b does not match a*, so it is not entered).
    let got = fetch(&mut c, "NLST -R a");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "a:\r\na/axe\r\na/b\r\na/f2\r\n\r\na/b:\r\na/b/f3\r\n"
    );
    let got = fetch(&mut c, "NLST -R a*");
    assert_eq!(
        String::from_utf8_lossy(&got),
        ".:\r\na\r\n\r\n./a:\r\n./a/axe\r\n"
    );

    // STAT -R over the control connection: the same walk.
    let (code, text) = c.cmd("STAT -R a");
    assert_eq!(code, 213, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"213-Status follows:"));
    assert!(lines.contains(&"a:") && lines.contains(&"a/b:"), "{text}");

    // The denied directory itself still cannot be entered.
    exact(&mut c, "CWD secret", "550 Failed to change directory.");
    exact(&mut c, "QUIT", "221 Goodbye.");
}

#[test]
fn ls_recurse_disabled_ignores_dash_r() {
    let f = recurse_fixture("recurse-off", "NO");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let plain = fetch(&mut c, "NLST");
    assert_eq!(
        String::from_utf8_lossy(&plain),
        "a\r\nc\r\nd\r\nf1\r\nlink\r\nsecret\r\n"
    );
    assert_eq!(fetch(&mut c, "NLST -R"), plain);
    let long = String::from_utf8(fetch(&mut c, "LIST -R")).unwrap();
    assert!(
        !long.contains(':') || !long.split("\r\n").any(|l| l.ends_with(':')),
        "{long}"
    );
    assert_eq!(long.lines().count(), 6, "{long}");
    exact(&mut c, "QUIT", "221 Goodbye.");
}

/// STAT lists on the control connection, from the session's memory: it stops at
/// STAT_ENTRIES_MAX (10,000) entries and says so, whatever the tree holds (a data
/// listing goes on to LIST_ENTRIES_MAX).
#[test]
fn stat_listing_is_bounded_and_says_so() {
    let f = Fixture::new("stat-bound");
    let dir = f.mkdir("many", 0o755);
    for i in 0..10_001 {
        std::fs::write(dir.join(format!("f{i:05}")), b"").unwrap();
    }
    let inetd = f.inetd();
    let mut c = inetd.login();
    let (code, text) = c.cmd("STAT many");
    assert_eq!(code, 213);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"213-Status follows:"));
    assert_eq!(lines.last(), Some(&"213 Listing cut: too many entries."));
    assert_eq!(lines.len(), 10_000 + 2);
    // The data connection lists all of them.
    let names = list_names(&fetch(&mut c, "NLST many"));
    assert_eq!(names.len(), 10_001);
    exact(&mut c, "QUIT", "221 Goodbye.");
}
