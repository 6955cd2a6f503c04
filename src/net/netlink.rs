//! rtnetlink requests built byte by byte, and their replies parsed, so a veth pair can be set up
//! without iproute2 (a minimal host has no `ip`); plus the IPv4 arithmetic that picks the
//! addresses. Everything here is pure: `sys::netlink_request` does the I/O.
//!
//! The wire format, every integer in the host's byte order:
//!
//! ```text
//! nlmsghdr    u32 length (of the whole message) | u16 type | u16 flags | u32 seq | u32 port id
//! family      a fixed struct chosen by the type: ifinfomsg (links, 16 bytes), ifaddrmsg
//!             (addresses, 8), rtmsg (routes, 12)
//! attributes  u16 length (header + payload, padding excluded) | u16 type | payload, each one
//!             padded with zeros to a multiple of 4 bytes
//! ```
//!
//! An attribute nests by carrying more attributes as its payload; its length then covers them,
//! their padding included. VETH_INFO_PEER is the odd one: its payload is a whole ifinfomsg and the
//! peer's own attributes, because the peer is a second link described inside the first.
//!
//! A request with NLM_F_ACK is answered by an NLMSG_ERROR message: an i32 (0 for success, else a
//! negative errno) and then a copy of the request's header (and, on failure, of its body), under
//! the request's sequence number. One read may return several messages, each 4-byte aligned.

use std::net::Ipv4Addr;

use crate::sys::Errno;

/// <linux/veth.h>, which libc does not cover.
const VETH_INFO_PEER: u16 = 1;
/// sizeof(struct nlmsghdr).
const HEADER_LEN: usize = 16;

/// Create, and fail with EEXIST rather than silently modify what is already there.
const CREATE: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
const CHANGE: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;

pub(super) fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One request under construction; the lengths are written once they are known. (nftables.rs
/// builds its messages with it too: the header and the attributes are netlink's.)
pub(super) struct Message(pub(super) Vec<u8>);

impl Message {
    pub(super) fn new(kind: u16, flags: u16, seq: u32, family_header: &[u8]) -> Message {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        // The port id of the sender; 0 lets the kernel fill in the socket's own.
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(family_header);
        Message(buf)
    }

    // Lengths fit a u16: the largest message built here or in nftables.rs, a rule, is 472 bytes
    // (nftables.rs's unit tests keep every message under 500).
    pub(super) fn attr(&mut self, kind: u16, payload: &[u8]) {
        self.0.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.0.resize(align(self.0.len()), 0);
    }

    /// IFLA_IFNAME, NUL-terminated as iproute2 sends it.
    fn name(&mut self, name: &str) {
        self.attr(libc::IFLA_IFNAME, &[name.as_bytes(), &[0]].concat());
    }

    pub(super) fn nested(&mut self, kind: u16, fill: impl FnOnce(&mut Message)) {
        let start = self.0.len();
        self.attr(kind, &[]);
        fill(self);
        let len = (self.0.len() - start) as u16;
        self.0[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

/// struct ifinfomsg: AF_UNSPEC (a link has no address family) and ARPHRD 0 (the kernel decides).
fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

/// RTM_NEWLINK for a veth pair: `host_name` here, `peer_name` created directly in the network
/// namespace open at `peer_netns_fd` (so it never appears on the host, even briefly). The kernel
/// answers ERANGE for a name over 15 bytes, EEXIST when either name is taken in its namespace, and
/// EINVAL when the descriptor is not a network namespace.
pub fn new_veth(seq: u32, host_name: &str, peer_name: &str, peer_netns_fd: i32) -> Vec<u8> {
    let mut m = Message::new(libc::RTM_NEWLINK, CREATE, seq, &ifinfomsg(0, 0, 0));
    m.name(host_name);
    m.nested(libc::IFLA_LINKINFO, |m| {
        // No NUL: the kernel compares the kind by length (and iproute2 sends none).
        m.attr(libc::IFLA_INFO_KIND, b"veth");
        m.nested(libc::IFLA_INFO_DATA, |m| {
            m.nested(VETH_INFO_PEER, |m| {
                m.0.extend_from_slice(&ifinfomsg(0, 0, 0));
                m.attr(libc::IFLA_NET_NS_FD, &(peer_netns_fd as u32).to_ne_bytes());
                m.name(peer_name);
            })
        })
    });
    m.finish()
}

/// RTM_NEWLINK on an existing link: ifi_change says which bits of ifi_flags to apply, so only
/// IFF_UP changes.
pub fn set_link_up(seq: u32, ifindex: i32) -> Vec<u8> {
    let up = libc::IFF_UP as u32;
    Message::new(libc::RTM_NEWLINK, CHANGE, seq, &ifinfomsg(ifindex, up, up)).finish()
}

/// RTM_DELLINK by name, so cleanup needs no index lookup. Deleting either end of a veth pair
/// deletes both.
pub fn delete_link(seq: u32, name: &str) -> Vec<u8> {
    let mut m = Message::new(libc::RTM_DELLINK, CHANGE, seq, &ifinfomsg(0, 0, 0));
    m.name(name);
    m.finish()
}

/// RTM_NEWADDR: `addr/prefix_len` on the link. The kernel adds the subnet's route with it.
pub fn new_address_v4(seq: u32, ifindex: i32, addr: [u8; 4], prefix_len: u8) -> Vec<u8> {
    // struct ifaddrmsg: family, prefix length, flags, scope, index.
    let mut ifaddrmsg = [libc::AF_INET as u8, prefix_len, 0, libc::RT_SCOPE_UNIVERSE, 0, 0, 0, 0];
    ifaddrmsg[4..].copy_from_slice(&(ifindex as u32).to_ne_bytes());
    let mut m = Message::new(libc::RTM_NEWADDR, CREATE, seq, &ifaddrmsg);
    // On a point-to-point link LOCAL is ours and ADDRESS the far end; on a broadcast link such as
    // veth both are ours, and iproute2 sends both.
    m.attr(libc::IFA_LOCAL, &addr);
    m.attr(libc::IFA_ADDRESS, &addr);
    m.finish()
}

/// RTM_NEWROUTE: the default route via `gateway`. The kernel picks the device from the gateway,
/// which must already be on a connected subnet of a link that is up (ENETUNREACH otherwise): add
/// the address, then bring the link up, then the route.
pub fn new_default_route_v4(seq: u32, gateway: [u8; 4]) -> Vec<u8> {
    // struct rtmsg: family, dst_len 0 (the default route), src_len, tos, table, protocol, scope,
    // type, then u32 flags.
    let mut rtmsg = [0u8; 12];
    rtmsg[..8].copy_from_slice(&[
        libc::AF_INET as u8,
        0,
        0,
        0,
        libc::RT_TABLE_MAIN,
        libc::RTPROT_BOOT,
        libc::RT_SCOPE_UNIVERSE,
        libc::RTN_UNICAST,
    ]);
    let mut m = Message::new(libc::RTM_NEWROUTE, CREATE, seq, &rtmsg);
    m.attr(libc::RTA_GATEWAY, &gateway);
    m.finish()
}

fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// One message of what the kernel sent: its type, its sequence number, and what follows its
/// header.
pub(super) struct Header<'a> {
    pub kind: u16,
    pub seq: u32,
    pub body: &'a [u8],
}

/// The messages of a buffer the kernel sent, in order (each 4-byte aligned); where a length does
/// not fit the buffer, one EPROTO and no more.
pub(super) fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Header<'_>, Errno>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = rest.get(..4).map_or(0, ne_u32) as usize;
        if len < HEADER_LEN || len > rest.len() {
            rest = &[];
            return Some(Err(Errno(libc::EPROTO)));
        }
        let header = Header {
            kind: u16::from_ne_bytes([rest[4], rest[5]]),
            seq: ne_u32(&rest[8..]),
            body: &rest[HEADER_LEN..len],
        };
        rest = &rest[align(len).min(rest.len())..];
        Some(Ok(header))
    })
}

