//! The post-login command loop: one dispatch table (verb, argument rule, needs write,
//! handler) for everything a logged-in client may do, data connections and transfers, and
//! the control commands served while a transfer runs (ABOR, STAT, NOOP, QUIT). Runs with
//! the user's identity inside the user's jail (or, in development mode, unjailed as the
//! launching user with `root` as the served tree).

use super::control::{Control, Input};
use super::data::{self, Setup};
use super::dirlist::{self, ListJob, Target};
use super::transfer::{self, Job, Outcome};

mod mlsx;
mod write;
use crate::config::Config;
use crate::log;
use crate::proto::{addr, command, glob, listing, path};
use crate::sys;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

/// What the post-login session is, handed over by the monitor (or development mode).
pub struct Context {
    pub cfg: Config,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The real directory that is "/" for the client: "/" when chrooted.
    pub root: PathBuf,
    pub anonymous: bool,
    /// The account name shown in STAT and logs.
    pub user: Vec<u8>,
    /// The start directory and `~`, as the client sees it ("/" when jailed at home).
    pub home: Vec<u8>,
    /// IPC channel to the monitor (port-20 sockets); None in development mode.
    pub broker: Option<OwnedFd>,
    /// ssl_enable: the side channel to the TLS holder, and whether PROT P was set before
    /// login.
    pub tls: Option<(OwnedFd, bool)>,
    /// The uid of the anonymous account when this session runs as it (its files are
    /// anonymous uploads); None for local users and in development mode.
    pub anon_uid: Option<u32>,
}

enum Flow {
    Continue,
    Quit,
    /// REIN accepted: this session ends and a fresh pre-login one takes the connection.
    Rein,
}

/// How a post-login session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// QUIT, a timeout, the client went away: the connection is over.
    Quit,
    /// REIN: start over before login on the same connection (the monitor agreed).
    Rein,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ArgRule {
    None,
    Required,
    Optional,
}

type Handler = fn(&mut Session, Option<&[u8]>) -> io::Result<Flow>;

struct Verb {
    name: &'static str,
    arg: ArgRule,
    /// Changes the file system: refused with 550 unless writes are allowed.
    write: bool,
    handler: Handler,
}

const fn v(name: &'static str, arg: ArgRule, write: bool, handler: Handler) -> Verb {
    Verb {
        name,
        arg,
        write,
        handler,
    }
}

use ArgRule::{None as No, Optional as Opt, Required as Req};

/// The one dispatch table of the post-login session.
static VERBS: &[Verb] = &[
    v("ABOR", No, false, Session::abor_idle),
    v("ACCT", Opt, false, Session::not_implemented),
    v("ALLO", Req, false, |s, _| {
        s.reply(202, "ALLO command ignored.")
    }),
    v("APPE", Req, true, Session::appe),
    v("AUTH", Opt, false, Session::not_implemented),
    v("CCC", No, false, Session::not_implemented),
    v("CDUP", No, false, |s, _| s.cwd(b"..")),
    v("CWD", Req, false, |s, a| s.cwd(a.unwrap_or(b""))),
    v("DELE", Req, true, Session::dele),
    v("EPRT", Req, false, Session::eprt),
    v("EPSV", Opt, false, Session::epsv),
    v("FEAT", No, false, |s, _| {
        let lines = super::feat_lines(&s.cfg, s.mlst_facts);
        s.ctl.reply_multi(211, "Features:", &lines, "End")?;
        Ok(Flow::Continue)
    }),
    v("HELP", Opt, false, |s, _| {
        s.ctl.reply_multi(
            214,
            "The following commands are recognized.",
            &super::help_lines(),
            "Help OK.",
        )?;
        Ok(Flow::Continue)
    }),
    v("HOST", Opt, false, |s, _| {
        s.reply(503, "Already logged in.")
    }),
    v("LANG", Opt, false, |s, a| {
        super::prelogin::lang(&mut s.ctl, a)?;
        Ok(Flow::Continue)
    }),
    v("LIST", Opt, false, |s, a| s.list(a, true)),
    v("MDTM", Req, false, Session::mdtm),
    v("MFMT", Req, true, Session::mfmt),
    v("MKD", Req, true, Session::mkd),
    v("MLSD", Opt, false, Session::mlsd),
    v("MLST", Opt, false, Session::mlst),
    v("MODE", Req, false, |s, a| {
        if a.is_some_and(|m| m.eq_ignore_ascii_case(b"S")) {
            s.reply(200, "Mode set to S.")
        } else {
            s.reply(504, "Bad MODE command.")
        }
    }),
    v("NLST", Opt, false, |s, a| s.list(a, false)),
    v("NOOP", No, false, |s, _| s.reply(200, "NOOP ok.")),
    v("OPTS", Req, false, |s, a| match a {
        Some(a) if super::prelogin::is_opts_mlst(a) => s.opts_mlst(a.get(5..).unwrap_or(b"")),
        _ => {
            super::prelogin::opts(&mut s.ctl, a)?;
            Ok(Flow::Continue)
        }
    }),
    v("P@SW", No, false, Session::pasv),
    v("PASS", Opt, false, |s, _| {
        s.reply(230, "Already logged in.")
    }),
    v("PASV", No, false, Session::pasv),
    v("PBSZ", Opt, false, Session::not_implemented),
    v("PORT", Req, false, Session::port),
    v("PROT", Opt, false, Session::not_implemented),
    v("PWD", No, false, Session::pwd),
    v("QUIT", No, false, |s, _| {
        s.reply(221, "Goodbye.")?;
        Ok(Flow::Quit)
    }),
    v("REIN", No, false, Session::rein),
    v("REST", Req, false, Session::rest),
    v("RETR", Req, false, Session::retr),
    v("RMD", Req, true, Session::rmd),
    v("RNFR", Req, true, Session::rnfr),
    v("RNTO", Req, true, Session::rnto),
    // The write gate is in site(): SITE IDLE changes nothing on disk.
    v("SITE", Opt, false, Session::site),
    v("SIZE", Req, false, Session::size),
    v("SMNT", Opt, false, Session::not_implemented),
    v("STAT", Opt, false, Session::stat),
    v("STOR", Req, true, Session::stor),
    v("STOU", Opt, true, Session::stou),
    v("STRU", Req, false, |s, a| {
        if a.is_some_and(|m| m.eq_ignore_ascii_case(b"F")) {
            s.reply(200, "Structure set to F.")
        } else {
            s.reply(504, "Bad STRU command.")
        }
    }),
    v("SYST", No, false, |s, _| s.reply(215, "UNIX Type: L8")),
    v("TYPE", Req, false, Session::type_),
    v("USER", Opt, false, |s, a| {
        if s.anonymous {
            s.reply(530, "Can't change from guest user.")
        } else if a == Some(s.user.as_slice()) {
            s.reply(331, "Any password will do.")
        } else {
            s.reply(530, "Can't change to another user.")
        }
    }),
    v("XCUP", No, false, |s, _| s.cwd(b"..")),
    v("XCWD", Req, false, |s, a| s.cwd(a.unwrap_or(b""))),
    v("XMKD", Req, true, Session::mkd),
    v("XPWD", No, false, Session::pwd),
    v("XRMD", Req, true, Session::rmd),
];

