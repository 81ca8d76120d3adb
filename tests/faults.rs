//! The fault suite (hardening issue): a client that disconnects mid-RETR, mid-STOR, mid-LIST
//! or between PASV and the transfer; a transfer child killed with SIGKILL; the monitor
//! killed; a full disk; a read-only file system; a file deleted or truncated while it is
//! being sent; a FIFO, a socket and a device where a file is expected.
//!
//! Each test does one fault and asserts all four things: the replies (exact texts), the
//! state on disk (bytes, a prefix of what was sent, or nothing changed at all), the lines in
//! vsftpd_log_file (a file in the fixture, not syslog, whose capture other test binaries
//! share), and that no process is left: every process seen in the session's tree has
//! ended, and nothing in /proc still runs with the fixture's configuration on its command
//! line (forked processes keep the monitor's) or with its root inside the fixture.
//!
//! "Mid-transfer" is made deterministic with anon_max_rate: a transfer of megabytes at
//! 4 MB/s is still running when the test acts. Listings are not rate-limited (nor are
//! they in vsftpd), so mid-LIST is a listing much larger than the socket buffers that the
//! client stops reading. Every wait is bounded in count and time, every connection is on
//! loopback, and the only processes ended are ones this test's own mini-inetd started (by
//! PID). Every test needs root (privilege separation, mounts, mknod, a local user); each
//! is skipped with a message otherwise.
mod common;
use common::procs::{proc_of, stat_fields, tree_of, wait_gone, Proc};

use common::ftp::exact;
use common::procs::{all_pids, children, descendants, monitor, wait_for};
use common::users::TempUser;
use common::{random_bytes, Ctl, Fixture, Inetd, TIMEOUT};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Fixture

/// anon_max_rate of every fixture here: slow enough that a transfer of a few MiB is still
/// running when the test acts, fast enough to keep the suite short.
const RATE: u64 = 4_000_000;

/// 8 MiB: two seconds at RATE.
const BIG: usize = 8 << 20;

const OK_TO_SEND: &str = "150 Ok to send data.";
const COMPLETE: &str = "226 Transfer complete.";
const DIED: &str = "451 Transfer failed.";

/// The ids of a system account, from /etc/passwd.
fn account(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[0] == name).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no account {name} in /etc/passwd"))
}

fn chown(p: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
}

/// A fixture for anonymous sessions that may upload and change files in `pub` (owned by the
/// `ftp` account), rate-limited to RATE, with vsftpd-format lines in `vsftpd.log` in the
/// fixture directory and a small file `small.txt` to show that a session goes on.
fn fixture(name: &str) -> (Fixture, PathBuf) {
    let mut f = Fixture::new(&format!("faults-{name}"));
    let vlog = f.dir.join("vsftpd.log");
    f.set("write_enable=YES")
        .set("anon_upload_enable=YES")
        .set("anon_other_write_enable=YES")
        .set("anon_mkdir_write_enable=YES")
        .set(&format!("anon_max_rate={RATE}"))
        .set("xferlog_enable=YES")
        .set(&format!("vsftpd_log_file={}", vlog.display()));
    let p = f.mkdir("pub", 0o755);
    if common::is_root() {
        chown(&p, account("ftp"));
    }
    f.file("small.txt", &small_body(), 0o644);
    (f, vlog)
}

fn small_body() -> Vec<u8> {
    random_bytes(20_000, 3)
}

/// Log in anonymously; also returns the monitor and the post-login session.
fn login(inetd: &Inetd) -> (Ctl, u32, u32) {
    let c = inetd.login();
    let mon = monitor(inetd);
    let post = wait_for(TIMEOUT, || match children(mon).as_slice() {
        [p] => Some(*p),
        _ => None,
    })
    .unwrap_or_else(|| panic!("monitor {mon} children: {:?}", children(mon)));
    (c, mon, post)
}

// ---------------------------------------------------------------------------------------
// Processes

/// Processes anywhere in /proc that belong to this fixture: the configuration file on the
/// command line (the monitor's, which every forked process keeps) or a root directory
/// (chroot) inside the fixture. As "pid name (state S)".
fn leftovers(f: &Fixture) -> Vec<String> {
    let conf = f.conf.to_string_lossy().into_owned();
    let dir = f.dir.canonicalize().unwrap_or_else(|_| f.dir.clone());
    let me = std::process::id();
    let mut out = Vec::new();
    for pid in all_pids() {
        let Some((state, _)) = stat_fields(pid) else {
            continue;
        };
        if pid == me || state == 'Z' {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let by_conf = String::from_utf8_lossy(&cmdline)
            .split('\0')
            .any(|a| a == conf);
        let by_root =
            std::fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r.starts_with(&dir));
        if by_conf || by_root {
            let name = common::proc_status(pid, "Name").unwrap_or_default();
            out.push(format!("{pid} {name} (state {state})"));
        }
    }
    out
}

/// Every server process ended: the monitors the inetd started, every process in `seen`,
/// and nothing of the fixture's is left anywhere in /proc.
fn assert_nothing_left(inetd: &Inetd, f: &Fixture, seen: &[Proc], what: &str) {
    assert!(
        inetd.wait_all_exited(TIMEOUT),
        "{what}: the monitor did not exit; its tree: {:?}",
        inetd
            .pids()
            .iter()
            .map(|p| (*p, descendants(*p)))
            .collect::<Vec<_>>()
    );
    let left = wait_gone(seen, TIMEOUT);
    assert!(left.is_empty(), "{what}: still running: {left:?}");
    let t = Instant::now();
    loop {
        let l = leftovers(f);
        if l.is_empty() {
            break;
        }
        assert!(t.elapsed() < TIMEOUT, "{what}: left in /proc: {l:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Does `pid` have `path` open?
fn holds(pid: u32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == path))
        })
        .unwrap_or(false)
}

