#!/usr/bin/env python3
"""rsftpd against vsftpd 3.0.3, both under private xinetd instances on loopback (issue 5).

Run as root (`make bench`, or `python3 bench/bench.py [--quick] [options]`). It lays out a
scratch tree (tmpfs by default), writes one configuration used by both servers (only the
secure_chroot_dir and pasv port range differ), starts one xinetd per server on a loopback
high port, and runs each workload interleaved A B A B ... for N repetitions, then prints
medians, min-max and per-repetition ratios rsftpd/vsftpd, whether each of issue 5's targets
is met, and whether the client was CPU-bound. Everything it starts (xinetd instances, the
bare baseline servers, clients) is stopped by PID at the end, even on failure, and the
scratch directories and cgroups are removed.

The clients are this file run as a subprocess (`bench.py _client JSON`): raw sockets, one
1 MiB recv_into buffer (about what curl costs per byte, and the same reader for the FTP
servers and the bare sendfile server), sendfile() from tmpfs for uploads. Each reports its
own CPU time for the timed region, so the "client CPU share" lines can tell when the client
rather than the server is the bottleneck.

Server CPU is xinetd's cutime+cstime (/proc/PID/stat): xinetd reaps each server process,
which has reaped its own children, so the whole tree's CPU accumulates there once the
session has ended. Peak RSS and PSS are read from /proc for the descendants of xinetd.

Python 3 standard library only.
"""

import argparse
import atexit
import fcntl
import hashlib
import json
import os
import platform
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MIB = 1 << 20
TICK = os.sysconf("SC_CLK_TCK")
CLIENT_TIMEOUT = 600  # seconds, for any one client run
WAIT = 15  # seconds, for servers to start or to end their sessions

# ----------------------------------------------------------------------------------------
# The FTP client side (run in a subprocess: `bench.py _client JSON`)
# ----------------------------------------------------------------------------------------


class FtpError(Exception):
    pass


class Ctl:
    """A control connection: commands out, replies in (multi-line aware)."""

    def __init__(self, port, timeout=120):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.expect(220)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise FtpError("control connection closed")
            self.buf += d
        ln, _, self.buf = self.buf.partition(b"\n")
        return ln.rstrip(b"\r").decode("latin-1")

    def reply(self):
        first = self.line()
        code = first[:3]
        if len(first) > 3 and first[3] == "-":
            while True:
                ln = self.line()
                if ln[:3] == code and ln[3:4] == " ":
                    break
        return int(code), first

    def expect(self, *codes):
        code, text = self.reply()
        if code not in codes:
            raise FtpError(f"expected {codes}, got {text!r}")
        return text

    def cmd(self, line, *codes):
        self.s.sendall(line.encode() + b"\r\n")
        return self.expect(*codes)

    def login(self):
        self.cmd("USER anonymous", 331)
        self.cmd("PASS bench@example.org", 230)

    def pasv(self):
        text = self.cmd("PASV", 227)
        nums = text[text.index("(") + 1 : text.index(")")].split(",")
        port = int(nums[4]) * 256 + int(nums[5])
        d = socket.create_connection((".".join(nums[:4]), port), timeout=120)
        return d

    def active(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(120)
        p = ls.getsockname()[1]
        self.cmd(f"PORT 127,0,0,1,{p >> 8},{p & 255}", 200)
        return ls

    def quit(self):
        try:
            self.cmd("QUIT", 221)
        finally:
            self.s.close()


def drain(sock, buf):
    """Read to EOF into one reused buffer; the byte count."""
    n = 0
    view = memoryview(buf)
    while True:
        r = sock.recv_into(view)
        if r == 0:
            return n
        n += r


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def client_retr(a):
    """RETR (or LIST) one path; MB counted by the bytes received."""
    c = Ctl(a["port"])
    c.login()
    c.cmd("TYPE " + a.get("type", "I"), 200)
    buf = bytearray(MIB)
    verb = a.get("verb", "RETR")
    c0, t0 = cpu_self(), time.perf_counter()
    if a.get("mode") == "active":
        ls = c.active()
        c.cmd(f"{verb} {a['path']}", 150, 125)
        d, _ = ls.accept()
        ls.close()
    else:
        d = c.pasv()
        c.cmd(f"{verb} {a['path']}", 150, 125)
    n = drain(d, buf)
    d.close()
    c.expect(226)
    t1, c1 = time.perf_counter(), cpu_self()
    if a.get("linger"):
        time.sleep(a["linger"])  # lets the peak-RSS sampler see the session once more
    c.quit()
    return {"bytes": n, "secs": t1 - t0, "cpu": c1 - c0}


def client_stor(a):
    """STOR from a file with sendfile() (tmpfs: the client costs almost nothing)."""
    c = Ctl(a["port"])
    c.login()
    c.cmd("TYPE I", 200)
    fd = os.open(a["src"], os.O_RDONLY)
    size = os.fstat(fd).st_size
    c0, t0 = cpu_self(), time.perf_counter()
    d = c.pasv()
    c.cmd(f"STOR {a['path']}", 150, 125)
    d.settimeout(None)  # blocking sendfile; run_client's timeout bounds it
    off = 0
    while off < size:
        off += os.sendfile(d.fileno(), fd, off, size - off)
    d.close()
    c.expect(226)
    t1, c1 = time.perf_counter(), cpu_self()
    os.close(fd)
    c.quit()
    return {"bytes": size, "secs": t1 - t0, "cpu": c1 - c0}


def client_bare_recv(a):
    """Read what the bare sendfile server sends, to EOF."""
    buf = bytearray(MIB)
    c0, t0 = cpu_self(), time.perf_counter()
    d = socket.create_connection(("127.0.0.1", a["port"]), timeout=120)
    n = drain(d, buf)
    d.close()
    t1, c1 = time.perf_counter(), cpu_self()
    return {"bytes": n, "secs": t1 - t0, "cpu": c1 - c0}


def client_bare_send(a):
    """sendfile() a file to the bare splice receiver; wait for its one-byte receipt."""
    fd = os.open(a["src"], os.O_RDONLY)
    size = os.fstat(fd).st_size
    c0, t0 = cpu_self(), time.perf_counter()
    d = socket.create_connection(("127.0.0.1", a["port"]), timeout=120)
    d.settimeout(None)  # blocking sendfile; run_client's timeout bounds it
    off = 0
    while off < size:
        off += os.sendfile(d.fileno(), fd, off, size - off)
    d.settimeout(120)
    d.shutdown(socket.SHUT_WR)
    if d.recv(1) != b"k":
        raise FtpError("bare receiver gave no receipt")
    d.close()
    t1, c1 = time.perf_counter(), cpu_self()
    os.close(fd)
    return {"bytes": size, "secs": t1 - t0, "cpu": c1 - c0}


def client_many(a):
    """One session: TYPE I once, then PASV + RETR per file."""
    c = Ctl(a["port"])
    c.login()
    c.cmd("TYPE I", 200)
    buf = bytearray(64 * 1024)
    total = 0
    c0, t0 = cpu_self(), time.perf_counter()
    for i in range(a["count"]):
        d = c.pasv()
        c.cmd(f"RETR {a['dir']}/f{i:05d}", 150, 125)
        total += drain(d, buf)
        d.close()
        c.expect(226)
    t1, c1 = time.perf_counter(), cpu_self()
    c.quit()
    return {"bytes": total, "secs": t1 - t0, "cpu": c1 - c0}


def client_sessions(a):
    """count sessions (connect, login, PWD, QUIT) from `conc` threads."""
    lock = threading.Lock()
    left = [a["count"]]
    errors = []

    def worker():
        while True:
            with lock:
                if left[0] <= 0 or errors:
                    return
                left[0] -= 1
            try:
                c = Ctl(a["port"], timeout=60)
                c.login()
                c.cmd("PWD", 257)
                c.quit()
            except Exception as e:  # reported, the run fails
                with lock:
                    errors.append(repr(e))
                return

    c0, t0 = cpu_self(), time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(a["conc"])]
    for t in ts:
        t.start()
    for t in ts:
        t.join(CLIENT_TIMEOUT)
    t1, c1 = time.perf_counter(), cpu_self()
    if errors:
        raise FtpError(f"{len(errors)} sessions failed, first: {errors[0]}")
    return {"sessions": a["count"], "secs": t1 - t0, "cpu": c1 - c0}


