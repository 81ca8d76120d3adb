//! Machine listings (RFC 3659 MLST and MLSD), their FEAT line and `OPTS MLST`, the `perm`
//! fact, and the MFMT argument (draft-somers-ftp-mfxx).
//!
//! Owns: the bytes of every MLST/MLSD entry: `fact=value;` for each enabled fact, in the
//! FEAT order (type, size, modify, perm, unique, unix.mode, unix.owner, unix.group), one
//! space, then the name as raw bytes. The caller adds CR LF (MLSD) or the leading space of
//! an MLST reply line. `modify` is UTC `YYYYMMDDHHMMSS` (never use_localtime, as RFC 3659
//! requires); `size` only for regular files; owner and group as numbers (the session is
//! jailed and looks up no names), and not offered at all with hide_ids=YES.
//! Trusts: nothing from the client (OPTS MLST lists and MFMT arguments are parsed with
//! bounded work; unknown facts are ignored). Stat data, the session's identity and its
//! write rights come from the caller. A name holding CR or LF could forge entries (and a
//! line on the control connection), so `listable_name` says which names may be listed at
//! all: the callers skip the others.
//! Run by: the post-login session (MLST, OPTS MLST, MFMT, FEAT) and its transfer children
//! (MLSD).

use super::listing;

use super::listing::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};

/// One fact rsftpd can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    Type,
    Size,
    Modify,
    Perm,
    Unique,
    UnixMode,
    UnixOwner,
    UnixGroup,
}

/// Every fact, in the order of the FEAT line and of each entry.
pub const ALL: [Fact; 8] = [
    Fact::Type,
    Fact::Size,
    Fact::Modify,
    Fact::Perm,
    Fact::Unique,
    Fact::UnixMode,
    Fact::UnixOwner,
    Fact::UnixGroup,
];

impl Fact {
    /// The fact's name as rsftpd writes it (clients compare names case-insensitively).
    pub fn name(self) -> &'static str {
        match self {
            Fact::Type => "type",
            Fact::Size => "size",
            Fact::Modify => "modify",
            Fact::Perm => "perm",
            Fact::Unique => "unique",
            Fact::UnixMode => "unix.mode",
            Fact::UnixOwner => "unix.owner",
            Fact::UnixGroup => "unix.group",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of facts: what the server offers, or what a session has chosen with OPTS MLST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts(u8);

impl Facts {
    pub const NONE: Facts = Facts(0);

    /// The facts this server offers: all of them, except that hide_ids=YES takes
    /// unix.owner and unix.group away (LIST shows `ftp` there, which is no number; not
    /// offering them hides the ids without misleading a client that parses numbers).
    pub fn supported(hide_ids: bool) -> Facts {
        ALL.iter()
            .filter(|f| !hide_ids || !matches!(f, Fact::UnixOwner | Fact::UnixGroup))
            .fold(Facts::NONE, |s, f| s.with(*f))
    }

    pub fn contains(self, f: Fact) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn with(self, f: Fact) -> Facts {
        Facts(self.0 | f.bit())
    }

    /// The FEAT line: ` MLST ` then every supported fact followed by `;`, with `*` after
    /// the enabled ones (RFC 3659 section 7.8).
    pub fn feat_line(self, supported: Facts) -> Vec<u8> {
        let mut out = b" MLST ".to_vec();
        for f in ALL.iter().filter(|f| supported.contains(**f)) {
            out.extend_from_slice(f.name().as_bytes());
            if self.contains(*f) {
                out.push(b'*');
            }
            out.push(b';');
        }
        out
    }

    /// `OPTS MLST` with `list` (what follows `MLST`, possibly empty): the named facts that
    /// are supported, in any case; unknown names are ignored and an empty list enables
    /// none (RFC 3659 section 7.9).
    pub fn parse_opts(list: &[u8], supported: Facts) -> Facts {
        list.split(|&b| b == b';')
            .map(|n| n.trim_ascii())
            .filter_map(|n| {
                ALL.iter()
                    .find(|f| f.name().as_bytes().eq_ignore_ascii_case(n))
            })
            .filter(|f| supported.contains(**f))
            .fold(Facts::NONE, |s, f| s.with(*f))
    }

    /// The text of the 200 reply to OPTS MLST: `MLST OPTS` and the enabled facts, each
    /// followed by `;`.
    pub fn opts_reply(self) -> String {
        let mut s = String::from("MLST OPTS");
        if self != Facts::NONE {
            s.push(' ');
        }
        for f in ALL.iter().filter(|f| self.contains(**f)) {
            s.push_str(f.name());
            s.push(';');
        }
        s
    }
}

/// What the permission rules need of a file: its mode (with the type bits) and owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// One object as MLST and MLSD describe it: a symlink's target (stat), or the link itself
/// (lstat) when the target cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object<'a> {
    pub name: &'a [u8],
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// UTC seconds since the epoch.
    pub mtime: i64,
    pub dev: u64,
    pub ino: u64,
}

impl Object<'_> {
    pub fn node(&self) -> Node {
        Node {
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
        }
    }
}

