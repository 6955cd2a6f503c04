# Shared by the OCI runtime CLI harness (tests/oci/*.sh): sourced, not run.

# Where built suites are cached, outside the repository (`make clean` must not cost a rebuild).
OCI_CACHE=${OCI_CACHE:-/var/cache/contain-oci}

oci_log() { echo "[oci] $*" >&2; }
oci_die() { oci_log "error: $*"; exit 1; }

# apt-get installs the Debian packages that are missing (the harness sets up a fresh Debian 12 machine).
oci_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    oci_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Re-runs the calling script (by absolute path) in the private view of tests/oci/private-view.sh,
# unless it already runs there. usage: oci_private_view "$self" "$@"   (returns only inside it)
oci_private_view() {
    [[ ${OCI_PRIVATE_VIEW:-} == 1 ]] && return
    exec "$(dirname "${BASH_SOURCE[0]}")/private-view.sh" bash "$@"
}

# Makes DIR/NAME, an executable that appends each call (pid, argv with shell quoting, the open file
# descriptors, and at the end the exit status) to LOG and runs RUNTIME with the same arguments.
# Named like the runtime it wraps, because engines key behaviour on the name (podman's
# runtime_supports_json). Not exec'd, so that the exit status can be logged: the runtime's
# children are reparented to the engine's subreaper exactly as without the wrapper.
# usage: oci_call_logger RUNTIME LOG DIR   → prints the wrapper's path
oci_call_logger() {
    local runtime=$1 log=$2 dir=$3
    local wrapper
    wrapper=$dir/$(basename "$runtime")
    mkdir -p "$dir"
    cat > "$wrapper" <<EOF
#!/bin/bash
fds=
fdl=(/proc/\$\$/fd/*)
for fd in "\${fdl[@]}"; do
    # Not 255 (bash's script fd), nor the directory fd the glob itself had open.
    [[ \${fd##*/} != 255 && -e \$fd ]] && fds+=" \${fd##*/}->\$(readlink "\$fd")"
done
{ printf '%s' "\$\$"; printf ' %q' "\$(basename "\$0")" "\$@"; printf '\n%s   fds:%s\n' "\$\$" "\$fds"; } >> $(printf %q "$log")
$(printf %q "$runtime") "\$@"
rc=\$?
printf '%s   exit %s\n' "\$\$" "\$rc" >> $(printf %q "$log")
exit \$rc
EOF
    chmod 755 "$wrapper"
    echo "$wrapper"
}

