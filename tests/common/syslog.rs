//! A syslog capture for the integration tests: receives what rsftpd sends to /dev/log.
//!
//! rsftpd logs with libc's openlog/syslog (LOG_NDELAY, before any chroot), so its lines go
//! to the datagram socket /dev/log. Machines without a syslog daemon (this one, CI
//! containers) have no /dev/log, and the lines are lost. `capturing()` then binds a UNIX
//! datagram socket at /dev/log (mode 0666) and a background thread collects every message
//! for the rest of the test binary's life; `lines_for(tag)` returns the messages that
//! mention a tag (a test's unique user name).
//!
//! Rules, so a real logging setup is never disturbed:
//! - /dev/log absent: bind it (the socket file is left behind when the binary exits: Rust's
//!   test harness gives no reliable exit hook, and a killed binary could not remove it).
//! - /dev/log a socket file nobody listens on (connect is refused): a socket left behind
//!   like that, typically by an earlier test run; it cannot deliver anything, so it is
//!   replaced by ours.
//! - /dev/log a live socket (a syslog daemon, or another test binary capturing), a symlink
//!   (journald's /run/systemd/journal/dev-log) or anything else: left alone; `capturing()`
//!   returns false with a printed reason and the callers skip their log assertions.
//!
//! cargo runs test binaries one after another, so only one binary binds it at a time; a
//! binary started while another captures sees a live socket and skips its log checks.
//!
//! To run the log checks on a machine whose /dev/log is live, give the test run a private
//! /dev without `log` in a mount namespace (root): `unshare -m --propagation private sh -c
//! 'mount -t tmpfs tmpfs /tmp/d && ...bind /dev/null etc. into /tmp/d... && mount --rbind
//! /tmp/d /dev && cargo test --test localusers'`; the daemon is not affected.
#![allow(dead_code)]

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const DEV_LOG: &str = "/dev/log";

/// One message as received.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The syslog priority (facility * 8 + severity), when the header had one.
    pub pri: Option<u32>,
    /// The sender's pid from `ident[pid]: `, when present.
    pub pid: Option<u32>,
    /// The message text after `ident[pid]: ` (the whole datagram when there is no header).
    pub msg: String,
}

static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static STATE: OnceLock<Result<(), String>> = OnceLock::new();

/// Start the capture (once per binary). True when this binary receives what rsftpd logs;
/// false (with the reason printed) when the log checks must be skipped. Call it before
/// starting the server whose lines a test wants: glibc connects at openlog time.
pub fn capturing() -> bool {
    match STATE.get_or_init(start) {
        Ok(()) => true,
        Err(why) => {
            eprintln!("log assertions skipped: {why}");
            false
        }
    }
}

fn start() -> Result<(), String> {
    match std::fs::symlink_metadata(DEV_LOG) {
        Ok(md) if md.file_type().is_socket() => {
            let probe = UnixDatagram::unbound().map_err(|e| format!("socket: {e}"))?;
            match probe.connect(DEV_LOG) {
                Ok(()) => {
                    return Err(format!(
                        "{DEV_LOG} is served by another process (a syslog daemon, or another test binary capturing)"
                    ))
                }
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    // Nobody listens: a socket left behind (by an earlier run of a test
                    // binary). It delivers nothing to anyone, so replacing it is harmless.
                    eprintln!("syslog capture: replacing the dead socket {DEV_LOG}");
                    std::fs::remove_file(DEV_LOG)
                        .map_err(|e| format!("cannot remove the dead socket {DEV_LOG}: {e}"))?;
                }
                Err(e) => {
                    return Err(format!(
                        "{DEV_LOG} exists and is not ours (connect: {e})"
                    ))
                }
            }
        }
        Ok(md) => {
            return Err(format!(
                "{DEV_LOG} exists and is not a socket of ours ({:?})",
                md.file_type()
            ))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot stat {DEV_LOG}: {e}")),
    }
    let sock = UnixDatagram::bind(DEV_LOG).map_err(|e| format!("cannot bind {DEV_LOG}: {e}"))?;
    // Sessions run as unprivileged users and log through a descriptor opened as root, but
    // a process that reconnects after openlog needs write permission on the socket file.
    std::fs::set_permissions(DEV_LOG, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("chmod {DEV_LOG}: {e}"))?;
    eprintln!(
        "syslog capture: listening on {DEV_LOG} (the socket file stays after the tests; the next run replaces it)"
    );
    std::thread::Builder::new()
        .name("syslog-capture".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        let e = parse(&buf[..n]);
                        ENTRIES.lock().unwrap_or_else(|p| p.into_inner()).push(e);
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })
        .map_err(|e| format!("cannot start the capture thread: {e}"))?;
    Ok(())
}

/// Split `<PRI>Mmm dd hh:mm:ss ident[pid]: message` (glibc's format).
pub fn parse(b: &[u8]) -> Entry {
    let raw = String::from_utf8_lossy(b);
    let raw = raw.trim_end_matches(['\0', '\n']);
    let mut pri = None;
    let mut rest = raw;
    if let Some(r) = raw.strip_prefix('<') {
        if let Some(end) = r.find('>') {
            pri = r[..end].parse().ok();
            rest = &r[end + 1..];
        }
    }
    // The ident and pid: the first "[digits]: " in the line.
    let mut pid = None;
    let mut msg = rest.to_string();
    if let Some(open) = rest.find('[') {
        if let Some(close) = rest[open..].find("]: ") {
            let digits = &rest[open + 1..open + close];
            if let Ok(p) = digits.parse::<u32>() {
                pid = Some(p);
                msg = rest[open + close + 3..].to_string();
            }
        }
    }
    // vsftpd's lines carry the pid again, `[pid N] ...`: it must be the sender's own
    // (each process logs with its own pid); the tests compare what follows.
    if let Some(r) = msg.strip_prefix("[pid ") {
        if let Some(end) = r.find("] ") {
            if let Ok(p) = r[..end].parse::<u32>() {
                assert_eq!(
                    Some(p),
                    pid,
                    "[pid N] differs from the syslog header: {raw:?}"
                );
                msg = r[end + 2..].to_string();
            }
        }
    }
    Entry { pri, pid, msg }
}

/// Every message captured so far.
pub fn entries() -> Vec<Entry> {
    ENTRIES.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The messages (text after `ident[pid]: `) that mention `tag`, in arrival order.
pub fn lines_for(tag: &str) -> Vec<String> {
    entries()
        .into_iter()
        .filter(|e| e.msg.contains(tag))
        .map(|e| e.msg)
        .collect()
}

/// Wait (bounded) until the messages mentioning `tag` include one equal to each of
/// `wanted`; returns the messages mentioning `tag` at that point (or at the deadline).
pub fn wait_for_lines(tag: &str, wanted: &[&str], within: Duration) -> Vec<String> {
    let t = Instant::now();
    loop {
        let got = lines_for(tag);
        if wanted.iter().all(|w| got.iter().any(|l| l == w)) || t.elapsed() >= within {
            return got;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
