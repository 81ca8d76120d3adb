//! Directory listings for LIST, NLST, MLSD and `STAT path`: read the directory (or one
//! file), filter hidden names and globs, sort like vsftpd, and write `ls -l` lines (or
//! names) through proto::listing, or MLSD entries through proto::mlsx. Runs in a transfer
//! child (LIST/NLST/MLSD) or in the post-login session (STAT), inside the user's jail and
//! with the user's identity.

use crate::limits;
use crate::proto::{glob, listing, mlsx};
use crate::sys;
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
    /// `-R` with ls_recurse_enable=YES: list subdirectories too.
    pub recursive: bool,
    /// The heading of the listed directory in a recursive listing (`.` or the path given).
    pub heading: Vec<u8>,
    /// deny_file: directories whose name matches are never entered by a recursive listing.
    pub deny: Option<Vec<u8>>,
    /// Most entries in the whole listing (limits::LIST_ENTRIES_MAX).
    pub max_entries: usize,
    /// MLSD: machine-listing entries instead of `ls` lines (never recursive, no glob).
    pub mlsx: Option<Mlsx>,
}

/// What an MLSD listing needs beyond a LIST.
#[derive(Debug, Clone)]
pub struct Mlsx {
    /// The facts the session chose (OPTS MLST).
    pub facts: mlsx::Facts,
    /// The session's identity and rights, for the `perm` fact.
    pub access: mlsx::Access,
    /// The `type=cdir` entry of the listed directory, CR LF included: written first.
    pub cdir: Vec<u8>,
}

#[derive(Debug)]
pub enum ListError {
    /// The directory could not be opened (the client gets 226 "failed to open directory").
    OpenDir,
    /// The glob pattern ran out of matching budget.
    TooComplex,
    /// More entries than `ListJob::max_entries`: what fits was written, the rest is not.
    Cut,
    /// Writing to the data connection failed.
    Write(io::Error),
}

/// One listed entry, compact (48 bytes): a listing of a million names must not need a
/// Metadata (and two allocations) per name. Names live in `Rows::arena`; the link targets
/// of symlinks in `Rows::links`.
#[derive(Clone, Copy)]
struct Row {
    name: (u32, u32),
    /// The first eight bytes of the name, big-endian, zero-padded: it orders rows like the
    /// names do, so most comparisons of the sort never touch the arena.
    key: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    /// Saturated at u32::MAX (no file system has more links than that).
    nlink: u32,
    size: u64,
    mtime: i64,
}

