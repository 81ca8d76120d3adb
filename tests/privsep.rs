//! Privilege-separation invariants (DESIGN.md §1), asserted from outside through /proc and
//! the network, with the server started by the mini-inetd exactly as xinetd starts it.
//!
//! These tests need root (CI runs as root): the monitor must be root to fork sessions with
//! other identities. Every wait is bounded; every connection is on loopback (127.0.0.1, and
//! 127.0.0.2 as the "third party", which Linux routes on `lo` without configuration).
//! The only processes ended here are ones the test's own mini-inetd started, by PID.
//! Sessions run as the system's `ftp` user; without one, a system account is created with
//! useradd and removed when the last test using it ends. Binding a client socket to
//! 127.0.0.2 before connecting uses the crate's own `sys::net::connect_from` (no libc here).
mod common;
use common::ftp::{accept_within, assert_no_connection, listener, port_arg_of as port_arg};
use common::procs::{proc_of, stat_fields, tree_of, wait_gone, Proc};

use common::ftp::big_file;
use common::procs::{children, descendants, ids, monitor, proc_root, status, wait_for};
use common::{Ctl, Fixture, Inetd, TIMEOUT};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Accounts

/// Name of the account created for the tests when the system has no `ftp` user.
const TEST_FTP_USER: &str = "rsftpd-ptest";

/// Users from /etc/passwd: name -> (uid, gid).
fn passwd(name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || f[0] != name {
            return None;
        }
        Some((f[2].parse().ok()?, f[3].parse().ok()?))
    })
}

/// (users of the test account, whether this run created it)
static FTP_USER_STATE: Mutex<(usize, bool)> = Mutex::new((0, false));

/// The account anonymous sessions run as: `ftp` when the system has one, otherwise a
/// dedicated system account created here and removed when the last test using it ends.
struct FtpUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl FtpUser {
    fn get() -> FtpUser {
        let mut st = FTP_USER_STATE.lock().unwrap_or_else(|e| e.into_inner());
        st.0 += 1;
        if let Some((uid, gid)) = passwd("ftp") {
            return FtpUser {
                name: "ftp".into(),
                uid,
                gid,
            };
        }
        if passwd(TEST_FTP_USER).is_none() {
            let ok = Command::new("useradd")
                .args([
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    TEST_FTP_USER,
                ])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "useradd {TEST_FTP_USER} failed");
            st.1 = true;
        }
        let (uid, gid) = passwd(TEST_FTP_USER).expect("test user just created");
        FtpUser {
            name: TEST_FTP_USER.into(),
            uid,
            gid,
        }
    }
}

impl Drop for FtpUser {
    fn drop(&mut self) {
        let mut st = FTP_USER_STATE.lock().unwrap_or_else(|e| e.into_inner());
        st.0 -= 1;
        if st.0 == 0 && st.1 {
            let _ = Command::new("userdel").arg(TEST_FTP_USER).status();
            if std::fs::read_to_string("/etc/group")
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with(&format!("{TEST_FTP_USER}:")))
            {
                let _ = Command::new("groupdel").arg(TEST_FTP_USER).status();
            }
            st.1 = false;
        }
    }
}

fn nobody() -> (u32, u32) {
    passwd("nobody").expect("the system has a 'nobody' user (the default nopriv_user)")
}

/// A fixture whose anonymous sessions run as `user`.
fn fixture(name: &str, user: &FtpUser) -> Fixture {
    let mut f = Fixture::new(name);
    f.set(&format!("ftp_username={}", user.name));
    f
}

// ---------------------------------------------------------------------------------------
// /proc

/// Every open descriptor of `pid` with its link text (`socket:[123]`, a path, ...).
fn fds(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in rd.flatten() {
            let Ok(n) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Ok(l) = std::fs::read_link(e.path()) {
                out.push((n, l.to_string_lossy().into_owned()));
            }
        }
    }
    out.sort();
    out
}

fn fd_link(pid: u32, fd: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Which of `pids` hold the socket whose link text is `sock` on any descriptor.
fn holders(pids: &[u32], sock: &str) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|p| fds(*p).iter().any(|(_, l)| l == sock))
        .collect()
}

