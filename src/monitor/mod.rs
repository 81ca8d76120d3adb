//! The monitor: the root process of a connection. It never reads a byte from the client.
//! It forks the pre-login session (nopriv_user in secure_chroot_dir), answers its login
//! and HOST requests, then forks the post-login session with the user's identity and jail,
//! and serves it port-20 data sockets, which need root to bind. After REIN (from either
//! session) it starts over with a fresh pre-login process; otherwise it ends when the
//! session ends.

pub mod auth;
pub mod host;
pub mod jail;
pub mod local;

use crate::config::Config;
use crate::ipc::{self, DataReply, LoginReply, PostloginRequest, PreloginRequest};
use crate::limits;
use crate::log;
use crate::session::control::Control;
use crate::session::entry::{idle_timeout, refuse_client, Prepared};
use crate::session::{postlogin, prelogin};
use crate::sys::{self, creds, process};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The identities and directories the sessions take on, resolved as root before any fork.
struct Plan {
    prelogin: creds::Identity,
    /// ftp_username's identity; its jail and umask come from the session's configuration
    /// (anon_root, anon_umask), which a virtual host may change.
    anon: creds::Identity,
    /// ftp_username's home: the anonymous root when anon_root is unset.
    ftp_home: PathBuf,
    /// chown_uploads: chown_username's uid and gid.
    chown_to: Option<(u32, u32)>,
}

fn plan(cfg: &Config) -> Result<Plan, String> {
    let nopriv = creds::lookup_user(&cfg.nopriv_user)
        .map_err(|e| format!("cannot look up nopriv_user '{}': {e}", cfg.nopriv_user))?
        .ok_or_else(|| {
            format!(
                "nopriv_user '{}' does not exist (create it or set nopriv_user)",
                cfg.nopriv_user
            )
        })?;
    let empty = PathBuf::from(&cfg.secure_chroot_dir);
    check_secure_dir(&empty)?;
    let ftp = creds::lookup_user(&cfg.ftp_username)
        .map_err(|e| format!("cannot look up ftp_username '{}': {e}", cfg.ftp_username))?
        .ok_or_else(|| {
            format!(
                "ftp_username '{}' does not exist (create it or set ftp_username)",
                cfg.ftp_username
            )
        })?;
    let chown_to = if cfg.chown_uploads {
        let u = creds::lookup_user(&cfg.chown_username)
            .map_err(|e| {
                format!(
                    "cannot look up chown_username '{}': {e}",
                    cfg.chown_username
                )
            })?
            .ok_or_else(|| format!("chown_username '{}' does not exist", cfg.chown_username))?;
        Some((u.uid, u.gid))
    } else {
        None
    };
    Ok(Plan {
        prelogin: creds::Identity {
            uid: nopriv.uid,
            gid: nopriv.gid,
            groups: vec![],
            chroot: Some(empty),
            chdir: PathBuf::from("/"),
            umask: 0o077,
        },
        anon: creds::Identity {
            uid: ftp.uid,
            gid: ftp.gid,
            groups: vec![],
            chroot: None,
            chdir: PathBuf::from("/"),
            umask: cfg.anon_umask,
        },
        ftp_home: ftp.home,
        chown_to,
    })
}

/// SECURITY: the pre-login jail must exist, be a directory owned by root and writable by
/// nobody else, or a compromised pre-login process could plant files in it.
fn check_secure_dir(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(p).map_err(|e| {
        format!(
            "secure_chroot_dir {}: {e} (create it as an empty directory owned by root, mode 0755)",
            p.display()
        )
    })?;
    if !md.is_dir() || md.uid() != 0 || md.mode() & 0o022 != 0 {
        return Err(format!(
            "secure_chroot_dir {} must be a directory owned by root and not writable by group or others",
            p.display()
        ));
    }
    Ok(())
}

