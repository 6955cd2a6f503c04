//! `--net veth`'s way out and its walls: outbound NAT through the host, and isolation from the
//! other containers and from the host's other addresses, in contain's own nf_tables table
//! (`nftables.rs` builds the messages and says what the rules are).
//!
//! The table's rules never change; a container adds its own elements to the table's sets once its
//! host end exists, and removes them before the pair goes. So contains that start and end at once
//! never touch each other's elements. A container dumps the chains and the rule of `sources`
//! first: when the rules are whole (as many in each chain as it makes, and that rule with this
//! contain's mark, `nftables::rules_in`), its elements go alone, in one small batch. Otherwise
//! they go in one batch with the table, its sets and its chains, each chain emptied and filled
//! again: the same batch whoever sends it, applied all or nothing, so two that start at once leave
//! one set of rules, and a table that somebody flushed (`nft flush ruleset`), emptied or deleted,
//! or an older contain's, is whole again for the next container. (The containers that ran
//! meanwhile lost their elements with it; each says so when it ends.) The host end also drops
//! what comes in with a forged source address (`refuse_forged_sources`).
//! A published port (`--publish`) is an element of a map too, leading a host port to the
//! container's; its host port is held by a socket meanwhile (`ports.rs`). A killed
//! runtime's elements are swept by `gc`: an element whose host end is gone has no container.
//! (nf_tables is per network namespace: a `gc` run from another one than the container's, which
//! finds the entry, cannot reach its elements; a later `contain gc` in the container's sweeps
//! them, as their host end is gone.)

use super::netlink::VethAddrs;
use super::nftables::{self, Batch, Element, Rules, Set};
use super::ports::Publish;
use crate::error::{cpath, Error};
use crate::sys::{self, Errno, Fd};

/// What `--net veth` opens, from `veth:...:open` or `veth:...:nonat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Firewall {
    /// NAT out, and no other container nor any other host address reachable (the default).
    #[default]
    Isolated,
    /// NAT out, and everything the host routes to reachable, other containers included.
    Open,
    /// No rule at all: the host's own forwarding and firewall decide (contain before NAT).
    None,
}

/// The kernel's switch for forwarding IPv4: the replies to a masqueraded packet come in on the
/// uplink and are forwarded to the container only when forwarding is on there too.
const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// The elements that give a container behind `host_end` what `firewall` says, and its
/// published ports (which `--net veth:nonat` cannot have: the command line refuses them).
pub fn elements(host_end: &str, addrs: &VethAddrs, firewall: Firewall, published: &[Publish]) -> Vec<Element> {
    let nat = Element::new(Set::Nat, host_end, Some(addrs.container));
    let mut elements = match firewall {
        Firewall::Isolated => {
            vec![nat, Element::new(Set::Isolated, host_end, None), Element::new(Set::Ends, host_end, Some(addrs.host))]
        }
        Firewall::Open => vec![nat],
        Firewall::None => return Vec::new(),
    };
    elements.extend(published.iter().map(|publish| Element::published(host_end, publish, addrs.container)));
    elements
}

/// A socket to nf_tables, with its own message numbers.
struct Netfilter {
    socket: Fd,
    seq: u32,
}

impl Netfilter {
    /// The socket, or None on a kernel without nf_tables: where there is nothing to add to or to
    /// sweep from.
    fn open() -> Result<Option<Netfilter>, Error> {
        match sys::netfilter_socket() {
            Ok(socket) => Ok(Some(Netfilter { socket, seq: 0 })),
            Err(errno) if missing_from_kernel(errno) => Ok(None),
            Err(errno) => Err(Error::sys("socket(AF_NETLINK, NETLINK_NETFILTER)", errno)),
        }
    }

    fn apply(&mut self, build: impl FnOnce(Batch) -> Batch) -> Result<(), Errno> {
        let (batch, next) = build(Batch::new(self.seq)).finish();
        self.seq = next;
        nftables::batch_outcome(&sys::netlink_batch(&self.socket, &batch)?)
    }

    fn dump(&mut self, request: impl FnOnce(u32) -> Vec<u8>) -> Result<Vec<u8>, Errno> {
        self.seq += 1;
        sys::netlink_dump(&self.socket, &request(self.seq), nftables::dump_ended)
    }
}

/// Whether nf_tables failed for want of something this kernel lacks: the socket's protocol, or a
/// chain type or expression it could not load (ENOENT once the table exists), rather than a
/// failure to report.
fn missing_from_kernel(errno: Errno) -> bool {
    matches!(errno, Errno(libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT | libc::ENOENT | libc::EOPNOTSUPP))
}

