//! Logging, in the shapes administrators' tools already read:
//! - vsftpd's own lines (`[pid N] [user] OK LOGIN: Client "IP"`, `FAIL LOGIN`, `OK DOWNLOAD`,
//!   `OK UPLOAD`, `OK MKDIR`, ...), to `vsftpd_log_file` with a date in front, or to syslog
//!   with `syslog_enable=YES`, so fail2ban's stock vsftpd filter matches failed logins;
//! - the wu-ftpd xferlog format (xferlog(5)), one line per transfer, to `xferlog_file`;
//! - with `log_ftp_protocol`, every command (`PASS <hidden>`) and reply;
//! - errors, always, to syslog.
//!
//! Which sinks are on follows vsftpd 3: vsftpd lines with `xferlog_enable=YES` and
//! `xferlog_std_format=NO`, or `dual_log_enable=YES`, or `syslog_enable=YES`; xferlog lines
//! with `xferlog_enable=YES` and `xferlog_std_format=YES`, or `dual_log_enable=YES`.
//!
//! The files are opened (O_APPEND) by the launched process as root, before any fork or
//! chroot; the sessions inherit the descriptors. Each line is one write(2), so lines from
//! several processes never interleave. Anything that came from the client is escaped.
//! Used by every process but the transfer children.

use crate::config::Config;
use crate::sys::syslog::{self, Level};
use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;

struct Sinks {
    /// vsftpd-format lines to syslog.
    vsftpd_syslog: bool,
    /// vsftpd-format lines to this file.
    vsftpd_file: Option<File>,
    xferlog: Option<File>,
    protocol: bool,
    localtime: bool,
    peer: String,
}

static SINKS: OnceLock<Sinks> = OnceLock::new();

thread_local! {
    /// The `[user]` of the vsftpd lines: the USER name once one was given.
    static USER: RefCell<String> = const { RefCell::new(String::new()) };
    /// The anonymous password, for `OK LOGIN ..., anon password "x"` and xferlog.
    static ANON_PASS: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Open syslog with the configured facility (errors always go there). Before the
/// configuration is known, `crate::sys::syslog::open_default` is used instead.
pub fn open_syslog(cfg: &Config) {
    // validate() refused unknown facilities; the default is FTP either way.
    match syslog::facility(&cfg.syslog_facility) {
        Some(f) => syslog::open(f),
        None => syslog::open_default(),
    }
}

/// Open the log sinks the configuration asks for (as root, before any fork or chroot).
/// An error names the file that could not be opened.
pub fn init(cfg: &Config, peer: Option<IpAddr>) -> Result<(), String> {
    open_syslog(cfg);
    let open = |path: &str| {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("cannot open log file {path}: {e}"))
    };
    let vsftpd_lines = (cfg.xferlog_enable && !cfg.xferlog_std_format) || cfg.dual_log_enable;
    let xfer_lines = (cfg.xferlog_enable && cfg.xferlog_std_format) || cfg.dual_log_enable;
    let vsftpd_file = if vsftpd_lines && !cfg.syslog_enable {
        Some(open(&cfg.vsftpd_log_file)?)
    } else {
        None
    };
    let xferlog = if xfer_lines {
        Some(open(&cfg.xferlog_file)?)
    } else {
        None
    };
    let vsftpd_on = cfg.syslog_enable || vsftpd_file.is_some();
    let _ = SINKS.set(Sinks {
        vsftpd_syslog: cfg.syslog_enable,
        vsftpd_file,
        xferlog,
        protocol: cfg.log_ftp_protocol && vsftpd_on,
        localtime: cfg.use_localtime,
        peer: peer.map(|p| p.to_string()).unwrap_or_default(),
    });
    Ok(())
}

