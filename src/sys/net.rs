//! Sockets: the addresses of the control connection (IPv4-mapped IPv6 addresses turned
//! back into IPv4), socket options, the standalone listener (dual-stack for IPv6), passive
//! listeners in a port range, active connections (from port 20 when the monitor asks),
//! sendfile, and the one host-name lookup (pasv_addr_resolve, at startup).
//! The monitor uses `connect_from`; the launched process `lookup_host` and `listen_wide`;
//! sessions use the rest.

use super::{cvt, cvt_ssize, retry};
use std::io;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

fn from_storage(ss: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: &libc::sockaddr_in = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let s6: &libc::sockaddr_in6 =
                unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(s6.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(s6.sin6_port),
                s6.sin6_flowinfo,
                s6.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an internet socket",
        )),
    }
}

fn to_storage(a: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in.
            let sin: &mut libc::sockaddr_in =
                unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in6.
            let s6: &mut libc::sockaddr_in6 =
                unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            s6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s6.sin6_port = v6.port().to_be();
            s6.sin6_addr.s6_addr = v6.ip().octets();
            s6.sin6_flowinfo = v6.flowinfo();
            s6.sin6_scope_id = v6.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// The local and peer addresses of a connected socket (the control connection).
pub fn endpoints(fd: RawFd) -> io::Result<(SocketAddr, SocketAddr)> {
    // SAFETY: sockaddr_storage is plain data.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: ss and len are valid for getsockname to fill.
    cvt(unsafe { libc::getsockname(fd, &mut ss as *mut _ as *mut libc::sockaddr, &mut len) })?;
    let local = from_storage(&ss)?;
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: as above, for getpeername.
    cvt(unsafe { libc::getpeername(fd, &mut ss as *mut _ as *mut libc::sockaddr, &mut len) })?;
    let peer = from_storage(&ss)?;
    // SECURITY: an IPv4 client of an IPv6 socket (xinetd's flags = IPv6, listen_ipv6) is
    // a.b.c.d from here on, so the bounce check, the passive-connection check (data
    // connections arrive on IPv4 listeners) and max_per_ip see one address, not two.
    Ok((unmap(local), unmap(peer)))
}

/// An IPv4-mapped IPv6 address (::ffff:a.b.c.d, seen on dual-stack listeners) as plain IPv4;
/// any other address as it is (an IPv6 one keeps its scope id).
pub fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some() => {
            SocketAddr::new(a.ip().to_canonical(), a.port())
        }
        _ => a,
    }
}

/// The addresses a host name resolves to, through the system's resolver (getaddrinfo, via
/// std: /etc/hosts, DNS, whatever nsswitch.conf says), mapped IPv4 addresses unmapped.
/// Only for a name the administrator configured (pasv_address with pasv_addr_resolve=YES),
/// at startup, before any chroot: never for anything a client sent (DESIGN.md habit 7).
pub fn lookup_host(name: &str) -> io::Result<Vec<IpAddr>> {
    use std::net::ToSocketAddrs;
    Ok((name, 0u16)
        .to_socket_addrs()?
        .map(|a| unmap(a).ip())
        .collect())
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: val is a valid int and its size is passed.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &val as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Options for the control connection: keepalive, no Nagle delay on replies, and urgent
/// data inline so a Telnet Synch before ABOR arrives as ordinary bytes.
pub fn tune_control(fd: RawFd) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_OOBINLINE, 1)?;
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    Ok(())
}

/// True when fd is a socket (inetd mode requires the control connection on fd 0).
pub fn is_socket(fd: RawFd) -> bool {
    // SAFETY: stat is plain data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is valid for fstat to fill.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return false;
    }
    st.st_mode & libc::S_IFMT == libc::S_IFSOCK
}

/// A TCP socket bound to `local` with SO_REUSEADDR (a passive listener, or the source of an
/// active connection), not yet listening or connected. `dual_stack`: an IPv6 socket that
/// also takes IPv4 (IPV6_V6ONLY off, set before the bind, whatever net.ipv6.bindv6only
/// says); without it an IPv6 socket keeps the system default.
fn bound_socket(local: SocketAddr, dual_stack: bool) -> io::Result<OwnedFd> {
    let family = if local.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket takes plain integers.
    let fd = cvt(unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: the descriptor was just created and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if dual_stack && local.is_ipv6() {
        setsockopt_int(fd.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    }
    let (ss, len) = to_storage(&local);
    // SAFETY: ss holds a valid address of length len.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &ss as *const _ as *const libc::sockaddr,
            len,
        )
    })?;
    Ok(fd)
}

