//! Test harness shared by the integration tests.
//!
//! - `Fixture`: a temporary anonymous tree, an empty secure_chroot_dir and a config file.
//! - `Inetd`: a mini-inetd that binds 127.0.0.1:0 (or another loopback address with
//!   `start_on`, such as [::1]:0), accepts, and starts the built rsftpd with the accepted
//!   socket on descriptors 0, 1 and 2, exactly as xinetd does. It remembers the PIDs it
//!   started and ends only those.
//! - `Ctl`: a raw control-connection client that reads whole (multi-line) replies.
//! - `assert_all_exited`, `sha256`, `random_bytes`: checks and data most tests use.
//!
//! Submodules, compiled into every test binary (unused parts are fine):
//! - `procs`: reading /proc (process trees, identities, roots) and bounded waits on it.
//! - `users`: throwaway system users and groups with real passwords (root only).
//! - `clients`: running real FTP clients under `timeout`.
//! - `ftp`: exact replies, data connections and listings.
//!
//! Every loop here is bounded in count and time, and talks only to loopback.
#![allow(dead_code)]

pub mod clients;
pub mod ftp;
pub mod logfile;
pub mod procs;
pub mod users;

#[allow(unused_imports)]
pub use procs::{descendants, proc_status};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsftpd"))
}

pub fn is_root() -> bool {
    // No libc in tests: /proc tells the effective uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Say that a root-only test is skipped (CI runs as root, so there it always runs).
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("skipped: this test needs root");
            return;
        }
    };
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A temporary served tree and configuration.
pub struct Fixture {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub empty: PathBuf,
    pub conf: PathBuf,
    lines: Vec<String>,
}