/// Run the monitor for the connection on fd 0. Returns the exit status.
pub fn run(prep: &Prepared) -> i32 {
    let plan = match plan(&prep.cfg) {
        Ok(p) => p,
        Err(e) => {
            refuse_client(&e);
            return 1;
        }
    };
    // ssl_enable: the TLS holder takes over the client's socket before any session process
    // exists; it reads the key itself, so the monitor (and every session it forks) never
    // has it in memory.
    let link = if prep.cfg.ssl_enable {
        match crate::tls::spawn(&prep.cfg, Some(&plan.prelogin)) {
            Ok(l) => Some(l),
            Err(e) => {
                refuse_client(&format!("cannot start the TLS process: {e}"));
                return 1;
            }
        }
    } else {
        None
    };
    let r = run_phases(prep, &plan, link.as_ref());
    if let Some(l) = link {
        l.finish();
    }
    match r {
        Ok(code) => code,
        Err(e) => {
            log::error(&format!("monitor: {e}"));
            1
        }
    }
}

fn run_phases(prep: &Prepared, plan: &Plan, link: Option<&crate::tls::Link>) -> io::Result<i32> {
    let me = process::pid();
    // SECURITY: kept across REIN: failed logins count for the whole connection, so
    // starting over never buys a client more password guesses; REIN itself is bounded.
    let mut counts = Counts::default();
    let mut rein = false;
    loop {
        // Phase 1: pre-login (again after REIN, in a fresh process).
        let (mon, sess) = sys::fdpass::pair()?;
        let child = match process::fork()? {
            process::Fork::Child => {
                drop(mon);
                // The pre-login process has no data connections: no side channel to the holder.
                if let Some(l) = link {
                    sys::io::close_raw(l.side.as_raw_fd());
                }
                let code = prelogin_child(prep, plan, me, sess, rein);
                process::exit_now(code);
            }
            process::Fork::Parent(pid) => pid,
        };
        drop(sess);
        let phase = login_loop(prep, plan, mon.as_raw_fd(), child, &mut counts)?;
        drop(mon);
        let post = match phase {
            PreloginEnd::LoggedIn(post) => post,
            PreloginEnd::Rein => {
                rein = true;
                continue;
            }
            PreloginEnd::Closed => return Ok(0),
        };
        // Phase 2: post-login, forked fresh from the monitor.
        let (mon, sess) = sys::fdpass::pair()?;
        let child = match process::fork()? {
            process::Fork::Child => {
                drop(mon);
                let side = link.and_then(|l| l.side.try_clone().ok());
                let code = postlogin_child(prep, &post, me, sess, side);
                process::exit_now(code);
            }
            process::Fork::Parent(pid) => pid,
        };
        drop(sess);
        let r = serve_postlogin(prep, plan, &post, mon.as_raw_fd(), &mut counts);
        match &r {
            Err(_) => process::kill_child(child),
            // SECURITY: after REIN the old session must be gone before a new pre-login
            // process serves the connection: a session that does not exit is killed.
            Ok(true) => end_child(mon.as_raw_fd(), child),
            Ok(false) => {}
        }
        let _ = process::wait_pid(child);
        drop(mon);
        if !r? {
            return Ok(0);
        }
        // The next log lines are nobody's until the next login.
        log::set_user(b"");
        log::set_anon_pass(None);
        rein = true;
    }
}

/// What the monitor counts for the whole connection.
#[derive(Default)]
struct Counts {
    /// Failed logins (max_login_fails).
    fails: u32,
    /// REIN commands honoured (limits::REIN_MAX).
    reins: u32,
    /// HOST commands looked up (limits::HOST_MAX).
    hosts: u32,
}

impl Counts {
    /// Count a REIN if one more is allowed.
    fn rein(&mut self) -> ipc::Status {
        if self.reins >= limits::REIN_MAX {
            log::warn(&format!(
                "REIN refused: {} already on this connection",
                limits::REIN_MAX
            ));
            return ipc::Status::Failed(EACCES);
        }
        self.reins += 1;
        ipc::Status::Ok
    }
}

/// Give a session process that was told to end (REIN) a few seconds to close its channel,
/// then kill it. The caller reaps it.
fn end_child(sock: RawFd, child: i32) {
    let closed = matches!(
        sys::io::poll_readable(&[sock], Some(Duration::from_secs(5))),
        Ok(sys::io::Ready::Fd(_))
    ) && matches!(ipc::recv(sock), Ok(None));
    // SECURITY: a session that neither ends nor stays quiet after asking to end gets no
    // more answers: it is killed.
    if !closed {
        process::kill_child(child);
    }
}

