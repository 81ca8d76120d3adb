//! rsftpd: a privilege-separated FTP server for inetd/xinetd, configured like vsftpd.
//!
//! Process model (DESIGN.md §1): a root monitor that never parses client bytes; a pre-login
//! session as `nopriv_user` in `secure_chroot_dir`; a post-login session forked fresh by the
//! monitor with the user's identity and jail; one transfer child per data transfer.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod sys;

pub mod cli;
pub mod config;
pub mod ipc;
pub mod limits;
pub mod log;
pub mod monitor;
pub mod proto;
pub mod session;
pub mod standalone;
pub mod tls;
