//! Unit tests of the configuration table, parser, validation, dump and man page section.

use super::*;

const ETC: &str = "/etc/rsftpd.conf";

fn parse(text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    let mut c = Config::default();
    let w = c.parse_str(text, Path::new(ETC))?;
    Ok((c, w))
}

fn parse_err(text: &str) -> String {
    parse(text).expect_err("expected an error").to_string()
}

fn warnings(w: &[Warning]) -> Vec<String> {
    w.iter().map(ToString::to_string).collect()
}

/// A scratch directory unique to one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rsftpd-config-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ----- the table ---------------------------------------------------------------------------

/// Every key of Debian's vsftpd 3.0.3 vsftpd.conf(5).
const VSFTPD_MAN_KEYS: &[&str] = &[
    "accept_timeout",
    "allow_anon_ssl",
    "anon_max_rate",
    "anon_mkdir_write_enable",
    "anon_other_write_enable",
    "anon_root",
    "anon_umask",
    "anon_upload_enable",
    "anon_world_readable_only",
    "anonymous_enable",
    "ascii_download_enable",
    "ascii_upload_enable",
    "async_abor_enable",
    "background",
    "banned_email_file",
    "banner_file",
    "ca_certs_file",
    "check_shell",
    "chmod_enable",
    "chown_upload_mode",
    "chown_uploads",
    "chown_username",
    "chroot_list_enable",
    "chroot_list_file",
    "chroot_local_user",
    "cmds_allowed",
    "cmds_denied",
    "connect_from_port_20",
    "connect_timeout",
    "data_connection_timeout",
    "debug_ssl",
    "delay_failed_login",
    "delay_successful_login",
    "delete_failed_uploads",
    "deny_email_enable",
    "deny_file",
    "dirlist_enable",
    "dirmessage_enable",
    "download_enable",
    "download_file",
    "dsa_cert_file",
    "dsa_private_key_file",
    "dual_log_enable",
    "email_password_file",
    "file_open_mode",
    "force_anon_data_ssl",
    "force_anon_logins_ssl",
    "force_dot_files",
    "force_local_data_ssl",
    "force_local_logins_ssl",
    "ftp_data_port",
    "ftp_username",
    "ftpd_banner",
    "guest_enable",
    "guest_username",
    "hide_file",
    "hide_ids",
    "idle_session_timeout",
    "implicit_ssl",
    "listen",
    "listen_address",
    "listen_address6",
    "listen_ipv6",
    "listen_port",
    "local_enable",
    "local_max_rate",
    "local_root",
    "local_umask",
    "lock_upload_files",
    "log_ftp_protocol",
    "ls_recurse_enable",
    "max_clients",
    "max_login_fails",
    "max_per_ip",
    "mdtm_write",
    "message_file",
    "no_anon_password",
    "no_log_lock",
    "nopriv_user",
    "one_process_model",
    "pam_service_name",
    "passwd_chroot_enable",
    "pasv_addr_resolve",
    "pasv_address",
    "pasv_enable",
    "pasv_max_port",
    "pasv_min_port",
    "pasv_promiscuous",
    "port_enable",
    "port_promiscuous",
    "require_cert",
    "require_ssl_reuse",
    "rsa_cert_file",
    "rsa_private_key_file",
    "run_as_launching_user",
    "secure_chroot_dir",
    "secure_email_list_enable",
    "session_support",
    "setproctitle_enable",
    "ssl_ciphers",
    "ssl_enable",
    "ssl_request_cert",
    "ssl_sslv2",
    "ssl_sslv3",
    "ssl_tlsv1",
    "strict_ssl_read_eof",
    "strict_ssl_write_shutdown",
    "syslog_enable",
    "tcp_wrappers",
    "text_userdb_names",
    "tilde_user_enable",
    "trans_chunk_size",
    "upload_file",
    "use_localtime",
    "use_sendfile",
    "user_config_dir",
    "user_sub_token",
    "userlist_deny",
    "userlist_enable",
    "userlist_file",
    "validate_cert",
    "virtual_use_local_privs",
    "vsftpd_log_file",
    "write_enable",
    "xferlog_enable",
    "xferlog_file",
    "xferlog_std_format",
];

/// Real but undocumented vsftpd keys, 3.0.5/distro TLS switches, and rsftpd's own.
const EXTRA_KEYS: &[&str] = &[
    "ssl_min_protocol",
    "allow_writeable_chroot",
    "seccomp_sandbox",
    "isolate",
    "isolate_network",
    "ptrace_sandbox",
    "ftp_enable",
    "http_enable",
    "utf8_filesystem",
    "ssl_tlsv1_1",
    "ssl_tlsv1_2",
    "ssl_tlsv1_3",
    "ftpusers_file",
    "syslog_facility",
    "proxy_protocol_enable",
    "proxy_trusted_addresses",
    "host_config_dir",
];

