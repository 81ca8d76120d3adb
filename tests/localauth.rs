//! Local-user authentication against the real /etc/shadow (issue 3): throwaway accounts are
//! made with useradd and given real passwords with chpasswd (yescrypt, Debian 12's default
//! through PAM; sha512crypt and md5crypt with `-c`), then the monitor's check,
//! `verify_local`, is called directly for each rule and both sides of it.
//!
//! Needs root (CI runs as root); skipped otherwise. Every account (and group) is created
//! here under a fresh `rsft-` name and removed by a Drop guard with `userdel -r`, even when an
//! assertion fails; existing accounts are never modified.
mod common;

use common::users::{assert_shell_not_listed, fresh_name, run_tool as run, TempGroup, TempUser};
use rsftpd::config::Config;
use rsftpd::monitor::local::{
    groups_of, today_days, userlist_refuses_at_user, verify_local, Lists, LocalUser, Refusal,
};
use std::path::{Path, PathBuf};

/// A throwaway user (home /home/NAME, made by useradd and removed with it) with a password
/// set by chpasswd with `method` (None: through PAM, which writes yescrypt on Debian 12).
fn new_user(method: Option<&str>, extra: &[&str]) -> TempUser {
    TempUser::build()
        .create_home()
        .method(method)
        .extra(extra)
        .create()
}

impl TempUser {
    /// The monitor's check of this user with `pass`, today, under `cfg` and its lists.
    fn check(&self, cfg: &Config, pass: &str) -> Result<LocalUser, Refusal> {
        let lists = Lists::load(cfg).unwrap();
        verify_local(
            cfg,
            &lists,
            self.name.as_bytes(),
            pass.as_bytes(),
            today_days(),
        )
    }

    fn verify(&self, cfg: &Config, pass: &str) -> Result<u32, Refusal> {
        self.check(cfg, pass).map(|u| u.user.uid)
    }

    fn ok(&self, cfg: &Config) -> Result<u32, Refusal> {
        self.verify(cfg, &self.pass)
    }
}