/// The soft "Max processes" limit of `pid` (None: unlimited or unreadable).
fn max_processes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = s.lines().find(|l| l.starts_with("Max processes"))?;
    line["Max processes".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Running processes whose root directory (chroot) is `jail`, from all of /proc.
fn jailed_in(jail: &Path) -> Vec<u32> {
    let want = jail.canonicalize().unwrap();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/root"))
            .ok()
            .as_deref()
            == Some(&want)
            && stat_fields(pid).is_some_and(|(state, _)| state != 'Z')
        {
            out.push(pid);
        }
    }
    out
}

/// The monitor's single child, once it has exactly one that is not `not`.
fn only_child(mon: u32, not: Option<u32>) -> u32 {
    wait_for(TIMEOUT, || match children(mon).as_slice() {
        [c] if Some(*c) != not => Some(*c),
        _ => None,
    })
    .unwrap_or_else(|| panic!("monitor {mon} children: {:?}", children(mon)))
}

/// Assert the whole identity of a process that reads client bytes.
fn assert_identity(pid: u32, uid: u32, gid: u32, root: &Path, what: &str) {
    let st = status(pid).unwrap_or_else(|| panic!("{what} {pid} is gone"));
    let get = |k: &str| {
        st.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in status"))
    };
    assert_eq!(
        ids(&get("Uid")),
        vec![uid; 4],
        "{what}: Uid (real, effective, saved, fs)"
    );
    assert_eq!(
        ids(&get("Gid")),
        vec![gid; 4],
        "{what}: Gid (real, effective, saved, fs)"
    );
    assert_eq!(get("Groups"), "", "{what}: supplementary groups");
    for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(get(cap), "0000000000000000", "{what}: {cap}");
    }
    assert_eq!(get("NoNewPrivs"), "1", "{what}: NoNewPrivs");
    let want = root.canonicalize().unwrap();
    assert_eq!(proc_root(pid), want, "{what}: /proc/{pid}/root");
}

fn assert_root_monitor(pid: u32) {
    let st = status(pid).expect("monitor runs");
    assert_eq!(ids(&st["Uid"]), vec![0; 4], "the monitor stays root");
    assert_eq!(
        proc_root(pid),
        PathBuf::from("/"),
        "the monitor is not chrooted"
    );
}

// ---------------------------------------------------------------------------------------
// Network

/// Parse a 227 reply into the announced address.
fn pasv_addr(text: &str) -> SocketAddr {
    let inner = &text[text.find('(').unwrap() + 1..text.find(')').unwrap()];
    let n: Vec<u16> = inner
        .split(',')
        .map(|x| x.trim().parse().unwrap())
        .collect();
    format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
        .parse()
        .unwrap()
}

/// A connection to `to` from a socket bound to `from_ip` before connecting.
fn connect_from_ip(from_ip: &str, to: SocketAddr) -> TcpStream {
    let local: SocketAddr = format!("{from_ip}:0").parse().unwrap();
    let s = rsftpd::sys::net::connect_from(local, to, TIMEOUT).expect("connect from 127.0.0.2");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Everything the peer sends until it closes (a reset counts as the end).
fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return buf,
            Err(e) => panic!("data read: {e}"),
        }
    }
}

/// More than loopback socket buffers hold: a transfer of a file this big cannot finish
/// while nobody reads the data connection (the file is sparse, so it costs no disk; the
/// transfer only ever moves what the buffers take).
const BIG: u64 = 256 << 20;

/// Start `RETR big` over PASV and return (data socket, transfer child pid) once the child
/// is moving bytes (it has sent some: the data socket has something to peek at).
fn start_stuck_retr(c: &mut Ctl, session: u32) -> (TcpStream, u32) {
    let data = c.pasv();
    c.expect("RETR big", 150);
    let mut one = [0u8; 1];
    assert_eq!(data.peek(&mut one).unwrap(), 1, "the transfer started");
    let child = wait_for(TIMEOUT, || match children(session).as_slice() {
        [t] => Some(*t),
        _ => None,
    })
    .expect("one transfer child");
    (data, child)
}

fn kill9(pid: u32) {
    let ok = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -9 {pid}");
}

// ---------------------------------------------------------------------------------------
// 1 + 2. Identity of each phase; one control writer at a time.

