//! STAND-IN (helper N2): replaced by N1's ports.rs at the merge.
use serde::{Deserialize, Serialize};

use super::NetworkError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, NetworkError> {
    let (rest, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let parts: Vec<&str> = rest.rsplitn(3, ':').collect();
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| NetworkError::Other(format!("invalid -p {spec:?}")))
    };
    let (host_ip, host_port, ctr) = match parts[..] {
        [c] => (String::new(), 0, port(c)?),
        [c, h] => (String::new(), port(h)?, port(c)?),
        [c, "", ip] => (ip.to_string(), 0, port(c)?),
        [c, h, ip] => (ip.to_string(), port(h)?, port(c)?),
        _ => return Err(NetworkError::Other(format!("invalid -p {spec:?}"))),
    };
    Ok(vec![PortMapping {
        host_ip,
        host_port,
        container_port: ctr,
        protocol: protocol.to_string(),
    }])
}

pub fn exposed(image_exposed: &[String]) -> Vec<PortMapping> {
    image_exposed
        .iter()
        .filter_map(|e| {
            let (p, proto) = e.split_once('/').unwrap_or((e, "tcp"));
            Some(PortMapping {
                host_ip: String::new(),
                host_port: 0,
                container_port: p.parse().ok()?,
                protocol: proto.to_string(),
            })
        })
        .collect()
}

pub fn allocate(mappings: &mut [PortMapping]) -> Result<(), NetworkError> {
    for m in mappings.iter_mut().filter(|m| m.host_port == 0) {
        let l = std::net::TcpListener::bind("0.0.0.0:0")
            .map_err(|e| NetworkError::Other(e.to_string()))?;
        m.host_port = l
            .local_addr()
            .map_err(|e| NetworkError::Other(e.to_string()))?
            .port();
    }
    Ok(())
}
