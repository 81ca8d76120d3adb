//! Command lines: Telnet control sequences removed, the verb (upper-cased ASCII) split from
//! the argument (raw bytes, not necessarily UTF-8). Pure; trusts nothing; run by sessions.

/// One parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Upper-cased verb; empty for an empty line. A verb with bytes other than ASCII
    /// letters, digits and '@' is kept as given so it falls through to "500 Unknown command".
    pub verb: String,
    /// Everything after the first space; None when absent or empty.
    pub arg: Option<Vec<u8>>,
}

const IAC: u8 = 255;
const WILL: u8 = 251;
const DONT: u8 = 254;
/// The lowest Telnet command byte (SE).
const TELNET_SE: u8 = 240;

/// Remove Telnet commands (RFC 854) that clients send on the control connection, e.g.
/// `IAC IP IAC DM` before ABOR: IAC IAC is a literal 255; IAC WILL/WONT/DO/DONT x drops
/// three bytes; IAC followed by another Telnet command byte (240-250) drops two. An IAC
/// followed by anything else is not a Telnet command: it is kept as a literal 0xFF, so a
/// client that sends a raw Latin-1 `ÿ` in a file name (vsftpd does no Telnet processing)
/// still reaches the file. A lone trailing IAC is dropped.
pub fn strip_telnet(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if b != IAC {
            out.push(b);
            i += 1;
            continue;
        }
        match line.get(i + 1) {
            Some(&IAC) => {
                out.push(IAC);
                i += 2;
            }
            Some(&c) if (WILL..=DONT).contains(&c) => i += 3,
            Some(&c) if c >= TELNET_SE => i += 2,
            Some(_) => {
                out.push(IAC);
                i += 1;
            }
            None => i += 1,
        }
    }
    out
}

/// Parse a line with its line ending already removed (see `trim_eol`).
pub fn parse(line: &[u8]) -> Command {
    let clean = strip_telnet(line);
    // The Telnet Data Mark sent as urgent data arrives inline (SO_OOBINLINE) as byte 242
    // right after the IAC that strip_telnet consumed, or alone when IAC was split off; a
    // leading one is noise before the verb.
    let mut s: &[u8] = &clean;
    while let Some((&first, rest)) = s.split_first() {
        if first == 242 || first == b' ' {
            s = rest;
        } else {
            break;
        }
    }
    let (verb, arg) = match s.iter().position(|&b| b == b' ') {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    };
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    let arg = arg.filter(|a| !a.is_empty()).map(|a| a.to_vec());
    Command { verb, arg }
}

/// Remove the line ending: the final LF and any CRs before it (a bare LF is accepted). An
/// embedded NUL is kept here and refused later where it matters (paths).
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    if end > 0 && line[end - 1] == b'\n' {
        end -= 1;
    }
    while end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    &line[..end]
}

/// True when the verb is made only of characters FTP verbs use.
pub fn plausible_verb(v: &str) -> bool {
    !v.is_empty() && v.len() <= 8 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'@')
}

/// Check a cmds_allowed / cmds_denied list: command names separated by commas, spaces
/// around a name ignored, a trailing comma allowed. Err names the first bad entry.
pub fn check_filter_list(list: &str) -> Result<(), String> {
    let list = list.strip_suffix(',').unwrap_or(list);
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err("an empty command name (two commas in a row?)".to_string());
        }
        if !plausible_verb(name) {
            return Err(format!(
                "'{name}' is not a command name (1 to 8 letters, digits or @; separate names with commas)"
            ));
        }
    }
    Ok(())
}

/// Does a (checked) cmds_allowed / cmds_denied list name this verb? Case does not matter.
fn list_names(list: &str, verb: &str) -> bool {
    list.split(',').any(|n| n.trim().eq_ignore_ascii_case(verb))
}

