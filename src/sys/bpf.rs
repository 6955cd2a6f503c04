//! eBPF: loading the device filter that cgroup v2 runs on every device access of the container
//! (cgroup v2 has no devices.allow file; see devices.rs for the program itself).

use std::ffi::CStr;

use super::{check, Errno, Fd};

/// One eBPF instruction, the kernel's `struct bpf_insn` (<linux/bpf.h>): 8 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    /// `dst_reg:4` and `src_reg:4`, C bitfields: which half is which follows the byte order.
    regs: u8,
    /// Jumps: how many instructions to skip after this one.
    pub off: i16,
    pub imm: i32,
}

impl BpfInsn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
        let regs = if cfg!(target_endian = "little") { dst | src << 4 } else { dst << 4 | src };
        BpfInsn { code, regs, off, imm }
    }

    #[cfg(test)]
    pub fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0xf
        } else {
            self.regs >> 4
        }
    }

    #[cfg(test)]
    pub fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0xf
        }
    }
}

// From <linux/bpf.h>.
const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_ATTACH: u32 = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
const BPF_OBJ_NAME_LEN: usize = 16;

/// The head of `union bpf_attr` as BPF_PROG_LOAD reads it, up to `prog_name`: the kernel takes a
/// shorter attr than its own and treats the rest as zero.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; BPF_OBJ_NAME_LEN],
}

/// `union bpf_attr` as BPF_PROG_ATTACH reads it.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// What `bpftool prog` and `bpftool cgroup tree` show for the program.
const PROGRAM_NAME: &[u8] = b"contain_devices";

/// bpf(2) BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program: the kernel's verifier checks it
/// (every path ends, only the context is read, r0 is set at exit) and returns its descriptor.
/// `log`, when given, receives the verifier's account of why it refused the program. The
/// license matters only to GPL-only helpers, which the program does not call.
pub fn bpf_load_device_program(insns: &[BpfInsn], license: &CStr, log: Option<&mut [u8]>) -> Result<Fd, Errno> {
    let mut prog_name = [0u8; BPF_OBJ_NAME_LEN];
    prog_name[..PROGRAM_NAME.len()].copy_from_slice(PROGRAM_NAME);
    let (log_level, log_size, log_buf) = match log {
        Some(buf) => (1, buf.len() as u32, buf.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
    };
    let size = std::mem::size_of::<ProgLoadAttr>();
    // SAFETY: `attr` points at the instructions, the NUL-terminated license and the log buffer,
    // all alive across the call; the kernel copies the program and writes at most `log_size`
    // bytes of log.
    let fd = check(unsafe { syscall!(BPF, BPF_PROG_LOAD, &attr as *const ProgLoadAttr, size) })?;
    Ok(Fd(fd as i32))
}

/// bpf(2) BPF_PROG_ATTACH of a device program to a cgroup v2 directory, from then on consulted
/// on every open and mknod of a device by a process in that cgroup or below. BPF_F_ALLOW_MULTI,
/// as crun: programs that an engine attached above keep running too (all must allow), and one
/// below cannot be refused for being there. The attachment holds the program: `program` may be
/// closed afterwards; removing the cgroup detaches it.
pub fn bpf_attach_device_program(cgroup_dir: &Fd, program: &Fd) -> Result<(), Errno> {
    let attr = ProgAttachAttr {
        target_fd: cgroup_dir.0 as u32,
        attach_bpf_fd: program.0 as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    let size = std::mem::size_of::<ProgAttachAttr>();
    // SAFETY: the kernel reads `size` bytes of `attr`, which lives across the call.
    check(unsafe { syscall!(BPF, BPF_PROG_ATTACH, &attr as *const ProgAttachAttr, size) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_match_the_kernel_layouts() {
        assert_eq!(std::mem::size_of::<BpfInsn>(), 8);
        // offsetof(union bpf_attr, prog_ifindex) and offsetof(.., replace_bpf_fd).
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 64);
        assert_eq!(std::mem::size_of::<ProgAttachAttr>(), 16);
        assert!(PROGRAM_NAME.len() < BPF_OBJ_NAME_LEN, "room for the NUL");
    }

    #[test]
    fn registers_pack_into_the_bitfields() {
        let insn = BpfInsn::new(0x61, 2, 1, 4, 0);
        assert_eq!((insn.dst(), insn.src()), (2, 1));
        if cfg!(target_endian = "little") {
            // What a C compiler makes of `{.dst_reg = 2, .src_reg = 1}` on x86_64 and aarch64.
            assert_eq!(insn.regs, 0x12);
        }
    }
}
