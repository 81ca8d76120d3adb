//! Commands that change the file system: STOR, STOU, APPE, DELE, RMD, MKD, RNFR/RNTO,
//! SITE (CHMOD, UMASK, HELP), the two-argument MDTM and MFMT. Every one goes through the gates in
//! `may_write` and through `Session::resolve` (jail, deny_file). Runs in the post-login
//! session with the user's identity, inside the user's jail.

use super::{Flow, Session};
use crate::log;
use crate::proto::{listing, mlsx, path};
use crate::session::transfer::{Job, Outcome};
use crate::sys;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

/// What kind of write a command is, for the anonymous gates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// STOR, STOU of a new file: anon_upload_enable.
    Upload,
    /// MKD: anon_mkdir_write_enable.
    Mkdir,
    /// Everything that changes what exists: anon_other_write_enable.
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Store,
    Unique,
    Append,
}

/// The reply for a failed create/open of an upload.
fn open_error_reply(e: &io::Error) -> (u16, &'static str) {
    match e.raw_os_error() {
        Some(13) | Some(1) | Some(30) => (550, "Permission denied."), // EACCES EPERM EROFS
        Some(2) | Some(20) => (550, "No such file or directory."),    // ENOENT ENOTDIR
        Some(28) => (452, "Insufficient storage space on the server."), // ENOSPC
        Some(122) => (552, "Disk quota exceeded."),                   // EDQUOT
        _ => (553, "Could not create file."),
    }
}

impl Session {
    /// The write gates: write_enable for everyone, and for anonymous sessions the key
    /// that allows this kind of write.
    pub(super) fn may_write(&self, need: Need) -> bool {
        if !self.cfg.write_enable {
            return false;
        }
        if !self.anonymous {
            return true;
        }
        match need {
            Need::Upload => self.cfg.anon_upload_enable,
            Need::Mkdir => self.cfg.anon_mkdir_write_enable,
            Need::Other => self.cfg.anon_other_write_enable,
        }
    }

    pub(super) fn stor(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        self.upload(arg, Kind::Store)
    }

    pub(super) fn stou(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        self.upload(arg, Kind::Unique)
    }

    pub(super) fn appe(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        self.upload(arg, Kind::Append)
    }

