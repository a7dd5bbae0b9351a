//! Which IP addresses are not on the public internet, from the IANA special-purpose address
//! registries.
//!
//! Sources (the "Globally Reachable" column of each registry):
//! - IANA IPv4 Special-Purpose Address Registry,
//!   <https://www.iana.org/assignments/iana-ipv4-special-registry/>, last updated 2020-09-04
//!   (RFC 6890 and its updates).
//! - IANA IPv6 Special-Purpose Address Registry,
//!   <https://www.iana.org/assignments/iana-ipv6-special-registry/>, last updated 2025-10-09
//!   (RFC 6890, RFC 8190 and later allocations up to RFC 9780).
//!
//! Every row whose Globally Reachable value is `False` is refused, and so is every row whose
//! value is `N/A` (Teredo, 6to4, the deprecated ORCHID and 6to4 relay blocks): those addresses
//! tunnel to, or stand for, other addresses, so nothing says where a connection would end up.
//! Rows marked `True` inside a refused block are carved out ([`GLOBAL_V4`], [`GLOBAL_V6`]):
//! `192.0.0.9/32` and `192.0.0.10/32` inside `192.0.0.0/24`, and the anycast, AMT, AS112,
//! ORCHIDv2 and DET blocks inside `2001::/23`.
//!
//! Two families are not in those registries and are refused too: multicast (`224.0.0.0/4`,
//! `ff00::/8`, their own registries) and the deprecated site-local `fec0::/10` (RFC 3879).
//! IPv6 addresses that carry an IPv4 address the system would connect to (IPv4-mapped
//! `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96`, IPv4-compatible `::/96` and NAT64
//! `64:ff9b::/96`) are judged by that IPv4 address instead.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public internet address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestrictedRange {
    /// `0.0.0.0/8` ("this network", which Linux routes to the machine itself) and `::`.
    Unspecified,
    /// `127.0.0.0/8` and `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), IPv6 unique local `fc00::/7` and the
    /// deprecated site-local `fec0::/10`.
    Private,
    /// `169.254.0.0/16` (cloud metadata services live here) and `fe80::/10`.
    LinkLocal,
    /// `100.64.0.0/10`, the carrier-grade NAT shared address space.
    SharedAddressSpace,
    /// `224.0.0.0/4` and `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `240.0.0.0/4`, reserved for future use.
    Reserved,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15` and `2001:2::/48`.
    Benchmarking,
    /// Any other block of the special-purpose registries that is not globally reachable,
    /// with the registry's name for it.
    SpecialPurpose(&'static str),
}

impl fmt::Display for RestrictedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestrictedRange::Unspecified => "unspecified",
            RestrictedRange::Loopback => "loopback",
            RestrictedRange::Private => "private network",
            RestrictedRange::LinkLocal => "link-local",
            RestrictedRange::SharedAddressSpace => "carrier-grade NAT",
            RestrictedRange::Multicast => "multicast",
            RestrictedRange::Broadcast => "broadcast",
            RestrictedRange::Reserved => "reserved",
            RestrictedRange::Documentation => "documentation",
            RestrictedRange::Benchmarking => "benchmarking",
            RestrictedRange::SpecialPurpose(name) => name,
        })
    }
}

use RestrictedRange::*;

/// IPv4 blocks that are not globally reachable, most specific first where they nest.
const REFUSED_V4: &[([u8; 4], u8, RestrictedRange)] = &[
    ([0, 0, 0, 0], 8, Unspecified),
    ([10, 0, 0, 0], 8, Private),
    ([100, 64, 0, 0], 10, SharedAddressSpace),
    ([127, 0, 0, 0], 8, Loopback),
    ([169, 254, 0, 0], 16, LinkLocal),
    ([172, 16, 0, 0], 12, Private),
    (
        [192, 0, 0, 0],
        29,
        SpecialPurpose("IPv4 service continuity prefix"),
    ),
    ([192, 0, 0, 8], 32, SpecialPurpose("IPv4 dummy address")),
    (
        [192, 0, 0, 170],
        31,
        SpecialPurpose("NAT64/DNS64 discovery"),
    ),
    (
        [192, 0, 0, 0],
        24,
        SpecialPurpose("IETF protocol assignments"),
    ),
    ([192, 0, 2, 0], 24, Documentation),
    (
        [192, 88, 99, 0],
        24,
        SpecialPurpose("deprecated 6to4 relay anycast"),
    ),
    ([192, 168, 0, 0], 16, Private),
    ([198, 18, 0, 0], 15, Benchmarking),
    ([198, 51, 100, 0], 24, Documentation),
    ([203, 0, 113, 0], 24, Documentation),
    ([224, 0, 0, 0], 4, Multicast),
    ([255, 255, 255, 255], 32, Broadcast),
    ([240, 0, 0, 0], 4, Reserved),
];

/// Globally reachable blocks inside [`REFUSED_V4`] blocks.
pub(crate) const GLOBAL_V4: &[([u8; 4], u8)] = &[
    // Port Control Protocol anycast (RFC 7723).
    ([192, 0, 0, 9], 32),
    // TURN anycast (RFC 8155).
    ([192, 0, 0, 10], 32),
];

/// IPv6 blocks that are not globally reachable (or `N/A`), most specific first where they
/// nest. IPv6 forms of IPv4 addresses are handled before this table.
const REFUSED_V6: &[([u16; 8], u8, RestrictedRange)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 128, Unspecified),
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, Loopback),
    (
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        SpecialPurpose("local-use IPv4/IPv6 translation"),
    ),
    (
        [0x100, 0, 0, 0, 0, 0, 0, 0],
        64,
        SpecialPurpose("discard-only"),
    ),
    (
        [0x100, 0, 0, 1, 0, 0, 0, 0],
        64,
        SpecialPurpose("dummy IPv6 prefix"),
    ),
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, SpecialPurpose("Teredo")),
    ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, Benchmarking),
    (
        [0x2001, 0x10, 0, 0, 0, 0, 0, 0],
        28,
        SpecialPurpose("deprecated ORCHID"),
    ),
    (
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        SpecialPurpose("IETF protocol assignments"),
    ),
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Documentation),
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, SpecialPurpose("6to4")),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
    (
        [0x5f00, 0, 0, 0, 0, 0, 0, 0],
        16,
        SpecialPurpose("SRv6 SIDs"),
    ),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Private),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
];

/// Globally reachable blocks inside [`REFUSED_V6`] blocks (all inside `2001::/23`).
pub(crate) const GLOBAL_V6: &[([u16; 8], u8)] = &[
    // Port Control Protocol anycast (RFC 7723).
    ([0x2001, 1, 0, 0, 0, 0, 0, 1], 128),
    // TURN anycast (RFC 8155).
    ([0x2001, 1, 0, 0, 0, 0, 0, 2], 128),
    // DNS-SD service registration protocol anycast (RFC 9665).
    ([0x2001, 1, 0, 0, 0, 0, 0, 3], 128),
    // AMT (RFC 7450).
    ([0x2001, 3, 0, 0, 0, 0, 0, 0], 32),
    // AS112-v6 (RFC 7535).
    ([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48),
    // ORCHIDv2 (RFC 7343).
    ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28),
    // Drone remote ID entity tags (RFC 9374).
    ([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28),
];

/// The range `address` belongs to when it is not a public internet address, `None` when it is.
///
/// IPv6 addresses that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated
/// `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d` and NAT64 `64:ff9b::a.b.c.d`) are judged by
/// that IPv4 address, since the system may connect to it.
pub fn restricted_range(address: IpAddr) -> Option<RestrictedRange> {
    match address {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => restricted_v6(v6),
    }
}

fn restricted_v4(address: Ipv4Addr) -> Option<RestrictedRange> {
    let bits = u32::from(address);
    let within = |network: [u8; 4], length: u8| {
        let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
        bits & mask == u32::from_be_bytes(network) & mask
    };
    if GLOBAL_V4
        .iter()
        .any(|&(network, length)| within(network, length))
    {
        return None;
    }
    REFUSED_V4
        .iter()
        .find(|&&(network, length, _)| within(network, length))
        .map(|&(_, _, range)| range)
}

fn restricted_v6(address: Ipv6Addr) -> Option<RestrictedRange> {
    if address.is_unspecified() {
        return Some(Unspecified);
    }
    if address.is_loopback() {
        return Some(Loopback);
    }
    if let Some(v4) = embedded_v4(address) {
        return restricted_v4(v4);
    }
    let bits = u128::from(address);
    let within = |network: [u16; 8], length: u8| {
        let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
        bits & mask == u128::from(Ipv6Addr::from(network)) & mask
    };
    if GLOBAL_V6
        .iter()
        .any(|&(network, length)| within(network, length))
    {
        return None;
    }
    REFUSED_V6
        .iter()
        .find(|&&(network, length, _)| within(network, length))
        .map(|&(_, _, range)| range)
}

/// The IPv4 address inside a mapped, translated, compatible or NAT64 IPv6 address.
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let [s0, s1, s2, s3, s4, s5, high, low] = address.segments();
    let carries_v4 = matches!(
        (s0, s1, s2, s3, s4, s5),
        (0, 0, 0, 0, 0, 0xffff)
            | (0, 0, 0, 0, 0xffff, 0)
            | (0, 0, 0, 0, 0, 0)
            | (0x64, 0xff9b, 0, 0, 0, 0)
    );
    carries_v4.then(|| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)))
}

#[cfg(test)]
mod tests;
