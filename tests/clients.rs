//! Real FTP clients against rsftpd under the mini-inetd: curl, lftp, tnftp, wget and
//! Python's ftplib (tests/clients_ftplib.py). Each test builds a small tree, runs one
//! client (always under `timeout`, always against 127.0.0.1), checks what the client got
//! byte for byte against the served files, and checks that every server process exited.
//!
//! Needed on the test machine (Debian packages): curl, lftp, tnftp, wget, python3,
//! coreutils (timeout, sha256sum) and diffutils (diff).
mod common;

use common::clients::{assert_ok, lftp_script, show, url};
use common::{assert_all_exited, random_bytes, Fixture, Inetd};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Seconds any one client run may take before `timeout` kills it.
const CLIENT_SECS: &str = "60";

/// Run a client under `timeout`, with `stdin` fed to it; never inherits our terminal.
fn run(prog: &str, args: &[&str], stdin: Option<&str>, cwd: &Path) -> Output {
    common::clients::run(CLIENT_SECS, prog, args, stdin, cwd)
}

/// A tree with subdirectories, an empty file, names with spaces and binary data.
/// With `big`, also a 5 MiB random file.
fn build_tree(f: &Fixture, big: bool) {
    f.file("readme.txt", b"hello from rsftpd\nsecond line\n", 0o644);
    f.file("empty.bin", b"", 0o644);
    f.file("data.bin", &random_bytes(300_000, 1), 0o644);
    f.file("name with spaces.txt", b"spaces in the name\n", 0o644);
    f.file("sub/inner.txt", b"inside sub\n", 0o644);
    f.file("sub/deeper/deep.bin", &random_bytes(12_345, 2), 0o644);
    f.file("sub/deeper/empty too", b"", 0o644);
    f.file(
        "dir with space/file with space.bin",
        &random_bytes(4096, 3),
        0o644,
    );
    f.mkdir("sub/empty dir", 0o755);
    if big {
        f.file("big.bin", &random_bytes(5 << 20, 4), 0o644);
    }
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn out_path(f: &Fixture, name: &str) -> PathBuf {
    f.dir.join(name)
}

fn stdout_text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------
// curl
// ---------------------------------------------------------------------------------------

#[test]
fn curl_list_and_nlst() {
    let f = Fixture::new("curl-list");
    build_tree(&f, false);
    let inetd = f.inetd();

    let o = run("curl", &["-sS", &url(&inetd, "")], None, &f.dir);
    assert_ok("curl LIST", &o);
    let text = stdout_text(&o);
    for name in [
        "readme.txt",
        "empty.bin",
        "data.bin",
        "name with spaces.txt",
    ] {
        let line = text
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name} not in LIST:\n{text}"));
        assert!(line.starts_with("-rw-r--r--"), "{line}");
    }
    let data_line = text.lines().find(|l| l.ends_with(" data.bin")).unwrap();
    assert!(data_line.contains(" 300000 "), "{data_line}");
    for d in ["sub", "dir with space"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with('d') && l.ends_with(&format!(" {d}"))),
            "{d} not a directory in LIST:\n{text}"
        );
    }
    assert_all_exited(&inetd);

    let o = run(
        "curl",
        &["-sS", "--list-only", &url(&inetd, "")],
        None,
        &f.dir,
    );
    assert_ok("curl NLST", &o);
    let mut names: Vec<String> = stdout_text(&o)
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "data.bin",
            "dir with space",
            "empty.bin",
            "name with spaces.txt",
            "readme.txt",
            "sub"
        ]
    );
    assert_all_exited(&inetd);

    // A listing of a subdirectory.
    let o = run(
        "curl",
        &["-sS", "--list-only", &url(&inetd, "sub/deeper/")],
        None,
        &f.dir,
    );
    assert_ok("curl NLST sub/deeper", &o);
    let mut names: Vec<String> = stdout_text(&o).lines().map(String::from).collect();
    names.sort();
    assert_eq!(names, ["deep.bin", "empty too"]);
    assert_all_exited(&inetd);
}

