//! The birth of a container: the description of its process (`process`), the runtime's side
//! (`spawn`), the clone3 trampoline (`clone`), their protocol (`handshake`), the child's side
//! (`child`), who the command runs as and what it may do (`privileges`; names looked up in the
//! image: `users`), user namespaces (`userns`) and the sealed exec stub (`stub`).

pub mod child;
#[allow(unsafe_code)]
pub mod clone;
pub mod explain;
pub mod handshake;
pub mod privileges;
pub mod process;
pub mod spawn;
// The list of the birth's steps that the texts and `--explain` follow.
pub mod steps;
pub mod stub;
pub mod userns;
pub mod users;