/// A temporary directory for list files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(fresh_name("d"));
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// local_enable=YES, check_shell=YES, and an ftpusers_file that does not exist (nobody
/// denied), so the system's /etc/ftpusers does not matter.
fn cfg(dir: &TempDir) -> Config {
    Config {
        local_enable: true,
        check_shell: true,
        ftpusers_file: path_str(&dir.0.join("no-ftpusers")),
        ..Config::default()
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn yescrypt_right_and_wrong_password() {
    require_root!();
    let d = TempDir::new();
    let u = new_user(None, &[]);
    assert!(u.hash().starts_with("$y$"), "chpasswd wrote {}", u.hash());
    assert_eq!(u.ok(&cfg(&d)), Ok(u.uid));
    let got = u.check(&cfg(&d), &u.pass).unwrap();
    assert_eq!(got.user.name, u.name);
    assert_eq!(got.user.shell, PathBuf::from("/bin/bash"));
    assert_eq!(got.user.home, PathBuf::from(format!("/home/{}", u.name)));
    assert_eq!(u.verify(&cfg(&d), "wrong"), Err(Refusal::BadPassword));
    assert_eq!(u.verify(&cfg(&d), ""), Err(Refusal::BadPassword));
    let almost = &u.pass[..u.pass.len() - 1];
    assert_eq!(u.verify(&cfg(&d), almost), Err(Refusal::BadPassword));
}

#[test]
fn local_enable_no_and_unknown_user() {
    require_root!();
    let d = TempDir::new();
    let u = new_user(None, &[]);
    let mut c = cfg(&d);
    c.local_enable = false;
    assert_eq!(u.ok(&c), Err(Refusal::NoLocal));
    let lists = Lists::load(&cfg(&d)).unwrap();
    let ghost = fresh_name("n");
    assert_eq!(
        verify_local(&cfg(&d), &lists, ghost.as_bytes(), b"x", today_days()),
        Err(Refusal::NoSuchUser)
    );
}

#[test]
fn sha512crypt_and_md5crypt_verify() {
    require_root!();
    let d = TempDir::new();
    for (method, prefix) in [("SHA512", "$6$"), ("MD5", "$1$"), ("SHA256", "$5$")] {
        let u = new_user(Some(method), &[]);
        assert!(u.hash().starts_with(prefix), "{method}: {}", u.hash());
        assert_eq!(u.ok(&cfg(&d)), Ok(u.uid), "{method}");
        assert_eq!(
            u.verify(&cfg(&d), "wrong"),
            Err(Refusal::BadPassword),
            "{method}"
        );
    }
}

#[test]
fn locked_and_empty_passwords() {
    require_root!();
    let d = TempDir::new();
    let u = new_user(None, &[]);
    run("usermod", &["-L", &u.name]);
    assert!(u.hash().starts_with('!'));
    assert_eq!(u.ok(&cfg(&d)), Err(Refusal::Locked));
    run("usermod", &["-U", &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Ok(u.uid));
    run("passwd", &["-d", &u.name]);
    assert_eq!(u.hash(), "");
    assert_eq!(u.verify(&cfg(&d), ""), Err(Refusal::Locked));
    assert_eq!(u.ok(&cfg(&d)), Err(Refusal::Locked));
    // A fresh account without a password has a '!' hash.
    let name = fresh_name("u");
    run("useradd", &["-M", "-s", "/bin/bash", &name]);
    let guard = TempUser::guard(name.clone(), String::new(), true);
    assert!(guard.hash().starts_with('!'), "{}", guard.hash());
    assert_eq!(guard.verify(&cfg(&d), ""), Err(Refusal::Locked));
}

#[test]
fn expired_account() {
    require_root!();
    let d = TempDir::new();
    let u = new_user(None, &[]);
    run("chage", &["-E", "0", &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Err(Refusal::Expired));
    run("chage", &["-E", "2001-02-03", &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Err(Refusal::Expired));
    // Expiring in ten days: still fine today.
    let later = (today_days() + 10).to_string();
    run("chage", &["-E", &later, &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Ok(u.uid));
    run("chage", &["-E", "-1", &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Ok(u.uid));
}

#[test]
fn password_aged_out() {
    require_root!();
    let d = TempDir::new();
    let u = new_user(None, &[]);
    run("chage", &["-d", "2000-01-01", "-M", "10", &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Err(Refusal::Expired));
    // The same old password without a maximum age is fine.
    run("chage", &["-M", "-1", &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Ok(u.uid));
    // "Must change at next login" cannot be honoured over FTP: refused.
    run("chage", &["-d", "0", &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Err(Refusal::Expired));
}

#[test]
fn shell_not_in_etc_shells() {
    require_root!();
    assert_shell_not_listed("/bin/false");
    let d = TempDir::new();
    let u = new_user(None, &[]);
    run("usermod", &["-s", "/bin/false", &u.name]);
    assert_eq!(u.ok(&cfg(&d)), Err(Refusal::Shell));
    let mut c = cfg(&d);
    c.check_shell = false;
    assert_eq!(u.ok(&c), Ok(u.uid));
}

#[test]
fn ftpusers_denies_listed_users() {
    require_root!();
    let d = TempDir::new();
    let u = new_user(None, &[]);
    let mut c = cfg(&d);
    c.ftpusers_file = path_str(&d.file("ftpusers", &format!("# deny\nroot\n{}\n", u.name)));
    assert_eq!(u.ok(&c), Err(Refusal::Ftpusers));
    c.ftpusers_file = path_str(&d.file("ftpusers2", "root\ndaemon\n"));
    assert_eq!(u.ok(&c), Ok(u.uid));
    // An ftpusers_file that exists but cannot be read refuses everyone.
    c.ftpusers_file = path_str(&d.0);
    assert_eq!(u.ok(&c), Err(Refusal::Ftpusers));
}

#[test]
fn userlist_deny_yes_and_no() {
    require_root!();
    let d = TempDir::new();
    let u = new_user(None, &[]);
    let mut c = cfg(&d);
    c.userlist_enable = true;
    c.userlist_deny = true;
    c.userlist_file = path_str(&d.file("listed", &format!("{}\n", u.name)));
    let listed = Lists::load(&c).unwrap();
    assert!(userlist_refuses_at_user(&c, &listed, u.name.as_bytes()));
    assert_eq!(u.ok(&c), Err(Refusal::Userlist));
    c.userlist_file = path_str(&d.file("other", "someone-else\n"));
    let other = Lists::load(&c).unwrap();
    assert!(!userlist_refuses_at_user(&c, &other, u.name.as_bytes()));
    assert_eq!(u.ok(&c), Ok(u.uid));
    // userlist_deny=NO: only listed users may log in.
    c.userlist_deny = false;
    assert!(userlist_refuses_at_user(&c, &other, u.name.as_bytes()));
    assert_eq!(u.ok(&c), Err(Refusal::Userlist));
    c.userlist_file = path_str(&d.0.join("listed"));
    assert!(!userlist_refuses_at_user(&c, &listed, u.name.as_bytes()));
    assert_eq!(u.ok(&c), Ok(u.uid));
    // With userlist_enable, a user list that cannot be read is fatal, as in vsftpd.
    c.userlist_file = path_str(&d.0.join("missing"));
    assert!(Lists::load(&c).is_err());
}

#[test]
fn supplementary_groups() {
    require_root!();
    let d = TempDir::new();
    let g = TempGroup::new();
    let u = new_user(None, &["-G", &g.name]);
    let got = u.check(&cfg(&d), &u.pass).unwrap();
    let groups = groups_of(&got.user).unwrap();
    assert_eq!(groups.first(), Some(&got.user.gid));
    assert!(groups.contains(&g.gid), "{groups:?} lacks {}", g.gid);
    assert_eq!(groups.len(), 2, "{groups:?}");
    drop(u);
}
