#!/usr/bin/env bash
# Boot a throwaway QEMU VM running a stock Debian kernel and a busybox
# initramfs, and run a test suite inside it twice:
#   phase "initramfs": straight from the initial rootfs, where pivot_root(2)
#                      fails with EINVAL (runtimes must fall back there);
#   phase "tmpfs":     after switch_root into a tmpfs, where pivot_root works.
# The VM mounts only cgroup2 (no v1 hierarchies), so it gives the runtime a
# clean, root-owned, cgroup-v2-only kernel no matter what the host looks like.
#
# Usage: run-vm.sh PAYLOAD_DIR
#   PAYLOAD_DIR is copied to /payload in the VM and must contain suite.sh.
#   The suite sees CONTAIN_VM_PHASE=initramfs|tmpfs, CONTAIN_VM_ARCH and
#   CONTAIN_VM_KERNEL, and runs with cwd /payload. /bin/busybox in the guest
#   is a static busybox of the guest's architecture. /ext4 is an empty ext4
#   filesystem, fresh in each phase, loop-mounted from an image in RAM: for
#   what neither root can do (idmapped mounts: tmpfs has them only from 6.3).
#   Exit status is 0 only if both phases ran and the suite exited 0 in each.
#
# Which VM (one harness, every combination but aarch64 x 5.10):
#   CONTAIN_VM_ARCH     x86_64 | aarch64                 (the host's: uname -m)
#   CONTAIN_VM_KERNEL   6.1 (Debian 12 bookworm) | 5.10 (Debian 11 bullseye, x86_64 only)
#
# Environment (all optional):
#   CONTAIN_VM_CACHE    kernels and apt lists, outside any repo (/var/cache/contain-vm)
#   CONTAIN_VM_LOG      where the serial console log is kept (<cache>/last-serial-ARCH-KERNEL.log)
#   CONTAIN_VM_ACCEL    tcg | kvm                        (tcg, see note below)
#   CONTAIN_VM_TIMEOUT  seconds before the VM is killed  (600 on x86_64, 900 on aarch64: a
#                       passing run takes a minute or two, a failing one much longer)
#   CONTAIN_VM_MEM      guest RAM in MiB                  (1024)
#   CONTAIN_VM_SMP      guest CPUs                        (2)
#   CONTAIN_VM_MODULES  kernel modules to load at boot    ("overlay veth bridge" and the
#                       nf_tables parts of --net veth's NAT, walls and published ports:
#                       nf_tables nft_chain_nat nft_masq nft_nat nft_ct nft_fib_inet; loop, ext4
#                       and crc32c_generic for /ext4 are always loaded: the guest has no
#                       modprobe to load them on demand)
#   CONTAIN_VM_APPEND   more kernel command line (e.g. loglevel=7 for whole stack traces)
#   CONTAIN_VM_QEMU     the emulator to run instead of the packaged one (another QEMU version;
#                       the packaged one is at least 8.1: see ensure_qemu)
#   CONTAIN_VM_MIRROR, CONTAIN_VM_SECURITY_MIRROR
#                       Debian archive and security URIs  (the host's own, else deb.debian.org)
#   CONTAIN_VM_REFRESH  1 = refresh the cached apt lists now (they refresh themselves weekly)
#   CONTAIN_VM_VERBOSE  1 = print the whole serial log, not just suite lines
#   CONTAIN_VM_TESTS    only these, "SUITE[:FILTER] ..." (e.g. "run:a_memory_hog features:detach")
#   CONTAIN_VM_REPEAT   run the selection this many times per phase (to chase a flaky test)
#   CONTAIN_VM_WATCH    every this many seconds, print the containers' memory and kernel stacks
#   CONTAIN_VM_PRE      shell commands the guest runs before the suite, in each phase
#   CONTAIN_VM_DEBS     Debian packages unpacked, with their dependencies, onto the guest's root
#                       ("dash iproute2 nftables netbase python3 strace bsdutils": the tools,
#                       nft's /etc/protocols and script(1), that tests/networld's world and
#                       tests/explain.rs drive; "systemd dbus dbus-user-session util-linux passwd
#                       libpam-modules usr-is-merged": the systemd booted as PID 1 by
#                       tests/systemd.rs, the system's and a user's bus, nsenter -a and setpriv,
#                       useradd; empty for none). See debs_unpacked.
#
# Everything the guest needs comes from the Debian archive through a private
# apt configuration per suite and architecture (<cache>/apt/SUITE-DEBARCH):
# the host's own apt sources, architectures and lists are never changed.
#
# Note on accel: tcg is the default. On nested-virt hosts (e.g. inside a
# Firecracker VM) /dev/kvm can exist yet the guest hangs right after the
# kernel decompressor, with qemu spinning in the host kernel; tcg boots this
# tiny initramfs in a few seconds anyway. Use kvm only where it is known good.
set -euo pipefail

