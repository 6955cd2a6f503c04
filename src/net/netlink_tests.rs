//! Unit tests of `netlink.rs`, a child module of it (`use super::*` sees its private items).

use super::*;

/// The sequence number iproute2 (6.1) used in the captures below: its start time.
const SEQ: u32 = 0x6b0b_7af4;

// The expected messages are strace captures (`strace -e write=3 -e read=3`) of iproute2 in a
// throwaway network namespace, on x86_64 (little-endian, like aarch64 Linux).

#[test]
fn veth_pair_matches_iproute2() {
    // ip link add ct-nltest0 type veth peer name ct-nltest1 netns /proc/PID/ns/net
    // (a path makes ip open the namespace and send IFLA_NET_NS_FD; it got fd 4).
    #[rustfmt::skip]
        let expected = [
            0x6c, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x0f, 0x00, 0x03, 0x00, b'c', b't', b'-', b'n', b'l', b't', b'e', b's', b't', b'0', 0x00, 0x00,
            0x3c, 0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x00, b'v', b'e', b't', b'h', 0x30, 0x00, 0x02, 0x00,
            0x2c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x03, 0x00,
            b'c', b't', b'-', b'n', b'l', b't', b'e', b's', b't', b'1', 0x00, 0x00,
        ];
    assert_eq!(new_veth(SEQ, "ct-nltest0", "ct-nltest1", 4), expected);
}

#[test]
fn link_up_matches_iproute2() {
    // ip link set ct-nltest0 up (its index was 2).
    #[rustfmt::skip]
        let expected = [
            0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        ];
    assert_eq!(set_link_up(SEQ, 2), expected);
}

#[test]
fn delete_by_name() {
    // `ip link del ct-nltest0` looks the index up first and sends RTM_DELLINK with ifi_index 2:
    //   20 00 00 00 11 00 05 00 f4 7a 0b 6b 00 00 00 00 | 00 00 00 00 02 00 00 00 00 ... 00
    // We send the same header and flags, ifi_index 0, and the name as in the other captures.
    #[rustfmt::skip]
        let expected = [
            0x30, 0x00, 0x00, 0x00, 0x11, 0x00, 0x05, 0x00, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x0f, 0x00, 0x03, 0x00, b'c', b't', b'-', b'n', b'l', b't', b'e', b's', b't', b'0', 0x00, 0x00,
        ];
    assert_eq!(delete_link(SEQ, "ct-nltest0"), expected);
}

#[test]
fn address_matches_iproute2() {
    // ip -4 addr add 10.254.254.1/30 dev ct-nltest0
    #[rustfmt::skip]
        let expected = [
            0x28, 0x00, 0x00, 0x00, 0x14, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x02, 0x1e, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x02, 0x00, 0x0a, 0xfe, 0xfe, 0x01,
            0x08, 0x00, 0x01, 0x00, 0x0a, 0xfe, 0xfe, 0x01,
        ];
    assert_eq!(new_address_v4(SEQ, 2, [10, 254, 254, 1], 30), expected);
}

#[test]
fn default_route_matches_iproute2() {
    // ip route add default via 10.254.254.2
    #[rustfmt::skip]
        let expected = [
            0x24, 0x00, 0x00, 0x00, 0x18, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00,
            0x02, 0x00, 0x00, 0x00, 0xfe, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x05, 0x00,
            0x0a, 0xfe, 0xfe, 0x02,
        ];
    assert_eq!(new_default_route_v4(SEQ, [10, 254, 254, 2]), expected);
}

/// The kernel's ack of the RTM_NEWLINK above (NLM_F_CAPPED: only the request's header echoed).
    #[rustfmt::skip]
    const ACK: [u8; 36] = [
        0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0xf4, 0x7a, 0x0b, 0x6b, 0x1a, 0x7c, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x6c, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b,
        0x00, 0x00, 0x00, 0x00,
    ];

