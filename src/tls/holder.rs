//! The TLS holder process: owns the client's control socket, relays control bytes between
//! the client and the session's socket pair (plain until a `234` answer to AUTH, TLS
//! after), and secures the data connections the post-login session hands over on the side
//! channel. One poll loop, non-blocking descriptors, bounded buffers (a side that does not
//! read stops the other side from being read).
//!
//! Trusts: nothing from the client or the sessions (it only moves bytes; the one thing it
//! reads in the sessions' bytes is whether a final reply line is `234`). Runs as
//! nopriv_user in secure_chroot_dir (or as the launching user in development mode); it
//! holds the private key, which the sessions never have.

use super::side::{Reply, Request};
use crate::sys;
use rustls::{ServerConfig, ServerConnection};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most bytes buffered in one direction before the source stops being read.
const BUF_MAX: usize = 64 * 1024;

pub struct Options {
    /// implicit_ssl: TLS from the first byte.
    pub implicit: bool,
    /// require_ssl_reuse: a data connection must resume a session of this holder's cache.
    pub require_reuse: bool,
    /// Bound on a data connection's handshake and on its closing.
    pub data_timeout: Duration,
}

/// Where the client's control bytes stand.
struct ControlSide {
    client: TcpStream,
    session: UnixStream,
    tls: Option<ServerConnection>,
    /// Plain mode: client bytes not yet passed on (an incomplete line, or everything after
    /// an AUTH line until its answer is known).
    from_client: Vec<u8>,
    to_session: Vec<u8>,
    /// Plain mode: bytes for the client.
    to_client: Vec<u8>,
    /// Plain mode: the session's bytes after a `234` line, held for the TLS stream.
    held_for_tls: Vec<u8>,
    /// Plain mode: the part of the session's current reply line seen so far.
    reply_line: Vec<u8>,
    /// An AUTH line went to the session and its answer has not come yet.
    awaiting_auth: bool,
    /// The session answered AUTH with 234: switch once `to_client` is out.
    start_tls: bool,
    client_eof: bool,
    session_eof: bool,
}

enum Data {
    Idle,
    Handshake {
        conn: Box<ServerConnection>,
        sock: TcpStream,
        upload: bool,
        deadline: Instant,
    },
    Pump(Box<Pump>),
}

struct Pump {
    conn: ServerConnection,
    sock: TcpStream,
    plain: UnixStream,
    upload: bool,
    /// Upload: plain bytes decrypted and not yet written to the session's end.
    to_plain: Vec<u8>,
    /// Download: the session's end reached EOF and close_notify is queued.
    closing: bool,
    /// Upload: the client's stream ended (cleanly when `clean`).
    ended: Option<bool>,
    deadline: Option<Instant>,
}