const IMPLEMENTED: &[&str] = &[
    "cmds_allowed",
    "cmds_denied",
    "host_config_dir",
    "proxy_protocol_enable",
    "proxy_trusted_addresses",
    "allow_anon_ssl",
    "utf8_filesystem",
    "force_anon_data_ssl",
    "force_anon_logins_ssl",
    "force_local_data_ssl",
    "force_local_logins_ssl",
    "implicit_ssl",
    "require_ssl_reuse",
    "rsa_cert_file",
    "rsa_private_key_file",
    "ssl_ciphers",
    "ssl_enable",
    "ssl_tlsv1",
    "ssl_tlsv1_1",
    "ssl_tlsv1_2",
    "ssl_tlsv1_3",
    "ssl_sslv2",
    "ssl_sslv3",
    "strict_ssl_read_eof",
    "ssl_min_protocol",
    "ls_recurse_enable",
    "max_clients",
    "max_per_ip",
    "anon_max_rate",
    "local_max_rate",
    "dual_log_enable",
    "log_ftp_protocol",
    "no_log_lock",
    "syslog_facility",
    "vsftpd_log_file",
    "xferlog_enable",
    "xferlog_file",
    "xferlog_std_format",
    "delete_failed_uploads",
    "email_password_file",
    "lock_upload_files",
    "secure_email_list_enable",
    "syslog_enable",
    "chown_upload_mode",
    "chown_uploads",
    "chown_username",
    "allow_writeable_chroot",
    "check_shell",
    "chroot_list_enable",
    "chroot_list_file",
    "chroot_local_user",
    "ftpusers_file",
    "local_enable",
    "local_root",
    "local_umask",
    "passwd_chroot_enable",
    "user_config_dir",
    "user_sub_token",
    "userlist_deny",
    "userlist_enable",
    "userlist_file",
    "anon_mkdir_write_enable",
    "anon_other_write_enable",
    "anon_umask",
    "anon_upload_enable",
    "ascii_upload_enable",
    "chmod_enable",
    "deny_file",
    "file_open_mode",
    "hide_file",
    "mdtm_write",
    "listen",
    "listen_address",
    "listen_address6",
    "listen_ipv6",
    "listen_port",
    "background",
    "run_as_launching_user",
    "nopriv_user",
    "secure_chroot_dir",
    "anonymous_enable",
    "anon_root",
    "ftp_username",
    "no_anon_password",
    "anon_world_readable_only",
    "deny_email_enable",
    "banned_email_file",
    "pasv_enable",
    "pasv_min_port",
    "pasv_max_port",
    "pasv_address",
    "pasv_addr_resolve",
    "pasv_promiscuous",
    "port_enable",
    "port_promiscuous",
    "connect_from_port_20",
    "ftp_data_port",
    "accept_timeout",
    "connect_timeout",
    "data_connection_timeout",
    "idle_session_timeout",
    "ascii_download_enable",
    "dirmessage_enable",
    "message_file",
    "ftpd_banner",
    "banner_file",
    "hide_ids",
    "use_localtime",
    "download_enable",
    "dirlist_enable",
    "use_sendfile",
    "force_dot_files",
    "max_login_fails",
    "delay_failed_login",
    "delay_successful_login",
    "async_abor_enable",
    "write_enable",
];

#[test]
fn table_is_sorted_unique_and_complete() {
    for pair in TUNABLES.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} before {}",
            pair[0].name,
            pair[1].name
        );
    }
    let mut expected: Vec<&str> = VSFTPD_MAN_KEYS.iter().chain(EXTRA_KEYS).copied().collect();
    expected.sort_unstable();
    let names: Vec<&str> = TUNABLES.iter().map(|t| t.name).collect();
    assert_eq!(names, expected);
    for (alias, canonical) in ALIASES {
        assert!(tunable(alias).is_some_and(|t| t.name == *canonical));
        assert!(TUNABLES.iter().all(|t| t.name != *alias));
    }
}

#[test]
fn defaults_match_table_text_and_get() {
    let c = Config::default();
    for t in TUNABLES {
        assert_eq!(c.get(t.name).as_deref(), Some(t.default), "{}", t.name);
        assert!(
            !t.doc.is_empty() && t.doc.ends_with(['.', '"']),
            "doc of {}",
            t.name
        );
    }
    // The deliberate choices of the brief.
    assert!(!c.listen && c.anonymous_enable);
    assert_eq!(
        (
            c.pasv_min_port,
            c.pasv_max_port,
            c.max_clients,
            c.max_per_ip
        ),
        (0, 0, 2000, 50)
    );
    assert_eq!(c.secure_chroot_dir, "/usr/share/rsftpd/empty");
    assert_eq!(c.ftpd_banner, None);
    assert_eq!(c.rsa_cert_file, None);
    assert_eq!(c.ftpusers_file, "/etc/ftpusers");
    assert_eq!(
        (
            c.local_umask,
            c.anon_umask,
            c.file_open_mode,
            c.chown_upload_mode
        ),
        (0o77, 0o77, 0o666, 0o600)
    );
    assert!(c.validate().is_ok());
}

#[test]
fn support_classification() {
    let implemented: Vec<&str> = TUNABLES
        .iter()
        .filter(|t| t.support == Support::Implemented)
        .map(|t| t.name)
        .collect();
    let mut expected = IMPLEMENTED.to_vec();
    expected.sort_unstable();
    assert_eq!(implemented, expected);

    let fatal: Vec<&str> = TUNABLES
        .iter()
        .filter(|t| matches!(t.support, Support::Planned { fatal: true, .. }))
        .map(|t| t.name)
        .collect();
    assert_eq!(
        fatal,
        [
            "download_file",
            "ftp_enable",
            "guest_enable",
            "require_cert",
            "tcp_wrappers",
            "upload_file",
            "validate_cert",
        ]
    );
    for name in [
        "setproctitle_enable",
        "one_process_model",
        "local_enable",
        "xferlog_enable",
        "seccomp_sandbox",
        "isolate",
        "pam_service_name",
        "write_enable",
        "anon_upload_enable",
    ] {
        assert!(
            !matches!(
                tunable(name).unwrap().support,
                Support::Planned { fatal: true, .. }
            ),
            "{name}"
        );
    }
    for t in TUNABLES {
        if let Support::Planned { issue, .. } = t.support {
            assert!((3..=8).contains(&issue), "{}", t.name);
        }
    }
    // The TLS keys not implemented are the client-certificate ones, debug_ssl, the DSA
    // files and strict_ssl_write_shutdown, all for issue 7.
    let tls_planned: Vec<&str> = TUNABLES
        .iter()
        .filter(|t| matches!(t.support, Support::Planned { issue: 7, .. }))
        .map(|t| t.name)
        .collect();
    assert_eq!(
        tls_planned,
        [
            "ca_certs_file",
            "debug_ssl",
            "dsa_cert_file",
            "dsa_private_key_file",
            "require_cert",
            "ssl_request_cert",
            "strict_ssl_write_shutdown",
            "validate_cert",
        ]
    );
}

