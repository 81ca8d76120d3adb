//! The shadow password database: a small safe wrapper around `getspnam_r`, which tells "no
//! such user" (Ok(None)) apart from "cannot read /etc/shadow" (Err), never panics on odd
//! input, and wipes every copy of the hash it made. (The `shadow` crate does neither; see
//! DESIGN.md §4.)
//!
//! Trusts the C library's name service. Run by the monitor, as root, when it checks a local
//! user's password; reading /etc/shadow needs root (or group shadow).

use super::crypt::wipe;
use crate::ipc::Secret;
use std::ffi::CStr;
use std::io;

/// The file the `files` name service reads.
const SHADOW_FILE: &str = "/etc/shadow";
/// First buffer size for getspnam_r; a line of /etc/shadow rarely needs more than 200 bytes.
const BUF_START: usize = 1024;
/// Largest buffer tried when getspnam_r keeps answering ERANGE: a shadow line longer than
/// this is not one rsftpd will log anyone in with.
const BUF_MAX: usize = 1 << 20;

/// One user's entry in the shadow database: what the login policy needs from it.
#[derive(Debug)]
pub struct ShadowEntry {
    /// The encrypted password (`sp_pwdp`), e.g. `$y$...`, `!$y$...` (locked), `*`, or empty.
    pub hash: Secret,
    /// Day of the last password change (`sp_lstchg`), days since 1970-01-01; 0 means the
    /// user must change it at next login; -1: the field is empty (aging disabled).
    pub last_change: i64,
    /// Maximum password age in days (`sp_max`); -1: empty field (no maximum).
    pub max: i64,
    /// Day the account expires (`sp_expire`), days since 1970-01-01; -1: never.
    pub expire: i64,
}

/// Look a user up in the shadow database. Ok(None): no such entry (also for a name with a NUL
/// byte, which no entry can have). Err: the database could not be read (not root, file
/// missing or unreadable, name service failure) or the entry is absurdly long.
pub fn getspnam(name: &[u8]) -> io::Result<Option<ShadowEntry>> {
    if name.contains(&0) {
        return Ok(None);
    }
    let mut cname = Vec::with_capacity(name.len() + 1);
    cname.extend_from_slice(name);
    cname.push(0);
    let mut len = BUF_START;
    loop {
        let mut buf = vec![0u8; len];
        let r = lookup(&cname, &mut buf);
        // SECURITY: the buffer holds a copy of the hash; it is wiped before it is freed.
        wipe(&mut buf);
        match r {
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) && len < BUF_MAX => len *= 2,
            other => return other,
        }
    }
}

/// One getspnam_r call with the given buffer; the result is copied out of the buffer.
fn lookup(cname: &[u8], buf: &mut [u8]) -> io::Result<Option<ShadowEntry>> {
    // SAFETY: spwd is a plain C struct of pointers and integers; all-zero is a valid value.
    let mut sp: libc::spwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::spwd = std::ptr::null_mut();
    // SAFETY: cname is NUL-terminated; sp, buf (with its true length) and result are valid
    // for writing for the duration of the call.
    let r = unsafe {
        libc::getspnam_r(
            cname.as_ptr().cast(),
            &mut sp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    if result.is_null() {
        // glibc answers 0 and no entry both for "no such user" and, when another name
        // service follows `files` (Debian 12: `shadow: files systemd`), for "/etc/shadow
        // cannot be opened" too. Tell them apart by opening the file ourselves.
        return match std::fs::File::open(SHADOW_FILE) {
            Ok(_) => Ok(None),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot read {SHADOW_FILE}: {e}"),
            )),
        };
    }
    let hash = if sp.sp_pwdp.is_null() {
        Vec::new()
    } else {
        // SAFETY: on success sp_pwdp points to a NUL-terminated string inside buf, which is
        // alive (and not yet wiped) here.
        let b = unsafe { CStr::from_ptr(sp.sp_pwdp) }.to_bytes();
        let mut v = Vec::with_capacity(b.len());
        v.extend_from_slice(b);
        v
    };
    Ok(Some(ShadowEntry {
        hash: Secret::new(hash),
        last_change: sp.sp_lstchg as i64,
        max: sp.sp_max as i64,
        expire: sp.sp_expire as i64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_in_name_is_no_user() {
        assert!(getspnam(b"ro\0ot").unwrap().is_none());
    }

    #[test]
    fn root_entry_or_error() {
        // As root: root has an entry and an unknown name has none. Otherwise /etc/shadow
        // cannot be read, and that must be an error, not "no such user" (root itself may
        // still be found: nss-systemd synthesises an entry for it).
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let euid: u32 = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|s| s.parse().ok())
            .unwrap();
        let root = getspnam(b"root");
        let none = getspnam(b"rsftpd-no-such-user-x");
        if euid == 0 {
            let e = root.unwrap().expect("root has a shadow entry");
            assert!(e.expire >= -1);
            assert!(none.unwrap().is_none());
        } else {
            if let Ok(Some(e)) = root {
                assert!(e.hash.expose().starts_with(b"!") || e.hash.expose().starts_with(b"*"));
            }
            assert!(none.is_err());
        }
    }
}
