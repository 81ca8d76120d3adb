//! Directory listings as FTP clients parse them: the `ls -l` lines of LIST (and STAT with a
//! path), the bare names of NLST, the LIST/NLST option syntax, the listing order, and the
//! MDTM time stamp (both ways: MDTM and MFMT with a time set it).
//!
//! Owns: the bytes of every listing line, byte-identical to vsftpd 3.0.3's (fixtures below
//! were recorded from the live vsftpd 3.0.3-13 binary), and the calendar arithmetic behind
//! them (no libc `gmtime`/`strftime`, no locale: month names are always the C locale's).
//! Trusts: nothing from the client. File names and symlink targets are arbitrary bytes and
//! are copied as they are (an FTP listing has no quoting; a name holding CR LF breaks the
//! client's parsing, as with every server). Stat data and the clock come from the caller.
//! Run by: the session processes (post-login; STAT with a path) and the transfer children
//! (LIST, NLST).
//!
//! Line format (vsftpd `ls.c` build_dir_line): mode (10 bytes), space, link count
//! right-aligned in 4, space, owner left-aligned in 8, space, group left-aligned in 8,
//! space, size right-aligned in 8, space, date, space, name, optionally ` -> target`, CR LF. Fields
//! wider than their column push the rest right (no truncation): a size of 123456789012 is
//! printed whole. No `total` line.
//! Date: `%b %d %H:%M` (day zero-padded: `Jan 01 12:00`), or `%b %d  %Y` (two spaces)
//! when the mtime is in the future or more than 182 days (182 x 86400 s, strictly more)
//! before now. The comparison uses UTC seconds; only the printed fields move with
//! use_localtime.
//! Owner and group: numeric ids; `hide_ids` prints `ftp` for both; with text_userdb_names
//! the caller supplies names (vsftpd looks them up after chroot, so inside a chroot only
//! names already cached resolve: we observed `root` resolving but `ftp` printed as `102`;
//! rsftpd resolves before chroot, per DESIGN.md).

pub(crate) const S_IFMT: u32 = 0o170000;
pub(crate) const S_IFSOCK: u32 = 0o140000;
pub(crate) const S_IFLNK: u32 = 0o120000;
pub(crate) const S_IFREG: u32 = 0o100000;
pub(crate) const S_IFBLK: u32 = 0o060000;
pub(crate) const S_IFDIR: u32 = 0o040000;
pub(crate) const S_IFCHR: u32 = 0o020000;
pub(crate) const S_IFIFO: u32 = 0o010000;

/// Past this age (strictly more), a listing shows the year instead of the time of day.
const SIX_MONTHS: i64 = 60 * 60 * 24 * 182;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// One directory entry, from `lstat` (never `stat`: a symlink is listed as a symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The name as stored in the directory (bytes, not necessarily UTF-8).
    pub name: &'a [u8],
    /// `st_mode`, including the file type bits.
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// `st_mtime`, UTC seconds since the epoch.
    pub mtime: i64,
    /// `readlink` of a symlink; shown as ` -> target` in long format when non-empty.
    pub link_target: Option<&'a [u8]>,
}

/// How long-format lines are rendered, fixed for one listing.
#[derive(Clone, Copy)]
pub struct LsStyle<'a> {
    /// `hide_ids=YES`: owner and group both print as `ftp`.
    pub hide_ids: bool,
    /// The current time, UTC seconds (read once per listing, as vsftpd caches it).
    pub now: i64,
    /// Maps a UTC unix time to local wall-clock seconds for use_localtime; None = UTC.
    pub to_local: Option<&'a dyn Fn(i64) -> i64>,
    /// Names for owner/group when known (text_userdb_names); None = numeric. Called with
    /// `is_group` and the id; returning None prints the number.
    pub names: Option<&'a dyn Fn(bool, u32) -> Option<Vec<u8>>>,
}

/// The LIST/NLST/STAT argument, split as vsftpd does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArgs {
    /// `-a`: include names starting with `.` (and `.`/`..` if the caller has them).
    pub all: bool,
    /// `-l`: long format (makes NLST print LIST lines; LIST is always long).
    pub long: bool,
    /// `-R`: recursive; vsftpd honours it only with ls_recurse_enable=YES.
    pub recursive: bool,
    /// `-r`: reverse order.
    pub reverse: bool,
    /// `-t`: newest first.
    pub time_sort: bool,
    /// `-F`: mark directories with `/` (and, in NLST short form, symlinks with `@`).
    pub classify: bool,
    /// `-d`: list a directory itself rather than its contents. vsftpd 3.0.3 ignores `-d`
    /// (parsed here so the caller can decide).
    pub dir_itself: bool,
    /// The path or glob after the options, exactly as sent (None when absent or empty).
    pub path: Option<Vec<u8>>,
}

