//! Protocol tests over the mini-inetd: exact reply codes and sequences, on raw control
//! connections, with data connections opened by hand (PASV, EPSV, PORT, EPRT).
//!
//! Every loop is bounded in count and time and talks only to 127.0.0.1. Run as root (as
//! CI does) the server runs privilege-separated and chrooted; as another user the fixture
//! sets run_as_launching_user=YES. Expectations that depend on that (file owners, the
//! account shown by STAT) are computed, not assumed.
mod common;

use common::ftp::{
    accept_bounded, big_file, exact, hang_up_and_check_exit, list_names, port_arg, read_all,
    set_mtime,
};
use common::{Ctl, Fixture, TIMEOUT};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Helpers (local to this file).
// ---------------------------------------------------------------------------------------

const NOT_LOGGED_IN: &str = "530 Please login with USER and PASS.";
const DENIED: &str = "550 Permission denied.";

/// The exact FEAT reply with the default configuration.
const FEAT: &str =
    "211-Features:\n EPRT\n EPSV\n HOST\n LANG EN*\n MDTM\n MLST type*;size*;modify*;perm*;unique*;unix.mode*;unix.owner*;unix.group*;\n PASV\n REST STREAM\n SIZE\n TVFS\n UTF8\n211 End";

/// The exact HELP reply (vsftpd's layout).
const HELP: &str = "214-The following commands are recognized.\n \
ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP HOST LANG LIST\n \
MDTM MFMT MKD  MLSD MLST MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT\n \
REIN REST RETR RMD  RNFR RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST\n \
TYPE USER XCUP XCWD XMKD XPWD XRMD\n214 Help OK.";

/// Send raw bytes (a whole line, ending included) and return the reply.
fn raw(c: &mut Ctl, bytes: &[u8]) -> (u16, String) {
    c.send_raw(bytes);
    c.read_reply()
}

/// Assert the server closed the control connection: a reply read sees EOF, and so does a
/// direct read on the socket (Ok(0), or a reset after unread input), not a read timeout.
fn assert_closed(c: &mut Ctl) {
    let (code, text) = c.read_reply();
    assert_eq!(code, 0, "expected the connection to close, got {text:?}");
    let mut b = [0u8; 16];
    match c.stream.read(&mut b) {
        Ok(0) => {}
        Ok(n) => panic!("unexpected bytes after close: {:?}", &b[..n]),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "expected EOF, got {e}"
        ),
    }
}

/// Parse every byte received on a control connection as FTP replies: CRLF lines, each
/// reply `NNN text` or `NNN-...` continued until `NNN text`. Returns the number of replies.
fn assert_only_replies(transcript: &[u8]) -> usize {
    let mut replies = 0;
    let mut open: Option<Vec<u8>> = None;
    for line in transcript.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r\n").unwrap_or_else(|| {
            panic!(
                "reply line not CRLF-terminated: {:?}",
                String::from_utf8_lossy(line)
            )
        });
        assert!(!line.contains(&b'\r'), "CR inside a reply line");
        match &open {
            None => {
                assert!(
                    line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit),
                    "not a reply line: {:?}",
                    String::from_utf8_lossy(line)
                );
                match line[3] {
                    b' ' => replies += 1,
                    b'-' => open = Some(line[..3].to_vec()),
                    _ => panic!("bad separator: {:?}", String::from_utf8_lossy(line)),
                }
            }
            Some(code) => {
                if line.len() >= 4 && line[..3] == code[..] && line[3] == b' ' {
                    open = None;
                    replies += 1;
                }
            }
        }
    }
    assert!(open.is_none(), "unterminated multi-line reply");
    replies
}

/// A passive transfer: PASV, the command (raw bytes, no line ending), data to EOF, the final
/// reply. Returns (preliminary reply text, data, final code, final text); when the command
/// is refused the preliminary text is the refusal and the data is empty.
fn transfer_raw(c: &mut Ctl, command: &[u8]) -> (String, Vec<u8>, u16, String) {
    let data = c.pasv();
    let mut line = command.to_vec();
    line.extend_from_slice(b"\r\n");
    let (code, first) = raw(c, &line);
    if code != 150 {
        return (first, Vec::new(), code, String::new());
    }
    let buf = read_all(data);
    let (code, text) = c.read_reply();
    (first, buf, code, text)
}

fn transfer(c: &mut Ctl, command: &str) -> (String, Vec<u8>, u16, String) {
    transfer_raw(c, command.as_bytes())
}

/// A LIST/NLST that must succeed with vsftpd's texts; returns the data.
fn listing(c: &mut Ctl, command: &str) -> Vec<u8> {
    let (first, data, code, text) = transfer(c, command);
    assert_eq!(first, "150 Here comes the directory listing.", "{command}");
    assert_eq!(
        (code, text.as_str()),
        (226, "226 Directory send OK."),
        "{command}"
    );
    data
}