/// The transfer child of the session `post`: its only child, once it has one (that holds
/// `file` open, when given: the child doing this transfer and nothing else).
fn transfer_child(post: u32, file: Option<&Path>) -> u32 {
    wait_for(TIMEOUT, || match children(post).as_slice() {
        [t] if match file {
            Some(p) => holds(*t, p),
            None => true,
        } =>
        {
            Some(*t)
        }
        _ => None,
    })
    .unwrap_or_else(|| {
        panic!(
            "no transfer child of {post} holding {file:?}: children {:?}",
            children(post)
        )
    })
}

/// SIGKILL a process this test's inetd started (or one of its descendants), by PID.
fn kill9(pid: u32) {
    let ok = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -9 {pid}");
}

// ---------------------------------------------------------------------------------------
// Logs

/// The vsftpd-format lines, each without its date and `[pid N] `: `[ftp] OK LOGIN: ...`.
fn log_bodies(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            assert!(l.len() > 25 && l[24..].starts_with(" [pid "), "{l:?}");
            l[l.find("] ").unwrap() + 2..].to_string()
        })
        .collect()
}

/// The byte counts of `[user] {what}: Client "127.0.0.1", "{path}", N bytes, R Kbyte/sec`
/// lines (`what`: OK UPLOAD, FAIL DOWNLOAD, ...); a FAIL line must end in `(incomplete)`.
fn transfers(p: &Path, user: &str, what: &str, path: &str) -> Vec<u64> {
    let prefix = format!("[{user}] {what}: Client \"127.0.0.1\", \"{path}\", ");
    let mut out = Vec::new();
    for b in log_bodies(p) {
        let Some(rest) = b.strip_prefix(&prefix) else {
            continue;
        };
        let (n, tail) = rest
            .split_once(" bytes, ")
            .unwrap_or_else(|| panic!("{b:?}"));
        let ok_tail = if what.starts_with("FAIL") {
            tail.ends_with("Kbyte/sec (incomplete)")
        } else {
            tail.ends_with("Kbyte/sec")
        };
        assert!(ok_tail, "{b:?}");
        out.push(n.parse().unwrap());
    }
    out
}

