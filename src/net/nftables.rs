//! nf_tables requests built byte by byte, for `--net veth`'s NAT and isolation (`firewall.rs`
//! decides what to send and sends it), so that a minimal host needs no `nft`, `iptables` or
//! libnftnl. Everything here is pure. Each message is checked in the unit tests against the bytes
//! `nft` 1.0.6 sends for the same rules (`tests/fixtures/nft/`).
//!
//! contain's rules live in one table of its own, `inet contain`, and never change: they look up
//! three named sets and two maps, and a container adds and removes only its own elements of those:
//!
//! ```text
//! set nat      { type ifname . ipv4_addr }  host end, container address: masqueraded on the way out
//! set isolated { type ifname }              host ends of the containers that reach no other
//! set ends     { type ifname . ipv4_addr }  host end, its address: the one host address such a container reaches
//! map published    { type inet_proto . inet_service : ipv4_addr . inet_service }
//! map published_at { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
//!     `--publish`: a host port (on every address of the host's, or on one) to a container's
//!     address and port; each element's comment names its host end, for `gc`
//!
//! chain postrouting { type nat hook postrouting priority srcnat; policy accept;
//!     meta nfproto ipv4 iifname . ip saddr @nat oifname != "ct-*" masquerade
//!     meta nfproto ipv4 oifname "ct-*" ct status dnat ip saddr 127.0.0.0/8 masquerade
//!     meta nfproto ipv4 oifname "ct-*" ct status dnat iifname "ct-*" masquerade }
//! chain forward { type filter hook forward priority filter; policy accept;
//!     oifname "ct-*" ct status dnat accept
//!     oifname @isolated ct state established,related accept
//!     iifname @isolated meta nfproto ipv6 drop
//!     iifname @isolated oifname "ct-*" drop
//!     iifname @isolated meta nfproto ipv4 ip daddr 169.254.0.0/16 drop
//!     iifname @isolated meta nfproto ipv4 ip daddr 168.63.129.16 th dport != 53 drop
//!     iifname @isolated meta nfproto ipv4 ip daddr 100.100.100.200 drop
//!     iifname @isolated accept
//!     oifname @isolated drop }
//! chain input { type filter hook input priority filter; policy accept;
//!     iifname "ct-*" ct direction reply ct status dnat accept
//!     iifname "ct-*" meta nfproto ipv4 ip daddr 127.0.0.0/8 drop
//!     iifname @isolated meta nfproto ipv4 iifname . ip daddr @ends accept
//!     iifname @isolated drop }
//! chain prerouting { type nat hook prerouting priority dstnat; policy accept;
//!     meta nfproto ipv4 fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @published_at
//!     meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @published }
//! chain output { type nat hook output priority -100; policy accept;
//!     (prerouting's two rules: the host's own connections to a published port) }
//! chain sources { type filter hook prerouting priority mangle; policy accept;
//!     meta nfproto ipv4 iifname "ct-*" fib saddr . iif oif missing drop }
//! ```
//!
//! Every rule also carries a comment, `RULES_MARK`: with the chains' rule counts, how a start
//! tells that the rules are whole and its own, and need not be sent again (`rules_in`).
//!
//! A published port's connection is turned to the container in prerouting (from outside, or from
//! a container) or output (from the host itself), and let through the walls as DNAT'd. Two cases
//! are masqueraded as the host end, because the container could not answer the source it came
//! with: one from the host's 127.0.0.1 (the host end also routes loopback sources,
//! `route_localnet`, which the input rule keeps containers from abusing to reach the host's
//! loopback services), and one from a container, itself included (the hairpin).
//!
//! Every drop matches a contain container's interface only: every base chain of every table sees
//! every packet, and a drop anywhere is final, so a drop of ours must never catch the host's own
//! traffic. (An accept of ours, in turn, cannot undo another table's drop.)
//!
//! The wire format is netlink's (see netlink.rs), with a 4-byte `nfgenmsg` (family, version 0, and
//! a big-endian resource id) after each header, and every integer attribute big-endian. Changes go
//! in a batch: `NFNL_MSG_BATCH_BEGIN`, the messages, `NFNL_MSG_BATCH_END`, applied all or nothing.
//! What `nft` hides, and these builders spell out:
//! - a rule is a list of expressions over registers: `ip saddr @nat` is a `payload` load of 4 bytes
//!   at offset 12 of the network header into a register, then a `lookup` of that register in the
//!   set; in an `inet` table it needs `meta nfproto ipv4` before it, or it would read an IPv6
//!   header's bytes as an IPv4 address;
//! - `"ct-*"` is no pattern: it is a `cmp` of the interface name's first three bytes;
//! - a concatenation (`iifname . ip saddr`) loads its parts into consecutive registers, and the
//!   lookup reads them as one key: the name, zero-padded to 16 bytes, then the address. Parts of 4
//!   bytes or less take 4-byte registers (`tcp . 8080` is `06 00 00 00 1f 90 00 00`); a map's
//!   lookup writes its value into registers the same way, for `dnat` to read address and port;
//! - `fib daddr type local` is what makes a DNAT rule leave alone the traffic that only passes
//!   through the host;
//! - `fib saddr . iif oif missing` is the strict reverse-path filter (`rp_filter=1`) as a rule: the
//!   host end's own sysctl is not enough, as the kernel applies the larger of it and
//!   `net.ipv4.conf.all.rp_filter`, which some distributions set to 2 (loose: any source the host
//!   routes anywhere, another container's address among them).

