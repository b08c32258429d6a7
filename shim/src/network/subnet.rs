//! IPv4 subnets: parsing, and choosing one that collides with nothing.
//!
//! A network's subnet must not overlap a route of the host (`/proc/net/route`,
//! the main table: connected subnets, VPNs, other bridges) nor another berth
//! network. [`choose_free`] tries, in order, 10.88.0.0/16 to 10.99.0.0/16
//! (10.88 is podman's default too), 172.17.0.0/16 to 172.31.0.0/16 (docker's
//! pools), then 192.168.0.0/20 to 192.168.240.0/20.
use std::fmt;
use std::net::Ipv4Addr;

use super::NetworkError;

/// An IPv4 network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl Cidr {
    /// `A.B.C.D/N`, without normalizing (host bits may be set).
    pub fn parse_loose(s: &str) -> Option<Cidr> {
        let (addr, prefix) = s.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        (prefix <= 32).then_some(Cidr { addr, prefix })
    }

    pub fn mask(&self) -> u32 {
        mask(self.prefix)
    }

    /// The network address as a number.
    pub fn network(&self) -> u32 {
        u32::from(self.addr) & self.mask()
    }

    /// The last address (broadcast).
    pub fn last(&self) -> u32 {
        self.network() | !self.mask()
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.network()
    }

    /// Whether the two networks share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let m = mask(self.prefix.min(other.prefix));
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }

    /// The `n`th address of the network (1 = the usual gateway).
    pub fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.network().wrapping_add(n))
    }
}

/// A subnet as `network create --subnet` takes it: IPv4, host bits clear,
/// room for a gateway and a container (prefix at most 30).
pub fn parse_subnet(s: &str) -> Result<Cidr, NetworkError> {
    let bad = |reason: String| NetworkError::InvalidSubnet {
        subnet: s.to_string(),
        reason,
    };
    let c = Cidr::parse_loose(s).ok_or_else(|| {
        bad("expected an IPv4 network as A.B.C.D/PREFIX (berth networks are IPv4)".into())
    })?;
    if c.prefix > 30 {
        return Err(bad(format!(
            "a /{} has no room for a gateway and containers (use /30 or shorter)",
            c.prefix
        )));
    }
    if c.prefix < 8 {
        return Err(bad(format!(
            "a /{} is too large (use /8 or longer)",
            c.prefix
        )));
    }
    let net = Ipv4Addr::from(c.network());
    if net != c.addr {
        return Err(bad(format!("it should be {net}/{}", c.prefix)));
    }
    Ok(c)
}

/// The gateway for `subnet`: `gateway` checked to be a host address in it,
/// or the subnet's first address.
pub fn gateway_for(subnet: &Cidr, gateway: Option<&str>) -> Result<Ipv4Addr, NetworkError> {
    let Some(g) = gateway else {
        return Ok(subnet.host(1));
    };
    let bad = |reason: &str| NetworkError::InvalidGateway {
        gateway: g.to_string(),
        subnet: subnet.to_string(),
        reason: reason.to_string(),
    };
    let ip: Ipv4Addr = g.parse().map_err(|_| bad("not an IPv4 address"))?;
    if !subnet.contains(ip) {
        return Err(bad("it is not in the subnet"));
    }
    let n = u32::from(ip);
    if n == subnet.network() || n == subnet.last() {
        return Err(bad("it is the subnet's network or broadcast address"));
    }
    Ok(ip)
}

/// The routes of a `/proc/net/route` table, but default routes (which
/// overlap everything and collide with nothing).
pub fn parse_proc_route(text: &str) -> Vec<Cidr> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 {
            continue;
        }
        let (Some(dst), Some(m)) = (hex(fields[1]), hex(fields[7])) else {
            continue;
        };
        // The kernel prints the network-order words as host-order numbers.
        let addr = Ipv4Addr::from(dst.to_ne_bytes());
        let m = u32::from(Ipv4Addr::from(m.to_ne_bytes()));
        let prefix = m.leading_ones() as u8;
        if prefix == 0 {
            continue;
        }
        out.push(Cidr { addr, prefix });
    }
    out
}

/// The host's routes (main table).
pub fn host_routes() -> Result<Vec<Cidr>, NetworkError> {
    let path = "/proc/net/route";
    let text = std::fs::read_to_string(path).map_err(NetworkError::io("read", path))?;
    Ok(parse_proc_route(&text))
}

