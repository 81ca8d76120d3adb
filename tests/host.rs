//! HOST (RFC 7151) with host_config_dir, REIN, LANG, SITE IDLE and cmds_allowed /
//! cmds_denied, end to end under the mini-inetd with exact replies.
//!
//! - HOST: each virtual host's own anon_root (files read back), the 220 text from a host
//!   file's ftpd_banner, name syntax (501), sequence (503 after USER and after login), host
//!   files that cannot be used (not root's, a key a host may not set, local_enable=YES
//!   without it in the main file, a bad value, an over-long banner, a directory): 504 and
//!   the main settings, with the reason in the log.
//! - REIN: the post-login process ends (and is reaped), a fresh pre-login process (the
//!   nopriv_user, chrooted in secure_chroot_dir, per /proc) answers 220, a second user logs
//!   in with their own identity, no passive listener survives, a transfer in progress
//!   finishes first, failed logins still count, the per-connection bound, and the refusal
//!   on a TLS control connection (Python's ftplib) while a clear one under ssl_enable
//!   starts over and then negotiates TLS.
//! - LANG, SITE IDLE (bounds, STAT, a shortened timeout that really ends the session) and
//!   the command filters before login, after login and during a transfer.
//!
//! Tests that make local users or own files as root skip without root (CI runs as root).
//! Every wait is bounded; every connection is on loopback; only processes the test's own
//! mini-inetd started are ever ended (by the harness, by PID).
mod common;
#[path = "common/syslog.rs"]
mod syslog;

use common::ftp::{big_file, exact, read_all};
use common::procs::{children, ids, monitor, proc_root, status, wait_for};
use common::users::TempUser;
use common::{Ctl, Fixture, TIMEOUT};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DENIED: &str = "550 Permission denied.";
const NOT_LOGGED_IN: &str = "530 Please login with USER and PASS.";
const UNKNOWN_HOST: &str = "504 Unknown virtual host.";
const HOST_OK: &str = "220 Host accepted.";
const REIN_OK: &str = "220 Service ready for new user.";

// ---------------------------------------------------------------------------------------
// Helpers

/// A directory under the fixture (root's, mode 0755) holding `files` (mode 0644).
fn tree(f: &Fixture, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let d = f.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (n, b) in files {
        let p = d.join(n);
        std::fs::write(&p, b).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    d
}

/// host_config_dir for the fixture (created, and set in its configuration).
fn host_dir(f: &mut Fixture) -> PathBuf {
    let d = tree(f, "hosts", &[]);
    f.set(&format!("host_config_dir={}", d.display()));
    d
}

/// A host file (mode 0644, owned by whoever runs the test unless `owner` says otherwise).
fn host_file(dir: &Path, name: &str, text: &str, owner: Option<(u32, u32)>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(&p, Some(u), Some(g)).unwrap();
    }
    p
}

/// NLST of the current directory, sorted.
fn names(c: &mut Ctl) -> Vec<String> {
    let (data, code, text) = c.pasv_transfer("NLST");
    assert_eq!(code, 226, "NLST: {text}");
    let mut v: Vec<String> = String::from_utf8_lossy(&data)
        .split_terminator("\r\n")
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// RETR a file over a passive connection; its bytes.
fn fetch(c: &mut Ctl, path: &str) -> Vec<u8> {
    let (data, code, text) = c.pasv_transfer(&format!("RETR {path}"));
    assert_eq!(code, 226, "RETR {path}: {text}");
    data
}

fn anonymous(c: &mut Ctl) {
    c.expect("USER anonymous", 331);
    c.expect("PASS guest@example.com", 230);
}

/// A throwaway local user whose home (theirs, 0755) is in the fixture.
fn local_user(f: &Fixture, tag: &str) -> TempUser {
    let home = f.dir.join("home").join(tag);
    let u = TempUser::build().home(&home).client_pass().create();
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(u.uid), Some(u.gid)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    u
}

fn login_as(c: &mut Ctl, u: &TempUser) {
    c.expect(&format!("USER {}", u.name), 331);
    c.expect(&format!("PASS {}", u.pass), 230);
}

/// A fixture that also lets local users in (no ftpusers file).
fn local_fixture(name: &str) -> Fixture {
    let mut f = Fixture::new(name);
    let none = f.dir.join("no-ftpusers");
    f.set("local_enable=YES")
        .set(&format!("ftpusers_file={}", none.display()));
    f
}

/// The uid and gid of a system account, from /etc/passwd.
fn account(name: &str) -> (u32, u32) {
    let text = std::fs::read_to_string("/etc/passwd").unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == name).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no account {name}"))
}

/// The monitor's only child, once it has exactly one that is not one of `not`.
fn only_child(mon: u32, not: &[u32]) -> u32 {
    wait_for(TIMEOUT, || match children(mon).as_slice() {
        [c] if !not.contains(c) => Some(*c),
        _ => None,
    })
    .unwrap_or_else(|| panic!("monitor {mon} children: {:?}", children(mon)))
}