fn lookup(verb: &str) -> Option<&'static Verb> {
    VERBS
        .binary_search_by(|v| v.name.cmp(verb))
        .ok()
        .map(|i| &VERBS[i])
}

struct Session {
    ctl: Control,
    cfg: Config,
    local: SocketAddr,
    peer: SocketAddr,
    root: PathBuf,
    anonymous: bool,
    user: Vec<u8>,
    broker: Option<OwnedFd>,
    cwd: Vec<u8>,
    home: Vec<u8>,
    ascii: bool,
    rest: u64,
    data: Setup,
    epsv_all: bool,
    seen_messages: Vec<Vec<u8>>,
    /// A command line read during a transfer that must wait until the transfer ends.
    pending: Option<Vec<u8>>,
    /// The path RNFR named, for the RNTO that must follow.
    rnfr: Option<Vec<u8>>,
    /// See Context::anon_uid.
    anon_uid: Option<u32>,
    /// ssl_enable: the TLS holder, and what AUTH and PROT set up.
    tls: Option<super::tls::Link>,
    tls_state: super::tls::State,
    /// The facts MLST and MLSD show (OPTS MLST); all supported ones at first.
    mlst_facts: crate::proto::mlsx::Facts,
}

/// Serve a logged-in client until it quits, goes away or starts over with REIN.
pub fn run(ctl: Control, ctx: Context) -> io::Result<Ended> {
    let mlst_facts = crate::proto::mlsx::Facts::supported(ctx.cfg.hide_ids);
    let mut s = Session {
        ctl,
        cfg: ctx.cfg,
        local: ctx.local,
        peer: ctx.peer,
        root: ctx.root,
        anonymous: ctx.anonymous,
        user: ctx.user,
        broker: ctx.broker,
        cwd: ctx.home.clone(),
        home: ctx.home,
        ascii: false,
        rest: 0,
        data: Setup::None,
        epsv_all: false,
        seen_messages: Vec::new(),
        pending: None,
        rnfr: None,
        anon_uid: ctx.anon_uid,
        tls: None,
        tls_state: super::tls::State::default(),
        mlst_facts,
    };
    if let Some((side, private)) = ctx.tls {
        let link = super::tls::Link::new(side, &s.cfg);
        s.tls_state.control = link.control_is_tls()?;
        s.tls_state.private = private;
        s.tls = Some(link);
    }
    let msg = s.dir_message(s.home.clone());
    s.ctl.reply_with_message(230, &msg, "Login successful.")?;
    loop {
        let line = match s.pending.take() {
            Some(l) => l,
            None => match s.ctl.read_line()? {
                Input::Line(l) => l,
                Input::TooLong => {
                    s.ctl.reply(500, "Input line too long.")?;
                    return Ok(Ended::Quit);
                }
                Input::Eof => return Ok(Ended::Quit),
                Input::Timeout => {
                    s.ctl.reply(421, "Timeout.")?;
                    return Ok(Ended::Quit);
                }
            },
        };
        match s.dispatch(&line)? {
            Flow::Continue => {}
            Flow::Quit => return Ok(Ended::Quit),
            Flow::Rein => return Ok(Ended::Rein),
        }
    }
}

impl Session {
    fn reply(&mut self, code: u16, text: &str) -> io::Result<Flow> {
        self.ctl.reply(code, text)?;
        Ok(Flow::Continue)
    }

