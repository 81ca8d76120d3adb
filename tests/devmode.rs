//! Development mode (run_as_launching_user=YES, or not root): no monitor, no chroot, no
//! identity change; one process serves the anonymous tree as the launching user. This is
//! what `make run` uses. CI runs as root, so these tests force the mode by configuration.
mod common;

#[test]
fn one_process_serves_the_tree_as_the_launching_user() {
    let mut f = common::Fixture::new("devmode");
    f.set("run_as_launching_user=YES");
    f.file("pub/hello.txt", b"hello\n", 0o644);
    let inetd = f.inetd();
    let mut c = inetd.login();
    let pid = common::procs::monitor(&inetd);
    // A single process: no monitor above a session, no session child.
    assert!(
        common::descendants(pid).is_empty(),
        "children: {:?}",
        common::descendants(pid)
    );
    let me = common::proc_status(std::process::id(), "Uid").unwrap();
    assert_eq!(
        common::proc_status(pid, "Uid").unwrap(),
        me,
        "runs as the launching user"
    );
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(root, std::path::PathBuf::from("/"), "no chroot");
    // The tree is still served as "/", and ".." cannot leave it.
    c.expect("CWD /../..", 250);
    assert_eq!(c.expect("PWD", 257), "257 \"/\" is the current directory");
    let (data, code, _) = c.pasv_transfer("NLST");
    assert_eq!(code, 226);
    assert_eq!(data, b"pub\r\n");
    let (data, code, _) = c.pasv_transfer("RETR ../../pub/hello.txt");
    assert_eq!((data.as_slice(), code), (&b"hello\n"[..], 226));
    // A path outside the tree resolves inside it, so a real file elsewhere is not reached.
    let (_, code, _) = c.pasv_transfer("RETR /etc/passwd");
    assert_eq!(code, 550);
    c.expect("QUIT", 221);
    assert!(inetd.wait_all_exited(common::TIMEOUT));
}