/// Close the log files in this process (the pre-login process, unless it logs the
/// protocol: it reads client bytes and needs no way to write the logs).
pub fn close_files() {
    // OnceLock cannot be emptied; the files are closed by descriptor number instead.
    if let Some(s) = SINKS.get() {
        use std::os::fd::AsRawFd;
        for f in [&s.vsftpd_file, &s.xferlog].into_iter().flatten() {
            crate::sys::io::close_raw(f.as_raw_fd());
        }
    }
}

/// Does this process log the protocol (log_ftp_protocol)?
pub fn logs_protocol() -> bool {
    SINKS.get().is_some_and(|s| s.protocol)
}

/// Set the `[user]` of later lines.
pub fn set_user(user: &[u8]) {
    USER.with(|u| *u.borrow_mut() = escape(user));
}

/// Remember the anonymous password (escaped) for the login line and xferlog.
pub fn set_anon_pass(pass: Option<&[u8]>) {
    ANON_PASS.with(|p| *p.borrow_mut() = pass.map(escape));
}

/// Escape bytes from the client for a log line: printable ASCII and UTF-8 pass; control
/// bytes, invalid UTF-8, backslashes and quotes become \xNN escapes, so nobody can forge
/// lines or fields.
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

/// `Tue Nov  3 04:04:32 2026`: ctime's shape, as vsftpd and xferlog(5) write it; local time
/// with use_localtime=YES, else UTC.
pub fn date(t: i64, localtime: bool) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = if localtime {
        crate::sys::time::to_local(t)
    } else {
        t
    };
    let (y, mo, d, h, mi, s) = crate::proto::listing::civil_from_unix(t);
    let wd = (t.div_euclid(86_400) + 4).rem_euclid(7) as usize;
    format!(
        "{} {} {d:>2} {h:02}:{mi:02}:{s:02} {y}",
        DAYS[wd],
        MONTHS[(mo - 1) as usize]
    )
}

fn write_line(f: &File, line: &str) {
    let mut buf = line.as_bytes().to_vec();
    buf.push(b'\n');
    // One write: the descriptor is O_APPEND, so concurrent sessions never interleave.
    let _ = (&*f).write(&buf);
}

/// A vsftpd-format line: `[pid N] [user] {what}: Client "IP"{detail}`.
fn vsftpd_line(level: Level, what: &str, detail: &str) {
    let Some(s) = SINKS.get() else { return };
    if !s.vsftpd_syslog && s.vsftpd_file.is_none() {
        return;
    }
    let user = USER.with(|u| u.borrow().clone());
    let user = if user.is_empty() {
        String::new()
    } else {
        format!("[{user}] ")
    };
    let body = format!(
        "[pid {}] {user}{what}: Client \"{}\"{detail}",
        std::process::id(),
        s.peer
    );
    if s.vsftpd_syslog {
        syslog::log(level, &body);
    }
    if let Some(f) = &s.vsftpd_file {
        write_line(
            f,
            &format!("{} {body}", date(crate::sys::time::now(), s.localtime)),
        );
    }
}

/// `CONNECT: Client "IP"`, when a connection arrives.
pub fn connect() {
    vsftpd_line(Level::Info, "CONNECT", "");
}

/// `OK LOGIN` / `FAIL LOGIN` (exactly vsftpd's shape: fail2ban anchors on it). For an
/// anonymous login the password follows; a refusal's reason goes on a line of its own.
pub fn login(ok: bool, reason: Option<&str>) {
    if let Some(r) = reason {
        vsftpd_line(
            Level::Info,
            "login refused",
            &format!(", \"{}\"", escape(r.as_bytes())),
        );
    }
    let detail = match ANON_PASS.with(|p| p.borrow().clone()) {
        Some(p) if ok => format!(", anon password \"{p}\""),
        _ => String::new(),
    };
    if ok {
        vsftpd_line(Level::Info, "OK LOGIN", &detail);
    } else {
        vsftpd_line(Level::Notice, "FAIL LOGIN", &detail);
    }
}