/// The whole identity of a process that reads client bytes: uid and gid (all four),
/// no supplementary groups (unless `groups_ok`), no capabilities, no_new_privs, its root.
fn assert_identity(pid: u32, uid: u32, gid: u32, root: &Path, groups_ok: bool, what: &str) {
    let st = status(pid).unwrap_or_else(|| panic!("{what} {pid} is gone"));
    assert_eq!(ids(&st["Uid"]), vec![uid; 4], "{what}: Uid");
    assert_eq!(ids(&st["Gid"]), vec![gid; 4], "{what}: Gid");
    if !groups_ok {
        assert_eq!(st["Groups"], "", "{what}: supplementary groups");
    }
    for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(st[cap], "0000000000000000", "{what}: {cap}");
    }
    assert_eq!(st["NoNewPrivs"], "1", "{what}: NoNewPrivs");
    assert_eq!(proc_root(pid), root.canonicalize().unwrap(), "{what}: root");
}

/// Wait (bounded) until `pid` no longer runs (gone, or a zombie nobody reaped).
fn wait_gone(pid: u32) -> bool {
    wait_for(TIMEOUT, || {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        match state {
            None => Some(()),
            Some(s) => {
                let after = &s[s.rfind(')').unwrap() + 2..];
                after.starts_with('Z').then_some(())
            }
        }
    })
    .is_some()
}

/// The port a 227 reply announces.
fn pasv_port(text: &str) -> u16 {
    let inner = &text[text.find('(').unwrap() + 1..text.find(')').unwrap()];
    let n: Vec<u16> = inner
        .split(',')
        .map(|x| x.trim().parse().unwrap())
        .collect();
    n[4] * 256 + n[5]
}

// ---------------------------------------------------------------------------------------
// HOST

#[test]
fn host_selects_each_virtual_hosts_tree() {
    let mut f = Fixture::new("host-trees");
    f.file("main.txt", b"main tree\n", 0o644);
    let a = tree(&f, "site-a", &[("a.txt", b"first host\n")]);
    let b = tree(
        &f,
        "site-b",
        &[("b.txt", b"second host\n"), ("b2.txt", b"2\n")],
    );
    let v4 = tree(&f, "site-v4", &[("v4.txt", b"by address\n")]);
    let v6 = tree(&f, "site-v6", &[("v6.txt", b"by IPv6 address\n")]);
    let dir = host_dir(&mut f);
    host_file(
        &dir,
        "a.example",
        &format!(
            "anon_root={}\nftpd_banner=Welcome to A, the first host.\n",
            a.display()
        ),
        None,
    );
    host_file(
        &dir,
        "b.example",
        &format!("anon_root={}\n", b.display()),
        None,
    );
    host_file(
        &dir,
        "127.0.0.1",
        &format!("anon_root={}\n", v4.display()),
        None,
    );
    host_file(&dir, "::1", &format!("anon_root={}\n", v6.display()), None);
    let inetd = f.inetd();

    let mut c = inetd.connect();
    exact(
        &mut c,
        "HOST a.example",
        "220 Welcome to A, the first host.",
    );
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["a.txt"]);
    assert_eq!(fetch(&mut c, "a.txt"), b"first host\n");
    exact(&mut c, "RETR ../main.txt", "550 Failed to open file.");
    c.expect("QUIT", 221);

    // Case and a final dot do not matter: the name is made canonical.
    let mut c = inetd.connect();
    exact(&mut c, "HOST B.Example.", HOST_OK);
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["b.txt", "b2.txt"]);
    assert_eq!(fetch(&mut c, "b.txt"), b"second host\n");
    c.expect("QUIT", 221);

    // Without HOST: the main configuration.
    let mut c = inetd.login();
    assert_eq!(names(&mut c), ["main.txt"]);
    c.expect("QUIT", 221);

    // An unknown host changes nothing; the last accepted HOST before USER wins.
    let mut c = inetd.connect();
    exact(&mut c, "HOST nowhere.example", UNKNOWN_HOST);
    exact(
        &mut c,
        "HOST a.example",
        "220 Welcome to A, the first host.",
    );
    exact(&mut c, "HOST b.example", HOST_OK);
    exact(&mut c, "HOST nowhere.example", UNKNOWN_HOST);
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["b.txt", "b2.txt"]);
    c.expect("QUIT", 221);

    let mut c = inetd.connect();
    exact(&mut c, "HOST nowhere.example", UNKNOWN_HOST);
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["main.txt"]);
    c.expect("QUIT", 221);

    // Address literals: IPv4 as written, IPv6 in brackets (any spelling of it).
    let mut c = inetd.connect();
    exact(&mut c, "HOST 127.0.0.1", HOST_OK);
    anonymous(&mut c);
    assert_eq!(fetch(&mut c, "v4.txt"), b"by address\n");
    c.expect("QUIT", 221);
    let mut c = inetd.connect();
    exact(&mut c, "HOST [0:0:0::1]", HOST_OK);
    anonymous(&mut c);
    assert_eq!(fetch(&mut c, "v6.txt"), b"by IPv6 address\n");
    c.expect("QUIT", 221);
    common::assert_all_exited(&inetd);
}

