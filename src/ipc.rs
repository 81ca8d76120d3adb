//! Typed requests and replies between the monitor and a session, one enum per phase, with a
//! bounded decoder. The monitor decodes only the current phase's requests and treats a
//! malformed one as the end of the session (DESIGN.md habit 3).
//!
//! Wire form: one SEQPACKET message per value: a tag byte, then fields; byte strings are a
//! u16 length (big endian) and the bytes. Every message is at most limits::IPC_MSG_MAX.

use crate::limits;
use crate::sys::fdpass;
use std::io;
use std::net::IpAddr;
use std::os::fd::{OwnedFd, RawFd};

/// A secret (a password): wiped when dropped, never printed.
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(v: Vec<u8>) -> Self {
        Secret(v)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SECURITY: wipe the password; black_box keeps the stores from being elided.
            wipe(b);
        }
    }
}

#[inline(never)]
fn wipe(b: &mut u8) {
    *b = 0;
    std::hint::black_box(b);
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Pre-login session -> monitor.
#[derive(Debug)]
pub enum PreloginRequest {
    /// USER and PASS as the client sent them (both bounded).
    /// `private`: the client asked for PROT P before logging in (FTPS), which the
    /// post-login session keeps.
    Login {
        user: Vec<u8>,
        pass: Secret,
        private: bool,
    },
    /// USER, when userlist_enable=YES: may this name go on to PASS? (The pre-login process
    /// cannot read the list: it is in an empty jail.) Answered with a LoginReply: Ok means
    /// "ask for the password", not "logged in".
    CheckUser { user: Vec<u8> },
    /// HOST (RFC 7151), before USER: select this virtual host's configuration. `name` is
    /// the canonical form (proto::host), which the monitor checks again. Answered with a
    /// HostReply.
    Host { name: Vec<u8> },
    /// REIN: end this process and start over with a fresh pre-login one. Answered with a
    /// Status (Failed: too many REIN on this connection).
    Rein,
}

/// Monitor -> pre-login session: the answer to PreloginRequest::Host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostReply {
    /// The host's file was applied. What the pre-login process needs of it: whether USER
    /// may start an anonymous or a local login, and the 220 text (the host's ftpd_banner).
    Accepted {
        anonymous_enable: bool,
        local_enable: bool,
        banner: Option<Vec<u8>>,
    },
    /// No such host, or its file was refused (logged): 504, nothing changes.
    Unknown,
}

/// Monitor -> pre-login session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReply {
    /// Logged in: the pre-login process must exit now; the monitor starts the post-login one.
    Ok,
    /// Refused: answer 530 and go on.
    Fail,
    /// Refused, and that was one failure too many: answer 530 and close.
    FailClose,
}

/// Post-login session -> monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostloginRequest {
    /// Connect to the client from ftp_data_port for an active-mode transfer. `addr` is
    /// honoured only with port_promiscuous=YES; otherwise the monitor uses the control peer.
    DataConnect { port: u16, addr: Option<IpAddr> },
    /// chown_uploads: give the anonymous upload whose descriptor comes with this message to
    /// chown_username, with chown_upload_mode. The monitor checks the descriptor first.
    ChownUpload,
    /// REIN: the session ends and a fresh pre-login process takes the connection. Answered
    /// with a Status (Failed: too many REIN on this connection).
    Rein,
}

/// Monitor -> post-login session: the result of a request without a descriptor to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Failed(i32),
}

/// Monitor -> post-login session.
#[derive(Debug)]
pub enum DataReply {
    Connected(OwnedFd),
    Failed(i32),
}

struct Enc(Vec<u8>);

impl Enc {
    fn new(tag: u8) -> Self {
        Enc(vec![tag])
    }
    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        if b.len() > u16::MAX as usize {
            return Err(bad("field too long"));
        }
        self.0.extend_from_slice(&(b.len() as u16).to_be_bytes());
        self.0.extend_from_slice(b);
        Ok(())
    }
    fn finish(self) -> io::Result<Vec<u8>> {
        if self.0.len() > limits::IPC_MSG_MAX {
            return Err(bad("message too long"));
        }
        Ok(self.0)
    }
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn bytes(&mut self, max: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < 2 {
            return Err(bad("truncated"));
        }
        let n = u16::from_be_bytes([self.0[0], self.0[1]]) as usize;
        if n > max || self.0.len() < 2 + n {
            return Err(bad("field length"));
        }
        let v = &self.0[2..2 + n];
        self.0 = &self.0[2 + n..];
        Ok(v)
    }
    fn end(&self) -> io::Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(bad("trailing bytes"))
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed IPC message: {what}"),
    )
}

