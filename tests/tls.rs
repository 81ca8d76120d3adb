//! FTPS (ssl_enable=YES, RFC 4217) against real TLS clients and raw control connections:
//! curl (OpenSSL), lftp (GnuTLS) and Python's ftplib.FTP_TLS (tests/tls_ftplib.py) list,
//! download and upload byte for byte as anonymous and as local users, with
//! require_ssl_reuse=YES (the default) and NO, over TLS 1.3 and TLS 1.2; the exact replies
//! of the forced-TLS policies; a password that never crosses the network in clear text
//! (checked through a recording relay, against a clear-text control run); an upload cut
//! off without close_notify (426 and FAIL UPLOAD); implicit FTPS; and the TLS holder's
//! identity, jail and descriptors, and that every process exits after each session.
//!
//! Certificates are made by the test with `openssl req` (RSA 2048 and ECDSA P-256, both
//! self-signed for CN=localhost, keys mode 0600 owned by root) in the fixture directory;
//! the clients do not verify them (encryption is what is tested, not trust).
//!
//! Root only (CI runs as root): the TLS holder runs as nopriv_user in secure_chroot_dir,
//! anonymous uploads need the `ftp` account, and local users are throwaway accounts
//! (tests/common/users.rs). Needs openssl, curl, lftp and python3 (the Makefile's PKGS).
//! Every client runs under `timeout`, every socket has timeouts, every loop is bounded,
//! and everything talks only to 127.0.0.1.
mod common;

use common::clients::{assert_ok, show};
use common::ftp::exact;
use common::procs::{children, ids, monitor, proc_root, status, wait_for};
use common::users::{db_field, TempUser};
use common::{assert_all_exited, random_bytes, sha256, Fixture, Inetd, TIMEOUT};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Seconds any one client run may take before `timeout` kills it.
const CLIENT_SECS: &str = "30";

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls_ftplib.py");

const REUSE_REQUIRED: &str = "522 SSL connection failed: session reuse required.";
const DATA_MUST_BE_ENCRYPTED: &str = "522 Data connections must be encrypted.";
const PROCEED: &str = "234 Proceed with negotiation.";

fn run(prog: &str, args: &[&str], cwd: &Path) -> Output {
    common::clients::run(CLIENT_SECS, prog, args, None, cwd)
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------
// Certificates, fixtures, accounts

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Rsa,
    Ec,
}

/// A self-signed certificate and its key (PEM) in `dir`, made with openssl; the key is
/// root's, mode 0600 (only the monitor, still root, reads it).
fn make_cert(dir: &Path, key: Key) -> (PathBuf, PathBuf) {
    let tag = match key {
        Key::Rsa => "rsa",
        Key::Ec => "ec",
    };
    let cert = dir.join(format!("{tag}-cert.pem"));
    let keyf = dir.join(format!("{tag}-key.pem"));
    let mut args = vec!["req", "-x509"];
    match key {
        Key::Rsa => args.extend(["-newkey", "rsa:2048"]),
        Key::Ec => args.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    }
    args.extend([
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-days",
        "2",
        "-keyout",
        keyf.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    let o = run("openssl", &args, dir);
    assert_ok("openssl req", &o);
    std::fs::set_permissions(&keyf, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o644)).unwrap();
    let md = std::fs::metadata(&keyf).unwrap();
    assert_eq!(
        (md.uid(), md.mode() & 0o777),
        (0, 0o600),
        "key owner and mode"
    );
    (cert, keyf)
}

/// The bytes every fixture serves as down.bin (and the clients compare against).
fn down_bytes() -> Vec<u8> {
    random_bytes(300_001, 7)
}

/// The bytes the clients upload.
fn up_bytes() -> Vec<u8> {
    random_bytes(200_003, 8)
}

/// A fixture with ssl_enable=YES (certificate of `key`), a transfer log, and down.bin in
/// the anonymous root. Anonymous sessions may use TLS and upload into `pub` (owned by the
/// ftp account), so curl and ftplib can write as anonymous.
fn tls_fixture(name: &str, key: Key) -> Fixture {
    let mut f = Fixture::new(name);
    let (cert, keyf) = make_cert(&f.dir, key);
    let log = f.dir.join("xfer.log");
    f.set("ssl_enable=YES")
        .set(&format!("rsa_cert_file={}", cert.display()))
        .set(&format!("rsa_private_key_file={}", keyf.display()))
        .set("allow_anon_ssl=YES")
        .set("xferlog_enable=YES")
        .set(&format!("vsftpd_log_file={}", log.display()))
        .set("write_enable=YES")
        .set("anon_upload_enable=YES");
    f.file("down.bin", &down_bytes(), 0o644);
    let p = f.mkdir("pub", 0o755);
    let (uid, gid) = account("ftp");
    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
    f
}

/// (uid, gid) of a system account, from /etc/passwd.
fn account(name: &str) -> (u32, u32) {
    let id = |field| {
        db_field("/etc/passwd", name, field)
            .unwrap_or_else(|| panic!("no account {name}"))
            .parse()
            .unwrap()
    };
    (id(2), id(3))
}

fn owner_of(p: &Path) -> (u32, u32) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.gid())
}

/// A scratch directory for the clients: down.bin (the served bytes, for ftplib to compare)
/// and up.src (the bytes to upload).
fn workdir(f: &Fixture) -> PathBuf {
    let w = f.dir.join("client");
    std::fs::create_dir_all(&w).unwrap();
    std::fs::write(w.join("down.bin"), down_bytes()).unwrap();
    std::fs::write(w.join("up.src"), up_bytes()).unwrap();
    w
}

/// Local logins on (force_local_logins_ssl and force_local_data_ssl keep their default,
/// YES), with an ftpusers_file that does not exist.
fn enable_local(f: &mut Fixture) {
    let no_ftpusers = f.dir.join("no-ftpusers");
    f.set("local_enable=YES")
        .set("local_umask=022")
        .set(&format!("ftpusers_file={}", no_ftpusers.display()));
}