#[test]
fn each_phase_runs_with_its_own_identity_and_jail() {
    require_root!();
    let user = FtpUser::get();
    let (nuid, ngid) = nobody();
    let f = fixture("ident", &user);
    big_file(&f, "big", BIG);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    let mon = monitor(&inetd);
    let control = fd_link(mon, 0);
    assert!(control.starts_with("socket:["), "monitor fd 0 is {control}");

    // Pre-login: nobody in the empty jail; the monitor's only child.
    assert_root_monitor(mon);
    let pre = only_child(mon, None);
    assert_eq!(
        descendants(mon),
        vec![pre],
        "only the pre-login session exists"
    );
    assert_identity(pre, nuid, ngid, &f.empty, "pre-login session");
    assert_eq!(
        fd_link(pre, 0),
        control,
        "the pre-login session serves fd 0"
    );
    assert_eq!(
        holders(&[mon, pre], &control),
        vec![mon, pre],
        "who holds the control connection before login"
    );
    assert_eq!(
        max_processes(pre),
        Some(0),
        "the pre-login session cannot fork (RLIMIT_NPROC 0)"
    );
    let pre_proc = proc_of(pre);

    // Post-login: ftp_username in anon_root, forked fresh from the monitor.
    c.expect("USER anonymous", 331);
    c.expect("PASS guest@example.com", 230);
    assert_ne!(
        stat_fields(pre).map(|x| x.1),
        Some(pre_proc.start),
        "the pre-login session ended and was reaped before 230"
    );
    assert_root_monitor(mon);
    let post = only_child(mon, Some(pre));
    assert_eq!(
        descendants(mon),
        vec![post],
        "only the post-login session exists"
    );
    assert_identity(post, user.uid, user.gid, &f.root, "post-login session");
    assert_eq!(
        fd_link(post, 0),
        control,
        "the post-login session serves fd 0"
    );

    // Transfer child: same identity and jail, and no control connection.
    let (data, xfer) = start_stuck_retr(&mut c, post);
    assert_identity(xfer, user.uid, user.gid, &f.root, "transfer child");
    let xfds = fds(xfer);
    assert!(
        xfds.iter().all(|(_, l)| *l != control),
        "transfer child {xfer} holds the control connection {control}: {xfds:?}"
    );
    assert!(
        xfds.iter().any(|(_, l)| l.starts_with("socket:[")),
        "the transfer child holds the data socket: {xfds:?}"
    );
    // The monitor is still root and its only child is the session; the whole tree is the
    // session and its transfer child.
    assert_root_monitor(mon);
    assert_eq!(children(mon), vec![post]);
    let mut tree = descendants(mon);
    tree.sort();
    let mut want = vec![post, xfer];
    want.sort();
    assert_eq!(tree, want, "monitor descendants during a transfer");

    c.send("ABOR");
    assert_eq!(c.read_reply().0, 426);
    assert_eq!(c.read_reply().0, 226);
    drop(data);
    assert!(
        wait_gone(&[proc_of(xfer)], TIMEOUT).is_empty(),
        "ABOR ends the transfer child"
    );
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn only_one_process_serves_the_control_connection_at_a_time() {
    require_root!();
    let user = FtpUser::get();
    let (nuid, _) = nobody();
    let f = fixture("onewriter", &user);
    f.file("small", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    let mon = monitor(&inetd);
    let control = fd_link(mon, 0);
    let pre = only_child(mon, None);

    c.expect("USER anonymous", 331);
    c.expect("PASS x@y", 230);
    let post = only_child(mon, Some(pre));
    let tree = descendants(mon);
    let nopriv: Vec<u32> = tree
        .iter()
        .copied()
        .filter(|p| status(*p).is_some_and(|s| ids(&s["Uid"])[0] == nuid))
        .collect();
    assert!(
        nopriv.is_empty(),
        "nopriv processes after login: {nopriv:?}"
    );
    let mut all = tree.clone();
    all.push(mon);
    let mut h = holders(&all, &control);
    h.sort();
    let mut want = vec![mon, post];
    want.sort();
    assert_eq!(
        h, want,
        "after login only the monitor (which never reads it) and the post-login session hold the control connection"
    );
    // And the session is still the one answering.
    let (data, code, _) = c.pasv_transfer("RETR small");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226));
    assert_eq!(descendants(mon), vec![post]);
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

// ---------------------------------------------------------------------------------------
// 3. Active mode from port 20.

fn active_retr(port20: bool) -> SocketAddr {
    let user = FtpUser::get();
    let mut f = fixture(if port20 { "port20" } else { "noport20" }, &user);
    f.set(&format!(
        "connect_from_port_20={}",
        if port20 { "YES" } else { "NO" }
    ));
    let content: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    f.file("data.bin", &content, 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    c.expect("TYPE I", 200);
    let l = listener("127.0.0.1");
    c.expect(&format!("PORT {}", port_arg(l.local_addr().unwrap())), 200);
    c.expect("RETR data.bin", 150);
    let (mut s, from) = accept_within(&l, TIMEOUT).expect("the active data connection");
    let got = read_all(&mut s);
    assert_eq!(got, content);
    assert_eq!(c.read_reply().0, 226);
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(TIMEOUT));
    from
}

#[test]
fn active_mode_connects_from_port_20_when_asked() {
    require_root!();
    let from = active_retr(true);
    assert_eq!(from, "127.0.0.1:20".parse::<SocketAddr>().unwrap());
}

#[test]
fn active_mode_without_port_20_uses_another_port() {
    require_root!();
    let from = active_retr(false);
    assert_eq!(from.ip().to_string(), "127.0.0.1");
    assert_ne!(from.port(), 20);
}

// ---------------------------------------------------------------------------------------
// 4. Bounce protection.

#[test]
fn port_and_eprt_to_a_third_party_are_refused() {
    require_root!();
    let user = FtpUser::get();
    // Both paths: the session connecting itself, and the root monitor connecting from 20.
    for port20 in ["NO", "YES"] {
        let mut f = fixture("bounce", &user);
        f.set(&format!("connect_from_port_20={port20}"));
        let inetd = f.inetd();
        let mut c = inetd.login();
        let l = listener("127.0.0.2");
        let target = l.local_addr().unwrap();

        let what = format!("PORT to {target}, connect_from_port_20={port20}");
        let (code, text) = c.cmd(&format!("PORT {}", port_arg(target)));
        assert_eq!((code, text.as_str()), (500, "500 Illegal PORT command."));
        let (_, text) = c.cmd("LIST");
        assert_eq!(
            text, "425 Use PORT or PASV first.",
            "{what}: LIST after a refused PORT"
        );
        assert_no_connection(&l, &what);

        let what = format!("EPRT to {target}, connect_from_port_20={port20}");
        let (code, text) = c.cmd(&format!("EPRT |1|127.0.0.2|{}|", target.port()));
        assert_eq!((code, text.as_str()), (500, "500 Illegal EPRT command."));
        let (_, text) = c.cmd("LIST");
        assert_eq!(
            text, "425 Use PORT or PASV first.",
            "{what}: LIST after a refused EPRT"
        );
        assert_no_connection(&l, &what);

        // A privileged port on the client's own address is refused too.
        let (code, text) = c.cmd("PORT 127,0,0,1,0,21");
        assert_eq!((code, text.as_str()), (500, "500 Illegal PORT command."));
        let (code, text) = c.cmd("EPRT |1|127.0.0.1|25|");
        assert_eq!((code, text.as_str()), (500, "500 Illegal EPRT command."));

        c.expect("QUIT", 221);
        assert!(inetd.wait_all_exited(TIMEOUT));
    }
}

#[test]
fn port_promiscuous_allows_a_third_party() {
    require_root!();
    let user = FtpUser::get();
    for port20 in ["NO", "YES"] {
        let mut f = fixture("promisc", &user);
        f.set("port_promiscuous=YES");
        f.set(&format!("connect_from_port_20={port20}"));
        f.file("visible-name", b"x", 0o644);
        let inetd = f.inetd();
        let mut c = inetd.login();
        for eprt in [false, true] {
            let l = listener("127.0.0.2");
            let target = l.local_addr().unwrap();
            if eprt {
                c.expect(&format!("EPRT |1|127.0.0.2|{}|", target.port()), 200);
            } else {
                c.expect(&format!("PORT {}", port_arg(target)), 200);
            }
            c.expect("NLST", 150);
            let (mut s, from) = accept_within(&l, TIMEOUT)
                .unwrap_or_else(|| panic!("connection to {target} (port20={port20})"));
            assert_eq!(from.ip().to_string(), "127.0.0.1");
            if port20 == "YES" {
                assert_eq!(from.port(), 20);
            }
            let listing = read_all(&mut s);
            assert_eq!(listing, b"visible-name\r\n");
            assert_eq!(c.read_reply().0, 226);
        }
        c.expect("QUIT", 221);
        assert!(inetd.wait_all_exited(TIMEOUT));
    }
}

// ---------------------------------------------------------------------------------------
// 5. Passive connection theft.

#[test]
fn passive_connection_from_a_third_party_is_refused() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("pasvtheft", &user);
    f.file("secret-name", b"x", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let addr = pasv_addr(&c.expect("PASV", 227));
    let mut thief = connect_from_ip("127.0.0.2", addr);
    assert_eq!(thief.local_addr().unwrap().ip().to_string(), "127.0.0.2");
    let (code, text) = c.cmd("LIST");
    assert_eq!(
        (code, text.as_str()),
        (425, "425 Security: Bad IP connecting.")
    );
    assert_eq!(read_all(&mut thief), b"", "the third party got data");
    // The session goes on.
    c.expect("NOOP", 200);
    let (data, code, _) = c.pasv_transfer("NLST");
    assert_eq!((data.as_slice(), code), (&b"secret-name\r\n"[..], 226));
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn pasv_promiscuous_allows_a_third_party() {
    require_root!();
    let user = FtpUser::get();
    let mut f = fixture("pasvpromisc", &user);
    f.set("pasv_promiscuous=YES");
    f.file("shared-name", b"x", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let addr = pasv_addr(&c.expect("PASV", 227));
    let mut other = connect_from_ip("127.0.0.2", addr);
    c.expect("NLST", 150);
    assert_eq!(read_all(&mut other), b"shared-name\r\n");
    assert_eq!(c.read_reply().0, 226);
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

// ---------------------------------------------------------------------------------------
// 6. Nothing outlives the client.

fn assert_all_gone(inetd: &Inetd, f: &Fixture, mon: u32, seen: &[Proc], what: &str) {
    assert!(inetd.wait_all_exited(TIMEOUT), "{what}: the monitor exits");
    let left = wait_gone(seen, TIMEOUT);
    assert!(left.is_empty(), "{what}: still running: {left:?}");
    assert!(descendants(mon).is_empty(), "{what}: descendants remain");
    for jail in [&f.root, &f.empty] {
        let inside = jailed_in(jail);
        assert!(inside.is_empty(), "{what}: still in {jail:?}: {inside:?}");
    }
}

#[test]
fn hanging_up_ends_every_process() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("hangup", &user);
    f.file("small", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    let mon = monitor(&inetd);
    let mut seen = tree_of(mon);
    c.expect("USER anonymous", 331);
    c.expect("PASS x@y", 230);
    seen.extend(tree_of(mon));
    let (_, code, _) = c.pasv_transfer("LIST");
    assert_eq!(code, 226);
    let (data, code, _) = c.pasv_transfer("RETR small");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226));
    seen.extend(tree_of(mon));
    drop(c); // no QUIT
    assert_all_gone(&inetd, &f, mon, &seen, "hang-up after transfers");
}

#[test]
fn hanging_up_mid_transfer_ends_every_process() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("hangupmid", &user);
    big_file(&f, "big", BIG);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let mon = monitor(&inetd);
    let post = only_child(mon, None);
    let (data, xfer) = start_stuck_retr(&mut c, post);
    let seen = tree_of(mon);
    assert!(seen.iter().any(|p| p.pid == xfer));
    // Close the control connection while the data connection is still open and stuck.
    c.stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop(c);
    assert_all_gone(&inetd, &f, mon, &seen, "hang-up mid-transfer");
    drop(data);
}

#[test]
fn killing_the_session_mid_transfer_ends_the_transfer_and_the_monitor() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("kill9", &user);
    big_file(&f, "big", BIG);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let mon = monitor(&inetd);
    let post = only_child(mon, None);
    let (data, xfer) = start_stuck_retr(&mut c, post);
    let seen = tree_of(mon);
    let xp = proc_of(xfer);
    kill9(post); // a process our own inetd's child started
    assert!(
        wait_gone(&[xp], TIMEOUT).is_empty(),
        "the transfer child outlived its session (PDEATHSIG)"
    );
    assert_all_gone(&inetd, &f, mon, &seen, "kill -9 of the session");
    // The client sees the control connection close.
    assert_eq!(c.read_reply().0, 0);
    drop(data);
}

