//! The value syntaxes runc's command line accepts: memory sizes as docker's
//! `units.RAMInBytes` reads them (`512m`, `1g`, `1.5GiB`, binary multiples)
//! and durations as Go's `time.ParseDuration` reads them (`5s`, `500ms`, `1m30s`).
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitsError {
    #[error("invalid size: '{0}'")]
    InvalidSize(String),
    #[error("invalid size: '{value}': invalid suffix '{suffix}'")]
    InvalidSuffix { value: String, suffix: String },
    #[error("size '{0}' does not fit in 64 bits")]
    SizeOverflow(String),
    #[error("time: invalid duration \"{0}\"")]
    InvalidDuration(String),
    #[error("time: unknown unit \"{unit}\" in duration \"{value}\"")]
    UnknownUnit { unit: String, value: String },
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    #[error("duration \"{0}\" is negative")]
    NegativeDuration(String),
}

/// A memory size in bytes: a non-negative decimal number, an optional space,
/// and an optional case-insensitive suffix `b`, `k`..`p`, `kb`..`pb` or
/// `kib`..`pib`, every multiple binary (k = 1024), as `units.RAMInBytes`.
pub fn ram_in_bytes(s: &str) -> Result<i64, UnitsError> {
    let invalid = || UnitsError::InvalidSize(s.to_string());
    let sep = s
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(invalid)?;
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    if num.is_empty()
        || !num.chars().all(|c| c.is_ascii_digit() || c == '.')
        || !num.chars().any(|c| c.is_ascii_digit())
        || num.matches('.').count() > 1
    {
        return Err(invalid());
    }
    let size: f64 = num.parse().map_err(|_| invalid())?;
    let bad_suffix = || UnitsError::InvalidSuffix {
        value: s.to_string(),
        suffix: sfx.to_ascii_lowercase(),
    };
    let lower = sfx.to_ascii_lowercase();
    let mul: f64 = match lower.as_bytes() {
        [] | [b'b'] => 1.0,
        [p, rest @ ..] => {
            let exp = match p {
                b'k' => 1,
                b'm' => 2,
                b'g' => 3,
                b't' => 4,
                b'p' => 5,
                _ => return Err(bad_suffix()),
            };
            if !(rest.is_empty() || rest == b"b" || rest == b"ib") {
                return Err(bad_suffix());
            }
            1024f64.powi(exp)
        }
    };
    let bytes = size * mul;
    if bytes >= i64::MAX as f64 {
        return Err(UnitsError::SizeOverflow(s.to_string()));
    }
    Ok(bytes as i64)
}

/// A Go duration: a sequence of decimal numbers, each with an optional
/// fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `1h2m0.5s`;
/// a bare `0` is zero. Negative durations are refused.
pub fn go_duration(s: &str) -> Result<Duration, UnitsError> {
    let invalid = || UnitsError::InvalidDuration(s.to_string());
    let mut rest = s;
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    } else if let Some(r) = rest.strip_prefix('-') {
        if !r.is_empty() && r.chars().all(|c| c == '0') {
            return Ok(Duration::ZERO);
        }
        return Err(UnitsError::NegativeDuration(s.to_string()));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let nanos_per: u128 = match unit {
            "" => return Err(UnitsError::MissingUnit(s.to_string())),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(UnitsError::UnknownUnit {
                    unit: unit.to_string(),
                    value: s.to_string(),
                })
            }
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut part = int.checked_mul(nanos_per).ok_or_else(invalid)?;
        // The fraction, truncated to whole nanoseconds as Go does.
        let mut scale = nanos_per;
        for d in frac.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            part += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(part).ok_or_else(invalid)?;
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
    }
    Ok(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_sizes_like_units_ram_in_bytes() {
        let ok = [
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("32k", 32 * 1024),
            ("32K", 32 * 1024),
            ("32kb", 32 * 1024),
            ("32Kib", 32 * 1024),
            ("32KIB", 32 * 1024),
            ("512m", 512 << 20),
            ("32mb", 32 << 20),
            ("1g", 1 << 30),
            ("1 GiB", 1 << 30),
            ("1.5g", 3 << 29),
            ("2t", 2 << 40),
            ("1p", 1 << 50),
            ("0.5k", 512),
            ("0", 0),
        ];
        for (s, want) in ok {
            assert_eq!(ram_in_bytes(s), Ok(want), "{s}");
        }
        for bad in [
            "", "m", "-1", "-32m", "12x", "32mm", "32kbb", "32 m b", "1..2m", "abc", " 1",
        ] {
            assert!(ram_in_bytes(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            ram_in_bytes("12x").unwrap_err().to_string(),
            "invalid size: '12x': invalid suffix 'x'"
        );
        assert_eq!(
            ram_in_bytes("abc").unwrap_err().to_string(),
            "invalid size: 'abc'"
        );
        assert!(matches!(
            ram_in_bytes("9000p"),
            Err(UnitsError::SizeOverflow(_))
        ));
    }

    #[test]
    fn durations_like_go() {
        let ms = Duration::from_millis;
        let ok = [
            ("5s", ms(5000)),
            ("500ms", ms(500)),
            ("1m30s", ms(90_000)),
            ("1h", ms(3_600_000)),
            ("1.5s", ms(1500)),
            (".5s", ms(500)),
            ("1.s", ms(1000)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("+2s", ms(2000)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("1.0000000001s", Duration::from_nanos(1_000_000_000)),
        ];
        for (s, want) in ok {
            assert_eq!(go_duration(s), Ok(want), "{s}");
        }
        for bad in ["", "1", "s", "1x", ".s", "1..2s", "-1s", "1s2", "+"] {
            assert!(go_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            go_duration("1").unwrap_err().to_string(),
            "time: missing unit in duration \"1\""
        );
    }
}