/// The subnets [`choose_free`] tries, in order.
pub fn candidates() -> Vec<Cidr> {
    let mut c = Vec::new();
    for b in 88..=99u8 {
        c.push(Cidr {
            addr: Ipv4Addr::new(10, b, 0, 0),
            prefix: 16,
        });
    }
    for b in 17..=31u8 {
        c.push(Cidr {
            addr: Ipv4Addr::new(172, b, 0, 0),
            prefix: 16,
        });
    }
    for c3 in (0..=240u8).step_by(16) {
        c.push(Cidr {
            addr: Ipv4Addr::new(192, 168, c3, 0),
            prefix: 20,
        });
    }
    c
}

/// The first candidate overlapping neither a route nor a `taken` subnet.
pub fn choose_from(routes: &[Cidr], taken: &[String]) -> Result<String, NetworkError> {
    let taken: Vec<Cidr> = taken.iter().filter_map(|t| Cidr::parse_loose(t)).collect();
    candidates()
        .into_iter()
        .find(|c| !routes.iter().chain(&taken).any(|r| r.overlaps(c)))
        .map(|c| c.to_string())
        .ok_or_else(|| NetworkError::NoFreeSubnet {
            tried: "10.88-99.0.0/16, 172.17-31.0.0/16 and 192.168.0-240.0/20".to_string(),
        })
}

/// A subnet colliding with no route of the host nor any of `taken` (the
/// other networks' subnets).
pub fn choose_free(taken: &[String]) -> Result<String, NetworkError> {
    choose_from(&host_routes()?, taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
docker0\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
wg0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
tun0\t0001590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    #[test]
    fn proc_route() {
        let routes = parse_proc_route(TABLE);
        let shown: Vec<String> = routes.iter().map(|r| r.to_string()).collect();
        // The default route is left out.
        assert_eq!(
            shown,
            [
                "192.0.2.0/24",
                "192.168.0.0/16",
                "10.88.0.0/16",
                "10.89.1.0/24"
            ]
        );
    }

    #[test]
    fn choice_skips_routes_and_other_networks() {
        let routes = parse_proc_route(TABLE);
        // 10.88/16 is routed, 10.89.1/24 overlaps 10.89/16, 10.90/16 is another network's.
        let taken = vec!["10.90.0.0/16".to_string(), "junk".to_string()];
        assert_eq!(choose_from(&routes, &taken).unwrap(), "10.91.0.0/16");
        assert_eq!(choose_from(&[], &[]).unwrap(), "10.88.0.0/16");
        // A route covering all of 10/8 and 172.16/12: the 192.168 pools.
        let wide = vec![
            Cidr::parse_loose("10.0.0.0/8").unwrap(),
            Cidr::parse_loose("172.16.0.0/12").unwrap(),
            Cidr::parse_loose("192.168.0.0/20").unwrap(),
        ];
        assert_eq!(choose_from(&wide, &[]).unwrap(), "192.168.16.0/20");
        let all = vec![
            Cidr::parse_loose("10.0.0.0/8").unwrap(),
            Cidr::parse_loose("172.16.0.0/12").unwrap(),
            Cidr::parse_loose("192.168.0.0/16").unwrap(),
        ];
        assert!(matches!(
            choose_from(&all, &[]),
            Err(NetworkError::NoFreeSubnet { .. })
        ));
    }

    #[test]
    fn subnets_and_gateways() {
        let c = parse_subnet("10.254.3.0/24").unwrap();
        assert_eq!(c.host(1), Ipv4Addr::new(10, 254, 3, 1));
        assert!(c.contains(Ipv4Addr::new(10, 254, 3, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 254, 4, 1)));
        let e = parse_subnet("10.254.3.7/24").unwrap_err().to_string();
        assert!(
            e.contains("10.254.3.7/24") && e.contains("10.254.3.0/24"),
            "{e}"
        );
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "fd00::/64",
            "x/24",
            "10.0.0.0/31",
        ] {
            let e = parse_subnet(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!(gateway_for(&c, None).unwrap().to_string(), "10.254.3.1");
        assert_eq!(
            gateway_for(&c, Some("10.254.3.254")).unwrap().to_string(),
            "10.254.3.254"
        );
        for bad in ["10.254.4.1", "10.254.3.0", "10.254.3.255", "nope"] {
            let e = gateway_for(&c, Some(bad)).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let a = Cidr::parse_loose("10.0.0.0/8").unwrap();
        let b = Cidr::parse_loose("10.3.0.0/16").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!b.overlaps(&Cidr::parse_loose("10.4.0.0/16").unwrap()));
    }

    #[test]
    fn real_route_table_parses() {
        // Whatever this host has: every entry is a proper network.
        for r in host_routes().unwrap() {
            assert!(r.prefix > 0);
        }
        choose_free(&[]).unwrap();
    }
}
