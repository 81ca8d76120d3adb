//! Logs as administrators' tools read them: vsftpd's line shapes in vsftpd_log_file (and
//! fail2ban's stock vsftpd filter against them), the wu-ftpd xferlog format field by field,
//! dual_log_enable, log_ftp_protocol (PASS hidden, client bytes escaped), use_localtime
//! for log dates, syslog_facility, and which processes hold the log files.
mod common;
use common::logfile::wait_lines;
#[path = "common/syslog.rs"]
mod syslog;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `Tue Nov  3 04:04:32 2026`: ctime's shape (weekday, month, space-padded day, time, year).
fn is_ctime_date(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 24
        && ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].contains(&&s[0..3])
        && [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .contains(&&s[4..7])
        && b[3] == b' '
        && b[7] == b' '
        && (b[8] == b' ' || b[8].is_ascii_digit())
        && b[9].is_ascii_digit()
        && s[10..].len() == 14
        && &s[10..11] == " "
        && s[11..19].bytes().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                c == b':'
            } else {
                c.is_ascii_digit()
            }
        })
        && s[20..24].bytes().all(|c| c.is_ascii_digit())
}

fn fixture(name: &str) -> (common::Fixture, PathBuf, PathBuf) {
    let mut f = common::Fixture::new(name);
    f.mkdir("pub", 0o777);
    f.file("pub/hello.txt", b"hello\n", 0o644);
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.set("anon_mkdir_write_enable=YES");
    f.set("anon_other_write_enable=YES");
    let vlog = f.dir.join("vsftpd.log");
    let xlog = f.dir.join("xferlog");
    f.set(&format!("vsftpd_log_file={}", vlog.display()));
    f.set(&format!("xferlog_file={}", xlog.display()));
    (f, vlog, xlog)
}

/// A scripted session: a failed login, an anonymous login, a download, an upload (name
/// with a space), MKDIR, RNFR/RNTO, DELE.
fn scripted_session(inetd: &common::Inetd) {
    let mut c = inetd.connect();
    c.expect("USER nosuchuser-rsftpd", 530);
    c.expect("USER anonymous", 331);
    c.expect("PASS guest@example.com", 230);
    let (data, code, _) = c.pasv_transfer("RETR pub/hello.txt");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226));
    let mut d = c.pasv();
    c.expect("STOR pub/up load.bin", 150);
    d.write_all(&[5u8; 3000]).unwrap();
    drop(d);
    assert_eq!(c.read_reply().0, 226);
    c.expect("MKD pub/newdir", 257);
    c.expect("RNFR pub/up load.bin", 350);
    c.expect("RNTO pub/moved.bin", 250);
    c.expect("DELE pub/moved.bin", 250);
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(common::TIMEOUT));
}

#[test]
fn vsftpd_log_file_has_vsftpds_line_shapes() {
    let (mut f, vlog, xlog) = fixture("vsftpdlog");
    f.set("xferlog_enable=YES");
    f.set("local_enable=NO");
    let inetd = f.inetd();
    scripted_session(&inetd);
    let got = wait_lines(&vlog, &["OK DELETE"]);
    assert!(!xlog.exists(), "xferlog_std_format=NO writes no xferlog");
    for l in &got {
        assert!(is_ctime_date(&l[..24]), "date in {l:?}");
        assert!(l[24..].starts_with(" [pid "), "{l:?}");
    }
    // The text after "DATE [pid N] ".
    let bodies: Vec<String> = got
        .iter()
        .map(|l| l[l.find("] ").unwrap() + 2..].to_string())
        .collect();
    let has = |want: &str| bodies.iter().any(|b| b == want);
    let starts = |want: &str| bodies.iter().any(|b| b.starts_with(want));
    assert!(has("CONNECT: Client \"127.0.0.1\""), "{bodies:#?}");
    assert!(
        has("[ftp] OK LOGIN: Client \"127.0.0.1\", anon password \"guest@example.com\""),
        "{bodies:#?}"
    );
    assert!(
        starts("[ftp] OK DOWNLOAD: Client \"127.0.0.1\", \"/pub/hello.txt\", 6 bytes, "),
        "{bodies:#?}"
    );
    assert!(
        starts("[ftp] OK UPLOAD: Client \"127.0.0.1\", \"/pub/up load.bin\", 3000 bytes, "),
        "{bodies:#?}"
    );
    assert!(
        has("[ftp] OK MKDIR: Client \"127.0.0.1\", \"/pub/newdir\""),
        "{bodies:#?}"
    );
    assert!(
        has("[ftp] OK RENAME: Client \"127.0.0.1\", \"/pub/up load.bin /pub/moved.bin\""),
        "{bodies:#?}"
    );
    assert!(
        has("[ftp] OK DELETE: Client \"127.0.0.1\", \"/pub/moved.bin\""),
        "{bodies:#?}"
    );
    // The pid of each line is a process of this session tree (monitor or post-login): all
    // are positive numbers, and CONNECT comes first.
    assert!(bodies[0].starts_with("CONNECT"), "{bodies:#?}");
}

