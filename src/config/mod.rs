//! Configuration: the one table of tunables (every vsftpd key plus rsftpd's own), the
//! `key=value` parser, cross-key validation, the `rsftpd -t` dump and the generated TUNABLES
//! section of rsftpd.conf(5). Nothing else in rsftpd declares a setting.
//!
//! Owns: `Config` (one pub field per key), `TUNABLES` (name, kind, default, support, doc).
//! Trusts: nothing in the file or in `-o` options; every value is type-checked, bounded and
//! rejected with file, line and key when wrong. The file itself must be a regular file of at
//! most `limits::CONFIG_FILE_MAX` bytes owned by root or the expected user.
//! Runs in: the monitor (or the single process in run_as_launching_user mode), at startup,
//! before any client byte is read. Pure std, no I/O except `load_file`.
//!
//! Adding a key: add one row to `table.rs` (kept sorted; a test checks), regenerate the man
//! page section with `RSFTPD_BLESS=1 cargo test`, and implement it where it belongs.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::limits;

// ---------------------------------------------------------------------------------------
// Table types
// ---------------------------------------------------------------------------------------

/// Value type of a tunable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// YES/NO, TRUE/FALSE, 1/0 in any case; dumped as YES/NO.
    Bool,
    /// Non-negative number; a leading 0 means octal (as in vsftpd).
    Uint,
    /// A mode or umask: parsed like `Uint`, dumped as `0NNN`.
    Octal,
    /// Text; `key=` unsets it when the key has no default.
    Str,
}

/// How far rsftpd implements a tunable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Implemented,
    /// Not implemented yet. `fatal`: ignoring a non-default value would weaken security, so such a value is a startup error; otherwise a warning.
    Planned {
        issue: u32,
        fatal: bool,
    },
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunable {
    pub name: &'static str,
    pub kind: Kind,
    /// The default as `rsftpd -t` prints it; `""` = unset.
    pub default: &'static str,
    pub doc: &'static str,
    pub support: Support,
}

const IMPL: Support = Support::Implemented;
const fn warn(issue: u32) -> Support {
    Support::Planned {
        issue,
        fatal: false,
    }
}
const fn fatal(issue: u32) -> Support {
    Support::Planned { issue, fatal: true }
}

/// Other spellings accepted for a key: (alias, canonical name). Upstream vsftpd 3.0.5 spells
/// the TLS version switches without the second underscore; openSUSE/Fedora builds with it.
pub static ALIASES: &[(&str, &str)] = &[
    ("ssl_tlsv11", "ssl_tlsv1_1"),
    ("ssl_tlsv12", "ssl_tlsv1_2"),
    ("ssl_tlsv13", "ssl_tlsv1_3"),
];

/// The keys a host_config_dir file may set: what one virtual host's sessions see and may
/// do after login. Everything else concerns the listener, the pre-login phase (which has
/// started when HOST comes), files opened at startup, or identities resolved before any
/// fork, so a host file naming it is refused rather than half applied.
pub static HOST_KEYS: &[&str] = &[
    "anon_max_rate",
    "anon_mkdir_write_enable",
    "anon_other_write_enable",
    "anon_root",
    "anon_umask",
    "anon_upload_enable",
    "anon_world_readable_only",
    "anonymous_enable",
    "chmod_enable",
    "deny_file",
    "dirlist_enable",
    "dirmessage_enable",
    "download_enable",
    "file_open_mode",
    "force_dot_files",
    "ftpd_banner",
    "hide_file",
    "hide_ids",
    "local_enable",
    "local_max_rate",
    "local_root",
    "local_umask",
    "ls_recurse_enable",
    "message_file",
    "write_enable",
];

/// A parsed value, before it is stored into its field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Bool(bool),
    Uint(u32),
    Str(Option<String>),
}

/// Conversion between a `Config` field and a `Value`; the field's type picks the impl, so
/// the generated setter and getter need no per-kind code.
trait Field: Sized {
    fn from_value(v: Value) -> Self;
    fn to_value(&self) -> Value;
}

impl Field for bool {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Bool(b) => b,
            other => panic!("config table: bool field got {other:?}"),
        }
    }
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl Field for u32 {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Uint(n) => n,
            other => panic!("config table: number field got {other:?}"),
        }
    }
    fn to_value(&self) -> Value {
        Value::Uint(*self)
    }
}