const T_LOGIN: u8 = 1;
const T_LOGIN_OK: u8 = 2;
const T_LOGIN_FAIL: u8 = 3;
const T_LOGIN_FAIL_CLOSE: u8 = 4;
const T_DATA_CONNECT: u8 = 5;
const T_DATA_OK: u8 = 6;
const T_DATA_FAIL: u8 = 7;
const T_CHECK_USER: u8 = 8;
const T_CHOWN: u8 = 9;
const T_STATUS_OK: u8 = 10;
const T_STATUS_FAIL: u8 = 11;
const T_HOST: u8 = 12;
const T_REIN: u8 = 13;
const T_HOST_OK: u8 = 14;
const T_HOST_UNKNOWN: u8 = 15;

impl PreloginRequest {
    pub fn encode(&self) -> io::Result<Vec<u8>> {
        match self {
            PreloginRequest::Login {
                user,
                pass,
                private,
            } => {
                let mut e = Enc::new(T_LOGIN);
                e.bytes(user)?;
                e.bytes(pass.expose())?;
                e.bytes(&[u8::from(*private)])?;
                e.finish()
            }
            PreloginRequest::CheckUser { user } => {
                let mut e = Enc::new(T_CHECK_USER);
                e.bytes(user)?;
                e.finish()
            }
            PreloginRequest::Host { name } => {
                let mut e = Enc::new(T_HOST);
                e.bytes(name)?;
                e.finish()
            }
            PreloginRequest::Rein => Enc::new(T_REIN).finish(),
        }
    }
    pub fn decode(m: &[u8]) -> io::Result<Self> {
        let (&tag, rest) = m.split_first().ok_or_else(|| bad("empty"))?;
        let mut d = Dec(rest);
        match tag {
            T_LOGIN => {
                let user = d.bytes(limits::USER_MAX)?.to_vec();
                let pass = Secret::new(d.bytes(limits::PASS_MAX)?.to_vec());
                let private = match d.bytes(1)? {
                    [0] => false,
                    [1] => true,
                    _ => return Err(bad("PROT flag")),
                };
                d.end()?;
                Ok(PreloginRequest::Login {
                    user,
                    pass,
                    private,
                })
            }
            T_CHECK_USER => {
                let user = d.bytes(limits::USER_MAX)?.to_vec();
                d.end()?;
                Ok(PreloginRequest::CheckUser { user })
            }
            T_HOST => {
                let name = d.bytes(limits::HOST_NAME_MAX)?.to_vec();
                d.end()?;
                Ok(PreloginRequest::Host { name })
            }
            T_REIN => {
                d.end()?;
                Ok(PreloginRequest::Rein)
            }
            _ => Err(bad("unexpected request in the pre-login phase")),
        }
    }
}

impl LoginReply {
    pub fn encode(self) -> Vec<u8> {
        vec![match self {
            LoginReply::Ok => T_LOGIN_OK,
            LoginReply::Fail => T_LOGIN_FAIL,
            LoginReply::FailClose => T_LOGIN_FAIL_CLOSE,
        }]
    }
    pub fn decode(m: &[u8]) -> io::Result<Self> {
        match m {
            [T_LOGIN_OK] => Ok(LoginReply::Ok),
            [T_LOGIN_FAIL] => Ok(LoginReply::Fail),
            [T_LOGIN_FAIL_CLOSE] => Ok(LoginReply::FailClose),
            _ => Err(bad("bad login reply")),
        }
    }
}

impl HostReply {
    pub fn encode(&self) -> io::Result<Vec<u8>> {
        match self {
            HostReply::Accepted {
                anonymous_enable,
                local_enable,
                banner,
            } => {
                let mut e = Enc::new(T_HOST_OK);
                e.bytes(&[u8::from(*anonymous_enable), u8::from(*local_enable)])?;
                match banner {
                    // A banner is never empty (config strings are unset instead), so an
                    // empty field means none.
                    None => e.bytes(b"")?,
                    Some(b) => e.bytes(b)?,
                }
                e.finish()
            }
            HostReply::Unknown => Enc::new(T_HOST_UNKNOWN).finish(),
        }
    }
    pub fn decode(m: &[u8]) -> io::Result<Self> {
        let (&tag, rest) = m.split_first().ok_or_else(|| bad("empty"))?;
        let mut d = Dec(rest);
        match tag {
            T_HOST_OK => {
                let (anonymous_enable, local_enable) = match d.bytes(2)? {
                    [a @ (0 | 1), l @ (0 | 1)] => (*a == 1, *l == 1),
                    _ => return Err(bad("host flags")),
                };
                let b = d.bytes(limits::HOST_BANNER_MAX)?;
                d.end()?;
                Ok(HostReply::Accepted {
                    anonymous_enable,
                    local_enable,
                    banner: (!b.is_empty()).then(|| b.to_vec()),
                })
            }
            T_HOST_UNKNOWN if rest.is_empty() => Ok(HostReply::Unknown),
            _ => Err(bad("bad host reply")),
        }
    }
}