/// The failregex of Debian's fail2ban vsftpd filter, from the package itself.
fn fail2ban_vsftpd_regex() -> Option<String> {
    let dir = tempdir("f2b");
    let ok = Command::new("apt-get")
        .arg("download")
        .arg("fail2ban")
        .current_dir(&dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let deb = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"));
    let (true, Some(deb)) = (ok, deb) else {
        eprintln!("skipped: cannot download Debian's fail2ban package (apt-get download fail2ban)");
        return None;
    };
    let x = dir.join("x");
    assert!(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&x)
        .status()
        .unwrap()
        .success());
    let conf = std::fs::read_to_string(x.join("etc/fail2ban/filter.d/vsftpd.conf")).unwrap();
    let line = conf
        .lines()
        .map(|l| l.trim())
        .find(|l| l.contains("FAIL LOGIN"))
        .expect("a FAIL LOGIN failregex");
    let _ = std::fs::remove_dir_all(&dir);
    Some(line.trim_start_matches("failregex =").trim().to_string())
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rsftpd-logs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn fail2ban_stock_filter_matches_fail_login_and_not_ok_login() {
    let Some(failregex) = fail2ban_vsftpd_regex() else {
        return;
    };
    let (mut f, vlog, _) = fixture("fail2ban");
    f.set("xferlog_enable=YES");
    f.set("local_enable=YES");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.expect("USER nobody-here-rsftpd", 331);
    c.expect("PASS wrong", 530);
    c.expect("USER anonymous", 331);
    c.expect("PASS a@b", 230);
    c.expect("QUIT", 221);
    let got = wait_lines(&vlog, &["FAIL LOGIN", "OK LOGIN"]);
    // fail2ban strips the date it recognises, then applies the failregex to the rest.
    let script = r#"
import re, sys
rx = re.compile(sys.argv[1].replace("<HOST>", r"(?P<host>\S+)"))
for line in sys.stdin.read().splitlines():
    rest = line[24:]
    m = rx.search(rest)
    print(("MATCH " + m.group("host")) if m else "NOMATCH", rest)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, &failregex])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(got.join("\n").as_bytes())
        .unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let verdicts: Vec<&str> = out.lines().collect();
    let fail: Vec<&&str> = verdicts
        .iter()
        .filter(|l| l.contains("FAIL LOGIN"))
        .collect();
    let okl: Vec<&&str> = verdicts.iter().filter(|l| l.contains("OK LOGIN")).collect();
    assert_eq!(fail.len(), 1, "{out}");
    assert!(
        fail[0].starts_with("MATCH 127.0.0.1 "),
        "fail2ban must match our FAIL LOGIN line: {out}"
    );
    assert_eq!(okl.len(), 1, "{out}");
    assert!(
        okl[0].starts_with("NOMATCH"),
        "fail2ban must not match OK LOGIN: {out}"
    );
    assert!(
        verdicts.iter().filter(|l| l.starts_with("MATCH")).count() == 1,
        "{out}"
    );
}

