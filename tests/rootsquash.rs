//! Home directories that root cannot enter (root-squashed NFS) keep working: the session
//! enters the home with the user's ids. Simulated by launching rsftpd with
//! CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH removed from the bounding set (setpriv), so
//! root is refused by a mode 0700 home owned by the user, as on a squashed export.
//!
//! Only the unjailed case can be simulated this way: chroot(2) itself checks search
//! permission on its target, so root without these capabilities can never chroot into a
//! 0700 directory. On a real squashed export root keeps CAP_DAC_OVERRIDE locally and the
//! chroot(".") of the directory already entered (with the user's ids, see
//! sys::creds::change_identity) needs no lookup on the server.
mod common;

use common::users;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const SETPRIV: &str = "/usr/bin/setpriv";
const DROP: &str = "-dac_override,-dac_read_search";

fn squashed_inetd(f: &common::Fixture) -> common::Inetd {
    let bin = common::bin();
    common::Inetd::start_program(
        Path::new(SETPRIV),
        &[
            "--bounding-set",
            DROP,
            "--",
            bin.to_str().unwrap(),
            "-c",
            f.conf.to_str().unwrap(),
        ],
        &[],
    )
}

fn setup(name: &str) -> (common::Fixture, users::TempUser) {
    let mut f = common::Fixture::new(name);
    f.set("local_enable=YES");
    f.set("write_enable=YES");
    f.set("local_umask=022");
    let homes = f.dir.join("homes");
    std::fs::create_dir(&homes).unwrap();
    std::fs::set_permissions(&homes, std::fs::Permissions::from_mode(0o755)).unwrap();
    let u = users::TempUser::with_home(&homes.join("u"));
    std::fs::set_permissions(&u.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(u.home.join("mine.txt"), b"only mine\n").unwrap();
    (f, u)
}

/// The simulation is real: root without the two capabilities cannot enter the home.
fn assert_root_is_squashed(home: &Path) {
    let out = Command::new(SETPRIV)
        .args(["--bounding-set", DROP, "--", "ls", home.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "root could still list {}: the simulation is not in force",
        home.display()
    );
}

fn session(f: &common::Fixture, u: &users::TempUser, expect_pwd: &str) {
    let inetd = squashed_inetd(f);
    let mut c = inetd.connect();
    c.expect(&format!("USER {}", u.name), 331);
    c.expect(&format!("PASS {}", u.pass), 230);
    assert_eq!(
        c.expect("PWD", 257),
        format!("257 \"{expect_pwd}\" is the current directory")
    );
    let (names, code, _) = c.pasv_transfer("NLST");
    assert_eq!(code, 226);
    assert_eq!(String::from_utf8_lossy(&names), "mine.txt\r\n");
    let (data, code, _) = c.pasv_transfer("RETR mine.txt");
    assert_eq!((data.as_slice(), code), (&b"only mine\n"[..], 226));
    let mut d = c.pasv();
    c.expect("STOR new.txt", 150);
    use std::io::Write;
    d.write_all(b"uploaded\n").unwrap();
    drop(d);
    assert_eq!(c.read_reply().0, 226);
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(common::TIMEOUT));
    assert_eq!(
        std::fs::read(u.home.join("new.txt")).unwrap(),
        b"uploaded\n"
    );
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(u.home.join("new.txt")).unwrap();
    assert_eq!(
        (md.uid(), md.gid(), md.mode() & 0o777),
        (u.uid, u.gid, 0o644)
    );
}

#[test]
fn unjailed_user_starts_in_a_home_root_cannot_enter() {
    require_root!();
    let (f, u) = setup("squash");
    assert_root_is_squashed(&u.home);
    let home = u.home.to_str().unwrap().to_string();
    session(&f, &u, &home);
}
