//! Where a local user lands: the jail (chroot) and the start directory, from
//! chroot_local_user, chroot_list_enable/chroot_list_file, local_root with user_sub_token,
//! and passwd_chroot_enable (`/./` in the home path), with vsftpd's semantics. Pure; run by
//! the monitor, as root, before it forks the post-login session.

use crate::config::Config;
use std::path::PathBuf;

/// The result of planning a local user's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jail {
    /// The directory to chroot into, if any.
    pub chroot: Option<PathBuf>,
    /// The starting directory: inside the jail when chrooted, else an absolute path.
    pub start: PathBuf,
}

/// Is this user jailed? chroot_local_user, inverted for the users listed in
/// chroot_list_file when chroot_list_enable=YES (as vsftpd: with chroot_local_user=YES the
/// list names the users who are NOT jailed).
pub fn jailed(cfg: &Config, user: &str, chroot_list: &[Vec<u8>]) -> bool {
    let listed =
        cfg.chroot_list_enable && chroot_list.iter().any(|u| u.as_slice() == user.as_bytes());
    cfg.chroot_local_user != listed
}

/// Plan the jail and start directory for a local user with home directory `home`.
pub fn plan(cfg: &Config, user: &str, home: &str, jail: bool) -> Result<Jail, String> {
    let mut dir = match &cfg.local_root {
        Some(r) => match &cfg.user_sub_token {
            Some(tok) if !tok.is_empty() => r.replace(tok.as_str(), user),
            _ => r.clone(),
        },
        None => home.to_string(),
    };
    if !dir.starts_with('/') {
        return Err(format!(
            "the directory for user '{user}' ({dir}) is not an absolute path"
        ));
    }
    if !jail {
        return Ok(Jail {
            chroot: None,
            start: PathBuf::from(dir),
        });
    }
    if cfg.passwd_chroot_enable {
        if let Some(p) = dir.find("/./") {
            let inside = format!("/{}", &dir[p + 3..]);
            dir.truncate(p);
            if dir.is_empty() {
                dir.push('/');
            }
            return Ok(Jail {
                chroot: Some(PathBuf::from(dir)),
                start: PathBuf::from(inside),
            });
        }
    }
    Ok(Jail {
        chroot: Some(PathBuf::from(dir)),
        start: PathBuf::from("/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(f: impl Fn(&mut Config)) -> Config {
        let mut c = Config::default();
        f(&mut c);
        c
    }

    #[test]
    fn who_is_jailed() {
        let list = vec![b"alice".to_vec()];
        let c = cfg(|_| {});
        assert!(!jailed(&c, "alice", &list));
        let c = cfg(|c| c.chroot_local_user = true);
        assert!(
            jailed(&c, "alice", &list),
            "list ignored without chroot_list_enable"
        );
        let c = cfg(|c| {
            c.chroot_local_user = true;
            c.chroot_list_enable = true;
        });
        assert!(!jailed(&c, "alice", &list), "listed users are exempt");
        assert!(jailed(&c, "bob", &list));
        let c = cfg(|c| c.chroot_list_enable = true);
        assert!(jailed(&c, "alice", &list), "listed users are jailed");
        assert!(!jailed(&c, "bob", &list));
    }

    #[test]
    fn start_directories() {
        let c = cfg(|_| {});
        assert_eq!(
            plan(&c, "bob", "/home/bob", false).unwrap(),
            Jail {
                chroot: None,
                start: "/home/bob".into()
            }
        );
        assert_eq!(
            plan(&c, "bob", "/home/bob", true).unwrap(),
            Jail {
                chroot: Some("/home/bob".into()),
                start: "/".into()
            }
        );
        let c = cfg(|c| c.passwd_chroot_enable = true);
        assert_eq!(
            plan(&c, "bob", "/srv/jail/./home/bob", true).unwrap(),
            Jail {
                chroot: Some("/srv/jail".into()),
                start: "/home/bob".into()
            }
        );
        assert_eq!(
            plan(&c, "bob", "/srv/jail/./home/bob", false).unwrap(),
            Jail {
                chroot: None,
                start: "/srv/jail/./home/bob".into()
            }
        );
        let c = cfg(|c| {
            c.local_root = Some("/srv/ftp/$USER".into());
            c.user_sub_token = Some("$USER".into());
        });
        assert_eq!(
            plan(&c, "bob", "/home/bob", true).unwrap(),
            Jail {
                chroot: Some("/srv/ftp/bob".into()),
                start: "/".into()
            }
        );
        let c = cfg(|c| c.local_root = Some("relative".into()));
        assert!(plan(&c, "bob", "/home/bob", true).is_err());
    }
}
