//! The side channel between the post-login session and the TLS holder (a SEQPACKET pair):
//! the session hands over a data connection to be secured and learns how it went. One
//! byte per message, plus a descriptor where noted; anything else ends the session.
//!
//! Trusts: nothing; decoding is total. Run by: the post-login session and the holder.

use crate::sys::fdpass;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Session -> holder.
#[derive(Debug)]
pub enum Request {
    /// Is the control connection encrypted? Answered with `Reply::Control`.
    Control,
    /// Secure this data connection (attached) for a download (holder encrypts) or an
    /// upload (holder decrypts). Answered with `Ready` (plain-text end attached) or
    /// `Failed`, then, once the connection is over, `Done`.
    Wrap { upload: bool, data: OwnedFd },
    /// Stop the current data connection now (ABOR, or the transfer child failed).
    Abort,
}

/// Holder -> session.
#[derive(Debug)]
pub enum Reply {
    Control {
        tls: bool,
    },
    /// The handshake succeeded: read or write plain bytes on the attached descriptor.
    Ready(OwnedFd),
    /// The handshake failed; `reuse` when it was a full handshake and require_ssl_reuse
    /// asks for a resumed session.
    Failed {
        reuse: bool,
    },
    /// The data connection is over: `clean` when every byte went through and the TLS
    /// stream was closed properly (close_notify), in both directions.
    Done {
        clean: bool,
    },
}

const R_CONTROL: u8 = 1;
const R_WRAP_DOWN: u8 = 2;
const R_WRAP_UP: u8 = 3;
const R_ABORT: u8 = 4;
const P_PLAIN: u8 = 10;
const P_TLS: u8 = 11;
const P_READY: u8 = 12;
const P_FAILED: u8 = 13;
const P_FAILED_REUSE: u8 = 14;
const P_DONE_CLEAN: u8 = 15;
const P_DONE_DIRTY: u8 = 16;

fn bad() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "bad message on the TLS side channel",
    )
}

impl Request {
    pub fn send(self, sock: RawFd) -> io::Result<()> {
        match self {
            Request::Control => fdpass::send(sock, &[R_CONTROL], None),
            Request::Wrap { upload, data } => fdpass::send(
                sock,
                &[if upload { R_WRAP_UP } else { R_WRAP_DOWN }],
                Some(data.as_raw_fd()),
            ),
            Request::Abort => fdpass::send(sock, &[R_ABORT], None),
        }
    }

    /// Ok(None) when the session closed the channel.
    pub fn recv(sock: RawFd) -> io::Result<Option<Request>> {
        let mut b = [0u8; 4];
        let (n, fd) = fdpass::recv(sock, &mut b)?;
        if n == 0 {
            return Ok(None);
        }
        match (n, b[0], fd) {
            (1, R_CONTROL, None) => Ok(Some(Request::Control)),
            (1, R_ABORT, None) => Ok(Some(Request::Abort)),
            (1, R_WRAP_DOWN, Some(data)) => Ok(Some(Request::Wrap {
                upload: false,
                data,
            })),
            (1, R_WRAP_UP, Some(data)) => Ok(Some(Request::Wrap { upload: true, data })),
            _ => Err(bad()),
        }
    }
}

impl Reply {
    pub fn send(self, sock: RawFd) -> io::Result<()> {
        match self {
            Reply::Control { tls } => {
                fdpass::send(sock, &[if tls { P_TLS } else { P_PLAIN }], None)
            }
            Reply::Ready(fd) => fdpass::send(sock, &[P_READY], Some(fd.as_raw_fd())),
            Reply::Failed { reuse } => {
                fdpass::send(sock, &[if reuse { P_FAILED_REUSE } else { P_FAILED }], None)
            }
            Reply::Done { clean } => fdpass::send(
                sock,
                &[if clean { P_DONE_CLEAN } else { P_DONE_DIRTY }],
                None,
            ),
        }
    }

    /// Wait (bounded) for the holder's reply; an error when it does not come or is not
    /// a reply.
    pub fn recv(sock: RawFd, within: Duration) -> io::Result<Reply> {
        if crate::sys::io::poll_readable(&[sock], Some(within))? == crate::sys::io::Ready::Timeout {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the TLS holder did not answer",
            ));
        }
        let mut b = [0u8; 4];
        let (n, fd) = fdpass::recv(sock, &mut b)?;
        match (n, b[0], fd) {
            (0, _, _) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the TLS holder is gone",
            )),
            (1, P_PLAIN, None) => Ok(Reply::Control { tls: false }),
            (1, P_TLS, None) => Ok(Reply::Control { tls: true }),
            (1, P_READY, Some(fd)) => Ok(Reply::Ready(fd)),
            (1, P_FAILED, None) => Ok(Reply::Failed { reuse: false }),
            (1, P_FAILED_REUSE, None) => Ok(Reply::Failed { reuse: true }),
            (1, P_DONE_CLEAN, None) => Ok(Reply::Done { clean: true }),
            (1, P_DONE_DIRTY, None) => Ok(Reply::Done { clean: false }),
            _ => Err(bad()),
        }
    }
}