impl PostloginRequest {
    pub fn encode(&self) -> io::Result<Vec<u8>> {
        match self {
            PostloginRequest::DataConnect { port, addr } => {
                let mut e = Enc::new(T_DATA_CONNECT);
                e.0.extend_from_slice(&port.to_be_bytes());
                match addr {
                    None => e.bytes(b"")?,
                    Some(a) => e.bytes(a.to_string().as_bytes())?,
                }
                e.finish()
            }
            PostloginRequest::ChownUpload => Enc::new(T_CHOWN).finish(),
            PostloginRequest::Rein => Enc::new(T_REIN).finish(),
        }
    }
    pub fn decode(m: &[u8]) -> io::Result<Self> {
        let (&tag, rest) = m.split_first().ok_or_else(|| bad("empty"))?;
        match tag {
            T_DATA_CONNECT => {
                if rest.len() < 2 {
                    return Err(bad("truncated"));
                }
                let port = u16::from_be_bytes([rest[0], rest[1]]);
                let mut d = Dec(&rest[2..]);
                let a = d.bytes(64)?;
                d.end()?;
                let addr = if a.is_empty() {
                    None
                } else {
                    let s = std::str::from_utf8(a).map_err(|_| bad("address"))?;
                    Some(s.parse().map_err(|_| bad("address"))?)
                };
                Ok(PostloginRequest::DataConnect { port, addr })
            }
            T_CHOWN if rest.is_empty() => Ok(PostloginRequest::ChownUpload),
            T_REIN if rest.is_empty() => Ok(PostloginRequest::Rein),
            _ => Err(bad("unexpected request in the post-login phase")),
        }
    }
}

/// Send a message on the IPC socket, optionally with a descriptor.
pub fn send(sock: RawFd, msg: &[u8], fd: Option<RawFd>) -> io::Result<()> {
    fdpass::send(sock, msg, fd)
}

/// Receive one message; Ok(None) when the other side closed.
pub fn recv(sock: RawFd) -> io::Result<Option<(Vec<u8>, Option<OwnedFd>)>> {
    let mut buf = vec![0u8; limits::IPC_MSG_MAX];
    let (n, fd) = fdpass::recv(sock, &mut buf)?;
    if n == 0 && fd.is_none() {
        return Ok(None);
    }
    buf.truncate(n);
    Ok(Some((buf, fd)))
}

impl DataReply {
    pub fn send(self, sock: RawFd) -> io::Result<()> {
        match self {
            DataReply::Connected(fd) => send(
                sock,
                &[T_DATA_OK],
                Some(std::os::fd::AsRawFd::as_raw_fd(&fd)),
            ),
            DataReply::Failed(errno) => {
                let mut m = vec![T_DATA_FAIL];
                m.extend_from_slice(&errno.to_be_bytes());
                send(sock, &m, None)
            }
        }
    }
    pub fn recv(sock: RawFd) -> io::Result<Self> {
        match recv(sock)? {
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "monitor went away",
            )),
            Some((m, fd)) => match (m.as_slice(), fd) {
                ([T_DATA_OK], Some(fd)) => Ok(DataReply::Connected(fd)),
                ([T_DATA_FAIL, a, b, c, d], None) => {
                    Ok(DataReply::Failed(i32::from_be_bytes([*a, *b, *c, *d])))
                }
                _ => Err(bad("bad data reply")),
            },
        }
    }
}