impl Field for String {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Str(Some(s)) => s,
            other => panic!("config table: string field got {other:?}"),
        }
    }
    fn to_value(&self) -> Value {
        Value::Str(Some(self.clone()))
    }
}

impl Field for Option<String> {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Str(s) => s,
            other => panic!("config table: optional string field got {other:?}"),
        }
    }
    fn to_value(&self) -> Value {
        Value::Str(self.clone())
    }
}

macro_rules! field_ty {
    (bool) => { bool };
    (uint) => { u32 };
    (octal) => { u32 };
    (str) => { String };
    (opt) => { Option<String> };
}

macro_rules! field_kind {
    (bool) => {
        Kind::Bool
    };
    (uint) => {
        Kind::Uint
    };
    (octal) => {
        Kind::Octal
    };
    (str) => {
        Kind::Str
    };
    (opt) => {
        Kind::Str
    };
}

/// Generates `Config`, its `Default`, `TUNABLES` and the by-name field access from the rows
/// in `table.rs`.
macro_rules! tunables {
    ($( ($name:ident, $kind:ident, $default:literal, $support:expr, $doc:literal) ),* $(,)?) => {
        /// Every setting, one pub field per key (field name = key name). Build it with
        /// `Config::default()`, then `load_file` / `apply_option`, then `validate`.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Config {
            $(
                #[doc = $doc]
                pub $name: field_ty!($kind),
            )*
            /// Where each key got its value, for the messages of checks made after parsing.
            pub origins: Origins,
        }

        impl Default for Config {
            fn default() -> Self {
                Config {
                    $( $name: Field::from_value(table_default(stringify!($name), field_kind!($kind), $default)), )*
                    origins: Origins::default(),
                }
            }
        }

        /// Every key, sorted by name.
        pub static TUNABLES: &[Tunable] = &[
            $(
                Tunable {
                    name: stringify!($name),
                    kind: field_kind!($kind),
                    default: $default,
                    doc: $doc,
                    support: $support,
                },
            )*
        ];

        impl Config {
            /// Stores an already type-checked value. `name` must be a canonical key.
            pub(super) fn store_value(&mut self, name: &str, v: Value) {
                $( if name == stringify!($name) { self.$name = Field::from_value(v); return; } )*
                panic!("config table: no field for key {name}");
            }

            /// Reads a field as a `Value`; `None` for a name that is not a canonical key.
            pub(super) fn field_value(&self, name: &str) -> Option<Value> {
                $( if name == stringify!($name) { return Some(self.$name.to_value()); } )*
                None
            }
        }
    };
}

mod table;
pub use table::{Config, TUNABLES};

/// Parses a table default. The table is ours, so a bad default is a broken invariant.
fn table_default(name: &str, kind: Kind, text: &str) -> Value {
    match parse_value(kind, text, true) {
        Ok(v) => v,
        Err(e) => panic!("config table: default of {name} is bad: {e}"),
    }
}

/// Looks a key up by name (or by one of its `ALIASES`).
pub fn tunable(name: &str) -> Option<&'static Tunable> {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, c)| *c);
    TUNABLES
        .binary_search_by(|t| t.name.cmp(canonical))
        .ok()
        .map(|i| &TUNABLES[i])
}

// ---------------------------------------------------------------------------------------
// Origins, errors, warnings
// ---------------------------------------------------------------------------------------

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Line `line` (from 1) of a configuration file.
    File { path: PathBuf, line: usize },
    /// The `index`-th `-o` option on the command line (from 1).
    Option { index: usize },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Origin::Option { index } => write!(f, "-o option {index}"),
        }
    }
}

