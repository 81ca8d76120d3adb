//! Throwaway system users and groups with real passwords for root-only tests: made with
//! useradd/groupadd and chpasswd (yescrypt on Debian 12 through PAM; `chpasswd -c` for
//! other methods), removed by Drop guards even when the test fails. Never adopts an
//! existing account: every name is fresh and checked to be unused first. Account tools
//! lock /etc/passwd and /etc/shadow, so calls take turns and retry while another process
//! holds the lock.

use super::procs::wait_no_uid;
use super::TIMEOUT;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The shadow tools lock /etc/passwd and /etc/shadow; tests in parallel take turns.
static ACCOUNTS: Mutex<()> = Mutex::new(());
static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Run an account tool (useradd, chpasswd, ...), retrying a few times while another process
/// holds the lock files.
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
        // Exit status 10 (useradd, usermod) / 1 with "lock": another tool holds the lock.
        if !last.contains("lock") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(last)
}

/// Run an account tool that must succeed.
pub fn run_tool(cmd: &str, args: &[&str]) {
    tool(cmd, args, None).unwrap();
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

/// Assert that /etc/shells does not list `shell` (for tests of check_shell).
pub fn assert_shell_not_listed(shell: &str) {
    let shells = std::fs::read_to_string("/etc/shells").unwrap_or_default();
    assert!(
        !shells.lines().any(|l| l.trim() == shell),
        "/etc/shells lists {shell}; this test needs a shell that is not listed"
    );
}

/// A throwaway group, removed on drop.
pub struct TempGroup {
    pub name: String,
    pub gid: u32,
}

impl TempGroup {
    pub fn new() -> TempGroup {
        let name = fresh_name("g");
        assert!(db_field("/etc/group", &name, 0).is_none());
        run_tool("groupadd", &[&name]);
        let gid = db_field("/etc/group", &name, 2).unwrap().parse().unwrap();
        TempGroup { name, gid }
    }
}

impl Drop for TempGroup {
    fn drop(&mut self) {
        let _ = tool("groupdel", &[&self.name], None);
    }
}

/// A throwaway user with a real password, removed on drop once no process of its uid is
/// left (with its home, when useradd made it).
pub struct TempUser {
    pub name: String,
    pub pass: String,
    pub uid: u32,
    pub gid: u32,
    /// The home directory field of /etc/passwd, as given (it may contain `/./`).
    pub home: PathBuf,
    /// `userdel -r` on drop (useradd made the home, or the test said so).
    remove_home: bool,
}

/// How to make a `TempUser`: see `TempUser::build`.
pub struct NewUser<'a> {
    home: Option<&'a Path>,
    create_home: bool,
    method: Option<&'a str>,
    extra: Vec<&'a str>,
    client_pass: bool,
}

impl<'a> NewUser<'a> {
    /// The home directory field (`useradd -d`); without it, useradd's default /home/NAME.
    pub fn home(mut self, home: &'a Path) -> Self {
        self.home = Some(home);
        self
    }

    /// Let useradd create the home (`-m`, owned by the user) and userdel remove it (`-r`).
    /// Without it (`-M`) the test makes the home with the owner and mode it wants, and
    /// the home is left where it is (in the test's fixture directory) on drop.
    pub fn create_home(mut self) -> Self {
        self.create_home = true;
        self
    }

    /// Set the password with `chpasswd -c METHOD` (SHA512, MD5, ...) instead of through
    /// PAM (which writes yescrypt on Debian 12, checked unless a method is given).
    pub fn method(mut self, method: Option<&'a str>) -> Self {
        self.method = method;
        self
    }

