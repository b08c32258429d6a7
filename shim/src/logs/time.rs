//! Times for logs: the CRI record timestamps (RFC 3339, UTC from berth,
//! local time with an offset from conmon), docker's `--since`/`--until`
//! values, and the `-t` prefix. A time is nanoseconds since the epoch (i64:
//! years 1678..2262).
use std::time::{SystemTime, UNIX_EPOCH};

const NANOS: i64 = 1_000_000_000;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A fixed-width decimal field.
fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// What an RFC 3339 time says, before its zone is applied.
struct Civil {
    /// Seconds since the epoch of the wall-clock reading, as if it were UTC.
    secs: i64,
    nanos: u32,
    /// The offset east of UTC in seconds, None if the value has none.
    offset: Option<i64>,
}

/// `YYYY-MM-DD`, then optionally `THH:MM:SS[.frac]` and `Z` or `±HH:MM`.
fn parse_civil(s: &[u8], allow_date_only: bool, require_zone: bool) -> Option<Civil> {
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(i64::from(y), mo) {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    if s.len() == 10 {
        return allow_date_only.then_some(Civil {
            secs: days * 86_400,
            nanos: 0,
            offset: None,
        });
    }
    if !matches!(s[10], b'T' | b't' | b' ') || s.len() < 19 || s[13] != b':' || s[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (
        digits(&s[11..13])?,
        digits(&s[14..16])?,
        digits(&s[17..19])?,
    );
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Digits past nanoseconds are dropped.
        let mut v = digits(&frac[..n.min(9)])?;
        for _ in n.min(9)..9 {
            v *= 10;
        }
        nanos = v;
        rest = &frac[n..];
    }
    let offset = match rest {
        [] if !require_zone => None,
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let oh = i64::from(digits(&[*oh1, *oh2])?);
            let om = i64::from(digits(&[*om1, *om2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            Some(if *sign == b'-' { -off } else { off })
        }
        _ => return None,
    };
    Some(Civil {
        secs: days * 86_400 + i64::from(h * 3600 + mi * 60 + sec),
        nanos,
        offset,
    })
}

fn to_nanos(secs: i64, nanos: u32) -> Option<i64> {
    secs.checked_mul(NANOS)?.checked_add(i64::from(nanos))
}

/// A CRI record's timestamp: RFC 3339 with a zone (`Z` or an offset like
/// conmon's `+01:00`) and an optional fraction. Nanoseconds since the epoch.
pub fn parse_rfc3339(s: &[u8]) -> Option<i64> {
    let c = parse_civil(s, false, true)?;
    to_nanos(c.secs - c.offset?, c.nanos)
}

/// `2026-01-02T03:04:05.000000000Z`: UTC with all nine fraction digits
/// (docker's `logs -t`). Appends to `out`.
pub fn format_rfc3339_nano_fixed(t: i64, out: &mut Vec<u8>) {
    use std::io::Write;
    let secs = t.div_euclid(NANOS);
    let nanos = t.rem_euclid(NANOS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

/// Nanoseconds since the epoch of `t`.
pub fn system_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// Go's `time.ParseDuration` for non-negative values: `90s`, `10m`,
/// `1h30m`, `1.5h`, `300ms`, `2us`, `10ns`.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut rest = s.as_bytes();
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let n = rest
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .count();
        let number = std::str::from_utf8(&rest[..n]).ok()?;
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        rest = &rest[n..];
        let u = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let u = if rest[..u].is_empty() && rest.starts_with("µs".as_bytes()) {
            "µs".len()
        } else {
            u
        };
        let unit: i64 = match &rest[..u] {
            b"ns" => 1,
            b"us" => 1_000,
            b"ms" => 1_000_000,
            b"s" => NANOS,
            b"m" => 60 * NANOS,
            b"h" => 3600 * NANOS,
            other if other == "µs".as_bytes() => 1_000,
            _ => return None,
        };
        rest = &rest[u..];
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(unit)?;
        // The fraction, to the unit's precision.
        let mut scale = unit;
        for d in frac.bytes() {
            scale /= 10;
            part = part.checked_add(i64::from(d - b'0') * scale)?;
        }
        total = total.checked_add(part)?;
    }
    Some(total)
}

/// A `--since`/`--until` value, as docker reads it: an RFC 3339 time (with
/// or without fraction and zone; no zone means local time), a date
/// (`2026-01-02`, local midnight), unix seconds with an optional fraction
/// (`1767323045.5`), or a duration before `now` (`10m`, `1h30m`, `90s`).
/// None if it is none of these.
pub fn parse_time_arg(value: &str, now: SystemTime) -> Option<i64> {
    let v = value.trim();
    if let Some(c) = parse_civil(v.as_bytes(), true, false) {
        let secs = match c.offset {
            Some(off) => c.secs - off,
            None => local_to_utc(c.secs),
        };
        return to_nanos(secs, c.nanos);
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
        if whole.is_empty() || frac.contains('.') {
            return None;
        }
        let mut nanos = 0u32;
        for (i, d) in frac.bytes().take(9).enumerate() {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
        }
        return to_nanos(whole.parse().ok()?, nanos);
    }
    let ago = parse_duration(v)?;
    system_nanos(now).checked_sub(ago)
}

/// UTC seconds of a local wall-clock reading (as if UTC), per the local
/// zone (`TZ`, else /etc/localtime; UTC if neither can be read).
pub fn local_to_utc(local: i64) -> i64 {
    let Some(zone) = local_zone() else {
        return local;
    };
    // The offset at the guessed instant; right except within the hour of a
    // DST change, where Go picks one side too.
    let guess = local - zone.offset_at(local);
    local - zone.offset_at(guess)
}

/// A TZif zone: transition times and the UTC offset from each on.
struct Zone {
    transitions: Vec<(i64, i64)>,
    /// The offset before the first transition.
    initial: i64,
}

impl Zone {
    fn offset_at(&self, utc: i64) -> i64 {
        match self.transitions.partition_point(|(t, _)| *t <= utc) {
            0 => self.initial,
            i => self.transitions[i - 1].1,
        }
    }

    /// Parse a TZif file (version 1 data, or the 64-bit data of version 2+).
    fn parse(data: &[u8]) -> Option<Zone> {
        fn be32(b: &[u8]) -> Option<u32> {
            Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
        }
        fn header(d: &[u8]) -> Option<[usize; 6]> {
            if d.get(..4)? != b"TZif" {
                return None;
            }
            let mut c = [0usize; 6];
            for (i, v) in c.iter_mut().enumerate() {
                *v = be32(d.get(20 + 4 * i..)?)? as usize;
            }
            Some(c)
        }
        let [isut, isstd, leap, timecnt, typecnt, charcnt] = header(data)?;
        let mut d = data;
        let mut tsize = 4;
        let v1_len = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
        if data.get(4).is_some_and(|v| *v >= b'2') {
            d = data.get(44 + v1_len..)?;
            tsize = 8;
        }
        let [_, _, _, timecnt, typecnt, _] = header(d)?;
        if typecnt == 0 {
            return None;
        }
        let times = d.get(44..44 + timecnt * tsize)?;
        let idx = d.get(44 + timecnt * tsize..44 + timecnt * (tsize + 1))?;
        let types = d.get(44 + timecnt * (tsize + 1)..44 + timecnt * (tsize + 1) + typecnt * 6)?;
        let offset_of =
            |i: usize| -> Option<i64> { Some(i64::from(be32(types.get(i * 6..)?)? as i32)) };
        let mut transitions = Vec::with_capacity(timecnt);
        for i in 0..timecnt {
            let t = if tsize == 8 {
                i64::from_be_bytes(times[i * 8..i * 8 + 8].try_into().ok()?)
            } else {
                i64::from(be32(&times[i * 4..])? as i32)
            };
            transitions.push((t, offset_of(usize::from(idx[i]))?));
        }
        // The first non-DST type (isdst byte at +4), as RFC 8536 says for
        // times before the first transition.
        let first_std = (0..typecnt)
            .find(|i| types.get(i * 6 + 4) == Some(&0))
            .unwrap_or(0);
        Some(Zone {
            transitions,
            initial: offset_of(first_std)?,
        })
    }
}

fn local_zone() -> Option<&'static Zone> {
    static ZONE: std::sync::OnceLock<Option<Zone>> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| {
        let path = match std::env::var("TZ") {
            Ok(tz) if tz.is_empty() => return None,
            Ok(tz) => {
                let tz = tz.strip_prefix(':').unwrap_or(&tz).to_string();
                if tz.starts_with('/') {
                    tz
                } else {
                    format!("/usr/share/zoneinfo/{tz}")
                }
            }
            Err(_) => "/etc/localtime".to_string(),
        };
        Zone::parse(&std::fs::read(path).ok()?)
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fixed(t: i64) -> String {
        let mut v = Vec::new();
        format_rfc3339_nano_fixed(t, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn record_timestamps() {
        let t = parse_rfc3339(b"2023-11-14T22:13:20.12Z").unwrap();
        assert_eq!(t, 1_700_000_000_120_000_000);
        assert_eq!(fixed(t), "2023-11-14T22:13:20.120000000Z");
        // conmon's local time with an offset.
        let t = parse_rfc3339(b"2026-01-02T03:04:05.123456789+01:00").unwrap();
        assert_eq!(fixed(t), "2026-01-02T02:04:05.123456789Z");
        let t = parse_rfc3339(b"2026-01-01T23:30:00-05:30").unwrap();
        assert_eq!(fixed(t), "2026-01-02T05:00:00.000000000Z");
        assert_eq!(parse_rfc3339(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(fixed(-1), "1969-12-31T23:59:59.999999999Z");
        // Leap day, too many fraction digits (dropped).
        let t = parse_rfc3339(b"2024-02-29T12:00:00.1234567891Z").unwrap();
        assert_eq!(fixed(t), "2024-02-29T12:00:00.123456789Z");
        for bad in [
            &b"2026-01-02T03:04:05"[..],
            b"2026-01-02",
            b"2026-13-02T03:04:05Z",
            b"2025-02-29T03:04:05Z",
            b"2026-01-02T03:04:05.Z",
            b"2026-01-02T03:04:05+0100",
            b"2026-01-02T24:04:05Z",
            b"stdout",
            b"",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn durations() {
        let s = NANOS;
        assert_eq!(parse_duration("90s"), Some(90 * s));
        assert_eq!(parse_duration("10m"), Some(600 * s));
        assert_eq!(parse_duration("1h30m"), Some(5400 * s));
        assert_eq!(parse_duration("1.5h"), Some(5400 * s));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("2us"), Some(2000));
        assert_eq!(parse_duration("2µs"), Some(2000));
        assert_eq!(parse_duration("1h0m0.5s"), Some(3600 * s + s / 2));
        for bad in ["", "10", "10x", "h", "1..5s", "-5m", "5 m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn since_values() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let p = |v: &str| parse_time_arg(v, now);
        assert_eq!(p("10m"), Some((1_800_000_000 - 600) * NANOS));
        assert_eq!(p("1h30m"), Some((1_800_000_000 - 5400) * NANOS));
        assert_eq!(p("1700000000"), Some(1_700_000_000 * NANOS));
        assert_eq!(p("1700000000.5"), Some(1_700_000_000 * NANOS + NANOS / 2));
        assert_eq!(
            p("2023-11-14T22:13:20.12Z"),
            Some(1_700_000_000_120_000_000)
        );
        assert_eq!(p("2023-11-14T23:13:20+01:00"), Some(1_700_000_000 * NANOS));
        for bad in ["yesterday", "", "2026-01-02T", "1.2.3", "12:00", "10 m"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn local_zone_files() {
        // Europe/Berlin: +1 in winter, +2 in summer.
        let Ok(data) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") else {
            return; // no tzdata here
        };
        let z = Zone::parse(&data).unwrap();
        let winter = parse_rfc3339(b"2026-01-15T12:00:00Z").unwrap() / NANOS;
        let summer = parse_rfc3339(b"2026-07-15T12:00:00Z").unwrap() / NANOS;
        assert_eq!(z.offset_at(winter), 3600);
        assert_eq!(z.offset_at(summer), 7200);
        let utc = Zone::parse(&std::fs::read("/usr/share/zoneinfo/Etc/UTC").unwrap()).unwrap();
        assert_eq!(utc.offset_at(summer), 0);
    }
}
