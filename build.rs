//! Two jobs before the crate is compiled:
//! - stamp `contain --version` with the git revision it was built from, so a static binary copied
//!   onto a minimal VM still says exactly which source it is;
//! - build the exec stub (src/birth/stub/program.rs, see its header) that src/birth/stub.rs embeds.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

use std::env;
use std::path::PathBuf;
use std::process::Command;

const STUB_SOURCE: &str = "src/birth/stub/program.rs";

fn main() {
    stamp_revision();
    build_stub();
}

fn stamp_revision() {
    let revision = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CONTAIN_REVISION={revision}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
}

/// Compiles the stub into $OUT_DIR/contain-stub with the same rustc, for the crate's own target:
/// the stub needs only `core`, which that target has installed whenever the crate itself builds,
/// and, using no C library, it is the same program for the gnu and the musl target of an
/// architecture.
///
/// The crate's RUSTFLAGS (CARGO_ENCODED_RUSTFLAGS) are deliberately not passed on: they are meant
/// for the runtime (e.g. `+crt-static` for a gnu build) and the stub's few flags are complete:
/// - panic=abort, opt-level=s: no unwinding machinery, small code;
/// - relocation-model=static and +crt-static: a static, non-PIE executable with no interpreter,
///   so the kernel maps it and jumps to `_start`, nothing else runs before it;
/// - link-self-contained=no: no C start files (crt1.o would want a `main` and a C library);
/// - rust-lld (shipped with every rustup toolchain, found by rustc in its own sysroot), linking
///   directly rather than through a C compiler, which a cross build may not have. lld packs the
///   segments without padding the file to page boundaries, so the default max-page-size (4 KiB on
///   x86_64, 64 KiB on aarch64, whose kernels may use 64 KiB pages) costs nothing in size;
/// - strip=symbols, and -D warnings since nobody would see a build script's warnings.
fn build_stub() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("contain-stub");
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args([STUB_SOURCE, "--crate-name", "contain_stub", "--crate-type", "bin", "--edition", "2021"])
        .args(["--target", &target, "-D", "warnings"])
        .args(["-C", "panic=abort", "-C", "opt-level=s", "-C", "debuginfo=0", "-C", "strip=symbols"])
        .args(["-C", "relocation-model=static", "-C", "target-feature=+crt-static", "-C", "link-self-contained=no"])
        .args(["-C", "linker=rust-lld", "-C", "linker-flavor=ld.lld"])
        .arg("-o")
        .arg(&out)
        .status()
        .expect("running rustc for the exec stub");
    assert!(status.success(), "building the exec stub ({STUB_SOURCE}) for {target} failed");
    println!("cargo:rerun-if-changed={STUB_SOURCE}");
}
