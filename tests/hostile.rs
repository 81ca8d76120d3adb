//! The hostile-input suite: overlong lines, NUL bytes, Telnet IAC and Synch sequences,
//! invalid UTF-8, CR/LF injection into replies and logs, REST with huge and negative
//! offsets, PORT/EPRT with bad and third-party addresses, commands out of order, PASV
//! replacing PASV, STOU races, pipelined commands, and files planted in a writable jail.
//!
//! Every case runs against a server that could change things (anonymous uploads, mkdir and
//! other writes on, a directory the anonymous account owns), asserts the exact replies, and
//! compares a snapshot of the served tree and the secure_chroot_dir taken before with one
//! taken after (path -> type, mode, owner, size, sha256, mtime, ctime, inode, symlink
//! target): nothing changed, or exactly the change the case expects. Every server process
//! must have exited at the end of each test.
//!
//! Root only (as CI runs): the anonymous account owns the writable directory and the
//! sessions are jailed. Every loop is bounded in count and time; everything talks only to
//! loopback (127.0.0.1, and 127.0.0.2 as the "third party").
mod common;
use common::ftp::assert_no_connection;

use common::ftp::{exact, port_arg, set_mtime};
use common::{assert_all_exited, random_bytes, Ctl, Fixture, Inetd, TIMEOUT};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------
// Exact replies (src/session/*.rs; vsftpd's texts where vsftpd has the case).
// ---------------------------------------------------------------------------------------

const TOO_LONG: &str = "500 Input line too long.";
const UNKNOWN: &str = "500 Unknown command.";
const NOT_LOGGED_IN: &str = "530 Please login with USER and PASS.";
const ANON_ONLY: &str = "530 This FTP server is anonymous only.";
const USER_FIRST: &str = "503 Login with USER first.";
const DENIED: &str = "550 Permission denied.";
const DELE_FAILED: &str = "550 Delete operation failed.";
const MKD_FAILED: &str = "550 Create directory operation failed.";
const RMD_FAILED: &str = "550 Remove directory operation failed.";
const RNFR_FAILED: &str = "550 RNFR command failed.";
const RNFR_FIRST: &str = "503 RNFR required first.";
const CWD_FAILED: &str = "550 Failed to change directory.";
const CWD_OK: &str = "250 Directory successfully changed.";
const SIZE_FAILED: &str = "550 Could not get file size.";
const OPEN_FAILED: &str = "550 Failed to open file.";
const CREATE_FAILED: &str = "553 Could not create file.";
const NO_DATA: &str = "425 Use PORT or PASV first.";
const REST_BAD: &str = "501 REST needs a non-negative number.";
const ILLEGAL_PORT: &str = "500 Illegal PORT command.";
const PORT_OK: &str = "200 PORT command successful. Consider using PASV.";
const BAD_EPRT: &str = "500 Bad EPRT command.";
const ILLEGAL_EPRT: &str = "500 Illegal EPRT command.";
const EPRT_OK: &str = "200 EPRT command successful. Consider using EPSV.";
const NOOP_OK: &str = "200 NOOP ok.";
const GOODBYE: &str = "221 Goodbye.";
const COMPLETE: &str = "226 Transfer complete.";
const LIST_START: &str = "150 Here comes the directory listing.";
const LIST_DONE: &str = "226 Directory send OK.";
const OK_TO_SEND: &str = "150 Ok to send data.";

/// Contents of the files every hostile fixture starts with.
const X_BODY: &[u8] = b"x: ten b\n\n";
const A_BODY: &[u8] = b"file a\n";

// ---------------------------------------------------------------------------------------
// SHA-256 (no extra crate; checked against the FIPS 180-2 test vectors below).
// ---------------------------------------------------------------------------------------

const SHA_K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

fn sha256_hex(data: &[u8]) -> String {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let (a, b) = (w[i - 15], w[i - 2]);
            let s0 = a.rotate_right(7) ^ a.rotate_right(18) ^ (a >> 3);
            let s1 = b.rotate_right(17) ^ b.rotate_right(19) ^ (b >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for (k, wi) in SHA_K.iter().zip(w.iter()) {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(*wi);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (hi, vi) in h.iter_mut().zip(v) {
            *hi = hi.wrapping_add(vi);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Disk snapshots.
// ---------------------------------------------------------------------------------------

/// Everything about one directory entry that a write could change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// 'f' file, 'd' directory, 'l' symlink, 'o' other.
    kind: char,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    sha256: Option<String>,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    nlink: u64,
    target: Option<Vec<u8>>,
}

/// Path (relative to the fixture directory, as bytes) -> entry.
type Snapshot = BTreeMap<Vec<u8>, Entry>;

/// Walk `dirs` (below `base`) without following symlinks; bounded in depth and count.
fn snapshot(base: &Path, dirs: &[&Path]) -> Snapshot {
    let mut out = Snapshot::new();
    let mut budget = 20_000usize;
    for d in dirs {
        walk(base, d, 0, &mut out, &mut budget);
    }
    out
}

fn walk(base: &Path, p: &Path, depth: usize, out: &mut Snapshot, budget: &mut usize) {
    assert!(depth < 32, "tree too deep at {}", p.display());
    assert!(*budget > 0, "tree too big");
    *budget -= 1;
    let md = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let ft = md.file_type();
    let kind = if ft.is_file() {
        'f'
    } else if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'l'
    } else {
        'o'
    };
    let rel = p
        .strip_prefix(base)
        .unwrap()
        .as_os_str()
        .as_bytes()
        .to_vec();
    out.insert(
        rel,
        Entry {
            kind,
            mode: md.mode(),
            uid: md.uid(),
            gid: md.gid(),
            size: md.size(),
            sha256: (kind == 'f').then(|| sha256_hex(&std::fs::read(p).unwrap())),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
            ino: md.ino(),
            nlink: md.nlink(),
            target: (kind == 'l').then(|| {
                std::fs::read_link(p)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec()
            }),
        },
    );
    if kind == 'd' {
        let mut kids: Vec<PathBuf> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        kids.sort();
        for k in kids {
            walk(base, &k, depth + 1, out, budget);
        }
    }
}

fn show(k: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(k))
}

/// Differences between two snapshots, one readable line each.
fn diff(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (k, e) in before {
        match after.get(k) {
            None => out.push(format!("removed {}", show(k))),
            Some(a) if a != e => out.push(format!("changed {}: {e:?} -> {a:?}", show(k))),
            _ => {}
        }
    }
    for k in after.keys().filter(|k| !before.contains_key(*k)) {
        out.push(format!("added {}", show(k)));
    }
    out
}

/// The served tree and the secure_chroot_dir of a fixture.
fn snap(f: &Fixture) -> Snapshot {
    snapshot(&f.dir, &[&f.root, &f.empty])
}

fn assert_unchanged(f: &Fixture, before: &Snapshot, what: &str) {
    let d = diff(before, &snap(f));
    assert!(d.is_empty(), "{what}: the disk changed:\n{}", d.join("\n"));
}

/// Exactly `added` (paths relative to the fixture directory) appeared; besides them only
/// the mtime, ctime and size of the directories in `touched` may differ.
fn assert_only_added(f: &Fixture, before: &Snapshot, added: &[&[u8]], touched: &[&[u8]]) {
    let after = snap(f);
    let mut problems = Vec::new();
    for (k, e) in before {
        match after.get(k) {
            None => problems.push(format!("removed {}", show(k))),
            Some(a) if a != e => {
                let mut same = a.clone();
                if touched.contains(&k.as_slice()) {
                    same.mtime = e.mtime;
                    same.ctime = e.ctime;
                    same.size = e.size;
                    same.nlink = e.nlink;
                }
                if &same != e {
                    problems.push(format!("changed {}: {e:?} -> {a:?}", show(k)));
                }
            }
            _ => {}
        }
    }
    let new: BTreeSet<&[u8]> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .map(|k| k.as_slice())
        .collect();
    let want: BTreeSet<&[u8]> = added.iter().copied().collect();
    if new != want {
        problems.push(format!(
            "added {:?}, expected {:?}",
            new.iter().map(|k| show(k)).collect::<Vec<_>>(),
            want.iter().map(|k| show(k)).collect::<Vec<_>>()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Fixture: anonymous writes on, a directory the anonymous account owns.
// ---------------------------------------------------------------------------------------

fn ftp_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && f[0] == "ftp")
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        .expect("no ftp account in /etc/passwd")
}

/// A fixture where anonymous sessions may upload, make directories, overwrite, append,
/// delete and rename: `pub` (owned by the ftp account) holds `x`, `a`, a Latin-1 name, a
/// symlink, an empty directory and a directory with a file; the root has a readme.
fn hostile(name: &str) -> Fixture {
    let mut f = Fixture::new(name);
    f.set("write_enable=YES")
        .set("anon_upload_enable=YES")
        .set("anon_mkdir_write_enable=YES")
        .set("anon_other_write_enable=YES")
        .set("accept_timeout=10")
        .set("connect_timeout=5");
    f.file("readme.txt", b"read me\n", 0o644);
    let p = f.mkdir("pub", 0o755);
    let (uid, gid) = ftp_ids();
    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
    // World-writable (but root's, so anonymous sessions may download them too): an
    // overwrite, append or resume would go through.
    f.file("pub/x", X_BODY, 0o666);
    f.file("pub/a", A_BODY, 0o666);
    let latin1 = f.root.join(OsStr::from_bytes(b"pub/caf\xe9.txt"));
    std::fs::write(&latin1, b"latin-1 name\n").unwrap();
    std::fs::set_permissions(&latin1, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink("x", f.root.join("pub/link")).unwrap();
    f.mkdir("pub/emptyd", 0o755);
    f.file("pub/keep/inner.txt", b"inner\n", 0o644);
    // A fixed time: a later touch would show.
    for rel in ["pub/x", "pub/a", "pub/keep/inner.txt", "readme.txt"] {
        set_mtime(&f.root.join(rel), 1_600_000_000);
    }
    f
}

/// Log in anonymously and change to /pub.
fn login_pub(inetd: &Inetd) -> Ctl {
    let mut c = inetd.login();
    exact(&mut c, "CWD pub", CWD_OK);
    c
}

// ---------------------------------------------------------------------------------------
// Control-connection helpers.
// ---------------------------------------------------------------------------------------

/// Send raw bytes (line ending included) and assert the whole reply text.
fn exact_raw(c: &mut Ctl, bytes: &[u8], want: &str) {
    c.send_raw(bytes);
    let (_, text) = c.read_reply();
    assert_eq!(text, want, "reply to {:?}", String::from_utf8_lossy(bytes));
}

/// The server closed the control connection: EOF (or a reset after unread input), not a
/// read timeout, and nothing more arrived.
fn assert_closed(c: &mut Ctl) {
    let (code, text) = c.read_reply();
    assert_eq!(code, 0, "expected the connection to close, got {text:?}");
    let mut b = [0u8; 16];
    match c.stream.read(&mut b) {
        Ok(0) => {}
        Ok(n) => panic!("unexpected bytes after close: {:?}", &b[..n]),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "expected EOF, got {e}"
        ),
    }
}

/// Parse every byte received as FTP replies (CRLF lines, `NNN text` or `NNN-` ... `NNN
/// text`, no CR or LF inside a line); returns the replies as (code, first line).
fn parse_replies(transcript: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut replies = Vec::new();
    let mut open: Option<(Vec<u8>, Vec<u8>)> = None;
    for line in transcript.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r\n").unwrap_or_else(|| {
            panic!(
                "reply line not CRLF-terminated: {:?}",
                String::from_utf8_lossy(line)
            )
        });
        assert!(
            !line.contains(&b'\r'),
            "CR inside a reply line: {:?}",
            String::from_utf8_lossy(line)
        );
        let code = |l: &[u8]| -> u16 { std::str::from_utf8(&l[..3]).unwrap().parse().unwrap() };
        match &open {
            None => {
                assert!(
                    line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit),
                    "not a reply line: {:?}",
                    String::from_utf8_lossy(line)
                );
                match line[3] {
                    b' ' => replies.push((code(line), line.to_vec())),
                    b'-' => open = Some((line[..3].to_vec(), line.to_vec())),
                    _ => panic!("bad separator: {:?}", String::from_utf8_lossy(line)),
                }
            }
            Some((c, first)) => {
                if line.len() >= 4 && line[..3] == c[..] && line[3] == b' ' {
                    replies.push((code(line), first.clone()));
                    open = None;
                }
            }
        }
    }
    assert!(open.is_none(), "unterminated multi-line reply");
    replies
}

