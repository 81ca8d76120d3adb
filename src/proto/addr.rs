//! Data-connection addresses: parsing PORT, EPRT and EPSV arguments, formatting the PASV and
//! EPSV replies.
//!
//! Owns: the syntax of those arguments and replies, nothing else. Whether an address is
//! acceptable (it must be the control peer's unless port_promiscuous; no port below 1024;
//! EPRT/EPSV protocol 2 only on an IPv6 control connection; PORT/PASV refused after
//! `EPSV ALL`) is the session's policy, decided on the values returned here.
//! Trusts: nothing; every argument comes from the client. Parsing is strict and never
//! allocates more than the argument.
//! Run by: the session processes (post-login).
//!
//! vsftpd 3.0.3 (observed live) parses these with `atoi`, so it accepts a lot:
//! `PORT 127,0,0,1,200,10,` (trailing comma), `...,10x` (trailing junk), `+4` (sign),
//! `EPRT |1|127.0.0.1|51210` (no closing delimiter), `|1| 127.0.0.1|` (space), `|01|`,
//! `127.000.0.1`, port `51210x`, and `EPSV 1x`. It only accepts `|` as the EPRT delimiter.
//! rsftpd is stricter: spaces around PORT numbers are tolerated (some clients send
//! `PORT 127, 0, 0, 1, 200, 10`, which vsftpd accepts), leading zeros are decimal (never
//! octal), everything else malformed is refused. The EPRT delimiter may be any byte in
//! 33..=126 used consistently, as RFC 2428 says.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

/// Parses a decimal number of 1 to `max_digits` ASCII digits (leading zeros allowed, read as
/// decimal), nothing else. A number that does not fit a u32 is refused, never wrapped
/// (found by the `addr` fuzz target: ten digits overflowed).
fn parse_decimal(s: &[u8], max_digits: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_digits || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' '] = s {
        s = rest;
    }
    s
}

/// Parses the PORT argument `h1,h2,h3,h4,p1,p2`: six decimal numbers 0-255 separated by
/// commas, spaces allowed around each number. Port 0 is refused (nothing listens there);
/// every other policy check (peer address, port >= 1024) is the caller's, which answers
/// `500 Illegal PORT command.` for `None` as for a policy refusal.
pub fn parse_port(arg: &[u8]) -> Option<SocketAddrV4> {
    let mut vals = [0u8; 6];
    let mut n = 0;
    for field in arg.split(|&b| b == b',') {
        if n == 6 {
            return None;
        }
        let v = parse_decimal(trim_spaces(field), 3)?;
        vals[n] = u8::try_from(v).ok()?;
        n += 1;
    }
    if n != 6 {
        return None;
    }
    let port = u16::from(vals[4]) << 8 | u16::from(vals[5]);
    if port == 0 {
        return None;
    }
    Some(SocketAddrV4::new(
        Ipv4Addr::new(vals[0], vals[1], vals[2], vals[3]),
        port,
    ))
}

/// Why an EPRT argument was refused, mapped onto vsftpd's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EprtError {
    /// The protocol field is not 1 or 2: `500 Bad EPRT protocol.` (vsftpd also says this
    /// for an empty or non-numeric field, and for 2 on an IPv4 control connection, which
    /// the caller checks).
    BadProtocol,
    /// Anything else malformed: `500 Bad EPRT command.`
    BadCommand,
}

/// Dotted quad of four decimal numbers 0-255 (1-3 digits each, leading zeros decimal).
fn parse_dotted_quad(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    for field in s.split(|&b| b == b'.') {
        if n == 4 {
            return None;
        }
        octets[n] = u8::try_from(parse_decimal(field, 3)?).ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(octets))
}