use super::netlink::{self, Message};
use super::ports::Publish;
use crate::sys::Errno;

/// NFNL_SUBSYS_NFTABLES: the high byte of every message type here.
const SUBSYS: u16 = 10;
const BATCH_BEGIN: u16 = 0x10;
const BATCH_END: u16 = 0x11;
// enum nf_tables_msg_types.
const NEWTABLE: u16 = 0;
const GETTABLE: u16 = 1;
const NEWCHAIN: u16 = 3;
const GETCHAIN: u16 = 4;
const NEWRULE: u16 = 6;
const GETRULE: u16 = 7;
const DELRULE: u16 = 8;
const NEWSET: u16 = 9;
const NEWSETELEM: u16 = 12;
const GETSETELEM: u16 = 13;
const DELSETELEM: u16 = 14;

const REQUEST: u16 = libc::NLM_F_REQUEST as u16;
/// Made when missing, left as it is when present (no NLM_F_EXCL): every contain sends the same.
const CREATE: u16 = REQUEST | libc::NLM_F_CREATE as u16;
const APPEND: u16 = CREATE | libc::NLM_F_APPEND as u16;
const DUMP: u16 = REQUEST | libc::NLM_F_DUMP as u16;
const ACK: u16 = REQUEST | libc::NLM_F_ACK as u16;
const NESTED: u16 = libc::NLA_F_NESTED as u16;

/// NFPROTO_*: the family of a table (`inet` holds IPv4 and IPv6 alike).
const UNSPEC: u8 = 0;
pub const IPV4: u8 = 2;
const IPV6: u8 = 10;
pub const INET: u8 = 1;

/// contain's table.
pub const TABLE: &str = "contain";
/// The comment every rule of contain's carries: a hash (FNV-1a) of the whole ruleset as this
/// contain makes it, table, sets, chains and rules, this comment left out. A start that finds it
/// on the rule of `sources`, and as many rules in each chain as it makes, knows the ruleset is
/// whole and its own (not flushed, not an older contain's) and sends only its elements
/// (`rules_in`). The unit test recomputes it: a change to the rules changes it, and `nft list`
/// shows it.
const RULES_MARK: &str = "contain ruleset 759def77afe5553a";
/// The interfaces of contain's containers on the host: `ct-ID` (net/mod.rs).
const HOST_END_PREFIX: &[u8] = b"ct-";
/// IFNAMSIZ: an interface name in a register or a set key, zero-padded.
const IFNAME_LEN: usize = 16;

/// One of the sets and maps, in the order the ruleset makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    Nat,
    Isolated,
    Ends,
    Published,
    PublishedAt,
}

impl Set {
    pub const ALL: [Set; 5] = [Set::Nat, Set::Isolated, Set::Ends, Set::Published, Set::PublishedAt];

    pub fn name(self) -> &'static str {
        match self {
            Set::Nat => "nat",
            Set::Isolated => "isolated",
            Set::Ends => "ends",
            Set::Published => "published",
            Set::PublishedAt => "published_at",
        }
    }

    /// The set's id within the batch that makes it (a rule in the same batch names it by this).
    fn id(self) -> u32 {
        self as u32 + 1
    }

    /// The key's type (nft's datatypes: ifname 41, ipv4_addr 7, a concatenation of both
    /// `41 << 6 | 7`), its length, and nft's user data for it (the key's byte order and parts),
    /// sent as nft sends them so that `nft list` prints the elements as it would its own.
    /// (More types: inet_proto 12, inet_service 13.)
    fn key(self) -> (u32, u32, &'static [u8]) {
        const IFNAME_ADDRESS: &[u8] = &[0, 4, 0, 0, 0, 0, 3, 8, 0, 4, 13, 0, 0, 0, 1, 0];
        const PORT_MAP: &[u8] = &[
            0, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 3, 8, 0, 4, 13, 0, 0, 0, 1, 0, 4, 8, 0, 4, 13, 0, 0, 0, 1, 0, 6, 4, 0,
            0, 0, 0,
        ];
        match self {
            Set::Nat | Set::Ends => (41 << 6 | 7, IFNAME_LEN as u32 + 4, IFNAME_ADDRESS),
            Set::Isolated => (41, IFNAME_LEN as u32, &[0, 4, 1, 0, 0, 0]),
            Set::Published => (12 << 6 | 13, 8, PORT_MAP),
            Set::PublishedAt => (7 << 12 | 12 << 6 | 13, 12, PORT_MAP),
        }
    }

    /// A map's value type and length: an address and a port (`ipv4_addr . inet_service`).
    fn data(self) -> Option<(u32, u32)> {
        matches!(self, Set::Published | Set::PublishedAt).then_some((7 << 6 | 13, 8))
    }
}

/// A set or map element of one container: a set's holds its host end's name in its key (and for
/// `nat` and `ends` an address); a map's maps its key to `data`, and names its host end in
/// `comment` (nft's user data, which `nft list` shows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub set: Set,
    pub key: Vec<u8>,
    pub data: Vec<u8>,
    pub comment: String,
}