/// Who the session acts as, and what its configuration lets it do: the inputs of the
/// `perm` fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Effective uid (0: the kernel's root rules).
    pub uid: u32,
    /// Effective gid and supplementary groups.
    pub groups: Vec<u32>,
    /// download_enable: RETR.
    pub download: bool,
    /// dirlist_enable: LIST, NLST, MLSD.
    pub list: bool,
    /// STOR/STOU of a new file (write_enable; anonymous: anon_upload_enable).
    pub upload: bool,
    /// STOR over an existing file (upload, and for anonymous anon_other_write_enable:
    /// a drop box never overwrites).
    pub overwrite: bool,
    /// MKD (write_enable; anonymous: anon_mkdir_write_enable).
    pub mkdir: bool,
    /// APPE, DELE, RMD, RNFR/RNTO (write_enable; anonymous: anon_other_write_enable).
    pub other: bool,
    /// Anonymous with anon_world_readable_only: only world-readable files are fetched and
    /// only world-readable directories listed.
    pub world_readable_only: bool,
}

const R: u32 = 4;
const W: u32 = 2;
const X: u32 = 1;

impl Access {
    /// The kernel's check for one permission bit: owner class, else group class, else
    /// other (each class excludes the later ones); root reads and writes anything and
    /// searches directories and files with any x bit.
    fn may(&self, n: Node, bit: u32) -> bool {
        if self.uid == 0 {
            return bit != X || n.mode & S_IFMT == S_IFDIR || n.mode & 0o111 != 0;
        }
        let shift = if n.uid == self.uid {
            6
        } else if self.groups.contains(&n.gid) {
            3
        } else {
            0
        };
        (n.mode >> shift) & bit != 0
    }

    /// May an entry of `parent` be removed or renamed: write and search on the directory,
    /// and with the sticky bit, owning the entry or the directory.
    fn may_unlink(&self, parent: Node, entry: Node) -> bool {
        self.may(parent, W)
            && self.may(parent, X)
            && (parent.mode & 0o1000 == 0
                || self.uid == 0
                || self.uid == entry.uid
                || self.uid == parent.uid)
    }

