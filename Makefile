# contain: build, demo, test. `make` builds the static binary ./contain.

HOST_ARCH    := $(shell uname -m)
# The architecture to build for (and, for test-vm, to boot): x86_64 or aarch64.
ARCH         := $(HOST_ARCH)
# The VM's kernel for test-vm: 6.1 (Debian 12) or 5.10 (Debian 11, x86_64 only).
KERNEL       := 6.1
MUSL_TARGET  := $(ARCH)-unknown-linux-musl
GNU_TARGET   := $(ARCH)-unknown-linux-gnu
# What make sets up itself where rustup is there, both parts of the stable toolchain it downloads:
# the musl target (its static binary is far smaller than glibc's) and the standard library's
# source, rust-src (see SMALL below). Without them: a static glibc binary, and make says so.
ifneq ($(shell command -v rustup),)
HAVE_MUSL    := $(shell rustup target list --installed | grep -qx '$(MUSL_TARGET)' || rustup target add '$(MUSL_TARGET)' >&2; \
                        rustup target list --installed | grep -qx '$(MUSL_TARGET)' && echo yes)
HAVE_SRC     := $(shell rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src >&2; \
                        rustup component list --installed | grep -q '^rust-src' && echo yes)
endif
# Another architecture is always musl (test-vm.sh installs the target and links with rust-lld).
CROSS        := $(filter-out $(HOST_ARCH),$(ARCH))
TARGET       ?= $(if $(HAVE_MUSL)$(CROSS),$(MUSL_TARGET),$(GNU_TARGET))
# --target is always explicit, so these flags reach our code and not build.rs.
STATIC_FLAGS := $(if $(findstring gnu,$(TARGET)),-C target-feature=+crt-static)
# SMALL: std rebuilt from its source for contain alone, with panics that abort at once: none of
# the unwinding tables and backtrace symbolizer std otherwise carries to print a panic's trace
# (about a third of the binary), and no .eh_frame for any function (nothing unwinds: 7% more). Rebuilding std is a nightly feature; the machine's stable
# compiler takes it with RUSTC_BOOTSTRAP=1, for this one build. SMALL=no builds the plain way.
SMALL        ?= $(if $(and $(HAVE_SRC),$(findstring musl,$(TARGET)),$(if $(CROSS),,host)),yes,no)
# The machine outliner folds repeated instruction runs into shared calls: 16 KiB less, about 1%
# more CPU per start. An inline threshold of 0 (z's is 5) keeps LLVM from copying a function into
# its callers unless that is smaller: 12 KiB less. RELR relocations (-z pack-relative-relocs, which
# musl's start-up applies) pack the static-pie's 630 pointer relocations, 24 bytes each, into a
# bitmap: 16 KiB less; where the linker lacks the option (binutils before 2.38), the plain ones.
# Neither of the last two costs start-up time interleaved runs beside an A/A pair could show
# (README, Building).
RELR         := $(shell printf 'int main(void){return 0;}' | cc -x c - -o /dev/null -Wl,-z,pack-relative-relocs 2>/dev/null && echo -Clink-arg=-Wl,-z,pack-relative-relocs)
# The linker: rust-lld (in every rustup toolchain; the exec stub's linker too) rather than the C
# compiler's ld. Its identical code folding (--icf=all) gives one copy to functions whose machine
# code is the same (1.7 KiB of text; nothing in contain compares function addresses), and it lays
# the read-only data out after the ELF headers, where GNU ld gives the headers a page of their own
# (699,248 bytes against 706,888 when this came in); -z separate-code keeps code alone in its
# executable pages, as GNU ld does by default.
LLD          := -Clink-self-contained=+linker -Clinker-features=+lld -Clink-arg=-Wl,--icf=all -Clink-arg=-Wl,-z,separate-code
SMALL_FLAGS  := -Zunstable-options -Cpanic=immediate-abort -Cforce-unwind-tables=no -Cllvm-args=-enable-machine-outliner=always \
	-Cllvm-args=-inline-threshold=0 $(RELR) $(LLD)
# std's own optimize_for_size feature: its smaller sorts and formatting (8 KiB less; no start-up
# cost measured). The list replaces std's default features (unwinding, backtraces), which panics
# that abort at once never use.
SMALL_STD    := -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size

