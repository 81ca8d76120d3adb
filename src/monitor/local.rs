//! Local (system) users: whether a USER/PASS pair is a real account that may log in over FTP.
//! The checks run in one fixed order, with vsftpd's semantics where vsftpd has one:
//! local_enable, a plausible name, the account exists, not root, /etc/ftpusers, the
//! user_list, check_shell, then the shadow entry (no entry, locked or empty hash, expired
//! account or password) and only then the password itself, hashed with crypt_rn and compared
//! in constant time.
//!
//! The deny lists and /etc/shells are read once, by the monitor, before any fork ([`Lists`]):
//! the pre-login session is chrooted and cannot read them, and the monitor trusts nothing it
//! says. Run by the monitor as root (reading /etc/shadow needs root). Trusts the name
//! service, /etc/shadow and libcrypt; trusts nothing from the client.

use crate::config::Config;
use crate::limits;
use crate::log;
use crate::monitor::auth::plausible_user;
use crate::sys::creds::{lookup_user, UserRecord};
use crate::sys::crypt;
use crate::sys::shadow::{getspnam, ShadowEntry};
use std::fmt;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub use crate::sys::groups::groups_of;

/// Where the list of login shells lives (getusershell(3) reads the same file).
const SHELLS_FILE: &str = "/etc/shells";

/// What glibc's getusershell(3) answers when /etc/shells cannot be opened, so vsftpd (which
/// walks getusershell) admits exactly these shells then.
const DEFAULT_SHELLS: [&[u8]; 2] = [b"/bin/sh", b"/bin/csh"];

/// A yescrypt setting with Debian 12's default cost, hashed against when a login is refused
/// before its password would be hashed, so the refusal takes as long as a wrong password.
const DUMMY_SETTING: &[u8] = b"$y$j9T$rsftpdTimingEqualizer.";

/// Why a local login was refused. Display gives the reason for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// local_enable=NO.
    NoLocal,
    /// The name (empty, too long, spaces, control bytes, leading '-') or the password (too
    /// long) is not one the monitor considers at all.
    Implausible,
    /// No account of that name.
    NoSuchUser,
    /// The passwd database could not be searched (name service failure).
    LookupFailed,
    /// The account has uid 0 or gid 0: no session ever runs as root.
    Root,
    /// Listed in ftpusers_file, or that file exists but cannot be read.
    Ftpusers,
    /// Refused by userlist_file (listed with userlist_deny=YES, or not listed with NO).
    Userlist,
    /// check_shell=YES and the login shell is not in /etc/shells.
    Shell,
    /// No entry in the shadow database.
    NoShadowEntry,
    /// Locked (`!` or `*` hash) or empty password.
    Locked,
    /// The account expired, or the password is too old or must be changed first.
    Expired,
    /// Wrong password (or one that cannot be hashed).
    BadPassword,
    /// /etc/shadow could not be read.
    ShadowUnreadable,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NoLocal => "local users are disabled (local_enable=NO)",
            Refusal::Implausible => "implausible user name or password",
            Refusal::NoSuchUser => "no such user",
            Refusal::LookupFailed => "user look-up failed",
            Refusal::Root => "account has uid or gid 0",
            Refusal::Ftpusers => "denied by ftpusers_file",
            Refusal::Userlist => "denied by userlist_file",
            Refusal::Shell => "login shell not in /etc/shells (check_shell)",
            Refusal::NoShadowEntry => "no shadow entry",
            Refusal::Locked => "account locked or without a password",
            Refusal::Expired => "account or password expired",
            Refusal::BadPassword => "wrong password",
            Refusal::ShadowUnreadable => "cannot read the shadow database",
        })
    }
}

/// A local user who logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    pub user: UserRecord,
}

/// A deny/allow list as read at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
enum List {
    Entries(Vec<Vec<u8>>),
    /// The file exists but could not be read (or is over the size bound): every local login
    /// is refused, as the list might have named the user.
    Unreadable,
}

/// Everything from files the login checks need, read by the monitor before any fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lists {
    ftpusers: List,
    /// Entries of userlist_file; empty unless userlist_enable=YES.
    userlist: Vec<Vec<u8>>,
    /// Login shells from /etc/shells (or glibc's default when it cannot be opened).
    shells: Vec<Vec<u8>>,
}

