//! Transfer children: one forked process per LIST/NLST/RETR that owns only the data
//! socket, the file (or directory) and a result pipe, moves the bytes, reports a fixed-size
//! result record and _exits. The session keeps reading the control connection meanwhile
//! (ABOR, STAT, NOOP, QUIT). Runs with the session's identity, inside its jail.

use super::dirlist::{self, ListJob};
use crate::proto::ascii;
use crate::sys::{self, process, shm::SharedCounter};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// What a transfer child does.
pub enum Job {
    /// Send a file from `offset`; `ascii` converts LF to CRLF.
    Retr {
        file: File,
        offset: u64,
        ascii: bool,
        use_sendfile: bool,
        /// lock_upload_files: hold a shared lock while sending.
        lock: bool,
        /// Bytes per second (anon_max_rate/local_max_rate); 0 = unlimited.
        rate: u64,
    },
    /// Send a directory listing (boxed: a ListJob is far larger than the other jobs).
    List(Box<ListJob>),
    /// Receive a file, writing from `offset`; `ascii` converts CRLF to LF.
    Stor {
        file: File,
        offset: u64,
        ascii: bool,
        /// Empty the file first (a plain STOR), after taking the lock.
        truncate: bool,
        /// lock_upload_files: hold an exclusive lock while receiving.
        lock: bool,
        /// The file is open with O_APPEND (APPE), which splice(2) cannot write to.
        append: bool,
        /// Bytes per second (anon_max_rate/local_max_rate); 0 = unlimited.
        rate: u64,
    },
}

/// Counts the bytes a transfer moves (for STAT during the transfer) and, with a rate limit
/// (anon_max_rate, local_max_rate: bytes per second per session, as vsftpd), keeps the
/// running total at that rate by sending in small chunks and sleeping between them.
struct Meter<'a> {
    counter: &'a SharedCounter,
    /// Bytes per second; 0 = no limit (then nothing here costs anything).
    rate: u64,
    start: std::time::Instant,
    total: u64,
}

impl<'a> Meter<'a> {
    fn new(counter: &'a SharedCounter, rate: u64) -> Self {
        Meter {
            counter,
            rate,
            start: std::time::Instant::now(),
            total: 0,
        }
    }

    /// How much to move in one system call: `max`, or a twentieth of a second's worth
    /// when limited (small enough to keep the rate smooth and the limit within 5 %).
    fn chunk(&self, max: usize) -> usize {
        if self.rate == 0 {
            max
        } else {
            max.min((self.rate / 20).clamp(1024, 1 << 20) as usize)
        }
    }

    /// Account `n` bytes moved; sleep while ahead of the rate.
    fn moved(&mut self, n: usize) {
        self.counter.add(n as u64);
        self.total += n as u64;
        if self.rate > 0 {
            let due = Duration::from_secs_f64(self.total as f64 / self.rate as f64);
            let spent = self.start.elapsed();
            if due > spent {
                std::thread::sleep(due - spent);
            }
        }
    }
}

/// Files up to this size are sent by the session itself when they fit in the socket at
/// once (see `try_inline`).
pub const INLINE_MAX: u64 = 64 * 1024;

/// What `try_inline` did.
pub enum Inline {
    /// Everything was sent; the data connection is closed.
    Sent(u64),
    /// The file was truncated while it was being sent: what was there is sent, the data
    /// connection is closed, and the transfer failed (451).
    Shrank(u64),
    /// Not (all) sent without waiting: a transfer child takes over from `offset`.
    Rest { offset: u64, stream: TcpStream },
}