    fn dispatch(&mut self, line: &[u8]) -> io::Result<Flow> {
        let cmd = command::parse(command::trim_eol(line));
        if cmd.verb.is_empty() {
            return Ok(Flow::Continue);
        }
        // RNFR names a file for the very next command only, whatever that command is and
        // however it ends (refused, unknown, failed RNFR): only an RNTO gets it back.
        let rnfr = self.rnfr.take();
        if cmd.verb == "RNTO" && cmd.arg.is_some() {
            self.rnfr = rnfr;
        }
        // SECURITY: cmds_allowed / cmds_denied, for every command, before it is looked up
        // (an unknown command not on the allow list is refused as vsftpd does).
        if super::prelogin::filtered(&self.cfg, &cmd.verb) {
            self.rnfr = None;
            return self.reply(550, "Permission denied.");
        }
        let (cfg, st) = (&self.cfg, &mut self.tls_state);
        if super::tls::command(&mut self.ctl, cfg, st, &cmd.verb, cmd.arg.as_deref(), true)? {
            return Ok(Flow::Continue);
        }
        let Some(verb) = lookup(&cmd.verb) else {
            return self.reply(500, "Unknown command.");
        };
        let arg = cmd.arg.as_deref();
        match (verb.arg, arg) {
            (ArgRule::Required, None) => {
                return self.reply(501, &format!("{} needs an argument.", verb.name))
            }
            (ArgRule::None, Some(_)) => {
                return self.reply(501, &format!("{} takes no argument.", verb.name))
            }
            _ => {}
        }
        // SECURITY: one gate for every command that changes the file system; the
        // anonymous gates are in write::may_write, which every write handler calls.
        if verb.write && !self.cfg.write_enable {
            return self.reply(550, "Permission denied.");
        }
        let flow = (verb.handler)(self, arg);
        if verb.name != "RNFR" {
            // RNFR names a file for the very next command only.
            self.rnfr = None;
        }
        if matches!(verb.name, "RETR" | "STOR" | "APPE" | "STOU") {
            // A restart offset is used up by the next transfer, as in vsftpd, not by the
            // commands in between: clients send REST before PASV/EPSV or TYPE too.
            self.rest = 0;
        }
        flow
    }

    fn not_implemented(&mut self, _: Option<&[u8]>) -> io::Result<Flow> {
        self.reply(502, "Command not implemented.")
    }

    /// REIN (RFC 959): log out but keep the connection. The monitor ends this process and
    /// starts a fresh pre-login one, which answers `220 Service ready for new user.`; no
    /// data connection or setting of this session survives. During a transfer REIN waits
    /// for it to end, as other commands do.
    fn rein(&mut self, _: Option<&[u8]>) -> io::Result<Flow> {
        if self.tls_state.control {
            return self.reply(502, super::prelogin::REIN_TLS);
        }
        let Some(broker) = &self.broker else {
            // Development mode: the caller loops back to the pre-login phase (and counts).
            return Ok(Flow::Rein);
        };
        let sock = std::os::fd::AsRawFd::as_raw_fd(broker);
        crate::ipc::send(sock, &crate::ipc::PostloginRequest::Rein.encode()?, None)?;
        match crate::ipc::Status::recv(sock)? {
            crate::ipc::Status::Ok => Ok(Flow::Rein),
            crate::ipc::Status::Failed(_) => self.reply(502, super::prelogin::REIN_TOO_MANY),
        }
    }

    fn abor_idle(&mut self, _: Option<&[u8]>) -> io::Result<Flow> {
        self.reply(225, "No transfer to ABOR.")
    }

    /// Resolve a client path to (virtual, real). None for a path that cannot be resolved
    /// or that deny_file forbids: every path-taking command goes through here.
    fn resolve(&self, arg: &[u8]) -> Option<(Vec<u8>, PathBuf)> {
        let virt = path::resolve(&self.cwd, arg, &self.home).ok()?;
        // SECURITY: deny_file applies to every component, so nothing below a denied
        // directory is reachable either.
        if any_component_matches(self.cfg.deny_file.as_deref(), &virt) {
            return None;
        }
        let real = path::to_real(&self.root, &virt);
        Some((virt, real))
    }

    fn dir_message(&mut self, virt: Vec<u8>) -> Vec<Vec<u8>> {
        if !self.cfg.dirmessage_enable || self.seen_messages.contains(&virt) {
            return Vec::new();
        }
        if self.seen_messages.len() >= crate::limits::MESSAGE_DIRS_REMEMBERED {
            self.seen_messages.remove(0);
        }
        let dir = path::to_real(&self.root, &virt);
        self.seen_messages.push(virt);
        super::read_message(&dir.join(&self.cfg.message_file)).unwrap_or_default()
    }

    fn cwd(&mut self, arg: &[u8]) -> io::Result<Flow> {
        let ok = match self.resolve(arg) {
            Some((virt, real)) => {
                let is_dir = std::fs::metadata(&real)
                    .map(|m| m.is_dir())
                    .unwrap_or(false);
                if is_dir && sys::fs::can_search(&real) {
                    Some(virt)
                } else {
                    None
                }
            }
            None => None,
        };
        match ok {
            Some(virt) => {
                self.cwd = virt.clone();
                let msg = self.dir_message(virt);
                self.ctl
                    .reply_with_message(250, &msg, "Directory successfully changed.")?;
                Ok(Flow::Continue)
            }
            None => self.reply(550, "Failed to change directory."),
        }
    }