#[test]
fn killing_the_monitor_ends_every_session_process() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("killmon", &user);
    big_file(&f, "big", BIG);
    // Before login: the pre-login session dies with the monitor.
    {
        let inetd = f.inetd();
        let mut c = inetd.connect();
        let mon = monitor(&inetd);
        let pre = proc_of(only_child(mon, None));
        kill9(mon); // the process our own inetd started
        assert!(
            wait_gone(&[pre], TIMEOUT).is_empty(),
            "the pre-login session outlived the monitor (PDEATHSIG)"
        );
        assert_eq!(c.read_reply().0, 0, "the control connection closes");
        assert!(inetd.wait_all_exited(TIMEOUT));
    }
    // Mid-transfer: the session dies with the monitor, and the transfer child with it.
    let inetd = f.inetd();
    let mut c = inetd.login();
    let mon = monitor(&inetd);
    let post = only_child(mon, None);
    let (data, xfer) = start_stuck_retr(&mut c, post);
    let procs = [proc_of(post), proc_of(xfer)];
    kill9(mon);
    let left = wait_gone(&procs, TIMEOUT);
    assert!(left.is_empty(), "outlived the monitor: {left:?}");
    assert_eq!(c.read_reply().0, 0, "the control connection closes");
    assert!(inetd.wait_all_exited(TIMEOUT));
    for jail in [&f.root, &f.empty] {
        assert_eq!(jailed_in(jail), Vec::<u32>::new(), "left in {jail:?}");
    }
    drop(data);
}