/// Listen on `local`'s address (its port is ignored; an IPv6 scope id is kept, so a
/// link-local control connection gets a listener on the same link) at a port from the
/// inclusive `range` (None: any port the kernel picks; see Config::pasv_port_range), trying
/// random ports from the range; SO_REUSEADDR so TIME_WAIT leftovers do not block a bind.
pub fn listen_in_range(
    local: SocketAddr,
    range: Option<(u16, u16)>,
    mut random: impl FnMut() -> u64,
) -> io::Result<TcpListener> {
    let attempts = if range.is_none() { 1 } else { 64 };
    let mut last = io::Error::new(
        io::ErrorKind::AddrInUse,
        "no free port in the passive range",
    );
    for _ in 0..attempts {
        let port = match range {
            None => 0,
            Some((lo, hi)) => lo + (random() % (u64::from(hi - lo) + 1)) as u16,
        };
        let mut at = local;
        at.set_port(port);
        match bound_socket(at, false) {
            Ok(fd) => {
                // SAFETY: listen takes plain integers.
                cvt(unsafe { libc::listen(fd.as_raw_fd(), 1) })?;
                return Ok(TcpListener::from(fd));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The standalone listener: bound to `addr` with SO_REUSEADDR, and the kernel's largest
/// accept queue (SOMAXCONN, capped by net.core.somaxconn) rather than std's 128, so a
/// burst of connections or a flood of half-open ones does not push real clients into SYN
/// cookies or drops. An IPv6 address is dual-stack (listen_ipv6): on `::` it also accepts
/// IPv4 clients, as ::ffff:a.b.c.d, which `endpoints` turns back into a.b.c.d.
pub fn listen_wide(addr: SocketAddr) -> io::Result<TcpListener> {
    let fd = bound_socket(addr, true)?;
    // SAFETY: listen takes plain integers.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), libc::SOMAXCONN) })?;
    Ok(TcpListener::from(fd))
}

/// Connect to `peer` from `local` (the monitor's port-20 socket), giving up after `timeout`.
pub fn connect_from(
    local: SocketAddr,
    peer: SocketAddr,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let fd = bound_socket(local, false)?;
    connect_fd(fd, peer, timeout)
}

fn connect_fd(fd: OwnedFd, peer: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let raw = fd.as_raw_fd();
    super::io::set_nonblocking(raw, true)?;
    let (ss, len) = to_storage(&peer);
    // SAFETY: ss holds a valid address of length len.
    let r = unsafe { libc::connect(raw, &ss as *const _ as *const libc::sockaddr, len) };
    if r == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        let mut pfd = libc::pollfd {
            fd: raw,
            events: libc::POLLOUT,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: pfd is one valid pollfd.
        let n = retry(|| cvt(unsafe { libc::poll(&mut pfd, 1, ms) }))?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
        }
        let mut err: libc::c_int = 0;
        let mut elen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: err and elen are valid for getsockopt to fill.
        cvt(unsafe {
            libc::getsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                &mut err as *mut _ as *mut libc::c_void,
                &mut elen,
            )
        })?;
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
    }
    super::io::set_nonblocking(raw, false)?;
    Ok(TcpStream::from(fd))
}

/// sendfile(2): copy up to `count` bytes from `file` at `*offset` to the socket `out`.
pub fn sendfile(out: RawFd, file: RawFd, offset: &mut i64, count: usize) -> io::Result<usize> {
    let mut off: libc::off_t = *offset as libc::off_t;
    // SAFETY: off is a valid off_t for the kernel to update.
    let n = retry(|| cvt_ssize(unsafe { libc::sendfile(out, file, &mut off, count) }))?;
    *offset = off as i64;
    Ok(n)
}

/// Shut down the write side of a socket, so the peer sees end-of-file (used before close on
/// data connections so the last bytes are not lost to a reset).
pub fn shutdown_write(fd: RawFd) {
    // SAFETY: shutdown takes plain integers.
    unsafe {
        libc::shutdown(fd, libc::SHUT_WR);
    }
}