impl Lists {
    /// Read ftpusers_file, userlist_file (with userlist_enable) and /etc/shells. A missing
    /// ftpusers_file denies nobody; an unreadable one is logged and refuses every local user.
    /// With userlist_enable=YES, a userlist_file that cannot be read is an error, fatal to
    /// the caller as in vsftpd ("cannot read user list file").
    pub fn load(cfg: &Config) -> Result<Lists, String> {
        let ftpusers = if !cfg.local_enable {
            List::Entries(Vec::new())
        } else {
            match read_bounded(Path::new(&cfg.ftpusers_file)) {
                Ok(b) => List::Entries(parse_list(&b)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => List::Entries(Vec::new()),
                Err(e) => {
                    // SECURITY: a deny list we cannot read might name anyone: fail closed.
                    log::error(&format!(
                        "cannot read ftpusers_file {}: {e}; refusing every local login",
                        cfg.ftpusers_file
                    ));
                    List::Unreadable
                }
            }
        };
        let userlist = if cfg.userlist_enable {
            let b = read_bounded(Path::new(&cfg.userlist_file))
                .map_err(|e| format!("cannot read user list file {}: {e}", cfg.userlist_file))?;
            parse_list(&b)
        } else {
            Vec::new()
        };
        let shells = match read_bounded(Path::new(SHELLS_FILE)) {
            Ok(b) => parse_shells(&b),
            Err(_) => DEFAULT_SHELLS.iter().map(|s| s.to_vec()).collect(),
        };
        Ok(Lists {
            ftpusers,
            userlist,
            shells,
        })
    }

    /// Lists from given contents, for tests and callers that read the files themselves.
    /// `ftpusers` None: the file was unreadable (every local login refused).
    pub fn from_parts(
        ftpusers: Option<Vec<Vec<u8>>>,
        userlist: Vec<Vec<u8>>,
        shells: Vec<Vec<u8>>,
    ) -> Lists {
        Lists {
            ftpusers: ftpusers.map_or(List::Unreadable, List::Entries),
            userlist,
            shells,
        }
    }
}

/// Read a whole list file, refusing one over limits::LIST_FILE_MAX (a deny list must never
/// be cut short silently).
fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(limits::LIST_FILE_MAX + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limits::LIST_FILE_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("longer than {} bytes", limits::LIST_FILE_MAX),
        ));
    }
    Ok(buf)
}

/// ftpusers(5) and user_list syntax: one name a line; surrounding blanks ignored; blank
/// lines and lines starting with '#' skipped.
pub fn parse_list(b: &[u8]) -> Vec<Vec<u8>> {
    b.split(|&c| c == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .map(|l| l.to_vec())
        .collect()
}

/// /etc/shells as glibc's getusershell(3) reads it: on each line, the entry starts at the
/// first '/' (a '#' before it makes the line a comment) and ends at a blank or '#'.
pub fn parse_shells(b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in b.split(|&c| c == b'\n') {
        let Some(start) = line.iter().position(|&c| c == b'/' || c == b'#') else {
            continue;
        };
        if line[start] == b'#' {
            continue;
        }
        let rest = &line[start..];
        let end = rest
            .iter()
            .position(|&c| c.is_ascii_whitespace() || c == b'#')
            .unwrap_or(rest.len());
        out.push(rest[..end].to_vec());
    }
    out
}

fn listed(list: &[Vec<u8>], user: &[u8]) -> bool {
    list.iter().any(|n| n.as_slice() == user)
}

/// The user_list rule alone: with userlist_enable, refuse a listed user when
/// userlist_deny=YES and an unlisted one when userlist_deny=NO. vsftpd applies it at USER,
/// to every name (anonymous ones too), before asking for a password: the monitor answers
/// this for the chrooted pre-login session from the list it read at startup.
pub fn userlist_refuses_at_user(cfg: &Config, lists: &Lists, user: &[u8]) -> bool {
    cfg.userlist_enable && listed(&lists.userlist, user) == cfg.userlist_deny
}

/// Days since 1970-01-01 (UTC), the unit of /etc/shadow's dates; what vsftpd and pam_unix
/// compute as time(NULL) / 86400.
pub fn today_days() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() / 86_400) as i64,
        // A clock before 1970 is broken; day 0 keeps every expiry check meaningful.
        Err(_) => 0,
    }
}

