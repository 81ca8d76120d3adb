//! `make install` as an administrator runs it, end to end (root only; CI runs as root):
//!
//! - the installed file list, modes and owners in a scratch DESTDIR, and the manifest
//!   that `make uninstall` follows; uninstall removes exactly that and never user data;
//! - a private xinetd (`xinetd -dontfork -f`) whose service is the installed
//!   `/etc/xinetd.d/rsftpd` with only `port`, `server` and `server_args` changed (plus
//!   what xinetd needs for a private port: `type = UNLISTED`, `bind = 127.0.0.1`), serving
//!   the installed binary with the installed drop-box example: it listens (`ss -ltn`),
//!   tnftp logs in, gets and puts a file; `disable = yes` and a restart (SIGHUP, and a
//!   full restart) turn it off: nothing listens, a connection is refused, while xinetd
//!   itself still runs (a sentinel echo service answers);
//! - the systemd units: `systemd-analyze verify` on a DESTDIR copy, and the unit's
//!   ExecStart served by `systemd-socket-activate --accept --inetd`, which hands over the
//!   connection as `Accept=yes` with `StandardInput=socket` does (systemd is not PID 1
//!   here, so the units themselves cannot be started).
//!
//! `make install` builds the release binary first (cargo's own up-to-date check makes it
//! cheap after the first time). Every wait is bounded; everything talks to loopback only;
//! only the processes these tests start are ever signalled.

mod common;

use common::clients::{run, show};
use common::procs::wait_for;
use common::{random_bytes, sha256};
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const WAIT: Duration = Duration::from_secs(10);

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let p = PathBuf::from(format!(
            "/tmp/rsftpd-install-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(p)
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel.trim_start_matches('/'))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `make ARGS` in the repository, bounded (the first release build takes about a minute
/// on a small machine).
fn make(args: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "900", "make", "--no-print-directory", "-C", REPO])
        .args(args)
        .stdin(Stdio::null());
    // The cargo running these tests, for the release build (root's PATH may lack it).
    if let Ok(cargo) = std::env::var("CARGO") {
        cmd.arg(format!("CARGO={cargo}"));
    }
    cmd.output().unwrap()
}

