//! Virtual paths: what the client sees (`/`, `/pub/file`) and how it maps onto the disk.
//!
//! Owns: lexical resolution of a client path argument against the current directory and the
//! home directory (`~`), the mapping of a virtual path onto a real one below a root, the
//! quoting of a path in a 257 reply, and splitting a path into parent and last component.
//! Trusts: nothing from the client. An argument may hold any byte; names on disk need not be
//! UTF-8, so paths stay bytes throughout. `cwd` and `home` come from the session's own state
//! and are expected to be absolute and normalized (`/` or `/a/b`), but a malformed one cannot
//! make a result escape the root either.
//! Run by: the session processes (post-login) and their transfer children.
//!
//! Resolution is purely lexical, as vsftpd's is once chrooted: `..` removes the previous
//! component without looking at the disk, so `/link/..` is `/` even when `link` is a symlink
//! to somewhere else. The result never goes above `/` (`/..` is `/`).
//! Differences from vsftpd, on purpose: vsftpd hands the argument to the kernel unresolved
//! (relative to its real cwd), so `NLST ~/sub` printed names as `//sub/x`; here `~/sub` is
//! `home + /sub`, normalized. `~user` is never expanded (vsftpd only does so with
//! `tilde_user_enable`, which rsftpd does not implement): it is an ordinary name.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::limits::PATH_MAX;

/// Why a client path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The argument (or the current or home directory) holds a NUL byte, which no system
    /// call can take. vsftpd turns a NUL on the control line into `\n`; rsftpd refuses it.
    Nul,
    /// The resolved path is longer than `limits::PATH_MAX` bytes.
    TooLong,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Nul => f.write_str("path contains a NUL byte"),
            PathError::TooLong => write!(f, "path longer than {PATH_MAX} bytes"),
        }
    }
}

impl std::error::Error for PathError {}