// ----- error shapes ------------------------------------------------------------------------

#[test]
fn unknown_key_with_and_without_suggestion() {
    let text = format!("{}anonymous_enabel=YES\n", "# comment\n\n".repeat(5) + "\n");
    assert_eq!(
        parse_err(&text),
        "/etc/rsftpd.conf:12: unknown key 'anonymous_enabel' (did you mean 'anonymous_enable'?)"
    );
    assert_eq!(
        parse_err("listen port=YES"),
        "/etc/rsftpd.conf:1: unknown key 'listen port' (did you mean 'listen_port'?)"
    );
    assert_eq!(
        parse_err("Listen=YES"),
        "/etc/rsftpd.conf:1: unknown key 'Listen' (did you mean 'listen'?)"
    );
    assert_eq!(
        parse_err("frobnicate_everything=1"),
        "/etc/rsftpd.conf:1: unknown key 'frobnicate_everything'"
    );
    assert_eq!(
        parse_err("=YES"),
        "/etc/rsftpd.conf:1: missing key before '='"
    );
    let long = "x".repeat(200);
    let e = parse_err(&format!("{long}=1"));
    assert!(
        e.starts_with("/etc/rsftpd.conf:1: unknown key 'xxxx") && e.ends_with("...'"),
        "{e}"
    );
}

#[test]
fn value_errors() {
    assert_eq!(
        parse_err("# c\n\nlisten_port=abc"),
        "/etc/rsftpd.conf:3: key 'listen_port': 'abc' is not a number"
    );
    assert_eq!(
        parse_err("listen_port=-1"),
        "/etc/rsftpd.conf:1: key 'listen_port': '-1' is not a number"
    );
    assert_eq!(
        parse_err("listen_port=99999999999"),
        "/etc/rsftpd.conf:1: key 'listen_port': '99999999999' is too large"
    );
    assert_eq!(
        parse_err("local_umask=089"),
        "/etc/rsftpd.conf:1: key 'local_umask': '089' is not an octal number (a leading 0 means octal)"
    );
    assert_eq!(
        parse_err("listen=maybe"),
        "/etc/rsftpd.conf:1: key 'listen': 'maybe' is not a boolean (use YES or NO)"
    );
    assert_eq!(
        parse_err("listen="),
        "/etc/rsftpd.conf:1: key 'listen': empty value; expected YES or NO"
    );
    assert_eq!(
        parse_err("listen_port="),
        "/etc/rsftpd.conf:1: key 'listen_port': empty value; expected a number"
    );
    assert_eq!(
        parse_err("nopriv_user="),
        "/etc/rsftpd.conf:1: key 'nopriv_user': empty value; this key cannot be unset"
    );
    assert_eq!(
        parse_err("anonymous_enable=YES\nlisten"),
        "/etc/rsftpd.conf:2: expected key=value, found 'listen'"
    );
}

#[test]
fn duplicates() {
    assert_eq!(
        parse_err("# x\n\n\nlisten_port=21\n\n\n\n\nlisten_port=2121\n"),
        "/etc/rsftpd.conf:9: key 'listen_port' set twice (first on line 4)"
    );
    // An alias and its canonical name are the same key.
    assert_eq!(
        parse_err("ssl_tlsv1_2=YES\nssl_tlsv12=YES"),
        "/etc/rsftpd.conf:2: key 'ssl_tlsv12' set twice (first on line 1)"
    );
    // Even when the second value is the same.
    assert!(parse("listen=NO\nlisten=NO").is_err());
}

#[test]
fn option_errors_and_override() {
    let mut c = Config::default();
    let w = c
        .parse_str("listen_port=2121\nftpd_banner=Hello\n", Path::new(ETC))
        .unwrap();
    assert!(w.is_empty());
    assert_eq!(c.apply_option("listen_port=21", 1).unwrap(), None);
    assert_eq!(c.listen_port, 21);
    c.apply_option(" listen_port = 2222 ", 2).unwrap();
    assert_eq!(c.listen_port, 2222);
    c.apply_option("ftpd_banner=", 3).unwrap();
    assert_eq!(c.ftpd_banner, None);
    assert_eq!(
        c.apply_option("listen_port", 2).unwrap_err().to_string(),
        "-o option 2: expected key=value, found 'listen_port'"
    );
    assert_eq!(
        c.apply_option("listen_prot=21", 2).unwrap_err().to_string(),
        "-o option 2: unknown key 'listen_prot' (did you mean 'listen_port'?)"
    );
    assert_eq!(
        c.apply_option("ftpd_banner=a\nb", 1)
            .unwrap_err()
            .to_string(),
        "-o option 1: key 'ftpd_banner': 'a\\nb' contains a control character"
    );
    assert_eq!(
        c.apply_option("ftpd_banner=a\0b", 1)
            .unwrap_err()
            .to_string(),
        "-o option 1: key 'ftpd_banner': 'a\\u{0}b' contains a control character"
    );
    let w = c
        .apply_option("setproctitle_enable=YES", 4)
        .unwrap()
        .unwrap();
    assert_eq!(
        w.to_string(),
        "-o option 4: key 'setproctitle_enable' is not supported yet; ignored"
    );
    assert_eq!(w.key(), "setproctitle_enable");
}