ARCH=${CONTAIN_VM_ARCH:-$(uname -m)}
KERNEL=${CONTAIN_VM_KERNEL:-6.1}
CACHE=${CONTAIN_VM_CACHE:-/var/cache/contain-vm}
LOG=${CONTAIN_VM_LOG:-$CACHE/last-serial-$ARCH-$KERNEL.log}
ACCEL=${CONTAIN_VM_ACCEL:-tcg}
MEM=${CONTAIN_VM_MEM:-1024}
SMP=${CONTAIN_VM_SMP:-2}
MODULES=${CONTAIN_VM_MODULES-overlay veth bridge nf_tables nft_chain_nat nft_masq nft_nat nft_ct nft_fib_inet}
# /ext4's: the crc32c that ext4's metadata checksums ask the crypto API for (the guest has no
# modprobe to load it on demand), the loop device and the filesystem. Loaded first: libcrc32c
# (nf_conntrack's, in MODULES) asks for that crc32c as it loads.
EXT4_MODULES="crc32c_generic loop ext4"
# Room for the rootfs copies and volumes of tests/userns.rs (about 5 MiB), and little more: the
# guest writes every byte of the image when it unpacks it, in each phase.
EXT4_SIZE=24M
VERBOSE=${CONTAIN_VM_VERBOSE:-0}

log() { printf 'run-vm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- which VM ---------------------------------------------------------------
# Each architecture: Debian's name for it, the emulator, the CPU under TCG,
# the machine, and the serial console the kernel writes to.
case $ARCH in
  x86_64)
    DEBARCH=amd64 QEMU=qemu-system-x86_64 QEMU_PKG=qemu-system-x86 CONSOLE=ttyS0
    TCG_CPU=max MACHINE=()
    DEFAULT_TIMEOUT=600 ;;
  aarch64)
    # Pointer authentication with the architected QARMA algorithm costs TCG
    # dearly on every call and return; the implementation-defined one is cheap.
    DEBARCH=arm64 QEMU=qemu-system-aarch64 QEMU_PKG=qemu-system-arm CONSOLE=ttyAMA0
    TCG_CPU=max,pauth-impdef=on MACHINE=(-M virt)
    DEFAULT_TIMEOUT=900 ;;
  *) die "CONTAIN_VM_ARCH must be x86_64 or aarch64 (got '$ARCH')" ;;
esac
case $KERNEL in
  6.1)  SUITE=bookworm ;;
  5.10) SUITE=bullseye
        [[ $ARCH == x86_64 ]] || die "the 5.10 kernel is only wired up for x86_64" ;;
  *)    die "CONTAIN_VM_KERNEL must be 6.1 or 5.10 (got '$KERNEL')" ;;
esac
TIMEOUT=${CONTAIN_VM_TIMEOUT:-$DEFAULT_TIMEOUT}
# The guest's userland (busybox) is Debian 12's whatever the kernel: only the
# kernel changes between runs.
USERLAND_SUITE=bookworm

