//! Identity: user look-ups (done before any chroot) and the one function that changes a
//! process's identity, in one order, then verifies the result. Run by the monitor's forked
//! children (pre-login and post-login sessions) right after the fork, while still root;
//! `effective` is read by post-login sessions (the identity MLSD's `perm` fact is for).

use super::cvt;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A user account as the name service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// Look a user up by name (getpwnam_r through nix). Ok(None): no such user.
pub fn lookup_user(name: &str) -> io::Result<Option<UserRecord>> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok(Some(UserRecord {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
            shell: u.shell,
        })),
        Ok(None) => Ok(None),
        Err(e) => Err(io::Error::from_raw_os_error(e as i32)),
    }
}

/// The identity a session process takes on.
#[derive(Debug, Clone)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (may be empty).
    pub groups: Vec<u32>,
    /// Directory to chroot into, if any.
    pub chroot: Option<PathBuf>,
    /// Working directory afterwards (inside the new root when chrooted).
    pub chdir: PathBuf,
    pub umask: u32,
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Change identity in the one agreed order: groups, chdir, chroot, setresgid, setresuid,
/// no_new_privs, umask; then verify every part of it. Any failure is an error the caller
/// must treat as fatal for the process.
///
/// The jail is entered with the user's effective ids (seteuid around the chdir) and the
/// start directory is entered after the final setresuid, as the user: home directories on
/// file systems where root is squashed (NFS) keep working, and a user never starts in a
/// directory they could not enter themselves.
pub fn change_identity(id: &Identity) -> io::Result<()> {
    // SECURITY: never hand a client-facing process root's identity, whatever the config says.
    if id.uid == 0 || id.gid == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "refusing to run a session as uid or gid 0",
        ));
    }
    let groups: Vec<libc::gid_t> = id.groups.clone();
    // SAFETY: groups is a valid array of groups.len() gids.
    cvt(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) })?;
    if let Some(root) = &id.chroot {
        let c = cpath(root)?;
        // SAFETY: setegid/seteuid take plain integers; the real uid stays 0, so the
        // effective ids can be switched back right after.
        cvt(unsafe { libc::setegid(id.gid) })?;
        // SAFETY: as above.
        cvt(unsafe { libc::seteuid(id.uid) })?;
        // SAFETY: c is a valid NUL-terminated path.
        let entered = cvt(unsafe { libc::chdir(c.as_ptr()) });
        // SAFETY: as above: back to root's effective ids for chroot.
        cvt(unsafe { libc::seteuid(0) })?;
        // SAFETY: as above.
        cvt(unsafe { libc::setegid(0) })?;
        entered?;
        // SAFETY: "." is a valid NUL-terminated path.
        cvt(unsafe { libc::chroot(c".".as_ptr()) })?;
    }
    // SAFETY: setresgid/setresuid take plain integers.
    cvt(unsafe { libc::setresgid(id.gid, id.gid, id.gid) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::setresuid(id.uid, id.uid, id.uid) })?;
    let c = cpath(&id.chdir)?;
    // SAFETY: c is a valid NUL-terminated path.
    cvt(unsafe { libc::chdir(c.as_ptr()) })?;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes plain integers.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(id.umask as libc::mode_t) };
    verify(id)
}

/// Check that the identity change really happened: all three uids and gids, the exact
/// supplementary groups, no capability in any set, no way back to root, no_new_privs.
pub fn verify(id: &Identity) -> io::Result<()> {
    let bad = |what: &str| Err(io::Error::other(format!("identity check failed: {what}")));
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: the three pointers are valid u32 locations.
    cvt(unsafe { libc::getresuid(&mut r, &mut e, &mut s) })?;
    if [r, e, s] != [id.uid; 3] {
        return bad("uid");
    }
    // SAFETY: as above.
    cvt(unsafe { libc::getresgid(&mut r, &mut e, &mut s) })?;
    if [r, e, s] != [id.gid; 3] {
        return bad("gid");
    }
    let mut buf = vec![0 as libc::gid_t; 256];
    // SAFETY: buf holds 256 gids.
    let n = cvt(unsafe { libc::getgroups(buf.len() as libc::c_int, buf.as_mut_ptr()) })? as usize;
    let mut got: Vec<u32> = buf[..n].to_vec();
    let mut want = id.groups.clone();
    got.sort_unstable();
    got.dedup();
    want.sort_unstable();
    want.dedup();
    if got != want {
        return bad("supplementary groups");
    }
    // SAFETY: setuid takes a plain integer. It must fail now.
    if unsafe { libc::setuid(0) } == 0 {
        return bad("setuid(0) succeeded");
    }
    let (eff, perm, inh) = capabilities()?;
    if eff != 0 || perm != 0 || inh != 0 {
        return bad("capabilities remain");
    }
    // SAFETY: prctl(PR_GET_NO_NEW_PRIVS) takes plain integers.
    if unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } != 1 {
        return bad("no_new_privs not set");
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// This process's (effective, permitted, inheritable) capability sets, 64 bits each.
pub fn capabilities() -> io::Result<(u64, u64, u64)> {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: hdr and data have the layout capget(2) expects for version 3 (two data
    // structures); both are valid for writing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| (lo as u64) | ((hi as u64) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    ))
}

/// This process's effective uid and the groups it acts with: the effective gid first, then
/// the supplementary groups (for MLSD's `perm` fact, which tells what the session may do).
pub fn effective() -> (u32, Vec<u32>) {
    // SAFETY: geteuid and getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let mut groups = vec![gid];
    // SAFETY: a size of 0 asks only for the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n > 0 {
        // Linux's NGROUPS_MAX is 65536: the count is bounded by the kernel.
        let mut buf = vec![0 as libc::gid_t; n as usize];
        // SAFETY: buf holds n gids.
        let got = unsafe { libc::getgroups(n, buf.as_mut_ptr()) };
        if got > 0 {
            buf.truncate(got as usize);
            groups.extend(buf.into_iter().filter(|&g| g != gid));
        }
    }
    (uid, groups)
}
