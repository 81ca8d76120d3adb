//! Config file text: parse_str on any UTF-8 (invalid UTF-8 is replaced, as load_file refuses it
//! anyway), then validate, pasv_port_range and dump; a parsed config's dump parses back to the
//! same dump.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsftpd::config::Config;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/etc/rsftpd.conf");
    let mut cfg = Config::default();
    if cfg.parse_str(&text, path).is_err() {
        return;
    }
    if cfg.validate().is_ok() {
        let _ = cfg.pasv_port_range();
    }
    let dump = cfg.dump();
    let mut again = Config::default();
    if let Err(e) = again.parse_str(&dump, path) {
        panic!(
            "dump does not parse back: {}\n--- dump ---\n{dump}",
            e.message()
        );
    }
    assert_eq!(again.dump(), dump, "dump round trip differs");
});