/// Parse a 227 reply's port.
fn pasv_port(text: &str) -> u16 {
    let inner = &text[text.find('(').unwrap() + 1..text.find(')').unwrap()];
    let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    assert_eq!(n[..4], [127, 0, 0, 1], "{text}");
    n[4] * 256 + n[5]
}

/// Parse a 229 reply's port.
fn epsv_port(text: &str) -> u16 {
    let inner = &text[text.find("(|||").unwrap() + 4..text.find("|)").unwrap()];
    inner.parse().unwrap()
}

fn connect_data(port: u16) -> TcpStream {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let s = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// A passive download or listing: (first reply, data, final reply if the first was 150).
fn fetch(c: &mut Ctl, command: &[u8]) -> (String, Vec<u8>, Option<String>) {
    let mut d = c.pasv();
    let mut line = command.to_vec();
    line.extend_from_slice(b"\r\n");
    c.send_raw(&line);
    let (code, first) = c.read_reply();
    if code != 150 {
        return (first, Vec::new(), None);
    }
    let mut buf = Vec::new();
    d.read_to_end(&mut buf).unwrap();
    let (_, last) = c.read_reply();
    (first, buf, Some(last))
}

/// A passive upload: (first reply, final reply if the first was 150).
fn upload(c: &mut Ctl, command: &[u8], data: &[u8]) -> (String, Option<String>) {
    let mut d = c.pasv();
    d.set_write_timeout(Some(TIMEOUT)).unwrap();
    let mut line = command.to_vec();
    line.extend_from_slice(b"\r\n");
    c.send_raw(&line);
    let (code, first) = c.read_reply();
    if code != 150 {
        return (first, None);
    }
    d.write_all(data).unwrap();
    d.shutdown(Shutdown::Write).unwrap();
    drop(d);
    let (_, last) = c.read_reply();
    (first, Some(last))
}

/// QUIT, the close, and every server process this inetd started exited.
fn quit(mut c: Ctl, inetd: &Inetd) {
    exact(&mut c, "QUIT", GOODBYE);
    assert_closed(&mut c);
    parse_replies(&c.transcript);
    drop(c);
    assert_all_exited(inetd);
}

/// Send TCP urgent data (the Telnet Synch's Data Mark) on the control connection.
fn send_urgent(c: &Ctl, byte: u8) {
    let b = [byte];
    // SAFETY: a valid socket descriptor owned by `c`, a 1-byte buffer that outlives the call.
    let n = unsafe {
        libc::send(
            c.stream.as_raw_fd(),
            b.as_ptr().cast(),
            1,
            libc::MSG_OOB | libc::MSG_NOSIGNAL,
        )
    };
    assert_eq!(n, 1, "send(MSG_OOB) failed");
}

/// Ports of the listening TCP sockets held by the given processes (from /proc/PID/fd and
/// /proc/net/tcp*), one entry per socket.
fn listen_ports(pids: &[u32]) -> Vec<u16> {
    let mut inodes = HashSet::new();
    for pid in pids {
        let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for e in rd.flatten() {
            if let Ok(t) = std::fs::read_link(e.path()) {
                let t = t.to_string_lossy().to_string();
                if let Some(i) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    inodes.insert(i.to_string());
                }
            }
        }
    }
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for l in text.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                let hex = f[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(hex, 16).unwrap());
            }
        }
    }
    ports.sort_unstable();
    ports
}

/// Every process of every session this inetd started.
fn session_pids(inetd: &Inetd) -> Vec<u32> {
    let mut v = Vec::new();
    for p in inetd.pids() {
        v.push(p);
        v.extend(common::descendants(p));
    }
    v
}

// ---------------------------------------------------------------------------------------
// 0. The snapshot itself.
// ---------------------------------------------------------------------------------------

#[test]
fn snapshot_helper_sees_every_kind_of_change() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let long = random_bytes(100_000, 5);
    let f = Fixture::new("hostile-snap");
    let p = f.file("long.bin", &long, 0o644);
    assert_eq!(sha256_hex(&long), common::sha256(&p));
    let before = snap(&f);
    assert!(diff(&before, &snap(&f)).is_empty());
    // Same size, same mtime, other bytes: the checksum (and ctime) tells.
    let mut other = long.clone();
    other[500] ^= 1;
    std::fs::write(&p, &other).unwrap();
    set_mtime(&p, before[b"root/long.bin".as_slice()].mtime.0 as u64);
    let d = diff(&before, &snap(&f));
    assert_eq!(d.len(), 1, "{d:?}");
    // A mode change alone.
    let before = snap(&f);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(diff(&before, &snap(&f)).len(), 1);
    // A new entry in secure_chroot_dir.
    let before = snap(&f);
    std::fs::write(f.empty.join("planted"), b"").unwrap();
    let d = diff(&before, &snap(&f));
    assert!(d.iter().any(|l| l.starts_with("added")), "{d:?}");
}

// ---------------------------------------------------------------------------------------
// 1. Overlong lines.
// ---------------------------------------------------------------------------------------

/// `prefix` padded with `pad` to exactly `len` bytes.
fn padded(prefix: &[u8], pad: u8, len: usize) -> Vec<u8> {
    let mut v = prefix.to_vec();
    assert!(v.len() <= len);
    v.resize(len, pad);
    v
}

#[test]
fn overlong_lines_prelogin_are_refused_and_the_tail_never_runs() {
    require_root!();
    let f = hostile("hostile-longpre");
    let before = snap(&f);
    let inetd = f.inetd();

    // Exactly 4096 bytes with CRLF is still a line (a user name too long to be one).
    let mut c = inetd.connect();
    let mut line = padded(b"USER ", b'u', 4094);
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), 4096);
    exact_raw(&mut c, &line, "530 Login incorrect.");
    // 4097 bytes: refused and closed; behind the 4096-byte boundary a whole login and two
    // writes, which must never run.
    let mut line = padded(b"USER ", b'u', 4095);
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), 4097);
    line.extend_from_slice(b"USER anonymous\r\nPASS a@b\r\nDELE pub/x\r\nMKD pub/evil\r\n");
    c.send_raw(&line);
    assert_eq!(c.read_reply(), (500, TOO_LONG.to_string()));
    assert_closed(&mut c);
    assert_eq!(
        c.transcript,
        b"220 FTP server ready.\r\n530 Login incorrect.\r\n500 Input line too long.\r\n"
    );

    // The tail exactly at the boundary: 4096 bytes without a line end, then commands.
    let mut c = inetd.connect();
    let mut line = padded(b"NOOP", b' ', 4096);
    line.extend_from_slice(b"USER anonymous\r\nPASS a@b\r\nDELE pub/x\r\n");
    c.send_raw(&line);
    assert_eq!(c.read_reply(), (500, TOO_LONG.to_string()));
    assert_closed(&mut c);

    // A 1 MiB line (the server stops reading, so our write may be cut off by a reset).
    let mut c = inetd.connect();
    let mut big = padded(b"USER ", b'A', 1 << 20);
    big.extend_from_slice(b"\r\nUSER anonymous\r\nPASS a@b\r\nMKD pub/evil\r\n");
    let mut w = c.stream.try_clone().unwrap();
    w.set_write_timeout(Some(TIMEOUT)).unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&big);
    });
    assert_eq!(c.read_reply(), (500, TOO_LONG.to_string()));
    assert_closed(&mut c);
    writer.join().unwrap();
    assert_all_exited(&inetd);
    assert_unchanged(&f, &before, "overlong lines before login");
}

