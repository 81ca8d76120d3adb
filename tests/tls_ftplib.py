"""Python's ftplib.FTP_TLS against rsftpd with ssl_enable=YES; driven by tests/tls.rs.

Usage: python3 tls_ftplib.py MODE PORT USER PASS DIR LOCAL
  MODE   stock-refused, reuse, stock, cross, prot-c, truncate or policies (see the functions)
  USER   the login name (anonymous or a local user) and PASS its password
  DIR    the directory (as the server names it) to upload into
  LOCAL  a real directory holding down.bin (the served file, to compare bytes with) and
         up.src (the bytes to upload)
Prints one line per reply the caller checks (tests/tls.rs compares the whole output), and
exits non-zero with a traceback on the first mismatch. Talks only to 127.0.0.1; every
socket has a timeout.
"""
import ftplib
import os
import socket
import ssl
import sys

mode, port, user, password, updir, local = sys.argv[1:7]
port = int(port)

# The server's certificate is self-signed: encryption is what is tested, not trust.
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def read_local(name):
    with open(os.path.join(local, name), "rb") as f:
        return f.read()


class Reusing(ftplib.FTP_TLS):
    """The well-known subclass: every data connection offers the control connection's
    TLS session, so the server can resume it (what require_ssl_reuse asks for)."""

    data_conns = []
    # Whose control connection's session to offer (another client's, to be refused).
    session_from = None

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            owner = self.session_from or self
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=owner.sock.session
            )
            self.data_conns.append((conn.session_reused, conn.version()))
        return conn, size


def connect(cls):
    ftp = cls(context=CTX, timeout=20)
    ftp.connect("127.0.0.1", port)
    return ftp


def reply(ftp, line):
    """Send a command; the reply text whatever its code (ftplib raises on 4xx and 5xx)."""
    try:
        return ftp.sendcmd(line)
    except ftplib.all_errors as e:
        return str(e)


def error_of(f):
    """Run f, which must fail with an FTP error reply; that reply's text."""
    try:
        f()
    except (ftplib.error_perm, ftplib.error_temp) as e:
        return str(e)
    raise AssertionError("no error reply")


def refused(ftp, cmd, body=None):
    """A transfer the server refuses after 150, once the data connection's handshake is
    done on our side: the reply that follows. Whatever our end of the data connection
    sees meanwhile (an EOF, an alert, a reset while sending) is not checked."""
    try:
        conn = ftp.transfercmd(cmd)
    except (ftplib.error_perm, ftplib.error_temp) as e:
        return str(e)
    except (ssl.SSLError, OSError):
        conn = None
    if conn is not None:
        try:
            if body is not None:
                conn.sendall(body)
            for _ in range(10000):
                if not conn.recv(65536):
                    break
        except (ssl.SSLError, OSError):
            pass
        conn.close()
    return error_of(ftp.voidresp)


def login_tls(cls):
    ftp = connect(cls)
    print(ftp.auth())
    print(ftp.login(user, password))
    return ftp


def retr(ftp, name):
    chunks = []
    resp = ftp.retrbinary("RETR " + name, chunks.append)
    return b"".join(chunks), resp


def transfers(ftp):
    """List, download twice, upload, list again: each reply checked, printed once."""
    names = ftp.nlst()
    assert "down.bin" in names, names
    lines = []
    ftp.dir(lines.append)
    assert any(l.endswith(" down.bin") for l in lines), lines
    want = read_local("down.bin")
    for _ in range(2):
        got, resp = retr(ftp, "down.bin")
        assert resp == "226 Transfer complete.", resp
        assert got == want, "downloaded bytes differ (%d vs %d)" % (len(got), len(want))
    print("download ok")
    print(ftp.cwd(updir))
    with open(os.path.join(local, "up.src"), "rb") as f:
        print(ftp.storbinary("STOR up-ftplib.bin", f))