/// Send a small file from the session process itself, without forking a transfer child:
/// one non-blocking sendfile(2) into the socket buffer, with a bounded wait of 100 ms for
/// the client to drain it. The session never blocks on a slow client this way (ABOR and
/// the idle timeout stay served); whatever is left goes to a child as usual. The session
/// has the identity and jail the child would have, so no privilege is gained by forking
/// for a few kilobytes: it is the per-transfer cost that 2,000 small files would pay.
pub fn try_inline(file: &File, offset: u64, data: TcpStream, lock: bool) -> Inline {
    // A shared lock if nobody uploads the file right now; otherwise the child waits for it.
    if lock && sys::fs::try_lock_whole(file, false).is_err() {
        return Inline::Rest {
            offset,
            stream: data,
        };
    }
    // The length now, under the lock: an upload may have changed the file since it was
    // opened, and the child would send to the end of whatever is there.
    let len = match file.metadata() {
        Ok(md) if md.len() <= INLINE_MAX => md.len(),
        _ => {
            return Inline::Rest {
                offset,
                stream: data,
            }
        }
    };
    let fd = data.as_raw_fd();
    if sys::io::set_nonblocking(fd, true).is_err() {
        return Inline::Rest {
            offset,
            stream: data,
        };
    }
    let deadline = std::time::Instant::now() + Duration::from_millis(100);
    let mut off = offset as i64;
    let mut left = len.saturating_sub(offset);
    let mut shrank = false;
    let done = loop {
        if left == 0 {
            break true;
        }
        match sys::net::sendfile(fd, file.as_raw_fd(), &mut off, left as usize) {
            Ok(0) if at_end(file, off as u64) => {
                // The file shrank meanwhile (truncated by someone else): not complete.
                shrank = true;
                break true;
            }
            // An empty sendfile that is not the end (see at_end): the child goes on.
            Ok(0) => break false,
            Ok(n) => left -= n as u64,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let wait = deadline.saturating_duration_since(std::time::Instant::now());
                if wait.is_zero() || !sys::io::poll_writable(fd, wait).unwrap_or(false) {
                    break false;
                }
            }
            Err(_) => break false, // the child meets the same error and reports it
        }
    };
    let _ = sys::io::set_nonblocking(fd, false);
    if !done {
        return Inline::Rest {
            offset: off as u64,
            stream: data,
        };
    }
    sys::net::shutdown_write(fd);
    if shrank {
        Inline::Shrank(off as u64 - offset)
    } else {
        Inline::Sent(off as u64 - offset)
    }
}

/// How a transfer ended, as the session reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// 426 Failure writing network stream.
    NetWrite,
    /// 451 Failure reading local file.
    LocalRead,
    /// 421 Data timeout. Reconnect. Sorry. (and the session ends)
    DataTimeout,
    /// 226 Transfer done (but failed to open directory).
    DirFailed,
    /// 550 the glob pattern was too complex.
    TooComplex,
    /// 451 the listing had more than limits::LIST_ENTRIES_MAX entries (what fits was sent).
    ListCut,
    /// The child died without a report: 451.
    Died,
    /// 426 Failure reading network stream.
    NetRead,
    /// 451 Failure writing to local file.
    LocalWrite,
    /// 452 (ENOSPC) or 552 (EDQUOT): no room for the upload.
    DiskFull,
    QuotaExceeded,
    /// Killed by ABOR or because the client went away (never reported by a child).
    Aborted,
}

const RECORD: usize = 16;

fn code(o: Outcome) -> u8 {
    match o {
        Outcome::Ok => 1,
        Outcome::NetWrite => 2,
        Outcome::LocalRead => 3,
        Outcome::DataTimeout => 4,
        Outcome::DirFailed => 5,
        Outcome::TooComplex => 6,
        Outcome::Died => 7,
        Outcome::NetRead => 8,
        Outcome::LocalWrite => 9,
        Outcome::DiskFull => 10,
        Outcome::QuotaExceeded => 11,
        Outcome::Aborted => 12,
        Outcome::ListCut => 13,
    }
}

