//! The steps of a container's birth, in the order they happen: the one list that the headers of
//! spawn.rs (the runtime's side) and child.rs (the container's side), the README's guide and
//! `--explain`'s headings follow. The unit tests below hold each of those texts to it, so a step
//! added, dropped or moved here fails them until the texts say the same.
//! `begin` marks where each step starts, in spawn.rs and child.rs, for `--explain` (explain.rs).

use std::sync::OnceLock;

use crate::sys::trace;

/// Which process takes a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// contain itself, outside the container (spawn.rs).
    Runtime,
    /// The child of clone3, becoming the container (child.rs).
    Child,
}

/// One step: its name (a heading), who takes it, what it does, where to read it, and why it is
/// done so (printed under its heading by `--explain`, so that its output alone answers a learner).
/// The code reads the last three only from the texts build.rs packs (`about`).
#[cfg_attr(not(test), allow(dead_code))]
pub struct Step {
    pub name: &'static str,
    pub side: Side,
    pub what: &'static str,
    pub code: &'static str,
    pub why: &'static str,
}

const fn step(name: &'static str, side: Side, what: &'static str, code: &'static str, why: &'static str) -> Step {
    Step { name, side, what, code, why }
}

/// The birth, in order. Each side's steps keep their order; the runtime's "release" is where the
/// child's steps begin. Only `--explain` reads the steps' texts: build.rs packs them from this list,
/// and `about` gives them back; the code finds a step by name when it is compiled (`index`).
pub const STEPS: [Step; 19] = [
    step(
        "channels",
        Side::Runtime,
        "the handshake's pipes, the sealed exec stub, the v1 cgroups' tasks files",
        "birth/handshake.rs, birth/stub.rs",
        "Two pipes carry the whole handshake; the command will be exec'd through a tiny program sealed in a memfd, \
         never by a process running the runtime's own binary (CVE-2019-5736); on cgroup v1 the runtime opens each \
         hierarchy's tasks file for the child to write itself into.",
    ),
    step(
        "stack",
        Side::Runtime,
        "the child's stack, with a guard page",
        "birth/clone.rs `ChildStack`",
        "The child runs on a stack of its own: it starts in `child_main` at the top of this fresh stack, entered \
         from a few instructions of assembly (clone.rs), as glibc's clone() does, instead of returning into a copy \
         of the runtime's frames as after a fork; the guard page below turns a runaway recursion into a fault \
         rather than a write over other memory.",
    ),
    step(
        "namespaces",
        Side::Runtime,
        "clone3 into new namespaces (and into the cgroup2 directory)",
        "birth/clone.rs, birth/spawn.rs `clone_into`",
        "One clone3 makes the process and its new namespaces at once; the runtime stays outside them, to place, \
         map and watch the child from the host.",
    ),
    step(
        "cgroup",
        Side::Runtime,
        "the child into its cgroup2 directory, where it could not be born there",
        "cgroup/ `attach_dirs`, `Joining`",
        "The child waits for \"go\" until it is in its cgroup: nothing it allocates or starts escapes the limits.",
    ),
    step(
        "id maps",
        Side::Runtime,
        "the user namespace's uid and gid maps; idmapped trees",
        "birth/userns.rs",
        "Only a process outside a user namespace may write its maps; until then the child has no capability in it.",
    ),
    step(
        "network",
        Side::Runtime,
        "the veth pair, its peer in the child's namespace; its NAT and walls",
        "net/ `Veth::create`",
        "The pair is made on the host and its peer moved into the child's network namespace before the child \
         looks for it.",
    ),
    step(
        "release",
        Side::Runtime,
        "\"go\", then the child's report",
        "birth/handshake.rs `release`",
        "One byte starts the child; its report (a byte just before its exec, then end of file when the exec \
         closes the pipe) says the command runs.",
    ),
    step(
        "terminal",
        Side::Runtime,
        "the user's terminal handed over to the container's pty",
        "live/tty.rs",
        "Only once the command runs is the user's terminal made raw and relayed.",
    ),
    step(
        "go",
        Side::Child,
        "wait for \"go\"; into its v1 cgroups; what /proc tells while it is still the host's",
        "birth/child.rs `prepare`",
        "Until the runtime writes \"go\" the child has neither its id maps nor its network, so it only waits; \
         then, on cgroup v1, it writes itself (0) into each tasks file the runtime opened, which costs none of the \
         RCU wait a pid written into cgroup.procs by another process does.",
    ),
    step(
        "user",
        Side::Child,
        "root of its user namespace",
        "birth/child.rs `become_root_of_user_namespace`",
        "In a user namespace, the child takes the ids its maps give root, to hold its capabilities there.",
    ),
    step(
        "enter",
        Side::Child,
        "the bundle's namespaces, a session, private mounts, the hostname",
        "birth/child.rs `enter_namespaces`",
        "Propagation is made private before anything is mounted, so no mount of the container reaches the host.",
    ),
    step(
        "rootfs",
        Side::Child,
        "the rootfs reopened and checked, the overlay, the new root",
        "birth/child.rs `create_container`",
        "The rootfs is bound onto itself (open_tree, then move_mount: a bind mount) because pivot_root(2) needs \
         the new root to be a mount point, which a plain directory is not; the plan's mounts go inside that mount.",
    ),
    step(
        "mounts",
        Side::Child,
        "the mount plan, applied inside the new root",
        "mounts/apply.rs `apply`",
        "/proc, /dev, /sys and the volumes are mounted inside the new root before the pivot, each target opened \
         and checked, never followed out of the root.",
    ),
    step(
        "pivot",
        Side::Child,
        "pivot_root(\".\", \".\"): the old root detached",
        "birth/child.rs `pivot_into`",
        "pivot_root(\".\", \".\"): the old root stacks under the new one, so no .oldroot directory is needed in \
         the image; umount2(MNT_DETACH) then takes the host's tree away from the container.",
    ),
    step(
        "masks",
        Side::Child,
        "sysctls, masks, the working directory, read-only",
        "mounts/apply.rs `apply_masks`",
        "After the pivot, from inside: the paths that must not be read are covered, those not to be written made \
         read-only.",
    ),
    step(
        "network",
        Side::Child,
        "lo up; eth0's address and route",
        "birth/child.rs `bring_up_network`",
        "From inside the container's network namespace, over netlink.",
    ),
    step(
        "privileges",
        Side::Child,
        "signals, limits, stdio; capabilities, ids, no_new_privs",
        "birth/privileges.rs",
        "The capabilities not kept leave the bounding set one PR_CAPBSET_DROP each (named below), then the ids \
         are set, capset keeps the rest, and no_new_privs stops any exec from gaining one back.",
    ),
    step(
        "seccomp",
        Side::Child,
        "the filter, last before the exec",
        "policy/seccomp/, birth/privileges.rs",
        "Installed last, so the runtime's own setup is not filtered: prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER), \
         allowed by no_new_privs (a process without it installs the filter before its capabilities go, while it \
         still has CAP_SYS_ADMIN), applies the BPF program (its length below) to every later call of this \
         process, the stub and the command.",
    ),
    step(
        "exec",
        Side::Child,
        "the sealed stub execs the command",
        "birth/stub.rs, birth/stub/program.rs",
        "execveat of the sealed memfd: from here on no process of the container runs the runtime's binary; the \
         report pipe closes at the command's exec, which tells the runtime it runs.",
    ),
];