    /// More useradd options (`-G group`, `-g 0`, ...), given before the name.
    pub fn extra(mut self, args: &[&'a str]) -> Self {
        self.extra.extend_from_slice(args);
        self
    }

    /// A password made only of letters, digits, dots and dashes, which every client takes
    /// as is in a URL, a `user,pass` pair or a command line (`Pw.NAME.x9` instead of
    /// `Pw-NAME-x!`).
    pub fn client_pass(mut self) -> Self {
        self.client_pass = true;
        self
    }

    /// Make the account (shell /bin/bash) and set its password.
    pub fn create(self) -> TempUser {
        let name = fresh_name("u");
        // SECURITY of the test itself: never adopt (and later delete) an existing account.
        assert!(db_field("/etc/passwd", &name, 0).is_none(), "{name} exists");
        let home_s = self.home.map(|h| h.to_str().unwrap());
        let mut args = vec![if self.create_home { "-m" } else { "-M" }];
        if let Some(h) = home_s {
            args.extend(["-d", h]);
        }
        args.extend(["-s", "/bin/bash"]);
        args.extend_from_slice(&self.extra);
        args.push(&name);
        run_tool("useradd", &args);
        // Only now is the account ours: from here on the guard removes it.
        let pass = if self.client_pass {
            format!("Pw.{name}.x9")
        } else {
            format!("Pw-{name}-x!")
        };
        let u = TempUser::guard(name, pass, self.create_home);
        if let Some(h) = home_s {
            assert_eq!(db_field("/etc/passwd", &u.name, 5).as_deref(), Some(h));
        }
        let line = format!("{}:{}\n", u.name, u.pass);
        match self.method {
            None => {
                tool("chpasswd", &[], Some(&line)).unwrap();
                let hash = u.hash();
                assert!(
                    hash.starts_with("$y$"),
                    "chpasswd wrote {hash}, not yescrypt"
                );
            }
            Some(m) => tool("chpasswd", &["-c", m], Some(&line)).unwrap(),
        }
        // A recycled uid must not still have processes from an earlier user.
        assert!(
            wait_no_uid(u.uid, TIMEOUT),
            "processes of uid {} linger",
            u.uid
        );
        u
    }
}

impl TempUser {
    /// Start describing a user: `TempUser::build().home(h).create_home().create()`.
    pub fn build<'a>() -> NewUser<'a> {
        NewUser {
            home: None,
            create_home: false,
            method: None,
            extra: Vec::new(),
            client_pass: false,
        }
    }

    /// A user with shell /bin/bash, home directory `home` (created by useradd, owned by
    /// the user), and a password set through PAM's chpasswd (yescrypt on Debian 12).
    pub fn with_home(home: &Path) -> TempUser {
        TempUser::build().home(home).create_home().create()
    }

    /// Take charge of the account `name` that the caller has just made itself (useradd
    /// under a `fresh_name`, e.g. one without a password): from now on it is removed on
    /// drop like the others (`userdel -r` with `remove_home`).
    pub fn guard(name: String, pass: String, remove_home: bool) -> TempUser {
        let id = |field| db_field("/etc/passwd", &name, field).and_then(|s| s.parse().ok());
        let (uid, gid) = (id(2), id(3));
        let home = db_field("/etc/passwd", &name, 5).unwrap_or_default();
        let u = TempUser {
            // No process has uid u32::MAX: the guard then removes the account at once.
            uid: uid.unwrap_or(u32::MAX),
            gid: gid.unwrap_or(u32::MAX),
            home: PathBuf::from(home),
            remove_home,
            name,
            pass,
        };
        assert!(
            uid.is_some() && gid.is_some(),
            "{}: no uid and gid in /etc/passwd",
            u.name
        );
        u
    }

    /// The password hash in /etc/shadow, as it is now.
    pub fn hash(&self) -> String {
        db_field("/etc/shadow", &self.name, 1).unwrap()
    }

    pub fn home_str(&self) -> String {
        self.home.to_str().unwrap().to_string()
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        // The sessions end with the inetd (dropped first); do not leave the uid to a
        // later account while one of them is still exiting.
        wait_no_uid(self.uid, Duration::from_secs(5));
        let mut args = Vec::new();
        if self.remove_home {
            args.push("-r");
        }
        args.push(self.name.as_str());
        let _ = tool("userdel", &args, None);
    }
}
