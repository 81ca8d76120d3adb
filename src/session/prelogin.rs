//! The pre-login command loop: greeting, USER, PASS, QUIT, FEAT, OPTS, HELP, HOST, LANG,
//! REIN (and the FTPS commands); everything else is 530. cmds_allowed and cmds_denied
//! apply here too, except to the login and TLS commands. Passwords and host names go to an
//! Authenticator (the monitor over IPC, or the local policy in development mode). Runs as
//! nopriv_user chrooted in secure_chroot_dir.

use super::control::{Control, Input};
use crate::config::Config;
use crate::ipc::{HostReply, LoginReply, Secret};
use crate::limits;
use crate::proto::command;
use std::io;

/// Who checks a login.
pub trait Authenticator {
    /// `private`: PROT P was set before login (kept for the post-login session).
    fn login(&mut self, user: &[u8], pass: Secret, private: bool) -> io::Result<LoginReply>;
    /// With userlist_enable=YES: may this user go on to PASS?
    fn check_user(&mut self, user: &[u8]) -> io::Result<LoginReply>;
    /// HOST with host_config_dir set: select the virtual host `name` (canonical form).
    fn host(&mut self, name: &str) -> io::Result<HostReply>;
    /// REIN: may this connection start over (false: too many times already)?
    fn rein(&mut self) -> io::Result<bool>;
}

/// How the pre-login phase ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    LoggedIn {
        user: Vec<u8>,
    },
    /// QUIT, too many failures, timeout, EOF or an over-long line: end the session.
    Closed,
    /// REIN: start over with a fresh pre-login session, which greets with
    /// `220 Service ready for new user.`
    Rein,
}

/// Commands cmds_allowed and cmds_denied never refuse before login: the login itself and
/// the TLS negotiation, so a list written for vsftpd (which filters only after login) can
/// neither lock every user out nor push a password into clear text.
const UNFILTERED_BEFORE_LOGIN: &[&str] = &["USER", "PASS", "QUIT", "AUTH", "PBSZ", "PROT"];

/// Is this command refused by cmds_allowed / cmds_denied (in the session's configuration)?
pub fn filtered(cfg: &Config, verb: &str) -> bool {
    !verb.is_empty()
        && !command::filter_allows(
            cfg.cmds_allowed.as_deref(),
            cfg.cmds_denied.as_deref(),
            verb,
        )
}

pub fn is_anonymous_name(user: &[u8]) -> bool {
    user.eq_ignore_ascii_case(b"anonymous") || user.eq_ignore_ascii_case(b"ftp")
}

/// Send the greeting: banner_file lines (read before the fork), else ftpd_banner, else a
/// neutral text that does not reveal the software. After REIN, RFC 959's 220 text instead.
pub fn greet(
    ctl: &mut Control,
    cfg: &Config,
    banner: Option<&[Vec<u8>]>,
    rein: bool,
) -> io::Result<()> {
    if rein {
        return ctl.reply(220, "Service ready for new user.");
    }
    match (banner, &cfg.ftpd_banner) {
        (Some(lines), _) => ctl.reply_with_message(220, lines, ""),
        (None, Some(text)) => ctl.reply(220, text),
        (None, None) => ctl.reply(220, "FTP server ready."),
    }
}