#[test]
fn host_syntax_and_sequence() {
    // Without host_config_dir every well-formed name is accepted and changes nothing.
    let f = Fixture::new("host-syntax");
    f.file("main.txt", b"m\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    let (code, feat) = c.cmd("FEAT");
    assert_eq!(code, 211);
    assert!(feat.lines().any(|l| l == " HOST"), "{feat}");
    assert!(feat.lines().any(|l| l == " LANG EN*"), "{feat}");
    exact(&mut c, "HOST", "501 HOST needs a host name.");
    let long_label = format!("{}.example", "a".repeat(64));
    let long_name = vec!["abcdefghi"; 26].join(".");
    for bad in [
        "-bad.example",
        "bad-.example",
        "a..b",
        ".example",
        "a_b.example",
        "a b.example",
        "x/y.example",
        "../etc",
        "ftp.example.com..",
        "999.1.1.1",
        "01.2.3.4",
        "example.123",
        "2001:db8::1",
        "[::1",
        "[192.0.2.1]",
        "[fe80::1%lo]",
        "bücher.example",
        &long_label,
        &long_name,
    ] {
        exact(&mut c, &format!("HOST {bad}"), "501 Bad host name.");
    }
    exact(&mut c, "HOST ftp.example.com", HOST_OK);
    exact(&mut c, "HOST xn--bcher-kva.example", HOST_OK);
    exact(&mut c, "HOST [2001:db8::1]", HOST_OK);
    exact(&mut c, "HOST 192.0.2.1", HOST_OK);
    // RFC 7151: HOST comes before USER, and never after login.
    c.expect("USER anonymous", 331);
    exact(
        &mut c,
        "HOST ftp.example.com",
        "503 HOST must come before USER.",
    );
    c.expect("PASS guest@example.com", 230);
    exact(&mut c, "HOST ftp.example.com", "503 Already logged in.");
    exact(&mut c, "HOST", "503 Already logged in.");
    assert_eq!(names(&mut c), ["main.txt"]);
    c.expect("QUIT", 221);

    // A failed login does not reopen the window either.
    let mut c = inetd.connect();
    c.expect("USER nosuchuser", 530);
    exact(
        &mut c,
        "HOST ftp.example.com",
        "503 HOST must come before USER.",
    );
    c.expect("QUIT", 221);
    common::assert_all_exited(&inetd);
}

#[test]
fn host_files_that_cannot_be_used_get_504_and_the_main_settings() {
    require_root!();
    let log_checks = syslog::capturing();
    let mut f = Fixture::new("host-refused");
    f.set("syslog_enable=YES");
    f.file("main.txt", b"main\n", 0o644);
    let other = tree(&f, "other", &[("other.txt", b"other\n")]);
    let dir = host_dir(&mut f);
    let root_of = format!("anon_root={}\n", other.display());
    let nobody = account("nobody");
    let not_root_reason = format!(
        "owned by uid {}; it must be owned by root (uid 0)",
        nobody.0
    );
    // (host, file text, owner when not root, the reason logged)
    type Case<'a> = (&'a str, String, Option<(u32, u32)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "notroot.example",
            root_of.clone(),
            Some(nobody),
            &not_root_reason,
        ),
        (
            "listen.example",
            format!("{root_of}listen_port=2121\n"),
            None,
            "key 'listen_port' cannot be set in this file",
        ),
        (
            "tls.example",
            format!("{root_of}ssl_enable=YES\n"),
            None,
            "key 'ssl_enable' cannot be set in this file",
        ),
        (
            "local.example",
            format!("{root_of}local_enable=YES\n"),
            None,
            "local_enable=YES needs local_enable=YES in the main configuration",
        ),
        (
            "value.example",
            format!("{root_of}write_enable=maybe\n"),
            None,
            "'maybe' is not a boolean",
        ),
        (
            "banner.example",
            format!("{root_of}ftpd_banner={}\n", "x".repeat(513)),
            None,
            "ftpd_banner is longer than 512 bytes",
        ),
        (
            "nobody.example",
            format!("{root_of}anonymous_enable=NO\n"),
            None,
            "anonymous_enable and local_enable are both NO",
        ),
    ];
    for (name, text, owner, _) in &cases {
        host_file(&dir, name, text, *owner);
    }
    std::fs::create_dir(dir.join("dir.example")).unwrap();
    host_file(&dir, "good.example", &root_of, None);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "HOST good.example", HOST_OK);
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["other.txt"]);
    c.expect("QUIT", 221);
    for name in cases
        .iter()
        .map(|c| c.0)
        .chain(["dir.example", "absent.example"])
    {
        let mut c = inetd.connect();
        exact(&mut c, &format!("HOST {name}"), UNKNOWN_HOST);
        anonymous(&mut c);
        assert_eq!(names(&mut c), ["main.txt"], "after HOST {name}");
        c.expect("QUIT", 221);
    }
    common::assert_all_exited(&inetd);
    if log_checks {
        let tag = dir.to_str().unwrap();
        let logged = |l: &str, name: &str, why: &str| {
            l.contains("virtual host refused")
                && l.contains(&format!("{tag}/{name}"))
                && l.contains(why)
        };
        let all_logged = || {
            let got = syslog::lines_for(tag);
            cases
                .iter()
                .map(|c| (c.0, c.3))
                .chain([("dir.example", "not a regular file")])
                .all(|(name, why)| got.iter().any(|l| logged(l, name, why)))
        };
        assert!(
            wait_for(Duration::from_secs(5), || all_logged().then_some(())).is_some(),
            "refusals not all logged: {:#?}",
            syslog::lines_for(tag)
        );
        // The vsftpd-style lines record the choice (the name escaped as every client
        // string is).
        for (name, what) in [
            ("good.example", "OK HOST"),
            ("notroot.example", "FAIL HOST"),
        ] {
            let want = format!("{what}: Client \"127.0.0.1\", \"{name}\"");
            let got = wait_for(Duration::from_secs(5), || {
                syslog::lines_for(name).into_iter().find(|l| *l == want)
            });
            assert!(
                got.is_some(),
                "no {want:?} in {:#?}",
                syslog::lines_for(name)
            );
        }
    }
}

