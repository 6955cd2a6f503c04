#!/usr/bin/env bash
# `make test-podman`: podman 4.3 as a real client of an OCI runtime. Runs the scenarios an engine
# needs (run, -it through a real terminal, exec, stop, kill, rm -f, pause, update, --memory,
# --pids-limit, --device-read-bps, --device-write-iops, block I/O stats, exit codes, a container
# with a user namespace of its own, and rootless podman as two users, with and without subordinate
# ids) with `podman --runtime PATH`, asserting outputs and exit codes, and
# after each one that nothing is left: no container in `podman ps -a`, no cgroup, mount, state
# file or process that names it.
#
# usage: [OCI_PARTS="PART..."] tests/oci/podman.sh [--runtime PATH] [--log-calls FILE]
#   OCI_PARTS    only these parts (default all): run tty exec stop kill limits blkio userns flows
#                rootless rootless-systemd root-systemd
#   --runtime    the OCI runtime (default ./contain); registered in containers.conf under its
#                file name, and listed in runtime_supports_json, so podman passes it --log/--log-format=json
#   --log-calls  append every call podman/conmon make to the runtime (argv, fds, exit status) to FILE
# Podman gets a private configuration and storage (a temporary directory, removed at the end), so
# it neither uses nor disturbs the machine's own podman state.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
repo=$PWD
. tests/oci/lib.sh
[[ $(id -u) -eq 0 ]] || oci_die "needs root"

oci_client_args "$@"   # sets $runtime and $calls
oci_install podman tmux busybox-static
oci_private_view "$self" --runtime "$runtime" ${calls:+--log-calls "$calls"}

# Kept for reading after a failure, as the runtime-tools TAP is.
mkdir -p target/oci
exec > >(tee "target/oci/podman-$(basename "$runtime").txt") 2>&1

work=$(mktemp -d /tmp/contain-podman.XXXXXX)
OCI_WORK=$work
rootless_work=
systemd_work=
cleanup() {
    podman rm -af -t 0 >/dev/null 2>&1 || true
    [[ -z $systemd_work ]] || systemd_halt
    if [[ -n $rootless_work ]]; then
        for dir in "$rootless_work"/contain-rl*; do rootless_cleanup "${dir##*/}"; done
        rm -rf "$rootless_work"
    fi
    tmux_stop
    oci_remove_dir "$work"
}
trap cleanup EXIT

name=$(basename "$runtime")
runtime_file=$runtime
if [[ -n $calls ]]; then
    runtime=$(oci_call_logger "$runtime" "$calls" "$work/bin")
fi
oci_podman_config "$work" "$name=$runtime"
pm() { timeout 120 podman --runtime "$runtime" "$@"; }
pm_list() { pm ps -aq; }
image=localhost/bb
oci_podman_image "$work" $image
echo "podman $(podman --version | awk '{print $3}'), runtime $name at $runtime"
# conmon leaves a file `oom` in its working directory when a container is OOM-killed.
cd "$work"

container_id() { pm inspect --format '{{.Id}}' "$1"; }
# Besides the generic places (lib.sh), podman's own directories. The runtime's state is under /run:
# podman calls it without --root, so in its default root.
gone() { no_leftovers "$1" "$2" pm_list "$work/runroot" "$work/libpod" "$work/storage/overlay-containers"; }
# And podman's overlay mounts of container root filesystems, which are named by layer, not container.
extra_leftovers() {
    local mounts
    mounts=$(grep -c " $work/storage/overlay/" /proc/self/mountinfo || true)
    [[ $mounts == 0 ]] || found+=("$mounts overlay mounts in podman's storage")
}
OCI_EXTRA_LEFTOVERS=extra_leftovers

t0=$SECONDS
cid=$work/cid
# --- run: exit codes, stdin and stdout, --read-only ----------------------------------------------
if part run; then
    expect "run --rm echo hi" 0 hi pm run --rm --cidfile "$cid.1" $image echo hi
    gone "run --rm echo hi" "$(cat "$cid.1" 2>/dev/null)"
    expect "a failing command's exit code" 42 "" pm run --rm --cidfile "$cid.2" $image sh -c 'exit 42'
    gone "a failing command" "$(cat "$cid.2" 2>/dev/null)"
    expect "false exits 1" 1 "" pm run --rm --cidfile "$cid.3" $image false
    gone "false" "$(cat "$cid.3" 2>/dev/null)"
    capture pm run --rm --cidfile "$cid.4" $image /no/such/command
    if [[ $rc == 127 && $err == *"/no/such/command"* ]]; then ok "a missing command exits 127, named in podman's error"
    else not_ok "a missing command exits 127, named in podman's error" "got exit $rc, stderr: $err"; fi
    gone "a missing command" "$(cat "$cid.4" 2>/dev/null)"
    capture pm run --rm --cidfile "$cid.4x" $image /etc/passwd
    if [[ $rc == 126 && $(grep '^Error:' <<< "$err") == *"permission denied"* ]]; then ok "a command that cannot run exits 126, said in podman's error"
    else not_ok "a command that cannot run exits 126, said in podman's error" "got exit $rc, stderr: $err"; fi
    gone "a command that cannot run" "$(cat "$cid.4x" 2>/dev/null)"
    capture pm run --rm -i --cidfile "$cid.5" $image sh -c 'cat; echo to-stderr >&2' <<< "piped in"
    if [[ $rc == 0 && $out == "piped in" && $err == to-stderr ]]; then ok "-i: stdin in, stdout and stderr apart"
    else not_ok "-i: stdin in, stdout and stderr apart" "got exit $rc, stdout '$out', stderr '$err'"; fi
    gone "-i" "$(cat "$cid.5" 2>/dev/null)"
    # podman mounts tmpfs on /tmp, /var/tmp and /run of a --read-only container; the image has no
    # /var/tmp, which the runtime makes (runc and crun alike) before the root turns read-only.
    capture pm run --rm --read-only --cidfile "$cid.ro" $image \
        sh -c 'touch /x 2>/dev/null && echo wrote-the-root; touch /tmp/y /var/tmp/z && echo tmp-ok'
    if [[ $rc == 0 && $out == tmp-ok ]]; then ok "--read-only: the root refuses writes, its tmpfs take them"
    else not_ok "--read-only: the root refuses writes, its tmpfs take them" "got exit $rc, stdout '$out', stderr: $err"; fi
    gone "--read-only" "$(cat "$cid.ro" 2>/dev/null)"
