//! Signal names as docker takes them: `TERM`, `SIGTERM`, `sigterm`, `15`,
//! `RTMIN+3`.
use std::str::FromStr;

use nix::sys::signal::Signal;

/// The number of a signal name or number; None if it is neither.
pub fn parse(name: &str) -> Option<i32> {
    let name = name.trim();
    if let Ok(n) = name.parse::<i32>() {
        return (1..=rtmax()).contains(&n).then_some(n);
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')?.parse().ok()?
        };
        let n = rtmin() + off;
        return (n <= rtmax()).then_some(n);
    }
    if let Some(rest) = bare.strip_prefix("RTMAX") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')?.parse().ok()?
        };
        let n = rtmax() - off;
        return (n >= rtmin()).then_some(n);
    }
    Signal::from_str(&format!("SIG{bare}"))
        .ok()
        .map(|s| s as i32)
}

fn rtmin() -> i32 {
    libc::SIGRTMIN()
}

fn rtmax() -> i32 {
    libc::SIGRTMAX()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("TERM"), Some(15));
        assert_eq!(parse("SIGTERM"), Some(15));
        assert_eq!(parse("sigkill"), Some(9));
        assert_eq!(parse("usr1"), Some(libc::SIGUSR1));
        assert_eq!(parse("15"), Some(15));
        assert_eq!(parse("RTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(parse("0"), None);
        assert_eq!(parse("NOPE"), None);
        assert_eq!(parse("99"), None);
    }
}