#[test]
fn overlong_lines_postlogin_are_refused_and_the_tail_never_runs() {
    require_root!();
    let f = hostile("hostile-longpost");
    let before = snap(&f);
    let inetd = f.inetd();

    let mut c = inetd.login();
    let start = c.transcript.len();
    // Exactly 4096 bytes with CRLF: a CWD through 4087 slashes to /pub.
    let mut line = padded(b"CWD ", b'/', 4091);
    line.extend_from_slice(b"pub\r\n");
    assert_eq!(line.len(), 4096);
    exact_raw(&mut c, &line, CWD_OK);
    // 4097 bytes (the LF is byte 4097): refused, closed; neither a truncated MKD (of
    // /pub/evl, through 2044 "./") nor the DELE behind it runs.
    let mut line = b"MKD ".to_vec();
    for _ in 0..2044 {
        line.extend_from_slice(b"./");
    }
    line.extend_from_slice(b"evl\r\nDELE x\r\nMKD evil\r\n");
    assert_eq!(line.iter().position(|&b| b == b'\n'), Some(4096));
    c.send_raw(&line);
    assert_eq!(c.read_reply(), (500, TOO_LONG.to_string()));
    assert_closed(&mut c);
    assert_eq!(
        &c.transcript[start..],
        b"250 Directory successfully changed.\r\n500 Input line too long.\r\n"
    );

    // The tail exactly at byte 4096, no line end before it.
    let mut c = login_pub(&inetd);
    let mut line = padded(b"NOOP", b' ', 4096);
    line.extend_from_slice(b"DELE x\r\nMKD evil\r\nRNFR a\r\nRNTO b\r\n");
    c.send_raw(&line);
    assert_eq!(c.read_reply(), (500, TOO_LONG.to_string()));
    assert_closed(&mut c);

    // A long line that arrives in two writes is bounded all the same.
    let mut c = login_pub(&inetd);
    c.send_raw(&padded(b"MKD ", b'e', 3000));
    std::thread::sleep(Duration::from_millis(200));
    let mut rest = vec![b'e'; 1100];
    rest.extend_from_slice(b"\r\nMKD evil\r\n");
    c.send_raw(&rest);
    assert_eq!(c.read_reply(), (500, TOO_LONG.to_string()));
    assert_closed(&mut c);

    // A 1 MiB line after login.
    let mut c = login_pub(&inetd);
    let mut big = padded(b"DELE ", b'x', 1 << 20);
    big.extend_from_slice(b"\r\nDELE x\r\nDELE a\r\n");
    let mut w = c.stream.try_clone().unwrap();
    w.set_write_timeout(Some(TIMEOUT)).unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&big);
    });
    assert_eq!(c.read_reply(), (500, TOO_LONG.to_string()));
    assert_closed(&mut c);
    writer.join().unwrap();

    assert_all_exited(&inetd);
    assert!(f.root.join("pub/x").exists() && !f.root.join("pub/evil").exists());
    assert!(!f.root.join("pub/evl").exists());
    assert_unchanged(&f, &before, "overlong lines after login");
}

// ---------------------------------------------------------------------------------------
// 2. NUL bytes, Telnet sequences, invalid UTF-8.
// ---------------------------------------------------------------------------------------

#[test]
fn nul_bytes_never_truncate_a_command_or_a_path() {
    require_root!();
    let f = hostile("hostile-nul");
    let before = snap(&f);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    // Before login: a NUL is never a way in, and nothing is run.
    exact_raw(&mut c, b"DELE pub/x\0\r\n", NOT_LOGGED_IN);
    exact_raw(&mut c, b"USER anonymous\0\r\n", ANON_ONLY);
    exact_raw(&mut c, b"PASS a@b\0\r\n", USER_FIRST);
    exact_raw(&mut c, b"US\0ER anonymous\r\n", NOT_LOGGED_IN);
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS a@b", "230 Login successful.");
    exact(&mut c, "CWD pub", CWD_OK);
    // "a" exists: if a NUL truncated "a\0b" to "a", these would act on it.
    for (line, want) in [
        (&b"DELE a\0b\r\n"[..], DELE_FAILED),
        (b"DELE a\0\r\n", DELE_FAILED),
        (b"DELE \0a\r\n", DELE_FAILED),
        (b"MKD x\0y\r\n", MKD_FAILED),
        (b"XMKD evil\0\r\n", MKD_FAILED),
        (b"RMD emptyd\0\r\n", RMD_FAILED),
        (b"XRMD emptyd\0/..\r\n", RMD_FAILED),
        (b"RNFR a\0\r\n", RNFR_FAILED),
        (b"RNTO b\r\n", RNFR_FIRST),
        (
            b"MDTM 20000101000000 a\0\r\n",
            "550 Could not set file modification time.",
        ),
        (b"SITE CHMOD 777 a\0\r\n", DENIED),
        (b"SIZE a\0\r\n", SIZE_FAILED),
        (b"CWD keep\0\r\n", CWD_FAILED),
        (b"RETR a\0\r\n", OPEN_FAILED),
        (b"STOR a\0b\r\n", CREATE_FAILED),
        (b"APPE a\0\r\n", CREATE_FAILED),
        (b"STOU a\0\r\n", DENIED),
        (b"LIST a\0\r\n", DENIED),
        (b"NLST keep\0\r\n", DENIED),
        (b"STAT a\0\r\n", DENIED),
        (b"DE\0LE a\r\n", UNKNOWN),
        (b"\0DELE a\r\n", UNKNOWN),
        (b"DELE\0 a\r\n", UNKNOWN),
    ] {
        // Uploads answer 425 before looking at the name when no data connection is set
        // up: set one up so the name itself is what gets refused.
        let _data = [&b"STOR"[..], b"APPE", b"STOU"]
            .iter()
            .any(|v| line.starts_with(v))
            .then(|| c.pasv());
        exact_raw(&mut c, line, want);
    }
    exact(&mut c, "PWD", "257 \"/pub\" is the current directory");
    exact(&mut c, "SIZE a", &format!("213 {}", A_BODY.len()));
    quit(c, &inetd);
    assert_unchanged(&f, &before, "NUL bytes");
}

#[test]
fn telnet_iac_and_synch_sequences_change_nothing() {
    require_root!();
    let f = hostile("hostile-telnet");
    // A file named with a leading 0xFF: only IAC IAC names it on the wire.
    let ff = f.root.join(OsStr::from_bytes(b"pub/\xffa"));
    std::fs::write(&ff, b"ff\n").unwrap();
    std::fs::set_permissions(&ff, std::fs::Permissions::from_mode(0o644)).unwrap();
    common::ftp::big_file(&f, "pub/big.bin", 64 << 20);
    let before = snap(&f);
    let inetd = f.inetd();
    let mut c = login_pub(&inetd);
    for (line, want) in [
        // IAC IP IAC DM before a command (inline Synch).
        (&b"\xff\xf4\xff\xf2DELE nosuch\r\n"[..], DELE_FAILED),
        // IAC IAC is one literal 0xFF: "\xffb" does not exist, "\xffa" does.
        (b"SIZE \xff\xffb\r\n", SIZE_FAILED),
        (b"SIZE \xff\xffa\r\n", "213 3"),
        // IAC WILL x, IAC DO x are dropped whole: nothing is left for an argument.
        (b"MKD \xff\xfb\x01\r\n", "501 MKD needs an argument."),
        (b"DELE \xff\xfd\x03\r\n", "501 DELE needs an argument."),
        // IAC NOP inside the verb: it is still NOOP, and only NOOP.
        (b"NO\xff\xf1OP\r\n", NOOP_OK),
        // A lone IAC at the end of the line is dropped.
        (b"DELE nosuch\xff\r\n", DELE_FAILED),
        // Nothing but Telnet: an unknown verb made of 0xFF bytes.
        (b"\xff\xff\xff\xff\r\n", UNKNOWN),
        // An empty subnegotiation (IAC SB IAC SE) before the verb.
        (b"\xff\xfa\xff\xf0DELE nosuch\r\n", DELE_FAILED),
        (b"\xff\xf4\xff\xf2ABOR\r\n", "225 No transfer to ABOR."),
    ] {
        exact_raw(&mut c, line, want);
    }
    // The real Synch: IAC IP inline, IAC inline, DM as TCP urgent data, then the command.
    c.send_raw(b"\xff\xf4\xff");
    send_urgent(&c, 0xf2);
    exact_raw(&mut c, b"DELE nosuch\r\n", DELE_FAILED);
    c.send_raw(b"\xff\xf4\xff");
    send_urgent(&c, 0xf2);
    exact_raw(&mut c, b"ABOR\r\n", "225 No transfer to ABOR.");
    // The Synch during a download: ABOR ends it, the session goes on.
    let d = c.pasv();
    exact(
        &mut c,
        "RETR big.bin",
        &format!(
            "150 Opening BINARY mode data connection for big.bin ({} bytes).",
            64 << 20
        ),
    );
    c.send_raw(b"\xff\xf4\xff");
    send_urgent(&c, 0xf2);
    c.send_raw(b"ABOR\r\n");
    assert_eq!(
        c.read_reply(),
        (426, "426 Failure writing network stream.".to_string())
    );
    assert_eq!(c.read_reply(), (226, "226 ABOR successful.".to_string()));
    drop(d);
    exact(&mut c, "NOOP", NOOP_OK);
    quit(c, &inetd);
    assert_unchanged(&f, &before, "Telnet sequences");
}