.PHONY: all contain rootfs demo test test-faults test-vm tour bench size-report unit-test check-aarch64 busybox clean \
	test-oci test-podman test-containerd bench-oci install uninstall

all: contain

contain:
ifeq ($(SMALL),yes)
	RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(SMALL_FLAGS)" cargo build --release --locked --target $(TARGET) \
		$(SMALL_STD) --target-dir target/small
	cp target/small/$(TARGET)/release/contain ./contain.new
else
	@$(if $(HAVE_MUSL),,echo "make: no $(MUSL_TARGET) target (rustup target add $(MUSL_TARGET)): a static glibc binary, much larger")
	RUSTFLAGS="$(STATIC_FLAGS)" cargo build --release --locked --target $(TARGET)
	cp target/$(TARGET)/release/contain ./contain.new
endif
	# Replaced, not overwritten: a contain that is running keeps its own inode (no ETXTBSY).
	mv -f ./contain.new ./contain
	@echo "built ./contain for $(TARGET): $$(stat -c %s ./contain) bytes, $$(file -b ./contain | cut -d, -f1-2,5)"

# `make install [PREFIX=/usr/local] [DESTDIR=]`: the binary (BIN, ./contain, built first if missing: `sudo
# make install` after `make` needs no cargo on root's PATH) and a man
# page made here from its --help text, so the two never disagree; `make uninstall` removes both.
# In troff a backslash is \e, a minus \-, and a line may not start with . or ' (\& goes before it).
PREFIX       ?= /usr/local
DESTDIR      ?=
BIN          ?= ./contain
BINDIR       := $(DESTDIR)$(PREFIX)/bin
MAN1DIR      := $(DESTDIR)$(PREFIX)/share/man/man1