/// Download `path` with extra curl options; returns curl's verbose log (stderr).
fn curl_get(f: &Fixture, inetd: &Inetd, path: &str, extra: &[&str], out: &str) -> String {
    let dest = out_path(f, out);
    let u = url(inetd, path);
    let mut args = vec!["-sS", "-v", "-o", dest.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(&u);
    let o = run("curl", &args, None, &f.dir);
    assert_ok(&format!("curl {extra:?} {path}"), &o);
    assert_eq!(
        common::sha256(&dest),
        common::sha256(&f.root.join(path)),
        "sha256 of {path} with {extra:?}"
    );
    assert_eq!(read(&dest), read(&f.root.join(path)));
    assert_all_exited(inetd);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn curl_passive_downloads_epsv_pasv() {
    let f = Fixture::new("curl-pasv");
    build_tree(&f, false);
    let inetd = f.inetd();

    // curl's default: EPSV.
    let log = curl_get(&f, &inetd, "data.bin", &[], "epsv.out");
    assert!(log.contains("> EPSV"), "no EPSV in:\n{log}");
    assert!(log.contains("> TYPE I"), "{log}");
    assert!(log.contains("> RETR data.bin"), "{log}");

    // PASV only.
    let log = curl_get(&f, &inetd, "data.bin", &["--disable-epsv"], "pasv.out");
    assert!(log.contains("> PASV"), "no PASV in:\n{log}");
    assert!(
        !log.contains("> EPSV"),
        "EPSV despite --disable-epsv:\n{log}"
    );

    // --ftp-pasv (the default spelled out).
    let log = curl_get(&f, &inetd, "readme.txt", &["--ftp-pasv"], "ftppasv.out");
    assert!(log.contains("> EPSV"), "{log}");

    // An empty file.
    curl_get(&f, &inetd, "empty.bin", &[], "empty.out");
    assert_eq!(
        std::fs::metadata(out_path(&f, "empty.out")).unwrap().len(),
        0
    );

    // A name with spaces (percent-encoded in the URL).
    let dest = out_path(&f, "spaces.out");
    let o = run(
        "curl",
        &[
            "-sS",
            "-o",
            dest.to_str().unwrap(),
            &url(&inetd, "name%20with%20spaces.txt"),
        ],
        None,
        &f.dir,
    );
    assert_ok("curl name with spaces", &o);
    assert_eq!(read(&dest), b"spaces in the name\n");
    assert_all_exited(&inetd);
}

#[test]
fn curl_active_downloads() {
    let f = Fixture::new("curl-active");
    build_tree(&f, false);
    let inetd = f.inetd();

    // EPRT first (curl's default for -P).
    let log = curl_get(
        &f,
        &inetd,
        "data.bin",
        &["--ftp-port", "127.0.0.1"],
        "eprt.out",
    );
    assert!(log.contains("> EPRT"), "no EPRT in:\n{log}");
    assert!(!log.contains("> EPSV") && !log.contains("> PASV"), "{log}");

    // PORT only.
    let log = curl_get(
        &f,
        &inetd,
        "data.bin",
        &["-P", "127.0.0.1", "--disable-eprt"],
        "port.out",
    );
    assert!(log.contains("> PORT 127,0,0,1,"), "no PORT in:\n{log}");
    assert!(!log.contains("> EPRT"), "{log}");

    // A listing over an active connection as well.
    let o = run(
        "curl",
        &[
            "-sS",
            "-P",
            "127.0.0.1",
            "--list-only",
            &url(&inetd, "sub/"),
        ],
        None,
        &f.dir,
    );
    assert_ok("curl active NLST", &o);
    let mut names: Vec<String> = stdout_text(&o).lines().map(String::from).collect();
    names.sort();
    assert_eq!(names, ["deeper", "empty dir", "inner.txt"]);
    assert_all_exited(&inetd);
}

#[test]
fn curl_byte_range_uses_rest() {
    let f = Fixture::new("curl-range");
    build_tree(&f, false);
    let inetd = f.inetd();
    let src = read(&f.root.join("data.bin"));

    for (range, lo, hi) in [
        ("100-199", 100usize, 200usize),
        ("299000-", 299_000, 300_000),
    ] {
        let dest = out_path(&f, "range.out");
        let o = run(
            "curl",
            &[
                "-sS",
                "-v",
                "-r",
                range,
                "-o",
                dest.to_str().unwrap(),
                &url(&inetd, "data.bin"),
            ],
            None,
            &f.dir,
        );
        assert_ok(&format!("curl -r {range}"), &o);
        let log = String::from_utf8_lossy(&o.stderr);
        assert!(log.contains(&format!("> REST {lo}")), "no REST in:\n{log}");
        assert_eq!(read(&dest), &src[lo..hi], "range {range}");
        assert_all_exited(&inetd);
    }
}

/// A range from a file too big to sit in the socket buffers: curl sends ABOR while the
/// transfer child is still writing, so the server kills it and answers 426 then 226.
/// (If the transfer had already ended, ABOR gets 225; both are accepted, but either way
/// curl must have the right bytes and the transfer child must be gone.)
#[test]
fn curl_byte_range_aborts_big_transfer() {
    let f = Fixture::new("curl-range-big");
    build_tree(&f, true);
    let inetd = f.inetd();
    let src = read(&f.root.join("big.bin"));
    let dest = out_path(&f, "range-big.out");
    let o = run(
        "curl",
        &[
            "-sS",
            "-v",
            "-r",
            "1000-1999",
            "-o",
            dest.to_str().unwrap(),
            &url(&inetd, "big.bin"),
        ],
        None,
        &f.dir,
    );
    assert_ok("curl -r on big.bin", &o);
    assert_eq!(read(&dest), &src[1000..2000]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("> REST 1000"), "{log}");
    let after_abor = &log[log.find("> ABOR").expect("curl sent no ABOR")..];
    assert!(
        after_abor.contains("< 426 ") || after_abor.contains("< 226 "),
        "{log}"
    );
    assert_all_exited(&inetd);
}

#[test]
fn curl_missing_file_is_exit_78() {
    let f = Fixture::new("curl-missing");
    build_tree(&f, false);
    let inetd = f.inetd();
    let dest = out_path(&f, "missing.out");
    let o = run(
        "curl",
        &[
            "-sS",
            "-o",
            dest.to_str().unwrap(),
            &url(&inetd, "no-such-file.txt"),
        ],
        None,
        &f.dir,
    );
    // 78 is CURLE_REMOTE_FILE_NOT_FOUND: curl got a 550 to RETR (or SIZE).
    assert_eq!(o.status.code(), Some(78), "{}", show(&o));
    assert!(!dest.exists() || read(&dest).is_empty());
    assert_all_exited(&inetd);

    // A missing directory on the way: CWD fails with 550, curl says "access denied" (9).
    let o = run(
        "curl",
        &["-sS", "-o", dest.to_str().unwrap(), &url(&inetd, "nodir/x")],
        None,
        &f.dir,
    );
    assert_eq!(o.status.code(), Some(9), "{}", show(&o));
    assert_all_exited(&inetd);
}

#[test]
fn curl_file_in_subdirectory() {
    let f = Fixture::new("curl-subdir");
    build_tree(&f, false);
    let inetd = f.inetd();

    // curl's default: one CWD per path component.
    let log = curl_get(&f, &inetd, "sub/deeper/deep.bin", &[], "multicwd.out");
    assert!(
        log.contains("> CWD sub") && log.contains("> CWD deeper"),
        "{log}"
    );
    // One CWD to the whole directory.
    let log = curl_get(
        &f,
        &inetd,
        "sub/deeper/deep.bin",
        &["--ftp-method", "singlecwd"],
        "singlecwd.out",
    );
    assert!(log.contains("> CWD sub/deeper"), "{log}");
    // No CWD at all: RETR with the path.
    let log = curl_get(
        &f,
        &inetd,
        "sub/deeper/deep.bin",
        &["--ftp-method", "nocwd"],
        "nocwd.out",
    );
    assert!(log.contains("> RETR sub/deeper/deep.bin"), "{log}");

    // Directory and file names with spaces.
    let dest = out_path(&f, "space-dir.out");
    let o = run(
        "curl",
        &[
            "-sS",
            "-o",
            dest.to_str().unwrap(),
            &url(&inetd, "dir%20with%20space/file%20with%20space.bin"),
        ],
        None,
        &f.dir,
    );
    assert_ok("curl spaces in dir", &o);
    assert_eq!(
        read(&dest),
        read(&f.root.join("dir with space/file with space.bin"))
    );
    assert_all_exited(&inetd);
}

// ---------------------------------------------------------------------------------------
// lftp
// ---------------------------------------------------------------------------------------

fn lftp(f: &Fixture, inetd: &Inetd, passive: bool, commands: &str) -> Output {
    let mode = format!(
        "set ftp:passive-mode {}; ",
        if passive { "on" } else { "off" }
    );
    let script = lftp_script(&mode, "anonymous", "a@b", inetd.addr.port(), commands);
    // -d: the protocol dialogue on stderr, to check which data-connection mode was used.
    run("lftp", &["-d", "-c", &script], None, &f.dir)
}

/// Assert that lftp's debug log shows only the expected kind of data connection.
fn assert_lftp_mode(o: &Output, passive: bool) {
    let log = String::from_utf8_lossy(&o.stderr);
    let pasv = log.contains("---> EPSV") || log.contains("---> PASV");
    let port = log.contains("---> EPRT") || log.contains("---> PORT");
    assert!(
        pasv == passive && port != passive,
        "passive={passive} but the dialogue was:\n{log}"
    );
}

fn lftp_ls_get(passive: bool) {
    let f = Fixture::new(if passive { "lftp-ls" } else { "lftp-ls-active" });
    build_tree(&f, false);
    let inetd = f.inetd();

    let o = lftp(&f, &inetd, passive, "ls; cls -1 sub");
    assert_ok("lftp ls", &o);
    assert_lftp_mode(&o, passive);
    let text = stdout_text(&o);
    for name in [
        "readme.txt",
        "data.bin",
        "name with spaces.txt",
        "dir with space",
    ] {
        assert!(
            text.lines().any(|l| l.ends_with(&format!(" {name}"))),
            "{name} missing from lftp ls:\n{text}"
        );
    }
    for name in ["sub/deeper/", "sub/inner.txt"] {
        assert!(text.lines().any(|l| l == name), "{name} missing:\n{text}");
    }
    assert_all_exited(&inetd);

    let dest = out_path(&f, "lftp-get.out");
    let spaces = out_path(&f, "lftp-spaces.out");
    let o = lftp(
        &f,
        &inetd,
        passive,
        &format!(
            "get data.bin -o {}; get \"name with spaces.txt\" -o {}",
            dest.display(),
            spaces.display()
        ),
    );
    assert_ok("lftp get", &o);
    assert_lftp_mode(&o, passive);
    assert_eq!(read(&dest), read(&f.root.join("data.bin")));
    assert_eq!(read(&spaces), b"spaces in the name\n");
    assert_all_exited(&inetd);
}

#[test]
fn lftp_ls_and_get_passive() {
    lftp_ls_get(true);
}

#[test]
fn lftp_ls_and_get_active() {
    lftp_ls_get(false);
}

fn lftp_mirror(passive: bool, big: bool) {
    let f = Fixture::new(if passive {
        "lftp-mirror"
    } else {
        "lftp-mirror-act"
    });
    build_tree(&f, big);
    let inetd = f.inetd();
    let dest = out_path(&f, "mirror");
    let o = lftp(
        &f,
        &inetd,
        passive,
        &format!("mirror --parallel=2 / {}", dest.display()),
    );
    assert_ok("lftp mirror", &o);
    assert_lftp_mode(&o, passive);
    let d = run(
        "diff",
        &["-r", f.root.to_str().unwrap(), dest.to_str().unwrap()],
        None,
        &f.dir,
    );
    assert_ok("diff -r of the mirror", &d);
    // diff -r already reports a file or directory present on one side only; say the
    // empty ones out loud anyway, as they are the easiest to lose.
    assert!(dest.join("sub/empty dir").is_dir());
    assert_eq!(
        std::fs::metadata(dest.join("sub/deeper/empty too"))
            .unwrap()
            .len(),
        0
    );
    if big {
        assert_eq!(
            common::sha256(&dest.join("big.bin")),
            common::sha256(&f.root.join("big.bin"))
        );
    }
    assert_all_exited(&inetd);
}

#[test]
fn lftp_mirror_passive_with_big_file() {
    lftp_mirror(true, true);
}

#[test]
fn lftp_mirror_active() {
    lftp_mirror(false, false);
}

// ---------------------------------------------------------------------------------------
// tnftp
// ---------------------------------------------------------------------------------------

fn tnftp(passive: bool) {
    let f = Fixture::new(if passive { "tnftp" } else { "tnftp-active" });
    build_tree(&f, false);
    let inetd = f.inetd();
    let dest = out_path(&f, "tnftp-data.out");
    let deep = out_path(&f, "tnftp-deep.out");
    let script = format!(
        "user anonymous a@b\n\
         {}\n\
         binary\n\
         get data.bin {}\n\
         ls\n\
         cd sub/deeper\n\
         pwd\n\
         get deep.bin {}\n\
         ls\n\
         bye\n",
        if passive { "passive on" } else { "passive off" },
        dest.display(),
        deep.display()
    );
    let port = inetd.addr.port().to_string();
    // -v: print the server's replies, so the transcript shows the codes.
    let o = run(
        "tnftp",
        &["-n", "-v", "127.0.0.1", &port],
        Some(&script),
        &f.dir,
    );
    assert_ok("tnftp", &o);
    assert_eq!(read(&dest), read(&f.root.join("data.bin")), "{}", show(&o));
    assert_eq!(read(&deep), read(&f.root.join("sub/deeper/deep.bin")));
    let text = stdout_text(&o);
    for name in [
        " readme.txt",
        " data.bin",
        " name with spaces.txt",
        " sub",
        " deep.bin",
        " empty too",
    ] {
        assert!(text.contains(name), "{name:?} not in tnftp output:\n{text}");
    }
    assert!(
        text.contains("Remote directory: /sub/deeper"),
        "pwd:\n{text}"
    );
    for reply in [
        "230 ",
        "200 Switching to Binary mode.",
        "226 ",
        "250 ",
        "221 ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(reply)),
            "no {reply:?} reply:\n{text}"
        );
    }
    assert_all_exited(&inetd);
}

#[test]
fn tnftp_script_passive() {
    tnftp(true);
}

#[test]
fn tnftp_script_active() {
    tnftp(false);
}

// ---------------------------------------------------------------------------------------
// wget
// ---------------------------------------------------------------------------------------

fn wget(passive: bool) {
    let f = Fixture::new(if passive { "wget" } else { "wget-active" });
    build_tree(&f, false);
    let inetd = f.inetd();
    for (path, out) in [
        ("data.bin", "wget-data.out"),
        ("sub/deeper/deep.bin", "wget-deep.out"),
        ("empty.bin", "wget-empty.out"),
    ] {
        let dest = out_path(&f, out);
        // -d with -q: only the protocol dialogue ("--> CMD") is printed.
        let mut args = vec!["-q", "-d", "--tries=1", "--timeout=10"];
        if !passive {
            args.push("--no-passive-ftp");
        }
        let u = url(&inetd, path);
        args.extend_from_slice(&[u.as_str(), "-O", dest.to_str().unwrap()]);
        let o = run("wget", &args, None, &f.dir);
        assert_ok(&format!("wget {path}"), &o);
        let log = format!("{}{}", stdout_text(&o), String::from_utf8_lossy(&o.stderr));
        let (want, not) = if passive {
            ("--> PASV", "--> PORT")
        } else {
            ("--> PORT", "--> PASV")
        };
        assert!(log.contains(want) && !log.contains(not), "{log}");
        assert_eq!(read(&dest), read(&f.root.join(path)), "{path}");
        assert_all_exited(&inetd);
    }
    // A missing file: wget exits 8 (the server answered with an error).
    let dest = out_path(&f, "wget-missing.out");
    let o = run(
        "wget",
        &[
            "-q",
            "--tries=1",
            &url(&inetd, "nothing-here"),
            "-O",
            dest.to_str().unwrap(),
        ],
        None,
        &f.dir,
    );
    assert_eq!(o.status.code(), Some(8), "{}", show(&o));
    assert_all_exited(&inetd);
}

#[test]
fn wget_passive() {
    wget(true);
}

#[test]
fn wget_active() {
    wget(false);
}

// ---------------------------------------------------------------------------------------
// Python ftplib
// ---------------------------------------------------------------------------------------

/// The tree tests/clients_ftplib.py expects.
fn ftplib_tree(f: &Fixture) {
    f.file("bin.dat", &random_bytes(70_000, 9), 0o644);
    f.file(
        "text.txt",
        b"first line\nsecond line\n\n  indented line\ttab\nlast line without newline",
        0o644,
    );
    f.file("sub/inner.txt", b"inner\nfile\n", 0o644);
}

fn ftplib(mode: &str, extra_conf: &[&str]) {
    let mut f = Fixture::new(&format!("ftplib-{mode}"));
    for kv in extra_conf {
        f.set(kv);
    }
    ftplib_tree(&f);
    let inetd = f.inetd();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients_ftplib.py");
    let port = inetd.addr.port().to_string();
    let o = run(
        "python3",
        &["-B", script, mode, &port, f.root.to_str().unwrap()],
        None,
        &f.dir,
    );
    assert_ok(&format!("ftplib {mode}"), &o);
    assert!(
        stdout_text(&o).contains(&format!("ok {mode}")),
        "{}",
        show(&o)
    );
    assert_all_exited(&inetd);
}

#[test]
fn ftplib_binary_passive() {
    ftplib("binary-pasv", &[]);
}

#[test]
fn ftplib_binary_active() {
    ftplib("binary-active", &[]);
}

#[test]
fn ftplib_ascii_download_enabled() {
    ftplib("ascii-on", &["ascii_download_enable=YES"]);
}

#[test]
fn ftplib_ascii_download_disabled() {
    ftplib("ascii-off", &["ascii_download_enable=NO"]);
}