fi

# --- -it: a real terminal (tmux) -----------------------------------------------------------------
if part tty; then
    tmux_start "podman --runtime '$runtime' run --rm -it --cidfile '$cid.6' --name oci-tty $image sh; echo podman-exit=\$?; sleep 600"
    screen_check "-it: a shell prompt" "/ # "
    tmux_line 'tty; stty size; echo sum-$((20+22))'
    screen_check "-it: a pty of 24x80 as stdin" "/dev/pts/0
24 80
sum-42"
    init=$(pm inspect --format '{{.State.Pid}}' oci-tty 2>/dev/null || true)
    tmux_line "sleep 30"
    if [[ -n $init ]] && wait_foreground "$init" "sleep 30"; then
        tmux_keys send-keys C-c
        tmux_line 'echo alive-$((1+1))'
        screen_check "-it: Ctrl-C interrupts the foreground job, not the shell" "alive-2"
    else
        not_ok "-it: Ctrl-C interrupts the foreground job, not the shell" "sleep 30 never became the foreground job (container pid '$init')"
    fi
    tmux_keys resize-window -x 100 -y 30
    tmux_line "stty size"
    screen_check "-it: the window size follows the terminal" "30 100"
    tmux_line "exit 3"
    screen_check "-it: the shell's exit status is podman's" "podman-exit=3"
    tmux_stop
    gone "-it" "$(cat "$cid.6" 2>/dev/null)"
fi

# --- exec ----------------------------------------------------------------------------------------
if part exec; then
    pm run -d --name oci-exec --stop-timeout 1 $image sleep 600 >/dev/null
    id=$(container_id oci-exec)
    expect "exec echo" 0 from-exec pm exec oci-exec echo from-exec
    expect "exec's exit code" 7 "" pm exec oci-exec sh -c 'exit 7'
    expect "exec joins the container's pid namespace" 0 sleep pm exec oci-exec cat /proc/1/comm
    capture pm exec oci-exec /no/such/command
    [[ $rc == 127 ]] && ok "exec of a missing command exits 127" || not_ok "exec of a missing command exits 127" "got exit $rc, stderr: $err"
    tmux_start "podman --runtime '$runtime' exec -it oci-exec sh; echo exec-exit=\$?; sleep 600"
    screen_check "exec -it: a shell prompt" "/ # "
    tmux_line 'tty >/dev/null && echo has-a-tty; stty size'
    screen_check "exec -it: a pty of its own" "has-a-tty
24 80"
    tmux_line "exit 4"
    screen_check "exec -it: the exit status is podman's" "exec-exit=4"
    tmux_stop
    expect "rm -f a running container" 0 oci-exec pm rm -f oci-exec
    gone "exec" "$id"
fi

# --- stop ----------------------------------------------------------------------------------------
if part stop; then
    # PID 1 of a pid namespace ignores SIGTERM unless it handles it: stop escalates to SIGKILL.
    pm run -d --name oci-stop $image sleep 600 >/dev/null
    id=$(container_id oci-stop)
    expect "stop (SIGTERM ignored)" 0 oci-stop pm stop -t 1 oci-stop
    expect "stop escalates to SIGKILL: exit 137" 0 137 pm inspect --format '{{.State.ExitCode}}' oci-stop
    expect "rm a stopped container" 0 oci-stop pm rm oci-stop
    gone "stop" "$id"
    pm run -d --name oci-stop2 $image sh -c 'trap "exit 5" TERM; while :; do sleep 0.1; done' >/dev/null
    id=$(container_id oci-stop2)
    start=$SECONDS
    expect "stop (SIGTERM handled)" 0 oci-stop2 pm stop -t 20 oci-stop2
    check "stop returns once the container exits, before the timeout" test $((SECONDS - start)) -lt 10
    expect "the handler's exit status" 0 5 pm inspect --format '{{.State.ExitCode}}' oci-stop2
    pm rm oci-stop2 >/dev/null
    gone "stop (handled)" "$id"
fi

