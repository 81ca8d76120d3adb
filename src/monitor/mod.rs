//! The monitor: the root process of a connection. It never reads a byte from the client.
//! It forks the pre-login session (nopriv_user in secure_chroot_dir), answers its login
//! requests, then forks the post-login session with the user's identity and jail, and
//! serves it port-20 data sockets, which need root to bind. It ends when the session ends.

pub mod auth;
pub mod jail;

use crate::config::Config;
use crate::ipc::{self, DataReply, LoginReply, PostloginRequest, PreloginRequest};
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
    anon: creds::Identity,
    anon_root: PathBuf,
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
    let anon_root = match &cfg.anon_root {
        Some(r) => PathBuf::from(r),
        None => ftp.home.clone(),
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
            chroot: Some(anon_root.clone()),
            chdir: PathBuf::from("/"),
            umask: cfg.anon_umask,
        },
        anon_root,
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
    match run_phases(prep, &plan) {
        Ok(code) => code,
        Err(e) => {
            log::error(&format!("monitor: {e}"));
            1
        }
    }
}

fn run_phases(prep: &Prepared, plan: &Plan) -> io::Result<i32> {
    let me = process::pid();
    // Phase 1: pre-login.
    let (mon, sess) = sys::fdpass::pair()?;
    let child = match process::fork()? {
        process::Fork::Child => {
            drop(mon);
            let code = prelogin_child(prep, plan, me, sess);
            process::exit_now(code);
        }
        process::Fork::Parent(pid) => pid,
    };
    drop(sess);
    let logged_in = login_loop(prep, mon.as_raw_fd(), child)?;
    drop(mon);
    if !logged_in {
        return Ok(0);
    }
    // Phase 2: post-login, forked fresh from the monitor.
    let (mon, sess) = sys::fdpass::pair()?;
    let child = match process::fork()? {
        process::Fork::Child => {
            drop(mon);
            let code = postlogin_child(prep, plan, me, sess);
            process::exit_now(code);
        }
        process::Fork::Parent(pid) => pid,
    };
    drop(sess);
    let r = serve_postlogin(prep, mon.as_raw_fd());
    if r.is_err() {
        process::kill_child(child);
    }
    let _ = process::wait_pid(child);
    r.map(|_| 0)
}

/// Answer login requests until one succeeds (true) or the pre-login process is gone
/// (false). Returns only after the pre-login process has ended, so only one process ever
/// writes to the control connection.
fn login_loop(prep: &Prepared, sock: RawFd, child: i32) -> io::Result<bool> {
    let mut fails = 0u32;
    loop {
        let msg = match ipc::recv(sock) {
            Ok(Some((m, None))) => m,
            Ok(Some((_, Some(_)))) | Err(_) => {
                // SECURITY: a descriptor or a malformed message from the session ends it.
                process::kill_child(child);
                let _ = process::wait_pid(child);
                return Ok(false);
            }
            Ok(None) => {
                let _ = process::wait_pid(child);
                return Ok(false);
            }
        };
        let PreloginRequest::Login { user, pass } = match PreloginRequest::decode(&msg) {
            Ok(r) => r,
            Err(e) => {
                log::error(&format!("pre-login session sent a bad request: {e}"));
                process::kill_child(child);
                let _ = process::wait_pid(child);
                return Ok(false);
            }
        };
        let verdict = auth::check(&prep.cfg, &prep.banned_emails, &user, pass.expose());
        drop(pass);
        let reply = auth::account(&prep.cfg, &mut fails, verdict.is_some(), prep.peer, &user);
        ipc::send(sock, &reply.encode(), None)?;
        match reply {
            LoginReply::Ok => {
                // The pre-login process exits on its own; do not wait on a misbehaving one.
                if sys::io::poll_readable(&[sock], Some(Duration::from_secs(5)))?
                    == sys::io::Ready::Timeout
                {
                    process::kill_child(child);
                }
                let _ = process::wait_pid(child);
                return Ok(true);
            }
            LoginReply::FailClose => {
                let _ = process::wait_pid(child);
                return Ok(false);
            }
            LoginReply::Fail => {}
        }
    }
}

