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

struct Item {
    name: Vec<u8>,
    md: Metadata,
    target: Option<Vec<u8>>,
}

fn item(name: Vec<u8>, path: &std::path::Path, md: Metadata, long: bool) -> Item {
    let target = if long && md.file_type().is_symlink() {
        std::fs::read_link(path)
            .ok()
            .map(|t| t.as_os_str().as_bytes().to_vec())
    } else {
        None
    };
    Item { name, md, target }
}

/// Produce the listing into `out`.
pub fn produce(job: &ListJob, out: &mut dyn Write) -> Result<(), ListError> {
    let mut items: Vec<Item> = Vec::new();
    match &job.target {
        Target::File { real, name } => {
            let md = std::fs::symlink_metadata(real).map_err(|_| ListError::OpenDir)?;
            // SECURITY: an upload named directly is as hidden as in its directory's
            // listing, or `LIST name` would show a drop box's file, size and time.
            if job.hide_uid != Some(md.uid()) {
                items.push(item(name.clone(), real, md, job.long));
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
                        items.push(item(dot.to_vec(), &p, md, job.long));
                    }
                }
            }
            for ent in rd {
                let Ok(ent) = ent else { continue };
                let name = ent.file_name().as_bytes().to_vec();
                if !listing::is_shown(&name, job.all, job.force_dot_files, pattern.as_deref()) {
                    continue;
                }
                if let Some(p) = pattern {
                    // The budget bounds one match (limits::GLOB_STEPS_MAX), as vsftpd
                    // bounds its matcher per name.
                    let mut budget = limits::GLOB_STEPS_MAX;
                    match glob::matches(p, &name, &mut budget) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(_) => return Err(ListError::TooComplex),
                    }
                }
                if let Some(h) = &job.hide {
                    let mut budget = limits::GLOB_STEPS_MAX;
                    if glob::matches(h, &name, &mut budget).unwrap_or(true) {
                        continue;
                    }
                }
                if items.len() >= limits::LIST_ENTRIES_MAX {
                    break;
                }
                let path = ent.path();
                let Ok(md) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if job.hide_uid == Some(md.uid()) {
                    continue;
                }
                items.push(item(name, &path, md, job.long));
            }
        }
    }
    if job.time_sort {
        items.sort_by(|a, b| {
            b.md.mtime()
                .cmp(&a.md.mtime())
                .then_with(|| a.name.cmp(&b.name))
        });
    } else {
        items.sort_by(|a, b| a.name.cmp(&b.name));
    }
    if job.reverse {
        items.reverse();
    }
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
    for it in &items {
        line.clear();
        if job.long {
            let e = listing::Entry {
                name: &it.name,
                mode: it.md.mode(),
                nlink: it.md.nlink(),
                uid: it.md.uid(),
                gid: it.md.gid(),
                size: it.md.size(),
                mtime: it.md.mtime(),
                link_target: it.target.as_deref(),
            };
            listing::format_long(&e, &style, &mut line);
        } else {
            line.extend_from_slice(&job.prefix);
            line.extend_from_slice(&it.name);
            line.extend_from_slice(b"\r\n");
        }
        out.write_all(&line).map_err(ListError::Write)?;
    }
    Ok(())
}