def stock_refused():
    """Stock FTP_TLS offers no session on data connections: with require_ssl_reuse=YES
    every PROT P transfer is refused after 150, and the session goes on."""
    ftp = login_tls(ftplib.FTP_TLS)
    print(ftp.prot_p())
    print(refused(ftp, "NLST"))
    print(refused(ftp, "RETR down.bin"))
    print(ftp.cwd(updir))
    print(refused(ftp, "STOR refused.bin", read_local("up.src")))
    print(ftp.pwd())
    print(ftp.quit())


def reuse():
    """The reusing subclass: every data connection resumes the control session."""
    ftp = login_tls(Reusing)
    print(ftp.prot_p())
    transfers(ftp)
    assert len(Reusing.data_conns) == 5, Reusing.data_conns
    assert all(r for r, _ in Reusing.data_conns), Reusing.data_conns
    print("resumed %d of %d" % (sum(r for r, _ in Reusing.data_conns), len(Reusing.data_conns)))
    print("data " + " ".join(sorted({v for _, v in Reusing.data_conns})))
    print("control " + ftp.sock.version())
    print(ftp.quit())


def stock():
    """Stock FTP_TLS (full handshakes on data connections), for require_ssl_reuse=NO."""
    ftp = login_tls(ftplib.FTP_TLS)
    print(ftp.prot_p())
    transfers(ftp)
    print("control " + ftp.sock.version())
    print(ftp.quit())


def cross():
    """Two clients: B's data connection offers A's TLS session. Each connection's TLS
    process has its own session cache, so B's server cannot resume it: 522. B's own
    session works, and so does A's own."""
    a = login_tls(Reusing)
    b = login_tls(Reusing)
    print(a.prot_p())
    print(b.prot_p())
    assert "down.bin" in a.nlst()
    b.session_from = a
    print(refused(b, "NLST"))
    b.session_from = None
    assert "down.bin" in b.nlst()
    assert "down.bin" in a.nlst()
    print("own sessions ok")
    print(b.quit())
    print(a.quit())


def prot_c():
    """PROT C with force_*_data_ssl: clear data connections are refused; PROT P works."""
    ftp = login_tls(Reusing)
    print(ftp.prot_c())
    print(error_of(ftp.nlst))
    print(error_of(lambda: retr(ftp, "down.bin")))
    print(ftp.prot_p())
    got, resp = retr(ftp, "down.bin")
    assert got == read_local("down.bin")
    print(resp)
    print(ftp.quit())


def truncate():
    """An upload whose TCP connection ends without TLS close_notify is a failure (426);
    the same upload closed properly (ftplib unwraps: close_notify) is complete (226)."""
    ftp = login_tls(Reusing)
    print(ftp.prot_p())
    print(ftp.cwd(updir))
    body = read_local("up.src")
    conn = ftp.transfercmd("STOR cut.bin")
    conn.sendall(body)
    # No conn.unwrap(): end the TCP connection under the TLS layer (FIN, no alert).
    raw = socket.socket(fileno=os.dup(conn.fileno()))
    raw.shutdown(socket.SHUT_RDWR)
    raw.close()
    conn.close()
    print(error_of(ftp.voidresp))
    with open(os.path.join(local, "up.src"), "rb") as f:
        print(ftp.storbinary("STOR whole.bin", f))
    assert all(r for r, _ in Reusing.data_conns), Reusing.data_conns
    print(ftp.quit())


def policies():
    """Replies over a TLS control connection that need no login."""
    ftp = connect(ftplib.FTP_TLS)
    print(reply(ftp, "PBSZ 0"))
    print(reply(ftp, "PROT P"))
    print(ftp.auth())
    print(reply(ftp, "AUTH TLS"))
    print(reply(ftp, "PBSZ 0"))
    print(reply(ftp, "PROT S"))
    print(reply(ftp, "PROT E"))
    print(reply(ftp, "PROT X"))
    print(reply(ftp, "PROT C"))
    print(reply(ftp, "PROT P"))
    print(reply(ftp, "CCC"))
    print(reply(ftp, "USER " + user))
    print(reply(ftp, "QUIT"))


{
    "stock-refused": stock_refused,
    "reuse": reuse,
    "stock": stock,
    "prot-c": prot_c,
    "cross": cross,
    "truncate": truncate,
    "policies": policies,
}[mode]()
