use super::*;

fn range(address: &str) -> Option<RestrictedRange> {
    restricted_range(address.parse().unwrap())
}

/// `(address, expected)`, checked one by one so a failure names the address.
fn check(cases: &[(&str, Option<RestrictedRange>)]) {
    for &(address, expected) in cases {
        assert_eq!(range(address), expected, "{address}");
    }
}

fn special(name: &'static str) -> Option<RestrictedRange> {
    Some(SpecialPurpose(name))
}

#[test]
fn ipv4_registry_rows_that_are_not_globally_reachable() {
    check(&[
        // 0.0.0.0/8 "this network" and 0.0.0.0/32.
        ("0.0.0.0", Some(Unspecified)),
        ("0.255.255.255", Some(Unspecified)),
        ("1.0.0.0", None),
        // 10.0.0.0/8.
        ("9.255.255.255", None),
        ("10.0.0.0", Some(Private)),
        ("10.255.255.255", Some(Private)),
        ("11.0.0.0", None),
        // 100.64.0.0/10.
        ("100.63.255.255", None),
        ("100.64.0.0", Some(SharedAddressSpace)),
        ("100.127.255.255", Some(SharedAddressSpace)),
        ("100.128.0.0", None),
        // 127.0.0.0/8.
        ("126.255.255.255", None),
        ("127.0.0.1", Some(Loopback)),
        ("127.255.255.255", Some(Loopback)),
        ("128.0.0.0", None),
        // 169.254.0.0/16.
        ("169.253.255.255", None),
        ("169.254.169.254", Some(LinkLocal)),
        ("169.255.0.0", None),
        // 172.16.0.0/12.
        ("172.15.255.255", None),
        ("172.16.0.0", Some(Private)),
        ("172.31.255.255", Some(Private)),
        ("172.32.0.0", None),
        // 192.0.0.0/24 and its rows: /29, .8, .170/.171; .9 and .10 are globally reachable.
        ("191.255.255.255", None),
        ("192.0.0.0", special("IPv4 service continuity prefix")),
        ("192.0.0.7", special("IPv4 service continuity prefix")),
        ("192.0.0.8", special("IPv4 dummy address")),
        ("192.0.0.9", None),
        ("192.0.0.10", None),
        ("192.0.0.11", special("IETF protocol assignments")),
        ("192.0.0.170", special("NAT64/DNS64 discovery")),
        ("192.0.0.171", special("NAT64/DNS64 discovery")),
        ("192.0.0.255", special("IETF protocol assignments")),
        ("192.0.1.0", None),
        // 192.0.2.0/24 TEST-NET-1.
        ("192.0.2.0", Some(Documentation)),
        ("192.0.2.255", Some(Documentation)),
        ("192.0.3.0", None),
        // 192.31.196.0/24 AS112 and 192.52.193.0/24 AMT are globally reachable.
        ("192.31.196.1", None),
        ("192.52.193.1", None),
        // 192.88.99.0/24, deprecated 6to4 relay anycast.
        ("192.88.98.255", None),
        ("192.88.99.1", special("deprecated 6to4 relay anycast")),
        ("192.88.100.0", None),
        // 192.168.0.0/16.
        ("192.167.255.255", None),
        ("192.168.1.1", Some(Private)),
        ("192.169.0.0", None),
        // 192.175.48.0/24, AS112 direct delegation, is globally reachable.
        ("192.175.48.1", None),
        // 198.18.0.0/15.
        ("198.17.255.255", None),
        ("198.18.0.0", Some(Benchmarking)),
        ("198.19.255.255", Some(Benchmarking)),
        ("198.20.0.0", None),
        // 198.51.100.0/24 TEST-NET-2.
        ("198.51.99.255", None),
        ("198.51.100.7", Some(Documentation)),
        ("198.51.101.0", None),
        // 203.0.113.0/24 TEST-NET-3.
        ("203.0.112.255", None),
        ("203.0.113.7", Some(Documentation)),
        ("203.0.114.0", None),
        // 224.0.0.0/4 (multicast registry).
        ("223.255.255.255", None),
        ("224.0.0.1", Some(Multicast)),
        ("239.255.255.255", Some(Multicast)),
        // 240.0.0.0/4 and 255.255.255.255/32.
        ("240.0.0.0", Some(Reserved)),
        ("255.255.255.254", Some(Reserved)),
        ("255.255.255.255", Some(Broadcast)),
        // Public addresses.
        ("8.8.8.8", None),
        ("140.82.112.33", None),
    ]);
}