impl Element {
    pub fn new(set: Set, interface: &str, address: Option<[u8; 4]>) -> Element {
        let mut key = interface_bytes(interface).to_vec();
        if let Some(address) = address {
            key.extend_from_slice(&address);
        }
        Element { set, key, data: Vec::new(), comment: String::new() }
    }

    /// `publish`'s element, leading to `container`'s port: `[HOSTIP .] PROTOCOL . HOSTPORT :
    /// CONTAINERIP . CONTAINERPORT`, each part padded to 4 bytes, ports big-endian.
    pub fn published(interface: &str, publish: &Publish, container: [u8; 4]) -> Element {
        let port = |port: u16| [port.to_be_bytes(), [0, 0]].concat();
        let mut key = publish.host_ip.map_or(Vec::new(), Vec::from);
        key.extend_from_slice(&[publish.protocol.number(), 0, 0, 0]);
        key.extend(port(publish.host_port));
        Element {
            set: if publish.host_ip.is_some() { Set::PublishedAt } else { Set::Published },
            key,
            data: [container.to_vec(), port(publish.container_port)].concat(),
            comment: interface.to_string(),
        }
    }

    /// Whether two published ports' elements need the same host port: the same protocol and port
    /// (a key's last 8 bytes), on the same address or one of them on every address.
    pub fn same_host_port(&self, other: &Element) -> bool {
        fn split(key: &[u8]) -> (&[u8], &[u8]) {
            key.split_at(key.len().saturating_sub(8))
        }
        let ((address, port), (other_address, other_port)) = (split(&self.key), split(&other.key));
        port == other_port && (address.is_empty() || other_address.is_empty() || address == other_address)
    }

    /// The host end the element belongs to: a map's comment, or the start of a set's key.
    pub fn interface(&self) -> String {
        if self.set.data().is_some() {
            return self.comment.clone();
        }
        let name = &self.key[..IFNAME_LEN.min(self.key.len())];
        String::from_utf8_lossy(name.split(|&b| b == 0).next().unwrap_or_default()).into_owned()
    }
}

fn interface_bytes(name: &str) -> [u8; IFNAME_LEN] {
    let mut bytes = [0u8; IFNAME_LEN];
    let name = &name.as_bytes()[..name.len().min(IFNAME_LEN - 1)];
    bytes[..name.len()].copy_from_slice(name);
    bytes
}

/// struct nfgenmsg.
fn nfgenmsg(family: u8, resource: u16) -> [u8; 4] {
    let [high, low] = resource.to_be_bytes();
    [family, 0, high, low]
}

/// A batch of changes, applied by the kernel all or nothing.
pub struct Batch {
    bytes: Vec<u8>,
    seq: u32,
}

impl Batch {
    pub fn new(seq: u32) -> Batch {
        let mut batch = Batch { bytes: Vec::with_capacity(4096), seq };
        batch.control(BATCH_BEGIN);
        batch
    }

    fn control(&mut self, kind: u16) {
        self.bytes.extend(Message::new(kind, REQUEST, self.seq, &nfgenmsg(UNSPEC, SUBSYS)).finish());
        self.seq += 1;
    }

    fn push(&mut self, kind: u16, flags: u16, fill: impl FnOnce(&mut Message)) {
        let mut message = Message::new(SUBSYS << 8 | kind, flags, self.seq, &nfgenmsg(INET, 0));
        fill(&mut message);
        self.bytes.extend(message.finish());
        self.seq += 1;
    }

    /// The batch's bytes, and the first sequence number after it.
    pub fn finish(mut self) -> (Vec<u8>, u32) {
        self.control(BATCH_END);
        (self.bytes, self.seq)
    }

    /// The table, its sets and chains, each chain emptied and given its rules: the same whoever
    /// sends it, however often (a chain is flushed and filled in the one batch).
    pub fn ruleset(mut self) -> Batch {
        self.push(NEWTABLE, REQUEST, |m| {
            text(m, 1, TABLE);
            be32(m, 2, 0);
        });
        for set in Set::ALL {
            let (key_type, key_len, user_data) = set.key();
            self.push(NEWSET, CREATE, |m| {
                text(m, 1, TABLE);
                text(m, 2, set.name());
                be32(m, 3, if set.data().is_some() { SET_MAP } else { 0 });
                be32(m, 4, key_type);
                be32(m, 5, key_len);
                if let Some((data_type, data_len)) = set.data() {
                    be32(m, 6, data_type);
                    be32(m, 7, data_len);
                }
                be32(m, 10, set.id());
                m.attr(13, user_data);
            });
        }
        for chain in CHAINS {
            self.push(NEWCHAIN, CREATE, |m| {
                text(m, 1, TABLE);
                text(m, 3, chain.name);
                text(m, 7, chain.kind);
                be32(m, 5, ACCEPT);
                m.nested(4 | NESTED, |m| {
                    be32(m, 1, chain.hook);
                    be32(m, 2, chain.priority as u32);
                });
            });
        }
        for chain in CHAINS {
            self.push(DELRULE, REQUEST, |m| {
                text(m, 1, TABLE);
                text(m, 2, chain.name);
            });
        }
        for (chain, rule) in rules() {
            self.push(NEWRULE, APPEND, |m| {
                text(m, 1, TABLE);
                text(m, 2, chain);
                m.nested(4 | NESTED, |m| rule.iter().for_each(|expr| expr.encode(m)));
                m.attr(7, &comment(RULES_MARK));
            });
        }
        self
    }

