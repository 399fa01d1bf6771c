//! Network address functions: `cidrhost`, `cidrnetmask`, `cidrsubnet` and `cidrsubnets`, for IPv4
//! and IPv6, with Terraform's results and messages (Terraform uses `apparentlymart/go-cidr` over
//! Go's pre-1.17 address parser, which reads `010.1.0.0` as `10.1.0.0`).

use std::net::{Ipv4Addr, Ipv6Addr};

use meshform_core::Value;

use super::args::Args;
use super::{FnResult, FunctionError};

/// A parsed prefix: the network address (host bits cleared), the address width and the prefix
/// length. An IPv4-mapped IPv6 prefix of /96 or longer is held as IPv4, as Go prints it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Prefix {
    network: u128,
    width: u32,
    len: u32,
}

impl Prefix {
    fn host_bits(self) -> u32 {
        self.width - self.len
    }

    /// The address `offset` above the network address (the caller checks it fits).
    fn address(self, offset: u128) -> String {
        show_address(self.network | offset, self.width)
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", show_address(self.network, self.width), self.len)
    }
}

/// A mask of the top `len` bits of a `width`-bit address.
fn mask(len: u32, width: u32) -> u128 {
    let all = ones(width);
    match len {
        0 => 0,
        l if l >= width => all,
        l => all & !(all >> l),
    }
}

/// `2^bits - 1` without overflow at 128 bits.
fn ones(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

fn show_address(addr: u128, width: u32) -> String {
    if width == 32 {
        return Ipv4Addr::from(addr as u32).to_string();
    }
    let v6 = Ipv6Addr::from(addr);
    // Go prints an IPv4-mapped address in dotted form.
    match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    }
}

/// Go's pre-1.17 IPv4 parser: four decimal parts of any length, each at most 255.
fn parse_ipv4(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = 0u32;
    for p in parts {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = p.trim_start_matches('0');
        if digits.len() > 3 {
            return None;
        }
        let n: u32 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
        if n > 255 {
            return None;
        }
        out = (out << 8) | n;
    }
    Some(out)
}

/// Parses `address/length`; the error is Go's ("invalid CIDR address: …").
fn parse_prefix(s: &str) -> Result<Prefix, String> {
    let invalid = || format!("invalid CIDR address: {s}");
    let (ip, len) = s.split_once('/').ok_or_else(invalid)?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let digits = len.trim_start_matches('0');
    if digits.len() > 3 {
        return Err(invalid());
    }
    let len: u32 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| invalid())? };
    let (addr, width) = if ip.contains(':') {
        (u128::from(ip.parse::<Ipv6Addr>().map_err(|_| invalid())?), 128)
    } else {
        (u128::from(parse_ipv4(ip).ok_or_else(invalid)?), 32)
    };
    if len > width {
        return Err(invalid());
    }
    let mut prefix = Prefix { network: addr & mask(len, width), width, len };
    if width == 128 && len >= 96 && addr >> 32 == 0xffff {
        prefix = Prefix { network: prefix.network & 0xffff_ffff, width: 32, len: len - 96 };
    }
    Ok(prefix)
}

fn prefix_arg(a: &Args) -> Result<Prefix, FunctionError> {
    let text = a.string(0, "the prefix")?;
    parse_prefix(&text).map_err(|e| a.error(0, format!("invalid CIDR expression: {e}")))
}

/// A host or network number: any whole number an IPv6 address can hold (numbers are exact, so
/// 2^64 + 1 is itself).
fn address_number(a: &Args, i: usize, what: &str) -> Result<i128, FunctionError> {
    let n = a.number(i, what)?;
    n.as_i128().ok_or_else(|| a.error(i, format!("{what} must be a whole number, got {n}")))
}

/// `cidrhost(prefix, hostnum)`: the address of host number `hostnum` in the prefix; a negative
/// number counts back from the last address.
pub(super) fn cidrhost(a: &Args) -> FnResult {
    a.exactly(2)?;
    let prefix = prefix_arg(a)?;
    let num = address_number(a, 1, "the host number")?;
    let max = ones(prefix.host_bits());
    let offset = if num < 0 {
        let back = num.unsigned_abs() - 1;
        if back > max {
            // go-cidr reports the number it computed, `max - back` (here `back` > `max`, and
            // `back` < 2^127, so both fit).
            let shown = max as i128 - back as i128;
            return Err(a.error(
                1,
                format!("prefix of {} does not accommodate a host numbered {shown}", prefix.len),
            ));
        }
        max - back
    } else {
        let n = num as u128;
        if n > max {
            return Err(a.error(
                1,
                format!("prefix of {} does not accommodate a host numbered {num}", prefix.len),
            ));
        }
        n
    };
    Ok(Value::String(prefix.address(offset)))
}