fn decode(b: u8) -> Outcome {
    match b {
        1 => Outcome::Ok,
        2 => Outcome::NetWrite,
        3 => Outcome::LocalRead,
        4 => Outcome::DataTimeout,
        5 => Outcome::DirFailed,
        6 => Outcome::TooComplex,
        8 => Outcome::NetRead,
        9 => Outcome::LocalWrite,
        10 => Outcome::DiskFull,
        11 => Outcome::QuotaExceeded,
        13 => Outcome::ListCut,
        _ => Outcome::Died,
    }
}

/// A transfer child that is running.
pub struct Running {
    pid: i32,
    result: OwnedFd,
    counter: SharedCounter,
}

impl Running {
    /// The descriptor that becomes readable when the child is done.
    pub fn result_fd(&self) -> RawFd {
        self.result.as_raw_fd()
    }

    /// Bytes moved so far.
    pub fn bytes(&self) -> u64 {
        self.counter.get()
    }

    /// Collect the child's result (call when result_fd is readable).
    pub fn finish(self) -> (Outcome, u64) {
        let mut rec = [0u8; RECORD];
        let mut got = 0;
        while got < RECORD {
            match sys::io::read(self.result.as_raw_fd(), &mut rec[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        let _ = process::wait_pid(self.pid);
        if got != RECORD {
            return (Outcome::Died, self.counter.get());
        }
        let mut n = [0u8; 8];
        n.copy_from_slice(&rec[8..16]);
        (decode(rec[0]), u64::from_le_bytes(n))
    }

    /// Kill the child (ABOR, or the client went away) and reap it.
    pub fn abort(self) -> u64 {
        process::kill_child(self.pid);
        let _ = process::wait_pid(self.pid);
        self.counter.get()
    }
}

/// Fork the transfer child. `keep` lists nothing: the child closes every descriptor but the
/// data socket, the job's own and the result pipe, the control connection first of all.
pub fn start(job: Job, data: TcpStream, data_timeout: Option<Duration>) -> io::Result<Running> {
    let (r, w) = sys::io::pipe()?;
    let counter = SharedCounter::new()?;
    let parent = process::pid();
    match process::fork()? {
        process::Fork::Parent(pid) => {
            drop(w);
            Ok(Running {
                pid,
                result: r,
                counter,
            })
        }
        process::Fork::Child => {
            // SECURITY: the control connection belongs to the session alone.
            sys::io::close_raw(0);
            let mut keep = vec![data.as_raw_fd(), w.as_raw_fd()];
            match &job {
                Job::Retr { file, .. } | Job::Stor { file, .. } => keep.push(file.as_raw_fd()),
                Job::List(_) => {}
            }
            sys::io::close_all_except(3, &keep);
            if process::die_with_parent(parent).is_err() {
                process::exit_now(1);
            }
            let _ = data.set_write_timeout(data_timeout);
            let _ = data.set_read_timeout(data_timeout);
            let outcome = run_job(job, &data, &counter);
            sys::net::shutdown_write(data.as_raw_fd());
            drop(data);
            let mut rec = [0u8; RECORD];
            rec[0] = code(outcome);
            rec[8..16].copy_from_slice(&counter.get().to_le_bytes());
            let _ = sys::io::write_all(w.as_raw_fd(), &rec);
            process::exit_now(0);
        }
    }
}

fn net_error(e: &io::Error) -> Outcome {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Outcome::DataTimeout,
        _ => Outcome::NetWrite,
    }
}

fn run_job(job: Job, data: &TcpStream, counter: &SharedCounter) -> Outcome {
    match job {
        Job::Retr {
            file,
            offset,
            ascii,
            use_sendfile,
            lock,
            rate,
        } => {
            let meter = &mut Meter::new(counter, rate);
            // A download waits for an upload of the same file to finish (and vice versa).
            if lock && sys::fs::lock_whole(&file, false).is_err() {
                return Outcome::LocalRead;
            }
            // The length when the transfer starts: ending before it means the file shrank
            // while it was being sent (truncated by someone else), and the client must not
            // be told that a short copy is complete.
            let len = match file.metadata() {
                Ok(md) => md.len(),
                Err(_) => return Outcome::LocalRead,
            };
            if !ascii && use_sendfile {
                // Err: sendfile is unsupported for this file; fall back to copying.
                if let Ok(o) = send_file(&file, offset, len, data, meter) {
                    return o;
                }
            }
            copy_file(file, offset, len, ascii, data, meter)
        }
        Job::Stor {
            file,
            offset,
            ascii,
            truncate,
            lock,
            append,
            rate,
        } => {
            let meter = &mut Meter::new(counter, rate);
            if lock && sys::fs::lock_whole(&file, true).is_err() {
                return Outcome::LocalWrite;
            }
            // Truncate only once the lock is held, so a reader never sees a half-emptied file
            // (vsftpd's order).
            if truncate {
                if let Err(e) = file.set_len(0) {
                    return local_write_error(&e);
                }
            }
            receive_file(file, offset, ascii, append, data, meter)
        }
        Job::List(job) => {
            let mut out = CountingWriter {
                inner: io::BufWriter::with_capacity(64 * 1024, data),
                counter,
            };
            let r = dirlist::produce(&job, &mut out);
            let flushed = out.inner.flush();
            match (r, flushed) {
                (Ok(()), Ok(())) => Outcome::Ok,
                (Err(dirlist::ListError::OpenDir), _) => Outcome::DirFailed,
                (Err(dirlist::ListError::TooComplex), _) => Outcome::TooComplex,
                (Err(dirlist::ListError::Cut), Ok(())) => Outcome::ListCut,
                (Err(dirlist::ListError::Write(e)), _) | (_, Err(e)) => net_error(&e),
            }
        }
    }
}

struct CountingWriter<'a, W: Write> {
    inner: W,
    counter: &'a SharedCounter,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.counter.add(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// sendfile(2) from `offset` to the end of the file (at least `len` bytes long when the
/// transfer started). Err only when sendfile cannot be used at all on this file (then
/// nothing was sent and the caller copies instead).
fn send_file(
    file: &File,
    offset: u64,
    len: u64,
    data: &TcpStream,
    meter: &mut Meter,
) -> io::Result<Outcome> {
    let mut off = offset as i64;
    let mut first = true;
    let mut spurious = 0;
    loop {
        match sys::net::sendfile(
            data.as_raw_fd(),
            file.as_raw_fd(),
            &mut off,
            meter.chunk(16 << 20),
        ) {
            Ok(0) => {
                if !at_end(file, off as u64) && spurious < END_RETRIES {
                    spurious += 1;
                    continue;
                }
                return Ok(ended_at(off as u64, len));
            }
            Ok(n) => {
                meter.moved(n);
                first = false;
            }
            Err(e)
                if first && matches!(e.raw_os_error(), Some(code) if code == 22 || code == 38) =>
            {
                return Err(e)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Outcome::DataTimeout),
            Err(e) => {
                // EIO and friends come from the file; EPIPE/ECONNRESET from the network.
                return Ok(match e.kind() {
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Outcome::NetWrite,
                    _ if e.raw_os_error() == Some(5) => Outcome::LocalRead,
                    _ => Outcome::NetWrite,
                });
            }
        }
    }
}

/// How many times an empty read or sendfile that is not the end of the file is retried.
const END_RETRIES: u32 = 3;

/// Is `at` the end of the file? read(2) and sendfile(2) can come back empty while another
/// process truncates the file, even at an offset below the new length: only a file now
/// no longer than `at` has ended; otherwise the empty read is retried.
fn at_end(file: &File, at: u64) -> bool {
    file.metadata().map_or(true, |m| m.len() <= at)
}

/// A download reached the end of the file at `at`: complete unless the file had `len`
/// bytes when the transfer started and `at` is short of that (it was truncated meanwhile).
fn ended_at(at: u64, len: u64) -> Outcome {
    if at < len {
        Outcome::LocalRead
    } else {
        Outcome::Ok
    }
}

fn copy_file(
    mut file: File,
    offset: u64,
    len: u64,
    ascii: bool,
    data: &TcpStream,
    meter: &mut Meter,
) -> Outcome {
    use std::io::Seek;
    if offset > 0 && file.seek(io::SeekFrom::Start(offset)).is_err() {
        return Outcome::LocalRead;
    }
    let mut conv = ascii::ToNetwork::new();
    // read(2) can come back empty while another process truncates the file, even below
    // the new length (as sendfile can): only a file now no longer than where the copy
    // stopped has ended. The copy goes on from there, a bounded number of times.
    for _ in 0..=END_RETRIES {
        let convert = |i: &[u8], o: &mut Vec<u8>| conv.convert(i, o);
        let ends = Ends {
            read_error: |_| Outcome::LocalRead,
            write_error: net_error,
            count_written: true,
        };
        match pump(&file, data, RECV_BUF, ascii.then_some(convert), ends, meter) {
            Outcome::Ok => {}
            other => return other,
        }
        let Ok(at) = file.stream_position() else {
            return Outcome::LocalRead;
        };
        if at_end(&file, at) {
            return ended_at(at, len);
        }
    }
    // Still not at the end after the retries: a file that keeps growing. What was sent is
    // at least what the file had when the transfer started, or it is a failure.
    match file.stream_position() {
        Ok(at) => ended_at(at, len),
        Err(_) => Outcome::LocalRead,
    }
}

/// How one direction of a transfer classifies its errors and counts its bytes.
struct Ends {
    read_error: fn(&io::Error) -> Outcome,
    write_error: fn(&io::Error) -> Outcome,
    /// Count the bytes written (download: what went on the wire) rather than read.
    count_written: bool,
}

/// Copy from `from` to `to` until end of file, through `convert` (ASCII mode) if given.
fn pump<R: Read, W: Write>(
    mut from: R,
    mut to: W,
    buf_size: usize,
    mut convert: Option<impl FnMut(&[u8], &mut Vec<u8>)>,
    ends: Ends,
    meter: &mut Meter,
) -> Outcome {
    let mut buf = vec![0u8; buf_size];
    let mut out = Vec::new();
    loop {
        let want = meter.chunk(buf.len());
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => return Outcome::Ok,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (ends.read_error)(&e),
        };
        let chunk: &[u8] = match convert.as_mut() {
            Some(c) => {
                out.clear();
                c(&buf[..n], &mut out);
                &out
            }
            None => &buf[..n],
        };
        let counted = if ends.count_written { chunk.len() } else { n };
        if let Err(e) = to.write_all(chunk) {
            return (ends.write_error)(&e);
        }
        meter.moved(counted);
    }
}

enum Spliced {
    Done(Outcome),
    /// splice(2) cannot be used here (file system, kernel); everything received so far is
    /// in the file, up to this offset.
    Unsupported(u64),
}

/// How much one splice(2) call moves, and the pipe buffer asked for.
const SPLICE_CHUNK: usize = 1 << 20;

/// Receive an upload with splice(2): socket -> pipe -> file at `offset`.
fn splice_in(file: &File, offset: u64, data: &TcpStream, meter: &mut Meter) -> Spliced {
    const EINVAL: i32 = 22;
    const ENOSYS: i32 = 38;
    let Ok((r, w)) = sys::io::pipe() else {
        return Spliced::Unsupported(offset);
    };
    sys::io::set_pipe_size(w.as_raw_fd(), SPLICE_CHUNK);
    let mut off = offset as i64;
    loop {
        let n = match sys::io::splice(
            data.as_raw_fd(),
            w.as_raw_fd(),
            None,
            meter.chunk(SPLICE_CHUNK),
        ) {
            Ok(0) => return Spliced::Done(Outcome::Ok),
            Ok(n) => n,
            Err(e)
                if matches!(e.raw_os_error(), Some(EINVAL) | Some(ENOSYS))
                    && off == offset as i64 =>
            {
                return Spliced::Unsupported(offset)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Spliced::Done(Outcome::DataTimeout)
            }
            Err(_) => return Spliced::Done(Outcome::NetRead),
        };
        let mut left = n;
        while left > 0 {
            match sys::io::splice(r.as_raw_fd(), file.as_raw_fd(), Some(&mut off), left) {
                Ok(0) => return Spliced::Done(Outcome::LocalWrite),
                Ok(m) => {
                    // Counted once on disk, so an ABOR reports what the file holds.
                    meter.moved(m);
                    left -= m;
                }
                Err(e) if matches!(e.raw_os_error(), Some(EINVAL) | Some(ENOSYS)) => {
                    // The file system does not take splice: move what is in the pipe by
                    // hand, then let the caller copy the rest.
                    return match drain_pipe(&r, file, off, left, meter) {
                        Ok(end) => Spliced::Unsupported(end),
                        Err(e) => Spliced::Done(local_write_error(&e)),
                    };
                }
                Err(e) => return Spliced::Done(local_write_error(&e)),
            }
        }
    }
}

/// Write the `left` bytes waiting in the pipe to the file at `off`; returns the new end.
fn drain_pipe(
    r: &OwnedFd,
    file: &File,
    mut off: i64,
    mut left: usize,
    meter: &mut Meter,
) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; left.min(SPLICE_CHUNK)];
    while left > 0 {
        let want = left.min(buf.len());
        let n = sys::io::read(r.as_raw_fd(), &mut buf[..want])?;
        if n == 0 {
            break;
        }
        file.write_all_at(&buf[..n], off as u64)?;
        meter.moved(n);
        off += n as i64;
        left -= n;
    }
    Ok(off as u64)
}

