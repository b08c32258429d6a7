//! Containers as docker's `ps` shows them: short ids, quoted and truncated
//! commands, "5 seconds ago", "Up 3 seconds", "Exited (0) 2 minutes ago".
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::status::{Snapshot, Status};
use super::Record;

/// Go's zero time as docker prints it for "never".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An RFC 3339 time with optional fraction (`2026-01-02T03:04:05.123Z`).
pub fn parse_time(s: &str) -> Option<SystemTime> {
    let secs = berth_image::units::parse_rfc3339(s)?;
    let nanos = s
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .map(|frac| {
            let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
            let padded = format!("{digits:0<9}");
            padded[..9].parse::<u32>().unwrap_or(0)
        })
        .unwrap_or(0);
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Seconds from `then` (an RFC 3339 string) to `now`; 0 if unparsable
/// or in the future.
pub fn seconds_since(then: &str, now: SystemTime) -> i64 {
    parse_time(then)
        .and_then(|t| now.duration_since(t).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// go-units' HumanDuration.
pub fn human_duration(secs: i64) -> String {
    berth_image::units::human_duration(secs)
}

/// `5 seconds ago`, `About a minute ago`.
pub fn ago(then: &str, now: SystemTime) -> String {
    format!("{} ago", human_duration(seconds_since(then, now)))
}

/// The first 12 hex digits (docker's short id).
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// `path args...` as docker's ps shows it (before quoting).
pub fn command_line(record: &Record) -> String {
    std::iter::once(record.path.as_str())
        .chain(record.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// docker's Ellipsis: at most `max` characters, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The COMMAND column: quoted like Go's strconv.Quote, truncated to 20
/// characters unless `no_trunc`.
pub fn command_column(record: &Record, no_trunc: bool) -> String {
    let cmd = command_line(record);
    let cmd = if no_trunc { cmd } else { ellipsis(&cmd, 20) };
    serde_json::to_string(&cmd).unwrap_or_default()
}

/// The exit code to show: the exit record's, -1 when the monitor died
/// without writing one.
pub fn exit_code(snap: &Snapshot) -> i32 {
    snap.exit.as_ref().map_or(-1, |e| e.exit_code)
}

/// The STATUS column (moby's State.String()).
pub fn status_text(snap: &Snapshot, now: SystemTime) -> String {
    let started = snap
        .monitor
        .as_ref()
        .map(|m| m.started_at.as_str())
        .unwrap_or("");
    let finished = snap
        .exit
        .as_ref()
        .map(|e| e.finished_at.as_str())
        .unwrap_or("");
    let since = |t: &str| human_duration(seconds_since(t, now));
    match snap.status {
        Status::Running => format!("Up {}", since(started)),
        Status::Paused => format!("Up {} (Paused)", since(started)),
        Status::Restarting => format!("Restarting ({}) {} ago", exit_code(snap), since(finished)),
        Status::Created => "Created".into(),
        Status::Exited if snap.monitor.is_none() => "Created".into(),
        Status::Exited if finished.is_empty() => format!("Exited ({})", exit_code(snap)),
        Status::Exited => format!("Exited ({}) {} ago", exit_code(snap), since(finished)),
    }
}

/// Go's `time.Time.String()` in UTC: `2026-01-02 03:04:05 +0000 UTC`.
pub fn go_time_string(rfc3339: &str) -> String {
    match berth_image::units::parse_rfc3339(rfc3339) {
        Some(secs) => {
            let s = berth_image::units::format_rfc3339(secs);
            format!("{} {} +0000 UTC", &s[..10], &s[11..19])
        }
        None => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{ExitRecord, MonitorState};

    fn at(s: &str) -> SystemTime {
        parse_time(s).unwrap()
    }

    fn snap(status: Status, started: Option<&str>, exit: Option<(i32, &str)>) -> Snapshot {
        Snapshot {
            status,
            pid: 0,
            shim_pid: None,
            monitor: started.map(|s| MonitorState {
                started_at: s.into(),
                ..Default::default()
            }),
            exit: exit.map(|(code, t)| ExitRecord {
                exit_code: code,
                finished_at: t.into(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn parses_times_with_fractions() {
        let t = at("2026-01-02T03:04:05.5Z");
        let base = at("2026-01-02T03:04:05Z");
        assert_eq!(t.duration_since(base).unwrap(), Duration::from_millis(500));
        let n = at("2026-01-02T03:04:05.000000123Z");
        assert_eq!(n.duration_since(base).unwrap(), Duration::from_nanos(123));
        assert!(parse_time("yesterday").is_none());
        assert_eq!(seconds_since("2026-01-02T03:04:05Z", base), 0);
        assert_eq!(seconds_since("2026-01-02T03:05:05Z", base), 0, "future");
    }

    #[test]
    fn ages_like_docker() {
        let now = at("2026-01-02T12:00:00Z");
        assert_eq!(ago("2026-01-02T11:59:59.9Z", now), "Less than a second ago");
        assert_eq!(ago("2026-01-02T11:59:59Z", now), "1 second ago");
        assert_eq!(ago("2026-01-02T11:59:55Z", now), "5 seconds ago");
        assert_eq!(ago("2026-01-02T11:59:00Z", now), "About a minute ago");
        assert_eq!(ago("2026-01-02T11:58:00Z", now), "2 minutes ago");
        assert_eq!(ago("2026-01-02T11:00:00Z", now), "About an hour ago");
        assert_eq!(ago("2026-01-02T10:00:00Z", now), "2 hours ago");
        assert_eq!(ago("2025-12-30T12:00:00Z", now), "3 days ago");
        assert_eq!(ago("2025-12-12T12:00:00Z", now), "3 weeks ago");
    }

    #[test]
    fn status_strings() {
        let now = at("2026-01-02T12:00:00Z");
        let s = |st, started, exit| status_text(&snap(st, started, exit), now);
        assert_eq!(s(Status::Created, None, None), "Created");
        assert_eq!(
            s(Status::Running, Some("2026-01-02T11:59:57Z"), None),
            "Up 3 seconds"
        );
        assert_eq!(
            s(Status::Paused, Some("2026-01-02T09:00:00Z"), None),
            "Up 3 hours (Paused)"
        );
        assert_eq!(
            s(
                Status::Exited,
                Some("2026-01-02T11:00:00Z"),
                Some((0, "2026-01-02T11:58:00Z"))
            ),
            "Exited (0) 2 minutes ago"
        );
        assert_eq!(
            s(
                Status::Exited,
                Some("2026-01-02T11:00:00Z"),
                Some((137, "2026-01-02T11:59:00Z"))
            ),
            "Exited (137) About a minute ago"
        );
        assert_eq!(
            s(
                Status::Restarting,
                Some("2026-01-02T11:00:00Z"),
                Some((1, "2026-01-02T11:59:59Z"))
            ),
            "Restarting (1) 1 second ago"
        );
        assert_eq!(
            s(Status::Exited, Some("2026-01-02T11:00:00Z"), None),
            "Exited (-1)"
        );
    }

    #[test]
    fn commands_quoted_and_truncated() {
        assert_eq!(ellipsis("sleep 1000", 20), "sleep 1000");
        assert_eq!(ellipsis("12345678901234567890", 20), "12345678901234567890");
        assert_eq!(
            ellipsis("sh -c while true; do echo hi; done", 20),
            "sh -c while true; d…"
        );
        assert_eq!(short_id(&"ab".repeat(32)), "abababababab");
        assert_eq!(
            go_time_string("2026-01-02T03:04:05.123Z"),
            "2026-01-02 03:04:05 +0000 UTC"
        );
    }
}