/// Resolves the client's path argument `arg` to an absolute, normalized virtual path.
///
/// - `cwd` is the current virtual directory, `home` the virtual home (both absolute and
///   normalized; the caller keeps them so).
/// - `~` alone and `~/rest` start from `home`; any other `~name` is an ordinary name.
/// - An absolute `arg` starts from `/`, a relative one from `cwd`; an empty `arg` is `cwd`.
/// - Empty components (`//`) and `.` vanish, `..` removes the previous component and never
///   goes above `/`.
/// - The result starts with `/` and has no trailing slash, except the root `/` itself.
///
/// Errors: a NUL byte anywhere ([`PathError::Nul`]), or a result longer than
/// `limits::PATH_MAX` ([`PathError::TooLong`]).
pub fn resolve(cwd: &[u8], arg: &[u8], home: &[u8]) -> Result<Vec<u8>, PathError> {
    // SECURITY: a NUL would silently truncate the path at the system-call boundary.
    if arg.contains(&0) || cwd.contains(&0) || home.contains(&0) {
        return Err(PathError::Nul);
    }
    let (base, rest): (&[u8], &[u8]) = if arg == b"~" {
        (home, b"")
    } else if arg.starts_with(b"~/") {
        (home, &arg[1..])
    } else if arg.first() == Some(&b'/') {
        (b"/", arg)
    } else {
        (cwd, arg)
    };
    // Components as slices of `base` and `rest`; `..` pops, so nothing ever goes above `/`.
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in base.split(|&b| b == b'/').chain(rest.split(|&b| b == b'/')) {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    let len: usize = if parts.is_empty() {
        1
    } else {
        parts.iter().map(|p| p.len() + 1).sum()
    };
    if len > PATH_MAX {
        return Err(PathError::TooLong);
    }
    let mut out = Vec::with_capacity(len);
    if parts.is_empty() {
        out.push(b'/');
    }
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    Ok(out)
}

/// Maps the virtual path `virt` onto the real file system below `root`.
///
/// With `root` = `/` the virtual path is the real one (the session is chrooted, or serves
/// the whole tree). Otherwise the result is `root` joined with `virt` minus its leading
/// slash; the root itself maps to `root`.
///
/// `virt` should come from [`resolve`]. Defensively, empty, `.` and `..` components are
/// dropped here too, so even a malformed `virt` cannot name anything outside `root`.
pub fn to_real(root: &Path, virt: &[u8]) -> PathBuf {
    let mut out = root.to_path_buf();
    for comp in virt.split(|&b| b == b'/') {
        // SECURITY: `..` here would climb out of `root` (resolve never leaves one, but this
        // is the last line before the file system).
        if comp.is_empty() || comp == b"." || comp == b".." {
            continue;
        }
        out.push(OsStr::from_bytes(comp));
    }
    out
}

/// Quotes a path for a 257 reply (PWD, MKD) as RFC 959 and vsftpd do: the path between
/// double quotes, each embedded `"` doubled. `/a"b` gives `"/a""b"`, so the full reply is
/// `257 "/a""b" is the current directory`.
///
/// Only quoting happens here; the control-channel writer still has to deal with CR, LF and
/// `\377` in the text (vsftpd sends `\n` as NUL and doubles `\377`).
pub fn quote_257(path: &[u8]) -> Vec<u8> {
    let extra = path.iter().filter(|&&b| b == b'"').count();
    let mut out = Vec::with_capacity(path.len() + extra + 2);
    out.push(b'"');
    for &b in path {
        out.push(b);
        if b == b'"' {
            out.push(b'"');
        }
    }
    out.push(b'"');
    out
}

/// Splits a normalized absolute virtual path into its parent directory and last component:
/// `/a/b` gives (`/a`, `b`), `/a` gives (`/`, `a`), and `/` gives (`/`, empty).
///
/// A path without any slash (not produced by [`resolve`]) gives (empty, the path).
pub fn parent_and_name(virt: &[u8]) -> (&[u8], &[u8]) {
    match virt.iter().rposition(|&b| b == b'/') {
        None => (&virt[..0], virt),
        Some(0) => (&virt[..1], &virt[1..]),
        Some(i) => (&virt[..i], &virt[i + 1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cwd: &str, arg: &str, home: &str) -> String {
        String::from_utf8(resolve(cwd.as_bytes(), arg.as_bytes(), home.as_bytes()).unwrap())
            .unwrap()
    }

    #[test]
    fn relative_and_absolute() {
        assert_eq!(r("/", "a", "/"), "/a");
        assert_eq!(r("/a/b", "c", "/"), "/a/b/c");
        assert_eq!(r("/a/b", "/c", "/"), "/c");
        assert_eq!(r("/a/b", "", "/"), "/a/b");
        assert_eq!(r("/", "", "/"), "/");
        assert_eq!(r("/a", "c/d/e", "/"), "/a/c/d/e");
    }

    #[test]
    fn dots_and_slashes_collapse() {
        assert_eq!(r("/a/b", "..", "/"), "/a");
        assert_eq!(r("/a/b", "../..", "/"), "/");
        assert_eq!(r("/a/b", "../../../../..", "/"), "/");
        assert_eq!(r("/", "/..", "/"), "/");
        assert_eq!(r("/", "..", "/"), "/");
        assert_eq!(r("/", "/../../etc/passwd", "/"), "/etc/passwd");
        assert_eq!(r("/a", "./b/./c/", "/"), "/a/b/c");
        assert_eq!(r("/a", "b//c///", "/"), "/a/b/c");
        assert_eq!(r("/", "//", "/"), "/");
        assert_eq!(r("/", "///x//", "/"), "/x");
        assert_eq!(r("/a", "b/../c", "/"), "/a/c");
        assert_eq!(r("/a", "sub/../sub", "/"), "/a/sub");
        assert_eq!(r("/a", ".", "/"), "/a");
        assert_eq!(r("/a", "...", "/"), "/a/...");
        assert_eq!(r("/a", "..x", "/"), "/a/..x");
    }

    #[test]
    fn tilde() {
        assert_eq!(r("/x", "~", "/home/u"), "/home/u");
        assert_eq!(r("/x", "~/", "/home/u"), "/home/u");
        assert_eq!(r("/x", "~/sub", "/"), "/sub");
        assert_eq!(r("/x", "~/sub/../..", "/home/u"), "/home");
        assert_eq!(r("/x", "~/../../..", "/home/u"), "/");
        // ~user is not expanded: an ordinary relative name.
        assert_eq!(r("/x", "~root", "/home/u"), "/x/~root");
        assert_eq!(r("/x", "~root/a", "/home/u"), "/x/~root/a");
        // A tilde not at the start is an ordinary byte too.
        assert_eq!(r("/x", "a/~", "/home/u"), "/x/a/~");
        assert_eq!(r("/x", "/~", "/home/u"), "/~");
    }

    #[test]
    fn non_utf8_and_odd_bytes_survive() {
        let out = resolve(b"/d", b"\xff\xfe name\r\n", b"/").unwrap();
        assert_eq!(out, b"/d/\xff\xfe name\r\n");
        assert_eq!(resolve(b"/", b"a\\b", b"/").unwrap(), b"/a\\b");
    }

    #[test]
    fn nul_refused() {
        assert_eq!(resolve(b"/", b"a\0b", b"/"), Err(PathError::Nul));
        assert_eq!(resolve(b"/", b"\0", b"/"), Err(PathError::Nul));
        assert_eq!(resolve(b"/a\0", b"x", b"/"), Err(PathError::Nul));
        assert_eq!(resolve(b"/", b"~", b"/h\0"), Err(PathError::Nul));
    }

    #[test]
    fn length_limit_applies_to_the_result() {
        // Exactly PATH_MAX is fine, one more is not.
        let name = vec![b'n'; PATH_MAX - 1];
        assert_eq!(resolve(b"/", &name, b"/").unwrap().len(), PATH_MAX);
        let name = vec![b'n'; PATH_MAX];
        assert_eq!(resolve(b"/", &name, b"/"), Err(PathError::TooLong));
        // Long relative to a cwd.
        let cwd = [b"/".as_slice(), &vec![b'c'; 3000]].concat();
        assert_eq!(
            resolve(&cwd, &vec![b'a'; 1200], b"/"),
            Err(PathError::TooLong)
        );
        // A long argument that resolves short is fine.
        let arg = b"a/../".repeat(2000);
        assert!(arg.len() > PATH_MAX);
        assert_eq!(resolve(b"/x", &arg, b"/").unwrap(), b"/x");
    }

    #[test]
    fn always_absolute_and_normalized() {
        let args: [&[u8]; 12] = [
            b"",
            b".",
            b"..",
            b"/",
            b"//",
            b"a/",
            b"/a/",
            b"~",
            b"~/",
            b"./..//./a/.",
            b"../a/../b",
            b"a/b/c/../../..",
        ];
        for a in args {
            let out = resolve(b"/p/q", a, b"/h").unwrap();
            assert_eq!(out[0], b'/');
            assert!(out == b"/" || !out.ends_with(b"/"), "{:?}", out);
            assert!(!out.windows(2).any(|w| w == b"//"));
            let again = resolve(b"/", &out, b"/").unwrap();
            assert_eq!(again, out, "idempotent");
            for c in out.split(|&b| b == b'/') {
                assert!(c != b"." && c != b"..");
            }
        }
    }

    #[test]
    fn to_real_maps_below_root() {
        assert_eq!(to_real(Path::new("/"), b"/a/b"), PathBuf::from("/a/b"));
        assert_eq!(to_real(Path::new("/"), b"/"), PathBuf::from("/"));
        assert_eq!(
            to_real(Path::new("/srv/ftp"), b"/"),
            PathBuf::from("/srv/ftp")
        );
        assert_eq!(
            to_real(Path::new("/srv/ftp"), b"/pub/x"),
            PathBuf::from("/srv/ftp/pub/x")
        );
        // Defensive: a malformed virtual path still stays below root.
        assert_eq!(
            to_real(Path::new("/srv/ftp"), b"/../../etc"),
            PathBuf::from("/srv/ftp/etc")
        );
        assert_eq!(
            to_real(Path::new("/srv/ftp"), b"../x/./y"),
            PathBuf::from("/srv/ftp/x/y")
        );
        assert_eq!(to_real(Path::new("/"), b"/../etc"), PathBuf::from("/etc"));
        // Non-UTF-8 bytes pass through untouched.
        let p = to_real(Path::new("/r"), b"/\xff");
        assert_eq!(p.as_os_str().as_bytes(), b"/r/\xff");
    }

    #[test]
    fn quoting_for_257() {
        assert_eq!(quote_257(b"/"), b"\"/\"");
        assert_eq!(quote_257(b"/a\"b"), b"\"/a\"\"b\"");
        assert_eq!(quote_257(b"/files/d\"q"), b"\"/files/d\"\"q\"");
        assert_eq!(quote_257(b"\"\""), b"\"\"\"\"\"\"");
        assert_eq!(quote_257(b""), b"\"\"");
        assert_eq!(quote_257(b"/sp ace"), b"\"/sp ace\"");
    }

    #[test]
    fn parent_and_last_component() {
        assert_eq!(parent_and_name(b"/a/b"), (&b"/a"[..], &b"b"[..]));
        assert_eq!(parent_and_name(b"/a"), (&b"/"[..], &b"a"[..]));
        assert_eq!(parent_and_name(b"/"), (&b"/"[..], &b""[..]));
        assert_eq!(parent_and_name(b"/a/b/c d"), (&b"/a/b"[..], &b"c d"[..]));
        assert_eq!(parent_and_name(b"x"), (&b""[..], &b"x"[..]));
    }
}
