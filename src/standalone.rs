//! Standalone mode (`listen=YES`): bind `listen_address:listen_port`, accept connections,
//! and serve each in a forked child that puts the connection on fds 0 and 1 and runs the
//! very same code path as an inetd launch. Runs as root (or the launching user).

use crate::config::Config;
use crate::log;
use crate::sys::{self, process};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

pub fn run(cfg: Config) -> i32 {
    let ip: IpAddr = match &cfg.listen_address {
        Some(a) => match a.parse() {
            Ok(ip) => ip,
            Err(_) => {
                eprintln!("rsftpd: listen_address '{a}' is not an IP address");
                return 1;
            }
        },
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let addr = SocketAddr::new(ip, cfg.listen_port as u16);
    let listener = match TcpListener::bind(addr) {
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
    process::auto_reap_children(true);
    loop {
        let (conn, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin, then go on.
                log::error(&format!("accept: {e}"));
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        match process::fork() {
            Ok(process::Fork::Child) => {
                process::auto_reap_children(false);
                drop(listener);
                let fd = conn.as_raw_fd();
                if sys::io::dup2(fd, 0).is_err() || sys::io::null_stdout_stderr().is_err() {
                    process::exit_now(1);
                }
                drop(conn);
                let code = crate::session::entry::serve_connection(cfg);
                process::exit_now(code);
            }
            Ok(process::Fork::Parent(_)) => drop(conn),
            Err(e) => {
                log::error(&format!("fork: {e}"));
                drop(conn);
            }
        }
    }
}