pub fn run(
    ctl: &mut Control,
    cfg: &Config,
    auth: &mut dyn Authenticator,
    tls: &mut super::tls::State,
) -> io::Result<Outcome> {
    let mut user: Option<Vec<u8>> = None;
    let mut local_fails: u32 = 0;
    // HOST is accepted until the first USER (RFC 7151), and may change who USER accepts.
    let mut user_sent = false;
    let mut anonymous_enable = cfg.anonymous_enable;
    let mut local_enable = cfg.local_enable;
    loop {
        let line = match ctl.read_line()? {
            Input::Line(l) => l,
            Input::TooLong => {
                ctl.reply(500, "Input line too long.")?;
                return Ok(Outcome::Closed);
            }
            Input::Eof => return Ok(Outcome::Closed),
            Input::Timeout => {
                ctl.reply(421, "Timeout.")?;
                return Ok(Outcome::Closed);
            }
        };
        let cmd = command::parse(command::trim_eol(&line));
        let arg = cmd.arg.as_deref();
        // SECURITY: cmds_allowed / cmds_denied, before anything else looks at the command.
        if !UNFILTERED_BEFORE_LOGIN.contains(&cmd.verb.as_str()) && filtered(cfg, &cmd.verb) {
            ctl.reply(550, "Permission denied.")?;
            continue;
        }
        if super::tls::command(ctl, cfg, tls, cmd.verb.as_str(), arg, false)? {
            continue;
        }
        match cmd.verb.as_str() {
            "" => {} // empty line: ignored, as NAT devices send them
            "USER" => {
                let Some(name) = arg else {
                    ctl.reply(501, "USER needs a user name.")?;
                    continue;
                };
                user = None;
                user_sent = true;
                if name.len() <= limits::USER_MAX && cfg.userlist_enable {
                    // vsftpd's userlist: refused at USER, before a password is asked for;
                    // the monitor holds the list and counts the refusal as a failure.
                    match auth.check_user(name)? {
                        LoginReply::Ok => {}
                        LoginReply::Fail => {
                            ctl.reply(530, "Permission denied.")?;
                            continue;
                        }
                        LoginReply::FailClose => {
                            ctl.reply(530, "Permission denied.")?;
                            return Ok(Outcome::Closed);
                        }
                    }
                }
                let anonymous = is_anonymous_name(name) && anonymous_enable;
                if name.len() > limits::USER_MAX {
                    local_fails += 1;
                    ctl.reply(530, "Login incorrect.")?;
                } else if let Some(why) = super::tls::login_refusal(cfg, tls, anonymous) {
                    // SECURITY: refused at USER, so a password is never asked for (nor, from
                    // a well-behaved client, sent) over a connection the policy forbids.
                    ctl.reply(530, why)?;
                } else if anonymous {
                    if cfg.no_anon_password {
                        match auth.login(name, Secret::new(Vec::new()), tls.private)? {
                            LoginReply::Ok => {
                                return Ok(Outcome::LoggedIn {
                                    user: name.to_vec(),
                                })
                            }
                            LoginReply::Fail => ctl.reply(530, "Login incorrect.")?,
                            LoginReply::FailClose => {
                                ctl.reply(530, "Login incorrect.")?;
                                return Ok(Outcome::Closed);
                            }
                        }
                        continue;
                    }
                    user = Some(name.to_vec());
                    ctl.reply(331, "Please specify the password.")?;
                } else if !local_enable {
                    ctl.reply(530, "This FTP server is anonymous only.")?;
                } else {
                    user = Some(name.to_vec());
                    ctl.reply(331, "Please specify the password.")?;
                }
                if local_fails >= cfg.max_login_fails.clamp(1, limits::LOGIN_FAILS_HARD_MAX) {
                    return Ok(Outcome::Closed);
                }
            }
            "PASS" => {
                let Some(name) = user.take() else {
                    ctl.reply(503, "Login with USER first.")?;
                    continue;
                };
                let pass = arg.unwrap_or(b"");
                if pass.len() > limits::PASS_MAX {
                    local_fails += 1;
                    ctl.reply(530, "Login incorrect.")?;
                    if local_fails >= cfg.max_login_fails.clamp(1, limits::LOGIN_FAILS_HARD_MAX) {
                        return Ok(Outcome::Closed);
                    }
                    continue;
                }
                match auth.login(&name, Secret::new(pass.to_vec()), tls.private)? {
                    LoginReply::Ok => return Ok(Outcome::LoggedIn { user: name }),
                    LoginReply::Fail => ctl.reply(530, "Login incorrect.")?,
                    LoginReply::FailClose => {
                        ctl.reply(530, "Login incorrect.")?;
                        return Ok(Outcome::Closed);
                    }
                }
            }
            "QUIT" => {
                ctl.reply(221, "Goodbye.")?;
                return Ok(Outcome::Closed);
            }
            "HOST" if user_sent => ctl.reply(503, "HOST must come before USER.")?,
            "HOST" => {
                let Some(a) = arg else {
                    ctl.reply(501, "HOST needs a host name.")?;
                    continue;
                };
                let Some(name) = crate::proto::host::canonical(a) else {
                    ctl.reply(501, "Bad host name.")?;
                    continue;
                };
                if cfg.host_config_dir.is_none() {
                    // No virtual hosts: every name is this server (RFC 7151 lets a server
                    // without them accept any).
                    ctl.reply(220, "Host accepted.")?;
                    continue;
                }
                match auth.host(&name)? {
                    HostReply::Accepted {
                        anonymous_enable: a,
                        local_enable: l,
                        banner,
                    } => {
                        anonymous_enable = a;
                        local_enable = l;
                        match banner {
                            Some(b) => ctl.reply_bytes(220, &b)?,
                            None => ctl.reply(220, "Host accepted.")?,
                        }
                    }
                    HostReply::Unknown => ctl.reply(504, "Unknown virtual host.")?,
                }
            }
            "LANG" => lang(ctl, arg)?,
            "REIN" => {
                if tls.control {
                    ctl.reply(502, REIN_TLS)?;
                } else if auth.rein()? {
                    return Ok(Outcome::Rein);
                } else {
                    ctl.reply(502, REIN_TOO_MANY)?;
                }
            }
            "FEAT" => {
                let mlst = crate::proto::mlsx::Facts::supported(cfg.hide_ids);
                ctl.reply_multi(211, "Features:", &super::feat_lines(cfg, mlst), "End")?
            }
            // The facts chosen belong to the logged-in session, which starts afresh.
            "OPTS" if arg.is_some_and(is_opts_mlst) => {
                ctl.reply(530, "Please login with USER and PASS.")?
            }
            "OPTS" => opts(ctl, arg)?,
            "HELP" => ctl.reply_multi(
                214,
                "The following commands are recognized.",
                &super::help_lines(),
                "Help OK.",
            )?,
            _ => ctl.reply(530, "Please login with USER and PASS.")?,
        }
    }
}

