//! The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): parsing the header a
//! load balancer puts in front of a connection to say who the real client is, and the
//! `proxy_trusted_addresses` list of balancers allowed to say it.
//!
//! Owns: the syntax of both header versions and of the address list, nothing else. Whether
//! a connection may carry a header (its TCP peer must be trusted) and what happens to one
//! that does not parse is the caller's policy (session::proxy, session::entry).
//! Trusts: nothing. The bytes come from the network; even a trusted balancer's header is
//! checked field by field, bounded by limits::PROXY_V1_MAX and limits::PROXY_V2_MAX.
//! Run by: the launched process before any fork (the control connection's header, read by
//! the future monitor, as root) and the post-login session (passive data connections).
//!
//! `parse` is incremental: given the bytes received so far it says `Incomplete` only when
//! they are a proper prefix of a header that could still be valid, so a reader may consume
//! every byte of an incomplete buffer without ever taking a byte past the header's end.

use crate::limits::{PROXY_V1_MAX, PROXY_V2_MAX};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The 12-byte signature that starts every version 2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Length of a version 2 header before its address block: signature, version and
/// command, family and transport, length.
pub const V2_FIXED: usize = 16;

/// What a header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Version 2 LOCAL: the balancer's own connection (a health check). The connection's
    /// real endpoints apply.
    Local,
    /// Version 1 `UNKNOWN`, or version 2 PROXY with an unspecified or UNIX-socket family:
    /// the balancer does not know an internet address for the client. The connection's
    /// real endpoints apply.
    Unknown,
    /// A TCP connection from `source` (the real client) to `destination` (the address the
    /// client connected to, on the balancer).
    Tcp {
        source: SocketAddr,
        destination: SocketAddr,
    },
}

impl Header {
    /// The client's address: the header's source, or `peer` (the TCP peer) when the
    /// header names none. IPv4-mapped IPv6 addresses come back as IPv4.
    pub fn client(&self, peer: SocketAddr) -> SocketAddr {
        match self {
            Header::Tcp { source, .. } => {
                SocketAddr::new(source.ip().to_canonical(), source.port())
            }
            Header::Local | Header::Unknown => peer,
        }
    }
}

/// The outcome of parsing the bytes received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A prefix of a header that may still be valid: more bytes are needed, and every byte
    /// given belongs to the header.
    Incomplete,
    /// A whole header, `len` bytes long; what follows it is the connection's own data.
    Complete { header: Header, len: usize },
}

/// Why bytes are not a PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error(pub &'static str);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Parse a version 1 or version 2 header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Parsed, Error> {
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Err(Error("not a PROXY protocol header")),
    }
}

const V1_PREFIX: &[u8] = b"PROXY ";

fn parse_v1(buf: &[u8]) -> Result<Parsed, Error> {
    let n = buf.len().min(V1_PREFIX.len());
    if buf[..n] != V1_PREFIX[..n] {
        return Err(Error("not a PROXY protocol header"));
    }
    let window = &buf[..buf.len().min(PROXY_V1_MAX)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if window.len() == PROXY_V1_MAX {
            return Err(Error("version 1 header longer than 107 bytes"));
        }
        // Only printable ASCII and the final CR belong in a line; refuse early what cannot.
        if window
            .iter()
            .any(|&b| !(b == b'\r' || (b' '..=b'~').contains(&b)))
        {
            return Err(Error(
                "version 1 header with a byte that is not printable ASCII",
            ));
        }
        return Ok(Parsed::Incomplete);
    };
    let line = &window[..lf];
    let Some(body) = line.strip_suffix(b"\r") else {
        return Err(Error("version 1 header not ended by CRLF"));
    };
    let body = body
        .get(V1_PREFIX.len()..)
        .ok_or(Error("version 1 header not ended by CRLF"))?;
    if body.iter().any(|&b| !(b' '..=b'~').contains(&b)) {
        return Err(Error(
            "version 1 header with a byte that is not printable ASCII",
        ));
    }
    // Printable ASCII, so valid UTF-8.
    let body = std::str::from_utf8(body).map_err(|_| Error("version 1 header not ASCII"))?;
    let mut fields = body.split(' ');
    let header = match fields.next() {
        // The sender does not know the addresses; the rest of the line is to be ignored.
        Some("UNKNOWN") => Header::Unknown,
        Some(proto @ ("TCP4" | "TCP6")) => {
            let f: Vec<&str> = fields.collect();
            let [src, dst, sport, dport] = f[..] else {
                return Err(Error(
                    "version 1 header without exactly two addresses and two ports",
                ));
            };
            let (src, dst) = if proto == "TCP4" {
                (
                    IpAddr::V4(v1_ip::<Ipv4Addr>(src)?),
                    IpAddr::V4(v1_ip::<Ipv4Addr>(dst)?),
                )
            } else {
                (
                    IpAddr::V6(v1_ip::<Ipv6Addr>(src)?),
                    IpAddr::V6(v1_ip::<Ipv6Addr>(dst)?),
                )
            };
            Header::Tcp {
                source: SocketAddr::new(src, v1_port(sport)?),
                destination: SocketAddr::new(dst, v1_port(dport)?),
            }
        }
        _ => return Err(Error("version 1 header with an unknown protocol")),
    };
    Ok(Parsed::Complete {
        header,
        len: lf + 1,
    })
}

