//! PROXY protocol headers (v1 and v2) and proxy_trusted_addresses on any bytes: never a
//! panic; a whole header is at most limits::PROXY_V2_MAX bytes (v1: PROXY_V1_MAX), parses
//! the same from exactly its own bytes, and every shorter prefix of it is Incomplete (the
//! reader consumes an incomplete buffer whole, so this is what keeps it from reading past
//! a header); Incomplete never comes for a buffer at a length bound; what parses to a TCP
//! header encodes (v1 and v2) to a header that parses back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsftpd::limits::{PROXY_V1_MAX, PROXY_V2_MAX};
use rsftpd::proto::proxy::{encode_v1, encode_v2, parse, Header, Parsed, Trusted};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Parsed::Complete { header, len }) => {
            assert!(len > 0 && len <= data.len());
            let bound = if data[0] == b'P' { PROXY_V1_MAX } else { PROXY_V2_MAX };
            assert!(len <= bound, "{len} bytes");
            assert_eq!(
                parse(&data[..len]),
                Ok(Parsed::Complete { header, len }),
                "not the same from its own bytes"
            );
            // Every proper prefix is Incomplete (all of them: len is bounded by 1040).
            for k in 0..len {
                assert_eq!(parse(&data[..k]), Ok(Parsed::Incomplete), "prefix of {k}");
            }
            if let Header::Tcp { .. } = header {
                for enc in [encode_v1(&header), encode_v2(&header)] {
                    match parse(&enc) {
                        Ok(Parsed::Complete { header: h, len: l }) => {
                            assert_eq!((h, l), (header, enc.len()))
                        }
                        other => panic!("re-encoded header: {other:?}"),
                    }
                }
            }
        }
        Ok(Parsed::Incomplete) => {
            assert!(data.len() < PROXY_V2_MAX);
            if data.first() == Some(&b'P') {
                assert!(data.len() < PROXY_V1_MAX);
            }
        }
        Err(_) => {
            // An error stays an error whatever follows.
            let mut more = data.to_vec();
            more.extend_from_slice(b"\r\n");
            assert!(parse(&more).is_err(), "an error became a header");
        }
    }

    let text = String::from_utf8_lossy(data);
    if let Ok(t) = Trusted::parse(&text) {
        if data.len() >= 16 {
            let mut o = [0u8; 16];
            o.copy_from_slice(&data[..16]);
            let _ = t.contains(std::net::Ipv6Addr::from(o).into());
            let _ = t.contains(std::net::Ipv4Addr::new(o[0], o[1], o[2], o[3]).into());
        }
    }
});