/// Step `index`'s name, what it does, where to read it and why it is done so (its `name`, `what`,
/// `code` and `why`).
pub fn about(index: usize) -> Option<[&'static str; 4]> {
    static TEXT: OnceLock<String> = OnceLock::new();
    // Packed by build.rs (`pack_steps`): text nothing but `--explain` reads, unpacked once it asks.
    let text = crate::text::unpack_once(&TEXT, include_bytes!(concat!(env!("OUT_DIR"), "/steps.packed")));
    let mut lines = text.split('\n').skip(4 * index);
    Some([lines.next()?, lines.next()?, lines.next()?, lines.next()?])
}

/// Where the step `name` of `side` is in `STEPS`, found when compiling (a name it lacks fails the
/// build).
pub const fn index(side: Side, name: &str) -> usize {
    let mut i = 0;
    while i < STEPS.len() {
        if STEPS[i].side as u8 == side as u8 && crate::text::same(STEPS[i].name, name) {
            return i;
        }
        i += 1;
    }
    panic!("no such step")
}

/// The step `name` of `side` begins: a mark in the trace while `--explain` records (the hook's one
/// branch otherwise). The step's place in `STEPS` is found when compiling (`index`), so a name that
/// is no step fails the build, and a birth compares no names.
macro_rules! begin {
    ($side:expr, $name:literal) => {
        $crate::birth::steps::mark({
            const STEP: usize = $crate::birth::steps::index($side, $name);
            STEP
        })
    };
}
pub(crate) use begin;

