//! Pure, I/O-free FTP protocol helpers: command lines, virtual paths, `ls -l` formatting,
//! machine listings (MLST/MLSD facts), bounded glob matching, PORT/EPRT/PASV/EPSV arguments,
//! ASCII-mode conversion, PROXY protocol headers and HOST names.
//!
//! Owns: nothing but computation. No module here opens a file, reads a clock, touches a socket
//! or calls into libc; callers pass in every fact (stat results, the current time, addresses).
//! Trusts: nothing that comes from the client. Every function taking client bytes bounds its
//! work and its output and reports malformed input as a value, never a panic.
//! Run by: the session processes (pre-login and post-login) and their transfer children;
//! `proxy` also by the launched process, which reads a balancer's header before any fork.

pub mod addr;
pub mod ascii;
pub mod command;
pub mod glob;
pub mod host;
pub mod listing;
pub mod mlsx;
pub mod path;
pub mod proxy;