#[test]
fn invalid_utf8_names_are_bytes_refused_or_kept_exactly() {
    require_root!();
    let f = hostile("hostile-utf8");
    let before = snap(&f);
    let inetd = f.inetd();
    let mut c = login_pub(&inetd);
    for (line, want) in [
        (&b"DELE \xc3\x28\r\n"[..], DELE_FAILED),
        (b"RNFR \xe2\x82\r\n", RNFR_FAILED),
        (b"CWD \x80\x81\r\n", CWD_FAILED),
        (b"RMD \xed\xa0\x80\r\n", RMD_FAILED),
        (b"SIZE caf\xc3\xa9.txt\r\n", SIZE_FAILED),
        (b"SIZE caf\xe9.txt\r\n", "213 13"),
        (b"\xc3\x28\xa0\xa1 x\r\n", UNKNOWN),
    ] {
        exact_raw(&mut c, line, want);
    }
    // The Latin-1 name downloads byte-exact, and its 150 reply carries the raw bytes.
    let (first, data, last) = fetch(&mut c, b"RETR caf\xe9.txt");
    assert_eq!(
        first,
        String::from_utf8_lossy(
            b"150 Opening BINARY mode data connection for caf\xe9.txt (13 bytes)."
        )
    );
    assert_eq!(data, b"latin-1 name\n");
    assert_eq!(last.as_deref(), Some(COMPLETE));
    let raw150: &[u8] = b"150 Opening BINARY mode data connection for caf\xe9.txt (13 bytes).\r\n";
    assert!(c.transcript.windows(raw150.len()).any(|w| w == raw150));
    quit(c, &inetd);
    assert_unchanged(&f, &before, "invalid UTF-8, reads");

    // A directory made with an invalid UTF-8 name has exactly those bytes (not U+FFFD).
    let mut c = login_pub(&inetd);
    c.send_raw(b"MKD d\xe9j\xc3\r\n");
    assert_eq!(c.read_reply().0, 257);
    let want: &[u8] = b"257 \"/pub/d\xe9j\xc3\" created\r\n";
    assert!(
        c.transcript.ends_with(want),
        "{:?}",
        String::from_utf8_lossy(&c.transcript)
    );
    quit(c, &inetd);
    assert_only_added(&f, &before, &[b"root/pub/d\xe9j\xc3"], &[b"root/pub"]);
}

// ---------------------------------------------------------------------------------------
// 3. CR / LF injection into replies and logs.
// ---------------------------------------------------------------------------------------

/// The server's log escaping, for the user names we expect to see in `[user]`.
fn log_escape(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch.is_control() || ch == '\\' || ch == '"' {
                for byte in ch.to_string().bytes() {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
            } else {
                out.push(ch);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// `Tue Nov  3 04:04:32 2026`.
fn is_ctime_date(s: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(s) else {
        return false;
    };
    let b = s.as_bytes();
    s.len() == 24
        && ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].contains(&&s[0..3])
        && [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .contains(&&s[4..7])
        && b[3] == b' '
        && b[7] == b' '
        && (b[8] == b' ' || b[8].is_ascii_digit())
        && b[9].is_ascii_digit()
        && b[10] == b' '
        && s[11..19].bytes().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                c == b':'
            } else {
                c.is_ascii_digit()
            }
        })
        && b[19] == b' '
        && s[20..24].bytes().all(|c| c.is_ascii_digit())
}