// ---------------------------------------------------------------------------------------
// 7. A writable anonymous root is refused.

fn writable_root_is_refused(f: &Fixture, user: &FtpUser) {
    let inetd = f.inetd();
    let mut c = inetd.connect();
    let mon = monitor(&inetd);
    c.expect("USER anonymous", 331);
    let (code, text) = c.cmd("PASS x@y");
    let root = f.root.display().to_string();
    assert_eq!(code, 500, "{text}");
    assert!(text.starts_with("500 OOPS: "), "{text}");
    assert!(
        text.contains(&root),
        "the reply names the directory: {text}"
    );
    assert!(
        text.contains(&user.name),
        "the reply names the user: {text}"
    );
    assert!(
        text.contains(&format!("chmod a-w {root}")),
        "the reply gives the fix: {text}"
    );
    assert_eq!(c.read_reply().0, 0, "the connection closes");
    assert!(inetd.wait_all_exited(TIMEOUT));
    assert!(descendants(mon).is_empty(), "no post-login process remains");
    let inside = jailed_in(&f.root);
    assert!(inside.is_empty(), "processes left in anon_root: {inside:?}");
}

#[test]
fn world_writable_anon_root_is_refused() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("wroot", &user);
    std::fs::set_permissions(&f.root, std::fs::Permissions::from_mode(0o777)).unwrap();
    writable_root_is_refused(&f, &user);
}