install: $(if $(wildcard $(BIN)),,contain)
	install -d '$(BINDIR)' '$(MAN1DIR)'
	install -m 0755 '$(BIN)' '$(BINDIR)/contain'
	{ printf '.TH CONTAIN 1 "" "%s" "User Commands"\n.SH NAME\ncontain \\- a tiny Linux container runtime\n' \
		"$$('$(BIN)' --version | head -n 1)"; \
	  printf '.SH SYNOPSIS\n.nf\n'; \
	  '$(BIN)' --help | sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^[.']/\\\\\&&/"; \
	  printf '.fi\n.SH SEE ALSO\nThe README of contain, for how it works and its security.\n'; \
	} > '$(MAN1DIR)/contain.1.new'
	chmod 0644 '$(MAN1DIR)/contain.1.new'
	mv -f '$(MAN1DIR)/contain.1.new' '$(MAN1DIR)/contain.1'

uninstall:
	rm -f '$(BINDIR)/contain' '$(MAN1DIR)/contain.1'

busybox:
	@if [ ! -x /bin/busybox ] || ! /bin/busybox --list >/dev/null 2>&1; then \
		echo "installing busybox-static"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static; \
	fi

rootfs: busybox
	sh tests/mkrootfs.sh rootfs

demo: contain rootfs
	./contain run --rootfs ./rootfs --memory 64M --hostname sandbox -- \
		/bin/sh -c 'hostname; ps; cat /proc/self/cgroup; ls /'

# Unit tests need nothing; the integration tests run the static ./contain as root. Each run has a
# directory of its own, its TMPDIR, removed at the end (never across a mount), and fails when it
# left anything elsewhere: in /tmp or /run/contain*, a cgroup, an interface, a lease, a mount
# (tests/test-run.sh, which also removes the directories of runs that died). TEST_ARGS chooses
# what runs, e.g. `make test TEST_ARGS='--test run -- --include-ignored NAME'`.
TEST_ARGS ?= -- --include-ignored --skip every_injected_fault --skip vm_only_ --test-threads=4
test: contain busybox
	@run=$$(tests/test-run.sh start $$$$) || exit 1; echo "make test: the run's TMPDIR is $$run"; \
	TMPDIR=$$run CONTAIN_BIN=$(CURDIR)/contain cargo test --locked $(TEST_ARGS); status=$$?; \
	tests/test-run.sh finish "$$run" || status=1; exit $$status

# The fault sweep (tests/faults/): every system call of `contain run` failed in turn, with an errno
# and with SIGKILL, then gc and the leftover checks; a few minutes, as root. One injection, with its
# evidence: FAULTS_ONLY=VARIANT:ROLE:SYSCALL:OCCURRENCE:ERRNO|SIGKILL make test-faults.
# Its scratch goes in a run directory of its own as `make test`'s does (tests/test-run.sh), and
# goes with it.
test-faults: contain busybox
	@run=$$(tests/test-run.sh start $$$$) || exit 1; \
	TMPDIR=$$run CONTAIN_BIN=$(CURDIR)/contain cargo test --locked --test faults -- --ignored --nocapture; status=$$?; \
	tests/test-run.sh finish "$$run" || status=1; exit $$status

# The same integration suite inside a throwaway VM with pure cgroup v2, from an initramfs root and
# from a tmpfs root (tests/vm/): `make test-vm [ARCH=aarch64] [KERNEL=5.10]`.
test-vm:
	tests/vm/test-vm.sh $(ARCH) $(KERNEL) $(TARGET) "$(STATIC_FLAGS)"

# The README's guided tour and the Quick start's --explain, written from one run of the demo
# container in that VM (x86_64, kernel 6.1: tests/vm/tour.sh), when the code has changed what it
# prints; then review `git diff README.md`.
tour:
	@[ "$(ARCH)" = x86_64 ] || { echo "make tour: the tour is x86_64's (build on an x86_64 host)"; exit 1; }
	tests/vm/tour.sh $(TARGET) "$(STATIC_FLAGS)"

# The OCI runtime CLI, judged by real clients (tests/oci/): the runtime-tools validation suite beside
# crun (passes when OCI_RUNTIME does at least as well), podman and containerd. OCI_RUNTIME=crun or
# runc runs the same harness on another runtime (runtime-tools then compares it with crun).
OCI_RUNTIME ?= $(CURDIR)/contain
test-oci: contain
	OCI_CANDIDATE=$(OCI_RUNTIME) tests/oci/runtime-tools.sh

test-podman: contain busybox
	tests/oci/podman.sh --runtime $(OCI_RUNTIME)

test-containerd: contain busybox
	tests/oci/containerd.sh --runtime $(OCI_RUNTIME)

# Not a test: OCI `create` alone, create+start+wait+delete and `podman run --rm` times, runtimes
# interleaved; ratios are to the first runtime, and its ratios to crun's beside issue #24's targets
# (tests/bench/oci.sh).
BENCH_OCI_RUNTIMES ?= $(CURDIR)/contain crun runc
bench-oci: contain busybox
	tests/bench/oci.sh $(BENCH_OCI_RUNTIMES)

# Not a test: start-up latency, memory and size against crun, runc, bubblewrap and the kernel floors
# (tests/bench/floor.c), what a seccomp filter costs (contain's, and libseccomp's for podman's
# profile), then the OCI lifecycle and `podman run` against crun and runc (tests/bench/), then where
# the bytes go. BENCH_BASE=COMMIT times that commit's contain beside this one (built once, in
# target/bench-base/COMMIT); BENCH_VM_STARTUP=6.1 (or 5.10) adds the median and p90 of a start in
# tests/vm's idle VM, pinned to one of its CPUs.
bench: contain busybox
	tests/bench/bench.sh
	tests/bench/oci.sh $(CURDIR)/contain crun runc
	$(MAKE) size-report

# ./contain by ELF section, and by module from an unstripped twin of the same build.
size-report: contain
ifeq ($(SMALL),yes)
	CARGO_PROFILE_RELEASE_STRIP=false RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(SMALL_FLAGS)" cargo build --release --locked \
		--target $(TARGET) $(SMALL_STD) --target-dir target/symbols
else
	CARGO_PROFILE_RELEASE_STRIP=false RUSTFLAGS="$(STATIC_FLAGS)" cargo build --release --locked --target $(TARGET) \
		--target-dir target/symbols
endif
	python3 tests/bench/size.py ./contain target/symbols/$(TARGET)/release/contain

unit-test:
	cargo test --locked --bin contain

check-aarch64:
	cargo check --locked --target aarch64-unknown-linux-gnu

clean:
	cargo clean
	rm -rf ./contain ./rootfs