    fn pwd(&mut self, _: Option<&[u8]>) -> io::Result<Flow> {
        let mut text = path::quote_257(&self.cwd);
        text.extend_from_slice(b" is the current directory");
        self.ctl.reply_bytes(257, &text)?;
        Ok(Flow::Continue)
    }

    fn type_(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        let a: Vec<u8> = arg
            .unwrap_or(b"")
            .iter()
            .filter(|&&b| b != b' ')
            .map(|b| b.to_ascii_uppercase())
            .collect();
        match a.as_slice() {
            b"A" | b"AN" => {
                self.ascii = true;
                self.reply(200, "Switching to ASCII mode.")
            }
            b"I" | b"L8" => {
                self.ascii = false;
                self.reply(200, "Switching to Binary mode.")
            }
            _ => self.reply(500, "Unrecognised TYPE command."),
        }
    }

    fn rest(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        let n = std::str::from_utf8(arg.unwrap_or(b""))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        match n {
            Some(n) if n <= i64::MAX as u64 => {
                self.rest = n;
                self.reply(350, &format!("Restart position accepted ({n})."))
            }
            _ => {
                self.rest = 0;
                self.reply(501, "REST needs a non-negative number.")
            }
        }
    }

    fn size(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        match self
            .resolve(arg.unwrap_or(b""))
            .and_then(|(_, real)| std::fs::metadata(real).ok())
        {
            Some(md) if md.is_file() => self.reply(213, &md.len().to_string()),
            _ => self.reply(550, "Could not get file size."),
        }
    }

    fn mdtm(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        let a = arg.unwrap_or(b"");
        let md = self
            .resolve(a)
            .and_then(|(_, real)| std::fs::metadata(real).ok());
        match md {
            Some(md) if md.is_file() => self.reply(213, &listing::format_mdtm(md.mtime())),
            _ => {
                // `MDTM YYYYMMDDHHMMSS file` sets the time (a file literally named so wins).
                let is_set =
                    a.len() > 15 && a[..14].iter().all(u8::is_ascii_digit) && a[14] == b' ';
                if is_set {
                    self.mdtm_set(&a[..14], &a[15..])
                } else {
                    self.reply(550, "Could not get file modification time.")
                }
            }
        }
    }

    fn stat(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        match arg {
            None => {
                let lines: Vec<Vec<u8>> = [
                    format!("     Connected to {}", self.peer.ip()),
                    format!("     Logged in as {}", String::from_utf8_lossy(&self.user)),
                    format!("     TYPE: {}", if self.ascii { "ASCII" } else { "BINARY" }),
                    match self.max_rate() {
                        0 => "     No session bandwidth limit".to_string(),
                        r => format!("     Session bandwidth limit in byte/s is {r}"),
                    },
                    format!(
                        "     Session timeout in seconds is {}",
                        self.ctl.idle().map_or(0, |d| d.as_secs())
                    ),
                    if self.tls_state.control {
                        "     Control connection is encrypted (TLS)".to_string()
                    } else {
                        "     Control connection is plain text".to_string()
                    },
                    if self.tls_state.private {
                        "     Data connections will be encrypted (TLS)".to_string()
                    } else {
                        "     Data connections will be plain text".to_string()
                    },
                ]
                .into_iter()
                .map(String::into_bytes)
                .collect();
                self.ctl
                    .reply_multi(211, "FTP server status:", &lines, "End of status")?;
                Ok(Flow::Continue)
            }
            Some(a) => {
                if !self.cfg.dirlist_enable {
                    return self.reply(550, "Permission denied.");
                }
                let mut job = match self.list_job(Some(a), true) {
                    Some(j) => j,
                    None => return self.reply(550, "Permission denied."),
                };
                // SECURITY: STAT builds its reply in the session's memory, without ABOR:
                // bounded far below a data-connection listing (STAT -R walks a tree).
                job.max_entries = crate::limits::STAT_ENTRIES_MAX;
                let mut lines = LineCollector(Vec::new());
                match dirlist::produce(&job, &mut lines) {
                    Err(dirlist::ListError::TooComplex) => self.reply(550, "Pattern too complex."),
                    Err(dirlist::ListError::Cut) => {
                        self.ctl.reply_multi(
                            213,
                            "Status follows:",
                            &lines.0,
                            "Listing cut: too many entries.",
                        )?;
                        Ok(Flow::Continue)
                    }
                    _ => {
                        self.ctl
                            .reply_multi(213, "Status follows:", &lines.0, "End of status")?;
                        Ok(Flow::Continue)
                    }
                }
            }
        }
    }