/// The errno of an NLMSG_ERROR message's body (0 for an ack); None when it holds no errno.
pub(super) fn error_of(body: &[u8]) -> Option<i32> {
    match body.get(..4).map(|b| ne_u32(b) as i32) {
        Some(0) => Some(0),
        Some(errno @ -4095..=-1) => Some(-errno),
        _ => None,
    }
}

/// The outcome of request `seq`, from one read of the socket: Ok for an ack with error 0, the
/// kernel's errno for a refusal, EPROTO when the buffer is malformed or holds no ack for `seq`
/// (messages for other sequence numbers are skipped).
pub fn parse_ack(reply: &[u8], seq: u32) -> Result<(), Errno> {
    let ack = messages(reply)
        .map_while(Result::ok)
        .find(|message| message.seq == seq && message.kind == libc::NLMSG_ERROR as u16)
        .and_then(|message| error_of(message.body));
    match ack {
        Some(0) => Ok(()),
        Some(errno) => Err(Errno(errno)),
        None => Err(Errno(libc::EPROTO)),
    }
}

/// A veth link's IPv4 addressing: both ends share one subnet of `prefix_len` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VethAddrs {
    pub host: [u8; 4],
    pub container: [u8; 4],
    pub prefix_len: u8,
}

fn mask(prefix_len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0)
}

/// The `index`-th /30 of the pool `base/base_prefix`: .1 for the host, .2 for the container (.0
/// and .3 are the network and broadcast addresses). None past the end of the pool.
pub fn subnet_for(index: u32, base: [u8; 4], base_prefix: u8) -> Option<VethAddrs> {
    let count = 1u32.checked_shl(30u32.checked_sub(base_prefix.into())?)?;
    if index >= count {
        return None;
    }
    let network = (u32::from_be_bytes(base) & mask(base_prefix)) + index * 4;
    Some(VethAddrs { host: (network + 1).to_be_bytes(), container: (network + 2).to_be_bytes(), prefix_len: 30 })
}

