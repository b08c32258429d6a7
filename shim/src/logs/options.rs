//! `--log-opt max-size=SIZE --log-opt max-file=N` (docker's json-file names).
use serde::{Deserialize, Serialize};

use super::LogError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    /// Rotate when the file would grow past this many bytes (None: never).
    pub max_size: Option<u64>,
    /// Files kept, the current one included (at least 1).
    pub max_files: u32,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            max_size: None,
            max_files: 1,
        }
    }
}

impl LogOptions {
    pub fn parse(opts: &[String]) -> Result<LogOptions, LogError> {
        let mut out = LogOptions::default();
        let mut files = None;
        for opt in opts.iter().flat_map(|o| o.split(',')) {
            let bad = |reason: &str| LogError::BadOption {
                opt: opt.to_string(),
                reason: reason.to_string(),
            };
            let (key, value) = opt
                .split_once('=')
                .ok_or_else(|| bad("expected KEY=VALUE"))?;
            match key {
                "max-size" => {
                    let n = parse_size(value).ok_or_else(|| {
                        bad("expected a size in bytes, or with k, m or g (e.g. 10m)")
                    })?;
                    out.max_size = (n > 0).then_some(n);
                }
                "max-file" => {
                    let n: u32 = value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad("expected a whole number of at least 1"))?;
                    files = Some(n);
                }
                _ => return Err(bad("unknown option; berth knows max-size and max-file")),
            }
        }
        if let Some(n) = files {
            if out.max_size.is_none() && n > 1 {
                return Err(LogError::BadOption {
                    opt: format!("max-file={n}"),
                    reason: "max-file needs max-size".to_string(),
                });
            }
            out.max_files = n;
        } else if out.max_size.is_some() {
            // docker's json-file default: max-file=1, the log starts over (no .1 kept).
            out.max_files = 1;
        }
        Ok(out)
    }
}

/// `1024`, `10k`, `10kb`, `5m`, `1g` (binary units, like docker).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (digits, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<LogOptions, LogError> {
        LogOptions::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn sizes_and_counts() {
        assert_eq!(p(&[]).unwrap(), LogOptions::default());
        let o = p(&["max-size=10k", "max-file=3"]).unwrap();
        assert_eq!(o.max_size, Some(10240));
        assert_eq!(o.max_files, 3);
        assert_eq!(
            p(&["max-size=1m,max-file=2"]).unwrap().max_size,
            Some(1 << 20)
        );
        assert!(p(&["max-size=ten"])
            .unwrap_err()
            .to_string()
            .contains("max-size=ten"));
        assert!(p(&["max-file=0", "max-size=1k"]).is_err());
        assert!(p(&["max-file=3"]).is_err());
        assert!(p(&["colour=blue"]).is_err());
    }
}