/// Serve the post-login session's requests (port-20 sockets) until it closes the channel.
fn serve_postlogin(prep: &Prepared, sock: RawFd) -> io::Result<()> {
    let cfg = &prep.cfg;
    loop {
        let msg = match ipc::recv(sock)? {
            None => return Ok(()),
            Some((m, None)) => m,
            Some((_, Some(_))) => return Err(io::Error::other("session passed a descriptor")),
        };
        let PostloginRequest::DataConnect { port, addr } = PostloginRequest::decode(&msg)?;
        // SECURITY: the target is the control peer unless port_promiscuous=YES, and never a
        // privileged port without it, whatever the session asked for (bounce protection).
        let target_ip = match (cfg.port_promiscuous, addr) {
            (true, Some(a)) => a,
            _ => prep.peer.ip(),
        };
        if port == 0 || (port < 1024 && !cfg.port_promiscuous) {
            DataReply::Failed(libc_eacces()).send(sock)?;
            continue;
        }
        let local = SocketAddr::new(prep.local.ip(), cfg.ftp_data_port as u16);
        let timeout = Duration::from_secs(cfg.connect_timeout.max(1).into());
        match sys::net::connect_from(local, SocketAddr::new(target_ip, port), timeout) {
            Ok(stream) => DataReply::Connected(OwnedFd::from(stream)).send(sock)?,
            Err(e) => DataReply::Failed(e.raw_os_error().unwrap_or(0)).send(sock)?,
        }
    }
}

fn libc_eacces() -> i32 {
    io::Error::from(io::ErrorKind::PermissionDenied)
        .raw_os_error()
        .unwrap_or(13)
}

struct IpcAuth {
    sock: OwnedFd,
}

impl prelogin::Authenticator for IpcAuth {
    fn login(&mut self, user: &[u8], pass: crate::ipc::Secret) -> io::Result<LoginReply> {
        let msg = PreloginRequest::Login {
            user: user.to_vec(),
            pass,
        }
        .encode()?;
        ipc::send(self.sock.as_raw_fd(), &msg, None)?;
        match ipc::recv(self.sock.as_raw_fd())? {
            Some((m, None)) => LoginReply::decode(&m),
            _ => Err(io::Error::other("monitor went away")),
        }
    }
}

/// The pre-login process: drop to nopriv_user in the empty jail, greet, and speak FTP
/// until a login succeeds. Returns the exit code.
fn prelogin_child(prep: &Prepared, plan: &Plan, monitor: i32, sess: OwnedFd) -> i32 {
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
    // SECURITY: the pre-login process never needs to fork.
    let _ = process::limit(process::Resource::Nproc, 0);
    let cfg = &prep.cfg;
    let mut ctl = Control::new(0, idle_timeout(cfg));
    if prelogin::greet(&mut ctl, cfg, prep.banner.as_deref()).is_err() {
        return 0;
    }
    let mut auth = IpcAuth { sock: sess };
    match prelogin::run(&mut ctl, cfg, &mut auth) {
        Ok(_) => 0,
        Err(e) => {
            log::error(&format!("pre-login session ended: {e}"));
            1
        }
    }
}

/// The post-login process: take the user's identity and jail, then serve the session.
fn postlogin_child(prep: &Prepared, plan: &Plan, monitor: i32, sess: OwnedFd) -> i32 {
    if process::die_with_parent(monitor).is_err() {
        return 1;
    }
    if let Err(e) = creds::change_identity(&plan.anon) {
        refuse_client(&format!(
            "cannot enter anon_root {}: {e}",
            plan.anon_root.display()
        ));
        return 1;
    }
    // The kernel clears the parent-death signal when the credentials change: set it again.
    if process::die_with_parent(monitor).is_err() {
        return 1;
    }
    // SECURITY: a jail the user can write to lets them plant files the C library trusts
    // (as vsftpd, refused for anonymous users).
    if sys::fs::can_write(Path::new("/")) {
        let msg = format!(
            "refusing to run with a writable anonymous root: {} is writable by user '{}'; remove write permission (chmod a-w {})",
            plan.anon_root.display(),
            prep.cfg.ftp_username,
            plan.anon_root.display()
        );
        log::error(&msg);
        let _ = sys::io::write_all(0, format!("500 OOPS: {msg}\r\n").as_bytes());
        return 1;
    }
    let ctl = Control::new(0, idle_timeout(&prep.cfg));
    let ctx = postlogin::Context {
        cfg: prep.cfg.clone(),
        local: prep.local,
        peer: prep.peer,
        root: PathBuf::from("/"),
        anonymous: true,
        user: prep.cfg.ftp_username.clone().into_bytes(),
        broker: Some(sess),
        anon_uid: Some(plan.anon.uid),
    };
    match postlogin::run(ctl, ctx) {
        Ok(()) => 0,
        Err(e) => {
            log::error(&format!("session ended: {e}"));
            1
        }
    }
}