/// Step `index` begins (`begin!`).
pub fn mark(index: usize) {
    if trace::on() {
        trace::mark(trace::STEP, index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbered items of a file's header (`//! 3. NAME: ...`): their names, in order.
    fn header_steps(source: &str) -> Vec<String> {
        let header = source.lines().take_while(|line| line.starts_with("//!"));
        header
            .filter_map(|line| {
                let item = line.trim_start_matches("//!").trim_start();
                let (number, rest) = item.split_once(". ")?;
                number.parse::<u32>().ok()?;
                Some(rest.split_once(':')?.0.to_string())
            })
            .collect()
    }

    fn names(side: Side) -> Vec<String> {
        STEPS.iter().filter(|step| step.side == side).map(|step| step.name.to_string()).collect()
    }

    #[test]
    fn the_packed_texts_are_those_of_the_steps() {
        for (i, step) in STEPS.iter().enumerate() {
            assert_eq!(index(step.side, step.name), i);
            assert_eq!(about(i), Some([step.name, step.what, step.code, step.why]), "step {}", step.name);
        }
        assert_eq!(about(STEPS.len()), None);
    }

    #[test]
    fn the_headers_of_spawn_and_child_number_the_steps_in_order() {
        assert_eq!(header_steps(include_str!("spawn.rs")), names(Side::Runtime), "spawn.rs's header");
        assert_eq!(header_steps(include_str!("child.rs")), names(Side::Child), "child.rs's header");
    }

    /// The README's guide: a table of the steps, between two markers.
    fn guide() -> String {
        let mut table = String::from("| | step | what | read it in |\n| --- | --- | --- | --- |\n");
        for (i, step) in STEPS.iter().enumerate() {
            let side = match step.side {
                Side::Runtime => "runtime",
                Side::Child => "container",
            };
            table.push_str(&format!("| {} | {side}: **{}** | {} | {} |\n", i + 1, step.name, step.what, step.code));
        }
        table
    }

    const BEGIN: &str = "<!-- the birth's steps: src/birth/steps.rs -->\n";
    const END: &str = "<!-- end of the steps -->";

    /// With CONTAIN_WRITE_GUIDE=1 the test writes the table into the README instead.
    #[test]
    fn the_readmes_guide_is_the_list_of_steps() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let start = readme.find(BEGIN).expect("the README's guide begins with its marker") + BEGIN.len();
        let end = start + readme[start..].find(END).expect("and ends with one");
        if std::env::var_os("CONTAIN_WRITE_GUIDE").is_some() {
            std::fs::write(path, format!("{}{}{}", &readme[..start], guide(), &readme[end..])).unwrap();
            return;
        }
        assert_eq!(readme[start..end], guide(), "run the test with CONTAIN_WRITE_GUIDE=1 to write it");
    }
}
