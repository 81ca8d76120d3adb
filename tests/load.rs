//! Load: many sessions at once, and every byte accounted for.
//!
//! - `many_sessions_download_and_checksum_at_once`: N sessions through the mini-inetd (the
//!   xinetd path, one process tree per connection) start together (at most HANDSHAKES
//!   waiting for their greeting at a time: see there), are all logged in at the same moment,
//!   then each downloads one of four files (40,000 bytes and exactly 64 KiB, which take the
//!   inline path, and 300,001 and 1.5 MiB + 7, which take a transfer child), in passive or
//!   (every third session) active mode, from port 20 as root. Each checks the 150 and 226
//!   texts, the length and the SHA-256 of what arrived against the file's, and gets 221 to
//!   QUIT. Every failure is reported with its session, file, mode and step.
//! - `concurrent_anonymous_uploads_land_byte_for_byte` (root): M sessions upload seeded
//!   random files of different sizes (0 bytes to 1.5 MB) to different names in a directory
//!   of the ftp user, passive or active; each gets 226, and afterwards the directory holds
//!   exactly those names (no temporary or extra files), each with exactly the bytes sent
//!   (SHA-256), owned by ftp, mode 0600.
//! - `standalone_listener_survives_a_flood_of_reset_and_idle_connections`: a listen=YES
//!   server with max_clients = idle + 2 holds idle connections (half silent, half a partial
//!   command line) while a flood of connections is reset (SO_LINGER 0, many before the
//!   listener accepts them); a real client still gets in (a 421 while reset sessions are
//!   being reaped is allowed and counted) and downloads a file byte for byte; at capacity a
//!   second flood (each refused with a 421 written onto a reset connection) starts no
//!   process and a connection gets exactly vsftpd's 421; closing the idle connections ends
//!   their processes; the listener lives on and holds the same descriptors as before.
//!
//! After each test every process started for it has exited: the monitors, every process
//! seen under them, and (through an environment variable that marks every rsftpd this file
//! starts, inherited across fork) anything else in /proc.
//!
//! Counts come from the environment, so `make test` runs a small load and `make stress`
//! the full one: RSFTPD_LOAD_SESSIONS (downloads, default 40; make stress: 200),
//! RSFTPD_LOAD_UPLOADS (uploads, default 10; make stress: 50), RSFTPD_LOAD_RESETS (reset
//! connections, default 3/2 of the sessions) and RSFTPD_LOAD_IDLE (idle connections,
//! default the uploads' count). Timing is printed (run with --nocapture), never asserted.
//! Every socket has read and write timeouts, every wait is bounded, everything is on
//! 127.0.0.1. The three tests take turns (a lock), so each measures its own load. The nix
//! crate (a dependency of rsftpd) gives two safe calls std lacks: SO_LINGER, and raising
//! RLIMIT_NOFILE (see `raise_nofile`).
mod common;

use common::procs::{all_pids, children, descendants};
use common::{random_bytes, Ctl, Fixture, Inetd, TIMEOUT};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Counts, limits and shared helpers.
// ---------------------------------------------------------------------------------------

/// Upper bound on any count from the environment: the test stays bounded whatever it says.
const MAX_COUNT: usize = 1000;
/// A safety net for the gates: every step before a gate is bounded by TIMEOUT, so a session
/// arrives well within this unless something is badly wrong.
const GATE_TIMEOUT: Duration = Duration::from_secs(150);
/// The name of the environment variable that marks every rsftpd started here.
const MARK: &str = "RSFTPD_LOAD_MARK";

/// The tests take turns: each one alone is already the load.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A count from the environment (`default` when unset), within 1..=MAX_COUNT.
fn count(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => {
            let n: usize = v
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{var}={v:?} is not a number"));
            assert!(
                (1..=MAX_COUNT).contains(&n),
                "{var}={n}: must be 1..={MAX_COUNT}"
            );
            n
        }
        Err(_) => default,
    }
}

fn sessions() -> usize {
    count("RSFTPD_LOAD_SESSIONS", 40)
}

fn uploads() -> usize {
    count("RSFTPD_LOAD_UPLOADS", 10)
}

/// Make sure this process may open `need` descriptors. Each download session holds up to
/// four here (the control connection and its reader's clone, a data connection and, in
/// active mode, a listener), so 200 of them come close to the usual soft limit of 1024, and
/// the mini-inetd would then fail accept() with EMFILE. The soft limit is raised towards the
/// hard one; the rsftpd processes inherit it, which changes nothing for them.
fn raise_nofile(need: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft >= need {
        return;
    }
    let want = need.max(4096).min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, want, hard).expect("setrlimit RLIMIT_NOFILE");
    eprintln!("load: RLIMIT_NOFILE soft limit raised from {soft} to {want} (need about {need})");
    assert!(
        want >= need,
        "the hard RLIMIT_NOFILE ({hard}) is below the {need} descriptors this load needs"
    );
}

