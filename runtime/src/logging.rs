//! runc-shaped logging: `--log FILE --log-format text|json`.
//!
//! containerd keeps the last `"level":"error"` line of log.json and podman
//! parses the whole log file as one JSON object, so a failing command writes
//! exactly one error record, and debug records only with `--debug`.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use crate::cli::LogFormat;
use crate::timefmt;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("open log file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    format: LogFormat,
    debug: bool,
    file: Option<Mutex<File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();
static START: OnceLock<std::time::Instant> = OnceLock::new();

/// Set up logging from the global flags; without `--log` records go to stderr.
pub fn init(log: Option<&Path>, format: LogFormat, debug: bool) -> Result<(), LogError> {
    let file = match log {
        Some(path) => Some(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| LogError::Open {
                    path: path.to_path_buf(),
                    source,
                })?,
        )),
        None => None,
    };
    let _ = LOGGER.set(Logger {
        format,
        debug,
        file,
    });
    Ok(())
}

/// Whether records go to a log file (then errors are also printed plainly on stderr).
pub fn has_file() -> bool {
    LOGGER.get().is_some_and(|l| l.file.is_some())
}

fn escape_text(msg: &str) -> String {
    msg.replace('\\', "\\\\").replace('"', "\\\"")
}

/// One log record in the configured format, newline-terminated.
pub fn format_record(format: LogFormat, level: Level, msg: &str, at: SystemTime) -> String {
    let time = timefmt::rfc3339(at);
    match format {
        LogFormat::Json => {
            let rec = serde_json::json!({"level": level.as_str(), "msg": msg, "time": time});
            format!("{rec}\n")
        }
        LogFormat::Text => format!(
            "time=\"{time}\" level={} msg=\"{}\"\n",
            level.as_str(),
            escape_text(msg)
        ),
    }
}

pub fn log(level: Level, msg: &str) {
    let Some(logger) = LOGGER.get() else {
        if level >= Level::Warn {
            eprintln!("berth-runtime: {msg}");
        }
        return;
    };
    if level == Level::Debug && !logger.debug {
        return;
    }
    // Without a log file, our stderr is often the container's stderr (conmon, `run`):
    // only errors go there, unless --debug asks for more.
    if logger.file.is_none() && level < Level::Error && !logger.debug {
        return;
    }
    let rec = format_record(logger.format, level, msg, SystemTime::now());
    match &logger.file {
        Some(file) => {
            if let Ok(mut f) = file.lock() {
                let _ = f.write_all(rec.as_bytes());
            }
        }
        None => {
            let _ = std::io::stderr().write_all(rec.as_bytes());
        }
    }
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}

pub fn error(msg: &str) {
    log(Level::Error, msg)
}

/// With `--debug`, log how long the command has run when it reaches `phase`
/// (the phases of create/start/run/exec, for finding where time goes).
pub fn phase(phase: &str) {
    let start = *START.get_or_init(std::time::Instant::now);
    if LOGGER.get().is_some_and(|l| l.debug) {
        debug(&format!(
            "phase {phase}: {} µs",
            start.elapsed().as_micros()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_record_is_one_object_like_runc() {
        let rec = format_record(
            LogFormat::Json,
            Level::Error,
            "bad \"x\"",
            SystemTime::UNIX_EPOCH,
        );
        let v: serde_json::Value = serde_json::from_str(rec.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "bad \"x\"");
        assert_eq!(v["time"], "1970-01-01T00:00:00Z");
        assert!(rec.ends_with('\n'));
    }

    #[test]
    fn text_record_quotes_message() {
        let rec = format_record(
            LogFormat::Text,
            Level::Warn,
            "a \"b\"",
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(
            rec,
            "time=\"1970-01-01T00:00:00Z\" level=warning msg=\"a \\\"b\\\"\"\n"
        );
    }
}
