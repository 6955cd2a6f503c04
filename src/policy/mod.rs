//! What a container may do: capabilities (`caps`), the seccomp filter (`seccomp`) over the
//! call-number tables (`syscalls`), and the device rules (`devices`).

pub mod caps;
pub mod devices;
pub mod seccomp;
pub mod syscalls;
pub mod users;
