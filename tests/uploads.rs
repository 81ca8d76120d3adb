//! Uploads and every other write, as anonymous sessions (write_enable with the anon_* keys):
//! the drop box, anonymous other-writes, REST before STOR, ASCII uploads, deny_file and
//! hide_file, real clients uploading (curl, lftp, Python's ftplib), jail escapes, a full
//! disk (a small tmpfs mounted by the test), and uploads cut off by the client or by ABOR.
//!
//! Each test asserts the exact replies and the effect on disk (bytes, sha256, owner, group,
//! mode) or its absence, and that every server process exited. The helpers in the first
//! section take a `Ctl` and an `Account`, so a test file for local users can copy them.
//!
//! As root (as CI runs) the server is privilege-separated, anonymous sessions are jailed in
//! anon_root and run as the system `ftp` user. Most tests need that (owners on disk, the
//! jail), so they are skipped with a message when not run as root. Every loop is bounded
//! in count and time and talks only to 127.0.0.1.
mod common;

use common::clients::{assert_ok, lftp_script, url};
use common::ftp::exact;
use common::{assert_all_exited, random_bytes, Ctl, Fixture, Inetd, TIMEOUT};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers (generic: an account, a control connection, a path on disk).
// ---------------------------------------------------------------------------------------

const DENIED: &str = "550 Permission denied.";
const OK_TO_SEND: &str = "150 Ok to send data.";
const COMPLETE: &str = "226 Transfer complete.";
const DIR_FAILED: &str = "226 Transfer done (but failed to open directory).";

/// A system account's ids, from /etc/passwd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Account {
    uid: u32,
    gid: u32,
}

fn account(name: &str) -> Account {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[0] == name {
            return Account {
                uid: f[2].parse().unwrap(),
                gid: f[3].parse().unwrap(),
            };
        }
    }
    panic!("no account {name} in /etc/passwd");
}

/// The account anonymous sessions run as (ftp_username's default).
fn ftp_account() -> Account {
    account("ftp")
}

fn chown(p: &Path, who: Account) {
    std::os::unix::fs::chown(p, Some(who.uid), Some(who.gid)).unwrap();
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What a file is on disk: everything an upload test compares.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OnDisk {
    sha256: String,
    len: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

fn on_disk(p: &Path) -> OnDisk {
    let md = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    OnDisk {
        sha256: common::sha256(p),
        len: md.len(),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        mtime: md.mtime(),
    }
}

/// Assert a file has exactly these bytes, this owner and this mode.
fn assert_file(p: &Path, bytes: &[u8], who: Account, mode: u32) {
    let got = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        got == bytes,
        "{}: {} bytes on disk, expected {} bytes{}",
        p.display(),
        got.len(),
        bytes.len(),
        if got.len() < 200 && bytes.len() < 200 {
            format!(
                " ({:?} vs {:?})",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(bytes)
            )
        } else {
            String::new()
        }
    );
    let md = std::fs::metadata(p).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (who.uid, who.gid),
        "owner of {}",
        p.display()
    );
    assert_eq!(md.mode() & 0o7777, mode, "mode of {}", p.display());
}

