#!/usr/bin/env bash
# tests/revert-fixes.sh [TAG...]: shows that each security or reliability fix has a test that
# catches it. A fix is a commit whose subject starts with its issue item's tag ("20.3: ...") and
# whose message names its tests, one line each: "Test: tests/FILE.rs::NAME". Its tests landed in a
# commit of their own after it (found as the commit that adds each named test function).
#
# For each fix (or only those of the TAGs given): a scratch worktree at the fix's test commit, the
# fix reverted there (the tests stay), the binary built, and each named test run against it, as
# root: every one must FAIL. A fix whose revert does not apply alone is reported, not skipped.
# The tests passing with the fix in place is what `make test` shows.
#
# Not a CI stage: a build per fix, about two minutes each. As root, on a quiet machine (no `make
# test` beside it: the tests share /run/contain).
set -uo pipefail
cd "$(dirname "$0")/.."
# ./contain, the binary with every fix, collects what the runs without one leave behind.
make -s contain >/dev/null || exit 1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/contain-revert-XXXXXX")
trap 'git worktree remove --force "$scratch/tree" >/dev/null 2>&1; rm -rf --one-file-system "$scratch"' EXIT

# What a test run against a tree without its fix left behind (that is the point of the run), taken
# away with the binary under test: its OCI containers deleted, everything else collected by gc.
clean_up_after_test() {
    local dir pid id
    for dir in "$scratch"/tmp/contain-tests-*; do
        [ -d "$dir" ] || continue
        pid=${dir##*-}
        for id in $(ls /run/contain 2>/dev/null | grep "^t$pid-"); do
            ./contain delete --force "$id" >/dev/null 2>&1
            ./contain kill "$id" KILL >/dev/null 2>&1
            ./contain gc "$id" >/dev/null 2>&1
        done
    done
    rm -rf --one-file-system "$scratch/tmp"
}

tags=("$@")
caught=0 missed=0 unrevertable=0
while read -r fix; do
    subject=$(git log -1 --format=%s "$fix")
    tag=${subject%%:*}
    if [ ${#tags[@]} -gt 0 ] && ! printf '%s\n' "${tags[@]}" | grep -qx "$tag"; then
        continue
    fi
    tests=$(git log -1 --format=%B "$fix" | sed -n 's/^Test: tests\/\([a-z_]*\)\.rs::\([a-z0-9_]*\)$/\1 \2/p')
    [ -n "$tests" ] || continue
    # The commit after the fix that added the last of its tests; HEAD for a test that was there
    # before the fix and changed since (the revert must then apply at HEAD).
    landed=$fix
    while read -r file name; do
        added=$(git log --reverse --format=%H -S"fn $name(" "$fix..HEAD" -- "tests/$file.rs" | head -n 1)
        if [ -z "$added" ]; then
            landed=HEAD
        elif [ "$landed" != HEAD ] && git merge-base --is-ancestor "$landed" "$added"; then
            landed=$added
        fi
    done <<<"$tests"
    echo "revert: === $tag: $subject"
    git worktree remove --force "$scratch/tree" >/dev/null 2>&1
    git worktree add --detach -q "$scratch/tree" "$landed"
    if ! git -C "$scratch/tree" revert --no-commit "$fix" >/dev/null 2>&1; then
        echo "revert: $tag: the fix does not revert alone at $landed"
        unrevertable=$((unrevertable + 1))
        continue
    fi
    if ! make -C "$scratch/tree" contain >"$scratch/build.log" 2>&1; then
        echo "revert: $tag: the tree without the fix does not build"; tail -5 "$scratch/build.log"
        unrevertable=$((unrevertable + 1))
        continue
    fi
    while read -r file name; do
        # The test's scratch lands in a directory of ours (TMPDIR), which names its pid, and so what
        # a failing test left behind: its containers are t<PID>-*.
        mkdir -p "$scratch/tmp"
        if (cd "$scratch/tree" && TMPDIR="$scratch/tmp" CONTAIN_BIN="$scratch/tree/contain" cargo test --locked -q \
            --test "$file" -- --include-ignored --exact "$name" >"$scratch/test.log" 2>&1); then
            echo "revert: $tag: MISSED: $file::$name passes without the fix"
            missed=$((missed + 1))
        else
            echo "revert: $tag: caught: $file::$name fails without the fix: $(grep -m1 -A1 'panicked at' "$scratch/test.log" | tail -1 | cut -c1-160)"
            caught=$((caught + 1))
        fi
        clean_up_after_test
    done <<<"$tests"
done < <(git log --reverse --no-merges --format=%H --grep="^Test: tests/" "${REVERT_SINCE:-5efdf69}..HEAD")

echo "revert: $caught caught, $missed missed, $unrevertable not revertable alone"
[ "$missed" = 0 ] && [ "$unrevertable" = 0 ]
