//! Start of every connection: decide the mode, load the configuration, gather what must be
//! read before any fork or chroot (addresses, the balancer's PROXY header with
//! proxy_protocol_enable, banner, banned e-mails), then hand over to
//! the monitor (root) or to development mode (not root, or run_as_launching_user=YES).
//! Runs in the launched process (root under inetd) and in each standalone child.

use crate::cli::Args;
use crate::config::Config;
use crate::ipc::{LoginReply, Secret};
use crate::log;
use crate::monitor::local::Lists;
use crate::monitor::{self, auth};
use crate::session::{control::Control, postlogin, prelogin};
use crate::sys;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a connection needs that is read before any fork or chroot.
pub struct Prepared {
    pub cfg: Config,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub banner: Option<Vec<Vec<u8>>>,
    /// deny_email_enable and secure_email_list_enable lists.
    pub anon_lists: auth::AnonLists,
    /// ftpusers, userlist and /etc/shells, for local logins.
    pub lists: Lists,
    /// chroot_list_file's entries (with chroot_list_enable=YES).
    pub chroot_list: Vec<Vec<u8>>,
}

/// Tell the client the service is not available and log why; nothing else reaches it.
pub fn refuse_client(why: &str) {
    log::error(why);
    let _ = sys::io::write_all(
        0,
        b"421 Service not available (server error; see the system log).\r\n",
    );
}

pub fn run(args: Args) -> i32 {
    // SECURITY: a descriptor leaked by whoever started us (inetd, a shell, a test runner)
    // would be inherited by every session, e.g. a root-only file readable by the pre-login
    // process; only 0, 1 and 2 belong to rsftpd.
    sys::io::close_all_except(3, &[]);
    let inetd = sys::net::is_socket(0);
    if inetd {
        // Under inetd 1 and 2 are the client's socket: nothing but replies may reach it.
        let _ = sys::io::null_stdout_stderr();
    }
    log::install_panic_hook();
    sys::process::ignore_sigpipe();
    let (cfg, warnings) = match crate::cli::load_config(&args) {
        Ok(x) => x,
        Err(e) => {
            if inetd && !args.check_only {
                crate::sys::syslog::open_default();
                refuse_client(&format!("configuration error: {e}"));
            } else {
                eprintln!("rsftpd: {e}");
            }
            return 1;
        }
    };
    log::open_syslog(&cfg);
    for w in &warnings {
        log::warn(&format!("warning: {w}"));
        if !inetd {
            eprintln!("rsftpd: warning: {w}");
        }
    }
    if cfg.listen || cfg.listen_ipv6 {
        if inetd {
            // Standalone mode under inetd could only fail to bind the port inetd holds
            // (vsftpd then sends `500 OOPS: could not bind listening IPv4 socket`). The
            // likely cause is a vsftpd.conf used as it is: Debian's sets listen_ipv6=YES.
            let key = if cfg.listen { "listen" } else { "listen_ipv6" };
            refuse_client(&format!(
                "{key}=YES asks for standalone mode, but rsftpd was started by inetd or xinetd (descriptor 0 is a connection): set {key}=NO (under xinetd, flags = IPv6 serves IPv6 clients; see rsftpd(8))"
            ));
            return 1;
        }
        return crate::standalone::run(cfg);
    }
    if !inetd {
        eprintln!(
            "rsftpd: standard input is not a socket: start rsftpd from inetd/xinetd (see rsftpd(8)), or set listen=YES to run standalone"
        );
        return 1;
    }
    serve_connection(cfg)
}

