//! Every size and count bound that input from the network, the IPC channel or a
//! configuration file can hit, in one place. A value over a bound is rejected with a
//! clear reply or error, never truncated silently.
//!
//! Trusts nothing; run by every process.

/// Longest FTP command line accepted, in bytes, including the final CRLF. vsftpd uses 4096
/// too; a longer line gets `500 Input line too long.` and the connection is closed, so a
/// long line is never split into several commands.
pub const CMD_LINE_MAX: usize = 4096;

/// Longest user name accepted at USER (vsftpd: 128).
pub const USER_MAX: usize = 128;

/// Longest password accepted at PASS (vsftpd: 128).
pub const PASS_MAX: usize = 128;

/// Longest virtual path, after resolution against the current directory (Linux PATH_MAX).
pub const PATH_MAX: usize = 4096;

/// Largest configuration file read, in bytes (vsftpd: 100000).
pub const CONFIG_FILE_MAX: u64 = 100_000;

/// Largest list file read (banned e-mails, ftpusers, user_list), in bytes.
pub const LIST_FILE_MAX: u64 = 1_000_000;

/// Largest banner_file and message_file shown, in bytes (vsftpd: 4000).
pub const MESSAGE_FILE_MAX: u64 = 4000;

/// How many directories' message files a session shows once each (vsftpd: 100).
pub const MESSAGE_DIRS_REMEMBERED: usize = 100;

/// Work budget of one glob match (steps of the matcher), so a hostile pattern cannot
/// burn CPU (vsftpd caps its matcher at 1000 iterations per name).
pub const GLOB_STEPS_MAX: u32 = 10_000;

/// Most entries one directory listing reads; past this the listing is cut and says so.
pub const LIST_ENTRIES_MAX: usize = 1_000_000;

/// Most entries a `STAT path` reply lists (it is built in the session's memory and sent
/// on the control connection); past this it ends with `213 Listing cut: too many
/// entries.` A data-connection listing (LIST, NLST, MLSD) has LIST_ENTRIES_MAX.
pub const STAT_ENTRIES_MAX: usize = 10_000;

/// Most directory levels below the listed one that a recursive listing (`LIST -R`, with
/// ls_recurse_enable=YES) descends; deeper directories are listed but not entered. The
/// whole recursive listing shares one LIST_ENTRIES_MAX.
pub const LIST_DEPTH_MAX: usize = 32;

// Passive listeners: one per session. It is not a number to tune but the type of the
// session's data setup (session::data::Setup holds one listener), so a new PASV/EPSV, a
// PORT/EPRT or a transfer always closes the previous listener first, as vsftpd does.

/// Largest IPC message between monitor and session, in bytes.
pub const IPC_MSG_MAX: usize = 1024;

/// Most failed logins recorded by the monitor before it ends the session, whatever the
/// configuration says (max_login_fails is capped at this).
pub const LOGIN_FAILS_HARD_MAX: u32 = 100;

/// Longest PROXY protocol version 1 header, in bytes, CRLF included: the specification's
/// own bound (`PROXY UNKNOWN` with two full IPv6 addresses and two 5-digit ports). A longer
/// line is refused and the connection closed.
pub const PROXY_V1_MAX: usize = 107;

/// Longest PROXY protocol version 2 header, in bytes: the 16-byte fixed part, then up to
/// 1024 bytes of address block (at most 216, for UNIX sockets) and TLVs, which rsftpd skips
/// (cloud balancers add a few, e.g. AWS's VPC endpoint id; HAProxy can add the TLS SNI).
/// A header whose length field says more is refused before its body is read.
pub const PROXY_V2_MAX: usize = 16 + 1024;

/// Seconds a trusted balancer has to send the whole PROXY header on a new control or
/// passive data connection (balancers send it at once, with or before the first data).
pub const PROXY_HEADER_SECS: u64 = 10;

/// Longest host name accepted by HOST (RFC 7151), in bytes: the DNS limit of 253 for a
/// name (without the final dot); an IPv6 literal in brackets is at most 47. Each label is
/// at most 63 bytes (RFC 1035). A longer argument gets `501 Bad host name.`
pub const HOST_NAME_MAX: usize = 253;

/// Longest ftpd_banner a host_config_dir file may set, in bytes: it becomes the text of
/// the 220 reply to HOST, which travels from the monitor to the pre-login process in one
/// IPC message. A host file with a longer one is refused (logged).
pub const HOST_BANNER_MAX: usize = 512;

/// Most times one control connection may start over with REIN. Each REIN ends the session
/// process and starts a fresh pre-login one; past this many, REIN gets `502` and the
/// session goes on, so one connection cannot make the monitor fork without end.
pub const REIN_MAX: u32 = 100;

/// HOST commands the monitor looks up for one connection (each reads a file as root and
/// writes a log line); past this, HOST gets 504 Unknown virtual host. without either.
pub const HOST_MAX: u32 = 10;

/// SITE IDLE: the shortest idle timeout a client may choose, in seconds (wu-ftpd's bound).
pub const SITE_IDLE_MIN: u32 = 30;

/// SITE IDLE with idle_session_timeout=0 (no timeout): the longest idle timeout a client
/// may choose, in seconds (wu-ftpd's default maximum). Otherwise the configured timeout is
/// the maximum: a client can only shorten it.
pub const SITE_IDLE_UNLIMITED_MAX: u32 = 7200;
