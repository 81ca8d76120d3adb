//! Reading /proc: process trees, identities and roots, and bounded waits on them. Used by
//! the privilege-separation and local-user tests (and by `users` to wait out a uid).

use super::{Inetd, TIMEOUT};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Descendants of `pid` (children, grandchildren, ...), from /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    for _ in 0..8 {
        let mut next = Vec::new();
        for p in &frontier {
            let kids =
                std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
            for k in kids.split_whitespace() {
                if let Ok(k) = k.parse::<u32>() {
                    next.push(k);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        out.extend(&next);
        frontier = next;
    }
    out
}

/// Direct children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect()
}

/// One field of /proc/PID/status, e.g. "Uid".
pub fn proc_status(pid: u32, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .map(|l| l[field.len() + 1..].trim().to_string())
}

/// The whole of /proc/PID/status as field -> value (read once, so it is one snapshot).
pub fn status(pid: u32) -> Option<BTreeMap<String, String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(
        s.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.to_string(), v.trim().to_string()))
            })
            .collect(),
    )
}

/// The numbers of a status line such as Uid, Gid or Groups.
pub fn ids(v: &str) -> Vec<u32> {
    v.split_whitespace().map(|x| x.parse().unwrap()).collect()
}

/// The Uid line of /proc/PID/status: real, effective, saved, fs.
pub fn uids_of(pid: u32) -> Option<Vec<u32>> {
    status(pid)?.get("Uid").map(|v| ids(v))
}

/// Where /proc/PID/root points (the process's chroot as seen from here).
pub fn proc_root(pid: u32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/root")).unwrap()
}

/// Every PID in /proc.
pub fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Processes with `uid` in any of their four uid fields, as "pid name (state S)".
pub fn procs_with_uid(uid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for pid in all_pids() {
        if let Some(st) = status(pid) {
            if st.get("Uid").is_some_and(|v| ids(v).contains(&uid)) {
                out.push(format!(
                    "{pid} {} (state {})",
                    st.get("Name").cloned().unwrap_or_default(),
                    st.get("State").cloned().unwrap_or_default()
                ));
            }
        }
    }
    out
}

/// Wait (bounded) until no process runs with `uid`; true if none does.
pub fn wait_no_uid(uid: u32, within: Duration) -> bool {
    let t = Instant::now();
    loop {
        if procs_with_uid(uid).is_empty() {
            return true;
        }
        if t.elapsed() >= within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Poll `f` (bounded) until it gives Some.
pub fn wait_for<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t = Instant::now();
    loop {
        if let Some(x) = f() {
            return Some(x);
        }
        if t.elapsed() >= within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The monitor: the (first) process the inetd started, for the test's first connection.
pub fn monitor(inetd: &Inetd) -> u32 {
    wait_for(TIMEOUT, || inetd.pids().first().copied()).expect("inetd started rsftpd")
}

/// A process as seen once: its pid and its start time, so a pid reused later by another
/// process is never taken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    pub start: u64,
}

/// (state, start time) from /proc/PID/stat.
pub fn stat_fields(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); starttime is field 22.
    Some((f[0].chars().next()?, f.get(19)?.parse().ok()?))
}

pub fn proc_of(pid: u32) -> Proc {
    Proc {
        pid,
        start: stat_fields(pid).map(|x| x.1).unwrap_or(0),
    }
}

/// True while the process runs (a zombie has ended: it only waits to be reaped).
pub fn alive(p: Proc) -> bool {
    matches!(stat_fields(p.pid), Some((state, start)) if start == p.start && state != 'Z')
}

/// The monitor and everything under it, now.
pub fn tree_of(mon: u32) -> Vec<Proc> {
    let mut v = vec![proc_of(mon)];
    v.extend(descendants(mon).into_iter().map(proc_of));
    v
}

/// Wait (bounded) until none of `procs` runs; the ones still running.
pub fn wait_gone(procs: &[Proc], within: Duration) -> Vec<Proc> {
    let t = Instant::now();
    loop {
        let left: Vec<Proc> = procs.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() || t.elapsed() >= within {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