/// The same request sent again: EEXIST (-17), with the whole request echoed.
    #[rustfmt::skip]
    const EEXIST: [u8; 128] = [
        0x80, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xf4, 0x7a, 0x0b, 0x6b, 0x1e, 0x7c, 0x00, 0x00,
        0xef, 0xff, 0xff, 0xff, 0x6c, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06, 0xf4, 0x7a, 0x0b, 0x6b,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x03, 0x00, 0x63, 0x74, 0x2d, 0x6e, 0x6c, 0x74, 0x65, 0x73,
        0x74, 0x30, 0x00, 0x00, 0x3c, 0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x00, 0x76, 0x65, 0x74, 0x68,
        0x30, 0x00, 0x02, 0x00, 0x2c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1c, 0x00, 0x04, 0x00, 0x00, 0x00,
        0x0f, 0x00, 0x03, 0x00, 0x63, 0x74, 0x2d, 0x6e, 0x6c, 0x74, 0x65, 0x73, 0x74, 0x31, 0x00, 0x00,
    ];

#[test]
fn acks_and_refusals_from_the_kernel() {
    assert_eq!(parse_ack(&ACK, SEQ), Ok(()));
    assert_eq!(parse_ack(&EEXIST, SEQ), Err(Errno(libc::EEXIST)));
    // Another request's answer is not ours, but ours may follow it in the same read.
    assert_eq!(parse_ack(&ACK, SEQ + 1), Err(Errno(libc::EPROTO)));
    let mut both = ACK.to_vec();
    both[8] = 0xf3;
    both.extend_from_slice(&EEXIST);
    assert_eq!(parse_ack(&both, SEQ), Err(Errno(libc::EEXIST)));
    assert_eq!(parse_ack(&both, SEQ - 1), Ok(()));
}

#[test]
fn malformed_replies_are_protocol_errors() {
    let eproto = Err(Errno(libc::EPROTO));
    assert_eq!(parse_ack(&[], SEQ), eproto);
    assert_eq!(parse_ack(&ACK[..20], SEQ), eproto, "shorter than its length says");
    let mut lying = ACK;
    lying[0] = 8;
    assert_eq!(parse_ack(&lying, SEQ), eproto, "a length below the header's");
    let mut no_error_field = ACK;
    no_error_field[0] = 16;
    assert_eq!(parse_ack(&no_error_field, SEQ), eproto);
    let mut not_an_ack = ACK;
    not_an_ack[4] = libc::RTM_NEWLINK as u8;
    assert_eq!(parse_ack(&not_an_ack, SEQ), eproto);
    let mut positive = ACK;
    positive[16] = 1;
    assert_eq!(parse_ack(&positive, SEQ), eproto);
}

#[test]
fn the_pool_is_carved_into_slash_30s() {
    let pool = [10, 200, 0, 0];
    let first = VethAddrs { host: [10, 200, 0, 1], container: [10, 200, 0, 2], prefix_len: 30 };
    assert_eq!(subnet_for(0, pool, 16), Some(first));
    assert_eq!(subnet_for(1, pool, 16).unwrap().host, [10, 200, 0, 5]);
    assert_eq!(subnet_for(64, pool, 16).unwrap().container, [10, 200, 1, 2]);
    assert_eq!(subnet_for(16383, pool, 16).unwrap().container, [10, 200, 255, 254]);
    assert_eq!(subnet_for(16384, pool, 16), None);
    assert_eq!(subnet_for(0, [10, 9, 0, 4], 30).unwrap().host, [10, 9, 0, 5]);
    assert_eq!(subnet_for(1, [10, 9, 0, 4], 30), None);
    assert_eq!(subnet_for(0, pool, 31), None);
    assert_eq!(subnet_for(u32::MAX, [0; 4], 0), None);
}

