//! Processes: fork, _exit, wait, kill, the parent-death signal, signal dispositions and
//! resource limits. Used by the monitor (forks sessions), the post-login session (forks
//! transfer children) and the standalone listener (forks one tree per connection).

use super::{cvt, retry};
use std::io;

/// The result of fork(2), seen from each side.
pub enum Fork {
    Parent(i32),
    Child,
}

/// fork(2). rsftpd never has more than one thread, so the child may run arbitrary code.
/// Callers must not hold a buffered writer across the fork (DESIGN.md habit 6).
pub fn fork() -> io::Result<Fork> {
    // SAFETY: the process is single-threaded (no threads are ever started), so the child's
    // address space is consistent.
    let pid = cvt(unsafe { libc::fork() })?;
    Ok(if pid == 0 {
        Fork::Child
    } else {
        Fork::Parent(pid)
    })
}

/// End this process at once without running destructors or atexit handlers: what a forked
/// child must do so it never flushes or frees state that belongs to its parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and does not return.
    unsafe { libc::_exit(code) }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
}

/// Wait for one specific child.
pub fn wait_pid(pid: i32) -> io::Result<Status> {
    let mut st: libc::c_int = 0;
    // SAFETY: st is a valid int to fill.
    retry(|| cvt(unsafe { libc::waitpid(pid, &mut st, 0) }))?;
    Ok(decode(st))
}

/// Reap a child if it has ended; None if it is still running.
pub fn try_wait_pid(pid: i32) -> io::Result<Option<Status>> {
    let mut st: libc::c_int = 0;
    // SAFETY: st is a valid int to fill.
    let r = retry(|| cvt(unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) }))?;
    Ok(if r == 0 { None } else { Some(decode(st)) })
}

/// Reap one ended child, whichever it is, without blocking: its pid and how it ended, or
/// None when no child has ended (or there are no children). The standalone listener calls
/// this until None to keep its table of sessions exact.
pub fn try_wait_any() -> Option<(i32, Status)> {
    let mut st: libc::c_int = 0;
    // SAFETY: st is a valid int to fill.
    let r = retry(|| cvt(unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) })).ok()?;
    (r > 0).then(|| (r, decode(st)))
}

fn decode(st: libc::c_int) -> Status {
    if libc::WIFEXITED(st) {
        Status::Exited(libc::WEXITSTATUS(st))
    } else {
        Status::Signaled(libc::WTERMSIG(st))
    }
}

/// Send SIGKILL to a child we started.
pub fn kill_child(pid: i32) {
    // SAFETY: kill has no memory-safety preconditions; pid is one of our own children.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Make the kernel kill this process when its parent dies, then check the parent did not
/// die before that took effect (DESIGN.md: no child outlives its parent). A change of
/// uid or gid clears the setting (prctl(2)), so call this again after changing identity.
pub fn die_with_parent(expected_parent: i32) -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers.
    cvt(unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    })?;
    if parent_pid() != expected_parent {
        exit_now(1);
    }
    Ok(())
}

pub fn pid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

pub fn parent_pid() -> i32 {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() }
}

/// True when the effective uid is root.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

pub fn gid() -> u32 {
    // SAFETY: getgid cannot fail.
    unsafe { libc::getgid() }
}

/// Ignore SIGPIPE: a client that goes away mid-write gives EPIPE, which is handled.
pub fn ignore_sigpipe() {
    set_disposition(libc::SIGPIPE, libc::SIG_IGN);
}

/// SIGCHLD disposition: `true` lets the kernel reap children automatically (SIG_IGN);
/// `false` restores SIG_DFL, so ended children stay waitable. The standalone listener sets
/// `false` at start, since an ignored SIGCHLD inherited across exec would make waitpid fail
/// and its table of sessions never shrink.
pub fn auto_reap_children(on: bool) {
    set_disposition(
        libc::SIGCHLD,
        if on { libc::SIG_IGN } else { libc::SIG_DFL },
    );
}

fn set_disposition(sig: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: installing SIG_IGN or SIG_DFL runs no code of ours in signal context.
    unsafe {
        libc::signal(sig, handler);
    }
}

/// Cap a resource limit (soft and hard) at `value`.
pub fn limit(resource: Resource, value: u64) -> io::Result<()> {
    let r = match resource {
        Resource::Core => libc::RLIMIT_CORE,
        Resource::Nproc => libc::RLIMIT_NPROC,
    };
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: lim is a valid rlimit structure.
    cvt(unsafe { libc::setrlimit(r, &lim) })?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub enum Resource {
    Core,
    Nproc,
}

/// Detach from the terminal for `background=YES`: fork, the parent exits, the child starts
/// a new session.
pub fn daemonize() -> io::Result<()> {
    match fork()? {
        Fork::Parent(_) => exit_now(0),
        Fork::Child => {
            // SAFETY: setsid has no memory-safety preconditions.
            cvt(unsafe { libc::setsid() })?;
            Ok(())
        }
    }
}
