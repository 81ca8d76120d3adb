//! Clock and time zone: the current time, and local-time offsets for `use_localtime`. The
//! zone file is loaded by `load_zone` before any chroot, since no file may be read from
//! inside a (possibly writable) jail for it. Used by session processes.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, UTC.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

extern "C" {
    fn tzset();
}

/// Load the time zone now, before chroot; later conversions reuse what was loaded.
pub fn load_zone() {
    // SAFETY: tzset has no preconditions; the process is single-threaded.
    unsafe { tzset() }
}

/// Convert a UTC time to local wall-clock seconds (UTC time plus the zone's offset then).
pub fn to_local(t: i64) -> i64 {
    let tt: libc::time_t = t as libc::time_t;
    // SAFETY: tm is plain data that localtime_r fills in; both pointers are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::localtime_r(&tt, &mut tm) };
    if r.is_null() {
        return t;
    }
    t + tm.tm_gmtoff as i64
}