#[test]
fn host_settings_reach_the_user_command() {
    require_root!();
    let mut f = local_fixture("host-flags");
    f.file("main.txt", b"main\n", 0o644);
    let u = local_user(&f, "flags");
    let start = tree(&f, "start", &[]);
    let dir = host_dir(&mut f);
    host_file(&dir, "anon.example", "local_enable=NO\n", None);
    host_file(
        &dir,
        "users.example",
        &format!("anonymous_enable=NO\nlocal_root={}\n", start.display()),
        None,
    );
    let inetd = f.inetd();

    let mut c = inetd.connect();
    exact(&mut c, "HOST anon.example", HOST_OK);
    exact(
        &mut c,
        &format!("USER {}", u.name),
        "530 This FTP server is anonymous only.",
    );
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["main.txt"]);
    c.expect("QUIT", 221);

    let mut c = inetd.connect();
    exact(&mut c, "HOST users.example", HOST_OK);
    // "anonymous" is an ordinary (unknown) user name on this host.
    c.expect("USER anonymous", 331);
    exact(&mut c, "PASS guest@example.com", "530 Login incorrect.");
    login_as(&mut c, &u);
    let pwd = c.expect("PWD", 257);
    assert_eq!(
        pwd,
        format!("257 \"{}\" is the current directory", start.display())
    );
    c.expect("QUIT", 221);

    // The same user without HOST starts at home.
    let mut c = inetd.connect();
    login_as(&mut c, &u);
    let pwd = c.expect("PWD", 257);
    assert_eq!(
        pwd,
        format!("257 \"{}\" is the current directory", u.home.display())
    );
    c.expect("QUIT", 221);
    drop(inetd);
}

// ---------------------------------------------------------------------------------------
// LANG

#[test]
fn lang_accepts_english_only() {
    let f = Fixture::new("lang");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    for ok in ["LANG", "LANG EN", "LANG en", "LANG en-US", "LANG EN-gb"] {
        exact(&mut c, ok, "200 Responses are in English.");
    }
    for no in [
        "LANG FR",
        "LANG de-DE",
        "LANG en_US",
        "LANG english",
        "LANG EN-",
    ] {
        exact(&mut c, no, "504 Unsupported language.");
    }
    anonymous(&mut c);
    exact(&mut c, "LANG EN", "200 Responses are in English.");
    exact(&mut c, "LANG ja", "504 Unsupported language.");
    let (_, feat) = c.cmd("FEAT");
    assert!(feat.lines().any(|l| l == " LANG EN*"), "{feat}");
    c.expect("QUIT", 221);
}

// ---------------------------------------------------------------------------------------
// SITE IDLE