/// cmds_allowed and cmds_denied (vsftpd semantics): with an allow list only the verbs on
/// it pass; a verb on the deny list never passes, even when it is also allowed.
pub fn filter_allows(allowed: Option<&str>, denied: Option<&str>, verb: &str) -> bool {
    let on_allow_list = match allowed {
        Some(a) => list_names(a, verb),
        None => true,
    };
    on_allow_list && !denied.is_some_and(|d| list_names(d, verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_and_args() {
        assert_eq!(
            parse(b"user anonymous"),
            Command {
                verb: "USER".into(),
                arg: Some(b"anonymous".to_vec())
            }
        );
        assert_eq!(
            parse(b"PWD"),
            Command {
                verb: "PWD".into(),
                arg: None
            }
        );
        assert_eq!(
            parse(b"CWD "),
            Command {
                verb: "CWD".into(),
                arg: None
            }
        );
        assert_eq!(
            parse(b"RETR a b  c"),
            Command {
                verb: "RETR".into(),
                arg: Some(b"a b  c".to_vec())
            }
        );
        assert_eq!(
            parse(b""),
            Command {
                verb: "".into(),
                arg: None
            }
        );
        assert_eq!(
            parse(b"RETR \xff\xf1x\xff\xffy"),
            Command {
                verb: "RETR".into(),
                arg: Some(b"x\xffy".to_vec())
            },
            "IAC NOP dropped, IAC IAC kept as one 0xff"
        );
    }

    #[test]
    fn telnet_sequences() {
        assert_eq!(
            parse(b"\xff\xf4\xff\xf2ABOR"),
            Command {
                verb: "ABOR".into(),
                arg: None
            }
        );
        assert_eq!(
            parse(b"\xf2ABOR"),
            Command {
                verb: "ABOR".into(),
                arg: None
            }
        );
        assert_eq!(strip_telnet(b"a\xff\xffb"), b"a\xffb");
        assert_eq!(strip_telnet(b"a\xff\xfb\x01b"), b"ab");
        assert_eq!(strip_telnet(b"a\xff"), b"a");
        assert_eq!(
            strip_telnet(b"caf\xff.txt"),
            b"caf\xff.txt",
            "raw Latin-1 0xFF kept"
        );
    }

    #[test]
    fn line_endings() {
        assert_eq!(trim_eol(b"NOOP\r\n"), b"NOOP");
        assert_eq!(trim_eol(b"NOOP\n"), b"NOOP");
        assert_eq!(trim_eol(b"NOOP\r\r\n"), b"NOOP");
        assert_eq!(trim_eol(b"NOOP"), b"NOOP");
    }

    #[test]
    fn verb_plausibility() {
        assert!(plausible_verb("P@SW"));
        assert!(plausible_verb("RETR"));
        assert!(!plausible_verb("GET /"));
        assert!(!plausible_verb("\u{fffd}"));
        assert!(!plausible_verb(""));
    }

    #[test]
    fn command_filters() {
        assert!(check_filter_list("PASV,RETR,QUIT").is_ok());
        assert!(check_filter_list("pasv, retr ,P@SW,").is_ok());
        assert!(check_filter_list("PASV,,RETR").is_err());
        assert!(check_filter_list("PASV RETR").is_err());
        assert!(check_filter_list("").is_err());
        assert!(check_filter_list("RETR;DELE").is_err());
        let allowed = Some("PASV, retr,QUIT");
        assert!(filter_allows(allowed, None, "RETR"));
        assert!(filter_allows(allowed, None, "QUIT"));
        assert!(!filter_allows(allowed, None, "STOR"));
        assert!(!filter_allows(allowed, None, "RET"));
        assert!(!filter_allows(allowed, None, "XYZZ"));
        assert!(filter_allows(None, Some("DELE,RMD"), "RETR"));
        assert!(!filter_allows(None, Some("DELE,RMD"), "DELE"));
        // Denial wins over an allow list that names the verb too.
        assert!(!filter_allows(Some("DELE,RETR"), Some("DELE"), "DELE"));
        assert!(filter_allows(None, None, "ANYTHING"));
    }
}
