//! Standalone mode (`listen=YES`: bind `listen_address:listen_port`, IPv4; `listen_ipv6=YES`:
//! bind `[listen_address6]:listen_port`, one dual-stack IPv6 socket that takes IPv4 clients
//! too), accept connections, and serve each in a forked child that puts the connection on
//! fds 0 and 1 and runs the very same code path as an inetd launch. Runs as root (or the
//! launching user). Client addresses are unmapped (::ffff:127.0.0.1 is 127.0.0.1) before
//! max_per_ip counts them, as everywhere else.
//!
//! The listener never reads a byte from a client. It keeps a table of its children (pid ->
//! client address), reaped with waitpid(WNOHANG) before every admission decision and at
//! least once a second while idle, and enforces `max_clients` and `max_per_ip` itself: a
//! connection over either limit gets vsftpd's 421 reply from the listener and is closed
//! without a fork, so a flood of connections costs no processes.

use crate::config::Config;
use crate::log;
use crate::sys::{self, process};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// vsftpd's reply when `max_clients` sessions are already being served.
pub const TOO_MANY_USERS: &[u8] = b"421 There are too many connected users, please try later.\r\n";
/// vsftpd's reply when `max_per_ip` sessions from the client's address are being served.
pub const TOO_MANY_FROM_IP: &[u8] =
    b"421 There are too many connections from your internet address.\r\n";

/// How long the listener waits for a connection before reaping ended sessions anyway.
const IDLE_REAP: Duration = Duration::from_secs(1);
/// Pause after a failed accept (EMFILE, ENFILE, ENOBUFS...), so the loop never spins.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The sessions the listener has forked and not yet reaped.
#[derive(Default)]
pub struct Sessions {
    by_pid: HashMap<i32, IpAddr>,
}

impl Sessions {
    pub fn insert(&mut self, pid: i32, ip: IpAddr) {
        self.by_pid.insert(pid, ip);
    }

    pub fn remove(&mut self, pid: i32) {
        self.by_pid.remove(&pid);
    }

    pub fn len(&self) -> usize {
        self.by_pid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_pid.is_empty()
    }

    pub fn from_ip(&self, ip: IpAddr) -> usize {
        self.by_pid.values().filter(|&&i| i == ip).count()
    }

    /// Whether one more session from `ip` may start: None if so, else the 421 to send.
    /// 0 means unlimited for both limits; the comparison counts the new session, as
    /// vsftpd's `num_clients > max_clients` does.
    pub fn admit(&self, ip: IpAddr, max_clients: u32, max_per_ip: u32) -> Option<&'static [u8]> {
        // SECURITY: without these limits one client can exhaust processes and memory with
        // connections alone; the check runs before any fork.
        if max_clients > 0 && self.len() >= max_clients as usize {
            return Some(TOO_MANY_USERS);
        }
        if max_per_ip > 0 && self.from_ip(ip) >= max_per_ip as usize {
            return Some(TOO_MANY_FROM_IP);
        }
        None
    }

    /// Reap every ended child and forget it.
    fn reap(&mut self) {
        while let Some((pid, _)) = process::try_wait_any() {
            self.remove(pid);
        }
    }
}