CLIENTS = {
    "retr": client_retr,
    "stor": client_stor,
    "bare_recv": client_bare_recv,
    "bare_send": client_bare_send,
    "many": client_many,
    "sessions": client_sessions,
}


# ----------------------------------------------------------------------------------------
# Bare baselines (run in a subprocess with the listening socket as fd 3)
# ----------------------------------------------------------------------------------------


def bare_sendfile(path, count, lfd):
    """Accept, sendfile() the whole file in one call (the kernel loops), close."""
    ls = socket.socket(fileno=lfd)
    ls.settimeout(CLIENT_TIMEOUT)
    size = os.path.getsize(path)
    for _ in range(count):
        conn, _ = ls.accept()
        conn.settimeout(None)
        fd = os.open(path, os.O_RDONLY)
        off = 0
        while off < size:
            off += os.sendfile(conn.fileno(), fd, off, size - off)
        os.close(fd)
        conn.close()


def bare_splice(path, count, lfd):
    """Accept, splice socket -> pipe -> file (created afresh) to EOF, send 'k', close."""
    ls = socket.socket(fileno=lfd)
    ls.settimeout(CLIENT_TIMEOUT)
    chunk = MIB
    for _ in range(count):
        conn, _ = ls.accept()
        conn.settimeout(None)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        r, w = os.pipe()
        try:
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, chunk)
        except OSError:
            chunk = 64 * 1024
        if hasattr(os, "splice"):
            flags = os.SPLICE_F_MOVE | os.SPLICE_F_MORE
            while True:
                n = os.splice(conn.fileno(), w, chunk, flags=flags)
                if n == 0:
                    break
                while n:
                    n -= os.splice(r, fd, n, flags=flags)
        else:  # Python < 3.10: a recv_into/write loop
            buf = bytearray(chunk)
            view = memoryview(buf)
            while True:
                n = conn.recv_into(view)
                if n == 0:
                    break
                os.write(fd, view[:n])
        os.close(r)
        os.close(w)
        os.close(fd)
        conn.sendall(b"k")
        conn.close()


# ----------------------------------------------------------------------------------------
# The harness
# ----------------------------------------------------------------------------------------

CLEANUP = []  # callables, last first


def cleanup():
    while CLEANUP:
        f = CLEANUP.pop()
        try:
            f()
        except Exception as e:  # keep cleaning
            print(f"cleanup: {e}", file=sys.stderr)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def descendants(pid):
    out, stack = [], [pid]
    while stack and len(out) < 100000:
        for c in children(stack.pop()):
            out.append(c)
            stack.append(c)
    return out


def kill_pid(pid, within=5.0):
    """SIGTERM, bounded wait, SIGKILL: only for a PID this script started."""
    for sig, wait in ((signal.SIGTERM, within), (signal.SIGKILL, 2.0)):
        if not pid_alive(pid):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while time.monotonic() < end and pid_alive(pid):
            time.sleep(0.02)


