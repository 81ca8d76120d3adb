//! The argument of HOST (RFC 7151): a host name (RFC 1123 labels, ASCII only: an
//! internationalized name must come in its A-label form, `xn--...`), an IPv4 address, or an
//! IPv6 address in brackets. Parsed into one canonical spelling, which is also the name of
//! the host's file in host_config_dir, so the spelling a client picks cannot reach another
//! file: host names in lower case without a final dot, addresses in their standard short
//! text form (IPv6 without the brackets).
//!
//! Pure; trusts nothing; bounded by limits::HOST_NAME_MAX. Run by the pre-login session
//! (to answer 501 at once) and by the monitor (which checks the name again before it
//! opens a file named after it).

use crate::limits;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The canonical form of a HOST argument, or None when it is not a host name or address.
/// The result only ever holds `a-z`, `0-9`, `-`, `.` and `:`, never starts with `.` and
/// never holds `/` or `..`, so it is a safe single file name.
pub fn canonical(arg: &[u8]) -> Option<String> {
    if arg.is_empty() || arg.len() > limits::HOST_NAME_MAX + 2 {
        return None;
    }
    let text = std::str::from_utf8(arg).ok()?;
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        // Zone ids (`%eth0`) and anything but an address are refused by the parser.
        return inner.parse::<Ipv6Addr>().ok().map(|a| a.to_string());
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() || name.len() > limits::HOST_NAME_MAX {
        return None;
    }
    let labels: Vec<&str> = name.split('.').collect();
    if !labels.iter().all(|l| valid_label(l)) {
        return None;
    }
    // An all-numeric last label is no top-level domain (RFC 3696 section 2): the name must
    // then be a dotted-quad address, in the one spelling the parser accepts (no leading
    // zeros, which some resolvers read as octal).
    let last = labels.last()?;
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse::<Ipv4Addr>().ok().map(|a| a.to_string());
    }
    Some(name.to_ascii_lowercase())
}

/// Is `name` already a canonical form (as `canonical` returns it)? The monitor checks this
/// on every name a session sends before it uses it as a file name.
pub fn is_canonical(name: &str) -> bool {
    let again = if name.contains(':') {
        canonical(format!("[{name}]").as_bytes())
    } else {
        canonical(name.as_bytes())
    };
    again.as_deref() == Some(name)
}

/// RFC 1123 section 2.1: 1 to 63 letters, digits and hyphens, no hyphen at either end.
fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Option<String> {
        canonical(s.as_bytes())
    }

    #[test]
    fn names_are_lowered_and_lose_the_final_dot() {
        assert_eq!(c("ftp.Example.COM").as_deref(), Some("ftp.example.com"));
        assert_eq!(c("ftp.example.com.").as_deref(), Some("ftp.example.com"));
        assert_eq!(c("localhost").as_deref(), Some("localhost"));
        assert_eq!(c("3com.example").as_deref(), Some("3com.example"));
        assert_eq!(
            c("xn--bcher-kva.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(c("a-b.c").as_deref(), Some("a-b.c"));
        let label = "a".repeat(63);
        assert!(c(&format!("{label}.example")).is_some());
    }

    #[test]
    fn addresses_take_their_standard_form() {
        assert_eq!(c("192.0.2.1").as_deref(), Some("192.0.2.1"));
        assert_eq!(c("[2001:DB8:0::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(c("[::1]").as_deref(), Some("::1"));
        assert_eq!(c("[::ffff:192.0.2.1]").as_deref(), Some("::ffff:192.0.2.1"));
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a..b",
            ".a",
            "-a.example",
            "a-.example",
            "a_b.example",
            "a b",
            "a/b",
            "../etc",
            "ftp.example.com..",
            "192.0.2.256",
            "01.2.3.4",
            "1.2.3",
            "example.123",
            "2001:db8::1",
            "[192.0.2.1]",
            "[::1",
            "::1]",
            "[fe80::1%eth0]",
            "bücher.example",
            "a\0b",
        ] {
            assert_eq!(c(bad), None, "{bad:?}");
        }
        assert_eq!(c(&format!("{}.example", "a".repeat(64))), None);
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > limits::HOST_NAME_MAX);
        assert_eq!(c(&long), None);
        assert_eq!(canonical(&[0xff, b'a']), None);
    }

    #[test]
    fn canonical_names_are_safe_file_names_and_fixpoints() {
        for s in ["Ftp.Example.com.", "[2001:db8::1]", "10.0.0.1", "localhost"] {
            let n = c(s).unwrap();
            assert!(!n.starts_with('.') && !n.contains('/') && !n.contains(".."));
            assert!(n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b)));
            // What the monitor checks: the name it is given is already canonical.
            assert!(is_canonical(&n), "{n}");
        }
        for not in [
            "Ftp.example.com",
            "example.com.",
            "[::1]",
            "2001:DB8::1",
            "..",
            "",
        ] {
            assert!(!is_canonical(not), "{not}");
        }
    }
}
