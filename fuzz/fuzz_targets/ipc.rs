//! IPC decoders on any bytes: PreloginRequest, PostloginRequest, LoginReply and HostReply. What decodes
//! re-encodes to a message that decodes equal (and, for the byte-exact formats, to the same
//! bytes), within limits::IPC_MSG_MAX.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsftpd::ipc::{HostReply, LoginReply, PostloginRequest, PreloginRequest};
use rsftpd::limits::{HOST_BANNER_MAX, HOST_NAME_MAX, IPC_MSG_MAX, PASS_MAX, USER_MAX};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = PreloginRequest::decode(data) {
        let enc = m.encode().expect("a decoded pre-login request encodes");
        assert!(enc.len() <= IPC_MSG_MAX);
        assert_eq!(enc, data, "pre-login re-encoding differs");
        match (&m, PreloginRequest::decode(&enc).expect("re-decodes")) {
            (
                PreloginRequest::Login {
                    user,
                    pass,
                    private,
                },
                PreloginRequest::Login {
                    user: u2,
                    pass: p2,
                    private: v2,
                },
            ) => {
                assert!(user.len() <= USER_MAX && pass.expose().len() <= PASS_MAX);
                assert_eq!(user, &u2);
                assert_eq!(pass.expose(), p2.expose());
                assert_eq!(*private, v2);
            }
            (PreloginRequest::CheckUser { user }, PreloginRequest::CheckUser { user: u2 }) => {
                assert!(user.len() <= USER_MAX);
                assert_eq!(user, &u2);
            }
            (PreloginRequest::Host { name }, PreloginRequest::Host { name: n2 }) => {
                assert!(name.len() <= HOST_NAME_MAX);
                assert_eq!(name, &n2);
            }
            (PreloginRequest::Rein, PreloginRequest::Rein) => {}
            (a, b) => panic!("variant changed: {a:?} -> {b:?}"),
        }
    }

    if let Ok(m) = PostloginRequest::decode(data) {
        let enc = m.encode().expect("a decoded post-login request encodes");
        assert!(enc.len() <= IPC_MSG_MAX);
        // Addresses are re-encoded in canonical text form, so compare values, not bytes.
        assert_eq!(PostloginRequest::decode(&enc).expect("re-decodes"), m);
    }

    if let Ok(r) = HostReply::decode(data) {
        let enc = r.encode().expect("a decoded host reply encodes");
        assert!(enc.len() <= IPC_MSG_MAX);
        assert_eq!(enc, data, "host reply re-encoding differs");
        if let HostReply::Accepted {
            banner: Some(b), ..
        } = &r
        {
            assert!(!b.is_empty() && b.len() <= HOST_BANNER_MAX);
        }
        assert_eq!(HostReply::decode(&enc).expect("re-decodes"), r);
    }

    if let Ok(r) = LoginReply::decode(data) {
        assert_eq!(r.encode(), data);
        assert_eq!(LoginReply::decode(&r.encode()).expect("re-decodes"), r);
    }
});