#[test]
fn fatal_versus_warning() {
    assert_eq!(
        parse_err("\n\n\n\ndownload_file=*.txt"),
        "/etc/rsftpd.conf:5: key 'download_file' is not supported yet by rsftpd and ignoring it would weaken security; remove it or use the default 'download_file='"
    );
    assert_eq!(
        parse_err("tcp_wrappers=YES"),
        "/etc/rsftpd.conf:1: key 'tcp_wrappers' is not supported yet by rsftpd and ignoring it would weaken security; remove it or use the default 'tcp_wrappers=NO'"
    );
    for bad in ["tcp_wrappers=YES", "upload_file=*.txt", "ftp_enable=NO"] {
        let e = parse(bad).expect_err(bad);
        assert!(e.message().contains("would weaken security"), "{bad}: {e}");
        assert_eq!(
            e.origin(),
            Some(&Origin::File {
                path: ETC.into(),
                line: 1
            })
        );
    }
    // A fatal key set to its default is fine, in any spelling.
    let (c, w) = parse("tcp_wrappers=no\nchroot_local_user=False\nftp_enable=1\ndeny_file=\nftpusers_file=/etc/ftpusers").unwrap();
    assert!(w.is_empty(), "{:?}", warnings(&w));
    assert!(!c.tcp_wrappers);
    // Harmless planned keys warn, and the value is still stored.
    let (c, w) = parse(
        "setproctitle_enable=YES\none_process_model=YES\nlocal_umask=022\nseccomp_sandbox=NO",
    )
    .unwrap();
    // (local_umask is implemented: no warning for it.)
    assert_eq!(
        warnings(&w),
        [
            "/etc/rsftpd.conf:1: key 'setproctitle_enable' is not supported yet; ignored",
            "/etc/rsftpd.conf:2: key 'one_process_model' is not supported yet; ignored",
            "/etc/rsftpd.conf:4: key 'seccomp_sandbox' is not supported yet; ignored",
        ]
    );
    assert!(c.setproctitle_enable && c.one_process_model && !c.seccomp_sandbox);
    assert_eq!(c.local_umask, 0o22);
    // Planned, at the default written differently: no warning.
    assert!(parse("local_umask=0077\nsetproctitle_enable=no")
        .unwrap()
        .1
        .is_empty());
    // Planned keys are still type-checked.
    assert_eq!(
        parse_err("xferlog_enable=sometimes"),
        "/etc/rsftpd.conf:1: key 'xferlog_enable': 'sometimes' is not a boolean (use YES or NO)"
    );
}

#[test]
fn octal_and_numbers() {
    let (c, _) = parse("local_umask=022\nanon_umask=22\nfile_open_mode=0777\nidle_session_timeout=0600\naccept_timeout=0\nconnect_timeout=00\nlisten_port=2121").unwrap();
    assert_eq!(c.local_umask, 0o22);
    assert_eq!(c.anon_umask, 22); // decimal without the leading 0, as in vsftpd
    assert_eq!(c.file_open_mode, 0o777);
    assert_eq!(c.idle_session_timeout, 384); // leading 0 means octal for every number
    assert_eq!(
        (c.accept_timeout, c.connect_timeout, c.listen_port),
        (0, 0, 2121)
    );
    assert_eq!(c.get("local_umask").unwrap(), "0022");
    assert_eq!(c.get("anon_umask").unwrap(), "0026");
    assert_eq!(c.get("file_open_mode").unwrap(), "0777");
    assert_eq!(c.get("idle_session_timeout").unwrap(), "384");
}