/// NLST as a list of names.
fn nlst(c: &mut Ctl, command: &str) -> Vec<String> {
    let data = listing(c, command);
    let text = String::from_utf8(data).unwrap();
    assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
    text.split_terminator("\r\n").map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------
// Basics.
// ---------------------------------------------------------------------------------------

#[test]
fn greeting_login_pwd_quit() {
    let f = common::Fixture::new("basic");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.expect("USER anonymous", 331);
    c.expect("PASS a@b", 230);
    assert_eq!(c.expect("PWD", 257), "257 \"/\" is the current directory");
    assert_eq!(c.expect("QUIT", 221), "221 Goodbye.");
    assert!(inetd.wait_all_exited(common::TIMEOUT));
}

#[test]
fn pipelined_commands_behind_pass_are_answered() {
    let f = common::Fixture::new("pipeline");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.send_raw(b"USER anonymous\r\nPASS a@b\r\nPWD\r\n");
    assert_eq!(c.read_reply().0, 331);
    assert_eq!(c.read_reply().0, 230);
    assert_eq!(
        c.read_reply(),
        (257, "257 \"/\" is the current directory".to_string())
    );
}

// ---------------------------------------------------------------------------------------
// 1. Pre-login.
// ---------------------------------------------------------------------------------------

#[test]
fn prelogin_serves_only_login_commands() {
    let f = Fixture::new("prelogin");
    f.file("hello.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    for cmd in [
        "NOOP",
        "SYST",
        "PWD",
        "XPWD",
        "LIST",
        "NLST",
        "CWD /",
        "CDUP",
        "TYPE I",
        "PASV",
        "EPSV",
        "PORT 127,0,0,1,4,1",
        "RETR hello.txt",
        "STOR x",
        "MKD x",
        "SIZE hello.txt",
        "MDTM hello.txt",
        "STAT",
        "REST 0",
        "ABOR",
        "SITE HELP",
        "XYZZY",
    ] {
        exact(&mut c, cmd, NOT_LOGGED_IN);
    }
    exact(&mut c, "FEAT", FEAT);
    exact(&mut c, "OPTS UTF8 ON", "200 Always in UTF8 mode.");
    exact(&mut c, "OPTS foo", "501 Option not understood.");
    exact(&mut c, "HELP", HELP);
    // Still not logged in afterwards.
    exact(&mut c, "PWD", NOT_LOGGED_IN);
    exact(&mut c, "QUIT", "221 Goodbye.");
    assert_closed(&mut c);
    assert_eq!(assert_only_replies(&c.transcript), 29);
    assert!(!f.root.join("x").exists());
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn pass_before_user_is_503() {
    let f = Fixture::new("passfirst");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "PASS secret", "503 Login with USER first.");
    // A failed USER does not leave a user behind for PASS either.
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS a@b", "230 Login successful.");
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
}

#[test]
fn local_users_refused_when_anonymous_only() {
    let mut f = Fixture::new("anononly");
    f.set("local_enable=NO");
    f.set("max_login_fails=1");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(
        &mut c,
        "USER root",
        "530 This FTP server is anonymous only.",
    );
    exact(&mut c, "PASS x", "503 Login with USER first.");
    exact(&mut c, "USER bob", "530 This FTP server is anonymous only.");
    exact(&mut c, "NOOP", NOT_LOGGED_IN);
    // The refused USER does not count as a login failure (as vsftpd): still served.
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS a@b", "230 Login successful.");
}

#[test]
fn ftp_and_uppercase_anonymous_are_anonymous() {
    let f = Fixture::new("anonnames");
    f.file("hello.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    for name in ["ftp", "ANONYMOUS", "Ftp", "anonymous"] {
        let mut c = inetd.connect();
        exact(
            &mut c,
            &format!("USER {name}"),
            "331 Please specify the password.",
        );
        exact(&mut c, "PASS guest@example.com", "230 Login successful.");
        exact(&mut c, "SIZE hello.txt", "213 6");
        exact(&mut c, "QUIT", "221 Goodbye.");
        assert_closed(&mut c);
    }
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn anonymous_disabled_refuses_anonymous() {
    let mut f = Fixture::new("noanon");
    f.set("anonymous_enable=NO");
    // Both off is a configuration error (nobody could log in).
    f.set("local_enable=YES");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    // As vsftpd: the names are then ordinary user names, refused at PASS (no such
    // account, or one without a usable password).
    for name in ["anonymous", "ftp"] {
        let (code, text) = c.cmd(&format!("USER {name}"));
        assert_eq!(code, 331, "{text}");
        exact(&mut c, "PASS a@b", "530 Login incorrect.");
    }
    exact(&mut c, "PWD", NOT_LOGGED_IN);
}

#[test]
fn no_anon_password_logs_in_at_user() {
    let mut f = Fixture::new("noanonpass");
    f.set("no_anon_password=YES");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "USER anonymous", "230 Login successful.");
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    exact(&mut c, "PASS whatever", "230 Already logged in.");
}

#[test]
fn banned_email_refused_other_accepted() {
    let mut f = Fixture::new("bannedmail");
    let list = f.dir.join("banned_emails");
    std::fs::write(&list, "# comment\nbad@example.com\n\nworse@example.com\n").unwrap();
    f.set("deny_email_enable=YES");
    f.set(&format!("banned_email_file={}", list.display()));
    f.set("max_login_fails=5");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS bad@example.com", "530 Login incorrect.");
    exact(&mut c, "PWD", NOT_LOGGED_IN);
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS worse@example.com", "530 Login incorrect.");
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS good@example.com", "230 Login successful.");
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
}

#[test]
fn max_login_fails_closes_after_second_failure() {
    let mut f = Fixture::new("maxfails");
    let list = f.dir.join("banned_emails");
    std::fs::write(&list, "bad@example.com\n").unwrap();
    f.set("deny_email_enable=YES");
    f.set(&format!("banned_email_file={}", list.display()));
    f.set("max_login_fails=2");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS bad@example.com", "530 Login incorrect.");
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS bad@example.com", "530 Login incorrect.");
    assert_closed(&mut c);
    assert_only_replies(&c.transcript);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

// ---------------------------------------------------------------------------------------
// 2. Greeting.
// ---------------------------------------------------------------------------------------

#[test]
fn default_greeting_reveals_nothing() {
    let f = Fixture::new("greet");
    let inetd = f.inetd();
    let mut c = Ctl::connect(inetd.addr);
    let (code, text) = c.read_reply();
    assert_eq!((code, text.as_str()), (220, "220 FTP server ready."));
    let lower = text.to_ascii_lowercase();
    for word in ["rsftpd", "vsftpd", "0.1", "version"] {
        assert!(!lower.contains(word), "greeting reveals {word:?}: {text}");
    }
    assert_eq!(c.transcript, b"220 FTP server ready.\r\n");
}

#[test]
fn ftpd_banner_is_the_greeting() {
    let mut f = Fixture::new("banner");
    f.set("ftpd_banner=Welcome to the test service.");
    let inetd = f.inetd();
    let mut c = Ctl::connect(inetd.addr);
    assert_eq!(
        c.read_reply(),
        (220, "220 Welcome to the test service.".to_string())
    );
}

#[test]
fn banner_file_is_multiline_greeting() {
    let mut f = Fixture::new("bannerfile");
    let b = f.dir.join("banner.txt");
    std::fs::write(&b, "Authorised use only.\nSecond line\n").unwrap();
    f.set(&format!("banner_file={}", b.display()));
    // banner_file wins over ftpd_banner, as in vsftpd.
    f.set("ftpd_banner=ignored");
    let inetd = f.inetd();
    let mut c = Ctl::connect(inetd.addr);
    assert_eq!(
        c.read_reply(),
        (
            220,
            "220-Authorised use only.\n220-Second line\n220 ".to_string()
        )
    );
    assert_eq!(
        c.transcript,
        b"220-Authorised use only.\r\n220-Second line\r\n220 \r\n"
    );
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
}

// ---------------------------------------------------------------------------------------
// 3. Post-login commands.
// ---------------------------------------------------------------------------------------

#[test]
fn directory_navigation() {
    let f = Fixture::new("nav");
    f.mkdir("sub/deeper", 0o755);
    f.mkdir("a\"b", 0o755);
    f.file("file.txt", b"x", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let ok = "250 Directory successfully changed.";
    let fail = "550 Failed to change directory.";
    exact(&mut c, "CWD sub", ok);
    exact(&mut c, "PWD", "257 \"/sub\" is the current directory");
    exact(&mut c, "XCWD deeper", ok);
    exact(
        &mut c,
        "XPWD",
        "257 \"/sub/deeper\" is the current directory",
    );
    exact(&mut c, "CDUP", ok);
    exact(&mut c, "PWD", "257 \"/sub\" is the current directory");
    exact(&mut c, "XCUP", ok);
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    // Nothing goes above the root.
    exact(&mut c, "CDUP", ok);
    exact(&mut c, "CWD ../../..", ok);
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    // A quote in a name is doubled in 257 (RFC 959).
    exact(&mut c, "CWD a\"b", ok);
    exact(&mut c, "PWD", "257 \"/a\"\"b\" is the current directory");
    exact(&mut c, "CWD /sub/deeper", ok);
    exact(
        &mut c,
        "PWD",
        "257 \"/sub/deeper\" is the current directory",
    );
    // Failures leave the directory as it was.
    exact(&mut c, "CWD /missing", fail);
    exact(&mut c, "CWD /file.txt", fail);
    exact(&mut c, "XCWD nowhere", fail);
    exact(
        &mut c,
        "PWD",
        "257 \"/sub/deeper\" is the current directory",
    );
}

#[test]
fn type_mode_stru_syst_noop() {
    let f = Fixture::new("type");
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "SYST", "215 UNIX Type: L8");
    exact(&mut c, "NOOP", "200 NOOP ok.");
    exact(&mut c, "TYPE A", "200 Switching to ASCII mode.");
    exact(&mut c, "TYPE I", "200 Switching to Binary mode.");
    exact(&mut c, "TYPE L 8", "200 Switching to Binary mode.");
    exact(&mut c, "TYPE A N", "200 Switching to ASCII mode.");
    exact(&mut c, "type i", "200 Switching to Binary mode.");
    exact(&mut c, "TYPE X", "500 Unrecognised TYPE command.");
    exact(&mut c, "MODE S", "200 Mode set to S.");
    exact(&mut c, "MODE B", "504 Bad MODE command.");
    exact(&mut c, "STRU F", "200 Structure set to F.");
    exact(&mut c, "STRU R", "504 Bad STRU command.");
}

#[test]
fn feat_opts_help_after_login() {
    let f = Fixture::new("feat");
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "FEAT", FEAT);
    exact(&mut c, "OPTS UTF8 ON", "200 Always in UTF8 mode.");
    exact(&mut c, "OPTS foo", "501 Option not understood.");
    exact(&mut c, "HELP", HELP);
    assert_only_replies(&c.transcript);
}

#[test]
fn stat_and_stat_path() {
    let f = Fixture::new("stat");
    f.file("hello.txt", b"hello\n", 0o644);
    f.file("other.bin", b"12345678", 0o644);
    f.file(".dotfile", b"", 0o644);
    f.mkdir("sub", 0o755);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let (code, text) = c.cmd("STAT");
    assert_eq!(code, 211, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "211-FTP server status:");
    assert_eq!(*lines.last().unwrap(), "211 End of status");
    assert!(lines.contains(&"     Connected to 127.0.0.1"), "{text}");
    assert!(lines.contains(&"     TYPE: BINARY"), "{text}");
    assert!(
        lines.contains(&"     Session timeout in seconds is 60"),
        "{text}"
    );
    if common::is_root() {
        // The monitor names the account anonymous sessions run as, as vsftpd does.
        assert!(lines.contains(&"     Logged in as ftp"), "{text}");
    } else {
        assert!(
            lines.iter().any(|l| l.starts_with("     Logged in as ")),
            "{text}"
        );
    }
    exact(&mut c, "TYPE A", "200 Switching to ASCII mode.");
    assert!(c.cmd("STAT").1.contains("\n     TYPE: ASCII\n"));

    let (code, text) = c.cmd("STAT .");
    assert_eq!(code, 213, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "213-Status follows:");
    assert_eq!(*lines.last().unwrap(), "213 End of status");
    let names: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["hello.txt", "other.bin", "sub"], "{text}");
    assert!(lines[1].starts_with("-rw-r--r--"), "{text}");
    assert!(lines[3].starts_with("drwxr-xr-x"), "{text}");

    let (code, text) = c.cmd("STAT hello.txt");
    assert_eq!(code, 213, "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().nth(1).unwrap().ends_with(" hello.txt"));
    assert_only_replies(&c.transcript);
}

#[test]
fn size_and_mdtm() {
    let f = Fixture::new("size");
    let p = f.file("hello.txt", b"hello\n", 0o644);
    f.file("sub/inner.bin", &[7u8; 1000], 0o644);
    // 2021-03-04 05:06:07 UTC.
    set_mtime(&p, 1_614_834_367);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "SIZE hello.txt", "213 6");
    exact(&mut c, "SIZE /sub/inner.bin", "213 1000");
    exact(&mut c, "SIZE sub", "550 Could not get file size.");
    exact(&mut c, "SIZE missing", "550 Could not get file size.");
    exact(&mut c, "MDTM hello.txt", "213 20210304050607");
    exact(&mut c, "MDTM /hello.txt", "213 20210304050607");
    exact(
        &mut c,
        "MDTM sub",
        "550 Could not get file modification time.",
    );
    exact(
        &mut c,
        "MDTM missing",
        "550 Could not get file modification time.",
    );
    // Setting a time is a write: refused for anonymous, and the time is unchanged.
    exact(&mut c, "MDTM 20000101000000 hello.txt", DENIED);
    assert_eq!(std::fs::metadata(&p).unwrap().mtime(), 1_614_834_367);
}