/// Wait (bounded) until the file has a line containing `want`; its lines as bytes.
fn wait_log(p: &Path, want: &str) -> Vec<Vec<u8>> {
    let t = Instant::now();
    loop {
        let data = std::fs::read(p).unwrap_or_default();
        if data.windows(want.len()).any(|w| w == want.as_bytes()) {
            assert!(data.ends_with(b"\n"), "log does not end with a line end");
            return data
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| l.to_vec())
                .collect();
        }
        assert!(
            t.elapsed() < TIMEOUT,
            "{} lacks {want:?}:\n{}",
            p.display(),
            String::from_utf8_lossy(&data)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cr_lf_injection_forges_no_reply_and_no_log_line() {
    require_root!();
    let mut f = hostile("hostile-inject");
    let vlog = f.dir.join("vsftpd.log");
    let xlog = f.dir.join("xferlog");
    f.set(&format!("vsftpd_log_file={}", vlog.display()))
        .set(&format!("xferlog_file={}", xlog.display()))
        .set("xferlog_enable=YES")
        .set("dual_log_enable=YES")
        .set("log_ftp_protocol=YES");
    // A name with a CR planted on disk (a local user or an earlier upload could).
    f.file("pub/evil\r226 forged", b"planted\n", 0o644);
    let before = snap(&f);
    let inetd = f.inetd();

    let user1: &[u8] = b"x\r230 Login successful.";
    let user2: &[u8] = b"evil\r[pid 1] [ftp] OK LOGIN: Client \"6.6.6.6\"";
    let user3: &[u8] = b"y] FAIL LOGIN: Client \"6.6.6.6\"\xc2\x85\x0bz";
    let pass: &[u8] = b"a@b\r[pid 1] [ftp] OK LOGIN: Client \"6.6.6.6\", anon password \"x\"";
    let mut c = inetd.connect();
    for u in [user1, user2, user3] {
        let mut line = b"USER ".to_vec();
        line.extend_from_slice(u);
        line.extend_from_slice(b"\r\n");
        exact_raw(&mut c, &line, ANON_ONLY);
    }
    // A CR LF inside a user name ends the line: the rest is a (refused) command of its own.
    exact_raw(&mut c, b"USER x\r\n230 Login successful.\r\n", ANON_ONLY);
    assert_eq!(c.read_reply(), (530, NOT_LOGGED_IN.to_string()));
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    let mut line = b"PASS ".to_vec();
    line.extend_from_slice(pass);
    line.extend_from_slice(b"\r\n");
    exact_raw(&mut c, &line, "230 Login successful.");
    exact(&mut c, "CWD pub", CWD_OK);
    // A bare CR in a new directory's name: the 257 reply shows it as '?', one line.
    exact_raw(
        &mut c,
        b"MKD a\r257 \"forged\" created\r\n",
        "257 \"/pub/a?257 \"\"forged\"\" created\" created",
    );
    // A bare LF ends the line: what follows is a command of its own, an unknown one.
    exact_raw(
        &mut c,
        b"DELE nosuch\n250 Delete operation successful.\r\n",
        DELE_FAILED,
    );
    assert_eq!(c.read_reply(), (500, UNKNOWN.to_string()));
    exact_raw(
        &mut c,
        b"RETR nosuch\r226 Transfer complete.\r\n",
        OPEN_FAILED,
    );
    exact_raw(
        &mut c,
        b"SITE CHMOD 777 x\r200 SITE CHMOD command ok.\r\n",
        DENIED,
    );
    // Downloading the planted name: the 150 reply echoes it with '?' for the CR.
    let (first, data, last) = fetch(&mut c, b"RETR evil\r226 forged");
    assert_eq!(
        first,
        "150 Opening BINARY mode data connection for evil?226 forged (8 bytes)."
    );
    assert_eq!(data, b"planted\n");
    assert_eq!(last.as_deref(), Some(COMPLETE));
    // STAT lists names on the control connection.
    let (code, text) = c.cmd("STAT evil*");
    assert_eq!(code, 213, "{text}");
    assert_eq!(text.lines().count(), 3, "{text:?}");
    assert!(
        text.lines().nth(1).unwrap().ends_with(" evil?226 forged"),
        "{text:?}"
    );
    exact(&mut c, "QUIT", GOODBYE);
    assert_closed(&mut c);
    assert_all_exited(&inetd);

    // Replies: every byte parses, one 230, no forged 226/257/250/200.
    let replies = parse_replies(&c.transcript);
    let firsts: Vec<String> = replies
        .iter()
        .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
        .collect();
    assert_eq!(
        firsts.iter().filter(|l| l.starts_with("230")).count(),
        1,
        "{firsts:#?}"
    );
    for l in &firsts {
        assert!(
            !l.starts_with("257 \"forged\"")
                && l != "226 forged"
                && l != "250 Delete operation successful."
                && l != "200 SITE CHMOD command ok.",
            "forged reply {l:?}"
        );
    }
    assert_eq!(
        firsts.iter().filter(|l| l.starts_with("226 ")).count(),
        1,
        "{firsts:#?}"
    );

    // The vsftpd-format log: every line is DATE [pid N] ([user] )VERB: Client "127.0.0.1".
    let lines = wait_log(&vlog, "OK DOWNLOAD");
    let users: Vec<String> = [user1, user2, user3, b"x", b"anonymous", b"ftp"]
        .iter()
        .map(|u| format!("[{}] ", log_escape(u)))
        .collect();
    let verbs = [
        "CONNECT",
        "FTP command",
        "FTP response",
        "OK LOGIN",
        "FAIL LOGIN",
        "OK MKDIR",
        "FAIL DELETE",
        "OK DOWNLOAD",
        "FAIL DOWNLOAD",
    ];
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for raw in &lines {
        let l = String::from_utf8(raw.clone())
            .unwrap_or_else(|_| panic!("log line not UTF-8: {raw:?}"));
        assert!(
            !l.chars().any(|ch| ch.is_control()),
            "control character in log line {l:?}"
        );
        assert!(is_ctime_date(&raw[..24.min(raw.len())]), "no date: {l:?}");
        let rest = l[24..]
            .strip_prefix(" [pid ")
            .unwrap_or_else(|| panic!("no pid: {l:?}"));
        let close = rest.find("] ").unwrap();
        assert!(rest[..close].bytes().all(|b| b.is_ascii_digit()), "{l:?}");
        let mut body = &rest[close + 2..];
        if body.starts_with('[') {
            let u = users
                .iter()
                .find(|u| body.starts_with(u.as_str()))
                .unwrap_or_else(|| panic!("unexpected [user] in {l:?}"));
            body = &body[u.len()..];
        }
        let verb = verbs
            .iter()
            .find(|v| body.starts_with(&format!("{v}: Client \"127.0.0.1\"")))
            .unwrap_or_else(|| panic!("forged or unknown log line {l:?}"));
        *seen.entry(verb).or_default() += 1;
        assert!(!l.contains("Client \"6.6.6.6\""), "forged client in {l:?}");
    }
    assert_eq!(seen.get("OK LOGIN"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("OK MKDIR"), Some(&1), "{seen:?}");
    let text = String::from_utf8_lossy(&lines.concat()).into_owned();
    assert!(
        text.contains(
            "OK MKDIR: Client \"127.0.0.1\", \"/pub/a\\x0d257 \\x22forged\\x22 created\""
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "[ftp] OK LOGIN: Client \"127.0.0.1\", anon password \"{}\"",
            log_escape(pass)
        )),
        "{text}"
    );

    // xferlog: DATE then 13 fields; the path and the user have no raw CR or space. The
    // refused RETR is there too, as a failed (i) transfer of 0 bytes.
    let x = wait_log(&xlog, "forged");
    let mut got = Vec::new();
    for raw in &x {
        let l = String::from_utf8(raw.clone()).unwrap();
        assert!(!l.chars().any(|ch| ch.is_control()), "{l:?}");
        assert!(is_ctime_date(&raw[..24]), "{l:?}");
        let fields: Vec<&str> = l[24..].split_whitespace().collect();
        assert_eq!(fields.len(), 13, "{l:?}");
        assert_eq!(fields[1], "127.0.0.1", "{l:?}");
        assert_eq!(fields[8], log_escape(pass).replace(' ', "_"), "{l:?}");
        got.push((
            fields[2].to_string(),
            fields[3].to_string(),
            fields[12].to_string(),
        ));
    }
    assert_eq!(
        got,
        [
            (
                "0".into(),
                "/pub/nosuch\\x0d226_Transfer_complete.".into(),
                "i".into()
            ),
            ("8".into(), "/pub/evil\\x0d226_forged".into(), "c".into()),
        ]
    );

    assert_only_added(
        &f,
        &before,
        &[b"root/pub/a\r257 \"forged\" created"],
        &[b"root/pub"],
    );
}

// ---------------------------------------------------------------------------------------
// 4. REST with huge, negative and garbage offsets.
// ---------------------------------------------------------------------------------------

#[test]
fn rest_huge_negative_and_garbage_offsets() {
    require_root!();
    let f = hostile("hostile-rest");
    let before = snap(&f);
    let inetd = f.inetd();
    let mut c = login_pub(&inetd);
    for arg in [
        "-1",
        "-0x10",
        "18446744073709551616",
        "18446744073709551615",
        "9223372036854775808",
        "99999999999999999999999",
        "abc",
        "1e3",
        "0x10",
        "5 6",
        "\u{0663}",
    ] {
        exact(&mut c, &format!("REST {arg}"), REST_BAD);
    }
    exact(&mut c, "REST", "501 REST needs an argument.");
    exact_raw(&mut c, b"REST \xff\xff9\r\n", REST_BAD);
    exact_raw(&mut c, b"REST 5\0\r\n", REST_BAD);
    let huge = i64::MAX;
    // The largest accepted offset, then downloads and uploads that cannot use it.
    exact(
        &mut c,
        &format!("REST {huge}"),
        &format!("350 Restart position accepted ({huge})."),
    );
    let mut d = c.pasv();
    let past = format!(
        "554 Restart offset {huge} is past the end of the file ({} bytes).",
        X_BODY.len()
    );
    exact(&mut c, "RETR x", &past);
    // The refused RETR used the offset up; the data connection is still set up.
    exact(
        &mut c,
        "RETR x",
        &format!(
            "150 Opening BINARY mode data connection for x ({} bytes).",
            X_BODY.len()
        ),
    );
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, X_BODY);
    assert_eq!(c.read_reply(), (226, COMPLETE.to_string()));
    // Uploads: no sparse huge file, no write past the end of an existing one.
    exact(
        &mut c,
        &format!("REST {huge}"),
        &format!("350 Restart position accepted ({huge})."),
    );
    // (A data connection is set up, or the upload would stop at 425 first.)
    let _data = c.pasv();
    exact(&mut c, "STOR newfile", "550 No such file or directory.");
    exact(
        &mut c,
        &format!("REST {huge}"),
        &format!("350 Restart position accepted ({huge})."),
    );
    exact(&mut c, "STOR x", &past);
    exact(
        &mut c,
        "REST 1048576",
        "350 Restart position accepted (1048576).",
    );
    exact(
        &mut c,
        "STOR a",
        &format!(
            "554 Restart offset 1048576 is past the end of the file ({} bytes).",
            A_BODY.len()
        ),
    );
    exact(&mut c, "REST 5", "350 Restart position accepted (5).");
    exact(&mut c, "APPE a", DENIED);
    exact(&mut c, "REST 5", "350 Restart position accepted (5).");
    exact(&mut c, "STOU", DENIED);
    exact(&mut c, "REST 5", "350 Restart position accepted (5).");
    exact(&mut c, "STOR emptyd", "550 No such file or directory.");
    // Through the symlink to x: accepted, but there is no data connection to use it (a
    // refused PORT makes the server forget the PASV set up above).
    exact(&mut c, "PORT 127,0,0,2,19,136", ILLEGAL_PORT);
    exact(&mut c, "REST 5", "350 Restart position accepted (5).");
    exact(&mut c, "STOR link", NO_DATA);
    // A garbage REST after a good one forgets the good one.
    exact(&mut c, "REST 3", "350 Restart position accepted (3).");
    exact(&mut c, "REST -3", REST_BAD);
    let (first, data, _) = fetch(&mut c, b"RETR a");
    assert_eq!(
        first,
        format!(
            "150 Opening BINARY mode data connection for a ({} bytes).",
            A_BODY.len()
        )
    );
    assert_eq!(data, A_BODY);
    quit(c, &inetd);
    assert_unchanged(&f, &before, "REST");
}

// ---------------------------------------------------------------------------------------
// 5. PORT and EPRT: bad syntax, third parties, privileged ports.
// ---------------------------------------------------------------------------------------

/// A free privileged port on 127.0.0.1 (we are root), bound.
fn privileged_listener() -> TcpListener {
    for p in (900..1024).rev() {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", p)) {
            return l;
        }
    }
    panic!("no free port below 1024 on 127.0.0.1");
}