/// Where each key was last set (file and line, or `-o` option), so that a check made after
/// parsing (`validate`, `resolve_names`) can name the line to fix. Not part of the
/// configuration itself: two configurations with the same values are equal wherever the
/// values came from (the `-t` dump round trip relies on it).
#[derive(Debug, Clone, Default)]
pub struct Origins(HashMap<&'static str, Origin>);

impl Origins {
    /// Where `key` (a canonical name) was set; None when it has its default.
    pub fn get(&self, key: &str) -> Option<&Origin> {
        self.0.get(key)
    }
}

impl PartialEq for Origins {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Origins {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    At(Origin),
    /// A problem with a whole file (cannot open, not regular, too large, wrong owner).
    Path(PathBuf),
    /// A cross-key problem found by `validate`.
    Settings,
}

/// A configuration problem that stops rsftpd from starting. `Display` is one line naming
/// file and line (or `-o` option) and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    place: Place,
    msg: String,
}

impl ConfigError {
    fn at(origin: &Origin, msg: String) -> Self {
        ConfigError {
            place: Place::At(origin.clone()),
            msg,
        }
    }
    fn path(path: &Path, msg: String) -> Self {
        ConfigError {
            place: Place::Path(path.to_path_buf()),
            msg,
        }
    }
    fn settings(msg: String) -> Self {
        ConfigError {
            place: Place::Settings,
            msg,
        }
    }
    /// Where the problem is, when it is in one line or option.
    pub fn origin(&self) -> Option<&Origin> {
        match &self.place {
            Place::At(o) => Some(o),
            _ => None,
        }
    }
    /// The message without its location prefix.
    pub fn message(&self) -> &str {
        &self.msg
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Place::At(o) => write!(f, "{o}: {}", self.msg),
            Place::Path(p) => write!(f, "{}: {}", p.display(), self.msg),
            Place::Settings => f.write_str(&self.msg),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A setting that rsftpd accepted but ignores (a planned key set to a non-default value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    origin: Origin,
    key: &'static str,
    msg: String,
}

impl Warning {
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
    /// Canonical name of the key concerned.
    pub fn key(&self) -> &'static str {
        self.key
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.msg)
    }
}

/// Quotes text from the file for a message: control characters escaped, long text cut, so
/// one error stays one line.
fn quote(s: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::from("'");
    for (n, c) in s.chars().enumerate() {
        if n == MAX {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

// ---------------------------------------------------------------------------------------
// Value parsing and formatting
// ---------------------------------------------------------------------------------------

fn parse_bool(s: &str) -> Option<bool> {
    if ["YES", "TRUE", "1"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
    {
        Some(true)
    } else if ["NO", "FALSE", "0"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
    {
        Some(false)
    } else {
        None
    }
}

/// Decimal, or octal with a leading 0 (vsftpd's rule). Digits only: no sign, no spaces.
fn parse_uint(s: &str) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{} is not a number", quote(s)));
    }
    let (digits, radix) = if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if radix == 8 && digits.bytes().any(|b| b >= b'8') {
        return Err(format!(
            "{} is not an octal number (a leading 0 means octal)",
            quote(s)
        ));
    }
    u32::from_str_radix(digits, radix).map_err(|_| format!("{} is too large", quote(s)))
}

/// Type-checks `text` for a key of `kind`. `unset_allowed`: whether an empty string value
/// means "unset" (string keys without a default) or is an error (string keys with one).
fn parse_value(kind: Kind, text: &str, unset_allowed: bool) -> Result<Value, String> {
    match kind {
        Kind::Bool => {
            if text.is_empty() {
                return Err("empty value; expected YES or NO".to_string());
            }
            parse_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("{} is not a boolean (use YES or NO)", quote(text)))
        }
        Kind::Uint | Kind::Octal => {
            if text.is_empty() {
                return Err("empty value; expected a number".to_string());
            }
            parse_uint(text).map(Value::Uint)
        }
        Kind::Str => {
            // SECURITY: no control characters (NUL, newline, ...) in paths, user names and
            // banners: they would truncate C strings or inject extra reply or log lines.
            if text.chars().any(char::is_control) {
                return Err(format!("{} contains a control character", quote(text)));
            }
            if text.is_empty() {
                if unset_allowed {
                    Ok(Value::Str(None))
                } else {
                    Err("empty value; this key cannot be unset".to_string())
                }
            } else {
                Ok(Value::Str(Some(text.to_string())))
            }
        }
    }
}

fn format_value(kind: Kind, v: &Value) -> String {
    match (kind, v) {
        (_, Value::Bool(b)) => if *b { "YES" } else { "NO" }.to_string(),
        (Kind::Octal, Value::Uint(n)) => format!("0{n:03o}"),
        (_, Value::Uint(n)) => n.to_string(),
        (_, Value::Str(s)) => s.clone().unwrap_or_default(),
    }
}

/// A `str` row (string with a default) is stored as `String` and cannot be unset; an `opt`
/// row's default is `""`.
fn can_unset(t: &Tunable) -> bool {
    t.kind == Kind::Str && t.default.is_empty()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The nearest known key within edit distance 3, for "did you mean".
fn suggest(key: &str) -> Option<&'static str> {
    // Long junk is not a typo; also bounds the work.
    if key.chars().count() > 64 {
        return None;
    }
    TUNABLES
        .iter()
        .map(|t| t.name)
        .chain(ALIASES.iter().map(|(a, _)| *a))
        .map(|name| (levenshtein(key, name), name))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, name)| name)
}

/// A DNS host name as RFC 1123 allows it: dot-separated labels of 1-63 letters, digits and
/// hyphens, not starting or ending with a hyphen, 253 bytes at most (one final dot allowed).
fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Splits `key=value`, trimming whitespace around both.
fn split_kv(s: &str) -> Option<(&str, &str)> {
    let (k, v) = s.split_once('=')?;
    Some((k.trim(), v.trim()))
}

// ---------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------

impl Config {
    /// Set one key from text. Unknown key -> error with nearest known key (Levenshtein
    /// distance <= 3) as suggestion. Planned keys: value is still type-checked and stored;
    /// if it differs from the default -> Warning, or ConfigError when fatal.
    pub fn set(
        &mut self,
        key: &str,
        value: &str,
        origin: &Origin,
    ) -> Result<Option<Warning>, ConfigError> {
        let t = match tunable(key) {
            Some(t) => t,
            None => {
                let msg = if key.is_empty() {
                    "missing key before '='".to_string()
                } else {
                    match suggest(key) {
                        Some(s) => format!("unknown key {} (did you mean '{s}'?)", quote(key)),
                        None => format!("unknown key {}", quote(key)),
                    }
                };
                return Err(ConfigError::at(origin, msg));
            }
        };
        let v = parse_value(t.kind, value, can_unset(t))
            .map_err(|e| ConfigError::at(origin, format!("key '{key}': {e}")))?;
        let mut warning = None;
        if let Support::Planned { fatal, .. } = t.support {
            let default = table_default(t.name, t.kind, t.default);
            if v != default {
                if fatal {
                    // SECURITY: this setting restricts access; running without it would
                    // serve more than the administrator allowed.
                    return Err(ConfigError::at(
                        origin,
                        format!(
                            "key '{key}' is not supported yet by rsftpd and ignoring it would weaken security; remove it or use the default '{}={}'",
                            t.name, t.default
                        ),
                    ));
                }
                warning = Some(Warning {
                    origin: origin.clone(),
                    key: t.name,
                    msg: format!("key '{key}' is not supported yet; ignored"),
                });
            }
        }
        self.store_value(t.name, v);
        self.origins.0.insert(t.name, origin.clone());
        Ok(warning)
    }

    /// Parse a whole file's text: `key=value` lines, `#` comments, blank lines. Whitespace
    /// at both ends of the line and around key and value is trimmed (vsftpd allows none
    /// around '='). A key set twice is an error; `key=` unsets a string key without default.
    pub fn parse_str(&mut self, text: &str, path: &Path) -> Result<Vec<Warning>, ConfigError> {
        self.parse_str_only(text, path, None)
    }

    /// `parse_str`, refusing (with file, line and key) every key not in `only` when given.
    fn parse_str_only(
        &mut self,
        text: &str,
        path: &Path,
        only: Option<&[&str]>,
    ) -> Result<Vec<Warning>, ConfigError> {
        let mut warnings = Vec::new();
        let mut seen: HashMap<&'static str, usize> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let origin = Origin::File {
                path: path.to_path_buf(),
                line: i + 1,
            };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = split_kv(line).ok_or_else(|| {
                ConfigError::at(
                    &origin,
                    format!("expected key=value, found {}", quote(line)),
                )
            })?;
            if let (Some(only), Some(t)) = (only, tunable(key)) {
                if !only.contains(&t.name) {
                    return Err(ConfigError::at(
                        &origin,
                        format!("key '{key}' cannot be set in this file"),
                    ));
                }
            }
            if let Some(first) = tunable(key).and_then(|t| seen.insert(t.name, i + 1)) {
                return Err(ConfigError::at(
                    &origin,
                    format!("key '{key}' set twice (first on line {first})"),
                ));
            }
            if let Some(w) = self.set(key, value, &origin)? {
                warnings.push(w);
            }
        }
        Ok(warnings)
    }

    /// Read and parse a file: must be a regular file, at most `limits::CONFIG_FILE_MAX`
    /// bytes, owned by `owner_uid` or root when that is given, and valid UTF-8.
    pub fn load_file(
        &mut self,
        path: &Path,
        owner_uid: Option<u32>,
    ) -> Result<Vec<Warning>, ConfigError> {
        let text = read_config_file(path, owner_uid)?;
        self.parse_str(&text, path)
    }

    /// `load_file` for a file that may set only the keys in `only` (host_config_dir files:
    /// HOST_KEYS); any other key is an error naming file, line and key.
    pub fn load_overrides(
        &mut self,
        path: &Path,
        owner_uid: Option<u32>,
        only: &[&str],
    ) -> Result<Vec<Warning>, ConfigError> {
        let text = read_config_file(path, owner_uid)?;
        self.parse_str_only(&text, path, Some(only))
    }

    /// `-o key=value` (index from 1): same rules as a file line; may override what a file
    /// (or an earlier -o) set.
    pub fn apply_option(&mut self, kv: &str, index: usize) -> Result<Option<Warning>, ConfigError> {
        let origin = Origin::Option { index };
        let (key, value) = split_kv(kv.trim()).ok_or_else(|| {
            ConfigError::at(&origin, format!("expected key=value, found {}", quote(kv)))
        })?;
        self.set(key, value, &origin)
    }

    /// Convenience for startup: defaults, then the file (if any), then every `-o` option in
    /// order, then `validate`. Returns the configuration and all warnings.
    pub fn load(
        path: Option<&Path>,
        owner_uid: Option<u32>,
        options: &[String],
    ) -> Result<(Config, Vec<Warning>), ConfigError> {
        let mut cfg = Config::default();
        let mut warnings = match path {
            Some(p) => cfg.load_file(p, owner_uid)?,
            None => Vec::new(),
        };
        for (i, o) in options.iter().enumerate() {
            warnings.extend(cfg.apply_option(o, i + 1)?);
        }
        cfg.validate()?;
        Ok((cfg, warnings))
    }

    /// Cross-key checks once everything is applied. Timeouts of 0 mean "no timeout" and
    /// are valid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError::settings(m));
        for (name, port) in [
            ("listen_port", self.listen_port),
            ("ftp_data_port", self.ftp_data_port),
        ] {
            if port == 0 || port > 65535 {
                return err(format!("{name}={port} is not a port (1-65535)"));
            }
        }
        for (name, port) in [
            ("pasv_min_port", self.pasv_min_port),
            ("pasv_max_port", self.pasv_max_port),
        ] {
            if port > 65535 {
                return err(format!("{name}={port} is not a port (0-65535)"));
            }
            // SECURITY: passive listeners never take a privileged port.
            if port != 0 && port < 1024 {
                return err(format!(
                    "{name}={port} is a privileged port; passive ports must be 1024-65535 (or 0)"
                ));
            }
        }
        if self.pasv_max_port != 0 && self.pasv_min_port > self.pasv_max_port {
            return err(format!(
                "pasv_min_port={} is greater than pasv_max_port={}",
                self.pasv_min_port, self.pasv_max_port
            ));
        }
        if self.listen && self.listen_ipv6 {
            // vsftpd refuses this too. One dual-stack socket already serves both families,
            // and two listeners on the same port would fight over the IPv4 side.
            let listen_at = match self.origins.get("listen") {
                Some(o) => format!(" (listen=YES at {o})"),
                None => String::new(),
            };
            return Err(self.error_at(
                "listen_ipv6",
                format!(
                    "listen=YES and listen_ipv6=YES cannot both be set{listen_at}: listen_ipv6=YES alone serves IPv4 and IPv6 clients on one dual-stack socket, listen=YES serves IPv4 only"
                ),
            ));
        }
        if !self.anonymous_enable && !self.local_enable {
            return err(
                "anonymous_enable and local_enable are both NO, so nobody could log in".to_string(),
            );
        }
        // Addresses are checked at start, not when the first client asks for PASV (a
        // vsftpd pain point: `500 OOPS: invalid pasv_address` at transfer time). A host
        // name needs pasv_addr_resolve=YES and is resolved by `resolve_names`.
        if let Some(a) = &self.pasv_address {
            if a.parse::<IpAddr>().is_err() {
                if !self.pasv_addr_resolve {
                    return Err(self.error_at(
                        "pasv_address",
                        format!(
                            "pasv_address={} is not an IP address; to give a host name, set pasv_addr_resolve=YES (it is then resolved once, at startup)",
                            quote(a)
                        ),
                    ));
                }
                if !is_host_name(a) {
                    return Err(self.error_at(
                        "pasv_address",
                        format!(
                            "pasv_address={} is neither an IP address nor a host name",
                            quote(a)
                        ),
                    ));
                }
            }
        }
        if let Some(a) = &self.listen_address6 {
            if a.parse::<Ipv6Addr>().is_err() {
                return Err(self.error_at(
                    "listen_address6",
                    format!(
                        "listen_address6={} is not an IPv6 address (a numeric one, such as ::1 or 2001:db8::21; for IPv4 use listen_address)",
                        quote(a)
                    ),
                ));
            }
        }
        if crate::sys::syslog::facility(&self.syslog_facility).is_none() {
            return err(format!(
                "syslog_facility='{}' is not a facility (ftp, daemon, auth, authpriv, user, local0-local7)",
                self.syslog_facility
            ));
        }
        if let Some(a) = &self.listen_address {
            if a.parse::<IpAddr>().is_err() {
                return err(format!("listen_address='{a}' is not an IP address"));
            }
        }
        // Checked at start: a typo in the list must not refuse every client at run time.
        let trusted = match &self.proxy_trusted_addresses {
            Some(list) => crate::proto::proxy::Trusted::parse(list)
                .map_err(|e| ConfigError::settings(format!("proxy_trusted_addresses: {e}")))?,
            None => Default::default(),
        };
        if self.proxy_protocol_enable && trusted.is_empty() {
            return err(
                "proxy_protocol_enable=YES needs proxy_trusted_addresses: the load balancers whose PROXY headers are believed"
                    .to_string(),
            );
        }
        for (name, list) in [
            ("cmds_allowed", &self.cmds_allowed),
            ("cmds_denied", &self.cmds_denied),
        ] {
            if let Some(l) = list {
                crate::proto::command::check_filter_list(l)
                    .map_err(|e| ConfigError::settings(format!("{name}: {e}")))?;
            }
        }
        for (name, mode) in [
            ("anon_umask", self.anon_umask),
            ("local_umask", self.local_umask),
            ("file_open_mode", self.file_open_mode),
            ("chown_upload_mode", self.chown_upload_mode),
        ] {
            if mode > 0o777 {
                return err(format!("{name}=0{mode:03o} is larger than 0777"));
            }
        }
        Ok(())
    }

    /// An error about `key`, placed at the line (or `-o` option) that set it when known.
    fn error_at(&self, key: &str, msg: String) -> ConfigError {
        match self.origins.get(key) {
            Some(o) => ConfigError::at(o, msg),
            None => ConfigError::settings(msg),
        }
    }

    /// The startup name lookups, after `validate`: with pasv_addr_resolve=YES a host name in
    /// pasv_address is resolved through `lookup` (the system's resolver, `sys::net::lookup_host`,
    /// outside tests) and replaced by the address, so the sessions, which run chrooted and
    /// must look up no names (DESIGN.md section 1), only ever see a number, and `rsftpd -t`
    /// prints the address that will be announced. PASV carries only IPv4, so the first IPv4
    /// address is taken, and an IPv6 one only when there is none. A name that does not
    /// resolve is an error naming the line, checked by `rsftpd -t` too.
    ///
    /// This is the one lookup rsftpd makes, of a name the administrator wrote, once per
    /// start (under inetd: once per connection, in the launched process as root, before any
    /// fork or chroot); nothing a client sends is ever looked up. Returns warnings.
    pub fn resolve_names(
        &mut self,
        lookup: &mut dyn FnMut(&str) -> std::io::Result<Vec<IpAddr>>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        let Some(name) = self.pasv_address.clone() else {
            return Ok(warnings);
        };
        let (ip, resolved) = match name.parse::<IpAddr>() {
            Ok(ip) => (ip.to_canonical(), false),
            Err(_) => {
                // validate() let a name through only with pasv_addr_resolve=YES.
                let found = lookup(&name).map_err(|e| {
                    self.error_at(
                        "pasv_address",
                        format!(
                            "pasv_address={} (pasv_addr_resolve=YES) does not resolve: {e}",
                            quote(&name)
                        ),
                    )
                })?;
                let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = found
                    .into_iter()
                    .map(|ip| ip.to_canonical())
                    .partition(IpAddr::is_ipv4);
                match v4.first().or(v6.first()) {
                    Some(&ip) => (ip, true),
                    None => {
                        return Err(self.error_at(
                            "pasv_address",
                            format!(
                                "pasv_address={} (pasv_addr_resolve=YES) resolves to no address",
                                quote(&name)
                            ),
                        ))
                    }
                }
            }
        };
        self.pasv_address = Some(ip.to_string());
        if ip.is_ipv6() {
            let at = self
                .origins
                .get("pasv_address")
                .map(|o| format!("{o}: "))
                .unwrap_or_default();
            let via = if resolved {
                format!(" (resolves to {ip})")
            } else {
                String::new()
            };
            warnings.push(format!(
                "{at}pasv_address={}{via} is an IPv6 address: PASV, which can only announce IPv4, will be refused with 522 and clients must use EPSV",
                quote(&name)
            ));
        }
        Ok(warnings)
    }

    /// proxy_trusted_addresses, parsed (empty when unset). Call after `validate`, which
    /// refuses a list that does not parse.
    pub fn proxy_trusted(&self) -> crate::proto::proxy::Trusted {
        self.proxy_trusted_addresses
            .as_deref()
            .and_then(|l| crate::proto::proxy::Trusted::parse(l).ok())
            .unwrap_or_default()
    }

    /// Passive port range to use: `None` = let the kernel pick any free unprivileged port
    /// (both ends 0); otherwise the inclusive range, an unset end being 1024 or 65535.
    /// Call after `validate`.
    pub fn pasv_port_range(&self) -> Option<(u16, u16)> {
        if self.pasv_min_port == 0 && self.pasv_max_port == 0 {
            return None;
        }
        let lo = if self.pasv_min_port == 0 {
            1024
        } else {
            self.pasv_min_port
        };
        let hi = if self.pasv_max_port == 0 {
            65535
        } else {
            self.pasv_max_port
        };
        Some((
            u16::try_from(lo).unwrap_or(u16::MAX),
            u16::try_from(hi).unwrap_or(u16::MAX),
        ))
    }

    /// Effective settings for `rsftpd -t`: every key, one `key=value` line, sorted.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for t in TUNABLES {
            out.push_str(t.name);
            out.push('=');
            out.push_str(&self.get(t.name).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// The value of a key as text (same formatting as `dump`), `None` for an unknown key.
    pub fn get(&self, key: &str) -> Option<String> {
        let t = tunable(key)?;
        let v = self.field_value(t.name)?;
        Some(format_value(t.kind, &v))
    }
}

