//! `--net none|host|veth`. Traffic only ever goes between the host end and the container end of a
//! pair this suite made, a handful of packets with timeouts; nothing is sent anywhere else.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// A container id short enough that its host interface is `ct-ID` as it is (15 bytes at most):
/// `n` and 8 random hex digits.
fn short_name() -> String {
    let mut bytes = [0u8; 4];
    fs::File::open("/dev/urandom").unwrap().read_exact(&mut bytes).unwrap();
    format!("n{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn host_interface(name: &str) -> String {
    format!("ct-{name}")
}

fn interface_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The pool leases held by `name`.
fn leases_of(name: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir("/run/contain/.leases") else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| fs::read_to_string(e.path()).is_ok_and(|owner| owner == name))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Everything a veth container leaves behind must be gone: the common checks, its host interface
/// and its lease.
fn assert_no_network_leftovers(name: &str) {
    assert_no_leftovers(name, rootfs());
    wait_for(&format!("{} to disappear", host_interface(name)), Duration::from_secs(5), || {
        (!interface_exists(&host_interface(name))).then_some(())
    });
    assert_eq!(leases_of(name), Vec::<String>::new(), "lease left behind");
}

/// The interfaces in a listing, but for the host ends of pairs (concurrent tests add and remove
/// them at any moment).
fn interfaces(listing: &str) -> Vec<String> {
    let mut names: Vec<String> =
        listing.split_whitespace().filter(|n| !n.starts_with("ct-")).map(String::from).collect();
    names.sort();
    names
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn none_gives_only_lo_and_host_gives_the_hosts_interfaces() {
    let name = root_test("netmodes");
    let out =
        run_in(rootfs(), &name, &["--net", "none"], &["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags"]);
    assert_eq!(out.stdout, "lo\n0x9\n", "lo alone, and up: {}", out.stderr);

    // --net host: the very same network namespace, so the same interfaces.
    let out =
        run_in(rootfs(), &name, &["--net", "host"], &["sh", "-c", "readlink /proc/self/ns/net; ls /sys/class/net"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (namespace, listing) = out.stdout.split_once('\n').unwrap();
    assert_eq!(namespace, fs::read_link("/proc/self/ns/net").unwrap().to_str().unwrap());
    let host = fs::read_dir("/sys/class/net").unwrap().map(|e| e.unwrap().file_name().into_string().unwrap());
    assert_eq!(interfaces(listing), interfaces(&host.collect::<Vec<_>>().join(" ")));
    assert!(out.stderr.contains("creating namespaces: pid uts mnt ipc\n"), "no net: {}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn ping_both_ways_and_a_tcp_echo_over_the_pair() {
    let _ = root_test("veth");
    let name = short_name();
    // The container pings its host end, then serves one TCP echo.
    let script = "ping -c 1 -W 5 10.231.1.1 >/dev/null && echo ping-ok; nc -l -p 7000 -e /bin/cat";
    let runtime = start(&name, &["--net", "veth:10.231.1.1/30,10.231.1.2"], &["sh", "-c", script]);
    assert!(interface_exists(&host_interface(&name)));
    let record = fs::read_to_string(state_dir(&name).join("state")).unwrap();
    assert!(record.contains(&format!("\nnetwork=veth ct-{name} 10.231.1.1/30 10.231.1.2/30\n")), "{record}");

    let ping = Command::new("busybox").args(["ping", "-c", "1", "-W", "5", "10.231.1.2"]).output().unwrap();
    assert!(ping.status.success(), "host -> container: {}", String::from_utf8_lossy(&ping.stdout));
    let mut stream = wait_for("the container's echo server", Duration::from_secs(10), || {
        TcpStream::connect_timeout(&"10.231.1.2:7000".parse().unwrap(), Duration::from_secs(1)).ok()
    });
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"hello over veth\n").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut echoed = String::new();
    stream.read_to_string(&mut echoed).unwrap();
    assert_eq!(echoed, "hello over veth\n");

    let out = finish(runtime);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "ping-ok\n");
    assert!(out.stderr.contains(&format!("veth ct-{name} (10.231.1.1/30) <-> eth0 (10.231.1.2/30)")), "{}", out.stderr);
    assert_no_network_leftovers(&name);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn concurrent_containers_lease_different_subnets_until_the_pool_is_empty() {
    let _ = root_test("pool");
    let names = [short_name(), short_name()];
    // A pool of exactly two /30s, this test process's own (another suite may run at the same time).
    let third_octet = std::process::id() % 256;
    let pool_range = format!("10.232.{third_octet}.0/29");
    let pool = [("CONTAIN_NET_POOL", pool_range.as_str())];
    let spawn = |name: &str| {
        let mut cmd = command(&run_args(rootfs(), name, &["--net", "veth"], &["sleep", "60"]));
        cmd.envs(pool);
        cmd.spawn().unwrap()
    };
    let runtimes: Vec<Child> = names.iter().map(|name| spawn(name)).collect();
    let mut addresses = Vec::new();
    for name in &names {
        wait_until_running(name);
        let addr = wait_for("an address", Duration::from_secs(10), || {
            let out = contain(&["exec", name, "ip", "-4", "-o", "addr", "show", "eth0"]);
            out.stdout.split_whitespace().skip_while(|w| *w != "inet").nth(1).map(String::from)
        });
        assert!(interface_exists(&host_interface(name)));
        let record = fs::read_to_string(state_dir(name).join("state")).unwrap();
        assert!(record.contains(&format!("network=veth ct-{name} ")) && record.contains(" lease "), "{record}");
        addresses.push(addr);
    }
    addresses.sort();
    assert_eq!(addresses, [format!("10.232.{third_octet}.2/30"), format!("10.232.{third_octet}.6/30")]);

    // A third finds the pool empty, and starts nothing.
    let third = short_name();
    let mut cmd = command(&run_args(rootfs(), &third, &["--net", "veth"], &["true"]));
    cmd.envs(pool);
    let out = finish(cmd.spawn().unwrap());
    assert_eq!(out.code, 125);
    let expected = format!(
        "[contain] error: every /30 of {pool_range} is leased (see /run/contain/.leases; CONTAIN_NET_POOL sets another pool)"
    );
    assert_eq!(out.errors(), [expected.as_str()]);
    assert_no_network_leftovers(&third);

    for (name, runtime) in names.iter().zip(runtimes) {
        assert_eq!(contain(&["kill", name]).code, 0);
        assert_eq!(finish(runtime).code, 137);
        assert_no_network_leftovers(name);
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn bad_specs_and_a_name_clash_start_nothing() {
    let name = root_test("netbad");
    for (spec, expected) in [
        ("veth:10.9.0.1/33,10.9.0.2", "--net \"veth:10.9.0.1/33,10.9.0.2\": prefix \"33\""),
        ("veth:10.9.0.1/24,10.8.0.2", "10.8.0.2 is not in 10.9.0.0/24"),
        ("veth:10.9.0.300/24,10.9.0.2", "\"300\" in \"10.9.0.300\" is not a number from 0 to 255"),
        ("bridge", "expected none, host, veth"),
    ] {
        let out = run_in(rootfs(), &name, &["--net", spec], &["true"]);
        assert_eq!(out.code, 125);
        assert_eq!(out.errors().len(), 1, "{}", out.stderr);
        assert!(out.errors()[0].contains(expected), "{spec}: {}", out.stderr);
        assert_no_leftovers(&name, rootfs());
    }
    let mut cmd = command(&run_args(rootfs(), &name, &["--net", "veth"], &["true"]));
    cmd.env("CONTAIN_NET_POOL", "10.9.0.1/16");
    let out = finish(cmd.spawn().unwrap());
    assert_eq!(
        out.errors(),
        ["[contain] error: CONTAIN_NET_POOL: \"10.9.0.1/16\" has host bits set (the network is 10.9.0.0/16)"]
    );

    // The host end's name is taken: run contain in a network namespace of its own where it is.
    // That interface is somebody else's, and must survive the failed start.
    let clash = short_name();
    let script = format!(
        "busybox ip link add {iface} type veth || exit 99; {bin} {args}; rc=$?; \
         busybox ip link show {iface} >/dev/null && echo still-there; exit $rc",
        iface = host_interface(&clash),
        bin = contain_bin().display(),
        args = run_args(rootfs(), &clash, &["--net", "veth:10.233.0.1/30,10.233.0.2"], &["true"]).join(" ")
    );
    let out = finish(
        Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert_eq!(out.stdout, "still-there\n");
    let expected = format!("[contain] error: a network interface named ct-{clash} already exists");
    assert!(out.errors().len() == 1 && out.errors()[0].starts_with(&expected), "{}", out.stderr);
    assert_no_network_leftovers(&clash);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn gc_releases_the_lease_of_a_killed_runtime() {
    let _ = root_test("netgc");
    let name = short_name();
    let mut runtime = start(&name, &["--net", "veth"], &["sleep", "60"]);
    assert_eq!(leases_of(&name).len(), 1);
    let init = container_pids(&name, 1)[0];
    kill_runtime(&mut runtime, init);
    // (A concurrent test's `contain run` may collect it first; either way it must be gone.)
    assert_eq!(contain(&["gc", &name]).code, 0);
    assert_no_network_leftovers(&name);
}

/// `contain ARGS` in a private mount namespace where `setup`, a shell script, first makes the
/// host's name files what the test needs: the machine's own are never touched.
fn contain_with_host_files(setup: &str, args: &[&str]) -> Output {
    // A machine without /etc/resolv.conf (the VM's guest) gets an empty one to cover.
    let script = format!("[ -e /etc/resolv.conf ] || : >/etc/resolv.conf\n{setup}\nexec \"$@\"");
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-ec", &script, "sh"]).arg(contain_bin()).args(args);
    finish(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
}

/// What the container prints of its name files, each followed by `--`.
const SHOW_NAMES: &str = "for f in /etc/resolv.conf /etc/hosts /etc/hostname; do cat $f 2>&1; echo --; done";

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn veth_names_are_generated_from_the_hosts_and_bound_read_only_over_the_images() {
    let _ = root_test("names");
    let name = short_name();
    // The image's /etc/resolv.conf is a symlink, as in many images: the bind covers what it leads
    // to inside the image.
    let image = fresh_rootfs(&name);
    fs::create_dir_all(image.join("run")).unwrap();
    fs::write(image.join("run/resolv.conf"), "nameserver 203.0.113.9\n").unwrap();
    // (The shared rootfs may have an empty one: a mount point an earlier veth container made.)
    let _ = fs::remove_file(image.join("etc/resolv.conf"));
    symlink("../run/resolv.conf", image.join("etc/resolv.conf")).unwrap();
    let hosts_before = fs::read(image.join("etc/hosts")).unwrap();
    let host_file = scratch().join(format!("{name}-resolv.conf"));
    fs::write(
        &host_file,
        "search example.test\nnameserver 127.0.0.1\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:3\n",
    )
    .unwrap();
    let flags = [
        "--net",
        "veth:10.233.1.1/30,10.233.1.2",
        "--hostname",
        "web",
        "--add-host",
        "db:192.0.2.7",
        "--add-host",
        "gw:host-gateway",
    ];
    let script = format!("{SHOW_NAMES}; cat /run/resolv.conf; (echo x >/etc/hosts) 2>/dev/null || echo read-only");
    let out = contain_with_host_files(
        &format!("mount --bind {} /etc/resolv.conf", host_file.display()),
        &run_args(&image, &name, &flags, &["sh", "-c", &script]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let resolv = "# Generated by contain from the host's /etc/resolv.conf\nsearch example.test\nnameserver 192.0.2.53\noptions ndots:3\n";
    let hosts = "# Generated by contain\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
                 10.233.1.2\tweb\n192.0.2.7\tdb\n10.233.1.1\tgw\n";
    assert_eq!(out.stdout, format!("{resolv}--\n{hosts}--\nweb\n--\n{resolv}read-only\n"));
    // The image's own files are as they were; the entry's copies went with it.
    assert_eq!(fs::read_link(image.join("etc/resolv.conf")).unwrap(), Path::new("../run/resolv.conf"));
    assert_eq!(fs::read_to_string(image.join("run/resolv.conf")).unwrap(), "nameserver 203.0.113.9\n");
    assert_eq!(fs::read(image.join("etc/hosts")).unwrap(), hosts_before);
    assert_no_leftovers(&name, &image);
    assert!(!interface_exists(&host_interface(&name)));
    fs::remove_file(host_file).unwrap();
    fs::remove_dir_all(image).unwrap();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn behind_systemd_resolved_the_servers_are_its_upstream_ones_and_dns_and_volumes_override() {
    let _ = root_test("resolved");
    let name = short_name();
    let own_hosts = scratch().join(format!("{name}-hosts"));
    fs::write(&own_hosts, "192.0.2.99 mine\n").unwrap();
    // The host's /etc/resolv.conf names resolved's stub, which is on the host's loopback: the real
    // servers are in /run/systemd/resolve/resolv.conf (here on a tmpfs of the test's own /run, so
    // this container's state directory is there too).
    let setup = "mount -t tmpfs tmpfs /run; mkdir -p /run/systemd/resolve; \
                 echo 'nameserver 198.51.100.53' >/run/systemd/resolve/resolv.conf; \
                 printf 'nameserver 127.0.0.53\\noptions edns0\\n' >/run/stub; mount --bind /run/stub /etc/resolv.conf";
    let volume = format!("{}:/etc/hosts:ro", own_hosts.display());
    let net = ["--net", "veth:10.233.3.1/30,10.233.3.2"];
    let out = contain_with_host_files(
        setup,
        &run_args(rootfs(), &name, &[&net[..], &["-v", &volume]].concat(), &["sh", "-c", SHOW_NAMES]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let resolv = "# Generated by contain from the host's /run/systemd/resolve/resolv.conf\nnameserver 198.51.100.53\n";
    assert_eq!(out.stdout, format!("{resolv}--\n192.0.2.99 mine\n--\n{name}\n--\n"), "the volume's hosts wins");

    let flags = [&net[..], &["--dns", "192.0.2.1", "--dns", "192.0.2.2"]].concat();
    let out = contain_with_host_files(setup, &run_args(rootfs(), &name, &flags, &["cat", "/etc/resolv.conf"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected = "# Generated by contain from the host's /run/systemd/resolve/resolv.conf\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n";
    assert_eq!(out.stdout, expected);
    assert!(!interface_exists(&host_interface(&name)));
    fs::remove_file(own_hosts).unwrap();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_read_only_image_without_a_name_file_goes_without_it_and_says_so() {
    let _ = root_test("names-ro");
    let name = short_name();
    let image = fresh_rootfs(&name);
    let _ = fs::remove_file(image.join("etc/resolv.conf"));
    let _ = fs::remove_file(image.join("etc/hostname"));
    let flags = ["--read-only", "--net", "veth:10.233.2.1/30,10.233.2.2", "--hostname", "ro"];
    let out = run_in(&image, &name, &flags, &["sh", "-c", SHOW_NAMES]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for missing in ["/etc/resolv.conf", "/etc/hostname"] {
        let said = format!(
            "[contain] {missing} in the rootfs does not exist, and contain does not write to a read-only image"
        );
        assert!(out.stderr.contains(&said), "{missing}: {}", out.stderr);
    }
    let hosts =
        "# Generated by contain\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.233.2.2\tro\n";
    assert_eq!(
        out.stdout,
        format!("cat: can't open '/etc/resolv.conf': No such file or directory\n--\n{hosts}--\ncat: can't open '/etc/hostname': No such file or directory\n--\n")
    );
    assert!(!image.join("etc/resolv.conf").exists() && !image.join("etc/hostname").exists(), "the image was written");
    assert_no_leftovers(&name, &image);
    fs::remove_dir_all(image).unwrap();
}

/// Runs `scenario`, a shell script, in tests/networld/world.sh's small world (see there), with
/// `$contain` and `$rootfs` the test's.
fn in_world(scenario: &str) -> Output {
    let file = scratch().join(format!("scenario-{}", unique_name("world")));
    fs::write(&file, scenario).unwrap();
    let world = source("tests/networld/world.sh");
    let mut cmd = Command::new("unshare");
    // /bin/sh by its path: a busybox unshare would run its own ash, which prefers its own applets
    // (ip) to PATH's programs (the VM's Debian tools).
    cmd.args(["-n", "-m", "--propagation", "private", "/bin/sh"])
        .arg(world)
        .arg(contain_bin())
        .arg(rootfs())
        .arg(&file);
    let out = finish(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    fs::remove_file(file).unwrap();
    out
}

/// A small Debian mirror in the world, served by internet.py from /run/netns/www: one suite,
/// `world`, for this machine's architecture, with one package of the test's own, `world-hello`,
/// which installs /usr/share/world/hello. Unsigned: the container's sources say `trusted=yes`.
const DEBIAN_MIRROR: &str = r#"www=/run/netns/www/debian arch=$(dpkg --print-architecture)
package=/run/netns/world-hello
mkdir -p $package/DEBIAN $package/usr/share/world $www/pool $www/dists/world/main/binary-$arch
printf 'Package: world-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: contain tests <tests@world.test>\nDescription: a file from the world\n' >$package/DEBIAN/control
echo 'hello from the world' >$package/usr/share/world/hello
dpkg-deb --root-owner-group -Zgzip --build $package $www/pool/world-hello_1.0_all.deb >/dev/null
deb=$www/pool/world-hello_1.0_all.deb
{ sed '/^Description/d' $package/DEBIAN/control
  printf 'Filename: pool/world-hello_1.0_all.deb\nSize: %s\nSHA256: %s\nDescription: a file from the world\n' \
    $(wc -c <$deb) $(sha256sum $deb | cut -d' ' -f1)
} >$www/dists/world/main/binary-$arch/Packages
index=$www/dists/world/main/binary-$arch/Packages
printf 'Suite: world\nCodename: world\nArchitectures: %s\nComponents: main\nDate: %s\nSHA256:\n %s %s main/binary-%s/Packages\n' \
  $arch "$(date -uR)" $(sha256sum $index | cut -d' ' -f1) $(wc -c <$index) $arch >$www/dists/world/Release
"#;

/// A container script that tries each target and says `TARGET reached` or `TARGET unreachable`:
/// an address by ping, `http:ADDRESS` by a request to its port 80 (busybox's nc: its wget crashes
/// without NSS). Each waits 2 s for its answer: under CI's load, 1 s once missed a reply.
const REACH: &str = r#"for target in "$@"; do
  case $target in
    http:*) printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 ${target#http:} 80 | tail -n 1 | grep -q . ;;
    *) ping -c 1 -W 2 $target >/dev/null 2>&1 ;;
  esac && echo "$target reached" || echo "$target unreachable"
done"#;

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_veth_container_resolves_a_name_and_fetches_through_nat() {
    let _ = root_test("nat");
    let name = short_name();
    // What stands in the way, said by the first container only: a forward chain of another table
    // that drops by policy (in a table that then accepts, as docker's rules would), and the
    // README's old recipe.
    let scenario = format!(
        r#"nft 'add table ip other; add chain ip other FORWARD {{ type filter hook forward priority 0; policy drop; }}'
nft 'add rule ip other FORWARD iifname "ct-*" accept; add rule ip other FORWARD ct state established,related accept'
nft add table ip contain
mkdir -p /run/netns/www && echo 'a file from the world' >/run/netns/www/file
$contain run --rootfs $rootfs --name {name} --net veth -- sh -c '
  address=$(nslookup world.test | sed -n "s/^Address: *\([0-9.]*\)$/\1/p")
  echo "resolved $address"
  printf "GET /file HTTP/1.0\r\nHost: world.test\r\n\r\n" | nc -w 3 $address 80 | tail -n 1
  printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 $address 80 | tail -n 1 | sed "s/^/the server saw /"'
echo "exit $?; forwarding $(sysctl -n net.ipv4.ip_forward); elements [$(elements nat)] [$(elements isolated)] [$(elements ends)]"
$contain run --rootfs $rootfs --name {name} --net veth -- true 2>&1 | grep -c 'drops by policy\|is now redundant'
"#
    );
    let out = in_world(&scenario);
    assert_eq!(
        out.stdout,
        "resolved 192.0.2.80\na file from the world\nthe server saw 198.51.100.2\nexit 0; forwarding 1; elements [] [] []\n0\n",
        "the name resolves through the world's resolver, the file comes from its address, the \
         request is masqueraded as the host's uplink, and the container's elements leave with it: {}",
        out.stderr
    );
    for said in [
        "[contain] net.ipv4.ip_forward was 0: turned on, for the container's NAT\n",
        "[contain] the forward chain ip other FORWARD drops by policy, and contain's accept cannot override it",
        "[contain] the table `ip contain` (the README's old masquerade recipe) is now redundant",
    ] {
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    assert_no_network_leftovers(&name);
}

/// #26's Debian check: glibc's resolver and apt in a Debian minbase image (tests/networld/debian.sh
/// makes it once, by debootstrap, and caches it) find the world's mirror by name, through NAT:
/// `apt-get update`, then the install of the mirror's own package.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_debian_apt_get_updates_and_installs_from_a_mirror_by_name() {
    let _ = root_test("debian");
    let debian = Command::new("sh").arg(source("tests/networld/debian.sh")).output().unwrap();
    assert!(debian.status.success(), "tests/networld/debian.sh: {}", String::from_utf8_lossy(&debian.stderr));
    let image = String::from_utf8(debian.stdout).unwrap().trim().to_string();
    let name = short_name();
    let scenario = format!(
        r#"{DEBIAN_MIRROR}
$contain run --rootfs {image} --overlay --name {name} --net veth -- sh -c '
  echo "deb [trusted=yes] http://world.test/debian world main" >/etc/apt/sources.list
  apt-get update >&2 && apt-get install -y world-hello >&2 && cat /usr/share/world/hello'
echo "exit $?"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "hello from the world\nexit 0\n", "{}", out.stderr);
    for fetched in ["http://world.test/debian world Release [", "http://world.test/debian world/main"] {
        assert!(out.stderr.contains(fetched), "apt fetched {fetched}: {}", out.stderr);
    }
    assert!(Path::new(&image).join("usr/share/doc").exists() && !Path::new(&image).join("usr/share/world").exists());
    assert_no_network_leftovers(&name);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_containers_reach_no_other_container_nor_host_address_unless_open() {
    let _ = root_test("walls");
    let [first, other, isolated, open, nonat] = [short_name(), short_name(), short_name(), short_name(), short_name()];
    // The first container makes the table; then somebody empties its chains (as `nft flush
    // ruleset` would empty everything): the next container's batch makes them whole again. And
    // each host end drops forged sources (its reverse-path filter, strict).
    let scenario = format!(
        r#"reach='{REACH}'
$contain run -q --rootfs $rootfs --name {first} --net veth -- true
nft flush chain inet contain forward && nft flush chain inet contain input
$contain run -q --rootfs $rootfs --name {other} --net veth:10.240.0.1/30,10.240.0.2 -- sleep 30 &
other=$!
# Its elements come after its host end's rp_filter.
has_elements isolated
echo "rp_filter $(cat /proc/sys/net/ipv4/conf/ct-{other}/rp_filter)"
$contain run -q --rootfs $rootfs --name {isolated} --net veth:10.240.0.5/30,10.240.0.6 -- sh -c "$reach" sh   10.240.0.5 10.240.0.2 198.51.100.2 http:192.0.2.80 http:169.254.169.254
$contain run -q --rootfs $rootfs --name {open} --net veth:10.240.0.9/30,10.240.0.10:open -- sh -c "$reach" sh   10.240.0.2 198.51.100.2 http:169.254.169.254
$contain run -q --rootfs $rootfs --name {nonat} --net veth:10.240.0.13/30,10.240.0.14:nonat -- sh -c "$reach" sh   198.51.100.2 http:192.0.2.80
$contain kill {other} >/dev/null
wait $other
echo "elements [$(elements nat)] [$(elements isolated)] [$(elements ends)]"
"#
    );
    let out = in_world(&scenario);
    let expected = [
        "rp_filter 1",
        // Isolated (the default): its own host end, and the world through NAT; not the other
        // container, nor the host's other address, nor the metadata address.
        "10.240.0.5 reached",
        "10.240.0.2 unreachable",
        "198.51.100.2 unreachable",
        "http:192.0.2.80 reached",
        "http:169.254.169.254 unreachable",
        // Open: the host and the metadata address, but still not an isolated container, which
        // takes nothing it did not ask for.
        "10.240.0.2 unreachable",
        "198.51.100.2 reached",
        "http:169.254.169.254 reached",
        // No NAT: the host, as before contain did NAT; the world has no way back.
        "198.51.100.2 reached",
        "http:192.0.2.80 unreachable",
        "elements [] [] []",
    ];
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), expected, "{}", out.stderr);
    for name in [first, other, isolated, open, nonat] {
        assert_no_leftovers(&name, rootfs());
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_an_isolated_container_reaches_no_clouds_metadata_service_but_azures_dns() {
    let _ = root_test("metadata");
    let [isolated, open] = [short_name(), short_name()];
    // The world serves HTTP on Azure's and Alibaba's metadata addresses too. Azure's is also the
    // resolver its hosts name: its port 53 answers (here with a refusal: nothing listens there),
    // where a dropped connection would time out.
    let scenario = format!(
        r#"reach='{REACH}'
dns='nc -w 2 168.63.129.16 53 </dev/null 2>&1 | grep -q refused && echo "168.63.129.16 port 53 reached" || echo "168.63.129.16 port 53 unreachable"'
$contain run -q --rootfs $rootfs --name {isolated} --net veth -- sh -c "$reach; $dns" sh http:168.63.129.16 http:100.100.100.200
$contain run -q --rootfs $rootfs --name {open} --net veth:open -- sh -c "$reach" sh http:168.63.129.16 http:100.100.100.200
"#
    );
    let out = in_world(&scenario);
    let expected = [
        "http:168.63.129.16 unreachable",
        "http:100.100.100.200 unreachable",
        "168.63.129.16 port 53 reached",
        // Open: no walls.
        "http:168.63.129.16 reached",
        "http:100.100.100.200 reached",
    ];
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), expected, "{}", out.stderr);
    for name in [isolated, open] {
        assert_no_network_leftovers(&name);
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_short_id_and_a_long_ids_hashed_host_end_never_share_a_name() {
    let _ = root_test("names-clash");
    // A long id's host end is named by a hash of it; a 12-hex-digit id (a random id's form) that
    // is that hash's old spelling runs beside it.
    let long = format!("{}-with-a-long-name", short_name());
    let fnv1a = long.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let short = format!("{:012x}", fnv1a >> 16);
    let scenario = format!(
        r#"$contain run -q --rootfs $rootfs --name {long} --net veth -- sleep 30 &
long=$!
has_elements isolated
$contain run -q --rootfs $rootfs --name {short} --net veth -- true
echo "beside it: $?"
$contain kill {long} >/dev/null
wait $long
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "beside it: 0\n", "{}", out.stderr);
    for name in [long, short] {
        assert_no_leftovers(&name, rootfs());
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_addresses_the_host_has_already_are_never_a_second_pairs() {
    let _ = root_test("taken");
    let [fixed, pooled, again] = [short_name(), short_name(), short_name()];
    // Addresses given on the command line take no lease: the pool's first /30 is the host's
    // already while that container runs, and a second pair there would take its traffic. So is
    // a subnet around another container's host end, and the host's own uplink address.
    let scenario = format!(
        r#"$contain run -q --rootfs $rootfs --name {fixed} --net veth:10.200.0.1/30,10.200.0.2 -- sleep 30 &
fixed=$!
addressed ct-{fixed}
$contain run -q --rootfs $rootfs --name {pooled} --net veth -- ip -o -4 addr show eth0 | awk '{{print "pool: " $4}}'
$contain run -q --rootfs $rootfs --name {again} --net veth:10.200.0.1/29,10.200.0.3 -- true
echo "around the host end: $?"
$contain run -q --rootfs $rootfs --name {again} --net veth:198.51.100.2/24,198.51.100.9 -- true
echo "the uplink's: $?"
$contain kill {fixed} >/dev/null
wait $fixed
echo "left: [$(ls /run/contain)] [$(ls /run/contain/.leases 2>/dev/null)] [$(ip -o link show 2>/dev/null | grep -c ct-)]"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(
        out.stdout, "pool: 10.200.0.6/30\naround the host end: 125\nthe uplink's: 125\nleft: [] [] [0]\n",
        "{}",
        out.stderr
    );
    for said in [
        "[contain] error: --net veth:10.200.0.1/29,10.200.0.3: 10.200.0.1 is an address of this host already",
        "[contain] error: --net veth:198.51.100.2/24,198.51.100.9: 198.51.100.2 is an address of this host already",
    ] {
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    for name in [fixed, pooled, again] {
        assert_no_leftovers(&name, rootfs());
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_gc_removes_the_firewall_elements_of_a_killed_runtime() {
    let _ = root_test("natgc");
    let name = short_name();
    let scenario = format!(
        r#"$contain run -q --rootfs $rootfs --name {name} --net veth -p 8080:80 -p 127.0.0.1:8081:80 -- sleep 60 &
runtime=$!
has_elements isolated
echo "running: [$(elements isolated)] $(map_elements published | grep -c {name}) $(map_elements published_at | grep -c {name})"
kill -9 $runtime
interface ct-{name} gone
echo "killed: [$(elements isolated)] $(map_elements published | grep -c {name}) $(map_elements published_at | grep -c {name})"
$contain gc {name}
echo "gc: $?; [$(elements nat)] [$(elements isolated)] [$(elements ends)] [$(map_elements published)] [$(map_elements published_at)]"
echo "left: $(ls /run/contain) $(ls /run/contain/.leases)"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(
        out.stdout,
        format!("running: [\"ct-{name}\"] 1 1\nkilled: [\"ct-{name}\"] 1 1\ngc: 0; [] [] [] [] []\nleft:  \n"),
        "{}",
        out.stderr
    );
    assert_no_network_leftovers(&name);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_whole_rules_are_kept_and_only_a_damaged_ruleset_is_made_again() {
    let _ = root_test("ruleset");
    let [first, second, third] = [short_name(), short_name(), short_name()];
    // The rules' handles tell whether a start made them again. The second container finds them
    // whole and adds only its elements (what saves NAT's start-up the whole batch); the third
    // finds a rule deleted and makes every chain whole again, each rule with the ruleset's mark.
    let scenario = format!(
        r#"handles() {{ nft -a list table inet contain | grep -o 'handle [0-9]*$' | tr '\n' ' '; }}
$contain run -q --rootfs $rootfs --name {first} --net veth -- true
before=$(handles)
$contain run -q --rootfs $rootfs --name {second} --net veth -- true
[ "$(handles)" = "$before" ] && echo "whole: kept" || echo "whole: made again"
nft delete rule inet contain input handle $(nft -a list chain inet contain input | grep -o 'handle [0-9]*$' | tail -n 1 | cut -d' ' -f2)
$contain run -q --rootfs $rootfs --name {third} --net veth -- true
[ "$(handles)" = "$before" ] && echo "damaged: kept" || echo "damaged: made again"
echo "rules $(nft list table inet contain | grep -c ' comment "contain ruleset ') marked of $(nft list table inet contain | grep -v policy | grep -c -e accept -e drop -e masquerade -e dnat)"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "whole: kept\ndamaged: made again\nrules 21 marked of 21\n", "{}", out.stderr);
    for name in [first, second, third] {
        assert_no_network_leftovers(&name);
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_container_whose_element_went_meanwhile_removes_the_others_and_says_so() {
    let _ = root_test("element-gone");
    let name = short_name();
    // Its elements leave in one batch, which the missing one refuses: each then goes on its own.
    let scenario = format!(
        r#"$contain run --rootfs $rootfs --name {name} --net veth -p 8080:80 -- sleep 1 &
runtime=$!
has_elements isolated
nft delete element inet contain isolated '{{ "ct-{name}" }}'
wait $runtime
echo "exit $?; [$(elements nat)] [$(elements isolated)] [$(elements ends)] [$(map_elements published)]"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "exit 0; [] [] [] []\n", "{}", out.stderr);
    assert!(out.stderr.contains("elements of table inet contain were gone before it ended"), "{}", out.stderr);
    assert_no_network_leftovers(&name);
}

/// A container script that serves /cgi-bin/who on port 80 with busybox's httpd: `from ADDRESS`,
/// whom each connection came from (world.sh's `ask` asks it).
const SERVE_WHO: &str = r##"mkdir -p /tmp/www/cgi-bin
printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho from \$REMOTE_ADDR\n" >/tmp/www/cgi-bin/who
chmod +x /tmp/www/cgi-bin/who
exec httpd -f -p 80 -h /tmp/www"##;

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_published_port_answers_from_outside_the_host_its_loopback_and_the_container_itself() {
    let _ = root_test("publish");
    let name = short_name();
    // From the internet (DNAT in prerouting; the container sees the client), from the host
    // itself (DNAT in output), on 127.0.0.1 (route_localnet and masquerade: the container sees
    // its host end), and from the container itself through the host's address (the hairpin,
    // masqueraded too). A port published on 127.0.0.1 alone is not on the uplink. Meanwhile
    // nobody on the host can take the port: the --detach runtime in the background holds it. A
    // UDP datagram to a published UDP port leaves for the container's port, by a chain that
    // counts after contain's (its busybox has no UDP server).
    let scenario = format!(
        r#"serve='{SERVE_WHO}'
nft 'add table ip watch; add chain ip watch out {{ type filter hook postrouting priority 200; }}'
nft 'add rule ip watch out oifname "ct-*" udp dport 53 counter'
$contain run -d --rootfs $rootfs --name {name} --net veth -p 8080:80 --publish 127.0.0.1:8081:80/tcp -p 5353:53/udp -- sh -c "$serve" >/dev/null &&
  for _ in $(seq 50); do ask 10.200.0.2 80 | grep -q from && break; sleep 0.1; done
echo "outside: $(nsenter --net=/run/netns/internet sh -c "printf 'GET /cgi-bin/who HTTP/1.0\r\n\r\n' | busybox nc -w 3 198.51.100.2 8080 | tail -n 1")"
echo "host: $(ask 198.51.100.2 8080)"
echo "loopback: $(ask 127.0.0.1 8080)"
echo "loopback only: $(ask 127.0.0.1 8081)"
echo "not on the uplink: $(ask 198.51.100.2 8081)"
echo "hairpin: $($contain exec -q {name} sh -c "printf 'GET /cgi-bin/who HTTP/1.0\r\n\r\n' | nc -w 3 198.51.100.2 8080 | tail -n 1")"
echo "taken: $(timeout 1 busybox nc -l -p 8080 2>&1 </dev/null | head -n 1)"
nsenter --net=/run/netns/internet python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"?", ("198.51.100.2", 5353))'
echo "udp to the container's port 53: $(nft list chain ip watch out | grep -o 'packets [0-9]*')"
echo "route_localnet $(cat /proc/sys/net/ipv4/conf/ct-{name}/route_localnet)"
echo "maps [$(map_elements published)] [$(map_elements published_at)]"
$contain kill {name} >/dev/null
interface ct-{name} gone
echo "after [$(map_elements published)] [$(map_elements published_at)]"
busybox nc -l -p 8080 </dev/null >/dev/null 2>&1 &
sleep 0.2
kill $! 2>/dev/null && echo "the host has the port back"
"#
    );
    let out = in_world(&scenario);
    let expected = [
        "outside: from [::ffff:198.51.100.1]".to_string(),
        "host: from [::ffff:198.51.100.2]".into(),
        "loopback: from [::ffff:10.200.0.1]".into(),
        "loopback only: from [::ffff:10.200.0.1]".into(),
        "not on the uplink: nc: can't connect to remote host (198.51.100.2): Connection refused".into(),
        "hairpin: from [::ffff:10.200.0.1]".into(),
        "taken: nc: bind: Address already in use".into(),
        "udp to the container's port 53: packets 1".into(),
        "route_localnet 1".into(),
        format!(
            "maps [tcp . 8080 comment \"ct-{name}\" : 10.200.0.2 . 80, udp . 5353 comment \"ct-{name}\" : 10.200.0.2 . 53] \
             [127.0.0.1 . tcp . 8081 comment \"ct-{name}\" : 10.200.0.2 . 80]"
        ),
        "after [] []".into(),
        "the host has the port back".into(),
    ];
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), expected, "{}", out.stderr);
    assert_no_network_leftovers(&name);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_port_a_host_service_holds_is_refused_by_name_and_nothing_is_left() {
    // Held by busybox nc (TCP, on every address), then by a UDP socket on 127.0.0.1; the detached
    // run reserves 8091 first, which it must give back.
    let _ = root_test("publish-taken");
    let name = short_name();
    let scenario = format!(
        r#"busybox nc -l -p 8090 </dev/null >/dev/null 2>&1 &
service=$!
sleep 0.2
$contain run --rootfs $rootfs --name {name} --net veth -p 8090:80 -- true
echo "run: $?"
$contain run -d --rootfs $rootfs --name {name} --net veth -p 8091:80 -p 8090:80 -- sleep 30
echo "detach: $?"
python3 -c 'import socket; socket.socket().bind(("0.0.0.0", 8091)); print("8091 given back")'
kill $service
python3 -c 'import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 5353)); time.sleep(30)' &
service=$!
sleep 0.3
$contain run --rootfs $rootfs --name {name} --net veth -p 5353:53/udp -- true
echo "udp: $?"
kill $service
echo "left: [$(ls /run/contain)] [$(ls /run/contain/.leases 2>/dev/null)] [$(ip -o link show ct-{name} 2>/dev/null)] [$(map_elements published)]"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "run: 125\ndetach: 125\n8091 given back\nudp: 125\nleft: [] [] [] []\n", "{}", out.stderr);
    let said = "[contain] error: --publish \"8090:80/tcp\": 0.0.0.0:8090/tcp is in use by another program on the host";
    assert_eq!(out.stderr.matches(said).count(), 2, "{}", out.stderr);
    // A service on one address holds the port on every address for a --publish without one.
    let said = "[contain] error: --publish \"5353:53/udp\": 0.0.0.0:5353/udp is in use by another program on the host";
    assert!(out.stderr.contains(said), "{}", out.stderr);
    assert_no_network_leftovers(&name);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_port_another_container_publishes_is_refused_naming_it() {
    let _ = root_test("publish-ours");
    let [first, second] = [short_name(), short_name()];
    // The first container holds 8090 on every address; the second asks for it on every address,
    // then on 127.0.0.1 alone, which the first holds too.
    let scenario = format!(
        r#"$contain run -d --rootfs $rootfs --name {first} --net veth -p 8090:80 -- sleep 30 >/dev/null
$contain run --rootfs $rootfs --name {second} --net veth -p 8090:80 -- true
echo "every address: $?"
$contain run --rootfs $rootfs --name {second} --net veth -p 127.0.0.1:8090:80/tcp -- true
echo "one address: $?"
$contain kill {first} >/dev/null
interface ct-{first} gone
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "every address: 125\none address: 125\n", "{}", out.stderr);
    for said in [
        format!("[contain] error: --publish \"8090:80/tcp\": 0.0.0.0:8090/tcp is published already by container {first}: publish another port\n"),
        format!("[contain] error: --publish \"127.0.0.1:8090:80/tcp\": 127.0.0.1:8090/tcp is published already by container {first}: publish another port\n"),
    ] {
        assert!(out.stderr.contains(&said), "{said}: {}", out.stderr);
    }
    for name in [first, second] {
        assert_no_network_leftovers(&name);
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_loopback_dns_server_and_a_bad_added_host_name_start_nothing() {
    let _ = root_test("names-bad");
    let name = short_name();
    let scenario = format!(
        r#"$contain run --rootfs $rootfs --name {name} --net veth --dns 127.0.0.1 -- true
echo "dns: $?"
$contain run --rootfs $rootfs --name {name} --net veth --add-host .:1.2.3.4 -- true
echo "add-host: $?"
echo "left: [$(ls /run/contain)] [$(ip -o link show ct-{name} 2>/dev/null)]"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "dns: 125\nadd-host: 125\nleft: [] []\n", "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "[contain] error: --dns \"127.0.0.1\": a loopback address is the container's own loopback, not the host's: \
         give a server it reaches over its network\n\
         [contain] error: --add-host \".:1.2.3.4\": \".\" is not a host name (labels of letters, digits, '-' and '_', \
         joined by '.')\n"
    );
    assert_no_network_leftovers(&name);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_container_reaches_no_loopback_service_of_the_host_through_a_host_end_that_routes_it() {
    let _ = root_test("publish-loopback");
    let name = short_name();
    // A port published on 127.0.0.1 turns route_localnet on for the host end: the host then
    // takes packets for 127.0.0.0/8 in on it. An :open container (no walls) with NET_ADMIN routes
    // its 127.0.0.0/8 to the host end and pings 127.0.0.1 (CVE-2020-8558's way to a host's
    // loopback services). A chain of another table, after contain's, counts what got past it.
    let scenario = format!(
        r#"nft 'add table ip watch; add chain ip watch input {{ type filter hook input priority 10; }}'
nft 'add rule ip watch input iifname "ct-*" ip daddr 127.0.0.0/8 counter'
$contain run -q --rootfs $rootfs --name {name} --net veth:open --cap-add NET_ADMIN -p 8080:80 -- sh -c '
  ip link set lo down; ip addr del 127.0.0.1/8 dev lo && ip route add 127.0.0.0/8 via 10.200.0.1
  ping -c 3 -W 1 127.0.0.1 >/dev/null
  echo "sent $(ip route get 127.0.0.1 | head -n 1)"'
echo "past contain's input chain: $(nft list chain ip watch input | grep -o 'packets [0-9]*')"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(
        out.stdout, "sent 127.0.0.1 via 10.200.0.1 dev eth0  src 10.200.0.2 \npast contain's input chain: packets 0\n",
        "{}",
        out.stderr
    );
    assert_no_network_leftovers(&name);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_container_reaches_no_host_service_through_another_tables_dnat() {
    let _ = root_test("other-dnat");
    let name = short_name();
    // Another table leads port 8081 of every address to a service on the host's uplink address
    // (busybox nc, on every address),
    // which an isolated container may not reach: the connection is DNAT'd, but not by contain
    // for a published port, and contain's input chain must not take it in as one.
    let scenario = format!(
        r#"nft 'add table ip other; add chain ip other pre {{ type nat hook prerouting priority dstnat; }}'
nft 'add rule ip other pre tcp dport 8081 dnat to 198.51.100.2:8080'
echo 'HTTP/1.0 200 OK' | busybox nc -l -p 8080 >/dev/null 2>&1 &
service=$!
sleep 0.3
$contain run -q --rootfs $rootfs --name {name} --net veth -- sh -c '
  nc -w 2 10.200.0.1 8081 </dev/null | grep -q HTTP && echo "the service reached" || echo "the service unreachable"'
kill $service 2>/dev/null
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "the service unreachable\n", "{}", out.stderr);
    assert_no_network_leftovers(&name);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_container_forges_no_source_where_the_hosts_rp_filter_is_loose() {
    let _ = root_test("forged");
    let [other, forger] = [short_name(), short_name()];
    // The kernel applies the larger of the host end's rp_filter and `all`'s, and some
    // distributions set `all` to 2 (loose): the host end's strict 1 is then loose too, and takes
    // in any source the host routes anywhere. The forger (NET_ADMIN for brevity: CAP_NET_RAW,
    // which every container has, forges the same) takes the other container's address and pings
    // its own host end and the world with it, then with its own. Chains of another table, after
    // contain's, count what got past it.
    let scenario = format!(
        r#"sysctl -qw net.ipv4.conf.all.rp_filter=2
nft 'add table ip watch; add chain ip watch input {{ type filter hook input priority 10; }}'
nft 'add rule ip watch input iifname "ct-*" ip saddr 10.240.0.2 counter'
nft 'add chain ip watch out {{ type filter hook postrouting priority 200; }}'
nft 'add rule ip watch out oifname "uplink" ip saddr 10.240.0.2 counter'
$contain run -q --rootfs $rootfs --name {other} --net veth:10.240.0.1/30,10.240.0.2 -- sleep 30 &
other=$!
addressed ct-{other}
$contain run -q --rootfs $rootfs --name {forger} --net veth:10.240.0.5/30,10.240.0.6 --cap-add NET_ADMIN -- sh -c '
  ip addr add 10.240.0.2/32 dev eth0
  ping -c 1 -W 1 -I 10.240.0.2 10.240.0.5 >/dev/null; ping -c 1 -W 1 -I 10.240.0.2 192.0.2.80 >/dev/null
  ping -c 1 -W 1 10.240.0.5 >/dev/null && echo "its own address reaches its host end"'
echo "past contain's chains: $(nft list table ip watch | grep -o 'packets [0-9]*' | tr '\n' ' ')"
$contain kill {other} >/dev/null
wait $other
"#
    );
    let out = in_world(&scenario);
    assert_eq!(
        out.stdout, "its own address reaches its host end\npast contain's chains: packets 0 packets 0 \n",
        "{}",
        out.stderr
    );
    for name in [other, forger] {
        assert_no_leftovers(&name, rootfs());
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn world_a_volume_onto_etc_hides_the_generated_names_and_says_so() {
    let _ = root_test("names-volume");
    let name = short_name();
    // Mounted after the generated files, a volume onto /etc hides all three: the run says so, and
    // makes nothing in the volume's directory, which is the host's.
    let scenario = format!(
        r#"mkdir -p /run/netns/etc && echo 'the volume' >/run/netns/etc/motd
$contain run --rootfs $rootfs --name {name} --net veth -v /run/netns/etc:/etc -- ls /etc
echo "exit $?; the host's directory: $(ls /run/netns/etc)"
"#
    );
    let out = in_world(&scenario);
    assert_eq!(out.stdout, "motd\nexit 0; the host's directory: motd\n", "{}", out.stderr);
    for file in ["/etc/resolv.conf", "/etc/hosts", "/etc/hostname"] {
        let said = format!(
            "[contain] {file} in the rootfs is under the --volume on /etc: the container gets no generated {file}\n"
        );
        assert!(out.stderr.contains(&said), "{said}: {}", out.stderr);
    }
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_name_file_that_leads_into_procfs_devfs_or_a_directory_is_left_out_and_said() {
    let _ = root_test("names-hostile");
    let name = short_name();
    let image = fresh_rootfs(&name);
    for file in ["hosts", "resolv.conf", "hostname"] {
        let _ = fs::remove_file(image.join("etc").join(file));
    }
    // A hostile (or broken) image: its names lead to the container's own /dev/null, into its
    // procfs (a link whose end the image lacks: the container's /proc is mounted over it), and
    // one is a directory.
    symlink("/dev/null", image.join("etc/hosts")).unwrap();
    symlink("../proc/self/environ", image.join("etc/resolv.conf")).unwrap();
    fs::create_dir(image.join("etc/hostname")).unwrap();
    let flags = ["--net", "veth:10.233.4.1/30,10.233.4.2"];
    let script = "cat /etc/hosts; test -c /dev/null && echo null-is-null; grep -c Generated /etc/resolv.conf";
    let out = run_in(&image, &name, &flags, &["sh", "-c", script]);
    assert_eq!(out.stdout, "null-is-null\n0\n", "nothing bound over /dev/null or procfs: {}", out.stderr);
    for said in [
        "[contain] /etc/hosts in the rootfs leads to /dev/null, where contain mounts a filesystem of its own",
        "[contain] /etc/resolv.conf in the rootfs leads to /proc/self/environ, where contain mounts a filesystem of its own",
        "[contain] /etc/hostname in the rootfs is a directory",
    ] {
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    assert_no_leftovers(&name, &image);

    // Under --read-only, /tmp is a tmpfs of contain's: a name that leads there is not the image's.
    fs::remove_dir(image.join("etc/hostname")).unwrap();
    fs::write(image.join("tmp/hostname"), "image\n").unwrap();
    symlink("../tmp/hostname", image.join("etc/hostname")).unwrap();
    let out = run_in(&image, &name, &[&flags[..], &["--read-only"]].concat(), &["true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let said =
        "[contain] /etc/hostname in the rootfs leads to /tmp/hostname, where contain mounts a filesystem of its own";
    assert!(out.stderr.contains(said), "{}", out.stderr);
    assert_no_leftovers(&name, &image);
    fs::remove_dir_all(image).unwrap();
}
