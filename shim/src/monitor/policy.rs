//! Restart policies: `no`, `always`, `unless-stopped`, `on-failure[:N]`,
//! with a back-off that starts at 100 ms and doubles.
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    /// Restart after a non-zero exit, at most N times (0: no limit).
    OnFailure(u32),
}

/// The first back-off; each consecutive restart doubles it.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A container that ran this long starts the back-off over (docker's rule).
pub const RESET_AFTER: Duration = Duration::from_secs(10);

impl RestartPolicy {
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let bad = || {
            format!(
                "--restart {s:?}: expected no, always, unless-stopped or on-failure[:MAX-RETRIES]"
            )
        };
        match s {
            "" | "no" => Ok(RestartPolicy::No),
            "always" => Ok(RestartPolicy::Always),
            "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            "on-failure" => Ok(RestartPolicy::OnFailure(0)),
            _ => match s.strip_prefix("on-failure:") {
                Some(n) => n.parse().map(RestartPolicy::OnFailure).map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }

    /// docker's name (inspect's HostConfig.RestartPolicy.Name) and retry count.
    pub fn name(self) -> (&'static str, u32) {
        match self {
            RestartPolicy::No => ("no", 0),
            RestartPolicy::Always => ("always", 0),
            RestartPolicy::UnlessStopped => ("unless-stopped", 0),
            RestartPolicy::OnFailure(n) => ("on-failure", n),
        }
    }

    /// Whether to restart after `exit_code`, having restarted `count` times;
    /// a container the user stopped is never restarted.
    pub fn should_restart(self, exit_code: i32, count: u32, user_stopped: bool) -> bool {
        if user_stopped {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => exit_code != 0 && (max == 0 || count < max),
        }
    }
}

/// The next back-off after `prev` (None: the first), given how long the
/// container ran.
pub fn next_backoff(prev: Option<Duration>, ran: Duration) -> Duration {
    match prev {
        Some(p) if ran < RESET_AFTER => (p * 2).min(MAX_BACKOFF),
        _ => FIRST_BACKOFF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_decide() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure(3)
        );
        assert!(RestartPolicy::parse("sometimes")
            .unwrap_err()
            .contains("sometimes"));
        assert!(RestartPolicy::parse("on-failure:x").is_err());
        let p = RestartPolicy::OnFailure(2);
        assert!(p.should_restart(1, 0, false));
        assert!(p.should_restart(1, 1, false));
        assert!(!p.should_restart(1, 2, false));
        assert!(!p.should_restart(0, 0, false));
        assert!(RestartPolicy::Always.should_restart(0, 100, false));
        assert!(!RestartPolicy::Always.should_restart(0, 0, true));
        assert!(!RestartPolicy::No.should_restart(1, 0, false));
    }

    #[test]
    fn backoff_doubles_and_resets() {
        let short = Duration::from_millis(5);
        let b1 = next_backoff(None, short);
        assert_eq!(b1, Duration::from_millis(100));
        let b2 = next_backoff(Some(b1), short);
        assert_eq!(b2, Duration::from_millis(200));
        assert_eq!(next_backoff(Some(b2), short), Duration::from_millis(400));
        assert_eq!(
            next_backoff(Some(b2), Duration::from_secs(11)),
            FIRST_BACKOFF
        );
        assert_eq!(
            next_backoff(Some(Duration::from_secs(50)), short),
            MAX_BACKOFF
        );
    }
}
