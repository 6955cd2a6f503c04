//! Who the command runs as and what it may do: `Privileges` holds the identity, the five
//! capability sets (see policy/caps.rs), no_new_privs and the seccomp program (see
//! policy/seccomp/), computed in the runtime (pure, unit-tested) and applied by the child just
//! before exec (`drop_privileges`).

use crate::birth::handshake::ChildEnds;
use crate::birth::steps::{begin, Side};
use crate::error::{Context, Error};
use crate::policy::caps::{self, CapSet};
use crate::policy::seccomp;
use crate::sys::{self, Errno};

/// Who the command runs as: user, group and supplementary groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Everything the child applies to itself just before exec.
#[derive(Clone, Default)]
pub struct Privileges {
    pub identity: Identity,
    /// What execve can ever hand out again: root gets every capability in it.
    pub bounding: CapSet,
    pub effective: CapSet,
    pub permitted: CapSet,
    pub inheritable: CapSet,
    pub ambient: CapSet,
    pub no_new_privs: bool,
    /// The seccomp filter, or None (`--privileged`).
    pub seccomp: Option<Vec<libc::sock_filter>>,
}

impl Privileges {
    /// `contain run`'s rule: the kept set `caps` (None: `--privileged`, everything the runtime
    /// has, with no no_new_privs and no seccomp) for root; nothing but the bounding set for any
    /// other user.
    pub fn confined(identity: Identity, caps: Option<CapSet>, available: CapSet) -> Result<Privileges, Error> {
        let (set, confined) = match caps {
            Some(set) => (set, true),
            None => (available, false),
        };
        let held = if identity.uid == 0 { set } else { CapSet::default() };
        Ok(Privileges {
            identity,
            bounding: set,
            effective: held,
            permitted: held,
            inheritable: CapSet::default(),
            ambient: CapSet::default(),
            no_new_privs: confined,
            seccomp: confined.then(|| default_filter(set)).transpose()?,
        })
    }

    /// These privileges with each capability set cut to `kept`, what a container keeps.
    pub fn within(self, kept: CapSet) -> Privileges {
        let cut = |set: CapSet| CapSet(set.0 & kept.0);
        Privileges {
            bounding: cut(self.bounding),
            effective: cut(self.effective),
            permitted: cut(self.permitted),
            inheritable: cut(self.inheritable),
            ambient: cut(self.ambient),
            ..self
        }
    }
}

/// The default seccomp program (Docker's allowlist) for a container that keeps `caps`.
fn default_filter(caps: CapSet) -> Result<Vec<libc::sock_filter>, Error> {
    seccomp::default_program(caps).map_err(|err| Error::setup(format!("the default seccomp filter: {err}")))
}

/// The last step before execve: who the command runs as and what it may do. The bounding set is
/// what counts for root: execve gives uid 0 every capability in it, so dropping from it is what
/// really takes one away. `setgroups_denied`: the user namespace denies setgroups (see
/// `ChildConfig`). `keeper`: the runtime that keeps the container (its handshake ends), whose
/// death must still kill it after the uid change.
pub fn drop_privileges(
    privileges: &Privileges,
    setgroups_denied: bool,
    keeper: Option<&ChildEnds>,
) -> Result<(), Error> {
    let Privileges { identity, bounding, effective, permitted, inheritable, ambient, no_new_privs, seccomp } =
        privileges;
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which the command may not
    // keep: then it goes first (as runc does), and must allow the calls below.
    if let (false, Some(program)) = (no_new_privs, seccomp) {
        sys::install_seccomp_filter(program).step(|| "prctl(PR_SET_SECCOMP, filter)".into())?;
    }
    // The permitted set survives the uid change below only with this (for an OCI process that
    // keeps capabilities as a non-root user; `contain run` gives such a user none).
    sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0).step(|| "prctl(PR_SET_KEEPCAPS, 1)".into())?;
    for cap in (0..64).filter(|&cap| !bounding.contains(cap)) {
        match sys::prctl(libc::PR_CAPBSET_DROP, cap as u64, 0) {
            Ok(_) => {}
            Err(Errno(libc::EINVAL)) => break, // past the kernel's last capability
            Err(errno) => return Err(Error::sys(format!("prctl(PR_CAPBSET_DROP, CAP_{})", caps::name(cap)), errno)),
        }
    }
    let (uid, gid) = (identity.uid, identity.gid);
    // A rootless user namespace without subordinate ids denies setgroups (see userns.rs): the
    // process keeps the groups it was born with, the caller's own, which are also its init's (so
    // `exec` asks for them). The kernel denies setgroups there so that nobody can drop a group
    // that takes rights away; keeping them gains nothing. (The runtime tells: a /proc read here
    // would go through whatever the bundle mounted on /proc.)
    sys::switch_user(uid, gid, (!setgroups_denied).then_some(&identity.groups[..]))
        .map_err(|(call, errno)| Error::sys(format!("{call}({uid}:{gid})"), errno))?;
    sys::capset(effective.words(), permitted.words(), inheritable.words()).step(|| {
        format!("capset(effective {:#x}, permitted {:#x}, inheritable {:#x})", effective.0, permitted.0, inheritable.0)
    })?;
    sys::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64, 0)
        .step(|| "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)".into())?;
    // The kernel takes an ambient capability only if it is permitted and inheritable too; crun's
    // own default spec asks for ambient ones it does not make inheritable, and crun skips those.
    // So do we, saying so under --debug.
    for cap in (0..64).filter(|&cap| ambient.contains(cap)) {
        if !(permitted.contains(cap) && inheritable.contains(cap)) {
            log!("ambient CAP_{} skipped: not both permitted and inheritable", caps::name(cap));
            continue;
        }
        sys::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as u64, cap as u64)
            .step(|| format!("prctl(PR_CAP_AMBIENT_RAISE, CAP_{})", caps::name(cap)))?;
    }
    if *no_new_privs {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).step(|| "prctl(PR_SET_NO_NEW_PRIVS, 1)".into())?;
    }
    if let Some(handshake) = keeper {
        // The kernel clears the parent-death signal when the uid changes: set it again, then make
        // sure the runtime did not die in between (its signal would have gone nowhere).
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64, 0)
            .step(|| "prctl(PR_SET_PDEATHSIG, SIGKILL)".into())?;
        handshake.check_runtime_alive()?;
    }
    // Last: after this, the refused calls fail even for us.
    begin!(Side::Child, "seccomp");
    if let (true, Some(program)) = (no_new_privs, seccomp) {
        sys::install_seccomp_filter(program).step(|| "prctl(PR_SET_SECCOMP, filter)".into())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_root_command_holds_no_capability_at_all() {
        let user = Identity { uid: 1000, gid: 1000, groups: vec![] };
        let privileges = Privileges::confined(user, Some(CapSet::default_set()), CapSet::ALL).unwrap();
        assert_eq!(privileges.bounding, CapSet::default_set());
        for set in [privileges.effective, privileges.permitted, privileges.inheritable, privileges.ambient] {
            assert_eq!(set, CapSet::default());
        }
        let root = Privileges::confined(Identity::default(), Some(CapSet::default_set()), CapSet::ALL).unwrap();
        assert_eq!((root.permitted, root.inheritable), (CapSet::default_set(), CapSet::default()));
        assert!(root.no_new_privs && root.seccomp.is_some());
        let privileged = Privileges::confined(Identity::default(), None, CapSet(0xff)).unwrap();
        assert_eq!(privileged.bounding, CapSet(0xff));
        assert!(!privileged.no_new_privs && privileged.seccomp.is_none());
    }
}
