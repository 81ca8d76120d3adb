"""Python ftplib against rsftpd; driven by tests/clients.rs.

Usage: python3 clients_ftplib.py MODE PORT ROOT
  MODE is one of: binary-pasv, binary-active, ascii-on, ascii-off
  ROOT is the real directory served as "/" (to compare bytes and times).
Exits non-zero (with a traceback) on the first mismatch. Talks only to 127.0.0.1.
"""
import ftplib
import os
import sys
import time

mode, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def local(rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def connect(passive=True):
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=20)
    ftp.login("anonymous", "a@b")
    ftp.set_pasv(passive)
    return ftp


def retr_binary(ftp, name):
    chunks = []
    ftp.retrbinary("RETR " + name, chunks.append)
    return b"".join(chunks)


def retr_raw(ftp, name):
    """The data-connection bytes of RETR in the current TYPE, unaltered by ftplib."""
    conn = ftp.transfercmd("RETR " + name)
    chunks = []
    try:
        while True:
            b = conn.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        conn.close()
    resp = ftp.voidresp()
    assert resp.startswith("226"), resp
    return b"".join(chunks)


def binary_session(passive):
    ftp = connect(passive)
    assert ftp.pwd() == "/", ftp.pwd()

    data = retr_binary(ftp, "bin.dat")
    assert data == local("bin.dat"), "retrbinary bytes differ"
    assert len(data) == 70000

    names = sorted(ftp.nlst())
    assert names == ["bin.dat", "sub", "text.txt"], names

    lines = []
    ftp.dir(lines.append)
    assert len(lines) == 3, lines
    assert any(l.startswith("d") and l.endswith(" sub") for l in lines), lines
    assert any(l.startswith("-") and l.endswith(" bin.dat") for l in lines), lines
    assert any(" 70000 " in l for l in lines), lines

    assert ftp.size("bin.dat") == 70000
    assert ftp.size("sub/inner.txt") == len(local("sub/inner.txt"))

    resp = ftp.sendcmd("MDTM bin.dat")
    want = time.strftime(
        "%Y%m%d%H%M%S", time.gmtime(os.stat(os.path.join(root, "bin.dat")).st_mtime)
    )
    assert resp == "213 " + want, (resp, want)

    resp = ftp.cwd("sub")
    assert resp.startswith("250"), resp
    assert ftp.pwd() == "/sub", ftp.pwd()
    assert ftp.nlst() == ["inner.txt"], ftp.nlst()
    assert retr_binary(ftp, "inner.txt") == local("sub/inner.txt")
    ftp.cwd("..")
    assert ftp.pwd() == "/", ftp.pwd()
    try:
        ftp.cwd("no-such-dir")
        raise AssertionError("CWD to a missing directory succeeded")
    except ftplib.error_perm as e:
        assert str(e).startswith("550"), e
    try:
        retr_binary(ftp, "missing.txt")
        raise AssertionError("RETR of a missing file succeeded")
    except ftplib.error_perm as e:
        assert str(e).startswith("550"), e
    assert ftp.quit().startswith("221")


def ascii_on():
    ftp = connect(True)
    text = local("text.txt")
    lines = []
    ftp.retrlines("RETR text.txt", lines.append)
    want = text.decode().split("\n")
    if want[-1] == "":
        want.pop()
    assert lines == want, (lines, want)

    ftp.voidcmd("TYPE A")
    raw = retr_raw(ftp, "text.txt")
    assert raw == text.replace(b"\n", b"\r\n"), (raw, text)
    # Back in binary the same file comes unchanged.
    ftp.voidcmd("TYPE I")
    assert retr_raw(ftp, "text.txt") == text
    assert ftp.quit().startswith("221")


def ascii_off():
    ftp = connect(True)
    text = local("text.txt")
    ftp.voidcmd("TYPE A")
    raw = retr_raw(ftp, "text.txt")
    assert raw == text, (raw, text)
    # retrlines still yields the lines: the file has no CR to strip.
    lines = []
    ftp.retrlines("RETR text.txt", lines.append)
    assert lines == text.decode().split("\n"), lines
    assert ftp.quit().startswith("221")


if mode == "binary-pasv":
    binary_session(True)
elif mode == "binary-active":
    binary_session(False)
elif mode == "ascii-on":
    ascii_on()
elif mode == "ascii-off":
    ascii_off()
else:
    sys.exit("unknown mode " + mode)
print("ok " + mode)