    /// Adds (`add`) or deletes elements. A delete of an element that is not there fails the batch
    /// with ENOENT, as an add to a set that is not there does.
    pub fn elements(mut self, add: bool, elements: &[Element]) -> Batch {
        for element in elements {
            let (kind, flags) = if add { (NEWSETELEM, CREATE) } else { (DELSETELEM, REQUEST) };
            self.push(kind, flags, |m| {
                text(m, 1, TABLE);
                text(m, 2, element.set.name());
                if add {
                    be32(m, 4, element.set.id());
                }
                m.nested(3 | NESTED, |m| {
                    m.nested(1 | NESTED, |m| {
                        m.nested(1 | NESTED, |m| m.attr(1, &element.key));
                        if add && !element.data.is_empty() {
                            m.nested(2 | NESTED, |m| m.attr(1, &element.data));
                            m.attr(6, &comment(&element.comment));
                        }
                    });
                });
            });
        }
        self
    }
}

/// nft's user data for a comment (NFTNL_UDATA_RULE_COMMENT, _SET_ELEM_COMMENT): type 0, length,
/// NUL-terminated text.
fn comment(text: &str) -> Vec<u8> {
    let text = [text.as_bytes(), &[0]].concat();
    [&[0, text.len() as u8], &text[..]].concat()
}

/// A NUL-terminated string attribute.
fn text(m: &mut Message, kind: u16, value: &str) {
    m.attr(kind, &[value.as_bytes(), &[0]].concat());
}

fn be32(m: &mut Message, kind: u16, value: u32) {
    m.attr(kind, &value.to_be_bytes());
}

/// NFT_SET_MAP: a set whose elements map their key to a value.
const SET_MAP: u32 = 8;

/// NF_ACCEPT and NF_DROP, as verdicts and chain policies.
const ACCEPT: u32 = 1;
const DROP: u32 = 0;

/// A base chain: where it hooks in (NF_INET_*), and at which priority.
struct Chain {
    name: &'static str,
    kind: &'static str,
    hook: u32,
    priority: i32,
}

/// NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_FORWARD, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING.
const HOOK_PREROUTING: u32 = 0;
const HOOK_INPUT: u32 = 1;
pub const HOOK_FORWARD: u32 = 2;
const HOOK_OUTPUT: u32 = 3;
const HOOK_POSTROUTING: u32 = 4;

const CHAINS: [Chain; 6] = [
    // srcnat (NF_IP_PRI_NAT_SRC).
    Chain { name: "postrouting", kind: "nat", hook: HOOK_POSTROUTING, priority: 100 },
    Chain { name: "forward", kind: "filter", hook: HOOK_FORWARD, priority: 0 },
    Chain { name: "input", kind: "filter", hook: HOOK_INPUT, priority: 0 },
    // dstnat (NF_IP_PRI_NAT_DST), for both.
    Chain { name: "prerouting", kind: "nat", hook: HOOK_PREROUTING, priority: -100 },
    Chain { name: "output", kind: "nat", hook: HOOK_OUTPUT, priority: -100 },
    // Before conntrack's NAT (mangle, NF_IP_PRI_MANGLE): where `fib ... oif` may look on every
    // kernel (5.10 takes it in prerouting only; 6.1 in input and forward too).
    Chain { name: "sources", kind: "filter", hook: HOOK_PREROUTING, priority: -150 },
];

/// One expression of a rule. Registers: 0 is the verdict; 1 and 2 are nft's 16-byte ones (a
/// concatenation's second part goes in 2 after a 16-byte name); 9 and 10 are 4-byte ones, the
/// second and third quarters of 1 (NFT_REG32_01, _02), for parts of 4 bytes or less.
#[derive(Clone, Copy)]
enum Expr {
    /// NFT_META_* into a register.
    Meta {
        key: u32,
        register: u32,
    },
    /// Register 1 compared with `data`: NFT_CMP_EQ (0) or NFT_CMP_NEQ (1).
    Cmp(u32, &'static [u8]),
    /// `len` bytes at `offset` of a header (NFT_PAYLOAD_NETWORK_HEADER or _TRANSPORT_HEADER) into
    /// a register.
    Payload {
        base: u32,
        register: u32,
        offset: u32,
        len: u32,
    },
    /// Register 1 (and on, for a concatenation) looked up in the set: no match ends the rule. A
    /// map's value is loaded into register 1 (and on).
    Lookup(Set),
    /// The connection's NFT_CT_* field into register 1: its state bits, or its status bits.
    Ct(u32),
    /// Register 1 = register 1 & `mask` (4 bytes).
    And([u8; 4]),
    /// `fib daddr type`: the route type (RTN_*) of the destination address into register 1.
    FibDaddrType,
    /// `fib saddr . iif oif missing`: whether the route back to the source leaves through the
    /// interface the packet came in on, into register 1 (zero when it does not).
    FibSaddrThroughIif,
    /// `dnat ip to`: the address in register 1, the port in register 9.
    Dnat,
    Masquerade,
    Verdict(u32),
}

const META_IIFNAME: u32 = 6;
const META_OIFNAME: u32 = 7;
const META_NFPROTO: u32 = 15;
const META_L4PROTO: u32 = 16;
const CT_STATE: u32 = 0;
const CT_DIRECTION: u32 = 1;
const CT_STATUS: u32 = 2;
const EQ: u32 = 0;
const NEQ: u32 = 1;
const NETWORK_HEADER: u32 = 1;
const TRANSPORT_HEADER: u32 = 2;
const REG_1: u32 = 1;
const REG_2: u32 = 2;
const REG32_01: u32 = 9;
const REG32_02: u32 = 10;
/// RTN_LOCAL, as `fib` writes it: the host's own address.
const LOCAL_ROUTE: [u8; 4] = (libc::RTN_LOCAL as u32).to_ne_bytes();

impl Expr {
    fn encode(&self, m: &mut Message) {
        let name = match self {
            Expr::Meta { .. } => "meta",
            Expr::Cmp(..) => "cmp",
            Expr::Payload { .. } => "payload",
            Expr::Lookup(_) => "lookup",
            Expr::Ct(_) => "ct",
            Expr::And(_) => "bitwise",
            Expr::FibDaddrType | Expr::FibSaddrThroughIif => "fib",
            Expr::Dnat => "nat",
            Expr::Masquerade => "masq",
            Expr::Verdict(_) => "immediate",
        };
        m.nested(1 | NESTED, |m| {
            text(m, 1, name);
            m.nested(2 | NESTED, |m| self.encode_data(m));
        });
    }