/// Splits a LIST/NLST/STAT argument. As vsftpd: if it starts with `-`, the bytes up to the
/// first space are option letters and everything after that space (possibly with further
/// spaces) is the path; otherwise the whole argument is the path, so `LIST sub -l` names a
/// file called `sub -l`, and a file whose name starts with `-` must be given as `./-name`.
/// Unknown option letters (`-1`, `-C`, ...) are ignored, as vsftpd does.
pub fn parse_list_arg(arg: Option<&[u8]>) -> ListArgs {
    let mut args = ListArgs::default();
    let arg = match arg {
        None => return args,
        Some(a) => a,
    };
    let path = if let Some(opts_and_rest) = arg.strip_prefix(b"-") {
        let (opts, rest) = match opts_and_rest.iter().position(|&b| b == b' ') {
            Some(i) => (&opts_and_rest[..i], &opts_and_rest[i + 1..]),
            None => (opts_and_rest, &b""[..]),
        };
        for &o in opts {
            match o {
                b'a' => args.all = true,
                b'l' => args.long = true,
                b'R' => args.recursive = true,
                b'r' => args.reverse = true,
                b't' => args.time_sort = true,
                b'F' => args.classify = true,
                b'd' => args.dir_itself = true,
                _ => {}
            }
        }
        rest
    } else {
        arg
    };
    if !path.is_empty() {
        args.path = Some(path.to_vec());
    }
    args
}

/// Whether a directory entry appears in a listing: as vsftpd, a name starting with `.` only
/// with `-a`, or with `force_dot_files` (then still not `.` and `..`), or when the filter
/// (glob) itself starts with `.`.
pub fn is_shown(name: &[u8], all: bool, force_dot_files: bool, filter: Option<&[u8]>) -> bool {
    if name.first() != Some(&b'.') || all {
        return true;
    }
    if filter.is_some_and(|f| f.first() == Some(&b'.')) {
        return true;
    }
    force_dot_files && name != b"." && name != b".."
}

/// What vsftpd puts before each NLST name when the argument named a directory (or a glob
/// in one): the directory as typed plus `/`, nothing for `.` or an empty one. `NLST sub`
/// gives `sub/deeper`, `NLST /sub/*.txt` gives `/sub/inner.txt`, `NLST *.txt` gives
/// `a.txt`. LIST lines never carry it.
pub fn nlst_prefix(dir_as_typed: &[u8]) -> Vec<u8> {
    if dir_as_typed.is_empty() || dir_as_typed == b"." {
        return Vec::new();
    }
    let mut p = dir_as_typed.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p
}

/// `ls -l` permission string: type letter then rwx triplets with s/S/t/T, as vsftpd (an
/// unknown file type prints `-`).
pub fn mode_string(mode: u32) -> [u8; 10] {
    let mut p = *b"----------";
    p[0] = match mode & S_IFMT {
        S_IFREG => b'-',
        S_IFDIR => b'd',
        S_IFLNK => b'l',
        S_IFIFO => b'p',
        S_IFSOCK => b's',
        S_IFCHR => b'c',
        S_IFBLK => b'b',
        _ => b'-',
    };
    let bits = [
        (0o400, 1, b'r'),
        (0o200, 2, b'w'),
        (0o100, 3, b'x'),
        (0o040, 4, b'r'),
        (0o020, 5, b'w'),
        (0o010, 6, b'x'),
        (0o004, 7, b'r'),
        (0o002, 8, b'w'),
        (0o001, 9, b'x'),
    ];
    for (bit, pos, ch) in bits {
        if mode & bit != 0 {
            p[pos] = ch;
        }
    }
    let special = [
        (0o4000, 3, b's', b'S'),
        (0o2000, 6, b's', b'S'),
        (0o1000, 9, b't', b'T'),
    ];
    for (bit, pos, with_x, without_x) in special {
        if mode & bit != 0 {
            p[pos] = if p[pos] == b'x' { with_x } else { without_x };
        }
    }
    p
}

