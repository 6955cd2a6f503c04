#!/usr/bin/env bash
# `make test-containerd`: containerd 1.6 (its runc v2 shim, through ctr) as a second real client of
# an OCI runtime: `ctr run --rm --runc-binary PATH`, exit codes, a terminal, and on a detached task
# exec, ps, pause/resume and kill; and SystemdCgroup = true in a booted systemd, as on a Kubernetes
# node; after each, that nothing names the container any more.
#
# usage: [OCI_PARTS="PART..."] tests/oci/containerd.sh [--runtime PATH] [--log-calls FILE]
#   OCI_PARTS    only these parts (default all): flows run tty detached systemd
#   --runtime    the OCI runtime (default ./contain)
#   --log-calls  append every call the shim makes to the runtime (argv, fds, exit status) to FILE
# containerd runs privately (its own root, state and socket in a temporary directory; no systemd but
# in the systemd part's own) and is stopped at the end; the image is built from tests/mkrootfs.sh's rootfs with podman
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
    oci_systemd_halt
    rmdir "/run/containerd/runc/$ns" 2>/dev/null || true
    # The runtime makes the parents of a cgroupsPath (/NAMESPACE/ID) and removes only the leaf.
    rmdir /sys/fs/cgroup/*/"$ns" 2>/dev/null || true
    oci_remove_dir "$work"
}
trap cleanup EXIT

name=$(basename "$runtime")
runtime_file=$runtime
if [[ -n $calls ]]; then
    runtime=$(oci_call_logger "$runtime" "$calls" "$work/bin")
fi

# A containerd's configuration, DIR/config.toml: its root, state and socket (DIR/containerd.sock) in DIR.
containerd_config() {
    cat > "$1/config.toml" <<EOF
version = 2
root = "$1/root"
state = "$1/state"
# Not needed to run tasks, and it would want CNI and a CRI configuration.
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$1/containerd.sock"
[ttrpc]
  address = "$1/containerd.sock.ttrpc"
EOF
}
# Waits up to 10 s for the socket SOCK.
wait_socket() {
    for _ in $(seq 100); do
        [[ -S $1 ]] && return
        sleep 0.1
    done
    return 1
}
containerd_config "$work"
containerd --config "$work/config.toml" > "$work/containerd.log" 2>&1 &
containerd_pid=$!
wait_socket "$sock" || { tail "$work/containerd.log" >&2; oci_die "containerd did not start"; }
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
# The state (RUNNING, PAUSED, STOPPED) `task ls` gives task ID, through the ctr function CTR.
task_state() { "$1" task ls | awk -v id="$2" '$1 == id {print $3}'; }
# Its PID 1's pid. usage: task_pid CTR ID
task_pid() { "$1" task ls | awk -v id="$2" '$1 == id {print $2}'; }
# Waits up to 5 s for the task to stop. usage: wait_stopped CTR ID
wait_stopped() {
    for _ in $(seq 50); do
        [[ $(task_state "$@") == STOPPED ]] && return
        sleep 0.1
    done
    return 1
}

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
    wait_stopped c "$id" || true
    c task rm "$id" >/dev/null
    c container rm "$id" >/dev/null
    gone "flows: task exec" "$id"
    # --null-io: the shim gives the runtime one read-only /dev/null as stdin, stdout and stderr;
    # the container's must take writes (runc and crun reopen them on its own /dev/null).
    id=oci-null-io-$$
    expect "flows: --null-io: a write to stdout succeeds" 0 "" run --rm --null-io $image "$id" sh -c 'echo to-null'
    gone "flows: --null-io" "$id"
fi
if part run; then
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
fi

if part tty; then
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
fi

if part detached; then
    id=oci-detached-$$
    expect "run -d" 0 "" run -d $image "$id" sleep 600
    init=$(task_pid c "$id")
    expect "task exec" 0 from-exec c task exec --exec-id e1 "$id" echo from-exec
    expect "task exec's exit code" 7 "" c task exec --exec-id e2 "$id" sh -c 'exit 7'
    capture c task ps "$id"
    [[ $rc == 0 && $out == *"$init"* ]] && ok "task ps lists PID 1 ($init)" || not_ok "task ps lists PID 1 ($init)" "got exit $rc: $out $err"
    expect_quick "task pause" 0 "" c task pause "$id"
    expect "paused" 0 PAUSED task_state c "$id"
    expect_quick "task resume" 0 "" c task resume "$id"
    expect "running again" 0 RUNNING task_state c "$id"
    expect "task kill -s SIGKILL" 0 "" c task kill -s SIGKILL "$id"
    wait_stopped c "$id" || true
    expect "stopped" 0 STOPPED task_state c "$id"
    # The shim asks the runtime, which must say so in the words go-runc matches ("container not
    # running", "does not exist"), on stderr: then ctr knows the process is gone, as with runc.
    capture c task kill -s SIGKILL "$id"
    if [[ $rc != 0 && $err == *"process already finished"* ]]; then ok "task kill of a stopped task: already finished"
    else not_ok "task kill of a stopped task: already finished" "got exit $rc, stderr: $err"; fi
    expect "task rm" 0 "" c task rm "$id"
    expect "container rm" 0 "" c container rm "$id"
    gone "detached task" "$id"
fi

# --- SystemdCgroup = true (#23 item 6) ------------------------------------------------------------
# What a Kubernetes node runs: containerd as a service of systemd (PID 1), its runc v2 shim given
# the options {BinaryName: the runtime, SystemdCgroup: true} (`ctr run --runc-binary PATH
# --runc-systemd-cgroup`; the CRI plugin sets the same from its runc options), so that the shim
# passes the runtime --systemd-cgroup, and a cgroupsPath in systemd's slice:prefix:name form as the
# kubelet gives it (kubepods-besteffort-podUID.slice:cri-containerd:ID). This host's PID 1 is not
# systemd: the part boots one (tests/systemd/boot.sh, on this host's layout: v1 hierarchies and a
# hybrid cgroup2) and runs containerd in it as a transient service (systemd-run), ctr beside it.
# Checked: the scope systemd knows (active, Delegate, in the pod's slice, the task's processes in
# it, exec's too), the limits as its properties and in its cgroup files, `ctr task metrics` from the
# task's own cgroup, ps, kill, delete, and the scope stopped after delete, nothing left. crun 1.8
# cannot run here: it refuses the hybrid layout ("cgroups in hybrid mode not supported"); runc is
# the peer (as in podman.sh's root-systemd).
pod_slice=kubepods-besteffort-pod0c6f9b3e_2b5d_4c41_9d0a_6c1e4a7f8b21.slice
pod_cgroup=/kubepods.slice/kubepods-besteffort.slice/$pod_slice
# Inside the booted system: its containerd's directory, and ctr with it.
sd=$work/sd
sc() { in_systemd ctr -a "$sd/containerd.sock" -n "$ns" "$@"; }
sc_list() { sc container ls -q; sc task ls -q; in_systemd systemctl list-units --all --plain --no-legend 'cri-containerd-*'; }
# ctr run with the runc options {BinaryName, SystemdCgroup: true}, in the pod's slice, as ID's scope.
# usage: srun ID RUN-ARGS...
srun() {
    local id=$1
    shift
    sc run --runc-binary "$sd/bin/$name" --runc-systemd-cgroup --cgroup "$pod_slice:cri-containerd:$id" "$@"
}
sd_boot() {
    mkdir -p "$sd/bin"
    install -m 755 "$runtime_file" "$sd/bin/$name"
    cp "$work/bb.tar" "$sd/"
    oci_systemd_boot "$work/sd-${work##*.}" "$sd" || return 1
    containerd_config "$sd"
    in_systemd systemd-run --quiet --unit contain-oci-containerd -p Delegate=yes -p KillMode=process \
        containerd --config "$sd/config.toml" &&
        wait_socket "$sd/containerd.sock" &&
        sc image import --base-name localhost/bb "$sd/bb.tar" >/dev/null
}
# No container, task or scope naming ID: in ctr's lists, systemd's units, the booted system's /run
# and containerd's directories, the world's cgroups (below the host's hierarchies), and on the host.
sd_gone() {
    local world_cgroups=(/sys/fs/cgroup/*/"sd-${work##*.}")
    no_leftovers "$1" "$2" sc_list "/proc/$oci_systemd_pid/root/run" "$sd/state" "$sd/root/io.containerd.runtime.v2.task" \
        "${world_cgroups[@]}"
}
# The devices, memory and pids lines of the /proc/PID/cgroup that COMMAND prints, on one line.
cgroups_of() { "$@" | grep -o -e "devices:.*" -e "memory:.*" -e "pids:.*" | sort | xargs; }
# The metric NAME of `ctr task metrics ID`'s table.
metric() { sc task metrics "$1" | awk -v name="$2" '$1 == name {print $2}'; }
if part systemd; then
    what=systemd
    check "$what: a systemd booted as PID 1, containerd its service, the image imported" sd_boot
    # The first scope in a new slice: systemd makes the slices then, and trims on the way the v1
    # directories of the controllers a slice does not use, devices among them.
    id=oci-sd-first-$$
    expect "$what: run --rm, the first task in the pod's slice, in its scope's devices cgroup" 0 \
        "devices:$pod_cgroup/cri-containerd-$id.scope" srun "$id" --rm $image "$id" grep -o "devices:.*" /proc/self/cgroup
    sd_gone "$what: run --rm" "$id"
    # The device rules hold for the task's processes: the host's disk, made a node of, cannot be read.
    id=oci-sd-disk-$$
    expect "$what: the device rules hold: the host's disk ($host_disk) cannot be read" 0 refused \
        srun "$id" --rm $image "$id" sh -c "$read_host_disk"
    sd_gone "$what: the device rules" "$id"
    id=oci-sd-$$
    unit=cri-containerd-$id.scope
    scope_cgroup=$pod_cgroup/$unit
    expect "$what: run -d with --memory-limit, --cpus" 0 "" srun "$id" -d --memory-limit 67108864 --cpus 0.5 \
        $image "$id" sleep 600
    expect "$what: the task's scope, active, delegated, in the pod's slice" 0 "ActiveState=active