fn v1_ip<T: std::str::FromStr>(s: &str) -> Result<T, Error> {
    s.parse()
        .map_err(|_| Error("version 1 header with an address that is not of its protocol"))
}

/// A port: 1 to 5 decimal digits, 0-65535.
fn v1_port(s: &str) -> Result<u16, Error> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error("version 1 header with a malformed port"));
    }
    s.parse()
        .map_err(|_| Error("version 1 header with a port over 65535"))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, Error> {
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] != V2_SIGNATURE[..n] {
        return Err(Error("not a PROXY protocol header"));
    }
    if buf.len() < V2_FIXED {
        return Ok(Parsed::Incomplete);
    }
    let (ver, cmd) = (buf[12] >> 4, buf[12] & 0x0f);
    if ver != 2 {
        return Err(Error("version 2 signature with another version number"));
    }
    let fam = buf[13];
    let body_len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let len = V2_FIXED + body_len;
    if len > PROXY_V2_MAX {
        return Err(Error("version 2 header longer than limits::PROXY_V2_MAX"));
    }
    // Checked before the body arrives, so a bad header is refused as early as possible.
    let need = match (cmd, fam) {
        // LOCAL: the family and the addresses are to be ignored.
        (0, _) => 0,
        (1, 0x00 | 0x31) => 0,
        (1, 0x11) => 12,
        (1, 0x21) => 36,
        (1, 0x12 | 0x22 | 0x32) => {
            return Err(Error(
                "version 2 header for a datagram transport on a TCP connection",
            ))
        }
        (1, _) => return Err(Error("version 2 header with an unknown address family")),
        _ => return Err(Error("version 2 header with an unknown command")),
    };
    if body_len < need {
        return Err(Error("version 2 header too short for its address family"));
    }
    if buf.len() < len {
        return Ok(Parsed::Incomplete);
    }
    let a = &buf[V2_FIXED..len];
    let header = match (cmd, fam) {
        (0, _) => Header::Local,
        (_, 0x11) => {
            let ip = |i: usize| Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]);
            let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
            Header::Tcp {
                source: SocketAddr::V4(SocketAddrV4::new(ip(0), port(8))),
                destination: SocketAddr::V4(SocketAddrV4::new(ip(4), port(10))),
            }
        }
        (_, 0x21) => {
            let ip = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&a[i..i + 16]);
                Ipv6Addr::from(o)
            };
            let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
            Header::Tcp {
                source: SocketAddr::V6(SocketAddrV6::new(ip(0), port(32), 0, 0)),
                destination: SocketAddr::V6(SocketAddrV6::new(ip(16), port(34), 0, 0)),
            }
        }
        // UNSPEC and UNIX: no internet address for the client. TLVs after the address
        // block (AWS, Azure and GCP add some) are skipped: rsftpd uses none of them.
        _ => Header::Unknown,
    };
    Ok(Parsed::Complete { header, len })
}

/// A version 1 header for `h` (tests and the fuzz target; rsftpd never sends one).
pub fn encode_v1(h: &Header) -> Vec<u8> {
    match h {
        Header::Tcp {
            source,
            destination,
        } => {
            let proto = if source.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {proto} {} {} {} {}\r\n",
                source.ip(),
                destination.ip(),
                source.port(),
                destination.port()
            )
            .into_bytes()
        }
        Header::Local | Header::Unknown => b"PROXY UNKNOWN\r\n".to_vec(),
    }
}

