//! Directory listings for LIST, NLST and `STAT path`: read the directory (or one file),
//! filter hidden names and globs, sort like vsftpd, and write `ls -l` lines (or names)
//! through proto::listing. Runs in a transfer child (LIST/NLST) or in the post-login
//! session (STAT), inside the user's jail and with the user's identity.

use crate::limits;
use crate::proto::{glob, listing};
use std::fs::Metadata;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// What to list.
#[derive(Debug, Clone)]
pub enum Target {
    /// A directory's entries, optionally only those matching a glob pattern.
    Dir {
        real: PathBuf,
        pattern: Option<Vec<u8>>,
    },
    /// One file, shown under `name`.
    File { real: PathBuf, name: Vec<u8> },
}

#[derive(Debug, Clone)]
pub struct ListJob {
    pub target: Target,
    /// LIST (long format) or NLST (names only).
    pub long: bool,
    /// `-a`: dot files, `.` and `..`.
    pub all: bool,
    /// force_dot_files: dot files without `-a` (but not `.` and `..`).
    pub force_dot_files: bool,
    pub reverse: bool,
    pub time_sort: bool,
    pub hide_ids: bool,
    pub use_localtime: bool,
    /// Prepended to each NLST name (the directory argument, as vsftpd does).
    pub prefix: Vec<u8>,
    /// SECURITY: anonymous sessions with anon_world_readable_only list only directories
    /// that are world-readable.
    pub require_world_readable: bool,
    /// hide_file: entries whose name matches are not listed (still reachable by name).
    pub hide: Option<Vec<u8>>,
    /// SECURITY: entries owned by this uid are not listed (the anonymous account's own
    /// uploads, so a drop box never shows what was dropped).
    pub hide_uid: Option<u32>,
    pub now: i64,
}

#[derive(Debug)]
pub enum ListError {
    /// The directory could not be opened (the client gets 226 "failed to open directory").
    OpenDir,
    /// The glob pattern ran out of matching budget.
    TooComplex,
    /// Writing to the data connection failed.
    Write(io::Error),
}

/// One listed entry, compact: a listing of a million names must not need a Metadata
/// (and two allocations) per name. Names and link targets live in `Rows::arena`.
#[derive(Clone, Copy)]
struct Row {
    name: (u32, u32),
    target: (u32, u32),
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    size: u64,
    mtime: i64,
}

#[derive(Default)]
struct Rows {
    arena: Vec<u8>,
    rows: Vec<Row>,
}

impl Rows {
    fn store(&mut self, bytes: &[u8]) -> (u32, u32) {
        let at = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        (at, bytes.len() as u32)
    }

    fn bytes(&self, (at, len): (u32, u32)) -> &[u8] {
        &self.arena[at as usize..(at + len) as usize]
    }

    /// Add an entry; the link target is read only for symlinks in long listings.
    fn push(&mut self, name: &[u8], md: &Metadata, link: Option<&std::path::Path>) {
        let name = self.store(name);
        let target = match link {
            Some(p) if md.file_type().is_symlink() => match std::fs::read_link(p) {
                Ok(t) => self.store(t.as_os_str().as_bytes()),
                Err(_) => (0, 0),
            },
            _ => (0, 0),
        };
        self.rows.push(Row {
            name,
            target,
            mode: md.mode(),
            uid: md.uid(),
            gid: md.gid(),
            nlink: md.nlink(),
            size: md.size(),
            mtime: md.mtime(),
        });
    }
}

/// Produce the listing into `out`.
pub fn produce(job: &ListJob, out: &mut dyn Write) -> Result<(), ListError> {
    let mut rows = Rows::default();
    match &job.target {
        Target::File { real, name } => {
            let md = std::fs::symlink_metadata(real).map_err(|_| ListError::OpenDir)?;
            // SECURITY: an upload named directly is as hidden as in its directory's
            // listing, or `LIST name` would show a drop box's file, size and time.
            if job.hide_uid != Some(md.uid()) {
                rows.push(name, &md, job.long.then_some(real.as_path()));
            }
        }
        Target::Dir { real, pattern } => {
            let dmd = std::fs::metadata(real).map_err(|_| ListError::OpenDir)?;
            if job.require_world_readable && dmd.mode() & 0o004 == 0 {
                return Err(ListError::OpenDir);
            }
            let rd = std::fs::read_dir(real).map_err(|_| ListError::OpenDir)?;
            if job.all && pattern.is_none() {
                for dot in [&b"."[..], &b".."[..]] {
                    let p = real.join(std::ffi::OsStr::from_bytes(dot));
                    if let Ok(md) = std::fs::symlink_metadata(&p) {
                        rows.push(dot, &md, job.long.then_some(p.as_path()));
                    }
                }
            }
            for ent in rd {
                let Ok(ent) = ent else { continue };
                let os_name = ent.file_name();
                let name = os_name.as_bytes();
                if !listing::is_shown(name, job.all, job.force_dot_files, pattern.as_deref()) {
                    continue;
                }
                if let Some(p) = pattern {
                    // The budget bounds one match (limits::GLOB_STEPS_MAX), as vsftpd
                    // bounds its matcher per name.
                    let mut budget = limits::GLOB_STEPS_MAX;
                    match glob::matches(p, name, &mut budget) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(_) => return Err(ListError::TooComplex),
                    }
                }
                if let Some(h) = &job.hide {
                    let mut budget = limits::GLOB_STEPS_MAX;
                    if glob::matches(h, name, &mut budget).unwrap_or(true) {
                        continue;
                    }
                }
                if rows.rows.len() >= limits::LIST_ENTRIES_MAX {
                    break;
                }
                // fstatat on the open directory, without following a symlink.
                let Ok(md) = ent.metadata() else {
                    continue;
                };
                if job.hide_uid == Some(md.uid()) {
                    continue;
                }
                let link = if job.long && md.file_type().is_symlink() {
                    Some(ent.path())
                } else {
                    None
                };
                rows.push(name, &md, link.as_deref());
            }
        }
    }
    let Rows {
        arena,
        rows: mut list,
    } = rows;
    let name_of = |r: &Row| &arena[r.name.0 as usize..(r.name.0 + r.name.1) as usize];
    if job.time_sort {
        list.sort_unstable_by(|a, b| {
            b.mtime
                .cmp(&a.mtime)
                .then_with(|| name_of(a).cmp(name_of(b)))
        });
    } else {
        list.sort_unstable_by(|a, b| name_of(a).cmp(name_of(b)));
    }
    if job.reverse {
        list.reverse();
    }
    let rows = Rows {
        arena,
        rows: Vec::new(),
    };
    let to_local = |t: i64| crate::sys::time::to_local(t);
    let style = listing::LsStyle {
        hide_ids: job.hide_ids,
        now: job.now,
        to_local: if job.use_localtime {
            Some(&to_local as &dyn Fn(i64) -> i64)
        } else {
            None
        },
        names: None,
    };
    let mut line = Vec::with_capacity(256);
    for r in &list {
        line.clear();
        let name = rows.bytes(r.name);
        if job.long {
            let e = listing::Entry {
                name,
                mode: r.mode,
                nlink: r.nlink,
                uid: r.uid,
                gid: r.gid,
                size: r.size,
                mtime: r.mtime,
                link_target: (r.target.1 > 0).then(|| rows.bytes(r.target)),
            };
            listing::format_long(&e, &style, &mut line);
        } else {
            line.extend_from_slice(&job.prefix);
            line.extend_from_slice(name);
            line.extend_from_slice(b"\r\n");
        }
        out.write_all(&line).map_err(ListError::Write)?;
    }
    Ok(())
}