/// A container's elements, with the nf_tables socket that added them, kept open until they are
/// removed. Closing a socket to nf_tables waits until the kernel has freed what the last batch
/// replaced (its NETLINK_URELEASE handler flushes nf_tables' destroy work, which waits for an RCU
/// grace period: 10 ms and more on a busy machine), a wait a start need not pay. Kept, the socket
/// closes after the pair's deletion, when that wait is over.
#[derive(Default)]
pub struct Walls {
    elements: Vec<Element>,
    netfilter: Option<Netfilter>,
}

/// Adds the container's elements: alone, when dumps of the chains and the marked rule show
/// contain's rules whole (the cheap case, every start but the first); else in the batch that also
/// makes the table, its sets and rules (the same whoever sends it: a table somebody flushed or
/// deleted, or an older contain's, is whole again for this container). A kernel without what the
/// rules need is said in one line, and the container runs without them.
pub fn admit(elements: Vec<Element>) -> Result<Walls, Error> {
    if elements.is_empty() {
        return Ok(Walls::default());
    }
    let step = |what: &str| format!("nf_tables: {what} (table inet {})", nftables::TABLE);
    let unavailable = |why: String| {
        log!(
            "no NAT, no isolation and no published port for this container: the kernel lacks nf_tables or a \
             part the rules need (nft_chain_nat, nft_masq, nft_fib, nf_conntrack): {why}"
        );
        Ok(Walls::default())
    };
    let Some(mut netfilter) = Netfilter::open()? else {
        return unavailable("no NETLINK_NETFILTER socket".into());
    };
    // A dump that fails is no answer: the whole ruleset goes.
    let chains = netfilter.dump(nftables::dump_chains).unwrap_or_default();
    let rules = match netfilter.dump(nftables::dump_marked_rule) {
        Ok(marked) if !chains.is_empty() => nftables::rules_in(&chains, &marked),
        _ => Rules::Stale,
    };
    if elements.iter().any(|element| element.set == Set::Nat) {
        forward_ipv4()?;
    }
    let mut added = Err(Errno(libc::ENOENT));
    if rules == Rules::Whole {
        added = netfilter.apply(|batch| batch.elements(true, &elements));
    }
    // Not whole; or whole, then gone before the elements came (a table deleted meanwhile: ENOENT).
    if added == Err(Errno(libc::ENOENT)) {
        added = netfilter.apply(|batch| batch.ruleset().elements(true, &elements));
    }
    match added {
        Ok(()) => {
            if rules == Rules::Missing {
                warn_of_other_rules(&mut netfilter, &chains);
            }
            Ok(Walls { elements, netfilter: Some(netfilter) })
        }
        Err(errno) if missing_from_kernel(errno) => unavailable(errno.to_string()),
        Err(errno) => Err(Error::sys(step("the table, its sets and rules, and the container's elements"), errno)),
    }
}

/// The host end's reverse-path filter, strict: a packet that comes in on it from a source the
/// host would not route back through it (another container's address, any address the container
/// made up: it has CAP_NET_RAW) is dropped, before NAT or any wall sees it. Only where the host's
/// `all.rp_filter` is not 2 (loose): the kernel applies the larger of the two, so the first rule of
/// contain's `forward` and `input` chains does the same check whatever the host set.
pub fn refuse_forged_sources(host_end: &str) -> Result<(), Error> {
    turn_on(host_end, "rp_filter")
}

/// The host end routes packets with a loopback source (`route_localnet`), for a port published on
/// 127.0.0.1: the host's connection leaves through it from 127.0.0.1 (masqueraded only after
/// routing). The input chain drops what a container sends to the host's loopback through it.
pub fn route_loopback_sources(host_end: &str) -> Result<(), Error> {
    turn_on(host_end, "route_localnet")
}

/// `net.ipv4.conf.HOST_END.SETTING = 1`.
fn turn_on(host_end: &str, setting: &str) -> Result<(), Error> {
    let path = format!("/proc/sys/net/ipv4/conf/{host_end}/{setting}");
    sys::write_file(&cpath(&path)?, "1").map_err(|errno| Error::sys(format!("write({path}, 1)"), errno))
}