/// How the pre-login phase ended.
enum PreloginEnd {
    LoggedIn(Box<PostPlan>),
    Rein,
    Closed,
}

/// How the post-login session is set up, decided by the monitor before it says yes.
struct PostPlan {
    identity: creds::Identity,
    /// The configuration with the user's user_config_dir overrides applied.
    cfg: Config,
    anonymous: bool,
    user: Vec<u8>,
    /// The start directory, as the client sees it.
    home: Vec<u8>,
    anon_uid: Option<u32>,
    /// The jail, when a writable one must be refused.
    refuse_writable: Option<PathBuf>,
    /// PROT P was set before login.
    tls_private: bool,
}

/// An anonymous session with `cfg` (the main configuration, or a virtual host's).
fn plan_anonymous(cfg: &Config, plan: &Plan) -> PostPlan {
    let anon_root = match &cfg.anon_root {
        Some(r) => PathBuf::from(r),
        None => plan.ftp_home.clone(),
    };
    PostPlan {
        identity: creds::Identity {
            chroot: Some(anon_root.clone()),
            umask: cfg.anon_umask,
            ..plan.anon.clone()
        },
        cfg: cfg.clone(),
        anonymous: true,
        user: cfg.ftp_username.clone().into_bytes(),
        home: b"/".to_vec(),
        anon_uid: Some(plan.anon.uid),
        // As vsftpd, allow_writeable_chroot does not apply to anonymous sessions.
        refuse_writable: Some(anon_root),
        tls_private: false,
    }
}

/// A local user's session: `base` (the main configuration, or a virtual host's) with the
/// user's user_config_dir file on top.
fn plan_local(prep: &Prepared, base: &Config, lu: &local::LocalUser) -> Result<PostPlan, String> {
    let u = &lu.user;
    let mut cfg = base.clone();
    if let Some(dir) = &base.user_config_dir {
        // SECURITY: per-user overrides come from a root-owned file the monitor reads before
        // any identity change; the user name was checked against the account database.
        let path = Path::new(dir).join(&u.name);
        if path.exists() {
            for w in cfg.load_file(&path, Some(0)).map_err(|e| e.to_string())? {
                log::warn(&format!("warning: {w}"));
            }
            cfg.validate()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            // A host name the user's file gives pasv_address (with pasv_addr_resolve=YES)
            // is looked up here, in the monitor, before the session is forked and jailed.
            for w in cfg
                .resolve_names(&mut sys::net::lookup_host)
                .map_err(|e| e.to_string())?
            {
                log::warn(&format!("warning: {w}"));
            }
        }
    }
    let home = u.home.to_str().ok_or("home directory is not valid UTF-8")?;
    let jailed = jail::jailed(&cfg, &u.name, &prep.chroot_list);
    let j = jail::plan(&cfg, &u.name, home, jailed)?;
    let groups =
        local::groups_of(u).map_err(|e| format!("cannot read the groups of {}: {e}", u.name))?;
    let refuse_writable = match (&j.chroot, cfg.allow_writeable_chroot) {
        (Some(root), false) => Some(root.clone()),
        _ => None,
    };
    Ok(PostPlan {
        identity: creds::Identity {
            uid: u.uid,
            gid: u.gid,
            groups,
            chroot: j.chroot.clone(),
            chdir: j.start.clone(),
            umask: cfg.local_umask,
        },
        home: j.start.as_os_str().as_encoded_bytes().to_vec(),
        cfg,
        anonymous: false,
        user: u.name.clone().into_bytes(),
        anon_uid: None,
        refuse_writable,
        tls_private: false,
    })
}