[[ $# -eq 1 ]] || die "usage: $0 PAYLOAD_DIR"
PAYLOAD=$(realpath -e -- "$1") || die "payload dir '$1' not found"
[[ -f $PAYLOAD/suite.sh ]] || die "$PAYLOAD/suite.sh missing"
[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, mknod, root-owned cache)"

# --- host packages ----------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    apt-get update -qq >&2 || log "warning: apt-get update failed; trying with the lists there are"
    APT_UPDATED=1
  fi
}
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-remove "$@"
}
# ensure_pkg PKG [CMD]: install PKG unless CMD is on PATH (or, without CMD,
# unless PKG is installed).
ensure_pkg() {
  local pkg=$1 cmd=${2:-}
  if [[ -n $cmd ]]; then
    command -v "$cmd" >/dev/null 2>&1 && return 0
  else
    dpkg -s "$pkg" >/dev/null 2>&1 && return 0
  fi
  log "installing $pkg"
  # Try without updating first: the lists are usually fresh enough, and an
  # update is the slow, network-heavy part. --no-remove: a test helper must
  # never silently uninstall host packages; fail and let a human decide.
  local out
  out=$(mktemp)
  if ! apt_install "$pkg" >"$out" 2>&1; then
    apt_update_once
    if ! apt_install "$pkg" >"$out" 2>&1; then
      cat "$out" >&2; rm -f "$out"
      die "could not install $pkg"
    fi
  fi
  rm -f "$out"
}
# ensure_qemu: the emulator, at least QEMU_MIN. Debian 12's own QEMU 7.2 is
# not fit for this suite under TCG: now and then the guest kernel's clearing
# of a single 4 KiB page (one `rep stosb`) advances a few hundred bytes per
# second, as if every byte store took QEMU's slow path (its self-modifying-code
# check is the likeliest culprit), so a container's memory hog spends tens of
# seconds in clear_page_erms (soft lockups, the OOM test past its 60 s); it
# also froze a whole VM once. bookworm-backports' 10.0 never did, on the same
# guest and suite: on such a release, QEMU comes from backports (--no-remove).
QEMU_MIN=1:8.1
ensure_qemu() {
  local installed candidate
  installed=$(dpkg-query -W -f '${Version}' "$QEMU_PKG" 2>/dev/null || true)
  if [[ -n $installed ]] && dpkg --compare-versions "$installed" ge "$QEMU_MIN"; then
    return 0
  fi
  candidate=$(apt-cache policy "$QEMU_PKG" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
  if [[ -z $candidate || $candidate == "(none)" ]]; then
    apt_update_once
    candidate=$(apt-cache policy "$QEMU_PKG" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
  fi
  if [[ -n $candidate && $candidate != "(none)" ]] && dpkg --compare-versions "$candidate" ge "$QEMU_MIN"; then
    ensure_pkg "$QEMU_PKG"
    return 0
  fi
  install_from_backports "$QEMU_PKG" ||
    die "$QEMU_PKG ${installed:-${candidate:-(none)}} is older than $QEMU_MIN and backports has no newer one"
}
install_from_backports() {
  local codename=$HOST_CODENAME dir out
  [[ -n $codename ]] || return 1
  log "installing $1 from $codename-backports (the release's QEMU is older than $QEMU_MIN)"
  # Sources of our own (the host's are left alone), the host's dpkg status.
  dir=$CACHE/apt/$codename-backports-host
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  write_sources "$dir" "$(dpkg --print-architecture)" "$codename" "$codename-security" "$codename-backports"
  local opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache")
  out=$(mktemp)
  if apt-get "${opts[@]}" update -qq >"$out" 2>&1 && apt_install "${opts[@]}" -t "$codename-backports" "$1" >"$out" 2>&1 &&
     dpkg --compare-versions "$(dpkg-query -W -f '${Version}' "$1")" ge "$QEMU_MIN"; then
    rm -f "$out"; return 0
  fi
  cat "$out" >&2; rm -f "$out"
  return 1
}

# --- a private apt configuration per suite and architecture -----------------
# The Debian archive URI the host's apt uses for suite $1 (e.g. bookworm or
# bookworm-security), so a mirror or snapshot the host is pinned to is used
# here too.
host_mirror() {
  apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null | awk -v s="$1" '$1 == s {print $2; exit}'
}
HOST_CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
MIRROR=${CONTAIN_VM_MIRROR:-$(host_mirror "$HOST_CODENAME")}
MIRROR=${MIRROR:-http://deb.debian.org/debian/}
SECURITY_MIRROR=${CONTAIN_VM_SECURITY_MIRROR:-$(host_mirror "$HOST_CODENAME-security")}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security/}

# write_sources DIR DEBARCH SUITE...: DIR/sources.list for those suites' main.
write_sources() {
  local dir=$1 debarch=$2 suite uri
  shift 2
  for suite in "$@"; do
    uri=$MIRROR
    [[ $suite == *-security ]] && uri=$SECURITY_MIRROR
    echo "deb [arch=$debarch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main"
  done >"$dir/sources.list.new"
  mv "$dir/sources.list.new" "$dir/sources.list"
}

# apt_root SUITE DEBARCH: sets PRIVATE_APT to the apt options of
# <cache>/apt/SUITE-DEBARCH (SUITE and SUITE-security, for downloads only: an
# empty dpkg status, the guest's architecture as the native one). Its lists
# are fetched when missing, when older than a week, or with CONTAIN_VM_REFRESH=1.
apt_root() {
  local suite=$1 debarch=$2
  APT_DIR=$CACHE/apt/$suite-$debarch
  APT_NAME="$suite $debarch"
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  [[ -f $APT_DIR/status ]] || : >"$APT_DIR/status"
  write_sources "$APT_DIR" "$debarch" "$suite" "$suite-security"
  PRIVATE_APT=(
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" -o "Dir::State::status=$APT_DIR/status"
    -o "APT::Architecture=$debarch" -o "APT::Architectures::=$debarch" -o Acquire::Languages=none
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false
  )
  if [[ ${CONTAIN_VM_REFRESH:-0} == 1 || ! -f $APT_DIR/updated ]] ||
     [[ -n $(find "$APT_DIR/updated" -mmin +10080 2>/dev/null) ]]; then
    if ! apt_refresh; then
      [[ -f $APT_DIR/updated ]] || return 1
      log "warning: could not refresh the $APT_NAME lists; using the cached ones"
    fi
  fi
}
apt_refresh() {
  log "fetching the $APT_NAME package lists ($MIRROR, $SECURITY_MIRROR)"
  apt-get "${PRIVATE_APT[@]}" update -qq >&2 && touch "$APT_DIR/updated"
}

# download DEST PKG=VERSION...: their .debs (from the private lists) into DEST.
download() {
  local dest=$1
  shift
  # Running as root, apt drops privileges to _apt for downloads, which cannot
  # write into a root-owned cache; staying root avoids a noisy warning.
  (cd "$dest" && apt-get "${PRIVATE_APT[@]}" download -qq -o APT::Sandbox::User=root "$@" >&2)
}

if [[ -n ${CONTAIN_VM_QEMU:-} ]]; then
  QEMU=$CONTAIN_VM_QEMU
else
  ensure_qemu
fi
ensure_pkg cpio cpio
ensure_pkg kmod depmod   # only to generate modules.dep for the unpacked kernel
ensure_pkg e2fsprogs mkfs.ext4

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # parallel runs must not unpack into the same cache dir at once

# settle TMP DIR: TMP, an unpack finished, becomes DIR (atomic: an interrupted unpack is never
# reused), and the other versions beside DIR go: an unpacked kernel is ~400 MB.
settle() {
  local old
  touch "$1/.complete"
  mv "$1" "$2"
  for old in "$(dirname "$2")"/*; do
    [[ $old == "$2" ]] || rm -rf "$old"
  done
}

# fetch_unpacked KEY SUITE DEBARCH RESOLVER: prints the directory holding the
# unpacked package RESOLVER names ("PKG VERSION", from the SUITE DEBARCH lists),
# kept as <cache>/KEY/PKG_VERSION; older versions under KEY are removed. When
# the lists name nothing, or a version the mirror has dropped, they are
# refreshed once.
fetch_unpacked() {
  local key=$1 suite=$2 debarch=$3 resolver=$4 pkg ver dir attempt
  apt_root "$suite" "$debarch" || die "cannot fetch the $suite $debarch package lists"
  for attempt in cached refreshed; do
    if [[ $attempt == refreshed ]]; then
      apt_refresh || die "cannot refresh the $APT_NAME package lists"
    fi
    read -r pkg ver < <($resolver) || continue
    dir=$CACHE/$key/${pkg}_${ver//:/%}
    [[ -f $dir/.complete ]] && break
    log "downloading $pkg $ver ($debarch)"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp/deb"
    download "$dir.tmp/deb" "$pkg=$ver" || continue
    dpkg-deb -x "$dir.tmp"/deb/*.deb "$dir.tmp/root"
    rm -rf "$dir.tmp/deb"
    settle "$dir.tmp" "$dir"
    break
  done
  [[ -n ${dir:-} && -f $dir/.complete ]] || die "could not get $resolver's package from $APT_NAME"
  echo "$dir"
}

# The versioned kernel image the metapackage (linux-image-amd64, -arm64)
# depends on, and its candidate version: "PKG VERSION".
resolve_kernel() {
  local pkg ver
  pkg=$(apt-cache "${PRIVATE_APT[@]}" depends "linux-image-$DEBARCH" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
  [[ -n $pkg ]] || return 1
  ver=$(apt-cache "${PRIVATE_APT[@]}" policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
  [[ -n $ver && $ver != "(none)" ]] || return 1
  echo "$pkg $ver"
}
resolve_busybox() {
  local ver
  ver=$(apt-cache "${PRIVATE_APT[@]}" policy busybox-static 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
  [[ -n $ver && $ver != "(none)" ]] || return 1
  echo "busybox-static $ver"
}

KDIR=$(fetch_unpacked "kernel/$DEBARCH-$KERNEL" "$SUITE" "$DEBARCH" resolve_kernel) || exit 1
KPKG=$(basename "$KDIR")
vmlinuz=("$KDIR"/root/boot/vmlinuz-*)
VMLINUZ=${vmlinuz[0]}
[[ -f $VMLINUZ ]] || die "no vmlinuz in $KDIR"
KV=${VMLINUZ##*/vmlinuz-}
MODDIR=$KDIR/root/lib/modules/$KV
# The .deb has no modules.dep (its postinst runs depmod).
[[ -f $MODDIR/modules.dep ]] || depmod -b "$KDIR/root" "$KV"

# The guest's busybox: static, of the guest's architecture.
BBDIR=$(fetch_unpacked "busybox/$DEBARCH" "$USERLAND_SUITE" "$DEBARCH" resolve_busybox) || exit 1
BUSYBOX=$BBDIR/root/bin/busybox
[[ -f $BUSYBOX ]] || die "no bin/busybox in $BBDIR"

# The guest's Debian tools (CONTAIN_VM_DEBS), from the userland's release: dynamic programs, so
# their libraries and loader come too, and the busybox root becomes a small Debian root where they
# run as on the host. The packages' maintainer scripts never run (nothing they set up is used), and
# what no test reads is left out: documentation, translations, gconv, Python's own test suite and
# tools (but dbus-1, which the booted systemd needs: KEEP_SHARE). About 80 MiB unpacked, 31 MiB
# in the initramfs.
# systemd's own: the units and programs of a systemd booted as PID 1 (tests/systemd.rs), its D-Bus
# daemon (with /usr/share/dbus-1, kept), util-linux's nsenter -a and setpriv, passwd's useradd,
# the user's bus (dbus-user-session), PAM modules for user@.service, and usr-is-merged, which
# stands in for usrmerge (and its Perl).
DEBS=${CONTAIN_VM_DEBS-dash iproute2 nftables netbase python3 strace bsdutils systemd dbus dbus-user-session util-linux passwd libpam-modules usr-is-merged}
# What of /usr/share stays: the bus's configuration and the services' bus policies.
KEEP_SHARE=dbus-1
# The packages and versions DEBS needs with nothing installed, one "PKG=VERSION" per line (apt's
# simulation, from the private lists).
resolve_debs() {
  apt-get "${PRIVATE_APT[@]}" -o Debug::NoLocking=1 -s install --no-install-recommends $DEBS 2>/dev/null |
    awk '$1 == "Inst" {sub(/^\(/, "", $3); print $2 "=" $3}' | sort
}
# debs_unpacked: prints the directory whose root/ holds DEBS unpacked, kept as
# <cache>/debs/DEBARCH/HASH (HASH of the resolved list, so a new version or list makes a new one;
# older ones are removed).
debs_unpacked() {
  local list dir attempt deb
  apt_root "$USERLAND_SUITE" "$DEBARCH" || die "cannot fetch the $USERLAND_SUITE $DEBARCH package lists"
  for attempt in cached refreshed; do
    if [[ $attempt == refreshed ]]; then
      apt_refresh || die "cannot refresh the $APT_NAME package lists"
    fi
    list=$(resolve_debs)
    [[ -n $list ]] || continue
    dir=$CACHE/debs/$DEBARCH/$(sha256sum <<<"$list keep:$KEEP_SHARE" | cut -c1-16)
    [[ -f $dir/.complete ]] && break
    log "downloading $(wc -l <<<"$list") packages for the guest's $DEBS ($DEBARCH)"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp/deb" "$dir.tmp/root"
    # shellcheck disable=SC2086 # one argument per package
    download "$dir.tmp/deb" $list || continue
    for deb in "$dir.tmp"/deb/*.deb; do dpkg-deb -x "$deb" "$dir.tmp/root"; done
    find "$dir.tmp/root/usr/share" -mindepth 1 -maxdepth 1 ! -name "$KEEP_SHARE" -exec rm -rf {} +
    rm -rf "$dir.tmp/deb" "$dir.tmp/root"/usr/lib/*/gconv \
      "$dir.tmp/root"/usr/lib/python3*/{test,pydoc_data,ensurepip,idlelib,lib2to3,tkinter,turtledemo}
    printf '%s\n' "$list" >"$dir.tmp/packages"
    settle "$dir.tmp" "$dir"
    break
  done
  [[ -n ${dir:-} && -f $dir/.complete ]] || die "could not get the packages of '$DEBS' from $APT_NAME"
  echo "$dir"
}
DEBDIR=
[[ -z $DEBS ]] || DEBDIR=$(debs_unpacked) || exit 1
flock -u 9

# --- initramfs --------------------------------------------------------------
WORK=$(mktemp -d /tmp/contain-vm.XXXXXX)
QEMU_PID=
cleanup() {
  if [[ -n $QEMU_PID ]]; then kill "$QEMU_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,root,payload,lib/modules}
# The Debian tools first. busybox --install (in init) links an applet only where no file of its
# name is, so each Debian program gets a link in every directory of PATH: busybox's /sbin/ip must
# not come before Debian's /bin/ip.
if [[ -n $DEBDIR ]]; then
  cp -a "$DEBDIR/root/." "$ROOT/"
  mkdir -p "$ROOT"/usr/{bin,sbin}
  for program in "$DEBDIR"/root/{bin,sbin,usr/bin,usr/sbin}/*; do
    for dir in bin sbin usr/bin usr/sbin; do
      link=$ROOT/$dir/${program##*/}
      [[ -e $link || -L $link ]] || ln -s "${program#"$DEBDIR/root"}" "$link"
    done
  done
  # And /bin/sh is dash, as on Debian: busybox's ash runs its own applets before PATH's programs.
  [[ ! -e $ROOT/bin/dash ]] || ln -sf dash "$ROOT/bin/sh"
fi
cp "$BUSYBOX" "$ROOT/bin/busybox"
# Kernel opens /dev/console for init before anything can mount devtmpfs.
mknod -m 600 "$ROOT/dev/console" c 5 1
cp -a "$PAYLOAD"/. "$ROOT/payload/"

# Modules: resolve dependencies via modules.dep and emit a load order with
# dependencies first. Compressed modules are unpacked on the host because
# busybox insmod cannot handle .ko.xz/.ko.zst.
declare -A LOADED=()
LOAD_ORDER=()
add_module() {
  local name=$1 line rel dep
  line=$(grep -E "/${name//-/[-_]}\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" || true)
  if [[ -z $line ]]; then
    # Built-in modules need no loading; anything else is a typo.
    grep -qE "/${name//-/[-_]}\.ko$" "$MODDIR/modules.builtin" && return 0
    die "kernel module '$name' not found in $KPKG"
  fi
  rel=${line%%:*}
  [[ -n ${LOADED[$rel]:-} ]] && return 0
  for dep in ${line#*:}; do
    dep=${dep##*/}; add_module "${dep%%.ko*}"
  done
  LOADED[$rel]=1
  LOAD_ORDER+=("$rel")
}
for m in $EXT4_MODULES $MODULES; do add_module "$m"; done
# The tests' own `nft ... counter` rules: a module of its own on 5.10, part of nf_tables on 6.1.
grep -qE "/nft_counter\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" && add_module nft_counter
: >"$ROOT/lib/modules/load.list"
for rel in "${LOAD_ORDER[@]}"; do
  out=$ROOT/lib/modules/$(basename "${rel%%.ko*}").ko
  case $rel in
    *.ko.xz)  ensure_pkg xz-utils xz; xz -dc "$MODDIR/$rel" >"$out" ;;
    *.ko.zst) ensure_pkg zstd zstd; zstd -qdc "$MODDIR/$rel" >"$out" ;;
    *.ko.gz)  gzip -dc "$MODDIR/$rel" >"$out" ;;
    *)        cp "$MODDIR/$rel" "$out" ;;
  esac
  echo "/lib/modules/${out##*/}" >>"$ROOT/lib/modules/load.list"