/// A version 2 header for `h` (tests and the fuzz target; rsftpd never sends one).
/// `Tcp` needs both addresses of one family.
pub fn encode_v2(h: &Header) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    let mut body = Vec::new();
    let (cmd, fam) = match h {
        Header::Local => (0x20, 0x00),
        Header::Unknown => (0x21, 0x00),
        Header::Tcp {
            source,
            destination,
        } => {
            match (source.ip(), destination.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    body.extend_from_slice(&s.octets());
                    body.extend_from_slice(&d.octets());
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    body.extend_from_slice(&s.octets());
                    body.extend_from_slice(&d.octets());
                }
                _ => panic!("encode_v2: addresses of two families"),
            }
            body.extend_from_slice(&source.port().to_be_bytes());
            body.extend_from_slice(&destination.port().to_be_bytes());
            (0x21, if source.is_ipv4() { 0x11 } else { 0x21 })
        }
    };
    out.push(cmd);
    out.push(fam);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// One entry of proxy_trusted_addresses: an address, or a network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// proxy_trusted_addresses: the balancers whose PROXY headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trusted(Vec<Net>);

impl Trusted {
    /// Parse a list of IPv4 or IPv6 addresses and CIDR networks (`192.0.2.10`,
    /// `10.0.0.0/8`, `2001:db8::/32`) separated by commas and/or spaces. A network with
    /// bits set past its prefix length is refused, since it is probably a typo.
    pub fn parse(s: &str) -> Result<Trusted, String> {
        let mut v = Vec::new();
        for item in s
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|i| !i.is_empty())
        {
            let (a, p) = match item.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (item, None),
            };
            let addr: IpAddr = a
                .parse()
                .map_err(|_| format!("'{item}' is not an IP address or CIDR network"))?;
            let addr = addr.to_canonical();
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match p {
                None => max,
                Some(p) => match p.parse::<u8>() {
                    Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
                    _ => {
                        return Err(format!(
                            "'{item}' has a prefix length that is not a number from 0 to {max}"
                        ))
                    }
                },
            };
            let net = Net { addr, prefix };
            let exact = Net { addr, prefix: max };
            let network = Net {
                addr: match addr {
                    IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(
                        u32::from(a) & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0),
                    )),
                    IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(
                        u128::from(a) & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0),
                    )),
                },
                prefix,
            };
            if network.addr != exact.addr {
                return Err(format!(
                    "'{item}' has bits set past its prefix length (did you mean {network}?)"
                ));
            }
            v.push(net);
        }
        Ok(Trusted(v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as IPv4) is a trusted balancer.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn tcp(src: &str, dst: &str) -> Header {
        Header::Tcp {
            source: sa(src),
            destination: sa(dst),
        }
    }

    fn complete(buf: &[u8]) -> (Header, usize) {
        match parse(buf) {
            Ok(Parsed::Complete { header, len }) => (header, len),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn refused(buf: &[u8]) -> &'static str {
        match parse(buf) {
            Err(Error(why)) => why,
            other => panic!("{:?} accepted: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn v1_tcp4_and_tcp6_with_what_follows_left_alone() {
        let mut b = b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 21\r\n".to_vec();
        let hlen = b.len();
        b.extend_from_slice(b"USER anonymous\r\n");
        assert_eq!(
            complete(&b),
            (tcp("203.0.113.7:56324", "192.0.2.1:21"), hlen)
        );
        let b = b"PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n";
        assert_eq!(
            complete(b),
            (tcp("[2001:db8::7]:65535", "[2001:db8::1]:0"), b.len())
        );
        // The client address, mapped IPv6 unmapped.
        let (h, _) = complete(b"PROXY TCP6 ::ffff:203.0.113.7 ::1 1 2\r\n");
        assert_eq!(h.client(sa("127.0.0.1:1")), sa("203.0.113.7:1"));
    }

    #[test]
    fn v1_unknown_uses_the_real_peer() {
        for b in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
        ] {
            let (h, len) = complete(b);
            assert_eq!((h, len), (Header::Unknown, b.len()));
            assert_eq!(h.client(sa("192.0.2.9:7")), sa("192.0.2.9:7"));
        }
    }

    #[test]
    fn v1_incomplete_only_for_a_valid_prefix() {
        let full = b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 21\r\n";
        for n in 0..full.len() {
            assert_eq!(parse(&full[..n]), Ok(Parsed::Incomplete), "{n} bytes");
        }
        assert_eq!(refused(b"PROXX"), "not a PROXY protocol header");
        assert_eq!(refused(b"USER x\r\n"), "not a PROXY protocol header");
        assert_eq!(
            refused(b"PROXY TCP4 1.2.3.4\x00"),
            "version 1 header with a byte that is not printable ASCII"
        );
    }

    #[test]
    fn v1_malformed_lines_are_refused() {
        let bad: &[(&[u8], &str)] = &[
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
                "version 1 header not ended by CRLF",
            ),
            (b"PROXY\r\n", "not a PROXY protocol header"),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
                "version 1 header without exactly two addresses and two ports",
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
                "version 1 header without exactly two addresses and two ports",
            ),
            (
                b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
                "version 1 header without exactly two addresses and two ports",
            ),
            (
                b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
                "version 1 header with an address that is not of its protocol",
            ),
            (
                b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
                "version 1 header with an address that is not of its protocol",
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
                "version 1 header with a port over 65535",
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
                "version 1 header with a malformed port",
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 123456 2\r\n",
                "version 1 header with a malformed port",
            ),
            (
                b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
                "version 1 header with an unknown protocol",
            ),
            (
                b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
                "version 1 header with an unknown protocol",
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
                "version 1 header with a byte that is not printable ASCII",
            ),
        ];
        for (b, why) in bad {
            assert_eq!(refused(b), *why, "{:?}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn v1_length_bound_is_107_bytes_with_the_crlf() {
        // The specification's worst case: 107 bytes with CRLF.
        let ff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let longest = format!("PROXY UNKNOWN {ff} {ff} 65535 65535\r\n");
        assert_eq!(longest.len(), PROXY_V1_MAX);
        assert_eq!(complete(longest.as_bytes()), (Header::Unknown, 107));
        let tcp6 = format!("PROXY TCP6 {ff} {ff} 65535 65535\r\n");
        assert_eq!(complete(tcp6.as_bytes()).1, 104);
        let mut long = b"PROXY UNKNOWN ".to_vec();
        long.resize(PROXY_V1_MAX - 2, b'x');
        long.extend_from_slice(b"\r\n");
        assert_eq!(complete(&long).1, PROXY_V1_MAX);
        let mut over = b"PROXY UNKNOWN ".to_vec();
        over.resize(PROXY_V1_MAX, b'x');
        assert_eq!(refused(&over), "version 1 header longer than 107 bytes");
        over.extend_from_slice(b"\r\n");
        assert_eq!(refused(&over), "version 1 header longer than 107 bytes");
    }

    #[test]
    fn v2_inet_and_inet6_with_what_follows_left_alone() {
        let h = tcp("203.0.113.7:56324", "192.0.2.1:21");
        let mut b = encode_v2(&h);
        assert_eq!(b.len(), 28);
        b.extend_from_slice(b"USER anonymous\r\n");
        assert_eq!(complete(&b), (h, 28));
        let h6 = tcp("[2001:db8::7]:1", "[2001:db8::1]:21");
        let b = encode_v2(&h6);
        assert_eq!(complete(&b), (h6, 52));
        // Byte for byte as the specification lays it out.
        let spec: &[u8] = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\
            \xcb\x00\x71\x07\xc0\x00\x02\x01\xdc\x04\x00\x15";
        assert_eq!(complete(spec), (h, 28));
    }

    #[test]
    fn v2_local_unspec_unix_and_tlvs() {
        let local = encode_v2(&Header::Local);
        assert_eq!(complete(&local), (Header::Local, 16));
        assert_eq!(
            Header::Local.client(sa("10.0.0.5:9")),
            sa("10.0.0.5:9"),
            "LOCAL: the real TCP peer"
        );
        // LOCAL with a family and addresses: they are ignored.
        let mut b = encode_v2(&tcp("1.2.3.4:1", "5.6.7.8:2"));
        b[12] = 0x20;
        assert_eq!(complete(&b), (Header::Local, 28));
        assert_eq!(complete(&encode_v2(&Header::Unknown)).0, Header::Unknown);
        // UNIX stream: 216 bytes of paths; no internet address.
        let mut b = V2_SIGNATURE.to_vec();
        b.extend_from_slice(&[0x21, 0x31, 0x00, 216]);
        b.resize(16 + 216, 0);
        assert_eq!(complete(&b), (Header::Unknown, 232));
        // TLVs after the addresses are skipped.
        let h = tcp("203.0.113.7:1", "192.0.2.1:21");
        let mut b = encode_v2(&h);
        let tlv = [0xea, 0x00, 0x04, b'v', b'p', b'c', b'e'];
        b[15] += tlv.len() as u8;
        b.extend_from_slice(&tlv);
        b.extend_from_slice(b"NOOP\r\n");
        assert_eq!(complete(&b), (h, 28 + 7));
    }

    #[test]
    fn v2_incomplete_only_for_a_valid_prefix() {
        let full = encode_v2(&tcp("[2001:db8::7]:1", "[2001:db8::1]:21"));
        for n in 0..full.len() {
            assert_eq!(parse(&full[..n]), Ok(Parsed::Incomplete), "{n} bytes");
        }
        assert_eq!(
            refused(b"\r\n\r\n\0\r\nQUIX"),
            "not a PROXY protocol header"
        );
        assert_eq!(refused(b"\r\nUSER"), "not a PROXY protocol header");
    }

    #[test]
    fn v2_malformed_and_oversize_headers_are_refused() {
        let base = encode_v2(&tcp("1.2.3.4:1", "5.6.7.8:2"));
        let with = |i: usize, v: u8| {
            let mut b = base.clone();
            b[i] = v;
            b
        };
        assert_eq!(
            refused(&with(12, 0x11)),
            "version 2 signature with another version number"
        );
        assert_eq!(
            refused(&with(12, 0x22)),
            "version 2 header with an unknown command"
        );
        assert_eq!(
            refused(&with(13, 0x12)),
            "version 2 header for a datagram transport on a TCP connection"
        );
        assert_eq!(
            refused(&with(13, 0x41)),
            "version 2 header with an unknown address family"
        );
        assert_eq!(
            refused(&with(13, 0x10)),
            "version 2 header with an unknown address family"
        );
        // INET6 in a 12-byte block; INET in fewer than 12 bytes. Refused at 16 bytes.
        assert_eq!(
            refused(&with(13, 0x21)[..16]),
            "version 2 header too short for its address family"
        );
        assert_eq!(
            refused(&with(15, 11)[..16]),
            "version 2 header too short for its address family"
        );
        // Oversize: refused as soon as the length field is in, before the body.
        let mut big = base[..14].to_vec();
        let n = (PROXY_V2_MAX - V2_FIXED + 1) as u16;
        big.extend_from_slice(&n.to_be_bytes());
        assert_eq!(
            refused(&big),
            "version 2 header longer than limits::PROXY_V2_MAX"
        );
        let mut max = big.clone();
        max[14..16].copy_from_slice(&((PROXY_V2_MAX - V2_FIXED) as u16).to_be_bytes());
        assert_eq!(parse(&max), Ok(Parsed::Incomplete));
        max.resize(PROXY_V2_MAX, 0);
        assert_eq!(complete(&max).1, PROXY_V2_MAX);
    }

    #[test]
    fn encodings_round_trip() {
        for h in [
            tcp("203.0.113.7:56324", "192.0.2.1:21"),
            tcp("[2001:db8::7]:1", "[::1]:21"),
        ] {
            assert_eq!(complete(&encode_v1(&h)).0, h);
            assert_eq!(complete(&encode_v2(&h)).0, h);
        }
    }

    #[test]
    fn trusted_lists() {
        let t = Trusted::parse("127.0.0.1, 10.0.0.0/8 2001:db8::/32,,192.0.2.128/25").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for yes in [
            "127.0.0.1",
            "10.255.1.2",
            "2001:db8::1",
            "192.0.2.200",
            "::ffff:10.1.1.1",
        ] {
            assert!(t.contains(ip(yes)), "{yes}");
        }
        for no in ["127.0.0.2", "11.0.0.1", "2001:db9::1", "192.0.2.1", "::1"] {
            assert!(!t.contains(ip(no)), "{no}");
        }
        let all = Trusted::parse("0.0.0.0/0 ::/0").unwrap();
        assert!(all.contains(ip("198.51.100.1")) && all.contains(ip("fe80::1")));
        assert!(Trusted::parse(" , ").unwrap().is_empty());
        assert!(Trusted::parse("::ffff:127.0.0.1")
            .unwrap()
            .contains(ip("127.0.0.1")));
        for (bad, why) in [
            (
                "lb.example.com",
                "'lb.example.com' is not an IP address or CIDR network",
            ),
            (
                "10.0.0.1/8",
                "'10.0.0.1/8' has bits set past its prefix length (did you mean 10.0.0.0/8?)",
            ),
            (
                "10.0.0.0/33",
                "'10.0.0.0/33' has a prefix length that is not a number from 0 to 32",
            ),
            (
                "::/+1",
                "'::/+1' has a prefix length that is not a number from 0 to 128",
            ),
            (
                "1.2.3.4;5.6.7.8",
                "'1.2.3.4;5.6.7.8' is not an IP address or CIDR network",
            ),
        ] {
            assert_eq!(Trusted::parse(bad), Err(why.to_string()), "{bad}");
        }
    }
}
