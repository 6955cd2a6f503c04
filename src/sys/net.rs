//! Network: interface flags and indexes through ioctls, and rtnetlink and nf_tables requests (see
//! net/mod.rs, netlink.rs, firewall.rs and nftables.rs for what is sent).

use super::{check, check_retry, Errno, Fd};

/// `struct ifreq`: an interface name and a 24-byte union, of which SIOCGIFFLAGS/SIOCSIFFLAGS use
/// a short (`ifr_flags`) and SIOCGIFINDEX an int (`ifr_ifindex`), both at its start.
#[repr(C)]
struct Ifreq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}

impl Ifreq {
    fn named(name: &str) -> Result<Ifreq, Errno> {
        if name.len() >= libc::IFNAMSIZ {
            return Err(Errno(libc::ENAMETOOLONG));
        }
        let mut req = Ifreq { name: [0; libc::IFNAMSIZ], data: [0; 24] };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        Ok(req)
    }

    /// ioctl(2) on an interface, through `sock` (any socket will do: see `throwaway_socket`).
    fn ioctl(&mut self, sock: &Fd, request: libc::c_ulong) -> Result<(), Errno> {
        // SAFETY: `self` is a properly sized ifreq the kernel reads and (for the GET requests) writes.
        check(unsafe { syscall!(IOCTL, sock.0, request, self as *mut Ifreq) }).map(drop)
    }
}