/// Serve the client whose control connection is on fd 0.
pub fn serve_connection(cfg: Config) -> i32 {
    let (local, tcp_peer) = match sys::net::endpoints(0) {
        Ok(x) => x,
        Err(e) => {
            log::error(&format!(
                "cannot read the control connection's addresses: {e}"
            ));
            return 1;
        }
    };
    // Behind a load balancer, the client is the one its PROXY header names: from here on
    // `peer` is that address for logs, the bounce check and the passive-connection check.
    let peer = if cfg.proxy_protocol_enable {
        match proxied_peer(&cfg, tcp_peer) {
            Some(p) => p,
            None => return 1,
        }
    } else {
        tcp_peer
    };
    let _ = sys::net::tune_control(0);
    let _ = sys::process::limit(sys::process::Resource::Core, 0);
    if cfg.use_localtime {
        sys::time::load_zone();
    }
    if let Err(e) = log::init(&cfg, Some(peer.ip())) {
        refuse_client(&e);
        return 1;
    }
    log::connect();
    let banner = match &cfg.banner_file {
        Some(p) => match crate::session::read_message(std::path::Path::new(p)) {
            Some(lines) => Some(lines),
            None => {
                refuse_client(&format!("cannot read banner_file {p}"));
                return 1;
            }
        },
        None => None,
    };
    let anon_lists = match auth::AnonLists::load(&cfg) {
        Ok(l) => l,
        Err(e) => {
            refuse_client(&e);
            return 1;
        }
    };
    let lists = match Lists::load(&cfg) {
        Ok(l) => l,
        Err(e) => {
            refuse_client(&e);
            return 1;
        }
    };
    let chroot_list = if cfg.chroot_list_enable {
        match auth::read_list(std::path::Path::new(&cfg.chroot_list_file)) {
            Ok(v) => v,
            // A missing list names nobody, as in vsftpd.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                refuse_client(&format!(
                    "cannot read chroot_list_file {}: {e}",
                    cfg.chroot_list_file
                ));
                return 1;
            }
        }
    } else {
        Vec::new()
    };
    let prep = Prepared {
        cfg,
        local,
        peer,
        banner,
        anon_lists,
        lists,
        chroot_list,
    };
    if sys::process::is_root() && !prep.cfg.run_as_launching_user {
        monitor::run(&prep)
    } else {
        development(&prep)
    }
}

/// The reply to a control connection that should have come through a trusted balancer.
pub const PROXY_UNTRUSTED: &[u8] = b"421 Service not available.\r\n";

/// proxy_protocol_enable=YES: read the PROXY header from fd 0, before any other byte is
/// read or written, and return the client it names (or the TCP peer for a LOCAL or
/// UNKNOWN header). None: the connection is refused (logged) and must end.
fn proxied_peer(cfg: &Config, tcp_peer: SocketAddr) -> Option<SocketAddr> {
    // SECURITY: only a trusted balancer may name the client; a header from anyone else
    // would let them pick the address that logs record and that PORT/EPRT and the passive
    // data-connection check compare against.
    if !super::proxy::expects_header(cfg, tcp_peer) {
        log::error(&format!(
            "refused a connection from {tcp_peer}: proxy_protocol_enable=YES and it is not in proxy_trusted_addresses"
        ));
        let _ = sys::io::write_all(0, PROXY_UNTRUSTED);
        return None;
    }
    match super::proxy::read_header(0, super::proxy::header_timeout()) {
        Ok(h) => Some(h.client(tcp_peer)),
        // A plain TCP health check (connect, close): nothing to log.
        Err(super::proxy::ReadError::ClosedEarly) => None,
        Err(e) => {
            log::error(&format!("closed the connection from proxy {tcp_peer}: {e}"));
            None
        }
    }
}

/// Development mode: no monitor, no chroot, no identity change. One process serves the
/// anonymous tree as the launching user (what `make run` uses).
struct LocalAuth<'a> {
    prep: &'a Prepared,
    fails: u32,
    reins: u32,
    /// HOST lookups on this connection (limits::HOST_MAX).
    hosts: u32,
    /// The virtual host chosen with HOST (host_config_dir), until REIN.
    host: Option<Config>,
}

impl LocalAuth<'_> {
    /// The configuration logins and the session use: the virtual host's, or the main one.
    fn cfg(&self) -> &Config {
        self.host.as_ref().unwrap_or(&self.prep.cfg)
    }
}