/// `cidrnetmask(prefix)`: the dotted subnet mask of an IPv4 prefix.
pub(super) fn cidrnetmask(a: &Args) -> FnResult {
    a.exactly(1)?;
    let prefix = prefix_arg(a)?;
    if prefix.width != 32 {
        let text = a.string(0, "the prefix")?;
        return Err(a.error(0, format!("IPv6 addresses cannot have a netmask: {text}")));
    }
    Ok(Value::String(show_address(mask(prefix.len, 32), 32)))
}

/// `cidrsubnet(prefix, newbits, netnum)`: subnet number `netnum` of the prefix extended by
/// `newbits` bits.
pub(super) fn cidrsubnet(a: &Args) -> FnResult {
    a.exactly(3)?;
    let prefix = prefix_arg(a)?;
    let newbits = a.integer(1, "newbits")?;
    let num = address_number(a, 2, "the network number")?;
    if newbits < 0 {
        return Err(a.error(1, format!("newbits must not be negative, got {newbits}")));
    }
    let new_len = i64::from(prefix.len) + newbits;
    if new_len > i64::from(prefix.width) {
        return Err(a.error(
            1,
            format!("insufficient address space to extend prefix of {} by {newbits}", prefix.len),
        ));
    }
    // Checked above: 0 <= newbits <= width - len <= 128.
    let (newbits, new_len) = (newbits as u32, new_len as u32);
    if num < 0 || num as u128 > ones(newbits) {
        return Err(a.error(
            2,
            format!("prefix extension of {newbits} does not accommodate a subnet numbered {num}"),
        ));
    }
    let shift = prefix.width - new_len;
    let network = prefix.network | if shift >= 128 { 0 } else { (num as u128) << shift };
    Ok(Value::String(Prefix { network, width: prefix.width, len: new_len }.to_string()))
}

