//! Supplementary groups of a user (`getgrouplist`), resolved by the monitor before any
//! chroot so the post-login session can take on the same groups as initgroups(3) would give.
//!
//! Trusts the C library's name service. Run by the monitor, as root, after a good login.

use super::creds::UserRecord;
use std::ffi::{c_int, CString};
use std::io;

/// Start size of the group list; most users are in a handful of groups.
const GROUPS_START: usize = 64;
/// Linux's NGROUPS_MAX: setgroups refuses more, so a longer list is an error.
const GROUPS_MAX: usize = 65536;

/// The user's groups: the primary gid first, then every group listing the user, as
/// getgrouplist(3) reports them (duplicates removed, order kept).
pub fn groups_of(user: &UserRecord) -> io::Result<Vec<u32>> {
    let name = CString::new(user.name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user name contains a NUL"))?;
    let mut len = GROUPS_START;
    loop {
        let mut buf = vec![0 as libc::gid_t; len];
        let mut n: c_int = len as c_int;
        // SAFETY: name is NUL-terminated; buf holds n gids and n is valid for writing.
        let r = unsafe { libc::getgrouplist(name.as_ptr(), user.gid, buf.as_mut_ptr(), &mut n) };
        if r >= 0 {
            let n = (n.max(0) as usize).min(len);
            let mut out: Vec<u32> = Vec::with_capacity(n);
            for &g in &buf[..n] {
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            return Ok(out);
        }
        // -1: the list did not fit; glibc stores the size it needs in n.
        let want = (n.max(0) as usize).max(len * 2);
        if len >= GROUPS_MAX {
            return Err(io::Error::other(format!(
                "user {} is in more than {GROUPS_MAX} groups",
                user.name
            )));
        }
        len = want.min(GROUPS_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::creds::lookup_user;

    #[test]
    fn root_groups_start_with_primary() {
        let root = lookup_user("root").unwrap().unwrap();
        let g = groups_of(&root).unwrap();
        assert_eq!(g.first(), Some(&root.gid));
    }

    #[test]
    fn unknown_user_has_only_primary_group() {
        let u = UserRecord {
            name: "rsftpd-no-such-user-x".into(),
            uid: 4242,
            gid: 4242,
            home: "/".into(),
            shell: "/bin/sh".into(),
        };
        assert_eq!(groups_of(&u).unwrap(), vec![4242]);
    }
}
