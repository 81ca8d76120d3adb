//! IPv6 (issue 8), on loopback only (::1, 127.0.0.0/8):
//! - a session over ::1 (the mini-inetd on [::1]:0, as xinetd with `flags = IPv6`) with
//!   curl: EPSV and EPRT downloads, uploads and listings, and curl keeping to EPSV/EPRT
//!   on IPv6 whatever it is told;
//! - the exact replies on an IPv6 control connection: PASV and PORT refused with 522, `EPSV 1`
//!   and `EPRT |1|...|` refused as `EPSV 2` and `EPRT |2|...|` are on IPv4, the EPRT bounce
//!   check against the IPv6 peer (another address, a privileged port), and active
//!   connections from ::1, from port 20 with connect_from_port_20;
//! - behind a balancer (PROXY headers), the client's family decides PASV and PORT;
//! - standalone `listen_ipv6=YES`: one dual-stack socket serving a ::1 client and a
//!   127.0.0.1 client, logged as `::1` and `127.0.0.1` (never ::ffff:127.0.0.1), the bounce
//!   and passive checks and max_per_ip for the mapped client; `listen_address6`;
//! - a real xinetd with `flags = IPv6` (root, when xinetd is installed);
//! - configuration: listen with listen_ipv6, listen_ipv6 under inetd, pasv_address as a host
//!   name with and without pasv_addr_resolve (`localhost`, from /etc/hosts), a name that does
//!   not resolve (`no-such-host.invalid`), an IPv6 pasv_address.
//!
//! When this machine has no IPv6 loopback (binding [::1]:0 fails) the IPv6 tests say
//! "skipped" and pass; the configuration tests run anyway.
mod common;

use common::clients::{assert_ok, run, show};
use common::ftp::{accept_bounded, exact, port_arg, read_all};
use common::{assert_all_exited, random_bytes, Ctl, Fixture, Inetd, TIMEOUT};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const NO_DATA: &str = "425 Use PORT or PASV first.";
const EPRT_OK: &str = "200 EPRT command successful. Consider using EPSV.";
const ILLEGAL_EPRT: &str = "500 Illegal EPRT command.";
const PASV_ON_V6: &str = "522 PASV is not available on an IPv6 connection; use EPSV.";
const PORT_ON_V6: &str = "522 PORT is not available on an IPv6 connection; use EPRT.";
const USE_2: &str = "522 Bad network protocol; use (2).";
const USE_1: &str = "522 Bad network protocol; use (1).";

fn ipv6_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

macro_rules! require_ipv6 {
    () => {
        if !ipv6_available() {
            eprintln!("skipped: IPv6 is not available here (cannot bind [::1]:0)");
            return;
        }
    };
}

/// The mini-inetd on [::1], serving the fixture's configuration.
fn inetd6(f: &Fixture) -> Inetd {
    Inetd::start_on("[::1]:0", &["-c", f.conf.to_str().unwrap()])
}

fn login(c: &mut Ctl) {
    c.expect("USER anonymous", 331);
    c.expect("PASS guest@example.com", 230);
}

fn epsv_port(text: &str) -> u16 {
    let inner = &text[text.find("(|||").unwrap() + 4..text.find("|)").unwrap()];
    inner.parse().unwrap()
}