/// Read a configuration file: a regular file, at most `limits::CONFIG_FILE_MAX` bytes, owned
/// by `owner_uid` or root when that is given, and valid UTF-8.
fn read_config_file(path: &Path, owner_uid: Option<u32>) -> Result<String, ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let io_err =
        |what: &str, e: std::io::Error| ConfigError::path(path, format!("cannot {what}: {e}"));
    // Checked before opening, so a FIFO or device is never opened (opening a FIFO
    // blocks); checked again on the open file, which is what is actually read.
    let before = std::fs::metadata(path).map_err(|e| io_err("read", e))?;
    if !before.is_file() {
        return Err(ConfigError::path(path, "not a regular file".to_string()));
    }
    let file = std::fs::File::open(path).map_err(|e| io_err("open", e))?;
    let meta = file.metadata().map_err(|e| io_err("read", e))?;
    if !meta.is_file() || meta.dev() != before.dev() || meta.ino() != before.ino() {
        return Err(ConfigError::path(
            path,
            "changed while being opened".to_string(),
        ));
    }
    if let Some(uid) = owner_uid {
        // SECURITY: whoever owns the file configures the server, which runs as root;
        // only root or the expected user may (vsftpd insists on the running uid).
        if meta.uid() != uid && meta.uid() != 0 {
            let who = if uid == 0 {
                "root (uid 0)".to_string()
            } else {
                format!("uid {uid} or root")
            };
            return Err(ConfigError::path(
                path,
                format!("owned by uid {}; it must be owned by {who}", meta.uid()),
            ));
        }
    }
    // SECURITY: bounded read (limits::CONFIG_FILE_MAX); take() guards a file that grows.
    let too_large = || {
        ConfigError::path(
            path,
            format!("larger than {} bytes", limits::CONFIG_FILE_MAX),
        )
    };
    if meta.len() > limits::CONFIG_FILE_MAX {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limits::CONFIG_FILE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err("read", e))?;
    if bytes.len() as u64 > limits::CONFIG_FILE_MAX {
        return Err(too_large());
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            let origin = Origin::File {
                path: path.to_path_buf(),
                line,
            };
            return Err(ConfigError::at(&origin, "not valid UTF-8".to_string()));
        }
    };
    Ok(text.to_string())
}

