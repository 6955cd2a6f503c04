//! `--net veth`: a veth pair between the host and the container, made with rtnetlink requests
//! (`netlink.rs` builds them; this module sends them and decides what to send).
//!
//! The runtime makes the pair once the child exists (its network namespace is where the peer goes),
//! before releasing it: the host end `ct-ID` gets the subnet's first address and goes up. The child
//! then finds `eth0` in its namespace, gives it the second address, brings it up and routes
//! everything through the host end (in that order: the kernel refuses a route through a link that
//! has no address or is down). Once the pair exists, the container's elements join contain's
//! nf_tables sets (`firewall.rs`): NAT out, and walls against the other containers and the host's
//! other addresses; they leave the sets before the pair goes.
//!
//! Without addresses on the command line, a /30 is leased from a pool (see `lease.rs`): the lease
//! is `STATE/.leases/NETWORK`, named after the /30's network address, so pools that overlap share
//! leases.

pub mod firewall;
pub mod names;
pub mod netlink;
pub mod nftables;
pub mod ports;

use std::net::Ipv4Addr;

use self::firewall::{Firewall, Walls};
use self::netlink::VethAddrs;
use self::ports::Publish;
use crate::error::{cpath, Context, Error};
use crate::lease::{self, Holder, Lease, LeaseDir};
use crate::sys::{self, Errno, Fd};

/// The environment variable that overrides the default pool.
pub const POOL_ENV: &str = "CONTAIN_NET_POOL";
pub const DEFAULT_POOL: &str = "10.200.0.0/16";
/// The container's end of the pair, in its own namespace.
pub const CONTAINER_INTERFACE: &str = "eth0";

/// `ct-ID`, or where the id is too long for an interface name (15 bytes), `ct--` and 11 hex digits
/// of a hash of it (`fnv1a`). The two forms never meet: an id starts with a letter or a digit
/// (`text::validate_id`), never with the `-` of `ct--`, so no id of 12 characters or fewer (a
/// random id is 12 hex digits) is named what a longer id's hash is.
pub fn host_interface_name(id: &str) -> String {
    let name = format!("ct-{id}");
    if name.len() < libc::IFNAMSIZ {
        return name;
    }
    format!("ct--{:011x}", fnv1a(id.as_bytes()) >> 20)
}

/// FNV-1a, 64 bits: a hash stable across runs and versions, unlike std's hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// "10.200.0.1/30" for log lines.
fn describe(address: [u8; 4], prefix_len: u8) -> String {
    format!("{}/{prefix_len}", Ipv4Addr::from(address))
}

/// One request on a netlink socket, its ack checked: every reply is read, and an NLMSG_ERROR
/// with an errno becomes the step's error.
struct Netlink {
    socket: Fd,
    seq: u32,
}

impl Netlink {
    fn open() -> Result<Netlink, Error> {
        Ok(Netlink { socket: sys::netlink_socket().step(|| "socket(AF_NETLINK, NETLINK_ROUTE)".into())?, seq: 0 })
    }

    fn request(&mut self, message: impl FnOnce(u32) -> Vec<u8>, step: impl Fn() -> String) -> Result<(), Error> {
        self.seq += 1;
        let reply = sys::netlink_request(&self.socket, &message(self.seq)).step(&step)?;
        netlink::parse_ack(&reply, self.seq).step(step)
    }

    /// Gives `interface` its address, then brings it up: each end of a pair, in this order (a
    /// route through it needs both).
    fn address_and_bring_up(&mut self, interface: &str, address: [u8; 4], prefix_len: u8) -> Result<(), Error> {
        let index = sys::interface_index(interface).step(|| format!("ioctl({interface}, SIOCGIFINDEX)"))?;
        let cidr = describe(address, prefix_len);
        self.request(
            |seq| netlink::new_address_v4(seq, index, address, prefix_len),
            || format!("RTM_NEWADDR({interface}, {cidr})"),
        )?;
        self.request(|seq| netlink::set_link_up(seq, index), || format!("RTM_NEWLINK({interface}, up)"))
    }
}

/// What `--net veth` asks for: the addresses (None: from the pool), what its firewall opens, and
/// the published ports, with who publishes one already, if a container of contain's does.
pub struct VethRequest<'a> {
    pub addrs: Option<VethAddrs>,
    pub firewall: Firewall,
    pub published: &'a [Publish],
    pub publisher: &'a dyn Fn(&Publish) -> Option<String>,
}

/// The pair as planned for one container: names, addresses, and the pool lease if any.
pub struct Veth {
    pub host_name: String,
    pub addrs: VethAddrs,
    pub firewall: Firewall,
    /// The pool lease holding `addrs`, None for addresses from the command line.
    lease: Option<Lease>,
    published: Vec<Publish>,
    /// A socket bound to each published port, held until the container's elements are gone.
    reserved: Vec<Fd>,
}

