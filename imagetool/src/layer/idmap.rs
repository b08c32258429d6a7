//! uid/gid maps (`--uid-map CONTAINER:HOST:SIZE`): the owner an entry has in
//! the image (a container id) becomes a host id when the layer is written,
//! as with a user namespace's `/proc/PID/uid_map`.
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid id map {value:?}: {reason} (expected CONTAINER:HOST:SIZE)")]
pub struct IdMapError {
    pub value: String,
    pub reason: &'static str,
}

/// One range: container ids `container..container+size` are host ids
/// `host..host+size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl FromStr for IdRange {
    type Err = IdMapError;

    fn from_str(value: &str) -> Result<IdRange, IdMapError> {
        let err = |reason| IdMapError {
            value: value.to_string(),
            reason,
        };
        let parts: Vec<&str> = value.split(':').collect();
        let [c, h, n] = parts.as_slice() else {
            return Err(err("three numbers separated by ':' are needed"));
        };
        let num = |s: &str| s.parse::<u32>().map_err(|_| err("not a number"));
        let range = IdRange {
            container: num(c)?,
            host: num(h)?,
            size: num(n)?,
        };
        if range.size == 0 {
            return Err(err("the size is 0"));
        }
        let end = |start: u32| u64::from(start) + u64::from(range.size);
        if end(range.container) > 1 << 32 || end(range.host) > 1 << 32 {
            return Err(err("the range goes past 4294967295"));
        }
        Ok(range)
    }
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.container, self.host, self.size)
    }
}

/// A list of ranges; empty means identity (no mapping).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IdMap(pub Vec<IdRange>);

impl IdMap {
    pub fn is_identity(&self) -> bool {
        self.0.is_empty()
    }

    /// The host id for a container id; `None` when no range holds it.
    pub fn to_host(&self, id: u64) -> Option<u32> {
        if self.0.is_empty() {
            return u32::try_from(id).ok();
        }
        self.0.iter().find_map(|r| {
            let start = u64::from(r.container);
            (id >= start && id < start + u64::from(r.size)).then(|| r.host + (id - start) as u32)
        })
    }

    /// `C:H:N,C:H:N` (for cache keys and messages).
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(IdRange::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The uid and gid maps of one unpack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IdMaps {
    pub uid: IdMap,
    pub gid: IdMap,
}

impl IdMaps {
    pub fn is_identity(&self) -> bool {
        self.uid.is_identity() && self.gid.is_identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges() {
        let r: IdRange = "0:100000:65536".parse().unwrap();
        assert_eq!(
            r,
            IdRange {
                container: 0,
                host: 100000,
                size: 65536
            }
        );
        assert_eq!(r.to_string(), "0:100000:65536");
        for bad in [
            "",
            "1:2",
            "1:2:3:4",
            "a:1:1",
            "0:0:0",
            "4294967295:0:2",
            "-1:0:1",
        ] {
            let e = bad.parse::<IdRange>().unwrap_err();
            assert_eq!(e.value, bad);
        }
    }

    #[test]
    fn maps_ids() {
        let m = IdMap(vec![
            "0:100000:1000".parse().unwrap(),
            "1000:5000:1".parse().unwrap(),
        ]);
        assert_eq!(m.to_host(0), Some(100000));
        assert_eq!(m.to_host(999), Some(100999));
        assert_eq!(m.to_host(1000), Some(5000));
        assert_eq!(m.to_host(1001), None);
        assert_eq!(IdMap::default().to_host(7), Some(7));
        assert_eq!(IdMap::default().to_host(1 << 40), None);
        assert_eq!(m.describe(), "0:100000:1000,1000:5000:1");
    }
}