fn make_ok(args: &[&str]) -> String {
    let o = make(args);
    assert!(o.status.success(), "make {args:?}: {}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every path under `root` (relative, with a leading /) with its type, permission bits,
/// owner and group, e.g. `d 0755 0:0`.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let kind = if m.is_dir() {
                "d"
            } else if m.file_type().is_symlink() {
                "l"
            } else {
                "f"
            };
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            out.insert(
                rel,
                format!("{kind} {:04o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid()),
            );
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// What a default install creates in an empty DESTDIR: every path, all root's.
fn default_layout() -> BTreeMap<String, String> {
    let d = "d 0755 0:0";
    let f = "f 0644 0:0";
    [
        ("/etc", d),
        ("/etc/ftpusers", f),
        ("/etc/rsftpd.conf", f),
        ("/etc/xinetd.d", d),
        ("/etc/xinetd.d/rsftpd", f),
        ("/usr", d),
        ("/usr/lib", d),
        ("/usr/lib/systemd", d),
        ("/usr/lib/systemd/system", d),
        ("/usr/lib/systemd/system/rsftpd.socket", f),
        ("/usr/lib/systemd/system/rsftpd@.service", f),
        ("/usr/sbin", d),
        ("/usr/sbin/rsftpd", "f 0755 0:0"),
        ("/usr/share", d),
        ("/usr/share/doc", d),
        ("/usr/share/doc/rsftpd", d),
        ("/usr/share/doc/rsftpd/examples", d),
        ("/usr/share/doc/rsftpd/examples/rsftpd-dropbox.conf", f),
        ("/usr/share/doc/rsftpd/examples/rsftpd.conf", f),
        ("/usr/share/man", d),
        ("/usr/share/man/man5", d),
        ("/usr/share/man/man5/rsftpd.conf.5.gz", f),
        ("/usr/share/man/man8", d),
        ("/usr/share/man/man8/rsftpd.8.gz", f),
        ("/usr/share/rsftpd", d),
        ("/usr/share/rsftpd/empty", d),
        ("/usr/share/rsftpd/install.manifest", f),
        ("/var", d),
        ("/var/ftp", d),
        ("/var/ftp/pub", d),
    ]
    .into_iter()
    .map(|(p, v)| (p.to_string(), v.to_string()))
    .collect()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn gunzip(p: &Path) -> String {
    let o = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
    assert!(o.status.success(), "gzip -dc {}: {}", p.display(), show(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// The paths the manifest lists (files, configuration files, directories), without DESTDIR.
fn manifest_paths(destdir: &Path) -> Vec<String> {
    read(&destdir.join("usr/share/rsftpd/install.manifest"))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                ["file" | "dir", p] => Some(p.to_string()),
                ["conf", sum, p] => {
                    assert_eq!(sum.len(), 64, "checksum in {l:?}");
                    Some(p.to_string())
                }
                ["user", _] => None,
                _ => panic!("bad manifest line {l:?}"),
            }
        })
        .collect()
}

/// `rsftpd -t -c FILE [-o ...]` with the given binary: exit 0, and what it printed.
fn check_config(bin: &Path, conf: &Path, opts: &[String]) -> String {
    let mut cmd = Command::new(bin);
    cmd.arg("-t").arg("-c").arg(conf);
    for o in opts {
        cmd.arg("-o").arg(o);
    }
    let o = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        o.status.success(),
        "rsftpd -t -c {}: {}",
        conf.display(),
        show(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `ss -ltn` shows a listener on 127.0.0.1:PORT.
fn listening(port: u16) -> bool {
    let o = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2)");
    assert!(o.status.success(), "ss: {}", show(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .any(|l| l.contains(&format!("127.0.0.1:{port}")))
}

fn wait_listening(port: u16, want: bool) -> bool {
    wait_for(WAIT, || (listening(port) == want).then_some(())).is_some()
}

fn refused(port: u16) -> bool {
    match TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), WAIT) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

/// Wait (bounded) for a child we started to exit; kill it if it will not.
fn reap(child: &mut Child, within: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < within {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}

/// Set `key = value` inside the braces of an xinetd service, adding the line if the key
/// is not there yet; every other line stays as shipped.
fn xinetd_set(service: &str, key: &str, value: &str) -> String {
    let mut out = Vec::new();
    let mut done = false;
    for line in service.lines() {
        let t = line.trim_start();
        let is_key = !t.starts_with('#')
            && t.split(|c: char| c.is_whitespace() || c == '=').next() == Some(key)
            && t.contains('=');
        if is_key {
            out.push(format!("\t{key}\t= {value}"));
            done = true;
        } else if t == "}" && !done {
            out.push(format!("\t{key}\t= {value}"));
            out.push(line.to_string());
            done = true;
        } else {
            out.push(line.to_string());
        }
    }
    assert!(done, "no service block in {service:?}");
    out.join("\n") + "\n"
}

/// The value of `key` in an xinetd service.
fn xinetd_get(service: &str, key: &str) -> Option<String> {
    service.lines().find_map(|l| {
        let t = l.trim();
        let (k, v) = t.split_once('=')?;
        (!t.starts_with('#') && k.trim() == key).then(|| v.trim().to_string())
    })
}

/// A private xinetd on loopback: `dir/xinetd.conf` includes `dir/xinetd.d`.
struct Xinetd {
    dir: PathBuf,
    child: Option<Child>,
}

impl Xinetd {
    fn new(dir: PathBuf) -> Xinetd {
        std::fs::create_dir_all(dir.join("xinetd.d")).unwrap();
        // With no syslog daemon xinetd must log to files: log_type for the services, and
        // -filelog (below) for its own messages.
        std::fs::write(
            dir.join("xinetd.conf"),
            format!(
                "defaults\n{{\n\tlog_type\t= FILE {}\n\tlog_on_success\t= PID HOST EXIT\n\tlog_on_failure\t= HOST\n}}\nincludedir {}\n",
                dir.join("services.log").display(),
                dir.join("xinetd.d").display()
            ),
        )
        .unwrap();
        Xinetd { dir, child: None }
    }

    fn service(&self, name: &str) -> PathBuf {
        self.dir.join("xinetd.d").join(name)
    }

    fn start(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new("xinetd")
            .arg("-dontfork")
            .arg("-filelog")
            .arg(self.dir.join("xinetd.log"))
            .arg("-f")
            .arg(self.dir.join("xinetd.conf"))
            .arg("-pidfile")
            .arg(self.dir.join("xinetd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xinetd");
        self.child = Some(child);
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// SIGHUP: xinetd re-reads its configuration (a "hard reconfiguration").
    fn reload(&mut self) {
        assert!(self.running(), "xinetd died: {}", self.log());
        signal(self.pid(), "HUP");
    }

    /// SIGTERM, wait for it to end, start it again.
    fn restart(&mut self) {
        self.stop();
        self.start();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if c.try_wait().unwrap().is_none() {
                signal(c.id(), "TERM");
            }
            assert!(reap(&mut c, WAIT), "xinetd did not stop on SIGTERM");
        }
    }

    fn log(&self) -> String {
        format!(
            "\n--- xinetd.log\n{}\n--- services.log\n{}",
            std::fs::read_to_string(self.dir.join("xinetd.log")).unwrap_or_default(),
            std::fs::read_to_string(self.dir.join("services.log")).unwrap_or_default()
        )
    }
}

impl Drop for Xinetd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The processes running the program at `bin`.
fn running_copies(bin: &Path) -> Vec<u32> {
    common::procs::all_pids()
        .into_iter()
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == bin))
        .collect()
}

/// An echo from xinetd's sentinel service: xinetd is alive and serving its configuration.
fn echo(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), WAIT) else {
        return false;
    };
    s.set_read_timeout(Some(WAIT)).unwrap();
    if s.write_all(b"ping\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).is_ok() && &buf == b"ping\n"
}

/// The anonymous tree the xinetd-started server serves: root's, with a file to get and a
/// mode 0733 drop box to put into.
fn anon_tree(s: &Scratch, content: &[u8]) -> PathBuf {
    let root = s.path("ftp");
    std::fs::create_dir_all(root.join("pub/upload")).unwrap();
    for (d, mode) in [("", 0o755), ("pub", 0o755), ("pub/upload", 0o733)] {
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::write(root.join("pub/data.bin"), content).unwrap();
    std::fs::set_permissions(
        root.join("pub/data.bin"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    root
}

fn ftp_uid() -> u32 {
    common::users::db_field("/etc/passwd", "ftp", 2)
        .expect("the user ftp (make deps creates it)")
        .parse()
        .unwrap()
}

#[test]
fn install_then_xinetd_serves_and_disable_turns_it_off() {
    require_root!();
    let s = Scratch::new("xinetd");
    let dest = s.path("dest");
    let destdir = format!("DESTDIR={}", dest.display());

    // ---- install: file list, modes, owners, contents ---------------------------------------
    let out = make_ok(&["install", &destdir]);
    assert!(
        out.contains("not touching this machine's /etc/passwd"),
        "the DESTDIR install says it leaves the user ftp alone: {out}"
    );
    assert_eq!(tree(&dest), default_layout(), "{out}");
    let repo = Path::new(REPO);
    let bin = dest.join("usr/sbin/rsftpd");
    assert_eq!(sha256(&bin), sha256(&repo.join("target/release/rsftpd")));
    assert_eq!(
        read(&dest.join("etc/rsftpd.conf")),
        read(&repo.join("etc/rsftpd.conf"))
    );
    assert_eq!(
        read(&dest.join("etc/xinetd.d/rsftpd")),
        read(&repo.join("xinetd.d/rsftpd"))
    );
    let ftpusers = read(&dest.join("etc/ftpusers"));
    let names: Vec<&str> = ftpusers.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        names,
        [
            "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
            "nobody"
        ]
    );
    assert_eq!(
        gunzip(&dest.join("usr/share/man/man8/rsftpd.8.gz")),
        read(&repo.join("man/rsftpd.8"))
    );
    assert_eq!(
        gunzip(&dest.join("usr/share/man/man5/rsftpd.conf.5.gz")),
        read(&repo.join("man/rsftpd.conf.5"))
    );
    let man = Command::new("man")
        .arg("-l")
        .arg(dest.join("usr/share/man/man8/rsftpd.8.gz"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        man.status.success() && String::from_utf8_lossy(&man.stdout).contains("FILES"),
        "man -l renders the installed page: {}",
        show(&man)
    );
    assert_eq!(
        std::fs::read_dir(dest.join("usr/share/rsftpd/empty"))
            .unwrap()
            .count(),
        0
    );
    // The manifest names everything install created (here: everything but itself).
    let mut listed = manifest_paths(&dest);
    listed.sort();
    let mut created: Vec<String> = default_layout().into_keys().collect();
    created.retain(|p| p != "/usr/share/rsftpd/install.manifest");
    assert_eq!(listed, created);
    // The installed configuration passes the installed binary's check.
    check_config(&bin, &dest.join("etc/rsftpd.conf"), &[]);

    // ---- ANON_UPLOAD=yes on top: the drop box appears, the configuration is kept ------------
    let out = make_ok(&["install", &destdir, "ANON_UPLOAD=yes"]);
    assert!(out.contains("does not set anon_upload_enable=YES"), "{out}");
    let mut want = default_layout();
    want.insert("/var/ftp/pub/upload".into(), "d 0733 0:0".into());
    assert_eq!(tree(&dest), want, "{out}");
    assert_eq!(
        read(&dest.join("etc/rsftpd.conf")),
        read(&repo.join("etc/rsftpd.conf"))
    );

    // ---- a private xinetd serving the installed service ---------------------------------
    let content = random_bytes(300_000, 0x1257);
    let anon_root = anon_tree(&s, &content);
    let port = free_port();
    let echo_port = free_port();
    let mut x = Xinetd::new(s.path("xinetd"));
    // The installed service with only port, server and server_args changed, and what xinetd
    // needs to serve a port that /etc/services does not name, on loopback only.
    let shipped = read(&dest.join("etc/xinetd.d/rsftpd"));
    assert_eq!(xinetd_get(&shipped, "disable").as_deref(), Some("no"));
    let example = dest.join("usr/share/doc/rsftpd/examples/rsftpd-dropbox.conf");
    let opts = [
        format!("anon_root={}", anon_root.display()),
        format!(
            "secure_chroot_dir={}",
            dest.join("usr/share/rsftpd/empty").display()
        ),
        format!("vsftpd_log_file={}", s.path("vsftpd.log").display()),
        format!("xferlog_file={}", s.path("xferlog").display()),
    ];
    check_config(&bin, &example, &opts);
    let mut args = format!("-c {}", example.display());
    for o in &opts {
        args.push_str(&format!(" -o {o}"));
    }
    let mut service = shipped.clone();
    for (k, v) in [
        ("port", port.to_string()),
        ("server", bin.display().to_string()),
        ("server_args", args),
        ("type", "UNLISTED".to_string()),
        ("bind", "127.0.0.1".to_string()),
    ] {
        service = xinetd_set(&service, k, &v);
    }
    std::fs::write(x.service("rsftpd"), &service).unwrap();
    // A sentinel that stays on: proves xinetd runs and re-read its files when ftp is off.
    std::fs::write(
        x.service("sentinel"),
        format!(
            "service echo\n{{\n\ttype\t\t= INTERNAL UNLISTED\n\tid\t\t= echo-stream\n\tsocket_type\t= stream\n\tprotocol\t= tcp\n\twait\t\t= no\n\tuser\t\t= root\n\tport\t\t= {echo_port}\n\tbind\t\t= 127.0.0.1\n}}\n"
        ),
    )
    .unwrap();
    x.start();
    assert!(
        wait_listening(port, true),
        "xinetd does not listen on {port}: {}",
        x.log()
    );
    assert!(echo(echo_port), "sentinel: {}", x.log());

    // ---- tnftp: anonymous login, get, put -----------------------------------------------
    let cwd = s.path("client");
    std::fs::create_dir_all(&cwd).unwrap();
    let upload = random_bytes(123_457, 0x4242);
    std::fs::write(cwd.join("up.bin"), &upload).unwrap();
    let script = "user anonymous guest@example.com\nbinary\ncd pub\nget data.bin\ncd upload\nput up.bin\nquit\n";
    let o = run(
        "60",
        "tnftp",
        &["-n", "-v", "127.0.0.1", &port.to_string()],
        Some(script),
        &cwd,
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "tnftp: {}{}", show(&o), x.log());
    assert!(text.contains("230 "), "login: {}", show(&o));
    assert_eq!(
        std::fs::read(cwd.join("data.bin")).ok().as_deref(),
        Some(&content[..]),
        "get: {}{}",
        show(&o),
        x.log()
    );
    let stored = anon_root.join("pub/upload/up.bin");
    let ok = wait_for(WAIT, || {
        (std::fs::read(&stored).ok().as_deref() == Some(&upload[..])).then_some(())
    });
    assert!(ok.is_some(), "put: {}{}", show(&o), x.log());
    let m = std::fs::metadata(&stored).unwrap();
    assert_eq!(
        (m.uid(), m.mode() & 0o7777),
        (ftp_uid(), 0o600),
        "upload's owner and mode"
    );
    // xinetd started our binary (its service log), which logged the upload where told.
    let logged = wait_for(WAIT, || {
        let l = std::fs::read_to_string(s.path("vsftpd.log")).unwrap_or_default();
        l.contains("OK UPLOAD").then_some(l)
    });
    assert!(
        logged.is_some(),
        "no OK UPLOAD in vsftpd_log_file{}",
        x.log()
    );

    // The session's whole process tree ends with it.
    let left = wait_for(WAIT, || running_copies(&bin).is_empty().then_some(()));
    assert!(
        left.is_some(),
        "processes left behind: {:?}",
        running_copies(&bin)
    );

    // ---- disable = yes, reload (SIGHUP): off --------------------------------------------
    std::fs::write(x.service("rsftpd"), xinetd_set(&service, "disable", "yes")).unwrap();
    x.reload();
    assert!(
        wait_listening(port, false),
        "still listening after disable = yes + SIGHUP{}",
        x.log()
    );
    assert!(
        refused(port),
        "a connection to the disabled service is refused"
    );
    assert!(
        x.running() && echo(echo_port),
        "xinetd still serves the rest{}",
        x.log()
    );

    // ---- disable = no, full restart: on again --------------------------------------------
    std::fs::write(x.service("rsftpd"), &service).unwrap();
    x.restart();
    assert!(
        wait_listening(port, true),
        "not listening after disable = no + restart{}",
        x.log()
    );
    let mut c = common::Ctl::connect(([127, 0, 0, 1], port).into());
    assert_eq!(c.read_reply().0, 220);
    c.expect("QUIT", 221);
    drop(c);

    // ---- disable = yes, full restart: off ----------------------------------------------
    std::fs::write(x.service("rsftpd"), xinetd_set(&service, "disable", "yes")).unwrap();
    x.restart();
    assert!(
        wait_for(WAIT, || echo(echo_port).then_some(())).is_some(),
        "sentinel{}",
        x.log()
    );
    assert!(
        !listening(port),
        "listening after disable = yes + restart{}",
        x.log()
    );
    assert!(
        refused(port),
        "a connection to the disabled service is refused"
    );
    x.stop();

    // ---- uninstall: nothing of ours is left ----------------------------------------------
    let out = make_ok(&["uninstall", &destdir]);
    assert_eq!(
        tree(&dest),
        BTreeMap::new(),
        "uninstall leaves an empty DESTDIR: {out}"
    );
}

#[test]
fn uninstall_removes_exactly_what_install_created_and_keeps_edits_and_data() {
    require_root!();
    let s = Scratch::new("uninstall");
    let dest = s.path("dest");
    let destdir = format!("DESTDIR={}", dest.display());
    // An /etc/ftpusers that was there before: never replaced, never removed.
    std::fs::create_dir_all(dest.join("etc")).unwrap();
    std::fs::write(dest.join("etc/ftpusers"), "root\nalice\n").unwrap();

    let out = make_ok(&["install", &destdir, "ANON_UPLOAD=yes"]);
    assert_eq!(read(&dest.join("etc/ftpusers")), "root\nalice\n", "{out}");
    // No /etc/rsftpd.conf yet, so the drop-box one is installed.
    assert_eq!(
        read(&dest.join("etc/rsftpd.conf")),
        read(&Path::new(REPO).join("etc/rsftpd-dropbox.conf"))
    );
    assert_eq!(tree(&dest)["/var/ftp/pub/upload"], "d 0733 0:0");
    let listed = manifest_paths(&dest);
    assert!(!listed.contains(&"/etc/ftpusers".to_string()), "{listed:?}");
    assert!(!listed.contains(&"/etc".to_string()), "{listed:?}");

    // The administrator edits the xinetd service and receives an upload.
    let xinetd = dest.join("etc/xinetd.d/rsftpd");
    let edited = xinetd_set(&read(&xinetd), "disable", "yes");
    std::fs::write(&xinetd, &edited).unwrap();
    std::fs::write(dest.join("var/ftp/pub/upload/report.pdf"), b"data").unwrap();

    // A second install keeps both, and the configuration.
    let out = make_ok(&["install", &destdir]);
    assert!(out.contains("keeping the existing"), "{out}");
    assert_eq!(read(&xinetd), edited);
    assert!(read(&dest.join("etc/rsftpd.conf")).contains("anon_upload_enable=YES"));

    let out = make_ok(&["uninstall", &destdir]);
    let left: Vec<String> = tree(&dest).into_keys().collect();
    assert_eq!(
        left,
        [
            "/etc",
            "/etc/ftpusers",
            "/etc/xinetd.d",
            "/etc/xinetd.d/rsftpd",
            "/var",
            "/var/ftp",
            "/var/ftp/pub",
            "/var/ftp/pub/upload",
            "/var/ftp/pub/upload/report.pdf",
        ],
        "{out}"
    );
    assert!(out.contains("it was changed after install"), "{out}");
    assert_eq!(read(&dest.join("etc/ftpusers")), "root\nalice\n");
    assert_eq!(tree(&dest)["/var/ftp/pub/upload"], "d 0733 0:0");
    // Without a manifest there is nothing to uninstall: an error, nothing touched.
    let o = make(&["uninstall", &destdir]);
    assert!(!o.status.success(), "{}", show(&o));
    assert_eq!(tree(&dest).len(), left.len());
}

#[test]
fn prefix_moves_the_program_and_the_shipped_files_follow() {
    require_root!();
    let s = Scratch::new("prefix");
    let dest = s.path("dest");
    let destdir = format!("DESTDIR={}", dest.display());
    let out = make_ok(&["install", &destdir, "PREFIX=/usr/local", "SYSTEMD_UNITS=no"]);
    let t = tree(&dest);
    assert_eq!(t["/usr/local/sbin/rsftpd"], "f 0755 0:0", "{out}");
    assert_eq!(t["/usr/local/share/rsftpd/empty"], "d 0755 0:0");
    assert!(t.contains_key("/usr/local/share/man/man8/rsftpd.8.gz"));
    assert!(t.contains_key("/etc/rsftpd.conf"), "sysconfdir stays /etc");
    assert!(
        !t.keys().any(|p| p.contains("systemd")),
        "SYSTEMD_UNITS=no: {t:?}"
    );
    assert!(!t
        .keys()
        .any(|p| p.starts_with("/usr/sbin") || p.starts_with("/usr/share")));
    let service = read(&dest.join("etc/xinetd.d/rsftpd"));
    assert_eq!(
        xinetd_get(&service, "server").as_deref(),
        Some("/usr/local/sbin/rsftpd")
    );
    let conf = read(&dest.join("etc/rsftpd.conf"));
    assert!(
        conf.contains("\nsecure_chroot_dir=/usr/local/share/rsftpd/empty\n"),
        "{conf}"
    );
    make_ok(&[
        "uninstall",
        &destdir,
        "PREFIX=/usr/local",
        "SYSTEMD_UNITS=no",
    ]);
    assert_eq!(tree(&dest), BTreeMap::new());
}

/// The unit's `key=value` lines (no comments).
fn unit_get(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

#[test]
fn systemd_units_verify_and_serve_as_socket_activation_does() {
    require_root!();
    let s = Scratch::new("systemd");
    let dest = s.path("dest");
    make_ok(&["install", &format!("DESTDIR={}", dest.display())]);
    let units = dest.join("usr/lib/systemd/system");
    let socket = read(&units.join("rsftpd.socket"));
    let service = read(&units.join("rsftpd@.service"));
    assert_eq!(unit_get(&socket, "Accept"), ["yes"]);
    assert_eq!(unit_get(&socket, "ListenStream"), ["21"]);
    assert_eq!(unit_get(&service, "ExecStart"), ["/usr/sbin/rsftpd"]);
    assert_eq!(unit_get(&service, "StandardInput"), ["socket"]);

    // systemd-analyze verify on a copy whose ExecStart is the DESTDIR binary (verify checks
    // that it is executable). Unknown keys are only warnings there, so stderr must be empty.
    let bin = dest.join("usr/sbin/rsftpd");
    let copy = s.path("units");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::write(copy.join("rsftpd.socket"), &socket).unwrap();
    std::fs::write(
        copy.join("rsftpd@.service"),
        service.replace(
            "ExecStart=/usr/sbin/rsftpd",
            &format!("ExecStart={}", bin.display()),
        ),
    )
    .unwrap();
    for unit in ["rsftpd.socket", "rsftpd@test.service"] {
        let o = Command::new("timeout")
            .args(["-k", "5", "60", "systemd-analyze", "verify", "--man=no"])
            .arg(copy.join(unit))
            .env("SYSTEMD_LOG_COLOR", "0")
            .stdin(Stdio::null())
            .output()
            .expect("systemd-analyze (package systemd)");
        assert!(
            o.status.success() && o.stderr.is_empty() && o.stdout.is_empty(),
            "systemd-analyze verify {unit}: {}",
            show(&o)
        );
    }

    // What the units do, without systemd as PID 1: systemd-socket-activate accepts (as
    // Accept=yes) and starts the unit's ExecStart with the connection on standard input and
    // output (as StandardInput=socket), here with a test configuration.
    let content = random_bytes(70_000, 0x5151);
    let anon_root = anon_tree(&s, &content);
    let port = free_port();
    let mut child = Command::new("systemd-socket-activate")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--accept")
        .arg("--inetd")
        .arg(&bin)
        .arg("-c")
        .arg(dest.join("etc/rsftpd.conf"))
        .arg("-o")
        .arg(format!("anon_root={}", anon_root.display()))
        .arg("-o")
        .arg(format!(
            "secure_chroot_dir={}",
            dest.join("usr/share/rsftpd/empty").display()
        ))
        .arg("-o")
        .arg(format!(
            "vsftpd_log_file={}",
            s.path("vsftpd.log").display()
        ))
        .arg("-o")
        .arg("local_enable=NO")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate (package systemd)");
    let up = wait_listening(port, true);
    let got = up.then(|| {
        let mut c = common::Ctl::connect(([127, 0, 0, 1], port).into());
        assert_eq!(c.read_reply().0, 220);
        c.expect("USER anonymous", 331);
        c.expect("PASS guest@example.com", 230);
        c.expect("TYPE I", 200);
        let (data, code, text) = c.pasv_transfer("RETR pub/data.bin");
        assert_eq!(code, 226, "{text}");
        c.expect("QUIT", 221);
        data
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "systemd-socket-activate does not listen on {port}");
    assert_eq!(got.as_deref(), Some(&content[..]));
}
