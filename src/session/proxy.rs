//! Reading a PROXY protocol header off a socket (proxy_protocol_enable=YES), and the rule for
//! which connections must carry one: those whose TCP peer is in proxy_trusted_addresses.
//!
//! Owns: the bytes of the header, exactly. The header is taken off the socket without
//! consuming a single byte past its end (peek, then read only bytes the parser has placed
//! inside the header), so FTP commands or upload data sent in the same segment stay for
//! the control reader or the transfer. The parser is the pure proto::proxy.
//! Trusts: nothing in the header beyond what its TCP peer being trusted allows; the read is
//! bounded in bytes (limits::PROXY_V1_MAX, PROXY_V2_MAX) and time (PROXY_HEADER_SECS).
//! Run by: the launched process (the control connection, before any fork: root under
//! inetd, as the monitor-to-be) and the post-login session (passive data connections).

use crate::config::Config;
use crate::limits::{PROXY_HEADER_SECS, PROXY_V1_MAX, PROXY_V2_MAX};
use crate::proto::proxy::{self, Header, Parsed};
use crate::sys;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Why no header could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed (or reset) the connection before sending a byte: a plain TCP
    /// health check.
    ClosedEarly,
    /// The peer closed the connection in the middle of the header.
    Truncated,
    /// No whole header within the time allowed.
    Timeout,
    /// The bytes are not a PROXY header (or an oversize one).
    Malformed(proxy::Error),
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::ClosedEarly => f.write_str("closed before sending a PROXY header"),
            ReadError::Truncated => f.write_str("closed in the middle of its PROXY header"),
            ReadError::Timeout => write!(
                f,
                "no whole PROXY header within {PROXY_HEADER_SECS} seconds"
            ),
            ReadError::Malformed(e) => write!(f, "bad PROXY header: {e}"),
            ReadError::Io(e) => write!(f, "reading its PROXY header: {e}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// How long a header may take.
pub fn header_timeout() -> Duration {
    Duration::from_secs(PROXY_HEADER_SECS)
}

/// Read one PROXY header (version 1 or 2) from the socket `fd`, leaving everything after it
/// unread. Bounded: at most PROXY_V2_MAX bytes are examined, every round consumes at least
/// one byte or ends, and the whole read ends by `timeout`.
pub fn read_header(fd: RawFd, timeout: Duration) -> Result<Header, ReadError> {
    let deadline = Instant::now() + timeout;
    let most = PROXY_V1_MAX.max(PROXY_V2_MAX);
    let mut got: Vec<u8> = Vec::with_capacity(64);
    let mut peeked = vec![0u8; most];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sys::io::poll_readable(&[fd], Some(left))? == sys::io::Ready::Timeout {
            return Err(ReadError::Timeout);
        }
        // Everything in `got` is consumed already and belongs to the header; look at what
        // follows without taking it.
        let room = most - got.len();
        let n = match sys::io::peek(fd, &mut peeked[..room]) {
            Ok(sys::io::Peek::Data(n)) => n,
            // A health check that connects and closes (HAProxy resets its plain TCP checks).
            Ok(sys::io::Peek::Eof) if got.is_empty() => return Err(ReadError::ClosedEarly),
            Err(e) if got.is_empty() && e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(ReadError::ClosedEarly)
            }
            Ok(sys::io::Peek::Eof) => return Err(ReadError::Truncated),
            Ok(sys::io::Peek::NotSocket) => {
                return Err(ReadError::Io(io::Error::other("not a socket")))
            }
            Err(e) => return Err(ReadError::Io(e)),
        };
        let mut all = got.clone();
        all.extend_from_slice(&peeked[..n]);
        match proxy::parse(&all).map_err(ReadError::Malformed)? {
            Parsed::Complete { header, len } => {
                consume(fd, len - got.len())?;
                return Ok(header);
            }
            // Every byte seen is part of the header (the parser says Incomplete only for a
            // proper prefix): take them all and wait for the rest.
            Parsed::Incomplete => {
                consume(fd, n)?;
                got = all;
            }
        }
    }
}