#[test]
fn xferlog_lines_parse_field_by_field() {
    let (mut f, vlog, xlog) = fixture("xferlog");
    f.set("xferlog_enable=YES");
    f.set("xferlog_std_format=YES");
    let inetd = f.inetd();
    scripted_session(&inetd);
    let got = wait_lines(&xlog, &["/pub/up_load.bin"]);
    assert!(
        !vlog.exists(),
        "xferlog_std_format=YES alone writes no vsftpd log"
    );
    assert_eq!(got.len(), 2, "one line per transfer: {got:#?}");
    for (line, (size, name, dir)) in got
        .iter()
        .zip([(6, "/pub/hello.txt", "o"), (3000, "/pub/up_load.bin", "i")])
    {
        assert!(is_ctime_date(&line[..24]), "{line:?}");
        let fields: Vec<&str> = line[24..].split_whitespace().collect();
        // transfer-time remote-host file-size filename transfer-type special-action-flag
        // direction access-mode username service-name authentication-method
        // authenticated-user-id completion-status
        assert_eq!(fields.len(), 13, "{line:?}");
        assert!(fields[0].parse::<u64>().unwrap() >= 1, "{line:?}");
        assert_eq!(
            &fields[1..],
            [
                "127.0.0.1",
                &size.to_string(),
                name,
                "b",
                "_",
                dir,
                "a",
                "guest@example.com",
                "ftp",
                "0",
                "*",
                "c"
            ],
            "{line:?}"
        );
    }
}

#[test]
fn dual_log_enable_writes_both() {
    let (mut f, vlog, xlog) = fixture("dual");
    f.set("dual_log_enable=YES");
    let inetd = f.inetd();
    scripted_session(&inetd);
    wait_lines(&vlog, &["OK DOWNLOAD", "OK UPLOAD", "OK LOGIN"]);
    let x = wait_lines(&xlog, &["/pub/hello.txt", "/pub/up_load.bin"]);
    assert_eq!(x.len(), 2);
}

#[test]
fn protocol_log_hides_the_password_and_escapes_client_bytes() {
    let (mut f, vlog, _) = fixture("protocol");
    f.set("xferlog_enable=YES");
    f.set("log_ftp_protocol=YES");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.expect("USER anonymous", 331);
    c.expect("PASS secret-Password-123", 230);
    c.send_raw(b"NOOP \x01\x1b[31mred\r\n");
    assert_eq!(c.read_reply().0, 501);
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(common::TIMEOUT));
    let got = wait_lines(&vlog, &["FTP command", "FTP response"]);
    let text = got.join("\n");
    // (The anonymous password is an e-mail address that vsftpd's OK LOGIN line shows by
    // design; the protocol trace itself never carries a password.)
    let protocol: Vec<&String> = got
        .iter()
        .filter(|l| l.contains("FTP command") || l.contains("FTP response"))
        .collect();
    assert!(
        !protocol.iter().any(|l| l.contains("secret-Password-123")),
        "the password leaked into the protocol log:\n{text}"
    );
    assert!(
        text.contains("FTP command: Client \"127.0.0.1\", \"PASS <hidden>\""),
        "{text}"
    );
    assert!(
        text.contains("FTP command: Client \"127.0.0.1\", \"USER anonymous\""),
        "{text}"
    );
    assert!(
        text.contains("FTP response: Client \"127.0.0.1\", \"220 FTP server ready.\""),
        "{text}"
    );
    assert!(
        text.contains("FTP response: Client \"127.0.0.1\", \"230 Login successful.\""),
        "{text}"
    );
    assert!(
        text.contains("\"NOOP \\x01\\x1b[31mred\""),
        "control bytes escaped: {text}"
    );
    assert!(
        !text.bytes().any(|b| b < 0x20 && b != b'\n'),
        "no raw control byte in the log"
    );
}