impl Status {
    pub fn send(self, sock: RawFd) -> io::Result<()> {
        match self {
            Status::Ok => send(sock, &[T_STATUS_OK], None),
            Status::Failed(errno) => {
                let mut m = vec![T_STATUS_FAIL];
                m.extend_from_slice(&errno.to_be_bytes());
                send(sock, &m, None)
            }
        }
    }
    pub fn recv(sock: RawFd) -> io::Result<Self> {
        match recv(sock)? {
            Some((m, None)) => match m.as_slice() {
                [T_STATUS_OK] => Ok(Status::Ok),
                [T_STATUS_FAIL, a, b, c, d] => {
                    Ok(Status::Failed(i32::from_be_bytes([*a, *b, *c, *d])))
                }
                _ => Err(bad("bad status reply")),
            },
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "monitor went away",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_round_trip() {
        let r = PreloginRequest::Login {
            user: b"anonymous".to_vec(),
            pass: Secret::new(b"a@b".to_vec()),
            private: true,
        };
        let m = r.encode().unwrap();
        match PreloginRequest::decode(&m).unwrap() {
            PreloginRequest::Login {
                user,
                pass,
                private,
            } => {
                assert!(private);
                assert_eq!(user, b"anonymous");
                assert_eq!(pass.expose(), b"a@b");
            }
            other => panic!("{other:?}"),
        }
        let m = PreloginRequest::CheckUser {
            user: b"bob".to_vec(),
        }
        .encode()
        .unwrap();
        match PreloginRequest::decode(&m).unwrap() {
            PreloginRequest::CheckUser { user } => assert_eq!(user, b"bob"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn login_bounds_enforced() {
        let mut m = vec![T_LOGIN];
        m.extend_from_slice(&((limits::USER_MAX + 1) as u16).to_be_bytes());
        m.extend(std::iter::repeat(b'a').take(limits::USER_MAX + 1));
        m.extend_from_slice(&[0, 0]);
        assert!(PreloginRequest::decode(&m).is_err());
        assert!(PreloginRequest::decode(&[]).is_err());
        assert!(PreloginRequest::decode(&[T_LOGIN, 0]).is_err());
        assert!(
            PreloginRequest::decode(&[T_DATA_CONNECT, 0, 20, 0, 0]).is_err(),
            "wrong phase"
        );
        let ok = PreloginRequest::Login {
            user: b"u".to_vec(),
            pass: Secret::new(vec![]),
            private: false,
        }
        .encode()
        .unwrap();
        let mut trailing = ok.clone();
        trailing.push(0);
        assert!(PreloginRequest::decode(&trailing).is_err());
        // The PROT flag is one byte, 0 or 1.
        let mut bad_flag = ok.clone();
        *bad_flag.last_mut().unwrap() = 2;
        assert!(PreloginRequest::decode(&bad_flag).is_err());
    }

    #[test]
    fn data_connect_round_trip() {
        for r in [
            PostloginRequest::DataConnect {
                port: 4000,
                addr: None,
            },
            PostloginRequest::DataConnect {
                port: 1,
                addr: Some("127.0.0.2".parse().unwrap()),
            },
            PostloginRequest::DataConnect {
                port: 65535,
                addr: Some("::1".parse().unwrap()),
            },
        ] {
            assert_eq!(PostloginRequest::decode(&r.encode().unwrap()).unwrap(), r);
        }
        assert!(PostloginRequest::decode(&[T_LOGIN]).is_err(), "wrong phase");
    }

    #[test]
    fn host_and_rein_round_trip_and_bounds() {
        let m = PreloginRequest::Host {
            name: b"ftp.example.com".to_vec(),
        }
        .encode()
        .unwrap();
        match PreloginRequest::decode(&m).unwrap() {
            PreloginRequest::Host { name } => assert_eq!(name, b"ftp.example.com"),
            other => panic!("{other:?}"),
        }
        let long = PreloginRequest::Host {
            name: vec![b'a'; limits::HOST_NAME_MAX + 1],
        }
        .encode()
        .unwrap();
        assert!(
            PreloginRequest::decode(&long).is_err(),
            "name over the bound"
        );
        let rein = PreloginRequest::Rein.encode().unwrap();
        assert!(matches!(
            PreloginRequest::decode(&rein).unwrap(),
            PreloginRequest::Rein
        ));
        assert!(PreloginRequest::decode(&[T_REIN, 0]).is_err(), "trailing");
        assert_eq!(
            PostloginRequest::decode(&PostloginRequest::Rein.encode().unwrap()).unwrap(),
            PostloginRequest::Rein
        );
        for r in [
            HostReply::Unknown,
            HostReply::Accepted {
                anonymous_enable: true,
                local_enable: false,
                banner: None,
            },
            HostReply::Accepted {
                anonymous_enable: false,
                local_enable: true,
                banner: Some(b"Welcome to A".to_vec()),
            },
        ] {
            assert_eq!(HostReply::decode(&r.encode().unwrap()).unwrap(), r);
        }
        assert!(
            HostReply::decode(&[T_HOST_OK, 0, 2, 2, 0, 0, 0]).is_err(),
            "flag 2"
        );
        assert!(HostReply::decode(&[T_HOST_UNKNOWN, 0]).is_err());
        let big = HostReply::Accepted {
            anonymous_enable: true,
            local_enable: true,
            banner: Some(vec![b'x'; limits::HOST_BANNER_MAX + 1]),
        };
        assert!(HostReply::decode(&big.encode().unwrap()).is_err());
    }

    #[test]
    fn secret_debug_hidden() {
        assert_eq!(format!("{:?}", Secret::new(b"pw".to_vec())), "<hidden>");
    }
}