/// Parses the EPRT argument of RFC 2428: `<d>proto<d>address<d>port<d>`, for example
/// `|1|132.235.1.2|6275|` or `|2|::1|6275|`. The delimiter `<d>` is the first byte, any of
/// 33..=126, and must appear exactly four times. Protocol 1 takes a dotted quad, 2 an IPv6
/// address (text form as `std` parses it, no zone); the port is 1-65535.
///
/// The returned address family follows the protocol number; the caller refuses protocol 2
/// on an IPv4 control connection with `BadProtocol`'s reply, as vsftpd does.
pub fn parse_eprt(arg: &[u8]) -> Result<SocketAddr, EprtError> {
    let delim = match arg.first() {
        Some(&d) if (33..=126).contains(&d) => d,
        _ => return Err(EprtError::BadCommand),
    };
    // Fields between the delimiters: "", proto, address, port, "".
    let fields: Vec<&[u8]> = arg.split(|&b| b == delim).collect();
    if fields.len() != 5 || !fields[0].is_empty() || !fields[4].is_empty() {
        // A delimited but unknown protocol field still says "protocol" whatever follows,
        // as vsftpd (which checks it first) does: `|3|127.0.0.1|51210` is BadProtocol.
        if fields.len() >= 3 && fields[0].is_empty() && proto_of(fields[1]).is_none() {
            return Err(EprtError::BadProtocol);
        }
        return Err(EprtError::BadCommand);
    }
    let proto = proto_of(fields[1]).ok_or(EprtError::BadProtocol)?;
    let ip = match proto {
        1 => IpAddr::V4(parse_dotted_quad(fields[2]).ok_or(EprtError::BadCommand)?),
        _ => {
            let text = std::str::from_utf8(fields[2]).map_err(|_| EprtError::BadCommand)?;
            // Bound the work: the longest IPv6 text form is 45 bytes.
            if text.len() > 45 {
                return Err(EprtError::BadCommand);
            }
            IpAddr::V6(
                text.parse::<Ipv6Addr>()
                    .map_err(|_| EprtError::BadCommand)?,
            )
        }
    };
    let port = parse_decimal(fields[3], 5).ok_or(EprtError::BadCommand)?;
    let port = u16::try_from(port).map_err(|_| EprtError::BadCommand)?;
    if port == 0 {
        return Err(EprtError::BadCommand);
    }
    Ok(SocketAddr::new(ip, port))
}

fn proto_of(field: &[u8]) -> Option<u32> {
    match parse_decimal(field, 10) {
        Some(p @ (1 | 2)) => Some(p),
        _ => None,
    }
}

/// The text of the 227 reply (without the code):
/// `Entering Passive Mode (127,0,0,1,164,230).`
pub fn format_pasv(ip: Ipv4Addr, port: u16) -> String {
    let [a, b, c, d] = ip.octets();
    format!(
        "Entering Passive Mode ({a},{b},{c},{d},{},{}).",
        port >> 8,
        port & 0xff
    )
}

/// The text of the 229 reply (without the code), as vsftpd 3.0.3 sends it, with no final
/// period: `Entering Extended Passive Mode (|||6574|)`
pub fn format_epsv(port: u16) -> String {
    format!("Entering Extended Passive Mode (|||{port}|)")
}

/// The EPSV argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsvArg {
    /// No argument: passive mode on the control connection's protocol.
    Any,
    /// `EPSV ALL` (any case): from now on only EPSV; reply `200 EPSV ALL ok.` and refuse
    /// PORT, PASV and (unlike vsftpd, as RFC 2428 asks) EPRT with `550 Permission denied.`
    All,
    /// A protocol number: 1 (IPv4) or 2 (IPv6) are usable if they match the control
    /// connection, anything else gets `522 Bad network protocol.`
    Proto(u32),
    /// Not a number nor ALL: `522 Bad network protocol.` (vsftpd's `atoi` reads junk as 0).
    Bad,
}