    fn upload(&mut self, arg: Option<&[u8]>, kind: Kind) -> io::Result<Flow> {
        let need = if kind == Kind::Append {
            Need::Other
        } else {
            Need::Upload
        };
        if !self.may_write(need) {
            return self.reply(550, "Permission denied.");
        }
        // No data connection set up: refuse before anything else is checked and before a
        // file is created or truncated (vsftpd checks this first too).
        if matches!(self.data, crate::session::data::Setup::None) {
            return self.reply(425, "Use PORT or PASV first.");
        }
        // SECURITY: force_*_data_ssl refuses a clear upload before a file is created.
        if crate::session::tls::data_forced(&self.cfg, self.anonymous) && !self.tls_state.private {
            return self.reply(522, "Data connections must be encrypted.");
        }
        let offset = self.rest;
        // SECURITY: anonymous uploads never overwrite, append to or resume onto an existing
        // file (a drop box's contents stay as they arrived) unless anon_other_write_enable.
        let anon_restricted = self.anonymous && !self.cfg.anon_other_write_enable;
        if offset > 0 && (anon_restricted || kind != Kind::Store) {
            return self.reply(550, "Permission denied.");
        }
        let ascii = self.ascii && self.cfg.ascii_upload_enable;
        if offset > 0 && ascii {
            return self.reply(550, "No support for resume of ASCII transfer.");
        }

        let mode = self.cfg.file_open_mode;
        // Whether the name was there before this command: a file this command created is
        // removed again when no data connection comes (nothing was received into it).
        let mut existed = false;
        let (virt, file) = match kind {
            Kind::Unique => match self.unique_file(arg, mode) {
                Ok(x) => x,
                Err(e) => {
                    let (c, t) = open_error_reply(&e);
                    return self.reply(c, t);
                }
            },
            _ => {
                let Some((virt, real)) = self.resolve(arg.unwrap_or(b"")) else {
                    return self.reply(553, "Could not create file.");
                };
                if offset > 0 {
                    match std::fs::metadata(&real) {
                        Ok(md) if md.is_file() && offset <= md.len() => {}
                        Ok(md) if md.is_file() => {
                            return self.reply(
                                554,
                                &format!(
                                "Restart offset {offset} is past the end of the file ({} bytes).",
                                md.len()
                            ),
                            )
                        }
                        _ => return self.reply(550, "No such file or directory."),
                    }
                }
                let exclusive = anon_restricted;
                let append = kind == Kind::Append;
                existed = std::fs::symlink_metadata(&real).is_ok();
                match sys::fs::open_upload(&real, exclusive, append, mode) {
                    Ok(f) => (virt, f),
                    Err(e) => {
                        let (c, t) = open_error_reply(&e);
                        return self.refuse_transfer(true, &virt, c, t);
                    }
                }
            }
        };
        if self.anonymous && self.cfg.chown_uploads {
            self.chown_upload(&file);
        }
        let Some(stream) = self.open_data()? else {
            self.drop_unused_upload(&virt, existed);
            return Ok(Flow::Continue);
        };
        if kind == Kind::Unique {
            let (_, name) = path::parent_and_name(&virt);
            let mut text = b"FILE: ".to_vec();
            text.extend_from_slice(name);
            self.ctl.reply_bytes(150, &text)?;
        } else {
            self.ctl.reply(150, "Ok to send data.")?;
        }
        let Some(stream) = self.secure_data(stream, true)? else {
            self.drop_unused_upload(&virt, existed);
            return Ok(Flow::Continue);
        };
        let started = std::time::Instant::now();
        // Where this upload's bytes start in the file: what an interrupted upload stored is
        // what the file holds past this point.
        let base = match kind {
            Kind::Append => file.metadata().map(|m| m.len()).unwrap_or(0),
            _ => offset,
        };
        let (flow, outcome, bytes) = self.transfer(
            Job::Stor {
                file,
                offset,
                ascii,
                // REST then STOR writes from the offset and keeps what follows (as vsftpd);
                // a plain STOR replaces the file (emptied once the lock is held).
                truncate: offset == 0 && kind == Kind::Store,
                lock: self.cfg.lock_upload_files,
                append: kind == Kind::Append,
                rate: self.max_rate(),
            },
            stream,
            "Transfer complete.",
        )?;
        let real = path::to_real(&self.root, &virt);
        let bytes = if outcome == Outcome::Ok || ascii {
            bytes
        } else {
            // A child killed by ABOR or a hang-up may have stored bytes it had not counted
            // yet: the file on disk is the truth.
            let stored = std::fs::metadata(&real)
                .map(|m| m.len().saturating_sub(base))
                .unwrap_or(0);
            bytes.max(stored)
        };
        self.log_transfer(true, &virt, outcome, bytes, started, ascii);
        if outcome != Outcome::Ok && self.cfg.delete_failed_uploads {
            // delete_failed_uploads: nothing half-received stays behind.
            let _ = std::fs::remove_file(&real);
        }
        Ok(flow)
    }

    /// The data connection failed before any byte arrived: log the failed upload and, when
    /// this command created the file, remove it (vsftpd leaves an empty file behind).
    fn drop_unused_upload(&mut self, virt: &[u8], existed: bool) {
        let now = std::time::Instant::now();
        self.log_transfer(true, virt, Outcome::NetRead, 0, now, false);
        if !existed {
            let real = path::to_real(&self.root, virt);
            if std::fs::metadata(&real).is_ok_and(|m| m.is_file() && m.len() == 0) {
                let _ = std::fs::remove_file(&real);
            }
        }
    }