# A runtime argument: an absolute path for a path, else the command found in PATH.
oci_resolve() {
    local path
    if [[ $1 == */* ]]; then path=$(realpath "$1"); else path=$(command -v "$1" || true); fi
    [[ -n $path && -x $path ]] || oci_die "runtime $1 not found or not executable"
    echo "$path"
}

# Podman with a configuration and storage of its own under WORK (CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF are exported), each runtime registered under its NAME, the first one
# the default. usage: oci_podman_config WORK NAME=PATH...
oci_podman_config() {
    oci_podman_files "$1" overlay "${@:2}"
    export CONTAINERS_CONF=$1/containers.conf CONTAINERS_STORAGE_CONF=$1/storage.conf
}

# Writes WORK/containers.conf and WORK/storage.conf (storage DRIVER under WORK/storage) for
# oci_podman_config, or for a user's podman (vfs: a user can mount no overlay here, and with one
# id mapped cannot chown the image's files, which it then keeps as they are).
# usage: oci_podman_files WORK DRIVER NAME=PATH...
oci_podman_files() {
    local work=$1 driver=$2 default=${3%%=*} json_names runtimes="" pair
    shift 2
    for pair in "$@"; do
        runtimes+="${pair%%=*} = [\"${pair#*=}\"]"$'\n'
    done
    # podman passes --log and --log-format=json only to the runtimes listed in runtime_supports_json.
    json_names=$(printf '%s\n' "${@%%=*}" contain crun runc | sort -u | sed 's/.*/"&"/' | paste -sd, -)
    cat > "$work/containers.conf" <<EOF
[containers]
# root here lacks CAP_SYS_RESOURCE: podman's defaults (nofile 1048576) would fail setrlimit.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work/events.log"
tmp_dir = "$work/libpod"
runtime = "$default"
runtime_supports_json = [$json_names]

[engine.runtimes]
$runtimes
EOF
    # A user's podman takes rootless_storage_path, not graphroot, and its runroot in $XDG_RUNTIME_DIR.
    cat > "$work/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$work/storage"
runroot = "$work/runroot"
rootless_storage_path = "$work/storage"

[storage.options.vfs]
ignore_chown_errors = "true"
EOF
}

# Imports tests/mkrootfs.sh's busybox rootfs as IMAGE, without a registry. usage: oci_podman_image WORK IMAGE
oci_podman_image() {
    sh tests/mkrootfs.sh "$1/rootfs"
    tar -C "$1/rootfs" -c . | podman import -q - "$2" >/dev/null
}

# Removes DIR after unmounting what is mounted below it (the engines' overlay and shm mounts, made in
# this private mount namespace).
oci_remove_dir() {
    grep -o " $1/[^ ]*" /proc/self/mountinfo | tac | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$1"
}

# Whether the scenario part NAME runs: every part, or those OCI_PARTS lists (`OCI_PARTS="exec stop"`).
part() { [[ -z ${OCI_PARTS:-} || " $OCI_PARTS " == *" $1 "* ]]; }

# --- TAP-style assertions for the engine scenarios ------------------------------------------------
# Scripts set OCI_WORK (a scratch directory) before using them; `oci_done` ends the run.
failures=0
count=0
ok() { count=$((count + 1)); echo "ok $count - $1"; }
not_ok() {
    count=$((count + 1)); failures=$((failures + 1))
    echo "not ok $count - $1"
    shift
    printf '#   %s\n' "$@"
}

# Runs a command, keeping its stdout, stderr and exit status in $out, $err and $rc.
capture() {
    rc=0
    out=$("$@" 2>"$OCI_WORK/stderr") || rc=$?
    err=$(<"$OCI_WORK/stderr")
}

# expect DESCRIPTION RC STDOUT COMMAND...: the command exits RC and prints exactly STDOUT.
expect() {
    local what=$1 want_rc=$2 want_out=$3
    shift 3
    capture "$@"
    if [[ $rc == "$want_rc" && $out == "$want_out" ]]; then
        ok "$what"
    else
        not_ok "$what" "command: $*" "want exit $want_rc, stdout '$want_out'" \
            "got exit $rc, stdout '$out'" "stderr: $err"
    fi
}

# expect_quick DESCRIPTION RC STDOUT COMMAND...: as expect, and at once (under 3 s) with nothing
# on stderr: what a client sees of a runtime that misbehaves only in its delays and its words.
expect_quick() {
    local began=$SECONDS
    expect "$@"
    local what=$1
    if (( SECONDS - began < 3 )) && [[ -z $err ]]; then
        ok "$what: at once, and quietly"
    else
        not_ok "$what: at once, and quietly" "took $((SECONDS - began)) s" "stderr: $err"
    fi
}

# check DESCRIPTION COMMAND...: the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what" "failed: $*"; fi
}

# Prints the plan and a summary line; fails when an assertion did.
oci_done() {
    echo "1..$count"
    echo "$1: $((count - failures)) of $count passed in ${2}s"
    [[ $failures -eq 0 ]]
}

# no_leftovers DESCRIPTION ID LISTER [DIR...]: nothing may name container ID any more, after a
# moment's grace (an engine's cleanup may still be finishing). LISTER is a command printing the
# engine's containers, which must print nothing. Looked for: cgroups, files under /run (runtime
# state) and under the DIRs, mounts, and processes whose command line names it (conmon, the shim);
# then whatever the function named by OCI_EXTRA_LEFTOVERS adds to the array `found`.
no_leftovers() {
    local what=$1 id=$2 lister=$3 try
    shift 3
    [[ -n $id ]] || { not_ok "$what: no leftovers" "container ID unknown"; return; }
    for try in $(seq 25); do
        leftovers_of "$id" "$lister" "$@"
        [[ ${#found[@]} -eq 0 ]] && break
        sleep 0.2
    done
    if [[ ${#found[@]} -eq 0 ]]; then ok "$what: no leftovers"; else not_ok "$what: no leftovers" "${found[@]}"; fi
}
leftovers_of() {
    local id=$1 lister=$2 listed path pid cmdline
    shift 2
    found=()
    listed=$($lister 2>&1 || true)
    [[ -z $listed ]] || found+=("$lister: $(tr '\n' ' ' <<< "$listed")")
    while read -r path; do found+=("cgroup $path"); done < <(find /sys/fs/cgroup -maxdepth 5 -name "*$id*" 2>/dev/null)
    while read -r path; do found+=("file $path"); done < <(find /run "$@" -maxdepth 5 -name "*$id*" 2>/dev/null)
    grep -q -- "$id" /proc/self/mountinfo && found+=("mounts: $(grep -c -- "$id" /proc/self/mountinfo)")
    for pid in $(grep -l -- "$id" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
        # (grep matched its own command line too, and is gone by now)
        cmdline=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || continue
        [[ -n $cmdline ]] && found+=("process $pid: $cmdline")
    done
    if [[ -n ${OCI_EXTRA_LEFTOVERS:-} ]]; then $OCI_EXTRA_LEFTOVERS "$id"; fi
    return 0
}

# The value of a cgroup file of a running process, read from the host side: in the v1 hierarchy of
# CONTROLLER (V1_FILE) or else in the v2 one (V2_FILE), whichever holds it.
# usage: cgroup_value PID CONTROLLER V1_FILE V2_FILE
cgroup_value() {
    local pid=$1 controller=$2 v1_file=$3 v2_file=$4 rel
    rel=$(grep -E "^[0-9]+:([^:]*,)?$controller(,[^:]*)?:" "/proc/$pid/cgroup" | cut -d: -f3)
    if [[ -n $rel ]]; then
        cat "/sys/fs/cgroup/$controller$rel/$v1_file"
    else
        rel=$(grep '^0::' "/proc/$pid/cgroup" | cut -d: -f3)
        cat "/sys/fs/cgroup$rel/$v2_file"
    fi
}

# --- A systemd booted as PID 1 (tests/systemd/boot.sh), for the systemd cgroup driver's parts ---------
# This host's PID 1 is not systemd: boot.sh starts one in namespaces of its own over an overlay of
# the host's root, with the D-Bus system bus, and prints its host pid; halt.sh ends it with all
# that runs in it and removes its cgroups and WORLD (a scratch directory boot.sh fills). The
# private view (private-view.sh) has no cgroup2, which boot.sh needs (the booted system's cgroup is
# made there; without it systemd would take the cgroup2 root for its own): mounted again at its
# place while the system runs.
# usage: oci_systemd_boot WORLD [--unified] [PATH | ro:PATH ...]   (boot.sh's options and binds)
# Sets $oci_systemd_pid; fails as boot.sh does.
oci_systemd_scripts=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../systemd")
oci_systemd_unified=
oci_systemd_boot() {
    local world=$1 options=()
    shift
    [[ ${1:-} != --unified ]] || { options=(--unified); shift; }
    mkdir -p "$world"
    oci_systemd_world=$world
    if [[ ${OCI_PRIVATE_VIEW:-} == 1 && -z $oci_systemd_unified ]]; then
        mkdir -p /sys/fs/cgroup/unified
        mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
        oci_systemd_unified=/sys/fs/cgroup/unified
    fi
    oci_systemd_pid=$(sh "$oci_systemd_scripts/boot.sh" "${options[@]}" "$world" "$@")
}
# Ends the booted system, if there is one (a cleanup's call: never fails).
oci_systemd_halt() {
    [[ -z ${oci_systemd_pid:-} ]] || sh "$oci_systemd_scripts/halt.sh" "$oci_systemd_pid" "$oci_systemd_world" || true
    oci_systemd_pid=
    [[ -z $oci_systemd_unified ]] || umount "$oci_systemd_unified" || true
    oci_systemd_unified=
}
# in_systemd COMMAND...: runs it inside the booted system's namespaces (as root), up to 120 s.
in_systemd() { timeout 120 nsenter -t "$oci_systemd_pid" -a -- "$@"; }
# `systemctl show` of UNIT's properties PROPERTY... in the booted system: NAME=VALUE lines, sorted
# by name. usage: unit_shows UNIT PROPERTY...
unit_shows() {
    local unit=$1 props=() p
    shift
    for p in "$@"; do props+=(-p "$p"); done
    in_systemd systemctl show "${props[@]}" "$unit" | sort
}

# The host's first disk, MAJ:MIN (/proc/partitions), and a shell command for a container that makes
# a node of it and reads a byte: it prints `refused` where the container's device rules hold.
host_disk=$(awk 'NR > 2 && NF == 4 { print $1 ":" $2; exit }' /proc/partitions)
read_host_disk="mknod /dev/disk b ${host_disk%:*} ${host_disk#*:} 2>/dev/null && head -c 1 /dev/disk >/dev/null 2>&1 \
&& echo read-the-disk || echo refused"

# --- A real terminal: a private tmux server (socket in OCI_WORK) with one 80x24 window -------------
tmux_start() {
    printf '%s\n' "$1" > "$OCI_WORK/pane.sh"
    TERM=xterm tmux -S "$OCI_WORK/tmux.sock" -f /dev/null new-session -d -x 80 -y 24 "sh $OCI_WORK/pane.sh"
}
tmux_screen() { tmux -S "$OCI_WORK/tmux.sock" capture-pane -p -J -S -1000; }
tmux_line() { tmux -S "$OCI_WORK/tmux.sock" send-keys -l "$1" && tmux -S "$OCI_WORK/tmux.sock" send-keys Enter; }
tmux_keys() { tmux -S "$OCI_WORK/tmux.sock" "$@"; }
tmux_stop() { tmux -S "$OCI_WORK/tmux.sock" kill-server 2>/dev/null || true; }
# Waits up to 20 s for TEXT (fixed text, may span lines) on the screen.
tmux_wait() {
    local text=$1 i
    for i in $(seq 200); do
        tmux_screen | grep -qzF -- "$text" && return 0
        sleep 0.1
    done
    return 1
}
screen_check() {
    local what=$1 text=$2
    if tmux_wait "$text"; then ok "$what"; else not_ok "$what" "'$text' not on screen:" "$(tmux_screen | tail -15)"; fi
}
# Waits until a child of the container's PID 1 (INIT) with the command line CMDLINE runs as its
# terminal's foreground job: keys typed earlier would reach the shell, not that job.
wait_foreground() {
    local init=$1 cmdline=$2 i pid stat fields
    for i in $(seq 200); do
        for pid in $(cat "/proc/$init/task/"*/children 2>/dev/null); do
            [[ $(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") == "$cmdline " ]] || continue
            stat=$(<"/proc/$pid/stat")
            read -ra fields <<< "${stat##*) }"
            # state ppid pgrp session tty_nr tpgid: the foreground job's group is the terminal's.
            [[ ${fields[0]} != T && ${fields[2]} == "${fields[5]}" ]] && return 0
        done
        sleep 0.1
    done
    return 1
}

# The command line of podman.sh and containerd.sh: `[--runtime PATH] [--log-calls FILE]`. Sets
# $runtime (resolved; ./contain by default) and $calls (where to log the runtime's calls, or empty).
oci_client_args() {
    runtime=./contain
    calls=
    while [[ $# -gt 0 ]]; do
        case $1 in
            --runtime) runtime=$2; shift 2 ;;
            --log-calls) calls=$(realpath "$2"); shift 2 ;;
            *) oci_die "usage: $0 [--runtime PATH] [--log-calls FILE]" ;;
        esac
    done
    runtime=$(oci_resolve "$runtime")
}
