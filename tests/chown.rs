//! chown_uploads: the monitor gives anonymous uploads to chown_username with
//! chown_upload_mode, working on the descriptor, never on a path. Needs root.
mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn upload(inetd: &common::Inetd, name: &str, body: &[u8]) -> u16 {
    let mut c = inetd.login();
    let mut data = c.pasv();
    let (code, text) = c.cmd(&format!("STOR {name}"));
    assert_eq!(code, 150, "{text}");
    data.write_all(body).unwrap();
    drop(data);
    let (code, _) = c.read_reply();
    c.expect("QUIT", 221);
    code
}

fn fixture(name: &str) -> common::Fixture {
    let mut f = common::Fixture::new(name);
    let up = f.mkdir("upload", 0o733);
    assert_eq!(
        std::fs::metadata(&up).unwrap().permissions().mode() & 0o777,
        0o733
    );
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    f
}

fn nobody() -> (u32, u32) {
    let pw = std::fs::read_to_string("/etc/passwd").unwrap();
    let l = pw
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("user nobody");
    let f: Vec<&str> = l.split(':').collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

#[test]
fn uploads_are_handed_to_chown_username_with_its_mode() {
    require_root!();
    let mut f = fixture("chown");
    f.set("chown_uploads=YES");
    f.set("chown_username=nobody");
    f.set("chown_upload_mode=0640");
    let inetd = f.inetd();
    assert_eq!(upload(&inetd, "upload/a.bin", b"payload"), 226);
    let md = std::fs::metadata(f.root.join("upload/a.bin")).unwrap();
    assert_eq!((md.uid(), md.gid()), nobody());
    assert_eq!(md.mode() & 0o7777, 0o640);
    assert_eq!(
        std::fs::read(f.root.join("upload/a.bin")).unwrap(),
        b"payload",
        "written after the hand-over"
    );
    assert!(inetd.wait_all_exited(common::TIMEOUT));
}

#[test]
fn default_owner_is_root_and_without_the_key_the_ftp_user_keeps_it() {
    require_root!();
    let mut f = fixture("chown-default");
    f.set("chown_uploads=YES");
    let inetd = f.inetd();
    assert_eq!(upload(&inetd, "upload/r.bin", b"x"), 226);
    let md = std::fs::metadata(f.root.join("upload/r.bin")).unwrap();
    assert_eq!((md.uid(), md.gid(), md.mode() & 0o7777), (0, 0, 0o600));
    drop(inetd);
    let f = fixture("chown-off");
    let inetd = f.inetd();
    assert_eq!(upload(&inetd, "upload/o.bin", b"x"), 226);
    let md = std::fs::metadata(f.root.join("upload/o.bin")).unwrap();
    assert_ne!(
        md.uid(),
        0,
        "without chown_uploads the anonymous account owns its upload"
    );
    assert_eq!(md.mode() & 0o7777, 0o600);
}

#[test]
fn missing_chown_username_is_refused_at_start() {
    require_root!();
    let mut f = fixture("chown-missing");
    f.set("chown_uploads=YES");
    f.set("chown_username=no-such-user-rsftpd");
    let inetd = f.inetd();
    let mut c = common::Ctl::connect(inetd.addr);
    assert_eq!(c.read_reply().0, 421);
}