#[test]
fn log_dates_follow_use_localtime() {
    for (localtime, offset) in [(false, 0i64), (true, 19_800)] {
        let (mut f, vlog, _) = fixture(if localtime { "tz-local" } else { "tz-utc" });
        f.set("xferlog_enable=YES");
        f.set(&format!(
            "use_localtime={}",
            if localtime { "YES" } else { "NO" }
        ));
        if !Path::new("/usr/share/zoneinfo/Asia/Kolkata").exists() {
            eprintln!("skipped: no tzdata for Asia/Kolkata");
            return;
        }
        let inetd = common::Inetd::start_with_env(
            &["-c", f.conf.to_str().unwrap()],
            &[("TZ", "Asia/Kolkata")],
        );
        let before = now();
        let mut c = inetd.connect();
        c.expect("QUIT", 221);
        let after = now();
        let got = wait_lines(&vlog, &["CONNECT"]);
        let date = &got[0][..24];
        let candidates: Vec<String> = (before - 1..=after + 1)
            .map(|t| ctime(t + offset))
            .collect();
        assert!(
            candidates.iter().any(|c| c == date),
            "use_localtime={localtime}: {date:?} not in {candidates:?}"
        );
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// ctime's shape for a UTC time (civil-from-days, as in the server's proto::listing).
fn ctime(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {d:>2} {:02}:{:02}:{:02} {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn syslog_facility_sets_the_priority() {
    if !syslog::capturing() {
        return;
    }
    for (facility, code) in [("ftp", 11u32), ("local3", 19)] {
        let mut f = common::Fixture::new(&format!("facility-{facility}"));
        f.set("syslog_enable=YES");
        f.set(&format!("syslog_facility={facility}"));
        let tag = format!("rsftpd-facility-{facility}-{}", std::process::id());
        f.set(&format!(
            "banned_email_file={}",
            f.dir.join("banned").display()
        ));
        std::fs::write(f.dir.join("banned"), format!("{tag}\n")).unwrap();
        f.set("deny_email_enable=YES");
        let inetd = f.inetd();
        let mut c = inetd.connect();
        c.expect("USER anonymous", 331);
        c.expect(&format!("PASS {tag}"), 530);
        c.expect("QUIT", 221);
        assert!(inetd.wait_all_exited(common::TIMEOUT));
        // The refusal reason line names the banned password's reason; find the FAIL LOGIN
        // line of this session by its pid through the CONNECT line's neighbours: simplest is
        // to look at every entry from this test's processes.
        let pids = inetd.pids();
        let t = Instant::now();
        loop {
            let mine: Vec<syslog::Entry> = syslog::entries()
                .into_iter()
                .filter(|e| e.pid.is_some_and(|p| pids.contains(&p)))
                .collect();
            if let Some(e) = mine.iter().find(|e| e.msg.contains("FAIL LOGIN")) {
                let pri = e.pri.expect("a priority");
                assert_eq!(pri >> 3, code, "facility of {:?}", e.msg);
                assert_eq!(pri & 7, 5, "FAIL LOGIN is a notice");
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "no FAIL LOGIN from {pids:?}: {mine:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn bad_syslog_facility_is_a_config_error() {
    let f = common::Fixture::new("facility-bad");
    let out = Command::new(common::bin())
        .args([
            "-t",
            "-c",
            f.conf.to_str().unwrap(),
            "-o",
            "syslog_facility=kernel",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("syslog_facility='kernel'"));
}

#[test]
fn only_processes_that_need_them_hold_the_log_files() {
    require_root!();
    for protocol in [false, true] {
        let (mut f, vlog, _) = fixture(if protocol { "fds-proto" } else { "fds" });
        f.set("xferlog_enable=YES");
        f.set(&format!(
            "log_ftp_protocol={}",
            if protocol { "YES" } else { "NO" }
        ));
        let inetd = f.inetd();
        let _c = inetd.connect();
        let monitor = common::procs::monitor(&inetd);
        let t = Instant::now();
        let pre = loop {
            if let Some(p) = common::descendants(monitor).first() {
                break *p;
            }
            assert!(t.elapsed() < common::TIMEOUT);
            std::thread::sleep(Duration::from_millis(10));
        };
        let holds = |pid: u32| {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .filter_map(|e| e.ok())
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == vlog))
        };
        assert!(holds(monitor), "the monitor writes CONNECT and LOGIN lines");
        assert_eq!(
            holds(pre),
            protocol,
            "the pre-login process holds the log only to log the protocol"
        );
    }
}
