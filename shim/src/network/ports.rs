//! Published ports: docker's `-p` syntax, `-P` (the image's ExposedPorts),
//! and the choice of free host ports. The portmap CNI plugin does the DNAT.
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::NetworkError;

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address it is published on; "" = all.
    #[serde(default)]
    pub host_ip: String,
    /// 0 until [`allocate`] chooses one.
    pub host_port: u16,
    pub container_port: u16,
    /// tcp, udp or sctp.
    pub protocol: String,
}

impl PortMapping {
    /// portmap's `runtimeConfig.portMappings` entry.
    pub fn to_cni(&self) -> Value {
        json!({
            "hostPort": self.host_port,
            "containerPort": self.container_port,
            "protocol": self.protocol,
            "hostIP": self.host_ip,
        })
    }

    /// The host address as docker shows it (`0.0.0.0` for all).
    pub fn host_ip_shown(&self) -> &str {
        if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        }
    }
}

/// docker's `ps` form: `0.0.0.0:8080->80/tcp`.
impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.host_ip_shown();
        if ip.contains(':') {
            write!(f, "[{ip}]")?;
        } else {
            f.write_str(ip)?;
        }
        write!(
            f,
            ":{}->{}/{}",
            self.host_port, self.container_port, self.protocol
        )
    }
}

fn protocol(p: &str) -> Option<String> {
    let p = p.to_ascii_lowercase();
    matches!(p.as_str(), "tcp" | "udp" | "sctp").then_some(p)
}

/// `N` or `N-M`: the first port and how many.
fn port_range(s: &str, zero_ok: bool) -> Result<(u16, u16), String> {
    let num = |p: &str| -> Result<u16, String> {
        let n: u16 = p
            .parse()
            .map_err(|_| format!("{p:?} is not a port number (1-65535)"))?;
        if n == 0 && !zero_ok {
            return Err("port 0 is not a port".to_string());
        }
        Ok(n)
    };
    match s.split_once('-') {
        None => Ok((num(s)?, 1)),
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a || a == 0 {
                return Err(format!("{s:?} is not a range (low-high)"));
            }
            Ok((a, b - a + 1))
        }
    }
}

/// docker's `-p`: `CTRPORT`, `HOSTPORT:CTRPORT`, `IP:HOSTPORT:CTRPORT`,
/// `IP::CTRPORT` (IPv6 addresses in brackets), each with an optional
/// `/tcp`, `/udp` or `/sctp`; ports may be ranges (`8000-8009:80-89`, or
/// `80-89` with host ports chosen). Host port 0 (or none) = choose one.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, NetworkError> {
    let bad = |reason: String| NetworkError::InvalidPort {
        spec: spec.to_string(),
        reason,
    };
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (
            r,
            protocol(p)
                .ok_or_else(|| bad(format!("unknown protocol {p:?} (use tcp, udp or sctp)")))?,
        ),
        None => (spec, "tcp".to_string()),
    };
    // An IPv6 host address comes in brackets.
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r
            .split_once(']')
            .ok_or_else(|| bad("unclosed [ in the host address".into()))?;
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| bad("expected :HOSTPORT:CTRPORT after the address".into()))?;
        (Some(ip.to_string()), after.to_string())
    } else {
        (None, rest.to_string())
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, ctr) = match (ip, parts.as_slice()) {
        (None, [c]) => (String::new(), "", *c),
        (None, [h, c]) => (String::new(), *h, *c),
        (None, [i, h, c]) => (i.to_string(), *h, *c),
        (Some(ip), [h, c]) => (ip, *h, *c),
        _ => {
            return Err(bad(
                "expected CTRPORT, HOSTPORT:CTRPORT or IP:[HOSTPORT]:CTRPORT (IPv6 addresses in brackets)"
                    .into(),
            ))
        }
    };
    if ctr.is_empty() {
        return Err(bad("no container port".into()));
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(bad(format!("{ip:?} is not an IP address")));
    }
    let (cport, ccount) = port_range(ctr, false).map_err(&bad)?;
    let (hport, hcount) = if host.is_empty() {
        (0, 0)
    } else {
        port_range(host, true).map_err(&bad)?
    };
    let host_of = |i: u16| -> u16 {
        match hcount {
            0 => 0,
            1 if hport == 0 => 0,
            _ => hport + i,
        }
    };
    if hcount > 1 && hcount != ccount {
        return Err(bad(format!(
            "the host range has {hcount} ports and the container range {ccount}: give ranges of the same length"
        )));
    }
    if hcount == 1 && ccount > 1 && hport != 0 {
        return Err(bad(
            "one host port for a range of container ports: give a host range of the same length"
                .into(),
        ));
    }
    Ok((0..ccount)
        .map(|i| PortMapping {
            host_ip: ip.clone(),
            host_port: host_of(i),
            container_port: cport + i,
            protocol: proto.clone(),
        })
        .collect())
}

