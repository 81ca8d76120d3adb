//! Local users end to end (issue 3): throwaway system accounts with real yescrypt
//! passwords (useradd + chpasswd, `$y$` checked in /etc/shadow) log in to rsftpd under the
//! mini-inetd with curl, lftp, Python's ftplib and a raw control connection.
//!
//! - Logins and uploads: bytes (sha256), owner and mode on disk, for each client.
//! - Every refusal: the exact reply, that no process with the user's uid ever appeared
//!   (/proc polled every few ms for the whole attempt), and the syslog lines.
//! - The post-login identity from /proc/PID/status and /proc/PID/root.
//! - Jails: chroot_local_user, chroot_list, local_root + user_sub_token,
//!   passwd_chroot_enable, the writable-jail refusal, user_config_dir.
//! - Jail escapes, checked on disk outside the jail.
//!
//! Needs root (CI runs as root); skipped otherwise. Every account and group is created here
//! under a fresh `rsft-` name and removed by a Drop guard, even when an assertion fails;
//! existing accounts are never touched. Home directories live in the test's fixture
//! directory. Log assertions need the syslog capture of tests/common/syslog.rs; on a
//! machine with a live /dev/log (a syslog daemon) they are skipped with a message.
//! Every wait is bounded; every connection is on loopback.
mod common;
#[path = "common/syslog.rs"]
mod syslog;

use common::clients::{assert_ok, lftp_script, show};
use common::procs::{
    children, descendants, ids, monitor, procs_with_uid, status, uids_of, wait_for, wait_no_uid,
};
use common::users::{assert_shell_not_listed, db_field, fresh_name, run_tool, TempGroup, TempUser};
use common::{sha256, Ctl, Fixture, Inetd, TIMEOUT};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Accounts (made and removed by tests/common/users.rs)

/// A throwaway user (tests/common/users.rs) with a real yescrypt password that every client
/// takes as is, and a home directory path that is not created here (the test makes it
/// with the owner and mode it wants; see `make_home`). `home` is written to /etc/passwd as
/// given (it may contain `/./`).
fn local_user(home: &Path, extra: &[&str]) -> TempUser {
    TempUser::build()
        .home(home)
        .extra(extra)
        .client_pass()
        .create()
}

impl TempUser {
    /// Create the home directory (and its parents, root-owned 0755).
    fn make_home(&self, owned_by_user: bool, mode: u32) -> PathBuf {
        mkdir_owned(
            &self.home,
            owned_by_user.then_some((self.uid, self.gid)),
            mode,
        );
        self.home.clone()
    }
}

/// mkdir -p with root-owned 0755 parents, then set the last one's owner and mode.
fn mkdir_owned(p: &Path, owner: Option<(u32, u32)>, mode: u32) {
    if let Some(parent) = p.parent() {
        if !parent.exists() {
            mkdir_owned(parent, None, 0o755);
        }
    }
    if !p.exists() {
        std::fs::create_dir(p).unwrap();
    }
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(p, Some(u), Some(g)).unwrap();
    }
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Write a file with an owner and a mode.
fn put_file(p: &Path, content: &[u8], owner: Option<(u32, u32)>, mode: u32) {
    std::fs::write(p, content).unwrap();
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(p, Some(u), Some(g)).unwrap();
    }
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Pseudo-random bytes (deterministic per seed), so checksums mean something.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// /proc

/// What one scanner saw: the matches and how many scans it made.
#[derive(Debug)]
struct Seen {
    hits: Vec<String>,
    scans: usize,
}

type Scan<'a> = &'a (dyn Fn() -> Vec<String> + Sync);

/// Run `body` while one thread per scanner calls it every `period` (bounded: at most one
/// minute), collecting everything it reports. The scanners stop when `body` returns or
/// panics, after one last scan.
fn watch_during<R>(scans: &[(Scan, Duration)], body: impl FnOnce() -> R) -> (R, Vec<Seen>) {
    let stop = AtomicBool::new(false);
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = scans
            .iter()
            .map(|&(scan, period)| {
                let stop = &stop;
                s.spawn(move || {
                    let t = Instant::now();
                    let mut hits: Vec<String> = Vec::new();
                    let mut scans = 0;
                    loop {
                        // At least three passes in all, even when a loaded machine lets
                        // the body finish before this thread got the CPU: passes after
                        // the body still must see no such process.
                        let last = (stop.load(Ordering::SeqCst) && scans >= 2)
                            || t.elapsed() > Duration::from_secs(60);
                        for x in scan() {
                            if !hits.contains(&x) {
                                hits.push(x);
                            }
                        }
                        scans += 1;
                        if last {
                            return Seen { hits, scans };
                        }
                        std::thread::sleep(period);
                    }
                })
            })
            .collect();
        let r = {
            let _g = StopOnDrop(&stop);
            // Let the scanners make their first pass before the attempt starts.
            std::thread::sleep(Duration::from_millis(10));
            body()
        };
        (r, handles.into_iter().map(|h| h.join().unwrap()).collect())
    })
}

/// Processes below the inetd's monitors, as "pid uid,uid,uid,uid".
fn below_monitors(inetd: &Inetd) -> Vec<String> {
    let mut out = Vec::new();
    for mon in inetd.pids() {
        for p in descendants(mon) {
            if let Some(u) = uids_of(p) {
                out.push(format!("{p} {u:?}"));
            }
        }
    }
    out
}

/// Run `body` while watching for processes with `uid` in two ways: every process in /proc
/// (a full pass takes a few ms) and, every millisecond, the processes below the inetd's
/// monitors (where a session would be forked). Returns what each saw.
fn watch_uid<R>(inetd: &Inetd, uid: u32, body: impl FnOnce() -> R) -> (R, Vec<Seen>) {
    let all = || procs_with_uid(uid);
    let below = || {
        below_monitors(inetd)
            .into_iter()
            .filter(|l| {
                let ids: Vec<u32> = l
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|x| x.parse().ok())
                    .skip(1)
                    .collect();
                ids.contains(&uid)
            })
            .map(|l| l.split(' ').next().unwrap().to_string() + " rsftpd")
            .collect()
    };
    watch_during(
        &[
            (&all, Duration::from_millis(2)),
            (&below, Duration::from_millis(1)),
        ],
        body,
    )
}

/// Assert that neither scanner saw a process, and that both really scanned.
fn assert_never_seen(seen: &[Seen], what: &str) {
    for s in seen {
        assert!(
            s.scans >= 3,
            "{what}: a /proc scanner only made {} passes",
            s.scans
        );
        assert!(s.hits.is_empty(), "{what}: {:?}", s.hits);
    }
}

