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
#   The suite sees CONTAIN_VM_PHASE=initramfs|tmpfs and runs with cwd /payload.
#   Exit status is 0 only if both phases ran and the suite exited 0 in each.
#
# Environment (all optional):
#   CONTAIN_VM_CACHE    kernel cache, outside any repo   (/var/cache/contain-vm)
#   CONTAIN_VM_LOG      where the serial console log is kept (<cache>/last-serial.log)
#   CONTAIN_VM_ACCEL    tcg | kvm                        (tcg, see note below)
#   CONTAIN_VM_TIMEOUT  seconds before the VM is killed  (170)
#   CONTAIN_VM_MEM      guest RAM in MiB                  (1024)
#   CONTAIN_VM_SMP      guest CPUs                        (2)
#   CONTAIN_VM_MODULES  kernel modules to load at boot    ("overlay veth bridge")
#   CONTAIN_VM_KERNEL_PKG  kernel package; default: what linux-image-amd64 depends on
#   CONTAIN_VM_VERBOSE  1 = print the whole serial log, not just suite lines
#
# Note on accel: tcg is the default. On nested-virt hosts (e.g. inside a
# Firecracker VM) /dev/kvm can exist yet the guest hangs right after the
# kernel decompressor, with qemu spinning in the host kernel; tcg boots this
# tiny initramfs in a few seconds anyway. Use kvm only where it is known good.
set -euo pipefail

CACHE=${CONTAIN_VM_CACHE:-/var/cache/contain-vm}
LOG=${CONTAIN_VM_LOG:-$CACHE/last-serial.log}
ACCEL=${CONTAIN_VM_ACCEL:-tcg}
TIMEOUT=${CONTAIN_VM_TIMEOUT:-170}
MEM=${CONTAIN_VM_MEM:-1024}
SMP=${CONTAIN_VM_SMP:-2}
MODULES=${CONTAIN_VM_MODULES-overlay veth bridge}
VERBOSE=${CONTAIN_VM_VERBOSE:-0}

log() { printf 'run-vm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 PAYLOAD_DIR"
PAYLOAD=$(realpath -e -- "$1") || die "payload dir '$1' not found"
[[ -f $PAYLOAD/suite.sh ]] || die "$PAYLOAD/suite.sh missing"
[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, mknod, root-owned cache)"

# --- host packages ----------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    apt-get update -qq >&2
    APT_UPDATED=1
  fi
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
  # never silently uninstall host packages (e.g. a backported qemu-utils
  # conflicts with bookworm's qemu-system-x86); fail and let a human decide.
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
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-remove "$@"
}
ensure_pkg qemu-system-x86 qemu-system-x86_64
ensure_pkg cpio cpio
ensure_pkg kmod depmod   # only to generate modules.dep for the unpacked kernel
# The guest needs a *static* busybox: the initramfs has no libc. The dynamic
# "busybox" package also ships /bin/busybox, so check the package, not the path.
ensure_pkg busybox-static
BUSYBOX=$(dpkg -L busybox-static | grep -m1 '/busybox$')
[[ -x $BUSYBOX ]] || die "static busybox not found"

# --- kernel -----------------------------------------------------------------
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # parallel runs must not unpack into the same cache dir at once

# resolve_kernel: print "PKG VERSION" of the kernel image to use.
resolve_kernel() {
  local pkg=${CONTAIN_VM_KERNEL_PKG:-} ver
  if [[ -z $pkg ]]; then
    # linux-image-amd64 is a metapackage; the versioned image is its dependency.
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
          awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
  fi
  [[ -n $pkg ]] || return 1
  ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
  [[ -n $ver && $ver != "(none)" ]] || return 1
  echo "$pkg $ver"
}