impl prelogin::Authenticator for LocalAuth<'_> {
    fn login(&mut self, user: &[u8], pass: Secret, _private: bool) -> std::io::Result<LoginReply> {
        // Development mode serves anonymous users only: local users need root.
        let verdict = auth::check(self.cfg(), &self.prep.anon_lists, None, user, pass.expose());
        let result = verdict.as_ref().map(|_| ()).map_err(|e| e.as_str());
        let anon_pass = matches!(verdict, Ok(auth::Login::Anonymous)).then(|| pass.expose());
        Ok(auth::account(
            &self.prep.cfg,
            &mut self.fails,
            result,
            user,
            anon_pass,
        ))
    }

    fn check_user(&mut self, user: &[u8]) -> std::io::Result<LoginReply> {
        Ok(userlist_verdict(self.prep, &mut self.fails, user))
    }

    fn host(&mut self, name: &str) -> std::io::Result<crate::ipc::HostReply> {
        // Host files are the launching user's (or root's) here, like the main file.
        let (reply, chosen) = crate::monitor::host::select_bounded(
            &self.prep.cfg,
            name.as_bytes(),
            sys::process::uid(),
            &mut self.hosts,
        );
        if chosen.is_some() {
            self.host = chosen;
        }
        Ok(reply)
    }

    fn rein(&mut self) -> std::io::Result<bool> {
        if self.reins >= crate::limits::REIN_MAX {
            return Ok(false);
        }
        self.reins += 1;
        Ok(true)
    }
}

/// The idle timeout from the configuration (0 = none).
pub fn idle_timeout(cfg: &Config) -> Option<Duration> {
    (cfg.idle_session_timeout > 0).then(|| Duration::from_secs(cfg.idle_session_timeout.into()))
}

fn development(prep: &Prepared) -> i32 {
    let cfg = &prep.cfg;
    let link = if cfg.ssl_enable {
        let started = crate::tls::spawn(cfg, None).map_err(|e| e.to_string());
        match started {
            Ok(l) => Some(l),
            Err(e) => {
                refuse_client(&e);
                return 1;
            }
        }
    } else {
        None
    };
    let code = development_session(prep, link.as_ref());
    if let Some(l) = link {
        l.finish();
    }
    code
}

fn development_session(prep: &Prepared, link: Option<&crate::tls::Link>) -> i32 {
    let cfg = &prep.cfg;
    let mut ctl = Control::new(0, idle_timeout(cfg));
    let mut a = LocalAuth {
        prep,
        fails: 0,
        reins: 0,
        hosts: 0,
        host: None,
    };
    let mut rein = false;
    // One pass per login; REIN (counted by LocalAuth, at most limits::REIN_MAX) loops back
    // to the pre-login phase with everything but the failure count forgotten.
    loop {
        if prelogin::greet(&mut ctl, cfg, prep.banner.as_deref(), rein).is_err() {
            return 0;
        }
        rein = true;
        a.host = None;
        let mut tls = crate::session::tls::State::new(cfg);
        let user = match prelogin::run(&mut ctl, cfg, &mut a, &mut tls) {
            Ok(prelogin::Outcome::LoggedIn { user }) => user,
            Ok(prelogin::Outcome::Rein) => continue,
            _ => return 0,
        };
        let session_cfg = a.cfg().clone();
        let root = match &session_cfg.anon_root {
            Some(r) => PathBuf::from(r),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        };
        let session_ctl = Control::new(0, idle_timeout(&session_cfg));
        let ctx = postlogin::Context {
            cfg: session_cfg,
            local: prep.local,
            peer: prep.peer,
            root,
            anonymous: true,
            user,
            home: b"/".to_vec(),
            broker: None,
            tls: link
                .and_then(|l| l.side.try_clone().ok())
                .map(|s| (s, tls.private)),
            anon_uid: None,
        };
        match postlogin::run(session_ctl, ctx) {
            Ok(postlogin::Ended::Rein)
                if prelogin::Authenticator::rein(&mut a).unwrap_or(false) =>
            {
                log::set_user(b"");
                log::set_anon_pass(None);
            }
            Ok(postlogin::Ended::Rein) => {
                let _ = ctl.reply(421, prelogin::REIN_TOO_MANY);
                return 0;
            }
            Ok(postlogin::Ended::Quit) => return 0,
            Err(e) => {
                log::error(&format!("session ended: {e}"));
                return 1;
            }
        }
    }
}

/// The USER-time userlist check (monitor and development mode alike).
pub fn userlist_verdict(prep: &Prepared, fails: &mut u32, user: &[u8]) -> LoginReply {
    if crate::monitor::local::userlist_refuses_at_user(&prep.cfg, &prep.lists, user) {
        auth::account(&prep.cfg, fails, Err("denied by userlist_file"), user, None)
    } else {
        LoginReply::Ok
    }
}