impl Fixture {
    /// A fresh fixture with an anonymous tree at `root` (mode 0755, owned by the test
    /// runner) and a config that serves it. Extra config lines are added with `set`.
    pub fn new(name: &str) -> Fixture {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(format!(
            "/tmp/rsftpd-test-{}-{}-{}",
            name,
            std::process::id(),
            n
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = dir.join("root");
        let empty = dir.join("empty");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(&empty).unwrap();
        for d in [&dir, &root, &empty] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let conf = dir.join("rsftpd.conf");
        let mut f = Fixture {
            dir,
            root,
            empty,
            conf,
            lines: Vec::new(),
        };
        f.lines.push(format!("anon_root={}", f.root.display()));
        f.lines
            .push(format!("secure_chroot_dir={}", f.empty.display()));
        f.lines.push("delay_failed_login=0".into());
        f.lines.push("idle_session_timeout=60".into());
        if !is_root() {
            f.lines.push("run_as_launching_user=YES".into());
        }
        f.write_conf();
        f
    }

    /// Add or replace a config line (`key=value`).
    pub fn set(&mut self, kv: &str) -> &mut Self {
        let key = kv.split('=').next().unwrap().to_string();
        self.lines
            .retain(|l| l.split('=').next() != Some(key.as_str()));
        self.lines.push(kv.to_string());
        self.write_conf();
        self
    }

    fn write_conf(&self) {
        let mut text = self.lines.join("\n");
        text.push('\n');
        std::fs::write(&self.conf, text).unwrap();
        std::fs::set_permissions(&self.conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    /// Create a file under the served root with the given bytes and mode.
    pub fn file(&self, rel: &str, content: &[u8], mode: u32) -> PathBuf {
        let p = self.root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// Create a directory under the served root with a mode.
    pub fn mkdir(&self, rel: &str, mode: u32) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// Start a mini-inetd serving this fixture's config.
    pub fn inetd(&self) -> Inetd {
        Inetd::start(&["-c", self.conf.to_str().unwrap()])
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A mini-inetd on 127.0.0.1 (or the address given to `start_on`) with an ephemeral port.
pub struct Inetd {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    children: Arc<Mutex<Vec<Child>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Inetd {
    pub fn start(args: &[&str]) -> Inetd {
        Inetd::start_with_env(args, &[])
    }

    /// As `start`, with extra environment variables for every rsftpd it starts (for
    /// example TZ); the rest of the environment is inherited.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Inetd {
        Inetd::start_program(&bin(), args, env)
    }

    /// Start `program` (e.g. a wrapper such as setpriv that then execs rsftpd) for each
    /// connection, with the socket on descriptors 0, 1 and 2.
    pub fn start_program(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Inetd {
        Inetd::start_program_on("127.0.0.1:0", program, args, env)
    }

    /// As `start`, listening on `bind` instead of 127.0.0.1:0: `[::1]:0` for IPv6 clients,
    /// as xinetd with `flags = IPv6` on a loopback-only test.
    pub fn start_on(bind: &str, args: &[&str]) -> Inetd {
        Inetd::start_program_on(bind, &bin(), args, &[])
    }

    /// As `start_program`, listening on `bind` (a loopback address with port 0).
    pub fn start_program_on(
        bind: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Inetd {
        let program = program.to_path_buf();
        let listener = TcpListener::bind(bind).unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let children: Arc<Mutex<Vec<Child>>> = Arc::new(Mutex::new(Vec::new()));
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (stop2, children2) = (stop.clone(), children.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        sock.set_nonblocking(false).unwrap();
                        let fd0: OwnedFd = sock.try_clone().unwrap().into();
                        let fd1: OwnedFd = sock.try_clone().unwrap().into();
                        let fd2: OwnedFd = sock.into();
                        let child = Command::new(&program)
                            .args(&args)
                            .envs(env.iter().map(|(k, v)| (k, v)))
                            .stdin(Stdio::from(fd0))
                            .stdout(Stdio::from(fd1))
                            .stderr(Stdio::from(fd2))
                            .spawn()
                            .expect("spawn rsftpd");
                        children2.lock().unwrap().push(child);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Inetd {
            addr,
            stop,
            children,
            thread: Some(thread),
        }
    }

    /// PIDs of the rsftpd processes this inetd started (the monitors, or the single
    /// process in development mode).
    pub fn pids(&self) -> Vec<u32> {
        self.children
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.id())
            .collect()
    }

    /// Connect and read the greeting.
    pub fn connect(&self) -> Ctl {
        let mut c = Ctl::connect(self.addr);
        let (code, _) = c.read_reply();
        assert_eq!(code, 220, "greeting");
        c
    }

    /// Connect and log in anonymously.
    pub fn login(&self) -> Ctl {
        let mut c = self.connect();
        c.expect("USER anonymous", 331);
        c.expect("PASS guest@example.com", 230);
        c
    }

    /// Wait (bounded) until every rsftpd this inetd started has exited; true if they did.
    pub fn wait_all_exited(&self, within: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < within {
            let mut all = true;
            for c in self.children.lock().unwrap().iter_mut() {
                if c.try_wait().unwrap().is_none() {
                    all = false;
                }
            }
            if all {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Inetd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for c in self.children.lock().unwrap().iter_mut() {
            if c.try_wait().ok().flatten().is_none() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

/// A raw control connection.
pub struct Ctl {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// Every byte received, for asserting that nothing but replies came back.
    pub transcript: Vec<u8>,
}

impl Ctl {
    pub fn connect(addr: SocketAddr) -> Ctl {
        Ctl::from_stream(TcpStream::connect_timeout(&addr, TIMEOUT).unwrap())
    }

    /// A control client over a connection made elsewhere (e.g. from a chosen local address).
    pub fn from_stream(stream: TcpStream) -> Ctl {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Ctl {
            stream,
            reader,
            transcript: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Read one reply: (code, all its lines joined by "\n"). Code 0 means the server
    /// closed the connection.
    pub fn read_reply(&mut self) -> (u16, String) {
        let mut lines: Vec<String> = Vec::new();
        let mut code: Option<String> = None;
        for _ in 0..100_000 {
            let mut buf = Vec::new();
            let n = self.reader.read_until(b'\n', &mut buf).unwrap_or(0);
            if n == 0 {
                return (0, lines.join("\n"));
            }
            self.transcript.extend_from_slice(&buf);
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches(['\r', '\n'])
                .to_string();
            assert!(
                buf.ends_with(b"\r\n"),
                "reply line not CRLF-terminated: {line:?}"
            );
            match &code {
                None => {
                    assert!(
                        line.len() >= 4 && line[..3].bytes().all(|b| b.is_ascii_digit()),
                        "bad reply line {line:?}"
                    );
                    let c = line[..3].to_string();
                    let sep = line.as_bytes()[3];
                    lines.push(line.clone());
                    if sep == b' ' {
                        return (c.parse().unwrap(), lines.join("\n"));
                    }
                    assert_eq!(sep, b'-', "bad reply separator in {line:?}");
                    code = Some(c);
                }
                Some(c) => {
                    lines.push(line.clone());
                    if line.starts_with(&format!("{c} ")) {
                        return (c.parse().unwrap(), lines.join("\n"));
                    }
                }
            }
        }
        panic!("reply too long");
    }

    /// Send a command and return the reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(line);
        self.read_reply()
    }

    /// Send a command and assert the reply code; returns the reply text.
    pub fn expect(&mut self, line: &str, code: u16) -> String {
        let (c, text) = self.cmd(line);
        assert_eq!(c, code, "{line:?} got {text:?}");
        text
    }

    /// PASV, then connect to the announced address.
    pub fn pasv(&mut self) -> TcpStream {
        let text = self.expect("PASV", 227);
        let inner = &text[text.find('(').unwrap() + 1..text.find(')').unwrap()];
        let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
        let addr: SocketAddr = format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
            .parse()
            .unwrap();
        let s = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s
    }

    /// A whole passive transfer: PASV, the command, read the data to EOF, the final reply.
    /// Returns (data, 150-reply text, final code, final text).
    pub fn pasv_transfer(&mut self, command: &str) -> (Vec<u8>, u16, String) {
        let mut data = self.pasv();
        let (code, text) = self.cmd(command);
        if code != 150 {
            return (Vec::new(), code, text);
        }
        let mut buf = Vec::new();
        data.read_to_end(&mut buf).unwrap();
        let (code, text) = self.read_reply();
        (buf, code, text)
    }
}

/// sha256 of a file via the system's sha256sum (real tool, no extra crate).
pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Every server process this inetd started must exit (bounded).
pub fn assert_all_exited(inetd: &Inetd) {
    assert!(
        inetd.wait_all_exited(TIMEOUT),
        "server processes left behind: {:?}",
        inetd
            .pids()
            .iter()
            .map(|p| (*p, descendants(*p)))
            .collect::<Vec<_>>()
    );
}

/// Deterministic pseudo-random bytes (xorshift64*) from the state `x` (not 0), so failures
/// reproduce and no extra crate is needed.
pub fn xorshift_bytes(len: usize, mut x: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `xorshift_bytes` from any seed (made odd, so never 0).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    xorshift_bytes(len, seed | 1)
}