pub(super) fn parse_ipv4(s: &str) -> Result<[u8; 4], String> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return Err(format!("{s:?} is not an IPv4 address (four numbers 0-255: 10.200.0.1)"));
    }
    let mut addr = [0u8; 4];
    for (octet, part) in addr.iter_mut().zip(parts) {
        // Digits only: u8's parser would also take "+1", and "010" reads as octal to some tools.
        let valid = !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit());
        *octet = match part.parse() {
            Ok(n) if valid && (part == "0" || !part.starts_with('0')) => n,
            _ => return Err(format!("{part:?} in {s:?} is not a number from 0 to 255")),
        };
    }
    Ok(addr)
}

/// `ADDRESS/PREFIX` with the prefix between 1 and 30: a subnet needs room for its network and
/// broadcast addresses and two hosts.
fn parse_prefixed(s: &str) -> Result<([u8; 4], u8), String> {
    let (addr, prefix) = s.split_once('/').ok_or_else(|| format!("{s:?} has no /PREFIX (10.200.0.0/16)"))?;
    let addr = parse_ipv4(addr)?;
    match prefix.parse::<u8>() {
        Ok(n @ 1..=30) if prefix.bytes().all(|b| b.is_ascii_digit()) => Ok((addr, n)),
        _ => Err(format!("prefix {prefix:?} in {s:?} must be a number from 1 to 30")),
    }
}

/// The blocks of IPv4 no veth end can use (RFC 6890): an address there is never a host on a
/// routed link (0/8 means "this network", 127/8 is each host's own loopback, 169.254/16 is
/// link-local, where clouds serve an instance's metadata and credentials, 224/4 multicast, 240/4
/// reserved and the broadcast address), so the kernel refuses the route through it, or worse: a
/// loopback subnet on eth0 hides the container's own 127.0.0.1, and a subnet over 169.254.169.254
/// on the host end sends the host's own metadata requests to the container.
const UNUSABLE_BLOCKS: [([u8; 4], u8, &str); 4] = [
    ([0, 0, 0, 0], 8, "0.0.0.0/8 (this network)"),
    ([127, 0, 0, 0], 8, "127.0.0.0/8 (loopback)"),
    ([169, 254, 0, 0], 16, "169.254.0.0/16 (link-local, where clouds serve instance metadata)"),
    ([224, 0, 0, 0], 3, "224.0.0.0/3 (multicast and reserved)"),
];

/// Refuses a subnet (its address and prefix) that touches one of `UNUSABLE_BLOCKS`: two blocks
/// overlap when they agree on the bits of the shorter prefix.
fn usable_subnet(addr: [u8; 4], prefix_len: u8, s: &str) -> Result<(), String> {
    let touches = |&&(block, block_len, _): &&([u8; 4], u8, &str)| {
        let shorter = mask(prefix_len.min(block_len));
        u32::from_be_bytes(addr) & shorter == u32::from_be_bytes(block) & shorter
    };
    match UNUSABLE_BLOCKS.iter().find(touches) {
        Some((_, _, block)) => Err(format!("{s:?} reaches into {block}, which no interface can use")),
        None => Ok(()),
    }
}

/// The address pool veth subnets are carved from, as `NETWORK/PREFIX` (10.200.0.0/16: 16384 /30s).
pub fn parse_cidr(s: &str) -> Result<([u8; 4], u8), String> {
    let (addr, prefix_len) = parse_prefixed(s)?;
    let network = u32::from_be_bytes(addr) & mask(prefix_len);
    if network != u32::from_be_bytes(addr) {
        return Err(format!("{s:?} has host bits set (the network is {}/{prefix_len})", Ipv4Addr::from(network)));
    }
    usable_subnet(addr, prefix_len, s)?;
    Ok((addr, prefix_len))
}

/// The part of `--net veth:HOST/PREFIX,CONTAINER` after `veth:`: two distinct host addresses of
/// one subnet (10.9.0.1/24,10.9.0.2).
pub fn parse_veth_spec(s: &str) -> Result<VethAddrs, String> {
    let (host, container) =
        s.split_once(',').ok_or_else(|| format!("{s:?} is not HOST/PREFIX,CONTAINER (10.9.0.1/24,10.9.0.2)"))?;
    let (host_spec, (host, prefix_len)) = (host, parse_prefixed(host)?);
    usable_subnet(host, prefix_len, host_spec)?;
    let container = parse_ipv4(container)?;
    let m = mask(prefix_len);
    let (h, c) = (u32::from_be_bytes(host), u32::from_be_bytes(container));
    let subnet = format!("{}/{prefix_len}", Ipv4Addr::from(h & m));
    if h & m != c & m {
        return Err(format!("{} is not in {subnet}, the host's subnet", Ipv4Addr::from(c)));
    }
    if h == c {
        return Err(format!("the host and the container cannot both be {}", Ipv4Addr::from(h)));
    }
    for a in [h, c] {
        if a & !m == 0 || a & !m == !m {
            return Err(format!("{} is the network or broadcast address of {subnet}", Ipv4Addr::from(a)));
        }
    }
    Ok(VethAddrs { host, container, prefix_len })
}

#[cfg(test)]
#[path = "netlink_tests.rs"]
mod tests;