/// Size of the buffer copies go through when splice/sendfile cannot be used (ASCII mode,
/// APPE): large, so a fast transfer costs few system calls.
const RECV_BUF: usize = 256 * 1024;

fn local_write_error(e: &io::Error) -> Outcome {
    match e.raw_os_error() {
        Some(28) => Outcome::DiskFull,       // ENOSPC
        Some(122) => Outcome::QuotaExceeded, // EDQUOT
        _ => Outcome::LocalWrite,
    }
}

/// Receive an upload until the client closes the data connection. What arrived before an
/// error, an ABOR or a disconnect stays in the file.
fn receive_file(
    mut file: File,
    offset: u64,
    ascii: bool,
    append: bool,
    data: &TcpStream,
    meter: &mut Meter,
) -> Outcome {
    use std::io::Seek;
    let mut offset = offset;
    if !ascii && !append {
        // The fast path: socket -> pipe -> file inside the kernel.
        match splice_in(&file, offset, data, meter) {
            Spliced::Done(o) => return o,
            // splice refused the file after this many bytes: copy the rest.
            Spliced::Unsupported(at) => offset = at,
        }
    }
    if offset > 0 && file.seek(io::SeekFrom::Start(offset)).is_err() {
        return Outcome::LocalWrite;
    }
    let mut conv = ascii::FromNetwork::new();
    let ends = Ends {
        read_error: |e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Outcome::DataTimeout,
            _ => Outcome::NetRead,
        },
        write_error: local_write_error,
        count_written: false,
    };
    let convert = |i: &[u8], o: &mut Vec<u8>| conv.convert(i, o);
    let outcome = pump(
        data,
        &mut file,
        RECV_BUF,
        ascii.then_some(convert),
        ends,
        meter,
    );
    if outcome != Outcome::Ok || !ascii {
        return outcome;
    }
    // A CR held back at the end of the last chunk (ASCII mode) still belongs to the file.
    let mut tail = Vec::new();
    conv.finish(&mut tail);
    match file.write_all(&tail) {
        Ok(()) => Outcome::Ok,
        Err(e) => local_write_error(&e),
    }
}
