//! Raw descriptor I/O: reads and writes on the control descriptor, peeking, poll with a
//! timeout, pipes, dup2 and /dev/null. Used by every process.

use super::{cvt, cvt_ssize, retry};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// read(2) once, retrying EINTR.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is a valid writable slice of buf.len() bytes.
    retry(|| cvt_ssize(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }))
}

/// write(2) until everything is written, retrying EINTR. MSG_NOSIGNAL semantics come from
/// SIGPIPE being ignored process-wide (see process::ignore_sigpipe).
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice of buf.len() bytes.
        let n = retry(|| cvt_ssize(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }))?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0"));
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Outcome of a peek on a socket.
pub enum Peek {
    /// Bytes available (copied into the buffer, not consumed).
    Data(usize),
    /// Orderly shutdown by the peer.
    Eof,
    /// The descriptor is not a socket: the caller must fall back to byte-wise reads.
    NotSocket,
}

/// recv(MSG_PEEK): look at pending bytes without consuming them. Blocks until at least one
/// byte or EOF is there.
pub fn peek(fd: RawFd, buf: &mut [u8]) -> io::Result<Peek> {
    // SAFETY: buf is a valid writable slice of buf.len() bytes.
    let r = retry(|| {
        cvt_ssize(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) })
    });
    match r {
        Ok(0) => Ok(Peek::Eof),
        Ok(n) => Ok(Peek::Data(n)),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => Ok(Peek::NotSocket),
        Err(e) => Err(e),
    }
}

/// What poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    Timeout,
    /// Index of the first ready descriptor in the slice given.
    Fd(usize),
}

/// Wait until one of `fds` is readable (or hung up / in error), or the timeout passes
/// (`None`: wait forever). EINTR is retried with the remaining time.
pub fn poll_readable(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<Ready> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let ms: libc::c_int = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                left.as_millis().min(i32::MAX as u128) as libc::c_int
            }
        };
        // SAFETY: pfds is a valid array of pfds.len() pollfd structures.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if r == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Ok(Ready::Timeout);
        }
        for (i, p) in pfds.iter().enumerate() {
            if p.revents != 0 {
                return Ok(Ready::Fd(i));
            }
        }
    }
}

/// Wait until `fd` can be written to, or the timeout passes; true when writable.
pub fn poll_writable(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: p is one valid pollfd.
    let n = retry(|| cvt(unsafe { libc::poll(&mut p, 1, ms) }))?;
    Ok(n > 0 && p.revents & libc::POLLOUT != 0)
}

/// A pipe with both ends close-on-exec.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both descriptors are new and owned by us alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// dup2(2).
pub fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2 has no memory-safety preconditions.
    retry(|| cvt(unsafe { libc::dup2(from, to) })).map(|_| ())
}

/// Put /dev/null on descriptors 1 and 2. Under inetd they are the client's socket, and
/// nothing but FTP replies may ever reach the client.
pub fn null_stdout_stderr() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    dup2(null.as_raw_fd(), 1)?;
    dup2(null.as_raw_fd(), 2)?;
    Ok(())
}

/// Put /dev/null on descriptor 0 (or just close it when /dev/null cannot be opened), so
/// this process lets go of whatever fd 0 was.
pub fn null_stdin() -> io::Result<()> {
    match std::fs::File::open("/dev/null") {
        Ok(null) => dup2(null.as_raw_fd(), 0),
        Err(_) => {
            close_raw(0);
            Ok(())
        }
    }
}

/// Close a raw descriptor we know we own and no Rust object owns (0, 1, 2 in children).
pub fn close_raw(fd: RawFd) {
    // SAFETY: closing a descriptor number has no memory-safety preconditions; the callers
    // only pass numbers that no OwnedFd in this process refers to.
    unsafe {
        libc::close(fd);
    }
}

