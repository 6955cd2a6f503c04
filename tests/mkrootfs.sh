#!/bin/sh
# Builds a minimal container root filesystem from the host's static busybox: one binary, a symlink
# per applet, and the few files in /etc that tools expect. Used by `make rootfs`, by the
# integration tests and by the VM suite, so all three run the same image.
#
# usage: tests/mkrootfs.sh DIR        (BUSYBOX=/path/to/static/busybox to use another binary)
set -eu

dest=${1:?usage: mkrootfs.sh DIR}
busybox=${BUSYBOX:-/bin/busybox}

if [ ! -x "$busybox" ]; then
    echo "mkrootfs: $busybox not found (apt-get install busybox-static)" >&2
    exit 1
fi
# A dynamically linked busybox would find no libc inside the container.
if command -v readelf >/dev/null && readelf -l "$busybox" | grep -q 'Requesting program interpreter'; then
    echo "mkrootfs: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi

# Build beside the destination and rename at the end, so a half-built rootfs is never used.
tmp="$dest.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
for dir in bin sbin usr/bin usr/sbin etc proc sys dev tmp root home var run mnt opt srv media lib; do
    mkdir -p "$tmp/$dir"
done
chmod 1777 "$tmp/tmp"
chmod 700 "$tmp/root"
cp "$busybox" "$tmp/bin/busybox"
for applet in $("$busybox" --list-full); do
    [ -e "$tmp/$applet" ] || ln -s /bin/busybox "$tmp/$applet"
done

cat > "$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$tmp/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
nogroup:x:65534:
GROUP
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$tmp/etc/hosts"

rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
