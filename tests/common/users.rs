//! Throwaway system users with real passwords for root-only tests: made with useradd and
//! chpasswd (yescrypt on Debian 12), removed with userdel -r by a Drop guard even when the
//! test fails. Never adopts an existing account. Account tools lock /etc/passwd and
//! /etc/shadow, so calls take turns and retry while another process holds the lock.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

static ACCOUNTS: Mutex<()> = Mutex::new(());
static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Run an account tool (useradd, chpasswd, ...), retrying while the lock files are busy.
pub fn tool(cmd: &str, args: &[&str], stdin: Option<&str>) -> Result<(), String> {
    let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = String::new();
    for _ in 0..5 {
        let mut child = Command::new(cmd)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{cmd}: {e}"))?;
        if let Some(s) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{cmd}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        last = format!(
            "{cmd} {args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if !last.contains("lock") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(last)
}

/// A name no account has: `rsft-<kind><pid>-<n>-<nanos>` (useradd allows 32 characters).
pub fn fresh_name(kind: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "rsft-{kind}{}-{n}-{}",
        std::process::id() % 100_000,
        nanos % 10_000
    )
}

/// A field of the line for `name` in a colon-separated database file.
pub fn db_field(file: &str, name: &str, field: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(field).map(|s| s.to_string()))?
    })
}

/// A throwaway user with a real password, removed (with its home) on drop.
pub struct TempUser {
    pub name: String,
    pub pass: String,
    pub home: PathBuf,
}

impl TempUser {
    /// A user with shell /bin/bash, home directory `home` (created by useradd, owned by
    /// the user), and a password set through PAM's chpasswd (yescrypt on Debian 12).
    pub fn with_home(home: &Path) -> TempUser {
        let name = fresh_name("u");
        // Never adopt (and later delete) an existing account.
        assert!(db_field("/etc/passwd", &name, 0).is_none(), "{name} exists");
        tool(
            "useradd",
            &["-m", "-d", home.to_str().unwrap(), "-s", "/bin/bash", &name],
            None,
        )
        .unwrap();
        let u = TempUser {
            pass: format!("Pw-{name}-x!"),
            name,
            home: home.to_path_buf(),
        };
        tool("chpasswd", &[], Some(&format!("{}:{}\n", u.name, u.pass))).unwrap();
        u
    }

    pub fn uid(&self) -> u32 {
        db_field("/etc/passwd", &self.name, 2)
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn gid(&self) -> u32 {
        db_field("/etc/passwd", &self.name, 3)
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn hash(&self) -> String {
        db_field("/etc/shadow", &self.name, 1).unwrap()
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _ = tool("userdel", &["-r", &self.name], None);
    }
}
