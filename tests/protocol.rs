//! Protocol tests over the mini-inetd: exact reply codes and sequences.
mod common;

#[test]
fn greeting_login_pwd_quit() {
    let f = common::Fixture::new("basic");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.expect("USER anonymous", 331);
    c.expect("PASS a@b", 230);
    assert_eq!(c.expect("PWD", 257), "257 \"/\" is the current directory");
    assert_eq!(c.expect("QUIT", 221), "221 Goodbye.");
    assert!(inetd.wait_all_exited(common::TIMEOUT));
}

#[test]
fn pipelined_commands_behind_pass_are_answered() {
    let f = common::Fixture::new("pipeline");
    let inetd = f.inetd();
    let mut c = inetd.connect();
    c.send_raw(b"USER anonymous\r\nPASS a@b\r\nPWD\r\n");
    assert_eq!(c.read_reply().0, 331);
    assert_eq!(c.read_reply().0, 230);
    assert_eq!(
        c.read_reply(),
        (257, "257 \"/\" is the current directory".to_string())
    );
}
