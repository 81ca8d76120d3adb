//! secure_email_list_enable, delete_failed_uploads and lock_upload_files: both sides of
//! each rule, observed on the wire and on disk.
mod common;
#[path = "common/syslog.rs"]
mod syslog;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn writable(name: &str) -> common::Fixture {
    let mut f = common::Fixture::new(name);
    let pubd = f.mkdir("pub", 0o777);
    assert!(pubd.is_dir());
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f.set("anon_other_write_enable=YES");
    f
}

#[test]
fn secure_email_list_admits_only_listed_passwords() {
    let mut f = common::Fixture::new("emails");
    let list = f.dir.join("email_passwords");
    std::fs::write(&list, "# friends\nfriend@example.com\n").unwrap();
    f.set("secure_email_list_enable=YES");
    f.set(&format!("email_password_file={}", list.display()));
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.expect("USER anonymous", 331);
    c.expect("PASS stranger@example.com", 530);
    c.expect("USER anonymous", 331);
    c.expect("PASS friend@example.com", 230);
    drop(c);
    // Off: any password.
    f.set("secure_email_list_enable=NO");
    let mut c = inetd.connect();
    c.expect("USER anonymous", 331);
    c.expect("PASS stranger@example.com", 230);
}

#[test]
fn missing_email_password_file_refuses_service() {
    let mut f = common::Fixture::new("emails-missing");
    f.set("secure_email_list_enable=YES");
    f.set(&format!(
        "email_password_file={}",
        f.dir.join("nope").display()
    ));
    let inetd = f.inetd();
    let mut c = common::Ctl::connect(inetd.addr);
    assert_eq!(c.read_reply().0, 421);
}

/// Start a STOR, send `first`, and leave the transfer open.
fn start_upload(c: &mut common::Ctl, name: &str, first: &[u8]) -> std::net::TcpStream {
    let mut d = c.pasv();
    c.expect(&format!("STOR {name}"), 150);
    d.write_all(first).unwrap();
    d
}

