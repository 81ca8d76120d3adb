//! syslog through libc's openlog/syslog, opened (LOG_NDELAY) before any chroot so the
//! socket to /dev/log stays usable inside the jail, with LOG_PID so every process logs its
//! own pid. Used by every process.

use std::ffi::CString;

static IDENT: &[u8] = b"rsftpd\0";

/// The syslog facility for a name (`syslog_facility`), None for an unknown one.
pub fn facility(name: &str) -> Option<libc::c_int> {
    Some(match name {
        "ftp" => libc::LOG_FTP,
        "daemon" => libc::LOG_DAEMON,
        "auth" => libc::LOG_AUTH,
        "authpriv" => libc::LOG_AUTHPRIV,
        "user" => libc::LOG_USER,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => return None,
    })
}

/// Open the log connection now (before chroot) with a facility from `facility()`.
pub fn open(facility: libc::c_int) {
    // SAFETY: IDENT is a static NUL-terminated string, valid for the life of the program
    // as openlog requires.
    unsafe {
        libc::openlog(
            IDENT.as_ptr().cast(),
            libc::LOG_PID | libc::LOG_NDELAY,
            facility,
        )
    }
}

/// Open with the default facility (FTP), for errors before the configuration is known.
pub fn open_default() {
    open(libc::LOG_FTP)
}

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Err,
    Warning,
    Notice,
    Info,
}

/// Log one message. Control bytes must already be escaped by the caller (log.rs).
pub fn log(level: Level, msg: &str) {
    let pri = match level {
        Level::Err => libc::LOG_ERR,
        Level::Warning => libc::LOG_WARNING,
        Level::Notice => libc::LOG_NOTICE,
        Level::Info => libc::LOG_INFO,
    };
    let text = CString::new(msg.replace('\0', "?")).unwrap_or_default();
    // SAFETY: the format is a static "%s" and text is a valid C string.
    unsafe { libc::syslog(pri, c"%s".as_ptr(), text.as_ptr()) }
}