#[test]
fn misc_codes() {
    let f = Fixture::new("misc");
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "REST 100", "350 Restart position accepted (100).");
    exact(&mut c, "REST 0", "350 Restart position accepted (0).");
    let (code, _) = c.cmd("REST abc");
    assert_eq!(code, 501);
    exact(&mut c, "ABOR", "225 No transfer to ABOR.");
    exact(&mut c, "ALLO 1000", "202 ALLO command ignored.");
    exact(&mut c, "XYZZY", "500 Unknown command.");
    exact(&mut c, "FOO bar", "500 Unknown command.");
    for cmd in ["ACCT x", "SMNT /"] {
        let (code, text) = c.cmd(cmd);
        assert_eq!(code, 502, "{cmd}: {text}");
    }
    exact(&mut c, "NOOP", "200 NOOP ok.");
}

#[test]
fn wrong_argument_counts_are_501() {
    let f = Fixture::new("args");
    f.file("hello.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    for cmd in [
        "CWD", "CWD ", "XCWD", "PWD /", "XPWD x", "CDUP x", "RETR", "SIZE", "MDTM", "TYPE", "MODE",
        "STRU", "REST", "PORT", "EPRT", "SYST x", "NOOP x", "PASV x", "QUIT now",
    ] {
        let (code, text) = c.cmd(cmd);
        assert_eq!(code, 501, "{cmd:?}: {text}");
    }
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
}

