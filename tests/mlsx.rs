//! Machine listings (RFC 3659 MLST, MLSD, OPTS MLST), MFMT and UTF-8 names (RFC 2640),
//! against rsftpd under the mini-inetd: the exact replies, the `perm` fact under the write
//! gates, LIST's listing rules applied to MLSD, and real clients parsing what rsftpd sends
//! and comparing it with the files on disk: lftp (MLSD when offered, `cls -l`, `mirror` and
//! `mirror -R` of non-UTF-8 and multi-byte names, byte for byte), Python's ftplib
//! (`FTP.mlsd`, every fact against os.stat) and aioftp from PyPI (list, stat, download;
//! installed into target/pyenv by the test when missing). Helper script:
//! tests/mlsx_clients.py.
//!
//! Tests that need the anonymous account to differ from the files' owner, or to own an
//! upload directory, run as root (as CI does) and are skipped otherwise. Every client runs
//! under `timeout`; every loop is bounded; everything talks to 127.0.0.1 only.
mod common;

use common::clients::{assert_ok, lftp_script};
use common::ftp::{exact, set_mtime};
use common::{assert_all_exited, random_bytes, Ctl, Fixture, Inetd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Seconds any one client run may take before `timeout` kills it.
const CLIENT_SECS: &str = "120";

const DENIED: &str = "550 Permission denied.";
const NO_SUCH: &str = "550 No such file or directory.";
const NOT_LOGGED_IN: &str = "530 Please login with USER and PASS.";

/// The MLST line of FEAT with every fact enabled.
const MLST_ALL: &str =
    " MLST type*;size*;modify*;perm*;unique*;unix.mode*;unix.owner*;unix.group*;";

/// 2020-01-01 12:00:00 UTC.
const T2020: u64 = 1_577_880_000;

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

/// `YYYYMMDDHHMMSS` of UTC seconds (civil-from-days; no libc in tests).
fn utc_stamp(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Every fact rsftpd shows of `p` (a symlink's target, or the link when it leads nowhere),
/// with `perm` as given: what MLST and MLSD must send.
fn facts(p: &Path, perm: &str, cdir: bool) -> String {
    let md = std::fs::metadata(p)
        .or_else(|_| std::fs::symlink_metadata(p))
        .unwrap();
    let ty = if md.is_dir() {
        if cdir {
            "cdir"
        } else {
            "dir"
        }
    } else if md.is_file() {
        "file"
    } else {
        "OS.unix=symlink"
    };
    let size = if md.is_file() {
        format!("size={};", md.len())
    } else {
        String::new()
    };
    format!(
        "type={ty};{size}modify={};perm={perm};unique={:x}g{:x};unix.mode={:04o};\
         unix.owner={};unix.group={};",
        utc_stamp(md.mtime()),
        md.dev(),
        md.ino(),
        md.mode() & 0o7777,
        md.uid(),
        md.gid()
    )
}

/// The `perm` fact in an MLST reply (its one entry line).
fn mlst_perm(c: &mut Ctl, path: &str) -> String {
    let text = c.expect(&format!("MLST {path}"), 250);
    let entry = text.lines().nth(1).unwrap_or_default();
    entry
        .split(';')
        .find_map(|f| f.strip_prefix("perm="))
        .unwrap_or_else(|| panic!("no perm fact in {text:?}"))
        .to_string()
}

/// MLSD over a passive connection: (listing bytes, final code, final text).
fn mlsd(c: &mut Ctl, cmd: &str) -> (Vec<u8>, u16, String) {
    c.pasv_transfer(cmd)
}

/// name -> perm of each MLSD entry.
fn mlsd_perms(c: &mut Ctl, cmd: &str) -> Vec<(String, String)> {
    let (data, code, text) = mlsd(c, cmd);
    assert_eq!(code, 226, "{cmd}: {text}");
    String::from_utf8_lossy(&data)
        .split_terminator("\r\n")
        .map(|l| {
            let (facts, name) = l.split_once("; ").unwrap();
            let perm = facts
                .split(';')
                .find_map(|f| f.strip_prefix("perm="))
                .unwrap()
                .to_string();
            (name.to_string(), perm)
        })
        .collect()
}

/// The system account anonymous sessions run as.
fn ftp_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && f[0] == "ftp")
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        .expect("no user ftp")
}

fn chown_ftp(p: &Path) {
    let (u, g) = ftp_ids();
    std::os::unix::fs::chown(p, Some(u), Some(g)).unwrap();
}

/// A path under `base` named by raw bytes.
fn bpath(base: &Path, rel: &[u8]) -> PathBuf {
    base.join(std::ffi::OsStr::from_bytes(rel))
}

/// Every file and directory under `dir`: (relative path as bytes, contents or None for a
/// directory), sorted: what "the same tree" means, byte for byte.
fn tree_of(dir: &Path) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    fn walk(base: &Path, rel: &Path, out: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>, depth: usize) {
        assert!(depth < 16, "tree too deep");
        for e in std::fs::read_dir(base.join(rel)).unwrap() {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            let key = r.as_os_str().as_bytes().to_vec();
            if e.file_type().unwrap().is_dir() {
                out.push((key, None));
                walk(base, &r, out, depth + 1);
            } else {
                out.push((key, Some(std::fs::read(base.join(&r)).unwrap())));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out, 0);
    out.sort();
    out
}

/// Assert two `tree_of` results are equal, naming what differs.
fn assert_same_tree(
    what: &str,
    got: &[(Vec<u8>, Option<Vec<u8>>)],
    want: &[(Vec<u8>, Option<Vec<u8>>)],
) {
    assert_eq!(names_of(got), names_of(want), "{what}: names differ");
    for ((name, a), (_, b)) in got.iter().zip(want) {
        assert!(
            a == b,
            "{what}: {} differs: {:?} bytes, want {:?}",
            String::from_utf8_lossy(name),
            a.as_ref().map(Vec::len),
            b.as_ref().map(Vec::len)
        );
    }
}

/// Names of `tree_of`, printable, for failure messages.
fn names_of(t: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<String> {
    t.iter()
        .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
        .collect()
}

fn run_client(prog: &str, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    common::clients::run_env(CLIENT_SECS, prog, args, None, cwd, env)
}

/// Run an lftp script as anonymous with protocol debugging on; stdout and stderr together.
fn lftp(inetd: &Inetd, cwd: &Path, settings: &str, commands: &str) -> (Output, String) {
    let script = lftp_script(
        settings,
        "anonymous",
        "a@b",
        inetd.addr.port(),
        &format!("debug 5; {commands}"),
    );
    // A UTF-8 locale: lftp then converts no names (the server's UTF8 and the local
    // charset agree), so bytes that are not UTF-8 pass through as they are.
    let o = run_client("lftp", &["-c", &script], cwd, &[("LC_ALL", "C.UTF-8")]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o, all)
}

/// A tree for the listing clients: subdirectories, a symlink, dot files, multi-byte names,
/// with `latin1` also names that are not UTF-8, and names with CR and LF that machine
/// listings must skip.
fn client_tree(f: &Fixture, latin1: bool) {
    f.file("hello.txt", b"hello\n", 0o644);
    f.file("data.bin", &random_bytes(70_000, 81), 0o644);
    f.file("sub/inner.txt", b"inside\n", 0o644);
    f.file("sub/with space.txt", b"spaces\n", 0o644);
    f.mkdir("sub/deeper", 0o755);
    f.file(".dotfile", b"hidden by the listing rules\n", 0o644);
    f.file("日本/テスト.txt", "テスト\n".as_bytes(), 0o644);
    f.mkdir("日本", 0o755);
    if latin1 {
        let files: [(&[u8], &[u8]); 2] = [
            (b"latin-\xe9t\xe9.bin", &random_bytes(5000, 82)),
            (b"dir \xe9/f\xe9", b"latin-1\n"),
        ];
        std::fs::create_dir(bpath(&f.root, b"dir \xe9")).unwrap();
        for (rel, body) in files {
            std::fs::write(bpath(&f.root, rel), body).unwrap();
        }
        for (rel, mode) in [
            (&b"latin-\xe9t\xe9.bin"[..], 0o644),
            (b"dir \xe9", 0o755),
            (b"dir \xe9/f\xe9", 0o644),
        ] {
            std::fs::set_permissions(
                bpath(&f.root, rel),
                std::os::unix::fs::PermissionsExt::from_mode(mode),
            )
            .unwrap();
        }
    }
    f.file("cr\rname", b"", 0o644);
    f.file("lf\nname", b"", 0o644);
    std::os::unix::fs::symlink("hello.txt", f.root.join("link")).unwrap();
    for (p, t) in [("hello.txt", T2020), ("sub", T2020 + 60), ("日本", 86_400)] {
        set_mtime(&f.root.join(p), t);
    }
}

/// The Python interpreter of target/pyenv, a venv with aioftp from PyPI: made (and aioftp
/// installed) when missing.
fn pyenv_with_aioftp() -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = LOCK.lock().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv");
    let py = dir.join("bin/python");
    let has = |py: &Path| {
        Command::new(py)
            .args(["-c", "import aioftp"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has(&py) {
        let cwd = Path::new(env!("CARGO_MANIFEST_DIR"));
        let o = common::clients::run(
            "300",
            "python3",
            &["-m", "venv", dir.to_str().unwrap()],
            None,
            cwd,
        );
        assert_ok("python3 -m venv target/pyenv (Debian: python3-venv)", &o);
        let pip = dir.join("bin/pip");
        let o = common::clients::run(
            "300",
            pip.to_str().unwrap(),
            &["install", "-q", "aioftp"],
            None,
            cwd,
        );
        assert_ok("pip install aioftp into target/pyenv", &o);
        assert!(has(&py), "aioftp still missing from {}", dir.display());
    }
    py
}

// ---------------------------------------------------------------------------------------
// Exact replies.
// ---------------------------------------------------------------------------------------

#[test]
fn feat_help_and_opts_exact() {
    let f = Fixture::new("mlsx-feat");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    let feat = format!(
        "211-Features:\n EPRT\n EPSV\n HOST\n LANG EN*\n MDTM\n{MLST_ALL}\n PASV\n REST STREAM\n SIZE\n TVFS\n \
         UTF8\n211 End"
    );
    // Before login: FEAT, OPTS UTF8 both ways; OPTS MLST belongs to the logged-in session.
    exact(&mut c, "FEAT", &feat);
    exact(&mut c, "OPTS UTF8 ON", "200 Always in UTF8 mode.");
    exact(
        &mut c,
        "OPTS UTF8 OFF",
        "200 UTF8 off: names are still sent as they are on disk.",
    );
    exact(&mut c, "OPTS MLST type;", NOT_LOGGED_IN);
    exact(&mut c, "MLST", NOT_LOGGED_IN);
    exact(&mut c, "MLSD", NOT_LOGGED_IN);
    exact(&mut c, "MFMT 20200101120000 x", NOT_LOGGED_IN);
    c.expect("USER anonymous", 331);
    c.expect("PASS a@b", 230);

    exact(&mut c, "FEAT", &feat);
    exact(
        &mut c,
        "HELP",
        "214-The following commands are recognized.\n \
         ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP HOST LANG LIST\n \
         MDTM MFMT MKD  MLSD MLST MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT\n \
         REIN REST RETR RMD  RNFR RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST\n \
         TYPE USER XCUP XCWD XMKD XPWD XRMD\n214 Help OK.",
    );
    exact(&mut c, "OPTS utf8 on", "200 Always in UTF8 mode.");
    exact(
        &mut c,
        "OPTS utf8 off",
        "200 UTF8 off: names are still sent as they are on disk.",
    );
    exact(&mut c, "OPTS UTF8 MAYBE", "501 Option not understood.");
    // OPTS MLST (RFC 3659 7.9): the supported facts named, in any case and order; unknown
    // ones ignored; the reply lists what is now enabled, in the server's order.
    exact(
        &mut c,
        "OPTS MLST Modify;TYPE;bogus;unix.mode;",
        "200 MLST OPTS type;modify;unix.mode;",
    );
    exact(
        &mut c,
        "FEAT",
        &feat.replace(
            MLST_ALL,
            " MLST type*;size;modify*;perm;unique;unix.mode*;unix.owner;unix.group;",
        ),
    );
    exact(&mut c, "OPTS MLST", "200 MLST OPTS");
    exact(
        &mut c,
        "FEAT",
        &feat.replace(
            MLST_ALL,
            " MLST type;size;modify;perm;unique;unix.mode;unix.owner;unix.group;",
        ),
    );
    exact(&mut c, "MLST /", "250-Listing /\n  /\n250 End");
    exact(
        &mut c,
        "OPTS MLST type;size;modify;perm;unique;unix.mode;unix.owner;unix.group;",
        "200 MLST OPTS type;size;modify;perm;unique;unix.mode;unix.owner;unix.group;",
    );
    exact(&mut c, "FEAT", &feat);
    exact(&mut c, "OPTS MLSTX", "501 Option not understood.");
    exact(&mut c, "QUIT", "221 Goodbye.");

    // hide_ids=YES: owner and group are not offered at all, so not shown either; MFMT is
    // advertised when MDTM may set times.
    let mut f = f;
    f.set("hide_ids=YES");
    f.set("write_enable=YES");
    let mut c = inetd.login();
    exact(
        &mut c,
        "FEAT",
        "211-Features:\n EPRT\n EPSV\n HOST\n LANG EN*\n MDTM\n MFMT\n \
         MLST type*;size*;modify*;perm*;unique*;unix.mode*;\n PASV\n REST STREAM\n SIZE\n \
         TVFS\n UTF8\n211 End",
    );
    exact(
        &mut c,
        "OPTS MLST type;unix.owner;unix.group;",
        "200 MLST OPTS type;",
    );
    exact(&mut c, "MLST /", "250-Listing /\n type=dir; /\n250 End");
    exact(&mut c, "QUIT", "221 Goodbye.");
    f.set("mdtm_write=NO");
    let mut c = inetd.login();
    let text = c.expect("FEAT", 211);
    assert!(!text.contains("MFMT"), "{text}");
    exact(&mut c, "QUIT", "221 Goodbye.");
    assert_all_exited(&inetd);
}

#[test]
fn mlst_and_mlsd_exact_replies() {
    let mut f = Fixture::new("mlsx-exact");
    f.set("deny_file=secret");
    f.file("t/a.txt", b"hello\n", 0o644);
    f.file("t/.hidden", b"", 0o644);
    f.file("t/secret", b"", 0o644);
    f.file("t/cr\r\n226 forged", b"", 0o644);
    f.file("t/cr\rx", b"", 0o644);
    f.mkdir("t/d", 0o755);
    std::os::unix::fs::symlink("nowhere", f.root.join("t/dangling")).unwrap();
    set_mtime(&f.root.join("t/a.txt"), T2020);
    set_mtime(&f.root.join("t/d"), T2020 + 1);
    set_mtime(&f.root.join("t"), T2020 + 2);
    let t = f.root.join("t");
    let inetd = f.inetd();
    let mut c = inetd.login();

    // MLST: one entry on the control connection, the path as the session sees it.
    exact(
        &mut c,
        "MLST t/a.txt",
        &format!(
            "250-Listing /t/a.txt\n {} /t/a.txt\n250 End",
            facts(&t.join("a.txt"), "r", false)
        ),
    );
    assert!(facts(&t.join("a.txt"), "r", false).contains(";modify=20200101120000;"));
    exact(
        &mut c,
        "MLST t",
        &format!("250-Listing /t\n {} /t\n250 End", facts(&t, "el", false)),
    );
    // A symlink that leads nowhere is shown as itself; dot files by name; the missing,
    // the denied and names with CR or LF are not there.
    exact(
        &mut c,
        "MLST t/dangling",
        &format!(
            "250-Listing /t/dangling\n {} /t/dangling\n250 End",
            facts(&t.join("dangling"), "", false)
        ),
    );
    c.expect("MLST t/.hidden", 250);
    exact(&mut c, "MLST t/nothing", NO_SUCH);
    exact(&mut c, "MLST t/secret", NO_SUCH);
    c.send_raw(b"MLST t/cr\rx\r\n");
    assert_eq!(c.read_reply(), (550, NO_SUCH.to_string()));
    // SIZE and MDTM say what MLST says.
    exact(&mut c, "SIZE t/a.txt", "213 6");
    exact(&mut c, "MDTM t/a.txt", "213 20200101120000");

    // MLSD: the listed directory as cdir, then the entries in name order; no dot files,
    // no CR or LF names; the denied name listed (as LIST lists it) with no permissions.
    let (data, code, text) = mlsd(&mut c, "MLSD t");
    assert_eq!((code, text.as_str()), (226, "226 Directory send OK."));
    let want = format!(
        "{} .\r\n{} a.txt\r\n{} d\r\n{} dangling\r\n{} secret\r\n",
        facts(&t, "el", true),
        facts(&t.join("a.txt"), "r", false),
        facts(&t.join("d"), "el", false),
        facts(&t.join("dangling"), "", false),
        facts(&t.join("secret"), "", false),
    );
    assert_eq!(String::from_utf8_lossy(&data), want);
    // The current directory when no path is given.
    c.expect("CWD t", 250);
    let (again, code, _) = mlsd(&mut c, "MLSD");
    assert_eq!((code, again), (226, data));
    c.expect("CWD /", 250);

    // MLSD of a file is a syntax error (RFC 3659 7.2.1); missing and denied paths are
    // refused before any data connection is used.
    exact(&mut c, "MLSD t/a.txt", "501 Not a directory.");
    exact(&mut c, "MLSD t/nothing", NO_SUCH);
    exact(&mut c, "MLSD t/secret", NO_SUCH);
    exact(&mut c, "MLSD t", "425 Use PORT or PASV first.");
    // Options and globs are not LIST's here: the argument is a path.
    exact(&mut c, "MLSD -a", NO_SUCH);
    exact(&mut c, "MLSD t/*", NO_SUCH);
    // MFMT as anonymous without write rights.
    exact(&mut c, "MFMT 20200101120000 t/a.txt", DENIED);
    exact(&mut c, "QUIT", "221 Goodbye.");

    // dirlist_enable=NO refuses MLSD and MLST as it refuses LIST and STAT with a path.
    f.set("dirlist_enable=NO");
    let mut c = inetd.login();
    exact(&mut c, "MLST t/a.txt", DENIED);
    c.pasv();
    exact(&mut c, "MLSD t", DENIED);
    exact(&mut c, "QUIT", "221 Goodbye.");

    // Uploads allowed, but not other writes: MFMT is still refused for anonymous.
    f.set("dirlist_enable=YES");
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.set("anon_mkdir_write_enable=YES");
    let mut c = inetd.login();
    exact(&mut c, "MFMT 20200101120000 t/a.txt", DENIED);
    exact(&mut c, "QUIT", "221 Goodbye.");
    assert_eq!(
        std::fs::metadata(t.join("a.txt")).unwrap().mtime(),
        T2020 as i64
    );
    assert_all_exited(&inetd);
}

/// Names are bytes: after OPTS UTF8 ON or OFF alike, a non-UTF-8 name is listed as it is
/// on disk and retrieved by those bytes.
#[test]
fn non_utf8_names_are_listed_and_retrieved_as_bytes() {
    let f = Fixture::new("mlsx-bytes");
    let body = random_bytes(3000, 83);
    std::fs::write(bpath(&f.root, b"caf\xe9 \xfe.bin"), &body).unwrap();
    std::fs::write(f.root.join("日本語.txt"), b"utf-8\n").unwrap();
    let inetd = f.inetd();
    let mut c = inetd.login();
    for opt in ["OPTS UTF8 ON", "OPTS UTF8 OFF"] {
        c.expect(opt, 200);
        let (names, code, _) = c.pasv_transfer("NLST");
        assert_eq!(code, 226);
        let mut names: Vec<&[u8]> = names
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [&b"caf\xe9 \xfe.bin\r"[..], "日本語.txt\r".as_bytes()]
        );
        let (listing, code, _) = mlsd(&mut c, "MLSD");
        assert_eq!(code, 226);
        assert!(
            listing
                .windows(b"; caf\xe9 \xfe.bin\r\n".len())
                .any(|w| w == b"; caf\xe9 \xfe.bin\r\n"),
            "{}",
            String::from_utf8_lossy(&listing)
        );
        let data = c.pasv();
        c.send_raw(b"RETR caf\xe9 \xfe.bin\r\n");
        assert_eq!(c.read_reply().0, 150);
        assert_eq!(common::ftp::read_all(data.try_clone().unwrap()), body);
        drop(data);
        assert_eq!(c.read_reply().0, 226);
        c.send_raw("MLST 日本語.txt\r\n".as_bytes());
        let (code, text) = c.read_reply();
        assert_eq!(code, 250);
        assert!(text.ends_with("; /日本語.txt\n250 End"), "{text}");
    }
    exact(&mut c, "QUIT", "221 Goodbye.");
    assert_all_exited(&inetd);
}

// ---------------------------------------------------------------------------------------
// LIST's rules and the write gates (root: the anonymous account must differ from the
// files' owner, and own an upload directory).
// ---------------------------------------------------------------------------------------

#[test]
fn mlsd_follows_the_listing_rules() {
    require_root!();
    let mut f = Fixture::new("mlsx-rules");
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.set("hide_file={*.tmp,x*}");
    let pubd = f.mkdir("pub", 0o755);
    chown_ftp(&pubd);
    f.file("pub/root.txt", b"r\n", 0o644);
    f.file("pub/hidden.tmp", b"", 0o644);
    f.file("pub/.dot", b"", 0o644);
    f.file("pub/group-only.txt", b"", 0o640);
    std::os::unix::fs::chown(f.root.join("pub/group-only.txt"), None, Some(ftp_ids().1)).unwrap();
    // An anonymous upload: hidden from anonymous listings (the drop-box rule).
    let up = f.file("pub/upload.bin", b"dropped\n", 0o644);
    chown_ftp(&up);
    f.mkdir("closed", 0o750);
    f.mkdir("dropbox", 0o733);
    let inetd = f.inetd();
    let mut c = inetd.login();

    let names = |c: &mut Ctl, cmd: &str| -> Vec<String> {
        let mut v: Vec<String> = mlsd_perms(c, cmd).into_iter().map(|(n, _)| n).collect();
        v.sort();
        v
    };
    let list_names = |c: &mut Ctl, cmd: &str| -> Vec<String> {
        let (data, code, _) = c.pasv_transfer(cmd);
        assert_eq!(code, 226);
        let mut v = common::ftp::list_names(&data);
        v.sort();
        v
    };
    // MLSD shows exactly what LIST shows (plus the cdir entry).
    let m = names(&mut c, "MLSD pub");
    assert_eq!(m, [".", "group-only.txt", "root.txt"]);
    assert_eq!(list_names(&mut c, "LIST pub"), m[1..]);
    // anon_world_readable_only: a file readable by the ftp group only is listed but not
    // readable for anonymous; the upload is nowhere, by name neither.
    let perms = mlsd_perms(&mut c, "MLSD pub");
    assert!(
        perms.contains(&("group-only.txt".into(), String::new())),
        "{perms:?}"
    );
    assert!(
        perms.contains(&("root.txt".into(), "r".into())),
        "{perms:?}"
    );
    exact(&mut c, "MLST pub/upload.bin", NO_SUCH);
    c.expect("MLST pub/hidden.tmp", 250);
    // Directories anonymous may not list are refused up front.
    exact(&mut c, "MLSD closed", "550 Failed to open directory.");
    exact(&mut c, "MLSD dropbox", "550 Failed to open directory.");
    // A drop box: create files and enter, nothing else.
    assert_eq!(mlst_perm(&mut c, "dropbox"), "ce");
    exact(&mut c, "QUIT", "221 Goodbye.");

    // force_dot_files shows dot files; anon_world_readable_only=NO the group-readable one.
    f.set("force_dot_files=YES");
    f.set("anon_world_readable_only=NO");
    let mut c = inetd.login();
    let m = names(&mut c, "MLSD pub");
    assert_eq!(m, [".", ".dot", "group-only.txt", "root.txt"]);
    assert_eq!(list_names(&mut c, "LIST pub"), m[1..]);
    let perms = mlsd_perms(&mut c, "MLSD pub");
    assert!(
        perms.contains(&("group-only.txt".into(), "r".into())),
        "{perms:?}"
    );
    exact(&mut c, "MLSD closed", "550 Failed to open directory.");
    exact(&mut c, "QUIT", "221 Goodbye.");
    assert_all_exited(&inetd);
}

#[test]
fn perm_fact_follows_the_write_gates() {
    require_root!();
    let mut f = Fixture::new("mlsx-perm");
    // Writable by everyone but not the anonymous account's (what it owns is hidden from
    // it unless anon_other_write_enable).
    f.mkdir("pub", 0o777);
    f.file("pub/root.txt", b"r\n", 0o644);
    f.mkdir("pub/rootdir", 0o755);
    let own = f.file("pub/own.txt", b"o\n", 0o644);
    chown_ftp(&own);
    f.mkdir("pub/sticky", 0o1777);
    f.file("pub/sticky/other.txt", b"", 0o666);
    let inetd = f.inetd();

    // (config, perm of /pub, of pub/root.txt, of pub/rootdir, of /)
    let cases: &[(&[&str], &str, &str, &str, &str)] = &[
        (&[], "el", "r", "el", "el"),
        (&["write_enable=YES"], "el", "r", "el", "el"),
        (&["anon_upload_enable=YES"], "cel", "r", "el", "el"),
        (&["anon_mkdir_write_enable=YES"], "celm", "r", "el", "el"),
        (
            &["anon_other_write_enable=YES"],
            "celmp",
            "dfr",
            "defl",
            "el",
        ),
    ];
    for (keys, pub_perm, root_txt, rootdir, slash) in cases {
        for k in *keys {
            f.set(k);
        }
        let mut c = inetd.login();
        assert_eq!(mlst_perm(&mut c, "pub"), *pub_perm, "{keys:?}");
        assert_eq!(mlst_perm(&mut c, "pub/root.txt"), *root_txt, "{keys:?}");
        assert_eq!(mlst_perm(&mut c, "pub/rootdir"), *rootdir, "{keys:?}");
        assert_eq!(mlst_perm(&mut c, "/"), *slash, "{keys:?}");
        // MLSD agrees with MLST, the cdir entry included.
        let perms = mlsd_perms(&mut c, "MLSD pub");
        assert!(
            perms.contains(&(".".into(), pub_perm.to_string())),
            "{perms:?}"
        );
        assert!(
            perms.contains(&("root.txt".into(), root_txt.to_string())),
            "{perms:?}"
        );
        exact(&mut c, "QUIT", "221 Goodbye.");
    }
    // With anon_other_write_enable the account's own files are visible and fully its own;
    // in a sticky directory others' files can be written but not removed.
    let mut c = inetd.login();
    assert_eq!(mlst_perm(&mut c, "pub/own.txt"), "adfrw");
    assert_eq!(mlst_perm(&mut c, "pub/sticky/other.txt"), "arw");
    // And the perm fact tells the truth: what it promises works, what it withholds fails.
    c.expect("DELE pub/own.txt", 250);
    exact(
        &mut c,
        "DELE pub/sticky/other.txt",
        "550 Delete operation failed.",
    );
    exact(
        &mut c,
        "MKD pub/rootdir/x",
        "550 Create directory operation failed.",
    );
    c.expect("RMD pub/rootdir", 250);
    exact(&mut c, "QUIT", "221 Goodbye.");
    assert!(!own.exists() && !f.root.join("pub/rootdir").exists());
    assert!(f.root.join("pub/sticky/other.txt").exists());
    assert_all_exited(&inetd);
}

#[test]
fn mfmt_then_mlst_round_trip() {
    require_root!();
    let mut f = Fixture::new("mlsx-mfmt");
    f.set("write_enable=YES");
    f.set("anon_other_write_enable=YES");
    let pubd = f.mkdir("pub", 0o755);
    chown_ftp(&pubd);
    let file = f.file("pub/f.txt", b"time\n", 0o644);
    chown_ftp(&file);
    let dir = f.mkdir("pub/d", 0o755);
    chown_ftp(&dir);
    f.file("pub/root.txt", b"", 0o666);
    let inetd = f.inetd();
    let mut c = inetd.login();

    exact(
        &mut c,
        "MFMT 20200101120000 pub/f.txt",
        "213 Modify=20200101120000; pub/f.txt",
    );
    assert_eq!(std::fs::metadata(&file).unwrap().mtime(), T2020 as i64);
    let text = c.expect("MLST pub/f.txt", 250);
    assert!(text.contains(";modify=20200101120000;"), "{text}");
    exact(&mut c, "MDTM pub/f.txt", "213 20200101120000");
    // A fraction of a second is accepted and dropped; leap days are dates.
    exact(
        &mut c,
        "MFMT 20240229235959.875 pub/f.txt",
        "213 Modify=20240229235959; pub/f.txt",
    );
    assert_eq!(std::fs::metadata(&file).unwrap().mtime(), 1_709_251_199);
    let (data, code, _) = mlsd(&mut c, "MLSD pub");
    assert_eq!(code, 226);
    let listing = String::from_utf8_lossy(&data).into_owned();
    assert!(
        listing
            .lines()
            .any(|l| l.contains(";modify=20240229235959;") && l.ends_with("; f.txt")),
        "{listing}"
    );
    // Directories too, and back in time before 1970.
    exact(
        &mut c,
        "MFMT 19691231235959 pub/d",
        "213 Modify=19691231235959; pub/d",
    );
    assert_eq!(std::fs::metadata(&dir).unwrap().mtime(), -1);
    assert!(c
        .expect("MLST pub/d", 250)
        .contains("type=dir;modify=19691231235959;"));
    // Refusals: bad times, missing files, files the account does not own.
    for bad in [
        "MFMT 2020010112000 pub/f.txt",
        "MFMT 20230229000000 pub/f.txt",
        "MFMT 20200101120000",
        "MFMT 20200101120000. pub/f.txt",
    ] {
        exact(&mut c, bad, "501 MFMT needs YYYYMMDDHHMMSS and a path.");
    }
    for refused in [
        "MFMT 20200101120000 pub/nothing",
        "MFMT 20200101120000 pub/root.txt",
    ] {
        exact(&mut c, refused, "550 Could not set file modification time.");
    }
    exact(&mut c, "QUIT", "221 Goodbye.");
    assert_eq!(std::fs::metadata(&file).unwrap().mtime(), 1_709_251_199);

    // The gates of MDTM with a time: mdtm_write, anon_other_write_enable, write_enable.
    for (key, undo) in [
        ("mdtm_write=NO", "mdtm_write=YES"),
        ("anon_other_write_enable=NO", "anon_other_write_enable=YES"),
        ("write_enable=NO", "write_enable=YES"),
    ] {
        f.set(key);
        let mut c = inetd.login();
        exact(&mut c, "MFMT 20200101120000 pub/d", DENIED);
        exact(&mut c, "QUIT", "221 Goodbye.");
        f.set(undo);
    }
    assert_eq!(std::fs::metadata(&dir).unwrap().mtime(), -1);
    assert_all_exited(&inetd);
}

// ---------------------------------------------------------------------------------------
// Real clients.
// ---------------------------------------------------------------------------------------

#[test]
fn ftplib_mlsd_facts_match_the_disk() {
    let f = Fixture::new("mlsx-ftplib");
    client_tree(&f, true);
    let inetd = f.inetd();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlsx_clients.py");
    let port = inetd.addr.port().to_string();
    let o = run_client(
        "python3",
        &[
            script.to_str().unwrap(),
            "ftplib",
            &port,
            f.root.to_str().unwrap(),
        ],
        &f.dir,
        &[],
    );
    assert_ok("ftplib MLSD/MLST", &o);
    assert_all_exited(&inetd);
}

#[test]
fn aioftp_lists_stats_and_downloads() {
    let py = pyenv_with_aioftp();
    let f = Fixture::new("mlsx-aioftp");
    // aioftp decodes every reply and listing as UTF-8: a UTF-8 tree.
    client_tree(&f, false);
    let inetd = f.inetd();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlsx_clients.py");
    let port = inetd.addr.port().to_string();
    let o = run_client(
        py.to_str().unwrap(),
        &[
            script.to_str().unwrap(),
            "aioftp",
            &port,
            f.root.to_str().unwrap(),
        ],
        &f.dir,
        &[],
    );
    assert_ok("aioftp list/stat/download", &o);
    assert_all_exited(&inetd);
}

#[test]
fn lftp_lists_with_mlsd() {
    let f = Fixture::new("mlsx-lftp-cls");
    client_tree(&f, true);
    let inetd = f.inetd();
    let (o, log) = lftp(&inetd, &f.dir, "", "cls -l; cls -l sub");
    assert_ok("lftp cls -l", &o);
    // lftp saw MLST in FEAT, chose its facts and listed with MLSD (never LIST).
    assert!(log.contains("---> OPTS MLST "), "{log}");
    assert!(log.contains("<--- 200 MLST OPTS "), "{log}");
    assert!(log.contains("---> MLSD"), "{log}");
    assert!(!log.contains("---> LIST"), "{log}");
    // Each file is listed with its mode string and size; directories as directories.
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    for (name, mode, size) in [
        ("hello.txt", "-rw-r--r--", Some(6)),
        ("data.bin", "-rw-r--r--", Some(70_000)),
        ("link", "-rw-r--r--", Some(6)),
        ("sub/", "drwxr-xr-x", None),
        ("sub/inner.txt", "-rw-r--r--", Some(7)),
        ("sub/with space.txt", "-rw-r--r--", Some(7)),
        ("sub/deeper/", "drwxr-xr-x", None),
    ] {
        let line = out
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name} not listed:\n{out}"));
        assert!(line.starts_with(mode), "{line}");
        if let Some(s) = size {
            assert!(line.contains(&format!(" {s} ")), "{line}");
        }
    }
    assert!(
        !out.contains(".dotfile") && !out.contains("name\n"),
        "{out}"
    );
    assert_all_exited(&inetd);
}

#[test]
fn lftp_mirrors_non_utf8_names_both_ways() {
    require_root!();
    let mut f = Fixture::new("mlsx-lftp-mirror");
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.set("anon_mkdir_write_enable=YES");
    f.set("anon_other_write_enable=YES");
    f.set("anon_umask=022");
    let pubd = f.mkdir("pub", 0o755);
    chown_ftp(&pubd);
    // The same tree on the server (for mirror) and locally (for mirror -R): Latin-1,
    // UTF-8, a mix of both in one name, 0xFF (Telnet's IAC), spaces, nesting.
    let names: &[(&[u8], Option<&[u8]>)] = &[
        (b"\xe9t\xe9", None),
        (b"\xe9t\xe9/na\xefve\xff", Some(b"latin-1 and IAC\n")),
        ("日本語".as_bytes(), None),
        (
            "日本語/テスト ファイル.txt".as_bytes(),
            Some("utf-8\n".as_bytes()),
        ),
        (b"caf\xc3\xa9 \xe9.bin", Some(b"mixed")),
        (b"plain.txt", Some(b"plain\n")),
        (b"d\x80\x81/sub \xfe", None),
        (b"d\x80\x81/sub \xfe/deep.bin", Some(b"")),
    ];
    let served = f.root.join("tree");
    let local = f.dir.join("local");
    for base in [&served, &local] {
        for (rel, body) in names {
            let p = bpath(base, rel);
            match body {
                None => std::fs::create_dir_all(&p).unwrap(),
                Some(b) => {
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, b).unwrap();
                }
            }
        }
    }
    std::fs::write(bpath(&served, b"big \xa4.bin"), random_bytes(300_000, 84)).unwrap();
    std::fs::write(bpath(&local, b"big \xa4.bin"), random_bytes(300_000, 84)).unwrap();
    // Old times locally, so that keeping them is visible after the upload.
    for (k, (rel, body)) in names.iter().enumerate() {
        if body.is_some() {
            set_mtime(&bpath(&local, rel), T2020 + 3600 * k as u64);
        }
    }
    assert_ok(
        "chmod",
        &Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(&served)
            .output()
            .unwrap(),
    );
    let want = tree_of(&served);
    let inetd = f.inetd();

    // Download: mirror lists with MLSD and fetches every name by its bytes.
    let (o, log) = lftp(&inetd, &f.dir, "", "mirror tree down");
    assert_ok("lftp mirror", &o);
    assert!(log.contains("---> MLSD"), "{log}");
    assert_same_tree("mirror", &tree_of(&f.dir.join("down")), &want);

    // Upload: mirror -R creates every name by its bytes (MKD, STOR), MLSD sees them.
    let (o, log) = lftp(&inetd, &f.dir, "", "mirror -R --no-perms local pub/up");
    assert_ok("lftp mirror -R", &o);
    assert!(log.contains("---> STOR "), "{log}");
    let want_up = tree_of(&local);
    assert_same_tree("mirror -R", &tree_of(&pubd.join("up")), &want_up);
    // lftp keeps each file's time with MFMT (FEAT lists it): the times on disk agree.
    assert!(log.contains("---> MFMT "), "{log}");
    for (rel, body) in &want_up {
        if body.is_some() {
            let mtime = |base: &Path| std::fs::metadata(bpath(base, rel)).unwrap().mtime();
            assert_eq!(
                mtime(&pubd.join("up")),
                mtime(&local),
                "{}",
                String::from_utf8_lossy(rel)
            );
        }
    }
    // A second mirror finds nothing to do: the names it lists (MLSD) are the ones it has.
    let (o, log) = lftp(&inetd, &f.dir, "", "mirror -R --no-perms local pub/up");
    assert_ok("lftp mirror -R again", &o);
    assert!(log.contains("---> MLSD"), "{log}");
    // (lftp still tries `MKD pub` and `MKD pub/up` first, as mkdir -p does.)
    assert!(
        !log.contains("---> STOR ") && !log.contains("---> MKD pub/up/"),
        "{log}"
    );
    // And back down from what was uploaded: the same bytes again.
    let (o, _) = lftp(&inetd, &f.dir, "", "mirror pub/up down2");
    assert_ok("lftp mirror of the upload", &o);
    assert!(
        tree_of(&f.dir.join("down2")) == want_up,
        "round trip differs"
    );
    assert_all_exited(&inetd);
}