#[test]
fn anon_root_owned_by_the_ftp_user_is_refused() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("oroot", &user);
    std::os::unix::fs::chown(&f.root, Some(user.uid), Some(user.gid)).unwrap();
    writable_root_is_refused(&f, &user);
}

#[test]
fn anon_root_writable_by_the_ftp_group_is_refused() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("groot", &user);
    std::os::unix::fs::chown(&f.root, Some(0), Some(user.gid)).unwrap();
    std::fs::set_permissions(&f.root, std::fs::Permissions::from_mode(0o775)).unwrap();
    writable_root_is_refused(&f, &user);
}

// ---------------------------------------------------------------------------------------
// 8. A bad pre-login jail or nopriv_user: the client gets 421 and nothing runs.

fn refused_before_greeting(f: &Fixture) {
    let inetd = f.inetd();
    let mut c = Ctl::connect(inetd.addr);
    let (code, text) = c.read_reply();
    assert_eq!(code, 421, "{text}");
    assert!(text.starts_with("421 Service not available"), "{text}");
    assert_eq!(c.read_reply().0, 0, "the connection closes");
    assert!(inetd.wait_all_exited(TIMEOUT));
    let mon = monitor(&inetd);
    assert!(descendants(mon).is_empty());
}

#[test]
fn missing_secure_chroot_dir_is_refused() {
    require_root!();
    let user = FtpUser::get();
    let mut f = fixture("nojail", &user);
    let missing = f.dir.join("no-such-dir");
    f.set(&format!("secure_chroot_dir={}", missing.display()));
    refused_before_greeting(&f);
}