done

# The empty ext4 filesystem for /ext4, made here (busybox has no mkfs.ext4): sparse on the host,
# a few dozen KiB once compressed; the guest unpacks a copy in each phase.
mkfs.ext4 -q -F -L contain-vm "$WORK/ext4.img" "$EXT4_SIZE"
gzip -1 <"$WORK/ext4.img" >"$ROOT/ext4.img.gz"
rm "$WORK/ext4.img"

cat >"$ROOT/init" <<'INIT'
#!/bin/busybox sh
# PID 1 of the test VM; runs once per phase. $1 is the phase ("initramfs"
# when started by the kernel, "tmpfs" after our own switch_root).
PHASE=${1:-initramfs}
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root CONTAIN_VM_PHASE="$PHASE"

say()  { echo "=== $*"; }
halt_vm() {
  sync
  poweroff -f
  # Only reached if poweroff failed; returning from PID 1 panics the kernel,
  # which with panic=-1 and qemu -no-reboot also ends the VM.
  exit 1
}
fail() { say "INIT ERROR phase=$PHASE: $*"; halt_vm; }

if [ "$PHASE" = initramfs ]; then
  /bin/busybox mkdir -p /proc /usr/bin /usr/sbin /sbin
  /bin/busybox mount -t proc proc /proc || fail "mount proc"
  /bin/busybox --install -s || fail "busybox --install"