/// Splits UTC unix time `t` into (year, month 1-12, day 1-31, hour, minute, second) in the
/// proleptic Gregorian calendar, for any `i64` (H. Hinnant's civil-from-days).
pub fn civil_from_unix(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Every narrowing below is of a value already bounded by the arithmetic above.
    (
        year,
        month as u32,
        day as u32,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

/// The MDTM time stamp `YYYYMMDDHHMMSS` of UTC time `t` (RFC 3659; vsftpd's
/// use_localtime=YES would pass local time here, which breaks the RFC).
pub fn format_mdtm(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil_from_unix(t);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parse an MDTM/MFMT time stamp `YYYYMMDDHHMMSS` (UTC) into Unix seconds.
pub fn parse_mdtm(t: &[u8]) -> Option<i64> {
    if t.len() != 14 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |a: usize, b: usize| std::str::from_utf8(&t[a..b]).ok()?.parse::<u32>().ok();
    let (y, mo, d, h, mi, s) = (
        n(0, 4)?,
        n(4, 6)?,
        n(6, 8)?,
        n(8, 10)?,
        n(10, 12)?,
        n(12, 14)?,
    );
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    // A date that does not exist (30 February) is refused, not moved to the next month.
    if !(1..=12).contains(&mo) || !(1..=month_days).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y as i64, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64)
}

/// Decimal digits of `n` into a stack buffer (no allocation: listings format millions of
/// numbers); returns the used tail of the buffer.
fn digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

fn push_num(out: &mut Vec<u8>, n: u64, width: usize, left: bool) {
    let mut buf = [0u8; 20];
    push_padded(out, digits(n, &mut buf), width, left);
}

/// Two digits, zero-padded (day, hour, minute).
fn push_2(out: &mut Vec<u8>, n: u32) {
    out.push(b'0' + (n / 10 % 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

fn push_padded(out: &mut Vec<u8>, s: &[u8], width: usize, left: bool) {
    let pad = width.saturating_sub(s.len());
    if !left {
        out.resize(out.len() + pad, b' ');
    }
    out.extend_from_slice(s);
    if left {
        out.resize(out.len() + pad, b' ');
    }
}

fn push_id(out: &mut Vec<u8>, style: &LsStyle, is_group: bool, id: u32) {
    if style.hide_ids {
        push_padded(out, b"ftp", 8, true);
        return;
    }
    match style.names.and_then(|f| f(is_group, id)) {
        Some(name) => push_padded(out, &name, 8, true),
        None => push_num(out, u64::from(id), 8, true),
    }
}

fn push_date(out: &mut Vec<u8>, mtime: i64, style: &LsStyle) {
    let shown = style.to_local.map_or(mtime, |f| f(mtime));
    let (year, month, day, hour, min, _) = civil_from_unix(shown);
    out.extend_from_slice(MONTHS[(month - 1) as usize]);
    let old_or_future = mtime > style.now || style.now.saturating_sub(mtime) > SIX_MONTHS;
    out.push(b' ');
    push_2(out, day);
    if old_or_future {
        out.extend_from_slice(b"  ");
        match u64::try_from(year) {
            Ok(y) => push_num(out, y, 0, false),
            Err(_) => out.extend_from_slice(year.to_string().as_bytes()),
        }
    } else {
        out.push(b' ');
        push_2(out, hour);
        out.push(b':');
        push_2(out, min);
    }
}

fn is_dir(e: &Entry) -> bool {
    e.mode & S_IFMT == S_IFDIR
}

fn is_symlink(e: &Entry) -> bool {
    e.mode & S_IFMT == S_IFLNK
}

/// Appends one LIST line for `e`, ending in CR LF.
pub fn format_long(e: &Entry, style: &LsStyle, out: &mut Vec<u8>) {
    format_long_with(e, style, false, out);
}

/// [`format_long`] with `-F`: as vsftpd, a directory gets `/` after its name; nothing else
/// is marked in long format (a symlink already shows ` -> target`).
pub fn format_long_with(e: &Entry, style: &LsStyle, classify: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(&mode_string(e.mode));
    out.push(b' ');
    push_num(out, e.nlink, 4, false);
    out.push(b' ');
    push_id(out, style, false, e.uid);
    out.push(b' ');
    push_id(out, style, true, e.gid);
    out.push(b' ');
    push_num(out, e.size, 8, false);
    out.push(b' ');
    push_date(out, e.mtime, style);
    out.push(b' ');
    out.extend_from_slice(e.name);
    match e.link_target {
        Some(target) if is_symlink(e) && !target.is_empty() => {
            out.extend_from_slice(b" -> ");
            out.extend_from_slice(target);
        }
        _ => {}
    }
    if classify && is_dir(e) {
        out.push(b'/');
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one NLST line: the name and CR LF. (Write [`nlst_prefix`] first when the
/// argument named a directory.)
pub fn format_name(e: &Entry, out: &mut Vec<u8>) {
    format_name_with(e, false, out);
}

/// [`format_name`] with `-F`: as vsftpd, `/` after a directory and `@` after a symlink.
pub fn format_name_with(e: &Entry, classify: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(e.name);
    if classify {
        if is_dir(e) {
            out.push(b'/');
        } else if is_symlink(e) {
            out.push(b'@');
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Orders a listing as vsftpd: by name, bytewise (so `Zupper` before `a.txt`, `a.txt`
/// before `a.txt.txt` before `aXa`); with `time_sort`, newest first; `reverse` flips the
/// whole order. vsftpd compares whole-second mtimes with an unstable sort, so its order of
/// equal times is arbitrary; here equal times are ordered by name (reversed with
/// `reverse`), so a listing is deterministic.
pub fn sort_entries(entries: &mut [Entry<'_>], time_sort: bool, reverse: bool) {
    entries.sort_by(|a, b| {
        let ord = if time_sort {
            b.mtime.cmp(&a.mtime).then_with(|| a.name.cmp(b.name))
        } else {
            a.name.cmp(b.name)
        };
        if reverse {
            ord.reverse()
        } else {
            ord
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdtm_times_parse() {
        assert_eq!(parse_mdtm(b"19700101000000"), Some(0));
        assert_eq!(parse_mdtm(b"20200101120000"), Some(1_577_880_000));
        assert_eq!(parse_mdtm(b"20240229235959"), Some(1_709_251_199));
        assert_eq!(parse_mdtm(b"20201301000000"), None);
        assert_eq!(parse_mdtm(b"2020010112000"), None);
        assert_eq!(parse_mdtm(b"2020010112000x"), None);
        assert_eq!(parse_mdtm(b"20230229000000"), None);
        assert_eq!(parse_mdtm(b"20200431000000"), None);
        assert_eq!(parse_mdtm(b"21000229000000"), None);
        assert!(parse_mdtm(b"20000229000000").is_some());
        // Round trip with the formatter.
        for t in [0, 1_577_880_000, 1_709_251_199, 253_402_300_799] {
            assert_eq!(parse_mdtm(format_mdtm(t).as_bytes()), Some(t));
        }
    }

    const REG: u32 = S_IFREG;
    const DIR: u32 = S_IFDIR;
    const LNK: u32 = S_IFLNK;

    /// The moment the live vsftpd listing below was taken (2026-11-24 06:00:30 UTC).
    const NOW: i64 = 1_795_500_030;

    fn style(now: i64) -> LsStyle<'static> {
        LsStyle {
            hide_ids: false,
            now,
            to_local: None,
            names: None,
        }
    }

    fn e<'a>(
        name: &'a str,
        mode: u32,
        nlink: u64,
        uid: u32,
        gid: u32,
        size: u64,
        mtime: i64,
    ) -> Entry<'a> {
        Entry {
            name: name.as_bytes(),
            mode,
            nlink,
            uid,
            gid,
            size,
            mtime,
            link_target: None,
        }
    }

    /// The tree listed live from vsftpd 3.0.3 (stat values of the real files).
    fn tree() -> Vec<Entry<'static>> {
        let mut v = vec![
            e(".", DIR | 0o755, 4, 0, 0, 4096, 1_795_162_150),
            e("..", DIR | 0o755, 4, 0, 0, 4096, 1_795_162_150),
            e(".hidden", REG | 0o644, 1, 0, 0, 2, 1_795_500_006),
            e("a.txt", REG | 0o644, 1, 0, 0, 6, 1_795_162_150),
            e("a.txt.txt", REG | 0o644, 1, 0, 0, 2, 1_577_836_800),
            e("b1.txt", REG | 0o644, 1, 0, 0, 2, 1_770_091_506),
            e("b2.log", REG | 0o644, 1, 0, 0, 2, 1_770_091_506),
            e(
                "big.bin",
                REG | 0o644,
                1,
                1234,
                5678,
                123_456_789_012,
                1_795_500_006,
            ),
            e("crlf.txt", REG | 0o644, 1, 0, 0, 23, 1_798_761_600),
            e("dangling", LNK | 0o777, 1, 0, 0, 19, 1_795_500_006),
            e("dir with space", DIR | 0o1777, 2, 0, 0, 4096, 1_795_500_006),
            e(
                "eight.bin",
                REG | 0o4755,
                1,
                0,
                0,
                99_999_999,
                1_779_775_200,
            ),
            e("link", LNK | 0o777, 1, 0, 0, 5, 1_583_414_055),
            e(
                "name with spaces.txt",
                REG | 0o644,
                1,
                0,
                0,
                2,
                1_795_500_006,
            ),
            e(
                "nine.bin",
                REG | 0o2640,
                1,
                0,
                0,
                100_000_000,
                1_779_667_200,
            ),
            e("quo\"te", REG | 0o644, 1, 0, 0, 2, 1_795_500_006),
            e("recent181.bin", REG | 0o644, 1, 0, 0, 0, 1_779_840_000),
            e("sub", DIR | 0o755, 3, 0, 0, 4096, 1_795_500_006),
        ];
        v[9].link_target = Some(b"/nonexistent/target");
        v[12].link_target = Some(b"a.txt");
        v
    }

    fn render(entries: &[Entry], st: &LsStyle) -> String {
        let mut out = Vec::new();
        for en in entries {
            format_long(en, st, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    /// `LIST -a` (and `STAT .` between its 213 lines), bytes from vsftpd 3.0.3.
    const LIVE_LIST_A: &str = "\
drwxr-xr-x    4 0        0            4096 Nov 20 08:09 .\r
drwxr-xr-x    4 0        0            4096 Nov 20 08:09 ..\r
-rw-r--r--    1 0        0               2 Nov 24 06:00 .hidden\r
-rw-r--r--    1 0        0               6 Nov 20 08:09 a.txt\r
-rw-r--r--    1 0        0               2 Jan 01  2020 a.txt.txt\r
-rw-r--r--    1 0        0               2 Feb 03  2026 b1.txt\r
-rw-r--r--    1 0        0               2 Feb 03  2026 b2.log\r
-rw-r--r--    1 1234     5678     123456789012 Nov 24 06:00 big.bin\r
-rw-r--r--    1 0        0              23 Jan 01  2027 crlf.txt\r
lrwxrwxrwx    1 0        0              19 Nov 24 06:00 dangling -> /nonexistent/target\r
drwxrwxrwt    2 0        0            4096 Nov 24 06:00 dir with space\r
-rwsr-xr-x    1 0        0        99999999 May 26  2026 eight.bin\r
lrwxrwxrwx    1 0        0               5 Mar 05  2020 link -> a.txt\r
-rw-r--r--    1 0        0               2 Nov 24 06:00 name with spaces.txt\r
-rw-r-S---    1 0        0        100000000 May 25  2026 nine.bin\r
-rw-r--r--    1 0        0               2 Nov 24 06:00 quo\"te\r
-rw-r--r--    1 0        0               0 May 27 00:00 recent181.bin\r
drwxr-xr-x    3 0        0            4096 Nov 24 06:00 sub\r
";

    #[test]
    fn live_list_a_is_byte_identical() {
        let mut t = tree();
        sort_entries(&mut t, false, false);
        assert_eq!(render(&t, &style(NOW)), LIVE_LIST_A);
    }

    #[test]
    fn live_list_without_a() {
        let t: Vec<Entry> = tree()
            .into_iter()
            .filter(|x| is_shown(x.name, false, false, None))
            .collect();
        let expected: String = LIVE_LIST_A.split_inclusive('\n').skip(3).collect();
        assert_eq!(render(&t, &style(NOW)), expected);
    }

    #[test]
    fn live_list_r_is_reversed() {
        let mut t: Vec<Entry> = tree()
            .into_iter()
            .filter(|x| is_shown(x.name, false, false, None))
            .collect();
        sort_entries(&mut t, false, true);
        let text = render(&t, &style(NOW));
        let first: Vec<&str> = text.split("\r\n").take(3).collect();
        assert_eq!(
            first,
            [
                "drwxr-xr-x    3 0        0            4096 Nov 24 06:00 sub",
                "-rw-r--r--    1 0        0               0 May 27 00:00 recent181.bin",
                "-rw-r--r--    1 0        0               2 Nov 24 06:00 quo\"te",
            ]
        );
    }

    #[test]
    fn live_list_t_order() {
        // vsftpd 3.0.3 `LIST -lt`: newest first; its order among equal seconds is arbitrary,
        // ours is by name.
        let mut t: Vec<Entry> = tree()
            .into_iter()
            .filter(|x| is_shown(x.name, false, false, None))
            .collect();
        sort_entries(&mut t, true, false);
        let names: Vec<&[u8]> = t.iter().map(|x| x.name).collect();
        assert_eq!(
            names,
            [
                &b"crlf.txt"[..],
                b"big.bin",
                b"dangling",
                b"dir with space",
                b"name with spaces.txt",
                b"quo\"te",
                b"sub",
                b"a.txt",
                b"recent181.bin",
                b"eight.bin",
                b"nine.bin",
                b"b1.txt",
                b"b2.log",
                b"link",
                b"a.txt.txt",
            ]
        );
        sort_entries(&mut t, true, true);
        assert_eq!(t[0].name, b"a.txt.txt");
        assert_eq!(t.last().unwrap().name, b"crlf.txt");
    }

    #[test]
    fn live_list_f_and_nlst_f() {
        let t = tree();
        let sub = t.iter().find(|x| x.name == b"sub").unwrap();
        let dws = t.iter().find(|x| x.name == b"dir with space").unwrap();
        let link = t.iter().find(|x| x.name == b"link").unwrap();
        let dangling = t.iter().find(|x| x.name == b"dangling").unwrap();
        let file = t.iter().find(|x| x.name == b"a.txt").unwrap();
        let st = style(NOW);
        let mut out = Vec::new();
        for x in [file, dangling, dws, link, sub] {
            format_long_with(x, &st, true, &mut out);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "-rw-r--r--    1 0        0               6 Nov 20 08:09 a.txt\r\n\
             lrwxrwxrwx    1 0        0              19 Nov 24 06:00 dangling -> /nonexistent/target\r\n\
             drwxrwxrwt    2 0        0            4096 Nov 24 06:00 dir with space/\r\n\
             lrwxrwxrwx    1 0        0               5 Mar 05  2020 link -> a.txt\r\n\
             drwxr-xr-x    3 0        0            4096 Nov 24 06:00 sub/\r\n"
        );
        let mut out = Vec::new();
        for x in [file, dangling, dws, link, sub] {
            format_name_with(x, true, &mut out);
        }
        assert_eq!(
            out,
            b"a.txt\r\ndangling@\r\ndir with space/\r\nlink@\r\nsub/\r\n"
        );
    }

    #[test]
    fn live_nlst() {
        let mut t: Vec<Entry> = tree()
            .into_iter()
            .filter(|x| is_shown(x.name, false, false, None))
            .collect();
        sort_entries(&mut t, false, false);
        let mut out = Vec::new();
        for x in &t {
            format_name(x, &mut out);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a.txt\r\na.txt.txt\r\nb1.txt\r\nb2.log\r\nbig.bin\r\ncrlf.txt\r\ndangling\r\n\
             dir with space\r\neight.bin\r\nlink\r\nname with spaces.txt\r\nnine.bin\r\n\
             quo\"te\r\nrecent181.bin\r\nsub\r\n"
        );
    }

    #[test]
    fn live_nlst_sub_prefix() {
        // vsftpd 3.0.3: `NLST sub` gave "sub/deeper\r\nsub/inner.txt\r\n".
        let sub = [
            e("deeper", DIR | 0o755, 2, 0, 0, 4096, 1_795_500_006),
            e("inner.txt", REG | 0o644, 1, 0, 0, 2, 1_577_836_800),
        ];
        let mut out = Vec::new();
        for x in &sub {
            out.extend_from_slice(&nlst_prefix(b"sub"));
            format_name(x, &mut out);
        }
        assert_eq!(out, b"sub/deeper\r\nsub/inner.txt\r\n");
        // `LIST sub` has no prefix.
        assert_eq!(
            render(&sub, &style(NOW)),
            "drwxr-xr-x    2 0        0            4096 Nov 24 06:00 deeper\r\n\
             -rw-r--r--    1 0        0               2 Jan 01  2020 inner.txt\r\n"
        );
        assert_eq!(nlst_prefix(b"sub/"), b"sub/");
        assert_eq!(nlst_prefix(b"/sub"), b"/sub/");
        assert_eq!(nlst_prefix(b"/"), b"/");
        assert_eq!(nlst_prefix(b"."), b"");
        assert_eq!(nlst_prefix(b""), b"");
        assert_eq!(nlst_prefix(b"../sub"), b"../sub/");
    }

    #[test]
    fn live_ids_hidden_and_named() {
        // vsftpd 3.0.3 with hide_ids=YES, then with text_userdb_names=YES.
        let mut b1 = e("b1.txt", REG | 0o644, 1, 102, 105, 2, 1_770_091_506);
        b1.link_target = None;
        let mut zlink = e("zlink", LNK | 0o777, 1, 0, 0, 6, 1_795_500_006);
        zlink.link_target = Some(b"b1.txt");
        let big = e(
            "big.bin",
            REG | 0o644,
            1,
            1234,
            5678,
            123_456_789_012,
            1_795_500_006,
        );
        let hidden = LsStyle {
            hide_ids: true,
            ..style(NOW)
        };
        assert_eq!(
            render(&[b1, big, zlink], &hidden),
            "-rw-r--r--    1 ftp      ftp             2 Feb 03  2026 b1.txt\r\n\
             -rw-r--r--    1 ftp      ftp      123456789012 Nov 24 06:00 big.bin\r\n\
             lrwxrwxrwx    1 ftp      ftp             6 Nov 24 06:00 zlink -> b1.txt\r\n"
        );
        let lookup = |_is_group: bool, id: u32| (id == 0).then(|| b"root".to_vec());
        let named = LsStyle {
            names: Some(&lookup),
            ..style(NOW)
        };
        assert_eq!(
            render(&[b1, big, zlink], &named),
            "-rw-r--r--    1 102      105             2 Feb 03  2026 b1.txt\r\n\
             -rw-r--r--    1 1234     5678     123456789012 Nov 24 06:00 big.bin\r\n\
             lrwxrwxrwx    1 root     root            6 Nov 24 06:00 zlink -> b1.txt\r\n"
        );
        // Long names and ids push the line right rather than being cut.
        let long = |g: bool, _id: u32| {
            Some(if g {
                b"groupname10".to_vec()
            } else {
                b"username10".to_vec()
            })
        };
        let st = LsStyle {
            names: Some(&long),
            ..style(NOW)
        };
        assert_eq!(
            render(&[b1], &st),
            "-rw-r--r--    1 username10 groupname10        2 Feb 03  2026 b1.txt\r\n"
        );
        let huge = e(
            "h",
            REG | 0o644,
            123_456,
            u32::MAX,
            u32::MAX,
            u64::MAX,
            1_770_091_506,
        );
        assert_eq!(
            render(&[huge], &style(NOW)),
            "-rw-r--r-- 123456 4294967295 4294967295 18446744073709551615 Feb 03  2026 h\r\n"
        );
    }

    #[test]
    fn date_boundaries() {
        let now = NOW;
        let line = |mtime: i64| {
            let mut out = Vec::new();
            format_long(
                &e("f", REG | 0o644, 1, 0, 0, 1, mtime),
                &style(now),
                &mut out,
            );
            String::from_utf8(out).unwrap()
        };
        // Exactly 182 days old: still the time; one second more: the year.
        assert!(line(now - SIX_MONTHS).contains("May 26 06:00 f"));
        assert!(line(now - SIX_MONTHS - 1).contains("May 26  2026 f"));
        // Now: the time; one second in the future: the year.
        assert!(line(now).contains("Nov 24 06:00 f"));
        assert!(line(now + 1).contains("Nov 24  2026 f"));
        // Day zero-padded in both forms.
        assert!(line(1_795_500_030 - 23 * 86_400).contains("Nov 01 06:00 f"));
        assert!(line(1_577_836_800).contains("Jan 01  2020 f"));
        // Before the epoch and far ahead.
        assert!(line(-1).contains("Dec 31  1969 f"));
        assert!(line(253_402_300_800).contains("Jan 01  10000 f"));
        // Extreme values do not overflow.
        let _ = line(i64::MIN);
        let _ = line(i64::MAX);
    }

    #[test]
    fn local_time_moves_only_the_printed_fields() {
        let plus2h = |t: i64| t + 7200;
        let st = LsStyle {
            to_local: Some(&plus2h),
            ..style(NOW)
        };
        let mut out = Vec::new();
        format_long(&e("f", REG | 0o644, 1, 0, 0, 1, NOW - 60), &st, &mut out);
        assert!(String::from_utf8(out).unwrap().contains("Nov 24 07:59 f"));
        // The six-month rule still compares UTC with UTC: a file 1 s in the future is
        // "future" even if local time would make it look past.
        let minus = |t: i64| t - 7200;
        let st = LsStyle {
            to_local: Some(&minus),
            ..style(NOW)
        };
        let mut out = Vec::new();
        format_long(&e("f", REG | 0o644, 1, 0, 0, 1, NOW + 1), &st, &mut out);
        assert!(String::from_utf8(out).unwrap().contains("Nov 24  2026 f"));
    }

    #[test]
    fn symlink_target_shown_only_for_symlinks() {
        let mut x = e("notalink", REG | 0o644, 1, 0, 0, 1, NOW);
        x.link_target = Some(b"ignored");
        let mut out = Vec::new();
        format_long(&x, &style(NOW), &mut out);
        assert!(out.ends_with(b" notalink\r\n"));
        let mut l = e("l", LNK | 0o777, 1, 0, 0, 0, NOW);
        l.link_target = Some(b"");
        let mut out = Vec::new();
        format_long(&l, &style(NOW), &mut out);
        assert!(
            out.ends_with(b" l\r\n"),
            "empty target: no arrow, as vsftpd"
        );
        l.link_target = Some(b"\xff target");
        let mut out = Vec::new();
        format_long(&l, &style(NOW), &mut out);
        assert!(out.ends_with(b" l -> \xff target\r\n"));
    }

    #[test]
    fn modes() {
        assert_eq!(&mode_string(REG | 0o644), b"-rw-r--r--");
        assert_eq!(&mode_string(DIR | 0o755), b"drwxr-xr-x");
        assert_eq!(&mode_string(DIR | 0o1777), b"drwxrwxrwt");
        assert_eq!(&mode_string(DIR | 0o1776), b"drwxrwxrwT");
        assert_eq!(&mode_string(REG | 0o4755), b"-rwsr-xr-x");
        assert_eq!(&mode_string(REG | 0o4644), b"-rwSr--r--");
        assert_eq!(&mode_string(REG | 0o2640), b"-rw-r-S---");
        assert_eq!(&mode_string(REG | 0o2750), b"-rwxr-s---");
        assert_eq!(&mode_string(LNK | 0o777), b"lrwxrwxrwx");
        assert_eq!(&mode_string(S_IFIFO | 0o600), b"prw-------");
        assert_eq!(&mode_string(S_IFSOCK | 0o755), b"srwxr-xr-x");
        assert_eq!(&mode_string(S_IFCHR | 0o666), b"crw-rw-rw-");
        assert_eq!(&mode_string(S_IFBLK | 0o660), b"brw-rw----");
        assert_eq!(&mode_string(DIR | 0o733), b"drwx-wx-wx");
        assert_eq!(&mode_string(0o7777), b"-rwsrwsrwt");
        assert_eq!(&mode_string(0), b"----------");
    }

    #[test]
    fn calendar() {
        assert_eq!(civil_from_unix(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(-1), (1969, 12, 31, 23, 59, 59));
        assert_eq!(civil_from_unix(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil_from_unix(1_795_500_030), (2026, 11, 24, 6, 0, 30));
        assert_eq!(civil_from_unix(1_583_414_055), (2020, 3, 5, 13, 14, 15));
        assert_eq!(civil_from_unix(4_107_542_399), (2100, 2, 28, 23, 59, 59));
        assert_eq!(civil_from_unix(4_107_542_400), (2100, 3, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(-62_135_596_800), (1, 1, 1, 0, 0, 0));
        // Consecutive days never skip or repeat a date.
        let mut prev = civil_from_unix(-86_400 * 800_000);
        for d in -799_999i64..800_000 {
            let cur = civil_from_unix(d * 86_400 + 43_200);
            let next_day = match (prev.1, prev.2) {
                (12, 31) => (prev.0 + 1, 1, 1),
                (m, dd) => {
                    let leap = prev.0 % 4 == 0 && (prev.0 % 100 != 0 || prev.0 % 400 == 0);
                    let len = [
                        31,
                        if leap { 29 } else { 28 },
                        31,
                        30,
                        31,
                        30,
                        31,
                        31,
                        30,
                        31,
                        30,
                        31,
                    ];
                    if dd == len[(m - 1) as usize] {
                        (prev.0, m + 1, 1)
                    } else {
                        (prev.0, m, dd + 1)
                    }
                }
            };
            assert_eq!((cur.0, cur.1, cur.2), next_day, "day {d}");
            assert_eq!((cur.3, cur.4, cur.5), (12, 0, 0));
            prev = cur;
        }
        let _ = civil_from_unix(i64::MIN);
        let _ = civil_from_unix(i64::MAX);
    }

    #[test]
    fn mdtm() {
        assert_eq!(format_mdtm(0), "19700101000000");
        assert_eq!(format_mdtm(1_577_836_800), "20200101000000");
        assert_eq!(format_mdtm(1_583_414_055), "20200305131415");
        assert_eq!(format_mdtm(1_795_500_030), "20261124060030");
    }

    #[test]
    fn list_args() {
        assert_eq!(parse_list_arg(None), ListArgs::default());
        assert_eq!(parse_list_arg(Some(b"")), ListArgs::default());
        assert_eq!(
            parse_list_arg(Some(b"-la")),
            ListArgs {
                all: true,
                long: true,
                ..ListArgs::default()
            }
        );
        assert_eq!(
            parse_list_arg(Some(b"-aRrtFd1C")),
            ListArgs {
                all: true,
                recursive: true,
                reverse: true,
                time_sort: true,
                classify: true,
                dir_itself: true,
                ..ListArgs::default()
            }
        );
        assert_eq!(
            parse_list_arg(Some(b"-l sub")),
            ListArgs {
                long: true,
                path: Some(b"sub".to_vec()),
                ..ListArgs::default()
            }
        );
        // Everything after the first space is the path, spaces and all.
        assert_eq!(
            parse_list_arg(Some(b"-l name with*")).path,
            Some(b"name with*".to_vec())
        );
        assert_eq!(
            parse_list_arg(Some(b"-l  sub")).path,
            Some(b" sub".to_vec())
        );
        assert_eq!(parse_list_arg(Some(b"-l ")).path, None);
        assert_eq!(parse_list_arg(Some(b"-")), ListArgs::default());
        // No leading '-': the whole argument is the path, options after it are not options.
        assert_eq!(
            parse_list_arg(Some(b"sub -l")),
            ListArgs {
                path: Some(b"sub -l".to_vec()),
                ..ListArgs::default()
            }
        );
        assert_eq!(parse_list_arg(Some(b"*.txt")).path, Some(b"*.txt".to_vec()));
        assert_eq!(parse_list_arg(Some(b"\xff")).path, Some(b"\xff".to_vec()));
    }

    #[test]
    fn dot_files() {
        assert!(is_shown(b"a", false, false, None));
        assert!(!is_shown(b".hidden", false, false, None));
        assert!(is_shown(b".hidden", true, false, None));
        assert!(is_shown(b".", true, false, None));
        // A filter starting with '.' implies -a (vsftpd: `NLST .h*` lists .hidden).
        assert!(is_shown(b".hidden", false, false, Some(b".h*")));
        assert!(!is_shown(b".hidden", false, false, Some(b"*")));
        // force_dot_files shows dot files but not . and ..
        assert!(is_shown(b".hidden", false, true, None));
        assert!(!is_shown(b".", false, true, None));
        assert!(!is_shown(b"..", false, true, None));
    }

    #[test]
    fn sorting_is_bytewise() {
        let mut v = vec![
            e("b", REG, 1, 0, 0, 0, 5),
            e("Zupper", REG, 1, 0, 0, 0, 5),
            e("aXa", REG, 1, 0, 0, 0, 9),
            e("a.txt.txt", REG, 1, 0, 0, 0, 1),
            e("a.txt", REG, 1, 0, 0, 0, 5),
            e("\u{e9}", REG, 1, 0, 0, 0, 5),
        ];
        sort_entries(&mut v, false, false);
        let names: Vec<&[u8]> = v.iter().map(|x| x.name).collect();
        assert_eq!(
            names,
            [
                &b"Zupper"[..],
                b"a.txt",
                b"a.txt.txt",
                b"aXa",
                b"b",
                "\u{e9}".as_bytes()
            ]
        );
        sort_entries(&mut v, true, false);
        let names: Vec<&[u8]> = v.iter().map(|x| x.name).collect();
        assert_eq!(
            names,
            [
                &b"aXa"[..],
                b"Zupper",
                b"a.txt",
                b"b",
                "\u{e9}".as_bytes(),
                b"a.txt.txt"
            ]
        );
    }
}