#[test]
fn ipv6_registry_rows_that_are_not_globally_reachable() {
    check(&[
        ("::", Some(Unspecified)),
        ("::1", Some(Loopback)),
        // 64:ff9b:1::/48, local-use translation (64:ff9b::/96 is judged by its IPv4).
        ("64:ff9b:1::1", special("local-use IPv4/IPv6 translation")),
        (
            "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
            special("local-use IPv4/IPv6 translation"),
        ),
        ("64:ff9b:0:1::", None),
        ("64:ff9b:2::", None),
        // 100::/64 discard-only and 100:0:0:1::/64 dummy prefix.
        ("100::1", special("discard-only")),
        ("100::ffff:ffff:ffff:ffff", special("discard-only")),
        ("100:0:0:1::1", special("dummy IPv6 prefix")),
        ("100:0:0:2::", None),
        ("ff::ffff:ffff:ffff:ffff", None),
        // 2001::/23, with Teredo, benchmarking and ORCHID rows, and globally reachable
        // anycast, AMT, AS112, ORCHIDv2 and DET rows inside it.
        ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("2001::1", special("Teredo")),
        ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", special("Teredo")),
        ("2001:1::1", None),
        ("2001:1::2", None),
        ("2001:1::3", None),
        ("2001:1::4", special("IETF protocol assignments")),
        ("2001:2::1", Some(Benchmarking)),
        ("2001:2:1::", special("IETF protocol assignments")),
        ("2001:3::1", None),
        ("2001:3:ffff::1", None),
        ("2001:4:112::1", None),
        ("2001:4:113::1", special("IETF protocol assignments")),
        ("2001:10::1", special("deprecated ORCHID")),
        ("2001:20::1", None),
        ("2001:2f:ffff::1", None),
        ("2001:30::1", None),
        ("2001:40::1", special("IETF protocol assignments")),
        (
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
            special("IETF protocol assignments"),
        ),
        ("2001:200::1", None),
        // 2001:db8::/32 and 3fff::/20 documentation.
        ("2001:db7:ffff::1", None),
        ("2001:db8::1", Some(Documentation)),
        ("2001:db9::", None),
        ("3ffe:ffff::1", None),
        ("3fff::1", Some(Documentation)),
        ("3fff:fff:ffff::1", Some(Documentation)),
        ("3fff:1000::", None),
        // 2002::/16 6to4, an IPv4 inside, whatever that IPv4 is.
        ("2001:ffff::1", None),
        ("2002:c000:204::1", special("6to4")),
        ("2002:808:808::1", special("6to4")),
        ("2003::1", None),
        // 2620:4f:8000::/48, AS112 direct delegation, is globally reachable.
        ("2620:4f:8000::1", None),
        // 5f00::/16 SRv6 SIDs.
        ("5eff:ffff::1", None),
        ("5f00::1", special("SRv6 SIDs")),
        ("5f01::", None),
        // fc00::/7, fe80::/10, the deprecated fec0::/10 and ff00::/8.
        ("fbff:ffff::1", None),
        ("fc00::1", Some(Private)),
        ("fdff:ffff::1", Some(Private)),
        ("fe7f:ffff::1", None),
        ("fe80::1", Some(LinkLocal)),
        ("febf:ffff::1", Some(LinkLocal)),
        ("fec0::1", Some(Private)),
        ("feff:ffff::1", Some(Private)),
        ("ff02::1", Some(Multicast)),
        // Public addresses.
        ("2606:4700:4700::1111", None),
        ("2a00:1450:4001::1", None),
    ]);
}

#[test]
fn ipv6_forms_of_ipv4_addresses_are_judged_as_ipv4() {
    check(&[
        ("::ffff:127.0.0.1", Some(Loopback)),
        ("::ffff:7f00:1", Some(Loopback)),
        ("::ffff:10.1.2.3", Some(Private)),
        ("::ffff:172.16.0.1", Some(Private)),
        ("::ffff:192.168.0.1", Some(Private)),
        ("::ffff:169.254.169.254", Some(LinkLocal)),
        ("::ffff:100.64.0.1", Some(SharedAddressSpace)),
        ("::ffff:0.0.0.0", Some(Unspecified)),
        ("::ffff:224.0.0.1", Some(Multicast)),
        ("::ffff:255.255.255.255", Some(Broadcast)),
        ("::ffff:192.0.2.1", Some(Documentation)),
        ("::ffff:198.18.0.1", Some(Benchmarking)),
        ("::ffff:0:127.0.0.1", Some(Loopback)),
        ("::127.0.0.1", Some(Loopback)),
        ("::10.0.0.1", Some(Private)),
        ("64:ff9b::127.0.0.1", Some(Loopback)),
        ("64:ff9b::169.254.169.254", Some(LinkLocal)),
        ("64:ff9b::203.0.113.1", Some(Documentation)),
        ("::ffff:8.8.8.8", None),
        ("::ffff:192.0.0.9", None),
        ("64:ff9b::8.8.8.8", None),
    ]);
}

#[test]
fn carved_out_blocks_lie_inside_refused_blocks() {
    // Each globally reachable exception would be refused without its carve-out; otherwise
    // the exception list says nothing.
    for &(network, _) in GLOBAL_V4 {
        let address = Ipv4Addr::from(network);
        let refused = REFUSED_V4.iter().any(|&(block, length, _)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
            u32::from(address) & mask == u32::from_be_bytes(block) & mask
        });
        assert!(refused, "{address}");
    }
    for &(network, _) in GLOBAL_V6 {
        let address = Ipv6Addr::from(network);
        let refused = REFUSED_V6.iter().any(|&(block, length, _)| {
            let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
            u128::from(address) & mask == u128::from(Ipv6Addr::from(block)) & mask
        });
        assert!(refused, "{address}");
    }
}

#[test]
fn names_for_messages() {
    assert_eq!(Documentation.to_string(), "documentation");
    assert_eq!(SpecialPurpose("Teredo").to_string(), "Teredo");
    assert_eq!(Loopback.to_string(), "loopback");
}