/// REIN on a TLS control connection: rsftpd cannot take TLS off the connection, and RFC
/// 2228 has REIN clear the security state, so it is refused rather than half done.
pub const REIN_TLS: &str = "REIN is not available on a TLS connection.";

/// REIN past limits::REIN_MAX on one connection.
pub const REIN_TOO_MANY: &str = "Too many REIN commands on this connection.";

/// LANG (RFC 2640), the same before and after login: replies are in English only, so
/// `LANG`, `LANG EN` and any English tag (`EN-US`) are accepted, anything else is 504.
pub fn lang(ctl: &mut Control, arg: Option<&[u8]>) -> io::Result<()> {
    let english = match arg {
        None => true,
        Some(tag) => {
            tag.eq_ignore_ascii_case(b"EN")
                || (tag.len() > 3
                    && tag[..3].eq_ignore_ascii_case(b"EN-")
                    && tag.len() <= 35
                    && tag[3..]
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b == b'-'))
        }
    };
    if english {
        ctl.reply(200, "Responses are in English.")
    } else {
        ctl.reply(504, "Unsupported language.")
    }
}

/// Is this OPTS argument `MLST` with or without a fact list?
pub fn is_opts_mlst(arg: &[u8]) -> bool {
    arg.len() >= 4 && arg[..4].eq_ignore_ascii_case(b"MLST") && (arg.len() == 4 || arg[4] == b' ')
}

/// OPTS UTF8, the same before and after login (OPTS MLST is the post-login session's).
/// Names pass through as bytes both ways whatever the client asks (rsftpd converts no
/// character set), so ON and OFF are both accepted and change nothing.
pub fn opts(ctl: &mut Control, arg: Option<&[u8]>) -> io::Result<()> {
    match arg {
        None => ctl.reply(501, "OPTS needs an argument."),
        Some(a) if a.eq_ignore_ascii_case(b"UTF8 ON") || a.eq_ignore_ascii_case(b"UTF8") => {
            ctl.reply(200, "Always in UTF8 mode.")
        }
        Some(a) if a.eq_ignore_ascii_case(b"UTF8 OFF") => {
            ctl.reply(200, "UTF8 off: names are still sent as they are on disk.")
        }
        Some(_) => ctl.reply(501, "Option not understood."),
    }
}
