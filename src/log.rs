//! Logging: syslog lines in vsftpd's shapes (`CONNECT: Client "IP"`, `[ftp] OK LOGIN: ...`,
//! `FAIL LOGIN`) so fail2ban and admins' tools keep working. Anything that came from the
//! client is escaped first. Used by every process; the connection to syslog is opened
//! before any chroot.

use crate::sys::syslog::{self, Level};
use std::sync::atomic::{AtomicBool, Ordering};

static INFO_ENABLED: AtomicBool = AtomicBool::new(false);

/// Open syslog (before chroot); `info` says whether informational lines (connects, logins,
/// transfers) are written, as syslog_enable does. Errors are always written.
pub fn init(info: bool) {
    syslog::open();
    INFO_ENABLED.store(info, Ordering::Relaxed);
}

/// Escape bytes from the client for a log line: printable ASCII and UTF-8 pass; control
/// bytes, invalid UTF-8 and backslashes become \xNN escapes, so nobody can forge lines.
pub fn escape(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' || c == '"' {
                for byte in c.to_string().bytes() {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

pub fn info(msg: &str) {
    if INFO_ENABLED.load(Ordering::Relaxed) {
        syslog::log(Level::Info, msg);
    }
}

pub fn warn(msg: &str) {
    syslog::log(Level::Warning, msg);
}

pub fn error(msg: &str) {
    syslog::log(Level::Err, msg);
}

/// Send panics to syslog: stderr is /dev/null (or the client) under inetd.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        syslog::log(Level::Err, &format!("internal error: {info}"));
    }));
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_control_and_invalid_bytes() {
        assert_eq!(escape(b"a@b.c"), "a@b.c");
        assert_eq!(escape(b"x\r\ny"), "x\\x0d\\x0ay");
        assert_eq!(escape(b"\xff\"q"), "\\xff\\x22q");
        assert_eq!(escape("é".as_bytes()), "é");
    }
}
