#!/bin/sh
# Prints the directory of a Debian 12 minbase root filesystem for network.rs's apt test, made once
# by debootstrap from the host's own Debian mirror (deb.debian.org where the host names none) and
# kept in /var/cache/contain-tests (CONTAIN_TEST_CACHE): about 160 MiB, a few minutes to make.
# Made in a temporary directory and renamed into place, so an interrupted run is never reused.
set -eu
cache=${CONTAIN_TEST_CACHE:-/var/cache/contain-tests}
root=$cache/debian-bookworm-minbase
[ -f "$root/.complete" ] && { echo "$root"; exit 0; }
command -v debootstrap >/dev/null || { echo "debian.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
mirror=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null | awk '$1 == "bookworm" {print $2; exit}')
mkdir -p "$cache"
rm -rf "$root.tmp"
debootstrap --variant=minbase bookworm "$root.tmp" "${mirror:-http://deb.debian.org/debian/}" >"$cache/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$cache/debootstrap.log" >&2; rm -rf "$root.tmp"; exit 1; }
# The image's apt lists and archives start empty: the test's mirror is the only source.
rm -rf "$root.tmp"/var/lib/apt/lists/* "$root.tmp"/var/cache/apt/archives/*.deb
: >"$root.tmp/etc/apt/sources.list"
touch "$root.tmp/.complete"
rm -rf "$root"
mv "$root.tmp" "$root"
echo "$root"