/// The monitor's only child once it runs with `uid`.
fn session_with_uid(mon: u32, uid: u32) -> u32 {
    wait_for(TIMEOUT, || match children(mon).as_slice() {
        [c] if uids_of(*c).is_some_and(|u| u == vec![uid; 4]) => Some(*c),
        _ => None,
    })
    .unwrap_or_else(|| {
        panic!(
            "monitor {mon} has no session with uid {uid}: {:?}",
            children(mon)
        )
    })
}

// ---------------------------------------------------------------------------------------
// Fixture, control connection, clients

/// A fixture for local users: local_enable, syslog, no anonymous logins, an ftpusers_file
/// that does not exist (so the system's /etc/ftpusers does not matter), and nobody as
/// ftp_username (which exists everywhere; anonymous logins are off anyway).
fn local_fixture(name: &str) -> Fixture {
    let mut f = Fixture::new(name);
    let no_ftpusers = f.dir.join("no-ftpusers");
    f.set("local_enable=YES")
        .set("anonymous_enable=NO")
        .set("ftp_username=nobody")
        .set("syslog_enable=YES")
        .set(&format!("ftpusers_file={}", no_ftpusers.display()));
    f
}

fn login(inetd: &Inetd, u: &TempUser) -> Ctl {
    let mut c = inetd.connect();
    c.expect(&format!("USER {}", u.name), 331);
    c.expect(&format!("PASS {}", u.pass), 230);
    c
}

/// The directory a PWD reply names.
fn pwd(c: &mut Ctl) -> String {
    let t = c.expect("PWD", 257);
    let a = t.find('"').unwrap();
    let b = t.rfind('"').unwrap();
    t[a + 1..b].replace("\"\"", "\"")
}

/// PASV + STOR (or APPE...) of `data`; the final reply (or the refusal of the command).
fn stor(c: &mut Ctl, cmd: &str, data: &[u8]) -> (u16, String) {
    let mut d = c.pasv();
    let (code, text) = c.cmd(cmd);
    if code != 150 && code != 125 {
        return (code, text);
    }
    let _ = d.write_all(data);
    drop(d);
    c.read_reply()
}

fn quit(c: &mut Ctl, inetd: &Inetd) {
    c.expect("QUIT", 221);
    assert!(
        inetd.wait_all_exited(TIMEOUT),
        "rsftpd processes left after QUIT"
    );
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

fn owner_of(p: &Path) -> (u32, u32) {
    let m = std::fs::metadata(p).unwrap();
    (m.uid(), m.gid())
}

/// Run a client under `timeout` (30 seconds), away from user configuration and proxies.
fn client(prog: &str, args: &[&str], cwd: &Path) -> Output {
    common::clients::run("30", prog, args, None, cwd)
}

/// A scratch directory for a client's files (root's, outside any home).
fn workdir(f: &Fixture) -> PathBuf {
    let w = f.dir.join("client");
    std::fs::create_dir_all(&w).unwrap();
    w
}

// ---------------------------------------------------------------------------------------
// Logs

/// Assert the lines a refused login logs: the vsftpd-shaped FAIL LOGIN line and the reason.
fn assert_fail_logged(user: &str, reason: &str) {
    if !syslog::capturing() {
        return;
    }
    let fail = format!("[{user}] FAIL LOGIN: Client \"127.0.0.1\"");
    let why = format!("[{user}] login refused: Client \"127.0.0.1\", \"{reason}\"");
    let got = syslog::wait_for_lines(user, &[&fail, &why], Duration::from_secs(5));
    assert!(
        got.contains(&fail) && got.contains(&why),
        "want {fail:?} and {why:?}; the log for {user} has {got:?}"
    );
    assert!(
        !got.iter().any(|l| l.contains("OK LOGIN")),
        "a refused login logged OK LOGIN: {got:?}"
    );
}

/// Assert a transfer line: `[user] OK UPLOAD: Client "127.0.0.1", "/path", N bytes` (vsftpd
/// goes on with `, rate`; whatever follows the byte count is not checked).
fn assert_transfer_logged(user: &str, verb: &str, path: &str, len: usize) {
    if !syslog::capturing() {
        return;
    }
    let want = format!("[{user}] {verb}: Client \"127.0.0.1\", \"{path}\", {len} bytes");
    let t = Instant::now();
    let mut got = syslog::lines_for(user);
    while !got.iter().any(|l| l.starts_with(&want)) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
        got = syslog::lines_for(user);
    }
    assert!(
        got.iter().any(|l| l.starts_with(&want)),
        "want {want:?}; the log for {user} has {got:?}"
    );
}