/// Read exactly `n` bytes that a peek has shown are waiting, and drop them.
fn consume(fd: RawFd, mut n: usize) -> Result<(), ReadError> {
    let mut buf = [0u8; 512];
    while n > 0 {
        let want = n.min(buf.len());
        match sys::io::read(fd, &mut buf[..want])? {
            0 => return Err(ReadError::Truncated),
            k => n -= k,
        }
    }
    Ok(())
}

/// Whether a connection from `peer` must start with a PROXY header: proxy_protocol_enable
/// and the peer in proxy_trusted_addresses.
pub fn expects_header(cfg: &Config, peer: SocketAddr) -> bool {
    cfg.proxy_protocol_enable && cfg.proxy_trusted().contains(peer.ip())
}

/// The client behind a passive data connection accepted from `from`. From a trusted
/// balancer (with proxy_protocol_enable) that is the client its PROXY header names, the
/// header being taken off the stream first whatever happens next; from anyone else, the TCP
/// peer itself. None: a trusted balancer sent no valid header (logged).
pub fn data_client(cfg: &Config, fd: RawFd, from: SocketAddr) -> Option<SocketAddr> {
    // SECURITY: a data connection from a trusted balancer is accepted only with a header
    // naming a client: every client of the balancer shares its address, so the address
    // alone would let any of them take over another's passive connection.
    if !expects_header(cfg, from) {
        return Some(from);
    }
    match read_header(fd, header_timeout()) {
        Ok(h) => Some(h.client(from)),
        Err(e) => {
            crate::log::warn(&format!(
                "refused a passive data connection from proxy {from}: {e} (does the balancer send a PROXY header on the passive ports too?)"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        c.set_nodelay(true).unwrap();
        (c, s)
    }

    fn rest(s: &mut TcpStream, n: usize) -> Vec<u8> {
        use std::io::Read;
        let mut b = vec![0u8; n];
        s.read_exact(&mut b).unwrap();
        b
    }

    #[test]
    fn reads_exactly_the_header_even_in_pieces() {
        let h = Header::Tcp {
            source: "203.0.113.7:4000".parse().unwrap(),
            destination: "192.0.2.1:21".parse().unwrap(),
        };
        for v2 in [false, true] {
            let hdr = if v2 {
                proxy::encode_v2(&h)
            } else {
                proxy::encode_v1(&h)
            };
            // Whole, with a command behind it in the same write.
            let (mut c, mut s) = pair();
            let mut b = hdr.clone();
            b.extend_from_slice(b"USER x\r\n");
            c.write_all(&b).unwrap();
            assert_eq!(read_header(s.as_raw_fd(), header_timeout()).unwrap(), h);
            assert_eq!(rest(&mut s, 8), b"USER x\r\n");
            // Split into three writes with pauses.
            let (mut c, mut s) = pair();
            let t = std::thread::spawn(move || {
                for part in [&hdr[..3], &hdr[3..14], &hdr[14..]] {
                    c.write_all(part).unwrap();
                    std::thread::sleep(Duration::from_millis(30));
                }
                c.write_all(b"NOOP\r\n").unwrap();
                c
            });
            assert_eq!(read_header(s.as_raw_fd(), header_timeout()).unwrap(), h);
            let _c = t.join().unwrap();
            assert_eq!(rest(&mut s, 6), b"NOOP\r\n");
        }
    }

    #[test]
    fn refuses_garbage_eof_and_silence() {
        let (mut c, s) = pair();
        c.write_all(b"USER anonymous\r\n").unwrap();
        assert!(matches!(
            read_header(s.as_raw_fd(), header_timeout()),
            Err(ReadError::Malformed(_))
        ));
        let (c, s) = pair();
        drop(c);
        assert!(matches!(
            read_header(s.as_raw_fd(), header_timeout()),
            Err(ReadError::ClosedEarly)
        ));
        let (mut c, s) = pair();
        c.write_all(b"PROXY TCP4 1.2").unwrap();
        drop(c);
        assert!(matches!(
            read_header(s.as_raw_fd(), header_timeout()),
            Err(ReadError::Truncated)
        ));
        let (mut c, s) = pair();
        c.write_all(b"PROXY TCP4 1.2").unwrap();
        assert!(matches!(
            read_header(s.as_raw_fd(), Duration::from_millis(100)),
            Err(ReadError::Timeout)
        ));
        drop(c);
    }
}