#[test]
fn site_idle_shows_and_shortens_the_timeout_within_bounds() {
    require_root!();
    let mut f = local_fixture("site-idle");
    f.set("idle_session_timeout=600");
    let u = local_user(&f, "idle");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    login_as(&mut c, &u);
    // write_enable=NO: SITE IDLE changes nothing on disk and stays available.
    exact(&mut c, "SITE CHMOD 600 x", DENIED);
    exact(
        &mut c,
        "SITE IDLE",
        "200 Current IDLE time limit is 600 seconds; max 600",
    );
    for bad in ["29", "601", "0", "-5", "abc", "30s", "99999999999"] {
        exact(
            &mut c,
            &format!("SITE IDLE {bad}"),
            "501 Maximum IDLE time must be between 30 and 600 seconds",
        );
    }
    exact(
        &mut c,
        "site idle 600",
        "200 Maximum IDLE time set to 600 seconds",
    );
    exact(
        &mut c,
        "SITE IDLE 45",
        "200 Maximum IDLE time set to 45 seconds",
    );
    exact(
        &mut c,
        "SITE IDLE",
        "200 Current IDLE time limit is 45 seconds; max 600",
    );
    let (_, stat) = c.cmd("STAT");
    assert!(
        stat.lines()
            .any(|l| l == "     Session timeout in seconds is 45"),
        "{stat}"
    );
    exact(&mut c, "SITE HELP", DENIED);
    c.expect("QUIT", 221);

    // No timeout configured: a client may choose one, up to 7200 seconds.
    let mut f = local_fixture("site-idle0");
    f.set("idle_session_timeout=0").set("write_enable=YES");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    login_as(&mut c, &u);
    exact(
        &mut c,
        "SITE IDLE",
        "200 No current IDLE time limit; max 7200",
    );
    exact(
        &mut c,
        "SITE IDLE 7201",
        "501 Maximum IDLE time must be between 30 and 7200 seconds",
    );
    exact(
        &mut c,
        "SITE IDLE 7200",
        "200 Maximum IDLE time set to 7200 seconds",
    );
    exact(&mut c, "SITE HELP", "214 CHMOD IDLE UMASK HELP");
    c.expect("QUIT", 221);

    // Anonymous sessions get no SITE command at all.
    let mut c = inetd.login();
    exact(&mut c, "SITE IDLE", DENIED);
    exact(&mut c, "SITE IDLE 60", DENIED);
    c.expect("QUIT", 221);
    drop(inetd);
}

#[test]
fn site_idle_shorter_timeout_ends_a_silent_session() {
    require_root!();
    let mut f = local_fixture("site-idle-end");
    f.set("idle_session_timeout=600");
    let u = local_user(&f, "idleend");
    let inetd = f.inetd();
    let mut short = inetd.connect();
    login_as(&mut short, &u);
    exact(
        &mut short,
        "SITE IDLE 30",
        "200 Maximum IDLE time set to 30 seconds",
    );
    let set_at = Instant::now();
    let mut long = inetd.connect();
    login_as(&mut long, &u);
    // Silent from now on: 421 after 30 seconds (not 600).
    short
        .stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(short.read_reply(), (421, "421 Timeout.".to_string()));
    let waited = set_at.elapsed();
    assert!(
        waited >= Duration::from_secs(29) && waited < Duration::from_secs(60),
        "{waited:?}"
    );
    assert_eq!(short.read_reply().0, 0, "closed after 421");
    // The other session keeps the configured timeout.
    exact(&mut long, "NOOP", "200 NOOP ok.");
    long.expect("QUIT", 221);
    drop(inetd);
}

// ---------------------------------------------------------------------------------------
// cmds_allowed / cmds_denied

#[test]
fn cmds_allowed_filters_before_and_after_login() {
    let mut f = Fixture::new("cmds-allowed");
    f.file("hello.txt", b"hello\n", 0o644);
    f.set("cmds_allowed=PASV, retr,PWD,QUIT");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    // Before login: everything but the login and TLS commands is filtered.
    for cmd in [
        "FEAT",
        "HELP",
        "SYST",
        "NOOP",
        "OPTS UTF8 ON",
        "HOST a.example",
        "LANG EN",
        "XYZZY",
        "CWD /",
    ] {
        exact(&mut c, cmd, DENIED);
    }
    anonymous(&mut c);
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    assert_eq!(fetch(&mut c, "hello.txt"), b"hello\n");
    for cmd in [
        "CWD /",
        "LIST",
        "NLST",
        "SIZE hello.txt",
        "FEAT",
        "NOOP",
        "SYST",
        "TYPE I",
        "EPSV",
        "STAT",
        "ABOR",
        "REIN",
        "XYZZY",
        "USER anonymous",
        "HELP",
    ] {
        exact(&mut c, cmd, DENIED);
    }
    c.expect("QUIT", 221);

    // QUIT itself is filtered after login (as vsftpd) but never before.
    let mut f = Fixture::new("cmds-allowed-noquit");
    f.set("cmds_allowed=PWD");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "NOOP", DENIED);
    // PWD is allowed, so before login it gets the usual answer.
    exact(&mut c, "PWD", NOT_LOGGED_IN);
    anonymous(&mut c);
    exact(&mut c, "QUIT", DENIED);
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    drop(c);
    common::assert_all_exited(&inetd);
    let mut c = inetd.connect();
    c.expect("QUIT", 221);
}