fn assert_ok_logged(user: &str) {
    if !syslog::capturing() {
        return;
    }
    let ok = format!("[{user}] OK LOGIN: Client \"127.0.0.1\"");
    let got = syslog::wait_for_lines(user, &[&ok], Duration::from_secs(5));
    assert!(
        got.contains(&ok),
        "want {ok:?}; the log for {user} has {got:?}"
    );
    assert!(
        !got.iter().any(|l| l.contains("FAIL LOGIN")),
        "a good login logged FAIL LOGIN: {got:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 1. Real clients: list, download, upload as a local user

/// A user with a home holding `down.bin`, and the bytes of the file to upload.
fn user_with_download(f: &Fixture, home_owned: bool, seed: u64) -> (TempUser, Vec<u8>, Vec<u8>) {
    let u = local_user(&f.dir.join("home").join(format!("c{seed}")), &[]);
    let home = u.make_home(home_owned, 0o755);
    let down = bytes(200_000 + seed as usize, seed);
    put_file(&home.join("down.bin"), &down, Some((u.uid, u.gid)), 0o644);
    let up = bytes(150_001, seed + 100);
    (u, down, up)
}

fn assert_upload(p: &Path, src: &Path, u: &TempUser, mode: u32, what: &str) {
    assert!(p.exists(), "{what}: {} was not written", p.display());
    assert_eq!(sha256(p), sha256(src), "{what}: checksum");
    assert_eq!(owner_of(p), (u.uid, u.gid), "{what}: owner");
    assert_eq!(mode_of(p), mode, "{what}: mode of {}", p.display());
}

#[test]
fn curl_lists_downloads_and_uploads_as_a_local_user() {
    require_root!();
    syslog::capturing();
    let mut f = local_fixture("lu-curl");
    f.set("write_enable=YES").set("local_umask=022");
    let (u, down, up) = user_with_download(&f, true, 1);
    let w = workdir(&f);
    let src = w.join("up.src");
    std::fs::write(&src, &up).unwrap();
    let inetd = f.inetd();
    let base = format!("ftp://127.0.0.1:{}", inetd.addr.port());
    let cred = format!("{}:{}", u.name, u.pass);

    let o = client("curl", &["-sS", "-u", &cred, &format!("{base}/")], &w);
    assert_ok("curl list", &o);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("down.bin"),
        "{}",
        show(&o)
    );
    let out = w.join("down.out");
    let o = client(
        "curl",
        &[
            "-sS",
            "-u",
            &cred,
            "-o",
            out.to_str().unwrap(),
            &format!("{base}/down.bin"),
        ],
        &w,
    );
    assert_ok("curl download", &o);
    assert_eq!(std::fs::read(&out).unwrap(), down);
    let o = client(
        "curl",
        &[
            "-sS",
            "-u",
            &cred,
            "-T",
            src.to_str().unwrap(),
            &format!("{base}/up-curl.bin"),
        ],
        &w,
    );
    assert_ok("curl upload", &o);
    assert_upload(&u.home.join("up-curl.bin"), &src, &u, 0o644, "curl -T");
    // --ftp-create-dirs: MKD with the same umask (directories 0755).
    let o = client(
        "curl",
        &[
            "-sS",
            "-u",
            &cred,
            "--ftp-create-dirs",
            "-T",
            src.to_str().unwrap(),
            &format!("{base}/newdir/deeper/up2.bin"),
        ],
        &w,
    );
    assert_ok("curl --ftp-create-dirs", &o);
    for d in ["newdir", "newdir/deeper"] {
        let p = u.home.join(d);
        assert_eq!(owner_of(&p), (u.uid, u.gid), "{d}");
        assert_eq!(mode_of(&p), 0o755, "{d}");
    }
    assert_upload(
        &u.home.join("newdir/deeper/up2.bin"),
        &src,
        &u,
        0o644,
        "curl --ftp-create-dirs -T",
    );
    assert!(inetd.wait_all_exited(TIMEOUT));
    assert_ok_logged(&u.name);
    let home = u.home_str();
    assert_transfer_logged(
        &u.name,
        "OK DOWNLOAD",
        &format!("{home}/down.bin"),
        down.len(),
    );
    assert_transfer_logged(
        &u.name,
        "OK UPLOAD",
        &format!("{home}/up-curl.bin"),
        up.len(),
    );
}

#[test]
fn lftp_lists_downloads_and_uploads_as_a_jailed_local_user() {
    require_root!();
    let mut f = local_fixture("lu-lftp");
    f.set("write_enable=YES")
        .set("local_umask=077")
        .set("chroot_local_user=YES");
    // Jailed: the home (the jail root) stays root's; uploads go to a directory of the user's.
    let (u, down, up) = user_with_download(&f, false, 2);
    mkdir_owned(&u.home.join("up"), Some((u.uid, u.gid)), 0o755);
    let w = workdir(&f);
    let src = w.join("up.src");
    std::fs::write(&src, &up).unwrap();
    let inetd = f.inetd();
    let script = lftp_script(
        "",
        &u.name,
        &u.pass,
        inetd.addr.port(),
        "quote PWD; cls -1; get down.bin -o down.out; put up.src -o /up/up-lftp.bin; cls -l /up",
    );
    let o = client("lftp", &["-c", &script], &w);
    assert_ok("lftp", &o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("down.bin") && text.contains("up-lftp.bin"),
        "{text}"
    );
    assert!(text.contains("257 \"/\""), "lftp PWD in the jail: {text}");
    assert_eq!(std::fs::read(w.join("down.out")).unwrap(), down);
    assert_upload(
        &u.home.join("up/up-lftp.bin"),
        &src,
        &u,
        0o600,
        "lftp put (umask 077)",
    );
    assert!(inetd.wait_all_exited(TIMEOUT));
    assert_ok_logged(&u.name);
}

const FTPLIB: &str = r#"
import ftplib, io, sys
port, user, pw, down_out, up_src = sys.argv[1:]
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", int(port), timeout=20)
ftp.login(user, pw)
print("PWD " + ftp.pwd())
names = ftp.nlst()
assert "down.bin" in names, names
buf = io.BytesIO()
ftp.retrbinary("RETR down.bin", buf.write)
open(down_out, "wb").write(buf.getvalue())
with open(up_src, "rb") as f:
    ftp.storbinary("STOR up-ftplib.bin", f)
lines = []
ftp.retrlines("LIST", lines.append)
print("\n".join(lines))
ftp.quit()
"#;

#[test]
fn ftplib_lists_downloads_and_uploads_as_a_local_user_in_a_writable_jail() {
    require_root!();
    let mut f = local_fixture("lu-ftplib");
    f.set("write_enable=YES")
        .set("local_umask=022")
        .set("chroot_local_user=YES")
        .set("allow_writeable_chroot=YES");
    let (u, down, up) = user_with_download(&f, true, 3);
    let w = workdir(&f);
    let src = w.join("up.src");
    std::fs::write(&src, &up).unwrap();
    let out = w.join("down.out");
    let inetd = f.inetd();
    let port = inetd.addr.port().to_string();
    let o = client(
        "python3",
        &[
            "-c",
            FTPLIB,
            &port,
            &u.name,
            &u.pass,
            out.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
        &w,
    );
    assert_ok("ftplib", &o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("PWD /\n"), "{text}");
    assert!(text.contains("up-ftplib.bin"), "{text}");
    assert_eq!(std::fs::read(&out).unwrap(), down);
    assert_upload(
        &u.home.join("up-ftplib.bin"),
        &src,
        &u,
        0o644,
        "ftplib STOR",
    );
    assert!(inetd.wait_all_exited(TIMEOUT));
    assert_ok_logged(&u.name);
    // Paths in the log are the jailed user's view.
    assert_transfer_logged(&u.name, "OK DOWNLOAD", "/down.bin", down.len());
    assert_transfer_logged(&u.name, "OK UPLOAD", "/up-ftplib.bin", up.len());
}

// ---------------------------------------------------------------------------------------
// 2. Refusals: the reply, no process with the user's uid, the log lines

/// One attempt: USER (expect 331), PASS `pass`, expect `530 Login incorrect.`, then the
/// session goes on (QUIT). Asserts that no process ever ran with the user's uid and that
/// the refusal was logged with `reason`.
fn assert_refused_at_pass(f: &Fixture, u: &TempUser, pass: &str, reason: &str) {
    syslog::capturing();
    let inetd = f.inetd();
    let ((), seen) = watch_uid(&inetd, u.uid, || {
        let mut c = inetd.connect();
        c.expect(&format!("USER {}", u.name), 331);
        let (code, text) = c.cmd(&format!("PASS {pass}"));
        assert_eq!(
            (code, text.as_str()),
            (530, "530 Login incorrect."),
            "PASS for {}",
            u.name
        );
        // The session goes on after a failure (max_login_fails is 3).
        c.expect("SYST", 530);
        quit(&mut c, &inetd);
    });
    assert_never_seen(
        &seen,
        &format!(
            "processes with uid {} ({}) after a refused PASS",
            u.uid, u.name
        ),
    );
    assert_fail_logged(&u.name, reason);
}

/// The same user logs in (the other side of a rule).
fn assert_logs_in(f: &Fixture, u: &TempUser) {
    let inetd = f.inetd();
    let mut c = login(&inetd, u);
    quit(&mut c, &inetd);
}

/// A user whose home is a root-owned directory in the fixture.
fn plain_user(f: &Fixture, extra: &[&str]) -> TempUser {
    let u = local_user(&f.dir.join("home").join(fresh_name("h")), extra);
    u.make_home(false, 0o755);
    u
}

#[test]
fn refused_wrong_password() {
    require_root!();
    let f = local_fixture("lu-wrongpw");
    let u = plain_user(&f, &[]);
    assert_refused_at_pass(&f, &u, "not-the-password", "wrong password");
    let almost = &u.pass[..u.pass.len() - 1];
    assert_refused_at_pass(&f, &u, almost, "wrong password");
    assert_logs_in(&f, &u);
}

#[test]
fn refused_locked_account() {
    require_root!();
    let f = local_fixture("lu-locked");
    let u = plain_user(&f, &[]);
    run_tool("usermod", &["-L", &u.name]);
    assert!(db_field("/etc/shadow", &u.name, 1)
        .unwrap()
        .starts_with("!$y$"));
    assert_refused_at_pass(&f, &u, &u.pass, "account locked or without a password");
    run_tool("usermod", &["-U", &u.name]);
    assert_logs_in(&f, &u);
}

#[test]
fn refused_expired_account() {
    require_root!();
    let f = local_fixture("lu-expired");
    let u = plain_user(&f, &[]);
    run_tool("chage", &["-E", "0", &u.name]);
    assert_refused_at_pass(&f, &u, &u.pass, "account or password expired");
    run_tool("chage", &["-E", "-1", &u.name]);
    assert_logs_in(&f, &u);
}

#[test]
fn refused_password_aged_out() {
    require_root!();
    let f = local_fixture("lu-aged");
    let u = plain_user(&f, &[]);
    run_tool("chage", &["-d", "2000-01-01", "-M", "10", &u.name]);
    assert_refused_at_pass(&f, &u, &u.pass, "account or password expired");
    run_tool("chage", &["-M", "-1", &u.name]);
    assert_logs_in(&f, &u);
}

#[test]
fn refused_shell_not_in_etc_shells_unless_check_shell_no() {
    require_root!();
    assert_shell_not_listed("/bin/false");
    let mut f = local_fixture("lu-shell");
    let u = plain_user(&f, &[]);
    run_tool("usermod", &["-s", "/bin/false", &u.name]);
    f.set("check_shell=YES");
    assert_refused_at_pass(
        &f,
        &u,
        &u.pass,
        "login shell not in /etc/shells (check_shell)",
    );
    f.set("check_shell=NO");
    assert_logs_in(&f, &u);
}

#[test]
fn refused_by_ftpusers_file() {
    require_root!();
    let mut f = local_fixture("lu-ftpusers");
    let u = plain_user(&f, &[]);
    let other = plain_user(&f, &[]);
    let list = f.dir.join("ftpusers");
    std::fs::write(&list, format!("# denied\nroot\n{}\n", u.name)).unwrap();
    f.set(&format!("ftpusers_file={}", list.display()));
    assert_refused_at_pass(&f, &u, &u.pass, "denied by ftpusers_file");
    // An unlisted user logs in with the same list.
    assert_logs_in(&f, &other);
}

/// USER is answered `530 Permission denied.` (no 331, no password asked); the session goes
/// on; no process with the uid; the refusal logged.
fn assert_refused_at_user(f: &Fixture, u: &TempUser) {
    syslog::capturing();
    let inetd = f.inetd();
    let ((), seen) = watch_uid(&inetd, u.uid, || {
        let mut c = inetd.connect();
        let (code, text) = c.cmd(&format!("USER {}", u.name));
        assert_eq!((code, text.as_str()), (530, "530 Permission denied."));
        // No password was asked for, so PASS has no user to go with.
        c.expect(&format!("PASS {}", u.pass), 503);
        quit(&mut c, &inetd);
    });
    assert_never_seen(
        &seen,
        &format!(
            "processes with uid {} ({}) after a refusal at USER",
            u.uid, u.name
        ),
    );
    assert_fail_logged(&u.name, "denied by userlist_file");
}

#[test]
fn userlist_deny_yes_refuses_listed_users_at_user() {
    require_root!();
    let mut f = local_fixture("lu-ul-deny");
    let listed = plain_user(&f, &[]);
    let other = plain_user(&f, &[]);
    let list = f.dir.join("user_list");
    std::fs::write(&list, format!("{}\n", listed.name)).unwrap();
    f.set("userlist_enable=YES")
        .set("userlist_deny=YES")
        .set(&format!("userlist_file={}", list.display()));
    assert_refused_at_user(&f, &listed);
    assert_logs_in(&f, &other);
}

#[test]
fn userlist_deny_no_admits_only_listed_users() {
    require_root!();
    let mut f = local_fixture("lu-ul-allow");
    let listed = plain_user(&f, &[]);
    let other = plain_user(&f, &[]);
    let list = f.dir.join("user_list");
    std::fs::write(&list, format!("{}\n", listed.name)).unwrap();
    f.set("userlist_enable=YES")
        .set("userlist_deny=NO")
        .set(&format!("userlist_file={}", list.display()));
    assert_refused_at_user(&f, &other);
    assert_logs_in(&f, &listed);
    assert_ok_logged(&listed.name);
}

#[test]
fn userlist_refusals_count_as_failed_logins() {
    require_root!();
    let mut f = local_fixture("lu-ul-count");
    let u = plain_user(&f, &[]);
    let list = f.dir.join("user_list");
    std::fs::write(&list, format!("{}\n", u.name)).unwrap();
    f.set("userlist_enable=YES")
        .set(&format!("userlist_file={}", list.display()))
        .set("max_login_fails=2");
    let inetd = f.inetd();
    let ((), seen) = watch_uid(&inetd, u.uid, || {
        let mut c = inetd.connect();
        c.expect(&format!("USER {}", u.name), 530);
        let (code, text) = c.cmd(&format!("USER {}", u.name));
        assert_eq!((code, text.as_str()), (530, "530 Permission denied."));
        // The second refusal reached max_login_fails: the server hung up.
        assert_eq!(c.read_reply().0, 0, "connection still open");
        assert!(inetd.wait_all_exited(TIMEOUT));
    });
    assert_never_seen(&seen, &format!("processes with uid {}", u.uid));
    assert_fail_logged(&u.name, "denied by userlist_file");
}

#[test]
fn too_many_failures_close_the_connection() {
    require_root!();
    syslog::capturing();
    let mut f = local_fixture("lu-maxfail");
    f.set("max_login_fails=2");
    let u = plain_user(&f, &[]);
    let inetd = f.inetd();
    let ((), seen) = watch_uid(&inetd, u.uid, || {
        let mut c = inetd.connect();
        c.expect(&format!("USER {}", u.name), 331);
        c.expect("PASS wrong-1", 530);
        c.expect(&format!("USER {}", u.name), 331);
        let (code, text) = c.cmd("PASS wrong-2");
        assert_eq!((code, text.as_str()), (530, "530 Login incorrect."));
        // Closed after the second failure: EOF, and every process of the session ends.
        let (code, text) = c.read_reply();
        assert_eq!(
            code, 0,
            "after max_login_fails the server still answered: {text}"
        );
        assert!(inetd.wait_all_exited(TIMEOUT), "the session did not end");
    });
    assert_never_seen(&seen, &format!("processes with uid {}", u.uid));
    assert_fail_logged(&u.name, "wrong password");
    if syslog::capturing() {
        let fails = syslog::lines_for(&u.name)
            .iter()
            .filter(|l| l.contains("FAIL LOGIN"))
            .count();
        assert_eq!(fails, 2, "{:?}", syslog::lines_for(&u.name));
    }
}

#[test]
fn local_enable_no_is_anonymous_only() {
    require_root!();
    syslog::capturing();
    let mut f = local_fixture("lu-nolocal");
    // Someone must be able to log in, or the configuration is refused.
    f.set("local_enable=NO").set("anonymous_enable=YES");
    let u = plain_user(&f, &[]);
    let inetd = f.inetd();
    let ((), seen) = watch_uid(&inetd, u.uid, || {
        let mut c = inetd.connect();
        let (code, text) = c.cmd(&format!("USER {}", u.name));
        assert_eq!(
            (code, text.as_str()),
            (530, "530 This FTP server is anonymous only.")
        );
        c.expect(&format!("PASS {}", u.pass), 503);
        quit(&mut c, &inetd);
    });
    assert_never_seen(&seen, &format!("processes with uid {}", u.uid));
    // As vsftpd, the refusal at USER is not a login attempt: nothing is logged for it,
    // and certainly no OK LOGIN.
    if syslog::capturing() {
        std::thread::sleep(Duration::from_millis(100));
        let got = syslog::lines_for(&u.name);
        assert!(!got.iter().any(|l| l.contains("OK LOGIN")), "{got:?}");
    }
}

#[test]
fn root_and_gid_0_accounts_are_refused() {
    require_root!();
    syslog::capturing();
    let f = local_fixture("lu-root");
    // gid 0 without uid 0: refused just the same.
    let g0 = plain_user(&f, &["-g", "0"]);
    assert_eq!(g0.gid, 0);
    for (name, pass) in [
        ("root", "whatever-it-is"),
        (g0.name.as_str(), g0.pass.as_str()),
    ] {
        let inetd = f.inetd();
        // The monitor is root by design, and each child it forks is root until it takes
        // its identity; so the check is that it never forks a second process (the
        // post-login session): the one child is the pre-login session, as nobody.
        let below = || {
            below_monitors(&inetd)
                .into_iter()
                .map(|l| l.split(' ').next().unwrap().to_string())
                .collect()
        };
        let (pre, seen) = watch_during(&[(&below, Duration::from_millis(1))], || {
            let mut c = inetd.connect();
            let pre = session_with_uid(monitor(&inetd), nobody_uid());
            c.expect(&format!("USER {name}"), 331);
            let (code, text) = c.cmd(&format!("PASS {pass}"));
            assert_eq!(
                (code, text.as_str()),
                (530, "530 Login incorrect."),
                "{name}"
            );
            assert_eq!(uids_of(pre), Some(vec![nobody_uid(); 4]));
            quit(&mut c, &inetd);
            pre
        });
        assert!(seen[0].scans >= 3);
        assert_eq!(
            seen[0].hits,
            vec![pre.to_string()],
            "the monitor forked more than the pre-login session for {name}"
        );
        assert_fail_logged(name, "account has uid or gid 0");
    }
    // The group-0 account never had a process of its own either.
    assert!(procs_with_uid(g0.uid).is_empty());
}

fn nobody_uid() -> u32 {
    db_field("/etc/passwd", "nobody", 2)
        .unwrap()
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// 3. The post-login identity

fn assert_session_identity(
    pid: u32,
    u: &TempUser,
    groups: &BTreeSet<u32>,
    root: &Path,
    cwd: &Path,
) {
    let st = status(pid).expect("session runs");
    assert_eq!(
        ids(&st["Uid"]),
        vec![u.uid; 4],
        "Uid (real, effective, saved, fs)"
    );
    assert_eq!(
        ids(&st["Gid"]),
        vec![u.gid; 4],
        "Gid (real, effective, saved, fs)"
    );
    let got: BTreeSet<u32> = ids(&st["Groups"]).into_iter().collect();
    assert_eq!(&got, groups, "supplementary groups");
    for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(st[cap], "0000000000000000", "{cap}");
    }
    assert_eq!(st["NoNewPrivs"], "1", "NoNewPrivs");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        root.canonicalize().unwrap(),
        "/proc/{pid}/root"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        cwd.canonicalize().unwrap(),
        "/proc/{pid}/cwd"
    );
}

#[test]
fn post_login_process_has_the_users_identity() {
    require_root!();
    let mut f = local_fixture("lu-ident");
    let g = TempGroup::new();
    let u = local_user(&f.dir.join("home/ident"), &[]);
    run_tool("usermod", &["-aG", &g.name, &u.name]);
    let groups: BTreeSet<u32> = [u.gid, g.gid].into_iter().collect();

    // Jailed: root-owned home is the jail, the session starts in "/".
    u.make_home(false, 0o755);
    f.set("chroot_local_user=YES");
    let inetd = f.inetd();
    let (session, seen) = watch_uid(&inetd, u.uid, || {
        let mut c = login(&inetd, &u);
        let mon = monitor(&inetd);
        let s = session_with_uid(mon, u.uid);
        assert_eq!(pwd(&mut c), "/");
        assert_session_identity(s, &u, &groups, &u.home, &u.home);
        // Long enough for several full passes of the /proc scan.
        std::thread::sleep(Duration::from_millis(100));
        quit(&mut c, &inetd);
        s
    });
    // The watchers the refusal tests rely on do see a session of the user's: both of them.
    for s in &seen {
        assert!(
            s.hits.iter().any(|h| h.starts_with(&format!("{session} "))),
            "the /proc watcher missed session {session}: {s:?}"
        );
    }
    drop(inetd);

    // Not jailed: root is "/", the session starts in the home (the user's own here).
    u.make_home(true, 0o755);
    f.set("chroot_local_user=NO");
    let inetd = f.inetd();
    let mut c = login(&inetd, &u);
    let s = session_with_uid(monitor(&inetd), u.uid);
    assert_eq!(pwd(&mut c), u.home_str());
    assert_session_identity(s, &u, &groups, Path::new("/"), &u.home);
    quit(&mut c, &inetd);
}

// ---------------------------------------------------------------------------------------
// 4. Jails

#[test]
fn chroot_local_user_jails_in_the_home() {
    require_root!();
    let mut f = local_fixture("lu-chroot");
    f.set("chroot_local_user=YES");
    let u = plain_user(&f, &[]);
    put_file(&u.home.join("mine.txt"), b"mine\n", None, 0o644);
    put_file(&u.home.join("roots.txt"), b"root only\n", None, 0o600);
    let inetd = f.inetd();
    let mut c = login(&inetd, &u);
    assert_eq!(pwd(&mut c), "/");
    // The session reads with the user's ids, not root's.
    let (data, code, _) = c.pasv_transfer("RETR roots.txt");
    assert_eq!((code, data.len()), (550, 0), "RETR of a root-only file");
    c.expect("CWD /..", 250);
    assert_eq!(pwd(&mut c), "/");
    c.expect("CWD ..", 250);
    assert_eq!(pwd(&mut c), "/");
    let (data, code, _) = c.pasv_transfer("RETR /etc/passwd");
    assert_eq!(code, 550, "RETR /etc/passwd inside the jail");
    assert!(data.is_empty());
    let (data, code, _) = c.pasv_transfer("RETR ../../../../etc/passwd");
    assert_eq!(code, 550);
    assert!(data.is_empty());
    let (data, code, _) = c.pasv_transfer("NLST");
    assert_eq!(code, 226);
    let mut names: Vec<String> = String::from_utf8_lossy(&data)
        .lines()
        .map(|l| l.trim().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["mine.txt", "roots.txt"]);
    quit(&mut c, &inetd);
}

#[test]
fn chroot_list_inverts_the_rule_per_user_both_ways() {
    require_root!();
    let mut f = local_fixture("lu-chlist");
    let a = plain_user(&f, &[]);
    let b = plain_user(&f, &[]);
    let list = f.dir.join("chroot_list");
    std::fs::write(&list, format!("{}\n", a.name)).unwrap();
    f.set("chroot_list_enable=YES")
        .set(&format!("chroot_list_file={}", list.display()));
    let check = |f: &Fixture, u: &TempUser, jailed: bool| {
        let inetd = f.inetd();
        let mut c = login(&inetd, u);
        let s = session_with_uid(monitor(&inetd), u.uid);
        let root = std::fs::read_link(format!("/proc/{s}/root")).unwrap();
        if jailed {
            assert_eq!(pwd(&mut c), "/", "{} jailed", u.name);
            assert_eq!(root, u.home.canonicalize().unwrap());
        } else {
            assert_eq!(pwd(&mut c), u.home_str(), "{} not jailed", u.name);
            assert_eq!(root, PathBuf::from("/"));
        }
        quit(&mut c, &inetd);
    };
    // chroot_local_user=YES: the list names the users who are NOT jailed.
    f.set("chroot_local_user=YES");
    check(&f, &a, false);
    check(&f, &b, true);
    // chroot_local_user=NO: the list names the users who ARE jailed.
    f.set("chroot_local_user=NO");
    check(&f, &a, true);
    check(&f, &b, false);
}

#[test]
fn local_root_with_user_sub_token_jails_there() {
    require_root!();
    let mut f = local_fixture("lu-localroot");
    let u = plain_user(&f, &[]);
    let srv = f.dir.join("srv").join(&u.name);
    mkdir_owned(&srv, None, 0o755);
    put_file(&srv.join("served-by-local-root"), b"x", None, 0o644);
    put_file(&u.home.join("in-home"), b"x", None, 0o644);
    let local_root = format!("local_root={}/srv/$USER", f.dir.display());
    f.set("chroot_local_user=YES")
        .set(&local_root)
        .set("user_sub_token=$USER");
    let inetd = f.inetd();
    let mut c = login(&inetd, &u);
    let s = session_with_uid(monitor(&inetd), u.uid);
    assert_eq!(pwd(&mut c), "/");
    assert_eq!(
        std::fs::read_link(format!("/proc/{s}/root")).unwrap(),
        srv.canonicalize().unwrap()
    );
    let (data, code, _) = c.pasv_transfer("NLST");
    assert_eq!(code, 226);
    assert_eq!(
        String::from_utf8_lossy(&data).trim(),
        "served-by-local-root"
    );
    quit(&mut c, &inetd);
}

#[test]
fn passwd_chroot_enable_jails_at_the_dot_and_starts_below_it() {
    require_root!();
    let mut f = local_fixture("lu-passwdchroot");
    let jail = f.dir.join("jail");
    mkdir_owned(&jail, None, 0o755);
    put_file(&jail.join("at-jail-root"), b"x", None, 0o644);
    let home_field = PathBuf::from(format!("{}/./home/pc", jail.display()));
    let u = local_user(&home_field, &[]);
    mkdir_owned(&jail.join("home"), None, 0o755);
    mkdir_owned(&jail.join("home/pc"), Some((u.uid, u.gid)), 0o755);
    f.set("chroot_local_user=YES")
        .set("passwd_chroot_enable=YES");
    let inetd = f.inetd();
    let mut c = login(&inetd, &u);
    let s = session_with_uid(monitor(&inetd), u.uid);
    assert_eq!(pwd(&mut c), "/home/pc");
    assert_eq!(
        std::fs::read_link(format!("/proc/{s}/root")).unwrap(),
        jail.canonicalize().unwrap()
    );
    let (data, code, _) = c.pasv_transfer("NLST /");
    assert_eq!(code, 226);
    let names = String::from_utf8_lossy(&data).to_string();
    assert!(
        names.contains("at-jail-root") && names.contains("home"),
        "{names}"
    );
    quit(&mut c, &inetd);
}

#[test]
fn writable_jail_is_refused_unless_allow_writeable_chroot() {
    require_root!();
    syslog::capturing();
    let mut f = local_fixture("lu-writable");
    f.set("chroot_local_user=YES").set("write_enable=YES");
    let u = local_user(&f.dir.join("home/wj"), &[]);
    let home = u.home_str();
    // Writable through its owner, then through its group.
    for (owned, mode) in [(true, 0o755), (false, 0o775)] {
        u.make_home(owned, mode);
        if !owned {
            std::os::unix::fs::chown(&u.home, Some(0), Some(u.gid)).unwrap();
        }
        let inetd = f.inetd();
        let mut c = inetd.connect();
        c.expect(&format!("USER {}", u.name), 331);
        let (code, text) = c.cmd(&format!("PASS {}", u.pass));
        assert_eq!(code, 500, "{text}");
        assert!(
            text.starts_with(&format!(
                "500 OOPS: refusing to run with writable root inside chroot(): {home} "
            )) && text.contains("allow_writeable_chroot=YES"),
            "{text}"
        );
        assert_eq!(c.read_reply().0, 0, "the connection ends after the OOPS");
        assert!(inetd.wait_all_exited(TIMEOUT));
    }
    assert!(
        wait_no_uid(u.uid, TIMEOUT),
        "a session of the user's lingers"
    );
    if syslog::capturing() {
        let got = syslog::lines_for(&home);
        assert_eq!(
            got.iter()
                .filter(|l| l.starts_with(&format!(
                    "refusing to run with writable root inside chroot(): {home} "
                )))
                .count(),
            2,
            "{got:?}"
        );
    }

    // Allowed: the user logs in and writes at the jail root.
    u.make_home(true, 0o755);
    f.set("allow_writeable_chroot=YES");
    let inetd = f.inetd();
    let mut c = login(&inetd, &u);
    assert_eq!(pwd(&mut c), "/");
    let (code, _) = stor(&mut c, "STOR at-root.txt", b"hello\n");
    assert_eq!(code, 226);
    assert_eq!(
        std::fs::read(u.home.join("at-root.txt")).unwrap(),
        b"hello\n"
    );
    quit(&mut c, &inetd);
}

#[test]
fn user_config_dir_overrides_write_enable_for_one_user() {
    require_root!();
    let mut f = local_fixture("lu-userconf");
    f.set("write_enable=YES");
    let ro = local_user(&f.dir.join("home/ro"), &[]);
    ro.make_home(true, 0o755);
    let rw = local_user(&f.dir.join("home/rw"), &[]);
    rw.make_home(true, 0o755);
    let confdir = f.dir.join("user_conf");
    mkdir_owned(&confdir, None, 0o755);
    put_file(&confdir.join(&ro.name), b"write_enable=NO\n", None, 0o644);
    f.set(&format!("user_config_dir={}", confdir.display()));
    let inetd = f.inetd();

    let mut c = login(&inetd, &ro);
    let (code, _) = stor(&mut c, "STOR denied.txt", b"no\n");
    assert_eq!(code, 550, "STOR with write_enable=NO from user_config_dir");
    assert!(!ro.home.join("denied.txt").exists());
    c.expect("QUIT", 221);

    let mut c = login(&inetd, &rw);
    let (code, _) = stor(&mut c, "STOR allowed.txt", b"yes\n");
    assert_eq!(code, 226);
    assert_eq!(
        std::fs::read(rw.home.join("allowed.txt")).unwrap(),
        b"yes\n"
    );
    assert_eq!(owner_of(&rw.home.join("allowed.txt")), (rw.uid, rw.gid));
    quit(&mut c, &inetd);
}

// ---------------------------------------------------------------------------------------
// 5. Jail escapes

/// Names, contents and modes of everything directly in `dir`.
fn snapshot(dir: &Path) -> BTreeMap<String, (String, u32)> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        let content = if md.is_file() {
            sha256(&p)
        } else {
            String::new()
        };
        m.insert(
            e.file_name().to_string_lossy().into_owned(),
            (content, md.mode() & 0o7777),
        );
    }
    m
}