/// A throwaway local user whose password every client takes as is, with a home (owned by
/// the user) holding down.bin.
fn local_user(f: &Fixture) -> TempUser {
    let u = TempUser::build()
        .home(&f.dir.join("home").join("tls"))
        .client_pass()
        .create();
    std::fs::create_dir_all(&u.home).unwrap();
    std::fs::set_permissions(f.dir.join("home"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&u.home, Some(u.uid), Some(u.gid)).unwrap();
    std::fs::set_permissions(&u.home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let down = u.home.join("down.bin");
    std::fs::write(&down, down_bytes()).unwrap();
    std::os::unix::fs::chown(&down, Some(u.uid), Some(u.gid)).unwrap();
    u
}

/// Wait (bounded) until the transfer log has a line containing every one of `parts`.
fn assert_logged(f: &Fixture, parts: &[&str]) {
    let log = f.dir.join("xfer.log");
    let found = wait_for(Duration::from_secs(5), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .any(|l| parts.iter().all(|p| l.contains(p)))
            .then_some(())
    });
    assert!(
        found.is_some(),
        "no log line with {parts:?} in:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

fn assert_not_logged(f: &Fixture, parts: &[&str]) {
    let text = std::fs::read_to_string(f.dir.join("xfer.log")).unwrap_or_default();
    assert!(
        !text.lines().any(|l| parts.iter().all(|p| l.contains(p))),
        "unexpected log line with {parts:?} in:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------
// curl

/// `ftp://127.0.0.1:PORT/path` (or ftps:// for implicit TLS).
fn url_of(scheme: &str, inetd: &Inetd, path: &str) -> String {
    format!("{scheme}://127.0.0.1:{}/{path}", inetd.addr.port())
}

/// curl with -sS -v -k and `opts`; `cred` as user:pass (None: anonymous).
fn curl(w: &Path, cred: Option<&str>, opts: &[&str], url: &str) -> Output {
    let mut args = vec!["-sS", "-v", "-k", "--connect-timeout", "10"];
    if let Some(c) = cred {
        args.extend(["-u", c]);
    }
    args.extend_from_slice(opts);
    args.push(url);
    run("curl", &args, w)
}

/// Download `path` into `w/out`; the bytes must be down.bin's. Returns curl's -v log.
fn curl_get(w: &Path, inetd: &Inetd, cred: Option<&str>, opts: &[&str], path: &str) -> String {
    let out = w.join("curl.out");
    let _ = std::fs::remove_file(&out);
    let mut o2 = vec!["-o", out.to_str().unwrap()];
    o2.extend_from_slice(opts);
    let o = curl(w, cred, &o2, &url_of("ftp", inetd, path));
    assert_ok(&format!("curl {opts:?} get {path}"), &o);
    assert_eq!(sha256(&out), sha256(&w.join("down.bin")), "sha256 {opts:?}");
    assert!(
        std::fs::read(&out).unwrap() == down_bytes(),
        "bytes {opts:?}"
    );
    assert_all_exited(inetd);
    stderr_of(&o)
}

/// The listing of `path`: must name down.bin with its size. Returns curl's -v log.
fn curl_list(w: &Path, inetd: &Inetd, cred: Option<&str>, opts: &[&str], path: &str) -> String {
    let o = curl(w, cred, opts, &url_of("ftp", inetd, path));
    assert_ok(&format!("curl {opts:?} list"), &o);
    let text = stdout_of(&o);
    let line = text
        .lines()
        .find(|l| l.ends_with(" down.bin"))
        .unwrap_or_else(|| panic!("no down.bin in the listing: {}", show(&o)));
    assert!(line.starts_with("-rw-r--r--"), "{line}");
    assert!(
        line.contains(&format!(" {} ", down_bytes().len())),
        "{line}"
    );
    assert_all_exited(inetd);
    stderr_of(&o)
}

/// Upload up.src to `path`; the file at `on_disk` must then hold exactly its bytes.
fn curl_put(
    w: &Path,
    inetd: &Inetd,
    cred: Option<&str>,
    opts: &[&str],
    path: &str,
    on_disk: &Path,
) -> String {
    let src = w.join("up.src");
    let mut o2 = vec!["-T", src.to_str().unwrap()];
    o2.extend_from_slice(opts);
    let o = curl(w, cred, &o2, &url_of("ftp", inetd, path));
    assert_ok(&format!("curl {opts:?} put {path}"), &o);
    assert_all_exited(inetd);
    assert_eq!(
        sha256(on_disk),
        sha256(&src),
        "sha256 of {}",
        on_disk.display()
    );
    assert!(std::fs::read(on_disk).unwrap() == up_bytes());
    stderr_of(&o)
}

/// The -v log shows TLS on the control connection (curl tries AUTH SSL first) and, with
/// `private`, PROT P on the data connections (else PROT C).
fn assert_curl_tls(log: &str, private: bool, version: &str) {
    assert!(log.contains("> AUTH SSL"), "no AUTH in:\n{log}");
    assert!(log.contains(&format!("< {PROCEED}")), "no 234 in:\n{log}");
    assert!(
        log.contains(&format!("SSL connection using {version}")),
        "not {version}:\n{log}"
    );
    assert!(log.contains("> PBSZ 0"), "{log}");
    if private {
        assert!(
            log.contains("> PROT P\r") || log.contains("> PROT P\n"),
            "{log}"
        );
        assert!(log.contains("< 200 PROT now Private."), "{log}");
    } else {
        assert!(log.contains("> PROT C"), "{log}");
        assert!(log.contains("< 200 PROT now Clear."), "{log}");
    }
}

/// A data connection's handshake in the -v log resumed the control session.
fn assert_curl_resumed(log: &str) {
    assert!(
        log.contains("SSL re-using session ID"),
        "no resumption:\n{log}"
    );
}

#[test]
fn curl_anonymous_over_tls_lists_downloads_and_uploads() {
    require_root!();
    let mut f = tls_fixture("tls-curl-anon", Key::Rsa);
    let w = workdir(&f);
    let inetd = f.inetd();
    let ftp = account("ftp");

    // --ssl-reqd: control and data encrypted; every data connection resumes the session.
    for log in [
        curl_list(&w, &inetd, None, &["--ssl-reqd"], ""),
        curl_get(&w, &inetd, None, &["--ssl-reqd"], "down.bin"),
    ] {
        assert_curl_tls(&log, true, "TLSv1.3");
        assert_curl_resumed(&log);
        assert!(log.contains("< 226 "), "{log}");
    }
    // --ftp-ssl-control: only the control connection is encrypted; anonymous data may be
    // clear (force_anon_data_ssl=NO, the default).
    for log in [
        curl_list(&w, &inetd, None, &["--ftp-ssl-control"], ""),
        curl_get(&w, &inetd, None, &["--ftp-ssl-control"], "down.bin"),
    ] {
        assert_curl_tls(&log, false, "TLSv1.3");
        assert!(!log.contains("re-using session"), "{log}");
    }
    let up2 = f.root.join("pub/up-clear.bin");
    let log = curl_put(
        &w,
        &inetd,
        None,
        &["--ftp-ssl-control"],
        "pub/up-clear.bin",
        &up2,
    );
    assert_curl_tls(&log, false, "TLSv1.3");
    assert_eq!(owner_of(&up2), ftp);

    let up_n = format!(", {} bytes", up_bytes().len());
    let down_n = format!(", {} bytes", down_bytes().len());
    assert_logged(
        &f,
        &[
            "[ftp] OK UPLOAD: Client \"127.0.0.1\", \"/pub/up-clear.bin\"",
            &up_n,
        ],
    );
    assert_logged(
        &f,
        &[
            "[ftp] OK DOWNLOAD: Client \"127.0.0.1\", \"/down.bin\"",
            &down_n,
        ],
    );

    // force_anon_data_ssl=YES: the clear data connection is now refused, PROT P still works.
    drop(inetd);
    f.set("force_anon_data_ssl=YES");
    let inetd = f.inetd();
    let out = w.join("refused.out");
    let o = curl(
        &w,
        None,
        &["--ftp-ssl-control", "-o", out.to_str().unwrap()],
        &url_of("ftp", &inetd, "down.bin"),
    );
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        stderr_of(&o).contains(&format!("< {DATA_MUST_BE_ENCRYPTED}")),
        "{}",
        show(&o)
    );
    assert_all_exited(&inetd);
    curl_get(&w, &inetd, None, &["--ssl-reqd"], "down.bin");

    // Encrypted uploads, a few of them: curl sends close_notify and closes at once, with the
    // TLS 1.3 session tickets the server sent on the data connection unread (so its kernel
    // resets the connection right after the close_notify). The upload is still complete.
    for i in 0..3 {
        let name = format!("pub/up-curl-{i}.bin");
        let up = f.root.join(&name);
        let log = curl_put(&w, &inetd, None, &["--ssl-reqd"], &name, &up);
        assert_curl_tls(&log, true, "TLSv1.3");
        assert_curl_resumed(&log);
        assert!(log.contains("< 226 Transfer complete."), "{log}");
        assert_eq!(owner_of(&up), ftp);
        assert_logged(
            &f,
            &[
                &format!("[ftp] OK UPLOAD: Client \"127.0.0.1\", \"/{name}\""),
                &up_n,
            ],
        );
    }
}

#[test]
fn curl_local_user_over_tls_and_the_forced_policies() {
    require_root!();
    let mut f = tls_fixture("tls-curl-local", Key::Rsa);
    enable_local(&mut f);
    let u = local_user(&f);
    let w = workdir(&f);
    let cred = format!("{}:{}", u.name, u.pass);
    let inetd = f.inetd();

    let log = curl_list(&w, &inetd, Some(&cred), &["--ssl-reqd"], "");
    assert_curl_tls(&log, true, "TLSv1.3");
    assert_curl_resumed(&log);
    let log = curl_get(&w, &inetd, Some(&cred), &["--ssl-reqd"], "down.bin");
    assert_curl_resumed(&log);

    // force_local_data_ssl=YES (the default): control-only TLS gets 522 for the transfer.
    let o = curl(
        &w,
        Some(&cred),
        &["--ftp-ssl-control", "-o", "/dev/null"],
        &url_of("ftp", &inetd, "down.bin"),
    );
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        stderr_of(&o).contains(&format!("< {DATA_MUST_BE_ENCRYPTED}")),
        "{}",
        show(&o)
    );
    assert_all_exited(&inetd);

    // force_local_logins_ssl=YES (the default): no TLS, no login (refused at USER).
    let o = curl(&w, Some(&cred), &[], &url_of("ftp", &inetd, ""));
    assert_eq!(
        o.status.code(),
        Some(67),
        "curl: login denied\n{}",
        show(&o)
    );
    let log = stderr_of(&o);
    assert!(
        log.contains("< 530 Non-anonymous sessions must use encryption."),
        "{log}"
    );
    assert!(!log.contains("> PASS"), "curl sent the password: {log}");
    assert_all_exited(&inetd);

    // force_local_data_ssl=NO: control-only TLS now moves clear data both ways.
    drop(inetd);
    f.set("force_local_data_ssl=NO");
    let inetd = f.inetd();
    let log = curl_get(&w, &inetd, Some(&cred), &["--ftp-ssl-control"], "down.bin");
    assert_curl_tls(&log, false, "TLSv1.3");
    let up = u.home.join("up-clear.bin");
    curl_put(
        &w,
        &inetd,
        Some(&cred),
        &["--ftp-ssl-control"],
        "up-clear.bin",
        &up,
    );
    assert_eq!(owner_of(&up), (u.uid, u.gid));

    // Encrypted uploads (PROT P), a few of them: curl sends close_notify and closes at once
    // (see curl_anonymous_over_tls_lists_downloads_and_uploads).
    let home = u.home_str();
    for i in 0..3 {
        let name = format!("up-curl-{i}.bin");
        let up = u.home.join(&name);
        let log = curl_put(&w, &inetd, Some(&cred), &["--ssl-reqd"], &name, &up);
        assert_curl_resumed(&log);
        assert_eq!(owner_of(&up), (u.uid, u.gid));
        assert_logged(
            &f,
            &[
                &format!(
                    "[{}] OK UPLOAD: Client \"127.0.0.1\", \"{home}/{name}\"",
                    u.name
                ),
                &format!(", {} bytes", up_bytes().len()),
            ],
        );
    }
}

/// Four config rows: TLS 1.3 and 1.2 (ssl_tlsv1_3=NO), each with require_ssl_reuse YES and
/// NO; curl limited to each version lists and downloads byte for byte (ECDSA certificate,
/// cert and key in one file). Then the refusals: a TLS 1.3-only client against
/// ssl_tlsv1_3=NO and a TLS 1.2-only client against ssl_min_protocol=TLSv1.3.
#[test]
fn curl_tls13_and_tls12_clients_and_version_limits() {
    require_root!();
    let mut f = tls_fixture("tls-versions", Key::Ec);
    // One PEM with the certificate and the key; rsa_private_key_file unset.
    let both = f.dir.join("both.pem");
    let mut pem = std::fs::read(f.dir.join("ec-cert.pem")).unwrap();
    pem.extend(std::fs::read(f.dir.join("ec-key.pem")).unwrap());
    std::fs::write(&both, pem).unwrap();
    std::fs::set_permissions(&both, std::fs::Permissions::from_mode(0o600)).unwrap();
    f.set(&format!("rsa_cert_file={}", both.display()))
        .set("rsa_private_key_file=");
    let w = workdir(&f);
    let only13: &[&str] = &["--ssl-reqd", "--tlsv1.3", "--tls-max", "1.3"];
    let only12: &[&str] = &["--ssl-reqd", "--tlsv1.2", "--tls-max", "1.2"];

    for reuse in ["YES", "NO"] {
        f.set(&format!("require_ssl_reuse={reuse}"));
        f.set("ssl_tlsv1_3=YES");
        let inetd = f.inetd();
        for (opts, v) in [(only13, "TLSv1.3"), (only12, "TLSv1.2")] {
            let log = curl_list(&w, &inetd, None, opts, "");
            assert_curl_tls(&log, true, v);
            let log = curl_get(&w, &inetd, None, opts, "down.bin");
            assert_curl_tls(&log, true, v);
            assert!(log.contains("ECDHE-ECDSA") || v == "TLSv1.3", "{log}");
            assert_curl_resumed(&log);
        }
        drop(inetd);

        // ssl_tlsv1_3=NO: TLS 1.2 only.
        f.set("ssl_tlsv1_3=NO");
        let inetd = f.inetd();
        let log = curl_get(&w, &inetd, None, &["--ssl-reqd"], "down.bin");
        assert_curl_tls(&log, true, "TLSv1.2");
        let o = curl(&w, None, only13, &url_of("ftp", &inetd, "down.bin"));
        assert_eq!(
            o.status.code(),
            Some(35),
            "TLS handshake failure\n{}",
            show(&o)
        );
        assert!(!stderr_of(&o).contains("230 "), "{}", show(&o));
        assert_all_exited(&inetd);
        drop(inetd);
    }

    // ssl_min_protocol=TLSv1.3: a TLS 1.2 client fails, a TLS 1.3 client works.
    f.set("ssl_tlsv1_3=YES").set("ssl_min_protocol=TLSv1.3");
    let inetd = f.inetd();
    let o = curl(&w, None, only12, &url_of("ftp", &inetd, "down.bin"));
    assert_eq!(
        o.status.code(),
        Some(35),
        "TLS handshake failure\n{}",
        show(&o)
    );
    assert_all_exited(&inetd);
    let log = curl_get(&w, &inetd, None, only13, "down.bin");
    assert_curl_tls(&log, true, "TLSv1.3");
}

// ---------------------------------------------------------------------------------------
// lftp

/// An `lftp -d -c` script with TLS forced on control and data, the certificate not checked.
fn lftp_tls(settings: &str, user: &str, pass: &str, port: u16, commands: &str) -> String {
    format!(
        "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; \
         set ftp:ssl-force true; set ssl:verify-certificate no; \
         set ftp:ssl-protect-data true; set ftp:ssl-protect-list true; {settings}\
         set cmd:fail-exit yes; open -u {user},{pass} ftp://127.0.0.1:{port}; {commands}"
    )
}

/// A small tree (two levels, an empty file, binary data) at `dir`, owned by `who`.
fn small_tree(dir: &Path, who: (u32, u32)) {
    let files: [(&str, Vec<u8>); 5] = [
        ("a.txt", b"first file\n".to_vec()),
        ("empty", Vec::new()),
        ("sub/b.bin", random_bytes(70_001, 21)),
        ("sub/deeper/c.bin", random_bytes(5_000, 22)),
        ("sub/deeper/d.txt", b"deep\n".to_vec()),
    ];
    for (rel, bytes) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    let o = Command::new("chown")
        .args(["-R", &format!("{}:{}", who.0, who.1), dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
}

fn diff_r(a: &Path, b: &Path) {
    let o = run("diff", &["-r", a.to_str().unwrap(), b.to_str().unwrap()], a);
    assert_ok(&format!("diff -r {} {}", a.display(), b.display()), &o);
}

/// lftp (GnuTLS) as a local user: ls, get, put, a second get, mirror down and mirror -R up,
/// over TLS 1.3 (the default) and TLS 1.2 (ssl_tlsv1_3=NO), require_ssl_reuse=YES.
#[test]
fn lftp_over_tls_ls_get_put_get_and_mirror() {
    require_root!();
    let mut f = tls_fixture("tls-lftp", Key::Rsa);
    enable_local(&mut f);
    let u = local_user(&f);
    small_tree(&u.home.join("tree"), (u.uid, u.gid));
    // TLS 1.3: lftp may offer nothing else; TLS 1.2: the server offers nothing else.
    for (tls13, settings) in [
        ("YES", "set ssl:priority NORMAL:-VERS-ALL:+VERS-TLS1.3; "),
        ("NO", ""),
    ] {
        f.set(&format!("ssl_tlsv1_3={tls13}"));
        let w = f.dir.join(format!("lftp-{tls13}"));
        std::fs::create_dir_all(&w).unwrap();
        std::fs::write(w.join("up.src"), up_bytes()).unwrap();
        let local_tree = w.join("local-tree");
        small_tree(&local_tree, (0, 0));
        let inetd = f.inetd();
        let up_name = format!("up-lftp-{tls13}.bin");
        let script = lftp_tls(
            settings,
            &u.name,
            &u.pass,
            inetd.addr.port(),
            &format!(
                "ls; get down.bin -o g1.bin; put up.src -o {up_name}; get down.bin -o g2.bin; \
                 mirror tree mirrored; mirror -R local-tree up-tree-{tls13}; quit"
            ),
        );
        let o = run("lftp", &["-d", "-c", &script], &w);
        assert_ok(&format!("lftp ssl_tlsv1_3={tls13}"), &o);
        let out = stdout_of(&o);
        assert!(
            out.lines()
                .any(|l| l.starts_with("-rw-r--r--") && l.ends_with(" down.bin")),
            "ls: {}",
            show(&o)
        );
        let log = stderr_of(&o);
        assert!(log.contains("---> AUTH TLS"), "{log}");
        assert!(log.contains(&format!("<--- {PROCEED}")), "{log}");
        assert!(log.contains("---> PROT P"), "{log}");
        assert!(!log.contains("<--- 522"), "{log}");
        for g in ["g1.bin", "g2.bin"] {
            assert_eq!(sha256(&w.join(g)), sha256(&f.root.join("down.bin")), "{g}");
        }
        let up = u.home.join(&up_name);
        assert_eq!(sha256(&up), sha256(&w.join("up.src")), "put");
        assert_eq!(owner_of(&up), (u.uid, u.gid));
        diff_r(&u.home.join("tree"), &w.join("mirrored"));
        diff_r(&local_tree, &u.home.join(format!("up-tree-{tls13}")));
        assert_all_exited(&inetd);
        drop(inetd);
    }
}

// ---------------------------------------------------------------------------------------
// Python ftplib.FTP_TLS

/// Run tests/tls_ftplib.py; its output lines.
fn ftplib(mode: &str, inetd: &Inetd, user: &str, pass: &str, updir: &str, w: &Path) -> Vec<String> {
    let port = inetd.addr.port().to_string();
    let o = run(
        "python3",
        &[SCRIPT, mode, &port, user, pass, updir, w.to_str().unwrap()],
        w,
    );
    assert_ok(&format!("tls_ftplib.py {mode}"), &o);
    assert_all_exited(inetd);
    stdout_of(&o).lines().map(String::from).collect()
}

/// The lines of a session of `reuse` or `stock` mode (anonymous, uploading into pub).
fn good_session(resumed: bool, version: &str) -> Vec<String> {
    let mut v = vec![
        PROCEED.to_string(),
        "230 Login successful.".into(),
        "200 PROT now Private.".into(),
        "download ok".into(),
        "250 Directory successfully changed.".into(),
        "226 Transfer complete.".into(),
    ];
    if resumed {
        v.push("resumed 5 of 5".into());
        v.push(format!("data {version}"));
    }
    v.push(format!("control {version}"));
    v.push("221 Goodbye.".into());
    v
}

/// Stock FTP_TLS offers no session on its data connections: with require_ssl_reuse=YES
/// every PROT P transfer gets exactly 522 ... session reuse required (the session goes
/// on); the subclass that offers the control session works, while offering another
/// client's session is refused the same way; with require_ssl_reuse=NO the stock class
/// works too. Over TLS 1.3 and TLS 1.2.
#[test]
fn ftplib_session_reuse_required_and_not() {
    require_root!();
    let mut f = tls_fixture("tls-ftplib", Key::Rsa);
    let w = workdir(&f);
    for (tls13, version) in [("YES", "TLSv1.3"), ("NO", "TLSv1.2")] {
        f.set(&format!("ssl_tlsv1_3={tls13}"));
        f.set("require_ssl_reuse=YES");
        let inetd = f.inetd();
        let got = ftplib("stock-refused", &inetd, "anonymous", "a@b", "pub", &w);
        assert_eq!(
            got,
            [
                PROCEED,
                "230 Login successful.",
                "200 PROT now Private.",
                REUSE_REQUIRED,
                REUSE_REQUIRED,
                "250 Directory successfully changed.",
                REUSE_REQUIRED,
                "/pub",
                "221 Goodbye."
            ],
            "stock FTP_TLS, {version}, require_ssl_reuse=YES"
        );
        let refused = f.root.join("pub/refused.bin");
        assert!(
            !refused.exists() || std::fs::metadata(&refused).unwrap().len() == 0,
            "a refused upload stored bytes"
        );
        // (The 150 came before the handshake: the file may have been created, empty.)
        let _ = std::fs::remove_file(&refused);
        let got = ftplib("reuse", &inetd, "anonymous", "a@b", "pub", &w);
        assert_eq!(
            got,
            good_session(true, version),
            "reusing subclass, {version}"
        );
        // Another client's session is not this client's: refused.
        let got = ftplib("cross", &inetd, "anonymous", "a@b", "pub", &w);
        assert_eq!(
            got,
            [
                PROCEED,
                "230 Login successful.",
                PROCEED,
                "230 Login successful.",
                "200 PROT now Private.",
                "200 PROT now Private.",
                REUSE_REQUIRED,
                "own sessions ok",
                "221 Goodbye.",
                "221 Goodbye."
            ],
            "another client's session, {version}"
        );
        let up = f.root.join("pub/up-ftplib.bin");
        assert_eq!(sha256(&up), sha256(&w.join("up.src")));
        std::fs::remove_file(&up).unwrap();
        drop(inetd);

        f.set("require_ssl_reuse=NO");
        let inetd = f.inetd();
        let got = ftplib("stock", &inetd, "anonymous", "a@b", "pub", &w);
        assert_eq!(
            got,
            good_session(false, version),
            "stock, {version}, reuse=NO"
        );
        assert_eq!(sha256(&up), sha256(&w.join("up.src")));
        std::fs::remove_file(&up).unwrap();
        let got = ftplib("reuse", &inetd, "anonymous", "a@b", "pub", &w);
        assert_eq!(
            got,
            good_session(true, version),
            "subclass, {version}, reuse=NO"
        );
        assert_eq!(sha256(&up), sha256(&w.join("up.src")));
        std::fs::remove_file(&up).unwrap();
        drop(inetd);
    }
}

/// A local user over TLS with the reusing subclass; then PROT C with force_local_data_ssl
/// (the default): 522 Data connections must be encrypted., before any data connection.
#[test]
fn ftplib_local_user_and_prot_c_refused() {
    require_root!();
    let mut f = tls_fixture("tls-ftplib-local", Key::Rsa);
    enable_local(&mut f);
    let u = local_user(&f);
    let w = workdir(&f);
    let inetd = f.inetd();
    let home = u.home_str();
    let got = ftplib("reuse", &inetd, &u.name, &u.pass, &home, &w);
    assert_eq!(got, good_session(true, "TLSv1.3"));
    let up = u.home.join("up-ftplib.bin");
    assert_eq!(sha256(&up), sha256(&w.join("up.src")));
    assert_eq!(owner_of(&up), (u.uid, u.gid));

    let got = ftplib("prot-c", &inetd, &u.name, &u.pass, &home, &w);
    assert_eq!(
        got,
        [
            PROCEED,
            "230 Login successful.",
            "200 PROT now Clear.",
            DATA_MUST_BE_ENCRYPTED,
            DATA_MUST_BE_ENCRYPTED,
            "200 PROT now Private.",
            "226 Transfer complete.",
            "221 Goodbye."
        ]
    );
}

/// An upload whose TCP connection ends without close_notify: 426 Failure reading network
/// stream. and FAIL UPLOAD in the log; the same upload closed properly: 226 and OK UPLOAD.
#[test]
fn upload_cut_without_close_notify_is_a_failure() {
    require_root!();
    let f = tls_fixture("tls-cut", Key::Rsa);
    let w = workdir(&f);
    let inetd = f.inetd();
    let got = ftplib("truncate", &inetd, "anonymous", "a@b", "pub", &w);
    assert_eq!(
        got,
        [
            PROCEED,
            "230 Login successful.",
            "200 PROT now Private.",
            "250 Directory successfully changed.",
            "426 Failure reading network stream.",
            "226 Transfer complete.",
            "221 Goodbye."
        ]
    );
    let n = up_bytes().len();
    let whole = f.root.join("pub/whole.bin");
    assert!(std::fs::read(&whole).unwrap() == up_bytes(), "whole.bin");
    assert_logged(
        &f,
        &[
            "[ftp] OK UPLOAD: Client \"127.0.0.1\", \"/pub/whole.bin\", ",
            &format!(", {n} bytes"),
        ],
    );
    assert_logged(
        &f,
        &["[ftp] FAIL UPLOAD: Client \"127.0.0.1\", \"/pub/cut.bin\", "],
    );
    assert_not_logged(&f, &["OK UPLOAD", "/pub/cut.bin"]);
    // What arrived before the cut is kept, as vsftpd keeps a failed upload's bytes: never
    // more than was sent, and a prefix of it.
    let cut = std::fs::read(f.root.join("pub/cut.bin")).unwrap();
    assert!(
        cut.len() <= n && up_bytes().starts_with(&cut),
        "cut.bin: {} bytes",
        cut.len()
    );
}

// ---------------------------------------------------------------------------------------
// Raw control connections: the exact replies of the policies

/// FEAT, PBSZ and PROT before AUTH, unknown AUTH types, CCC, and the login policies,
/// on clear-text control connections.
#[test]
fn policies_on_a_clear_control_connection() {
    require_root!();
    let mut f = tls_fixture("tls-raw", Key::Rsa);
    enable_local(&mut f);
    let u = local_user(&f);
    let inetd = f.inetd();

    let mut c = inetd.connect();
    exact(
        &mut c,
        "FEAT",
        "211-Features:\n AUTH TLS\n EPRT\n EPSV\n HOST\n LANG EN*\n MDTM\n MFMT\n \
         MLST type*;size*;modify*;perm*;unique*;unix.mode*;unix.owner*;unix.group*;\n PASV\n PBSZ\n PROT\n \
         REST STREAM\n SIZE\n TVFS\n UTF8\n211 End",
    );
    exact(&mut c, "PBSZ 0", "503 PBSZ needs a secure connection.");
    exact(&mut c, "PROT P", "503 PROT needs a secure connection.");
    exact(&mut c, "AUTH XYZ", "504 Unknown AUTH type.");
    exact(&mut c, "AUTH", "504 Unknown AUTH type.");
    exact(
        &mut c,
        "CCC",
        "533 CCC refused: the control connection is not encrypted.",
    );
    // force_local_logins_ssl=YES: refused at USER, before any password is asked for.
    exact(
        &mut c,
        &format!("USER {}", u.name),
        "530 Non-anonymous sessions must use encryption.",
    );
    exact(
        &mut c,
        &format!("PASS {}", u.pass),
        "503 Login with USER first.",
    );
    // Anonymous in clear text is allowed (force_anon_logins_ssl=NO), its data in clear
    // too (force_anon_data_ssl=NO).
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS a@b", "230 Login successful.");
    let (data, code, text) = c.pasv_transfer("RETR down.bin");
    assert_eq!((code, text.as_str()), (226, "226 Transfer complete."));
    assert!(data == down_bytes());
    exact(&mut c, "AUTH TLS", "503 AUTH must come before login.");
    exact(&mut c, "PBSZ 0", "503 PBSZ needs a secure connection.");
    exact(&mut c, "PROT P", "503 PROT needs a secure connection.");
    exact(&mut c, "QUIT", "221 Goodbye.");
    drop(c);
    assert_all_exited(&inetd);
    drop(inetd);

    // force_anon_logins_ssl=YES and force_anon_data_ssl=YES.
    f.set("force_anon_logins_ssl=YES");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(
        &mut c,
        "USER anonymous",
        "530 Anonymous sessions must use encryption.",
    );
    exact(&mut c, "QUIT", "221 Goodbye.");
    drop(c);
    assert_all_exited(&inetd);
    drop(inetd);
    f.set("force_anon_logins_ssl=NO")
        .set("force_anon_data_ssl=YES");
    let inetd = f.inetd();
    let mut c = inetd.login();
    let _d = c.pasv();
    exact(&mut c, "RETR down.bin", DATA_MUST_BE_ENCRYPTED);
    exact(&mut c, "QUIT", "221 Goodbye.");
    drop(c);
    assert_all_exited(&inetd);
    drop(inetd);

    // Without ssl_enable: no TLS features, AUTH is not a command.
    f.set("ssl_enable=NO");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(
        &mut c,
        "FEAT",
        "211-Features:\n EPRT\n EPSV\n HOST\n LANG EN*\n MDTM\n MFMT\n \
         MLST type*;size*;modify*;perm*;unique*;unix.mode*;unix.owner*;unix.group*;\n PASV\n REST STREAM\n SIZE\n \
         TVFS\n UTF8\n211 End",
    );
    exact(&mut c, "AUTH TLS", "530 Please login with USER and PASS.");
    exact(&mut c, "PBSZ 0", "530 Please login with USER and PASS.");
    exact(&mut c, "USER anonymous", "331 Please specify the password.");
    exact(&mut c, "PASS a@b", "230 Login successful.");
    for cmd in ["AUTH TLS", "PBSZ 0", "PROT P", "CCC"] {
        exact(&mut c, cmd, "502 Command not implemented.");
    }
    exact(&mut c, "QUIT", "221 Goodbye.");
    drop(c);
    assert_all_exited(&inetd);
}

/// Over a TLS control connection (Python's ssl): AUTH again, PBSZ, every PROT level, CCC,
/// and allow_anon_ssl=NO refusing an anonymous login over TLS.
#[test]
fn policies_on_a_tls_control_connection() {
    require_root!();
    let mut f = tls_fixture("tls-raw-tls", Key::Rsa);
    f.set("allow_anon_ssl=NO");
    let w = workdir(&f);
    let inetd = f.inetd();
    let got = ftplib("policies", &inetd, "anonymous", "x", ".", &w);
    assert_eq!(
        got,
        [
            "503 PBSZ needs a secure connection.",
            "503 PROT needs a secure connection.",
            PROCEED,
            "503 Already using TLS.",
            "200 PBSZ set to 0.",
            "536 PROT not supported.",
            "536 PROT not supported.",
            "504 PROT not recognized.",
            "200 PROT now Clear.",
            "200 PROT now Private.",
            "533 CCC refused: the control connection stays encrypted.",
            "530 Anonymous sessions may not use encryption.",
            "221 Goodbye."
        ]
    );
    // The same anonymous login in clear text is fine (allow_anon_ssl=NO).
    let mut c = inetd.login();
    exact(&mut c, "QUIT", "221 Goodbye.");
    drop(c);
    assert_all_exited(&inetd);
}

// ---------------------------------------------------------------------------------------
// The password on the wire

/// A TCP relay on 127.0.0.1 to `to` that records every byte each way.
struct Relay {
    addr: SocketAddr,
    /// (client to server, server to client)
    seen: Arc<Mutex<(Vec<u8>, Vec<u8>)>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Copy `from` to `to` until EOF or an error (bounded by the read timeout), recording.
fn pump(mut from: TcpStream, mut to: TcpStream, seen: Arc<Mutex<(Vec<u8>, Vec<u8>)>>, up: bool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                {
                    let mut s = seen.lock().unwrap();
                    if up { &mut s.0 } else { &mut s.1 }.extend_from_slice(&buf[..n]);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Relay {
    fn start(to: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new((Vec::new(), Vec::new())));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut pumps = Vec::new();
            let t = Instant::now();
            while !stop2.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(60) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let server = TcpStream::connect_timeout(&to, TIMEOUT).unwrap();
                        for s in [&client, &server] {
                            s.set_read_timeout(Some(TIMEOUT)).unwrap();
                        }
                        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                        let (a, b) = (seen2.clone(), seen2.clone());
                        pumps.push(std::thread::spawn(move || pump(client, server, a, true)));
                        pumps.push(std::thread::spawn(move || pump(s2, c2, b, false)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for p in pumps {
                let _ = p.join();
            }
        });
        Relay {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Stop accepting, wait for the connections to end; what went each way.
    fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let s = self.seen.lock().unwrap();
        (s.0.clone(), s.1.clone())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Log in as a local user with curl through the relay; what crossed the control connection.
fn through_relay(f: &Fixture, u: &TempUser, opts: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let inetd = f.inetd();
    let relay = Relay::start(inetd.addr);
    let w = f.dir.join("client");
    std::fs::create_dir_all(&w).unwrap();
    let cred = format!("{}:{}", u.name, u.pass);
    let url = format!("ftp://127.0.0.1:{}/", relay.addr.port());
    let o = curl(&w, Some(&cred), opts, &url);
    assert_ok(&format!("curl {opts:?} through the relay"), &o);
    assert!(stdout_of(&o).contains(" down.bin"), "{}", show(&o));
    assert_all_exited(&inetd);
    relay.finish()
}

/// With TLS forced, neither the password nor the PASS command (nor the user name) crosses
/// the network in clear text; the same login without ssl_enable shows all three, so the
/// check can fail.
#[test]
fn password_never_crosses_the_wire_in_clear_text() {
    require_root!();
    let mut f = tls_fixture("tls-wire", Key::Rsa);
    enable_local(&mut f);
    let u = local_user(&f);
    assert!(u.pass.len() > 10, "a distinctive password");

    let (up, down) = through_relay(&f, &u, &["--ssl-reqd"]);
    assert!(
        contains(&up, b"AUTH SSL\r\n"),
        "the relay saw the clear-text AUTH"
    );
    assert!(contains(&down, PROCEED.as_bytes()), "the relay saw the 234");
    assert!(
        up.len() > 500 && down.len() > 500,
        "TLS records went through"
    );
    for (what, bytes) in [("to the server", &up), ("to the client", &down)] {
        assert!(
            !contains(bytes, u.pass.as_bytes()),
            "password in clear {what}"
        );
        assert!(!contains(bytes, b"PASS"), "PASS in clear {what}");
        assert!(
            !contains(bytes, u.name.as_bytes()),
            "user name in clear {what}"
        );
        assert!(!contains(bytes, b"230 "), "230 in clear {what}");
    }

    // Control run: the same login and listing without TLS.
    f.set("ssl_enable=NO");
    let (up, down) = through_relay(&f, &u, &[]);
    assert!(contains(&up, format!("PASS {}\r\n", u.pass).as_bytes()));
    assert!(contains(&up, format!("USER {}\r\n", u.name).as_bytes()));
    assert!(contains(&down, b"230 Login successful."));
}

// ---------------------------------------------------------------------------------------
// Implicit FTPS

#[test]
fn implicit_ssl_serves_tls_from_the_first_byte() {
    require_root!();
    let mut f = tls_fixture("tls-implicit", Key::Rsa);
    f.set("implicit_ssl=YES");
    let w = workdir(&f);
    let inetd = f.inetd();
    let out = w.join("implicit.out");
    let o = curl(
        &w,
        None,
        &["-o", out.to_str().unwrap()],
        &url_of("ftps", &inetd, "down.bin"),
    );
    assert_ok("curl ftps://", &o);
    assert!(std::fs::read(&out).unwrap() == down_bytes());
    assert_eq!(sha256(&out), sha256(&f.root.join("down.bin")));
    let log = stderr_of(&o);
    assert!(log.contains("SSL connection using TLSv1.3"), "{log}");
    assert!(!log.contains("> AUTH"), "implicit: no AUTH:\n{log}");
    assert!(log.contains("< 220 "), "{log}");
    assert!(log.contains("< 226 Transfer complete."), "{log}");
    assert_all_exited(&inetd);

    // A clear-text client gets no greeting in clear text.
    let mut s = TcpStream::connect_timeout(&inetd.addr, TIMEOUT).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"USER anonymous\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        !contains(&buf, b"220"),
        "clear greeting on implicit TLS: {buf:?}"
    );
    drop(s);
    assert_all_exited(&inetd);
}

// ---------------------------------------------------------------------------------------
// Processes

/// The inode of the server's end of the TCP connection from `client_port` to `server`.
fn tcp_inode(server: SocketAddr, client_port: u16) -> String {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let want_local = format!("0100007F:{:04X}", server.port());
    let want_rem = format!("0100007F:{client_port:04X}");
    text.lines()
        .skip(1)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && f[1] == want_local && f[2] == want_rem).then(|| f[9].to_string())
        })
        .unwrap_or_else(|| panic!("no socket {want_local} <- {want_rem} in /proc/net/tcp"))
}

/// Every descriptor link of `pid`.
fn fd_links(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The "Max processes" soft limit of `pid`.
fn max_processes(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    text.lines()
        .find(|l| l.starts_with("Max processes"))
        .and_then(|l| l.split_whitespace().nth(2).map(String::from))
}

/// The holder and the sessions during a clear-text pre-login, then a logged-in session:
/// the holder is nopriv_user (nobody) in secure_chroot_dir, without capabilities or
/// forks, and the only process with the client's TCP socket.
#[test]
fn tls_holder_runs_as_nopriv_user_in_the_secure_chroot_dir() {
    require_root!();
    let f = tls_fixture("tls-procs", Key::Rsa);
    let (nuid, ngid) = account("nobody");
    let (fuid, _) = account("ftp");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    let mon = monitor(&inetd);
    let client_port = c.stream.local_addr().unwrap().port();
    let sock = format!("socket:[{}]", tcp_inode(inetd.addr, client_port));

    let check_holder = |holder: u32| {
        let st = status(holder).expect("holder runs");
        assert_eq!(ids(&st["Uid"]), vec![nuid; 4], "holder Uid");
        assert_eq!(ids(&st["Gid"]), vec![ngid; 4], "holder Gid");
        assert_eq!(st["Groups"], "", "holder groups");
        for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            assert_eq!(st[cap], "0000000000000000", "holder {cap}");
        }
        assert_eq!(st["NoNewPrivs"], "1");
        assert_eq!(
            proc_root(holder),
            f.empty.canonicalize().unwrap(),
            "holder root"
        );
        assert_eq!(
            max_processes(holder).as_deref(),
            Some("0"),
            "holder cannot fork"
        );
        let links = fd_links(holder);
        assert!(
            links.contains(&sock),
            "holder {holder} fds {links:?} lack {sock}"
        );
        assert!(
            !links.iter().any(|l| l.starts_with('/') && l != "/dev/null"),
            "holder has files open: {links:?}"
        );
    };

    // Pre-login: two children, the holder (first) and the pre-login session, both nobody.
    let kids = wait_for(TIMEOUT, || {
        let k = children(mon);
        (k.len() == 2).then_some(k)
    })
    .unwrap_or_else(|| panic!("monitor children: {:?}", children(mon)));
    let holder = *kids.iter().min().unwrap();
    let pre = *kids.iter().max().unwrap();
    check_holder(holder);
    assert_eq!(proc_root(pre), f.empty.canonicalize().unwrap());
    let with_sock: Vec<u32> = [mon, holder, pre]
        .into_iter()
        .filter(|p| fd_links(*p).contains(&sock))
        .collect();
    assert_eq!(
        with_sock,
        vec![holder],
        "who holds the client's socket before login"
    );

    // Logged in (anonymous, clear text): the holder stays, the session is ftp in anon_root.
    c.expect("USER anonymous", 331);
    c.expect("PASS a@b", 230);
    let post = wait_for(TIMEOUT, || {
        children(mon)
            .into_iter()
            .find(|p| *p != holder && status(*p).is_some_and(|s| ids(&s["Uid"])[0] == fuid))
    })
    .expect("post-login session");
    assert_eq!(children(mon).len(), 2, "holder and post-login session");
    check_holder(holder);
    assert_eq!(proc_root(post), f.root.canonicalize().unwrap());
    assert!(
        !fd_links(post).contains(&sock),
        "the session holds the client's socket"
    );
    assert!(
        !fd_links(mon).contains(&sock),
        "the monitor holds the client's socket"
    );
    let (data, code, _) = c.pasv_transfer("RETR down.bin");
    assert_eq!(code, 226);
    assert!(data == down_bytes());
    exact(&mut c, "QUIT", "221 Goodbye.");
    drop(c);
    assert_all_exited(&inetd);
    assert!(status(holder).is_none(), "the holder exited");
}

/// A client that drops the connection in the middle of the TLS handshake, and one that
/// sends garbage after 234: every process exits.
#[test]
fn broken_handshakes_end_every_process() {
    require_root!();
    let f = tls_fixture("tls-broken", Key::Rsa);
    let inetd = f.inetd();
    let mut c = inetd.connect();
    exact(&mut c, "AUTH TLS", PROCEED);
    c.send_raw(b"this is not a TLS record\r\n");
    let mut buf = Vec::new();
    let _ = c.stream.read_to_end(&mut buf);
    drop(c);
    assert_all_exited(&inetd);

    let mut c = inetd.connect();
    exact(&mut c, "AUTH TLS", PROCEED);
    // The first bytes of a ClientHello record header, then a hang-up.
    c.send_raw(&[0x16, 0x03, 0x01, 0x00]);
    let _ = c.stream.shutdown(Shutdown::Both);
    drop(c);
    assert_all_exited(&inetd);
}