/// `cidrsubnets(prefix, newbits...)`: consecutive subnets of the given extra lengths, each aligned
/// to its own size, packed from the start of the prefix.
pub(super) fn cidrsubnets(a: &Args) -> FnResult {
    a.at_least(1)?;
    let prefix = prefix_arg(a)?;
    let mut out = Vec::with_capacity(a.len() - 1);
    // The first address not yet allocated, or `None` once the whole address space is used.
    let mut cursor = Some(prefix.network);
    let mut previous: Option<Prefix> = None;
    for i in 1..a.len() {
        let extra = a.integer(i, "each newbits value")?;
        if extra < 1 {
            return Err(a.error(i, "must extend prefix by at least one bit"));
        }
        if extra > 32 {
            return Err(a.error(i, "may not extend prefix by more than 32 bits"));
        }
        let len = i64::from(prefix.len) + extra;
        if len > i64::from(prefix.width) {
            let family = if prefix.width == 32 { "IPv4" } else { "IPv6" };
            return Err(a.error(
                i,
                format!(
                    "would extend prefix to {len} bits, which is too long for an {family} address"
                ),
            ));
        }
        let len = len as u32;
        let size_mask = ones(prefix.width - len);
        // Round the cursor up to the subnet's own alignment.
        let start = cursor.and_then(|c| c.checked_add(size_mask)).map(|c| c & !size_mask);
        // Aligned to its own size, which is no larger than the prefix, a subnet that starts inside
        // the prefix ends inside it too.
        let last = prefix.network | ones(prefix.host_bits());
        let fits = start.filter(|s| (prefix.network..=last).contains(s));
        let Some(start) = fits else {
            let after = previous.map(|p| p.to_string()).unwrap_or_else(|| prefix.to_string());
            return Err(a.error(
                i,
                format!(
                    "not enough remaining address space for a subnet with a prefix of {len} bits after {after}"
                ),
            ));
        };
        let subnet = Prefix { network: start, width: prefix.width, len };
        out.push(Value::String(subnet.to_string()));
        cursor = start.checked_add(size_mask).and_then(|end| end.checked_add(1));
        previous = Some(subnet);
    }
    Ok(Value::List(out))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::{parse_prefix, Prefix};
    use proptest::prelude::*;

    proptest! {
        /// `cidrsubnets` packs aligned, disjoint subnets of the asked sizes, in order, inside the
        /// prefix; each is the `cidrsubnet` of its own size and number.
        #[test]
        fn cidrsubnets_packs_disjoint_aligned_subnets(
            v6 in any::<bool>(),
            len in 0u32..28,
            host in any::<u32>(),
            extra in prop::collection::vec(1u32..7, 1..8),
        ) {
            let base = if v6 {
                format!("fd00:{:x}:{:x}::/{}", host >> 16, host & 0xffff, len + 96)
            } else {
                format!("{}/{len}", std::net::Ipv4Addr::from(host))
            };
            let mut args = vec![s(&base)];
            args.extend(extra.iter().map(|b| n(f64::from(*b))));
            let parent = parse_prefix(&base).unwrap();
            match run("cidrsubnets", &args) {
                Ok(v) => {
                    let mut next = parent.network;
                    for (item, bits) in v.as_list().unwrap().iter().zip(&extra) {
                        let text = item.as_str().unwrap();
                        let p: Prefix = parse_prefix(text).unwrap();
                        prop_assert_eq!(p.len, parent.len + bits);
                        prop_assert!(p.network >= next, "{} overlaps the previous one", text);
                        let number = (p.network - parent.network) >> (p.width - p.len);
                        let again = ok("cidrsubnet", &[s(&base), n(f64::from(*bits)), n(number as f64)]);
                        prop_assert_eq!(again.as_str(), Some(text));
                        next = p.network + (1u128 << (p.width - p.len));
                    }
                }
                Err(e) => {
                    let e = e.to_string();
                    prop_assert!(e.contains("not enough remaining address space")
                        || e.contains("which is too long for an"), "{}", e);
                }
            }
        }
    }

    #[test]
    fn cidrhost_like_terraform() {
        assert_eq!(ok("cidrhost", &[s("10.12.112.0/20"), n(16.0)]), s("10.12.112.16"));
        assert_eq!(ok("cidrhost", &[s("10.12.112.0/20"), n(268.0)]), s("10.12.113.12"));
        assert_eq!(
            ok("cidrhost", &[s("fd00:fd12:3456:7890:00a2::/72"), n(34.0)]),
            s("fd00:fd12:3456:7890::22")
        );
        assert_eq!(ok("cidrhost", &[s("192.168.1.0/24"), n(5.0)]), s("192.168.1.5"));
        assert_eq!(ok("cidrhost", &[s("192.168.1.0/24"), n(-5.0)]), s("192.168.1.251"));
        assert_eq!(ok("cidrhost", &[s("192.168.1.0/24"), n(-256.0)]), s("192.168.1.0"));
        assert_eq!(ok("cidrhost", &[s("010.001.0.0/24"), n(6.0)]), s("10.1.0.6"));
        assert_eq!(ok("cidrhost", &[s("10.0.0.9/8"), s("1")]), s("10.0.0.1"));
        assert_eq!(ok("cidrhost", &[s("::/0"), n(1.0)]), s("::1"));
        assert_eq!(ok("cidrhost", &[s("fe80::1/128"), n(0.0)]), s("fe80::1"));
        assert_eq!(ok("cidrhost", &[s("10.0.0.1/32"), n(-1.0)]), s("10.0.0.1"));
        assert_eq!(
            ok("cidrhost", &[s("fd00::/64"), num("1152921504606846976")]),
            s("fd00::1000:0:0:0")
        );
        // 2^64 + 1 is exact, not rounded to 2^64.
        assert_eq!(
            ok("cidrhost", &[s("fd00::/56"), num("18446744073709551617")]),
            s("fd00:0:0:1::1")
        );
        assert_eq!(
            ok("cidrsubnet", &[s("fd00::/8"), n(64.0), num("4611686018427387904")]),
            s("fd40::/72")
        );
        assert_eq!(
            err("cidrhost", &[s("fe80::1/128"), n(1.0)]),
            "cidrhost: prefix of 128 does not accommodate a host numbered 1"
        );
        assert_eq!(
            err("cidrhost", &[s("192.168.1.0/30"), n(255.0)]),
            "cidrhost: prefix of 30 does not accommodate a host numbered 255"
        );
        assert_eq!(
            err("cidrhost", &[s("192.168.1.0/30"), n(-255.0)]),
            "cidrhost: prefix of 30 does not accommodate a host numbered -251"
        );
        assert_eq!(
            err("cidrhost", &[s("not-a-cidr"), n(6.0)]),
            "cidrhost: invalid CIDR expression: invalid CIDR address: not-a-cidr"
        );
        assert_eq!(
            err("cidrhost", &[s("10.256.0.0/8"), n(6.0)]),
            "cidrhost: invalid CIDR expression: invalid CIDR address: 10.256.0.0/8"
        );
        assert_eq!(
            err("cidrhost", &[s("10.0.0.0/33"), n(6.0)]),
            "cidrhost: invalid CIDR expression: invalid CIDR address: 10.0.0.0/33"
        );
        assert_eq!(
            err("cidrhost", &[s("10.0.0.0/8"), n(0.75)]),
            "cidrhost: the host number must be a whole number, got 0.75"
        );
        assert_eq!(err("cidrhost", &[s("10.0.0.0/8")]), "cidrhost takes 2 arguments, got 1");
    }

    #[test]
    fn cidrnetmask_like_terraform() {
        assert_eq!(ok("cidrnetmask", &[s("172.16.0.0/12")]), s("255.240.0.0"));
        assert_eq!(ok("cidrnetmask", &[s("192.168.1.0/24")]), s("255.255.255.0"));
        assert_eq!(ok("cidrnetmask", &[s("192.168.1.0/32")]), s("255.255.255.255"));
        assert_eq!(ok("cidrnetmask", &[s("0.0.0.0/0")]), s("0.0.0.0"));
        assert_eq!(ok("cidrnetmask", &[s("010.001.0.0/24")]), s("255.255.255.0"));
        assert_eq!(
            err("cidrnetmask", &[s("1::/64")]),
            "cidrnetmask: IPv6 addresses cannot have a netmask: 1::/64"
        );
        assert_eq!(
            err("cidrnetmask", &[s("110.256.0.0/8")]),
            "cidrnetmask: invalid CIDR expression: invalid CIDR address: 110.256.0.0/8"
        );
    }

    #[test]
    fn cidrsubnet_like_terraform() {
        assert_eq!(ok("cidrsubnet", &[s("172.16.0.0/12"), n(4.0), n(2.0)]), s("172.18.0.0/16"));
        assert_eq!(ok("cidrsubnet", &[s("10.1.2.0/24"), n(4.0), n(15.0)]), s("10.1.2.240/28"));
        assert_eq!(
            ok("cidrsubnet", &[s("fd00:fd12:3456:7890::/56"), n(16.0), n(162.0)]),
            s("fd00:fd12:3456:7800:a200::/72")
        );
        assert_eq!(ok("cidrsubnet", &[s("192.168.2.0/20"), n(4.0), n(6.0)]), s("192.168.6.0/24"));
        assert_eq!(ok("cidrsubnet", &[s("fe80::/48"), n(16.0), n(6.0)]), s("fe80:0:0:6::/64"));
        assert_eq!(
            ok("cidrsubnet", &[s("::ffff:192.168.0.0/112"), n(8.0), n(6.0)]),
            s("192.168.6.0/24")
        );
        assert_eq!(ok("cidrsubnet", &[s("fe80::/48"), n(33.0), n(6.0)]), s("fe80::3:0:0:0/81"));
        assert_eq!(ok("cidrsubnet", &[s("010.001.0.0/24"), n(4.0), n(1.0)]), s("10.1.0.16/28"));
        assert_eq!(ok("cidrsubnet", &[s("10.0.0.0/8"), n(0.0), n(0.0)]), s("10.0.0.0/8"));
        assert_eq!(
            err("cidrsubnet", &[s("192.168.0.0/30"), n(4.0), n(6.0)]),
            "cidrsubnet: insufficient address space to extend prefix of 30 by 4"
        );
        assert_eq!(
            err("cidrsubnet", &[s("192.168.0.0/16"), n(2.0), n(16.0)]),
            "cidrsubnet: prefix extension of 2 does not accommodate a subnet numbered 16"
        );
        assert_eq!(
            err("cidrsubnet", &[s("192.168.0.0/16"), n(2.0), n(-1.0)]),
            "cidrsubnet: prefix extension of 2 does not accommodate a subnet numbered -1"
        );
        assert_eq!(
            err("cidrsubnet", &[s("192.168.0.0/16"), n(-2.0), n(0.0)]),
            "cidrsubnet: newbits must not be negative, got -2"
        );
        assert_eq!(
            err("cidrsubnet", &[s("not-a-cidr"), n(4.0), n(6.0)]),
            "cidrsubnet: invalid CIDR expression: invalid CIDR address: not-a-cidr"
        );
        assert_eq!(
            err("cidrsubnet", &[s("10.0.0.0/8"), n(2.0 / 3.0), n(0.75)]),
            format!("cidrsubnet: newbits must be a whole number, got {}", 2.0 / 3.0)
        );
    }

    #[test]
    fn cidrsubnets_like_terraform() {
        assert_eq!(
            ok("cidrsubnets", &[s("10.1.0.0/16"), n(4.0), n(4.0), n(8.0), n(4.0)]),
            strs(&["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20"])
        );
        assert_eq!(
            ok("cidrsubnets", &[s("fd00:fd12:3456:7890::/56"), n(16.0), n(16.0), n(16.0), n(32.0)]),
            strs(&[
                "fd00:fd12:3456:7800::/72",
                "fd00:fd12:3456:7800:100::/72",
                "fd00:fd12:3456:7800:200::/72",
                "fd00:fd12:3456:7800:300::/88",
            ])
        );
        let nine = [3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 7.0, 7.0, 7.0];
        let mut args = vec![s("10.0.0.0/21")];
        args.extend(nine.iter().map(|b| n(*b)));
        assert_eq!(
            ok("cidrsubnets", &args),
            strs(&[
                "10.0.0.0/24",
                "10.0.1.0/24",
                "10.0.2.0/24",
                "10.0.3.0/25",
                "10.0.3.128/25",
                "10.0.4.0/25",
                "10.0.4.128/28",
                "10.0.4.144/28",
                "10.0.4.160/28",
            ])
        );
        assert_eq!(ok("cidrsubnets", &[s("010.0.0.0/21"), n(3.0)]), strs(&["10.0.0.0/24"]));
        assert_eq!(ok("cidrsubnets", &[s("10.0.0.0/8")]), list([]));
        assert_eq!(
            ok("cidrsubnets", &[s("0.0.0.0/0"), n(1.0), n(1.0)]),
            strs(&["0.0.0.0/1", "128.0.0.0/1"])
        );
        assert_eq!(
            err("cidrsubnets", &[s("0.0.0.0/0"), n(1.0), n(1.0), n(1.0)]),
            "cidrsubnets: not enough remaining address space for a subnet with a prefix of 1 bits \
             after 128.0.0.0/1"
        );
        assert_eq!(
            err("cidrsubnets", &[s("10.0.0.0/30"), n(1.0), n(3.0)]),
            "cidrsubnets: would extend prefix to 33 bits, which is too long for an IPv4 address"
        );
        assert_eq!(
            err("cidrsubnets", &[s("10.0.0.0/8"), n(1.0), n(1.0), n(1.0)]),
            "cidrsubnets: not enough remaining address space for a subnet with a prefix of 9 bits \
             after 10.128.0.0/9"
        );
        assert_eq!(
            err("cidrsubnets", &[s("255.0.0.0/8"), n(1.0), n(1.0), n(1.0)]),
            "cidrsubnets: not enough remaining address space for a subnet with a prefix of 9 bits \
             after 255.128.0.0/9"
        );
        assert_eq!(
            err("cidrsubnets", &[s("10.0.0.0/8"), n(1.0), n(0.0)]),
            "cidrsubnets: must extend prefix by at least one bit"
        );
        assert_eq!(
            err("cidrsubnets", &[s("10.0.0.0/8"), n(1.0), n(-1.0)]),
            "cidrsubnets: must extend prefix by at least one bit"
        );
        assert_eq!(
            err("cidrsubnets", &[s("fe80::/48"), n(1.0), n(33.0)]),
            "cidrsubnets: may not extend prefix by more than 32 bits"
        );
        assert_eq!(
            ok("cidrsubnets", &[s("fe80::/120"), n(8.0), n(1.0)]),
            strs(&["fe80::/128", "fe80::80/121"])
        );
        assert_eq!(
            err("cidrsubnets", &[s("fe80::/120"), n(1.0), n(1.0), n(1.0)]),
            "cidrsubnets: not enough remaining address space for a subnet with a prefix of 121 bits \
             after fe80::80/121"
        );
        let end = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120";
        assert_eq!(
            err("cidrsubnets", &[s(end), n(1.0), n(1.0), n(1.0)]),
            "cidrsubnets: not enough remaining address space for a subnet with a prefix of 121 bits \
             after ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff80/121"
        );
    }
}