/// A one-time rendezvous with a bounded wait: `n` parties arrive; each waits until all
/// have (or the bound passes: false). A party that failed earlier still arrives, so the
/// others never wait for it.
struct Gate {
    n: usize,
    arrived: Mutex<usize>,
    cv: Condvar,
}

impl Gate {
    fn new(n: usize) -> Gate {
        Gate {
            n,
            arrived: Mutex::new(0),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.arrived.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arrive, then wait until all `n` have.
    fn wait(&self) -> bool {
        let mut a = self.lock();
        *a += 1;
        self.cv.notify_all();
        self.until(a, self.n)
    }

    /// Without arriving, wait until `k` parties have (the main thread looks around while
    /// the sessions wait for it).
    fn arrivals(&self, k: usize) -> bool {
        let a = self.lock();
        self.until(a, k)
    }

    fn until(&self, mut a: MutexGuard<'_, usize>, k: usize) -> bool {
        let t = Instant::now();
        while *a < k {
            match GATE_TIMEOUT.checked_sub(t.elapsed()) {
                Some(left) => a = self.cv.wait_timeout(a, left).unwrap().0,
                None => return false,
            }
        }
        true
    }
}

/// How many sessions may be between connect() and their greeting at once. The mini-inetd
/// listens with std's backlog of 128 and accepts and spawns one connection at a time: a
/// burst of hundreds of connects overflows its accept queue, and the kernel then drops
/// handshakes or answers with SYN cookies, whose connections the client thinks open while
/// the listener never sees them (TcpExtListenOverflows and TCPReqQFullDoCookies in
/// /proc/net/netstat count them); the client then waits out its read timeout for a greeting
/// that cannot come. Measured here: 600 unpaced sessions lost 100 to 340 of them that way,
/// 200 unpaced ones were delayed by a SYN retransmission (1 s). That is the harness's
/// listener, not rsftpd (xinetd has the same limit with its own backlog), so the connects
/// are paced to half the backlog; every session is still logged in at the same moment.
const HANDSHAKES: usize = 64;

/// A counting semaphore with a bounded wait, for `HANDSHAKES`.
struct Window {
    free: Mutex<usize>,
    cv: Condvar,
}

/// A place in a `Window`, given back on drop (also when the step failed).
struct Slot<'a>(&'a Window);

impl Window {
    fn new(n: usize) -> Window {
        Window {
            free: Mutex::new(n),
            cv: Condvar::new(),
        }
    }

    fn enter(&self) -> Result<Slot<'_>, String> {
        let t = Instant::now();
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            let left = GATE_TIMEOUT
                .checked_sub(t.elapsed())
                .ok_or("no free connect slot in time")?;
            free = self.cv.wait_timeout(free, left).unwrap().0;
        }
        *free -= 1;
        Ok(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.cv.notify_one();
    }
}

/// Run a step; a panic inside it (an assertion in the shared `Ctl`, say) becomes an error,
/// so the session still reaches its gates and its failure is reported with the others.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("?")
        )),
    }
}

/// SHA-256 of bytes, by the system's sha256sum (as `common::sha256` does for files).
fn sha256_of(data: &[u8]) -> Result<String, String> {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("sha256sum: {e}"))?;
    let mut w = child.stdin.take().unwrap();
    let wrote = w.write_all(data);
    drop(w);
    let out = child
        .wait_with_output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    wrote.map_err(|e| format!("sha256sum stdin: {e}"))?;
    let hex = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    if !out.status.success() || hex.len() != 64 {
        return Err(format!("sha256sum: {} {hex:?}", out.status));
    }
    Ok(hex)
}