/// Names in a directory on disk, sorted.
fn names_on_disk(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A reply: code and whole text.
type Reply = (u16, String);

/// The replies to an upload command: the first one, and the final one (None when the
/// first was a refusal and no data connection was used).
#[derive(Debug)]
struct Sent {
    first: Reply,
    last: Option<Reply>,
}

/// An upload over a passive data connection: PASV, the command, then (if the server said
/// 150) all of `data`, a close, and the final reply.
fn upload(c: &mut Ctl, command: &str, data: &[u8]) -> Sent {
    let mut d = c.pasv();
    let first = c.cmd(command);
    if first.0 != 150 {
        return Sent { first, last: None };
    }
    d.set_write_timeout(Some(TIMEOUT)).unwrap();
    // A server that stops reading (disk full) resets the connection: not our failure.
    let _ = d.write_all(data);
    let _ = d.shutdown(Shutdown::Write);
    let last = c.read_reply();
    drop(d);
    Sent {
        first,
        last: Some(last),
    }
}

/// An upload that must succeed with vsftpd's texts.
fn upload_ok(c: &mut Ctl, command: &str, data: &[u8]) {
    let s = upload(c, command, data);
    assert_eq!(s.first.1, OK_TO_SEND, "{command}");
    assert_eq!(s.last.unwrap().1, COMPLETE, "{command}");
}

/// An upload that must be refused before any data moves, with this exact reply.
fn upload_refused(c: &mut Ctl, command: &str, want: &str) {
    let s = upload(c, command, b"must not arrive\n");
    assert_eq!(s.first.1, want, "{command}");
    assert!(s.last.is_none());
}

/// A download or listing over a passive data connection: (first reply, data, final reply).
fn fetch(c: &mut Ctl, command: &str) -> (Reply, Vec<u8>, Option<Reply>) {
    let mut d = c.pasv();
    let first = c.cmd(command);
    if first.0 != 150 {
        return (first, Vec::new(), None);
    }
    let mut buf = Vec::new();
    d.read_to_end(&mut buf).unwrap();
    let last = c.read_reply();
    (first, buf, Some(last))
}

/// A listing that must succeed (or fail to open the directory, `dir_ok` false): its text.
fn listing(c: &mut Ctl, command: &str, dir_ok: bool) -> String {
    let (first, data, last) = fetch(c, command);
    assert_eq!(
        first.1, "150 Here comes the directory listing.",
        "{command}"
    );
    let want = if dir_ok {
        "226 Directory send OK."
    } else {
        DIR_FAILED
    };
    assert_eq!(last.unwrap().1, want, "{command}");
    String::from_utf8(data).unwrap()
}

/// The names in a LIST or NLST text (the last field of each line).
fn listed_names(text: &str) -> Vec<String> {
    text.split_terminator("\r\n")
        .map(|l| l.rsplit(['/', ' ']).next().unwrap().to_string())
        .collect()
}

/// A download that must be refused with 550 and no data.
fn retr_refused(c: &mut Ctl, name: &str) {
    let (first, data, _) = fetch(c, &format!("RETR {name}"));
    assert_eq!(first.1, "550 Failed to open file.", "RETR {name}");
    assert!(data.is_empty());
}

/// A download that must succeed: the bytes.
fn retr_ok(c: &mut Ctl, name: &str) -> Vec<u8> {
    let (first, data, last) = fetch(c, &format!("RETR {name}"));
    assert_eq!(first.0, 150, "RETR {name}: {}", first.1);
    assert_eq!(last.unwrap().1, COMPLETE, "RETR {name}");
    data
}

/// QUIT, and every server process this inetd started must exit.
fn quit_and_check(mut c: Ctl, inetd: &Inetd) {
    exact(&mut c, "QUIT", "221 Goodbye.");
    drop(c);
    assert_all_exited(inetd);
}

/// Wait (bounded) until a file on disk has at least `len` bytes; its length.
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

/// Run a client under `timeout`, never with our terminal, away from user configuration.
fn run(prog: &str, args: &[&str], cwd: &Path) -> Output {
    common::clients::run("60", prog, args, None, cwd)
}

/// A fixture with writes on for anonymous uploads (anon_upload_enable) and, with `other`,
/// anon_other_write_enable and anon_mkdir_write_enable, plus a directory `pub` owned by
/// the ftp account, mode 0755, to write in.
fn writable(name: &str, other: bool) -> Fixture {
    let mut f = Fixture::new(name);
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    if other {
        f.set("anon_other_write_enable=YES");
        f.set("anon_mkdir_write_enable=YES");
    }
    let p = f.mkdir("pub", 0o755);
    chown(&p, ftp_account());
    f
}

/// The classic drop box: anon_root not writable, `pub/upload` mode 0733 owned by root.
fn drop_box(name: &str) -> Fixture {
    let mut f = Fixture::new(name);
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.mkdir("pub", 0o755);
    f.mkdir("pub/upload", 0o733);
    f
}

// ---------------------------------------------------------------------------------------
// 1. The drop box.
// ---------------------------------------------------------------------------------------

#[test]
fn drop_box_takes_new_files_and_refuses_everything_else() {
    require_root!();
    let ftp = ftp_account();
    let f = drop_box("dropbox");
    f.mkdir("pub/upload/keep", 0o755);
    let dir = f.root.join("pub/upload");
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(
        &mut c,
        "CWD pub/upload",
        "250 Directory successfully changed.",
    );

    let body = random_bytes(200_000, 11);
    upload_ok(&mut c, "STOR drop.bin", &body);
    assert_file(&dir.join("drop.bin"), &body, ftp, 0o600);

    // STOU: the name asked for, then .1.
    let s = upload(&mut c, "STOU note.txt", b"first note\n");
    assert_eq!(s.first.1, "150 FILE: note.txt");
    assert_eq!(s.last.unwrap().1, COMPLETE);
    let s = upload(&mut c, "STOU note.txt", b"second note\n");
    assert_eq!(s.first.1, "150 FILE: note.txt.1");
    assert_eq!(s.last.unwrap().1, COMPLETE);
    assert_file(&dir.join("note.txt"), b"first note\n", ftp, 0o600);
    assert_file(&dir.join("note.txt.1"), b"second note\n", ftp, 0o600);

    let before = on_disk(&dir.join("drop.bin"));
    let note_before = on_disk(&dir.join("note.txt"));

    // Listing the drop box: the directory cannot be opened, no name comes back.
    for cmd in [
        "LIST",
        "NLST",
        "LIST -a",
        "NLST /pub/upload",
        "LIST /pub/upload",
        "LIST drop*",
        "NLST *",
        "LIST drop.bin",
        "NLST note.txt",
    ] {
        // A directory (or a pattern in one) cannot be opened; a single file is not shown.
        let text = listing(&mut c, cmd, cmd.contains('.') && !cmd.contains('*'));
        for name in ["drop.bin", "note.txt", "note.txt.1", "keep"] {
            assert!(!text.contains(name), "{cmd} showed {name}: {text:?}");
        }
    }
    exact(&mut c, "STAT .", "213-Status follows:\n213 End of status");
    exact(
        &mut c,
        "STAT drop.bin",
        "213-Status follows:\n213 End of status",
    );

    retr_refused(&mut c, "drop.bin");
    retr_refused(&mut c, "/pub/upload/note.txt");
    // Overwrite (STOR of an existing name) and STOU never touch what is there.
    upload_refused(&mut c, "STOR drop.bin", "553 Could not create file.");
    upload_refused(&mut c, "APPE drop.bin", DENIED);
    exact(&mut c, "REST 5", "350 Restart position accepted (5).");
    upload_refused(&mut c, "STOR drop.bin", DENIED);
    // The refused STOR used up the offset.
    exact(&mut c, "REST 100", "350 Restart position accepted (100).");
    upload_refused(&mut c, "STOR fresh.bin", DENIED);
    exact(&mut c, "RNFR drop.bin", DENIED);
    exact(&mut c, "RNTO stolen.bin", "503 RNFR required first.");
    exact(&mut c, "DELE drop.bin", DENIED);
    exact(&mut c, "DELE note.txt", DENIED);
    exact(&mut c, "RMD keep", DENIED);
    exact(&mut c, "XRMD keep", DENIED);
    exact(&mut c, "MKD newdir", DENIED);
    exact(&mut c, "XMKD newdir", DENIED);
    exact(&mut c, "SITE CHMOD 0644 drop.bin", DENIED);
    exact(&mut c, "SITE CHMOD 777 note.txt", DENIED);
    exact(&mut c, "SITE UMASK 000", DENIED);
    exact(&mut c, "MDTM 20200102030405 drop.bin", DENIED);
    exact(&mut c, "NOOP", "200 NOOP ok.");
    quit_and_check(c, &inetd);

    assert_eq!(on_disk(&dir.join("drop.bin")), before);
    assert_eq!(on_disk(&dir.join("note.txt")), note_before);
    assert!(dir.join("keep").is_dir());
    assert_eq!(
        names_on_disk(&dir),
        ["drop.bin", "keep", "note.txt", "note.txt.1"]
    );
}

#[test]
fn drop_box_uploads_stay_hidden_with_a_lax_umask() {
    require_root!();
    let ftp = ftp_account();
    let mut f = drop_box("dropbox022");
    f.set("anon_umask=022");
    // A readable, writable directory: root's file is served, the anonymous uploads are not.
    let open = f.mkdir("pub/open", 0o777);
    f.file("pub/open/root.txt", b"published by root\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();

    upload_ok(
        &mut c,
        "STOR /pub/upload/lax.txt",
        b"world-readable upload\n",
    );
    let dropped = f.root.join("pub/upload/lax.txt");
    assert_file(&dropped, b"world-readable upload\n", ftp, 0o644);
    retr_refused(&mut c, "/pub/upload/lax.txt");

    exact(
        &mut c,
        "CWD /pub/open",
        "250 Directory successfully changed.",
    );
    upload_ok(&mut c, "STOR mine.txt", b"also world-readable\n");
    assert_file(&open.join("mine.txt"), b"also world-readable\n", ftp, 0o644);
    let text = listing(&mut c, "LIST", true);
    assert_eq!(listed_names(&text), ["root.txt"], "{text}");
    assert!(text.starts_with("-rw-r--r--"), "{text}");
    assert_eq!(listed_names(&listing(&mut c, "NLST", true)), ["root.txt"]);
    assert_eq!(listed_names(&listing(&mut c, "NLST -a", true)).len(), 3);
    assert_eq!(retr_ok(&mut c, "root.txt"), b"published by root\n");
    retr_refused(&mut c, "mine.txt");
    retr_refused(&mut c, "/pub/open/mine.txt");
    // An anonymous upload is a new file only: not even a world-writable directory lets
    // it replace root's file.
    upload_refused(&mut c, "STOR root.txt", "553 Could not create file.");
    quit_and_check(c, &inetd);
    assert_file(
        &open.join("root.txt"),
        b"published by root\n",
        Account { uid: 0, gid: 0 },
        0o644,
    );
}

// ---------------------------------------------------------------------------------------
// 2. Anonymous other-writes (anon_other_write_enable, anon_mkdir_write_enable).
// ---------------------------------------------------------------------------------------

#[test]
fn anonymous_other_writes_overwrite_append_rest_delete_mkdir_rename_mdtm() {
    require_root!();
    let ftp = ftp_account();
    let root_acct = Account { uid: 0, gid: 0 };
    let f = writable("otherwrite", true);
    let pubd = f.root.join("pub");
    let roots = f.file("pub/roots.txt", b"owned by root\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "CWD pub", "250 Directory successfully changed.");

    // Overwrite: a plain STOR replaces the whole file.
    upload_ok(&mut c, "STOR f.txt", b"the first version, long\n");
    upload_ok(&mut c, "STOR f.txt", b"second\n");
    assert_file(&pubd.join("f.txt"), b"second\n", ftp, 0o600);
    upload_ok(&mut c, "APPE f.txt", b"appended\n");
    assert_file(&pubd.join("f.txt"), b"second\nappended\n", ftp, 0o600);
    // APPE of a new name creates it.
    upload_ok(&mut c, "APPE new.txt", b"fresh\n");
    assert_file(&pubd.join("new.txt"), b"fresh\n", ftp, 0o600);

    // REST then STOR writes from the offset and keeps the rest (as vsftpd).
    upload_ok(&mut c, "STOR g.txt", b"0123456789ABCDEF");
    exact(&mut c, "REST 5", "350 Restart position accepted (5).");
    upload_ok(&mut c, "STOR g.txt", b"xyz");
    assert_file(&pubd.join("g.txt"), b"01234xyz89ABCDEF", ftp, 0o600);
    // An offset equal to the size appends; one past it is refused.
    exact(&mut c, "REST 16", "350 Restart position accepted (16).");
    upload_ok(&mut c, "STOR g.txt", b"+end");
    assert_file(&pubd.join("g.txt"), b"01234xyz89ABCDEF+end", ftp, 0o600);
    let before = on_disk(&pubd.join("g.txt"));
    exact(&mut c, "REST 21", "350 Restart position accepted (21).");
    upload_refused(
        &mut c,
        "STOR g.txt",
        "554 Restart offset 21 is past the end of the file (20 bytes).",
    );
    assert_eq!(on_disk(&pubd.join("g.txt")), before);
    // REST onto a file that does not exist.
    exact(&mut c, "REST 3", "350 Restart position accepted (3).");
    upload_refused(&mut c, "STOR nothere.txt", "550 No such file or directory.");
    assert!(!pubd.join("nothere.txt").exists());

    // Plain permissions still apply: root's 0644 file cannot be written by ftp.
    upload_refused(&mut c, "STOR roots.txt", DENIED);
    upload_refused(&mut c, "APPE roots.txt", DENIED);
    assert_file(&roots, b"owned by root\n", root_acct, 0o644);

    // DELE.
    exact(&mut c, "DELE f.txt", "250 Delete operation successful.");
    assert!(!pubd.join("f.txt").exists());
    exact(&mut c, "DELE f.txt", "550 Delete operation failed.");

    // MKD (mode 0777 & ~anon_umask), RMD.
    exact(&mut c, "MKD newdir", "257 \"/pub/newdir\" created");
    let md = std::fs::metadata(pubd.join("newdir")).unwrap();
    assert!(md.is_dir());
    assert_eq!(
        (md.mode() & 0o7777, md.uid(), md.gid()),
        (0o700, ftp.uid, ftp.gid)
    );
    exact(
        &mut c,
        "MKD newdir",
        "550 Create directory operation failed.",
    );
    exact(&mut c, "XMKD /pub/other", "257 \"/pub/other\" created");
    exact(
        &mut c,
        "RMD newdir",
        "250 Remove directory operation successful.",
    );
    exact(
        &mut c,
        "XRMD /pub/other",
        "250 Remove directory operation successful.",
    );
    assert!(!pubd.join("newdir").exists() && !pubd.join("other").exists());
    exact(
        &mut c,
        "RMD newdir",
        "550 Remove directory operation failed.",
    );

    // RNFR/RNTO.
    exact(&mut c, "RNFR g.txt", "350 Ready for RNTO.");
    exact(&mut c, "RNTO moved.txt", "250 Rename successful.");
    assert!(!pubd.join("g.txt").exists());
    assert_file(&pubd.join("moved.txt"), b"01234xyz89ABCDEF+end", ftp, 0o600);
    exact(&mut c, "RNTO again.txt", "503 RNFR required first.");
    // RNFR names a file for the very next command only.
    exact(&mut c, "RNFR moved.txt", "350 Ready for RNTO.");
    exact(&mut c, "NOOP", "200 NOOP ok.");
    exact(&mut c, "RNTO again.txt", "503 RNFR required first.");
    exact(&mut c, "RNFR missing.txt", "550 RNFR command failed.");
    assert!(pubd.join("moved.txt").exists() && !pubd.join("again.txt").exists());

    // MDTM with a time sets it (UTC).
    exact(
        &mut c,
        "MDTM 20200102030405 moved.txt",
        "213 File modification time set.",
    );
    assert_eq!(
        std::fs::metadata(pubd.join("moved.txt")).unwrap().mtime(),
        1_577_934_245
    );
    exact(&mut c, "MDTM moved.txt", "213 20200102030405");
    exact(
        &mut c,
        "MDTM 20201301000000 moved.txt",
        "550 Could not set file modification time.",
    );
    assert_eq!(
        std::fs::metadata(pubd.join("moved.txt")).unwrap().mtime(),
        1_577_934_245
    );
    // Anonymous sessions never get SITE, other-writes or not.
    exact(&mut c, "SITE CHMOD 0644 moved.txt", DENIED);
    assert_eq!(on_disk(&pubd.join("moved.txt")).mode, 0o600);
    quit_and_check(c, &inetd);
    assert_eq!(names_on_disk(&pubd), ["moved.txt", "new.txt", "roots.txt"]);
}

#[test]
fn file_open_mode_and_zero_umask() {
    require_root!();
    let ftp = ftp_account();
    let mut f = writable("openmode", true);
    f.set("file_open_mode=0640");
    f.set("anon_umask=0");
    let inetd = f.inetd();
    let mut c = inetd.login();
    upload_ok(&mut c, "STOR /pub/m.txt", b"mode 0640\n");
    assert_file(&f.root.join("pub/m.txt"), b"mode 0640\n", ftp, 0o640);
    exact(&mut c, "MKD /pub/d", "257 \"/pub/d\" created");
    assert_eq!(on_disk(&f.root.join("pub/d")).mode, 0o777);
    quit_and_check(c, &inetd);
}

// ---------------------------------------------------------------------------------------
// 3. write_enable=NO.
// ---------------------------------------------------------------------------------------

#[test]
fn write_enable_no_refuses_every_write() {
    require_root!();
    let mut f = writable("nowrite", true);
    f.set("write_enable=NO");
    let pubd = f.root.join("pub");
    chmod(&pubd, 0o777);
    let kept = f.file("pub/kept.txt", b"kept\n", 0o666);
    f.mkdir("pub/sub", 0o777);
    let before = on_disk(&kept);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "CWD pub", "250 Directory successfully changed.");
    upload_refused(&mut c, "STOR new.txt", DENIED);
    upload_refused(&mut c, "STOU new.txt", DENIED);
    upload_refused(&mut c, "APPE kept.txt", DENIED);
    upload_refused(&mut c, "STOR kept.txt", DENIED);
    exact(&mut c, "DELE kept.txt", DENIED);
    exact(&mut c, "MKD made", DENIED);
    exact(&mut c, "RMD sub", DENIED);
    exact(&mut c, "RNFR kept.txt", DENIED);
    exact(&mut c, "MDTM 20200102030405 kept.txt", DENIED);
    exact(&mut c, "SITE CHMOD 600 kept.txt", DENIED);
    // Reading still works.
    assert_eq!(retr_ok(&mut c, "kept.txt"), b"kept\n");
    quit_and_check(c, &inetd);
    assert_eq!(names_on_disk(&pubd), ["kept.txt", "sub"]);
    assert_eq!(on_disk(&kept), before);
}

// ---------------------------------------------------------------------------------------
// 4. ASCII uploads.
// ---------------------------------------------------------------------------------------

#[test]
fn ascii_upload_converts_crlf_only_when_enabled() {
    require_root!();
    let ftp = ftp_account();
    let sent: &[u8] = b"line one\r\nline two\r\nbinary\x00\xff\r\nlast";
    for (enabled, want) in [
        (true, &b"line one\nline two\nbinary\x00\xff\nlast"[..]),
        (false, sent),
    ] {
        let mut f = writable("ascii", true);
        f.set(if enabled {
            "ascii_upload_enable=YES"
        } else {
            "ascii_upload_enable=NO"
        });
        let inetd = f.inetd();
        let mut c = inetd.login();
        exact(&mut c, "CWD pub", "250 Directory successfully changed.");
        exact(&mut c, "TYPE A", "200 Switching to ASCII mode.");
        let mut d = c.pasv();
        exact(&mut c, "STOR a.txt", OK_TO_SEND);
        d.write_all(b"line one\r\nline two\r").unwrap();
        d.flush().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        d.write_all(b"\nbinary\x00\xff\r\nlast").unwrap();
        d.shutdown(Shutdown::Write).unwrap();
        assert_eq!(c.read_reply().1, COMPLETE);
        drop(d);
        assert_file(&f.root.join("pub/a.txt"), want, ftp, 0o600);
        // A resumed ASCII upload is refused when conversion is on (offsets differ).
        if enabled {
            exact(&mut c, "REST 2", "350 Restart position accepted (2).");
            upload_refused(
                &mut c,
                "STOR b.txt",
                "550 No support for resume of ASCII transfer.",
            );
        }
        exact(&mut c, "TYPE I", "200 Switching to Binary mode.");
        upload_ok(&mut c, "STOR c.bin", sent);
        assert_file(&f.root.join("pub/c.bin"), sent, ftp, 0o600);
        quit_and_check(c, &inetd);
    }
}

// ---------------------------------------------------------------------------------------
// 5. deny_file and hide_file.
// ---------------------------------------------------------------------------------------

#[test]
fn deny_file_refuses_every_path_and_hide_file_only_hides() {
    require_root!();
    let ftp = ftp_account();
    let mut f = writable("denyhide", true);
    f.set("deny_file={*.secret,private}");
    f.set("hide_file={*.hid}");
    let pubd = f.root.join("pub");
    chmod(&pubd, 0o777);
    let secret = f.file("pub/a.secret", b"secret bytes\n", 0o666);
    let inner = f.file("pub/private/inside.txt", b"private bytes\n", 0o666);
    chmod(&pubd.join("private"), 0o777);
    f.file("pub/ok.txt", b"fine\n", 0o644);
    f.file("pub/x.hid", b"hidden but reachable\n", 0o644);
    let (s0, i0) = (on_disk(&secret), on_disk(&inner));
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "CWD pub", "250 Directory successfully changed.");

    for p in [
        "a.secret",
        "/pub/a.secret",
        "private/inside.txt",
        "../pub/private/inside.txt",
    ] {
        retr_refused(&mut c, p);
        exact(&mut c, &format!("SIZE {p}"), "550 Could not get file size.");
        exact(
            &mut c,
            &format!("MDTM {p}"),
            "550 Could not get file modification time.",
        );
        upload_refused(&mut c, &format!("STOR {p}"), "553 Could not create file.");
        upload_refused(&mut c, &format!("APPE {p}"), "553 Could not create file.");
        exact(&mut c, &format!("DELE {p}"), "550 Delete operation failed.");
        exact(&mut c, &format!("RNFR {p}"), "550 RNFR command failed.");
        exact(
            &mut c,
            &format!("MDTM 20200102030405 {p}"),
            "550 Could not set file modification time.",
        );
    }
    for p in ["private", "/pub/private", "private/", "private/."] {
        exact(
            &mut c,
            &format!("CWD {p}"),
            "550 Failed to change directory.",
        );
        exact(
            &mut c,
            &format!("RMD {p}"),
            "550 Remove directory operation failed.",
        );
    }
    let (first, _, _) = fetch(&mut c, "LIST private");
    assert_eq!(first.1, DENIED);
    upload_refused(&mut c, "STOR new.secret", "553 Could not create file.");
    upload_refused(&mut c, "STOR private/new.txt", "553 Could not create file.");
    upload_refused(&mut c, "STOU private", DENIED);
    exact(
        &mut c,
        "MKD private/sub",
        "550 Create directory operation failed.",
    );
    exact(
        &mut c,
        "MKD z.secret",
        "550 Create directory operation failed.",
    );
    // Renaming an allowed file onto a denied name fails too.
    upload_ok(&mut c, "STOR plain.txt", b"plain\n");
    exact(&mut c, "RNFR plain.txt", "350 Ready for RNTO.");
    exact(&mut c, "RNTO plain.secret", "550 Rename failed.");
    exact(&mut c, "RNFR plain.txt", "350 Ready for RNTO.");
    exact(&mut c, "RNTO private/plain.txt", "550 Rename failed.");

    // Other files are fine.
    assert_eq!(retr_ok(&mut c, "ok.txt"), b"fine\n");
    exact(&mut c, "SIZE ok.txt", "213 5");
    // hide_file: not listed, still reachable by name.
    let names = listed_names(&listing(&mut c, "LIST", true));
    assert!(names.contains(&"ok.txt".to_string()), "{names:?}");
    assert!(!names.contains(&"x.hid".to_string()), "{names:?}");
    let names = listed_names(&listing(&mut c, "NLST", true));
    assert!(!names.contains(&"x.hid".to_string()), "{names:?}");
    let names = listed_names(&listing(&mut c, "NLST *.hid", true));
    assert!(names.is_empty(), "{names:?}");
    assert_eq!(retr_ok(&mut c, "x.hid"), b"hidden but reachable\n");
    exact(&mut c, "SIZE x.hid", "213 21");
    quit_and_check(c, &inetd);

    assert_eq!(on_disk(&secret), s0);
    assert_eq!(on_disk(&inner), i0);
    assert_eq!(names_on_disk(&pubd.join("private")), ["inside.txt"]);
    assert_eq!(
        names_on_disk(&pubd),
        ["a.secret", "ok.txt", "plain.txt", "private", "x.hid"]
    );
    assert_file(&pubd.join("plain.txt"), b"plain\n", ftp, 0o600);
}

// ---------------------------------------------------------------------------------------
// 6. Real clients uploading.
// ---------------------------------------------------------------------------------------

#[test]
fn curl_uploads_create_dirs_resume_append() {
    require_root!();
    let ftp = ftp_account();
    let f = writable("curlup", true);
    let pubd = f.root.join("pub");
    let local = f.dir.join("local");
    std::fs::create_dir(&local).unwrap();
    let full = random_bytes(1_500_000, 21);
    std::fs::write(local.join("up.bin"), &full).unwrap();
    let inetd = f.inetd();

    // -T to a directory URL: the local name is used.
    let o = run(
        "curl",
        &["-sS", "-T", "up.bin", &url(&inetd, "pub/")],
        &local,
    );
    assert_ok("curl -T", &o);
    assert_file(&pubd.join("up.bin"), &full, ftp, 0o600);

    // --ftp-create-dirs makes the missing directories (0777 & ~077).
    let o = run(
        "curl",
        &[
            "-sS",
            "--ftp-create-dirs",
            "-T",
            "up.bin",
            &url(&inetd, "pub/new/deeper/"),
        ],
        &local,
    );
    assert_ok("curl --ftp-create-dirs", &o);
    assert_file(&pubd.join("new/deeper/up.bin"), &full, ftp, 0o600);
    for d in ["new", "new/deeper"] {
        let md = std::fs::metadata(pubd.join(d)).unwrap();
        assert_eq!((md.mode() & 0o7777, md.uid()), (0o700, ftp.uid), "{d}");
    }

    // -C -: a first upload of the truncated source, then a resume with the full source.
    std::fs::write(local.join("half.bin"), &full[..600_001]).unwrap();
    let o = run(
        "curl",
        &["-sS", "-T", "half.bin", &url(&inetd, "pub/resumed.bin")],
        &local,
    );
    assert_ok("curl -T half", &o);
    assert_eq!(
        std::fs::metadata(pubd.join("resumed.bin")).unwrap().len(),
        600_001
    );
    let o = run(
        "curl",
        &[
            "-sS",
            "-C",
            "-",
            "-T",
            "up.bin",
            &url(&inetd, "pub/resumed.bin"),
        ],
        &local,
    );
    assert_ok("curl -C -", &o);
    assert_eq!(
        common::sha256(&pubd.join("resumed.bin")),
        common::sha256(&local.join("up.bin"))
    );
    assert_file(&pubd.join("resumed.bin"), &full, ftp, 0o600);

    // --append.
    std::fs::write(local.join("a1"), b"first part\n").unwrap();
    std::fs::write(local.join("a2"), b"second part\n").unwrap();
    let o = run(
        "curl",
        &["-sS", "-T", "a1", &url(&inetd, "pub/app.txt")],
        &local,
    );
    assert_ok("curl -T a1", &o);
    let o = run(
        "curl",
        &["-sS", "--append", "-T", "a2", &url(&inetd, "pub/app.txt")],
        &local,
    );
    assert_ok("curl --append", &o);
    assert_file(
        &pubd.join("app.txt"),
        b"first part\nsecond part\n",
        ftp,
        0o600,
    );
    assert_all_exited(&inetd);
}

fn lftp(inetd: &Inetd, cwd: &Path, commands: &str) -> Output {
    let script = lftp_script("", "anonymous", "a@b", inetd.addr.port(), commands);
    run("lftp", &["-c", &script], cwd)
}

#[test]
fn lftp_put_mirror_mv_rm() {
    require_root!();
    let ftp = ftp_account();
    let f = writable("lftpup", true);
    let pubd = f.root.join("pub");
    let local = f.dir.join("local");
    std::fs::create_dir(&local).unwrap();
    let body = random_bytes(700_000, 31);
    std::fs::write(local.join("put.bin"), &body).unwrap();
    // A tree to mirror: subdirectories, an empty file, spaces, binary data.
    let tree = local.join("tree");
    std::fs::create_dir_all(tree.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(tree.join("empty dir")).unwrap();
    std::fs::write(tree.join("readme.txt"), b"a tree to mirror\n").unwrap();
    std::fs::write(tree.join("empty.bin"), b"").unwrap();
    std::fs::write(tree.join("sub/with space.bin"), random_bytes(40_000, 32)).unwrap();
    std::fs::write(tree.join("sub/deeper/big.bin"), random_bytes(1_000_000, 33)).unwrap();
    let inetd = f.inetd();

    let o = lftp(&inetd, &local, "put put.bin -o pub/put.bin");
    assert_ok("lftp put", &o);
    assert_file(&pubd.join("put.bin"), &body, ftp, 0o600);

    let o = lftp(&inetd, &local, "mirror -R --no-perms tree pub/tree");
    assert_ok("lftp mirror -R", &o);
    assert_ok("diff -r", &diff(&tree, &pubd.join("tree")));
    for rel in [
        "readme.txt",
        "empty.bin",
        "sub/with space.bin",
        "sub/deeper/big.bin",
    ] {
        let got = on_disk(&pubd.join("tree").join(rel));
        assert_eq!(
            (got.uid, got.gid, got.mode),
            (ftp.uid, ftp.gid, 0o600),
            "{rel}"
        );
    }
    for rel in ["", "sub", "sub/deeper", "empty dir"] {
        let got = on_disk(&pubd.join("tree").join(rel));
        assert_eq!((got.uid, got.mode), (ftp.uid, 0o700), "dir {rel:?}");
    }

    let o = lftp(&inetd, &local, "mv pub/put.bin pub/moved.bin");
    assert_ok("lftp mv", &o);
    assert!(!pubd.join("put.bin").exists());
    assert_file(&pubd.join("moved.bin"), &body, ftp, 0o600);

    // With anon_other_write_enable=YES anonymous users manage files, so the drop-box rule
    // (uploads hidden and unreadable) does not apply: a recursive delete of its own
    // uploads sees them and removes them all, once anon_world_readable_only=NO lets it
    // list the 0700 directories it made with anon_umask=077 (as in vsftpd). Each new
    // connection reads the configuration again.
    let mut f = f;
    f.set("anon_world_readable_only=NO");
    let o = lftp(&inetd, &local, "rm -r pub/tree");
    assert_ok("lftp rm -r of its own uploads", &o);
    assert!(!pubd.join("tree").exists());
    let o = lftp(&inetd, &local, "mirror -R --no-perms tree pub/tree");
    assert_ok("mirror -R again", &o);
    assert_ok(
        "diff -r after the second mirror",
        &diff(&tree, &pubd.join("tree")),
    );

    // A tree made by root in directories anonymous may write: rm -r removes it all.
    let made = f.mkdir("pub/made/sub/deeper", 0o777);
    chmod(&pubd.join("made"), 0o777);
    chmod(&pubd.join("made/sub"), 0o777);
    f.file("pub/made/a.txt", b"a\n", 0o644);
    f.file("pub/made/sub/b.txt", b"b\n", 0o644);
    f.file("pub/made/sub/deeper/c.bin", &random_bytes(5000, 34), 0o644);
    assert!(made.is_dir());
    let o = lftp(&inetd, &local, "rm -r pub/made");
    assert_ok("lftp rm -r", &o);
    assert!(!pubd.join("made").exists());
    assert_eq!(names_on_disk(&pubd), ["moved.bin", "tree"]);
    assert_all_exited(&inetd);
}

fn diff(a: &Path, b: &Path) -> Output {
    Command::new("diff")
        .arg("-r")
        .arg(a)
        .arg(b)
        .output()
        .unwrap()
}

#[test]
fn ftplib_storbinary_storlines() {
    require_root!();
    let ftp = ftp_account();
    let mut f = writable("ftplibup", true);
    f.set("ascii_upload_enable=YES");
    let pubd = f.root.join("pub");
    let local = f.dir.join("local");
    std::fs::create_dir(&local).unwrap();
    let bin = random_bytes(333_333, 41);
    let text = b"first line\nsecond line\n\n  indented\ttab\nlast line\n";
    std::fs::write(local.join("b.bin"), &bin).unwrap();
    std::fs::write(local.join("t.txt"), text).unwrap();
    let inetd = f.inetd();
    let script = format!(
        r#"
import ftplib
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", {port}, timeout=20)
ftp.login("anonymous", "a@b")
ftp.cwd("pub")
with open("b.bin", "rb") as fh:
    r = ftp.storbinary("STOR b.bin", fh, blocksize=8192)
assert r == "226 Transfer complete.", r
with open("t.txt", "rb") as fh:
    r = ftp.storlines("STOR t.txt", fh)
assert r == "226 Transfer complete.", r
ftp.set_pasv(False)
with open("b.bin", "rb") as fh:
    r = ftp.storbinary("STOR active.bin", fh)
assert r == "226 Transfer complete.", r
assert ftp.quit().startswith("221")
print("ok")
"#,
        port = inetd.addr.port()
    );
    let o = run("python3", &["-B", "-c", &script], &local);
    assert_ok("ftplib", &o);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
    assert_file(&pubd.join("b.bin"), &bin, ftp, 0o600);
    assert_file(&pubd.join("active.bin"), &bin, ftp, 0o600);
    // storlines sends CRLF lines in TYPE A; with ascii_upload_enable they land as LF.
    assert_file(&pubd.join("t.txt"), text, ftp, 0o600);
    assert_all_exited(&inetd);
}

// ---------------------------------------------------------------------------------------
// 7. Jail escapes.
// ---------------------------------------------------------------------------------------

/// A directory outside every fixture, writable and readable by anyone, removed on drop.
struct Outside(PathBuf);

impl Outside {
    fn new(name: &str) -> Outside {
        let p = PathBuf::from(format!("/tmp/rsftpd-outside-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        chmod(&p, 0o777);
        std::fs::write(p.join("file"), b"outside the jail\n").unwrap();
        chmod(&p.join("file"), 0o666);
        Outside(p)
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn jail_escapes_stay_inside() {
    require_root!();
    let ftp = ftp_account();
    let f = writable("jail", true);
    // The fixture's own directory (the jail's parent) is writable by anyone, so a write
    // that escaped would succeed there and be seen.
    chmod(&f.dir, 0o777);
    let out = Outside::new("jail");
    let pubd = f.root.join("pub");
    std::os::unix::fs::symlink(&out.0, pubd.join("link")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../../../../..{}", out.0.display()),
        pubd.join("rel"),
    )
    .unwrap();
    let file_before = on_disk(&out.0.join("file"));
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "CWD pub", "250 Directory successfully changed.");
    upload_ok(&mut c, "STOR mine.txt", b"inside\n");

    upload_refused(&mut c, "STOR ../../x", DENIED);
    upload_refused(&mut c, "STOR /../x", DENIED);
    upload_refused(
        &mut c,
        "STOR ../../../../../../../tmp/x",
        "550 No such file or directory.",
    );
    // `..` above the root is the root: this lands inside, in /pub.
    upload_ok(&mut c, "STOR /../../pub/y", b"inside too\n");
    assert_file(&pubd.join("y"), b"inside too\n", ftp, 0o600);
    exact(&mut c, "RNFR mine.txt", "350 Ready for RNTO.");
    exact(&mut c, "RNTO ../../outside.txt", "550 Rename failed.");
    exact(&mut c, "RNFR mine.txt", "350 Ready for RNTO.");
    exact(
        &mut c,
        &format!("RNTO link/{}", "renamed.txt"),
        "550 Rename failed.",
    );
    exact(&mut c, "MKD ../z", "550 Create directory operation failed.");
    exact(
        &mut c,
        "MKD ../../../z",
        "550 Create directory operation failed.",
    );

    for l in ["link", "rel"] {
        upload_refused(
            &mut c,
            &format!("STOR {l}/x"),
            "550 No such file or directory.",
        );
        upload_refused(
            &mut c,
            &format!("APPE {l}/file"),
            "550 No such file or directory.",
        );
        retr_refused(&mut c, &format!("{l}/file"));
        exact(
            &mut c,
            &format!("SIZE {l}/file"),
            "550 Could not get file size.",
        );
        exact(
            &mut c,
            &format!("CWD {l}"),
            "550 Failed to change directory.",
        );
        exact(
            &mut c,
            &format!("MKD {l}/d"),
            "550 Create directory operation failed.",
        );
        exact(
            &mut c,
            &format!("DELE {l}/file"),
            "550 Delete operation failed.",
        );
        exact(&mut c, &format!("SITE CHMOD 0600 {l}/file"), DENIED);
        exact(
            &mut c,
            &format!("MDTM 20200102030405 {l}/file"),
            "550 Could not set file modification time.",
        );
        for cmd in [
            format!("LIST {l}"),
            format!("NLST {l}/"),
            format!("LIST {l}/*"),
        ] {
            let (first, data, _) = fetch(&mut c, &cmd);
            assert_eq!(first.0, 150, "{cmd}");
            assert!(
                !String::from_utf8_lossy(&data).contains("file"),
                "{cmd}: {:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }
    quit_and_check(c, &inetd);

    // Nothing arrived outside, nothing outside changed.
    assert_eq!(names_on_disk(&out.0), ["file"]);
    assert_eq!(on_disk(&out.0.join("file")), file_before);
    assert_eq!(names_on_disk(&f.dir), ["empty", "root", "rsftpd.conf"]);
    assert_eq!(names_on_disk(&f.root), ["pub"]);
    assert_eq!(names_on_disk(&pubd), ["link", "mine.txt", "rel", "y"]);
    assert!(!Path::new("/x").exists() && !Path::new("/z").exists());
    assert!(!Path::new("/tmp/x").exists());
}

// ---------------------------------------------------------------------------------------
// 8. Disk full.
// ---------------------------------------------------------------------------------------

/// A tmpfs mounted by the test; unmounted when dropped, even when the test fails.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Result<Mount, String> {
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(String::from_utf8_lossy(&o.stderr).trim().to_string());
        }
        Ok(Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_is_452_and_the_session_goes_on() {
    require_root!();
    let ftp = ftp_account();
    let f = writable("diskfull", true);
    let full = f.mkdir("pub/full", 0o755);
    let _mount = match Mount::tmpfs(&full, "size=1m,mode=0755") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipped: cannot mount a tmpfs here ({e})");
            return;
        }
    };
    chown(&full, ftp);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(
        &mut c,
        "CWD /pub/full",
        "250 Directory successfully changed.",
    );
    let big = random_bytes(3 << 20, 51);
    let s = upload(&mut c, "STOR big.bin", &big);
    assert_eq!(s.first.1, OK_TO_SEND);
    assert_eq!(
        s.last.unwrap().1,
        "452 Insufficient storage space on the server."
    );
    exact(&mut c, "NOOP", "200 NOOP ok.");
    // The partial file stays, a prefix of what was sent.
    let partial = std::fs::read(full.join("big.bin")).unwrap();
    assert!(
        !partial.is_empty() && partial.len() <= 1 << 20,
        "{} bytes",
        partial.len()
    );
    assert!(big.starts_with(&partial));
    assert_eq!(names_on_disk(&full), ["big.bin"]);
    exact(&mut c, "DELE big.bin", "250 Delete operation successful.");
    let small = random_bytes(10_000, 52);
    upload_ok(&mut c, "STOR small.bin", &small);
    assert_file(&full.join("small.bin"), &small, ftp, 0o600);
    exact(&mut c, "PWD", "257 \"/pub/full\" is the current directory");
    quit_and_check(c, &inetd);
}

// ---------------------------------------------------------------------------------------
// 9. Uploads cut off by the client, and ABOR.
// ---------------------------------------------------------------------------------------

#[test]
fn upload_cut_off_by_the_client_keeps_what_was_sent() {
    require_root!();
    let ftp = ftp_account();
    let f = writable("cutoff", true);
    let pubd = f.root.join("pub");
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "CWD pub", "250 Directory successfully changed.");
    let body = random_bytes(1_000_000, 61);

    // The client sends half and closes: the normal end of a STOR.
    let mut d = c.pasv();
    exact(&mut c, "STOR half.bin", OK_TO_SEND);
    d.write_all(&body[..500_000]).unwrap();
    d.shutdown(Shutdown::Both).unwrap();
    drop(d);
    assert_eq!(c.read_reply().1, COMPLETE);
    assert_file(&pubd.join("half.bin"), &body[..500_000], ftp, 0o600);

    // ABOR while the client holds the data connection open without sending.
    let mut d = c.pasv();
    exact(&mut c, "STOR aborted.bin", OK_TO_SEND);
    d.write_all(&body[..300_000]).unwrap();
    assert_eq!(wait_len(&pubd.join("aborted.bin"), 300_000), 300_000);
    c.send("ABOR");
    assert_eq!(c.read_reply().1, "426 Failure reading network stream.");
    assert_eq!(c.read_reply().1, "226 ABOR successful.");
    drop(d);
    exact(&mut c, "NOOP", "200 NOOP ok.");
    assert_file(&pubd.join("aborted.bin"), &body[..300_000], ftp, 0o600);

    // The session goes on: a complete upload after both.
    upload_ok(&mut c, "STOR whole.bin", &body);
    assert_file(&pubd.join("whole.bin"), &body, ftp, 0o600);
    // No temporary files anywhere.
    assert_eq!(
        names_on_disk(&pubd),
        ["aborted.bin", "half.bin", "whole.bin"]
    );
    quit_and_check(c, &inetd);
}

#[test]
fn client_hanging_up_mid_upload_ends_every_process() {
    require_root!();
    let ftp = ftp_account();
    let f = writable("hangup", true);
    let pubd = f.root.join("pub");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let mut d = c.pasv();
    exact(&mut c, "STOR /pub/gone.bin", OK_TO_SEND);
    d.write_all(&[7u8; 100_000]).unwrap();
    assert_eq!(wait_len(&pubd.join("gone.bin"), 100_000), 100_000);
    // The control connection goes away while the data connection is still open.
    c.stream.shutdown(Shutdown::Both).unwrap();
    drop(c);
    assert_all_exited(&inetd);
    drop(d);
    assert_file(&pubd.join("gone.bin"), &[7u8; 100_000], ftp, 0o600);
    assert_eq!(names_on_disk(&pubd), ["gone.bin"]);
}

/// A data connection that never comes (accept_timeout) gets 425, and the upload leaves
/// nothing behind: a file the STOR or STOU created is removed again (vsftpd leaves it
/// empty), an existing file is untouched (a plain STOR empties a file only once bytes
/// flow), and the log has a failed upload.
#[test]
fn upload_whose_data_connection_never_comes_leaves_nothing() {
    require_root!();
    let mut f = writable("up-nodata", true);
    f.set("accept_timeout=1");
    let log = f.dir.join("vsftpd.log");
    f.set("xferlog_enable=YES");
    f.set(&format!("vsftpd_log_file={}", log.display()));
    // World-writable, so the anonymous account can open it: the data connection is what fails.
    let kept = f.file("pub/kept.txt", b"old contents\n", 0o666);
    let before = on_disk(&kept);
    let inetd = f.inetd();
    let mut c = inetd.login();
    c.expect("CWD pub", 250);
    for command in ["STOR fresh.txt", "STOU", "STOR kept.txt", "APPE kept.txt"] {
        // PASV, then the command, but no connection to the announced port.
        let _ = c.expect("PASV", 227);
        let (code, text) = c.cmd(command);
        assert_eq!(
            (code, text.as_str()),
            (425, "425 Failed to establish connection."),
            "{command}"
        );
    }
    assert_eq!(names_on_disk(&f.root.join("pub")), ["kept.txt"]);
    assert_eq!(on_disk(&kept), before);
    exact(&mut c, "QUIT", "221 Goodbye.");
    drop(c);
    assert!(inetd.wait_all_exited(common::TIMEOUT));
    let text = std::fs::read_to_string(&log).unwrap();
    let fails = text
        .lines()
        .filter(|l| l.contains("FAIL UPLOAD: Client \"127.0.0.1\", \"/pub/"))
        .count();
    assert_eq!(fails, 4, "{text}");
}