#[test]
fn cmds_denied_filters_before_and_after_login() {
    let mut f = Fixture::new("cmds-denied");
    f.file("hello.txt", b"hello\n", 0o644);
    f.set("cmds_denied=retr,FEAT,HOST,SIZE,REIN");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "FEAT", DENIED);
    exact(&mut c, "HOST a.example", DENIED);
    exact(&mut c, "REIN", DENIED);
    exact(&mut c, "LANG EN", "200 Responses are in English.");
    exact(&mut c, "SYST", NOT_LOGGED_IN);
    anonymous(&mut c);
    let _d = c.pasv();
    exact(&mut c, "RETR hello.txt", DENIED);
    exact(&mut c, "Retr hello.txt", DENIED);
    exact(&mut c, "SIZE hello.txt", DENIED);
    exact(&mut c, "FEAT", DENIED);
    exact(&mut c, "REIN", DENIED);
    exact(&mut c, "NOOP", "200 NOOP ok.");
    let (data, code, _) = c.pasv_transfer("NLST");
    assert_eq!((code, data), (226, b"hello.txt\r\n".to_vec()));
    c.expect("QUIT", 221);
    common::assert_all_exited(&inetd);
}

/// Start a RETR of a large file without reading it, so the transfer is still running.
fn stuck_retr(c: &mut Ctl, name: &str) -> TcpStream {
    let data = c.pasv();
    let (code, text) = c.cmd(&format!("RETR {name}"));
    assert_eq!(code, 150, "{text}");
    data
}

#[test]
fn cmds_filters_apply_during_a_transfer() {
    const BIG: u64 = 64 << 20;
    let mut f = Fixture::new("cmds-xfer");
    big_file(&f, "big", BIG);
    f.set("cmds_denied=STAT,NOOP,QUIT");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let data = stuck_retr(&mut c, "big");
    exact(&mut c, "STAT", DENIED);
    exact(&mut c, "NOOP", DENIED);
    exact(&mut c, "QUIT", DENIED);
    // QUIT was refused, so the transfer runs to its end and the session goes on.
    assert_eq!(read_all(data).len() as u64, BIG);
    assert_eq!(c.read_reply(), (226, "226 Transfer complete.".to_string()));
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    exact(&mut c, "QUIT", DENIED);
    drop(c);
    common::assert_all_exited(&inetd);

    // ABOR denied: the transfer goes on; allowed: it ends with 426 and 226.
    let mut f = Fixture::new("cmds-xfer-abor");
    big_file(&f, "big", BIG);
    f.set("cmds_allowed=PASV,RETR,ABOR,QUIT");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let data = stuck_retr(&mut c, "big");
    exact(&mut c, "STAT", DENIED);
    exact(&mut c, "NOOP", DENIED);
    c.send("ABOR");
    assert_eq!(c.read_reply().0, 426);
    assert_eq!(c.read_reply(), (226, "226 ABOR successful.".to_string()));
    drop(data);
    // A command that waits for the transfer (PWD) is filtered when its turn comes.
    let data = stuck_retr(&mut c, "big");
    c.send("PWD");
    assert_eq!(read_all(data).len() as u64, BIG);
    assert_eq!(c.read_reply(), (226, "226 Transfer complete.".to_string()));
    assert_eq!(c.read_reply(), (550, DENIED.to_string()));
    c.expect("QUIT", 221);
    common::assert_all_exited(&inetd);
}

// ---------------------------------------------------------------------------------------
// REIN