fi

# Idempotent: after switch_root the mounts have been moved over already.
[ -e /proc/self ] || mount -t proc proc /proc || fail "mount proc"
[ -e /sys/kernel ] || mount -t sysfs sysfs /sys || fail "mount sysfs"
[ -c /dev/null ] || mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs"
mkdir -p /dev/pts /dev/shm
grep -q ' /dev/pts ' /proc/mounts ||
  mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts || fail "mount devpts"
grep -q ' /dev/shm ' /proc/mounts ||
  mount -t tmpfs -o mode=1777 shm /dev/shm || fail "mount /dev/shm"
# cgroup2 only: v1 controllers would steal controllers from the v2 hierarchy.
[ -e /sys/fs/cgroup/cgroup.controllers ] ||
  mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
ctrls=" $(cat /sys/fs/cgroup/cgroup.controllers) "
for c in memory cpu pids; do
  case $ctrls in *" $c "*) ;; *) fail "cgroup2 controller '$c' missing (have:$ctrls)" ;; esac
done

if [ "$PHASE" = initramfs ]; then
  while read -r ko; do
    insmod "$ko" || fail "insmod $ko"
  done </lib/modules/load.list
  hostname contain-vm
  ip link set lo up
fi

# /ext4 (see the top of run-vm.sh): a fresh copy of the empty image in each phase.
mkdir -p /ext4
gunzip -c /ext4.img.gz >/ext4.img || fail "unpack the ext4 image"
mount -t ext4 -o loop /ext4.img /ext4 || fail "loop-mount the ext4 image on /ext4"

