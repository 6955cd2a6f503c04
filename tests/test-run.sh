#!/bin/sh
# One directory per `make test` run, and the check that the run left nothing anywhere else.
#
#   tests/test-run.sh start OWNER_PID   sweeps the directories of runs whose owner died, makes this
#                                       run's (printed), owned by OWNER_PID (the make recipe's shell)
#   tests/test-run.sh finish DIR        lists what the run left outside DIR, removes DIR; fails
#                                       when anything was left or DIR could not be removed
#
# The run directory is the tests' TMPDIR: every scratch directory, rootfs copy, private state
# root and unit-test directory of the run is inside it. What a run makes elsewhere carries a test
# process's pid (containers are named t<PID>-..., see tests/common unique_name): the pids are
# the run's `contain-tests-PID` scratch directories. Interfaces (ct-<id>, or a hash of a long id)
# and /tmp/contain-UID (a rootless user's state) carry none: those that appeared during the run
# count, so a contain run by somebody else on the same machine at the same time may be named too.
#
# Removal never crosses a mount: a failed test can leave a volume or an idmapped rootfs mounted
# below the run directory, and a plain `rm -rf` would go on into the host files it shows. Mounts
# below it are detached first (umount -R --lazy), and rm stays on the run directory's filesystem
# (--one-file-system): what it cannot remove stays, and the run fails saying so.
set -u

RUNS=/tmp
PREFIX=contain-run.

# Field 22 of /proc/PID/stat, the start time, counted after the command's closing parenthesis: a
# pid reused by another process is not the owner.
start_time() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# The mount points at or below $1 (mountinfo escapes spaces and the like as \NNN octal).
mounts_under() {
	awk -v dir="$1" '$5 == dir || index($5, dir "/") == 1 { print $5 }' /proc/self/mountinfo |
		while IFS= read -r point; do printf '%b\n' "$point"; done
}

# Removes a run directory without ever reaching through a mount below it.
remove() {
	mounts_under "$1" | sort -r | while IFS= read -r point; do
		umount -R --lazy "$point" || echo "test-run: umount -R --lazy $point failed" >&2
	done
	if [ -n "$(mounts_under "$1")" ]; then
		echo "test-run: mounts stay below $1: not removed" >&2
		return 1
	fi
	rm -rf --one-file-system "$1"
}

# What the kernel shows that names no test pid: ct-* interfaces and /tmp/contain-UID directories.
unattributed() {
	ls /sys/class/net | sed -n 's/^ct-/link ct-/p'
	for state in /tmp/contain-[0-9]*; do
		[ -e "$state" ] && echo "dir $state"
	done
}

# Removes the directories of runs whose owner is gone (killed, or a machine that went down).
sweep() {
	for old in "$RUNS/$PREFIX"*; do
		[ -f "$old/.owner" ] || continue
		read -r pid started <"$old/.owner"
		if [ "$(start_time "$pid")" != "$started" ]; then
			echo "test-run: removing $old (its run, pid $pid, is gone)" >&2
			remove "$old"
		fi
	done
}

start() {
	sweep
	run=$(mktemp -d "$RUNS/${PREFIX}XXXXXX") || exit 1
	# Test users reach their sandboxes, rootfs copies and binary in here (tests/rootless.rs).
	chmod 755 "$run"
	echo "$1 $(start_time "$1")" >"$run/.owner"
	unattributed >"$run/.before"
	echo "$run"
}

# Everything of the run outside $1, one line each. (sh has no local variables: each function
# names its own.)
leftovers() {
	run=$1
	pids=$(ls "$run" | sed -n 's/^contain-tests-\([0-9][0-9]*\)$/\1/p')
	for pid in $pids; do
		for path in /tmp/*-"$pid" /tmp/*-"$pid"-* /run/contain*/t"$pid"-* /run/.contain-test-t"$pid"-*; do
			[ -e "$path" ] && echo "left: $path"
		done
		for lease in /run/contain*/.leases/* /run/contain*/.userns/*; do
			[ -f "$lease" ] && grep -q "^t$pid-" "$lease" && echo "left: lease $lease ($(cat "$lease"))"
		done
		find /sys/fs/cgroup -maxdepth 4 -type d -name "contain-t$pid-*" 2>/dev/null | sed 's/^/left: cgroup /'
		awk -v name="/t$pid-" 'index($5, name) { print "left: mount " $5 }' /proc/self/mountinfo
	done
	mounts_under "$run" | sed 's/^/left: mount /'
	unattributed | grep -vxF -f "$run/.before" | sed 's/^/left: /'
}

finish() {
	left=$(leftovers "$1")
	remove "$1" || left="$left
left: $1 (could not be removed)"
	if [ -n "$left" ]; then
		echo "$left" >&2
		echo "make test: the run left the above behind (see tests/test-run.sh)" >&2
		return 1
	fi
}

case "${1:-}" in
start) start "$2" ;;
finish) finish "$2" ;;
*)
	echo "usage: $0 start OWNER_PID | finish DIR" >&2
	exit 2
	;;
esac