impl Veth {
    /// Names the pair, holds its published ports, and takes its addresses: those requested, or
    /// the first free /30 of the pool.
    pub fn plan(leases: Holder, id: &str, request: VethRequest) -> Result<Veth, Error> {
        let host_name = host_interface_name(id);
        let reserved = ports::reserve(request.published, request.publisher)?;
        let (lease, addrs) = match request.addrs {
            Some(addrs) => (None, refuse_taken(addrs)?),
            None => take_subnet(leases, id).map(|(lease, addrs)| (Some(lease), addrs))?,
        };
        let (firewall, published) = (request.firewall, request.published.to_vec());
        Ok(Veth { host_name, addrs, firewall, lease, published, reserved })
    }

    /// Makes the pair with its peer in `container_pid`'s network namespace, addresses the host
    /// end, brings it up, and adds the container's firewall elements. The returned handle removes
    /// them and deletes the pair again.
    pub fn create(self, container_pid: i32) -> Result<HostEnd, Error> {
        let Veth { host_name, addrs, firewall, lease, published, reserved } = self;
        let (host_address, container_address) =
            (describe(addrs.host, addrs.prefix_len), describe(addrs.container, addrs.prefix_len));
        log!("veth {host_name} ({host_address}) <-> {CONTAINER_INTERFACE} ({container_address})");
        let netns_path = format!("/proc/{container_pid}/ns/net");
        let netns = sys::open(&cpath(&netns_path)?, libc::O_RDONLY, 0).step(|| format!("open({netns_path})"))?;
        let mut netlink = Netlink::open()?;
        let created = netlink.request(
            |seq| netlink::new_veth(seq, &host_name, CONTAINER_INTERFACE, netns.raw()),
            || format!("RTM_NEWLINK(veth {host_name} <-> {CONTAINER_INTERFACE} in pid {container_pid}'s netns)"),
        );
        if created.as_ref().is_err_and(|err| err.errno() == Some(Errno(libc::EEXIST))) {
            // Somebody else's interface: it must survive our failure.
            return Err(Error::setup(format!(
                "a network interface named {host_name} already exists: another container's, or left over \
                 (contain gc; or ip link del {host_name})"
            )));
        }
        // Ours from here on, even when the kernel's answer was lost and it exists after all: every
        // early return deletes it (and gives the lease back).
        let mut host = HostEnd { name: host_name.clone(), lease, walls: Walls::default(), removed: false, reserved };
        created?;
        netlink.address_and_bring_up(&host_name, addrs.host, addrs.prefix_len)?;
        firewall::refuse_forged_sources(&host_name)?;
        if published.iter().any(Publish::on_loopback) {
            firewall::route_loopback_sources(&host_name)?;
        }
        host.walls = firewall::admit(firewall::elements(&host_name, &addrs, firewall, &published))?;
        Ok(host)
    }

    /// For the state record: `veth ct-ID 10.200.0.1/30 10.200.0.2/30 lease 10.200.0.0`.
    /// (What the firewall opened is not recorded: `gc` finds a dead container's elements by its
    /// host end's name, from its id, never from a record.)
    pub fn describe(&self) -> String {
        let lease = self.lease.as_ref().map_or(String::new(), |lease| format!(" lease {}", lease.name));
        format!(
            "veth {} {} {}{lease}",
            self.host_name,
            describe(self.addrs.host, self.addrs.prefix_len),
            describe(self.addrs.container, self.addrs.prefix_len)
        )
    }
}

/// Child side, in the container's network namespace: `eth0` gets its address, goes up, and the
/// default route goes through the host end.
pub fn configure_container_end(addrs: &VethAddrs) -> Result<(), Error> {
    let mut netlink = Netlink::open()?;
    netlink.address_and_bring_up(CONTAINER_INTERFACE, addrs.container, addrs.prefix_len)?;
    let gateway = Ipv4Addr::from(addrs.host);
    netlink.request(
        |seq| netlink::new_default_route_v4(seq, addrs.host),
        || format!("RTM_NEWROUTE(default via {gateway})"),
    )
}

/// The host end of a pair. Dropping it deletes the pair (the kernel would too, once the
/// container's namespace is gone, but asynchronously) and gives the lease back.
pub struct HostEnd {
    pub name: String,
    lease: Option<Lease>,
    /// Its elements in contain's nf_tables sets, and the socket that added them, which closes
    /// with the host end, after the pair's deletion (see `Walls`).
    walls: Walls,
    /// `remove` has run: how it went was the caller's to report, and nothing is left for drop.
    removed: bool,
    /// The published ports' sockets: closed with the handle, after its elements are gone.
    reserved: Vec<Fd>,
}

impl HostEnd {
    /// Deletes the pair and gives the lease back, for the caller to report how that went.
    pub fn remove(mut self) -> Result<(), Error> {
        self.removed = true;
        self.delete()
    }

