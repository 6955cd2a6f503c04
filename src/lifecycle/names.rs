//! `--net veth`: the container's /etc/resolv.conf, /etc/hosts and /etc/hostname, generated from the
//! host's files (`net::names` says what goes in them, and why generated), written to its entry
//! (`STATE/ID/resolv.conf`, ...) and bound read-only over the image's.
//!
//! Each target is looked up inside the rootfs as every mount target is (mounts/resolve.rs): an
//! image's /etc/resolv.conf is often a symlink, and the bind then covers what it leads to inside
//! the image, never a host path. A target the image lacks is made as an empty mount point, as for
//! a `--volume`; under `--read-only` (without `--overlay`) contain writes nothing to the image, so
//! that file is left out, and the run says so. A `--volume` onto one of them wins: that file is
//! not generated.

use std::net::Ipv4Addr;

use crate::cli::RunSpec;
use crate::error::{cpath, Error};
use crate::hostpath::Checked;
use crate::lifecycle::state::Entry;
use crate::mounts::resolve::{Last, Missing, Root};
use crate::mounts::BindSource;
use crate::net::names::{self, HOST_RESOLV_CONF, RESOLVED_UPSTREAM};
use crate::net::netlink::VethAddrs;
use crate::sys::{self, Errno};

/// A generated file and where the container sees it.
pub struct NameFile {
    pub target: String,
    pub source: BindSource,
}

/// Writes the files to `entry` and opens them for their binds, leaving out those a `--volume`
/// covers and, in a read-only image, those it lacks. `rootfs` is the image, for that check.
pub fn generate(
    spec: &RunSpec,
    entry: &Entry,
    rootfs: &Checked,
    hostname: &str,
    addrs: &VethAddrs,
) -> Result<Vec<NameFile>, Error> {
    let (address, gateway) = (Ipv4Addr::from(addrs.container), Ipv4Addr::from(addrs.host));
    let contents =
        [resolv_conf(&spec.dns)?, names::hosts(hostname, address, gateway, &spec.add_hosts), format!("{hostname}\n")];
    let mut files = Vec::new();
    for (name, text) in names::FILES.iter().zip(contents) {
        let target = format!("/etc/{name}");
        if spec.volumes.iter().any(|volume| volume.target.trim_end_matches('/') == target) {
            continue;
        }
        if spec.read_only && !spec.overlay && !in_image(rootfs, &target)? {
            log!("--read-only: the rootfs has no {target}, and contain does not write to a read-only image: the container gets no generated {target} (create it in the image, or add --overlay)");
            continue;
        }
        let name = cpath(name)?;
        entry.write_file_for_container(&name, text.as_bytes())?;
        let path = format!("{}/{}", entry.path, name.to_string_lossy());
        let source = Checked::open(&path).map_err(|why| Error::Setup(format!("{path}: {why}")))?;
        files.push(NameFile { target, source: BindSource::generated_file(source) });
    }
    Ok(files)
}

/// The container's resolv.conf: from the host's, or from systemd-resolved's list of the servers
/// behind its stub when the host's names that (the stub is on the host's loopback).
fn resolv_conf(dns: &[Ipv4Addr]) -> Result<String, Error> {
    let read = |path: &str| match sys::read_file(&cpath(path)?) {
        Ok(text) => Ok(Some(text)),
        Err(Errno(libc::ENOENT)) => Ok(None),
        Err(errno) => Err(Error::sys(format!("read({path})"), errno)),
    };
    let host = read(HOST_RESOLV_CONF)?.unwrap_or_default();
    let upstream = if names::names_resolved_stub(&host) { read(RESOLVED_UPSTREAM)? } else { None };
    let (text, note) = match upstream {
        Some(upstream) => names::resolv_conf(&upstream, RESOLVED_UPSTREAM, dns),
        None => names::resolv_conf(&host, HOST_RESOLV_CONF, dns),
    };
    if let Some(note) = note {
        log!("{note}");
    }
    Ok(text)
}

/// Whether the image has `target`, looked up inside it (a symlink followed inside the root).
fn in_image(rootfs: &Checked, target: &str) -> Result<bool, Error> {
    match Root(rootfs.pinned()).lookup(target, Last::Follow, Missing::Refuse) {
        Ok(found) => Ok(found.object.is_some()),
        Err(Errno(libc::ENOENT)) => Ok(false),
        Err(errno) => Err(Error::sys(format!("looking up {target} in the rootfs"), errno)),
    }
}