/// Where two byte strings first differ (for failure messages).
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// Check received bytes against the expected ones: length, then SHA-256, then content.
fn check_bytes(got: &[u8], want: &[u8], want_sha: &str) -> Result<(), String> {
    let sha = sha256_of(got)?;
    if got.len() != want.len() || sha != want_sha || got != want {
        return Err(format!(
            "{} bytes (sha256 {sha}), expected {} bytes (sha256 {want_sha}); first \
             difference at offset {}",
            got.len(),
            want.len(),
            first_difference(got, want)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A control connection whose steps return errors instead of panicking.
// ---------------------------------------------------------------------------------------

fn connect(addr: SocketAddr) -> Result<Ctl, String> {
    let s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    s.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| format!("set_write_timeout: {e}"))?;
    Ok(Ctl::from_stream(s))
}

/// Read a reply and require this code. `Ctl` says 0 when the connection ended or the read
/// timed out; how long the wait was tells which.
fn want_reply(c: &mut Ctl, what: &str, code: u16) -> Result<String, String> {
    let t = Instant::now();
    let (got, text) = c.read_reply();
    if got == 0 {
        return Err(format!(
            "{what}: expected {code}, got nothing: {} after {:.1} s{}",
            if t.elapsed() >= TIMEOUT {
                "timed out"
            } else {
                "connection closed"
            },
            t.elapsed().as_secs_f64(),
            if text.is_empty() {
                String::new()
            } else {
                format!(" (partial reply {text:?})")
            }
        ));
    }
    if got != code {
        return Err(format!("{what}: expected {code}, got {text:?}"));
    }
    Ok(text)
}

/// Send a command and require this code.
fn step(c: &mut Ctl, line: &str, code: u16) -> Result<String, String> {
    c.stream
        .write_all(format!("{line}\r\n").as_bytes())
        .map_err(|e| format!("{line}: write: {e}"))?;
    want_reply(c, line, code)
}

/// Send a command and require this whole reply text.
fn step_exact(c: &mut Ctl, line: &str, want: &str) -> Result<(), String> {
    let code = want[..3].parse().unwrap();
    let text = step(c, line, code)?;
    if text != want {
        return Err(format!("{line}: expected {want:?}, got {text:?}"));
    }
    Ok(())
}

/// Connect (paced by `window`), greeting, anonymous login, binary type.
fn login(addr: SocketAddr, window: &Window) -> Result<Ctl, String> {
    let mut c = {
        let _slot = window.enter()?;
        let mut c = connect(addr)?;
        want_reply(&mut c, "greeting", 220)?;
        c
    };
    step(&mut c, "USER anonymous", 331)?;
    step(&mut c, "PASS load@example.com", 230)?;
    step_exact(&mut c, "TYPE I", "200 Switching to Binary mode.")?;
    Ok(c)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Passive,
    Active,
}

/// A data connection being set up: passive ones are connected before the transfer command,
/// active ones are accepted after its 150.
enum Data {
    Passive(TcpStream),
    Active(TcpListener),
}

impl Data {
    fn open(c: &mut Ctl, mode: Mode) -> Result<Data, String> {
        match mode {
            Mode::Passive => {
                let text = step(c, "PASV", 227)?;
                let inner = text
                    .find('(')
                    .zip(text.find(')'))
                    .map(|(a, b)| &text[a + 1..b])
                    .ok_or_else(|| format!("PASV: no address in {text:?}"))?;
                let n: Vec<u16> = inner.split(',').filter_map(|x| x.parse().ok()).collect();
                if n.len() != 6 {
                    return Err(format!("PASV: bad address in {text:?}"));
                }
                let addr: SocketAddr =
                    format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
                        .parse()
                        .map_err(|e| format!("PASV {text:?}: {e}"))?;
                let s = TcpStream::connect_timeout(&addr, TIMEOUT)
                    .map_err(|e| format!("connect to the PASV port {addr}: {e}"))?;
                Ok(Data::Passive(s))
            }
            Mode::Active => {
                let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
                let port = l.local_addr().unwrap().port();
                step_exact(
                    c,
                    &format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff),
                    "200 PORT command successful. Consider using PASV.",
                )?;
                Ok(Data::Active(l))
            }
        }
    }

    /// The connection, with timeouts (accepting the server's, bounded, in active mode).
    fn stream(self) -> Result<TcpStream, String> {
        let s = match self {
            Data::Passive(s) => s,
            Data::Active(l) => {
                l.set_nonblocking(true).unwrap();
                let t = Instant::now();
                loop {
                    match l.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(false).unwrap();
                            break s;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            if t.elapsed() > TIMEOUT {
                                return Err("no active data connection arrived".into());
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(e) => return Err(format!("accept (active data): {e}")),
                    }
                }
            }
        };
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        Ok(s)
    }
}

/// RETR `name` (`len` bytes on the server): exactly vsftpd's 150 and 226, and the bytes.
fn download(c: &mut Ctl, name: &str, len: usize, mode: Mode) -> Result<Vec<u8>, String> {
    let data = Data::open(c, mode)?;
    let text = step(c, &format!("RETR {name}"), 150)?;
    let want = format!("150 Opening BINARY mode data connection for {name} ({len} bytes).");
    if text != want {
        return Err(format!("RETR {name}: expected {want:?}, got {text:?}"));
    }
    let mut s = data.stream()?;
    let mut buf = Vec::with_capacity(len);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(format!(
                    "RETR {name}: data read after {} bytes: {e}",
                    buf.len()
                ))
            }
        }
    }
    drop(s);
    let text = want_reply(c, &format!("RETR {name} (after {} bytes)", buf.len()), 226)?;
    if text != "226 Transfer complete." {
        return Err(format!("RETR {name}: final reply {text:?}"));
    }
    Ok(buf)
}

/// STOR `name` with `body`: exactly vsftpd's 150 and 226.
fn upload(c: &mut Ctl, name: &str, body: &[u8], mode: Mode) -> Result<(), String> {
    let data = Data::open(c, mode)?;
    let text = step(c, &format!("STOR {name}"), 150)?;
    if text != "150 Ok to send data." {
        return Err(format!("STOR {name}: first reply {text:?}"));
    }
    let mut s = data.stream()?;
    s.write_all(body)
        .map_err(|e| format!("STOR {name}: data write: {e}"))?;
    s.shutdown(Shutdown::Write)
        .map_err(|e| format!("STOR {name}: shutdown: {e}"))?;
    let text = want_reply(c, &format!("STOR {name} (after sending)"), 226)?;
    drop(s);
    if text != "226 Transfer complete." {
        return Err(format!("STOR {name}: final reply {text:?}"));
    }
    Ok(())
}

