//! The OCI bundle: config.json read into plain values (`spec`, with its cgroup limits in
//! `resources` and the rules every field follows in `fields`), and its hooks (`hooks`).

pub mod fields;
pub mod hooks;
pub mod resources;
pub mod spec;
