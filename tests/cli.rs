//! Command line and configuration errors, as an administrator sees them: `-t` output,
//! `-o` order, errors naming file, line and key, and what a client sees when the
//! configuration is broken under inetd (a 421, never the details).
mod common;

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn conf(f: &common::Fixture, text: &str) -> String {
    let p = f.dir.join("test.conf");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn check_prints_effective_settings() {
    let f = common::Fixture::new("cli-t");
    let c = conf(
        &f,
        "listen_port=2121\n# a comment\n\nftpd_banner=Hello there\n",
    );
    let (code, out, err) = run(&["-t", "-c", &c]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l == "listen_port=2121"), "{out}");
    assert!(out.lines().any(|l| l == "ftpd_banner=Hello there"));
    assert!(
        out.lines().any(|l| l == "anonymous_enable=YES"),
        "built-in default"
    );
    assert!(out.lines().any(|l| l == "anon_umask=0077"));
    assert!(err.is_empty(), "no warnings expected: {err}");
}

#[test]
fn options_apply_in_order_after_the_file() {
    let f = common::Fixture::new("cli-o");
    let c = conf(&f, "listen_port=21\n");
    let (code, out, _) = run(&[
        "-t",
        "-c",
        &c,
        "-o",
        "listen_port=2000",
        "-o",
        "listen_port=2121",
    ]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l == "listen_port=2121"), "{out}");
    let (code, _, err) = run(&["-t", "-c", &c, "-o", "listen_port=x"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("-o option 1") && err.contains("listen_port"),
        "{err}"
    );
}

#[test]
fn bare_argument_is_the_config_file_as_vsftpd() {
    let f = common::Fixture::new("cli-bare");
    let c = conf(&f, "listen_port=2122\n");
    let (code, out, _) = run(&["-t", &c]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l == "listen_port=2122"));
}

#[test]
fn typo_names_file_line_key_and_suggestion() {
    let f = common::Fixture::new("cli-typo");
    let c = conf(&f, "listen=NO\nanonymous_enabel=YES\n");
    let (code, out, err) = run(&["-t", "-c", &c]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(
        err.trim(),
        format!("rsftpd: {c}:2: unknown key 'anonymous_enabel' (did you mean 'anonymous_enable'?)")
    );
}

#[test]
fn bad_value_and_duplicate_are_errors() {
    let f = common::Fixture::new("cli-bad");
    let c = conf(&f, "listen_port=abc\n");
    let (code, _, err) = run(&["-t", "-c", &c]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{c}:1:")) && err.contains("listen_port"),
        "{err}"
    );
    let c = conf(&f, "hide_ids=YES\nlisten=NO\nhide_ids=NO\n");
    let (code, _, err) = run(&["-t", "-c", &c]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{c}:3:")) && err.contains("hide_ids") && err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn security_relevant_unsupported_key_is_fatal_harmless_one_warns() {
    let f = common::Fixture::new("cli-unsup");
    let c = conf(&f, "tcp_wrappers=YES\n");
    let (code, _, err) = run(&["-t", "-c", &c]);
    assert_eq!(code, 1, "tcp_wrappers=YES must not be silently ignored");
    assert!(err.contains("tcp_wrappers") && err.contains(":1:"), "{err}");
    // ssl_enable=YES is supported, and -t loads the certificate: without one it fails.
    let c = conf(&f, "ssl_enable=YES\n");
    let (code, _, err) = run(&["-t", "-c", &c]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ssl_enable=YES needs rsa_cert_file"), "{err}");
    let c = conf(&f, "download_file=*.txt\n");
    assert_eq!(run(&["-t", "-c", &c]).0, 1);
    let c = conf(&f, "setproctitle_enable=YES\n");
    let (code, out, err) = run(&["-t", "-c", &c]);
    assert_eq!(code, 0);
    assert!(
        err.contains("warning") && err.contains("setproctitle_enable"),
        "{err}"
    );
    assert!(out.lines().any(|l| l == "setproctitle_enable=YES"));
}

#[test]
fn debian_stock_vsftpd_conf_is_accepted() {
    let stock = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/config/testdata/debian-vsftpd.conf"
    );
    let (code, out, err) = run(&["-t", "-c", stock]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l == "listen=NO"));
}

#[test]
fn classic_inetd_guide_config_is_accepted() {
    let f = common::Fixture::new("cli-guide");
    let c = conf(
        &f,
        "listen=NO\nanonymous_enable=YES\nlocal_enable=YES\nwrite_enable=YES\nlocal_umask=022\n\
         anon_upload_enable=YES\ndirmessage_enable=YES\nxferlog_enable=YES\nconnect_from_port_20=YES\n\
         ftpd_banner=Welcome to the FTP service.\nsecure_chroot_dir=/var/run/vsftpd/empty\npam_service_name=vsftpd\n",
    );
    let (code, out, _) = run(&["-t", "-c", &c]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l == "local_umask=0022"));
}

#[test]
fn missing_config_file_is_an_error() {
    let (code, _, err) = run(&["-t", "-c", "/nonexistent/rsftpd.conf"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/rsftpd.conf"), "{err}");
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["-v"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("rsftpd "), "{out}");
    let (code, out, _) = run(&["-h"]);
    assert_eq!(code, 0);
    assert!(out.contains("-c") && out.contains("-o") && out.contains("-t"));
    let (code, _, err) = run(&["-x"]);
    assert_eq!(code, 2);
    assert!(!err.is_empty());
}

#[test]
fn not_a_socket_without_listen_explains_itself() {
    let f = common::Fixture::new("cli-nosock");
    let c = conf(&f, "listen=NO\n");
    let out = Command::new(common::bin())
        .args(["-c", &c])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a socket") && err.contains("listen=YES"),
        "{err}"
    );
}

#[test]
fn broken_config_under_inetd_gives_the_client_421_only() {
    let f = common::Fixture::new("cli-inetd-bad");
    let c = conf(&f, "anonymous_enabel=YES\n");
    let inetd = common::Inetd::start(&["-c", &c]);
    let mut ctl = common::Ctl::connect(inetd.addr);
    let (code, text) = ctl.read_reply();
    assert_eq!(code, 421);
    assert_eq!(
        text,
        "421 Service not available (server error; see the system log)."
    );
    assert!(
        !text.contains("anonymous_enabel"),
        "details go to syslog, not to the client"
    );
    assert_eq!(ctl.read_reply().0, 0, "then the connection closes");
    assert!(inetd.wait_all_exited(common::TIMEOUT));
}