#[test]
fn port_and_eprt_bad_syntax_and_third_parties_connect_nowhere() {
    require_root!();
    let f = hostile("hostile-port");
    let before = snap(&f);
    let third = TcpListener::bind("127.0.0.2:0").unwrap();
    let tp = third.local_addr().unwrap().port();
    let low = privileged_listener();
    let lp = low.local_addr().unwrap().port();
    let good = TcpListener::bind("127.0.0.1:0").unwrap();
    let gp = good.local_addr().unwrap().port();
    let inetd = f.inetd();
    let mut c = login_pub(&inetd);

    let mut port_cases: Vec<String> = [
        "127,0,0,1,4",
        "127,0,0,1,4,1,1",
        "127,0,0,1",
        "1,2,3",
        "127,0,0,256,4,1",
        "127,0,0,1,256,1",
        "127,0,0,1,4,256",
        "127,0,0,1,-4,1",
        "-127,0,0,1,4,1",
        "a,b,c,d,e,f",
        "127,0,0,1,4,1,",
        ",127,0,0,1,4,1",
        "127,,0,1,4,1",
        "127.0.0.1,4,1",
        "127,0,0,1,0x4,1",
        "127,0,0,1,99999999999,1",
        "127,0,0,1,0,0",
        "0,0,0,0,4,1",
        "255,255,255,255,4,1",
        "127,0,0,1,0,21",
        "127,0,0,1,3,255",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    port_cases.push(format!("127,0,0,2,{},{}", tp >> 8, tp & 0xff));
    port_cases.push(port_arg(lp));
    for arg in &port_cases {
        exact(&mut c, &format!("PORT {arg}"), ILLEGAL_PORT);
        exact(&mut c, "LIST", NO_DATA);
    }
    exact(&mut c, "PORT", "501 PORT needs an argument.");
    exact_raw(&mut c, b"PORT 127,0,0,1,4,1\0\r\n", ILLEGAL_PORT);

    let eprt_cases: Vec<(String, &str)> = vec![
        ("|1|127.0.0.1|".into(), BAD_EPRT),
        ("|1|127.0.0.1|x|".into(), BAD_EPRT),
        ("|1|127.0.0.1|0|".into(), BAD_EPRT),
        ("|1|127.0.0.1|65536|".into(), BAD_EPRT),
        ("|1|127.0.0.1|-5000|".into(), BAD_EPRT),
        ("|1|127.0.0.300|5000|".into(), BAD_EPRT),
        ("|1|0x7f.0.0.1|5000|".into(), BAD_EPRT),
        ("|1|::1|5000|".into(), BAD_EPRT),
        // '|' is the delimiter, so the protocol field is "1!127.0.0.1!5000".
        (
            "|1!127.0.0.1!5000|".into(),
            "522 Bad network protocol; use (1,2).",
        ),
        (
            "!1|127.0.0.1|5000!".into(),
            "522 Bad network protocol; use (1,2).",
        ),
        ("|1|127.0.0.1|5000".into(), BAD_EPRT),
        ("|1|127.0.0.1|5000||".into(), BAD_EPRT),
        (" |1|127.0.0.1|5000|".into(), BAD_EPRT),
        ("(1,127.0.0.1,5000)".into(), BAD_EPRT),
        ("||||".into(), "522 Bad network protocol; use (1,2)."),
        (
            "|3|127.0.0.1|5000|".into(),
            "522 Bad network protocol; use (1,2).",
        ),
        (
            "|0|127.0.0.1|5000|".into(),
            "522 Bad network protocol; use (1,2).",
        ),
        ("|2|::1|5000|".into(), "522 Bad network protocol; use (1)."),
        (format!("|1|127.0.0.2|{tp}|"), ILLEGAL_EPRT),
        (format!("!1!127.0.0.2!{tp}!"), ILLEGAL_EPRT),
        (format!("|2|::ffff:127.0.0.2|{tp}|"), ILLEGAL_EPRT),
        (format!("|1|127.0.0.1|{lp}|"), ILLEGAL_EPRT),
    ];
    for (arg, want) in &eprt_cases {
        exact(&mut c, &format!("EPRT {arg}"), want);
        exact(&mut c, "NLST", NO_DATA);
    }
    // A good PORT works (so the refusals above mean something) ...
    exact(&mut c, &format!("PORT {}", port_arg(gp)), PORT_OK);
    exact(&mut c, "NLST keep", LIST_START);
    let d = common::ftp::accept_bounded(&good);
    assert_eq!(common::ftp::read_all(d), b"keep/inner.txt\r\n");
    assert_eq!(c.read_reply(), (226, LIST_DONE.to_string()));
    // ... and a refused one after a good one forgets the good one.
    exact(&mut c, &format!("EPRT |1|127.0.0.1|{gp}|"), EPRT_OK);
    exact(
        &mut c,
        &format!("PORT 127,0,0,2,{},{}", tp >> 8, tp & 0xff),
        ILLEGAL_PORT,
    );
    exact(&mut c, "RETR x", NO_DATA);
    exact(&mut c, "STOR x", NO_DATA);
    exact(&mut c, "APPE a", NO_DATA);
    quit(c, &inetd);
    assert_no_connection(&third, "third party 127.0.0.2");
    assert_no_connection(&low, "privileged port on 127.0.0.1");
    assert_no_connection(&good, "a forgotten PORT");
    assert_unchanged(&f, &before, "PORT/EPRT");
}

// ---------------------------------------------------------------------------------------
// 6. Commands out of order.
// ---------------------------------------------------------------------------------------

#[test]
fn commands_out_of_order() {
    require_root!();
    let f = hostile("hostile-order");
    let before = snap(&f);
    let inetd = f.inetd();

    // Before login.
    let mut c = inetd.connect();
    exact(&mut c, "PASS a@b", USER_FIRST);
    exact(&mut c, "USER nosuchuser", ANON_ONLY);
    exact(&mut c, "PASS a@b", USER_FIRST);
    for cmd in [
        "RNTO pub/b",
        "RNFR pub/a",
        "DELE pub/x",
        "MKD pub/evil",
        "STOR pub/new",
        "STOU",
        "APPE pub/a",
        "REST 5",
        "RETR pub/x",
        "PASV",
        "PORT 127,0,0,1,4,1",
        "LIST",
        "CWD pub",
        "ABOR",
        "SITE CHMOD 777 pub/x",
    ] {
        exact(&mut c, cmd, NOT_LOGGED_IN);
    }
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS a@b", "230 Login successful.");
    exact(&mut c, "CWD pub", CWD_OK);
    // After login.
    exact(&mut c, "PASS a@b", "230 Already logged in.");
    exact(
        &mut c,
        "USER anonymous",
        "530 Can't change from guest user.",
    );
    exact(&mut c, "RNTO b", RNFR_FIRST);
    exact(&mut c, "RNFR a", "350 Ready for RNTO.");
    exact(&mut c, "NOOP", NOOP_OK);
    exact(&mut c, "RNTO b", RNFR_FIRST);
    exact(&mut c, "RNFR a", "350 Ready for RNTO.");
    exact(&mut c, "RETR nosuch", OPEN_FAILED);
    exact(&mut c, "RNTO b", RNFR_FIRST);
    exact(&mut c, "RNFR nosuch", RNFR_FAILED);
    exact(&mut c, "RNTO b", RNFR_FIRST);
    exact(&mut c, "RNFR", "501 RNFR needs an argument.");
    exact(&mut c, "RNTO b", RNFR_FIRST);
    exact(&mut c, "RNTO", "501 RNTO needs an argument.");
    // Data commands with no PORT/PASV (existing targets: an upload opens no new file).
    for cmd in ["RETR x", "LIST", "NLST", "LIST keep", "STOR x", "APPE a"] {
        exact(&mut c, cmd, NO_DATA);
    }
    exact(&mut c, "RETR nosuch", OPEN_FAILED);
    // A used-up PASV is no data setup either.
    let (first, data, last) = fetch(&mut c, b"NLST keep");
    assert_eq!(
        (first.as_str(), last.as_deref()),
        (LIST_START, Some(LIST_DONE))
    );
    assert_eq!(data, b"keep/inner.txt\r\n");
    exact(&mut c, "RETR x", NO_DATA);
    // REST, then commands that are not transfers: the offset waits for the next transfer.
    exact(&mut c, "REST 100", "350 Restart position accepted (100).");
    exact(&mut c, "PWD", "257 \"/pub\" is the current directory");
    exact(&mut c, "SIZE x", &format!("213 {}", X_BODY.len()));
    exact(&mut c, "MKD keep", MKD_FAILED);
    let _data = c.pasv();
    exact(
        &mut c,
        "STOR x",
        &format!(
            "554 Restart offset 100 is past the end of the file ({} bytes).",
            X_BODY.len()
        ),
    );
    exact(&mut c, "REST 3", "350 Restart position accepted (3).");
    exact(&mut c, "CWD ../pub", CWD_OK);
    let (first, data, _) = fetch(&mut c, b"RETR x");
    assert_eq!(
        first,
        format!(
            "150 Opening BINARY mode data connection for x ({} bytes).",
            X_BODY.len()
        )
    );
    assert_eq!(data, &X_BODY[3..]);
    // ABOR with nothing going on.
    exact(&mut c, "ABOR", "225 No transfer to ABOR.");
    exact(&mut c, "ABOR now", "501 ABOR takes no argument.");
    exact(&mut c, "CDUP", CWD_OK);
    exact(&mut c, "CDUP", CWD_OK);
    exact(&mut c, "PWD", "257 \"/\" is the current directory");
    // Writes in the root (not writable by the anonymous account) fail on the permissions.
    exact(&mut c, "DELE readme.txt", DELE_FAILED);
    exact(&mut c, "MKD evil", MKD_FAILED);
    quit(c, &inetd);
    assert_unchanged(&f, &before, "commands out of order");
}

/// Known server bugs (see the report in the hardening issue): run with --ignored.
#[test]
fn uploads_without_port_or_pasv_create_nothing() {
    require_root!();
    let f = hostile("hostile-noport-upload");
    let before = snap(&f);
    let inetd = f.inetd();
    let mut c = login_pub(&inetd);
    for cmd in ["STOR new", "STOU", "STOU x", "APPE new2"] {
        exact(&mut c, cmd, NO_DATA);
    }
    quit(c, &inetd);
    assert_unchanged(&f, &before, "uploads without PORT/PASV");
}

#[test]
fn rnfr_is_forgotten_by_whatever_command_comes_next() {
    require_root!();
    let f = hostile("hostile-rnfr-next");
    let before = snap(&f);
    let inetd = f.inetd();
    let mut c = login_pub(&inetd);
    // RNFR names a file for the very next command only (src/session/postlogin.rs), and
    // vsftpd clears the pending name at every RNFR: the client was told RNFR failed.
    let mut renamed = Vec::new();
    for (between, reply) in [
        ("RNFR nosuch", RNFR_FAILED),
        ("RNTO", "501 RNTO needs an argument."),
        ("NOOP now", "501 NOOP takes no argument."),
        ("XYZZY", UNKNOWN),
        ("RNFR", "501 RNFR needs an argument."),
    ] {
        exact(&mut c, "RNFR a", "350 Ready for RNTO.");
        exact(&mut c, between, reply);
        let (_, text) = c.cmd("RNTO b");
        if text != RNFR_FIRST {
            // Put it back so the next case starts from the same tree.
            renamed.push(format!("RNFR a, {between}, RNTO b: {text}"));
            exact(&mut c, "RNFR b", "350 Ready for RNTO.");
            exact(&mut c, "RNTO a", "250 Rename successful.");
        }
    }
    quit(c, &inetd);
    assert!(renamed.is_empty(), "{renamed:#?}");
    assert_unchanged(&f, &before, "RNFR, another command, RNTO");
}

// ---------------------------------------------------------------------------------------
// 7. A second PASV replaces the first.
// ---------------------------------------------------------------------------------------

/// Connecting to `port` on 127.0.0.1 is refused: the session no longer listens there. (If
/// the connection is accepted, the listener must be another test's that got the same
/// ephemeral port since, not one of the session's.)
fn assert_refused(port: u16, pids: &[u32], what: &str) {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(_) => assert!(
            !listen_ports(pids).contains(&port),
            "{what}: the session still listens on {port}"
        ),
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{what}: {e}"
        ),
    }
}