    /// The expression's attributes, in the order nft sends them.
    fn encode_data(&self, m: &mut Message) {
        let value = |m: &mut Message, kind: u16, bytes: &[u8]| m.nested(kind | NESTED, |m| m.attr(1, bytes));
        match self {
            Expr::Meta { key, register } => {
                be32(m, 2, *key);
                be32(m, 1, *register);
            }
            Expr::Cmp(op, data) => {
                be32(m, 1, REG_1);
                be32(m, 2, *op);
                value(m, 3, data);
            }
            Expr::Payload { base, register, offset, len } => {
                be32(m, 1, *register);
                be32(m, 2, *base);
                be32(m, 3, *offset);
                be32(m, 4, *len);
            }
            Expr::Lookup(set) => {
                be32(m, 2, REG_1);
                if set.data().is_some() {
                    be32(m, 3, REG_1);
                }
                text(m, 1, set.name());
                be32(m, 4, set.id());
            }
            Expr::Ct(key) => {
                be32(m, 2, *key);
                be32(m, 1, REG_1);
            }
            Expr::And(mask) => {
                be32(m, 1, REG_1);
                be32(m, 2, REG_1);
                be32(m, 3, 4);
                value(m, 4, mask);
                value(m, 5, &[0; 4]);
            }
            Expr::FibDaddrType => {
                // NFTA_FIB_F_DADDR; NFT_FIB_RESULT_ADDRTYPE.
                be32(m, 3, 2);
                be32(m, 2, 3);
                be32(m, 1, REG_1);
            }
            Expr::FibSaddrThroughIif => {
                // NFTA_FIB_F_SADDR | NFTA_FIB_F_IIF | NFTA_FIB_F_PRESENT; NFT_FIB_RESULT_OIF.
                be32(m, 3, 0x1 | 0x8 | 0x20);
                be32(m, 2, 1);
                be32(m, 1, REG_1);
            }
            Expr::Dnat => {
                // NFT_NAT_DNAT, NFPROTO_IPV4, then the registers of the address and the port.
                be32(m, 1, 1);
                be32(m, 2, u32::from(IPV4));
                be32(m, 3, REG_1);
                be32(m, 5, REG32_01);
            }
            Expr::Masquerade => {}
            Expr::Verdict(code) => {
                be32(m, 1, 0);
                m.nested(2 | NESTED, |m| m.nested(2 | NESTED, |m| be32(m, 1, *code)));
            }
        }
    }
}

/// `meta KEY`, into register 1.
fn meta(key: u32) -> Expr {
    Expr::Meta { key, register: REG_1 }
}

/// `len` bytes at `offset` of the IPv4 header, into `register`.
fn ip(register: u32, offset: u32, len: u32) -> Expr {
    Expr::Payload { base: NETWORK_HEADER, register, offset, len }
}

/// `meta nfproto ipv4`.
fn ipv4_only() -> [Expr; 2] {
    [meta(META_NFPROTO), Expr::Cmp(EQ, &[IPV4])]
}

/// `iifname @isolated` or `oifname @isolated`.
fn isolated(meta_key: u32) -> [Expr; 2] {
    [meta(meta_key), Expr::Lookup(Set::Isolated)]
}

/// `iifname "ct-*"` or `oifname "ct-*"`: any contain container's host end.
fn host_end(meta_key: u32) -> [Expr; 2] {
    [meta(meta_key), Expr::Cmp(EQ, HOST_END_PREFIX)]
}

/// `ct state established,related` (ip_conntrack_info bits 2 and 4), or `ct status dnat`
/// (IPS_DST_NAT): the connection's `field` has one of the bits of `mask`.
fn ct_has(field: u32, mask: u32) -> [Expr; 3] {
    [Expr::Ct(field), Expr::And(mask.to_ne_bytes()), Expr::Cmp(NEQ, &[0; 4])]
}

/// `iifname . ip saddr @nat` (offset 12) or `iifname . ip daddr @ends` (16).
fn interface_and_address(meta_key: u32, offset: u32, set: Set) -> [Expr; 3] {
    [meta(meta_key), ip(REG_2, offset, 4), Expr::Lookup(set)]
}

/// The rules, chain by chain, in the order of the table at the top of this file.
fn rules() -> Vec<(&'static str, Vec<Expr>)> {
    let mut rules: Vec<(&str, Vec<Expr>)> = Vec::new();
    rules.extend(postrouting_rules().into_iter().map(|rule| ("postrouting", rule)));
    rules.extend(forward_rules().into_iter().map(|rule| ("forward", rule)));
    rules.extend(input_rules().into_iter().map(|rule| ("input", rule)));
    for chain in ["prerouting", "output"] {
        rules.extend(published_rules().into_iter().map(|rule| (chain, rule)));
    }
    rules.push(("sources", forged_source_rule()));
    rules
}

/// `meta nfproto ipv4 iifname "ct-*" fib saddr . iif oif missing drop`: a packet from a container
/// whose source the host would not route back to it (another container's address, or one made
/// up: it has CAP_NET_RAW), whatever `rp_filter` the host's `all` setting makes loose.
fn forged_source_rule() -> Vec<Expr> {
    use Expr::*;
    rule(&[&ipv4_only(), &host_end(META_IIFNAME), &[FibSaddrThroughIif, Cmp(EQ, &[0; 4]), Verdict(DROP)]])
}

/// Cloud metadata services off 169.254.0.0/16 (see `forward_rules`), and DNS's port.
const AZURE_WIRESERVER: [u8; 4] = [168, 63, 129, 16];
const ALIBABA_METADATA: [u8; 4] = [100, 100, 100, 200];
const DNS_PORT: [u8; 2] = 53u16.to_be_bytes();

/// `ct direction reply`: the packet goes the way of the connection's answers.
const IP_CT_DIR_REPLY: u8 = 1;

/// IPS_DST_NAT: the connection was DNAT'd, by a published port.
const DNAT_DONE: u32 = 0x20;

/// A rule: its parts' expressions, in order (one concatenation for every rule, rather than an
/// iterator type per rule).
fn rule(parts: &[&[Expr]]) -> Vec<Expr> {
    parts.concat()
}

fn postrouting_rules() -> Vec<Vec<Expr>> {
    use Expr::*;
    let to_container = [ipv4_only(), host_end(META_OIFNAME)].concat();
    let dnat_done = ct_has(CT_STATUS, DNAT_DONE);
    vec![
        rule(&[
            &ipv4_only(),
            &interface_and_address(META_IIFNAME, 12, Set::Nat),
            &[meta(META_OIFNAME), Cmp(NEQ, HOST_END_PREFIX), Masquerade],
        ]),
        // From the host's 127.0.0.0/8, which the container cannot answer.
        rule(&[&to_container, &dnat_done, &[ip(REG_1, 12, 1), Cmp(EQ, &[127]), Masquerade]]),
        // From a container (the hairpin): it would answer its own address itself.
        rule(&[&to_container, &dnat_done, &host_end(META_IIFNAME), &[Masquerade]]),
    ]
}

fn forward_rules() -> Vec<Vec<Expr>> {
    use Expr::*;
    vec![
        // A published port's connections, through the walls below.
        rule(&[&host_end(META_OIFNAME), &ct_has(CT_STATUS, DNAT_DONE), &[Verdict(ACCEPT)]]),
        rule(&[&isolated(META_OIFNAME), &ct_has(CT_STATE, 6), &[Verdict(ACCEPT)]]),
        // The pair carries IPv4 only: IPv6 a container makes up itself (it has CAP_NET_RAW) is not
        // let out, on a host that forwards IPv6.
        rule(&[&isolated(META_IIFNAME), &[meta(META_NFPROTO), Cmp(EQ, &[IPV6]), Verdict(DROP)]]),
        rule(&[&isolated(META_IIFNAME), &host_end(META_OIFNAME), &[Verdict(DROP)]]),
        // 169.254.0.0/16: link-local, where clouds answer with the instance's secrets.
        rule(&[&isolated(META_IIFNAME), &ipv4_only(), &[ip(REG_1, 16, 2), Cmp(EQ, &[169, 254]), Verdict(DROP)]]),
        // The clouds that serve it elsewhere: Azure's wireserver (metadata, the VM agent's
        // channel) but its DNS, the resolver Azure's hosts name; Alibaba's metadata.
        rule(&[
            &isolated(META_IIFNAME),
            &ipv4_only(),
            &[ip(REG_1, 16, 4), Cmp(EQ, &AZURE_WIRESERVER)],
            &[Payload { base: TRANSPORT_HEADER, register: REG_1, offset: 2, len: 2 }, Cmp(NEQ, &DNS_PORT)],
            &[Verdict(DROP)],
        ]),
        rule(&[&isolated(META_IIFNAME), &ipv4_only(), &[ip(REG_1, 16, 4), Cmp(EQ, &ALIBABA_METADATA), Verdict(DROP)]]),
        rule(&[&isolated(META_IIFNAME), &[Verdict(ACCEPT)]]),
        rule(&[&isolated(META_OIFNAME), &[Verdict(DROP)]]),
    ]
}

fn input_rules() -> Vec<Vec<Expr>> {
    use Expr::*;
    vec![
        // The container's answers to the host's own connections to a published port (to the
        // host's address they came from, or to 127.0.0.1 once their masquerade is undone): replies
        // only, as a connection a container opens may be DNAT'd too, by another table's rule, to a
        // service of the host's that the walls below keep it from.
        rule(&[
            &host_end(META_IIFNAME),
            &[Ct(CT_DIRECTION), Cmp(EQ, &[IP_CT_DIR_REPLY])],
            &ct_has(CT_STATUS, DNAT_DONE),
            &[Verdict(ACCEPT)],
        ]),
        // A host end that routes loopback sources (`route_localnet`, for a port published on
        // 127.0.0.1) would also route a container's packets to the host's 127.0.0.0/8 in.
        rule(&[&host_end(META_IIFNAME), &ipv4_only(), &[ip(REG_1, 16, 1), Cmp(EQ, &[127]), Verdict(DROP)]]),
        rule(&[
            &isolated(META_IIFNAME),
            &ipv4_only(),
            &interface_and_address(META_IIFNAME, 16, Set::Ends),
            &[Verdict(ACCEPT)],
        ]),
        rule(&[&isolated(META_IIFNAME), &[Verdict(DROP)]]),
    ]
}

/// Prerouting's and output's: a connection to a port of the host's own addresses, published on
/// that address or on all of them, goes to the container's address and port the map gives.
fn published_rules() -> Vec<Vec<Expr>> {
    use Expr::*;
    let local = [ipv4_only(), [FibDaddrType, Cmp(EQ, &LOCAL_ROUTE)]].concat();
    let dport = |register| Payload { base: TRANSPORT_HEADER, register, offset: 2, len: 2 };
    vec![
        rule(&[
            &local,
            &[ip(REG_1, 16, 4), Meta { key: META_L4PROTO, register: REG32_01 }, dport(REG32_02)],
            &[Lookup(Set::PublishedAt), Dnat],
        ]),
        rule(&[&local, &[meta(META_L4PROTO), dport(REG32_01), Lookup(Set::Published), Dnat]]),
    ]
}

/// GETTABLE of one table (what `nft list table` asks first): answered with the table, or ENOENT.
pub fn get_table(seq: u32, family: u8, name: &str) -> Vec<u8> {
    let mut m = Message::new(SUBSYS << 8 | GETTABLE, ACK, seq, &nfgenmsg(family, 0));
    text(&mut m, 1, name);
    m.finish()
}

/// The chain whose one rule `rules_in` reads the mark of: the smallest dump.
const MARKED_CHAIN: &str = "sources";

/// GETRULE of the rules of contain's chain `sources` (`nft list chain inet contain sources`).
pub fn dump_marked_rule(seq: u32) -> Vec<u8> {
    let mut m = Message::new(SUBSYS << 8 | GETRULE, DUMP, seq, &nfgenmsg(INET, 0));
    text(&mut m, 1, TABLE);
    text(&mut m, 2, MARKED_CHAIN);
    m.finish()
}

/// What the dumps showed of contain's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// None at all: no table, or a flushed one.
    Missing,
    /// Every chain's rules as `Batch::ruleset` makes them.
    Whole,
    /// Some rules missing, others added, or an older contain's.
    Stale,
}

