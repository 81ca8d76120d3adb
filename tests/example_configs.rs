//! Every configuration example in the repository passes `rsftpd -t`: the shipped files in
//! `etc/` (what `make install` puts in /etc/rsftpd.conf and the examples directory), and
//! every README.md code block and rsftpd(8) example that is a configuration file (only
//! `key=value` and `#` lines). A broken copy of each (a misspelt key, a bad value) fails
//! with exit status 1 and a message naming the file, the line and the key.
//!
//! No root needed: `rsftpd -t` only reads and checks the file.

mod common;

use common::clients::show;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The shipped configuration files: etc/*.conf.
fn shipped() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(REPO).join("etc"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    v.sort();
    v
}

fn is_config_line(l: &str) -> bool {
    let l = l.trim_end();
    if l.is_empty() || l.starts_with('#') {
        return true;
    }
    match l.split_once('=') {
        Some((k, _)) => {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }
        None => false,
    }
}

/// A block is a configuration example if every line is a comment, empty or `key=value`,
/// and at least one is `key=value`.
fn is_config(block: &str) -> bool {
    block.lines().all(is_config_line)
        && block
            .lines()
            .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

/// The fenced code blocks of a Markdown file, with the line each starts on.
fn markdown_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, l) in text.lines().enumerate() {
        if l.trim_start().starts_with("```") {
            match cur.take() {
                Some(b) => out.push(b),
                None => cur = Some((i + 2, String::new())),
            }
        } else if let Some((_, b)) = cur.as_mut() {
            b.push_str(l);
            b.push('\n');
        }
    }
    out
}

/// The `.nf` ... `.fi` blocks of a manual page, with roff escapes for `-` undone.
fn man_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, l) in text.lines().enumerate() {
        if l == ".nf" {
            cur = Some((i + 2, String::new()));
        } else if l == ".fi" {
            if let Some(b) = cur.take() {
                out.push(b);
            }
        } else if let Some((_, b)) = cur.as_mut() {
            b.push_str(&l.replace("\\-", "-").replace("\\&", ""));
            b.push('\n');
        }
    }
    out
}

/// The configuration examples in README.md and rsftpd(8), written out as files.
fn documented(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (doc, blocks) in [
        (
            "README.md",
            markdown_blocks(&std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap()),
        ),
        (
            "rsftpd.8",
            man_blocks(&std::fs::read_to_string(Path::new(REPO).join("man/rsftpd.8")).unwrap()),
        ),
    ] {
        for (line, block) in blocks.into_iter().filter(|(_, b)| is_config(b)) {
            let p = dir.join(format!("{doc}-line-{line}.conf"));
            write(&p, &block);
            files.push(p);
        }
    }
    files
}

fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
    // rsftpd reads only files owned by root or by the user running it, not group- or
    // world-writable.
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn check(conf: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rsftpd"))
        .arg("-t")
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = PathBuf::from(format!("/tmp/rsftpd-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_example_configuration_passes_the_check() {
    let tmp = TempDir::new("example-configs");
    let shipped = shipped();
    let names: Vec<String> = shipped
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["rsftpd.conf", "rsftpd-dropbox.conf"] {
        assert!(
            names.iter().any(|n| n == want),
            "etc/{want} missing: {names:?}"
        );
    }
    let documented = documented(&tmp.0);
    for doc in ["README.md", "rsftpd.8"] {
        assert!(
            documented
                .iter()
                .any(|p| p.file_name().unwrap().to_string_lossy().starts_with(doc)),
            "{doc} shows no configuration example: {documented:?}"
        );
    }
    for conf in shipped.iter().chain(&documented) {
        let o = check(conf);
        assert!(
            o.status.success(),
            "rsftpd -t -c {}: {}",
            conf.display(),
            show(&o)
        );
        // Shipped examples use only implemented keys: not even a warning.
        assert!(
            o.stderr.is_empty(),
            "rsftpd -t -c {} warns: {}",
            conf.display(),
            show(&o)
        );
        // -t prints every effective setting, one key=value a line.
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.lines().count() > 100, "{}", show(&o));
    }
}

#[test]
fn the_default_configuration_is_the_safe_one() {
    let o = check(&Path::new(REPO).join("etc/rsftpd.conf"));
    assert!(o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for kv in [
        "listen=NO",
        "anonymous_enable=YES",
        "anon_root=/var/ftp",
        "anon_upload_enable=NO",
        "anon_mkdir_write_enable=NO",
        "anon_other_write_enable=NO",
        "local_enable=YES",
        "chroot_local_user=YES",
        "allow_writeable_chroot=NO",
        "connect_from_port_20=YES",
        "xferlog_enable=YES",
        "secure_chroot_dir=/usr/share/rsftpd/empty",
        "run_as_launching_user=NO",
    ] {
        assert!(
            out.lines().any(|l| l == kv),
            "{kv} not in rsftpd -t output:\n{out}"
        );
    }
    let banner = out
        .lines()
        .find_map(|l| l.strip_prefix("ftpd_banner="))
        .unwrap_or("");
    assert!(!banner.is_empty(), "a banner is set");
    let lower = banner.to_ascii_lowercase();
    assert!(
        !lower.contains("rsftpd")
            && !lower.contains("vsftpd")
            && !banner.contains(char::is_numeric),
        "the banner names no software or version: {banner:?}"
    );

    let o = check(&Path::new(REPO).join("etc/rsftpd-dropbox.conf"));
    assert!(o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for kv in [
        "anon_upload_enable=YES",
        "anon_other_write_enable=NO",
        "anon_mkdir_write_enable=NO",
        "anon_world_readable_only=YES",
        "local_enable=NO",
        "write_enable=YES",
    ] {
        assert!(
            out.lines().any(|l| l == kv),
            "{kv} not in the drop box:\n{out}"
        );
    }
}

/// The settings lines of a configuration (no comments, no blank lines).
fn settings(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn documented_examples_quote_the_shipped_files() {
    let tmp = TempDir::new("example-configs-quoted");
    let shipped: Vec<Vec<String>> = shipped()
        .iter()
        .map(|p| settings(&std::fs::read_to_string(p).unwrap()))
        .collect();
    for doc in documented(&tmp.0) {
        let lines = settings(&std::fs::read_to_string(&doc).unwrap());
        assert!(
            shipped.iter().any(|s| lines.iter().all(|l| s.contains(l))),
            "{} is not a part of any etc/*.conf: {lines:?}",
            doc.display()
        );
    }
}

#[test]
fn a_broken_copy_names_file_line_and_key() {
    let tmp = TempDir::new("example-configs-broken");
    let mut sources = shipped();
    sources.extend(documented(&tmp.0));
    for src in sources {
        let text = std::fs::read_to_string(&src).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let stem = src.file_name().unwrap().to_string_lossy().into_owned();
        // Line numbers count from 1; put the mistake in the middle of the file.
        let at = lines.len() / 2 + 1;
        for (what, bad, want) in [
            (
                "typo",
                "anon_uplaod_enable=YES",
                vec!["anon_uplaod_enable", "did you mean", "anon_upload_enable"],
            ),
            (
                "value",
                "idle_session_timeout=soon",
                vec!["idle_session_timeout", "soon"],
            ),
        ] {
            let mut broken = lines[..at - 1].to_vec();
            broken.push(bad);
            broken.extend(&lines[at - 1..]);
            let p = tmp.0.join(format!("broken-{what}-{stem}"));
            write(&p, &(broken.join("\n") + "\n"));
            let o = check(&p);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{}: {}", p.display(), show(&o));
            let place = format!("{}:{at}:", p.display());
            assert!(err.contains(&place), "{place} not in {err:?}");
            for w in want {
                assert!(err.contains(w), "{w:?} not in {err:?}");
            }
            assert!(
                o.stdout.is_empty(),
                "no settings printed on error: {}",
                show(&o)
            );
        }
    }
}