/// `-P`: every port the image exposes (`80/tcp`, `53/udp`, `8080`), on a
/// host port to be chosen. Entries that are not ports are skipped.
pub fn exposed(image_exposed: &[String]) -> Vec<PortMapping> {
    let mut out = Vec::new();
    for e in image_exposed {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let (Some(proto), Ok((first, count))) = (protocol(proto), port_range(port, false)) else {
            continue;
        };
        for i in 0..count {
            let m = PortMapping {
                host_ip: String::new(),
                host_port: 0,
                container_port: first + i,
                protocol: proto.clone(),
            };
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

enum Held {
    Tcp(#[allow(dead_code)] TcpListener),
    Udp(#[allow(dead_code)] UdpSocket),
}

/// Choose a free host port for each mapping with host port 0, and check
/// that the given ones are free (bound by nothing on the host, nor twice
/// in `mappings`), by binding them (all at once, then released).
pub fn allocate(mappings: &mut [PortMapping]) -> Result<(), NetworkError> {
    let mut held = Vec::new();
    for m in mappings.iter_mut() {
        let ip: IpAddr = if m.host_ip.is_empty() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            m.host_ip.parse().map_err(|_| NetworkError::InvalidPort {
                spec: m.to_string(),
                reason: format!("{:?} is not an IP address", m.host_ip),
            })?
        };
        let addr = SocketAddr::new(ip, m.host_port);
        let in_use = |source: std::io::Error| NetworkError::PortInUse {
            addr: addr.to_string(),
            protocol: m.protocol.clone(),
            source,
        };
        let (port, h) = if m.protocol == "udp" {
            let s = UdpSocket::bind(addr).map_err(in_use)?;
            let port = s.local_addr().map_err(in_use)?.port();
            (port, Held::Udp(s))
        } else {
            // tcp, and sctp (checked as tcp: std has no SCTP sockets).
            let s = TcpListener::bind(addr).map_err(in_use)?;
            let port = s.local_addr().map_err(in_use)?.port();
            (port, Held::Tcp(s))
        };
        m.host_port = port;
        held.push(h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(ip: &str, h: u16, c: u16, p: &str) -> PortMapping {
        PortMapping {
            host_ip: ip.to_string(),
            host_port: h,
            container_port: c,
            protocol: p.to_string(),
        }
    }

    #[test]
    fn publish_forms() {
        assert_eq!(parse_publish("80").unwrap(), [pm("", 0, 80, "tcp")]);
        assert_eq!(parse_publish("8080:80").unwrap(), [pm("", 8080, 80, "tcp")]);
        assert_eq!(
            parse_publish("8080:80/udp").unwrap(),
            [pm("", 8080, 80, "udp")]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80").unwrap(),
            [pm("127.0.0.1", 8080, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80/TCP").unwrap(),
            [pm("127.0.0.1", 0, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap(),
            [pm("::1", 8080, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("[::1]::80").unwrap(),
            [pm("::1", 0, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("8000-8001:80-81").unwrap(),
            [pm("", 8000, 80, "tcp"), pm("", 8001, 81, "tcp")]
        );
        assert_eq!(
            parse_publish("80-81/udp").unwrap(),
            [pm("", 0, 80, "udp"), pm("", 0, 81, "udp")]
        );
        assert_eq!(parse_publish("0:80").unwrap(), [pm("", 0, 80, "tcp")]);
    }

    #[test]
    fn publish_errors_name_the_spec() {
        for bad in [
            "",
            "x",
            "80/icmp",
            "8080:",
            "1.2.3:8080:80",
            "a:b:c:d",
            "::1:80:80",
            "[::1:80:80",
            "70000:80",
            "8080:0",
            "8000-8002:80-81",
            "8000:80-81",
            "81-80",
            "host:80:80",
        ] {
            let e = parse_publish(bad).unwrap_err();
            assert!(matches!(e, NetworkError::InvalidPort { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn exposed_ports() {
        let e = exposed(&[
            "80/tcp".to_string(),
            "53/udp".to_string(),
            "8080".to_string(),
            "nope/tcp".to_string(),
            "80/tcp".to_string(),
        ]);
        assert_eq!(
            e,
            [
                pm("", 0, 80, "tcp"),
                pm("", 0, 53, "udp"),
                pm("", 0, 8080, "tcp")
            ]
        );
    }

    #[test]
    fn shapes() {
        let m = pm("", 8080, 80, "tcp");
        assert_eq!(m.to_string(), "0.0.0.0:8080->80/tcp");
        assert_eq!(pm("::1", 1, 2, "udp").to_string(), "[::1]:1->2/udp");
        assert_eq!(
            m.to_cni(),
            json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""})
        );
        let j = serde_json::to_value(&m).unwrap();
        assert_eq!(
            j,
            json!({"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp"})
        );
    }

    #[test]
    fn allocation() {
        let mut ms = vec![
            pm("127.0.0.1", 0, 80, "tcp"),
            pm("127.0.0.1", 0, 81, "tcp"),
            pm("127.0.0.1", 0, 53, "udp"),
        ];
        allocate(&mut ms).unwrap();
        assert!(ms.iter().all(|m| m.host_port != 0));
        assert_ne!(ms[0].host_port, ms[1].host_port);
        // A port something listens on is refused, naming it.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut taken = vec![pm("127.0.0.1", port, 80, "tcp")];
        let e = allocate(&mut taken).unwrap_err().to_string();
        assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
        // The same port twice in one request.
        drop(l);
        let mut twice = vec![
            pm("127.0.0.1", port, 80, "tcp"),
            pm("127.0.0.1", port, 81, "tcp"),
        ];
        assert!(allocate(&mut twice).is_err());
    }
}
