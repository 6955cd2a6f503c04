//! `--net veth`: the container's /etc/resolv.conf, /etc/hosts and /etc/hostname, generated from the
//! host's files (`net::names` says what goes in them, and why generated), written to its entry
//! (`STATE/ID/resolv.conf`, ...) and bound read-only over the image's.
//!
//! Each target is looked up inside the rootfs as every mount target is (mounts/resolve.rs): an
//! image's /etc/resolv.conf is often a symlink, and the bind then covers what it leads to inside
//! the image, never a host path. A target the image lacks is made as an empty mount point, as for
//! a `--volume`; under `--read-only` (without `--overlay`) contain writes nothing to the image, so
//! that file is left out, and the run says so. So is one that leads into `/proc`, `/sys` or `/dev`
//! (a hostile or broken image), or is a directory. A `--volume` onto one of them wins: that file
//! is not generated; one onto a directory above one (`-v DIR:/etc`) hides it, and the run says so.

use std::net::Ipv4Addr;

use crate::cli::RunSpec;
use crate::error::{cpath, Error};
use crate::hostpath::Checked;
use crate::lifecycle::state::Entry;
use crate::mounts::resolve::{Last, Missing, Root};
use crate::mounts::BindSource;
use crate::net::names::{self, HOST_RESOLV_CONF, RESOLVED_UPSTREAM};
use crate::net::netlink::VethAddrs;
use crate::sys::{self, Dir, Errno};

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
    let read_only = spec.read_only && !spec.overlay;
    let mut files = Vec::new();
    for (name, text) in names::FILES.iter().zip(contents) {
        let target = format!("/etc/{name}");
        if spec.volumes.iter().any(|volume| lexical(&volume.target) == target) {
            continue;
        }
        let Some(placed) = placement(rootfs, &target, read_only)? else { continue };
        // Mounted after the names, a volume onto a directory above one hides it: said, as the
        // other files left out are (its directory is the host's: contain makes nothing in it).
        if let Some(volume) = spec.volumes.iter().find(|volume| is_under(&placed, &lexical(&volume.target))) {
            log!(
                "{target} in the rootfs is under the --volume on {}: the container gets no generated {target}",
                volume.target
            );
            continue;
        }
        let target = placed;
        let name = cpath(name)?;
        entry.write_file_for_container(&name, text.as_bytes())?;
        let path = format!("{}/{}", entry.path, name.to_string_lossy());
        let source = Checked::open(&path).map_err(|why| Error::setup(format!("{path}: {why}")))?;
        files.push(NameFile { target, source: BindSource::generated_file(source) });
    }
    Ok(files)
}

/// Where the image's `target` leads: the path to bind onto (every symlink of the image followed
/// inside it, so the bind lands where the container will read), or None when the file is to be
/// left out, said in one line. Left out: a target that leads into a filesystem contain mounts
/// itself (`/proc`, `/sys`, `/dev`, and under `--read-only` the tmpfs on `/tmp`, where the image's
/// file is not what the container sees), a directory, and under `--read-only` one the image lacks.
fn placement(rootfs: &Checked, target: &str, read_only: bool) -> Result<Option<String>, Error> {
    let ours = |path: &str| {
        let mut mounted = vec!["/proc", "/sys", "/dev"];
        if read_only {
            mounted.push("/tmp");
        }
        mounted.into_iter().any(|dir| path == dir || path.starts_with(&format!("{dir}/")))
    };
    let left_out = |why: String| {
        log!("{target} in the rootfs {why}: the container gets no generated {target}");
        Ok(None)
    };
    let root = Root(rootfs.pinned());
    let step = || format!("looking up {target} in the rootfs");
    let found = match root.lookup(target, Last::Follow, Missing::Refuse) {
        Ok(found) => found.object,
        Err(Errno(libc::ENOENT)) => None,
        Err(errno) => return Err(Error::sys(step(), errno)),
    };
    match found {
        Some(object) => {
            let inside = sys::path_of(&object)
                .ok()
                .and_then(|host| host.strip_prefix(rootfs.path.trim_end_matches('/')).map(str::to_string))
                .filter(|inside| inside.starts_with('/'));
            let is_dir = sys::file_type(&sys::fstat(&object).map_err(|errno| Error::sys(step(), errno))?) == libc::S_IFDIR;
            match inside {
                _ if is_dir => left_out("is a directory".into()),
                Some(inside) if ours(&inside) => left_out(format!("leads to {inside}, where contain mounts a filesystem of its own")),
                Some(inside) => Ok(Some(inside)),
                None => left_out("leads out of the rootfs".into()),
            }
        }
        None => match dangling_link(&root, target)? {
            Some(lead) if ours(&lead) => left_out(format!("leads to {lead}, where contain mounts a filesystem of its own")),
            _ if read_only => left_out(
                "does not exist, and contain does not write to a read-only image (create it in the image, or add --overlay)".into(),
            ),
            _ => Ok(Some(target.to_string())),
        },
    }
}

/// Where `target`, a symlink whose end is missing, points (its own text, made absolute against its
/// directory): the mount point the child would make there.
fn dangling_link(root: &Root, target: &str) -> Result<Option<String>, Error> {
    let link = match root.lookup(target, Last::NoFollow, Missing::Refuse) {
        Ok(found) => found.object,
        Err(_) => None,
    };
    let Some(link) = link else { return Ok(None) };
    let Ok(text) = sys::readlink_at(Dir::Fd(&link), c"") else { return Ok(None) };
    let dir = target.rsplit_once('/').map_or("", |(dir, _)| dir);
    let joined = if text.starts_with('/') { text } else { format!("{dir}/{text}") };
    Ok(Some(lexical(&joined)))
}

/// `path` with `..` and `.` taken lexically, as the lookup inside the root takes them (never
/// above `/`), and without doubled or trailing slashes: `/etc//hosts/` is `/etc/hosts`.
fn lexical(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => drop(parts.pop()),
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether `path` is `dir` or inside it (both lexical).
fn is_under(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
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