    /// Build the listing job for LIST/NLST/STAT; None if the path cannot be resolved.
    fn list_job(&self, arg: Option<&[u8]>, long: bool) -> Option<ListJob> {
        let la = listing::parse_list_arg(arg);
        let given: Vec<u8> = la.path.clone().unwrap_or_default();
        let (parent_arg, last) = split_last(&given);
        let target = if !given.is_empty() && glob::has_wildcards(last) {
            let (_, real_dir) = self.resolve(if parent_arg.is_empty() {
                b"."
            } else {
                parent_arg
            })?;
            Target::Dir {
                real: real_dir,
                pattern: Some(last.to_vec()),
            }
        } else {
            let (_, real) = self.resolve(if given.is_empty() { b"." } else { &given })?;
            match std::fs::metadata(&real) {
                Ok(md) if !md.is_dir() => Target::File {
                    real,
                    name: given.clone(),
                },
                _ => Target::Dir {
                    real,
                    pattern: None,
                },
            }
        };
        // vsftpd's headings: the directory as given, `.` for the current one or a glob in it.
        let heading = match &target {
            Target::Dir {
                pattern: Some(_), ..
            } if !parent_arg.is_empty() => {
                parent_arg.strip_suffix(b"/").unwrap_or(parent_arg).to_vec()
            }
            Target::Dir { pattern: None, .. } if !given.is_empty() => given.clone(),
            _ => b".".to_vec(),
        };
        let prefix = match &target {
            Target::Dir {
                pattern: Some(_), ..
            } => listing::nlst_prefix(parent_arg),
            Target::Dir { pattern: None, .. } => listing::nlst_prefix(&given),
            Target::File { .. } => Vec::new(),
        };
        Some(ListJob {
            target,
            long: long || la.long,
            all: la.all,
            force_dot_files: self.cfg.force_dot_files,
            reverse: la.reverse,
            time_sort: la.time_sort,
            hide_ids: self.cfg.hide_ids,
            use_localtime: self.cfg.use_localtime,
            prefix,
            require_world_readable: self.anonymous && self.cfg.anon_world_readable_only,
            hide: self.cfg.hide_file.as_ref().map(|h| h.as_bytes().to_vec()),
            hide_uid: self.anon_uid,
            now: sys::time::now(),
            recursive: la.recursive && self.cfg.ls_recurse_enable,
            heading,
            deny: self.cfg.deny_file.as_ref().map(|d| d.as_bytes().to_vec()),
            max_entries: crate::limits::LIST_ENTRIES_MAX,
            mlsx: None,
        })
    }