#[test]
fn pools_are_network_addresses() {
    assert_eq!(parse_cidr("10.200.0.0/16"), Ok(([10, 200, 0, 0], 16)));
    assert_eq!(parse_cidr("172.16.0.0/12"), Ok(([172, 16, 0, 0], 12)));
    let err = |s| parse_cidr(s).unwrap_err();
    assert_eq!(err("10.200.0.0"), r#""10.200.0.0" has no /PREFIX (10.200.0.0/16)"#);
    assert_eq!(err("10.200.0.1/16"), r#""10.200.0.1/16" has host bits set (the network is 10.200.0.0/16)"#);
    assert_eq!(err("10.256.0.0/16"), r#""256" in "10.256.0.0" is not a number from 0 to 255"#);
    assert_eq!(err("10.200.0/16"), r#""10.200.0" is not an IPv4 address (four numbers 0-255: 10.200.0.1)"#);
    assert_eq!(err("10.200.0.0/31"), r#"prefix "31" in "10.200.0.0/31" must be a number from 1 to 30"#);
    assert_eq!(
        err("127.0.0.0/30"),
        r#""127.0.0.0/30" reaches into 127.0.0.0/8 (loopback), which no interface can use"#
    );
    assert!(parse_cidr("224.0.0.0/30").is_err() && parse_cidr("0.0.0.0/1").is_err());
    assert!(parse_cidr("169.254.0.0/16").unwrap_err().contains("link-local"));
    for bad in ["10.200.0.0/0", "10.200.0.0/+8", "10.200.0.0/", "10.200.00.0/16", "10.200..0/16", "10.2x.0.0/16"] {
        assert!(parse_cidr(bad).is_err(), "{bad}");
    }
}

#[test]
fn veth_specs_name_two_hosts_of_one_subnet() {
    let addrs = VethAddrs { host: [10, 9, 0, 1], container: [10, 9, 0, 2], prefix_len: 24 };
    assert_eq!(parse_veth_spec("10.9.0.1/24,10.9.0.2"), Ok(addrs));
    let err = |s| parse_veth_spec(s).unwrap_err();
    assert_eq!(err("10.9.0.1/24"), r#""10.9.0.1/24" is not HOST/PREFIX,CONTAINER (10.9.0.1/24,10.9.0.2)"#);
    assert_eq!(err("10.9.0.1/24,10.9.1.2"), "10.9.1.2 is not in 10.9.0.0/24, the host's subnet");
    assert_eq!(err("10.9.0.1/24,10.9.0.1"), "the host and the container cannot both be 10.9.0.1");
    assert_eq!(err("10.9.0.0/24,10.9.0.2"), "10.9.0.0 is the network or broadcast address of 10.9.0.0/24");
    assert_eq!(err("10.9.0.1/30,10.9.0.3"), "10.9.0.3 is the network or broadcast address of 10.9.0.0/30");
    let (this, loopback, multicast) =
        ("0.0.0.0/8 (this network)", "127.0.0.0/8 (loopback)", "224.0.0.0/3 (multicast and reserved)");
    let link_local = "169.254.0.0/16 (link-local, where clouds serve instance metadata)";
    for (spec, block) in [
        ("169.254.169.1/24,169.254.169.2", link_local),
        ("169.254.0.1/30,169.254.0.2", link_local),
        ("169.0.0.1/8,169.0.0.2", link_local),
        ("128.0.0.1/2,128.0.0.2", link_local),
        ("255.255.255.253/30,255.255.255.254", multicast),
        ("127.0.0.1/8,127.0.0.2", loopback),
        ("10.9.0.1/1,10.9.0.2", this),
        ("64.0.0.1/2,64.0.0.2", loopback),
        ("224.0.0.1/24,224.0.0.2", multicast),
        ("240.0.0.1/30,240.0.0.2", multicast),
        ("0.0.0.1/30,0.0.0.2", this),
    ] {
        let host = spec.split(',').next().unwrap();
        assert_eq!(err(spec), format!("{host:?} reaches into {block}, which no interface can use"));
    }
    assert!(parse_veth_spec("128.0.0.1/3,128.0.0.2").is_ok(), "a large unicast subnet is the user's choice");
    assert!(
        parse_veth_spec("169.253.255.1/24,169.253.255.2").is_ok()
            && parse_veth_spec("169.255.0.1/24,169.255.0.2").is_ok()
    );
    assert!(parse_veth_spec("10.9.0.1,10.9.0.2").is_err());
    assert!(parse_veth_spec("10.9.0.1/24,10.9.0.2/24").is_err());
}