    /// The `perm` fact of `o` (RFC 3659 section 7.5.5), as letters in alphabetical order.
    /// Files: a (APPE), d (DELE), f (RNFR), r (RETR), w (STOR). Directories: c (create
    /// files in it), d (RMD), e (CWD), f (RNFR), l (list), m (MKD in it), p (delete its
    /// entries). `parent` is the directory holding `o` (None: none the client can reach,
    /// as for `/`); `denied`: deny_file forbids the name, so no command works on it.
    pub fn perm(&self, o: Node, parent: Option<Node>, denied: bool) -> Vec<u8> {
        let mut p = Vec::with_capacity(7);
        if denied {
            return p;
        }
        let removable = self.other && parent.is_some_and(|d| self.may_unlink(d, o));
        let world_ok = !self.world_readable_only || o.mode & 0o004 != 0;
        match o.mode & S_IFMT {
            S_IFREG => {
                let writable = self.may(o, W);
                let letters = [
                    (b'a', self.other && writable),
                    (b'd', removable),
                    (b'f', removable),
                    (b'r', self.download && self.may(o, R) && world_ok),
                    (b'w', self.overwrite && writable),
                ];
                p.extend(letters.iter().filter(|l| l.1).map(|l| l.0));
            }
            S_IFDIR => {
                let enter = self.may(o, X);
                let change = self.may(o, W) && enter;
                let letters = [
                    (b'c', self.upload && change),
                    (b'd', removable),
                    (b'e', enter),
                    (b'f', removable),
                    (b'l', self.list && self.may(o, R) && enter && world_ok),
                    (b'm', self.mkdir && change),
                    (b'p', self.other && change),
                ];
                p.extend(letters.iter().filter(|l| l.1).map(|l| l.0));
            }
            // Symlinks that lead nowhere, FIFOs, sockets, devices: only removed or renamed.
            _ => {
                if removable {
                    p.extend_from_slice(b"df");
                }
            }
        }
        p
    }
}

/// May this name appear in a machine listing? A CR or LF would end the entry early and let
/// the rest of the name forge entries (or, in MLST, a reply line); such names are skipped.
pub fn listable_name(name: &[u8]) -> bool {
    !name.iter().any(|&b| b == b'\r' || b == b'\n')
}

/// How an object relates to the listing it appears in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An entry of MLSD, or the object MLST names.
    Entry,
    /// The directory MLSD lists (`type=cdir`).
    ListedDir,
}

fn type_value(mode: u32, role: Role) -> &'static str {
    match mode & S_IFMT {
        S_IFDIR if role == Role::ListedDir => "cdir",
        S_IFDIR => "dir",
        S_IFREG => "file",
        // A symlink is shown as itself only when its target cannot be reached.
        S_IFLNK => "OS.unix=symlink",
        S_IFIFO => "OS.unix=fifo",
        S_IFSOCK => "OS.unix=socket",
        S_IFBLK => "OS.unix=blkdev",
        S_IFCHR => "OS.unix=chrdev",
        _ => "OS.unix=unknown",
    }
}

/// Write one entry: the enabled facts, a space, the name (no line ending).
pub fn format_entry(o: &Object, role: Role, facts: Facts, perm: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    for f in ALL {
        if !facts.contains(f) {
            continue;
        }
        // Writing into a Vec cannot fail.
        let _ = match f {
            Fact::Type => write!(out, "type={};", type_value(o.mode, role)),
            Fact::Size if o.mode & S_IFMT == S_IFREG => write!(out, "size={};", o.size),
            Fact::Size => Ok(()),
            // A time that does not fit YYYYMMDDHHMMSS (before year 0, after 9999) is left
            // out rather than shown malformed.
            Fact::Modify if (-62_167_219_200..=253_402_300_799).contains(&o.mtime) => {
                write!(out, "modify={};", listing::format_mdtm(o.mtime))
            }
            Fact::Modify => Ok(()),
            Fact::Perm => {
                out.extend_from_slice(b"perm=");
                out.extend_from_slice(perm);
                out.push(b';');
                Ok(())
            }
            Fact::Unique => write!(out, "unique={:x}g{:x};", o.dev, o.ino),
            Fact::UnixMode => write!(out, "unix.mode={:04o};", o.mode & 0o7777),
            Fact::UnixOwner => write!(out, "unix.owner={};", o.uid),
            Fact::UnixGroup => write!(out, "unix.group={};", o.gid),
        };
    }
    out.push(b' ');
    out.extend_from_slice(o.name);
}

