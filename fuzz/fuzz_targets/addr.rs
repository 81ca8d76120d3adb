//! PORT, EPRT and EPSV arguments: never a panic; what parses formats back and re-parses equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsftpd::proto::addr::{format_epsv, format_pasv, parse_eprt, parse_epsv, parse_port, EpsvArg};
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    if let Some(a) = parse_port(data) {
        assert_ne!(a.port(), 0);
        let [h1, h2, h3, h4] = a.ip().octets();
        let text = format!("{h1},{h2},{h3},{h4},{},{}", a.port() >> 8, a.port() & 0xff);
        assert_eq!(parse_port(text.as_bytes()), Some(a));
        let _ = format_pasv(*a.ip(), a.port());
    }

    if let Ok(a) = parse_eprt(data) {
        assert_ne!(a.port(), 0);
        let text = match a {
            SocketAddr::V4(v4) => format!("|1|{}|{}|", v4.ip(), v4.port()),
            SocketAddr::V6(v6) => format!("|2|{}|{}|", v6.ip(), v6.port()),
        };
        assert_eq!(parse_eprt(text.as_bytes()), Ok(a));
        let _ = format_epsv(a.port());
    }

    assert_eq!(parse_epsv(None), EpsvArg::Any);
    match parse_epsv(Some(data)) {
        EpsvArg::Proto(n) => {
            assert_eq!(
                parse_epsv(Some(n.to_string().as_bytes())),
                EpsvArg::Proto(n)
            )
        }
        EpsvArg::Any => assert!(data.iter().all(|&b| b == b' ')),
        EpsvArg::All | EpsvArg::Bad => {}
    }
});