# --- kill ----------------------------------------------------------------------------------------
if part kill; then
    pm run -d --name oci-kill $image sleep 600 >/dev/null
    id=$(container_id oci-kill)
    expect "kill (SIGKILL)" 0 oci-kill pm kill oci-kill
    expect "a killed container exits 137" 0 137 pm wait oci-kill
    pm rm oci-kill >/dev/null
    gone "kill" "$id"
    pm run -d --name oci-kill2 $image sh -c 'trap "exit 6" HUP; while :; do sleep 0.1; done' >/dev/null
    id=$(container_id oci-kill2)
    expect "kill -s HUP" 0 oci-kill2 pm kill -s HUP oci-kill2
    expect "the signal reached the container's handler" 0 6 pm wait oci-kill2
    pm rm oci-kill2 >/dev/null
    gone "kill -s HUP" "$id"
fi

# --- rm -f, pause, update, limits -----------------------------------------------------------------
if part limits; then
    pm run -d --name oci-limits --stop-timeout 1 --memory 64m --pids-limit 32 $image sleep 600 >/dev/null
    id=$(container_id oci-limits)
    init=$(pm inspect --format '{{.State.Pid}}' oci-limits)
    expect "--memory 64m sets the cgroup's limit" 0 67108864 cgroup_value "$init" memory memory.limit_in_bytes memory.max
    expect "--pids-limit 32 sets the cgroup's limit" 0 32 cgroup_value "$init" pids pids.max pids.max
    expect "update --memory" 0 "$id" pm update --memory 128m oci-limits
    expect "update changes the cgroup's limit" 0 134217728 cgroup_value "$init" memory memory.limit_in_bytes memory.max
    # Above the swap limit podman set at run (twice the memory): on v1 memsw must grow first.
    expect "update --memory above the old swap limit" 0 "$id" pm update --memory 512m oci-limits
    expect "update raises the cgroup's limit" 0 536870912 cgroup_value "$init" memory memory.limit_in_bytes memory.max
    expect_quick "pause" 0 oci-limits pm pause oci-limits
    expect "paused" 0 paused pm inspect --format '{{.State.Status}}' oci-limits
    expect_quick "unpause" 0 oci-limits pm unpause oci-limits
    expect "running again" 0 running pm inspect --format '{{.State.Status}}' oci-limits
    expect "rm -f" 0 oci-limits pm rm -f oci-limits
    gone "limits, pause, rm -f" "$id"
    # Beyond the memory limit the kernel's OOM killer ends it (the host has no swap to spill into).
    capture pm run --rm --cidfile "$cid.7" --memory 16m $image sh -c 'x=$(head -c 64000000 /dev/zero | tr "\0" x); echo survived'
    [[ $rc == 137 && $out != *survived* ]] && ok "--memory 16m: a 64 MB shell variable is OOM-killed (137)" \
        || not_ok "--memory 16m: a 64 MB shell variable is OOM-killed (137)" "got exit $rc, stdout '$out', stderr '$err'"
    gone "OOM" "$(cat "$cid.7" 2>/dev/null)"
    capture pm run --rm --cidfile "$cid.8" --pids-limit 5 $image sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait'
    [[ $err == *"can't fork"* ]] && ok "--pids-limit 5: the 6th process cannot fork" \
        || not_ok "--pids-limit 5: the 6th process cannot fork" "got exit $rc, stderr '$err'"
    gone "pids limit" "$(cat "$cid.8" 2>/dev/null)"
fi

# --- block I/O: throttles on a real disk, and the container's own I/O counters (#23) ---------------
if part blkio; then
    read -r major minor disk < <(awk 'NR > 2 && NF == 4 { print $1, $2, $4; exit }' /proc/partitions)
    capture pm run -d --name oci-blkio --device-read-bps "/dev/$disk:1mb" --device-write-iops "/dev/$disk:77" $image \
        sleep 600
    [[ $rc == 0 ]] && ok "run --device-read-bps --device-write-iops" \
        || not_ok "run --device-read-bps --device-write-iops" "got exit $rc, stderr '$err'"
    id=$(container_id oci-blkio || true)
    init=$(pm inspect --format '{{.State.Pid}}' oci-blkio || true)
    # v1 `MAJ:MIN RATE` in its own file; v2 one io.max line per device with every key.
    throttled() { [[ $(cgroup_value "$init" blkio "blkio.throttle.$1_device" io.max 2>&1) =~ ^$major:$minor\ (.*$2=)?$3( |$) ]]; }
    check "--device-read-bps sets the disk's read throttle" throttled read_bps rbps 1048576
    check "--device-write-iops sets the disk's write throttle" throttled write_iops wiops 77
    pm rm -f -t 0 oci-blkio >/dev/null 2>&1 || true
    gone "blkio" "$id"
    # On v1 the counters are the blkio hierarchy's: the container must be in it (and in every other).
    pm run -d --name oci-blkio-stats $image sh -c 'dd if=/dev/zero of=/root/x bs=1M count=8 oflag=direct 2>/dev/null; sleep 600' >/dev/null
    id=$(container_id oci-blkio-stats)
    written() { local io; io=$(pm stats --no-stream --format '{{.BlockIO}}' oci-blkio-stats) && [[ $io != *"/ 0B" ]]; }
    wait_written() { for _ in $(seq 50); do written && return; sleep 0.2; done; false; }
    check "stats counts the container's own block I/O" wait_written
    expect "rm -f" 0 oci-blkio-stats pm rm -f -t 0 oci-blkio-stats
    gone "blkio stats" "$id"