/// The MFMT argument `YYYYMMDDHHMMSS[.fraction] SP path`: (UTC seconds, path). The
/// fraction is accepted and dropped (file times are set to the second).
pub fn parse_mfmt(arg: &[u8]) -> Option<(i64, &[u8])> {
    let sp = arg.iter().position(|&b| b == b' ')?;
    let (time, path) = (&arg[..sp], &arg[sp + 1..]);
    if path.is_empty() {
        return None;
    }
    let (whole, frac) = match time.iter().position(|&b| b == b'.') {
        Some(dot) => (&time[..dot], Some(&time[dot + 1..])),
        None => (time, None),
    };
    if let Some(f) = frac {
        if f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    Some((listing::parse_mdtm(whole)?, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> Access {
        Access {
            uid: 1000,
            groups: vec![1000, 27],
            download: true,
            list: true,
            upload: true,
            overwrite: true,
            mkdir: true,
            other: true,
            world_readable_only: false,
        }
    }

    /// Anonymous without any write key: reads only.
    fn anonymous() -> Access {
        Access {
            uid: 107,
            groups: vec![113],
            download: true,
            list: true,
            upload: false,
            overwrite: false,
            mkdir: false,
            other: false,
            world_readable_only: true,
        }
    }

    fn node(mode: u32, uid: u32, gid: u32) -> Node {
        Node { mode, uid, gid }
    }

    fn line(o: &Object, role: Role, facts: Facts, perm: &[u8]) -> String {
        let mut out = Vec::new();
        format_entry(o, role, facts, perm, &mut out);
        String::from_utf8(out).unwrap()
    }

    const FILE: Object = Object {
        name: b"hello.txt",
        mode: S_IFREG | 0o644,
        uid: 1000,
        gid: 100,
        size: 6,
        mtime: 1_577_880_000,
        dev: 0x803,
        ino: 0x2b5a,
    };

    #[test]
    fn entries_have_every_fact_in_feat_order() {
        assert_eq!(
            line(&FILE, Role::Entry, Facts::supported(false), b"adfrw"),
            "type=file;size=6;modify=20200101120000;perm=adfrw;unique=803g2b5a;\
             unix.mode=0644;unix.owner=1000;unix.group=100; hello.txt"
        );
        let dir = Object {
            name: b".",
            mode: S_IFDIR | 0o2755,
            size: 4096,
            ..FILE
        };
        // Directories have no size; the listed one is cdir; set-id bits show in the mode.
        assert_eq!(
            line(&dir, Role::ListedDir, Facts::supported(true), b"el"),
            "type=cdir;modify=20200101120000;perm=el;unique=803g2b5a;unix.mode=2755; ."
        );
        assert_eq!(
            line(
                &Object {
                    name: b"sub",
                    ..dir
                },
                Role::Entry,
                Facts::supported(true),
                b""
            ),
            "type=dir;modify=20200101120000;perm=;unique=803g2b5a;unix.mode=2755; sub"
        );
    }

    #[test]
    fn chosen_facts_only_and_names_as_bytes() {
        let facts = Facts::NONE.with(Fact::Size).with(Fact::Type);
        let o = Object {
            name: b"caf\xe9 \xff;x=1; y",
            ..FILE
        };
        let mut out = Vec::new();
        format_entry(&o, Role::Entry, facts, b"", &mut out);
        assert_eq!(out, b"type=file;size=6; caf\xe9 \xff;x=1; y");
        // No facts at all: the entry is a space and the name (RFC 3659 `[facts] SP name`).
        let mut out = Vec::new();
        format_entry(&o, Role::Entry, Facts::NONE, b"", &mut out);
        assert_eq!(out, b" caf\xe9 \xff;x=1; y");
    }

    #[test]
    fn special_types_and_out_of_range_times() {
        let f = Facts::NONE
            .with(Fact::Type)
            .with(Fact::Size)
            .with(Fact::Modify);
        for (mode, t) in [
            (S_IFLNK | 0o777, "OS.unix=symlink"),
            (S_IFIFO | 0o644, "OS.unix=fifo"),
            (S_IFSOCK | 0o755, "OS.unix=socket"),
            (S_IFBLK | 0o660, "OS.unix=blkdev"),
            (S_IFCHR | 0o666, "OS.unix=chrdev"),
        ] {
            let o = Object { mode, ..FILE };
            assert_eq!(
                line(&o, Role::Entry, f, b""),
                format!("type={t};modify=20200101120000; hello.txt")
            );
        }
        for mtime in [i64::MIN, -62_167_219_201, 253_402_300_800, i64::MAX] {
            let o = Object { mtime, ..FILE };
            assert_eq!(line(&o, Role::Entry, f, b""), "type=file;size=6; hello.txt");
        }
        let o = Object {
            mtime: -62_167_219_200,
            ..FILE
        };
        assert_eq!(
            line(&o, Role::Entry, f, b""),
            "type=file;size=6;modify=00000101000000; hello.txt"
        );
    }

    #[test]
    fn feat_line_and_opts() {
        let all = Facts::supported(false);
        assert_eq!(
            all.feat_line(all),
            b" MLST type*;size*;modify*;perm*;unique*;unix.mode*;unix.owner*;unix.group*;"
        );
        let hidden = Facts::supported(true);
        assert_eq!(
            hidden.feat_line(hidden),
            b" MLST type*;size*;modify*;perm*;unique*;unix.mode*;"
        );
        let chosen = Facts::parse_opts(b"Size;TYPE;bogus;;unix.owner; modify ;", hidden);
        assert_eq!(
            chosen,
            Facts::NONE
                .with(Fact::Type)
                .with(Fact::Size)
                .with(Fact::Modify)
        );
        assert_eq!(chosen.opts_reply(), "MLST OPTS type;size;modify;");
        assert_eq!(
            chosen.feat_line(hidden),
            b" MLST type*;size*;modify*;perm;unique;unix.mode;"
        );
        assert_eq!(Facts::parse_opts(b"", all), Facts::NONE);
        assert_eq!(Facts::NONE.opts_reply(), "MLST OPTS");
        assert_eq!(
            Facts::parse_opts(b"unix.group", all).opts_reply(),
            "MLST OPTS unix.group;"
        );
        // Every fact name round-trips.
        let names: Vec<&str> = ALL.iter().map(|f| f.name()).collect();
        assert_eq!(Facts::parse_opts(names.join(";").as_bytes(), all), all);
    }

    #[test]
    fn perm_for_a_local_user() {
        let a = access();
        let home = node(S_IFDIR | 0o755, 1000, 1000);
        // Own file in own directory: everything.
        assert_eq!(
            a.perm(node(S_IFREG | 0o644, 1000, 1000), Some(home), false),
            b"adfrw"
        );
        // Someone else's read-only file in own directory: read, delete, rename.
        assert_eq!(
            a.perm(node(S_IFREG | 0o644, 0, 0), Some(home), false),
            b"dfr"
        );
        // Not readable by others.
        assert_eq!(
            a.perm(node(S_IFREG | 0o600, 0, 0), Some(home), false),
            b"df"
        );
        // Group class: writable by the group, and the owner class excludes the others.
        assert_eq!(
            a.perm(node(S_IFREG | 0o424, 5, 27), Some(home), false),
            b"adfw"
        );
        assert_eq!(
            a.perm(node(S_IFREG | 0o066, 1000, 0), Some(home), false),
            b"df"
        );
        // Root's directory: nothing removable.
        let root_dir = node(S_IFDIR | 0o755, 0, 0);
        assert_eq!(
            a.perm(node(S_IFREG | 0o644, 0, 0), Some(root_dir), false),
            b"r"
        );
        assert_eq!(
            a.perm(node(S_IFDIR | 0o755, 0, 0), Some(root_dir), false),
            b"el"
        );
        assert_eq!(a.perm(home, Some(root_dir), false), b"celmp");
        assert_eq!(a.perm(home, None, false), b"celmp");
        // Sticky /tmp: only one's own entries go.
        let tmp = node(S_IFDIR | 0o1777, 0, 0);
        assert_eq!(
            a.perm(node(S_IFREG | 0o666, 0, 0), Some(tmp), false),
            b"arw"
        );
        assert_eq!(
            a.perm(node(S_IFREG | 0o644, 1000, 0), Some(tmp), false),
            b"adfrw"
        );
        // A directory one may list but not enter is not listable either.
        assert_eq!(
            a.perm(node(S_IFDIR | 0o744, 0, 0), Some(home), false),
            b"df"
        );
        // deny_file: nothing at all.
        assert_eq!(
            a.perm(node(S_IFREG | 0o644, 1000, 1000), Some(home), true),
            b""
        );
        // Dangling symlinks and FIFOs: only removal and renaming.
        assert_eq!(
            a.perm(node(S_IFLNK | 0o777, 1000, 1000), Some(home), false),
            b"df"
        );
        assert_eq!(
            a.perm(node(S_IFIFO | 0o666, 0, 0), Some(root_dir), false),
            b""
        );
    }

    #[test]
    fn perm_for_anonymous() {
        let a = anonymous();
        let root = node(S_IFDIR | 0o755, 0, 0);
        // Read-only anonymous: r, e and l only, even where the modes would allow more.
        assert_eq!(
            a.perm(node(S_IFREG | 0o666, 107, 113), Some(root), false),
            b"r"
        );
        assert_eq!(
            a.perm(node(S_IFDIR | 0o777, 107, 113), Some(root), false),
            b"el"
        );
        // anon_world_readable_only: not world-readable means not fetched, not listed.
        assert_eq!(
            a.perm(node(S_IFREG | 0o640, 0, 113), Some(root), false),
            b""
        );
        assert_eq!(
            a.perm(node(S_IFDIR | 0o751, 0, 113), Some(root), false),
            b"e"
        );
        // A drop box (0733, uploads allowed): create files, enter; never list.
        let upload = Access {
            upload: true,
            ..anonymous()
        };
        assert_eq!(
            upload.perm(node(S_IFDIR | 0o733, 0, 0), Some(root), false),
            b"ce"
        );
        // anon_mkdir_write_enable adds m; anon_other_write_enable adds the rest.
        let all = Access {
            upload: true,
            overwrite: true,
            mkdir: true,
            other: true,
            world_readable_only: false,
            ..anonymous()
        };
        assert_eq!(
            all.perm(node(S_IFDIR | 0o777, 0, 0), Some(root), false),
            b"celmp"
        );
        let dropbox = node(S_IFDIR | 0o777, 0, 0);
        assert_eq!(
            all.perm(node(S_IFREG | 0o644, 107, 0), Some(dropbox), false),
            b"adfrw"
        );
        // The kernel still decides: a root-owned 0644 file is not writable by anonymous.
        assert_eq!(
            all.perm(node(S_IFREG | 0o644, 0, 0), Some(dropbox), false),
            b"dfr"
        );
    }

    #[test]
    fn perm_for_root() {
        let a = Access {
            uid: 0,
            groups: vec![0],
            ..access()
        };
        // No permission bits at all, someone else's: root may still do everything.
        let d = node(S_IFDIR, 5, 5);
        assert_eq!(a.perm(node(S_IFREG, 5, 5), Some(d), false), b"adfrw");
        assert_eq!(a.perm(d, Some(d), false), b"cdeflmp");
    }

    #[test]
    fn names_with_line_breaks_are_not_listable() {
        assert!(listable_name(b"plain \xff\xfe name"));
        assert!(!listable_name(b"a\r\n226 forged"));
        assert!(!listable_name(b"a\nb"));
        assert!(!listable_name(b"a\rb"));
    }

    #[test]
    fn mfmt_arguments() {
        assert_eq!(
            parse_mfmt(b"20200101120000 a b.txt"),
            Some((1_577_880_000, &b"a b.txt"[..]))
        );
        assert_eq!(
            parse_mfmt(b"20200101120000.123 x"),
            Some((1_577_880_000, &b"x"[..]))
        );
        for bad in [
            &b"20200101120000"[..],
            b"20200101120000 ",
            b"2020010112000 x",
            b"20200101120000. x",
            b"20200101120000.1a x",
            b"20201301120000 x",
            b"x 20200101120000",
            b"",
        ] {
            assert_eq!(parse_mfmt(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
