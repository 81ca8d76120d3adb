"""MLSD and MLST read by Python clients against rsftpd; driven by tests/mlsx.rs.

Usage: python3 mlsx_clients.py MODE PORT ROOT
  MODE ftplib: the standard library's ftplib.FTP.mlsd (names as bytes through latin-1),
               every fact compared with os.stat of the file on disk, MLST, SIZE and MDTM
               compared with MLSD, a non-UTF-8 name downloaded byte for byte.
  MODE aioftp: aioftp's Client (from PyPI; run with the interpreter of the venv that has
               it): list() (MLSD), stat() (MLST), is_dir/is_file/exists, download.
  ROOT is the real directory served as "/" (anonymous, no write rights).
Exits non-zero (with a traceback) on the first mismatch. Talks only to 127.0.0.1.
"""
import os
import stat
import sys
import time

mode, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()


def expected_names(rel):
    """What MLSD shows of a directory: no dot files, no names with CR or LF."""
    names = os.listdir(os.path.join(root, rel))
    return sorted(n for n in names if not n.startswith(b".") and b"\r" not in n and b"\n" not in n)


def utc(t):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


def check_facts(path, facts, uniques):
    """One entry's facts against os.stat (a symlink is described by its target)."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        assert facts["type"] == "dir", (path, facts)
        assert "size" not in facts, (path, facts)
        assert "e" in facts["perm"] and "l" in facts["perm"], (path, facts)
    else:
        assert stat.S_ISREG(st.st_mode), path
        assert facts["type"] == "file", (path, facts)
        assert int(facts["size"]) == st.st_size, (path, facts, st.st_size)
        assert facts["perm"] == "r", (path, facts)
    assert facts["modify"] == utc(st.st_mtime), (path, facts, utc(st.st_mtime))
    assert facts["unix.mode"] == "%04o" % (st.st_mode & 0o7777), (path, facts)
    assert int(facts["unix.owner"]) == st.st_uid, (path, facts)
    assert int(facts["unix.group"]) == st.st_gid, (path, facts)
    # unique: one value per file; a symlink and its target share it.
    key = (st.st_dev, st.st_ino)
    assert uniques.setdefault(facts["unique"], key) == key, (path, facts)
    assert set(facts) == {
        "type", "size", "modify", "perm", "unique", "unix.mode", "unix.owner", "unix.group"
    } - ({"size"} if facts["type"] == "dir" else set()), facts


def ftplib_session():
    import ftplib

    # latin-1 maps every byte to one character and back: names stay bytes.
    ftp = ftplib.FTP(encoding="latin-1")
    ftp.connect("127.0.0.1", port, timeout=20)
    ftp.login("anonymous", "a@b")
    uniques = {}
    seen = 0
    for rel in [b"", b"sub", "dir é".encode("latin-1"), "日本".encode()]:
        entries = list(ftp.mlsd(rel.decode("latin-1")))
        cdir = [e for e in entries if e[1]["type"] == "cdir"]
        assert len(cdir) == 1 and cdir[0][0] == ".", entries
        assert "e" in cdir[0][1]["perm"] and "l" in cdir[0][1]["perm"], cdir
        # Read-only anonymous: no c, d, f, m or p on the listed directory.
        assert set(cdir[0][1]["perm"]) <= set("el"), cdir
        got = sorted(n.encode("latin-1") for n, f in entries if f["type"] != "cdir")
        assert got == expected_names(rel), (rel, got, expected_names(rel))
        for name, facts in entries:
            if facts["type"] == "cdir":
                continue
            path = os.path.join(root, rel, name.encode("latin-1"))
            check_facts(path, facts, uniques)
            seen += 1
            # MLST of the same object: the same facts.
            virt = "/" + os.path.join(rel, name.encode("latin-1")).decode("latin-1")
            resp = ftp.sendcmd("MLST " + virt)
            lines = resp.split("\n")
            assert lines[0] == "250-Listing " + virt and lines[2] == "250 End", resp
            assert lines[1].startswith(" ") and lines[1].endswith("; " + virt), resp
            mlst = dict(f.split("=", 1) for f in lines[1][1:].split("; ", 1)[0].split(";") if f)
            assert mlst == facts, (mlst, facts)
            if facts["type"] == "file":
                # SIZE and MDTM agree with MLST.
                assert ftp.size(virt) == int(facts["size"]), virt
                assert ftp.sendcmd("MDTM " + virt) == "213 " + facts["modify"], virt
    assert seen >= 8, seen

    # OPTS MLST narrows the facts; MLSD and MLST follow.
    assert ftp.sendcmd("OPTS MLST size;Type;bogus;") == "200 MLST OPTS type;size;"
    for name, facts in ftp.mlsd("sub"):
        want = {"type"} | ({"size"} if facts["type"] == "file" else set())
        assert set(facts) == want, (name, facts)
    # ftplib asks for facts by name; it sends no OPTS, so this shows what the server chose.
    lst = ftp.sendcmd("MLST sub")
    assert lst == "250-Listing /sub\n type=dir; /sub\n250 End", lst

    # A non-UTF-8 name downloads byte for byte.
    name = b"latin-\xe9t\xe9.bin"
    chunks = []
    ftp.retrbinary("RETR " + name.decode("latin-1"), chunks.append)
    with open(os.path.join(root, name), "rb") as f:
        assert b"".join(chunks) == f.read()
    ftp.quit()


def aioftp_session():
    import asyncio
    import pathlib
    import tempfile

    import aioftp

    async def main():
        client = aioftp.Client()
        await client.connect("127.0.0.1", port)
        await client.login("anonymous", "a@b")
        for rel in ["", "sub", "日本"]:
            listed = await client.list(rel)
            names = sorted(os.fsencode(p.name) for p, _ in listed)
            assert names == expected_names(rel.encode()), (rel, names)
            for p, info in listed:
                # unique and perm come only from MLSD (aioftp falls back to LIST on 50x).
                assert "unique" in info and "perm" in info, info
                check_facts(os.path.join(root, os.fsencode(str(p).lstrip("/"))), info, {})
        info = await client.stat("sub/inner.txt")
        st = os.stat(os.path.join(root, b"sub/inner.txt"))
        assert info["type"] == "file" and int(info["size"]) == st.st_size, info
        assert info["modify"] == utc(st.st_mtime), info
        assert await client.is_dir("sub") and await client.is_dir("日本")
        assert await client.is_file("日本/テスト.txt")
        assert not await client.exists("nothing-here")
        with tempfile.TemporaryDirectory() as d:
            await client.download("日本/テスト.txt", d, write_into=False)
            got = pathlib.Path(d, "テスト.txt").read_bytes()
            with open(os.path.join(root, "日本/テスト.txt".encode()), "rb") as f:
                assert got == f.read()
        await client.quit()

    asyncio.run(main())


{"ftplib": ftplib_session, "aioftp": aioftp_session}[mode]()
print("ok")
