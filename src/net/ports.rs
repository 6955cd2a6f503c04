//! `--publish [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]`, as docker and podman users type it: a
//! port of the host that leads to a port of a `--net veth` container. The value is parsed here
//! (pure); `firewall.rs` turns it into elements of contain's maps, and `reserve` holds the host's
//! port for the container's lifetime.
//!
//! Reserved, as docker-proxy and conmon do, by a socket bound to the port and held open: a host
//! service already on it makes the run fail by name, instead of silently losing its traffic to the
//! container; and no service can take the port while the container has it. The socket is never
//! listened on: the DNAT rules turn the traffic to the container before it could reach it.

use std::net::Ipv4Addr;

use super::netlink;
use crate::error::Error;
use crate::sys::{self, Errno, Fd};

/// The transport a port is published for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// IPPROTO_*: what `meta l4proto` reads.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => libc::IPPROTO_TCP as u8,
            Protocol::Udp => libc::IPPROTO_UDP as u8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One `--publish`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The host address it is published on; None for every address of the host (0.0.0.0).
    pub host_ip: Option<[u8; 4]>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl Publish {
    /// As the user would write it: `127.0.0.1:8080:80/tcp`.
    pub fn describe(&self) -> String {
        let ip = self.host_ip.map_or(String::new(), |ip| format!("{}:", Ipv4Addr::from(ip)));
        format!("{ip}{}:{}/{}", self.host_port, self.container_port, self.protocol.name())
    }

    /// Whether it answers on 127.0.0.1 (published on every address, or on a loopback one): the
    /// host end must then route loopback sources (`route_localnet`).
    pub fn on_loopback(&self) -> bool {
        self.host_ip.is_none_or(|ip| ip[0] == 127)
    }

    /// Whether `self` and `other` would need the same port of the same address.
    fn clashes_with(&self, other: &Publish) -> bool {
        let same_address = self.host_ip.is_none() || other.host_ip.is_none() || self.host_ip == other.host_ip;
        self.protocol == other.protocol && self.host_port == other.host_port && same_address
    }
}

const FORM: &str = "expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp] (8080:80, 127.0.0.1:8080:80/tcp)";

/// A port: digits only, 1 to 65535.
fn parse_port(s: &str, which: &str) -> Result<u16, String> {
    if s.contains('-') {
        return Err(format!("{which} {s:?} is a range: publish one port at a time"));
    }
    match s.parse::<u16>() {
        Ok(port @ 1..) if s.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!("{which} {s:?} must be a number from 1 to 65535")),
    }
}

/// `--publish`'s value.
pub fn parse_publish(s: &str) -> Result<Publish, String> {
    let (ports, protocol) = match s.rsplit_once('/') {
        Some((ports, "tcp")) => (ports, Protocol::Tcp),
        Some((ports, "udp")) => (ports, Protocol::Udp),
        Some((_, other)) => return Err(format!("protocol {other:?} must be tcp or udp")),
        None => (s, Protocol::Tcp),
    };
    if ports.contains('[') {
        return Err("the container's network is IPv4 only: give an IPv4 host address".into());
    }
    let parts: Vec<&str> = ports.split(':').collect();
    let (host_ip, host_port, container_port) = match parts[..] {
        [host_port, container_port] => (None, host_port, container_port),
        [host_ip, host_port, container_port] => (Some(parse_host_ip(host_ip)?), host_port, container_port),
        [_] => return Err(format!("give the host's port too: contain picks none for you ({FORM})")),
        _ => return Err(FORM.into()),
    };
    Ok(Publish {
        host_ip: host_ip.flatten(),
        host_port: parse_port(host_port, "host port")?,
        container_port: parse_port(container_port, "container port")?,
        protocol,
    })
}

/// The host address: one of the host's own, or 0.0.0.0 (or nothing) for all of them.
fn parse_host_ip(s: &str) -> Result<Option<[u8; 4]>, String> {
    match netlink::parse_ipv4(s)? {
        [0, 0, 0, 0] => Ok(None),
        ip @ ([0, ..] | [224..=255, ..]) => {
            Err(format!("{} is no address of the host's (this network, multicast or reserved)", Ipv4Addr::from(ip)))
        }
        ip => Ok(Some(ip)),
    }
}

/// Refuses two `--publish` that need the same port of the same address, naming the second.
pub fn refuse_clashes(published: &[Publish]) -> Result<(), (Publish, String)> {
    for (at, publish) in published.iter().enumerate() {
        if let Some(earlier) = published[..at].iter().find(|earlier| earlier.clashes_with(publish)) {
            return Err((*publish, format!("the host's port is published already by {:?}", earlier.describe())));
        }
    }
    Ok(())
}