/// Turns IPv4 forwarding on, saying so, when it is off.
fn forward_ipv4() -> Result<(), Error> {
    let path = cpath(IP_FORWARD)?;
    match sys::read_file(&path) {
        Ok(value) if value.trim() == "0" => {
            sys::write_file(&path, "1").map_err(|errno| Error::sys(format!("write({IP_FORWARD}, 1)"), errno))?;
            log!("net.ipv4.ip_forward was 0: turned on, for the container's NAT");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(errno) => Err(Error::sys(format!("read({IP_FORWARD})"), errno)),
    }
}

/// Once, when contain's table is made: what in the host's other rules (`chains`, a dump of every
/// chain) stands in its way, or is left over. Best effort: a failure to look is not the
/// container's failure.
fn warn_of_other_rules(netfilter: &mut Netfilter, chains: &[u8]) {
    if let Ok(chains) = nftables::dropping_forward_chains(chains) {
        for chain in chains {
            log!(
                "the forward chain {chain} drops by policy, and contain's accept cannot override it: \
                 for NAT and published ports to work add `iifname \"ct-*\" accept`, `oifname \"ct-*\" ct state \
                 established,related accept` and `oifname \"ct-*\" ct status dnat accept` to it"
            );
        }
    }
    // The README's recipe from before contain did its own NAT.
    if netfilter
        .dump(|seq| nftables::get_table(seq, nftables::IPV4, nftables::TABLE))
        .is_ok_and(|reply| nftables::batch_outcome(&reply).is_ok())
    {
        log!(
            "the table `ip contain` (the README's old masquerade recipe) is now redundant: contain does its own NAT \
             in `inet contain`; remove it with: nft delete table ip contain"
        );
    }
}

impl Walls {
    /// Removes the container's elements, in one batch; or when one is gone already (a sweep got to
    /// it, or the table was deleted), which fails the batch with ENOENT and is no failure here,
    /// each in a batch of its own.
    /// A running container's element gone is said: it ran without its walls from then on. The
    /// socket stays open until the walls are dropped.
    pub fn release(&mut self) -> Result<(), Error> {
        self.release_quietly().map(|gone| {
            if gone {
                log!(
                    "this container's elements of table inet {} were gone before it ended (the table flushed \
                     or deleted?): it ran without its NAT and walls from then on",
                    nftables::TABLE
                );
            }
        })
    }

    /// `release`, telling whether an element was gone already.
    fn release_quietly(&mut self) -> Result<bool, Error> {
        // Elements come with the socket that added them (`admit`).
        let elements = std::mem::take(&mut self.elements);
        let Some(netfilter) = &mut self.netfilter else { return Ok(false) };
        match netfilter.apply(|batch| batch.elements(false, &elements)) {
            Ok(()) => Ok(false),
            // One gone refuses the whole batch: each in a batch of its own then.
            Err(Errno(libc::ENOENT)) => remove_each(netfilter, &elements),
            Err(errno) => {
                let interface = elements.first().map_or(String::new(), Element::interface);
                Err(Error::sys(format!("nf_tables: deleting {interface}'s elements"), errno))
            }
        }
    }
}

/// Removes each element in a batch of its own, telling whether one was gone already.
fn remove_each(netfilter: &mut Netfilter, elements: &[Element]) -> Result<bool, Error> {
    let mut gone = false;
    for element in elements {
        match netfilter.apply(|batch| batch.elements(false, std::slice::from_ref(element))) {
            Ok(()) => {}
            Err(Errno(libc::ENOENT)) => gone = true,
            Err(errno) => {
                let what =
                    format!("nf_tables: deleting {}'s element of set {}", element.interface(), element.set.name());
                return Err(Error::sys(what, errno));
            }
        }
    }
    Ok(gone)
}

/// The host end whose published port `publish` needs too: a map element of the same protocol and
/// port, on the same address or on every address. None where nf_tables says nothing.
pub fn publisher_of(publish: &Publish) -> Option<String> {
    let mut netfilter = Netfilter::open().ok()??;
    let wanted = Element::published("", publish, [0; 4]);
    [Set::Published, Set::PublishedAt].into_iter().find_map(|set| {
        let dump = netfilter.dump(|seq| nftables::dump_elements(seq, set)).ok()?;
        let elements = nftables::elements_of(&dump, set).ok()?;
        elements.iter().find(|element| element.same_host_port(&wanted)).map(Element::interface)
    })
}

/// `gc`: removes the elements of the host end `interface` (a dead container's), or with None, of
/// every host end that is gone (a map's element names its host end in its comment). No table, no
/// nf_tables at all, or a caller who may not look (a user, whose containers have no pair), is
/// nothing to sweep.
pub fn sweep(interface: Option<&str>) -> Result<(), Error> {
    let Some(mut netfilter) = Netfilter::open()? else { return Ok(()) };
    let mut stale = Vec::new();
    for set in Set::ALL {
        let elements =
            match netfilter.dump(|seq| nftables::dump_elements(seq, set)).map(|dump| nftables::elements_of(&dump, set))
            {
                Ok(Ok(elements)) => elements,
                // No table; or a user, who can have no element (`--net veth` needs root).
                Ok(Err(Errno(libc::ENOENT | libc::EPERM))) | Err(Errno(libc::EPERM)) => return Ok(()),
                Ok(Err(errno)) | Err(errno) => {
                    return Err(Error::sys(format!("nf_tables: listing set {}", set.name()), errno))
                }
            };
        stale.extend(elements.into_iter().filter(|element| match interface {
            Some(interface) => element.interface() == interface,
            None => sys::interface_index(&element.interface()) == Err(Errno(libc::ENODEV)),
        }));
    }
    remove_each(&mut netfilter, &stale).map(drop)
}
