//! What a container may do: capabilities (`caps`), the seccomp filter (`seccomp`) over the
//! call-number tables (`syscalls`, whose rows are `syscall_table`), and the device rules (`devices`).

pub mod caps;
pub mod devices;
pub mod seccomp;
pub mod syscall_table;
pub mod syscalls;