#[test]
fn write_commands_denied_for_anonymous() {
    let f = Fixture::new("nowrite");
    let hello = f.file("hello.txt", b"hello\n", 0o644);
    f.mkdir("sub", 0o755);
    let inetd = f.inetd();
    let before = std::fs::read_dir(&f.root).unwrap().count();
    let mut c = inetd.login();
    // A data connection set up first must not change the answer, and no 150 is sent.
    let _d = c.pasv();
    for cmd in [
        "STOR new.txt",
        "STOU",
        "APPE hello.txt",
        "DELE hello.txt",
        "MKD newdir",
        "XMKD newdir2",
        "RMD sub",
        "XRMD sub",
        "RNFR hello.txt",
        "RNTO moved.txt",
        "SITE CHMOD 777 hello.txt",
        "SITE HELP",
    ] {
        exact(&mut c, cmd, DENIED);
    }
    exact(&mut c, "NOOP", "200 NOOP ok.");
    assert_eq!(std::fs::read_dir(&f.root).unwrap().count(), before);
    for name in ["new.txt", "newdir", "newdir2", "moved.txt"] {
        assert!(!f.root.join(name).exists(), "{name} was created");
    }
    assert!(f.root.join("sub").is_dir());
    assert_eq!(std::fs::read(&hello).unwrap(), b"hello\n");
    assert_eq!(
        std::fs::metadata(&hello).unwrap().permissions().mode() & 0o7777,
        0o644
    );
}

#[test]
fn user_and_pass_after_login() {
    let f = Fixture::new("relogin");
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(
        &mut c,
        "USER anonymous",
        "530 Can't change from guest user.",
    );
    exact(&mut c, "USER root", "530 Can't change from guest user.");
    exact(&mut c, "PASS x", "230 Already logged in.");
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
}

// ---------------------------------------------------------------------------------------
// 4. Data connections by hand.
// ---------------------------------------------------------------------------------------

#[test]
fn pasv_and_epsv_reply_formats() {
    let f = Fixture::new("pasv");
    f.file("a.txt", b"a", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let (code, text) = c.cmd("PASV");
    assert_eq!(code, 227, "{text}");
    let inner = text
        .strip_prefix("227 Entering Passive Mode (")
        .and_then(|t| t.strip_suffix(")."))
        .unwrap_or_else(|| panic!("bad 227: {text:?}"));
    let n: Vec<u32> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    assert_eq!(n.len(), 6, "{text}");
    assert_eq!(&n[..4], &[127, 0, 0, 1], "{text}");
    assert!(n[4] < 256 && n[5] < 256);
    let port = (n[4] * 256 + n[5]) as u16;
    assert!(port > 0);
    let d = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), TIMEOUT).unwrap();
    let (code, text) = c.cmd("NLST");
    assert_eq!(
        (code, text.as_str()),
        (150, "150 Here comes the directory listing.")
    );
    assert_eq!(read_all(d), b"a.txt\r\n");
    assert_eq!(c.read_reply(), (226, "226 Directory send OK.".to_string()));

    let (code, text) = c.cmd("EPSV");
    assert_eq!(code, 229, "{text}");
    let port: u16 = text
        .strip_prefix("229 Entering Extended Passive Mode (|||")
        .and_then(|t| t.strip_suffix("|)"))
        .unwrap_or_else(|| panic!("bad 229: {text:?}"))
        .parse()
        .unwrap();
    let d = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), TIMEOUT).unwrap();
    exact(&mut c, "NLST", "150 Here comes the directory listing.");
    assert_eq!(read_all(d), b"a.txt\r\n");
    assert_eq!(c.read_reply(), (226, "226 Directory send OK.".to_string()));
    // EPSV 1 names our protocol; EPSV 2 does not.
    assert_eq!(c.cmd("EPSV 1").0, 229);
    assert_eq!(c.cmd("EPSV 2").0, 522);
}

#[test]
fn epsv_all_locks_out_pasv_and_port() {
    let f = Fixture::new("epsvall");
    f.file("a.txt", b"a", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "EPSV ALL", "200 EPSV ALL ok.");
    exact(&mut c, "PASV", DENIED);
    exact(&mut c, "PORT 127,0,0,1,100,100", DENIED);
    exact(&mut c, "EPRT |1|127.0.0.1|25700|", DENIED);
    let (code, text) = c.cmd("EPSV");
    assert_eq!(code, 229, "{text}");
    let port: u16 = text[text.find("(|||").unwrap() + 4..text.len() - 2]
        .parse()
        .unwrap();
    let d = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), TIMEOUT).unwrap();
    exact(&mut c, "NLST", "150 Here comes the directory listing.");
    assert_eq!(read_all(d), b"a.txt\r\n");
    assert_eq!(c.read_reply().0, 226);
}

#[test]
fn list_format_is_vsftpds() {
    let f = Fixture::new("lsfmt");
    let p = f.file("hello.txt", b"hello\n", 0o644);
    set_mtime(&p, 1_577_836_800); // 2020-01-01 00:00:00 UTC
    let md = std::fs::metadata(&p).unwrap();
    let inetd = f.inetd();
    let mut c = inetd.login();
    let want = format!(
        "-rw-r--r--    1 {:<8} {:<8} {:>8} Jan 01  2020 hello.txt\r\n",
        md.uid(),
        md.gid(),
        6
    );
    if common::is_root() {
        assert_eq!(
            want,
            "-rw-r--r--    1 0        0               6 Jan 01  2020 hello.txt\r\n"
        );
    }
    assert_eq!(String::from_utf8(listing(&mut c, "LIST")).unwrap(), want);
    assert_eq!(
        String::from_utf8(listing(&mut c, "LIST hello.txt")).unwrap(),
        want
    );
    exact(&mut c, "QUIT", "221 Goodbye.");

    let mut f2 = Fixture::new("lsfmt-hide");
    f2.set("hide_ids=YES");
    let p = f2.file("hello.txt", b"hello\n", 0o644);
    set_mtime(&p, 1_577_836_800);
    let inetd = f2.inetd();
    let mut c = inetd.login();
    assert_eq!(
        String::from_utf8(listing(&mut c, "LIST")).unwrap(),
        "-rw-r--r--    1 ftp      ftp             6 Jan 01  2020 hello.txt\r\n"
    );
}

