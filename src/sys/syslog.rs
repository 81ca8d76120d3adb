//! syslog through libc's openlog/syslog, opened (LOG_NDELAY) before any chroot so the
//! socket to /dev/log stays usable inside the jail, with LOG_PID so every process logs its
//! own pid. Used by every process.

use std::ffi::CString;

static IDENT: &[u8] = b"rsftpd\0";

/// Open the log connection now (before chroot).
pub fn open() {
    // SAFETY: IDENT is a static NUL-terminated string, valid for the life of the program
    // as openlog requires.
    unsafe {
        libc::openlog(
            IDENT.as_ptr().cast(),
            libc::LOG_PID | libc::LOG_NDELAY,
            libc::LOG_FTP,
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Err,
    Warning,
    Info,
}

/// Log one message. Control bytes must already be escaped by the caller (log.rs).
pub fn log(level: Level, msg: &str) {
    let pri = match level {
        Level::Err => libc::LOG_ERR,
        Level::Warning => libc::LOG_WARNING,
        Level::Info => libc::LOG_INFO,
    };
    let text = CString::new(msg.replace('\0', "?")).unwrap_or_default();
    // SAFETY: the format is a static "%s" and text is a valid C string.
    unsafe { libc::syslog(pri, c"%s".as_ptr(), text.as_ptr()) }
}
