//! The FTPS commands (RFC 4217: AUTH, PBSZ, PROT, CCC) and the login and data policies of
//! ssl_enable, as the sessions apply them. The TLS itself is the holder's (crate::tls).
//!
//! Trusts: nothing from the client. Runs in the pre-login and post-login sessions.

use super::control::Control;
use crate::config::Config;
use crate::tls::side::{Reply, Request};
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// What the client set up with AUTH and PROT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// The control connection is TLS (AUTH answered with 234, or implicit_ssl).
    pub control: bool,
    /// PROT P: data connections are TLS.
    pub private: bool,
}

impl State {
    pub fn new(cfg: &Config) -> State {
        State {
            control: cfg.ssl_enable && cfg.implicit_ssl,
            private: false,
        }
    }
}

/// Answer AUTH, PBSZ, PROT or CCC; false when `verb` is none of them (or TLS is off).
pub fn command(
    ctl: &mut Control,
    cfg: &Config,
    st: &mut State,
    verb: &str,
    arg: Option<&[u8]>,
    logged_in: bool,
) -> io::Result<bool> {
    if !cfg.ssl_enable || !matches!(verb, "AUTH" | "PBSZ" | "PROT" | "CCC") {
        return Ok(false);
    }
    let a = arg.map(|a| a.to_ascii_uppercase());
    match verb {
        "AUTH" if st.control => ctl.reply(503, "Already using TLS.")?,
        "AUTH" if logged_in => ctl.reply(503, "AUTH must come before login.")?,
        "AUTH" => match a.as_deref() {
            Some(b"TLS" | b"TLS-C") => {
                ctl.reply(234, "Proceed with negotiation.")?;
                st.control = true;
            }
            // As vsftpd: the old SSL spellings also make data connections private.
            Some(b"SSL" | b"TLS-P") => {
                ctl.reply(234, "Proceed with negotiation.")?;
                st.control = true;
                st.private = true;
            }
            _ => ctl.reply(504, "Unknown AUTH type.")?,
        },
        "PBSZ" if !st.control => ctl.reply(503, "PBSZ needs a secure connection.")?,
        "PBSZ" => ctl.reply(200, "PBSZ set to 0.")?,
        "PROT" if !st.control => ctl.reply(503, "PROT needs a secure connection.")?,
        "PROT" => match a.as_deref() {
            Some(b"C") => {
                st.private = false;
                ctl.reply(200, "PROT now Clear.")?;
            }
            Some(b"P") => {
                st.private = true;
                ctl.reply(200, "PROT now Private.")?;
            }
            Some(b"S" | b"E") => ctl.reply(536, "PROT not supported.")?,
            _ => ctl.reply(504, "PROT not recognized.")?,
        },
        // SECURITY: the control connection never falls back to clear text (passwords and
        // paths would follow in the open).
        _ if st.control => {
            ctl.reply(533, "CCC refused: the control connection stays encrypted.")?
        }
        _ => ctl.reply(533, "CCC refused: the control connection is not encrypted.")?,
    }
    Ok(true)
}

/// The USER-time TLS policy: Some(reply text) when this login must be refused.
pub fn login_refusal(cfg: &Config, st: &State, anonymous: bool) -> Option<&'static str> {
    if !cfg.ssl_enable {
        return None;
    }
    match (anonymous, st.control) {
        (true, true) if !cfg.allow_anon_ssl => Some("Anonymous sessions may not use encryption."),
        (true, false) if cfg.allow_anon_ssl && cfg.force_anon_logins_ssl => {
            Some("Anonymous sessions must use encryption.")
        }
        (false, false) if cfg.force_local_logins_ssl => {
            Some("Non-anonymous sessions must use encryption.")
        }
        _ => None,
    }
}

/// Must this session's data connections be TLS (force_local_data_ssl, force_anon_data_ssl)?
pub fn data_forced(cfg: &Config, anonymous: bool) -> bool {
    cfg.ssl_enable
        && if anonymous {
            cfg.allow_anon_ssl && cfg.force_anon_data_ssl
        } else {
            cfg.force_local_data_ssl
        }
}

/// The post-login session's link to the TLS holder.
pub struct Link {
    side: OwnedFd,
    /// A data connection is with the holder and its Done is still to come.
    busy: bool,
    /// How long to wait for the holder's answers.
    wait: Duration,
}

/// How handing a data connection to the holder went.
pub enum Secured {
    /// Move plain bytes on this stream (a socket pair end to the holder).
    Plain(TcpStream),
    /// The handshake failed; the reply to give (522 ...).
    Refused(&'static str),
}

impl Link {
    pub fn new(side: OwnedFd, cfg: &Config) -> Link {
        Link {
            side,
            busy: false,
            wait: Duration::from_secs(u64::from(cfg.data_connection_timeout.max(30)) + 5),
        }
    }

    /// Ask the holder whether the control connection is TLS.
    pub fn control_is_tls(&self) -> io::Result<bool> {
        Request::Control.send(self.side.as_raw_fd())?;
        match Reply::recv(self.side.as_raw_fd(), self.wait)? {
            Reply::Control { tls } => Ok(tls),
            _ => Err(io::Error::other("unexpected answer from the TLS holder")),
        }
    }

    /// Hand the data connection to the holder for a TLS handshake (after the 150 reply,
    /// when clients start it). The stream returned carries the plain bytes.
    pub fn secure(&mut self, data: TcpStream, upload: bool) -> io::Result<Secured> {
        Request::Wrap {
            upload,
            data: OwnedFd::from(data),
        }
        .send(self.side.as_raw_fd())?;
        match Reply::recv(self.side.as_raw_fd(), self.wait)? {
            // The plain end is a Unix stream socket; the transfer code only needs a
            // connected stream socket (read, write, shutdown, timeouts, sendfile, splice).
            Reply::Ready(fd) => {
                self.busy = true;
                Ok(Secured::Plain(TcpStream::from(fd)))
            }
            Reply::Failed { reuse: true } => Ok(Secured::Refused(
                "SSL connection failed: session reuse required.",
            )),
            Reply::Failed { reuse: false } => Ok(Secured::Refused("SSL connection failed.")),
            _ => Err(io::Error::other("unexpected answer from the TLS holder")),
        }
    }

    /// The transfer is over on the session's side: wait for the holder's verdict on the
    /// TLS stream (`abort`: tell it to stop first). Ok(true) when the data connection
    /// ended cleanly (every byte through, close_notify); Ok(true) when none was active.
    pub fn finish(&mut self, abort: bool) -> io::Result<bool> {
        if !self.busy {
            return Ok(true);
        }
        self.busy = false;
        if abort {
            Request::Abort.send(self.side.as_raw_fd())?;
        }
        match Reply::recv(self.side.as_raw_fd(), self.wait)? {
            Reply::Done { clean } => Ok(clean),
            _ => Err(io::Error::other("unexpected answer from the TLS holder")),
        }
    }
}