/// Whether the shadow dates refuse the login on day `today`, as pam_unix's account check
/// does (Debian's vsftpd logs in through PAM): the account expires on day `expire`
/// (-1: never); a last change of 0 means "must change the password first", which FTP
/// cannot do; the password is too old when more than `max` days passed since `last_change`
/// (either -1, or any negative: aging disabled, as shadow(5) describes empty fields).
pub fn expired(last_change: i64, max: i64, expire: i64, today: i64) -> bool {
    if expire != -1 && today >= expire {
        return true;
    }
    if last_change == 0 {
        return true;
    }
    last_change > 0 && max >= 0 && today.saturating_sub(last_change) > max
}

/// Compare two byte strings in time that depends only on their lengths. Different lengths
/// are unequal (a crypt result and a stored hash of the same scheme have equal lengths).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Where the account data comes from: the system in production, a fake in unit tests.
pub trait Accounts {
    fn user(&self, name: &str) -> io::Result<Option<UserRecord>>;
    fn shadow(&self, name: &str) -> io::Result<Option<ShadowEntry>>;
}

/// The system's name service and shadow database.
pub struct SystemAccounts;

impl Accounts for SystemAccounts {
    fn user(&self, name: &str) -> io::Result<Option<UserRecord>> {
        lookup_user(name)
    }
    fn shadow(&self, name: &str) -> io::Result<Option<ShadowEntry>> {
        getspnam(name.as_bytes())
    }
}

/// Decide a local login against the system's accounts. `today_days`: see [`today_days`].
pub fn verify_local(
    cfg: &Config,
    lists: &Lists,
    user: &[u8],
    pass: &[u8],
    today_days: i64,
) -> Result<LocalUser, Refusal> {
    verify_with(&SystemAccounts, cfg, lists, user, pass, today_days)
}