fn wait_for_size(p: &std::path::Path, n: u64) {
    let t = Instant::now();
    while std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) < n {
        assert!(
            t.elapsed() < common::TIMEOUT,
            "upload never reached {n} bytes"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn delete_failed_uploads_removes_an_aborted_upload_and_no_keeps_it() {
    for (delete, name) in [(true, "gone.bin"), (false, "kept.bin")] {
        let mut f = writable(if delete { "delfail-yes" } else { "delfail-no" });
        f.set(&format!(
            "delete_failed_uploads={}",
            if delete { "YES" } else { "NO" }
        ));
        let inetd = f.inetd();
        let mut c = inetd.login();
        let path = f.root.join("pub").join(name);
        let d = start_upload(&mut c, &format!("pub/{name}"), &[7u8; 100_000]);
        wait_for_size(&path, 100_000);
        c.send("ABOR");
        assert_eq!(c.read_reply().0, 426);
        assert_eq!(c.read_reply().0, 226);
        drop(d);
        c.expect("NOOP", 200);
        assert_eq!(path.exists(), !delete, "delete_failed_uploads={delete}");
        if !delete {
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                100_000,
                "bytes received so far stay"
            );
        }
        // A complete upload is never deleted.
        let mut d = c.pasv();
        c.expect("STOR pub/whole.bin", 150);
        d.write_all(b"complete").unwrap();
        drop(d);
        assert_eq!(c.read_reply().0, 226);
        assert_eq!(
            std::fs::read(f.root.join("pub/whole.bin")).unwrap(),
            b"complete"
        );
    }
}

/// While one session uploads a new version of a file, another downloads it: with
/// lock_upload_files the download waits for the upload and gets the whole new version;
/// without, it gets what is there at that moment.
#[test]
fn lock_upload_files_makes_a_download_wait_for_the_upload() {
    for lock in [true, false] {
        let mut f = writable(if lock { "lock-yes" } else { "lock-no" });
        f.set(&format!(
            "lock_upload_files={}",
            if lock { "YES" } else { "NO" }
        ));
        let old = vec![b'o'; 50_000];
        let new: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let path = f.file("pub/shared.bin", &old, 0o666);
        let inetd = f.inetd();
        let mut up = inetd.login();
        let mut d = start_upload(&mut up, "pub/shared.bin", &new[..100_000]);
        wait_for_size(&path, 100_000);
        // The second session downloads meanwhile.
        let mut down = inetd.login();
        let mut dd = down.pasv();
        down.expect("RETR pub/shared.bin", 150);
        dd.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        // Read what arrives within a bounded time while the upload is still open.
        let t = Instant::now();
        let mut ended = false;
        while t.elapsed() < Duration::from_millis(1500) {
            match dd.read(&mut buf) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        if lock {
            assert!(
                got.is_empty() && !ended,
                "the download must wait for the upload, got {} bytes",
                got.len()
            );
        } else {
            assert!(ended, "without locks the download does not wait");
            assert_eq!(
                got,
                &new[..100_000],
                "without locks the reader sees the half-written file"
            );
        }
        d.write_all(&new[100_000..]).unwrap();
        drop(d);
        assert_eq!(up.read_reply().0, 226);
        if lock {
            dd.set_read_timeout(Some(common::TIMEOUT)).unwrap();
            dd.read_to_end(&mut got).unwrap();
            assert_eq!(
                got, new,
                "after the upload the download gets the whole new version"
            );
        }
        assert_eq!(down.read_reply().0, 226);
        assert_eq!(std::fs::read(&path).unwrap(), new);
    }
}

/// An upload cut off by ABOR or by the client going away keeps what arrived and is logged
/// as incomplete; a whole one is logged as OK.
#[test]
fn cut_off_uploads_are_logged_as_incomplete() {
    if !syslog::capturing() {
        return;
    }
    let mut f = writable("upload-log");
    f.set("syslog_enable=YES");
    f.set("ftp_username=ftp");
    let inetd = f.inetd();
    let tag = format!("upload-log-{}", std::process::id());
    let (aborted, gone, whole) = (
        format!("/pub/{tag}-aborted.bin"),
        format!("/pub/{tag}-gone.bin"),
        format!("/pub/{tag}-whole.bin"),
    );
    // ABOR after 100000 bytes.
    let mut c = inetd.login();
    let d = start_upload(&mut c, &aborted, &[1u8; 100_000]);
    wait_for_size(&f.root.join(&aborted[1..]), 100_000);
    c.send("ABOR");
    assert_eq!(c.read_reply().0, 426);
    assert_eq!(c.read_reply().0, 226);
    drop(d);
    // A whole upload.
    let mut d = c.pasv();
    c.expect(&format!("STOR {whole}"), 150);
    d.write_all(&[2u8; 5000]).unwrap();
    drop(d);
    assert_eq!(c.read_reply().0, 226);
    c.expect("QUIT", 221);
    // The client hangs up (control connection) after 70000 bytes.
    let mut c2 = inetd.login();
    let d2 = start_upload(&mut c2, &gone, &[3u8; 70_000]);
    wait_for_size(&f.root.join(&gone[1..]), 70_000);
    // Only the control connection goes: a closed data connection would be the normal
    // end of the file in stream mode. The data connection is closed once the server is
    // gone.
    drop(c2);
    assert!(inetd.wait_all_exited(common::TIMEOUT));
    drop(d2);
    assert_eq!(
        std::fs::metadata(f.root.join(&gone[1..])).unwrap().len(),
        70_000
    );
    let want = |v: &str, path: &str, n: u64| {
        format!("[ftp] {v} UPLOAD: Client \"127.0.0.1\", \"{path}\", {n} bytes, ")
    };
    let t = Instant::now();
    loop {
        let got = syslog::lines_for(&tag);
        let has = |prefix: &str, suffix: &str| {
            got.iter()
                .any(|l| l.starts_with(prefix) && l.ends_with(suffix))
        };
        let ok = has(&want("FAIL", &aborted, 100_000), "Kbyte/sec (incomplete)")
            && has(&want("OK", &whole, 5000), "Kbyte/sec")
            && has(&want("FAIL", &gone, 70_000), "Kbyte/sec (incomplete)");
        if ok {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "log lines for {tag}: {got:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
