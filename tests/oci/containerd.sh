#!/usr/bin/env bash
# `make test-containerd`: containerd 1.6 (its runc v2 shim, through ctr) as a second real client of
# an OCI runtime: `ctr run --rm --runc-binary PATH`, exit codes, a terminal, and on a detached task
# exec, ps, pause/resume and kill; after each, that nothing names the container any more.
#
# usage: [OCI_PARTS="PART..."] tests/oci/containerd.sh [--runtime PATH] [--log-calls FILE]
#   OCI_PARTS    only these parts (default all): flows (the rest always runs)
#   --runtime    the OCI runtime (default ./contain)
#   --log-calls  append every call the shim makes to the runtime (argv, fds, exit status) to FILE
# containerd runs privately (its own root, state and socket in a temporary directory, no systemd)
# and is stopped at the end; the image is built from tests/mkrootfs.sh's rootfs with podman
# (import, then save as an OCI archive) and imported with `ctr image import`.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
. tests/oci/lib.sh
[[ $(id -u) -eq 0 ]] || oci_die "needs root"

oci_client_args "$@"   # sets $runtime and $calls
oci_install containerd podman tmux busybox-static
oci_private_view "$self" --runtime "$runtime" ${calls:+--log-calls "$calls"}

# Kept for reading after a failure, as the runtime-tools TAP is.
mkdir -p target/oci
exec > >(tee "target/oci/containerd-$(basename "$runtime").txt") 2>&1