    /// The elements leave the sets first, while the name still means this container. A pair that
    /// could not be deleted keeps its lease, for the next sweep to find it by; elements that could
    /// not be removed are swept by `gc` once the pair is gone.
    fn delete(&mut self) -> Result<(), Error> {
        let released = self.walls.release();
        // No rule leads the ports to the container any more: the host may have them back.
        self.reserved.clear();
        if let Err(err) = delete_interface(&self.name) {
            if let Some(lease) = &mut self.lease {
                lease.keep();
            }
            return Err(err);
        }
        self.lease.take().map_or(Ok(()), Lease::release)?;
        released
    }
}

impl Drop for HostEnd {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if let Err(err) = self.delete() {
            crate::log::error(&err);
        }
    }
}

/// Deletes the interface `name` if it is still there.
pub fn delete_interface(name: &str) -> Result<(), Error> {
    let deleted = Netlink::open()?.request(|seq| netlink::delete_link(seq, name), || format!("RTM_DELLINK({name})"));
    match deleted {
        Err(err) if err.errno() != Some(Errno(libc::ENODEV)) => Err(err),
        _ => Ok(()),
    }
}

/// The pool: `$CONTAIN_NET_POOL` or 10.200.0.0/16.
fn pool() -> Result<([u8; 4], u8), Error> {
    let pool = std::env::var(POOL_ENV).unwrap_or_else(|_| DEFAULT_POOL.into());
    let (base, prefix_len) = netlink::parse_cidr(&pool).map_err(|why| Error::usage(format!("{POOL_ENV}: {why}")))?;
    if prefix_len > 30 {
        return Err(Error::usage(format!("{POOL_ENV}: {pool:?} has no room for a /30")));
    }
    Ok((base, prefix_len))
}

/// Whether `address` is one of the host's already: another container's host end (a pair with
/// addresses given on the command line holds no lease), or the host's own network's. A second
/// pair in the same subnet would take the first one's traffic. (No route to it at all,
/// ENETUNREACH, is no address of the host's.)
fn is_hosts(address: [u8; 4]) -> bool {
    sys::route_source(address) == Ok(address)
}

/// Addresses given on the command line, refused when the host has one of them already.
fn refuse_taken(addrs: VethAddrs) -> Result<VethAddrs, Error> {
    match [addrs.host, addrs.container].into_iter().find(|&address| is_hosts(address)) {
        Some(address) => Err(Error::usage(format!(
            "--net veth:{},{}: {} is an address of this host already (another container's, or the host's own network's): \
             choose another subnet",
            describe(addrs.host, addrs.prefix_len),
            Ipv4Addr::from(addrs.container),
            Ipv4Addr::from(address)
        ))),
        None => Ok(addrs),
    }
}

/// Takes the first /30 of the pool that nobody holds, and whose addresses the host does not have
/// already (a container's given on the command line).
fn take_subnet(leases: Holder, id: &str) -> Result<(Lease, VethAddrs), Error> {
    let (base, prefix_len) = pool()?;
    let dir = LeaseDir::open(leases, lease::Kind::Subnet)?;
    let path = dir.path.clone();
    let subnets = (0..).map_while(|index| netlink::subnet_for(index, base, prefix_len)).map(|addrs| {
        let network = Ipv4Addr::from(u32::from_be_bytes(addrs.host) - 1).to_string();
        (network, addrs)
    });
    let subnets = subnets.filter(|(_, addrs)| !is_hosts(addrs.host) && !is_hosts(addrs.container));
    dir.take_first(id, subnets)?.ok_or_else(|| {
        Error::setup(format!(
            "every /30 of {} is leased (see {path}; {POOL_ENV} sets another pool)",
            describe(base, prefix_len)
        ))
    })
}

/// Deletes the host end of a dead container `id`, and its firewall elements, by the name its id
/// determines, never by what its record says (a record is hostile input): `ct-ID`, if there is
/// one. (Its leases are given back by `lease::release_of`.)
pub fn delete_host_end_of(id: &str) -> Result<(), Error> {
    let interface = host_interface_name(id);
    firewall::sweep(Some(&interface))?;
    match sys::interface_index(&interface) {
        Ok(_) => delete_interface(&interface),
        Err(Errno(libc::ENODEV)) => Ok(()),
        Err(errno) => Err(Error::sys(format!("ioctl({interface}, SIOCGIFINDEX)"), errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_interface_names_fit_ifnamsiz() {
        assert_eq!(host_interface_name("web"), "ct-web");
        assert_eq!(host_interface_name("3f9c0e1a2b4d"), "ct-3f9c0e1a2b4d", "a random id fits as it is");
        let long = host_interface_name("a-rather-long-container-name");
        assert_eq!(long.len(), 15);
        assert!(long.starts_with("ct--"), "{long}: never an id's own name");
        assert_eq!(long, host_interface_name("a-rather-long-container-name"), "stable");
        assert_ne!(long, host_interface_name("a-rather-long-container-nam3"));
    }

    #[test]
    fn addresses_print_as_cidr() {
        assert_eq!(describe([10, 200, 0, 1], 30), "10.200.0.1/30");
    }
}