echo   # start on a fresh line whatever the console printed before
say "PHASE $PHASE BEGIN"
# stdin from /dev/null: a suite reading stdin must not hang on the console.
if [ -x /payload/suite.sh ]; then
  (cd /payload && ./suite.sh) </dev/null 2>&1
else
  (cd /payload && sh ./suite.sh) </dev/null 2>&1
fi
say "PHASE $PHASE END rc=$?"

# A mount the suite left below /ext4 keeps it busy: said, and the run goes on.
umount /ext4 && rm /ext4.img || say "INIT ERROR phase=$PHASE: cannot unmount /ext4: $(grep ' /ext4' /proc/mounts)"

if [ "$PHASE" = initramfs ]; then
  # Copy ourselves into a real tmpfs and continue there, where pivot_root works.
  mkdir -p /newroot
  mount -t tmpfs -o mode=0755,size=80% tmpfs /newroot || fail "mount tmpfs"
  for e in /*; do
    case $e in /proc|/sys|/dev|/newroot|/ext4|/ext4.img) continue ;; esac
    cp -a "$e" /newroot/ || fail "copy $e to tmpfs"
  done
  mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/ext4
  # -n: util-linux's mount (among the guest's Debian tools) would write its userspace table,
  # and call a move it could not note there failed (`BENCH_VM_STARTUP`'s payload hit it).
  for m in /dev /proc /sys; do
    mount -n --move "$m" "/newroot$m" || fail "move $m"
  done
  # If this fails PID 1 is gone: the kernel panics, panic=-1 + -no-reboot end
  # the VM, and the host reports the missing tmpfs phase with the log tail.
  exec switch_root /newroot /init tmpfs
fi

say "VM DONE uptime=$(cut -d' ' -f1 /proc/uptime)s"
halt_vm
INIT
chmod 755 "$ROOT/init"
# What the suite may want to know about its VM.
{
  printf 'CONTAIN_VM_ARCH=%s\nCONTAIN_VM_KERNEL=%s\n' "$ARCH" "$KERNEL"
  for var in CONTAIN_VM_TESTS CONTAIN_VM_REPEAT CONTAIN_VM_WATCH CONTAIN_VM_PRE; do
    [[ -z ${!var:-} ]] || printf "%s='%s'\n" "$var" "${!var//\'/\'\\\'\'}"
  done
} >"$ROOT/payload/vm.env"

(cd "$ROOT" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$WORK/initrd.gz"

# --- boot -------------------------------------------------------------------
case $ACCEL in
  kvm) [[ $ARCH == "$(uname -m)" ]] || die "CONTAIN_VM_ACCEL=kvm needs a guest of the host's architecture"
       [[ -w /dev/kvm ]] || die "CONTAIN_VM_ACCEL=kvm but /dev/kvm is not usable"
       CPU=host ;;
  tcg) CPU=$TCG_CPU ;;
  *)   die "CONTAIN_VM_ACCEL must be tcg or kvm" ;;
esac
mkdir -p "$(dirname "$LOG")"
log "booting $KPKG on $ARCH ($($QEMU --version | head -n1), $ACCEL, ${MEM}M, ${SMP} cpus, timeout ${TIMEOUT}s)"
log "serial log: $LOG"
start=$(date +%s.%N)
# stdin from /dev/null keeps -nographic from putting a terminal into raw mode
# (and leaving it so if timeout kills qemu).
set +e
timeout --kill-after=5 "$TIMEOUT" "$QEMU" "${MACHINE[@]}" \
  -accel "$ACCEL" -cpu "$CPU" -m "$MEM" -smp "$SMP" \
  -nographic -no-reboot -nic none \
  -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
  -append "console=$CONSOLE panic=-1 quiet cgroup_no_v1=all ${CONTAIN_VM_APPEND:-}" \
  </dev/null >"$WORK/serial.log" 2>"$WORK/qemu.err" &
QEMU_PID=$!
wait "$QEMU_PID"; qemu_rc=$?
QEMU_PID=
set -e
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
# Parse this run's private copy; $LOG is shared by concurrent runs.
cp "$WORK/serial.log" "$LOG"

# --- verdict ----------------------------------------------------------------
# The serial console emits CRLF, and SeaBIOS/the kernel emit terminal resets
# (ESC c, ESC[2J ...) that can land on the same line as the first marker.
CLEAN=$WORK/serial.txt
sed -E $'s/\r//g; s/\x1b\\[[0-9;?]*[A-Za-z]//g; s/\x1b[c78=>]//g' "$WORK/serial.log" >"$CLEAN"
[[ $VERBOSE == 1 ]] && cat "$CLEAN" >&2

failed=0
for phase in initramfs tmpfs; do
  # Suite lines are everything between this phase's BEGIN and END markers.
  awk -v p="$phase" '
    $0 == "=== PHASE " p " BEGIN" {on = 1; next}
    index($0, "=== PHASE " p " END") == 1 {on = 0}
    on {print "[" p "] " $0}' "$CLEAN"
  if ! grep -qx "=== PHASE $phase BEGIN" "$CLEAN"; then
    log "FAIL: phase $phase never began"; failed=1; continue
  fi
  rc=$(sed -n "s/^=== PHASE $phase END rc=\([0-9]*\)$/\1/p" "$CLEAN" | tail -n1)
  if [[ -z $rc ]]; then
    log "FAIL: phase $phase never ended"; failed=1
  elif [[ $rc != 0 ]]; then
    log "FAIL: phase $phase suite exited rc=$rc"; failed=1
  fi
done
grep '^=== INIT ERROR' "$CLEAN" >&2 && failed=1
# Kernel trouble is worth seeing even when the suite passed.
grep -E 'soft lockup|hung_task|BUG:|Oops|WARNING:|Call Trace' "$CLEAN" >&2 && log "the kernel complained (above)"
if done_line=$(grep -m1 '^=== VM DONE' "$CLEAN"); then
  log "${done_line#=== } host-wall=${elapsed}s ($ARCH, $KPKG)"
else
  log "FAIL: '=== VM DONE' never appeared (qemu rc=$qemu_rc after ${elapsed}s; 124 = timeout)"
  failed=1
fi
if [[ $failed -ne 0 ]]; then
  if [[ $VERBOSE != 1 ]]; then
    log "last lines of the serial log:"
    tail -n 40 "$CLEAN" >&2
  fi
  if [[ -s $WORK/qemu.err ]]; then
    log "qemu stderr:"
    cat "$WORK/qemu.err" >&2
  fi
  exit 1
fi
log "PASS (both phases rc=0)"