/// Serve until the client or the sessions are gone.
pub fn run(
    cfg: Arc<ServerConfig>,
    client: TcpStream,
    session: UnixStream,
    side: Option<OwnedFd>,
    opts: Options,
) -> io::Result<()> {
    client.set_nonblocking(true)?;
    session.set_nonblocking(true)?;
    let mut c = ControlSide {
        client,
        session,
        tls: None,
        from_client: Vec::new(),
        to_session: Vec::new(),
        to_client: Vec::new(),
        held_for_tls: Vec::new(),
        reply_line: Vec::new(),
        awaiting_auth: false,
        start_tls: false,
        client_eof: false,
        session_eof: false,
    };
    if opts.implicit {
        c.tls = Some(ServerConnection::new(cfg.clone()).map_err(io::Error::other)?);
    }
    // Data connections share the session cache but get no TLS 1.3 tickets of their own:
    // clients resume with the control connection's, and an upload client that never reads
    // tickets (curl before 8.9) would otherwise close with them unread, and the kernel's
    // reset would destroy the end of the upload and its close_notify.
    let data_cfg = {
        let mut c = (*cfg).clone();
        c.send_tls13_tickets = 0;
        Arc::new(c)
    };
    let mut data = Data::Idle;
    let mut side = side;
    loop {
        if c.start_tls && c.to_client.is_empty() {
            c.begin_tls(&cfg)?;
        }
        // The session is gone: say goodbye (close_notify) and end.
        if c.session_eof && c.to_session.is_empty() && !c.client_output_pending() {
            if let Some(t) = c.tls.as_mut() {
                t.send_close_notify();
                let _ = flush_blocking(t, &mut c.client, Duration::from_secs(2));
            }
            return Ok(());
        }
        if c.client_eof && (c.to_session.is_empty() || c.session_eof) {
            return Ok(());
        }
        let mut set = [sys::io::Interest::default(); 5];
        set[0] = sys::io::Interest {
            fd: c.client.as_raw_fd(),
            read: !c.client_eof && !c.awaiting_auth && c.to_session.len() < BUF_MAX,
            write: c.client_output_pending(),
            ..Default::default()
        };
        set[1] = sys::io::Interest {
            fd: c.session.as_raw_fd(),
            read: !c.session_eof && !c.start_tls && c.client_backlog() < BUF_MAX,
            write: !c.to_session.is_empty(),
            ..Default::default()
        };
        set[2] = sys::io::Interest {
            fd: side.as_ref().map_or(-1, |s| s.as_raw_fd()),
            read: side.is_some(),
            ..Default::default()
        };
        let mut timeout = None;
        match &data {
            Data::Idle => {
                set[3].fd = -1;
                set[4].fd = -1;
            }
            Data::Handshake {
                conn,
                sock,
                deadline,
                ..
            } => {
                set[3] = sys::io::Interest {
                    fd: sock.as_raw_fd(),
                    read: conn.wants_read(),
                    write: conn.wants_write(),
                    ..Default::default()
                };
                set[4].fd = -1;
                timeout = Some(deadline.saturating_duration_since(Instant::now()));
            }
            Data::Pump(p) => {
                set[3] = sys::io::Interest {
                    fd: p.sock.as_raw_fd(),
                    read: p.ended.is_none() && p.to_plain.len() < BUF_MAX,
                    write: p.conn.wants_write(),
                    ..Default::default()
                };
                set[4] = sys::io::Interest {
                    fd: p.plain.as_raw_fd(),
                    read: !p.upload && !p.closing && !p.conn.wants_write(),
                    write: p.upload && !p.to_plain.is_empty(),
                    ..Default::default()
                };
                if let Some(d) = p.deadline {
                    timeout = Some(d.saturating_duration_since(Instant::now()));
                }
            }
        }
        sys::io::poll_many(&mut set, timeout)?;

        if set[0].readable {
            c.read_client()?;
        }
        if set[1].readable {
            c.read_session()?;
        }
        if set[0].writable {
            c.write_client()?;
        }
        if set[1].writable {
            c.write_session()?;
        }
        if set[2].readable {
            let sock = side.as_ref().map(|s| s.as_raw_fd()).unwrap_or(-1);
            match Request::recv(sock) {
                Ok(Some(Request::Control)) => Reply::Control {
                    tls: c.tls.as_ref().is_some_and(|t| !t.is_handshaking()),
                }
                .send(sock)?,
                Ok(Some(Request::Wrap { upload, data: fd })) => {
                    if !matches!(data, Data::Idle) {
                        // One data connection at a time: the session broke the protocol.
                        return Err(io::Error::other(
                            "second data connection on the side channel",
                        ));
                    }
                    let sock_stream = TcpStream::from(fd);
                    sock_stream.set_nonblocking(true)?;
                    data = Data::Handshake {
                        conn: Box::new(
                            ServerConnection::new(data_cfg.clone()).map_err(io::Error::other)?,
                        ),
                        sock: sock_stream,
                        upload,
                        deadline: Instant::now() + opts.data_timeout,
                    };
                }
                Ok(Some(Request::Abort)) => {
                    if let Data::Pump(_) = data {
                        data = Data::Idle;
                        Reply::Done { clean: false }.send(sock)?;
                    }
                }
                // The post-login session is gone (or spoke nonsense): no more data.
                Ok(None) | Err(_) => {
                    side = None;
                    data = Data::Idle;
                }
            }
        }
        let side_fd = side.as_ref().map(|s| s.as_raw_fd());
        data = step_data(data, &set[3], &set[4], side_fd, &opts)?;
    }
}