    fn list(&mut self, arg: Option<&[u8]>, long: bool) -> io::Result<Flow> {
        if !self.cfg.dirlist_enable {
            return self.reply(550, "Permission denied.");
        }
        // NLST gives names unless `-l` asks for long lines (as vsftpd).
        let Some(job) = self.list_job(arg, long) else {
            return self.reply(550, "Permission denied.");
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

    fn retr(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.cfg.download_enable {
            return self.reply(550, "Permission denied.");
        }
        let a = arg.unwrap_or(b"");
        let resolved = self.resolve(a);
        let shown = resolved.as_ref().map_or(a.to_vec(), |(v, _)| v.clone());
        let opened = resolved.and_then(|(_, real)| sys::fs::open_regular(&real).ok());
        let Some((file, md)) = opened else {
            return self.refuse_transfer(false, &shown, 550, "Failed to open file.");
        };
        // SECURITY: anonymous users fetch only world-readable files, so a drop box's
        // uploads (mode 0600) cannot be downloaded by others.
        if self.anonymous && self.cfg.anon_world_readable_only && md.mode() & 0o004 == 0 {
            return self.refuse_transfer(false, &shown, 550, "Failed to open file.");
        }
        if self.anon_owned(&md) {
            return self.refuse_transfer(false, &shown, 550, "Failed to open file.");
        }
        let ascii = self.ascii && self.cfg.ascii_download_enable;
        let offset = self.rest;
        if offset > 0 && ascii {
            return self.reply(550, "No support for resume of ASCII transfer.");
        }
        if offset > md.len() {
            return self.reply(
                554,
                &format!(
                    "Restart offset {offset} is past the end of the file ({} bytes).",
                    md.len()
                ),
            );
        }
        let Some(stream) = self.open_data()? else {
            return Ok(Flow::Continue);
        };
        let mut text = format!(
            "Opening {} mode data connection for ",
            if ascii { "ASCII" } else { "BINARY" }
        )
        .into_bytes();
        text.extend_from_slice(a);
        text.extend_from_slice(format!(" ({} bytes).", md.len()).as_bytes());
        self.ctl.reply_bytes(150, &text)?;
        let Some(stream) = self.secure_data(stream, false)? else {
            return Ok(Flow::Continue);
        };
        let started = std::time::Instant::now();
        let virt = self.resolve(a).map(|(v, _)| v).unwrap_or_default();
        let rate = self.max_rate();
        let requested = offset;
        let (offset, stream) =
            if !ascii && self.cfg.use_sendfile && rate == 0 && md.len() <= transfer::INLINE_MAX {
                match transfer::try_inline(&file, offset, stream, self.cfg.lock_upload_files) {
                    transfer::Inline::Sent(bytes) => {
                        let outcome = self.secured_outcome(Outcome::Ok, false)?;
                        if outcome != Outcome::Ok {
                            self.ctl.reply(426, "Failure writing network stream.")?;
                            self.log_transfer(false, &virt, outcome, bytes, started, false);
                            return Ok(Flow::Continue);
                        }
                        self.ctl.reply(226, "Transfer complete.")?;
                        self.ctl.touch();
                        self.log_transfer(false, &virt, Outcome::Ok, bytes, started, false);
                        return Ok(Flow::Continue);
                    }
                    transfer::Inline::Shrank(bytes) => {
                        self.secured_outcome(Outcome::LocalRead, false)?;
                        self.ctl.reply(451, "Failure reading local file.")?;
                        self.ctl.touch();
                        self.log_transfer(false, &virt, Outcome::LocalRead, bytes, started, false);
                        return Ok(Flow::Continue);
                    }
                    transfer::Inline::Rest { offset, stream } => (offset, stream),
                }
            } else {
                (offset, stream)
            };
        let job = Job::Retr {
            file,
            offset,
            ascii,
            use_sendfile: self.cfg.use_sendfile,
            lock: self.cfg.lock_upload_files,
            rate,
        };
        let (flow, outcome, bytes) = self.transfer(job, stream, "Transfer complete.")?;
        // Bytes the inline attempt sent before handing over count too.
        let bytes = bytes + (offset - requested);
        self.log_transfer(false, &virt, outcome, bytes, started, ascii);
        Ok(flow)
    }

    /// The transfer rate limit of this session, bytes per second (0 = none).
    fn max_rate(&self) -> u64 {
        u64::from(if self.anonymous {
            self.cfg.anon_max_rate
        } else {
            self.cfg.local_max_rate
        })
    }

    /// Refuse a transfer whose file cannot be opened: as vsftpd, the log gets a FAIL line
    /// with no bytes, so an administrator sees the attempt.
    pub(crate) fn refuse_transfer(
        &mut self,
        upload: bool,
        virt: &[u8],
        code: u16,
        text: &str,
    ) -> io::Result<Flow> {
        let now = std::time::Instant::now();
        self.log_transfer(upload, virt, Outcome::LocalRead, 0, now, false);
        self.reply(code, text)
    }

    /// Log a transfer: the vsftpd line and the xferlog line.
    fn log_transfer(
        &self,
        upload: bool,
        virt: &[u8],
        outcome: Outcome,
        bytes: u64,
        started: std::time::Instant,
        ascii: bool,
    ) {
        log::transfer(&log::Transfer {
            upload,
            ok: outcome == Outcome::Ok,
            path: virt,
            bytes,
            secs: started.elapsed().as_secs_f64(),
            ascii,
            anonymous: self.anonymous,
        });
    }

    /// Open the data connection set up by PASV/EPSV/PORT/EPRT; on failure the reply is
    /// sent and None returned.
    fn open_data(&mut self) -> io::Result<Option<TcpStream>> {
        let setup = std::mem::replace(&mut self.data, Setup::None);
        // SECURITY: force_*_data_ssl: no file or listing goes over a clear data connection.
        if super::tls::data_forced(&self.cfg, self.anonymous) && !self.tls_state.private {
            self.ctl.reply(522, "Data connections must be encrypted.")?;
            return Ok(None);
        }
        match data::open(
            &self.cfg,
            setup,
            self.peer,
            self.broker.as_ref(),
            self.ctl.fd(),
        ) {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                let (code, text) = e.reply();
                self.ctl.reply(code, text)?;
                Ok(None)
            }
        }
    }

    /// After the 150 reply: with PROT P, hand the data connection to the TLS holder (the
    /// client starts the handshake now) and move plain bytes through it. None when the
    /// handshake failed; the 522 reply is sent.
    pub(crate) fn secure_data(
        &mut self,
        stream: TcpStream,
        upload: bool,
    ) -> io::Result<Option<TcpStream>> {
        let (true, Some(link)) = (self.tls_state.private, self.tls.as_mut()) else {
            return Ok(Some(stream));
        };
        match link.secure(stream, upload)? {
            super::tls::Secured::Plain(s) => Ok(Some(s)),
            super::tls::Secured::Refused(text) => {
                self.ctl.reply(522, text)?;
                Ok(None)
            }
        }
    }

    /// The transfer ended with `outcome` on the session's side; with a TLS data connection,
    /// what the holder says about the TLS stream can still make it a failure (a download
    /// not delivered, an upload cut off without close_notify).
    fn secured_outcome(&mut self, outcome: Outcome, upload: bool) -> io::Result<Outcome> {
        let Some(link) = self.tls.as_mut() else {
            return Ok(outcome);
        };
        let clean = link.finish(outcome != Outcome::Ok)?;
        Ok(match (outcome, clean, upload) {
            (Outcome::Ok, false, false) => Outcome::NetWrite,
            (Outcome::Ok, false, true) => Outcome::NetRead,
            (o, _, _) => o,
        })
    }

    /// Run a transfer child and serve the control connection until it ends. Returns what
    /// to do next, how the transfer ended and how many bytes it moved.
    fn transfer(
        &mut self,
        job: Job,
        stream: TcpStream,
        done: &str,
    ) -> io::Result<(Flow, Outcome, u64)> {
        let upload = matches!(job, Job::Stor { .. });
        let timeout = (self.cfg.data_connection_timeout > 0)
            .then(|| Duration::from_secs(self.cfg.data_connection_timeout.into()));
        let running = match transfer::start(job, stream, timeout) {
            Ok(r) => r,
            Err(e) => {
                log::error(&format!("cannot start a transfer: {e}"));
                // The TLS holder (if any) has the data connection: stop it too.
                self.secured_outcome(Outcome::Died, upload)?;
                self.ctl
                    .reply(451, "Local error: cannot start the transfer.")?;
                return Ok((Flow::Continue, Outcome::Died, 0));
            }
        };
        let mut quit_after = false;
        loop {
            let watch_control = self.pending.is_none() && !quit_after;
            let fds: Vec<i32> = if watch_control {
                vec![running.result_fd(), self.ctl.fd()]
            } else {
                vec![running.result_fd()]
            };
            if let sys::io::Ready::Fd(1) = sys::io::poll_readable(&fds, None)? {
                let line = match self.ctl.read_line()? {
                    Input::Line(l) => l,
                    Input::Eof | Input::Timeout => {
                        let n = running.abort();
                        self.secured_outcome(Outcome::Aborted, upload)?;
                        return Ok((Flow::Quit, Outcome::Aborted, n));
                    }
                    Input::TooLong => {
                        let n = running.abort();
                        self.secured_outcome(Outcome::Aborted, upload)?;
                        self.ctl.reply(500, "Input line too long.")?;
                        return Ok((Flow::Quit, Outcome::Aborted, n));
                    }
                };
                let cmd = command::parse(command::trim_eol(&line));
                let served_now = matches!(cmd.verb.as_str(), "ABOR" | "NOOP" | "QUIT")
                    || (cmd.verb == "STAT" && cmd.arg.is_none());
                // SECURITY: the commands served during a transfer obey cmds_allowed and
                // cmds_denied too; the others are checked when their turn comes.
                if served_now && super::prelogin::filtered(&self.cfg, &cmd.verb) {
                    self.ctl.reply(550, "Permission denied.")?;
                    continue;
                }
                match cmd.verb.as_str() {
                    "ABOR" => {
                        let n = running.abort();
                        self.secured_outcome(Outcome::Aborted, upload)?;
                        if upload {
                            self.ctl.reply(426, "Failure reading network stream.")?;
                        } else {
                            self.ctl.reply(426, "Failure writing network stream.")?;
                        }
                        self.ctl.reply(226, "ABOR successful.")?;
                        self.ctl.touch();
                        return Ok((Flow::Continue, Outcome::Aborted, n));
                    }
                    "STAT" if cmd.arg.is_none() => {
                        let lines = vec![format!(
                            "     Data transfer in progress: {} bytes transferred",
                            running.bytes()
                        )
                        .into_bytes()];
                        self.ctl
                            .reply_multi(211, "FTP server status:", &lines, "End of status")?;
                    }
                    "NOOP" => self.ctl.reply(200, "NOOP ok.")?,
                    "QUIT" => quit_after = true,
                    "" => {}
                    _ => self.pending = Some(line),
                }
                continue;
            }
            let (outcome, bytes) = running.finish();
            let outcome = self.secured_outcome(outcome, upload)?;
            self.ctl.touch();
            let (code, text, quit) = match outcome {
                Outcome::Ok => (226, done, false),
                Outcome::NetWrite => (426, "Failure writing network stream.", false),
                Outcome::NetRead => (426, "Failure reading network stream.", false),
                Outcome::LocalRead => (451, "Failure reading local file.", false),
                Outcome::LocalWrite => (451, "Failure writing to local file.", false),
                Outcome::DiskFull => (452, "Insufficient storage space on the server.", false),
                Outcome::QuotaExceeded => (552, "Disk quota exceeded.", false),
                Outcome::DataTimeout => (421, "Data timeout. Reconnect. Sorry.", true),
                Outcome::DirFailed => (226, "Transfer done (but failed to open directory).", false),
                Outcome::TooComplex => (451, "Pattern too complex.", false),
                Outcome::ListCut => (451, "Listing cut: too many entries.", false),
                Outcome::Died | Outcome::Aborted => (451, "Transfer failed.", false),
            };
            self.ctl.reply(code, text)?;
            if quit_after {
                self.ctl.reply(221, "Goodbye.")?;
                return Ok((Flow::Quit, outcome, bytes));
            }
            let flow = if quit { Flow::Quit } else { Flow::Continue };
            return Ok((flow, outcome, bytes));
        }
    }

    /// The address PASV announces, or the 522 refusal. PASV carries only IPv4, so it is
    /// refused to an IPv6 client (vsftpd answers `227` there with the IPv4-mapped address or
    /// `0,0,0,0`, which no client can use; pure-ftpd refuses it too), and when there is no
    /// IPv4 address to announce: an IPv6 pasv_address, or none and an IPv6 local address.
    /// Both say to use EPSV, whose reply carries only a port. The client's family decides,
    /// not the local one: behind a balancer (proxy_protocol_enable) the host may be reached
    /// over IPv6 while an IPv4 client is told the balancer's IPv4 pasv_address. An IPv4
    /// client of a dual-stack listener is IPv4 here (`sys::net::endpoints` unmaps it).
    fn pasv_ip(&self) -> Result<Ipv4Addr, &'static str> {
        const ON_IPV6: &str = "PASV is not available on an IPv6 connection; use EPSV.";
        if self.peer.is_ipv6() {
            return Err(ON_IPV6);
        }
        match self.cfg.pasv_address.as_deref().map(str::parse::<IpAddr>) {
            None => match self.local.ip() {
                IpAddr::V4(local) => Ok(local),
                IpAddr::V6(_) => Err(ON_IPV6),
            },
            Some(Ok(IpAddr::V4(a))) => Ok(a),
            // Config::resolve_names left a number here; an IPv6 one was warned about.
            Some(_) => Err("PASV cannot announce the IPv6 pasv_address; use EPSV."),
        }
    }

