//! FTPS (RFC 4217): the TLS configuration built from the vsftpd keys, and the TLS holder,
//! the one process that speaks TLS with the client.
//!
//! With ssl_enable=YES the connection is served through a holder forked before any session
//! process: it owns the client's control socket, relays control lines between the client
//! and the sessions over a socket pair (plain text until AUTH TLS is answered with 234, TLS
//! after), and encrypts or decrypts the data connections the post-login session hands it.
//! The sessions never touch the client's socket or the private key: the pre-login and
//! post-login processes inherit the socket pair as their control descriptor, so the TLS
//! state never has to cross the pre-login/post-login hand-off, and every data connection
//! resumes a session from the holder's own cache, which only this client's control
//! connection filled.
//!
//! Trusts: the configuration and the certificate files (read as root by the process that
//! builds the configuration, before any privilege drop). Run by: the monitor or the
//! development-mode process (building the configuration), the holder.

pub mod holder;
pub mod side;

use crate::config::Config;
use crate::sys::{self, creds, process};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

/// Cipher suites by their OpenSSL names (what ssl_ciphers lists), for the suites rustls has.
const SUITE_NAMES: &[(&str, &str)] = &[
    ("TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"),
    ("TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS13_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// The cipher suites ssl_ciphers selects: the named suites rustls has, in rustls's order;
/// every rustls suite when it names none of them (OpenSSL keywords such as HIGH or DEFAULT,
/// and vsftpd's default AES128-SHA:DES-CBC3-SHA, name only suites rustls never offers).
pub fn select_suites(spec: &str) -> Vec<rustls::SupportedCipherSuite> {
    let all = rustls::crypto::ring::ALL_CIPHER_SUITES;
    let wanted: Vec<&str> = spec
        .split([':', ',', ' '])
        .filter_map(|n| SUITE_NAMES.iter().find(|(o, _)| *o == n).map(|(_, r)| *r))
        .collect();
    if wanted.is_empty() {
        return all.to_vec();
    }
    all.iter()
        .copied()
        .filter(|s| wanted.contains(&format!("{:?}", s.suite()).as_str()))
        .collect()
}

/// The TLS versions the configuration allows (ssl_tlsv1_2, ssl_tlsv1_3, ssl_min_protocol).
pub fn versions(cfg: &Config) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let min13 = match cfg.ssl_min_protocol.as_str() {
        "TLSv1.2" | "1.2" => false,
        "TLSv1.3" | "1.3" => true,
        other => {
            return Err(format!(
                "ssl_min_protocol: '{other}' is not TLSv1.2 or TLSv1.3"
            ))
        }
    };
    let mut v = Vec::new();
    if cfg.ssl_tlsv1_3 {
        v.push(&rustls::version::TLS13);
    }
    if cfg.ssl_tlsv1_2 && !min13 {
        v.push(&rustls::version::TLS12);
    }
    if v.is_empty() {
        return Err(
            "ssl_enable=YES but no TLS version is allowed (ssl_tlsv1_2, ssl_tlsv1_3, ssl_min_protocol)"
                .into(),
        );
    }
    Ok(v)
}

/// Build the server configuration: certificate chain and key from rsa_cert_file and
/// rsa_private_key_file (PEM), versions and suites from the configuration, and a session
/// cache so data connections can resume the control connection's session.
pub fn server_config(cfg: &Config) -> Result<Arc<ServerConfig>, String> {
    let cert_file = cfg.rsa_cert_file.as_deref().ok_or(
        "ssl_enable=YES needs rsa_cert_file (a PEM certificate; see rsftpd(8) for making one)",
    )?;
    let key_file = cfg.rsa_private_key_file.as_deref().unwrap_or(cert_file);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("rsa_cert_file {cert_file}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("rsa_cert_file {cert_file}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "rsa_cert_file {cert_file}: no PEM certificate in it"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("rsa_private_key_file {key_file}: no usable PEM private key: {e}"))?;
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = select_suites(&cfg.ssl_ciphers);
    let versions = versions(cfg)?;
    let mut sc = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("ssl_ciphers '{}': {e}", cfg.ssl_ciphers))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{cert_file} and {key_file}: {e}"))?;
    // One holder serves one client: its cache holds only this client's sessions, so any
    // resumed data connection resumed this client's control session.
    sc.session_storage = Arc::new(ClientSessions::default());
    sc.send_tls13_tickets = 4;
    Ok(Arc::new(sc))
}

/// Most sessions one holder remembers (the control connection's, and one or a few per data
/// connection); past this the oldest are forgotten.
const SESSIONS_MAX: usize = 256;

/// The holder's session cache. Unlike rustls's own, a TLS 1.3 ticket stays usable after a
/// resumption: FTP clients (GnuTLS in lftp, OpenSSL in curl) offer the control
/// connection's ticket again for every data connection, and a one-shot ticket turns the
/// second transfer into a full handshake, the `522 ... session reuse required` failures
/// vsftpd is known for. Reuse is safe here: the cache serves one client's connections, and
/// 0-RTT data (where ticket replay matters) is never accepted.
#[derive(Debug, Default)]
struct ClientSessions(std::sync::Mutex<std::collections::VecDeque<(Vec<u8>, Vec<u8>)>>);

