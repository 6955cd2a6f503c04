//! What `contain run` refuses before anything starts, each with the flag and value it is about:
//! what the flags alone rule out, what needs root, what an unmapped user or a name that lives in
//! another of the user's state directories rules out.

use crate::birth::userns::{self, IdMaps};
use crate::birth::users::Resolved;
use crate::cgroup::Limits;
use crate::cli::{Net, RunSpec, Userns};
use crate::error::{Context, Error};
use crate::hostpath::Checked;
use crate::lifecycle::manage;
use crate::lifecycle::state::StateDir;
use crate::sys;

/// What the flags alone tell `contain run` to refuse (the first check).
pub fn check_flags(spec: &RunSpec, root: bool) -> Result<(), Error> {
    if spec.userns == Userns::Auto {
        refuse_beside_auto(spec, root, sys::runtime_euid())?;
    } else if let Some(volume) = spec.volumes.iter().find(|volume| volume.idmap) {
        return Err(Error::usage(format!(
            "--volume {:?}: idmap needs --userns auto (without it, the container's ids are the host's already)",
            format!("{}:{}", volume.host, volume.target)
        )));
    }
    Ok(())
}

/// What a container without root cannot have, refused before anything starts.
pub fn refuse_what_needs_root(
    spec: &RunSpec,
    user: Option<&Resolved>,
    maps: Option<&IdMaps>,
    rootfs: &Checked,
) -> Result<(), Error> {
    if let Net::Veth(..) = spec.net {
        return Err(Error::usage(
            "--net veth needs root (the host end of the pair is made in the host's network namespace): \
             use --net none or --net host"
                .into(),
        ));
    }
    if let Some(maps) = maps.filter(|_| spec.overlay) {
        // overlayfs copies a file up with its owner, which the container's user namespace must
        // map: in an image of ids it does not (root's, say) every write fails, with EACCES or
        // EOVERFLOW. Judged by the image's top directory, as an image has one owner as a rule.
        let owner = rootfs.owner()?;
        if !maps.maps_host_uid(owner) {
            return Err(Error::usage(format!(
                "--overlay: the rootfs {:?} belongs to uid {owner}, which has no id in your user namespace: \
                 overlayfs could copy none of its files up (build the image as yourself, or go without --overlay)",
                spec.rootfs
            )));
        }
    }
    let single_id = maps.is_some_and(IdMaps::single_id);
    if let Some(user) = user.filter(|user| single_id && (user.uid, user.gid) != (0, 0)) {
        return Err(Error::usage(format!(
            "--user {}:{}: a rootless container without subordinate ids has no user but root \
             (add a range for you to /etc/subuid and /etc/subgid, and install uidmap)",
            user.uid, user.gid
        )));
    }
    Ok(())
}

/// What `--userns auto` does not go with, refused before anything starts.
pub fn refuse_beside_auto(spec: &RunSpec, root: bool, euid: u32) -> Result<(), Error> {
    if !root && euid == 0 {
        return Err(Error::usage(
            "--userns auto needs the host's root (this is root of a user namespace, which has no other ids to lease)"
                .into(),
        ));
    }
    if !root {
        return Err(Error::usage(
            "--userns auto needs root (without root, contain run always makes a user namespace, whose root is you)"
                .into(),
        ));
    }
    let why = if spec.overlay {
        "--overlay (its layer is in the state directory, which only the host's root may enter)"
    } else {
        return Ok(());
    };
    Err(Error::usage(format!("--userns auto cannot be combined with {why}")))
}

/// Root of a user namespace that is not the host's runs containers with the ids that namespace
/// has (it makes none of its own): a `--user` it does not map is refused before anything starts.
pub fn refuse_unmapped_user(user: Option<&Resolved>) -> Result<(), Error> {
    let Some(user) = user else { return Ok(()) };
    let map = |path: &str| sys::read_file(&crate::error::cpath(path)?).step(|| format!("read({path})"));
    let (uids, gids) = (map("/proc/self/uid_map")?, map("/proc/self/gid_map")?);
    if userns::maps_inside(&uids, user.uid) && userns::maps_inside(&gids, user.gid) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "--user {}:{}: this user namespace (not the host's) has no such id: its uid_map is {:?}",
        user.uid,
        user.gid,
        uids.split_whitespace().collect::<Vec<_>>().join(" ")
    )))
}

/// The flag of the first limit `contain run` was given, if any (--cpu and --cpus set one value):
/// what a container without a cgroup refuses.
pub fn limit_flag(limits: &Limits) -> Option<&'static str> {
    [
        (limits.memory_bytes.is_some(), "--memory"),
        (limits.cpu_quota_us.is_some(), "--cpu/--cpus"),
        (limits.pids.is_some(), "--pids"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// Refuses the name `id` when it lives in another of the user's state directories (`elsewhere`,
/// see `lifecycle::state_dirs`), so that a user's containers never split between two: what only a
/// dead runtime left there does not count. (Two runs of one name that choose two directories at
/// the very same moment are not told apart.)
pub fn refuse_name_elsewhere(elsewhere: &[StateDir], id: &str) -> Result<(), Error> {
    for state in elsewhere {
        let Some(entry) = state.entry(id)? else { continue };
        match manage::liveness(&entry)? {
            manage::Liveness::Leftover(_) | manage::Liveness::Gone => {}
            manage::Liveness::Live(_) => {
                return Err(Error::setup(format!(
                    "a container named {id} is already running (its entry is {}): choose another --name",
                    entry.path
                )))
            }
            _ => {
                return Err(Error::setup(format!(
                    "{} holds what a container of that name left: remove it or choose another --name",
                    entry.path
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::net::firewall::Firewall;

    #[test]
    fn userns_auto_needs_root_and_goes_without_host_network_and_overlay() {
        let spec = |net, overlay| RunSpec { userns: Userns::Auto, net, overlay, ..Default::default() };
        let refusal = |spec: RunSpec, root, euid| match refuse_beside_auto(&spec, root, euid).map_err(Error::into_kind)
        {
            Err(ErrorKind::Usage(message)) => message,
            other => panic!("not refused: {other:?}"),
        };
        assert!(refuse_beside_auto(&spec(Net::None, false), true, 0).is_ok());
        assert!(refuse_beside_auto(&spec(Net::Veth(None, Firewall::Isolated), false), true, 0).is_ok());
        assert!(refusal(spec(Net::None, false), false, 1000).starts_with("--userns auto needs root"));
        let namespace_root = refusal(spec(Net::None, false), false, 0);
        assert!(namespace_root.starts_with("--userns auto needs the host's root"), "{namespace_root}");
        assert!(refuse_beside_auto(&spec(Net::Host, false), true, 0).is_ok(), "the host's /sys is bound then");
        assert!(refusal(spec(Net::None, true), true, 0).starts_with("--userns auto cannot be combined with --overlay"));
    }

    #[test]
    fn the_first_limit_given_is_named_by_its_flag() {
        assert_eq!(limit_flag(&Limits::default()), None);
        assert_eq!(limit_flag(&Limits { pids: Some(64), ..Default::default() }), Some("--pids"));
        let two = Limits { memory_bytes: Some(1 << 20), cpu_quota_us: Some(50000), ..Default::default() };
        assert_eq!(limit_flag(&two), Some("--memory"));
        assert_eq!(limit_flag(&Limits { cpu_quota_us: Some(1), ..Default::default() }), Some("--cpu/--cpus"));
    }
}