    fn pasv(&mut self, _: Option<&[u8]>) -> io::Result<Flow> {
        if !self.cfg.pasv_enable || self.epsv_all {
            return self.reply(550, "Permission denied.");
        }
        self.data = Setup::None;
        let announce = match self.pasv_ip() {
            Ok(a) => a,
            Err(text) => return self.reply(522, text),
        };
        match data::listen(&self.cfg, self.local) {
            Ok(l) => {
                let port = l.local_addr()?.port();
                self.data = Setup::Passive(l);
                self.reply(227, &addr::format_pasv(announce, port))
            }
            Err(e) => {
                log::error(&format!("PASV: cannot listen: {e}"));
                self.reply(425, "Cannot open a passive port.")
            }
        }
    }

    fn epsv(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.cfg.pasv_enable {
            return self.reply(550, "Permission denied.");
        }
        let want = match addr::parse_epsv(arg) {
            addr::EpsvArg::All => {
                self.epsv_all = true;
                return self.reply(200, "EPSV ALL ok.");
            }
            addr::EpsvArg::Any => None,
            addr::EpsvArg::Proto(p) => Some(p),
            addr::EpsvArg::Bad => return self.reply(501, "Bad EPSV argument."),
        };
        let mine = if self.local.is_ipv4() { 1 } else { 2 };
        if want.is_some_and(|p| p != mine) {
            return self.reply(522, &format!("Bad network protocol; use ({mine})."));
        }
        self.data = Setup::None;
        match data::listen(&self.cfg, self.local) {
            Ok(l) => {
                let port = l.local_addr()?.port();
                self.data = Setup::Passive(l);
                self.reply(229, &addr::format_epsv(port))
            }
            Err(e) => {
                log::error(&format!("EPSV: cannot listen: {e}"));
                self.reply(425, "Cannot open a passive port.")
            }
        }
    }