/// Answer the pre-login process until a login succeeds (the plan for the post-login
/// session), it asks to start over (REIN) or it is gone. Returns only after the pre-login
/// process has ended, so only one process ever writes to the control connection.
fn login_loop(
    prep: &Prepared,
    plan: &Plan,
    sock: RawFd,
    child: i32,
    counts: &mut Counts,
) -> io::Result<PreloginEnd> {
    // The virtual host chosen with HOST: its configuration replaces the main one for the
    // logins of this phase (REIN forgets it, as RFC 7151 asks).
    let mut host_cfg: Option<Config> = None;
    let end = |kill: bool, how: PreloginEnd| {
        if kill {
            process::kill_child(child);
        }
        let _ = process::wait_pid(child);
        Ok(how)
    };
    loop {
        let msg = match ipc::recv(sock) {
            Ok(Some((m, None))) => m,
            // SECURITY: a descriptor or a malformed message from the session ends it.
            Ok(Some((_, Some(_)))) | Err(_) => return end(true, PreloginEnd::Closed),
            Ok(None) => return end(false, PreloginEnd::Closed),
        };
        let req = match PreloginRequest::decode(&msg) {
            Ok(r) => r,
            Err(e) => {
                log::error(&format!("pre-login session sent a bad request: {e}"));
                return end(true, PreloginEnd::Closed);
            }
        };
        let cfg = host_cfg.as_ref().unwrap_or(&prep.cfg);
        let (reply, post) = match req {
            PreloginRequest::CheckUser { user } => (
                crate::session::entry::userlist_verdict(prep, &mut counts.fails, &user),
                None,
            ),
            PreloginRequest::Host { name } => {
                // SECURITY: the monitor reads the file itself, as root, from its own
                // host_config_dir and a name it checks again (host::load).
                // SECURITY: bounded, so HOST cannot make root read files and write log
                // lines at line rate.
                let (reply, chosen) = host::select_bounded(&prep.cfg, &name, 0, &mut counts.hosts);
                if chosen.is_some() {
                    host_cfg = chosen;
                }
                ipc::send(sock, &reply.encode()?, None)?;
                continue;
            }
            PreloginRequest::Rein => {
                let status = counts.rein();
                status.send(sock)?;
                if status == ipc::Status::Ok {
                    // The pre-login process exits on its own; do not wait on a misbehaving one.
                    end_child(sock, child);
                    return end(false, PreloginEnd::Rein);
                }
                continue;
            }
            PreloginRequest::Login {
                user,
                pass,
                private,
            } => {
                let verdict = auth::check(
                    cfg,
                    &prep.anon_lists,
                    Some(&prep.lists),
                    &user,
                    pass.expose(),
                );
                let anonymous = matches!(verdict, Ok(auth::Login::Anonymous));
                let post = match verdict {
                    Ok(auth::Login::Anonymous) => Ok(plan_anonymous(cfg, plan)),
                    Ok(auth::Login::Local(lu)) => plan_local(prep, cfg, &lu),
                    Err(e) => Err(e),
                }
                .map(|p| PostPlan {
                    tls_private: private,
                    ..p
                });
                let result = post.as_ref().map(|_| ()).map_err(|e| e.as_str());
                let anon_pass = (anonymous && post.is_ok()).then(|| pass.expose());
                let reply = auth::account(cfg, &mut counts.fails, result, &user, anon_pass);
                drop(pass);
                (reply, post.ok())
            }
        };
        ipc::send(sock, &reply.encode(), None)?;
        match (reply, post) {
            (LoginReply::Ok, Some(post)) => {
                // The pre-login process exits on its own; do not wait on a misbehaving one.
                if sys::io::poll_readable(&[sock], Some(Duration::from_secs(5)))?
                    == sys::io::Ready::Timeout
                {
                    process::kill_child(child);
                }
                let _ = process::wait_pid(child);
                return Ok(PreloginEnd::LoggedIn(Box::new(post)));
            }
            (LoginReply::FailClose, _) => return end(false, PreloginEnd::Closed),
            _ => {}
        }
    }
}

/// EACCES, for a refused port-20 request.
const EACCES: i32 = 13;

