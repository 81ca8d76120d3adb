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

/// FEAT body, in vsftpd's (alphabetical) order, with rsftpd's additions in their places:
/// HOST, LANG, MFMT when MDTM may set times (write_enable and mdtm_write), the MLST line with the facts
/// this session has enabled (`mlst`; before login, all of them), and UTF8: names pass
/// through as bytes.
pub fn feat_lines(cfg: &crate::config::Config, mlst: crate::proto::mlsx::Facts) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = Vec::new();
    let mut add = |s: &str| v.push(s.as_bytes().to_vec());
    if cfg.ssl_enable {
        add(" AUTH TLS");
    }
    if cfg.port_enable {
        add(" EPRT");
    }
    if cfg.pasv_enable {
        add(" EPSV");
    }
    // RFC 7151 and RFC 2640: HOST, and LANG with its one language (the `*`: in use).
    add(" HOST");
    add(" LANG EN*");
    add(" MDTM");
    if cfg.write_enable && cfg.mdtm_write {
        add(" MFMT");
    }
    v.push(mlst.feat_line(crate::proto::mlsx::Facts::supported(cfg.hide_ids)));
    let mut add = |s: &str| v.push(s.as_bytes().to_vec());
    if cfg.pasv_enable {
        add(" PASV");
    }
    if cfg.ssl_enable {
        add(" PBSZ");
        add(" PROT");
    }
    for s in [" REST STREAM", " SIZE", " TVFS", " UTF8"] {
        add(s);
    }
    v
}

/// HELP body: the commands rsftpd recognises, in vsftpd's layout.
pub fn help_lines() -> Vec<Vec<u8>> {
    [
        " ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP HOST LANG LIST",
        " MDTM MFMT MKD  MLSD MLST MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT",
        " REIN REST RETR RMD  RNFR RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST",
        " TYPE USER XCUP XCWD XMKD XPWD XRMD",
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
