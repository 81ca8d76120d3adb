//! Session processes: the control channel, the pre-login and post-login command loops,
//! data connections and transfer children. Everything here runs without root (except
//! `entry`, which runs first, in the launched process, and hands over to the monitor or
//! to development mode).

pub mod control;
pub mod data;
pub mod dirlist;
pub mod entry;
pub mod postlogin;
pub mod prelogin;
pub mod proxy;
pub mod tls;
pub mod transfer;

/// FEAT body, in vsftpd's order, plus UTF8: names pass through as bytes.
pub fn feat_lines(cfg: &crate::config::Config) -> Vec<Vec<u8>> {
    let mut v: Vec<&str> = Vec::new();
    if cfg.ssl_enable {
        v.push(" AUTH TLS");
    }
    if cfg.port_enable {
        v.push(" EPRT");
    }
    if cfg.pasv_enable {
        v.push(" EPSV");
    }
    v.push(" MDTM");
    if cfg.pasv_enable {
        v.push(" PASV");
    }
    if cfg.ssl_enable {
        v.extend([" PBSZ", " PROT"]);
    }
    v.extend([" REST STREAM", " SIZE", " TVFS", " UTF8"]);
    v.into_iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// HELP body: the commands rsftpd recognises, in vsftpd's layout.
pub fn help_lines() -> Vec<Vec<u8>> {
    [
        " ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD",
        " MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR RMD  RNFR",
        " RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD",
        " XPWD XRMD",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Read a message file (banner_file, .message) into lines, bounded by
/// limits::MESSAGE_FILE_MAX; None when it cannot be read.
pub fn read_message(path: &std::path::Path) -> Option<Vec<Vec<u8>>> {
    use std::io::Read;
    let f = crate::sys::fs::open_regular(path).ok()?.0;
    let mut buf = Vec::new();
    f.take(crate::limits::MESSAGE_FILE_MAX)
        .read_to_end(&mut buf)
        .ok()?;
    let mut lines: Vec<Vec<u8>> = buf
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    Some(lines)
}