/// The host's ports of `published`, held by a bound socket each until dropped. A port taken by
/// another program, or an address the host does not have, is refused by name; one that a
/// container of contain's publishes, naming the container (`publisher`, which finds it).
pub fn reserve(published: &[Publish], publisher: &dyn Fn(&Publish) -> Option<String>) -> Result<Vec<Fd>, Error> {
    published
        .iter()
        .map(|publish| {
            let address = publish.host_ip.unwrap_or_default();
            sys::bind_port(publish.protocol == Protocol::Udp, address, publish.host_port).map_err(|errno| {
                let at = format!("{}:{}/{}", Ipv4Addr::from(address), publish.host_port, publish.protocol.name());
                let bad = |why: String| Error::usage(format!("--publish {:?}: {why}", publish.describe()));
                match errno {
                    Errno(libc::EADDRINUSE) => match publisher(publish) {
                        Some(id) => bad(format!("{at} is published already by container {id}: publish another port")),
                        None => bad(format!(
                            "{at} is in use by another program on the host (`ss -lntup` shows which): publish another port"
                        )),
                    },
                    Errno(libc::EADDRNOTAVAIL) => {
                        bad(format!("{} is no address of this host", Ipv4Addr::from(address)))
                    }
                    errno => Error::sys(format!("bind({at})"), errno),
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_parse_as_docker_writes_them() {
        let tcp = |host_ip, host_port, container_port| Publish {
            host_ip,
            host_port,
            container_port,
            protocol: Protocol::Tcp,
        };
        assert_eq!(parse_publish("8080:80"), Ok(tcp(None, 8080, 80)));
        assert_eq!(parse_publish("8080:80/tcp"), Ok(tcp(None, 8080, 80)));
        assert_eq!(parse_publish("0.0.0.0:8080:80"), Ok(tcp(None, 8080, 80)));
        assert_eq!(parse_publish("127.0.0.1:65535:1/tcp"), Ok(tcp(Some([127, 0, 0, 1]), 65535, 1)));
        let udp = parse_publish("192.0.2.7:53:5353/udp").unwrap();
        assert_eq!(udp.protocol, Protocol::Udp);
        assert_eq!(udp.describe(), "192.0.2.7:53:5353/udp");
        assert_eq!(tcp(None, 8080, 80).describe(), "8080:80/tcp");
        assert!(tcp(None, 1, 1).on_loopback() && tcp(Some([127, 0, 0, 2]), 1, 1).on_loopback());
        assert!(!udp.on_loopback());
    }

    #[test]
    fn bad_published_ports_are_refused_with_the_reason() {
        for (bad, why) in [
            ("80", "give the host's port too"),
            ("0:80", "host port \"0\" must be a number from 1 to 65535"),
            ("8080:0", "container port \"0\" must be a number"),
            ("65536:80", "host port \"65536\""),
            ("8080:99999999999", "container port"),
            ("+80:80", "host port \"+80\""),
            ("8080:", "container port \"\""),
            ("http:80", "host port \"http\""),
            ("8000-8010:80", "is a range"),
            ("8080:80/sctp", "protocol \"sctp\" must be tcp or udp"),
            ("8080:80/", "protocol \"\""),
            ("8080:80/TCP", "protocol \"TCP\""),
            ("localhost:8080:80", "is not an IPv4 address"),
            ("127.0.0.01:8080:80", "is not a number from 0 to 255"),
            ("224.0.0.1:8080:80", "no address of the host's"),
            ("0.1.2.3:8080:80", "no address of the host's"),
            ("[::1]:8080:80", "IPv4 only"),
            ("1.2.3.4:8080:80:90", "expected [HOSTIP:]"),
            ("", "give the host's port too"),
        ] {
            let refused = parse_publish(bad).unwrap_err();
            assert!(refused.contains(why), "{bad:?}: {refused}");
        }
    }

    #[test]
    fn a_port_published_twice_on_one_address_is_refused() {
        let all = |values: &[&str]| values.iter().map(|v| parse_publish(v).unwrap()).collect::<Vec<_>>();
        assert_eq!(
            refuse_clashes(&all(&["8080:80", "8081:80", "8080:80/udp", "127.0.0.1:9:9", "127.0.0.2:9:9"])),
            Ok(())
        );
        for (values, second) in [
            (&["8080:80", "8080:81"][..], "8080:81/tcp"),
            (&["127.0.0.1:8080:80", "8080:81"], "8080:81/tcp"),
            (&["8080:80", "192.0.2.1:8080:81"], "192.0.2.1:8080:81/tcp"),
            (&["53:53/udp", "0.0.0.0:53:54/udp"], "53:54/udp"),
        ] {
            let (publish, why) = refuse_clashes(&all(values)).unwrap_err();
            assert_eq!(publish.describe(), second);
            assert!(why.starts_with("the host's port is published already by"), "{why}");
        }
    }
}
