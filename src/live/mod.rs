//! The runtime's side while a container lives: signals and the stop policy (`supervise`), and the
//! terminal and its byte relay (`tty`).

pub mod supervise;
pub mod tty;