fi

# --- a container with a user namespace of its own (--uidmap): exec enters it (#23) -----------------
if part userns; then
    # --ipc none: podman's /dev/shm of such a container (userdata/shm) often stays mounted once it
    # stopped, whatever the runtime (runc as contain: podman 4.3's cleanup says its "storage is
    # already unmounted"), and `rm` fails with "unlinkat .../userdata/shm: device or resource busy".
    maps=(--uidmap 0:200000:65536 --gidmap 0:200000:65536 --ipc none)
    first_map_line='read -r inside outside count < /proc/self/uid_map; echo $inside $outside $count'
    expect "--uidmap: the container's root is 200000 outside" 0 "0 200000 65536" \
        pm run --rm "${maps[@]}" $image sh -c "$first_map_line"
    pm run -d --name oci-userns --stop-timeout 1 "${maps[@]}" $image sleep 600 >/dev/null
    id=$(container_id oci-userns)
    expect "exec into a container with a user namespace" 0 from-exec pm exec oci-userns echo from-exec
    expect "exec runs in the container's user namespace" 0 "0 200000 65536" pm exec oci-userns sh -c "$first_map_line"
    expect "exec joins its pid namespace" 0 sleep pm exec oci-userns cat /proc/1/comm
    expect "exec --user 1000 in it" 0 1000 pm exec --user 1000:1000 oci-userns id -u
    expect "exec's exit code, in it" 7 "" pm exec oci-userns sh -c 'exit 7'
    expect "stop a container with a user namespace" 0 oci-userns pm stop -t 1 oci-userns
    expect "rm it" 0 oci-userns pm rm oci-userns
    gone "userns" "$id"
fi

# --- flows: what users do beyond the scenarios above, where contain differed from crun (#23) --------
if part flows; then
    # A uid the image's /etc/passwd lacks: podman sets no HOME, and the runtime gives `/` (runc, crun).
    expect "flows: -u 1234 (not in the image): HOME=/" 0 "/" pm run --rm -u 1234 --cidfile "$cid.f1" $image \
        sh -c 'echo $HOME'
    gone "flows: -u 1234" "$(cat "$cid.f1" 2>/dev/null)"
    # The host's /dev bound whole (device-plugin and udev containers): its nodes are already the
    # devices a privileged spec lists, and stay the host's own (an unlink would take them from it).
    before=$(stat -c %i /dev/full)
    expect "flows: --privileged -v /dev:/dev" 0 ok pm run --rm --privileged -v /dev:/dev --cidfile "$cid.f2" \
        $image sh -c 'test -c /dev/full && test -b /dev/loop0 && echo ok'
    expect "flows: the host's /dev/full is the same node after" 0 "$before" stat -c %i /dev/full
    gone "flows: -v /dev:/dev" "$(cat "$cid.f2" 2>/dev/null)"
    # exec -w of a directory the container lacks: 127, as podman gives it after runc's and crun's
    # words for the failed chdir ("no such file or directory").
    pm run -d --name oci-flows-exec --stop-timeout 1 $image sleep 600 >/dev/null
    id=$(container_id oci-flows-exec)
    capture pm exec -w /no/such/dir oci-flows-exec pwd
    [[ $rc == 127 ]] && ok "flows: exec -w of a missing directory exits 127" \
        || not_ok "flows: exec -w of a missing directory exits 127" "got exit $rc, stderr: $err"
    pm rm -f oci-flows-exec >/dev/null
    gone "flows: exec -w" "$id"
fi

