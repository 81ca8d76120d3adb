//! Command line (getopts): `-c FILE`, repeated `-o key=value` applied in order, `-t` to
//! check a configuration and print the effective settings, `-v`, `-h`. A bare argument is
//! taken as the configuration file, as vsftpd does, so `server_args = /etc/vsftpd.conf`
//! keeps working. Run by the launched process, as root under inetd, before anything else.

use crate::config::Config;
use crate::sys;
use std::ffi::OsString;
use std::path::PathBuf;

pub const DEFAULT_CONFIG: &str = "/etc/rsftpd.conf";

/// What the command line asks for.
#[derive(Debug)]
pub struct Args {
    pub config_file: Option<PathBuf>,
    pub options: Vec<String>,
    pub check_only: bool,
}

fn usage(prog: &str, opts: &getopts::Options) -> String {
    opts.usage(&format!(
        "Usage: {prog} [-c FILE] [-o key=value]... [-t] [-v]"
    ))
}

/// Parse argv into Args, or a message and exit code to finish with.
pub fn parse(argv: &[OsString]) -> Result<Args, (String, i32)> {
    let prog = argv
        .first()
        .and_then(|s| s.to_str())
        .unwrap_or("rsftpd")
        .to_string();
    let mut opts = getopts::Options::new();
    opts.optopt(
        "c",
        "config",
        "configuration file (default /etc/rsftpd.conf)",
        "FILE",
    );
    opts.optmulti(
        "o",
        "option",
        "set a configuration key, after the file; repeatable",
        "KEY=VALUE",
    );
    opts.optflag(
        "t",
        "test",
        "check the configuration, print the effective settings, exit",
    );
    opts.optflag("v", "version", "print the version and exit");
    opts.optflag("h", "help", "print this help and exit");
    let args: Vec<String> = match argv[1.min(argv.len())..]
        .iter()
        .map(|a| a.clone().into_string())
        .collect()
    {
        Ok(v) => v,
        Err(_) => return Err(("rsftpd: arguments must be valid UTF-8".into(), 2)),
    };
    let m = opts
        .parse(&args)
        .map_err(|e| (format!("rsftpd: {e}\n{}", usage(&prog, &opts)), 2))?;
    if m.opt_present("h") {
        return Err((usage(&prog, &opts), 0));
    }
    if m.opt_present("v") {
        return Err((format!("rsftpd {}", env!("CARGO_PKG_VERSION")), 0));
    }
    let mut config_file = m.opt_str("c").map(PathBuf::from);
    for free in &m.free {
        if config_file.is_some() {
            return Err((
                format!("rsftpd: more than one configuration file given ('{free}')"),
                2,
            ));
        }
        config_file = Some(PathBuf::from(free));
    }
    Ok(Args {
        config_file,
        options: m.opt_strs("o"),
        check_only: m.opt_present("t"),
    })
}

/// Load the file (the default one only if it exists), apply the -o options in order,
/// validate, and resolve pasv_address (pasv_addr_resolve=YES).
/// Warnings are returned for the caller to report where it can.
pub fn load_config(args: &Args) -> Result<(Config, Vec<String>), String> {
    let mut cfg = Config::default();
    let mut warnings = Vec::new();
    let owner = if sys::process::is_root() {
        Some(0)
    } else {
        Some(sys::process::uid())
    };
    let path = match &args.config_file {
        Some(p) => Some(p.clone()),
        None => {
            let p = PathBuf::from(DEFAULT_CONFIG);
            if p.exists() {
                Some(p)
            } else {
                None
            }
        }
    };
    if let Some(p) = path {
        for w in cfg.load_file(&p, owner).map_err(|e| e.to_string())? {
            warnings.push(w.to_string());
        }
    }
    for (i, kv) in args.options.iter().enumerate() {
        if let Some(w) = cfg.apply_option(kv, i + 1).map_err(|e| e.to_string())? {
            warnings.push(w.to_string());
        }
    }
    cfg.validate().map_err(|e| e.to_string())?;
    // pasv_addr_resolve: the configured host name is looked up now, before any fork or
    // chroot, and a name that does not resolve stops the start (and `rsftpd -t`).
    warnings.extend(
        cfg.resolve_names(&mut sys::net::lookup_host)
            .map_err(|e| e.to_string())?,
    );
    Ok((cfg, warnings))
}

/// The whole program. Returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let args = match parse(&argv) {
        Ok(a) => a,
        Err((msg, code)) => {
            if code == 0 {
                println!("{msg}");
            } else {
                eprintln!("{msg}");
            }
            return code;
        }
    };
    if args.check_only {
        return match load_config(&args) {
            Ok((cfg, warnings)) => {
                for w in &warnings {
                    eprintln!("rsftpd: warning: {w}");
                }
                // ssl_enable: the certificate and key must load now, not at the first client.
                if cfg.ssl_enable {
                    if let Err(e) = crate::tls::check(&cfg) {
                        eprintln!("rsftpd: {e}");
                        return 1;
                    }
                }
                print!("{}", cfg.dump());
                0
            }
            Err(e) => {
                eprintln!("rsftpd: {e}");
                1
            }
        };
    }
    crate::session::entry::run(args)
}