#[test]
fn bool_spellings() {
    for (s, v) in [
        ("YES", true),
        ("yes", true),
        ("Yes", true),
        ("TRUE", true),
        ("true", true),
        ("1", true),
        ("NO", false),
        ("no", false),
        ("False", false),
        ("FALSE", false),
        ("0", false),
    ] {
        let mut c = Config::default();
        c.set("hide_ids", s, &Origin::Option { index: 1 }).unwrap();
        assert_eq!(c.hide_ids, v, "{s}");
        assert_eq!(c.get("hide_ids").unwrap(), if v { "YES" } else { "NO" });
    }
    for bad in ["Y", "N", "on", "off", "2", "yes please"] {
        assert!(
            Config::default()
                .set("hide_ids", bad, &Origin::Option { index: 1 })
                .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn syntax_tolerance_and_unset() {
    let text = "  # indented comment\r\n\t listen_port = 2121 \r\n\nftpd_banner = Hello = world # not a comment\r\nanon_root=/srv/ftp\n";
    let (c, w) = parse(text).unwrap();
    assert!(w.is_empty());
    assert_eq!(c.listen_port, 2121);
    assert_eq!(
        c.ftpd_banner.as_deref(),
        Some("Hello = world # not a comment")
    );
    assert_eq!(c.anon_root.as_deref(), Some("/srv/ftp"));
    let (c, _) = parse("anon_root=\nbanner_file=   ").unwrap();
    assert_eq!((c.anon_root, c.banner_file), (None, None));
}

#[test]
fn aliases_and_get() {
    let (c, w) = parse("ssl_tlsv11=NO\nssl_tlsv13=NO\nstrict_ssl_write_shutdown=YES").unwrap();
    assert!(!c.ssl_tlsv1_1 && c.ssl_tlsv1_2 && !c.ssl_tlsv1_3);
    assert_eq!(
        warnings(&w),
        ["/etc/rsftpd.conf:3: key 'strict_ssl_write_shutdown' is not supported yet; ignored"]
    );
    assert_eq!(w[0].key(), "strict_ssl_write_shutdown");
    assert_eq!(c.get("ssl_tlsv11").as_deref(), Some("NO"));
    assert_eq!(c.get("no_such_key"), None);
    assert_eq!(c.get("ftpd_banner").as_deref(), Some(""));
    assert!(!c.dump().contains("ssl_tlsv11"));
}

#[test]
fn validate_errors() {
    let v = |text: &str| {
        let (c, _) = parse(text).unwrap();
        c.validate().map_err(|e| e.to_string())
    };
    assert_eq!(
        v("pasv_min_port=6000\npasv_max_port=5000"),
        Err("pasv_min_port=6000 is greater than pasv_max_port=5000".into())
    );
    assert_eq!(v("pasv_min_port=6000"), Ok(()));
    assert_eq!(
        v("pasv_max_port=70000"),
        Err("pasv_max_port=70000 is not a port (0-65535)".into())
    );
    assert_eq!(
        v("pasv_min_port=80"),
        Err(
            "pasv_min_port=80 is a privileged port; passive ports must be 1024-65535 (or 0)".into()
        )
    );
    assert_eq!(
        v("listen_port=65536"),
        Err("listen_port=65536 is not a port (1-65535)".into())
    );
    assert_eq!(
        v("ftp_data_port=0"),
        Err("ftp_data_port=0 is not a port (1-65535)".into())
    );
    assert_eq!(
        v("listen=YES\nlisten_ipv6=YES"),
        Err("/etc/rsftpd.conf:2: listen=YES and listen_ipv6=YES cannot both be set (listen=YES at /etc/rsftpd.conf:1): listen_ipv6=YES alone serves IPv4 and IPv6 clients on one dual-stack socket, listen=YES serves IPv4 only".into())
    );
    assert_eq!(v("listen_ipv6=YES\nlisten=NO"), Ok(()));
    assert_eq!(
        v("anonymous_enable=NO"),
        Err("anonymous_enable and local_enable are both NO, so nobody could log in".into())
    );
    assert_eq!(v("anonymous_enable=NO\nlocal_enable=YES"), Ok(()));
    assert_eq!(
        v("local_umask=01000"),
        Err("local_umask=01000 is larger than 0777".into())
    );
    assert_eq!(
        v("file_open_mode=1000"),
        Err("file_open_mode=01750 is larger than 0777".into())
    );
    assert_eq!(
        v("idle_session_timeout=0\ndata_connection_timeout=0"),
        Ok(())
    );
    assert_eq!(
        v("pasv_address=ftp.example.com"),
        Err("/etc/rsftpd.conf:1: pasv_address='ftp.example.com' is not an IP address; to give a host name, set pasv_addr_resolve=YES (it is then resolved once, at startup)".into())
    );
    assert_eq!(
        v("pasv_addr_resolve=YES\npasv_address=ftp.example.com"),
        Ok(())
    );
    assert_eq!(
        v("pasv_addr_resolve=YES\npasv_address=ftp_example.com"),
        Err("/etc/rsftpd.conf:2: pasv_address='ftp_example.com' is neither an IP address nor a host name".into())
    );
    assert_eq!(v("pasv_address=192.0.2.7"), Ok(()));
    assert_eq!(v("pasv_address=2001:db8::7"), Ok(()));
    assert_eq!(v("listen_address6=::1"), Ok(()));
    assert_eq!(v("listen_address6=::ffff:127.0.0.1"), Ok(()));
    assert_eq!(
        v("listen_ipv6=YES\nlisten_address6=127.0.0.1"),
        Err("/etc/rsftpd.conf:2: listen_address6='127.0.0.1' is not an IPv6 address (a numeric one, such as ::1 or 2001:db8::21; for IPv4 use listen_address)".into())
    );
    assert_eq!(
        v("listen_address=localhost"),
        Err("listen_address='localhost' is not an IP address".into())
    );
    assert_eq!(v("listen_address=::1"), Ok(()));
    assert_eq!(
        v("proxy_protocol_enable=YES"),
        Err("proxy_protocol_enable=YES needs proxy_trusted_addresses: the load balancers whose PROXY headers are believed".into())
    );
    assert_eq!(
        v("proxy_protocol_enable=YES\nproxy_trusted_addresses=, ,"),
        Err("proxy_protocol_enable=YES needs proxy_trusted_addresses: the load balancers whose PROXY headers are believed".into())
    );
    assert_eq!(
        v("proxy_trusted_addresses=10.0.0.1/8"),
        Err("proxy_trusted_addresses: '10.0.0.1/8' has bits set past its prefix length (did you mean 10.0.0.0/8?)".into())
    );
    assert_eq!(
        v("proxy_protocol_enable=YES\nproxy_trusted_addresses=lb.example.com"),
        Err(
            "proxy_trusted_addresses: 'lb.example.com' is not an IP address or CIDR network".into()
        )
    );
    assert_eq!(
        v("proxy_protocol_enable=YES\nproxy_trusted_addresses=127.0.0.1, 10.0.0.0/8 2001:db8::/32"),
        Ok(())
    );
    let c = parse("proxy_trusted_addresses=10.0.0.0/8,192.0.2.1")
        .unwrap()
        .0;
    assert!(c.proxy_trusted().contains("10.1.2.3".parse().unwrap()));
    assert!(!c.proxy_trusted().contains("192.0.2.2".parse().unwrap()));
    assert!(Config::default().proxy_trusted().is_empty());
}

#[test]
fn pasv_range() {
    let r = |text: &str| parse(text).unwrap().0.pasv_port_range();
    assert_eq!(r(""), None);
    assert_eq!(
        r("pasv_min_port=40000\npasv_max_port=40100"),
        Some((40000, 40100))
    );
    assert_eq!(r("pasv_min_port=40000"), Some((40000, 65535)));
    assert_eq!(r("pasv_max_port=40100"), Some((1024, 40100)));
}

#[test]
fn dump_round_trip() {
    let d = Config::default().dump();
    assert_eq!(d.lines().count(), TUNABLES.len());
    assert!(d.lines().any(|l| l == "listen=NO"));
    assert!(d.lines().any(|l| l == "ftpd_banner="));
    assert!(d.lines().any(|l| l == "local_umask=0077"));
    let (back, w) = parse(&d).unwrap();
    assert!(w.is_empty());
    assert_eq!(back, Config::default());

    let (c, _) = parse(
        "listen=YES\nlisten_port=2121\nftpd_banner=Hi there\nanon_root=/srv/ftp\npasv_min_port=40000\n\
         pasv_max_port=40100\nlocal_umask=022\nanon_umask=7\nxferlog_enable=YES\nssl_tlsv12=NO\nmax_clients=0",
    )
    .unwrap();
    let (back, _) = parse(&c.dump()).unwrap();
    assert_eq!(back, c);
    assert_ne!(back, Config::default());
}

// ----- real-world configurations --------------------------------------------------------------

#[test]
fn debian_stock_config() {
    let text = include_str!("testdata/debian-vsftpd.conf");
    let path = Path::new("/etc/vsftpd.conf");
    let mut c = Config::default();
    let w = c.parse_str(text, path).unwrap();
    c.validate().unwrap();
    let keys: Vec<&str> = w.iter().map(Warning::key).collect();
    // listen_ipv6=YES is standalone mode now, as in vsftpd (rsftpd.conf(5) says to set it
    // to NO under xinetd).
    assert_eq!(keys, ["pam_service_name"]);
    assert!(!c.listen && c.listen_ipv6 && !c.anonymous_enable && c.local_enable && c.use_localtime);
    assert_eq!(c.secure_chroot_dir, "/var/run/vsftpd/empty");
    assert_eq!(
        c.rsa_cert_file.as_deref(),
        Some("/etc/ssl/certs/ssl-cert-snakeoil.pem")
    );
    assert!(!c.ssl_enable);
}

#[test]
fn classic_inetd_config() {
    let text = "listen=NO\nanonymous_enable=YES\nlocal_enable=YES\nwrite_enable=YES\nlocal_umask=022\n\
                anon_upload_enable=YES\ndirmessage_enable=YES\nxferlog_enable=YES\nconnect_from_port_20=YES\n\
                ftpd_banner=Welcome to the FTP service.\nsecure_chroot_dir=/var/run/vsftpd/empty\npam_service_name=vsftpd\n";
    let (c, w) = parse(text).unwrap();
    c.validate().unwrap();
    let keys: Vec<&str> = w.iter().map(Warning::key).collect();
    assert_eq!(keys, ["pam_service_name"]);
    assert_eq!(
        c.ftpd_banner.as_deref(),
        Some("Welcome to the FTP service.")
    );
    assert!(c.write_enable && c.connect_from_port_20);
}

// ----- files ---------------------------------------------------------------------------------

#[test]
fn load_file_checks() {
    let dir = scratch("load");
    let e = Config::default().load_file(&dir, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: not a regular file", dir.display())
    );

    let missing = dir.join("missing.conf");
    let e = Config::default()
        .load_file(&missing, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("{}: cannot read: ", missing.display())),
        "{e}"
    );

    let good = dir.join("good.conf");
    std::fs::write(&good, "listen_port=2121\nsetproctitle_enable=YES\n").unwrap();
    let mut c = Config::default();
    let w = c.load_file(&good, None).unwrap();
    assert_eq!(c.listen_port, 2121);
    assert_eq!(
        warnings(&w),
        [format!(
            "{}:2: key 'setproctitle_enable' is not supported yet; ignored",
            good.display()
        )]
    );

    // Owner: the file's own uid is always accepted; another uid only when the file is root's.
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata(&good).unwrap().uid();
    assert!(Config::default().load_file(&good, Some(me)).is_ok());
    let other = if me == 4242 { 4343 } else { 4242 };
    let r = Config::default().load_file(&good, Some(other));
    if me == 0 {
        assert!(r.is_ok());
    } else {
        assert_eq!(
            r.unwrap_err().to_string(),
            format!(
                "{}: owned by uid {me}; it must be owned by uid {other} or root",
                good.display()
            )
        );
    }

    let big = dir.join("big.conf");
    let mut text = String::new();
    while text.len() as u64 <= limits::CONFIG_FILE_MAX {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, &text).unwrap();
    assert_eq!(
        Config::default()
            .load_file(&big, None)
            .unwrap_err()
            .to_string(),
        format!("{}: larger than 100000 bytes", big.display())
    );

    let bad = dir.join("bad.conf");
    std::fs::write(&bad, b"listen=NO\n# ok\nftpd_banner=caf\xe9\n").unwrap();
    assert_eq!(
        Config::default()
            .load_file(&bad, None)
            .unwrap_err()
            .to_string(),
        format!("{}:3: not valid UTF-8", bad.display())
    );

    let (c, w) = Config::load(
        Some(&good),
        None,
        &["listen_port=21".into(), "hide_ids=YES".into()],
    )
    .unwrap();
    assert_eq!((c.listen_port, c.hide_ids, w.len()), (21, true, 1));
    let e = Config::load(Some(&good), None, &["anonymous_enable=NO".into()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "anonymous_enable and local_enable are both NO, so nobody could log in"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn load_file_refuses_fifo_without_blocking() {
    let dir = scratch("fifo");
    let fifo = dir.join("fifo.conf");
    // mkfifo(1) keeps this test free of libc; skip where it is missing.
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let e = Config::default().load_file(&fifo, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: not a regular file", fifo.display())
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- man page ------------------------------------------------------------------------------

const BEGIN: &str = ".\\\" BEGIN GENERATED TUNABLES\n";
const END: &str = ".\\\" END GENERATED TUNABLES\n";

#[test]
fn man_page_matches_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/rsftpd.conf.5");
    let page = std::fs::read_to_string(path).expect("man/rsftpd.conf.5");
    let start = page.find(BEGIN).expect("BEGIN GENERATED TUNABLES marker") + BEGIN.len();
    let end = start
        + page[start..]
            .find(END)
            .expect("END GENERATED TUNABLES marker");
    let generated = man_tunables_roff();
    if page[start..end] != generated {
        if std::env::var_os("RSFTPD_BLESS").is_some_and(|v| v == "1") {
            let new = format!("{}{}{}", &page[..start], generated, &page[end..]);
            std::fs::write(path, new).unwrap();
        } else {
            panic!(
                "man/rsftpd.conf.5 is out of step with src/config/table.rs; \
                 run `RSFTPD_BLESS=1 cargo test man_page` to regenerate its TUNABLES section"
            );
        }
    }
}

#[test]
fn roff_output_shape() {
    let r = man_tunables_roff();
    assert_eq!(r.matches(".TP\n").count(), TUNABLES.len());
    assert!(r.contains(".BR ssl_tlsv1_2 \" (also \" ssl_tlsv12 )\n"));
    assert!(r.contains(
        "Not supported yet (rsftpd issue 8): a value other than the default is an error.\n"
    ));
    assert!(r.lines().all(|l| !l.starts_with('\'')));
    assert_eq!(
        roff_sentences("One. Two e.g. three. 0 is x. .x"),
        "One.\nTwo e.g. three.\n0 is x. .x\n"
    );
    assert_eq!(roff_escape(".hidden"), "\\&.hidden");
}

// ----- pasv_addr_resolve: the startup lookup ------------------------------------------------

/// A resolver for the tests: a fixed table, and a record of every name asked.
fn table_lookup<'a>(
    asked: &'a mut Vec<String>,
) -> impl FnMut(&str) -> std::io::Result<Vec<IpAddr>> + 'a {
    move |name: &str| {
        asked.push(name.to_string());
        let ips: &[&str] = match name {
            "ftp.example.com" => &["2001:db8::21", "192.0.2.21", "192.0.2.22"],
            "v6only.example.com" => &["2001:db8::21"],
            "mapped.example.com" => &["::ffff:192.0.2.23"],
            "empty.example.com" => &[],
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "Name or service not known",
                ))
            }
        };
        Ok(ips.iter().map(|s| s.parse().unwrap()).collect())
    }
}

fn resolved(text: &str) -> (Result<Vec<String>, String>, Config, Vec<String>) {
    let (mut c, _) = parse(text).unwrap();
    c.validate().unwrap();
    let mut asked = Vec::new();
    let r = c
        .resolve_names(&mut table_lookup(&mut asked))
        .map_err(|e| e.to_string());
    (r, c, asked)
}

#[test]
fn pasv_addr_resolve_looks_up_once_and_prefers_ipv4() {
    // A name: its first IPv4 address, though an IPv6 one came first.
    let (r, c, asked) = resolved("pasv_addr_resolve=YES\npasv_address=ftp.example.com");
    assert_eq!(r, Ok(vec![]));
    assert_eq!(c.pasv_address.as_deref(), Some("192.0.2.21"));
    assert_eq!(asked, ["ftp.example.com"]);
    // The dump shows what will be announced, and reads back as it is.
    assert!(c.dump().contains("\npasv_address=192.0.2.21\n"));
    let (again, _) = parse(&c.dump()).unwrap();
    again.validate().unwrap();
    assert_eq!(again, c);

    // An IPv4-mapped answer is the IPv4 address.
    let (r, c, _) = resolved("pasv_addr_resolve=YES\npasv_address=mapped.example.com");
    assert_eq!(r, Ok(vec![]));
    assert_eq!(c.pasv_address.as_deref(), Some("192.0.2.23"));

    // Only IPv6: kept, with a warning naming the line and what PASV will do.
    let (r, c, _) = resolved("pasv_addr_resolve=YES\npasv_address=v6only.example.com");
    assert_eq!(
        r,
        Ok(vec!["/etc/rsftpd.conf:2: pasv_address='v6only.example.com' (resolves to 2001:db8::21) is an IPv6 address: PASV, which can only announce IPv4, will be refused with 522 and clients must use EPSV".to_string()])
    );
    assert_eq!(c.pasv_address.as_deref(), Some("2001:db8::21"));

    // A numeric IPv6 address is accepted with the same warning, and never looked up.
    let (r, c, asked) = resolved("pasv_address=2001:db8::7");
    assert_eq!(
        r,
        Ok(vec!["/etc/rsftpd.conf:1: pasv_address='2001:db8::7' is an IPv6 address: PASV, which can only announce IPv4, will be refused with 522 and clients must use EPSV".to_string()])
    );
    assert_eq!(c.pasv_address.as_deref(), Some("2001:db8::7"));
    assert!(asked.is_empty());

    // Numbers are never looked up, with or without pasv_addr_resolve; unset: nothing.
    for text in [
        "pasv_address=192.0.2.7",
        "pasv_addr_resolve=YES\npasv_address=192.0.2.7",
        "pasv_addr_resolve=YES",
        "",
    ] {
        let (r, c, asked) = resolved(text);
        assert_eq!(r, Ok(vec![]), "{text}");
        assert!(asked.is_empty(), "{text}");
        assert_eq!(
            c.pasv_address.is_some(),
            text.contains("pasv_address"),
            "{text}"
        );
    }
    // An IPv4-mapped number is the IPv4 address.
    let (_, c, _) = resolved("pasv_address=::ffff:192.0.2.9");
    assert_eq!(c.pasv_address.as_deref(), Some("192.0.2.9"));
}

#[test]
fn pasv_addr_resolve_failures_name_the_line() {
    let (r, c, asked) = resolved("pasv_addr_resolve=YES\npasv_address=no-such-host.invalid");
    assert_eq!(
        r,
        Err("/etc/rsftpd.conf:2: pasv_address='no-such-host.invalid' (pasv_addr_resolve=YES) does not resolve: Name or service not known".into())
    );
    assert_eq!(asked, ["no-such-host.invalid"]);
    assert_eq!(c.pasv_address.as_deref(), Some("no-such-host.invalid"));
    let (r, _, _) = resolved("pasv_addr_resolve=YES\npasv_address=empty.example.com");
    assert_eq!(
        r,
        Err("/etc/rsftpd.conf:2: pasv_address='empty.example.com' (pasv_addr_resolve=YES) resolves to no address".into())
    );
    // From -o, the option is named.
    let mut c = Config::default();
    c.apply_option("pasv_addr_resolve=YES", 1).unwrap();
    c.apply_option("pasv_address=nowhere.invalid", 2).unwrap();
    c.validate().unwrap();
    let e = c
        .resolve_names(&mut table_lookup(&mut Vec::new()))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "-o option 2: pasv_address='nowhere.invalid' (pasv_addr_resolve=YES) does not resolve: Name or service not known"
    );
    let mut c = Config::default();
    c.apply_option("pasv_address=nowhere.invalid", 1).unwrap();
    assert_eq!(
        c.validate().unwrap_err().to_string(),
        "-o option 1: pasv_address='nowhere.invalid' is not an IP address; to give a host name, set pasv_addr_resolve=YES (it is then resolved once, at startup)"
    );
}