// ---------------------------------------------------------------------------------------
// Man page
// ---------------------------------------------------------------------------------------

/// Escapes text for roff: backslashes, and a leading '.' or '\'' that would make a line a
/// request.
fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\e");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// Splits doc text into one sentence per line (roff convention): a break after ". ",
/// except after the abbreviations "e.g." and "i.e.".
fn roff_sentences(doc: &str) -> String {
    let mut out = String::new();
    let b = doc.as_bytes();
    let mut start = 0;
    for i in 0..b.len().saturating_sub(2) {
        let abbrev = doc[..=i].ends_with("e.g.") || doc[..=i].ends_with("i.e.");
        if b[i] == b'.' && b[i + 1] == b' ' && b[i + 2].is_ascii_alphanumeric() && !abbrev {
            out.push_str(&roff_escape(&doc[start..=i]));
            out.push('\n');
            start = i + 2;
        }
    }
    out.push_str(&roff_escape(&doc[start..]));
    out.push('\n');
    out
}

/// roff source of the TUNABLES section of rsftpd.conf(5), generated from the table.
pub fn man_tunables_roff() -> String {
    let mut out = String::new();
    for t in TUNABLES {
        out.push_str(".TP\n");
        let aliases: Vec<&str> = ALIASES
            .iter()
            .filter(|(_, c)| *c == t.name)
            .map(|(a, _)| *a)
            .collect();
        if aliases.is_empty() {
            out.push_str(&format!(".B {}\n", t.name));
        } else {
            out.push_str(&format!(
                ".BR {} \" (also \" {} )\n",
                t.name,
                aliases.join(" \", \" ")
            ));
        }
        out.push_str(&roff_sentences(t.doc));
        out.push_str(".br\n");
        let ty = match t.kind {
            Kind::Bool => "boolean",
            Kind::Uint => "number",
            Kind::Octal => "octal number",
            Kind::Str => "string",
        };
        let default = if t.default.is_empty() {
            "unset".to_string()
        } else {
            format!("\\fB{}\\fR", roff_escape(t.default))
        };
        out.push_str(&format!("Type: {ty}; default: {default}.\n"));
        if let Support::Planned { issue, fatal } = t.support {
            out.push_str(".br\n");
            let effect = if fatal {
                "a value other than the default is an error"
            } else {
                "a value other than the default is ignored with a warning"
            };
            out.push_str(&format!(
                "Not supported yet (rsftpd issue {issue}): {effect}.\n"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
