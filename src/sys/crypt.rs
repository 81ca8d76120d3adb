//! Password hashing through libcrypt (libxcrypt on Debian 12): `crypt_rn` with a caller-owned
//! `struct crypt_data`, so nothing is left in a static buffer, plus the wiping helper every
//! secret buffer in `sys` uses. Whatever hash families the installed libxcrypt enables work
//! (yescrypt `$y$`, sha512crypt `$6$`, sha256crypt `$5$`, md5crypt `$1$`, bcrypt `$2b$`, ...).
//!
//! Trusts libcrypt; trusts its caller to pass a stored hash as the setting. Run by the monitor
//! (as root) when it checks a local user's password, and by tests.
//!
//! Linking: `-lcrypt` needs the unversioned `libcrypt.so`, which Debian ships in
//! libcrypt-dev. libc6-dev (needed to link any Rust binary: crt1.o, libc.so) depends on it,
//! so every machine that can build rsftpd has it; the Makefile's PKGS lists it all the same.
//! At run time only libcrypt1 (`libcrypt.so.1`, Priority: required) is needed.

use crate::ipc::Secret;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::io;

/// `sizeof(struct crypt_data)` in libxcrypt's crypt.h: output (384) + setting (384) + input
/// (512) + reserved (767) + initialized (1) + internal (30720) = 32768 bytes, all `char`, so
/// a byte buffer of this size has the right size and alignment.
const CRYPT_DATA_SIZE: usize = 32768;

/// libxcrypt's CRYPT_MAX_PASSPHRASE_SIZE: crypt_rn refuses a phrase of this length or more.
pub const MAX_PASSPHRASE: usize = 512;

#[link(name = "crypt")]
extern "C" {
    fn crypt_rn(
        phrase: *const c_char,
        setting: *const c_char,
        data: *mut c_void,
        size: c_int,
    ) -> *mut c_char;
}

/// Overwrite a buffer with zeros in a way the compiler may not elide.
pub(crate) fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: b is a valid, aligned, exclusive reference to one byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// A heap buffer that is wiped when dropped, whatever the path out.
struct Wiped(Vec<u8>);

impl Drop for Wiped {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Copy `b` into a NUL-terminated buffer that is wiped on drop. A NUL inside `b` is an error:
/// C would silently cut the string there.
fn c_bytes(b: &[u8], what: &str) -> io::Result<Wiped> {
    if b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        ));
    }
    let mut v = Vec::with_capacity(b.len() + 1);
    v.extend_from_slice(b);
    v.push(0);
    Ok(Wiped(v))
}

/// Hash `phrase` with `setting` (a stored hash or a salt string) and return the result, e.g.
/// `$y$j9T$salt$hash`. An error when either contains a NUL byte, when the phrase is
/// too long, when the setting is not a hash libcrypt knows, or when libcrypt signals failure
/// with a string starting with `*`.
pub fn crypt(phrase: &[u8], setting: &[u8]) -> io::Result<Secret> {
    if phrase.len() >= MAX_PASSPHRASE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "passphrase too long for libcrypt",
        ));
    }
    let phrase = c_bytes(phrase, "passphrase")?;
    let setting = c_bytes(setting, "setting")?;
    // SECURITY: zero-initialised as crypt.h asks ("initialized" = 0), and wiped on drop: the
    // output area holds the hash and the scratch area may hold derived key material.
    let mut data = Wiped(vec![0u8; CRYPT_DATA_SIZE]);
    // SAFETY: phrase and setting are NUL-terminated buffers alive for the call; data is a
    // writable buffer of exactly sizeof(struct crypt_data) bytes, passed with that size.
    let out = unsafe {
        crypt_rn(
            phrase.0.as_ptr().cast(),
            setting.0.as_ptr().cast(),
            data.0.as_mut_ptr().cast(),
            CRYPT_DATA_SIZE as c_int,
        )
    };
    if out.is_null() {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("crypt_rn failed: {e}"),
        ));
    }
    // SAFETY: on success crypt_rn returns a NUL-terminated string inside data, which is
    // still alive here; the bytes are copied out before data is wiped and freed.
    let bytes = unsafe { CStr::from_ptr(out) }.to_bytes();
    // SECURITY: libxcrypt documents that a result starting with '*' is a failure token (never
    // a valid hash); older libraries returned it instead of NULL. Never compare against it.
    if bytes.is_empty() || bytes[0] == b'*' {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "crypt_rn returned a failure token",
        ));
    }
    let mut v = Vec::with_capacity(bytes.len());
    v.extend_from_slice(bytes);
    Ok(Secret::new(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers made with `openssl passwd -6 -salt saltsalt secret` (and -1).
    #[test]
    fn sha512crypt_known_answer() {
        let h = b"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        assert_eq!(crypt(b"secret", h).unwrap().expose(), h);
        assert_ne!(crypt(b"Secret", h).unwrap().expose(), h);
    }

    #[test]
    fn md5crypt_known_answer() {
        let h = b"$1$saltsalt$9xy1btjgzLYfb7hivXtC//";
        assert_eq!(crypt(b"secret", h).unwrap().expose(), h);
    }

    #[test]
    fn round_trips_for_each_family() {
        for setting in [
            &b"$y$j9T$abcdefghijklmnopqrstu."[..],
            b"$6$abcdefgh",
            b"$5$abcdefgh",
            b"$1$abcdefgh",
            b"$2b$05$abcdefghijklmnopqrstuu",
        ] {
            let h = crypt(b"pw", setting).unwrap();
            assert!(h.expose().starts_with(&setting[..3]), "{setting:?}");
            // Hashing again with the full hash as the setting gives the same hash.
            assert_eq!(crypt(b"pw", h.expose()).unwrap().expose(), h.expose());
            assert_ne!(crypt(b"pW", h.expose()).unwrap().expose(), h.expose());
        }
    }

    #[test]
    fn failures_are_errors() {
        // Locked, empty and nonsense settings, and NUL bytes, never produce a hash.
        for setting in [&b"!"[..], b"*", b"", b"!$6$abc$def", b"$9$nonsense"] {
            assert!(crypt(b"pw", setting).is_err(), "{setting:?}");
        }
        assert!(crypt(b"p\0w", b"$6$abcdefgh").is_err());
        assert!(crypt(b"pw", b"$6$ab\0cdefgh").is_err());
        assert!(crypt(&[b'a'; MAX_PASSPHRASE], b"$6$abcdefgh").is_err());
    }

    #[test]
    fn wipe_zeroes() {
        let mut b = vec![0xAAu8; 100];
        wipe(&mut b);
        assert!(b.iter().all(|&x| x == 0));
    }
}