#[test]
fn host_names() {
    for good in [
        "localhost",
        "ftp.example.com",
        "ftp.example.com.",
        "a-b.c0",
        "1.2.3.999",
        &"a".repeat(63),
    ] {
        assert!(is_host_name(good), "{good}");
    }
    for bad in [
        "",
        ".",
        "ftp..example.com",
        ".example.com",
        "-ftp.example.com",
        "ftp-.example.com",
        "ftp_1.example.com",
        "ftp example.com",
        "\"192.0.2.7\"",
        "ftp.example.com:21",
        "[::1]",
        &"a".repeat(64),
        &["a"; 128].join("."),
    ] {
        assert!(!is_host_name(bad), "{bad}");
    }
}

#[test]
fn origins_do_not_make_configurations_differ() {
    let (a, _) = parse("listen_port=2121").unwrap();
    let mut b = Config::default();
    b.apply_option("listen_port=2121", 1).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.origins.get("listen_port").map(ToString::to_string),
        Some("/etc/rsftpd.conf:1".to_string())
    );
    assert_eq!(
        b.origins.get("listen_port").map(ToString::to_string),
        Some("-o option 1".to_string())
    );
    assert!(a.origins.get("listen").is_none());
}

#[test]
fn command_filter_lists_are_checked_at_start() {
    let (c, w) = parse("cmds_allowed=PASV,RETR,QUIT\ncmds_denied=dele, rmd").unwrap();
    assert!(w.is_empty());
    assert_eq!(c.cmds_allowed.as_deref(), Some("PASV,RETR,QUIT"));
    assert!(c.validate().is_ok());
    for (text, want) in [
        (
            "cmds_allowed=PASV RETR",
            "cmds_allowed: 'PASV RETR' is not a command name (1 to 8 letters, digits or @; separate names with commas)",
        ),
        (
            "cmds_denied=DELE,,RMD",
            "cmds_denied: an empty command name (two commas in a row?)",
        ),
    ] {
        let (c, _) = parse(text).unwrap();
        assert_eq!(c.validate().unwrap_err().to_string(), want, "{text}");
    }
}