# --- rootless: podman as a user who is not root (#23) ----------------------------------------------
# The users of tests/rootless.rs, made the first time as there and kept: contain-rl, with the 65536
# subordinate ids useradd gives it in /etc/subuid and /etc/subgid (podman maps them with newuidmap),
# and contain-rl0, a system user, without any (podman maps the user alone). podman runs the runtime
# as root of its user namespace, on cgroup v1 without a cgroup (none can be delegated to a user).
# Each user gets a podman of its own in a directory of its own (configuration, vfs storage, a copy
# of the runtime, XDG_RUNTIME_DIR with the runtime's state), all removed after, its pause process
# (which holds podman's user namespace) killed. Without --log-calls: the log is root's.
rootless_scenarios() {
    local user=$1 ids=$2
    id -u "$user" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin ${3:+--system} "$user"
    rootless_user "$user"
    mkdir -p "$udir/xdg" "$udir/home"
    oci_podman_files "$udir" vfs "$name=$rootless_work/bin/$name"
    chown -R "$user:" "$udir"
    chmod 700 "$udir" "$udir/xdg"
    local what="rootless ($user, $ids)"
    check "$what: the image imported" rootless_import
    expect "$what: run --rm echo hi" 0 hi upm run --rm --network none --cidfile "$udir/cid.1" $image echo hi
    ugone "$what: run --rm" "$(cat "$udir/cid.1" 2>/dev/null)"
    local lines=$([[ $ids == "one id" ]] && echo 1 || echo 2)
    expect "$what: its root is the user, $ids mapped" 0 "$lines
0 $(id -u "$user") 1" upm run --rm --network none $image sh -c 'wc -l < /proc/self/uid_map; head -n1 /proc/self/uid_map | xargs'
    expect "$what: a failing command's exit code" 42 "" upm run --rm --network none $image sh -c 'exit 42'
    expect "$what: --memory, which podman drops on v1 with a warning" 0 ok \
        upm run --rm --network none --memory 64m $image echo ok
    started "$what: run -d" upm run -d --name rl-exec --network none --stop-timeout 1 $image sleep 600
    id=$(upm inspect --format '{{.Id}}' rl-exec 2>/dev/null || true)
    expect "$what: ps shows it running" 0 rl-exec upm ps --filter status=running --format '{{.Names}}'
    expect "$what: exec echo" 0 from-exec upm exec rl-exec echo from-exec
    expect "$what: exec's exit code" 7 "" upm exec rl-exec sh -c 'exit 7'
    expect "$what: exec joins the container's pid namespace" 0 sleep upm exec rl-exec cat /proc/1/comm
    if [[ $ids != "one id" ]]; then
        expect "$what: exec --user 1000, a subordinate id" 0 1000 upm exec --user 1000:1000 rl-exec id -u
    fi
    expect "$what: rm -f a running container" 0 rl-exec upm rm -f rl-exec
    ugone "$what: exec" "$id"
    started "$what: run -d (to stop)" upm run -d --name rl-stop --network none $image sleep 600
    id=$(upm inspect --format '{{.Id}}' rl-stop 2>/dev/null || true)
    expect "$what: stop (SIGTERM ignored)" 0 rl-stop upm stop -t 1 rl-stop
    expect "$what: stop escalates to SIGKILL: exit 137" 0 137 upm inspect --format '{{.State.ExitCode}}' rl-stop
    expect "$what: rm a stopped container" 0 rl-stop upm rm rl-stop
    ugone "$what: stop" "$id"
    started "$what: run -d (to stop, with a handler)" \
        upm run -d --name rl-stop2 --network none $image sh -c 'trap "exit 5" TERM; while :; do sleep 0.1; done'
    id=$(upm inspect --format '{{.Id}}' rl-stop2 2>/dev/null || true)
    expect "$what: stop (SIGTERM handled)" 0 rl-stop2 upm stop -t 20 rl-stop2
    expect "$what: the handler's exit status" 0 5 upm inspect --format '{{.State.ExitCode}}' rl-stop2
    upm rm rl-stop2 >/dev/null 2>&1 || true
    ugone "$what: stop (handled)" "$id"
    check "$what: podman ps -a is empty at the end" test -z "$(upm_list)"
    rootless_cleanup "$user"
}
# The user USER's podman from now on: upm (podman as the user, in its directory $udir), and
# upm_list and ugone, as pm_list and gone.
rootless_user() {
    ruser=$1 udir=$rootless_work/$1
}
upm() {
    timeout 120 setpriv --reuid "$(id -u "$ruser")" --regid "$(id -g "$ruser")" --init-groups env -i -C "$udir" \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$udir/home" XDG_RUNTIME_DIR="$udir/xdg" \
        CONTAINERS_CONF="$udir/containers.conf" CONTAINERS_STORAGE_CONF="$udir/storage.conf" podman "$@"
}
upm_list() { upm ps -aq; }
rootless_import() {
    tar --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -c . | upm import -q - $image >/dev/null 2>&1
}
# started DESCRIPTION COMMAND...: the command (a `run -d`) succeeds; what follows runs either way, and
# fails on its own if it did not, so that a runtime that cannot start a container shows every check.
started() {
    local what=$1
    shift
    capture "$@"
    if [[ $rc == 0 ]]; then ok "$what"; else not_ok "$what" "command: $*" "got exit $rc" "stderr: $err"; fi
}
ugone() { no_leftovers "$1" "$2" upm_list "$udir"; }
# Everything of USER's podman goes: its containers, its pause process, its files.
rootless_cleanup() {
    local pause
    rootless_user "$1"
    [[ -d $udir ]] || return 0
    upm rm -af -t 0 >/dev/null 2>&1 || true
    pause=$(cat "$udir/libpod/pause.pid" 2>/dev/null || true)
    if [[ -n $pause ]]; then kill -9 "$pause" 2>/dev/null || true; fi
    rm -rf "$udir"
}
if part rootless; then
    oci_install uidmap
    rootless_work=$(mktemp -d /tmp/contain-podman-rootless.XXXXXX)
    chmod 755 "$rootless_work"
    mkdir "$rootless_work/bin"
    install -m 755 "$runtime_file" "$rootless_work/bin/$name"
    rootless_scenarios contain-rl "65537 ids"
    rootless_scenarios contain-rl0 "one id" system
    rm -rf "$rootless_work"
fi