/// `OK MKDIR`, `FAIL DELETE`, ... for a file-system change on `path`.
pub fn action(ok: bool, what: &str, path: &[u8]) {
    let verdict = if ok { "OK" } else { "FAIL" };
    vsftpd_line(
        Level::Info,
        &format!("{verdict} {what}"),
        &format!(", \"{}\"", escape(path)),
    );
}

/// A finished (or cut off) transfer, to the vsftpd log and to xferlog.
pub struct Transfer<'a> {
    pub upload: bool,
    pub ok: bool,
    pub path: &'a [u8],
    pub bytes: u64,
    pub secs: f64,
    pub ascii: bool,
    pub anonymous: bool,
}

pub fn transfer(t: &Transfer) {
    let Some(s) = SINKS.get() else { return };
    let what = format!(
        "{} {}",
        if t.ok { "OK" } else { "FAIL" },
        if t.upload { "UPLOAD" } else { "DOWNLOAD" }
    );
    let rate = t.bytes as f64 / 1024.0 / t.secs.max(1e-6);
    let path = escape(t.path);
    let tail = if t.ok { "" } else { " (incomplete)" };
    vsftpd_line(
        Level::Info,
        &what,
        &format!(", \"{path}\", {} bytes, {rate:.2}Kbyte/sec{tail}", t.bytes),
    );
    if let Some(f) = &s.xferlog {
        // xferlog(5): current-time transfer-time remote-host file-size filename
        // transfer-type special-action direction access-mode username service-name
        // authentication-method authenticated-user-id completion-status. Spaces in the
        // file name become '_' (the format splits on spaces), as vsftpd and wu-ftpd do.
        let who = if t.anonymous {
            ANON_PASS
                .with(|p| p.borrow().clone())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "?".into())
        } else {
            USER.with(|u| u.borrow().clone())
        };
        let line = format!(
            "{} {} {} {} {} {} _ {} {} {} ftp 0 * {}",
            date(crate::sys::time::now(), s.localtime),
            (t.secs.round() as u64).max(1),
            s.peer,
            t.bytes,
            path.replace(' ', "_"),
            if t.ascii { 'a' } else { 'b' },
            if t.upload { 'i' } else { 'o' },
            if t.anonymous { 'a' } else { 'r' },
            who.replace(' ', "_"),
            if t.ok { 'c' } else { 'i' },
        );
        write_line(f, &line);
    }
}

/// log_ftp_protocol: a command as received (`PASS <hidden>`).
pub fn protocol_command(line: &[u8]) {
    if !logs_protocol() {
        return;
    }
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let shown = if l.len() >= 4 && l[..4].eq_ignore_ascii_case(b"PASS") {
        "PASS <hidden>".to_string()
    } else {
        escape(l)
    };
    vsftpd_line(Level::Info, "FTP command", &format!(", \"{shown}\""));
}

/// log_ftp_protocol: a reply as sent (one line per reply line).
pub fn protocol_reply(bytes: &[u8]) {
    if !logs_protocol() {
        return;
    }
    for l in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        vsftpd_line(Level::Info, "FTP response", &format!(", \"{}\"", escape(l)));
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
    use super::*;

    #[test]
    fn escapes_control_and_invalid_bytes() {
        assert_eq!(escape(b"a@b.c"), "a@b.c");
        assert_eq!(escape(b"x\r\ny"), "x\\x0d\\x0ay");
        assert_eq!(escape(b"\xff\"q"), "\\xff\\x22q");
        assert_eq!(escape("é".as_bytes()), "é");
    }

    #[test]
    fn dates_have_ctimes_shape() {
        assert_eq!(date(0, false), "Thu Jan  1 00:00:00 1970");
        assert_eq!(date(1_795_500_000, false), "Tue Nov 24 06:00:00 2026");
        assert_eq!(date(1_793_500_000, false), "Sun Nov  1 02:26:40 2026");
    }
}