/// [`verify_local`] with the account source given.
pub fn verify_with(
    acc: &dyn Accounts,
    cfg: &Config,
    lists: &Lists,
    user: &[u8],
    pass: &[u8],
    today: i64,
) -> Result<LocalUser, Refusal> {
    if !cfg.local_enable {
        return Err(Refusal::NoLocal);
    }
    // SECURITY: the pre-login process is untrusted: re-check every bound here.
    if !plausible_user(user) || pass.len() > limits::PASS_MAX {
        return Err(Refusal::Implausible);
    }
    // From here on every refusal costs one hash, like a wrong password, so the time a
    // refusal takes does not tell which accounts exist or are locked.
    let refuse = |r: Refusal| -> Result<LocalUser, Refusal> {
        let _ = crypt::crypt(pass, DUMMY_SETTING);
        Err(r)
    };
    // A name that is not UTF-8 cannot be looked up (nor is it in the passwd database).
    let Ok(name) = std::str::from_utf8(user) else {
        return refuse(Refusal::NoSuchUser);
    };
    let rec = match acc.user(name) {
        Ok(Some(r)) => r,
        Ok(None) => return refuse(Refusal::NoSuchUser),
        Err(e) => {
            log::error(&format!("cannot look up user {}: {e}", log::escape(user)));
            return refuse(Refusal::LookupFailed);
        }
    };
    // SECURITY: no client-facing process ever runs as root (creds::change_identity would
    // refuse it later anyway); refuse cleanly here.
    if rec.uid == 0 || rec.gid == 0 {
        return refuse(Refusal::Root);
    }
    match &lists.ftpusers {
        // SECURITY: an unreadable ftpusers_file might name this user: fail closed.
        List::Unreadable => return refuse(Refusal::Ftpusers),
        List::Entries(l) if listed(l, user) => return refuse(Refusal::Ftpusers),
        List::Entries(_) => {}
    }
    // SECURITY: re-checked at PASS: the monitor does not trust that the session asked at USER.
    if userlist_refuses_at_user(cfg, lists, user) {
        return refuse(Refusal::Userlist);
    }
    // SECURITY: check_shell keeps accounts with /bin/false, nologin etc. out, as vsftpd does.
    if cfg.check_shell && !listed(&lists.shells, rec.shell.as_os_str().as_bytes()) {
        return refuse(Refusal::Shell);
    }
    let sp = match acc.shadow(name) {
        Ok(Some(sp)) => sp,
        Ok(None) => return refuse(Refusal::NoShadowEntry),
        Err(e) => {
            log::error(&format!("cannot read the shadow entry of {name}: {e}"));
            return refuse(Refusal::ShadowUnreadable);
        }
    };
    let hash = sp.hash.expose();
    // SECURITY: locked ('!', '*') and empty hashes never reach crypt, whatever it would do
    // with them (an empty hash once matched an empty crypt result).
    if hash.is_empty() || hash[0] == b'!' || hash[0] == b'*' {
        return refuse(Refusal::Locked);
    }
    if expired(sp.last_change, sp.max, sp.expire, today) {
        return refuse(Refusal::Expired);
    }
    match crypt::crypt(pass, hash) {
        // SECURITY: constant-time comparison of the computed and the stored hash.
        Ok(h) if ct_eq(h.expose(), hash) => Ok(LocalUser { user: rec }),
        // A wrong password, or one crypt cannot hash (a NUL byte, too long).
        _ => Err(Refusal::BadPassword),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::Secret;
    use std::cell::RefCell;
    use std::path::PathBuf;

    const TODAY: i64 = 20_000;

    /// sha512crypt of "secret" with salt "saltsalt" (openssl passwd -6).
    const HASH: &[u8] = b"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";

    struct Fake {
        user: Option<UserRecord>,
        hash: Vec<u8>,
        dates: (i64, i64, i64),
        shadow_err: bool,
        /// Which look-ups were made, in order.
        calls: RefCell<Vec<&'static str>>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                user: Some(UserRecord {
                    name: "alice".into(),
                    uid: 1001,
                    gid: 1001,
                    home: PathBuf::from("/home/alice"),
                    shell: PathBuf::from("/bin/bash"),
                }),
                hash: HASH.to_vec(),
                dates: (TODAY - 10, 99_999, -1),
                shadow_err: false,
                calls: RefCell::new(Vec::new()),
            }
        }
    }

    impl Accounts for Fake {
        fn user(&self, _: &str) -> io::Result<Option<UserRecord>> {
            self.calls.borrow_mut().push("user");
            Ok(self.user.clone())
        }
        fn shadow(&self, _: &str) -> io::Result<Option<ShadowEntry>> {
            self.calls.borrow_mut().push("shadow");
            if self.shadow_err {
                return Err(io::Error::from(io::ErrorKind::PermissionDenied));
            }
            Ok(Some(ShadowEntry {
                hash: Secret::new(self.hash.clone()),
                last_change: self.dates.0,
                max: self.dates.1,
                expire: self.dates.2,
            }))
        }
    }

    fn cfg() -> Config {
        Config {
            local_enable: true,
            check_shell: true,
            ..Config::default()
        }
    }

    fn lists() -> Lists {
        Lists::from_parts(Some(vec![]), vec![], vec![b"/bin/bash".to_vec()])
    }

    fn run(
        f: &Fake,
        c: &Config,
        l: &Lists,
        user: &[u8],
        pass: &[u8],
    ) -> Result<LocalUser, Refusal> {
        verify_with(f, c, l, user, pass, TODAY)
    }

    #[test]
    fn good_and_bad_password() {
        let f = Fake::new();
        let u = run(&f, &cfg(), &lists(), b"alice", b"secret").unwrap();
        assert_eq!(u.user.uid, 1001);
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"Secret"),
            Err(Refusal::BadPassword)
        );
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b""),
            Err(Refusal::BadPassword)
        );
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"sec\0ret"),
            Err(Refusal::BadPassword)
        );
    }

    #[test]
    fn order_of_checks() {
        // local_enable first, before anything is looked up.
        let f = Fake::new();
        let mut c = cfg();
        c.local_enable = false;
        assert_eq!(
            run(&f, &c, &lists(), b"-x", b"secret"),
            Err(Refusal::NoLocal)
        );
        assert!(f.calls.borrow().is_empty());
        // Plausibility before the look-up.
        assert_eq!(
            run(&f, &cfg(), &lists(), b"a b", b"secret"),
            Err(Refusal::Implausible)
        );
        assert_eq!(
            run(
                &f,
                &cfg(),
                &lists(),
                b"alice",
                &[b'x'; limits::PASS_MAX + 1]
            ),
            Err(Refusal::Implausible)
        );
        assert!(f.calls.borrow().is_empty());
        // No such user: the shadow database is not consulted.
        let mut f = Fake::new();
        f.user = None;
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"secret"),
            Err(Refusal::NoSuchUser)
        );
        assert_eq!(*f.calls.borrow(), vec!["user"]);
        // ftpusers, user_list and shell all come before the shadow entry, even with a
        // broken shadow database.
        let mut f = Fake::new();
        f.shadow_err = true;
        let deny = Lists::from_parts(Some(vec![b"alice".to_vec()]), vec![], vec![]);
        assert_eq!(
            run(&f, &cfg(), &deny, b"alice", b"secret"),
            Err(Refusal::Ftpusers)
        );
        let mut c = cfg();
        c.userlist_enable = true;
        let ul = Lists::from_parts(Some(vec![]), vec![b"alice".to_vec()], vec![]);
        assert_eq!(
            run(&f, &c, &ul, b"alice", b"secret"),
            Err(Refusal::Userlist)
        );
        let noshell = Lists::from_parts(Some(vec![]), vec![], vec![]);
        assert_eq!(
            run(&f, &cfg(), &noshell, b"alice", b"secret"),
            Err(Refusal::Shell)
        );
        assert_eq!(*f.calls.borrow(), vec!["user", "user", "user"]);
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"secret"),
            Err(Refusal::ShadowUnreadable)
        );
        // Locked beats expired beats the password.
        let mut f = Fake::new();
        f.hash = b"!".to_vec();
        f.dates = (0, 0, 0);
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"secret"),
            Err(Refusal::Locked)
        );
        let mut f = Fake::new();
        f.dates = (TODAY - 10, 99_999, TODAY - 1);
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"wrong"),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn ftpusers_unreadable_refuses_everyone() {
        let f = Fake::new();
        let l = Lists::from_parts(None, vec![], vec![b"/bin/bash".to_vec()]);
        assert_eq!(
            run(&f, &cfg(), &l, b"alice", b"secret"),
            Err(Refusal::Ftpusers)
        );
    }

    #[test]
    fn root_refused() {
        let mut f = Fake::new();
        f.user.as_mut().unwrap().uid = 0;
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"secret"),
            Err(Refusal::Root)
        );
        let mut f = Fake::new();
        f.user.as_mut().unwrap().gid = 0;
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"secret"),
            Err(Refusal::Root)
        );
    }

    #[test]
    fn shell_check_only_with_check_shell() {
        let f = Fake::new();
        let l = Lists::from_parts(Some(vec![]), vec![], vec![b"/bin/sh".to_vec()]);
        assert_eq!(
            run(&f, &cfg(), &l, b"alice", b"secret"),
            Err(Refusal::Shell)
        );
        let mut c = cfg();
        c.check_shell = false;
        assert!(run(&f, &c, &l, b"alice", b"secret").is_ok());
    }

    #[test]
    fn locked_and_empty_hashes() {
        for h in [&b""[..], b"!", b"*", b"!!", b"*LK*", b"!$6$saltsalt$x"] {
            let mut f = Fake::new();
            f.hash = h.to_vec();
            assert_eq!(
                run(&f, &cfg(), &lists(), b"alice", b""),
                Err(Refusal::Locked),
                "{h:?}"
            );
        }
        // A locked copy of the real hash refuses even the right password.
        let mut f = Fake::new();
        f.hash = [b"!", HASH].concat();
        assert_eq!(
            run(&f, &cfg(), &lists(), b"alice", b"secret"),
            Err(Refusal::Locked)
        );
    }

    #[test]
    fn userlist_both_ways() {
        let mut c = cfg();
        let l = Lists::from_parts(Some(vec![]), vec![b"alice".to_vec()], vec![]);
        assert!(!userlist_refuses_at_user(&c, &l, b"alice"));
        c.userlist_enable = true;
        c.userlist_deny = true;
        assert!(userlist_refuses_at_user(&c, &l, b"alice"));
        assert!(!userlist_refuses_at_user(&c, &l, b"bob"));
        c.userlist_deny = false;
        assert!(!userlist_refuses_at_user(&c, &l, b"alice"));
        assert!(userlist_refuses_at_user(&c, &l, b"bob"));
        assert!(userlist_refuses_at_user(&c, &l, b"ALICE"));
    }

    #[test]
    fn expiry_arithmetic() {
        let t = TODAY;
        // Nothing set.
        assert!(!expired(-1, -1, -1, t));
        // Account expiry: the expiry day itself is expired (pam_unix), 0 = 1970-01-01.
        assert!(expired(-1, -1, t, t));
        assert!(expired(-1, -1, t - 1, t));
        assert!(!expired(-1, -1, t + 1, t));
        assert!(expired(-1, -1, 0, t));
        // Must change the password first.
        assert!(expired(0, 99_999, -1, t));
        // Password age: exactly max days old is still fine, one more is not.
        assert!(!expired(t - 10, 10, -1, t));
        assert!(expired(t - 11, 10, -1, t));
        assert!(!expired(t - 11, -1, -1, t));
        assert!(!expired(t - 11, 99_999, -1, t));
        // Changed in the future (clock skew): not expired.
        assert!(!expired(t + 5, 0, -1, t));
        // chage -d 2000-01-01 -M 10.
        assert!(expired(10_957, 10, -1, t));
    }

    #[test]
    fn dummy_setting_really_hashes() {
        // Otherwise refusals would be fast again and timing would tell them apart.
        let h = crypt::crypt(b"x", DUMMY_SETTING).unwrap();
        assert!(h.expose().starts_with(b"$y$j9T$"));
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"", b"a"));
        assert!(!ct_eq(&[0x80], &[0x00]));
    }

    #[test]
    fn list_parsing() {
        let l = parse_list(b"# comment\nroot\n\n  daemon \r\nbin\r\n#x\n nobody");
        assert_eq!(
            l,
            vec![
                b"root".to_vec(),
                b"daemon".to_vec(),
                b"bin".to_vec(),
                b"nobody".to_vec()
            ]
        );
        assert!(parse_list(b"").is_empty());
    }

    #[test]
    fn shells_parsing_as_getusershell() {
        let s = parse_shells(b"# /etc/shells: valid login shells\n/bin/sh\n  /bin/bash # b\n/usr/bin/zsh\t\nbash\n#/bin/false\n/bin/dash#x\n");
        assert_eq!(
            s,
            vec![
                b"/bin/sh".to_vec(),
                b"/bin/bash".to_vec(),
                b"/usr/bin/zsh".to_vec(),
                b"/bin/dash".to_vec()
            ]
        );
    }

    #[test]
    fn load_reads_files() {
        let dir = std::env::temp_dir().join(format!("rsftpd-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fu = dir.join("ftpusers");
        let ul = dir.join("user_list");
        std::fs::write(&fu, "root\n# c\nalice\n").unwrap();
        std::fs::write(&ul, "bob\n").unwrap();
        let mut c = cfg();
        c.ftpusers_file = fu.display().to_string();
        c.userlist_enable = true;
        c.userlist_file = ul.display().to_string();
        let l = Lists::load(&c).unwrap();
        assert_eq!(
            l.ftpusers,
            List::Entries(vec![b"root".to_vec(), b"alice".to_vec()])
        );
        assert_eq!(l.userlist, vec![b"bob".to_vec()]);
        // A missing ftpusers_file denies nobody; a missing user_list is fatal.
        c.ftpusers_file = dir.join("none").display().to_string();
        c.userlist_enable = false;
        assert_eq!(Lists::load(&c).unwrap().ftpusers, List::Entries(vec![]));
        c.userlist_enable = true;
        c.userlist_file = dir.join("none").display().to_string();
        assert!(Lists::load(&c).is_err());
        // An ftpusers_file that is a directory cannot be read: refuse everyone.
        c.userlist_enable = false;
        c.ftpusers_file = dir.display().to_string();
        assert_eq!(Lists::load(&c).unwrap().ftpusers, List::Unreadable);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
