//! The OCI bundle: config.json read into plain values (`spec`) and its hooks (`hooks`).

pub mod hooks;
pub mod spec;