    fn set_active(&mut self, target: SocketAddr) {
        self.data = Setup::Active(data::active_target(target, self.peer));
    }

    fn port(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.cfg.port_enable || self.epsv_all {
            return self.reply(550, "Permission denied.");
        }
        self.data = Setup::None;
        let Some(target) = addr::parse_port(arg.unwrap_or(b"")) else {
            return self.reply(500, "Illegal PORT command.");
        };
        // PORT carries only IPv4: it cannot name an IPv6 client, so say what works (as
        // EPRT's 522 does for the other family) rather than a generic refusal. vsftpd answers
        // `500 Illegal PORT command.` there. The client's family decides, as for PASV.
        if self.peer.is_ipv6() && !self.cfg.port_promiscuous {
            return self.reply(
                522,
                "PORT is not available on an IPv6 connection; use EPRT.",
            );
        }
        let target = SocketAddr::V4(target);
        if !data::active_allowed(&self.cfg, target, self.peer) {
            log::warn(&format!(
                "refused PORT to {target} from client {}",
                self.peer.ip()
            ));
            return self.reply(500, "Illegal PORT command.");
        }
        self.set_active(target);
        self.reply(200, "PORT command successful. Consider using PASV.")
    }

    fn eprt(&mut self, arg: Option<&[u8]>) -> io::Result<Flow> {
        if !self.cfg.port_enable || self.epsv_all {
            return self.reply(550, "Permission denied.");
        }
        self.data = Setup::None;
        let target = match addr::parse_eprt(arg.unwrap_or(b"")) {
            Ok(t) => t,
            Err(addr::EprtError::BadProtocol) => {
                return self.reply(522, "Bad network protocol; use (1,2).")
            }
            Err(addr::EprtError::BadCommand) => return self.reply(500, "Bad EPRT command."),
        };
        let target = sys::net::unmap(target);
        // An address of the other family cannot be this client: say which protocol works
        // (RFC 2428's 522) rather than a generic refusal.
        let mine = if self.local.is_ipv4() { 1 } else { 2 };
        if target.is_ipv4() != (mine == 1) && !self.cfg.port_promiscuous {
            return self.reply(522, &format!("Bad network protocol; use ({mine})."));
        }
        if !data::active_allowed(&self.cfg, target, self.peer) {
            log::warn(&format!(
                "refused EPRT to {target} from client {}",
                self.peer.ip()
            ));
            return self.reply(500, "Illegal EPRT command.");
        }
        self.set_active(target);
        self.reply(200, "EPRT command successful. Consider using EPSV.")
    }
}

/// Does any component of the virtual path match the (vsftpd-syntax) pattern? A pattern
/// too complex to evaluate counts as a match: refuse rather than allow.
fn any_component_matches(pattern: Option<&str>, virt: &[u8]) -> bool {
    let Some(p) = pattern else { return false };
    virt.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .any(|c| glob::matches_or_refuse(p.as_bytes(), c))
}

/// Split a client path into (everything before the last '/', included; last component).
fn split_last(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => (&[], p),
    }
}

/// Collects listing lines for STAT: dirlist writes one whole line per call.
struct LineCollector(Vec<Vec<u8>>);

impl io::Write for LineCollector {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let line = buf.strip_suffix(b"\r\n").unwrap_or(buf);
        self.0.push(line.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_table_is_sorted_and_unique() {
        for w in VERBS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        assert!(lookup("RETR").is_some());
        assert!(lookup("XYZZ").is_none());
    }

    #[test]
    fn split_last_component() {
        assert_eq!(split_last(b"a/b/*.txt"), (&b"a/b/"[..], &b"*.txt"[..]));
        assert_eq!(split_last(b"*.txt"), (&b""[..], &b"*.txt"[..]));
        assert_eq!(split_last(b"/x"), (&b"/"[..], &b"x"[..]));
    }
}
