#!/usr/bin/env bash
# `make tour`: the README's guided tour and the Quick start's --explain, made from a run in the
# test VM. tests/explain.rs's the_readmes_guided_tour_is_a_run_in_the_vm runs the demo container
# there (x86_64, Debian 12's 6.1 kernel, pure cgroup v2, the tmpfs phase) and, when the README is
# not what the run printed, prints the run as `TOUR> ` lines and fails; this script boots the VM
# for that test (CONTAIN_VM_TESTS, if set, chooses more), takes those lines from the serial log,
# and has the same test write them into the README (CONTAIN_WRITE_TOUR). Review with git diff.
#
# usage: tests/vm/tour.sh TARGET RUSTFLAGS   (the Makefile passes its x86_64 build settings)
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?target triple}
rustflags=${2-}
dir=$PWD/target/tour
mkdir -p "$dir"
rm -f "$dir/serial.log" "$dir/tour.txt"
status=0
CONTAIN_VM_TESTS=${CONTAIN_VM_TESTS:-explain:the_readmes_guided_tour_is_a_run_in_the_vm} CONTAIN_VM_LOG=$dir/serial.log \
    tests/vm/test-vm.sh x86_64 6.1 "$target" "$rustflags" || status=$?
# The serial console ends its lines with CR; only the tmpfs phase prints the tour.
[[ -f $dir/serial.log ]] && sed -n 's/\r$//; s/^TOUR> //p' "$dir/serial.log" >"$dir/tour.txt"
if [[ ! -s $dir/tour.txt ]]; then
    if [[ $status == 0 ]]; then
        echo "make tour: the README's tour is the VM's run already"
    else
        echo "make tour: the VM run failed without printing a tour (see above)" >&2
    fi
    exit "$status"
fi
CONTAIN_WRITE_TOUR=$dir/tour.txt cargo test --locked --test explain -- --ignored --exact the_readmes_guided_tour_is_a_run_in_the_vm
echo "make tour: README.md written from the VM's run ($dir/tour.txt); review it with git diff README.md"
