//! Login policy: which USER/PASS pairs log in, and as what. Run by the monitor (as root,
//! before any session has the user's identity) and, in development mode, by the single
//! session process (anonymous only there: local users need root).

use crate::config::Config;
use crate::ipc::LoginReply;
use crate::limits;
use crate::log;
use crate::monitor::local::{self, Lists, LocalUser};
use crate::session::prelogin::is_anonymous_name;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// What a successful login is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Anonymous,
    Local(LocalUser),
}

/// The anonymous password lists, read by the monitor before any fork.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnonLists {
    /// deny_email_enable: banned_email_file's entries (empty when off).
    pub banned: Vec<Vec<u8>>,
    /// secure_email_list_enable: email_password_file's entries, the only passwords
    /// anonymous logins accept (None when off).
    pub allowed: Option<Vec<Vec<u8>>>,
}

impl AnonLists {
    pub fn load(cfg: &Config) -> Result<AnonLists, String> {
        let read = |key: &str, file: &str| {
            read_list(Path::new(file)).map_err(|e| format!("cannot read {key} {file}: {e}"))
        };
        Ok(AnonLists {
            banned: if cfg.deny_email_enable {
                read("banned_email_file", &cfg.banned_email_file)?
            } else {
                Vec::new()
            },
            allowed: if cfg.secure_email_list_enable {
                Some(read("email_password_file", &cfg.email_password_file)?)
            } else {
                None
            },
        })
    }
}

/// Read a list file (banned e-mails): one entry a line, blank lines and `#` comments
/// skipped, bounded by limits::LIST_FILE_MAX.
pub fn read_list(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(limits::LIST_FILE_MAX).read_to_end(&mut buf)?;
    Ok(buf
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .map(|l| l.to_vec())
        .collect())
}

/// A user name the monitor will consider at all: bounded, printable, no spaces, not
/// starting with '-' (vsftpd's rules).
pub fn plausible_user(user: &[u8]) -> bool {
    !user.is_empty()
        && user.len() <= limits::USER_MAX
        && user.iter().all(|&b| b.is_ascii_graphic() || b >= 0x80)
        && user[0] != b'-'
}

/// Decide a login. The monitor calls this with exactly what the client sent. `lists` is
/// None where local users cannot log in (development mode). The error is the reason, for
/// the log only: the client always gets the same `530 Login incorrect.`
pub fn check(
    cfg: &Config,
    anon: &AnonLists,
    lists: Option<&Lists>,
    user: &[u8],
    pass: &[u8],
) -> Result<Login, String> {
    // SECURITY: the pre-login process is untrusted: re-check every bound here.
    if !plausible_user(user) || pass.len() > limits::PASS_MAX {
        return Err("implausible user name or password".into());
    }
    // As vsftpd: with anonymous_enable=NO, "ftp" and "anonymous" are ordinary user names.
    if is_anonymous_name(user) && cfg.anonymous_enable {
        // SECURITY: deny_email_enable refuses listed anonymous passwords (exact match);
        // secure_email_list_enable admits only listed ones.
        if anon.banned.iter().any(|b| b.as_slice() == pass) {
            return Err("banned anonymous password".into());
        }
        if let Some(allowed) = &anon.allowed {
            if !allowed.iter().any(|a| local::ct_eq(a, pass)) {
                return Err("anonymous password not in email_password_file".into());
            }
        }
        return Ok(Login::Anonymous);
    }
    let Some(lists) = lists else {
        return Err("local users cannot log in in development mode".into());
    };
    local::verify_local(cfg, lists, user, pass, local::today_days())
        .map(Login::Local)
        .map_err(|r| r.to_string())
}

/// Count and log a login attempt, sleep after a failure, and turn it into the reply for
/// the pre-login process: after max_login_fails failures the session is closed. The
/// `FAIL LOGIN` line keeps vsftpd's exact shape (fail2ban anchors on it); the reason goes
/// on a line of its own. `anon_pass`: the password of a successful anonymous login, which
/// vsftpd's `OK LOGIN` line and xferlog show.
pub fn account(
    cfg: &Config,
    fails: &mut u32,
    result: Result<(), &str>,
    user: &[u8],
    anon_pass: Option<&[u8]>,
) -> LoginReply {
    // As vsftpd: an anonymous session is labelled with ftp_username from its login on.
    match anon_pass {
        Some(_) => log::set_user(cfg.ftp_username.as_bytes()),
        None => log::set_user(user),
    }
    log::set_anon_pass(anon_pass);
    log::login(result.is_ok(), result.err());
    if result.is_ok() {
        if cfg.delay_successful_login > 0 {
            std::thread::sleep(Duration::from_secs(cfg.delay_successful_login.into()));
        }
        return LoginReply::Ok;
    }
    *fails += 1;
    if cfg.delay_failed_login > 0 {
        std::thread::sleep(Duration::from_secs(cfg.delay_failed_login.into()));
    }
    if *fails >= cfg.max_login_fails.clamp(1, limits::LOGIN_FAILS_HARD_MAX) {
        LoginReply::FailClose
    } else {
        LoginReply::Fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_rules() {
        let check = |cfg: &Config, banned: &[Vec<u8>], u: &[u8], p: &[u8]| {
            let anon = AnonLists {
                banned: banned.to_vec(),
                allowed: None,
            };
            check(cfg, &anon, None, u, p).ok()
        };
        let mut cfg = Config {
            anonymous_enable: true,
            ..Config::default()
        };
        assert_eq!(
            check(&cfg, &[], b"anonymous", b"a@b"),
            Some(Login::Anonymous)
        );
        assert_eq!(check(&cfg, &[], b"FTP", b""), Some(Login::Anonymous));
        assert_eq!(check(&cfg, &[], b"root", b"x"), None);
        cfg.deny_email_enable = true;
        let banned = vec![b"bad@x".to_vec()];
        assert_eq!(check(&cfg, &banned, b"ftp", b"bad@x"), None);
        assert_eq!(
            check(&cfg, &banned, b"ftp", b"good@x"),
            Some(Login::Anonymous)
        );
        cfg.anonymous_enable = false;
        assert_eq!(check(&cfg, &[], b"anonymous", b"a@b"), None);
    }

    #[test]
    fn secure_email_list_admits_only_listed_passwords() {
        let cfg = Config::default();
        let anon = AnonLists {
            banned: vec![],
            allowed: Some(vec![b"friend@x".to_vec()]),
        };
        assert_eq!(
            check(&cfg, &anon, None, b"ftp", b"friend@x"),
            Ok(Login::Anonymous)
        );
        assert!(check(&cfg, &anon, None, b"ftp", b"stranger@x").is_err());
        assert!(check(&cfg, &anon, None, b"ftp", b"").is_err());
    }

    #[test]
    fn implausible_users_refused() {
        assert!(!plausible_user(b""));
        assert!(!plausible_user(b"a b"));
        assert!(!plausible_user(b"-x"));
        assert!(!plausible_user(b"a\0b"));
        assert!(!plausible_user(&[b'a'; limits::USER_MAX + 1]));
        assert!(plausible_user(b"anonymous"));
    }
}