#[test]
fn nlst_list_globs_and_dot_files() {
    let f = Fixture::new("nlst");
    f.file("a.txt", b"a", 0o644);
    f.file("b.txt", b"bb", 0o644);
    f.file("c.dat", b"ccc", 0o644);
    f.file(".hidden", b"h", 0o644);
    f.file("sub/x.txt", b"x", 0o644);
    f.file("sub/y.txt", b"y", 0o644);
    f.file("sub/z.dat", b"z", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    assert_eq!(nlst(&mut c, "NLST"), ["a.txt", "b.txt", "c.dat", "sub"]);
    assert_eq!(
        nlst(&mut c, "NLST sub"),
        ["sub/x.txt", "sub/y.txt", "sub/z.dat"]
    );
    assert_eq!(nlst(&mut c, "NLST *.txt"), ["a.txt", "b.txt"]);
    assert_eq!(nlst(&mut c, "NLST sub/*.txt"), ["sub/x.txt", "sub/y.txt"]);
    assert_eq!(
        list_names(&listing(&mut c, "LIST *.txt")),
        ["a.txt", "b.txt"]
    );
    assert_eq!(
        list_names(&listing(&mut c, "LIST")),
        ["a.txt", "b.txt", "c.dat", "sub"]
    );
    assert_eq!(
        list_names(&listing(&mut c, "LIST -a")),
        [".", "..", ".hidden", "a.txt", "b.txt", "c.dat", "sub"]
    );
    assert_eq!(
        list_names(&listing(&mut c, "LIST sub")),
        ["x.txt", "y.txt", "z.dat"]
    );
    // A glob that matches nothing is an empty, successful listing.
    assert!(listing(&mut c, "NLST *.none").is_empty());
}

#[test]
fn retr_rest_and_errors() {
    let f = Fixture::new("retr");
    f.file("hello.txt", b"hello\n", 0o644);
    f.file("secret.txt", b"secret\n", 0o600);
    f.mkdir("sub", 0o755);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let (first, data, code, text) = transfer(&mut c, "RETR hello.txt");
    assert_eq!(
        first,
        "150 Opening BINARY mode data connection for hello.txt (6 bytes)."
    );
    assert_eq!(data, b"hello\n");
    assert_eq!((code, text.as_str()), (226, "226 Transfer complete."));

    exact(&mut c, "REST 3", "350 Restart position accepted (3).");
    let (first, data, code, _) = transfer(&mut c, "RETR hello.txt");
    assert!(first.starts_with("150 "), "{first}");
    assert_eq!(data, b"lo\n");
    assert_eq!(code, 226);
    // The offset applied to one transfer only.
    assert_eq!(transfer(&mut c, "RETR hello.txt").1, b"hello\n");
    // REST after PASV, and REST with other commands before RETR (as vsftpd: only a
    // transfer uses the offset up).
    let d = c.pasv();
    exact(&mut c, "REST 1", "350 Restart position accepted (1).");
    exact(&mut c, "TYPE I", "200 Switching to Binary mode.");
    exact(&mut c, "NOOP", "200 NOOP ok.");
    assert_eq!(c.cmd("RETR hello.txt").0, 150);
    assert_eq!(read_all(d), b"ello\n");
    assert_eq!(c.read_reply().0, 226);
    // An offset at the very end sends nothing, successfully.
    exact(&mut c, "REST 6", "350 Restart position accepted (6).");
    let (_, data, code, _) = transfer(&mut c, "RETR hello.txt");
    assert_eq!((data.len(), code), (0, 226));

    // Past the end: refused before any 150.
    exact(&mut c, "REST 100", "350 Restart position accepted (100).");
    let (first, data, code, _) = transfer(&mut c, "RETR hello.txt");
    assert_eq!(code, 554, "{first}");
    assert!(data.is_empty());

    for cmd in [
        "RETR missing.txt",
        "RETR sub",
        "RETR /",
        // anon_world_readable_only (the default): mode 0600 is not served.
        "RETR secret.txt",
    ] {
        let (first, _, code, _) = transfer(&mut c, cmd);
        assert_eq!(
            (code, first.as_str()),
            (550, "550 Failed to open file."),
            "{cmd}"
        );
    }
    exact(&mut c, "NOOP", "200 NOOP ok.");
    assert_only_replies(&c.transcript);
}

#[test]
fn ascii_download_conversion() {
    let body = b"line one\nline two\n\nend";
    let want_ascii = b"line one\r\nline two\r\n\r\nend";

    // Without ascii_download_enable TYPE A changes nothing (vsftpd's default).
    let f = Fixture::new("ascii-off");
    f.file("t.txt", body, 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "TYPE A", "200 Switching to ASCII mode.");
    let (first, data, code, _) = transfer(&mut c, "RETR t.txt");
    assert_eq!(
        first,
        "150 Opening BINARY mode data connection for t.txt (22 bytes)."
    );
    assert_eq!((data.as_slice(), code), (&body[..], 226));
    exact(&mut c, "QUIT", "221 Goodbye.");

    let mut f = Fixture::new("ascii-on");
    f.set("ascii_download_enable=YES");
    f.file("t.txt", body, 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(&mut c, "TYPE A", "200 Switching to ASCII mode.");
    let (first, data, code, text) = transfer(&mut c, "RETR t.txt");
    assert_eq!(
        first,
        "150 Opening ASCII mode data connection for t.txt (22 bytes)."
    );
    assert_eq!(data, want_ascii);
    assert_eq!((code, text.as_str()), (226, "226 Transfer complete."));
    exact(&mut c, "TYPE I", "200 Switching to Binary mode.");
    assert_eq!(transfer(&mut c, "RETR t.txt").1, body);
}

#[test]
fn transfer_without_data_setup_is_425() {
    let f = Fixture::new("no425");
    f.file("hello.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    for cmd in ["RETR hello.txt", "LIST", "NLST"] {
        exact(&mut c, cmd, "425 Use PORT or PASV first.");
    }
    // A PASV is used up by one transfer.
    let (_, data, code, _) = transfer(&mut c, "RETR hello.txt");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226));
    exact(&mut c, "LIST", "425 Use PORT or PASV first.");
}