#[test]
fn rein_ends_the_session_and_a_fresh_prelogin_serves_the_next_user() {
    require_root!();
    let mut f = local_fixture("rein");
    f.set("write_enable=YES").set("local_umask=022");
    f.file("anon.txt", b"anonymous tree\n", 0o644);
    let one = local_user(&f, "one");
    let two = local_user(&f, "two");
    let (nuid, ngid) = account("nobody");
    let (fuid, fgid) = account("ftp");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    let mon = monitor(&inetd);
    let pre1 = only_child(mon, &[]);
    assert_identity(pre1, nuid, ngid, &f.empty, false, "first pre-login");

    login_as(&mut c, &one);
    let post1 = only_child(mon, &[pre1]);
    assert_identity(
        post1,
        one.uid,
        one.gid,
        Path::new("/"),
        true,
        "first session",
    );
    let (code, text) = c.cmd("PASV");
    assert_eq!(code, 227, "{text}");
    let old_port = pasv_port(&text);
    exact(&mut c, "REIN", REIN_OK);
    // The old session is gone (reaped by the monitor) before the new one answers.
    assert!(wait_gone(post1), "the first session {post1} still runs");
    let pre2 = only_child(mon, &[pre1, post1]);
    assert_identity(pre2, nuid, ngid, &f.empty, false, "pre-login after REIN");
    // Its passive listener went with it.
    assert!(
        TcpStream::connect(("127.0.0.1", old_port)).is_err(),
        "the passive port of the ended session still accepts"
    );
    // Logged out: back to the pre-login rules, HOST allowed again.
    exact(&mut c, "PWD", NOT_LOGGED_IN);
    exact(&mut c, "HOST ftp.example.com", HOST_OK);

    login_as(&mut c, &two);
    let post2 = only_child(mon, &[pre1, post1, pre2]);
    assert_identity(
        post2,
        two.uid,
        two.gid,
        Path::new("/"),
        true,
        "second session",
    );
    let pwd = c.expect("PWD", 257);
    assert!(pwd.contains(two.home.to_str().unwrap()), "{pwd}");
    let mut data = c.pasv();
    c.expect("STOR two.txt", 150);
    std::io::Write::write_all(&mut data, b"written by two\n").unwrap();
    drop(data);
    assert_eq!(c.read_reply().0, 226);
    let p = two.home.join("two.txt");
    assert_eq!(std::fs::read(&p).unwrap(), b"written by two\n");
    let md = std::fs::metadata(&p).unwrap();
    assert_eq!((md.uid(), md.gid()), (two.uid, two.gid));

    // And once more, to an anonymous session (pipelined behind REIN).
    c.send_raw(b"REIN\r\nUSER anonymous\r\n");
    assert_eq!(c.read_reply(), (220, REIN_OK.to_string()));
    assert_eq!(c.read_reply().0, 331);
    c.expect("PASS guest@example.com", 230);
    assert!(wait_gone(post2), "the second session {post2} still runs");
    let post3 = only_child(mon, &[pre1, post1, pre2, post2]);
    assert_identity(post3, fuid, fgid, &f.root, false, "anonymous session");
    assert_eq!(fetch(&mut c, "anon.txt"), b"anonymous tree\n");
    c.expect("QUIT", 221);
    common::assert_all_exited(&inetd);
}

#[test]
fn rein_before_login_forgets_user_and_host_but_not_failures() {
    let mut f = local_fixture("rein-pre");
    f.file("main.txt", b"main\n", 0o644);
    let a = tree(&f, "site-a", &[("a.txt", b"a\n")]);
    let dir = host_dir(&mut f);
    host_file(
        &dir,
        "a.example",
        &format!("anon_root={}\n", a.display()),
        None,
    );
    f.set("max_login_fails=2");
    let inetd = f.inetd();

    let mut c = inetd.connect();
    exact(&mut c, "HOST a.example", HOST_OK);
    c.expect("USER anonymous", 331);
    exact(&mut c, "REIN", REIN_OK);
    exact(
        &mut c,
        "PASS guest@example.com",
        "503 Login with USER first.",
    );
    // The host was forgotten: the main tree.
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["main.txt"]);
    // After login, REIN forgets the host too.
    c.expect("REIN", 220);
    exact(&mut c, "HOST a.example", HOST_OK);
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["a.txt"]);
    exact(&mut c, "REIN", REIN_OK);
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["main.txt"]);
    c.expect("QUIT", 221);

    // Failed logins count for the whole connection: REIN buys no more guesses.
    let mut c = inetd.connect();
    c.expect("USER nosuchuser", 331);
    exact(&mut c, "PASS wrong", "530 Login incorrect.");
    exact(&mut c, "REIN", REIN_OK);
    anonymous(&mut c);
    exact(&mut c, "REIN", REIN_OK);
    c.expect("USER nosuchuser", 331);
    exact(&mut c, "PASS wrong", "530 Login incorrect.");
    assert_eq!(c.read_reply().0, 0, "closed after max_login_fails in all");
    common::assert_all_exited(&inetd);
}

#[test]
fn rein_waits_for_a_transfer_and_is_bounded() {
    let f = Fixture::new("rein-xfer");
    big_file(&f, "big", 32 << 20);
    let inetd = f.inetd();
    let mut c = inetd.login();
    // RFC 959: a transfer in progress completes first.
    let data = stuck_retr(&mut c, "big");
    c.send("REIN");
    assert_eq!(read_all(data).len() as u64, 32 << 20);
    assert_eq!(c.read_reply(), (226, "226 Transfer complete.".to_string()));
    assert_eq!(c.read_reply(), (220, REIN_OK.to_string()));
    exact(&mut c, "REIN", "220 Service ready for new user.");
    // One connection may start over at most 100 times (two done above).
    for i in 3..=100 {
        let (code, text) = c.cmd("REIN");
        assert_eq!((code, text.as_str()), (220, REIN_OK), "REIN number {i}");
    }
    exact(
        &mut c,
        "REIN",
        "502 Too many REIN commands on this connection.",
    );
    anonymous(&mut c);
    exact(
        &mut c,
        "REIN",
        "502 Too many REIN commands on this connection.",
    );
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    c.expect("QUIT", 221);
    common::assert_all_exited(&inetd);
}

