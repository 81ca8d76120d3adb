//! Data connections: passive listeners (PASV, EPSV) and active targets (PORT, EPRT), and
//! opening the connection when a transfer starts, with the address checks that stop
//! connection theft and bounce attacks. Runs in the post-login session.

use crate::config::Config;
use crate::ipc::{self, DataReply, PostloginRequest};
use crate::sys;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// What the last PASV/EPSV/PORT/EPRT set up.
pub enum Setup {
    None,
    Passive(TcpListener),
    Active(SocketAddr),
}

/// Why a data connection could not be opened, as the reply the client gets.
#[derive(Debug)]
pub enum OpenError {
    /// 425 Use PORT or PASV first.
    NotSetUp,
    /// 425 Failed to establish connection.
    Failed,
    /// 425 Security: Bad IP connecting.
    BadIp,
}

impl OpenError {
    pub fn reply(&self) -> (u16, &'static str) {
        match self {
            OpenError::NotSetUp => (425, "Use PORT or PASV first."),
            OpenError::Failed => (425, "Failed to establish connection."),
            OpenError::BadIp => (425, "Security: Bad IP connecting."),
        }
    }
}

fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Listen for a passive connection on the control connection's local address (with its
/// IPv6 scope, if any).
pub fn listen(cfg: &Config, local: SocketAddr) -> io::Result<TcpListener> {
    sys::net::listen_in_range(local, cfg.pasv_port_range(), random)
}

/// Open the data connection the client set up. While waiting for a passive connection the
/// control connection (`control`) is watched too: a client that hangs up meanwhile ends
/// the wait at once rather than after accept_timeout.
pub fn open(
    cfg: &Config,
    setup: Setup,
    peer: SocketAddr,
    broker: Option<&OwnedFd>,
    control: RawFd,
) -> Result<TcpStream, OpenError> {
    match setup {
        Setup::None => Err(OpenError::NotSetUp),
        Setup::Passive(listener) => {
            let deadline = (cfg.accept_timeout > 0)
                .then(|| Instant::now() + Duration::from_secs(cfg.accept_timeout.into()));
            let mut watch_control = true;
            loop {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let fds = [listener.as_raw_fd(), control];
                let fds = if watch_control { &fds[..] } else { &fds[..1] };
                match sys::io::poll_readable(fds, left) {
                    Ok(sys::io::Ready::Fd(0)) => break,
                    Ok(sys::io::Ready::Fd(_)) => {
                        // The client spoke or hung up. A hang-up ends the wait; a command
                        // (ABOR, STAT, ...) waits its turn, and the control connection is
                        // not watched again for this transfer.
                        let mut b = [0u8; 1];
                        match sys::io::peek(control, &mut b) {
                            Ok(sys::io::Peek::Data(_) | sys::io::Peek::NotSocket) => {
                                watch_control = false
                            }
                            _ => return Err(OpenError::Failed),
                        }
                    }
                    _ => return Err(OpenError::Failed),
                }
            }
            let (stream, from) = listener.accept().map_err(|_| OpenError::Failed)?;
            let from = sys::net::unmap(from);
            // Through a trusted balancer (proxy_protocol_enable) the connection starts with
            // a PROXY header naming the client; it is taken off the stream here, even with
            // pasv_promiscuous, so it never reaches a file or a listing.
            let client =
                super::proxy::data_client(cfg, stream.as_raw_fd(), from).ok_or(OpenError::BadIp)?;
            // SECURITY: only the control peer may connect, or anyone could steal the data.
            // Behind a balancer both sides are the real client's address, from the headers.
            if !cfg.pasv_promiscuous && client.ip() != peer.ip() {
                crate::log::warn(&format!(
                    "refused a passive data connection from {}{} (client is {})",
                    client.ip(),
                    if client == from {
                        String::new()
                    } else {
                        format!(" through proxy {}", from.ip())
                    },
                    peer.ip()
                ));
                return Err(OpenError::BadIp);
            }
            Ok(stream)
        }
        Setup::Active(target) => {
            let timeout = Duration::from_secs(cfg.connect_timeout.max(1).into());
            match (cfg.connect_from_port_20, broker) {
                (true, Some(sock)) => {
                    let addr = if cfg.port_promiscuous {
                        Some(target.ip())
                    } else {
                        None
                    };
                    let req = PostloginRequest::DataConnect {
                        port: target.port(),
                        addr,
                    };
                    let msg = req.encode().map_err(|_| OpenError::Failed)?;
                    ipc::send(sock.as_raw_fd(), &msg, None).map_err(|_| OpenError::Failed)?;
                    match DataReply::recv(sock.as_raw_fd()) {
                        Ok(DataReply::Connected(fd)) => Ok(TcpStream::from(fd)),
                        _ => Err(OpenError::Failed),
                    }
                }
                _ => TcpStream::connect_timeout(&target, timeout).map_err(|_| OpenError::Failed),
            }
        }
    }
}

/// Check a PORT/EPRT target: the control peer's address and an unprivileged port, unless
/// port_promiscuous=YES. Both sides are unmapped (`sys::net::unmap`) by the callers, so an
/// IPv4 client of a dual-stack listener compares as IPv4 and `|2|::ffff:a.b.c.d|` is a.b.c.d.
pub fn active_allowed(cfg: &Config, target: SocketAddr, peer: SocketAddr) -> bool {
    // SECURITY: bounce protection: no connections to third parties or to privileged ports.
    cfg.port_promiscuous || (target.ip() == peer.ip() && target.port() >= 1024)
}

/// The address to connect to for an accepted PORT/EPRT target: the peer's own socket
/// address (so a link-local IPv6 client keeps its scope id, which EPRT cannot carry) when
/// the target is the peer, else the target as given (port_promiscuous).
pub fn active_target(target: SocketAddr, peer: SocketAddr) -> SocketAddr {
    if target.ip() == peer.ip() {
        let mut t = peer;
        t.set_port(target.port());
        t
    } else {
        target
    }
}
