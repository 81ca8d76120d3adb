//! Machine listings (RFC 3659): MLST (one object, on the control connection), MLSD (a
//! directory, through a transfer child like LIST) and OPTS MLST (which facts). Every path
//! goes through `Session::resolve` (jail, deny_file); the listing rules are LIST's (hidden
//! files, hide_file, the drop-box rule, anon_world_readable_only, LIST_ENTRIES_MAX), and
//! the `perm` fact is computed from the same write gates the commands use. Runs in the
//! post-login session with the user's identity, inside the user's jail.

use super::write::Need;
use super::{Flow, Session};
use crate::proto::{mlsx, path};
use crate::session::dirlist::{self, ListJob, Target};
use crate::session::transfer::Job;
use crate::sys;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What MLST and MLSD describe: a symlink's target, or the link itself when it leads
/// nowhere. None when the path does not exist.
fn describe(real: &Path) -> Option<Metadata> {
    std::fs::metadata(real)
        .or_else(|_| std::fs::symlink_metadata(real))
        .ok()
}

fn node(md: &Metadata) -> mlsx::Node {
    mlsx::Node {
        mode: md.mode(),
        uid: md.uid(),
        gid: md.gid(),
    }
}

fn object<'a>(name: &'a [u8], md: &Metadata) -> mlsx::Object<'a> {
    mlsx::Object {
        name,
        mode: md.mode(),
        uid: md.uid(),
        gid: md.gid(),
        size: md.size(),
        mtime: md.mtime(),
        dev: md.dev(),
        ino: md.ino(),
    }
}

impl Session {
    /// Who this session is and what its configuration lets it do: the `perm` fact's input.
    fn mlsx_access(&self) -> mlsx::Access {
        let (uid, groups) = sys::creds::effective();
        let upload = self.may_write(Need::Upload);
        mlsx::Access {
            uid,
            groups,
            download: self.cfg.download_enable,
            list: self.cfg.dirlist_enable,
            upload,
            // SECURITY: as STOR: anonymous uploads never replace a file unless
            // anon_other_write_enable.
            overwrite: upload && (!self.anonymous || self.cfg.anon_other_write_enable),
            mkdir: self.may_write(Need::Mkdir),
            other: self.may_write(Need::Other),
            world_readable_only: self.anonymous && self.cfg.anon_world_readable_only,
        }
    }

    /// The mode and owner of the directory holding `virt` (None for `/`, which nothing
    /// can remove or rename).
    fn parent_node(&self, virt: &[u8]) -> Option<mlsx::Node> {
        if virt == b"/" {
            return None;
        }
        let (parent, _) = path::parent_and_name(virt);
        let parent = if parent.is_empty() { &b"/"[..] } else { parent };
        std::fs::metadata(path::to_real(&self.root, parent))
            .ok()
            .map(|m| node(&m))
    }

    /// `OPTS MLST fact;fact;...`: choose the facts of later MLST/MLSD entries.
    pub(super) fn opts_mlst(&mut self, list: &[u8]) -> io::Result<Flow> {
        let supported = mlsx::Facts::supported(self.cfg.hide_ids);
        self.mlst_facts = mlsx::Facts::parse_opts(list, supported);
        let text = self.mlst_facts.opts_reply();
        self.reply(200, &text)
    }

    /// MLST [path]: the facts of one object on the control connection.
    pub(super) fn mlst(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        // MLST shows what `LIST name` and `STAT name` show: refused with them.
        if !self.cfg.dirlist_enable {
            return self.reply(550, "Permission denied.");
        }
        let found = self
            .resolve(arg.unwrap_or(b"."))
            .and_then(|(virt, real)| describe(&real).map(|md| (virt, md)));
        let Some((virt, md)) = found else {
            return self.reply(550, "No such file or directory.");
        };
        // SECURITY: the anonymous account's uploads are as hidden from MLST as from LIST
        // (the drop-box rule), and a name with CR or LF is never listed.
        if self.anon_owned(&md) || !mlsx::listable_name(&virt) {
            return self.reply(550, "No such file or directory.");
        }
        let access = self.mlsx_access();
        let perm = access.perm(node(&md), self.parent_node(&virt), false);
        let mut entry = b" ".to_vec();
        mlsx::format_entry(
            &object(&virt, &md),
            mlsx::Role::Entry,
            self.mlst_facts,
            &perm,
            &mut entry,
        );
        let mut first = b"Listing ".to_vec();
        first.extend_from_slice(&virt);
        self.ctl.reply_multi_bytes(250, &first, &[entry], b"End")?;
        Ok(Flow::Continue)
    }

    /// MLSD [dir]: the entries of a directory over a data connection, as LIST sends them
    /// but in RFC 3659's format. The argument is a path, never options or a glob.
    pub(super) fn mlsd(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.cfg.dirlist_enable {
            return self.reply(550, "Permission denied.");
        }
        let found = self
            .resolve(arg.unwrap_or(b"."))
            .and_then(|(virt, real)| std::fs::metadata(&real).ok().map(|md| (virt, real, md)));
        let Some((virt, real, md)) = found else {
            return self.reply(550, "No such file or directory.");
        };
        if !md.is_dir() {
            // RFC 3659 section 7.2.1: MLSD of a file is a syntax error.
            return self.reply(501, "Not a directory.");
        }
        // Refused before a data connection is used: the directory must open, and with
        // anon_world_readable_only be world-readable, as a LIST of it would require.
        let world_ok =
            !(self.anonymous && self.cfg.anon_world_readable_only) || md.mode() & 0o004 != 0;
        if !world_ok || std::fs::read_dir(&real).is_err() {
            return self.reply(550, "Failed to open directory.");
        }
        let access = self.mlsx_access();
        let perm = access.perm(node(&md), self.parent_node(&virt), false);
        let mut cdir = Vec::new();
        mlsx::format_entry(
            &object(b".", &md),
            mlsx::Role::ListedDir,
            self.mlst_facts,
            &perm,
            &mut cdir,
        );
        cdir.extend_from_slice(b"\r\n");
        let job = ListJob {
            target: Target::Dir {
                real,
                pattern: None,
            },
            long: false,
            all: false,
            force_dot_files: self.cfg.force_dot_files,
            reverse: false,
            time_sort: false,
            hide_ids: self.cfg.hide_ids,
            use_localtime: false,
            prefix: Vec::new(),
            require_world_readable: self.anonymous && self.cfg.anon_world_readable_only,
            hide: self.cfg.hide_file.as_ref().map(|h| h.as_bytes().to_vec()),
            hide_uid: self.anon_uid,
            now: sys::time::now(),
            recursive: false,
            heading: Vec::new(),
            deny: self.cfg.deny_file.as_ref().map(|d| d.as_bytes().to_vec()),
            max_entries: crate::limits::LIST_ENTRIES_MAX,
            mlsx: Some(dirlist::Mlsx {
                facts: self.mlst_facts,
                access,
                cdir,
            }),
        };
        let Some(stream) = self.open_data()? else {
            return Ok(Flow::Continue);
        };
        self.ctl.reply(150, "Here comes the directory listing.")?;
        let Some(stream) = self.secure_data(stream, false)? else {
            return Ok(Flow::Continue);
        };
        Ok(self
            .transfer(Job::List(Box::new(job)), stream, "Directory send OK.")?
            .0)
    }
}