impl rustls::server::StoresServerSessions for ClientSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let Ok(mut v) = self.0.lock() else {
            return false;
        };
        v.retain(|(k, _)| *k != key);
        if v.len() >= SESSIONS_MAX {
            v.pop_front();
        }
        v.push_back((key, value));
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.0.lock().ok()?;
        v.iter().find(|(k, _)| k == key).map(|(_, val)| val.clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// A running TLS holder, as the process that started it sees it.
pub struct Link {
    pub pid: i32,
    /// The post-login session's end of the side channel (see `side`).
    pub side: OwnedFd,
}

/// Check that the certificate and key load, without this process ever holding the key:
/// a throwaway child loads them and reports. For `rsftpd -t` and the standalone listener,
/// whose memory every session would otherwise inherit.
pub fn check(cfg: &Config) -> Result<(), String> {
    let (r, w) = sys::io::pipe().map_err(|e| e.to_string())?;
    match process::fork().map_err(|e| e.to_string())? {
        process::Fork::Child => {
            drop(r);
            let code = match server_config(cfg) {
                Ok(_) => 0,
                Err(e) => {
                    let _ = sys::io::write_all(w.as_raw_fd(), e.as_bytes());
                    1
                }
            };
            process::exit_now(code);
        }
        process::Fork::Parent(pid) => {
            drop(w);
            let mut msg = Vec::new();
            let mut buf = [0u8; 1024];
            while msg.len() < 64 * 1024 {
                match sys::io::read(r.as_raw_fd(), &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => msg.extend_from_slice(&buf[..n]),
                }
            }
            match process::wait_pid(pid) {
                Ok(process::Status::Exited(0)) => Ok(()),
                _ if !msg.is_empty() => Err(String::from_utf8_lossy(&msg).into_owned()),
                _ => Err("the TLS configuration check failed".into()),
            }
        }
    }
}

/// Start the TLS holder for the client on fd 0. Afterwards fd 0 of this process (and of
/// every session it forks) is the plain-text end of a socket pair to the holder, which
/// alone keeps the client's socket. The holder loads the certificate and key itself,
/// while still root and before it reads a byte from the client, then takes `drop_to` (the
/// pre-login identity; None in development mode): the key exists in no other process, so
/// no session, before or after login, can reach it.
pub fn spawn(cfg: &Config, drop_to: Option<&creds::Identity>) -> io::Result<Link> {
    let client = std::io::stdin().as_fd().try_clone_to_owned()?;
    let (sess_end, hold_end) = UnixStream::pair()?;
    let (side_sess, side_hold) = sys::fdpass::pair()?;
    let parent = process::pid();
    let opts = holder::Options {
        implicit: cfg.implicit_ssl,
        require_reuse: cfg.require_ssl_reuse,
        data_timeout: Duration::from_secs(u64::from(cfg.data_connection_timeout.max(30))),
    };
    match process::fork()? {
        process::Fork::Child => {
            drop(sess_end);
            drop(side_sess);
            // The holder keeps the client socket as `client`: fd 0 (the same socket) goes.
            // (The monitor holds nothing else at this point but the syslog socket, which the
            // holder needs: log files are closed below.)
            let _ = sys::io::null_stdin();
            let code = (|| -> io::Result<()> {
                process::die_with_parent(parent)?;
                let sc = match server_config(cfg) {
                    Ok(sc) => sc,
                    Err(e) => {
                        // SECURITY: never fall back to clear text: the client is told and
                        // the connection ends.
                        let _ = sys::io::write_all(
                            client.as_raw_fd(),
                            b"421 Service not available (server error; see the system log).\r\n",
                        );
                        return Err(io::Error::other(e));
                    }
                };
                if let Some(id) = drop_to {
                    creds::change_identity(id)?;
                    // The kernel clears the parent-death signal on a uid change.
                    process::die_with_parent(parent)?;
                }
                // SECURITY: the holder parses TLS from the network: no log files, no
                // forks, nothing but its descriptors.
                crate::log::close_files();
                let _ = process::limit(process::Resource::Nproc, 0);
                holder::run(sc, TcpStream::from(client), hold_end, Some(side_hold), opts)
            })();
            if let Err(e) = code {
                crate::log::error(&format!("TLS holder ended: {e}"));
                process::exit_now(1);
            }
            process::exit_now(0);
        }
        process::Fork::Parent(pid) => {
            drop(hold_end);
            drop(side_hold);
            drop(client);
            sys::io::dup2(sess_end.as_raw_fd(), 0)?;
            Ok(Link {
                pid,
                side: side_sess,
            })
        }
    }
}

impl Link {
    /// The sessions are over: let go of the control pair so the holder sees the end, sends
    /// what is left (a 221, a 421) and close_notify, and exits; wait for it (bounded).
    pub fn finish(self) {
        drop(self.side);
        let _ = sys::io::null_stdin();
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < end {
            match process::try_wait_pid(self.pid) {
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                _ => return,
            }
        }
        process::kill_child(self.pid);
        let _ = process::wait_pid(self.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_from_openssl_names() {
        let all = select_suites("AES128-SHA:DES-CBC3-SHA");
        assert_eq!(all.len(), rustls::crypto::ring::ALL_CIPHER_SUITES.len());
        let some = select_suites("ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384:RC4-MD5");
        let names: Vec<String> = some.iter().map(|s| format!("{:?}", s.suite())).collect();
        assert_eq!(
            names,
            [
                "TLS13_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
            ]
        );
        assert_eq!(select_suites("HIGH").len(), all.len());
    }
}
