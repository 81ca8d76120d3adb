//! The only module with `unsafe`, `libc::` or `nix::`. Every system call rsftpd makes goes
//! through a small, safe wrapper here, so the rest of the crate is `#![deny(unsafe_code)]`
//! and the audit surface is this folder.
//!
//! Trusts its callers (the rest of the crate); checks every return value. Used by every
//! process: monitor, pre-login, post-login and transfer children.

pub mod creds;
pub mod crypt;
pub mod fdpass;
pub mod fs;
pub mod groups;
pub mod io;
pub mod net;
pub mod process;
pub mod shadow;
pub mod shm;
pub mod syslog;
pub mod time;

use std::io::Error;

/// Turn a libc return value of -1 into the errno as an `io::Error`.
pub(crate) fn cvt(r: libc::c_int) -> std::io::Result<libc::c_int> {
    if r == -1 {
        Err(Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub(crate) fn cvt_ssize(r: libc::ssize_t) -> std::io::Result<usize> {
    if r == -1 {
        Err(Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Retry a call while it fails with EINTR.
pub(crate) fn retry<T, F: FnMut() -> std::io::Result<T>>(mut f: F) -> std::io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