if ! read -r KPKG KVER < <(resolve_kernel); then
  apt_update_once
  if ! read -r KPKG KVER < <(resolve_kernel); then
    [[ -z ${CONTAIN_VM_KERNEL_PKG:-} ]] ||
      die "kernel package '$CONTAIN_VM_KERNEL_PKG' not found in apt"
    # Offline and no apt lists: fall back to whatever was unpacked before.
    KDIR=$(printf '%s\n' "$CACHE"/kernel/*/.complete | sort -V | tail -n1)
    KDIR=${KDIR%/.complete}
    [[ -d $KDIR ]] || die "cannot resolve the kernel package and nothing is cached"
    KPKG=$(basename "$KDIR"); KVER=cached
    log "warning: apt lookup failed, using cached $KPKG"
  fi
fi
KDIR=${KDIR:-$CACHE/kernel/${KPKG}_${KVER//:/%}}
KDIR=${KDIR%/}

if [[ ! -f $KDIR/.complete ]]; then
  log "downloading $KPKG $KVER"
  rm -rf "$KDIR.tmp"
  mkdir -p "$KDIR.tmp/deb"
  # Running as root, apt drops privileges to _apt for downloads, which cannot
  # write into a root-owned cache; staying root avoids a noisy warning.
  (cd "$KDIR.tmp/deb" && apt-get download -qq -o APT::Sandbox::User=root "$KPKG=$KVER" >&2)
  dpkg-deb -x "$KDIR.tmp"/deb/*.deb "$KDIR.tmp/root"
  rm -rf "$KDIR.tmp/deb"   # the unpacked tree is all we need again
  # The .deb has no modules.dep (its postinst runs depmod), so generate it.
  kv=$(ls "$KDIR.tmp/root/lib/modules")
  depmod -b "$KDIR.tmp/root" "$kv"
  touch "$KDIR.tmp/.complete"
  mv "$KDIR.tmp" "$KDIR"   # atomic: an interrupted unpack is never reused
  # Each unpacked kernel is ~400 MB; only the current one is worth keeping.
  for old in "$CACHE"/kernel/*; do
    [[ $old == "$KDIR" ]] || rm -rf "$old"
  done
fi
vmlinuz=("$KDIR"/root/boot/vmlinuz-*)
VMLINUZ=${vmlinuz[0]}
[[ -f $VMLINUZ ]] || die "no vmlinuz in $KDIR"
KV=${VMLINUZ##*/vmlinuz-}
MODDIR=$KDIR/root/lib/modules/$KV
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
for m in $MODULES; do add_module "$m"; done
: >"$ROOT/lib/modules/load.list"
for rel in "${LOAD_ORDER[@]}"; do
  out=$ROOT/lib/modules/$(basename "${rel%%.ko*}").ko
  case $rel in
    *.ko.xz)  xz -dc "$MODDIR/$rel" >"$out" ;;
    *.ko.zst) ensure_pkg zstd zstd; zstd -qdc "$MODDIR/$rel" >"$out" ;;
    *.ko.gz)  gzip -dc "$MODDIR/$rel" >"$out" ;;
    *)        cp "$MODDIR/$rel" "$out" ;;
  esac
  echo "/lib/modules/${out##*/}" >>"$ROOT/lib/modules/load.list"
done

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

echo   # start on a fresh line whatever the console printed before
say "PHASE $PHASE BEGIN"
# stdin from /dev/null: a suite reading stdin must not hang on the console.
if [ -x /payload/suite.sh ]; then
  (cd /payload && ./suite.sh) </dev/null 2>&1
else
  (cd /payload && sh ./suite.sh) </dev/null 2>&1
fi
say "PHASE $PHASE END rc=$?"

if [ "$PHASE" = initramfs ]; then
  # Copy ourselves into a real tmpfs and continue there, where pivot_root works.
  mkdir -p /newroot
  mount -t tmpfs -o mode=0755,size=80% tmpfs /newroot || fail "mount tmpfs"
  for e in /*; do
    case $e in /proc|/sys|/dev|/newroot) continue ;; esac
    cp -a "$e" /newroot/ || fail "copy $e to tmpfs"
  done
  mkdir -p /newroot/proc /newroot/sys /newroot/dev
  for m in /dev /proc /sys; do
    mount --move "$m" "/newroot$m" || fail "move $m"
  done
  # If this fails PID 1 is gone: the kernel panics, panic=-1 + -no-reboot end
  # the VM, and the host reports the missing tmpfs phase with the log tail.
  exec switch_root /newroot /init tmpfs
fi

say "VM DONE uptime=$(cut -d' ' -f1 /proc/uptime)s"
halt_vm
INIT
chmod 755 "$ROOT/init"

(cd "$ROOT" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$WORK/initrd.gz"

# --- boot -------------------------------------------------------------------
case $ACCEL in
  kvm) [[ -w /dev/kvm ]] || die "CONTAIN_VM_ACCEL=kvm but /dev/kvm is not usable"
       CPU=host ;;
  tcg) CPU=max ;;
  *)   die "CONTAIN_VM_ACCEL must be tcg or kvm" ;;
esac
mkdir -p "$(dirname "$LOG")"
log "booting $KPKG $KVER ($ACCEL, ${MEM}M, ${SMP} cpus, timeout ${TIMEOUT}s); serial log: $LOG"
start=$(date +%s.%N)
# stdin from /dev/null keeps -nographic from putting a terminal into raw mode
# (and leaving it so if timeout kills qemu).
set +e
timeout --kill-after=5 "$TIMEOUT" qemu-system-x86_64 \
  -accel "$ACCEL" -cpu "$CPU" -m "$MEM" -smp "$SMP" \
  -nographic -no-reboot -nic none \
  -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
  -append "console=ttyS0 panic=-1 quiet cgroup_no_v1=all" \
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
if done_line=$(grep -m1 '^=== VM DONE' "$CLEAN"); then
  log "${done_line#=== } host-wall=${elapsed}s"
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
