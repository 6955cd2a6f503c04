//! The steps of a container's birth, in the order they happen: the one list that the headers of
//! spawn.rs (the runtime's side) and child.rs (the container's side), the README's guide and
//! `--explain`'s headings follow. The unit tests below hold each of those texts to it, so a step
//! added, dropped or moved here fails them until the texts say the same.
//! `begin` marks where each step starts, in spawn.rs and child.rs, for `--explain` (explain.rs).

use crate::sys::trace;

/// Which process takes a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// contain itself, outside the container (spawn.rs).
    Runtime,
    /// The child of clone3, becoming the container (child.rs).
    Child,
}

/// One step: its name (a heading), who takes it, what it does, and where to read it.
pub struct Step {
    pub name: &'static str,
    pub side: Side,
    pub what: &'static str,
    pub code: &'static str,
}

const fn step(name: &'static str, side: Side, what: &'static str, code: &'static str) -> Step {
    Step { name, side, what, code }
}

/// The birth, in order. Each side's steps keep their order; the runtime's "release" is where the
/// child's steps begin.
pub const STEPS: [Step; 19] = [
    step(
        "channels",
        Side::Runtime,
        "the handshake's pipes, the sealed exec stub, the v1 cgroups' tasks files",
        "birth/handshake.rs, birth/stub.rs",
    ),
    step("stack", Side::Runtime, "the child's stack, with a guard page", "birth/clone.rs `ChildStack`"),
    step(
        "namespaces",
        Side::Runtime,
        "clone3 into new namespaces (and into the cgroup2 directory)",
        "birth/clone.rs, birth/spawn.rs `clone_into`",
    ),
    step(
        "cgroup",
        Side::Runtime,
        "the child into its cgroup2 directory, where it could not be born there",
        "cgroup/ `attach_dirs`, `Joining`",
    ),
    step("id maps", Side::Runtime, "the user namespace's uid and gid maps; idmapped trees", "birth/userns.rs"),
    step(
        "network",
        Side::Runtime,
        "the veth pair, its peer in the child's namespace; its NAT and walls",
        "net/ `Veth::create`",
    ),
    step("release", Side::Runtime, "\"go\", then the child's report", "birth/handshake.rs `release`"),
    step("terminal", Side::Runtime, "the user's terminal handed over to the container's pty", "live/tty.rs"),
    step(
        "go",
        Side::Child,
        "wait for \"go\"; into its v1 cgroups; what /proc tells while it is still the host's",
        "birth/child.rs `prepare`",
    ),
    step("user", Side::Child, "root of its user namespace", "birth/child.rs `become_root_of_user_namespace`"),
    step(
        "enter",
        Side::Child,
        "the bundle's namespaces, a session, private mounts, the hostname",
        "birth/child.rs `enter_namespaces`",
    ),
    step(
        "rootfs",
        Side::Child,
        "the rootfs reopened and checked, the overlay, the new root",
        "birth/child.rs `create_container`",
    ),
    step("mounts", Side::Child, "the mount plan, applied inside the new root", "mounts/apply.rs `apply`"),
    step("pivot", Side::Child, "pivot_root(\".\", \".\"): the old root detached", "birth/child.rs `pivot_into`"),
    step("masks", Side::Child, "sysctls, masks, the working directory, read-only", "mounts/apply.rs `apply_masks`"),
    step("network", Side::Child, "lo up; eth0's address and route", "birth/child.rs `bring_up_network`"),
    step("privileges", Side::Child, "signals, limits, stdio; capabilities, ids, no_new_privs", "birth/privileges.rs"),
    step("seccomp", Side::Child, "the filter, last before the exec", "policy/seccomp/, birth/privileges.rs"),
    step("exec", Side::Child, "the sealed stub execs the command", "birth/stub.rs, birth/stub/program.rs"),
];

/// The step `name` of `side` begins: a mark in the trace while `--explain` records (the hook's one
/// branch otherwise).
pub fn begin(side: Side, name: &str) {
    if trace::on() {
        if let Some(index) = STEPS.iter().position(|step| step.side == side && step.name == name) {
            trace::mark_step(index);
        }
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