#[test]
fn host_keys_are_known_and_overrides_refuse_the_rest() {
    for k in HOST_KEYS {
        assert!(
            tunable(k).is_some_and(|t| t.support == Support::Implemented),
            "{k}"
        );
    }
    let mut sorted = HOST_KEYS.to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, HOST_KEYS, "HOST_KEYS sorted");
    for never in [
        "listen",
        "listen_port",
        "ssl_enable",
        "nopriv_user",
        "secure_chroot_dir",
        "ftp_username",
        "user_config_dir",
        "host_config_dir",
        "cmds_allowed",
        "xferlog_file",
        "userlist_enable",
        "max_login_fails",
    ] {
        assert!(!HOST_KEYS.contains(&never), "{never}");
    }
    let dir = scratch("host");
    let f = dir.join("ftp.example.com");
    std::fs::write(&f, "anon_root=/srv/a\nwrite_enable=YES\n").unwrap();
    let mut c = Config::default();
    c.load_overrides(&f, None, HOST_KEYS).unwrap();
    assert_eq!(c.anon_root.as_deref(), Some("/srv/a"));
    assert!(c.write_enable);
    std::fs::write(&f, "anon_root=/srv/a\nlisten_port=2121\n").unwrap();
    let mut c = Config::default();
    assert_eq!(
        c.load_overrides(&f, None, HOST_KEYS)
            .unwrap_err()
            .to_string(),
        format!(
            "{}:2: key 'listen_port' cannot be set in this file",
            f.display()
        )
    );
    // An unknown key is still an unknown key, with its suggestion.
    std::fs::write(&f, "anon_rot=/srv/a\n").unwrap();
    let e = Config::default()
        .load_overrides(&f, None, HOST_KEYS)
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("unknown key 'anon_rot' (did you mean 'anon_root'?)"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