/// The sort key of a name (see Row::key).
fn name_key(name: &[u8]) -> u64 {
    let mut k = [0u8; 8];
    let n = name.len().min(8);
    k[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(k)
}

impl Row {
    /// A name whose stat is still to come (mode 0: no file type, never a real entry).
    const UNSTATED: Row = Row {
        name: (0, 0),
        key: 0,
        mode: 0,
        uid: 0,
        gid: 0,
        nlink: 0,
        size: 0,
        mtime: 0,
    };

    fn fill(&mut self, st: &sys::fs::StatInfo) {
        self.mode = st.mode;
        self.uid = st.uid;
        self.gid = st.gid;
        self.nlink = st.nlink.min(u64::from(u32::MAX)) as u32;
        self.size = st.size;
        self.mtime = st.mtime;
    }
}

/// Listings with at least this many entries stat the second half in a helper process, on
/// the other core, while the transfer child stats the first half.
const SPLIT_AT: usize = 8192;

/// Words of shared memory per entry the helper stats: mode|uid, gid|nlink, size, mtime,
/// and for MLSD dev, ino.
const WORDS: usize = 4;
const WORDS_MLSD: usize = 6;

#[derive(Default)]
struct Rows {
    arena: Vec<u8>,
    rows: Vec<Row>,
    /// (name offset, target span) of symlinks in long listings.
    links: Vec<(u32, (u32, u32))>,
    /// The listed directory's mode and owner (MLSD's `perm` of its entries).
    dir: Option<mlsx::Node>,
    /// MLSD only: (name offset, device, inode) of each row, for the `unique` fact. Kept
    /// out of `Row` so a LIST of a million names does not pay 16 bytes a row for it.
    ids: Option<Vec<(u32, u64, u64)>>,
}

impl Rows {
    fn for_job(job: &ListJob) -> Rows {
        Rows {
            ids: job.mlsx.as_ref().map(|_| Vec::new()),
            ..Rows::default()
        }
    }

    /// A row for a name whose stat comes later.
    fn push_name(&mut self, name: &[u8]) {
        let span = self.store(name);
        self.rows.push(Row {
            name: span,
            key: name_key(name),
            ..Row::UNSTATED
        });
    }

    /// The link target stored for the row whose name starts at `name_at`.
    fn link(&self, name_at: u32) -> Option<&[u8]> {
        let i = self.links.binary_search_by_key(&name_at, |l| l.0).ok()?;
        Some(self.bytes(self.links[i].1))
    }

    fn store(&mut self, bytes: &[u8]) -> (u32, u32) {
        let at = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        (at, bytes.len() as u32)
    }

    /// Stat rows `first..` by name relative to the open directory `dirfd` (fstatat, no
    /// path walk), then read the targets of symlinks for long listings. A row whose stat
    /// fails keeps mode 0. Large listings split the work with a helper process.
    fn stat_from(&mut self, first: usize, dirfd: std::os::fd::RawFd, long: bool) {
        let n = self.rows.len() - first;
        let (arena, rows) = (&self.arena, &mut self.rows);
        let name = |r: &Row| &arena[r.name.0 as usize..(r.name.0 + r.name.1) as usize];
        let half = if n >= SPLIT_AT {
            first + n / 2
        } else {
            rows.len()
        };
        let per = if self.ids.is_some() {
            WORDS_MLSD
        } else {
            WORDS
        };
        let helper = if half < rows.len() {
            spawn_stat_helper(dirfd, arena, &rows[half..], per)
        } else {
            None
        };
        let ids = &mut self.ids;
        let mut note = |r: &Row, st: &sys::fs::StatInfo| {
            if let Some(v) = ids.as_mut() {
                v.push((r.name.0, st.dev, st.ino));
            }
        };
        for r in &mut rows[first..half] {
            if let Ok(st) = sys::fs::lstat_at(dirfd, name(r)) {
                r.fill(&st);
                note(r, &st);
            }
        }
        match helper.and_then(|(pid, words)| collect_stat_helper(pid, words)) {
            Some(words) => {
                for (k, r) in rows[half..].iter_mut().enumerate() {
                    let w = |j| words.get(k * per + j);
                    let st = sys::fs::StatInfo {
                        mode: (w(0) >> 32) as u32,
                        uid: w(0) as u32,
                        gid: (w(1) >> 32) as u32,
                        nlink: w(1) & 0xffff_ffff,
                        size: w(2),
                        mtime: w(3) as i64,
                        dev: if per > WORDS { w(4) } else { 0 },
                        ino: if per > WORDS { w(5) } else { 0 },
                    };
                    r.fill(&st);
                    note(r, &st);
                }
            }
            None => {
                // No helper (too few entries, or it could not run): do it here.
                for r in &mut rows[half..] {
                    if let Ok(st) = sys::fs::lstat_at(dirfd, name(r)) {
                        r.fill(&st);
                        note(r, &st);
                    }
                }
            }
        }
        if long {
            for i in first..self.rows.len() {
                if self.rows[i].mode & 0o170000 == 0o120000 {
                    let n = self.rows[i].name;
                    if let Ok(t) = sys::fs::readlink_at(dirfd, self.bytes(n)) {
                        let target = self.store(&t);
                        self.links.push((n.0, target));
                    }
                }
            }
        }
    }

    fn bytes(&self, (at, len): (u32, u32)) -> &[u8] {
        &self.arena[at as usize..(at + len) as usize]
    }

    /// Add an entry; the link target is read only for symlinks in long listings.
    fn push(&mut self, name: &[u8], md: &Metadata, link: Option<&std::path::Path>) {
        self.push_name(name);
        let at = self.rows.len() - 1;
        self.rows[at].fill(&sys::fs::StatInfo {
            mode: md.mode(),
            uid: md.uid(),
            gid: md.gid(),
            nlink: md.nlink(),
            size: md.size(),
            mtime: md.mtime(),
            dev: md.dev(),
            ino: md.ino(),
        });
        if let Some(v) = self.ids.as_mut() {
            v.push((self.rows[at].name.0, md.dev(), md.ino()));
        }
        if let Some(p) = link.filter(|_| md.file_type().is_symlink()) {
            if let Ok(t) = std::fs::read_link(p) {
                let target = self.store(t.as_os_str().as_bytes());
                self.links.push((self.rows[at].name.0, target));
            }
        }
    }
}

/// Fork a helper that stats `rows` (by name, relative to `dirfd`) into shared memory;
/// None if it cannot be started.
fn spawn_stat_helper(
    dirfd: std::os::fd::RawFd,
    arena: &[u8],
    rows: &[Row],
    per: usize,
) -> Option<(i32, sys::shm::SharedWords)> {
    let words = sys::shm::SharedWords::new(rows.len() * per).ok()?;
    let parent = sys::process::pid();
    match sys::process::fork().ok()? {
        sys::process::Fork::Parent(pid) => Some((pid, words)),
        sys::process::Fork::Child => {
            // The helper needs the directory only; it dies with the process it helps.
            sys::io::close_all_except(3, &[dirfd]);
            if sys::process::die_with_parent(parent).is_err() {
                sys::process::exit_now(1);
            }
            for (k, r) in rows.iter().enumerate() {
                let name = &arena[r.name.0 as usize..(r.name.0 + r.name.1) as usize];
                // A failed stat leaves mode 0 (the mapping starts zeroed).
                if let Ok(st) = sys::fs::lstat_at(dirfd, name) {
                    words.set(k * per, (u64::from(st.mode) << 32) | u64::from(st.uid));
                    words.set(
                        k * per + 1,
                        (u64::from(st.gid) << 32) | st.nlink.min(0xffff_ffff),
                    );
                    words.set(k * per + 2, st.size);
                    words.set(k * per + 3, st.mtime as u64);
                    if per > WORDS {
                        words.set(k * per + 4, st.dev);
                        words.set(k * per + 5, st.ino);
                    }
                }
            }
            sys::process::exit_now(0);
        }
    }
}

/// Wait for the stat helper; its words if it finished cleanly.
fn collect_stat_helper(pid: i32, words: sys::shm::SharedWords) -> Option<sys::shm::SharedWords> {
    match sys::process::wait_pid(pid) {
        Ok(sys::process::Status::Exited(0)) => Some(words),
        _ => None,
    }
}

/// Produce the listing into `out`. With `recursive`, every subdirectory follows its
/// parent as vsftpd's `ls -R` prints it (a `path:` heading, the entries, a blank line
/// between directories), depth first, bounded by `limits::LIST_DEPTH_MAX` levels and
/// `limits::LIST_ENTRIES_MAX` entries in all.
pub fn produce(job: &ListJob, out: &mut dyn Write) -> Result<(), ListError> {
    match &job.target {
        Target::File { real, name } => {
            let mut rows = Rows::for_job(job);
            let md = std::fs::symlink_metadata(real).map_err(|_| ListError::OpenDir)?;
            // SECURITY: an upload named directly is as hidden as in its directory's
            // listing, or `LIST name` would show a drop box's file, size and time.
            if job.hide_uid != Some(md.uid()) {
                rows.push(name, &md, job.long.then_some(real.as_path()));
            }
            emit(job, rows, &job.prefix, out).map(|_| ())
        }
        Target::Dir { real, pattern } if !job.recursive => {
            let mut budget = job.max_entries;
            let mut cut = false;
            let rows = read_dir_rows(job, real, pattern.as_deref(), &mut budget, &mut cut)?;
            if let Some(m) = &job.mlsx {
                out.write_all(&m.cdir).map_err(ListError::Write)?;
            }
            emit(job, rows, &job.prefix, out)?;
            if cut {
                return Err(ListError::Cut);
            }
            Ok(())
        }
        Target::Dir { real, pattern } => {
            let mut walk = Walk {
                job,
                pattern: pattern.as_deref(),
                budget: job.max_entries,
                first: true,
                cut: false,
            };
            walk.dir(real, &job.heading.clone(), 0, out)?;
            if walk.cut {
                return Err(ListError::Cut);
            }
            Ok(())
        }
    }
}

/// State of one recursive listing.
struct Walk<'a> {
    job: &'a ListJob,
    pattern: Option<&'a [u8]>,
    /// Entries still allowed in the whole listing.
    budget: usize,
    first: bool,
    /// The entry budget ran out: the listing is incomplete.
    cut: bool,
}