/// Wait (bounded) until the log has exactly `count` such transfer lines; their byte counts.
/// The session writes the line after the reply, so a test that has the reply may still have
/// to wait a moment for the line.
fn wait_transfers(p: &Path, user: &str, what: &str, path: &str, count: usize) -> Vec<u64> {
    let t = Instant::now();
    loop {
        let got = transfers(p, user, what, path);
        if got.len() >= count || t.elapsed() > Duration::from_secs(10) {
            assert_eq!(
                got.len(),
                count,
                "{what} lines for {path}:\n{}",
                log_bodies(p).join("\n")
            );
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait (bounded) until the log has a line equal to `want`.
fn wait_line(p: &Path, want: &str) {
    let t = Instant::now();
    while !log_bodies(p).iter().any(|b| b == want) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no line {want:?} in:\n{}",
            log_bodies(p).join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// No line of the log contains `needle`.
fn assert_no_line(p: &Path, needle: &str) {
    let b = log_bodies(p);
    assert!(
        !b.iter().any(|l| l.contains(needle)),
        "unexpected {needle:?} in:\n{}",
        b.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Transfers

/// PASV: the announced address.
fn pasv_addr(c: &mut Ctl) -> SocketAddr {
    let text = c.expect("PASV", 227);
    let inner = &text[text.find('(').unwrap() + 1..text.find(')').unwrap()];
    let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
        .parse()
        .unwrap()
}

/// Start `RETR name` over PASV and read the first `n` bytes: (data connection, bytes).
fn start_retr(c: &mut Ctl, name: &str, len: usize, n: usize) -> (TcpStream, Vec<u8>) {
    let mut d = c.pasv();
    exact(
        c,
        &format!("RETR {name}"),
        &format!("150 Opening BINARY mode data connection for {name} ({len} bytes)."),
    );
    let mut got = vec![0u8; n];
    d.read_exact(&mut got).unwrap();
    (d, got)
}

/// Read a data connection to its end; whatever error ends it (a reset) ends it too.
fn read_rest(d: &mut TcpStream, into: &mut Vec<u8>) {
    let mut buf = vec![0u8; 1 << 16];
    let t = Instant::now();
    while t.elapsed() < TIMEOUT {
        match d.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(k) => into.extend_from_slice(&buf[..k]),
        }
    }
    panic!("the data connection did not end");
}

/// `small.txt` downloads whole (the session goes on after a fault).
fn retr_small(c: &mut Ctl) {
    let mut d = c.pasv();
    exact(
        c,
        "RETR small.txt",
        "150 Opening BINARY mode data connection for small.txt (20000 bytes).",
    );
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(c.read_reply().1, COMPLETE);
    assert!(got == small_body(), "small.txt: {} bytes differ", got.len());
}

/// An upload over PASV: the command must get 150, then all of `data` is sent (a server that
/// stops reading resets the connection: not our failure), the connection closed, and the
/// final reply returned.
fn upload(c: &mut Ctl, command: &str, data: &[u8]) -> (u16, String) {
    let mut d = c.pasv();
    exact(c, command, OK_TO_SEND);
    d.set_write_timeout(Some(TIMEOUT)).unwrap();
    let _ = d.write_all(data);
    let _ = d.shutdown(Shutdown::Write);
    let r = c.read_reply();
    drop(d);
    r
}

/// Wait (bounded) until a file has at least `len` bytes; its length.
fn wait_len(p: &Path, len: u64) -> u64 {
    let t = Instant::now();
    loop {
        let n = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        if n >= len || t.elapsed() > TIMEOUT {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What was sent, and what the server stored of it: the file must be a prefix of what was
/// sent, of at least `min` bytes; returns its length.
fn assert_prefix_on_disk(p: &Path, sent: &[u8], min: usize) -> u64 {
    let disk = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        disk.len() >= min && disk.len() <= sent.len(),
        "{}: {} bytes on disk, {} sent, at least {min} expected",
        p.display(),
        disk.len(),
        sent.len()
    );
    assert!(
        sent.starts_with(&disk),
        "{}: the {} bytes on disk are not what was sent",
        p.display(),
        disk.len()
    );
    disk.len() as u64
}

fn quit(c: &mut Ctl) {
    exact(c, "QUIT", "221 Goodbye.");
    assert_eq!(c.read_reply().0, 0, "the connection closes after QUIT");
}

/// Close the control connection (and drop it): the client is gone.
fn hang_up(c: Ctl) {
    let _ = c.stream.shutdown(Shutdown::Both);
    drop(c);
}

// ---------------------------------------------------------------------------------------
// Mounts

/// A tmpfs mounted by a test; unmounted when dropped, even when the test fails.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Result<Mount, String> {
        run(
            "mount",
            &["-t", "tmpfs", "-o", options, "tmpfs", at.to_str().unwrap()],
        )?;
        Ok(Mount(at.to_path_buf()))
    }

    fn remount_ro(&self) -> Result<(), String> {
        run("mount", &["-o", "remount,ro", self.0.to_str().unwrap()])
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let p = self.0.to_str().unwrap();
        if run("umount", &[p]).is_err() {
            // A process that has not quite ended yet: detach it now, freed when it goes.
            let _ = run("umount", &["-l", p]);
        }
    }
}

fn run(prog: &str, args: &[&str]) -> Result<(), String> {
    let o = Command::new(prog)
        .args(args)
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{prog} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

// ---------------------------------------------------------------------------------------
// 1. The client goes away mid-transfer.

#[test]
fn client_disconnecting_mid_retr() {
    require_root!();
    let (f, vlog) = fixture("midretr");
    let body = random_bytes(BIG, 11);
    let path = f.file("big.bin", &body, 0o644);
    let before = common::sha256(&path);
    let inetd = f.inetd();
    let (mut c, mon, post) = login(&inetd);

    // The data connection closes under the transfer, the control connection stays: 426 and
    // the session goes on.
    let (d, got) = start_retr(&mut c, "big.bin", BIG, 256 << 10);
    let xfer = proc_of(transfer_child(post, Some(&path)));
    assert!(body.starts_with(&got));
    drop(d);
    assert_eq!(c.read_reply().1, "426 Failure writing network stream.");
    assert!(wait_gone(&[xfer], TIMEOUT).is_empty(), "the child ended");
    let n = wait_transfers(&vlog, "ftp", "FAIL DOWNLOAD", "/big.bin", 1)[0];
    assert!(
        n >= got.len() as u64 && n < BIG as u64,
        "FAIL DOWNLOAD says {n} bytes; the client read {}",
        got.len()
    );
    exact(&mut c, "NOOP", "200 NOOP ok.");
    retr_small(&mut c);
    wait_transfers(&vlog, "ftp", "OK DOWNLOAD", "/small.txt", 1);

    // The whole client goes away (control and data at once) mid-transfer.
    let (d, got) = start_retr(&mut c, "big.bin", BIG, 256 << 10);
    assert!(body.starts_with(&got));
    transfer_child(post, Some(&path));
    let seen = tree_of(mon);
    assert_eq!(seen.len(), 3, "monitor, session, transfer child: {seen:?}");
    hang_up(c);
    drop(d);
    assert_nothing_left(&inetd, &f, &seen, "hang-up mid-RETR");
    let counts = wait_transfers(&vlog, "ftp", "FAIL DOWNLOAD", "/big.bin", 2);
    // The child is killed when the session ends: bytes of its last sendfile can be on the
    // wire but not yet counted, at most one rate-limited chunk (RATE / 20 bytes).
    assert!(
        counts[1] + RATE / 20 >= got.len() as u64 && counts[1] < BIG as u64,
        "{counts:?}, the client read {}",
        got.len()
    );
    assert_no_line(&vlog, "OK DOWNLOAD: Client \"127.0.0.1\", \"/big.bin\"");
    // The file served is untouched.
    assert_eq!(common::sha256(&path), before);
}

#[test]
fn client_disconnecting_mid_stor() {
    require_root!();
    let (f, vlog) = fixture("midstor");
    let pubd = f.root.join("pub");
    let inetd = f.inetd();
    let (mut c, mon, post) = login(&inetd);
    let body = random_bytes(2 << 20, 21);

    let target = pubd.join("up.bin");
    let mut d = c.pasv();
    exact(&mut c, "STOR /pub/up.bin", OK_TO_SEND);
    d.set_write_timeout(Some(TIMEOUT)).unwrap();
    d.write_all(&body[..1 << 20]).unwrap();
    assert!(wait_len(&target, 256 << 10) >= 256 << 10);
    transfer_child(post, Some(&target));
    let seen = tree_of(mon);
    assert_eq!(seen.len(), 3, "monitor, session, transfer child: {seen:?}");
    // Gone mid-upload: the control connection first, then the data connection, with
    // most of what was written still unread by the rate-limited server.
    hang_up(c);
    drop(d);
    assert_nothing_left(&inetd, &f, &seen, "hang-up mid-STOR");
    let on_disk = assert_prefix_on_disk(&target, &body[..1 << 20], 256 << 10);
    assert!(
        on_disk < 1 << 20,
        "the upload was cut off: {on_disk} bytes on disk"
    );
    let logged = wait_transfers(&vlog, "ftp", "FAIL UPLOAD", "/pub/up.bin", 1);
    assert_eq!(logged, [on_disk], "the log line counts what the file holds");
    assert_no_line(&vlog, "OK UPLOAD");
    // No temporary or other files.
    let names: Vec<String> = std::fs::read_dir(&pubd)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["up.bin"]);
}

/// A directory whose long listing is far more than loopback socket buffers hold (about
/// 4 MiB when the client does not read): symlinks with 3,000-byte targets make ~3 KiB lines.
fn many_entries(f: &Fixture, n: usize) -> PathBuf {
    let dir = f.mkdir("many", 0o755);
    let target = "t".repeat(3000);
    for i in 0..n {
        std::os::unix::fs::symlink(&target, dir.join(format!("link-{i:05}"))).unwrap();
    }
    dir
}

#[test]
fn client_disconnecting_mid_list() {
    require_root!();
    let (f, vlog) = fixture("midlist");
    // ~12 MiB of listing.
    many_entries(&f, 4000);
    let inetd = f.inetd();
    let (mut c, mon, post) = login(&inetd);
    let wait_blocked = |post: u32| {
        // The transfer child stays (blocked writing) while the client does not read.
        let t = transfer_child(post, None);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(children(post), [t], "the listing is still being sent");
        t
    };

    // The data connection closes under the listing: 426, and the session goes on.
    let mut d = c.pasv();
    exact(&mut c, "LIST many", "150 Here comes the directory listing.");
    let mut first = vec![0u8; 16 << 10];
    d.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"lrwxrwxrwx"), "{:?}", &first[..40]);
    let xfer = proc_of(wait_blocked(post));
    drop(d);
    assert_eq!(c.read_reply().1, "426 Failure writing network stream.");
    assert!(wait_gone(&[xfer], TIMEOUT).is_empty());
    exact(&mut c, "NOOP", "200 NOOP ok.");
    retr_small(&mut c);

    // The client goes away mid-listing.
    let mut d = c.pasv();
    exact(&mut c, "LIST many", "150 Here comes the directory listing.");
    d.read_exact(&mut first).unwrap();
    wait_blocked(post);
    let seen = tree_of(mon);
    hang_up(c);
    drop(d);
    assert_nothing_left(&inetd, &f, &seen, "hang-up mid-LIST");
    // Listings are not logged (as vsftpd); the download before them is.
    wait_transfers(&vlog, "ftp", "OK DOWNLOAD", "/small.txt", 1);
    assert_no_line(&vlog, "FAIL");
}

#[test]
fn client_disconnecting_after_pasv() {
    require_root!();
    let (f, vlog) = fixture("afterpasv");
    let inetd = f.inetd();
    let (mut c, mon, _) = login(&inetd);
    let addr = pasv_addr(&mut c);
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    let seen = tree_of(mon);
    assert_eq!(seen.len(), 2, "monitor and session: {seen:?}");
    hang_up(c);
    assert_nothing_left(&inetd, &f, &seen, "hang-up after PASV");
    wait_line(
        &vlog,
        "[ftp] OK LOGIN: Client \"127.0.0.1\", anon password \"guest@example.com\"",
    );
    assert_no_line(&vlog, "DOWNLOAD");
    assert_no_line(&vlog, "UPLOAD");
}

/// PASV, RETR, and the client never connects to the data port but hangs up: the session
/// waits for the data connection (accept_timeout, 60 s here) and must notice that the
/// client is gone long before that.
#[test]
fn client_disconnecting_after_pasv_and_retr_without_connecting() {
    require_root!();
    let (mut f, vlog) = fixture("pasvretr");
    f.set("accept_timeout=60");
    let inetd = f.inetd();
    let (mut c, mon, _) = login(&inetd);
    pasv_addr(&mut c);
    c.send("RETR small.txt");
    // The session is now waiting for the data connection: no reply comes meanwhile.
    c.stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut one = [0u8; 1];
    let quiet = c.stream.peek(&mut one);
    assert!(
        quiet.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "a reply before the data connection: {quiet:?}"
    );
    let seen = tree_of(mon);
    hang_up(c);
    let t = Instant::now();
    let ended = inetd.wait_all_exited(Duration::from_secs(5));
    assert!(
        ended,
        "the session was still waiting for a data connection {:?} after the client hung up \
         (it ends only at accept_timeout); tree: {:?}",
        t.elapsed(),
        seen
    );
    assert_nothing_left(
        &inetd,
        &f,
        &seen,
        "hang-up between RETR and the data connection",
    );
    assert_no_line(&vlog, "OK DOWNLOAD");
}

// ---------------------------------------------------------------------------------------
// 2. Killed processes.

#[test]
fn sigkill_of_the_transfer_child_is_451_and_the_session_goes_on() {
    require_root!();
    let (f, vlog) = fixture("killxfer");
    let body = random_bytes(BIG, 31);
    let path = f.file("big.bin", &body, 0o644);
    let pubd = f.root.join("pub");
    let inetd = f.inetd();
    let (mut c, mon, post) = login(&inetd);
    let mut seen = tree_of(mon);

    // Mid-RETR.
    let (mut d, mut got) = start_retr(&mut c, "big.bin", BIG, 256 << 10);
    let xfer = transfer_child(post, Some(&path));
    seen.extend(tree_of(mon));
    kill9(xfer);
    assert_eq!(c.read_reply().1, DIED);
    read_rest(&mut d, &mut got);
    assert!(
        got.len() < BIG && body.starts_with(&got),
        "{} bytes received, not a prefix of big.bin",
        got.len()
    );
    // The log counts what reached the client: everything the child had counted went out
    // (its socket closes in order when it dies). A kill that lands inside a sendfile call
    // may leave at most that one chunk (RATE / 20 bytes) sent but not yet counted.
    let n = wait_transfers(&vlog, "ftp", "FAIL DOWNLOAD", "/big.bin", 1)[0];
    let received = got.len() as u64;
    assert!(
        n <= received && received - n <= RATE / 20,
        "FAIL DOWNLOAD says {n} bytes; the client received {received}"
    );
    assert!(wait_gone(&seen[seen.len() - 1..], TIMEOUT).is_empty());
    exact(&mut c, "NOOP", "200 NOOP ok.");
    retr_small(&mut c);

    // Mid-STOR.
    let up = random_bytes(2 << 20, 32);
    let target = pubd.join("killed.bin");
    let mut d = c.pasv();
    exact(&mut c, "STOR /pub/killed.bin", OK_TO_SEND);
    d.set_write_timeout(Some(TIMEOUT)).unwrap();
    d.write_all(&up[..1 << 20]).unwrap();
    assert!(wait_len(&target, 256 << 10) >= 256 << 10);
    let xfer = transfer_child(post, Some(&target));
    seen.extend(tree_of(mon));
    kill9(xfer);
    assert_eq!(c.read_reply().1, DIED);
    drop(d);
    let on_disk = assert_prefix_on_disk(&target, &up[..1 << 20], 256 << 10);
    assert_eq!(
        wait_transfers(&vlog, "ftp", "FAIL UPLOAD", "/pub/killed.bin", 1),
        [on_disk]
    );

    // The session goes on: a download and a whole upload.
    retr_small(&mut c);
    let (code, text) = upload(&mut c, "STOR /pub/after.bin", &up);
    assert_eq!((code, text.as_str()), (226, COMPLETE));
    assert!(std::fs::read(pubd.join("after.bin")).unwrap() == up);
    assert_eq!(
        wait_transfers(&vlog, "ftp", "OK UPLOAD", "/pub/after.bin", 1),
        [up.len() as u64]
    );
    assert_eq!(
        wait_transfers(&vlog, "ftp", "OK DOWNLOAD", "/small.txt", 2).len(),
        2
    );
    quit(&mut c);
    assert_nothing_left(&inetd, &f, &seen, "after the killed transfers");
}

#[test]
fn killing_the_monitor_mid_transfer_ends_every_process() {
    require_root!();
    let (f, vlog) = fixture("killmon");
    let body = random_bytes(BIG, 41);
    let path = f.file("big.bin", &body, 0o644);
    let target = f.root.join("pub/up.bin");

    // Mid-RETR.
    {
        let inetd = f.inetd();
        let (mut c, mon, post) = login(&inetd);
        let (mut d, mut got) = start_retr(&mut c, "big.bin", BIG, 256 << 10);
        transfer_child(post, Some(&path));
        let seen = tree_of(mon);
        assert_eq!(seen.len(), 3, "{seen:?}");
        kill9(mon); // the process our own inetd started
        assert_eq!(c.read_reply().0, 0, "the control connection closes");
        read_rest(&mut d, &mut got);
        assert!(got.len() < BIG && body.starts_with(&got));
        assert_nothing_left(&inetd, &f, &seen, "kill -9 of the monitor mid-RETR");
    }
    // Mid-STOR.
    let up = random_bytes(2 << 20, 42);
    {
        let inetd = f.inetd();
        let (mut c, mon, post) = login(&inetd);
        let mut d = c.pasv();
        exact(&mut c, "STOR /pub/up.bin", OK_TO_SEND);
        d.set_write_timeout(Some(TIMEOUT)).unwrap();
        d.write_all(&up[..1 << 20]).unwrap();
        assert!(wait_len(&target, 256 << 10) >= 256 << 10);
        transfer_child(post, Some(&target));
        let seen = tree_of(mon);
        assert_eq!(seen.len(), 3, "{seen:?}");
        kill9(mon);
        assert_eq!(c.read_reply().0, 0, "the control connection closes");
        drop(d);
        assert_nothing_left(&inetd, &f, &seen, "kill -9 of the monitor mid-STOR");
    }
    assert_prefix_on_disk(&target, &up[..1 << 20], 256 << 10);
    // Both sessions logged in; neither transfer is reported complete.
    let logins = log_bodies(&vlog)
        .iter()
        .filter(|b| b.starts_with("[ftp] OK LOGIN"))
        .count();
    assert_eq!(logins, 2);
    assert_no_line(&vlog, "OK DOWNLOAD");
    assert_no_line(&vlog, "OK UPLOAD");
    assert_eq!(common::sha256(&path), {
        let copy = f.dir.join("copy");
        std::fs::write(&copy, &body).unwrap();
        common::sha256(&copy)
    });
}

// ---------------------------------------------------------------------------------------
// 3. The file system fails the transfer.

#[test]
fn disk_full_is_452_and_the_file_holds_what_fit() {
    require_root!();
    let (f, vlog) = fixture("diskfull");
    let full = f.mkdir("pub/full", 0o755);
    let _mount = match Mount::tmpfs(&full, "size=1m,mode=0755") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipped: cannot mount a tmpfs here ({e})");
            return;
        }
    };
    chown(&full, account("ftp"));
    let inetd = f.inetd();
    let (mut c, mon, _) = login(&inetd);
    let seen = tree_of(mon);
    exact(
        &mut c,
        "CWD /pub/full",
        "250 Directory successfully changed.",
    );
    let big = random_bytes(3 << 20, 51);
    let (_, text) = upload(&mut c, "STOR big.bin", &big);
    assert_eq!(text, "452 Insufficient storage space on the server.");
    exact(&mut c, "NOOP", "200 NOOP ok.");
    let on_disk = assert_prefix_on_disk(&full.join("big.bin"), &big, 1);
    assert!(on_disk <= 1 << 20, "{on_disk} bytes on a 1 MiB file system");
    assert_eq!(
        wait_transfers(&vlog, "ftp", "FAIL UPLOAD", "/pub/full/big.bin", 1),
        [on_disk],
        "the log line counts what the file holds"
    );
    // Room again: the session goes on.
    exact(&mut c, "DELE big.bin", "250 Delete operation successful.");
    wait_line(
        &vlog,
        "[ftp] OK DELETE: Client \"127.0.0.1\", \"/pub/full/big.bin\"",
    );
    let small = random_bytes(100_000, 52);
    let (_, text) = upload(&mut c, "STOR small.bin", &small);
    assert_eq!(text, COMPLETE);
    assert!(std::fs::read(full.join("small.bin")).unwrap() == small);
    assert_eq!(
        wait_transfers(&vlog, "ftp", "OK UPLOAD", "/pub/full/small.bin", 1),
        [100_000]
    );
    exact(&mut c, "CWD /", "250 Directory successfully changed.");
    retr_small(&mut c);
    quit(&mut c);
    assert_nothing_left(&inetd, &f, &seen, "after a full disk");
}

/// Everything about a tree that a write could change: path, type, size, mode, owner,
/// mtime, and the sha256 of each file.
fn snapshot(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    for _ in 0..10_000 {
        let Some(dir) = todo.pop() else { break };
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let sum = if md.is_file() {
                common::sha256(&p)
            } else {
                String::new()
            };
            out.push(format!(
                "{} {:o} {} {}:{} {}.{} {sum}",
                p.strip_prefix(root).unwrap().display(),
                md.mode(),
                md.len(),
                md.uid(),
                md.gid(),
                md.mtime(),
                md.mtime_nsec()
            ));
            if md.is_dir() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A read-only file system under a local user's jail: every write is refused with its
/// reply (a user, not anonymous, so SITE CHMOD reaches the file system), nothing changes
/// on disk, downloads and listings still work, and the refused changes are logged.
#[test]
fn read_only_file_system_refuses_every_write_and_changes_nothing() {
    require_root!();
    let mut f = Fixture::new("faults-readonly");
    let vlog = f.dir.join("vsftpd.log");
    let jail = f.dir.join("ro");
    std::fs::create_dir(&jail).unwrap();
    let no_ftpusers = f.dir.join("no-ftpusers");
    let u = TempUser::build()
        .home(&f.dir.join("home"))
        .client_pass()
        .create();
    std::fs::create_dir_all(&u.home).unwrap();
    f.set("local_enable=YES")
        .set("anonymous_enable=NO")
        .set("write_enable=YES")
        .set("chroot_local_user=YES")
        .set(&format!("local_root={}", jail.display()))
        .set(&format!("ftpusers_file={}", no_ftpusers.display()))
        .set("xferlog_enable=YES")
        .set(&format!("vsftpd_log_file={}", vlog.display()));
    let mount = match Mount::tmpfs(&jail, "size=4m,mode=0755") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipped: cannot mount a tmpfs here ({e})");
            return;
        }
    };
    let me = (u.uid, u.gid);
    let w = jail.join("w");
    std::fs::create_dir(&w).unwrap();
    chown(&w, me);
    let body = random_bytes(100_000, 61);
    for (name, mode) in [("a.txt", 0o644), ("b.txt", 0o600)] {
        std::fs::write(w.join(name), &body).unwrap();
        std::fs::set_permissions(w.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
        chown(&w.join(name), me);
    }
    for d in ["sub", "keep"] {
        std::fs::create_dir(w.join(d)).unwrap();
        chown(&w.join(d), me);
    }
    std::fs::write(w.join("keep/inner.txt"), b"inner\n").unwrap();
    chown(&w.join("keep/inner.txt"), me);
    if let Err(e) = mount.remount_ro() {
        eprintln!("skipped: cannot remount the tmpfs read-only ({e})");
        return;
    }
    // The file system refuses even root now.
    assert!(std::fs::write(w.join("probe"), b"x").is_err());
    let before = snapshot(&jail);

    let inetd = f.inetd();
    let mut c = inetd.connect();
    let mon = monitor(&inetd);
    c.expect(&format!("USER {}", u.name), 331);
    c.expect(&format!("PASS {}", u.pass), 230);
    let seen = tree_of(mon);
    exact(&mut c, "CWD /w", "250 Directory successfully changed.");
    let user = u.name.clone();
    let refused = [
        // Opens for writing: EROFS is 550 Permission denied. Nothing is opened, so no 150.
        ("STOR new.bin", "550 Permission denied."),
        ("STOR a.txt", "550 Permission denied."),
        ("APPE a.txt", "550 Permission denied."),
        ("STOU", "550 Permission denied."),
        ("DELE a.txt", "550 Delete operation failed."),
        ("MKD newdir", "550 Create directory operation failed."),
        ("RMD sub", "550 Remove directory operation failed."),
        ("SITE CHMOD 600 a.txt", "550 SITE CHMOD command failed."),
        (
            "MDTM 20200101000000 a.txt",
            "550 Could not set file modification time.",
        ),
    ];
    for (cmd, want) in refused {
        let mut d = c.pasv();
        exact(&mut c, cmd, want);
        // The data connection is never used: the server has not even accepted it.
        d.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut one = [0u8; 1];
        assert!(
            !matches!(d.read(&mut one), Ok(1)),
            "{cmd}: data on the data connection"
        );
    }
    // REST then STOR opens without truncating: refused the same way.
    exact(&mut c, "REST 10", "350 Restart position accepted (10).");
    exact(&mut c, "STOR a.txt", "550 Permission denied.");
    exact(&mut c, "RNFR a.txt", "350 Ready for RNTO.");
    exact(&mut c, "RNTO moved.txt", "550 Rename failed.");
    exact(&mut c, "RNFR keep", "350 Ready for RNTO.");
    exact(&mut c, "RNTO sub/keep", "550 Rename failed.");
    // Reading works as before.
    let (data, code, text) = c.pasv_transfer("RETR a.txt");
    assert_eq!((code, text.as_str()), (226, COMPLETE));
    assert!(data == body);
    let (data, code, _) = c.pasv_transfer("NLST");
    assert_eq!(code, 226);
    let mut names: Vec<&str> = std::str::from_utf8(&data)
        .unwrap()
        .split_terminator("\r\n")
        .collect();
    names.sort();
    assert_eq!(names, ["a.txt", "b.txt", "keep", "sub"]);
    exact(&mut c, "SIZE a.txt", "213 100000");
    quit(&mut c);
    drop(c);
    assert_nothing_left(&inetd, &f, &seen, "after the read-only session");

    assert_eq!(snapshot(&jail), before, "the read-only tree changed");
    for (what, path) in [
        ("FAIL DELETE", "/w/a.txt"),
        ("FAIL MKDIR", "/w/newdir"),
        ("FAIL RMDIR", "/w/sub"),
        ("FAIL CHMOD", "/w/a.txt"),
        ("FAIL RENAME", "/w/a.txt /w/moved.txt"),
        ("FAIL RENAME", "/w/keep /w/sub/keep"),
    ] {
        wait_line(
            &vlog,
            &format!("[{user}] {what}: Client \"127.0.0.1\", \"{path}\""),
        );
    }
    assert_eq!(
        wait_transfers(&vlog, &user, "OK DOWNLOAD", "/w/a.txt", 1),
        [100_000]
    );
    for ok in [
        "OK UPLOAD",
        "OK DELETE",
        "OK MKDIR",
        "OK RMDIR",
        "OK RENAME",
        "OK CHMOD",
    ] {
        assert_no_line(&vlog, ok);
    }
    drop(inetd);
    drop(mount);
}

// ---------------------------------------------------------------------------------------
// 4. The file changes under a download.

#[test]
fn file_deleted_while_being_sent_arrives_whole() {
    require_root!();
    let (f, vlog) = fixture("deleted");
    let body = random_bytes(BIG, 71);
    let path = f.file("gone.bin", &body, 0o644);
    let inetd = f.inetd();
    let (mut c, mon, post) = login(&inetd);
    let (mut d, mut got) = start_retr(&mut c, "gone.bin", BIG, 512 << 10);
    transfer_child(post, Some(&path));
    let seen = tree_of(mon);
    std::fs::remove_file(&path).unwrap();
    // The open file lives on until the transfer ends.
    read_rest(&mut d, &mut got);
    assert_eq!(c.read_reply().1, COMPLETE);
    assert!(got == body, "{} bytes received of {BIG}", got.len());
    assert!(!path.exists());
    assert_eq!(
        wait_transfers(&vlog, "ftp", "OK DOWNLOAD", "/gone.bin", 1),
        [BIG as u64]
    );
    // The name is gone for the next command.
    let d = c.pasv();
    exact(&mut c, "RETR gone.bin", "550 Failed to open file.");
    drop(d);
    retr_small(&mut c);
    quit(&mut c);
    assert_nothing_left(&inetd, &f, &seen, "after the deleted file");
}

/// `fixture`, serving downloads through sendfile(2) or through the copy loop.
fn send_path_fixture(tag: &str, sendfile: bool) -> (Fixture, PathBuf) {
    let path = if sendfile { "sendfile" } else { "copy" };
    let (mut f, vlog) = fixture(&format!("{tag}-{path}"));
    f.set(if sendfile {
        "use_sendfile=YES"
    } else {
        "use_sendfile=NO"
    });
    (f, vlog)
}

/// Truncated under a download: the client gets a prefix of the original and a 451 (never
/// a 226 for a short copy), with sendfile and with plain copies.
#[test]
fn file_truncated_while_being_sent_is_451_with_a_prefix() {
    require_root!();
    for sendfile in [true, false] {
        let (f, vlog) = send_path_fixture("truncated", sendfile);
        let body = random_bytes(BIG, 81);
        let path = f.file("shrinks.bin", &body, 0o644);
        let inetd = f.inetd();
        let (mut c, mon, post) = login(&inetd);
        let mut seen = tree_of(mon);

        // Cut to 4 MiB while the first half MiB is on its way: exactly 4 MiB arrives.
        let (mut d, mut got) = start_retr(&mut c, "shrinks.bin", BIG, 512 << 10);
        transfer_child(post, Some(&path));
        seen.extend(tree_of(mon));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4 << 20)
            .unwrap();
        read_rest(&mut d, &mut got);
        let reply = c.read_reply().1;
        assert_eq!(
            got.len(),
            4 << 20,
            "sendfile={sendfile}: bytes received (reply {reply:?})"
        );
        assert!(body.starts_with(&got));
        assert_eq!(
            reply, "451 Failure reading local file.",
            "sendfile={sendfile}: a short copy is not complete"
        );
        assert_eq!(
            wait_transfers(&vlog, "ftp", "FAIL DOWNLOAD", "/shrinks.bin", 1),
            [4 << 20]
        );

        // Cut to nothing mid-transfer: what was sent is a prefix, and the log counts it.
        std::fs::write(&path, &body).unwrap();
        let (mut d, mut got) = start_retr(&mut c, "shrinks.bin", BIG, 512 << 10);
        transfer_child(post, Some(&path));
        seen.extend(tree_of(mon));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        read_rest(&mut d, &mut got);
        assert_eq!(c.read_reply().1, "451 Failure reading local file.");
        assert!(got.len() < 4 << 20 && body.starts_with(&got));
        assert_eq!(
            wait_transfers(&vlog, "ftp", "FAIL DOWNLOAD", "/shrinks.bin", 2)[1],
            got.len() as u64
        );
        assert_no_line(&vlog, "OK DOWNLOAD: Client \"127.0.0.1\", \"/shrinks.bin\"");
        retr_small(&mut c);
        quit(&mut c);
        assert_nothing_left(&inetd, &f, &seen, "after the truncated file");
    }
}

// ---------------------------------------------------------------------------------------
// 5. Not a regular file.

/// A FIFO (no writer), a unix socket and a character device (1,3 as /dev/null) in the
/// served tree: RETR of each answers at once with 550 (opening a FIFO or a device for
/// reading could block or read forever), and the session goes on.
#[test]
fn fifo_socket_and_device_are_refused_without_blocking() {
    require_root!();
    let (f, vlog) = fixture("special");
    let dir = f.mkdir("odd", 0o755);
    run(
        "mkfifo",
        &["-m", "0644", dir.join("fifo").to_str().unwrap()],
    )
    .unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap();
    std::fs::set_permissions(dir.join("sock"), std::fs::Permissions::from_mode(0o666)).unwrap();
    if let Err(e) = run(
        "mknod",
        &[
            "-m",
            "0666",
            dir.join("null").to_str().unwrap(),
            "c",
            "1",
            "3",
        ],
    ) {
        eprintln!("skipped: cannot mknod here ({e})");
        return;
    }
    let kinds = |name: &str| {
        std::fs::symlink_metadata(dir.join(name))
            .unwrap()
            .file_type()
    };
    assert!(kinds("fifo").is_fifo() && kinds("sock").is_socket() && kinds("null").is_char_device());

    let inetd = f.inetd();
    let (mut c, mon, post) = login(&inetd);
    let seen = tree_of(mon);
    // A blocked server fails the test in seconds, not at the harness's 20 s.
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for name in ["fifo", "sock", "null"] {
        for cmd in ["RETR", "SIZE"] {
            let want = if cmd == "RETR" {
                "550 Failed to open file."
            } else {
                "550 Could not get file size."
            };
            let d = c.pasv();
            exact(&mut c, &format!("{cmd} odd/{name}"), want);
            drop(d);
            assert_eq!(children(post), Vec::<u32>::new(), "no transfer child");
        }
    }
    exact(&mut c, "NOOP", "200 NOOP ok.");
    // The listing shows them without opening them.
    let (data, code, _) = c.pasv_transfer("LIST odd");
    assert_eq!(code, 226);
    let text = String::from_utf8(data).unwrap();
    let types: Vec<char> = text
        .split_terminator("\r\n")
        .map(|l| l.chars().next().unwrap())
        .collect();
    assert_eq!(types, ['p', 'c', 's'], "{text}");
    retr_small(&mut c);
    quit(&mut c);
    assert_nothing_left(&inetd, &f, &seen, "after the special files");
    // Nothing was downloaded from them, and each refusal is logged as a failed download of
    // no bytes (as vsftpd logs a RETR whose open fails).
    assert_no_line(&vlog, "OK DOWNLOAD: Client \"127.0.0.1\", \"/odd/");
    for name in ["fifo", "sock", "null"] {
        wait_line(
            &vlog,
            &format!(
                "[ftp] FAIL DOWNLOAD: Client \"127.0.0.1\", \"/odd/{name}\", 0 bytes, 0.00Kbyte/sec (incomplete)"
            ),
        );
    }
    // The FIFO is still a FIFO with nobody on it.
    assert!(kinds("fifo").is_fifo());
}

/// A file that grows while it is sent (a log being appended to) is a complete download:
/// at least the bytes it had when the transfer started arrive, then 226, with sendfile
/// and with the copy path.
#[test]
fn file_growing_while_being_sent_is_complete() {
    require_root!();
    for sendfile in [true, false] {
        let (f, vlog) = send_path_fixture("growing", sendfile);
        let body = random_bytes(BIG, 91);
        let path = f.file("grows.bin", &body, 0o644);
        let inetd = f.inetd();
        let (mut c, mon, post) = login(&inetd);
        let seen = tree_of(mon);
        let (mut d, mut got) = start_retr(&mut c, "grows.bin", BIG, 512 << 10);
        transfer_child(post, Some(&path));
        // Append while the rate-limited transfer runs.
        let extra = random_bytes(1 << 20, 92);
        {
            use std::io::Write;
            let mut a = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            a.write_all(&extra).unwrap();
        }
        read_rest(&mut d, &mut got);
        assert_eq!(c.read_reply().1, COMPLETE, "sendfile={sendfile}");
        assert!(got.len() >= BIG, "sendfile={sendfile}: {} bytes", got.len());
        assert_eq!(&got[..BIG], &body[..], "sendfile={sendfile}");
        assert_eq!(
            &got[BIG..],
            &extra[..got.len() - BIG],
            "sendfile={sendfile}"
        );
        let n = wait_transfers(&vlog, "ftp", "OK DOWNLOAD", "/grows.bin", 1)[0];
        assert_eq!(n, got.len() as u64);
        quit(&mut c);
        assert_nothing_left(&inetd, &f, &seen, "after the growing file");
    }
}