/// Parses the optional EPSV argument. Surrounding spaces are ignored; an empty argument is
/// the same as none.
pub fn parse_epsv(arg: Option<&[u8]>) -> EpsvArg {
    let arg = match arg.map(trim_spaces) {
        None | Some(b"") => return EpsvArg::Any,
        Some(a) => a,
    };
    if arg.eq_ignore_ascii_case(b"ALL") {
        return EpsvArg::All;
    }
    match parse_decimal(arg, 9) {
        Some(n) => EpsvArg::Proto(n),
        None => EpsvArg::Bad,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn huge_numbers_are_refused_not_wrapped() {
        // The fuzz regression: ten digits used to overflow (a panic in debug builds).
        assert_eq!(parse_eprt(b",9999999910,,"), Err(EprtError::BadProtocol));
        assert_eq!(
            parse_eprt(b"|9999999999|127.0.0.1|5000|"),
            Err(EprtError::BadProtocol)
        );
        // 2^32 + 1 must not wrap around to protocol 1.
        assert_eq!(
            parse_eprt(b"|4294967297|127.0.0.1|5000|"),
            Err(EprtError::BadProtocol)
        );
        assert_eq!(parse_decimal(b"4294967295", 10), Some(u32::MAX));
        assert_eq!(parse_decimal(b"4294967296", 10), None);
    }

    use super::*;

    fn v4(a: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(a), port)
    }

    #[test]
    fn port_valid() {
        assert_eq!(
            parse_port(b"127,0,0,1,200,10"),
            Some(v4([127, 0, 0, 1], 51210))
        );
        assert_eq!(
            parse_port(b"192,168,1,2,4,1"),
            Some(v4([192, 168, 1, 2], 1025))
        );
        assert_eq!(parse_port(b"0,0,0,0,0,1"), Some(v4([0, 0, 0, 0], 1)));
        assert_eq!(
            parse_port(b"255,255,255,255,255,255"),
            Some(v4([255; 4], 65535))
        );
        // Spaces around numbers, as vsftpd tolerates.
        assert_eq!(
            parse_port(b"127, 0, 0, 1, 200, 10"),
            Some(v4([127, 0, 0, 1], 51210))
        );
        assert_eq!(
            parse_port(b" 127,0,0,1,200,10 "),
            Some(v4([127, 0, 0, 1], 51210))
        );
        // Leading zeros are decimal, not octal.
        assert_eq!(
            parse_port(b"127,0,0,01,200,010"),
            Some(v4([127, 0, 0, 1], 51210))
        );
        assert_eq!(parse_port(b"010,0,0,1,0,21"), Some(v4([10, 0, 0, 1], 21)));
    }

    #[test]
    fn port_invalid() {
        for bad in [
            &b""[..],
            b"127,0,0,1,200",
            b"127,0,0,1,200,10,",
            b"127,0,0,1,200,10,5",
            b"127,0,0,1,,10",
            b",127,0,0,1,200",
            b"127,0,0,1,256,1",
            b"127,0,0,1,200,10x",
            b"127,0,0,1,+4,1",
            b"127,0,0,1,-4,1",
            b"127,0,0,1,0,0",
            b"127.0.0.1,200,10",
            b"127,0,0,1,0200,10",
            b"127,0,0,1,2 00,10",
            b"127,0,0,1,200,10\0",
            b"127,0,0,1,200,\t10",
            b"99999999999999999999,0,0,1,200,10",
            b",,,,,",
        ] {
            assert_eq!(parse_port(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn eprt_valid() {
        assert_eq!(
            parse_eprt(b"|1|132.235.1.2|6275|"),
            Ok("132.235.1.2:6275".parse().unwrap())
        );
        assert_eq!(
            parse_eprt(b"|2|::1|6275|"),
            Ok("[::1]:6275".parse().unwrap())
        );
        assert_eq!(
            parse_eprt(b"|2|1080::8:800:200C:417A|5282|"),
            Ok("[1080::8:800:200c:417a]:5282".parse().unwrap())
        );
        assert_eq!(
            parse_eprt(b"|2|::ffff:127.0.0.1|1025|"),
            Ok("[::ffff:127.0.0.1]:1025".parse().unwrap())
        );
        // Any delimiter 33..=126, used consistently.
        assert_eq!(
            parse_eprt(b"!1!127.0.0.1!51210!"),
            Ok("127.0.0.1:51210".parse().unwrap())
        );
        assert_eq!(
            parse_eprt(b"~1~127.0.0.1~1~"),
            Ok("127.0.0.1:1".parse().unwrap())
        );
        assert_eq!(
            parse_eprt(b"#2#::1#65535#"),
            Ok("[::1]:65535".parse().unwrap())
        );
        // Leading zeros, decimal.
        assert_eq!(
            parse_eprt(b"|01|127.000.0.1|51210|"),
            Ok("127.0.0.1:51210".parse().unwrap())
        );
    }

    #[test]
    fn eprt_bad_protocol() {
        for bad in [
            &b"|3|127.0.0.1|51210|"[..],
            b"|0|127.0.0.1|51210|",
            b"|x|127.0.0.1|51210|",
            b"||127.0.0.1|51210|",
            b"|-1|127.0.0.1|51210|",
            b"|99999999999|1|1|",
            b"|3|127.0.0.1|51210",
        ] {
            assert_eq!(
                parse_eprt(bad),
                Err(EprtError::BadProtocol),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn eprt_bad_command() {
        for bad in [
            &b""[..],
            b" |1|127.0.0.1|51210|",
            b"\x7f1\x7f127.0.0.1\x7f51210\x7f",
            b"|1|127.0.0.1|51210",
            b"|1|127.0.0.1|51210|x",
            b"|1|127.0.0.1|51210||",
            b"|1|127.0.0.1|0|",
            b"|1|127.0.0.1|65536|",
            b"|1|127.0.0.1|123456|",
            b"|1|127.0.0.1||",
            b"|1|127.0.0.1| 51210|",
            b"|1|127.0.0.1|51210x|",
            b"|1| 127.0.0.1|51210|",
            b"|1|127.0.0|51210|",
            b"|1|127.0.0.1.1|51210|",
            b"|1|127.0.0.256|51210|",
            b"|1|localhost|51210|",
            b"|1|::1|51210|",
            b"|2|127.0.0.1|51210|",
            b"|2|::1%eth0|51210|",
            b"|2|[::1]|51210|",
            b"|2|\xff::1|51210|",
            b"|1!127.0.0.1!51210!",
            b"|1|127.0.0.1!51210!",
        ] {
            assert_eq!(
                parse_eprt(bad),
                Err(EprtError::BadCommand),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [b"|2|".as_slice(), &b"0".repeat(5000), b"::1|1|"].concat();
        assert_eq!(parse_eprt(&long), Err(EprtError::BadCommand));
    }

    #[test]
    fn pasv_and_epsv_text() {
        assert_eq!(
            format_pasv(Ipv4Addr::new(127, 0, 0, 1), 42214),
            "Entering Passive Mode (127,0,0,1,164,230)."
        );
        assert_eq!(
            format_pasv(Ipv4Addr::new(127, 0, 0, 1), 40539),
            "Entering Passive Mode (127,0,0,1,158,91)."
        );
        assert_eq!(
            format_pasv(Ipv4Addr::new(0, 0, 0, 0), 0),
            "Entering Passive Mode (0,0,0,0,0,0)."
        );
        assert_eq!(
            format_epsv(6574),
            "Entering Extended Passive Mode (|||6574|)"
        );
        assert_eq!(
            format_epsv(65535),
            "Entering Extended Passive Mode (|||65535|)"
        );
    }

    #[test]
    fn pasv_round_trips_through_port() {
        for port in [1u16, 255, 256, 1024, 42214, 65535] {
            let text = format_pasv(Ipv4Addr::new(10, 1, 2, 3), port);
            let inner = &text[text.find('(').unwrap() + 1..text.find(')').unwrap()];
            assert_eq!(parse_port(inner.as_bytes()), Some(v4([10, 1, 2, 3], port)));
        }
    }

    #[test]
    fn epsv_argument() {
        assert_eq!(parse_epsv(None), EpsvArg::Any);
        assert_eq!(parse_epsv(Some(b"")), EpsvArg::Any);
        assert_eq!(parse_epsv(Some(b"  ")), EpsvArg::Any);
        assert_eq!(parse_epsv(Some(b"ALL")), EpsvArg::All);
        assert_eq!(parse_epsv(Some(b"all")), EpsvArg::All);
        assert_eq!(parse_epsv(Some(b" All ")), EpsvArg::All);
        assert_eq!(parse_epsv(Some(b"1")), EpsvArg::Proto(1));
        assert_eq!(parse_epsv(Some(b"2")), EpsvArg::Proto(2));
        assert_eq!(parse_epsv(Some(b"01")), EpsvArg::Proto(1));
        assert_eq!(parse_epsv(Some(b"7")), EpsvArg::Proto(7));
        assert_eq!(parse_epsv(Some(b"x")), EpsvArg::Bad);
        assert_eq!(parse_epsv(Some(b"1x")), EpsvArg::Bad);
        assert_eq!(parse_epsv(Some(b"-1")), EpsvArg::Bad);
        assert_eq!(parse_epsv(Some(b"ALLx")), EpsvArg::Bad);
        assert_eq!(parse_epsv(Some(b"9999999999999")), EpsvArg::Bad);
    }
}