/// Close every descriptor from `from` upwards except those in `keep`: close_range(2) over
/// the gaps between the kept ones (two or three system calls), or, on kernels without it,
/// every open descriptor listed in /proc/self/fd.
pub fn close_all_except(from: RawFd, keep: &[RawFd]) {
    let mut kept: Vec<RawFd> = keep.iter().copied().filter(|&k| k >= from).collect();
    kept.sort_unstable();
    kept.dedup();
    let mut lo = from as libc::c_uint;
    let mut ok = true;
    for k in kept
        .iter()
        .map(|&k| k as libc::c_uint)
        .chain(std::iter::once(libc::c_uint::MAX))
    {
        if k > lo {
            // SAFETY: close_range takes plain integers; the range excludes every kept
            // descriptor and no Rust object owns the others in a child about to run a job.
            let r = unsafe { libc::syscall(libc::SYS_close_range, lo, k - 1, 0 as libc::c_uint) };
            if r != 0 {
                ok = false;
                break;
            }
        }
        if k == libc::c_uint::MAX {
            break;
        }
        lo = k + 1;
    }
    if !ok {
        close_all_except_slow(from, keep);
    }
}

fn close_all_except_slow(from: RawFd, keep: &[RawFd]) {
    let max = match std::fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<RawFd>().ok()))
            .max()
            .unwrap_or(1024),
        Err(_) => 1024,
    };
    for fd in from..=max {
        if !keep.contains(&fd) {
            close_raw(fd);
        }
    }
}

/// Set or clear O_NONBLOCK.
pub fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an integer descriptor has no memory-safety preconditions.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) })?;
    Ok(())
}

/// splice(2) from `from` to `to`, moving up to `len` bytes inside the kernel. `to_offset`:
/// write at this file offset (advanced by the kernel) instead of the file position.
pub fn splice(
    from: RawFd,
    to: RawFd,
    to_offset: Option<&mut i64>,
    len: usize,
) -> io::Result<usize> {
    let off: *mut libc::loff_t = match to_offset {
        Some(o) => o as *mut i64 as *mut libc::loff_t,
        None => std::ptr::null_mut(),
    };
    // SAFETY: off is null or points to a live i64 the caller lends for this call; the
    // descriptors are plain integers.
    retry(|| {
        cvt_ssize(unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                off,
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
            )
        } as libc::ssize_t)
    })
}

/// Ask for a pipe buffer of `size` bytes (F_SETPIPE_SZ); the kernel may refuse, and the
/// pipe keeps its size then.
pub fn set_pipe_size(fd: RawFd, size: usize) {
    // SAFETY: fcntl(F_SETPIPE_SZ) takes plain integers.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, size as libc::c_int);
    }
}

/// One descriptor for `poll_many`: what to wait for, and what was found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interest {
    pub fd: RawFd,
    pub read: bool,
    pub write: bool,
    /// Readable, or hung up / in error (a read then tells which).
    pub readable: bool,
    pub writable: bool,
}

/// Wait until one of the descriptors is ready as asked (or hung up), or the timeout passes
/// (`None`: wait forever). Returns false on timeout. Entries with fd < 0 are skipped.
pub fn poll_many(set: &mut [Interest], timeout: Option<Duration>) -> io::Result<bool> {
    let mut pfds: Vec<libc::pollfd> = set
        .iter()
        .map(|i| libc::pollfd {
            fd: i.fd,
            events: (if i.read { libc::POLLIN } else { 0 })
                | (if i.write { libc::POLLOUT } else { 0 }),
            revents: 0,
        })
        .collect();
    let ms: libc::c_int = match timeout {
        None => -1,
        Some(t) => t.as_millis().min(i32::MAX as u128) as libc::c_int,
    };
    // SAFETY: pfds is a valid array of pfds.len() pollfd structures.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if r == -1 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(true);
        }
        return Err(e);
    }
    for (i, p) in set.iter_mut().zip(pfds.iter()) {
        let gone = p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
        i.readable = p.revents & libc::POLLIN != 0 || (gone && i.read);
        i.writable = p.revents & libc::POLLOUT != 0 || (gone && i.write);
    }
    Ok(r > 0)
}