/// EPSV, then connect to the port on the control connection's server address (EPSV says
/// only the port, RFC 2428).
fn epsv(c: &mut Ctl) -> TcpStream {
    let text = c.expect("EPSV", 229);
    let mut at = c.stream.peer_addr().unwrap();
    at.set_port(epsv_port(&text));
    let s = TcpStream::connect_timeout(&at, TIMEOUT).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// A whole download or listing over EPSV: (data, final code).
fn epsv_transfer(c: &mut Ctl, command: &str) -> (Vec<u8>, u16) {
    let d = epsv(c);
    c.expect(command, 150);
    let data = read_all(d);
    (data, c.read_reply().0)
}

fn assert_no_connection(l: &TcpListener, what: &str) {
    std::thread::sleep(Duration::from_millis(300));
    l.set_nonblocking(true).unwrap();
    match l.accept() {
        Ok((_, from)) => panic!("{what}: the server connected (from {from})"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{what}: {e}"),
    }
}

/// A free privileged port on `ip` (we are root), bound.
fn privileged_listener(ip: &str) -> TcpListener {
    for p in (900..1024).rev() {
        if let Ok(l) = TcpListener::bind(format!("{ip}:{p}")) {
            return l;
        }
    }
    panic!("no free port below 1024 on {ip}");
}

/// The lines of a log file that contain `what`, waiting (bounded) for at least one.
fn log_lines(p: &Path, what: &str) -> Vec<String> {
    let t = Instant::now();
    loop {
        let got: Vec<String> = std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(what))
            .map(str::to_string)
            .collect();
        if !got.is_empty() || t.elapsed() > Duration::from_secs(10) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The 1-based line of the fixture's config that sets `key`.
fn line_of(f: &Fixture, key: &str) -> usize {
    let text = std::fs::read_to_string(&f.conf).unwrap();
    1 + text
        .lines()
        .position(|l| l.split('=').next() == Some(key))
        .unwrap_or_else(|| panic!("{key} not in {text}"))
}

/// `rsftpd -t -c CONF`.
fn check(f: &Fixture) -> Output {
    Command::new(common::bin())
        .args(["-t", "-c", f.conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ---------------------------------------------------------------------------------------
// A session over ::1 with curl.
// ---------------------------------------------------------------------------------------

#[test]
fn curl_over_ipv6_with_epsv_and_eprt() {
    require_ipv6!();
    let mut f = Fixture::new("ipv6-curl");
    let content = random_bytes(300_000, 0x6006);
    f.file("data.bin", &content, 0o644);
    f.file("readme.txt", b"over IPv6\n", 0o644);
    f.mkdir("up", 0o777);
    f.set("write_enable=YES");
    f.set("anon_upload_enable=YES");
    let vlog = f.dir.join("vsftpd.log");
    f.set(&format!("vsftpd_log_file={}", vlog.display()));
    f.set("xferlog_enable=YES");
    let inetd = inetd6(&f);
    let base = format!("ftp://[::1]:{}", inetd.addr.port());
    let out = f.dir.join("out");
    std::fs::create_dir(&out).unwrap();

    // curl -v shows the commands as "> CMD"; -g leaves the brackets of [::1] alone.
    let curl = |args: &[&str], what: &str| -> String {
        let mut all = vec!["-sS", "-v", "-g", "--max-time", "30"];
        all.extend_from_slice(args);
        let o = run("60", "curl", &all, None, &out);
        assert_ok(what, &o);
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let get = |extra: &[&str], name: &str| -> String {
        let dest = out.join(name);
        let url = format!("{base}/data.bin");
        let mut args = extra.to_vec();
        args.extend_from_slice(&["-o", dest.to_str().unwrap(), &url]);
        let log = curl(&args, name);
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            content,
            "download with {extra:?}"
        );
        log
    };

    // EPSV, curl's default.
    let log = get(&[], "epsv.bin");
    assert!(
        log.contains("> EPSV\r\n") || log.contains("> EPSV\n"),
        "{log}"
    );
    assert!(
        log.contains("< 229 Entering Extended Passive Mode (|||"),
        "{log}"
    );
    // On IPv6, curl keeps to EPSV even when told to use PASV (which could not work).
    let log = get(&["--disable-epsv"], "still-epsv.bin");
    assert!(log.contains("> EPSV"), "{log}");
    assert!(!log.contains("> PASV"), "{log}");

    // EPRT: curl listens on ::1 and names it.
    let log = get(&["--ftp-port", "::1"], "eprt.bin");
    assert!(log.contains("> EPRT |2|::1|"), "{log}");
    assert!(log.contains(&format!("< {EPRT_OK}")), "{log}");
    assert!(!log.contains("> EPSV") && !log.contains("> PASV"), "{log}");
    // "-": the control connection's own address; PORT is never used on IPv6.
    let log = get(&["-P", "-", "--disable-eprt"], "eprt-dash.bin");
    assert!(log.contains("> EPRT |2|::1|"), "{log}");
    assert!(!log.contains("> PORT"), "{log}");

    // A listing over each.
    for extra in [&[][..], &["-P", "::1"][..]] {
        let mut args = extra.to_vec();
        let url = format!("{base}/");
        args.extend_from_slice(&["-l", &url]);
        let o = {
            let mut all = vec!["-sS", "-g", "--max-time", "30"];
            all.extend_from_slice(&args);
            run("60", "curl", &all, None, &out)
        };
        assert_ok("listing", &o);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "data.bin\nreadme.txt\nup\n",
            "NLST (curl ends ASCII lines with LF) with {extra:?}"
        );
    }

    // Uploads over each: the bytes land on disk.
    let up = random_bytes(200_001, 0x0606);
    std::fs::write(out.join("up.bin"), &up).unwrap();
    for (extra, name) in [
        (&[][..], "by-epsv.bin"),
        (&["-P", "::1"][..], "by-eprt.bin"),
    ] {
        let url = format!("{base}/up/{name}");
        let mut args = extra.to_vec();
        args.extend_from_slice(&["-T", "up.bin", &url]);
        curl(&args, name);
        assert_eq!(std::fs::read(f.root.join("up").join(name)).unwrap(), up);
    }

    // The log names the client as ::1.
    assert!(inetd.wait_all_exited(TIMEOUT));
    let connects = log_lines(&vlog, "CONNECT:");
    assert!(!connects.is_empty());
    for l in &connects {
        assert!(l.ends_with("CONNECT: Client \"::1\""), "{l}");
    }
    assert!(!log_lines(&vlog, "OK UPLOAD: Client \"::1\", \"/up/by-eprt.bin\"").is_empty());
    assert_all_exited(&inetd);
}

#[test]
fn lftp_passive_and_python_ftplib_over_ipv6() {
    require_ipv6!();
    let f = Fixture::new("ipv6-lftp");
    let content = random_bytes(100_000, 0x1f7);
    f.file("data.bin", &content, 0o644);
    let inetd = inetd6(&f);
    let out = f.dir.join("out");
    std::fs::create_dir(&out).unwrap();
    // lftp, passive: it sends EPSV on IPv6. (Active mode is not tried: lftp 4.9.2 here sends
    // `EPRT |2|::|port|`, the unspecified address, which the bounce check refuses, as
    // vsftpd's does.)
    let script = format!(
        "set net:max-retries 1; set net:timeout 10; set ftp:ssl-allow no; set cmd:fail-exit yes; \
         set ftp:passive-mode yes; open -u anonymous,guest@example.com ftp://[::1]:{}; \
         get data.bin -o p.bin",
        inetd.addr.port()
    );
    // -d: the dialogue on stderr, to see which commands set up the data connection.
    let o = run("60", "lftp", &["-d", "-c", &script], None, &out);
    assert_ok("lftp", &o);
    assert_eq!(std::fs::read(out.join("p.bin")).unwrap(), content);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("---> EPSV"), "{}", show(&o));
    assert!(!log.contains("---> PASV"), "{}", show(&o));
    // Python's ftplib picks EPSV and EPRT by itself on an IPv6 connection.
    let py = format!(
        "import ftplib, io\n\
         for passive in (True, False):\n\
         \x20   c = ftplib.FTP()\n\
         \x20   c.connect('::1', {}, timeout=20)\n\
         \x20   c.set_debuglevel(1)\n\
         \x20   c.login()\n\
         \x20   c.set_pasv(passive)\n\
         \x20   b = io.BytesIO()\n\
         \x20   c.retrbinary('RETR data.bin', b.write)\n\
         \x20   assert b.getvalue() == open('{}', 'rb').read(), passive\n\
         \x20   c.quit()\n\
         print('ok')\n",
        inetd.addr.port(),
        f.root.join("data.bin").display()
    );
    let o = run("60", "python3", &["-c", &py], None, &out);
    assert_ok("python ftplib", &o);
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.ends_with("ok\n"), "{}", show(&o));
    assert!(said.contains("*cmd* 'EPSV'"), "{}", show(&o));
    assert!(said.contains("*cmd* 'EPRT |2|::1|"), "{}", show(&o));
    assert!(
        !said.contains("*cmd* 'PASV'") && !said.contains("*cmd* 'PORT"),
        "{}",
        show(&o)
    );
    assert_all_exited(&inetd);
}

// ---------------------------------------------------------------------------------------
// Exact replies on an IPv6 control connection.
// ---------------------------------------------------------------------------------------

#[test]
fn ipv6_control_connection_replies_and_bounce_check() {
    require_ipv6!();
    let f = Fixture::new("ipv6-replies");
    f.file("a.txt", b"a\n", 0o644);
    let inetd = inetd6(&f);
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let v4p = v4.local_addr().unwrap().port();
    let low = if common::is_root() {
        Some(privileged_listener("[::1]"))
    } else {
        None
    };
    let lp = low
        .as_ref()
        .map_or(1000, |l| l.local_addr().unwrap().port());
    let good = TcpListener::bind("[::1]:0").unwrap();
    let gp = good.local_addr().unwrap().port();

    let mut c = Ctl::connect(inetd.addr);
    assert_eq!(c.read_reply().0, 220);
    login(&mut c);

    // PASV and PORT can only carry IPv4: refused, pointing at EPSV and EPRT.
    exact(&mut c, "PASV", PASV_ON_V6);
    exact(&mut c, "NLST", NO_DATA);
    exact(&mut c, &format!("PORT {}", port_arg(v4p)), PORT_ON_V6);
    exact(&mut c, "NLST", NO_DATA);
    // A malformed PORT is still just malformed.
    exact(&mut c, "PORT 1,2,3", "500 Illegal PORT command.");

    // EPSV: the other family is refused as EPSV 2 is on IPv4; ours and none work.
    exact(&mut c, "EPSV 1", USE_2);
    exact(&mut c, "NLST", NO_DATA);
    for arg in ["EPSV", "EPSV 2"] {
        let text = c.expect(arg, 229);
        assert!(
            text.starts_with("229 Entering Extended Passive Mode (|||") && text.ends_with("|)"),
            "{text}"
        );
    }
    let (data, code) = epsv_transfer(&mut c, "NLST");
    assert_eq!(
        (String::from_utf8_lossy(&data).as_ref(), code),
        ("a.txt\r\n", 226)
    );

    // EPRT: the IPv4 family (and an IPv4-mapped address) is refused like |2| on IPv4;
    // another IPv6 address (::2, not even routable here) and a privileged port on ::1 fail
    // the bounce check at once, without any connection attempt.
    for (arg, want) in [
        (format!("|1|127.0.0.1|{v4p}|"), USE_2),
        (format!("|2|::ffff:127.0.0.1|{v4p}|"), USE_2),
        (format!("|2|::2|{gp}|"), ILLEGAL_EPRT),
        (format!("|2|::1|{lp}|"), ILLEGAL_EPRT),
        (format!("|2|::1%lo|{gp}|"), "500 Bad EPRT command."),
        (format!("|2|[::1]|{gp}|"), "500 Bad EPRT command."),
        (
            format!("|3|::1|{gp}|"),
            "522 Bad network protocol; use (1,2).",
        ),
    ] {
        exact(&mut c, &format!("EPRT {arg}"), want);
        exact(&mut c, "NLST", NO_DATA);
    }
    assert_no_connection(&v4, "EPRT to 127.0.0.1 on an IPv6 connection");
    if let Some(l) = &low {
        assert_no_connection(l, "EPRT to a privileged port on ::1");
    }
    assert_no_connection(&good, "a refused EPRT");

    // EPRT to the client itself: the server connects from ::1.
    exact(&mut c, &format!("EPRT |2|::1|{gp}|"), EPRT_OK);
    c.expect("NLST", 150);
    let d = accept_bounded(&good);
    assert_eq!(d.peer_addr().unwrap().ip().to_string(), "::1");
    assert_eq!(read_all(d), b"a.txt\r\n");
    assert_eq!(c.read_reply().0, 226);
    // The same address spelt differently is the same address.
    exact(&mut c, &format!("EPRT |2|0:0:0:0:0:0:0:1|{gp}|"), EPRT_OK);
    c.expect("RETR a.txt", 150);
    assert_eq!(read_all(accept_bounded(&good)), b"a\n");
    assert_eq!(c.read_reply().0, 226);

    // STAT names the IPv6 client.
    let text = c.expect("STAT", 211);
    assert!(text.contains("     Connected to ::1"), "{text}");
    c.expect("QUIT", 221);
    assert_all_exited(&inetd);
}

#[test]
fn eprt_from_port_20_over_ipv6() {
    require_ipv6!();
    require_root!();
    let mut f = Fixture::new("ipv6-port20");
    f.file("a.txt", b"from port 20\n", 0o644);
    f.set("connect_from_port_20=YES");
    let inetd = inetd6(&f);
    let good = TcpListener::bind("[::1]:0").unwrap();
    let gp = good.local_addr().unwrap().port();
    let mut c = Ctl::connect(inetd.addr);
    assert_eq!(c.read_reply().0, 220);
    login(&mut c);
    exact(&mut c, &format!("EPRT |2|::1|{gp}|"), EPRT_OK);
    c.expect("RETR a.txt", 150);
    let d = accept_bounded(&good);
    // The monitor made it, as root, from [::1]:20.
    assert_eq!(d.peer_addr().unwrap(), "[::1]:20".parse().unwrap());
    assert_eq!(read_all(d), b"from port 20\n");
    assert_eq!(c.read_reply().0, 226);
    c.expect("QUIT", 221);
    assert_all_exited(&inetd);
}

/// Connect to `inetd`, send a PROXY v1 `header` (the balancer's), then log in.
fn proxied(inetd: &Inetd, header: &str) -> Ctl {
    let mut c = Ctl::connect(inetd.addr);
    c.send_raw(header.as_bytes());
    assert_eq!(c.read_reply().0, 220);
    login(&mut c);
    c
}

#[test]
fn behind_a_balancer_the_clients_family_decides() {
    require_ipv6!();
    // An IPv6 client through a balancer that reaches the host over IPv4: PASV and PORT
    // cannot name it (522), EPSV works, EPRT must be of the host's family (522).
    let mut f = Fixture::new("ipv6-proxy4");
    f.set("proxy_protocol_enable=YES");
    f.set("proxy_trusted_addresses=127.0.0.1, ::1");
    f.set("pasv_address=192.0.2.10");
    let inetd = f.inetd();
    let mut c = proxied(&inetd, "PROXY TCP6 2001:db8::7 2001:db8::1 40002 21\r\n");
    exact(&mut c, "PASV", PASV_ON_V6);
    exact(&mut c, &format!("PORT {}", port_arg(40000)), PORT_ON_V6);
    exact(&mut c, "EPRT |2|2001:db8::7|40000|", USE_1);
    let text = c.expect("EPSV", 229);
    assert!(
        text.starts_with("229 Entering Extended Passive Mode (|||"),
        "{text}"
    );
    c.expect("QUIT", 221);
    assert_all_exited(&inetd);
    drop(inetd);

    // An IPv4 client through a balancer that reaches the host over IPv6: PASV announces
    // the balancer's IPv4 pasv_address (the announcement only: nothing is forwarded here).
    let inetd = inetd6(&f);
    let mut c = proxied(&inetd, "PROXY TCP4 198.51.100.7 192.0.2.10 40003 21\r\n");
    let text = c.expect("PASV", 227);
    assert!(
        text.starts_with("227 Entering Passive Mode (192,0,2,10,"),
        "{text}"
    );
    // Without pasv_address there is no IPv4 address to announce.
    f.set("pasv_address=");
    let inetd2 = inetd6(&f);
    let mut c2 = proxied(&inetd2, "PROXY TCP4 198.51.100.7 192.0.2.10 40004 21\r\n");
    exact(&mut c2, "PASV", PASV_ON_V6);
    c.expect("QUIT", 221);
    c2.expect("QUIT", 221);
    assert_all_exited(&inetd);
    assert_all_exited(&inetd2);
}

// ---------------------------------------------------------------------------------------
// Standalone listen_ipv6=YES.
// ---------------------------------------------------------------------------------------

struct Listener {
    child: Child,
    port: u16,
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Only the process this test started, by PID; its sessions end with their clients.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on both families (the kernel's pick for a dual-stack [::]:0 socket).
fn free_port() -> u16 {
    TcpListener::bind("[::]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start rsftpd standalone with the fixture's config (which must choose the mode) on a free
/// port, and wait until `probe` (an address with port 0) gets a greeting.
fn start_standalone(f: &mut Fixture, probe: &str) -> Listener {
    let port = free_port();
    f.set(&format!("listen_port={port}"));
    let child = Command::new(common::bin())
        .args(["-c", f.conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut at: SocketAddr = probe.parse().unwrap();
    at.set_port(port);
    let t = Instant::now();
    let s = loop {
        if let Ok(s) = TcpStream::connect(at) {
            break s;
        }
        assert!(
            t.elapsed() < TIMEOUT,
            "the standalone server did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut probe = Ctl::from_stream(s);
    assert_eq!(
        probe.read_reply().0,
        220,
        "the readiness probe was not served"
    );
    Listener { child, port }
}

fn wait_no_sessions(l: &Listener) {
    let t = Instant::now();
    while !common::descendants(l.child.id()).is_empty() {
        assert!(
            t.elapsed() < TIMEOUT,
            "session processes left behind: {:?}",
            common::descendants(l.child.id())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ctl_at(ip: &str, port: u16) -> Ctl {
    let mut at: SocketAddr = format!("{ip}:0").parse().unwrap();
    at.set_port(port);
    Ctl::connect(at)
}

#[test]
fn listen_ipv6_serves_ipv6_and_ipv4_clients_on_one_socket() {
    require_ipv6!();
    let mut f = Fixture::new("ipv6-standalone");
    let content = random_bytes(65_537, 0x4646);
    f.file("data.bin", &content, 0o644);
    let vlog = f.dir.join("vsftpd.log");
    let xlog = f.dir.join("xferlog");
    f.set(&format!("vsftpd_log_file={}", vlog.display()));
    f.set(&format!("xferlog_file={}", xlog.display()));
    f.set("dual_log_enable=YES");
    f.set("listen_ipv6=YES");
    f.set("max_per_ip=1");
    let l = start_standalone(&mut f, "127.0.0.1:0");
    wait_no_sessions(&l);

    // An IPv6 client: EPSV works, PASV is refused.
    let mut six = ctl_at("[::1]", l.port);
    assert_eq!(six.read_reply().0, 220);
    login(&mut six);
    exact(&mut six, "PASV", PASV_ON_V6);
    let (data, code) = epsv_transfer(&mut six, "RETR data.bin");
    assert_eq!((data.len(), code), (content.len(), 226));
    assert_eq!(data, content);

    // An IPv4 client of the same socket is an IPv4 client in every respect.
    let mut four = ctl_at("127.0.0.1", l.port);
    assert_eq!(four.read_reply().0, 220);
    login(&mut four);
    let text = four.expect("PASV", 227);
    assert!(
        text.starts_with("227 Entering Passive Mode (127,0,0,1,"),
        "PASV names the IPv4 address, not a mapped one: {text}"
    );
    let (data, code, _) = four.pasv_transfer("RETR data.bin");
    assert_eq!((data == content, code), (true, 226));
    let (data, code) = epsv_transfer(&mut four, "RETR data.bin");
    assert_eq!((data == content, code), (true, 226));
    exact(&mut four, "EPSV 2", USE_1);
    // The bounce check compares with 127.0.0.1: its own ports are fine, 127.0.0.2 is not;
    // |2|::1| is the other family, while |2|::ffff:127.0.0.1| is 127.0.0.1 itself.
    let good = TcpListener::bind("127.0.0.1:0").unwrap();
    let gp = good.local_addr().unwrap().port();
    let third = TcpListener::bind("127.0.0.2:0").unwrap();
    let tp = third.local_addr().unwrap().port();
    exact(&mut four, &format!("EPRT |2|::1|{gp}|"), USE_1);
    exact(
        &mut four,
        &format!("PORT 127,0,0,2,{},{}", tp >> 8, tp & 0xff),
        "500 Illegal PORT command.",
    );
    exact(&mut four, &format!("EPRT |1|127.0.0.2|{tp}|"), ILLEGAL_EPRT);
    exact(
        &mut four,
        &format!("EPRT |2|::ffff:127.0.0.1|{gp}|"),
        EPRT_OK,
    );
    four.expect("RETR data.bin", 150);
    assert_eq!(read_all(accept_bounded(&good)), content);
    assert_eq!(four.read_reply().0, 226);
    exact(
        &mut four,
        &format!("PORT {}", port_arg(gp)),
        "200 PORT command successful. Consider using PASV.",
    );
    four.expect("NLST", 150);
    assert_eq!(read_all(accept_bounded(&good)), b"data.bin\r\n");
    assert_eq!(four.read_reply().0, 226);
    assert_no_connection(&third, "PORT/EPRT to 127.0.0.2");
    // The passive check compares with 127.0.0.1 too: 127.0.0.2 may not take the data.
    let text = four.expect("EPSV", 229);
    let to: SocketAddr = format!("127.0.0.1:{}", epsv_port(&text)).parse().unwrap();
    let from: SocketAddr = "127.0.0.2:0".parse().unwrap();
    let thief = rsftpd::sys::net::connect_from(from, to, TIMEOUT).unwrap();
    let (code, text) = four.cmd("RETR data.bin");
    assert_eq!(
        (code, text.as_str()),
        (425, "425 Security: Bad IP connecting.")
    );
    drop(thief);
    let text = four.expect("STAT", 211);
    assert!(text.contains("     Connected to 127.0.0.1\n"), "{text}");

    // max_per_ip=1 counts the IPv4 client as 127.0.0.1, whichever way it is written, and
    // the IPv6 one apart.
    let mut again = ctl_at("127.0.0.1", l.port);
    assert_eq!(
        again.read_reply(),
        (
            421,
            "421 There are too many connections from your internet address.".to_string()
        )
    );
    let mut again6 = ctl_at("[::ffff:127.0.0.1]", l.port);
    assert_eq!(again6.read_reply().0, 421);
    four.expect("QUIT", 221);
    six.expect("QUIT", 221);
    wait_no_sessions(&l);

    // The logs say 127.0.0.1 and ::1, never ::ffff:127.0.0.1.
    let v = std::fs::read_to_string(&vlog).unwrap();
    let x = std::fs::read_to_string(&xlog).unwrap();
    assert!(!v.contains("ffff") && !x.contains("ffff"), "{v}\n{x}");
    assert!(
        v.lines()
            .any(|l| l.ends_with("CONNECT: Client \"127.0.0.1\"")),
        "{v}"
    );
    assert!(
        v.lines().any(|l| l.ends_with("CONNECT: Client \"::1\"")),
        "{v}"
    );
    assert!(
        v.contains("[ftp] OK DOWNLOAD: Client \"::1\", \"/data.bin\", 65537 bytes, ")
            && v.contains("[ftp] OK DOWNLOAD: Client \"127.0.0.1\", \"/data.bin\", 65537 bytes, "),
        "{v}"
    );
    // xferlog: the remote host is the seventh field.
    let hosts: Vec<&str> = x
        .lines()
        .map(|l| l.split_whitespace().nth(6).unwrap_or(""))
        .collect();
    assert!(
        hosts.contains(&"::1") && hosts.contains(&"127.0.0.1"),
        "{x}"
    );
}

#[test]
fn listen_address6_binds_one_address() {
    require_ipv6!();
    // ::1 only: IPv4 clients are not served.
    let mut f = Fixture::new("ipv6-address6");
    f.set("listen_ipv6=YES");
    f.set("listen_address6=::1");
    let l = start_standalone(&mut f, "[::1]:0");
    let e = TcpStream::connect(("127.0.0.1", l.port)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    let mut c = ctl_at("[::1]", l.port);
    assert_eq!(c.read_reply().0, 220);
    c.expect("QUIT", 221);
    drop(l);

    // An IPv4-mapped address: that IPv4 address, served as IPv4 (PASV works).
    let mut f = Fixture::new("ipv6-address6-mapped");
    f.file("a.txt", b"mapped\n", 0o644);
    f.set("listen_ipv6=YES");
    f.set("listen_address6=::ffff:127.0.0.1");
    let l = start_standalone(&mut f, "127.0.0.1:0");
    let mut c = ctl_at("127.0.0.1", l.port);
    assert_eq!(c.read_reply().0, 220);
    login(&mut c);
    let (data, code, _) = c.pasv_transfer("RETR a.txt");
    assert_eq!((data.as_slice(), code), (&b"mapped\n"[..], 226));
    c.expect("QUIT", 221);
    let e = TcpStream::connect(("::1", l.port)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
}

// ---------------------------------------------------------------------------------------
// A real xinetd with flags = IPv6.
// ---------------------------------------------------------------------------------------

#[test]
fn xinetd_flags_ipv6_serves_both_families() {
    require_ipv6!();
    require_root!();
    if Command::new("xinetd").arg("-version").output().is_err() {
        eprintln!("skipped: xinetd is not installed");
        return;
    }
    let mut f = Fixture::new("ipv6-xinetd");
    let content = random_bytes(40_000, 0x71);
    f.file("data.bin", &content, 0o644);
    let vlog = f.dir.join("vsftpd.log");
    f.set(&format!("vsftpd_log_file={}", vlog.display()));
    f.set("xferlog_enable=YES");
    let xdir = f.dir.join("xinetd");
    std::fs::create_dir_all(xdir.join("xinetd.d")).unwrap();
    std::fs::write(
        xdir.join("xinetd.conf"),
        format!(
            "defaults\n{{\n\tlog_type\t= FILE {}\n\tlog_on_success\t= PID HOST EXIT\n\tlog_on_failure\t= HOST\n}}\nincludedir {}\n",
            xdir.join("services.log").display(),
            xdir.join("xinetd.d").display()
        ),
    )
    .unwrap();
    // The shipped service, with flags = IPv6 as its comments describe, on a free port.
    let port = free_port();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("xinetd.d/rsftpd"))
            .unwrap();
    assert!(shipped.contains("flags = IPv6"), "the comments document it");
    let service = shipped
        .replace(
            "\tserver\t\t= /usr/sbin/rsftpd\n",
            &format!(
                "\tserver\t\t= {}\n\tserver_args\t= -c {}\n\tflags\t\t= IPv6\n\ttype\t\t= UNLISTED\n\tport\t\t= {port}\n",
                common::bin().display(),
                f.conf.display()
            ),
        );
    assert_ne!(service, shipped, "the server line was found");
    std::fs::write(xdir.join("xinetd.d/rsftpd"), &service).unwrap();
    let mut x = Command::new("xinetd")
        .arg("-dontfork")
        .arg("-filelog")
        .arg(xdir.join("xinetd.log"))
        .arg("-f")
        .arg(xdir.join("xinetd.conf"))
        .arg("-pidfile")
        .arg(xdir.join("xinetd.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let xlog = || {
        format!(
            "\n--- xinetd.log\n{}\n--- services.log\n{}",
            std::fs::read_to_string(xdir.join("xinetd.log")).unwrap_or_default(),
            std::fs::read_to_string(xdir.join("services.log")).unwrap_or_default()
        )
    };
    let t = Instant::now();
    while TcpStream::connect(("::1", port)).is_err() {
        assert!(t.elapsed() < TIMEOUT, "xinetd does not listen: {}", xlog());
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = f.dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let mut results = Vec::new();
    for (host, name) in [("[::1]", "v6.bin"), ("127.0.0.1", "v4.bin")] {
        let url = format!("ftp://{host}:{port}/data.bin");
        let o = run(
            "60",
            "curl",
            &["-sS", "-g", "--max-time", "30", "-o", name, &url],
            None,
            &out,
        );
        results.push((host, o.status.success(), show(&o)));
    }
    let _ = x.kill();
    let _ = x.wait();
    for (host, ok, shown) in &results {
        assert!(ok, "curl over {host}: {shown}{}", xlog());
    }
    assert_eq!(std::fs::read(out.join("v6.bin")).unwrap(), content);
    assert_eq!(std::fs::read(out.join("v4.bin")).unwrap(), content);
    // xinetd's own log shows the IPv4 client as ::ffff:127.0.0.1; rsftpd's says 127.0.0.1.
    let v = std::fs::read_to_string(&vlog).unwrap();
    assert!(
        v.lines().any(|l| l.ends_with("CONNECT: Client \"::1\"")),
        "{v}"
    );
    assert!(
        v.lines()
            .any(|l| l.ends_with("CONNECT: Client \"127.0.0.1\"")),
        "{v}{}",
        xlog()
    );
    assert!(!v.contains("ffff"), "{v}");
}

// ---------------------------------------------------------------------------------------
// Configuration.
// ---------------------------------------------------------------------------------------

#[test]
fn listen_and_listen_ipv6_together_are_refused() {
    let mut f = Fixture::new("ipv6-both");
    f.set("listen=YES");
    f.set("listen_ipv6=YES");
    let conf = f.conf.display().to_string();
    let want = format!(
        "rsftpd: {conf}:{}: listen=YES and listen_ipv6=YES cannot both be set (listen=YES at {conf}:{}): listen_ipv6=YES alone serves IPv4 and IPv6 clients on one dual-stack socket, listen=YES serves IPv4 only\n",
        line_of(&f, "listen_ipv6"),
        line_of(&f, "listen")
    );
    let o = check(&f);
    assert_eq!((o.status.code(), stderr(&o)), (Some(1), want.clone()));
    assert!(o.stdout.is_empty());
    // Starting for real says the same and serves nothing.
    let o = Command::new(common::bin())
        .args(["-c", f.conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!((o.status.code(), stderr(&o)), (Some(1), want));
    // Either one alone is fine.
    f.set("listen=NO");
    assert_eq!(check(&f).status.code(), Some(0));
}

#[test]
fn listen_ipv6_under_inetd_refuses_the_client_clearly() {
    // Debian's vsftpd.conf sets listen_ipv6=YES; under xinetd that would try to bind the
    // port xinetd holds. The client gets a 421 and syslog the reason.
    let mut f = Fixture::new("ipv6-inetd-listen");
    f.set("listen_ipv6=YES");
    let inetd = f.inetd();
    let mut c = Ctl::connect(inetd.addr);
    assert_eq!(
        c.read_reply(),
        (
            421,
            "421 Service not available (server error; see the system log).".to_string()
        )
    );
    assert_eq!(c.read_reply().0, 0, "then the connection is closed");
    assert_all_exited(&inetd);
}

#[test]
fn pasv_address_host_names_need_pasv_addr_resolve() {
    let mut f = Fixture::new("ipv6-resolve");
    f.file("a.txt", b"a\n", 0o644);
    let conf = f.conf.display().to_string();

    // A name without pasv_addr_resolve: refused, naming the line and the fix.
    f.set("pasv_address=localhost");
    let o = check(&f);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (
            Some(1),
            format!(
                "rsftpd: {conf}:{}: pasv_address='localhost' is not an IP address; to give a host name, set pasv_addr_resolve=YES (it is then resolved once, at startup)\n",
                line_of(&f, "pasv_address")
            )
        )
    );

    // With it: looked up at start (localhost is in /etc/hosts), and -t prints the address.
    f.set("pasv_addr_resolve=YES");
    let o = check(&f);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let dump = String::from_utf8_lossy(&o.stdout);
    assert!(dump.contains("\npasv_address=127.0.0.1\n"), "{dump}");
    assert!(dump.contains("\npasv_addr_resolve=YES\n"), "{dump}");
    // A session whose control connection is on 127.0.0.2 announces the resolved address
    // (the announcement only: nothing listens on 127.0.0.1 for it).
    let args = ["-c", conf.as_str()];
    let inetd = Inetd::start_on("127.0.0.2:0", &args);
    let mut c = Ctl::connect(inetd.addr);
    assert_eq!(c.read_reply().0, 220);
    login(&mut c);
    let text = c.expect("PASV", 227);
    assert!(
        text.starts_with("227 Entering Passive Mode (127,0,0,1,"),
        "{text}"
    );
    c.expect("QUIT", 221);
    assert_all_exited(&inetd);
    drop(inetd);
    // Without pasv_address the same session announces its own 127.0.0.2.
    f.set("pasv_address=");
    let inetd = Inetd::start_on("127.0.0.2:0", &args);
    let mut c = Ctl::connect(inetd.addr);
    assert_eq!(c.read_reply().0, 220);
    login(&mut c);
    let text = c.expect("PASV", 227);
    assert!(
        text.starts_with("227 Entering Passive Mode (127,0,0,2,"),
        "{text}"
    );
    c.expect("QUIT", 221);
    assert_all_exited(&inetd);

    // A name that does not resolve stops rsftpd -t, naming the line ...
    f.set("pasv_address=no-such-host.invalid");
    let o = check(&f);
    let err = stderr(&o);
    let want = format!(
        "rsftpd: {conf}:{}: pasv_address='no-such-host.invalid' (pasv_addr_resolve=YES) does not resolve: ",
        line_of(&f, "pasv_address")
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with(&want) && err.lines().count() == 1, "{err}");
    assert!(o.stdout.is_empty());
    // ... and under inetd the client gets 421, not a session with a broken PASV.
    let inetd = f.inetd();
    let mut c = Ctl::connect(inetd.addr);
    assert_eq!(c.read_reply().0, 421);
    assert_all_exited(&inetd);
}

#[test]
fn ipv6_pasv_address_refuses_pasv_and_keeps_epsv() {
    let mut f = Fixture::new("ipv6-pasvaddr6");
    f.file("a.txt", b"a\n", 0o644);
    f.set("pasv_address=::1");
    let conf = f.conf.display().to_string();
    let o = check(&f);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "rsftpd: warning: {conf}:{}: pasv_address='::1' is an IPv6 address: PASV, which can only announce IPv4, will be refused with 522 and clients must use EPSV\n",
            line_of(&f, "pasv_address")
        )
    );
    let inetd = f.inetd();
    let mut c = inetd.login();
    exact(
        &mut c,
        "PASV",
        "522 PASV cannot announce the IPv6 pasv_address; use EPSV.",
    );
    exact(&mut c, "NLST", NO_DATA);
    let (data, code) = epsv_transfer(&mut c, "RETR a.txt");
    assert_eq!((data.as_slice(), code), (&b"a\n"[..], 226));
    c.expect("QUIT", 221);
    assert_all_exited(&inetd);
}