ControlGroup=$scope_cgroup
Delegate=yes
Slice=$pod_slice" unit_shows "$unit" ActiveState ControlGroup Delegate Slice
    capture in_systemd systemctl status --no-pager "$unit"
    [[ $out == *"Active: active (running)"* && $out == *"sleep 600"* ]] && ok "$what: systemctl status shows it running, with sleep 600 in it" \
        || not_ok "$what: systemctl status shows it running, with sleep 600 in it" "got exit $rc: $out" "stderr: $err"
    expect "$what: systemd holds the memory limit (MemoryMax or v1's MemoryLimit) and the CPU quota" 0 \
        "500ms 67108864" eval 'unit_shows "$unit" MemoryMax MemoryLimit CPUQuotaPerSecUSec |
            sed -n -e "s/^Memory[A-Za-z]*=\([0-9]\)/\1/p" -e "s/^CPUQuotaPerSecUSec=//p" | xargs'
    expect "$what: the scope's cgroup files hold the limits" 0 "67108864 50000" eval \
        'echo $(cat /proc/$oci_systemd_pid/root/sys/fs/cgroup/{memory$scope_cgroup/memory.limit_in_bytes,cpu$scope_cgroup/cpu.cfs_quota_us})'
    init=$(task_pid sc "$id")
    capture sc task ps "$id"
    [[ $rc == 0 && -n $init && $out == *"$init"* ]] && ok "$what: task ps lists PID 1 ($init)" \
        || not_ok "$what: task ps lists PID 1 ($init)" "got exit $rc: $out $err"
    expect "$what: task exec" 0 from-exec sc task exec --exec-id e1 "$id" echo from-exec
    expect "$what: task exec's exit code" 7 "" sc task exec --exec-id e2 "$id" sh -c 'exit 7'
    in_scope="devices:$scope_cgroup memory:$scope_cgroup pids:$scope_cgroup"
    expect "$what: the task's PID 1 is in the scope (devices, memory, pids)" 0 "$in_scope" \
        cgroups_of in_systemd cat "/proc/$init/cgroup"
    expect "$what: task exec runs in the scope (devices, memory, pids)" 0 "$in_scope" \
        cgroups_of sc task exec --exec-id e3 "$id" cat /proc/self/cgroup
    expect "$what: the device rules hold for task exec" 0 refused sc task exec --exec-id e4 "$id" sh -c "$read_host_disk"
    # The shim reads the task's own cgroup: its limit, and its one process (the host's root has hundreds).
    expect "$what: task metrics: the task's memory limit" 0 67108864 metric "$id" memory.limit_in_bytes
    expect "$what: task metrics: the task's processes" 0 1 metric "$id" pids.current
    expect "$what: task kill -s SIGKILL" 0 "" sc task kill -s SIGKILL "$id"
    wait_stopped sc "$id" || true
    expect "$what: stopped" 0 STOPPED task_state sc "$id"
    expect "$what: task rm (delete)" 0 "" sc task rm "$id"
    expect "$what: the scope is stopped after delete" 0 "ActiveState=inactive" unit_shows "$unit" ActiveState
    expect "$what: container rm" 0 "" sc container rm "$id"
    sd_gone "$what: kill, delete" "$id"
    oci_systemd_halt
fi

check "no container, no task at the end" test -z "$(c_list)"
oci_done "containerd scenarios with $name" $((SECONDS - t0))