def free_port(start, taken):
    for p in range(start, start + 2000):
        if p in taken:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        taken.add(p)
        return p
    raise RuntimeError(f"no free port from {start}")


def listening(port):
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        for ln in f.readlines()[1:]:
            parts = ln.split()
            if parts[1] == want and parts[3] == "0A":
                return True
    return False


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                if ln.startswith(key + ":"):
                    return int(ln.split()[1])  # kB
    except OSError:
        pass
    return None


def proc_pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for ln in f:
                if ln.startswith("Pss:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


class Xinetd:
    """A private xinetd (-dontfork -filelog) on loopback, in its own cpuacct cgroup."""

    def __init__(self, name, workdir):
        self.name = name
        self.dir = os.path.join(workdir, f"xinetd-{name}")
        os.makedirs(os.path.join(self.dir, "xinetd.d"))
        self.services = []
        self.proc = None
        self.cgroup = None

    def service(self, sid, port, server, args):
        self.services.append(port)
        text = (
            f"service bench-{sid}\n{{\n"
            "\ttype\t\t= UNLISTED\n"
            f"\tid\t\t= bench-{sid}\n"
            "\tsocket_type\t= stream\n\tprotocol\t= tcp\n\twait\t\t= no\n"
            "\tuser\t\t= root\n"
            f"\tport\t\t= {port}\n\tbind\t\t= 127.0.0.1\n"
            f"\tserver\t\t= {server}\n"
            + (f"\tserver_args\t= {args}\n" if args else "")
            + "}\n"
        )
        with open(os.path.join(self.dir, "xinetd.d", sid), "w") as f:
            f.write(text)

    def start(self):
        with open(os.path.join(self.dir, "xinetd.conf"), "w") as f:
            # cps: xinetd's default (50 per second, then a 10 s pause) would cap the
            # session-rate workload; instances and per_source unlimited for 100 idle ones.
            f.write(
                "defaults\n{\n"
                f"\tlog_type\t= FILE {self.dir}/services.log\n"
                "\tlog_on_success\t= PID HOST EXIT\n\tlog_on_failure\t= HOST\n"
                "\tinstances\t= UNLIMITED\n\tper_source\t= UNLIMITED\n"
                "\tcps\t\t= 100000 1\n}\n"
                f"includedir {self.dir}/xinetd.d\n"
            )
        self.proc = subprocess.Popen(
            ["xinetd", "-dontfork", "-filelog", f"{self.dir}/xinetd.log",
             "-f", f"{self.dir}/xinetd.conf", "-pidfile", f"{self.dir}/xinetd.pid"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        CLEANUP.append(self.stop)
        self.cgroup = make_cgroup(f"rsftpd-bench-{os.getpid()}-{self.name}", self.proc.pid)
        end = time.monotonic() + WAIT
        while not all(listening(p) for p in self.services):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"xinetd for {self.name} did not start:\n{self.log()}")
            time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        out = []
        for n in ("xinetd.log", "services.log"):
            try:
                with open(os.path.join(self.dir, n)) as f:
                    out.append(f"--- {n}\n" + f.read()[-3000:])
            except OSError:
                pass
        return "\n".join(out)

    def child_cpu(self):
        """cutime + cstime: CPU seconds of the reaped server process trees."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # after ")": state is field 3, so cutime (16) and cstime (17) are at 13 and 14
        return (int(fields[13]) + int(fields[14])) / TICK

    def cgroup_cpu(self):
        if not self.cgroup:
            return None
        with open(os.path.join(self.cgroup, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def wait_idle(self):
        """Bounded wait until every session process has ended (and been reaped)."""
        end = time.monotonic() + WAIT
        while children(self.pid):
            if time.monotonic() > end:
                raise RuntimeError(f"{self.name}: sessions still running after {WAIT} s")
            time.sleep(0.01)

    def stop(self):
        if self.proc is None:
            return
        for pid in reversed(descendants(self.pid)):
            kill_pid(pid, 2.0)
        kill_pid(self.pid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        if self.cgroup:
            remove_cgroup(self.cgroup)
            self.cgroup = None


def make_cgroup(name, pid):
    """A cpuacct cgroup (v1) holding xinetd and so every server it starts: CPU time with
    nanosecond resolution, whoever reaps whom. None where cgroups are not writable."""
    base = "/sys/fs/cgroup/cpuacct"
    if not os.path.isdir(base):
        return None
    path = os.path.join(base, name)
    try:
        os.mkdir(path)
    except OSError:
        return None
    try:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(pid))
    except OSError:
        remove_cgroup(path)
        return None
    return path


def remove_cgroup(path):
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    log(f"could not remove the cgroup {path}")


def run_client(op, **args):
    """Run one client in a subprocess, bounded in time; its JSON result."""
    args["op"] = op
    p = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "_client", json.dumps(args)],
        capture_output=True, text=True, timeout=CLIENT_TIMEOUT,
    )
    if p.returncode != 0:
        raise RuntimeError(f"client {op} {args}: {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout)


class Bare:
    """A bare baseline server (sendfile sender or splice receiver) in a subprocess."""

    def __init__(self, kind, path, count):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "_bare", kind, path, str(count),
             str(self.ls.fileno())],
            pass_fds=[self.ls.fileno()], stdin=subprocess.DEVNULL,
        )
        CLEANUP.append(self.stop)

    def stop(self):
        if self.proc:
            kill_pid(self.proc.pid)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        self.ls.close()


# ----------------------------------------------------------------------------------------
# Scratch tree and configurations
# ----------------------------------------------------------------------------------------


def write_pattern(path, size):
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, MIB)
            f.write(block[:n])
            left -= n


def write_text(path, size):
    words = "the quick brown fox jumps over lazy dogs while vsftpd rsftpd data".split()
    lines = []
    for i in range(4096):
        ln = " ".join(words[(i + k) % len(words)] for k in range(11))
        lines.append((ln[: 52 + i % 16] + "\n").encode())
    block = b"".join(lines)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[:left])
            left -= min(left, len(block))


def layout(data, opt):
    """The anonymous tree: root-owned, not writable by ftp, with upload/ owned by ftp."""
    ftp = pwd.getpwnam("ftp")
    root = os.path.join(data, "root")
    os.makedirs(root, mode=0o755)
    write_pattern(os.path.join(root, "big.bin"), opt.size_mib * MIB)
    write_text(os.path.join(root, "text.txt"), opt.ascii_mib * MIB)
    write_pattern(os.path.join(root, "rate.bin"), int(opt.rate_mb * 1e6))
    os.makedirs(os.path.join(root, "bigdir"), mode=0o755)
    for i in range(opt.entries):
        fd = os.open(
            os.path.join(root, "bigdir", f"{(i * 7919) % opt.entries:06d}-entry.dat"),
            os.O_WRONLY | os.O_CREAT, 0o644,
        )
        os.close(fd)
    os.makedirs(os.path.join(root, "small"), mode=0o755)
    blob = os.urandom(4096)
    for i in range(opt.files):
        with open(os.path.join(root, "small", f"f{i:05d}"), "wb") as f:
            f.write(blob)
    up = os.path.join(root, "upload")
    os.makedirs(up, mode=0o755)
    os.chown(up, ftp.pw_uid, ftp.pw_gid)
    for dp, dns, fns in os.walk(root):
        for n in fns:
            os.chmod(os.path.join(dp, n), 0o644)
    return root


def server_conf(root, empty, pasv, extra=""):
    """The settings both servers get, word for word."""
    return (
        "listen=NO\n"
        "anonymous_enable=YES\n"
        f"anon_root={root}\n"
        "local_enable=NO\n"
        "write_enable=YES\n"
        "anon_upload_enable=YES\n"
        "anon_other_write_enable=YES\n"
        "anon_mkdir_write_enable=NO\n"
        "anon_umask=022\n"
        "anon_world_readable_only=YES\n"
        "ftp_username=ftp\n"
        "nopriv_user=nobody\n"
        "dirlist_enable=YES\n"
        "ascii_download_enable=YES\n"
        "pasv_enable=YES\n"
        f"pasv_min_port={pasv[0]}\n"
        f"pasv_max_port={pasv[1]}\n"
        "port_enable=YES\n"
        "connect_from_port_20=NO\n"
        "seccomp_sandbox=NO\n"
        f"secure_chroot_dir={empty}\n"
        "xferlog_enable=NO\n"
        "syslog_enable=NO\n"
        "use_sendfile=YES\n"
        "ftpd_banner=Bench.\n"
        "idle_session_timeout=300\n"
        "data_connection_timeout=300\n"
        "accept_timeout=60\n"
        "connect_timeout=60\n"
        + extra
    )


def get_vsftpd(workdir):
    if os.access("/usr/sbin/vsftpd", os.X_OK):
        return "/usr/sbin/vsftpd"
    log("vsftpd is not installed: apt-get download vsftpd, extracted into the scratch dir")
    d = os.path.join(workdir, "vsftpd-pkg")
    os.makedirs(d)
    subprocess.run(["apt-get", "download", "vsftpd"], cwd=d, check=True, timeout=300)
    deb = [n for n in os.listdir(d) if n.endswith(".deb")][0]
    subprocess.run(["dpkg", "-x", deb, "x"], cwd=d, check=True, timeout=120)
    return os.path.join(d, "x/usr/sbin/vsftpd")


# ----------------------------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------------------------


class Results:
    def __init__(self):
        self.m = {}  # (metric, system) -> [values]
        self.client = {}  # workload -> [client CPU share]
        self.meta = {}  # metric -> (unit, better)
        self.order = []

    def add(self, metric, system, value, unit, better):
        if metric not in self.meta:
            self.meta[metric] = (unit, better)
            self.order.append(metric)
        self.m.setdefault((metric, system), []).append(value)

    def share(self, workload, system, r):
        if r.get("secs"):
            self.client.setdefault(workload, []).append((system, r["cpu"] / r["secs"]))

    def get(self, metric, system):
        return self.m.get((metric, system), [])


def measure(x, fn):
    """Run fn() against xinetd x; the result and the server CPU it cost (sessions ended)."""
    x.wait_idle()
    c0, g0 = x.child_cpu(), x.cgroup_cpu()
    r = fn()
    x.wait_idle()
    c1, g1 = x.child_cpu(), x.cgroup_cpu()
    return r, c1 - c0, (g1 - g0 if g0 is not None else None)


class HwmSampler(threading.Thread):
    """Max VmHWM over the descendants of one xinetd, sampled every few ms."""

    def __init__(self, xpid):
        super().__init__(daemon=True)
        self.xpid = xpid
        self.stop_ev = threading.Event()
        self.peak = 0
        self.samples = 0

    def run(self):
        end = time.monotonic() + CLIENT_TIMEOUT
        while not self.stop_ev.is_set() and time.monotonic() < end:
            for pid in descendants(self.xpid):
                v = proc_status(pid, "VmHWM")
                if v and v > self.peak:
                    self.peak = v
            self.samples += 1
            time.sleep(0.003)


def idle_sessions(x, port, count):
    """Open count logged-in sessions, let them settle, sum PSS over xinetd's descendants."""
    conns = []
    try:
        for _ in range(count):
            c = Ctl(port, timeout=60)
            c.login()
            conns.append(c)
        # settled: the same set of processes twice, 0.3 s apart (bounded)
        prev, end = None, time.monotonic() + WAIT
        while time.monotonic() < end:
            time.sleep(0.3)
            cur = sorted(descendants(x.pid))
            if cur == prev:
                break
            prev = cur
        pids = descendants(x.pid)
        pss = sum(proc_pss_kb(p) for p in pids)
        return {"pss_mb": pss / 1024, "procs": len(pids)}
    finally:
        for c in conns:
            try:
                c.quit()
            except Exception:
                c.s.close()


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def span(vals):
    if not vals:
        return "-"
    return f"{fmt(statistics.median(vals))} [{fmt(min(vals))}-{fmt(max(vals))}]"


def ratios(a, b):
    return [x / y for x, y in zip(a, b) if y]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and 3 repetitions (well under a minute)")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--size-mib", type=int, help="RETR/STOR file size (default 1024)")
    ap.add_argument("--ascii-mib", type=int, help="ASCII RETR text size (default 100)")
    ap.add_argument("--entries", type=int, help="LIST directory entries (default 100000)")
    ap.add_argument("--files", type=int, help="4 KiB files in one session (default 2000)")
    ap.add_argument("--sessions", type=int, help="session-rate sessions (default 400)")
    ap.add_argument("--conc", type=int, default=4, help="session-rate clients (default 4)")
    ap.add_argument("--idle", type=int, help="idle logged-in sessions (default 100)")
    ap.add_argument("--rate-mb", type=float, help="anon_max_rate download, MB (default 50)")
    ap.add_argument("--max-rate", type=int, default=5_000_000,
                    help="anon_max_rate, bytes/s (default 5000000)")
    ap.add_argument("--rate-reps", type=int, help="repetitions of the throttled download")
    ap.add_argument("--only", default="retr,stor,sessions,list,many,idle,ascii,rate",
                    help="comma-separated subset of: retr,stor,sessions,list,many,idle,ascii,rate")
    ap.add_argument("--data-dir", help="where the served tree goes (default /dev/shm, tmpfs)")
    ap.add_argument("--rsftpd", default=os.path.join(REPO, "target/release/rsftpd"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch directories")
    opt = ap.parse_args(argv)
    q = opt.quick
    dflt = lambda v, full, quick: v if v is not None else (quick if q else full)  # noqa: E731
    opt.reps = dflt(opt.reps, 7, 3)
    opt.size_mib = dflt(opt.size_mib, 1024, 64)
    opt.ascii_mib = dflt(opt.ascii_mib, 100, 16)
    opt.entries = dflt(opt.entries, 100000, 10000)
    opt.files = dflt(opt.files, 2000, 200)
    opt.sessions = dflt(opt.sessions, 400, 100)
    opt.idle = dflt(opt.idle, 100, 20)
    opt.rate_mb = dflt(opt.rate_mb, 50, 10)
    opt.rate_reps = dflt(opt.rate_reps, min(opt.reps, 3), 1)
    only = set(opt.only.split(","))

    if os.geteuid() != 0:
        sys.exit("bench.py: run as root (xinetd, chroot, the ftp user's uploads)")
    for tool in ("xinetd", "gcc"):
        if not shutil.which(tool):
            sys.exit(f"bench.py: {tool} not found (apt-get install {tool})")
    if not os.access(opt.rsftpd, os.X_OK):
        sys.exit(f"bench.py: no {opt.rsftpd}: make build")
    pwd.getpwnam("ftp")

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t_start = time.monotonic()

    workdir = tempfile.mkdtemp(prefix="rsftpd-bench-", dir="/tmp")
    os.chmod(workdir, 0o755)
    if not opt.keep:
        CLEANUP.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    need = (2 * opt.size_mib + opt.ascii_mib + opt.rate_mb + 64) * MIB + opt.files * 8192 \
        + opt.entries * 1024
    base = opt.data_dir
    if base is None:
        st = os.statvfs("/dev/shm") if os.path.isdir("/dev/shm") else None
        base = "/dev/shm" if st and st.f_bavail * st.f_frsize > 2 * need else "/tmp"
    data = tempfile.mkdtemp(prefix="rsftpd-bench-data-", dir=base)
    os.chmod(data, 0o755)
    if not opt.keep:
        CLEANUP.append(lambda: shutil.rmtree(data, ignore_errors=True))

    vsftpd = get_vsftpd(workdir)
    # A private copy: the binary in target/ may be rebuilt while the benchmark runs, and
    # xinetd execs it anew for every connection.
    src_bin = os.path.abspath(opt.rsftpd)
    rsftpd = os.path.join(workdir, "rsftpd")
    shutil.copy2(src_bin, rsftpd)
    with open(rsftpd, "rb") as f:
        bin_sha = hashlib.sha256(f.read()).hexdigest()[:16]
    bin_time = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(src_bin).st_mtime))

    # ---- machine and versions ----
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    with open("/proc/meminfo") as f:
        mem = {ln.split(":")[0]: int(ln.split()[1]) for ln in f}
    fstype = "?"
    with open("/proc/mounts") as f:
        best = ""
        for ln in f:
            p = ln.split()
            if data.startswith(p[1].rstrip("/") + "/") and len(p[1]) >= len(best):
                best, fstype = p[1], p[2]
    # vsftpd -v writes to descriptor 0
    vv = subprocess.run(f"{vsftpd} -v 0>&1", shell=True, capture_output=True, text=True,
                        timeout=10).stdout.strip()
    rv = subprocess.run([rsftpd, "-v"], capture_output=True, text=True, timeout=10).stdout.strip()
    cv = subprocess.run(["curl", "-V"], capture_output=True, text=True, timeout=10).stdout
    print("== machine")
    print(f"nproc {os.cpu_count()}; {model}; kernel {platform.release()}; "
          f"MemTotal {mem['MemTotal'] // 1024} MiB, MemAvailable {mem['MemAvailable'] // 1024} MiB; "
          f"loadavg {open('/proc/loadavg').read().split()[:3]}")
    print(f"served tree on {fstype} ({data}); python {platform.python_version()}")
    print("== versions")
    print(f"{vv} ({vsftpd}); {rv} ({src_bin}, built {bin_time}, sha256 {bin_sha}, run "
          f"from a copy); {cv.splitlines()[0] if cv else 'curl: none'}")
    print("(clients: bench.py's raw-socket client, 1 MiB recv_into buffer; uploads by sendfile)")
    print(f"== parameters: reps {opt.reps}, file {opt.size_mib} MiB, ascii {opt.ascii_mib} MiB, "
          f"LIST {opt.entries} entries, {opt.files} x 4 KiB, {opt.sessions} sessions x "
          f"{opt.conc} clients, {opt.idle} idle, anon_max_rate {opt.max_rate} B/s over "
          f"{opt.rate_mb} MB x {opt.rate_reps}", flush=True)

    log("laying out the served tree ...")
    root = layout(data, opt)
    big = os.path.join(root, "big.bin")

    # ---- configurations and xinetd instances ----
    taken = set()
    systems = {}
    pasv_ranges = {"vsftpd": (21000, 22999), "rsftpd": (23000, 24999)}
    for name, binary in (("vsftpd", vsftpd), ("rsftpd", rsftpd)):
        empty = os.path.join(workdir, f"empty-{name}")
        os.mkdir(empty, 0o755)
        conf = os.path.join(workdir, f"{name}.conf")
        rconf = os.path.join(workdir, f"{name}-rate.conf")
        with open(conf, "w") as f:
            f.write(server_conf(root, empty, pasv_ranges[name]))
        with open(rconf, "w") as f:
            f.write(server_conf(root, empty, pasv_ranges[name],
                                f"anon_max_rate={opt.max_rate}\n"))
        os.chmod(conf, 0o644)
        os.chmod(rconf, 0o644)
        if name == "rsftpd":
            for c in (conf, rconf):
                t = subprocess.run([rsftpd, "-t", "-c", c], capture_output=True, text=True,
                                   timeout=10)
                if t.returncode != 0:
                    raise RuntimeError(f"rsftpd -t -c {c}: {t.stderr}")
        x = Xinetd(name, workdir)
        port = free_port(25000, taken)
        rport = free_port(25000, taken)
        x.service("main", port, binary, conf)
        x.service("rate", rport, binary, rconf)
        x.start()
        systems[name] = (x, port, rport)
    floor = None
    if "sessions" in only:
        fbin = os.path.join(workdir, "floor")
        subprocess.run(["gcc", "-O2", "-o", fbin, os.path.join(HERE, "floor.c")], check=True,
                       timeout=120)
        fx = Xinetd("floor", workdir)
        fport = free_port(25000, taken)
        fx.service("main", fport, fbin, "")
        fx.start()
        floor = (fx, fport)

    # warm-up: one session and a small download each (binaries and libraries cached)
    for name, (x, port, _) in systems.items():
        run_client("sessions", port=port, count=4, conc=1)
        run_client("retr", port=port, path="/small/f00000")
        x.wait_idle()
    log(f"setup done in {time.monotonic() - t_start:.0f} s")

    R = Results()
    order = ("vsftpd", "rsftpd")
    size_mb = opt.size_mib * MIB / 1e6

    def each(workload, fn):
        """fn(name, x, port, rport) -> dict of metric values, interleaved reps."""
        reps = opt.rate_reps if workload == "rate" else opt.reps
        for rep in range(reps):
            for name in order:
                x, port, rport = systems[name]
                r, cpu, gcpu = measure(x, lambda: fn(name, x, port, rport))
                r["_cpu"] = cpu  # cutime + cstime of xinetd: the reaped server trees
                # the cgroup's figure (ns resolution) where there is one
                r["_gcpu"] = gcpu
                r["_scpu"] = gcpu if gcpu is not None else cpu
                yield name, rep, r
        log(f"{workload}: done at {time.monotonic() - t_start:.0f} s")

    if "retr" in only:
        bare = Bare("sendfile", big, 3 * opt.reps + 2)
        for mode in ("passive", "active"):
            metric = f"RETR {opt.size_mib} MiB {mode}"
            for name, rep, r in each("retr", lambda n, x, p, rp: run_client(
                    "retr", port=p, path="/big.bin", mode=mode)):
                assert r["bytes"] == opt.size_mib * MIB, r
                R.add(metric + " (MB/s)", name, r["bytes"] / 1e6 / r["secs"], "MB/s", "higher")
                R.add(metric + " server CPU (s)", name, r["_scpu"], "s", "lower")
                R.share(metric, name, r)
                if mode == "passive" and name == order[-1]:
                    b = run_client("bare_recv", port=bare.port)
                    assert b["bytes"] == opt.size_mib * MIB, b
                    R.add(metric + " (MB/s)", "bare sendfile", b["bytes"] / 1e6 / b["secs"],
                          "MB/s", "higher")
                    R.share(metric, "bare sendfile", b)
        bare.stop()

    if "stor" in only:
        dest = os.path.join(root, "upload", "bare.bin")
        bare = Bare("splice", dest, opt.reps + 1)
        metric = f"STOR {opt.size_mib} MiB passive"
        for name, rep, r in each("stor", lambda n, x, p, rp: run_client(
                "stor", port=p, src=big, path=f"/upload/{n}.bin")):
            got = os.path.getsize(os.path.join(root, "upload", f"{name}.bin"))
            assert got == opt.size_mib * MIB, (name, got)
            os.unlink(os.path.join(root, "upload", f"{name}.bin"))
            R.add(metric + " (MB/s)", name, r["bytes"] / 1e6 / r["secs"], "MB/s", "higher")
            R.add(metric + " server CPU (s)", name, r["_scpu"], "s", "lower")
            R.share(metric, name, r)
            if name == order[-1]:
                b = run_client("bare_send", port=bare.port, src=big)
                os.unlink(dest)
                R.add(metric + " (MB/s)", "bare splice", b["bytes"] / 1e6 / b["secs"],
                      "MB/s", "higher")
                R.share(metric, "bare splice", b)
        bare.stop()

    if "sessions" in only:
        metric = f"sessions, {opt.conc} clients"
        for name, rep, r in each("sessions", lambda n, x, p, rp: run_client(
                "sessions", port=p, count=opt.sessions, conc=opt.conc)):
            R.add(metric + " (sessions/s)", name, r["sessions"] / r["secs"], "1/s", "higher")
            R.add(metric + " server CPU/session (ms)", name, 1000 * r["_cpu"] / r["sessions"],
                  "ms", "lower")
            if r["_gcpu"] is not None:
                R.add(metric + " CPU/session incl. xinetd, cgroup (ms)", name,
                      1000 * r["_scpu"] / r["sessions"], "ms", "lower")
            R.share(metric, name, r)
            if name == order[-1]:
                fx, fport = floor
                fr, fcpu, fg = measure(fx, lambda: run_client(
                    "sessions", port=fport, count=opt.sessions, conc=opt.conc))
                R.add(metric + " (sessions/s)", "C floor", fr["sessions"] / fr["secs"], "1/s",
                      "higher")
                R.add(metric + " server CPU/session (ms)", "C floor",
                      1000 * fcpu / fr["sessions"], "ms", "lower")
                if fg is not None:
                    R.add(metric + " CPU/session incl. xinetd, cgroup (ms)", "C floor",
                          1000 * fg / fr["sessions"], "ms", "lower")
                R.share(metric, "C floor", fr)

    if "list" in only:
        metric = f"LIST {opt.entries} entries"

        def lst(n, x, p, rp):
            s = HwmSampler(x.pid)
            s.start()
            try:
                r = run_client("retr", port=p, path="/bigdir", verb="LIST", type="A",
                               linger=0.05)
            finally:
                s.stop_ev.set()
                s.join(5)
            r["hwm"] = s.peak
            return r

        for name, rep, r in each("list", lst):
            R.add(metric + " time (s)", name, r["secs"], "s", "lower")
            R.add(metric + " peak RSS (MB)", name, r["hwm"] / 1024, "MB", "lower")
            R.add(metric + " server CPU (s)", name, r["_scpu"], "s", "lower")
            R.add(metric + " listing size (MB)", name, r["bytes"] / 1e6, "MB", "info")
            R.share(metric, name, r)

    if "many" in only:
        metric = f"{opt.files} x 4 KiB in one session"
        for name, rep, r in each("many", lambda n, x, p, rp: run_client(
                "many", port=p, dir="/small", count=opt.files)):
            assert r["bytes"] == opt.files * 4096, r
            R.add(metric + " time (s)", name, r["secs"], "s", "lower")
            R.add(metric + " server CPU (s)", name, r["_scpu"], "s", "lower")
            R.share(metric, name, r)

    if "idle" in only:
        metric = f"{opt.idle} idle logged-in sessions"
        for name, rep, r in each("idle", lambda n, x, p, rp: idle_sessions(x, p, opt.idle)):
            R.add(metric + " PSS (MB)", name, r["pss_mb"], "MB", "lower")
            R.add(metric + " processes", name, r["procs"], "", "info")

    if "ascii" in only:
        metric = f"ASCII RETR {opt.ascii_mib} MiB"
        for name, rep, r in each("ascii", lambda n, x, p, rp: run_client(
                "retr", port=p, path="/text.txt", type="A")):
            R.add(metric + " (MB/s)", name, opt.ascii_mib * MIB / 1e6 / r["secs"], "MB/s",
                  "higher")
            R.add(metric + " server CPU (s)", name, r["_scpu"], "s", "lower")
            R.share(metric, name, r)

    if "rate" in only:
        metric = f"anon_max_rate {opt.max_rate / 1e6:g} MB/s"
        for name, rep, r in each("rate", lambda n, x, p, rp: run_client(
                "retr", port=rp, path="/rate.bin")):
            achieved = r["bytes"] / r["secs"]
            R.add(metric + " achieved (MB/s)", name, achieved / 1e6, "MB/s", "info")
            R.add(metric + " error (%)", name, 100 * (achieved / opt.max_rate - 1), "%", "|x|<=5")
            R.share(metric, name, r)

    elapsed = time.monotonic() - t_start
    report(R, opt, elapsed)
    return 0


def report(R, opt, elapsed):
    V, S = "vsftpd", "rsftpd"
    print("\n== results (median [min-max] over the repetitions; ratio = rsftpd/vsftpd per "
          "repetition, median [min-max])")
    w = max(len(m) for m in R.order) if R.order else 10
    hdr = f"{'metric':<{w}}  {'better':<6}  {'vsftpd':<24}  {'rsftpd':<24}  " \
          f"{'ratio r/v':<22}  baseline"
    print(hdr)
    print("-" * len(hdr))
    for m in R.order:
        unit, better = R.meta[m]
        v, s = R.get(m, V), R.get(m, S)
        base = ""
        for b in ("bare sendfile", "bare splice", "C floor"):
            if R.get(m, b):
                base = f"{b} {span(R.get(m, b))}"
        rr = ratios(s, v) if better in ("higher", "lower", "info") else []
        print(f"{m:<{w}}  {better:<6}  {span(v):<24}  {span(s):<24}  {span(rr):<22}  {base}")

    print("\n== per-repetition ratios rsftpd/vsftpd")
    for m in R.order:
        rr = ratios(R.get(m, S), R.get(m, V))
        if rr and R.meta[m][1] in ("higher", "lower"):
            print(f"{m:<{w}}  " + " ".join(f"{r:.2f}" for r in rr))

    print("\n== targets (issue 5; ratios are medians of the per-repetition ratios)")

    def med(xs):
        return statistics.median(xs) if xs else None

    def check(label, value, op, limit):
        if value is None:
            print(f"{label:<64} n/a")
            return
        ok = value >= limit if op == ">=" else value <= limit
        print(f"{label:<64} {value:6.2f}  (target {op} {limit})  {'met' if ok else 'MISSED'}")

    def find(prefix, suffix):
        return next((m for m in R.order if m.startswith(prefix) and m.endswith(suffix)), None)

    for mode in ("passive", "active"):
        m = find(f"RETR {opt.size_mib} MiB {mode}", "(MB/s)")
        if m:
            check(f"RETR {mode}: rsftpd/vsftpd MB/s", med(ratios(R.get(m, S), R.get(m, V))),
                  ">=", 1.0)
            bm = find(f"RETR {opt.size_mib} MiB passive", "(MB/s)")
            if R.get(bm, "bare sendfile"):
                check(f"RETR {mode}: rsftpd/bare sendfile MB/s",
                      med(ratios(R.get(m, S), R.get(bm, "bare sendfile"))), ">=", 0.95)
    m = find("STOR", "(MB/s)")
    if m:
        check("STOR: rsftpd/vsftpd MB/s", med(ratios(R.get(m, S), R.get(m, V))), ">=", 1.8)
        print(f"{'  (context) bare splice/vsftpd MB/s':<64} "
              f"{med(ratios(R.get(m, 'bare splice'), R.get(m, V))) or 0:6.2f}")
    m = find("sessions", "(sessions/s)")
    if m:
        check("session rate: rsftpd/vsftpd sessions/s", med(ratios(R.get(m, S), R.get(m, V))),
              ">=", 1.5)
        mc = find("sessions", "CPU/session (ms)")
        check("session rate: rsftpd/vsftpd server CPU per session",
              med(ratios(R.get(mc, S), R.get(mc, V))), "<=", 0.6)
        print(f"{'  (floor) C responder/vsftpd sessions/s, CPU per session':<64} "
              f"{med(ratios(R.get(m, 'C floor'), R.get(m, V))) or 0:6.2f}  "
              f"{med(ratios(R.get(mc, 'C floor'), R.get(mc, V))) or 0:6.2f}")
    m = find("LIST", "time (s)")
    if m:
        check("LIST: rsftpd/vsftpd time", med(ratios(R.get(m, S), R.get(m, V))), "<=", 0.5)
        m = find("LIST", "peak RSS (MB)")
        check("LIST: rsftpd/vsftpd peak RSS", med(ratios(R.get(m, S), R.get(m, V))), "<=", 0.5)
    m = find(f"{opt.files} x 4 KiB", "time (s)")
    if m:
        check(f"{opt.files} x 4 KiB: rsftpd/vsftpd time", med(ratios(R.get(m, S), R.get(m, V))),
              "<=", 0.6)
    m = find(f"{opt.idle} idle", "PSS (MB)")
    if m:
        check(f"{opt.idle} idle sessions: rsftpd/vsftpd PSS",
              med(ratios(R.get(m, S), R.get(m, V))), "<=", 0.8)
    m = find("ASCII", "(MB/s)")
    if m:
        check("ASCII RETR: rsftpd/vsftpd MB/s", med(ratios(R.get(m, S), R.get(m, V))), ">=", 1.5)
    m = find("anon_max_rate", "error (%)")
    if m:
        for name in (S, V):
            errs = R.get(m, name)
            worst = max(errs, key=abs) if errs else None
            if worst is None:
                continue
            ok = abs(worst) <= 5
            label = f"anon_max_rate: {name} worst error % (target |error| <= 5)"
            print(f"{label:<64} {worst:+6.2f}  {'met' if ok else 'MISSED'}"
                  + ("" if name == S else "  (reference)"))

    print("\n== client CPU share (client CPU time / wall time of the timed region; "
          "> 0.80 of one core = client-bound)")
    for wl, shares in R.client.items():
        worst = max(s for _, s in shares)
        who = ", ".join(f"{n} {max(s for m, s in shares if m == n):.2f}"
                        for n in dict.fromkeys(n for n, _ in shares))
        flag = "CLIENT-BOUND: the numbers understate the server" if worst > 0.8 else "not client-bound"
        print(f"{wl:<{w}}  max {worst:.2f} ({who}): {flag}")
    print(f"\n== total time {elapsed:.0f} s")


def child_main(argv):
    if argv[0] == "_client":
        a = json.loads(argv[1])
        try:
            r = CLIENTS[a["op"]](a)
        except Exception as e:
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            return 1
        print(json.dumps(r))
        return 0
    if argv[0] == "_bare":
        {"sendfile": bare_sendfile, "splice": bare_splice}[argv[1]](argv[2], int(argv[3]), int(argv[4]))
        return 0
    return 2


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        sys.exit(child_main(sys.argv[1:]))
    try:
        rc = main(sys.argv[1:])
    except KeyboardInterrupt:
        rc = 130
    except Exception as e:
        import traceback

        traceback.print_exc()
        print(f"bench.py: failed: {e}", file=sys.stderr)
        rc = 1
    finally:
        cleanup()
    sys.exit(rc)