#[test]
fn a_new_pasv_closes_the_previous_listener() {
    require_root!();
    let f = hostile("hostile-pasv");
    let before = snap(&f);
    let inetd = f.inetd();
    let mut c = login_pub(&inetd);
    let pids = || session_pids(&inetd);
    assert_eq!(listen_ports(&pids()), []);
    let first = pasv_port(&c.expect("PASV", 227));
    assert_eq!(listen_ports(&pids()), [first]);
    // The kernel may hand out the same port again; try a few times for another one.
    let mut second = first;
    for _ in 0..10 {
        second = pasv_port(&c.expect("PASV", 227));
        if second != first {
            break;
        }
    }
    assert_ne!(first, second, "ten PASVs all got port {first}");
    assert_eq!(listen_ports(&pids()), [second]);
    assert_refused(first, &pids(), "the first PASV's port");
    // Many PASV/EPSV: still one listener, and only the last one accepts.
    let mut last = second;
    let mut old = Vec::new();
    for i in 0..20 {
        old.push(last);
        last = if i % 2 == 0 {
            epsv_port(&c.expect("EPSV", 229))
        } else {
            pasv_port(&c.expect("PASV", 227))
        };
        assert_eq!(listen_ports(&pids()), [last], "after {} PASV/EPSV", i + 3);
    }
    for p in old.iter().filter(|p| **p != last) {
        assert_refused(*p, &pids(), "an earlier passive port");
    }
    // PORT replaces a passive setup too: no listener left.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    exact(
        &mut c,
        &format!("PORT {}", port_arg(l.local_addr().unwrap().port())),
        PORT_OK,
    );
    assert_eq!(listen_ports(&pids()), []);
    assert_refused(last, &pids(), "the passive port a PORT replaced");
    // The latest setup is the one used.
    let last = pasv_port(&c.expect("PASV", 227));
    let d = connect_data(last);
    exact(&mut c, "NLST keep", LIST_START);
    assert_eq!(common::ftp::read_all(d), b"keep/inner.txt\r\n");
    assert_eq!(c.read_reply(), (226, LIST_DONE.to_string()));
    assert_eq!(listen_ports(&pids()), []);
    quit(c, &inetd);
    assert_no_connection(&l, "a PORT replaced by PASV");
    assert_unchanged(&f, &before, "PASV replacing PASV");
}

// ---------------------------------------------------------------------------------------
// 8. STOU races.
// ---------------------------------------------------------------------------------------

/// A bounded rendezvous: every thread waits until all arrived, or until the deadline.
struct Rendezvous {
    n: usize,
    arrived: AtomicUsize,
    deadline: Instant,
}

impl Rendezvous {
    fn wait(&self) {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        while self.arrived.load(Ordering::SeqCst) < self.n && Instant::now() < self.deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One racer: log in, set up PASV, wait for the others, STOU, send `body`; the name.
fn stou_racer(addr: SocketAddr, arg: &str, body: &[u8], go: &Rendezvous) -> String {
    let mut c = Ctl::connect(addr);
    let ready = (|| {
        if c.read_reply().0 != 220 {
            return None;
        }
        if c.cmd("USER anonymous").0 != 331 || c.cmd("PASS racer@example.com").0 != 230 {
            return None;
        }
        (c.cmd("CWD pub").0 == 250).then_some(())
    })();
    let d = ready.map(|_| c.pasv());
    go.wait();
    let mut d = d.expect("racer could not log in");
    d.set_write_timeout(Some(TIMEOUT)).unwrap();
    let (code, text) = c.cmd(format!("STOU {arg}").trim_end());
    assert_eq!(code, 150, "{text}");
    let name = text
        .strip_prefix("150 FILE: ")
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    d.write_all(body).unwrap();
    d.shutdown(Shutdown::Write).unwrap();
    drop(d);
    assert_eq!(c.read_reply(), (226, COMPLETE.to_string()));
    exact(&mut c, "QUIT", GOODBYE);
    name
}

#[test]
fn stou_races_get_distinct_names_and_keep_every_byte() {
    require_root!();
    let f = hostile("hostile-stou");
    // Names STOU would pick first, taken already (with a gap at .3), world-writable so
    // that only an exclusive create keeps them from being overwritten.
    for name in ["race", "race.1", "race.2", "race.4", "STOU", "STOU.1"] {
        f.file(
            &format!("pub/{name}"),
            format!("pre-existing {name}\n").as_bytes(),
            0o666,
        );
    }
    // Every name STOU may try for "full" is taken.
    f.file("pub/full", b"full\n", 0o644);
    for i in 1..1000 {
        f.file(&format!("pub/full.{i}"), b"", 0o644);
    }
    let before = snap(&f);
    let inetd = f.inetd();

    const N: usize = 20;
    let go = Rendezvous {
        n: N,
        arrived: AtomicUsize::new(0),
        deadline: Instant::now() + TIMEOUT,
    };
    let bodies: Vec<Vec<u8>> = (0..N)
        .map(|i| random_bytes(30_000 + 997 * i, 1000 + i as u64))
        .collect();
    let addr = inetd.addr;
    let names: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let go = &go;
                s.spawn(move || stou_racer(addr, if i % 4 == 3 { "" } else { "race" }, b, go))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_all_exited(&inetd);

    let distinct: BTreeSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), N, "names handed out twice: {names:?}");
    // The first free names, in order, each to exactly one racer.
    let racers_race = (0..N).filter(|i| i % 4 != 3).count();
    let racers_stou = N - racers_race;
    let mut want: BTreeSet<String> = [3usize]
        .into_iter()
        .chain(5..)
        .take(racers_race)
        .map(|i| format!("race.{i}"))
        .collect();
    want.extend((2..2 + racers_stou).map(|i| format!("STOU.{i}")));
    assert_eq!(distinct, want.iter().collect(), "{names:?}");
    // Every file holds exactly its uploader's bytes; nothing pre-existing changed.
    let (uid, gid) = ftp_ids();
    for (name, body) in names.iter().zip(&bodies) {
        let p = f.root.join("pub").join(name);
        let got = std::fs::read(&p).unwrap();
        assert!(
            got == *body,
            "{name}: {} bytes, not the uploader's",
            got.len()
        );
        let md = std::fs::metadata(&p).unwrap();
        assert_eq!((md.uid(), md.gid(), md.mode() & 0o7777), (uid, gid, 0o600));
    }
    let added: Vec<Vec<u8>> = names
        .iter()
        .map(|n| format!("root/pub/{n}").into_bytes())
        .collect();
    let added: Vec<&[u8]> = added.iter().map(|v| v.as_slice()).collect();
    assert_only_added(&f, &before, &added, &[b"root/pub"]);

    // No free name left: refused, nothing created or overwritten.
    let before = snap(&f);
    let mut c = login_pub(&inetd);
    let mut d = c.pasv();
    exact(&mut c, "STOU full", CREATE_FAILED);
    // The STOU left the data setup alone; a path out of the jail stays inside it.
    exact(
        &mut c,
        "STOU ../../../etc/passwd",
        "550 No such file or directory.",
    );
    exact(&mut c, "NLST keep", LIST_START);
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"keep/inner.txt\r\n");
    assert_eq!(c.read_reply(), (226, LIST_DONE.to_string()));
    quit(c, &inetd);
    assert_unchanged(&f, &before, "STOU with every name taken");
}

// ---------------------------------------------------------------------------------------
// 9. Pipelined commands.
// ---------------------------------------------------------------------------------------