/// socket(2) AF_INET, SOCK_DGRAM: a socket for interface ioctls, closed once they are made.
fn throwaway_socket() -> Result<Fd, Errno> {
    // SAFETY: no pointers involved.
    Ok(Fd(check(unsafe { syscall!(SOCKET, libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })? as i32))
}

/// ioctl(2) SIOCGIFFLAGS/SIOCSIFFLAGS: brings an interface up. A new network namespace starts with
/// `lo` down, and plenty of programs expect 127.0.0.1 to work; a veth end starts down too.
pub fn interface_up(name: &str) -> Result<(), Errno> {
    let (mut req, sock) = (Ifreq::named(name)?, throwaway_socket()?);
    req.ioctl(&sock, libc::SIOCGIFFLAGS)?;
    let flags = i16::from_ne_bytes([req.data[0], req.data[1]]) | libc::IFF_UP as i16;
    req.data[..2].copy_from_slice(&flags.to_ne_bytes());
    req.ioctl(&sock, libc::SIOCSIFFLAGS)
}

/// ioctl(2) SIOCGIFINDEX: the index rtnetlink messages name an interface by.
pub fn interface_index(name: &str) -> Result<i32, Errno> {
    let mut req = Ifreq::named(name)?;
    req.ioctl(&throwaway_socket()?, libc::SIOCGIFINDEX)?;
    Ok(i32::from_ne_bytes([req.data[0], req.data[1], req.data[2], req.data[3]]))
}

/// socket(2) AF_NETLINK, NETLINK_ROUTE: the kernel's routing interface, which `ip` uses to make
/// veth pairs, addresses and routes (a minimal VM has no `ip`).
pub fn netlink_socket() -> Result<Fd, Errno> {
    // SAFETY: no pointers involved.
    let fd =
        check(unsafe { syscall!(SOCKET, libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) })?;
    Ok(Fd(fd as i32))
}

/// socket(2) AF_NETLINK, NETLINK_NETFILTER: nf_tables' interface, which `nft` uses, for
/// `--net veth`'s NAT and isolation (a minimal VM has no `nft`).
pub fn netfilter_socket() -> Result<Fd, Errno> {
    // SAFETY: no pointers involved.
    let fd = check(unsafe {
        syscall!(SOCKET, libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_NETFILTER)
    })?;
    Ok(Fd(fd as i32))
}

/// socket(2) AF_INET and bind(2) to `address:port`, for `--publish` to hold a host port (as
/// docker-proxy and conmon do): without SO_REUSEADDR, so no other socket can bind it while this one
/// lives, and one bound before makes this bind fail with EADDRINUSE. Never listened on.
pub fn bind_port(udp: bool, address: [u8; 4], port: u16) -> Result<Fd, Errno> {
    let kind = if udp { libc::SOCK_DGRAM } else { libc::SOCK_STREAM };
    // SAFETY: no pointers involved.
    let socket = Fd(check(unsafe { syscall!(SOCKET, libc::AF_INET, kind | libc::SOCK_CLOEXEC, 0) })? as i32);
    let at = socket_address(address, port);
    let size = std::mem::size_of::<libc::sockaddr_in>();
    // SAFETY: the kernel reads one sockaddr_in of `size` bytes, alive across the call.
    check(unsafe { syscall!(BIND, socket.0, &at as *const libc::sockaddr_in, size) })?;
    Ok(socket)
}

/// socket(2) AF_INET, SOCK_DGRAM, connect(2) to `address` and getsockname(2): the source address
/// the host would send from to `address`, which is `address` itself when the host has it (a local
/// route's source is its address). For `--net veth`, whose pair must not take an address the host
/// has already (another container's host end). A datagram socket's connect sends nothing.
pub fn route_source(address: [u8; 4]) -> Result<[u8; 4], Errno> {
    // SAFETY: no pointers involved.
    let socket =
        Fd(check(unsafe { syscall!(SOCKET, libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })? as i32);
    // Any port but 0 (the discard service's): only the route matters.
    let mut at = socket_address(address, 9);
    let mut size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: the kernel reads one sockaddr_in of `size` bytes, alive across the call.
    check(unsafe { syscall!(CONNECT, socket.0, &at as *const libc::sockaddr_in, size) })?;
    // SAFETY: the kernel writes at most `size` bytes into `at` and the new length into `size`,
    // both alive across the call.
    check(unsafe {
        syscall!(GETSOCKNAME, socket.0, &mut at as *mut libc::sockaddr_in, &mut size as *mut libc::socklen_t)
    })?;
    Ok(at.sin_addr.s_addr.to_ne_bytes())
}

/// `address:port` as the kernel reads it.
fn socket_address(address: [u8; 4], port: u16) -> libc::sockaddr_in {
    // SAFETY: an all-zero sockaddr_in is a valid value (family 0, port 0, 0.0.0.0).
    let mut at: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    at.sin_family = libc::AF_INET as libc::sa_family_t;
    at.sin_port = port.to_be();
    at.sin_addr.s_addr = u32::from_ne_bytes(address);
    at
}

/// sendto(2) of netlink messages to the kernel (nl_pid 0).
fn send_to_kernel(socket: &Fd, messages: &[u8]) -> Result<(), Errno> {
    // SAFETY: an all-zero sockaddr_nl is valid: nl_pid 0 is the kernel.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    let size = std::mem::size_of::<libc::sockaddr_nl>();
    // SAFETY: the kernel reads `messages.len()` bytes and one sockaddr_nl, both alive across the call.
    check_retry(|| unsafe {
        syscall!(SENDTO, socket.0, messages.as_ptr(), messages.len(), 0, &kernel as *const libc::sockaddr_nl, size)
    })
    .map(drop)
}

/// recvfrom(2) of what the kernel has sent: one read of up to 32 KiB (`flags`: MSG_DONTWAIT, or 0
/// to wait).
fn receive(socket: &Fd, flags: i32) -> Result<Vec<u8>, Errno> {
    let mut reply = vec![0u8; 32 << 10];
    // SAFETY: the kernel writes at most `reply.len()` bytes into `reply`; no address is wanted.
    let n = check_retry(|| unsafe { syscall!(RECVFROM, socket.0, reply.as_mut_ptr(), reply.len(), flags, 0, 0) })?;
    reply.truncate(n);
    Ok(reply)
}

/// sendto(2) of one rtnetlink request to the kernel, then recvfrom(2) of its reply (for a request
/// with NLM_F_ACK: an NLMSG_ERROR message, whose error 0 means success).
pub fn netlink_request(socket: &Fd, request: &[u8]) -> Result<Vec<u8>, Errno> {
    send_to_kernel(socket, request)?;
    receive(socket, 0)
}

/// sendto(2) of an nf_tables batch, then recvfrom(2) MSG_DONTWAIT of whatever the kernel answered:
/// it applies a batch inside the send, and answers only what it refused (nft reads the same way),
/// so nothing to read means every message was taken.
pub fn netlink_batch(socket: &Fd, batch: &[u8]) -> Result<Vec<u8>, Errno> {
    send_to_kernel(socket, batch)?;
    let mut replies = Vec::new();
    loop {
        match receive(socket, libc::MSG_DONTWAIT) {
            Ok(more) if !more.is_empty() => replies.extend(more),
            Ok(_) | Err(Errno(libc::EAGAIN)) => return Ok(replies),
            Err(errno) => return Err(errno),
        }
    }
}

/// sendto(2) of a dump request, then recvfrom(2) until `ended` says the reply is whole (a dump
/// comes in several reads, and ends with NLMSG_DONE).
pub fn netlink_dump(socket: &Fd, request: &[u8], ended: impl Fn(&[u8]) -> bool) -> Result<Vec<u8>, Errno> {
    send_to_kernel(socket, request)?;
    let mut replies = Vec::new();
    loop {
        let more = receive(socket, 0)?;
        let last = ended(&more) || more.is_empty();
        replies.extend(more);
        if last {
            return Ok(replies);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_matches_the_kernel_size() {
        assert_eq!(std::mem::size_of::<Ifreq>(), 40);
    }

    #[test]
    fn an_address_of_the_hosts_is_its_own_source() {
        assert_eq!(route_source([127, 0, 0, 1]), Ok([127, 0, 0, 1]));
        assert_ne!(route_source([192, 0, 2, 1]), Ok([192, 0, 2, 1]), "a documentation address is nobody's");
    }

    #[test]
    fn loopback_has_an_index() {
        assert_eq!(interface_index("lo"), Ok(1));
        assert_eq!(interface_index("no-such-if0"), Err(Errno(libc::ENODEV)));
    }
}