#[test]
fn development_mode_serves_host_and_rein_in_one_process() {
    let mut f = Fixture::new("host-dev");
    f.set("run_as_launching_user=YES");
    f.file("main.txt", b"main\n", 0o644);
    let a = tree(&f, "site-a", &[("a.txt", b"a\n")]);
    let dir = host_dir(&mut f);
    host_file(
        &dir,
        "a.example",
        &format!("anon_root={}\nftpd_banner=Host A here.\n", a.display()),
        None,
    );
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "HOST a.example", "220 Host A here.");
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["a.txt"]);
    exact(&mut c, "HOST a.example", "503 Already logged in.");
    exact(&mut c, "REIN", REIN_OK);
    exact(&mut c, "HOST nowhere.example", UNKNOWN_HOST);
    anonymous(&mut c);
    assert_eq!(names(&mut c), ["main.txt"]);
    c.expect("QUIT", 221);
    common::assert_all_exited(&inetd);
}

/// A self-signed RSA certificate and key (PEM) for TLS tests, made with openssl.
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let o = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (cert, key)
}

/// Python's ftplib against the server: clear login, REIN, then AUTH TLS, a TLS login and
/// a private listing; and REIN refused on a TLS control connection (before and after
/// login). Prints one line per checked reply.
const TLS_REIN_SCRIPT: &str = r#"
import ftplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def rein(f):
    try:
        return f.sendcmd("REIN")
    except ftplib.error_perm as e:
        return str(e)
f = ftplib.FTP_TLS(context=ctx, timeout=20)
f.connect("127.0.0.1", port)
print(f.sendcmd("USER anonymous"))
print(f.sendcmd("PASS guest@example.com"))
print(rein(f))
print(f.auth())
print(f.sendcmd("PBSZ 0"))
print(rein(f))
print(f.login("anonymous", "guest@example.com"))
print(f.prot_p())
print(f.nlst())
print(rein(f))
print(f.pwd())
print(f.quit())
"#;

#[test]
fn rein_on_a_clear_connection_under_ssl_enable_then_tls_and_refused_on_tls() {
    require_root!();
    let mut f = Fixture::new("rein-tls");
    let (cert, key) = make_cert(&f.dir);
    f.set("ssl_enable=YES")
        .set(&format!("rsa_cert_file={}", cert.display()))
        .set(&format!("rsa_private_key_file={}", key.display()))
        .set("allow_anon_ssl=YES")
        // Stock ftplib does not resume the control connection's TLS session.
        .set("require_ssl_reuse=NO");
    f.file("main.txt", b"main\n", 0o644);
    let inetd = f.inetd();
    let o = std::process::Command::new("timeout")
        .args(["60", "python3", "-c", TLS_REIN_SCRIPT])
        .arg(inetd.addr.port().to_string())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "331 Please specify the password.",
            "230 Login successful.",
            "220 Service ready for new user.",
            "234 Proceed with negotiation.",
            "200 PBSZ set to 0.",
            "502 REIN is not available on a TLS connection.",
            "230 Login successful.",
            "200 PROT now Private.",
            "['main.txt']",
            "502 REIN is not available on a TLS connection.",
            "/",
            "221 Goodbye.",
        ]
    );
    common::assert_all_exited(&inetd);
}

#[test]
fn rein_reads_nothing_past_its_line() {
    // Two logins pipelined in one write: each process takes only its own lines.
    let f = Fixture::new("rein-pipe");
    f.file("main.txt", b"main\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.send_raw(
        b"USER anonymous\r\nPASS a@b\r\nREIN\r\nUSER anonymous\r\nPASS c@d\r\nPWD\r\nQUIT\r\n",
    );
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(c.read_reply().0);
    }
    assert_eq!(codes, [331, 230, 220, 331, 230, 257, 221]);
    assert_eq!(c.read_reply().0, 0, "nothing after 221");
    common::assert_all_exited(&inetd);
}

/// HOST makes the monitor (root) read a file and write a log line, so it is bounded per
/// connection: the 11th HOST gets 504 even for a good host, and the first ten worked.
#[test]
fn host_lookups_are_bounded_per_connection() {
    let mut f = Fixture::new("host-bound");
    let a = tree(&f, "site-a", &[("a.txt", b"first host\n")]);
    let dir = host_dir(&mut f);
    host_file(
        &dir,
        "a.example",
        &format!("anon_root={}\n", a.display()),
        None,
    );
    let inetd = f.inetd();
    let mut c = inetd.connect();
    for _ in 0..10 {
        exact(&mut c, "HOST a.example", "220 Host accepted.");
    }
    exact(&mut c, "HOST a.example", "504 Unknown virtual host.");
    exact(&mut c, "QUIT", "221 Goodbye.");
}