/// Serve the post-login session's requests (port-20 sockets, upload ownership) until it
/// closes the channel (Ok(false)) or REIN is agreed (Ok(true): the session is ending).
fn serve_postlogin(
    prep: &Prepared,
    plan: &Plan,
    post: &PostPlan,
    sock: RawFd,
    counts: &mut Counts,
) -> io::Result<bool> {
    let cfg = &post.cfg;
    loop {
        let (msg, fd) = match ipc::recv(sock)? {
            None => return Ok(false),
            Some(x) => x,
        };
        match (PostloginRequest::decode(&msg)?, fd) {
            (PostloginRequest::Rein, None) => {
                let status = counts.rein();
                status.send(sock)?;
                if status == ipc::Status::Ok {
                    return Ok(true);
                }
            }
            (PostloginRequest::DataConnect { port, addr }, None) => {
                // SECURITY: the target is the control peer unless port_promiscuous=YES, and
                // never a privileged port without it, whatever the session asked for.
                let target_ip = match (cfg.port_promiscuous, addr) {
                    (true, Some(a)) => a,
                    _ => prep.peer.ip(),
                };
                if port == 0 || (port < 1024 && !cfg.port_promiscuous) {
                    DataReply::Failed(EACCES).send(sock)?;
                    continue;
                }
                // The control connection's own addresses, scope ids included (an IPv6
                // link-local client is reached on its link).
                let mut local = prep.local;
                local.set_port(cfg.ftp_data_port as u16);
                let target = crate::session::data::active_target(
                    SocketAddr::new(target_ip, port),
                    prep.peer,
                );
                let timeout = Duration::from_secs(cfg.connect_timeout.max(1).into());
                match sys::net::connect_from(local, target, timeout) {
                    Ok(stream) => DataReply::Connected(OwnedFd::from(stream)).send(sock)?,
                    Err(e) => DataReply::Failed(e.raw_os_error().unwrap_or(0)).send(sock)?,
                }
            }
            (PostloginRequest::ChownUpload, Some(fd)) => {
                let status = match chown_upload(cfg, plan, post, fd) {
                    Ok(()) => ipc::Status::Ok,
                    Err(e) => {
                        log::error(&format!("chown_uploads: {e}"));
                        ipc::Status::Failed(e.raw_os_error().unwrap_or(EACCES))
                    }
                };
                status.send(sock)?;
            }
            // SECURITY: a request with the wrong descriptor attachment ends the session.
            _ => return Err(io::Error::other("malformed request from the session")),
        }
    }
}

/// chown_uploads, on the descriptor the session sent, never on a path.
fn chown_upload(cfg: &Config, plan: &Plan, post: &PostPlan, fd: OwnedFd) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (Some((uid, gid)), Some(anon)) = (plan.chown_to, post.anon_uid) else {
        return Err(io::Error::from_raw_os_error(EACCES));
    };
    let f = std::fs::File::from(fd);
    let md = f.metadata()?;
    // SECURITY: only a regular file the anonymous account owns, with a single link (no
    // hard link to some other file), is handed over.
    if !cfg.chown_uploads || !post.anonymous || !md.is_file() || md.uid() != anon || md.nlink() != 1
    {
        return Err(io::Error::from_raw_os_error(EACCES));
    }
    std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
    f.set_permissions(std::fs::Permissions::from_mode(
        cfg.chown_upload_mode & 0o777,
    ))?;
    Ok(())
}

struct IpcAuth {
    sock: OwnedFd,
}

impl IpcAuth {
    fn ask(&mut self, req: PreloginRequest) -> io::Result<LoginReply> {
        ipc::send(self.sock.as_raw_fd(), &req.encode()?, None)?;
        match ipc::recv(self.sock.as_raw_fd())? {
            Some((m, None)) => LoginReply::decode(&m),
            _ => Err(io::Error::other("monitor went away")),
        }
    }
}

impl prelogin::Authenticator for IpcAuth {
    fn login(
        &mut self,
        user: &[u8],
        pass: crate::ipc::Secret,
        private: bool,
    ) -> io::Result<LoginReply> {
        self.ask(PreloginRequest::Login {
            private,
            user: user.to_vec(),
            pass,
        })
    }

    fn check_user(&mut self, user: &[u8]) -> io::Result<LoginReply> {
        self.ask(PreloginRequest::CheckUser {
            user: user.to_vec(),
        })
    }

    fn host(&mut self, name: &str) -> io::Result<ipc::HostReply> {
        let req = PreloginRequest::Host {
            name: name.as_bytes().to_vec(),
        };
        ipc::send(self.sock.as_raw_fd(), &req.encode()?, None)?;
        match ipc::recv(self.sock.as_raw_fd())? {
            Some((m, None)) => ipc::HostReply::decode(&m),
            _ => Err(io::Error::other("monitor went away")),
        }
    }

