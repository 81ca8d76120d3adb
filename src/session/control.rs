//! The control connection: read one command line, write replies. The only code that
//! touches the control descriptor (fd 0), behind two operations, so FTPS can later wrap it.
//!
//! The reader never consumes bytes past the end of the current line (peek, then read
//! through `\n`), so commands pipelined behind PASS are still in the socket when the
//! pre-login process hands over to the post-login one. Runs in the session processes.

use crate::limits;
use crate::sys;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// What reading a line produced.
#[derive(Debug)]
pub enum Input {
    /// A complete line, line ending included.
    Line(Vec<u8>),
    /// The line is longer than limits::CMD_LINE_MAX: the caller replies 500 and closes.
    TooLong,
    /// The client closed the connection.
    Eof,
    /// No complete command arrived within the idle timeout.
    Timeout,
}

pub struct Control {
    fd: RawFd,
    /// Idle timeout, counted from the last complete command (None: no timeout).
    idle: Option<Duration>,
    last_command: Instant,
}

impl Control {
    pub fn new(fd: RawFd, idle: Option<Duration>) -> Self {
        Control {
            fd,
            idle,
            last_command: Instant::now(),
        }
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Read one line. Waits at most until the idle deadline, which a client trickling bytes
    /// does not push back: it counts from the last complete command.
    pub fn read_line(&mut self) -> io::Result<Input> {
        let mut line: Vec<u8> = Vec::new();
        let mut peekbuf = vec![0u8; limits::CMD_LINE_MAX];
        loop {
            let timeout = match self.idle {
                None => None,
                Some(idle) => {
                    let left = (self.last_command + idle).saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Input::Timeout);
                    }
                    Some(left)
                }
            };
            if sys::io::poll_readable(&[self.fd], timeout)? == sys::io::Ready::Timeout {
                return Ok(Input::Timeout);
            }
            let room = limits::CMD_LINE_MAX - line.len();
            match sys::io::peek(self.fd, &mut peekbuf[..room.max(1)])? {
                sys::io::Peek::Eof => return Ok(Input::Eof),
                sys::io::Peek::Data(n) => {
                    let take = match peekbuf[..n].iter().position(|&b| b == b'\n') {
                        Some(p) => p + 1,
                        None => n,
                    };
                    let start = line.len();
                    line.resize(start + take, 0);
                    read_exact(self.fd, &mut line[start..])?;
                    if line.last() == Some(&b'\n') {
                        self.last_command = Instant::now();
                        crate::log::protocol_command(&line);
                        return Ok(Input::Line(line));
                    }
                    if line.len() >= limits::CMD_LINE_MAX {
                        return Ok(Input::TooLong);
                    }
                }
                sys::io::Peek::NotSocket => {
                    // A pipe (tests, odd launchers): byte-wise reads also never over-read.
                    let mut b = [0u8; 1];
                    if sys::io::read(self.fd, &mut b)? == 0 {
                        return Ok(Input::Eof);
                    }
                    line.push(b[0]);
                    if b[0] == b'\n' {
                        self.last_command = Instant::now();
                        crate::log::protocol_command(&line);
                        return Ok(Input::Line(line));
                    }
                    if line.len() >= limits::CMD_LINE_MAX {
                        return Ok(Input::TooLong);
                    }
                }
            }
        }
    }

    /// The idle timeout (None: none).
    pub fn idle(&self) -> Option<Duration> {
        self.idle
    }

    /// Change the idle timeout (SITE IDLE); it counts from the last command, as before.
    pub fn set_idle(&mut self, idle: Option<Duration>) {
        self.idle = idle;
    }

    /// Restart the idle clock (after a transfer: time spent transferring is not idle).
    pub fn touch(&mut self) {
        self.last_command = Instant::now();
    }

    /// Send a one-line reply whose text holds bytes from the file system (names).
    pub fn reply_bytes(&mut self, code: u16, text: &[u8]) -> io::Result<()> {
        let mut out = Vec::with_capacity(text.len() + 8);
        push_line(&mut out, code, b' ', text);
        self.send(&out)
    }

    /// Send a one-line reply `code text`.
    pub fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        let mut out = Vec::with_capacity(text.len() + 8);
        push_line(&mut out, code, b' ', text.as_bytes());
        self.send(&out)
    }

    /// Send a multi-line reply: `code-first`, then each middle line as given (raw lines,
    /// as FEAT/HELP/STAT bodies are), then `code last`.
    pub fn reply_multi(
        &mut self,
        code: u16,
        first: &str,
        middle: &[Vec<u8>],
        last: &str,
    ) -> io::Result<()> {
        self.reply_multi_bytes(code, first.as_bytes(), middle, last.as_bytes())
    }

    /// `reply_multi` whose first and last lines may hold bytes from the file system
    /// (MLST's `250-Listing path`).
    pub fn reply_multi_bytes(
        &mut self,
        code: u16,
        first: &[u8],
        middle: &[Vec<u8>],
        last: &[u8],
    ) -> io::Result<()> {
        let mut out = Vec::new();
        push_line(&mut out, code, b'-', first);
        for m in middle {
            out.extend_from_slice(&sanitize(m));
            out.extend_from_slice(b"\r\n");
        }
        push_line(&mut out, code, b' ', last);
        self.send(&out)
    }

    /// Send `code-line` for each line of a message (banner, .message), then `code text`.
    pub fn reply_with_message(
        &mut self,
        code: u16,
        message: &[Vec<u8>],
        text: &str,
    ) -> io::Result<()> {
        let mut out = Vec::new();
        for m in message {
            push_line(&mut out, code, b'-', m);
        }
        push_line(&mut out, code, b' ', text.as_bytes());
        self.send(&out)
    }
}

