//! File-system calls that std does not offer safely: opening without blocking on FIFOs and
//! devices, and access(2) checks made with the process's real ids (equal to the effective
//! ones once a session has changed identity). Used by session processes.

use super::cvt;
use std::ffi::CString;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Open a file for reading without blocking (a FIFO or device in the served tree must never
/// hang the session), then insist it is a regular file. Returns the file (blocking again)
/// and its metadata.
pub fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    regular_blocking(f)
}

/// Insist that a file opened with O_NONBLOCK is a regular file, then make it blocking.
fn regular_blocking(f: File) -> io::Result<(File, Metadata)> {
    let md = f.metadata()?;
    if !md.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    use std::os::fd::AsRawFd;
    super::io::set_nonblocking(f.as_raw_fd(), false)?;
    Ok((f, md))
}

fn access(path: &Path, mode: libc::c_int) -> bool {
    match cpath(path) {
        // SAFETY: c is a valid NUL-terminated path.
        Ok(c) => unsafe { libc::access(c.as_ptr(), mode) == 0 },
        Err(_) => false,
    }
}

/// May this process enter (search) the directory?
pub fn can_search(path: &Path) -> bool {
    access(path, libc::X_OK)
}

/// May this process write to the path?
pub fn can_write(path: &Path) -> bool {
    access(path, libc::W_OK)
}

/// Set the process umask (SITE UMASK); returns the previous one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// Read the process umask without changing it.
pub fn get_umask() -> u32 {
    let old = set_umask(0o077);
    set_umask(old);
    old
}

/// Set a file's modification time (MDTM with a time argument), leaving the access time.
/// Does not follow a final symlink out of the served tree's rules: the kernel resolves the
/// path inside the process's root.
pub fn set_mtime(path: &Path, secs: i64) -> io::Result<()> {
    let c = cpath(path)?;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: 0,
        },
    ];
    // SAFETY: c is a valid NUL-terminated path and times is an array of two timespecs.
    cvt(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) })?;
    Ok(())
}

/// Open a file for an upload without blocking on FIFOs or devices, then insist it is a
/// regular file. `exclusive`: create only (O_EXCL, anonymous uploads never overwrite);
/// `append`: O_APPEND; otherwise create or open. Never truncates: the transfer child does
/// that once it holds the lock.
pub fn open_upload(path: &Path, exclusive: bool, append: bool, mode: u32) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true)
        .mode(mode)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    if exclusive {
        o.create_new(true);
    } else {
        o.create(true);
    }
    if append {
        o.append(true);
    }
    regular_blocking(o.open(path)?).map(|(f, _)| f)
}

/// Take a POSIX record lock on the whole file (lock_upload_files), waiting for it:
/// exclusive (write) for an upload, shared (read) for a download. Held until the process
/// ends or the descriptor is closed; taken in the transfer child, which owns the file.
pub fn lock_whole(file: &File, exclusive: bool) -> io::Result<()> {
    lock(file, exclusive, true)
}

/// Try the lock without waiting; an error (EAGAIN, EACCES) means someone holds a
/// conflicting one.
pub fn try_lock_whole(file: &File, exclusive: bool) -> io::Result<()> {
    lock(file, exclusive, false)
}

fn lock(file: &File, exclusive: bool, wait: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock is plain data; all-zero is valid and the fields are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = if exclusive {
        libc::F_WRLCK
    } else {
        libc::F_RDLCK
    } as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0;
    // SAFETY: fl is a valid flock structure for F_SETLKW.
    let cmd = if wait { libc::F_SETLKW } else { libc::F_SETLK };
    super::retry(|| cvt(unsafe { libc::fcntl(file.as_raw_fd(), cmd, &fl) })).map(|_| ())
}

/// What a listing needs of an entry (lstat semantics unless said otherwise: a symlink is
/// itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatInfo {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub size: u64,
    pub mtime: i64,
    /// Device and inode: MLSD's `unique` fact.
    pub dev: u64,
    pub ino: u64,
}

/// fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW): stat one entry of an open directory without
/// a path walk from the root.
pub fn lstat_at(dirfd: std::os::fd::RawFd, name: &[u8]) -> io::Result<StatInfo> {
    stat_at_flags(dirfd, name, libc::AT_SYMLINK_NOFOLLOW)
}

/// fstatat(dirfd, name, 0): as lstat_at, but a symlink is followed (MLSD shows what a
/// link points to; the kernel resolves it inside the process's root).
pub fn stat_at(dirfd: std::os::fd::RawFd, name: &[u8]) -> io::Result<StatInfo> {
    stat_at_flags(dirfd, name, 0)
}

fn stat_at_flags(
    dirfd: std::os::fd::RawFd,
    name: &[u8],
    flags: libc::c_int,
) -> io::Result<StatInfo> {
    // A directory entry's name is at most NAME_MAX (255) bytes: build the C string on the
    // stack (this runs once per entry of a listing).
    let mut buf = [0u8; 256];
    if name.len() >= buf.len() || name.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad entry name",
        ));
    }
    buf[..name.len()].copy_from_slice(name);
    // SAFETY: stat is plain data for fstatat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: buf holds the name and a NUL terminator (checked above); st is valid to fill.
    cvt(unsafe { libc::fstatat(dirfd, buf.as_ptr().cast(), &mut st, flags) })?;
    Ok(StatInfo {
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        nlink: st.st_nlink,
        size: st.st_size as u64,
        mtime: st.st_mtime,
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// readlinkat(dirfd, name): a symlink's target, bounded by PATH_MAX.
pub fn readlink_at(dirfd: std::os::fd::RawFd, name: &[u8]) -> io::Result<Vec<u8>> {
    let c = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf has buf.len() writable bytes; c is a valid NUL-terminated name.
    let n = super::cvt_ssize(unsafe {
        libc::readlinkat(dirfd, c.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
    })?;
    buf.truncate(n);
    Ok(buf)
}