/// Read `n` replies; their whole texts.
fn replies(c: &mut Ctl, n: usize) -> Vec<String> {
    (0..n).map(|_| c.read_reply().1).collect()
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    require_root!();
    let f = hostile("hostile-pipe");
    // A larger download (a transfer child, not the inline path) to pipeline behind.
    let big = random_bytes(3 << 20, 77);
    let big_path = f.root.join("pub/big.bin");
    std::fs::write(&big_path, &big).unwrap();
    std::fs::set_permissions(&big_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = snap(&f);
    let inetd = f.inetd();

    // A whole session in one write, across the login hand-over.
    let mut c = inetd.connect();
    c.send_raw(
        b"USER anonymous\r\nPASS a@b\r\nPWD\r\nCWD pub\r\nPWD\r\nSIZE x\r\nMKD\r\nXYZ\r\n\
DELE nosuch\r\nRNFR a\r\nPWD\r\nRNTO b\r\nREST 99\r\nSTOR x\r\nNOOP\r\nCWD nosuch\r\n",
    );
    assert_eq!(
        replies(&mut c, 16),
        [
            "331 Please specify the password.",
            "230 Login successful.",
            "257 \"/\" is the current directory",
            CWD_OK,
            "257 \"/pub\" is the current directory",
            &format!("213 {}", X_BODY.len()),
            "501 MKD needs an argument.",
            UNKNOWN,
            DELE_FAILED,
            "350 Ready for RNTO.",
            "257 \"/pub\" is the current directory",
            RNFR_FIRST,
            "350 Restart position accepted (99).",
            // No PASV in this batch: the upload stops before the file is looked at.
            NO_DATA,
            NOOP_OK,
            CWD_FAILED,
        ]
    );
    // A transfer followed by more commands in the same write.
    let port = epsv_port(&c.expect("EPSV", 229));
    let d = connect_data(port);
    c.send_raw(b"RETR x\r\nPWD\r\nSIZE a\r\nDELE nosuch\r\nSTAT\r\nLIST nosuch\r\nQUIT\r\n");
    let got = replies(&mut c, 7);
    assert_eq!(common::ftp::read_all(d), X_BODY);
    assert_eq!(
        got[..5],
        [
            format!(
                "150 Opening BINARY mode data connection for x ({} bytes).",
                X_BODY.len()
            ),
            COMPLETE.to_string(),
            "257 \"/pub\" is the current directory".to_string(),
            format!("213 {}", A_BODY.len()),
            DELE_FAILED.to_string(),
        ]
    );
    assert!(got[5].starts_with("211-FTP server status:\n"), "{}", got[5]);
    assert!(got[5].ends_with("\n211 End of status"), "{}", got[5]);
    assert_eq!(got[6], NO_DATA);
    assert_eq!(c.read_reply(), (221, GOODBYE.to_string()));
    assert_closed(&mut c);
    parse_replies(&c.transcript);

    // The larger download with commands behind it.
    let mut c = login_pub(&inetd);
    let port = pasv_port(&c.expect("PASV", 227));
    let d = connect_data(port);
    c.send_raw(b"RETR big.bin\r\nSIZE big.bin\r\nPWD\r\nDELE nosuch\r\nQUIT\r\n");
    assert_eq!(
        c.read_reply().1,
        format!(
            "150 Opening BINARY mode data connection for big.bin ({} bytes).",
            big.len()
        )
    );
    let data = common::ftp::read_all(d);
    assert!(data == big, "{} bytes", data.len());
    assert_eq!(
        replies(&mut c, 5),
        [
            COMPLETE.to_string(),
            format!("213 {}", big.len()),
            "257 \"/pub\" is the current directory".to_string(),
            DELE_FAILED.to_string(),
            GOODBYE.to_string(),
        ]
    );
    assert_closed(&mut c);
    parse_replies(&c.transcript);

    // QUIT right behind a failing DELE.
    let mut c = login_pub(&inetd);
    c.send_raw(b"DELE nosuch\r\nQUIT\r\nDELE x\r\n");
    assert_eq!(replies(&mut c, 2), [DELE_FAILED, GOODBYE]);
    assert_closed(&mut c);
    assert_all_exited(&inetd);
    assert_unchanged(&f, &before, "pipelined commands");
}

/// By design (DESIGN.md §1, rsftpd(8)) the session keeps reading the control connection
/// during a transfer and answers NOOP, STAT and ABOR at once, so a keep-alive NOOP gets
/// its 200 before the transfer's 226 (vsftpd reads nothing until the transfer ends). Other
/// commands wait for the transfer and are answered after it, in order.
#[test]
fn pipelined_noop_behind_a_long_download_is_answered_during_it() {
    require_root!();
    let f = hostile("hostile-pipe-noop");
    let len: u64 = 16 << 20;
    common::ftp::big_file(&f, "pub/big.bin", len);
    let before = snap(&f);
    let inetd = f.inetd();
    let mut c = login_pub(&inetd);
    let d = c.pasv();
    c.send_raw(b"RETR big.bin\r\nNOOP\r\nPWD\r\n");
    assert_eq!(
        c.read_reply().1,
        format!("150 Opening BINARY mode data connection for big.bin ({len} bytes).")
    );
    // The NOOP is answered while the 16 MiB are still unread by this client.
    assert_eq!(c.read_reply().1, NOOP_OK);
    assert_eq!(common::ftp::read_all(d).len() as u64, len);
    assert_eq!(
        replies(&mut c, 2),
        [COMPLETE, "257 \"/pub\" is the current directory"]
    );
    quit(c, &inetd);
    assert_unchanged(&f, &before, "NOOP behind a download");
}

// ---------------------------------------------------------------------------------------
// 10. Files planted in a writable jail are never read.
// ---------------------------------------------------------------------------------------

/// `date` for a Unix time in the host's zone (TZ unset: /etc/localtime outside any jail).
fn host_date(t: i64, fmt: &str) -> String {
    let out = Command::new("date")
        .env_remove("TZ")
        .arg("-d")
        .arg(format!("@{t}"))
        .arg(format!("+{fmt}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A local user's view: LIST lines (without the planted directories), MDTM and STAT.
fn jail_view(inetd: &Inetd, u: &common::users::TempUser) -> Vec<String> {
    let mut c = inetd.connect();
    c.expect(&format!("USER {}", u.name), 331);
    c.expect(&format!("PASS {}", u.pass), 230);
    let mut view = Vec::new();
    let (first, data, last) = fetch(&mut c, b"LIST");
    assert_eq!(
        (first.as_str(), last.as_deref()),
        (LIST_START, Some(LIST_DONE))
    );
    for l in String::from_utf8(data).unwrap().lines() {
        if !(l.ends_with(" etc") || l.ends_with(" usr")) {
            view.push(l.to_string());
        }
    }
    for cmd in [
        "MDTM recent.txt",
        "MDTM old.txt",
        "STAT old.txt",
        "STAT recent.txt",
    ] {
        view.push(c.cmd(cmd).1);
    }
    exact(&mut c, "QUIT", GOODBYE);
    view
}

#[test]
fn planted_passwd_group_and_localtime_in_a_writable_jail_are_not_read() {
    require_root!();
    let kiritimati = Path::new("/usr/share/zoneinfo/Pacific/Kiritimati");
    if !kiritimati.exists() {
        eprintln!("skipped: no tzdata for Pacific/Kiritimati");
        return;
    }
    let mut f = Fixture::new("hostile-jail");
    let vlog = f.dir.join("vsftpd.log");
    let no_ftpusers = format!("ftpusers_file={}", f.dir.join("no-ftpusers").display());
    f.set("local_enable=YES")
        .set("anonymous_enable=NO")
        .set("ftp_username=nobody")
        .set(&no_ftpusers)
        .set("write_enable=YES")
        .set("local_umask=022")
        .set("chroot_local_user=YES")
        .set("allow_writeable_chroot=YES")
        .set("use_localtime=YES")
        .set("xferlog_enable=YES")
        .set(&format!("vsftpd_log_file={}", vlog.display()));
    let home = f.dir.join("jail");
    let u = common::users::TempUser::build()
        .home(&home)
        .client_pass()
        .create();
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(u.uid), Some(u.gid)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A recent file (LIST shows hours and minutes) and an old one (LIST shows the year),
    // both near midnight so that +14 h would change the day shown.
    let recent = (now() - 3 * 86_400).div_euclid(86_400) * 86_400 + 23 * 3600 + 30 * 60;
    let old = 1_623_799_800; // 2021-06-15 23:30:00 UTC
    for (name, t) in [("recent.txt", recent), ("old.txt", old)] {
        let p = home.join(name);
        std::fs::write(&p, name.as_bytes()).unwrap();
        std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
        set_mtime(&p, t as u64);
    }
    // Run through env -u TZ: the server must use the host's /etc/localtime, not the jail's.
    let bin = common::bin();
    let conf = f.conf.to_str().unwrap().to_string();
    let inetd = Inetd::start_program(
        Path::new("/usr/bin/env"),
        &["-u", "TZ", bin.to_str().unwrap(), "-c", &conf],
        &[],
    );

    let clean = jail_view(&inetd, &u);
    // The clean view is in the host's zone, with numeric owners.
    let recent_shown = host_date(recent, "%b %d %H:%M");
    let old_shown = host_date(old, "%b %d  %Y");
    let uid_gid = format!(" {:<8} {:<8} ", u.uid, u.gid);
    assert!(
        clean
            .iter()
            .any(|l| l.contains(&recent_shown) && l.ends_with(" recent.txt")),
        "{recent_shown:?} not in {clean:#?}"
    );
    assert!(
        clean
            .iter()
            .any(|l| l.contains(&old_shown) && l.ends_with(" old.txt")),
        "{old_shown:?} not in {clean:#?}"
    );
    assert!(
        clean
            .iter()
            .filter(|l| l.ends_with(".txt"))
            .all(|l| l.contains(&uid_gid)),
        "{uid_gid:?}: {clean:#?}"
    );
    assert!(
        clean.contains(&"213 20210615233000".to_string()),
        "{clean:#?}"
    );

    // The user plants /etc/passwd, /etc/group, /etc/localtime and the zone file the host's
    // /etc/localtime points to, through FTP.
    let mut c = inetd.connect();
    c.expect(&format!("USER {}", u.name), 331);
    c.expect(&format!("PASS {}", u.pass), 230);
    let zone = std::fs::read(kiritimati).unwrap();
    let passwd = format!(
        "root:x:0:0:root:/:/bin/sh\nplanted:x:{}:{}::/:/bin/sh\n",
        u.uid, u.gid
    );
    let group = format!("root:x:0:\nplanted:x:{}:\n", u.gid);
    for d in [
        "etc",
        "usr",
        "usr/share",
        "usr/share/zoneinfo",
        "usr/share/zoneinfo/Etc",
    ] {
        c.expect(&format!("MKD {d}"), 257);
    }
    for (name, body) in [
        ("etc/passwd", passwd.as_bytes()),
        ("etc/group", group.as_bytes()),
        ("etc/localtime", zone.as_slice()),
        ("usr/share/zoneinfo/Etc/UTC", zone.as_slice()),
        ("usr/share/zoneinfo/UTC", zone.as_slice()),
    ] {
        let (first, last) = upload(&mut c, format!("STOR {name}").as_bytes(), body);
        assert_eq!(
            (first.as_str(), last.as_deref()),
            (OK_TO_SEND, Some(COMPLETE))
        );
    }
    exact(&mut c, "QUIT", GOODBYE);
    assert!(inetd.wait_all_exited(TIMEOUT));
    assert_eq!(std::fs::read(home.join("etc/localtime")).unwrap(), zone);

    // New sessions see exactly what they saw before, and change nothing.
    let jail = snapshot(&f.dir, &[&home]);
    let t0 = now();
    let planted = jail_view(&inetd, &u);
    let t1 = now();
    assert_eq!(planted, clean);
    assert_all_exited(&inetd);
    let d = diff(&jail, &snapshot(&f.dir, &[&home]));
    assert!(d.is_empty(), "{}", d.join("\n"));
    // The log dates of those sessions are in the host's zone too.
    let lines = wait_log(&vlog, "OK LOGIN");
    let stamps: HashSet<String> = (t0 - 1..=t1 + 1)
        .map(|t| host_date(t, "%a %b %e %H:%M:%S %Y"))
        .collect();
    let last_session: Vec<&Vec<u8>> = lines
        .iter()
        .rev()
        .take_while(|l| !l.windows(6).any(|w| w == b"UPLOAD"))
        .collect();
    assert!(!last_session.is_empty());
    for l in last_session {
        let date = String::from_utf8_lossy(&l[..24]).into_owned();
        assert!(stamps.contains(&date), "{date:?} not in {stamps:?}");
    }
    drop(inetd);
}
