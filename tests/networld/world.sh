#!/bin/sh
# A small world for `--net veth`, of the test's own: run as
#   unshare -n -m --propagation private sh tests/networld/world.sh CONTAIN ROOTFS SCENARIO
# This shell's network namespace plays the host, with its own /etc/resolv.conf (in its own mount
# namespace). A veth links it to a second namespace, "internet": the router 198.51.100.1, and on
# documentation addresses and the clouds' metadata ones (169.254.169.254, Azure's 168.63.129.16,
# Alibaba's 100.100.100.200) internet.py's HTTP server (which answers with the address a request
# came from) and resolver (world.test is 192.0.2.80). The host's uplink is
# 198.51.100.2, an address of the host's that no container may reach. Then SCENARIO, a shell
# script, runs here with $contain and $rootfs; what it prints is the test's to check. Traffic never
# leaves these namespaces, which end with this shell.
set -eu
contain=$1 rootfs=$2 scenario=$3
here=$(dirname "$0")

ip link set lo up
# A state directory of the world's own: a contain elsewhere on the machine (another test's) sweeps
# the leftovers it finds in its state directory from its own network namespace, which does not
# hold this world's nf_tables elements.
mkdir -p /run/contain
mount -t tmpfs -o mode=0700 tmpfs /run/contain
# Off, as on a host that never forwarded: contain turns it on, and says so.
sysctl -qw net.ipv4.ip_forward=0
mkdir -p /run/netns
mount -t tmpfs tmpfs /run/netns
ip netns add internet
ip link add uplink type veth peer name wan netns internet
ip addr add 198.51.100.2/24 dev uplink
ip link set uplink up
ip route add default via 198.51.100.1
ip -n internet link set lo up
ip -n internet addr add 198.51.100.1/24 dev wan
ip -n internet link set wan up
for address in 192.0.2.80 192.0.2.53 169.254.169.254 168.63.129.16 100.100.100.200; do
	ip -n internet addr add $address/32 dev lo
done
# As a cloud host routes its metadata address.
ip route add 169.254.169.254/32 via 198.51.100.1

echo 'nameserver 192.0.2.53' >/run/netns/resolv.conf
mount --bind /run/netns/resolv.conf /etc/resolv.conf

nsenter --net=/run/netns/internet python3 "$here/internet.py" >/run/netns/ready &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 100); do
	[ -s /run/netns/ready ] && break
	sleep 0.05
done

# What a container's busybox can do without NSS: nslookup has its own resolver, nc takes an address.
fetch() { printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 "$1" 80 | tail -n 1; }
# The nf_tables elements of contain's sets, one per line.
elements() { nft list set inet contain "$1" 2>/dev/null | sed -n 's/.*elements = { \(.*\) }/\1/p'; }
# The elements of contain's map $1 (`--publish`), on one line, separated by ", ".
map_elements() {
	nft list map inet contain "$1" 2>/dev/null | tr -d '\n\t' | tr -s ' ' | sed -n 's/.*elements = { \(.*\) }.*/\1/p'
}
# Asks the HTTP server at $1, port $2 (a container's busybox httpd, in the tests of published
# ports) for its page /cgi-bin/who, which answers `from ADDRESS`: whom the connection came from.
ask() { printf 'GET /cgi-bin/who HTTP/1.0\r\n\r\n' | busybox nc -w 3 "$1" "$2" 2>&1 | tail -n 1; }
# Waits until the set $1 has an element (the container's elements are in before it runs).
has_elements() {
	for _ in $(seq 100); do
		[ -n "$(elements "$1")" ] && return
		sleep 0.05
	done
}
# Waits until the interface $1 exists (or, with "gone", until it does not). By `ip`: this mount
# namespace's /sys shows the machine's own network namespace.
interface() {
	for _ in $(seq 100); do
		if ip link show "$1" >/dev/null 2>&1; then [ "${2:-}" != gone ] && return; else [ "${2:-}" = gone ] && return; fi
		sleep 0.05
	done
	echo "interface $1 never became ${2:-present}"
}
# Waits until the interface $1 has an IPv4 address: the runtime makes a pair's host end, then
# gives it its address, and a start in between would not see that address as the host's yet.
addressed() {
	for _ in $(seq 100); do
		ip -o -4 addr show "$1" 2>/dev/null | grep -q ' inet ' && return
		sleep 0.05
	done
	echo "interface $1 never had an address"
}
# The scenario's commands may fail: that is what it reports.
set +e
. "$scenario"