/// What a dump of the chains (`dump_chains`) and one of `sources`' rule (`dump_marked_rule`) show
/// of contain's rules. Whole: each of its chains has as many rules as `Batch::ruleset` puts there
/// (a chain's NFTA_CHAIN_USE counts its rules), and `sources`' one rule carries `RULES_MARK` (the
/// batch that made it marked every rule alike, so an older contain's rules have another mark, or
/// none). Missing: no chain of contain's has a rule. Replies that cannot be read are Stale: the
/// whole ruleset is sent again. (Two small dumps: one of every rule would take four times as long.)
pub fn rules_in(chains: &[u8], marked: &[u8]) -> Rules {
    let (Ok(chains), Ok(marked)) = (replies(chains), replies(marked)) else { return Rules::Stale };
    let expected = rules();
    let (mut found, mut whole_chains) = (0, 0);
    for reply in chains.iter().filter(|reply| reply.kind == NEWCHAIN && reply.family == INET) {
        let fields = attrs(reply.attrs);
        if text_of(attr(&fields, 1)) == TABLE {
            let name = text_of(attr(&fields, 3));
            let rules = be32_of(attr(&fields, 6)).unwrap_or(0) as usize;
            found += rules;
            // Every chain of contain's has a rule: one that should have none is no chain of ours.
            whole_chains +=
                usize::from(rules > 0 && rules == expected.iter().filter(|(chain, _)| *chain == name).count());
        }
    }
    // The kernel sends `sources`' rules alone (the dump names table and chain).
    let marks: Vec<Option<&[u8]>> =
        marked.iter().filter(|reply| reply.kind == NEWRULE).map(|reply| attr(&attrs(reply.attrs), 7)).collect();
    if found == 0 {
        Rules::Missing
    } else if whole_chains == CHAINS.len() && marks == [Some(&comment(RULES_MARK)[..])] {
        Rules::Whole
    } else {
        Rules::Stale
    }
}