impl Control {
    /// Every reply goes out here (and into the protocol log when log_ftp_protocol=YES).
    fn send(&mut self, out: &[u8]) -> io::Result<()> {
        crate::log::protocol_reply(out);
        sys::io::write_all(self.fd, out)
    }
}

fn read_exact(fd: RawFd, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = sys::io::read(fd, buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "control connection closed",
            ));
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

/// Make text safe for one reply line: CR and LF cannot end the line early (a file name
/// with a newline must not forge a reply), and 0xFF is doubled as Telnet requires.
pub fn sanitize(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text {
        match b {
            b'\r' | b'\n' => out.push(b'?'),
            0xff => out.extend_from_slice(&[0xff, 0xff]),
            _ => out.push(b),
        }
    }
    out
}

fn push_line(out: &mut Vec<u8>, code: u16, sep: u8, text: &[u8]) {
    out.extend_from_slice(format!("{code}").as_bytes());
    out.push(sep);
    out.extend_from_slice(&sanitize(text));
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_blocks_reply_forgery() {
        assert_eq!(sanitize(b"a\r\n226 x"), b"a??226 x");
        assert_eq!(sanitize(b"\xff"), b"\xff\xff");
    }

    #[test]
    fn pipelined_lines_are_read_one_at_a_time() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::io::Write;
        use std::os::fd::AsRawFd;
        (&b).write_all(b"USER anonymous\r\nPASS a@b\r\nPWD\r\n")
            .unwrap();
        let mut c = Control::new(a.as_raw_fd(), None);
        match c.read_line().unwrap() {
            Input::Line(l) => assert_eq!(l, b"USER anonymous\r\n"),
            other => panic!("{other:?}"),
        }
        // Only the first line was consumed: the rest is still in the socket.
        let mut rest = vec![0u8; 64];
        let n = match sys::io::peek(a.as_raw_fd(), &mut rest).unwrap() {
            sys::io::Peek::Data(n) => n,
            _ => panic!(),
        };
        assert_eq!(&rest[..n], b"PASS a@b\r\nPWD\r\n");
    }

    #[test]
    fn too_long_line_detected() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let long = vec![b'A'; limits::CMD_LINE_MAX + 10];
        (&b).write_all(&long).unwrap();
        let mut c = Control::new(a.as_raw_fd(), None);
        assert!(matches!(c.read_line().unwrap(), Input::TooLong));
    }

    #[test]
    fn idle_timeout_counts_from_last_command() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::io::Write;
        use std::os::fd::AsRawFd;
        (&b).write_all(b"NO").unwrap();
        let mut c = Control::new(a.as_raw_fd(), Some(Duration::from_millis(200)));
        let t = Instant::now();
        assert!(matches!(c.read_line().unwrap(), Input::Timeout));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