# --- rootless with cgroup_manager = "systemd", on cgroup v2 (#23 item 7) ---------------------------
# The usual desktop: a user's podman asks the user's own systemd manager (user@UID.service) for each
# container's scope, over the user's bus, and the runtime (--systemd-cgroup) does too. This host has
# neither cgroup v2 nor systemd as PID 1, so the part boots one: tests/systemd/boot.sh --unified,
# systemd as PID 1 of namespaces of its own on a pure cgroup v2 tree, with a user of its own whose
# manager runs; podman runs as that user inside. What this host's cgroup2 cannot give, the part
# leaves out, for every runtime alike: its cgroup2 has no controller that user@.service delegates
# (this host's v1 hierarchies hold them), so podman's default pids limit is off (pids_limit = 0;
# crun refuses it too: "the requested cgroup controller `pids` is not available"); and the booted
# system's /proc/sys is read-only (boot.sh keeps it from the host's), which keeps a user namespace
# from mounting a procfs of its own, so the containers share the booted system's PID namespace and
# bind its /proc (--pid host -v /proc:/proc:rbind).
systemd_uid=2345
# The booted system's scratch directory (removed with it): its world (named after it, for its
# cgroups' names), a copy of the runtime (bin), and what podman keeps there (u).
systemd_prepare() {
    systemd_work=$(mktemp -d /tmp/contain-podman-systemd.XXXXXX)
    chmod 755 "$systemd_work"
    mkdir -p "$systemd_work"/{bin,u/home,u/storage}
    install -m 755 "$runtime_file" "$systemd_work/bin/$name"
    systemd_world=$systemd_work/sd-${systemd_work##*.}
}
systemd_boot() {
    systemd_prepare
    oci_systemd_boot "$systemd_world" --unified "$systemd_work/u" "ro:$systemd_work/bin" || return 1
    oci_podman_files "$systemd_work/u" vfs "$name=$systemd_work/bin/$name"
    sed -i -e 's/^cgroup_manager = .*/cgroup_manager = "systemd"/' -e 's/^\[containers\]$/&\npids_limit = 0/' \
        "$systemd_work/u/containers.conf"
    sed -i "s|^runroot = .*|runroot = \"/run/user/$systemd_uid/containers\"|" "$systemd_work/u/storage.conf"
    chown -R "$systemd_uid:$systemd_uid" "$systemd_work/u"
    in_systemd useradd --no-create-home -u "$systemd_uid" -s /bin/sh contain-sd &&
        in_systemd systemctl start "user@$systemd_uid.service"
}
systemd_halt() {
    oci_systemd_halt
    oci_remove_dir "$systemd_work"
    systemd_work=
}
# As the booted system's user: ARGS..., and spm, podman there.
as_sd_user() {
    in_systemd setpriv --reuid=$systemd_uid --regid=$systemd_uid --init-groups \
        env -i -C "$systemd_work/u" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$systemd_work/u/home" \
        XDG_RUNTIME_DIR=/run/user/$systemd_uid CONTAINERS_CONF="$systemd_work/u/containers.conf" \
        CONTAINERS_STORAGE_CONF="$systemd_work/u/storage.conf" "$@"
}
spm() { as_sd_user podman "$@"; }
spm_run() { spm run --network none --pid host -v /proc:/proc:rbind "$@"; }
spm_list() { spm ps -aq; }
# No container left, and no scope, cgroup or runtime state naming it in the booted system (conmon's
# scope goes a moment after the container: tried for 5 s, as no_leftovers does).
sd_gone() {
    local what=$1 id=$2 left try
    for try in $(seq 25); do
        left=$(as_sd_user systemctl --user list-units --all --no-legend "libpod-*$id*"
            find "/proc/$oci_systemd_pid/root/run/user/$systemd_uid" "/proc/$oci_systemd_pid/root/sys/fs/cgroup" \
                -name "*$id*" 2>/dev/null)
        [[ -n $left$(spm_list) ]] || break
        sleep 0.2
    done
    check "$what: no leftovers in the booted system" test -z "$left$(spm_list)"
}
sd_import() {
    tar --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -c . | spm import -q - $image >/dev/null 2>&1
}
if part rootless-systemd; then
    check "rootless-systemd: a systemd booted on cgroup v2, the user's manager running" systemd_boot
    what="rootless-systemd"
    check "$what: the image imported" sd_import
    expect "$what: podman uses the user's systemd on cgroup v2" 0 "systemd v2" \
        spm info --format '{{.Host.CgroupManager}} {{.Host.CgroupsVersion}}'
    expect "$what: run --rm echo hi" 0 hi spm_run --rm --cidfile "$systemd_work/u/cid" $image echo hi
    sd_gone "$what: run --rm" "$(cat "$systemd_work/u/cid" 2>/dev/null)"
    started "$what: run -d" spm_run -d --name sd-c $image sleep 600
    id=$(spm inspect --format '{{.Id}}' sd-c 2>/dev/null || true)
    expect "$what: the container's scope, the user manager's" 0 \
        "/user.slice/user-$systemd_uid.slice/user@$systemd_uid.service/user.slice/libpod-$id.scope
active" as_sd_user systemctl --user show -p ControlGroup,ActiveState --value "libpod-$id.scope"
    expect "$what: ps shows it running" 0 sd-c spm ps --filter status=running --format '{{.Names}}'
    expect "$what: exec echo" 0 from-exec spm exec sd-c echo from-exec
    expect "$what: stop (SIGTERM kills sleep)" 0 sd-c spm stop -t 5 sd-c
    expect "$what: its exit status" 0 143 spm inspect --format '{{.State.ExitCode}}' sd-c
    expect "$what: rm" 0 sd-c spm rm sd-c
    sd_gone "$what: stop, rm" "$id"
    # A limit of a controller the user's manager is not delegated fails the run, nothing left.
    capture spm_run --rm --cidfile "$systemd_work/u/cid.m" --memory 64m $image true
    check "$what: --memory without the memory controller delegated fails (exit $rc)" test "$rc" != 0
    sd_gone "$what: --memory" "$(cat "$systemd_work/u/cid.m" 2>/dev/null)"
    systemd_halt
fi

# --- root podman with cgroup_manager = "systemd" (#23 item 6) ---------------------------------------
# What a systemd host's root gets by default: podman asks systemd (PID 1, over the system bus) for
# conmon's scope and passes the runtime --systemd-cgroup and cgroupsPath machine.slice:libpod:ID,
# and the runtime asks systemd for the container's scope, libpod-ID.scope. The part boots systemd
# (tests/systemd/boot.sh) on this host's own layout, v1 hierarchies and a hybrid cgroup2, and runs
# podman as root inside. Checked: the scope systemd knows (active, Delegate, in machine.slice, the
# container's processes in it, exec's too), the limits as its properties and in its cgroup files,
# `podman update` (SetUnitProperties), stop (the scope stopped), rm, rm -f, and nothing left after.
# On v1 a runtime may send MemoryLimit, v1's name, where contain sends MemoryMax (systemd applies
# either to memory.limit_in_bytes): either is systemd knowing the limit. Not checkable on this host:
# IOWeight (v1 has blkio.weight only with BFQ, absent here: podman drops --blkio-weight with a
# warning), and AllowedCPUs as a limit (systemd applies it only on cgroup v2: checked as the
# property systemd holds, and in cpuset.cpus, which the runtime writes). crun 1.8 cannot run here:
# it refuses the hybrid layout whose cgroup2 has a controller ("cgroups in hybrid mode not
# supported, drop all controllers from cgroupv2"; this host's has hugetlb). runc is the peer.
root_systemd_boot() {
    systemd_prepare
    oci_systemd_boot "$systemd_world" "$systemd_work/u" "ro:$systemd_work/bin" || return 1
    oci_podman_files "$systemd_work/u" overlay "$name=$systemd_work/bin/$name"
    # journald is not running in the booted system: podman's logs go to files, as elsewhere here.
    sed -i -e 's/^cgroup_manager = .*/cgroup_manager = "systemd"/' -e 's/^\[containers\]$/&\nlog_driver = "k8s-file"/' \
        "$systemd_work/u/containers.conf"
}
rootpm() {
    in_systemd env -i -C "$systemd_work/u" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$systemd_work/u/home" \
        CONTAINERS_CONF="$systemd_work/u/containers.conf" CONTAINERS_STORAGE_CONF="$systemd_work/u/storage.conf" \
        podman "$@"
}
rootpm_list() { rootpm ps -aq; in_systemd systemctl list-units --all --plain --no-legend 'libpod-*'; }
# No container, no unit (the container's or conmon's scope), no cgroup or state naming it: in the
# booted system (its /run; its cgroups are in the host's hierarchies, under the world's name) and
# on the host (mounts, processes), as `gone`. Except podman's own: the directories of conmon's scope
# in the hierarchies systemd does not manage on v1 (cpuset, freezer, cpuacct here), which podman
# makes when it moves an exec's conmon into that scope (which exists already) and never removes;
# the same with runc and crun. halt.sh removes them with the world's cgroups.
rgone() {
    OCI_EXTRA_LEFTOVERS=podman_conmon_cgroups no_leftovers "$1" "$2" rootpm_list "/proc/$oci_systemd_pid/root/run" \
        "$systemd_work/u"
}
podman_conmon_cgroups() {
    local kept=() entry
    for entry in "${found[@]}"; do
        [[ $entry == *"/sd-"*"/machine.slice/libpod-conmon-$1.scope" ]] || kept+=("$entry")
    done
    found=("${kept[@]}")
    extra_leftovers
}
# A file of the scope's cgroup in CONTROLLER's hierarchy, as the booted system sees it.
scope_file() { cat "/proc/$oci_systemd_pid/root/sys/fs/cgroup/$1$scope_cgroup/$2"; }
# Whether UNIT's memory limit is BYTES: as MemoryMax, or v1's MemoryLimit.
memory_property() {
    local shown
    shown=$(unit_shows "$1" MemoryMax MemoryLimit)
    [[ $shown == *"=$2"* ]] || { echo "$shown" >&2; return 1; }
}
# in_scope COMMAND...: what COMMAND prints as its /proc/self/cgroup puts it in the scope's cgroup or
# below (crun makes one of its own there) in the devices, memory and pids hierarchies.
in_scope() {
    local cgroups controller
    cgroups=$("$@") || return
    for controller in devices memory pids; do
        grep -Eq "^[0-9]+:$controller:$scope_cgroup(/|\$)" <<< "$cgroups" || { echo "$cgroups" >&2; return 1; }
    done
}
if part root-systemd; then
    what="root-systemd"
    check "$what: a systemd booted as PID 1 on the host's cgroup layout" root_systemd_boot
    rimport() { tar -C "$work/rootfs" -c . | rootpm import -q - $image >/dev/null; }
    check "$what: the image imported" rimport
    expect "$what: podman uses systemd, on cgroup v1" 0 "systemd v1" \
        rootpm info --format '{{.Host.CgroupManager}} {{.Host.CgroupsVersion}}'
    expect "$what: run --rm echo hi" 0 hi rootpm run --rm --network none --cidfile "$systemd_work/u/cid.1" $image echo hi
    rgone "$what: run --rm" "$(cat "$systemd_work/u/cid.1" 2>/dev/null)"
    # The device rules hold for the container's processes: the host's disk, made a node of, cannot be read.
    expect "$what: the device rules hold: the host's disk ($host_disk) cannot be read" 0 refused \
        rootpm run --rm --network none --cidfile "$systemd_work/u/cid.2" $image sh -c "$read_host_disk"
    rgone "$what: the device rules" "$(cat "$systemd_work/u/cid.2" 2>/dev/null)"
    started "$what: run -d with limits" rootpm run -d --name sd-root --network none --memory 64m --cpus 0.5 \
        --cpu-shares 512 --pids-limit 32 --cpuset-cpus 0 $image sleep 600
    id=$(rootpm inspect --format '{{.Id}}' sd-root 2>/dev/null || true)
    unit=libpod-$id.scope
    expect "$what: the container's scope, active, delegated, in machine.slice" 0 "ActiveState=active
ControlGroup=/machine.slice/$unit
Delegate=yes
Slice=machine.slice" unit_shows "$unit" ActiveState ControlGroup Delegate Slice
    scope_cgroup=/machine.slice/$unit
    capture in_systemd systemctl status --no-pager "$unit"
    [[ $out == *"Active: active (running)"* && $out == *"sleep 600"* ]] && ok "$what: systemctl status shows it running, with sleep 600 in it" \
        || not_ok "$what: systemctl status shows it running, with sleep 600 in it" "got exit $rc: $out" "stderr: $err"
    check "$what: systemd holds --memory 64m (MemoryMax or v1's MemoryLimit)" memory_property "$unit" 67108864
    expect "$what: systemd holds --cpus 0.5, --cpu-shares 512, --pids-limit 32, --cpuset-cpus 0" 0 "AllowedCPUs=0
CPUQuotaPerSecUSec=500ms
CPUShares=512
TasksMax=32" unit_shows "$unit" AllowedCPUs CPUQuotaPerSecUSec CPUShares TasksMax
    expect "$what: the scope's cgroup files hold the limits" 0 "67108864 50000 512 32 0" \
        eval 'echo $(scope_file memory memory.limit_in_bytes) $(scope_file cpu cpu.cfs_quota_us) $(scope_file cpu cpu.shares) $(scope_file pids pids.max) $(scope_file cpuset cpuset.cpus)'
    expect "$what: ps shows it running" 0 sd-root rootpm ps --filter status=running --format '{{.Names}}'
    expect "$what: exec echo" 0 from-exec rootpm exec sd-root echo from-exec
    init=$(rootpm inspect --format '{{.State.Pid}}' sd-root 2>/dev/null || true)
    check "$what: its PID 1 is in the scope (devices, memory, pids)" in_scope in_systemd cat "/proc/$init/cgroup"
    check "$what: exec runs in the scope (devices, memory, pids)" in_scope rootpm exec sd-root cat /proc/self/cgroup
    expect "$what: the device rules hold for exec: the host's disk cannot be read" 0 refused \
        rootpm exec sd-root sh -c "$read_host_disk"
    expect "$what: update --memory 128m --cpus 1" 0 "$id" rootpm update --memory 128m --cpus 1 sd-root
    check "$what: systemd holds the new memory limit (SetUnitProperties)" memory_property "$unit" 134217728
    expect "$what: systemd holds the new CPU quota" 0 "CPUQuotaPerSecUSec=1s" unit_shows "$unit" CPUQuotaPerSecUSec
    expect "$what: the scope's cgroup files hold the new limits" 0 "134217728 100000" \
        eval 'echo $(scope_file memory memory.limit_in_bytes) $(scope_file cpu cpu.cfs_quota_us)'
    expect "$what: stop (SIGTERM ignored)" 0 sd-root rootpm stop -t 1 sd-root
    expect "$what: stop escalates to SIGKILL: exit 137" 0 137 rootpm inspect --format '{{.State.ExitCode}}' sd-root
    expect "$what: the scope is stopped with the container (StopUnit)" 0 "ActiveState=inactive" \
        unit_shows "$unit" ActiveState
    expect "$what: rm" 0 sd-root rootpm rm sd-root
    rgone "$what: stop, rm" "$id"
    started "$what: run -d (to rm -f)" rootpm run -d --name sd-root2 --network none $image sleep 600
    id=$(rootpm inspect --format '{{.Id}}' sd-root2 2>/dev/null || true)
    expect "$what: its scope is active" 0 "ActiveState=active" unit_shows "libpod-$id.scope" ActiveState
    expect "$what: rm -f a running container" 0 sd-root2 rootpm rm -f -t 0 sd-root2
    rgone "$what: rm -f" "$id"
    systemd_halt
fi

check "podman ps -a is empty at the end" test -z "$(pm_list)"
oci_done "podman scenarios with $name" $((SECONDS - t0))