impl Walk<'_> {
    fn dir(
        &mut self,
        real: &std::path::Path,
        heading: &[u8],
        depth: usize,
        out: &mut dyn Write,
    ) -> Result<(), ListError> {
        // One write per line: STAT collects the listing line by line.
        if !self.first {
            out.write_all(b"\r\n").map_err(ListError::Write)?;
        }
        let mut head = Vec::with_capacity(heading.len() + 3);
        head.extend_from_slice(heading);
        head.extend_from_slice(b":\r\n");
        let rows = match read_dir_rows(
            self.job,
            real,
            self.pattern,
            &mut self.budget,
            &mut self.cut,
        ) {
            Ok(rows) => rows,
            // The listed directory itself must open; a subdirectory that does not (no
            // permission, gone meanwhile) is shown with its heading and nothing under it.
            Err(ListError::OpenDir) if !self.first => {
                return out.write_all(&head).map_err(ListError::Write);
            }
            Err(e) => return Err(e),
        };
        out.write_all(&head).map_err(ListError::Write)?;
        let prefix: Vec<u8> = if self.first {
            self.job.prefix.clone()
        } else {
            let mut p = heading.to_vec();
            p.push(b'/');
            p
        };
        self.first = false;
        let subdirs = emit(self.job, rows, &prefix, out)?;
        if depth >= limits::LIST_DEPTH_MAX {
            return Ok(());
        }
        for name in subdirs {
            // SECURITY: a directory deny_file forbids is listed (as vsftpd lists it) but
            // never entered, as `LIST` of it would be refused.
            if let Some(d) = &self.job.deny {
                if glob::matches_or_refuse(d, &name) {
                    continue;
                }
            }
            if self.budget == 0 {
                self.cut = true;
                break;
            }
            let mut sub_heading = heading.to_vec();
            sub_heading.push(b'/');
            sub_heading.extend_from_slice(&name);
            let sub_real = real.join(std::ffi::OsStr::from_bytes(&name));
            self.dir(&sub_real, &sub_heading, depth + 1, out)?;
        }
        Ok(())
    }
}

