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

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One request under construction; the lengths are written once they are known.
struct Message(Vec<u8>);

impl Message {
    fn new(kind: u16, flags: u16, seq: u32, family_header: &[u8]) -> Message {
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

    // Lengths fit a u16: names are at most 15 bytes (IFNAMSIZ - 1) and addresses 4.
    fn attr(&mut self, kind: u16, payload: &[u8]) {
        self.0.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.0.resize(align(self.0.len()), 0);
    }

    /// IFLA_IFNAME, NUL-terminated as iproute2 sends it.
    fn name(&mut self, name: &str) {
        self.attr(libc::IFLA_IFNAME, &[name.as_bytes(), &[0]].concat());
    }

    fn nested(&mut self, kind: u16, fill: impl FnOnce(&mut Message)) {
        let start = self.0.len();
        self.attr(kind, &[]);
        fill(self);
        let len = (self.0.len() - start) as u16;
        self.0[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
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

/// The outcome of request `seq`, from one read of the socket: Ok for an ack with error 0, the
/// kernel's errno for a refusal, EPROTO when the buffer is malformed or holds no ack for `seq`
/// (messages for other sequence numbers are skipped).
pub fn parse_ack(reply: &[u8], seq: u32) -> Result<(), Errno> {
    let mut rest = reply;
    while rest.len() >= HEADER_LEN {
        let len = ne_u32(rest) as usize;
        if len < HEADER_LEN || len > rest.len() {
            break;
        }
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        if ne_u32(&rest[8..]) == seq && kind == libc::NLMSG_ERROR as u16 && len >= HEADER_LEN + 4 {
            return match ne_u32(&rest[HEADER_LEN..]) as i32 {
                0 => Ok(()),
                errno @ -4095..=-1 => Err(Errno(-errno)),
                _ => break,
            };
        }
        rest = &rest[align(len).min(rest.len())..];
    }
    Err(Errno(libc::EPROTO))
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

fn parse_ipv4(s: &str) -> Result<[u8; 4], String> {
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
/// link (0/8 means "this network", 127/8 is each host's own loopback, 224/4 multicast, 240/4
/// reserved and the broadcast address), so the kernel refuses the route through it, or worse, a
/// loopback subnet on eth0 hides the container's own 127.0.0.1.
const UNUSABLE_BLOCKS: [(u8, u8, &str); 3] = [
    (0, 0, "0.0.0.0/8 (this network)"),
    (127, 127, "127.0.0.0/8 (loopback)"),
    (224, 255, "224.0.0.0/3 (multicast and reserved)"),
];

/// Refuses a subnet (its address and prefix) that touches one of `UNUSABLE_BLOCKS`.
fn usable_subnet(addr: [u8; 4], prefix_len: u8, s: &str) -> Result<(), String> {
    let network = u32::from_be_bytes(addr) & mask(prefix_len);
    let (first, last) = ((network >> 24) as u8, ((network | !mask(prefix_len)) >> 24) as u8);
    match UNUSABLE_BLOCKS.iter().find(|&&(low, high, _)| first <= high && low <= last) {
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
mod tests {
    use super::*;

    /// The sequence number iproute2 (6.1) used in the captures below: its start time.
    const SEQ: u32 = 0x6b0b_7af4;

    // The expected messages are strace captures (`strace -e write=3 -e read=3`) of iproute2 in a
    // throwaway network namespace, on x86_64 (little-endian, like aarch64 Linux).

    #[test]
    fn veth_pair_matches_iproute2() {
        // ip link add ct-nltest0 type veth peer name ct-nltest1 netns /proc/PID/ns/net
        // (a path makes ip open the namespace and send IFLA_NET_NS_FD; it got fd 4).
        #[rustfmt::skip]
        let expected = [
            0x6c, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x0f, 0x00, 0x03, 0x00, b'c', b't', b'-', b'n', b'l', b't', b'e', b's', b't', b'0', 0x00, 0x00,
            0x3c, 0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x00, b'v', b'e', b't', b'h', 0x30, 0x00, 0x02, 0x00,
            0x2c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x03, 0x00,
            b'c', b't', b'-', b'n', b'l', b't', b'e', b's', b't', b'1', 0x00, 0x00,
        ];
        assert_eq!(new_veth(SEQ, "ct-nltest0", "ct-nltest1", 4), expected);
    }

    #[test]
    fn link_up_matches_iproute2() {
        // ip link set ct-nltest0 up (its index was 2).
        #[rustfmt::skip]
        let expected = [
            0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        ];
        assert_eq!(set_link_up(SEQ, 2), expected);
    }

    #[test]
    fn delete_by_name() {
        // `ip link del ct-nltest0` looks the index up first and sends RTM_DELLINK with ifi_index 2:
        //   20 00 00 00 11 00 05 00 f4 7a 0b 6b 00 00 00 00 | 00 00 00 00 02 00 00 00 00 ... 00
        // We send the same header and flags, ifi_index 0, and the name as in the other captures.
        #[rustfmt::skip]
        let expected = [
            0x30, 0x00, 0x00, 0x00, 0x11, 0x00, 0x05, 0x00, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x0f, 0x00, 0x03, 0x00, b'c', b't', b'-', b'n', b'l', b't', b'e', b's', b't', b'0', 0x00, 0x00,
        ];
        assert_eq!(delete_link(SEQ, "ct-nltest0"), expected);
    }

    #[test]
    fn address_matches_iproute2() {
        // ip -4 addr add 10.254.254.1/30 dev ct-nltest0
        #[rustfmt::skip]
        let expected = [
            0x28, 0x00, 0x00, 0x00, 0x14, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x02, 0x1e, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x02, 0x00, 0x0a, 0xfe, 0xfe, 0x01,
            0x08, 0x00, 0x01, 0x00, 0x0a, 0xfe, 0xfe, 0x01,
        ];
        assert_eq!(new_address_v4(SEQ, 2, [10, 254, 254, 1], 30), expected);
    }

    #[test]
    fn default_route_matches_iproute2() {
        // ip route add default via 10.254.254.2
        #[rustfmt::skip]
        let expected = [
            0x24, 0x00, 0x00, 0x00, 0x18, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x02, 0x00, 0x00, 0x00, 0xfe, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x05, 0x00,
            0x0a, 0xfe, 0xfe, 0x02,
        ];
        assert_eq!(new_default_route_v4(SEQ, [10, 254, 254, 2]), expected);
    }

    /// The kernel's ack of the RTM_NEWLINK above (NLM_F_CAPPED: only the request's header echoed).
    #[rustfmt::skip]
    const ACK: [u8; 36] = [
        0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0xf4, 0x7a, 0x0b, 0x6b, 0x1a, 0x7c, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x6c, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b,
        0x00, 0x00, 0x00, 0x00,
    ];

    /// The same request sent again: EEXIST (-17), with the whole request echoed.
    #[rustfmt::skip]
    const EEXIST: [u8; 128] = [
        0x80, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xf4, 0x7a, 0x0b, 0x6b, 0x1e, 0x7c, 0x00, 0x00,
        0xef, 0xff, 0xff, 0xff, 0x6c, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x03, 0x00, 0x63, 0x74, 0x2d, 0x6e, 0x6c, 0x74, 0x65, 0x73,
        0x74, 0x30, 0x00, 0x00, 0x3c, 0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x00, 0x76, 0x65, 0x74, 0x68,
        0x30, 0x00, 0x02, 0x00, 0x2c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1c, 0x00, 0x04, 0x00, 0x00, 0x00,
        0x0f, 0x00, 0x03, 0x00, 0x63, 0x74, 0x2d, 0x6e, 0x6c, 0x74, 0x65, 0x73, 0x74, 0x31, 0x00, 0x00,
    ];

    #[test]
    fn acks_and_refusals_from_the_kernel() {
        assert_eq!(parse_ack(&ACK, SEQ), Ok(()));
        assert_eq!(parse_ack(&EEXIST, SEQ), Err(Errno(libc::EEXIST)));
        // Another request's answer is not ours, but ours may follow it in the same read.
        assert_eq!(parse_ack(&ACK, SEQ + 1), Err(Errno(libc::EPROTO)));
        let mut both = ACK.to_vec();
        both[8] = 0xf3;
        both.extend_from_slice(&EEXIST);
        assert_eq!(parse_ack(&both, SEQ), Err(Errno(libc::EEXIST)));
        assert_eq!(parse_ack(&both, SEQ - 1), Ok(()));
    }

    #[test]
    fn malformed_replies_are_protocol_errors() {
        let eproto = Err(Errno(libc::EPROTO));
        assert_eq!(parse_ack(&[], SEQ), eproto);
        assert_eq!(parse_ack(&ACK[..20], SEQ), eproto, "shorter than its length says");
        let mut lying = ACK;
        lying[0] = 8;
        assert_eq!(parse_ack(&lying, SEQ), eproto, "a length below the header's");
        let mut no_error_field = ACK;
        no_error_field[0] = 16;
        assert_eq!(parse_ack(&no_error_field, SEQ), eproto);
        let mut not_an_ack = ACK;
        not_an_ack[4] = libc::RTM_NEWLINK as u8;
        assert_eq!(parse_ack(&not_an_ack, SEQ), eproto);
        let mut positive = ACK;
        positive[16] = 1;
        assert_eq!(parse_ack(&positive, SEQ), eproto);
    }

    #[test]
    fn the_pool_is_carved_into_slash_30s() {
        let pool = [10, 200, 0, 0];
        let first = VethAddrs { host: [10, 200, 0, 1], container: [10, 200, 0, 2], prefix_len: 30 };
        assert_eq!(subnet_for(0, pool, 16), Some(first));
        assert_eq!(subnet_for(1, pool, 16).unwrap().host, [10, 200, 0, 5]);
        assert_eq!(subnet_for(64, pool, 16).unwrap().container, [10, 200, 1, 2]);
        assert_eq!(subnet_for(16383, pool, 16).unwrap().container, [10, 200, 255, 254]);
        assert_eq!(subnet_for(16384, pool, 16), None);
        assert_eq!(subnet_for(0, [10, 9, 0, 4], 30).unwrap().host, [10, 9, 0, 5]);
        assert_eq!(subnet_for(1, [10, 9, 0, 4], 30), None);
        assert_eq!(subnet_for(0, pool, 31), None);
        assert_eq!(subnet_for(u32::MAX, [0; 4], 0), None);
    }

    #[test]
    fn pools_are_network_addresses() {
        assert_eq!(parse_cidr("10.200.0.0/16"), Ok(([10, 200, 0, 0], 16)));
        assert_eq!(parse_cidr("172.16.0.0/12"), Ok(([172, 16, 0, 0], 12)));
        let err = |s| parse_cidr(s).unwrap_err();
        assert_eq!(err("10.200.0.0"), r#""10.200.0.0" has no /PREFIX (10.200.0.0/16)"#);
        assert_eq!(err("10.200.0.1/16"), r#""10.200.0.1/16" has host bits set (the network is 10.200.0.0/16)"#);
        assert_eq!(err("10.256.0.0/16"), r#""256" in "10.256.0.0" is not a number from 0 to 255"#);
        assert_eq!(err("10.200.0/16"), r#""10.200.0" is not an IPv4 address (four numbers 0-255: 10.200.0.1)"#);
        assert_eq!(err("10.200.0.0/31"), r#"prefix "31" in "10.200.0.0/31" must be a number from 1 to 30"#);
        assert_eq!(
            err("127.0.0.0/30"),
            r#""127.0.0.0/30" reaches into 127.0.0.0/8 (loopback), which no interface can use"#
        );
        assert!(parse_cidr("224.0.0.0/30").is_err() && parse_cidr("0.0.0.0/1").is_err());
        for bad in ["10.200.0.0/0", "10.200.0.0/+8", "10.200.0.0/", "10.200.00.0/16", "10.200..0/16", "10.2x.0.0/16"] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn veth_specs_name_two_hosts_of_one_subnet() {
        let addrs = VethAddrs { host: [10, 9, 0, 1], container: [10, 9, 0, 2], prefix_len: 24 };
        assert_eq!(parse_veth_spec("10.9.0.1/24,10.9.0.2"), Ok(addrs));
        let err = |s| parse_veth_spec(s).unwrap_err();
        assert_eq!(err("10.9.0.1/24"), r#""10.9.0.1/24" is not HOST/PREFIX,CONTAINER (10.9.0.1/24,10.9.0.2)"#);
        assert_eq!(err("10.9.0.1/24,10.9.1.2"), "10.9.1.2 is not in 10.9.0.0/24, the host's subnet");
        assert_eq!(err("10.9.0.1/24,10.9.0.1"), "the host and the container cannot both be 10.9.0.1");
        assert_eq!(err("10.9.0.0/24,10.9.0.2"), "10.9.0.0 is the network or broadcast address of 10.9.0.0/24");
        assert_eq!(err("10.9.0.1/30,10.9.0.3"), "10.9.0.3 is the network or broadcast address of 10.9.0.0/30");
        let (this, loopback, multicast) =
            ("0.0.0.0/8 (this network)", "127.0.0.0/8 (loopback)", "224.0.0.0/3 (multicast and reserved)");
        for (spec, block) in [
            ("127.0.0.1/8,127.0.0.2", loopback),
            ("10.9.0.1/1,10.9.0.2", this),
            ("64.0.0.1/2,64.0.0.2", loopback),
            ("224.0.0.1/24,224.0.0.2", multicast),
            ("240.0.0.1/30,240.0.0.2", multicast),
            ("0.0.0.1/30,0.0.0.2", this),
        ] {
            let host = spec.split(',').next().unwrap();
            assert_eq!(err(spec), format!("{host:?} reaches into {block}, which no interface can use"));
        }
        assert!(parse_veth_spec("128.0.0.1/2,128.0.0.2").is_ok(), "a large unicast subnet is the user's choice");
        assert!(parse_veth_spec("10.9.0.1,10.9.0.2").is_err());
        assert!(parse_veth_spec("10.9.0.1/24,10.9.0.2/24").is_err());
    }
}