fn quit(mut c: Ctl) -> Result<(), String> {
    step_exact(&mut c, "QUIT", "221 Goodbye.")
}

// ---------------------------------------------------------------------------------------
// Processes: what was started for a test, and that all of it has gone.
// ---------------------------------------------------------------------------------------

/// A process as seen once: its PID and start time (so a reused PID is not mistaken for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    pid: u32,
    start: u64,
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot).
fn start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: count after the last ')'.
    s[s.rfind(')')? + 2..].split(' ').nth(19)?.parse().ok()
}

fn seen(pids: impl IntoIterator<Item = u32>) -> BTreeSet<Seen> {
    pids.into_iter()
        .filter_map(|pid| start_time(pid).map(|start| Seen { pid, start }))
        .collect()
}

/// The ones still in /proc (zombies included).
fn still_there(procs: &BTreeSet<Seen>) -> Vec<Seen> {
    procs
        .iter()
        .copied()
        .filter(|p| start_time(p.pid) == Some(p.start))
        .collect()
}

/// Wait (bounded) until none of `procs` is in /proc; the ones left.
fn wait_gone(procs: &BTreeSet<Seen>) -> Vec<Seen> {
    let t = Instant::now();
    loop {
        let left = still_there(procs);
        if left.is_empty() || t.elapsed() > TIMEOUT {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Processes carrying `MARK=tag` in their (initial) environment, as "pid name state".
fn marked(tag: &str) -> Vec<String> {
    let needle = format!("{MARK}={tag}");
    let mut out = Vec::new();
    for pid in all_pids() {
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|&b| b == 0).any(|v| v == needle.as_bytes()) {
            let st = common::procs::status(pid).unwrap_or_default();
            out.push(format!(
                "{pid} {} ({})",
                st.get("Name").cloned().unwrap_or_default(),
                st.get("State").cloned().unwrap_or_default()
            ));
        }
    }
    out
}

/// Wait (bounded) until no process carries the mark; the ones left.
fn wait_unmarked(tag: &str) -> Vec<String> {
    let t = Instant::now();
    loop {
        let left = marked(tag);
        if left.is_empty() || t.elapsed() > TIMEOUT {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A tag unique to this run of one test.
fn tag(test: &str) -> String {
    format!("{test}-{}", std::process::id())
}

/// The monitors a mini-inetd started, and everything under them now.
fn tree_of(inetd: &Inetd) -> BTreeSet<Seen> {
    let mut pids = inetd.pids();
    for p in inetd.pids() {
        pids.extend(descendants(p));
    }
    seen(pids)
}

/// End of a mini-inetd test: every monitor exits, every process seen under them has gone,
/// nothing carrying the mark is left.
fn assert_inetd_clean(inetd: &Inetd, tree: &BTreeSet<Seen>, tag: &str) {
    let t = Instant::now();
    assert!(
        inetd.wait_all_exited(TIMEOUT),
        "rsftpd monitors left: {:?}",
        inetd
            .pids()
            .into_iter()
            .filter(|p| start_time(*p).is_some())
            .map(|p| (p, descendants(p)))
            .collect::<Vec<_>>()
    );
    let left = wait_gone(tree);
    assert!(
        left.is_empty(),
        "processes seen under the monitors left: {left:?}"
    );
    let left = wait_unmarked(tag);
    assert!(
        left.is_empty(),
        "rsftpd processes of this test left: {left:?}"
    );
    eprintln!(
        "load: {} processes seen under {} monitors, all gone (checked within {:.2} s)",
        tree.len(),
        inetd.pids().len(),
        t.elapsed().as_secs_f64()
    );
}

/// Print what failed (all of it) and fail the test with a count and the first few.
fn assert_no_failures(what: &str, failures: &[String]) {
    for f in failures {
        eprintln!("load: FAILED {f}");
    }
    assert!(
        failures.is_empty(),
        "{what}: {} failures, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-6)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------------------------------
// 1. N sessions at once, each downloading and checking a file (mini-inetd).
// ---------------------------------------------------------------------------------------

/// A file the downloads fetch: name, content, SHA-256 of the file on disk.
struct Served {
    name: &'static str,
    body: Vec<u8>,
    sha: String,
}

#[test]
fn many_sessions_download_and_checksum_at_once() {
    let _turn = serial();
    let n = sessions();
    raise_nofile(4 * n as u64 + 256);
    let tag = tag("download");
    let mut f = Fixture::new("load-dl");
    if common::is_root() {
        // Active connections from port 20, through the monitor, as most vsftpd configurations
        // have it: n sessions bind the same source port at once.
        f.set("connect_from_port_20=YES");
    }
    // Both sides of the inline limit (64 KiB) and two that need a transfer child.
    let files: Arc<Vec<Served>> = Arc::new(
        [
            ("small.bin", 40_000usize),
            ("edge.bin", 64 * 1024),
            ("mid.bin", 300_001),
            ("big.bin", 1024 * 1024 + 512 * 1024 + 7),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(name, len))| {
            let body = random_bytes(len, 0x10AD_0000 + 2 * i as u64);
            let p = f.file(name, &body, 0o644);
            let sha = common::sha256(&p);
            // The in-memory checksum and the file's must agree before they judge anything.
            assert_eq!(sha256_of(&body).unwrap(), sha, "sha256sum of {name}");
            Served { name, body, sha }
        })
        .collect(),
    );
    let inetd = Inetd::start_with_env(&["-c", f.conf.to_str().unwrap()], &[(MARK, &tag)]);
    let addr = inetd.addr;
    // The sessions' start, "all logged in" (the main thread arrives last, having looked at
    // the process tree) and "all transferred".
    let start = Arc::new(Gate::new(n));
    let logged_in = Arc::new(Gate::new(n + 1));
    let transferred = Arc::new(Gate::new(n));
    let window = Arc::new(Window::new(HANDSHAKES));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (files, start, logged_in, transferred, window) = (
                files.clone(),
                start.clone(),
                logged_in.clone(),
                transferred.clone(),
                window.clone(),
            );
            std::thread::Builder::new()
                .name(format!("dl-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || {
                    let file = &files[i % files.len()];
                    let mode = if i % 3 == 2 {
                        Mode::Active
                    } else {
                        Mode::Passive
                    };
                    let who = format!("session {i} ({} {mode:?})", file.name);
                    let mut errors = Vec::new();
                    let gate = |g: &Gate, name: &str, errors: &mut Vec<String>| {
                        if !g.wait() {
                            errors.push(format!("{who}: gate {name:?} timed out"));
                        }
                    };
                    gate(&start, "start", &mut errors);
                    let c = guarded(|| login(addr, &window));
                    gate(&logged_in, "logged in", &mut errors);
                    let mut got = 0;
                    let c = c.and_then(|mut c| {
                        guarded(|| {
                            let data = download(&mut c, file.name, file.body.len(), mode)?;
                            got = data.len();
                            check_bytes(&data, &file.body, &file.sha)
                                .map_err(|e| format!("RETR {}: {e}", file.name))
                        })
                        .map(|()| c)
                    });
                    gate(&transferred, "transferred", &mut errors);
                    if let Err(e) = c.and_then(|c| guarded(|| quit(c))) {
                        errors.push(format!("{who}: {e}"));
                    }
                    (errors, got as u64)
                })
                .expect("spawn a session thread")
        })
        .collect();

    // All sessions logged in at once: look at the process tree while it is whole.
    let all_in = logged_in.arrivals(n);
    let t_login = t0.elapsed();
    let tree = tree_of(&inetd);
    let live = tree.len();
    logged_in.wait();
    let mut failures = Vec::new();
    if !all_in {
        failures.push("not every session reached the \"logged in\" gate".to_string());
    }
    let mut bytes = 0u64;
    for t in threads {
        match t.join() {
            Ok((errors, got)) => {
                failures.extend(errors);
                bytes += got;
            }
            Err(_) => failures.push("a session thread panicked outside its steps".into()),
        }
    }
    let total = t0.elapsed();
    eprintln!(
        "load: {n} download sessions: all logged in after {:.2} s ({live} rsftpd processes \
         then), all done in {:.2} s: {:.1} sessions/s, {:.1} MiB checked at {:.1} MiB/s",
        t_login.as_secs_f64(),
        total.as_secs_f64(),
        rate(n, total),
        mib(bytes),
        mib(bytes) / (total - t_login).as_secs_f64().max(1e-6),
    );
    assert_no_failures("downloads", &failures);
    // Every session's monitor, at least, was alive at the gate.
    assert!(
        live >= n,
        "only {live} processes for {n} logged-in sessions"
    );
    assert_inetd_clean(&inetd, &tree, &tag);
}

// ---------------------------------------------------------------------------------------
// 2. M sessions at once, each uploading its own file (mini-inetd, root).
// ---------------------------------------------------------------------------------------

/// The uid and gid of a system account, from /etc/passwd.
fn account(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && f[0] == name)
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        .unwrap_or_else(|| panic!("no account {name} in /etc/passwd"))
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn concurrent_anonymous_uploads_land_byte_for_byte() {
    require_root!();
    let _turn = serial();
    let m = uploads();
    raise_nofile(4 * m as u64 + 256);
    let tag = tag("upload");
    let ftp = account("ftp");
    let mut f = Fixture::new("load-up");
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    let dir = f.mkdir("pub", 0o755);
    std::os::unix::fs::chown(&dir, Some(ftp.0), Some(ftp.1)).unwrap();
    // Empty, tiny, both sides of 64 KiB, and larger than a socket buffer or two.
    const SIZES: [usize; 10] = [
        0, 1, 4096, 65_535, 65_536, 65_537, 131_072, 333_333, 1_048_576, 1_500_001,
    ];
    let bodies: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        (0..m)
            .map(|i| {
                (
                    format!("load-{i:04}.bin"),
                    random_bytes(SIZES[i % SIZES.len()], 0x5107_0000 + 2 * i as u64),
                )
            })
            .collect(),
    );
    let inetd = Inetd::start_with_env(&["-c", f.conf.to_str().unwrap()], &[(MARK, &tag)]);
    let addr = inetd.addr;
    let logged_in = Arc::new(Gate::new(m + 1));
    let sent = Arc::new(Gate::new(m));
    let window = Arc::new(Window::new(HANDSHAKES));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..m)
        .map(|i| {
            let (bodies, logged_in, sent, window) = (
                bodies.clone(),
                logged_in.clone(),
                sent.clone(),
                window.clone(),
            );
            std::thread::Builder::new()
                .name(format!("up-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || {
                    let (name, body) = &bodies[i];
                    let mode = if i % 3 == 1 {
                        Mode::Active
                    } else {
                        Mode::Passive
                    };
                    let who = format!("session {i} ({name}, {} bytes, {mode:?})", body.len());
                    let mut errors = Vec::new();
                    let c = guarded(|| {
                        let mut c = login(addr, &window)?;
                        step_exact(&mut c, "CWD pub", "250 Directory successfully changed.")?;
                        Ok(c)
                    });
                    if !logged_in.wait() {
                        errors.push(format!("{who}: gate \"logged in\" timed out"));
                    }
                    let c = c
                        .and_then(|mut c| guarded(|| upload(&mut c, name, body, mode)).map(|()| c));
                    if !sent.wait() {
                        errors.push(format!("{who}: gate \"sent\" timed out"));
                    }
                    if let Err(e) = c.and_then(|c| guarded(|| quit(c))) {
                        errors.push(format!("{who}: {e}"));
                    }
                    errors
                })
                .expect("spawn a session thread")
        })
        .collect();
    let all_in = logged_in.arrivals(m);
    let t_login = t0.elapsed();
    let tree = tree_of(&inetd);
    logged_in.wait();
    let mut failures = Vec::new();
    if !all_in {
        failures.push("not every session reached the \"logged in\" gate".to_string());
    }
    for t in threads {
        match t.join() {
            Ok(errors) => failures.extend(errors),
            Err(_) => failures.push("a session thread panicked outside its steps".into()),
        }
    }
    let total = t0.elapsed();
    let bytes: u64 = bodies.iter().map(|(_, b)| b.len() as u64).sum();
    eprintln!(
        "load: {m} upload sessions: all logged in after {:.2} s, all done in {:.2} s: {:.1} \
         sessions/s, {:.1} MiB at {:.1} MiB/s",
        t_login.as_secs_f64(),
        total.as_secs_f64(),
        rate(m, total),
        mib(bytes),
        mib(bytes) / (total - t_login).as_secs_f64().max(1e-6),
    );
    assert_no_failures("uploads", &failures);
    // Every process has gone before the disk is judged: nothing can still be writing.
    assert_inetd_clean(&inetd, &tree, &tag);

    // Exactly the names sent: nothing missing, no temporary or extra files anywhere.
    assert_eq!(names_in(&f.root), ["pub"], "the anonymous root");
    let want: Vec<String> = bodies.iter().map(|(n, _)| n.clone()).collect();
    let got = names_in(&dir);
    let missing: Vec<_> = want.iter().filter(|n| !got.contains(n)).collect();
    let extra: Vec<_> = got.iter().filter(|n| !want.contains(n)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "upload directory: missing {missing:?}, extra {extra:?}"
    );
    let mut bad = Vec::new();
    for (name, body) in bodies.iter() {
        let p = dir.join(name);
        let on_disk = std::fs::read(&p).unwrap();
        let sha = sha256_of(body).unwrap();
        if let Err(e) = check_bytes(&on_disk, body, &sha) {
            bad.push(format!("{name}: {e}"));
        }
        if common::sha256(&p) != sha {
            bad.push(format!("{name}: sha256sum of the file differs"));
        }
        let md = std::fs::metadata(&p).unwrap();
        if (md.uid(), md.gid(), md.mode() & 0o7777) != (ftp.0, ftp.1, 0o600) {
            bad.push(format!(
                "{name}: owner {}:{} mode {:o}, expected {}:{} mode 600",
                md.uid(),
                md.gid(),
                md.mode() & 0o7777,
                ftp.0,
                ftp.1
            ));
        }
    }
    assert_no_failures("files on disk", &bad);
}

// ---------------------------------------------------------------------------------------
// 3. Standalone: a flood of reset and idle connections.
// ---------------------------------------------------------------------------------------

/// vsftpd's reply at max_clients, from the listener itself.
const TOO_MANY_USERS: &str = "421 There are too many connected users, please try later.";

/// The standalone server this test started; killed (by PID) and reaped on drop.
struct Listener {
    child: Child,
    port: u16,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listener {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its direct children: one monitor per session it has not reaped yet.
    fn sessions(&self) -> usize {
        children(self.pid()).len()
    }

    /// Wait (bounded) until it has exactly `k` children.
    fn wait_sessions(&self, k: usize, what: &str) {
        let t = Instant::now();
        while self.sessions() != k {
            assert!(
                t.elapsed() < TIMEOUT,
                "{what}: the listener has {} children, expected {k}",
                self.sessions()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its open descriptors.
    fn fds(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        let target = std::fs::read_link(e.path()).unwrap_or_default();
                        format!("{}->{}", e.file_name().to_string_lossy(), target.display())
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn assert_alive(&self, when: &str) {
        assert!(
            start_time(self.pid()).is_some()
                && common::proc_status(self.pid(), "State").is_some_and(|s| !s.starts_with('Z')),
            "the listener (pid {}) is gone {when}",
            self.pid()
        );
    }
}

/// Start a listen=YES server on a free loopback port, marked, and wait until it serves.
fn start_listener(f: &mut Fixture, tag: &str) -> Listener {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    f.set("listen=YES");
    f.set("listen_address=127.0.0.1");
    f.set(&format!("listen_port={port}"));
    let child = Command::new(common::bin())
        .args(["-c", f.conf.to_str().unwrap()])
        .env(MARK, tag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let l = Listener { child, port };
    let t = Instant::now();
    let mut probe = loop {
        if let Ok(c) = connect(l.addr()) {
            break c;
        }
        assert!(t.elapsed() < TIMEOUT, "the standalone server did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    want_reply(&mut probe, "the readiness probe's greeting", 220).unwrap();
    drop(probe);
    l.wait_sessions(0, "after the readiness probe");
    l
}

/// Connect and reset: SO_LINGER with a zero timeout makes close() send RST at once, most
/// often while the connection still waits in the listener's accept queue.
fn connect_and_reset(addr: SocketAddr) -> Result<(), String> {
    use nix::sys::socket::{setsockopt, sockopt::Linger};
    let s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    let abort = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    setsockopt(&s, Linger, &abort).map_err(|e| format!("SO_LINGER: {e}"))?;
    drop(s);
    Ok(())
}

/// `n` connections reset at once from four threads: how long it took, and the connects
/// that failed.
fn reset_flood(addr: SocketAddr, n: usize) -> (Duration, Vec<String>) {
    let t = Instant::now();
    let flood: Vec<_> = (0..4)
        .map(|k| {
            std::thread::spawn(move || {
                (k..n)
                    .step_by(4)
                    .filter_map(|_| connect_and_reset(addr).err())
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let errors = flood.into_iter().flat_map(|t| t.join().unwrap()).collect();
    (t.elapsed(), errors)
}

/// Connect until the greeting is 220 rather than the 421 at max_clients (sessions of reset
/// connections count until the listener has reaped them); the client and how many 421s
/// came first.
fn admitted(addr: SocketAddr) -> Result<(Ctl, usize), String> {
    let t = Instant::now();
    let mut refused = 0;
    loop {
        let mut c = connect(addr)?;
        let (code, text) = c.read_reply();
        match code {
            220 => return Ok((c, refused)),
            421 if text == TOO_MANY_USERS && t.elapsed() < TIMEOUT => refused += 1,
            _ => {
                return Err(format!(
                    "greeting after {refused} refusals: {code} {text:?}"
                ))
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn standalone_listener_survives_a_flood_of_reset_and_idle_connections() {
    let _turn = serial();
    let resets = count("RSFTPD_LOAD_RESETS", sessions() * 3 / 2);
    let idle = count("RSFTPD_LOAD_IDLE", uploads());
    raise_nofile(idle as u64 + 512);
    let tag = tag("flood");
    let mut f = Fixture::new("load-flood");
    // Room for the idle connections, the real client and one more: then a 421.
    f.set(&format!("max_clients={}", idle + 2));
    // Every connection comes from 127.0.0.1; the per-address limit is not what is tested.
    f.set("max_per_ip=0");
    let body = random_bytes(1024 * 1024 + 4099, 0xF100D);
    let small = random_bytes(1000, 0xF100E);
    f.file("big.bin", &body, 0o644);
    f.file("small.bin", &small, 0o644);
    let (sha, small_sha) = (sha256_of(&body).unwrap(), sha256_of(&small).unwrap());
    let l = start_listener(&mut f, &tag);
    let fds_before = l.fds();

    // The idle connections: half never send a byte, half a command line without its end.
    let t0 = Instant::now();
    let mut idlers = Vec::new();
    for i in 0..idle {
        let mut s = TcpStream::connect_timeout(&l.addr(), TIMEOUT).expect("idle connect");
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        if i % 2 == 1 {
            s.write_all(b"USER anonym").unwrap();
        }
        idlers.push(s);
    }
    l.wait_sessions(idle, "with the idle connections");
    // Each has its greeting waiting (peeked, not read): every process of theirs is there.
    for s in &idlers {
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut buf = [0u8; 4];
        let n = s.peek(&mut buf).expect("the idle connection's greeting");
        assert_eq!(&buf[..n.min(3)], b"220", "an idle connection's greeting");
    }
    let idle_tree = seen(descendants(l.pid()));

    // The reset flood, with room for two more sessions.
    let (flood_time, flood_errors) = reset_flood(l.addr(), resets);
    l.assert_alive("after the reset flood");

    // A real client gets in, logs in and downloads a file, byte for byte.
    let t_client = Instant::now();
    let (mut c, refusals) = admitted(l.addr()).expect("a real client after the flood");
    let greeted = t_client.elapsed();
    step(&mut c, "USER anonymous", 331).unwrap();
    step(&mut c, "PASS load@example.com", 230).unwrap();
    step_exact(&mut c, "TYPE I", "200 Switching to Binary mode.").unwrap();
    let got = download(&mut c, "big.bin", body.len(), Mode::Passive).unwrap();
    check_bytes(&got, &body, &sha).unwrap();
    eprintln!(
        "load: {resets} reset connections in {:.2} s ({:.0}/s, {} connect errors{}), {idle} \
         idle ones held; a real client was greeted {:.2} s later after {refusals} 421s",
        flood_time.as_secs_f64(),
        rate(resets, flood_time),
        flood_errors.len(),
        flood_errors
            .first()
            .map(|e| format!(", first: {e}"))
            .unwrap_or_default(),
        greeted.as_secs_f64(),
    );
    assert!(
        flood_errors.is_empty(),
        "{} of {resets} flood connections could not even connect: {:?}",
        flood_errors.len(),
        &flood_errors[..flood_errors.len().min(5)]
    );

    // The reset connections' sessions end; at capacity the listener refuses with 421 and
    // starts no process.
    l.wait_sessions(idle + 1, "once the reset connections' sessions were reaped");
    let mut c2 = connect(l.addr()).unwrap();
    want_reply(&mut c2, "the last free slot's greeting", 220).unwrap();
    l.wait_sessions(idle + 2, "at max_clients");
    // The flood again, now that every connection is over the limit: the listener answers
    // each with the 421 (onto a connection that is already reset, most of them) and starts
    // nothing.
    let (at_capacity, errors) = reset_flood(l.addr(), resets);
    assert!(errors.is_empty(), "flood at capacity: {errors:?}");
    l.assert_alive("after a reset flood at capacity");
    assert_eq!(
        l.sessions(),
        idle + 2,
        "a process was started for a connection over max_clients"
    );
    eprintln!(
        "load: {resets} reset connections at max_clients in {:.2} s ({:.0}/s)",
        at_capacity.as_secs_f64(),
        rate(resets, at_capacity)
    );
    let mut over = TcpStream::connect_timeout(&l.addr(), TIMEOUT).unwrap();
    over.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut refusal = Vec::new();
    over.read_to_end(&mut refusal)
        .expect("the listener closes a refused connection");
    assert_eq!(
        String::from_utf8_lossy(&refusal),
        format!("{TOO_MANY_USERS}\r\n"),
        "over max_clients"
    );
    assert_eq!(
        l.sessions(),
        idle + 2,
        "a process was started for a refused connection"
    );

    // Closing the idle connections ends their processes.
    let t_close = Instant::now();
    drop(idlers);
    let left = wait_gone(&idle_tree);
    assert!(
        left.is_empty(),
        "processes of closed idle connections left: {left:?}"
    );
    l.wait_sessions(2, "after closing the idle connections");
    eprintln!(
        "load: {} processes of {idle} idle connections gone {:.2} s after they closed",
        idle_tree.len(),
        t_close.elapsed().as_secs_f64()
    );

    // Room again: a new client is served at once, the first one still works, all leave.
    let mut c3 = connect(l.addr()).unwrap();
    want_reply(&mut c3, "greeting with room again", 220).unwrap();
    let got = download(&mut c, "small.bin", small.len(), Mode::Active).unwrap();
    check_bytes(&got, &small, &small_sha).unwrap();
    for c in [c, c2, c3] {
        quit(c).unwrap();
    }
    l.wait_sessions(0, "after every client quit");
    l.assert_alive("at the end");
    let fds_after = l.fds();
    assert_eq!(
        fds_after, fds_before,
        "the listener's descriptors before and after the flood"
    );
    eprintln!(
        "load: standalone flood test done in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    drop(l);
    let left = wait_unmarked(&tag);
    assert!(
        left.is_empty(),
        "rsftpd processes of this test left: {left:?}"
    );
}