#[test]
fn jail_escapes_stay_inside() {
    require_root!();
    let mut f = local_fixture("lu-escape");
    f.set("chroot_local_user=YES")
        .set("allow_writeable_chroot=YES")
        .set("write_enable=YES")
        .set("local_umask=022");
    let u = local_user(&f.dir.join("home/esc"), &[]);
    let home = u.make_home(true, 0o755);
    let own = Some((u.uid, u.gid));
    // Outside the jail: a world-writable directory and a file of the user's, so only the
    // jail (not permissions) can keep the session away from them.
    let outside = f.dir.join("outside");
    mkdir_owned(&outside, None, 0o777);
    let secret_name = format!("outside-secret-{}", std::process::id());
    let secret = outside.join(&secret_name);
    put_file(&secret, b"outside the jail\n", own, 0o600);
    // Planted by root inside the jail: links out of it, absolute and relative.
    let link = |name: &str, target: &Path| {
        std::os::unix::fs::symlink(target, home.join(name)).unwrap();
    };
    link("absdir", &outside);
    link("reldir", Path::new("../../outside"));
    link("abssecret", &secret);
    link("relsecret", &Path::new("../../outside").join(&secret_name));
    mkdir_owned(&home.join("sub"), own, 0o755);
    put_file(&home.join("sub/f.txt"), b"inside\n", own, 0o644);
    let before_outside = snapshot(&outside);
    let before_top = snapshot(&f.dir);
    let before_home_parent = snapshot(&f.dir.join("home"));

    let inetd = f.inetd();
    let mut c = login(&inetd, &u);
    // `..` and absolute paths.
    for dir in ["..", "/..", "../../..", "/../../"] {
        c.expect(&format!("CWD {dir}"), 250);
        assert_eq!(pwd(&mut c), "/", "CWD {dir}");
    }
    let real_secret = secret.to_str().unwrap().to_string();
    for path in [
        "/etc/passwd".to_string(),
        "../../../etc/passwd".to_string(),
        real_secret.clone(),
        format!("../../outside/{secret_name}"),
    ] {
        let (data, code, _) = c.pasv_transfer(&format!("RETR {path}"));
        assert_eq!(code, 550, "RETR {path}");
        assert!(data.is_empty());
    }
    // Through the planted links: nothing listed, read or written outside.
    for l in ["absdir", "reldir", "absdir/", "reldir/."] {
        for verb in ["LIST", "NLST"] {
            let (data, _, _) = c.pasv_transfer(&format!("{verb} {l}"));
            let text = String::from_utf8_lossy(&data);
            assert!(
                !text.contains(&secret_name),
                "{verb} {l} listed the outside directory: {text}"
            );
        }
        c.expect(&format!("CWD {l}"), 550);
        assert_eq!(pwd(&mut c), "/");
    }
    for l in [
        format!("absdir/{secret_name}"),
        format!("reldir/{secret_name}"),
        "abssecret".to_string(),
        "relsecret".to_string(),
    ] {
        let (data, code, _) = c.pasv_transfer(&format!("RETR {l}"));
        assert_eq!(code, 550, "RETR {l}");
        assert!(data.is_empty(), "RETR {l} read {} bytes", data.len());
    }
    for l in [
        "absdir/planted.txt",
        "reldir/planted.txt",
        "abssecret",
        "relsecret",
    ] {
        let (code, text) = stor(&mut c, &format!("STOR {l}"), b"planted\n");
        assert_eq!(code, 550, "STOR {l}: {text}");
    }
    let (code, text) = stor(&mut c, "STOR ../../planted-top.txt", b"planted\n");
    assert_eq!(code, 226, "{text}");
    // `../../planted-top.txt` is the jail's own /planted-top.txt.
    assert_eq!(
        std::fs::read(home.join("planted-top.txt")).unwrap(),
        b"planted\n"
    );
    // RNFR inside, RNTO up and out: stays in the jail.
    c.expect("CWD /sub", 250);
    c.expect("RNFR f.txt", 350);
    c.expect("RNTO ../../x.txt", 250);
    assert!(
        home.join("x.txt").exists(),
        "RNTO ../../x.txt lands at the jail root"
    );
    c.expect("RNFR /x.txt", 350);
    let (code, _) = c.cmd(&format!("RNTO {}/moved.txt", outside.display()));
    assert_eq!(code, 550, "RNTO to the real outside path");
    c.expect("RNFR /x.txt", 350);
    let (code, _) = c.cmd("RNTO /absdir/moved.txt");
    assert_eq!(code, 550, "RNTO through a link out of the jail");
    assert!(home.join("x.txt").exists());
    // SITE CHMOD through links to an outside file.
    c.expect("CWD /", 250);
    for l in ["abssecret", "relsecret", &format!("absdir/{secret_name}")] {
        let (code, text) = c.cmd(&format!("SITE CHMOD 777 {l}"));
        assert_eq!(code, 550, "SITE CHMOD 777 {l}: {text}");
    }
    let (code, _) = c.cmd(&format!("SITE CHMOD 777 {real_secret}"));
    assert_eq!(code, 550);
    quit(&mut c, &inetd);

    assert_eq!(mode_of(&secret), 0o600, "the outside file's mode changed");
    assert_eq!(
        snapshot(&outside),
        before_outside,
        "the outside directory changed"
    );
    assert_eq!(
        snapshot(&f.dir),
        before_top,
        "the fixture directory changed"
    );
    assert_eq!(
        snapshot(&f.dir.join("home")),
        before_home_parent,
        "the jail's parent changed"
    );
    // The links themselves are still the links root planted.
    assert_eq!(std::fs::read_link(home.join("abssecret")).unwrap(), secret);
}