/// Read one directory's entries that the listing shows (dot files, the glob, hide_file,
/// the drop-box rule), stat'ed when the listing needs more than names. `budget` is the
/// number of entries still allowed; it is decreased by what was read, and `cut` is set when
/// an entry did not fit.
fn read_dir_rows(
    job: &ListJob,
    real: &std::path::Path,
    pattern: Option<&[u8]>,
    budget: &mut usize,
    cut: &mut bool,
) -> Result<Rows, ListError> {
    let mut rows = Rows::for_job(job);
    let dmd = std::fs::metadata(real).map_err(|_| ListError::OpenDir)?;
    if job.require_world_readable && dmd.mode() & 0o004 == 0 {
        return Err(ListError::OpenDir);
    }
    let rd = std::fs::read_dir(real).map_err(|_| ListError::OpenDir)?;
    let first = if job.all && pattern.is_none() { 2 } else { 0 };
    if job.all && pattern.is_none() {
        for dot in [&b"."[..], &b".."[..]] {
            let p = real.join(std::ffi::OsStr::from_bytes(dot));
            // Always two rows (a failed stat leaves mode 0 and is dropped below).
            match std::fs::symlink_metadata(&p) {
                Ok(md) => rows.push(dot, &md, job.long.then_some(p.as_path())),
                Err(_) => rows.push_name(dot),
            }
        }
    }
    for ent in rd {
        let Ok(ent) = ent else { continue };
        let os_name = ent.file_name();
        let name = os_name.as_bytes();
        if !listing::is_shown(name, job.all, job.force_dot_files, pattern) {
            continue;
        }
        // SECURITY: a name with CR or LF would end an MLSD entry early and forge the rest;
        // such names are left out of machine listings (LIST shows them as they are).
        if job.mlsx.is_some() && !mlsx::listable_name(name) {
            continue;
        }
        if let Some(p) = pattern {
            // The budget bounds one match (limits::GLOB_STEPS_MAX), as vsftpd
            // bounds its matcher per name.
            let mut steps = limits::GLOB_STEPS_MAX;
            match glob::matches(p, name, &mut steps) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => return Err(ListError::TooComplex),
            }
        }
        if let Some(h) = &job.hide {
            if glob::matches_or_refuse(h, name) {
                continue;
            }
        }
        if *budget == 0 {
            *cut = true;
            break;
        }
        *budget -= 1;
        rows.push_name(name);
    }
    // NLST without the drop-box rule needs only names; everything else (and a recursive
    // listing, which must know the directories) needs the stat of each entry, which is
    // the kernel work that bounds a long listing.
    if job.long || job.hide_uid.is_some() || job.recursive || job.mlsx.is_some() {
        let dir = std::fs::File::open(real).map_err(|_| ListError::OpenDir)?;
        use std::os::fd::AsRawFd;
        rows.stat_from(first, dir.as_raw_fd(), job.long);
        if job.mlsx.is_some() {
            rows.dir = Some(mlsx::Node {
                mode: dmd.mode(),
                uid: dmd.uid(),
                gid: dmd.gid(),
            });
            // MLSD describes what a symlink leads to (its type, size and time), as
            // RETR and CWD see it; one that leads nowhere stays a symlink. The target's
            // owner counts for the drop-box rule below, as it does for RETR.
            if let Some(v) = rows.ids.as_mut() {
                v.sort_unstable_by_key(|x| x.0);
            }
            for i in 0..rows.rows.len() {
                if rows.rows[i].mode & 0o170000 == 0o120000 {
                    let n = rows.rows[i].name;
                    if let Ok(st) = sys::fs::stat_at(dir.as_raw_fd(), rows.bytes(n)) {
                        rows.rows[i].fill(&st);
                        // The `unique` fact is the target's too.
                        if let Some(v) = rows.ids.as_mut() {
                            if let Ok(k) = v.binary_search_by_key(&n.0, |x| x.0) {
                                v[k] = (n.0, st.dev, st.ino);
                            }
                        }
                    }
                }
            }
        }
        let hide = job.hide_uid;
        // Entries that vanished meanwhile (mode 0) and the anonymous account's own
        // files (the drop-box rule) are not listed.
        rows.rows.retain(|r| r.mode != 0 && hide != Some(r.uid));
    }
    Ok(rows)
}