    fn rein(&mut self) -> io::Result<bool> {
        ipc::send(
            self.sock.as_raw_fd(),
            &PreloginRequest::Rein.encode()?,
            None,
        )?;
        Ok(ipc::Status::recv(self.sock.as_raw_fd())? == ipc::Status::Ok)
    }
}

/// The pre-login process: drop to nopriv_user in the empty jail, greet, and speak FTP
/// until a login succeeds. Returns the exit code.
fn prelogin_child(prep: &Prepared, plan: &Plan, monitor: i32, sess: OwnedFd, rein: bool) -> i32 {
    if process::die_with_parent(monitor).is_err() {
        return 1;
    }
    if let Err(e) = creds::change_identity(&plan.prelogin) {
        refuse_client(&format!("pre-login: cannot drop privileges: {e}"));
        return 1;
    }
    // The kernel clears the parent-death signal when the credentials change: set it again.
    if process::die_with_parent(monitor).is_err() {
        return 1;
    }
    // SECURITY: the process that parses client bytes before login holds no log file unless
    // it logs the protocol; and it never needs to fork.
    if !crate::log::logs_protocol() {
        crate::log::close_files();
    }
    let _ = process::limit(process::Resource::Nproc, 0);
    let cfg = &prep.cfg;
    let mut ctl = Control::new(0, idle_timeout(cfg));
    if prelogin::greet(&mut ctl, cfg, prep.banner.as_deref(), rein).is_err() {
        return 0;
    }
    let mut auth = IpcAuth { sock: sess };
    let mut tls = crate::session::tls::State::new(cfg);
    match prelogin::run(&mut ctl, cfg, &mut auth, &mut tls) {
        Ok(_) => 0,
        Err(e) => {
            log::error(&format!("pre-login session ended: {e}"));
            1
        }
    }
}

/// The post-login process: take the user's identity and jail, then serve the session.
fn postlogin_child(
    prep: &Prepared,
    post: &PostPlan,
    monitor: i32,
    sess: OwnedFd,
    side: Option<OwnedFd>,
) -> i32 {
    if process::die_with_parent(monitor).is_err() {
        return 1;
    }
    let who = String::from_utf8_lossy(&post.user).into_owned();
    if let Err(e) = creds::change_identity(&post.identity) {
        let place = post
            .identity
            .chroot
            .as_ref()
            .unwrap_or(&post.identity.chdir);
        refuse_client(&format!(
            "cannot enter {} as user '{who}': {e}",
            place.display()
        ));
        return 1;
    }
    // The kernel clears the parent-death signal when the credentials change: set it again.
    if process::die_with_parent(monitor).is_err() {
        return 1;
    }
    // SECURITY: a jail the user can write to lets them plant files the C library trusts
    // (as vsftpd: always refused for anonymous sessions, and for local users unless
    // allow_writeable_chroot=YES).
    if let Some(jail) = &post.refuse_writable {
        if sys::fs::can_write(Path::new("/")) {
            let j = jail.display();
            let msg = if post.anonymous {
                format!(
                    "refusing to run with a writable anonymous root: {j} is writable by user '{who}'; remove write permission (chmod a-w {j})"
                )
            } else {
                format!(
                    "refusing to run with writable root inside chroot(): {j} is writable by user '{who}'; remove write permission (chmod a-w {j}) or set allow_writeable_chroot=YES"
                )
            };
            log::error(&msg);
            let _ = sys::io::write_all(0, format!("500 OOPS: {msg}\r\n").as_bytes());
            return 1;
        }
    }
    let ctl = Control::new(0, idle_timeout(&post.cfg));
    let ctx = postlogin::Context {
        cfg: post.cfg.clone(),
        local: prep.local,
        peer: prep.peer,
        root: PathBuf::from("/"),
        anonymous: post.anonymous,
        user: post.user.clone(),
        home: post.home.clone(),
        broker: Some(sess),
        tls: side.map(|s| (s, post.tls_private)),
        // The drop-box rule: without anon_other_write_enable, the anonymous account's files
        // are uploads that anonymous sessions may neither list nor fetch.
        anon_uid: post.anon_uid.filter(|_| !post.cfg.anon_other_write_enable),
    };
    match postlogin::run(ctl, ctx) {
        Ok(_) => 0,
        Err(e) => {
            log::error(&format!("session ended: {e}"));
            1
        }
    }
}
