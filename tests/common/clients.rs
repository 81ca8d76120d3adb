//! Running real FTP clients (curl, lftp, tnftp, wget, python3 ...) against the mini-inetd:
//! always under `timeout`, never with our terminal, away from user configuration and
//! proxies; and what their runs are checked with.

use super::Inetd;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Run a client under `timeout` (`secs` seconds, then KILL 5 seconds later) in `cwd`, with
/// `stdin` fed to it (or /dev/null); its output is collected.
pub fn run(secs: &str, prog: &str, args: &[&str], stdin: Option<&str>, cwd: &Path) -> Output {
    run_env(secs, prog, args, stdin, cwd, &[])
}

/// As `run`, with extra environment variables (set last, so `LC_ALL` can be overridden,
/// e.g. with a UTF-8 locale for clients that convert file names).
pub fn run_env(
    secs: &str,
    prog: &str,
    args: &[&str],
    stdin: Option<&str>,
    cwd: &Path,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", secs, prog])
        .args(args)
        .current_dir(cwd)
        // Keep the clients away from any user configuration and proxies.
        .env("HOME", cwd)
        .env_remove("ftp_proxy")
        .env_remove("FTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .env("LC_ALL", "C")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin {
        Some(_) => cmd.stdin(Stdio::piped()),
        None => cmd.stdin(Stdio::null()),
    };
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"));
    if let Some(text) = stdin {
        use std::io::Write;
        let mut w = child.stdin.take().unwrap();
        // A client that exits early closes its stdin; its status tells what went wrong.
        let _ = w.write_all(text.as_bytes());
    }
    child.wait_with_output().unwrap()
}

/// A client run's status and output, for failure messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn assert_ok(what: &str, o: &Output) {
    assert!(o.status.success(), "{what} failed: {}", show(o));
}

/// `ftp://127.0.0.1:PORT/path` for this inetd.
pub fn url(inetd: &Inetd, path: &str) -> String {
    format!("ftp://127.0.0.1:{}/{}", inetd.addr.port(), path)
}

/// An `lftp -c` script: bounded retries and timeouts, no TLS, stop at the first failing
/// command, `settings` (each ending in "; ", or empty), then log in as `user`/`pass` at
/// 127.0.0.1:`port` and run `commands`.
pub fn lftp_script(settings: &str, user: &str, pass: &str, port: u16, commands: &str) -> String {
    format!(
        "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; \
         {settings}set ftp:ssl-allow no; set cmd:fail-exit yes; \
         open -u {user},{pass} ftp://127.0.0.1:{port}; {commands}"
    )
}