    /// chown_uploads: the monitor (root) gives the new file to chown_username, working on
    /// the descriptor sent to it. A failure is logged; the upload goes on, still owned by
    /// the anonymous account (and so still hidden from anonymous sessions).
    fn chown_upload(&self, file: &std::fs::File) {
        use std::os::fd::AsRawFd;
        let Some(sock) = &self.broker else { return };
        let sent = crate::ipc::PostloginRequest::ChownUpload
            .encode()
            .and_then(|m| crate::ipc::send(sock.as_raw_fd(), &m, Some(file.as_raw_fd())))
            .and_then(|_| crate::ipc::Status::recv(sock.as_raw_fd()));
        if !matches!(sent, Ok(crate::ipc::Status::Ok)) {
            log::error(&format!("chown_uploads failed: {sent:?}"));
        }
    }

    /// STOU: a new file named after the argument (or `STOU`), then `.1`, `.2`, ...
    fn unique_file(&self, arg: Option<&[u8]>, mode: u32) -> io::Result<(Vec<u8>, std::fs::File)> {
        let base: Vec<u8> = arg.map(|a| a.to_vec()).unwrap_or_else(|| b"STOU".to_vec());
        let mut last = io::Error::from_raw_os_error(17);
        for i in 0..1000u32 {
            let mut name = base.clone();
            if i > 0 {
                name.extend_from_slice(format!(".{i}").as_bytes());
            }
            let Some((virt, real)) = self.resolve(&name) else {
                return Err(io::Error::from_raw_os_error(1));
            };
            match sys::fs::open_upload(&real, true, false, mode) {
                Ok(f) => return Ok((virt, f)),
                Err(e) if e.raw_os_error() == Some(17) => last = e, // EEXIST: next name
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    pub(super) fn dele(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.may_write(Need::Other) {
            return self.reply(550, "Permission denied.");
        }
        let target = self.resolve(arg.unwrap_or(b""));
        let ok = matches!(&target, Some((_, real)) if std::fs::remove_file(real).is_ok());
        log::action(ok, "DELETE", &target.map(|(v, _)| v).unwrap_or_default());
        if ok {
            self.reply(250, "Delete operation successful.")
        } else {
            self.reply(550, "Delete operation failed.")
        }
    }

    pub(super) fn rmd(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.may_write(Need::Other) {
            return self.reply(550, "Permission denied.");
        }
        let target = self.resolve(arg.unwrap_or(b""));
        let ok = matches!(&target, Some((_, real)) if std::fs::remove_dir(real).is_ok());
        log::action(ok, "RMDIR", &target.map(|(v, _)| v).unwrap_or_default());
        if ok {
            self.reply(250, "Remove directory operation successful.")
        } else {
            self.reply(550, "Remove directory operation failed.")
        }
    }

    pub(super) fn mkd(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.may_write(Need::Mkdir) {
            return self.reply(550, "Permission denied.");
        }
        let Some((virt, real)) = self.resolve(arg.unwrap_or(b"")) else {
            return self.reply(550, "Create directory operation failed.");
        };
        let made = std::fs::DirBuilder::new().mode(0o777).create(&real);
        log::action(made.is_ok(), "MKDIR", &virt);
        match made {
            Ok(()) => {
                let mut text = path::quote_257(&virt);
                text.extend_from_slice(b" created");
                self.ctl.reply_bytes(257, &text)?;
                Ok(Flow::Continue)
            }
            Err(_) => self.reply(550, "Create directory operation failed."),
        }
    }

    pub(super) fn rnfr(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.may_write(Need::Other) {
            return self.reply(550, "Permission denied.");
        }
        match self.resolve(arg.unwrap_or(b"")) {
            Some((virt, real)) if std::fs::symlink_metadata(&real).is_ok() => {
                self.rnfr = Some(virt);
                self.reply(350, "Ready for RNTO.")
            }
            _ => self.reply(550, "RNFR command failed."),
        }
    }

    pub(super) fn rnto(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        let Some(from) = self.rnfr.take() else {
            return self.reply(503, "RNFR required first.");
        };
        if !self.may_write(Need::Other) {
            return self.reply(550, "Permission denied.");
        }
        let from_real = path::to_real(&self.root, &from);
        let target = self.resolve(arg.unwrap_or(b""));
        let ok =
            matches!(&target, Some((_, to_real)) if std::fs::rename(&from_real, to_real).is_ok());
        // vsftpd's shape: "from to" in one field.
        let mut both = from.clone();
        both.push(b' ');
        both.extend_from_slice(&target.map(|(v, _)| v).unwrap_or_default());
        log::action(ok, "RENAME", &both);
        if ok {
            self.reply(250, "Rename successful.")
        } else {
            self.reply(550, "Rename failed.")
        }
    }

    pub(super) fn site(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        // SECURITY: anonymous users get no SITE commands at all (as vsftpd).
        if self.anonymous {
            return self.reply(550, "Permission denied.");
        }
        let a = arg.unwrap_or(b"");
        let (sub, rest) = match a.iter().position(|&b| b == b' ') {
            Some(p) => (&a[..p], &a[p + 1..]),
            None => (a, &b""[..]),
        };
        let sub = String::from_utf8_lossy(sub).to_ascii_uppercase();
        if sub == "IDLE" {
            return self.site_idle(rest);
        }
        // SECURITY: the write gate of the dispatch table, for every other sub-command.
        if !self.cfg.write_enable {
            return self.reply(550, "Permission denied.");
        }
        match sub.as_str() {
            "CHMOD" if self.cfg.chmod_enable => self.site_chmod(rest),
            "UMASK" => {
                let rest = std::str::from_utf8(rest).unwrap_or("").trim();
                if rest.is_empty() {
                    let m = sys::fs::get_umask();
                    return self.reply(200, &format!("Your current UMASK is 0{m:03o}"));
                }
                match u32::from_str_radix(rest, 8) {
                    Ok(m) if m <= 0o777 => {
                        sys::fs::set_umask(m);
                        self.reply(200, &format!("UMASK set to 0{m:03o}"))
                    }
                    _ => self.reply(500, "Bad UMASK value."),
                }
            }
            "HELP" => {
                if self.cfg.chmod_enable {
                    self.reply(214, "CHMOD IDLE UMASK HELP")
                } else {
                    self.reply(214, "IDLE UMASK HELP")
                }
            }
            _ => self.reply(500, "Unknown SITE command."),
        }
    }

    /// SITE IDLE [seconds] (wu-ftpd's replies): show the idle timeout, or shorten it. A
    /// client may choose SITE_IDLE_MIN seconds up to idle_session_timeout (with 0, no
    /// timeout, up to SITE_IDLE_UNLIMITED_MAX): never longer than the administrator's.
    fn site_idle(&mut self, rest: &[u8]) -> io::Result<Flow> {
        let max = match self.cfg.idle_session_timeout {
            0 => crate::limits::SITE_IDLE_UNLIMITED_MAX,
            n => n,
        };
        let min = crate::limits::SITE_IDLE_MIN.min(max);
        let rest = std::str::from_utf8(rest).unwrap_or("x").trim();
        if rest.is_empty() {
            return match self.ctl.idle() {
                Some(d) => self.reply(
                    200,
                    &format!(
                        "Current IDLE time limit is {} seconds; max {max}",
                        d.as_secs()
                    ),
                ),
                None => self.reply(200, &format!("No current IDLE time limit; max {max}")),
            };
        }
        match rest.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => {
                self.ctl
                    .set_idle(Some(std::time::Duration::from_secs(n.into())));
                self.reply(200, &format!("Maximum IDLE time set to {n} seconds"))
            }
            _ => self.reply(
                501,
                &format!("Maximum IDLE time must be between {min} and {max} seconds"),
            ),
        }
    }

    fn site_chmod(&mut self, rest: &[u8]) -> io::Result<Flow> {
        let (mode, file) = match rest.iter().position(|&b| b == b' ') {
            Some(p) if p + 1 < rest.len() => (&rest[..p], &rest[p + 1..]),
            _ => return self.reply(500, "SITE CHMOD needs 2 arguments."),
        };
        let mode = std::str::from_utf8(mode)
            .ok()
            .and_then(|m| u32::from_str_radix(m, 8).ok());
        // Permission bits only: no set-id or sticky bits from a client.
        let Some(mode) = mode.filter(|m| *m <= 0o777) else {
            return self.reply(550, "SITE CHMOD command failed.");
        };
        let target = self.resolve(file);
        let ok = matches!(&target, Some((_, real))
            if std::fs::set_permissions(real, std::fs::Permissions::from_mode(mode)).is_ok());
        log::action(ok, "CHMOD", &target.map(|(v, _)| v).unwrap_or_default());
        if ok {
            self.reply(200, "SITE CHMOD command ok.")
        } else {
            self.reply(550, "SITE CHMOD command failed.")
        }
    }

    /// `MDTM YYYYMMDDHHMMSS file`: set the modification time (mdtm_write).
    pub(super) fn mdtm_set(&mut self, time: &[u8], file: &[u8]) -> io::Result<Flow> {
        if !self.cfg.mdtm_write || !self.may_write(Need::Other) {
            return self.reply(550, "Permission denied.");
        }
        let Some(t) = listing::parse_mdtm(time) else {
            return self.reply(550, "Could not set file modification time.");
        };
        match self.resolve(file) {
            Some((_, real))
                if std::fs::metadata(&real)
                    .map(|m| m.is_file())
                    .unwrap_or(false)
                    && sys::fs::set_mtime(&real, t).is_ok() =>
            {
                self.reply(213, "File modification time set.")
            }
            _ => self.reply(550, "Could not set file modification time."),
        }
    }

    /// `MFMT YYYYMMDDHHMMSS path` (draft-somers-ftp-mfxx): set a file's or directory's
    /// modification time (UTC), behind the gates of MDTM with a time (mdtm_write,
    /// write_enable, for anonymous anon_other_write_enable). Replies with the time set.
    pub(super) fn mfmt(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.cfg.mdtm_write || !self.may_write(Need::Other) {
            return self.reply(550, "Permission denied.");
        }
        let Some((t, file)) = mlsx::parse_mfmt(arg.unwrap_or(b"")) else {
            return self.reply(501, "MFMT needs YYYYMMDDHHMMSS and a path.");
        };
        let target = self
            .resolve(file)
            .filter(|(_, real)| std::fs::metadata(real).is_ok_and(|m| m.is_file() || m.is_dir()));
        match target {
            Some((_, real)) if sys::fs::set_mtime(&real, t).is_ok() => {
                let mut text = format!("Modify={}; ", listing::format_mdtm(t)).into_bytes();
                text.extend_from_slice(file);
                self.ctl.reply_bytes(213, &text)?;
                Ok(Flow::Continue)
            }
            _ => self.reply(550, "Could not set file modification time."),
        }
    }

    /// SECURITY: files the anonymous account owns are its uploads: anonymous sessions may
    /// neither fetch nor list them, whatever their mode (the drop box stays write-only even
    /// with a lax anon_umask).
    pub(super) fn anon_owned(&self, md: &std::fs::Metadata) -> bool {
        self.anon_uid == Some(md.uid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_map_to_replies() {
        assert_eq!(open_error_reply(&io::Error::from_raw_os_error(13)).0, 550);
        assert_eq!(open_error_reply(&io::Error::from_raw_os_error(2)).0, 550);
        assert_eq!(open_error_reply(&io::Error::from_raw_os_error(28)).0, 452);
        assert_eq!(open_error_reply(&io::Error::from_raw_os_error(122)).0, 552);
        assert_eq!(
            open_error_reply(&io::Error::from_raw_os_error(17)),
            (553, "Could not create file.")
        );
    }
}