// ---------------------------------------------------------------------------------------
// 6. Private homes

#[test]
fn private_home_0700_works_jailed_and_not_jailed() {
    require_root!();
    let mut f = local_fixture("lu-private");
    f.set("write_enable=YES");
    let u = local_user(&f.dir.join("home/private"), &[]);
    let home = u.make_home(true, 0o700);
    put_file(
        &home.join("mine.txt"),
        b"mine\n",
        Some((u.uid, u.gid)),
        0o600,
    );

    for jailed in [true, false] {
        if jailed {
            f.set("chroot_local_user=YES")
                .set("allow_writeable_chroot=YES");
        } else {
            f.set("chroot_local_user=NO");
        }
        let inetd = f.inetd();
        let mut c = login(&inetd, &u);
        let want = if jailed {
            "/".to_string()
        } else {
            u.home_str()
        };
        assert_eq!(pwd(&mut c), want, "jailed={jailed}");
        let (data, code, _) = c.pasv_transfer("RETR mine.txt");
        assert_eq!(
            (code, data.as_slice()),
            (226, &b"mine\n"[..]),
            "jailed={jailed}"
        );
        let name = format!("up-{jailed}.txt");
        let (code, _) = stor(&mut c, &format!("STOR {name}"), b"up\n");
        assert_eq!(code, 226, "jailed={jailed}");
        assert_eq!(owner_of(&home.join(&name)), (u.uid, u.gid));
        quit(&mut c, &inetd);
    }
}