work=$(mktemp -d /tmp/contain-containerd.XXXXXX)
OCI_WORK=$work
sock=$work/containerd.sock
# A namespace of our own: the shim keeps the runtime's state in /run/containerd/runc/NAMESPACE (its
# --root), shared with any other containerd on the machine.
ns=contain-oci-$$
containerd_pid=
cleanup() {
    tmux_stop
    if [[ -n $containerd_pid ]]; then
        for id in $(ctr -a "$sock" -n "$ns" task ls -q 2>/dev/null); do
            ctr -a "$sock" -n "$ns" task kill -s SIGKILL "$id" 2>/dev/null || true
        done
        sleep 0.2
        for id in $(ctr -a "$sock" -n "$ns" container ls -q 2>/dev/null); do
            ctr -a "$sock" -n "$ns" task rm -f "$id" >/dev/null 2>&1 || true
            ctr -a "$sock" -n "$ns" container rm "$id" 2>/dev/null || true
        done
        kill "$containerd_pid" 2>/dev/null && wait "$containerd_pid" 2>/dev/null || true
    fi
    rmdir "/run/containerd/runc/$ns" 2>/dev/null || true
    # The runtime makes the parents of a cgroupsPath (/NAMESPACE/ID) and removes only the leaf.
    rmdir /sys/fs/cgroup/*/"$ns" 2>/dev/null || true
    oci_remove_dir "$work"
}
trap cleanup EXIT

name=$(basename "$runtime")
if [[ -n $calls ]]; then
    runtime=$(oci_call_logger "$runtime" "$calls" "$work/bin")
fi

cat > "$work/config.toml" <<EOF
version = 2
root = "$work/root"
state = "$work/state"
# Not needed to run tasks, and it would want CNI and a CRI configuration.
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
EOF
containerd --config "$work/config.toml" > "$work/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do
    [[ -S $sock ]] && break
    sleep 0.1
done
[[ -S $sock ]] || { tail "$work/containerd.log" >&2; oci_die "containerd did not start"; }
c() { timeout 120 ctr -a "$sock" -n "$ns" "$@"; }
c_list() { c container ls -q; c task ls -q; }

# The image: busybox rootfs → podman → OCI archive → containerd.
oci_podman_config "$work" "crun=$(command -v crun)"
oci_podman_image "$work" localhost/bb
podman save -q --format oci-archive -o "$work/bb.tar" localhost/bb
c image import --base-name localhost/bb "$work/bb.tar" >/dev/null
image=localhost/bb:latest
echo "containerd $(containerd --version | awk '{print $3}'), runtime $name at $runtime"

# Besides the generic places (lib.sh): containerd's state and root directories, and the runtime's
# state in the shim's --root.
gone() { no_leftovers "$1" "$2" c_list "$work/state" "$work/root/io.containerd.runtime.v2.task"; }
run() { c run --runc-binary "$runtime" "$@"; }

t0=$SECONDS
# --- flows: what users do beyond the scenarios below, where contain differed from crun (#23) -------
if part flows; then
    # containerd sets no HOME: the runtime gives the user's from the image's /etc/passwd (runc, crun).
    id=oci-home-$$
    expect "flows: HOME from the image's /etc/passwd" 0 /root run --rm $image "$id" sh -c 'echo $HOME'
    gone "flows: HOME" "$id"
    id=oci-exec-home-$$
    run -d $image "$id" sleep 600 >/dev/null
    expect "flows: task exec gets HOME too" 0 /root c task exec --exec-id e1 "$id" sh -c 'echo $HOME'
    c task kill -s SIGKILL "$id" >/dev/null
    for _ in $(seq 50); do
        [[ $(c task ls | awk -v id="$id" '$1 == id {print $3}') == STOPPED ]] && break
        sleep 0.1
    done
    c task rm "$id" >/dev/null
    c container rm "$id" >/dev/null
    gone "flows: task exec" "$id"
    # --null-io: the shim gives the runtime one read-only /dev/null as stdin, stdout and stderr;
    # the container's must take writes (runc and crun reopen them on its own /dev/null).
    id=oci-null-io-$$
    expect "flows: --null-io: a write to stdout succeeds" 0 "" run --rm --null-io $image "$id" sh -c 'echo to-null'
    gone "flows: --null-io" "$id"
fi
id=oci-echo-$$
expect "run --rm echo hi" 0 hi run --rm $image "$id" echo hi
gone "run --rm echo hi" "$id"
id=oci-exit-$$
expect "a failing command's exit code" 42 "" run --rm $image "$id" sh -c 'exit 42'
gone "a failing command" "$id"
id=oci-missing-$$
capture run --rm $image "$id" /no/such/command
if [[ $rc != 0 && $err == *"/no/such/command"* ]]; then ok "a missing command fails, named in ctr's error"
else not_ok "a missing command fails, named in ctr's error" "got exit $rc, stderr: $err"; fi
# A failed start leaves the container record (not the task) to ctr's caller.
c container rm "$id" >/dev/null 2>&1 || true
gone "a missing command" "$id"

id=oci-tty-$$
tmux_start "ctr -a '$sock' -n '$ns' run --rm -t --runc-binary '$runtime' $image $id sh; echo ctr-exit=\$?; sleep 600"
screen_check "-t: a shell prompt" "/ # "
tmux_line 'tty; stty size; echo sum-$((20+22))'
screen_check "-t: a pty of 24x80" "/dev/pts/0
24 80
sum-42"
tmux_line "exit 3"
screen_check "-t: the shell's exit status is ctr's" "ctr-exit=3"
tmux_stop
gone "-t" "$id"

id=oci-detached-$$
expect "run -d" 0 "" run -d $image "$id" sleep 600
init=$(c task ls | awk -v id="$id" '$1 == id {print $2}')
expect "task exec" 0 from-exec c task exec --exec-id e1 "$id" echo from-exec
expect "task exec's exit code" 7 "" c task exec --exec-id e2 "$id" sh -c 'exit 7'
capture c task ps "$id"
[[ $rc == 0 && $out == *"$init"* ]] && ok "task ps lists PID 1 ($init)" || not_ok "task ps lists PID 1 ($init)" "got exit $rc: $out $err"
expect_quick "task pause" 0 "" c task pause "$id"
expect "paused" 0 PAUSED bash -c "ctr -a '$sock' -n '$ns' task ls | awk '\$1 == \"$id\" {print \$3}'"
expect_quick "task resume" 0 "" c task resume "$id"
expect "running again" 0 RUNNING bash -c "ctr -a '$sock' -n '$ns' task ls | awk '\$1 == \"$id\" {print \$3}'"
expect "task kill -s SIGKILL" 0 "" c task kill -s SIGKILL "$id"
for _ in $(seq 50); do
    [[ $(c task ls | awk -v id="$id" '$1 == id {print $3}') == STOPPED ]] && break
    sleep 0.1
done
expect "stopped" 0 STOPPED bash -c "ctr -a '$sock' -n '$ns' task ls | awk '\$1 == \"$id\" {print \$3}'"
# The shim asks the runtime, which must say so in the words go-runc matches ("container not
# running", "does not exist"), on stderr: then ctr knows the process is gone, as with runc.
capture c task kill -s SIGKILL "$id"
if [[ $rc != 0 && $err == *"process already finished"* ]]; then ok "task kill of a stopped task: already finished"
else not_ok "task kill of a stopped task: already finished" "got exit $rc, stderr: $err"; fi
expect "task rm" 0 "" c task rm "$id"
expect "container rm" 0 "" c container rm "$id"
gone "detached task" "$id"

check "no container, no task at the end" test -z "$(c_list)"
oci_done "containerd scenarios with $name" $((SECONDS - t0))