impl ControlSide {
    fn client_output_pending(&self) -> bool {
        match &self.tls {
            Some(t) => t.wants_write() || !self.to_client.is_empty(),
            None => !self.to_client.is_empty(),
        }
    }

    /// TLS mode: move queued replies into rustls, as much as its buffer takes (it refuses
    /// more than its limit; the rest waits in `to_client`).
    fn feed_tls(&mut self) -> io::Result<()> {
        if let Some(conn) = self.tls.as_mut() {
            while !self.to_client.is_empty() {
                let n = conn.writer().write(&self.to_client)?;
                if n == 0 {
                    break;
                }
                self.to_client.drain(..n);
            }
        }
        Ok(())
    }

    /// Reply bytes waiting to go to the client (not yet handed to rustls).
    fn client_backlog(&self) -> usize {
        self.to_client.len()
    }

    fn begin_tls(&mut self, cfg: &Arc<ServerConfig>) -> io::Result<()> {
        self.start_tls = false;
        self.awaiting_auth = false;
        let mut conn = ServerConnection::new(cfg.clone()).map_err(io::Error::other)?;
        // A client that sent its hello right behind AUTH: those bytes are TLS.
        let early = std::mem::take(&mut self.from_client);
        if !early.is_empty() {
            let mut r = &early[..];
            while !r.is_empty() {
                conn.read_tls(&mut r)?;
            }
            conn.process_new_packets().map_err(io::Error::other)?;
        }
        let held = std::mem::take(&mut self.held_for_tls);
        self.to_client = held;
        self.tls = Some(conn);
        self.feed_tls()
    }