/// GETCHAIN of every chain of every table (`nft list chains`).
pub fn dump_chains(seq: u32) -> Vec<u8> {
    Message::new(SUBSYS << 8 | GETCHAIN, DUMP, seq, &nfgenmsg(UNSPEC, 0)).finish()
}

/// GETSETELEM of every element of one of contain's sets (`nft list set`).
pub fn dump_elements(seq: u32, set: Set) -> Vec<u8> {
    let mut m = Message::new(SUBSYS << 8 | GETSETELEM, DUMP, seq, &nfgenmsg(INET, 0));
    text(&mut m, 2, set.name());
    text(&mut m, 1, TABLE);
    m.finish()
}

/// One message of a reply: its type without the subsystem, its family, its attributes.
struct Reply<'a> {
    kind: u16,
    family: u8,
    attrs: &'a [u8],
}

/// The messages of a reply, up to NLMSG_DONE. An NLMSG_ERROR with an errno is the reply's outcome
/// (an ack, error 0, is skipped); EPROTO when the bytes are not netlink messages.
fn replies(buf: &[u8]) -> Result<Vec<Reply<'_>>, Errno> {
    let mut found = Vec::new();
    for message in netlink::messages(buf) {
        let message = message?;
        match i32::from(message.kind) {
            libc::NLMSG_DONE => break,
            libc::NLMSG_ERROR => match netlink::error_of(message.body) {
                Some(0) => {}
                Some(errno) => return Err(Errno(errno)),
                None => return Err(Errno(libc::EPROTO)),
            },
            _ if message.body.len() >= 4 => {
                found.push(Reply { kind: message.kind & 0xff, family: message.body[0], attrs: &message.body[4..] })
            }
            _ => return Err(Errno(libc::EPROTO)),
        }
    }
    Ok(found)
}