/// The home is entered with the user's ids (what keeps root-squashed NFS homes working):
/// a home below a directory only root may search cannot be entered, jailed or not. With
/// root's ids it would be entered, so the refusal shows whose ids did the chdir. The
/// password was right (OK LOGIN is logged); the session cannot start, says so with 421
/// (vsftpd: `500 OOPS: cannot change directory`) and logs why.
#[test]
fn home_is_entered_with_the_users_ids() {
    require_root!();
    syslog::capturing();
    let mut f = local_fixture("lu-rootonly");
    let gate = f.dir.join("rootonly");
    mkdir_owned(&gate, None, 0o700);
    let u = local_user(&gate.join("home"), &[]);
    u.make_home(true, 0o755);
    for jailed in [true, false] {
        f.set(if jailed {
            "chroot_local_user=YES"
        } else {
            "chroot_local_user=NO"
        })
        .set("allow_writeable_chroot=YES");
        let inetd = f.inetd();
        let mut c = inetd.connect();
        c.expect(&format!("USER {}", u.name), 331);
        let (code, text) = c.cmd(&format!("PASS {}", u.pass));
        assert_eq!(
            (code, text.as_str()),
            (
                421,
                "421 Service not available (server error; see the system log)."
            ),
            "jailed={jailed}"
        );
        assert_eq!(c.read_reply().0, 0, "the connection ends");
        assert!(inetd.wait_all_exited(TIMEOUT));
    }
    assert!(
        wait_no_uid(u.uid, TIMEOUT),
        "a session of the user's lingers"
    );
    if syslog::capturing() {
        let why = format!(
            "cannot enter {} as user '{}': Permission denied (os error 13)",
            u.home_str(),
            u.name
        );
        let got = syslog::wait_for_lines(&u.name, &[&why], Duration::from_secs(5));
        assert_eq!(
            got.iter().filter(|l| **l == why).count(),
            2,
            "want {why:?} twice: {got:?}"
        );
    }
}

/// A user_config_dir file the user could edit would let them configure the root monitor:
/// the login is refused, with the reason logged.
#[test]
fn user_config_file_not_owned_by_root_refuses_the_login() {
    require_root!();
    let mut f = local_fixture("lu-userconf-owner");
    f.set("write_enable=YES");
    let u = local_user(&f.dir.join("home/uc"), &[]);
    u.make_home(true, 0o755);
    let confdir = f.dir.join("user_conf");
    mkdir_owned(&confdir, None, 0o755);
    let file = confdir.join(&u.name);
    put_file(&file, b"write_enable=YES\n", Some((u.uid, u.gid)), 0o644);
    f.set(&format!("user_config_dir={}", confdir.display()));
    let reason = format!(
        "{}: owned by uid {}; it must be owned by root (uid 0)",
        file.display(),
        u.uid
    );
    assert_refused_at_pass(&f, &u, &u.pass, &reason);
    // Owned by root, the same file is used.
    std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
    assert_logs_in(&f, &u);
}