/// Sort and write the rows; NLST names get `prefix`. Returns the names of the listed
/// directories (not symlinks, not `.` and `..`) in listing order, for a recursive listing.
fn emit(
    job: &ListJob,
    rows: Rows,
    prefix: &[u8],
    out: &mut dyn Write,
) -> Result<Vec<Vec<u8>>, ListError> {
    let Rows {
        arena,
        rows: mut list,
        mut links,
        dir,
        mut ids,
    } = rows;
    let name_of = |r: &Row| &arena[r.name.0 as usize..(r.name.0 + r.name.1) as usize];
    // Name order: the key prefix first, the whole name only when the prefixes are equal.
    let by_name = |a: &Row, b: &Row| a.key.cmp(&b.key).then_with(|| name_of(a).cmp(name_of(b)));
    if job.time_sort {
        list.sort_unstable_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| by_name(a, b)));
    } else {
        list.sort_unstable_by(by_name);
    }
    if job.reverse {
        list.reverse();
    }
    links.sort_unstable_by_key(|l| l.0);
    if let Some(v) = ids.as_mut() {
        v.sort_unstable_by_key(|x| x.0);
    }
    let id_of = |at: u32| -> (u64, u64) {
        ids.as_ref()
            .and_then(|v| {
                v.binary_search_by_key(&at, |x| x.0)
                    .ok()
                    .map(|i| (v[i].1, v[i].2))
            })
            .unwrap_or((0, 0))
    };
    let rows = Rows {
        arena,
        rows: Vec::new(),
        links,
        dir,
        ids: None,
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
    let mut subdirs = Vec::new();
    for r in &list {
        line.clear();
        let name = rows.bytes(r.name);
        if let Some(m) = &job.mlsx {
            let (dev, ino) = id_of(r.name.0);
            let o = mlsx::Object {
                name,
                mode: r.mode,
                uid: r.uid,
                gid: r.gid,
                size: r.size,
                mtime: r.mtime,
                dev,
                ino,
            };
            // deny_file names are listed (as LIST lists them) but no command works on them.
            let denied = job
                .deny
                .as_ref()
                .is_some_and(|d| glob::matches_or_refuse(d, name));
            let perm = m.access.perm(o.node(), rows.dir, denied);
            mlsx::format_entry(&o, mlsx::Role::Entry, m.facts, &perm, &mut line);
            line.extend_from_slice(b"\r\n");
        } else if job.long {
            let e = listing::Entry {
                name,
                mode: r.mode,
                nlink: u64::from(r.nlink),
                uid: r.uid,
                gid: r.gid,
                size: r.size,
                mtime: r.mtime,
                link_target: if r.mode & 0o170000 == 0o120000 {
                    rows.link(r.name.0)
                } else {
                    None
                },
            };
            listing::format_long(&e, &style, &mut line);
        } else {
            line.extend_from_slice(prefix);
            line.extend_from_slice(name);
            line.extend_from_slice(b"\r\n");
        }
        out.write_all(&line).map_err(ListError::Write)?;
        if job.recursive && r.mode & 0o170000 == 0o040000 && name != b"." && name != b".." {
            subdirs.push(name.to_vec());
        }
    }
    Ok(subdirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(real: PathBuf, recursive: bool, max_entries: usize) -> ListJob {
        ListJob {
            target: Target::Dir {
                real,
                pattern: None,
            },
            long: false,
            all: false,
            force_dot_files: false,
            reverse: false,
            time_sort: false,
            hide_ids: false,
            use_localtime: false,
            prefix: Vec::new(),
            require_world_readable: false,
            hide: None,
            hide_uid: None,
            now: 0,
            recursive,
            heading: b".".to_vec(),
            deny: None,
            max_entries,
            mlsx: None,
        }
    }

    /// MLSD: the cdir entry first, then the entries in name order with the chosen facts;
    /// symlinks followed (a dangling one stays a symlink); dot files, hide_file names and
    /// names with CR or LF left out; deny_file names listed without permissions; the
    /// entry bound as for LIST.
    #[test]
    fn mlsd_entries() {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("rsftpd-dirlist-mlsd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), b"hello\n").unwrap();
        std::fs::set_permissions(dir.join("a.txt"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::fs::write(dir.join(".dot"), b"").unwrap();
        std::fs::write(dir.join("hidden.tmp"), b"").unwrap();
        std::fs::write(dir.join("secret"), b"").unwrap();
        std::fs::write(dir.join("bad\r\n226 forged"), b"").unwrap();
        std::fs::write(dir.join(std::ffi::OsStr::from_bytes(b"caf\xe9")), b"xy").unwrap();
        for (name, mode) in [
            (&b"sub"[..], 0o755),
            (b"caf\xe9", 0o644),
            (b"secret", 0o644),
        ] {
            let p = dir.join(std::ffi::OsStr::from_bytes(name));
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::os::unix::fs::symlink("a.txt", dir.join("link")).unwrap();
        std::os::unix::fs::symlink("nowhere", dir.join("dangling")).unwrap();
        let facts = mlsx::Facts::NONE
            .with(mlsx::Fact::Type)
            .with(mlsx::Fact::Size)
            .with(mlsx::Fact::Perm)
            .with(mlsx::Fact::UnixMode);
        let access = mlsx::Access {
            uid: sys::process::uid(),
            groups: vec![sys::process::gid()],
            download: true,
            list: true,
            upload: false,
            overwrite: false,
            mkdir: false,
            other: false,
            world_readable_only: false,
        };
        let mut j = job(dir.clone(), false, 100);
        j.hide = Some(b"*.tmp".to_vec());
        j.deny = Some(b"secret".to_vec());
        j.mlsx = Some(Mlsx {
            facts,
            access,
            cdir: b"type=cdir; .\r\n".to_vec(),
        });
        let mut out = Vec::new();
        produce(&j, &mut out).unwrap();
        let want: &[&[u8]] = &[
            b"type=cdir; .",
            b"type=file;size=6;perm=r;unix.mode=0640; a.txt",
            b"type=file;size=2;perm=r;unix.mode=0644; caf\xe9",
            b"type=OS.unix=symlink;perm=;unix.mode=0777; dangling",
            b"type=file;size=6;perm=r;unix.mode=0640; link",
            b"type=file;size=0;perm=;unix.mode=0644; secret",
            b"type=dir;perm=el;unix.mode=0755; sub",
        ];
        let got: Vec<&[u8]> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let want: Vec<Vec<u8>> = want.iter().map(|l| [*l, b"\r"].concat()).collect();
        assert_eq!(
            got,
            want.iter().map(|l| l.as_slice()).collect::<Vec<_>>(),
            "{}",
            String::from_utf8_lossy(&out)
        );
        // The bound: three of the seven shown entries fit; the cdir line is no entry.
        j.max_entries = 3;
        let mut out = Vec::new();
        assert!(matches!(produce(&j, &mut out), Err(ListError::Cut)));
        assert_eq!(out.split(|&b| b == b'\n').count() - 1, 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A listing row stays 48 bytes: a million-entry LIST holds a million of them (MLSD's
    /// device and inode live in a side table).
    #[test]
    fn rows_stay_small() {
        assert_eq!(std::mem::size_of::<Row>(), 48);
    }

    /// The entry bound is never silent: what fits is written and the listing says it was
    /// cut (the client gets 451), flat and recursive alike.
    #[test]
    fn too_many_entries_cut_the_listing_and_say_so() {
        let dir = std::env::temp_dir().join(format!("rsftpd-dirlist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for i in 0..9 {
            std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
            std::fs::write(dir.join(format!("sub/g{i}")), b"x").unwrap();
        }
        // Ten entries (f0..f8, sub) fit exactly: not cut.
        let mut out = Vec::new();
        assert!(produce(&job(dir.clone(), false, 10), &mut out).is_ok());
        assert_eq!(out.split(|&b| b == b'\n').count() - 1, 10);
        // Five fit: five names written, then Cut.
        let mut out = Vec::new();
        let r = produce(&job(dir.clone(), false, 5), &mut out);
        assert!(matches!(r, Err(ListError::Cut)), "{r:?}");
        assert_eq!(out.split(|&b| b == b'\n').count() - 1, 5);
        // Recursive: 10 at the top fit, the subdirectory's 9 do not all fit in 15.
        let mut out = Vec::new();
        let r = produce(&job(dir.clone(), true, 15), &mut out);
        assert!(matches!(r, Err(ListError::Cut)), "{r:?}");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(".:\r\nf0\r\n"), "{text}");
        // Which five of the nine come first is readdir order, not name order.
        assert!(text.contains("\r\n./sub:\r\n./sub/g"), "{text}");
        assert_eq!(text.matches("./sub/g").count(), 5, "{text}");
        let mut out = Vec::new();
        assert!(produce(&job(dir.clone(), true, 19), &mut out).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