pub fn run(cfg: Config) -> i32 {
    // ssl_enable: a certificate that does not load is a startup error, not a 421 per client.
    if cfg.ssl_enable {
        if let Err(e) = crate::tls::check(&cfg) {
            eprintln!("rsftpd: {e}");
            return 1;
        }
    }
    // listen_ipv6: one IPv6 socket, dual-stack, so IPv4 clients arrive on it too (as
    // ::ffff:a.b.c.d, unmapped by sys::net::endpoints in the child).
    let (key, address, any) = if cfg.listen_ipv6 {
        (
            "listen_address6",
            &cfg.listen_address6,
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        )
    } else {
        (
            "listen_address",
            &cfg.listen_address,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        )
    };
    let ip: IpAddr = match address {
        Some(a) => match a.parse() {
            Ok(ip) => ip,
            Err(_) => {
                eprintln!("rsftpd: {key} '{a}' is not an IP address");
                return 1;
            }
        },
        None => any,
    };
    let addr = SocketAddr::new(ip, cfg.listen_port as u16);
    let listener = match sys::net::listen_wide(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rsftpd: cannot listen on {addr}: {e}");
            return 1;
        }
    };
    if cfg.background {
        if let Err(e) = process::daemonize() {
            eprintln!("rsftpd: cannot go to the background: {e}");
            return 1;
        }
    }
    // Children must stay waitable: an ignored SIGCHLD inherited from whoever started us
    // would have the kernel reap them behind the table's back.
    process::auto_reap_children(false);
    let mut sessions = Sessions::default();
    let trusted = cfg.proxy_trusted();
    loop {
        sessions.reap();
        match sys::io::poll_readable(&[listener.as_raw_fd()], Some(IDLE_REAP)) {
            Ok(sys::io::Ready::Timeout) => continue,
            Ok(sys::io::Ready::Fd(_)) => {}
            Err(e) => {
                log::error(&format!("poll: {e}"));
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        }
        let (conn, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin, then go on.
                log::error(&format!("accept: {e}"));
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        // A session may have ended while we waited in poll: count only live ones.
        sessions.reap();
        let peer_ip = sys::net::unmap(peer).ip();
        // SECURITY: max_per_ip is not applied to trusted balancers (proxy_protocol_enable):
        // every client arrives from the balancer's address and the real one is known only
        // once the child has read the PROXY header, so it would cap the whole balancer at
        // max_per_ip sessions. max_clients still applies; rsftpd(8), LOAD BALANCERS, says to
        // limit per client on the balancer.
        let per_ip = if cfg.proxy_protocol_enable && trusted.contains(peer_ip) {
            0
        } else {
            cfg.max_per_ip
        };
        if let Some(reply) = sessions.admit(peer_ip, cfg.max_clients, per_ip) {
            refuse(conn, reply);
            continue;
        }
        match process::fork() {
            Ok(process::Fork::Child) => {
                drop(listener);
                let fd = conn.as_raw_fd();
                if sys::io::dup2(fd, 0).is_err() || sys::io::null_stdout_stderr().is_err() {
                    process::exit_now(1);
                }
                drop(conn);
                let code = crate::session::entry::serve_connection(cfg);
                process::exit_now(code);
            }
            Ok(process::Fork::Parent(pid)) => {
                sessions.insert(pid, peer_ip);
                drop(conn);
            }
            Err(e) => {
                log::error(&format!("fork: {e}"));
                drop(conn);
            }
        }
    }
}

/// Send the 421 on a connection over a limit and close it. Non-blocking, so a client that
/// never reads cannot stall the listener (a fresh socket's send buffer takes the line).
fn refuse(conn: TcpStream, reply: &[u8]) {
    let _ = conn.set_nonblocking(true);
    let _ = (&conn).write_all(reply);
    let _ = conn.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_follows_vsftpd_limits() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let mut s = Sessions::default();
        assert_eq!(s.admit(a, 2, 1), None);
        s.insert(10, a);
        // Per address: a second session from a is refused, b is fine.
        assert_eq!(s.admit(a, 2, 1), Some(TOO_MANY_FROM_IP));
        assert_eq!(s.admit(b, 2, 1), None);
        s.insert(11, b);
        // Total: the third session is refused whoever it is from; max_clients is checked first.
        assert_eq!(s.admit(b, 2, 1), Some(TOO_MANY_USERS));
        assert_eq!(
            s.admit("192.0.2.3".parse().unwrap(), 2, 1),
            Some(TOO_MANY_USERS)
        );
        // 0 means unlimited.
        assert_eq!(s.admit(a, 0, 0), None);
        assert_eq!(s.admit(a, 0, 2), None);
        assert_eq!(s.admit(a, 3, 0), None);
        s.remove(10);
        assert_eq!(s.admit(a, 2, 1), None);
        assert_eq!((s.len(), s.from_ip(b), s.is_empty()), (1, 1, false));
    }
}