    fn read_client(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        match self.tls.as_mut() {
            None => match self.client.read(&mut buf) {
                Ok(0) => self.client_eof = true,
                Ok(n) => {
                    self.from_client.extend_from_slice(&buf[..n]);
                    self.pass_plain_lines();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => self.client_eof = true,
            },
            Some(conn) => {
                match conn.read_tls(&mut self.client) {
                    Ok(0) => self.client_eof = true,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(_) => self.client_eof = true,
                }
                if let Err(e) = conn.process_new_packets() {
                    // Send the alert, then end: nothing more can be said on this stream.
                    let _ = conn.write_tls(&mut self.client);
                    crate::log::warn(&format!("TLS on the control connection failed: {e}"));
                    self.client_eof = true;
                    self.session_eof = true;
                    return Ok(());
                }
                loop {
                    match conn.reader().read(&mut buf) {
                        Ok(0) => {
                            self.client_eof = true;
                            break;
                        }
                        Ok(n) => self.to_session.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            self.client_eof = true;
                            break;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Plain mode: pass complete lines on; after an AUTH line, hold everything else until
    /// the session has answered it.
    fn pass_plain_lines(&mut self) {
        while !self.awaiting_auth {
            let Some(end) = self.from_client.iter().position(|&b| b == b'\n') else {
                // No line end: a line too long for any command goes on as it is (the
                // session refuses it and closes); a shorter one waits for its end.
                if self.from_client.len() > crate::limits::CMD_LINE_MAX {
                    self.to_session.append(&mut self.from_client);
                }
                return;
            };
            let line: Vec<u8> = self.from_client.drain(..=end).collect();
            let verb: Vec<u8> = line
                .iter()
                .take_while(|b| b.is_ascii_alphabetic())
                .map(|b| b.to_ascii_uppercase())
                .collect();
            self.awaiting_auth = verb == b"AUTH";
            self.to_session.extend_from_slice(&line);
        }
    }

    fn read_session(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let n = match self.session.read(&mut buf) {
            Ok(0) => {
                self.session_eof = true;
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(_) => {
                self.session_eof = true;
                return Ok(());
            }
        };
        if self.tls.is_some() {
            self.to_client.extend_from_slice(&buf[..n]);
            return self.feed_tls();
        }
        self.scan_replies(&buf[..n]);
        Ok(())
    }

    /// Plain mode: queue the session's bytes for the client, watching final reply lines:
    /// an answer to AUTH ends the wait, and `234` switches to TLS after it.
    fn scan_replies(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            if self.start_tls {
                self.held_for_tls.extend_from_slice(&bytes[i..]);
                return;
            }
            self.to_client.push(b);
            if self.reply_line.len() < 4 {
                self.reply_line.push(b);
            }
            if b == b'\n' {
                let l = std::mem::take(&mut self.reply_line);
                let is_final =
                    l.len() == 4 && l[..3].iter().all(u8::is_ascii_digit) && l[3] == b' ';
                // Only an answer to AUTH starts TLS (a 234 line elsewhere, e.g. in a STAT
                // listing the client asked for, does not).
                if is_final && l.starts_with(b"234") && self.awaiting_auth {
                    self.start_tls = true;
                } else if is_final && self.awaiting_auth {
                    self.awaiting_auth = false;
                }
            }
        }
        if !self.awaiting_auth && !self.start_tls {
            self.pass_plain_lines();
        }
    }

    fn write_client(&mut self) -> io::Result<()> {
        match self.tls.as_mut() {
            Some(conn) => {
                match conn.write_tls(&mut self.client) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => self.client_eof = true,
                }
                return self.feed_tls();
            }
            None => match self.client.write(&self.to_client) {
                Ok(n) => {
                    self.to_client.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => self.client_eof = true,
            },
        }
        Ok(())
    }

    fn write_session(&mut self) -> io::Result<()> {
        match self.session.write(&self.to_session) {
            Ok(n) => {
                self.to_session.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                self.session_eof = true;
                self.to_session.clear();
            }
        }
        Ok(())
    }
}

/// Write out what rustls has queued, waiting at most `within` (used when ending).
fn flush_blocking(
    conn: &mut ServerConnection,
    sock: &mut TcpStream,
    within: Duration,
) -> io::Result<()> {
    let end = Instant::now() + within;
    while conn.wants_write() {
        match conn.write_tls(sock) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() || !sys::io::poll_writable(sock.as_raw_fd(), left)? {
                    return Err(io::ErrorKind::TimedOut.into());
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Advance the data connection after a poll round.
fn step_data(
    data: Data,
    net: &sys::io::Interest,
    plain: &sys::io::Interest,
    side: Option<std::os::fd::RawFd>,
    opts: &Options,
) -> io::Result<Data> {
    let Some(side) = side else {
        return Ok(Data::Idle);
    };
    match data {
        Data::Idle => Ok(Data::Idle),
        Data::Handshake {
            mut conn,
            mut sock,
            upload,
            deadline,
        } => {
            let mut failed = Instant::now() >= deadline;
            if net.readable && !failed {
                match conn.read_tls(&mut sock) {
                    Ok(0) => failed = true,
                    Ok(_) => failed = conn.process_new_packets().is_err(),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => failed = true,
                }
            }
            if net.writable && !failed {
                if let Err(e) = conn.write_tls(&mut sock) {
                    failed = e.kind() != io::ErrorKind::WouldBlock;
                }
            }
            if failed {
                let _ = conn.write_tls(&mut sock);
                Reply::Failed { reuse: false }.send(side)?;
                return Ok(Data::Idle);
            }
            if conn.is_handshaking() {
                return Ok(Data::Handshake {
                    conn,
                    sock,
                    upload,
                    deadline,
                });
            }
            // SECURITY: with require_ssl_reuse the data connection must resume a session of
            // this holder's cache, which only this client's control connection (and its
            // earlier data connections) filled: proof that it is the same client.
            let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            if opts.require_reuse && !resumed {
                conn.send_close_notify();
                let _ = conn.write_tls(&mut sock);
                Reply::Failed { reuse: true }.send(side)?;
                return Ok(Data::Idle);
            }
            let (mine, theirs) = UnixStream::pair()?;
            mine.set_nonblocking(true)?;
            Reply::Ready(OwnedFd::from(theirs)).send(side)?;
            Ok(Data::Pump(Box::new(Pump {
                conn: *conn,
                sock,
                plain: mine,
                upload,
                to_plain: Vec::new(),
                closing: false,
                ended: None,
                deadline: None,
            })))
        }
        Data::Pump(mut p) => match p.step(net, plain, opts) {
            Ok(None) => Ok(Data::Pump(p)),
            Ok(Some(clean)) => {
                Reply::Done { clean }.send(side)?;
                Ok(Data::Idle)
            }
            Err(_) => {
                Reply::Done { clean: false }.send(side)?;
                Ok(Data::Idle)
            }
        },
    }
}

impl Pump {
    /// One round; Some(clean) when the data connection is over.
    fn step(
        &mut self,
        net: &sys::io::Interest,
        plain: &sys::io::Interest,
        opts: &Options,
    ) -> io::Result<Option<bool>> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Some(false));
        }
        let mut buf = [0u8; 16 * 1024];
        if net.readable {
            // An upload that fails on the network side still delivers what was decrypted
            // (the file keeps every byte that arrived); it is just not clean.
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => {
                    if !self.upload {
                        // The client closed a download before its end.
                        return Ok(Some(false));
                    }
                    self.ended.get_or_insert(false);
                }
                Ok(_) => {
                    if let Err(e) = self.conn.process_new_packets() {
                        if !self.upload {
                            return Err(io::Error::other(e));
                        }
                        self.ended = Some(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) if self.upload => self.ended = Some(false),
                Err(e) => return Err(e),
            }
            if self.upload {
                loop {
                    match self.conn.reader().read(&mut buf) {
                        // close_notify: the upload is complete.
                        Ok(0) => {
                            self.ended = Some(true);
                            break;
                        }
                        Ok(n) => self.to_plain.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // Anything else (TCP closed without close_notify, a TLS error):
                        // truncated, maybe by an attacker.
                        Err(_) => {
                            self.ended = Some(false);
                            break;
                        }
                    }
                }
            }
        }
        if self.upload && plain.writable && !self.to_plain.is_empty() {
            match self.plain.write(&self.to_plain) {
                Ok(n) => {
                    self.to_plain.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if !self.upload && plain.readable {
            match self.plain.read(&mut buf) {
                Ok(0) => {
                    self.conn.send_close_notify();
                    self.closing = true;
                    self.deadline = Some(Instant::now() + opts.data_timeout);
                }
                Ok(n) => self.conn.writer().write_all(&buf[..n])?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if net.writable && self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if !self.upload && self.closing && !self.conn.wants_write() {
            let _ = self.sock.shutdown(std::net::Shutdown::Write);
            return Ok(Some(true));
        }
        if let (true, Some(clean)) = (self.upload, self.ended) {
            if self.to_plain.is_empty() {
                if clean {
                    self.conn.send_close_notify();
                    let _ = flush_blocking(&mut self.conn, &mut self.sock, opts.data_timeout);
                }
                let _ = self.plain.shutdown(std::net::Shutdown::Write);
                return Ok(Some(clean));
            }
        }
        Ok(None)
    }
}