#[test]
fn active_mode_port_and_eprt() {
    let mut f = Fixture::new("active");
    if common::is_root() {
        // As root the monitor makes the connection from port 20.
        f.set("connect_from_port_20=YES");
    }
    f.file("hello.txt", b"hello\n", 0o644);
    f.file("b.txt", b"b", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    exact(
        &mut c,
        &format!("PORT {}", port_arg(port)),
        "200 PORT command successful. Consider using PASV.",
    );
    exact(
        &mut c,
        "RETR hello.txt",
        "150 Opening BINARY mode data connection for hello.txt (6 bytes).",
    );
    let d = accept_bounded(&l);
    if common::is_root() {
        assert_eq!(d.peer_addr().unwrap().port(), 20);
    }
    assert_eq!(read_all(d), b"hello\n");
    assert_eq!(c.read_reply(), (226, "226 Transfer complete.".to_string()));

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    exact(
        &mut c,
        &format!("EPRT |1|127.0.0.1|{port}|"),
        "200 EPRT command successful. Consider using EPSV.",
    );
    exact(&mut c, "NLST", "150 Here comes the directory listing.");
    assert_eq!(read_all(accept_bounded(&l)), b"b.txt\r\nhello.txt\r\n");
    assert_eq!(c.read_reply(), (226, "226 Directory send OK.".to_string()));
}

#[test]
fn bad_port_and_eprt() {
    let f = Fixture::new("badport");
    f.file("hello.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let illegal = "500 Illegal PORT command.";
    // Privileged ports are refused (bounce protection).
    exact(&mut c, "PORT 127,0,0,1,0,21", illegal);
    exact(&mut c, "PORT 127,0,0,1,3,255", illegal);
    // Another host is refused.
    exact(&mut c, "PORT 127,0,0,2,100,100", illegal);
    // Malformed.
    for arg in [
        "1,2,3",
        "127,0,0,1,300,1",
        "127,0,0,1,4",
        "127,0,0,1,4,1,1",
        "a,b,c,d,e,f",
        "127.0.0.1,4,1",
        "127,0,0,1,-4,1",
    ] {
        let (code, text) = c.cmd(&format!("PORT {arg}"));
        assert_eq!(code, 500, "PORT {arg}: {text}");
    }
    for arg in [
        "|1|127.0.0.1|",
        "|1|127.0.0.1|x|",
        "|1|127.0.0.300|5000|",
        "|1|127.0.0.1|70000|",
        "(1,127.0.0.1,5000)",
    ] {
        let (code, text) = c.cmd(&format!("EPRT {arg}"));
        assert_eq!(code, 500, "EPRT {arg}: {text}");
    }
    exact(
        &mut c,
        "EPRT |1|127.0.0.1|1023|",
        "500 Illegal EPRT command.",
    );
    // An IPv6 target on an IPv4 control connection: wrong network protocol (RFC 2428).
    let (code, text) = c.cmd("EPRT |2|::1|5000|");
    assert_eq!(code, 522, "{text}");
    for arg in ["|3|127.0.0.1|5000|", "|0|127.0.0.1|5000|", "||||"] {
        let (code, text) = c.cmd(&format!("EPRT {arg}"));
        assert_eq!(code, 522, "EPRT {arg}: {text}");
    }
    // None of those set up a data connection.
    exact(&mut c, "RETR hello.txt", "425 Use PORT or PASV first.");
    // A refused PORT also forgets an earlier good one.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    assert_eq!(c.cmd(&format!("PORT {}", port_arg(port))).0, 200);
    exact(&mut c, "PORT 127,0,0,1,0,80", illegal);
    exact(&mut c, "RETR hello.txt", "425 Use PORT or PASV first.");
    l.set_nonblocking(true).unwrap();
    assert!(
        l.accept().is_err(),
        "the server connected after a refused PORT"
    );
}

// ---------------------------------------------------------------------------------------
// 5. Control commands during a transfer.
// ---------------------------------------------------------------------------------------

const BIG: u64 = 64 << 20;

#[test]
fn abor_during_retr() {
    let f = Fixture::new("abor");
    big_file(&f, "big.bin", BIG);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let d = c.pasv();
    exact(
        &mut c,
        "RETR big.bin",
        &format!("150 Opening BINARY mode data connection for big.bin ({BIG} bytes)."),
    );
    // The data socket is not read: the transfer cannot finish on its own.
    let (code, text) = c.cmd("ABOR");
    assert_eq!(code, 426, "{text}");
    assert_eq!(c.read_reply(), (226, "226 ABOR successful.".to_string()));
    // The data connection ends, short of the whole file.
    d.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut d = d;
    for _ in 0..100_000 {
        match d.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n as u64,
        }
    }
    assert!(got < BIG, "the whole file arrived despite ABOR");
    // The session goes on.
    exact(&mut c, "NOOP", "200 NOOP ok.");
    exact(&mut c, "ABOR", "225 No transfer to ABOR.");
    assert_eq!(transfer(&mut c, "NLST").1, b"big.bin\r\n");
}

#[test]
fn stat_and_noop_during_retr() {
    let f = Fixture::new("statxfer");
    big_file(&f, "big.bin", BIG);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let _d = c.pasv();
    assert_eq!(c.cmd("RETR big.bin").0, 150);
    exact(&mut c, "NOOP", "200 NOOP ok.");
    let (code, text) = c.cmd("STAT");
    assert_eq!(code, 211, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "211-FTP server status:");
    assert_eq!(*lines.last().unwrap(), "211 End of status");
    assert!(text.contains(" bytes transferred"), "{text}");
    exact(&mut c, "NOOP", "200 NOOP ok.");
    assert_eq!(c.cmd("ABOR").0, 426);
    assert_eq!(c.read_reply().0, 226);
    exact(&mut c, "NOOP", "200 NOOP ok.");
}

#[test]
fn quit_during_retr_waits_for_the_transfer() {
    let f = Fixture::new("quitxfer");
    let len: u64 = 16 << 20;
    big_file(&f, "big.bin", len);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let d = c.pasv();
    assert_eq!(c.cmd("RETR big.bin").0, 150);
    c.send("QUIT");
    // Give the server time to read QUIT while the transfer is blocked on us.
    std::thread::sleep(Duration::from_millis(200));
    let data = read_all(d);
    assert_eq!(data.len() as u64, len);
    assert_eq!(c.read_reply(), (226, "226 Transfer complete.".to_string()));
    assert_eq!(c.read_reply(), (221, "221 Goodbye.".to_string()));
    assert_closed(&mut c);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn telnet_ip_dm_abor_during_retr() {
    let f = Fixture::new("telnetabor");
    big_file(&f, "big.bin", BIG);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let _d = c.pasv();
    assert_eq!(c.cmd("RETR big.bin").0, 150);
    // IAC IP, IAC DM (the DM inline: std cannot send MSG_OOB; the server reads urgent data
    // inline anyway), then ABOR.
    c.send_raw(&[255, 244, 255, 242]);
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.read_reply().0, 426);
    assert_eq!(c.read_reply(), (226, "226 ABOR successful.".to_string()));
    // Idle, the same form is an ordinary ABOR.
    let (code, text) = raw(&mut c, b"\xff\xf4\xff\xf2ABOR\r\n");
    assert_eq!((code, text.as_str()), (225, "225 No transfer to ABOR."));
    exact(&mut c, "NOOP", "200 NOOP ok.");
    assert_only_replies(&c.transcript);
}

// ---------------------------------------------------------------------------------------
// 6. Bad input.
// ---------------------------------------------------------------------------------------

#[test]
fn overlong_line_prelogin_is_refused_and_closes() {
    let f = Fixture::new("longpre");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    // If the server split the line, "NOOP" would be a command of its own.
    let mut line = vec![b'A'; 4096];
    line.extend_from_slice(b"QUIT\r\n");
    c.send_raw(&line);
    assert_eq!(
        c.read_reply(),
        (500, "500 Input line too long.".to_string())
    );
    assert_closed(&mut c);
    assert_eq!(
        c.transcript,
        b"220 FTP server ready.\r\n500 Input line too long.\r\n"
    );
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn overlong_line_postlogin_is_refused_and_closes() {
    let f = Fixture::new("longpost");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let start = c.transcript.len();
    // Exactly at the bound (4096 bytes with CRLF) is still a line.
    let mut line = b"CWD ".to_vec();
    line.extend(std::iter::repeat(b'a').take(4096 - 6));
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), 4096);
    let (code, text) = raw(&mut c, &line);
    assert_eq!(
        (code, text.as_str()),
        (550, "550 Failed to change directory.")
    );
    // One byte more is not, and nothing of it runs.
    let mut line = b"NOOP ".to_vec();
    line.extend(std::iter::repeat(b' ').take(4090));
    line.extend_from_slice(b"NOOP\r\nNOOP\r\n");
    c.send_raw(&line);
    assert_eq!(
        c.read_reply(),
        (500, "500 Input line too long.".to_string())
    );
    assert_closed(&mut c);
    assert_eq!(
        &c.transcript[start..],
        b"550 Failed to change directory.\r\n500 Input line too long.\r\n"
    );
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn nul_bytes_and_telnet_sequences_in_lines() {
    let f = Fixture::new("nul");
    f.mkdir("a", 0o755);
    f.file("a/b", b"ab", 0o644);
    // A file whose name starts with 0xFF: named with IAC IAC on the wire.
    let ff = f.root.join(std::ffi::OsStr::from_bytes(b"\xffz.bin"));
    std::fs::write(&ff, b"ffz").unwrap();
    std::fs::set_permissions(&ff, std::fs::Permissions::from_mode(0o644)).unwrap();
    let inetd = f.inetd();
    let mut c = inetd.connect();
    // Before login too: a NUL is never a way in.
    assert_eq!(raw(&mut c, b"NO\0OP\r\n").0, 530);
    assert_eq!(raw(&mut c, b"USER anon\0ymous\r\n").0, 530);
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS a@b", "230 Login successful.");
    // A NUL cannot truncate a path: "a\0b" is not "a".
    let (code, text) = raw(&mut c, b"CWD a\0b\r\n");
    assert_eq!(
        (code, text.as_str()),
        (550, "550 Failed to change directory.")
    );
    let (code, text) = raw(&mut c, b"CWD a\0\r\n");
    assert_eq!(
        (code, text.as_str()),
        (550, "550 Failed to change directory.")
    );
    let (code, _) = raw(&mut c, b"SIZE a/b\0.txt\r\n");
    assert_eq!(code, 550);
    let (code, _) = raw(&mut c, b"NO\0OP\r\n");
    assert_eq!(code, 500);
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    exact(&mut c, "SIZE a/b", "213 2");
    // Telnet: IAC NOP inside the verb, IAC WILL x before it, IP and DM before it.
    assert_eq!(
        raw(&mut c, b"NO\xff\xf1OP\r\n"),
        (200, "200 NOOP ok.".into())
    );
    assert_eq!(
        raw(&mut c, b"\xff\xfb\x01NOOP\r\n"),
        (200, "200 NOOP ok.".into())
    );
    assert_eq!(
        raw(&mut c, b"\xff\xf4\xff\xf2NOOP\r\n"),
        (200, "200 NOOP ok.".into())
    );
    // IAC IAC is a literal 0xFF in a name.
    assert_eq!(
        raw(&mut c, b"SIZE \xff\xffz.bin\r\n"),
        (213, "213 3".into())
    );
    // IAC WILL x swallows the "a": nothing is left for an argument.
    assert_eq!(raw(&mut c, b"CWD \xff\xfba\r\n").0, 501);
    exact(&mut c, "NOOP", "200 NOOP ok.");
    exact(&mut c, "QUIT", "221 Goodbye.");
    assert_closed(&mut c);
    assert_only_replies(&c.transcript);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn non_utf8_names_are_byte_exact() {
    let f = Fixture::new("bytes");
    let names: [&[u8]; 3] = [b"\xff\xfe.bin", b"caf\xe9.txt", b"plain.txt"];
    for (i, n) in names.iter().enumerate() {
        let p = f.root.join(std::ffi::OsStr::from_bytes(n));
        std::fs::write(&p, vec![b'0' + i as u8; 10 + i]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let inetd = f.inetd();
    let mut c = inetd.login();
    // NLST: raw bytes on the data connection, sorted bytewise.
    let data = listing(&mut c, "NLST");
    assert_eq!(data, b"caf\xe9.txt\r\nplain.txt\r\n\xff\xfe.bin\r\n");
    // LIST too.
    let data = listing(&mut c, "LIST");
    assert!(data.ends_with(b" \xff\xfe.bin\r\n"), "{data:?}");
    // RETR with the raw bytes (0xFF doubled as Telnet requires on the control channel).
    let (_, data, code, _) = transfer_raw(&mut c, b"RETR caf\xe9.txt");
    assert_eq!((data, code), (vec![b'1'; 11], 226));
    let (_, data, code, _) = transfer_raw(&mut c, b"RETR \xff\xff\xfe.bin");
    assert_eq!((data, code), (vec![b'0'; 10], 226));
    // A raw, undoubled 0xFF not followed by a Telnet command byte is a literal byte, as
    // clients written against vsftpd (no Telnet processing) send it.
    // (0xFF 0xFE itself is IAC DONT, so the name here has 0xFF before an ordinary byte.)
    let p = f.root.join(std::ffi::OsStr::from_bytes(b"y\xff.txt"));
    std::fs::write(&p, b"latin1").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, data, code, _) = transfer_raw(&mut c, b"RETR y\xff.txt");
    assert_eq!((data, code), (b"latin1".to_vec(), 226));
    // The name is echoed in the 150 reply with 0xFF doubled.
    let needle: &[u8] =
        b"150 Opening BINARY mode data connection for \xff\xff\xfe.bin (10 bytes).\r\n";
    assert!(
        c.transcript.windows(needle.len()).any(|w| w == needle),
        "150 reply does not carry the raw name"
    );
    assert_only_replies(&c.transcript);
    hang_up_and_check_exit(c, &inetd);
}

#[test]
fn line_endings_empty_and_garbage_lines() {
    let f = Fixture::new("garbage");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    // Empty lines are ignored before login too.
    c.send_raw(b"\r\n\n");
    assert_eq!(raw(&mut c, b"USER anonymous\n").0, 331);
    assert_eq!(raw(&mut c, b"PASS a@b\r\r\n").0, 230);
    // A bare LF ends a line.
    assert_eq!(
        raw(&mut c, b"PWD\n"),
        (257, "257 \"/\" is the current directory".into())
    );
    // Empty (and blank) lines get no reply: the next reply is the NOOP's.
    c.send_raw(b"\r\n\n\r\n    \r\n");
    assert_eq!(raw(&mut c, b"NOOP\r\n"), (200, "200 NOOP ok.".into()));
    // Binary garbage is an unknown command; control bytes and escapes are not echoed raw.
    for g in [
        &b"\x01\x02\x03\x80\x9b\x1b[2J\r\n"[..],
        b"\x1b]0;title\x07\r\n",
        b"\xc3\x28\xa0\xa1 \xe2\x82\r\n",
        b"\t\r\n",
        b"\xff\xff\xff\xff\r\n",
    ] {
        let (code, text) = raw(&mut c, g);
        assert_eq!(code, 500, "{g:?}: {text}");
    }
    exact(&mut c, "NOOP", "200 NOOP ok.");
    assert_only_replies(&c.transcript);
    hang_up_and_check_exit(c, &inetd);
}

#[test]
fn everything_received_parses_as_replies_and_processes_exit() {
    // One session through a mix of odd input, then a hang-up without QUIT.
    let f = Fixture::new("mixed");
    f.file("hello.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.send_raw(b"\x00\x01\r\nFEAT\r\n");
    assert_eq!(c.read_reply().0, 530);
    assert_eq!(c.read_reply().0, 211);
    c.send_raw(b"USER anonymous\r\nPASS a@b\r\nSTAT\r\nHELP\r\nSTAT .\r\nXYZ\0\r\n");
    for want in [331, 230, 211, 214, 213, 500] {
        assert_eq!(c.read_reply().0, want);
    }
    let (_, data, code, _) = transfer(&mut c, "RETR hello.txt");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226));
    assert_eq!(assert_only_replies(&c.transcript), 12);
    hang_up_and_check_exit(c, &inetd);
}

// ---------------------------------------------------------------------------------------
// 7. Idle timeout.
// ---------------------------------------------------------------------------------------

/// Trickle one byte every 500 ms, never ending a line, and expect `421 Timeout.` and a
/// close within a bounded time.
fn trickle_until_timeout(mut c: Ctl) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = c.stream.try_clone().unwrap();
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        for _ in 0..40 {
            if stop2.load(Ordering::SeqCst) || w.write_all(b"N").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reply = c.read_reply();
    stop.store(true, Ordering::SeqCst);
    // Code 0 here would mean the 10 s read timeout ran out first: no idle timeout.
    assert_eq!(reply, (421, "421 Timeout.".to_string()));
    assert_closed(&mut c);
    writer.join().unwrap();
}

#[test]
fn idle_timeout_with_trickling_client_postlogin() {
    let mut f = Fixture::new("idlepost");
    f.set("idle_session_timeout=2");
    let inetd = f.inetd();
    let c = inetd.login();
    trickle_until_timeout(c);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn idle_timeout_with_trickling_client_prelogin() {
    let mut f = Fixture::new("idlepre");
    f.set("idle_session_timeout=2");
    let inetd = f.inetd();
    let c = inetd.connect();
    trickle_until_timeout(c);
    assert!(inetd.wait_all_exited(TIMEOUT));
}

#[test]
fn nlst_dash_l_gives_long_lines_and_list_of_one_file() {
    let f = Fixture::new("nlst-l");
    f.file("a.txt", b"abc", 0o644);
    f.file("sub/b.txt", b"b", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let names = listing(&mut c, "NLST");
    assert_eq!(names, b"a.txt\r\nsub\r\n");
    let long = String::from_utf8(listing(&mut c, "NLST -l")).unwrap();
    let lines: Vec<&str> = long.lines().collect();
    assert_eq!(lines.len(), 2, "{long}");
    assert!(
        lines[0].starts_with("-rw-r--r--") && lines[0].ends_with(" a.txt"),
        "{long}"
    );
    assert!(
        lines[1].starts_with("drwx") && lines[1].ends_with(" sub"),
        "{long}"
    );
    // LIST of a single file shows that file, under the name the client gave.
    let one = String::from_utf8(listing(&mut c, "LIST sub/b.txt")).unwrap();
    assert_eq!(one.lines().count(), 1);
    assert!(one.starts_with("-rw-r--r--"), "{one}");
    assert!(one.trim_end().ends_with(" sub/b.txt"), "{one}");
    hang_up_and_check_exit(c, &inetd);
}

#[test]
fn file_names_with_cr_lf_cannot_forge_replies() {
    // A name with CR LF in it (legal on Linux, e.g. planted by a local user or an upload)
    // must not let a listing on the control channel (STAT path) forge a reply line.
    let f = Fixture::new("replyforge");
    f.file("evil\r\n226 forged", b"x", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    for cmd in ["STAT .", "STAT evil*"] {
        let (code, text) = c.cmd(cmd);
        assert_eq!(code, 213, "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text:?}");
        assert!(lines[1].ends_with(" evil??226 forged"), "{text:?}");
    }
    exact(&mut c, "NOOP", "200 NOOP ok.");
    assert!(!c.transcript.windows(10).any(|w| w == b"\n226 forge"));
    assert_only_replies(&c.transcript);
}

#[test]
fn site_cpfr_cpto_do_not_exist() {
    // ProFTPD's mod_copy (CVE-2015-3306) copied files with SITE CPFR/CPTO before login.
    // rsftpd has no copy command: before login it is 530, after login (anonymous) 550.
    let f = Fixture::new("modcopy");
    f.file("hello.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "SITE CPFR hello.txt", NOT_LOGGED_IN);
    exact(&mut c, "SITE CPTO copy.txt", NOT_LOGGED_IN);
    exact(&mut c, "CPFR hello.txt", NOT_LOGGED_IN);
    c.expect("USER anonymous", 331);
    c.expect("PASS a@b", 230);
    exact(&mut c, "SITE CPFR hello.txt", DENIED);
    exact(&mut c, "SITE CPTO copy.txt", DENIED);
    assert!(!f.root.join("copy.txt").exists());
    assert_eq!(std::fs::read_dir(&f.root).unwrap().count(), 1);
    assert_only_replies(&c.transcript);
}