#[test]
fn group_or_world_writable_secure_chroot_dir_is_refused() {
    require_root!();
    let user = FtpUser::get();
    for mode in [0o775, 0o757] {
        let f = fixture("wjail", &user);
        std::fs::set_permissions(&f.empty, std::fs::Permissions::from_mode(mode)).unwrap();
        refused_before_greeting(&f);
    }
}

#[test]
fn secure_chroot_dir_not_owned_by_root_is_refused() {
    require_root!();
    let user = FtpUser::get();
    let (nuid, ngid) = nobody();
    let f = fixture("ojail", &user);
    std::os::unix::fs::chown(&f.empty, Some(nuid), Some(ngid)).unwrap();
    refused_before_greeting(&f);
}

#[test]
fn nonexistent_nopriv_user_is_refused() {
    require_root!();
    let user = FtpUser::get();
    let mut f = fixture("nonopriv", &user);
    f.set("nopriv_user=rsftpd-no-such-user");
    refused_before_greeting(&f);
}

// ---------------------------------------------------------------------------------------
// Descriptors inherited from whoever started rsftpd do not reach the sessions.

/// A one-connection inetd that starts rsftpd through `sh -c 'exec ... 7<FILE'`, so rsftpd
/// inherits an extra descriptor (as it would from a careless launcher). Ends only the
/// process it started, by PID.
struct LeakyInetd {
    child: std::process::Child,
}

impl LeakyInetd {
    fn start(f: &Fixture, extra: &Path) -> (LeakyInetd, Ctl) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = Ctl::connect(l.local_addr().unwrap());
        let (sock, _) = l.accept().unwrap();
        let child = Command::new("sh")
            .args(["-c", r#"exec "$0" -c "$1" 7<"$2""#])
            .arg(common::bin())
            .arg(&f.conf)
            .arg(extra)
            .stdin(OwnedFd::from(sock.try_clone().unwrap()))
            .stdout(OwnedFd::from(sock.try_clone().unwrap()))
            .stderr(OwnedFd::from(sock))
            .spawn()
            .unwrap();
        assert_eq!(c.read_reply().0, 220, "greeting");
        (LeakyInetd { child }, c)
    }

    fn wait_exited(&mut self, within: Duration) -> bool {
        wait_for(within, || self.child.try_wait().unwrap().map(|_| ())).is_some()
    }
}

impl Drop for LeakyInetd {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[test]
fn inherited_descriptors_do_not_reach_the_sessions() {
    require_root!();
    let user = FtpUser::get();
    let f = fixture("inherit", &user);
    big_file(&f, "big", BIG);
    // A root-only file outside every jail, open on fd 7 when rsftpd starts.
    let secret = f.dir.join("root-only-secret");
    std::fs::write(&secret, b"secret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let secret_s = secret.display().to_string();
    let (mut inetd, mut c) = LeakyInetd::start(&f, &secret);
    let mon = inetd.child.id();
    let has_secret = |pid: u32| fds(pid).into_iter().find(|(_, l)| *l == secret_s);

    let pre = only_child(mon, None);
    assert_eq!(has_secret(pre), None, "pre-login session: {:?}", fds(pre));
    c.expect("USER anonymous", 331);
    c.expect("PASS x@y", 230);
    let post = only_child(mon, Some(pre));
    assert_eq!(
        has_secret(post),
        None,
        "post-login session: {:?}",
        fds(post)
    );
    let (data, xfer) = start_stuck_retr(&mut c, post);
    assert_eq!(has_secret(xfer), None, "transfer child: {:?}", fds(xfer));
    // The monitor, root anyway, has no use for it either.
    assert_eq!(has_secret(mon), None, "monitor: {:?}", fds(mon));
    drop(data);
    drop(c);
    assert!(inetd.wait_exited(TIMEOUT));
}
