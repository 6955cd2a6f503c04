# contain: build, demo, test. `make` builds the static binary ./contain.

HOST_ARCH    := $(shell uname -m)
# The architecture to build for (and, for test-vm, to boot): x86_64 or aarch64.
ARCH         := $(HOST_ARCH)
# The VM's kernel for test-vm: 6.1 (Debian 12) or 5.10 (Debian 11, x86_64 only).
KERNEL       := 6.1
MUSL_TARGET  := $(ARCH)-unknown-linux-musl
GNU_TARGET   := $(ARCH)-unknown-linux-gnu
# musl gives the smallest static binary; without its target installed, glibc's libc.a does too.
# Another architecture is always musl (test-vm.sh installs the target and links with rust-lld).
HAVE_MUSL    := $(shell rustup target list --installed 2>/dev/null | grep -qx '$(MUSL_TARGET)' && echo yes)
CROSS        := $(filter-out $(HOST_ARCH),$(ARCH))
TARGET       ?= $(if $(HAVE_MUSL)$(CROSS),$(MUSL_TARGET),$(GNU_TARGET))
# --target is always explicit, so these flags reach our code and not build.rs.
STATIC_FLAGS := $(if $(findstring gnu,$(TARGET)),-C target-feature=+crt-static)
BINARY       := target/$(TARGET)/release/contain

.PHONY: all contain rootfs demo test test-vm bench unit-test check-aarch64 busybox clean

all: contain

contain:
	RUSTFLAGS="$(STATIC_FLAGS)" cargo build --release --locked --target $(TARGET)
	cp $(BINARY) ./contain
	@echo "built ./contain for $(TARGET): $$(stat -c %s ./contain) bytes, $$(file -b ./contain | cut -d, -f1-2,5)"

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

# Unit tests need nothing; the integration tests run the static ./contain as root.
test: contain busybox
	CONTAIN_BIN=$(CURDIR)/contain cargo test --locked -- --test-threads=4

# The same integration suite inside a throwaway VM with pure cgroup v2, from an initramfs root and
# from a tmpfs root (tests/vm/): `make test-vm [ARCH=aarch64] [KERNEL=5.10]`.
test-vm:
	tests/vm/test-vm.sh $(ARCH) $(KERNEL) $(TARGET) "$(STATIC_FLAGS)"

# Not a test: start-up latency, memory and size against crun, runc and bubblewrap (tests/bench/).
bench: contain
	tests/bench/bench.sh

unit-test:
	cargo test --locked --bin contain

check-aarch64:
	cargo check --locked --target aarch64-unknown-linux-gnu

clean:
	cargo clean
	rm -rf ./contain ./rootfs