/// The attributes of a message or of a nested attribute: (type without flags, payload).
fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut found = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        if len < 4 || len > buf.len() {
            break;
        }
        found.push((u16::from_ne_bytes([buf[2], buf[3]]) & !(NESTED | libc::NLA_F_NET_BYTEORDER as u16), &buf[4..len]));
        buf = &buf[netlink::align(len).min(buf.len())..];
    }
    found
}

fn attr<'a>(attrs: &[(u16, &'a [u8])], kind: u16) -> Option<&'a [u8]> {
    attrs.iter().find(|(k, _)| *k == kind).map(|(_, payload)| *payload)
}

fn text_of(payload: Option<&[u8]>) -> String {
    String::from_utf8_lossy(payload.unwrap_or_default().split(|&b| b == 0).next().unwrap_or_default()).into_owned()
}

fn be32_of(payload: Option<&[u8]>) -> Option<u32> {
    payload.and_then(|b| b.get(..4)).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// What the kernel answered a batch: nothing, or an NLMSG_ERROR for the message it refused.
pub fn batch_outcome(reply: &[u8]) -> Result<(), Errno> {
    replies(reply).map(drop)
}

/// Whether a dump's reply has ended (NLMSG_DONE, or an error in its place, or bytes that are no
/// netlink messages: no more will make sense of them).
pub fn dump_ended(buf: &[u8]) -> bool {
    netlink::messages(buf).any(|message| {
        message.map_or(true, |message| matches!(i32::from(message.kind), libc::NLMSG_DONE | libc::NLMSG_ERROR))
    })
}

/// The forward base chains of other tables that drop by policy, as `FAMILY TABLE CHAIN`: what
/// contain's forward chain cannot override.
pub fn dropping_forward_chains(dump: &[u8]) -> Result<Vec<String>, Errno> {
    let family_name = |family: u8| match family {
        IPV4 => "ip",
        INET => "inet",
        IPV6 => "ip6",
        _ => "",
    };
    Ok(replies(dump)?
        .into_iter()
        .filter(|reply| reply.kind == NEWCHAIN && !family_name(reply.family).is_empty())
        .filter_map(|reply| {
            let fields = attrs(reply.attrs);
            let hook = attrs(attr(&fields, 4)?);
            let table = text_of(attr(&fields, 1));
            let forward = be32_of(attr(&hook, 1)) == Some(HOOK_FORWARD);
            let drops = be32_of(attr(&fields, 5)) == Some(DROP);
            let ours = reply.family == INET && table == TABLE;
            (forward && drops && !ours)
                .then(|| format!("{} {table} {}", family_name(reply.family), text_of(attr(&fields, 3))))
        })
        .collect())
}

/// The elements of `set` in a dump of it.
pub fn elements_of(dump: &[u8], set: Set) -> Result<Vec<Element>, Errno> {
    let mut found = Vec::new();
    for reply in replies(dump)?.into_iter().filter(|reply| reply.kind == NEWSETELEM) {
        let fields = attrs(reply.attrs);
        for (_, element) in attrs(attr(&fields, 3).unwrap_or_default()) {
            let element = attrs(element);
            let value = |kind| attr(&element, kind).and_then(|nested| attr(&attrs(nested), 1));
            // NFTNL_UDATA_SET_ELEM_COMMENT: type 0, length, text.
            let comment = match attr(&element, 6) {
                Some([0, len, text @ ..]) => text_of(text.get(..usize::from(*len))),
                _ => String::new(),
            };
            if let Some(key) = value(1) {
                found.push(Element { set, key: key.to_vec(), data: value(2).unwrap_or_default().to_vec(), comment });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
#[path = "nftables_tests.rs"]
mod tests;
