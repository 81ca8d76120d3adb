//! Virtual hosts (RFC 7151 HOST with host_config_dir): the configuration of the host a
//! client names, read from the host's own file in host_config_dir on top of the main
//! configuration. Only config::HOST_KEYS may appear there; the file must be owned by root
//! (or, in development mode, by the launching user).
//!
//! Trusts: nothing from the session. The name is checked again to be a canonical host name
//! (proto::host) before a path is made of it, and the path is always host_config_dir plus
//! that one name. Run by the monitor (as root, before the post-login fork) and by the
//! development-mode process.

use crate::config::{Config, HOST_KEYS};
use crate::ipc::HostReply;
use crate::limits;
use crate::log;
use std::path::Path;

/// The configuration for virtual host `name`: Ok(None) when it is not a host served here
/// (no host_config_dir, or no file for it), Err (for the log) when its file cannot be used.
pub fn load(base: &Config, name: &str, owner: u32) -> Result<Option<Config>, String> {
    let Some(dir) = &base.host_config_dir else {
        return Ok(None);
    };
    // SECURITY: the name becomes a file name; only a canonical host name (letters, digits,
    // '-', '.', ':'; no '/', no leading '.') can, so nothing outside host_config_dir is
    // reachable whatever the session sends.
    if !crate::proto::host::is_canonical(name) {
        return Err(format!(
            "HOST {}: not a canonical host name",
            log::escape(name.as_bytes())
        ));
    }
    let path = Path::new(dir).join(name);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
        Ok(_) => {}
    }
    let mut cfg = base.clone();
    // SECURITY: the file configures sessions of a root process: it must be root's (checked
    // on the open file by load_overrides), and may set only what a virtual host may change.
    for w in cfg
        .load_overrides(&path, Some(owner), HOST_KEYS)
        .map_err(|e| e.to_string())?
    {
        log::warn(&format!("warning: {w}"));
    }
    cfg.validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SECURITY: ftpusers_file is read at startup only when the main file enables local
    // logins; a host turning them on would log users in without that deny list.
    if cfg.local_enable && !base.local_enable {
        return Err(format!(
            "{}: local_enable=YES needs local_enable=YES in the main configuration",
            path.display()
        ));
    }
    if host_banner(base, &cfg).is_some_and(|b| b.len() > limits::HOST_BANNER_MAX) {
        return Err(format!(
            "{}: ftpd_banner is longer than {} bytes",
            path.display(),
            limits::HOST_BANNER_MAX
        ));
    }
    Ok(Some(cfg))
}

/// The ftpd_banner the host file set, if it set one: the main file's was the greeting.
fn host_banner<'a>(base: &Config, host: &'a Config) -> Option<&'a str> {
    host.ftpd_banner
        .as_deref()
        .filter(|b| base.ftpd_banner.as_deref() != Some(*b))
}

/// Answer a HOST request: the reply for the session and, when accepted, the host's
/// configuration. Refusals are logged (the client only ever sees 504).
/// `select`, at most limits::HOST_MAX times per connection (`count` is the connection's):
/// each lookup reads a file and writes a log line, so HOST cannot make that happen at line
/// rate. Past the bound: Unknown, without either.
pub fn select_bounded(
    base: &Config,
    name: &[u8],
    owner: u32,
    count: &mut u32,
) -> (HostReply, Option<Config>) {
    *count += 1;
    if *count > crate::limits::HOST_MAX {
        return (HostReply::Unknown, None);
    }
    select(base, name, owner)
}

pub fn select(base: &Config, name: &[u8], owner: u32) -> (HostReply, Option<Config>) {
    let loaded = match std::str::from_utf8(name) {
        Ok(n) => load(base, n, owner),
        Err(_) => Err("HOST: a name that is not text".to_string()),
    };
    match loaded {
        Ok(Some(cfg)) => {
            log::action(true, "HOST", name);
            let reply = HostReply::Accepted {
                anonymous_enable: cfg.anonymous_enable,
                local_enable: cfg.local_enable,
                banner: host_banner(base, &cfg).map(|b| b.as_bytes().to_vec()),
            };
            (reply, Some(cfg))
        }
        Ok(None) => {
            log::action(false, "HOST", name);
            (HostReply::Unknown, None)
        }
        Err(e) => {
            log::error(&format!("virtual host refused: {e}"));
            log::action(false, "HOST", name);
            (HostReply::Unknown, None)
        }
    }
}
