//! A typed argv client for runc-compatible runtimes (berth-runtime, runc,
//! crun): the commands and flags engines use, the JSON they print, and the
//! runtime's own error message when one fails.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot run the OCI runtime {}: {source}", .path.display())]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} {command} failed: {message}", .path.display())]
    Failed {
        path: PathBuf,
        command: String,
        /// The runtime's error message (its last error line).
        message: String,
        status: Option<i32>,
    },
    #[error("{} {command}: unexpected output: {reason}", .path.display())]
    Output {
        path: PathBuf,
        command: String,
        reason: String,
    },
}

impl RuntimeError {
    /// Whether the runtime said the container does not exist.
    pub fn not_found(&self) -> bool {
        matches!(self, RuntimeError::Failed { message, .. }
            if message.contains("does not exist") || message.contains("not found")
                || message.contains("No such file"))
    }
}

/// What `state` prints (runc's shape; `status` also takes "paused").
#[derive(Debug, Clone, Deserialize)]
pub struct State {
    pub id: String,
    #[serde(default)]
    pub pid: i32,
    pub status: String,
    #[serde(default)]
    pub bundle: PathBuf,
}

/// `create` flags.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
}

/// `exec` flags.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub tty: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
}

/// One runtime binary with its global flags.
#[derive(Debug, Clone)]
pub struct Runtime {
    path: PathBuf,
    root: PathBuf,
    log: Option<PathBuf>,
}

impl Runtime {
    /// `path` is a name looked up on $PATH or a path; `root` is its `--root`.
    pub fn new(path: impl Into<PathBuf>, root: impl Into<PathBuf>) -> Runtime {
        Runtime {
            path: path.into(),
            root: root.into(),
            log: None,
        }
    }

    /// Pass `--log FILE --log-format json` (runc's error extraction).
    pub fn with_log(mut self, log: impl Into<PathBuf>) -> Runtime {
        self.log = Some(log.into());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The runtime with its global flags, ready for a subcommand.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.arg("--root").arg(&self.root);
        if let Some(log) = &self.log {
            cmd.arg("--log").arg(log).arg("--log-format").arg("json");
        }
        cmd
    }

    /// `create --bundle B [--pid-file P] [--console-socket S] [--no-pivot] ID`;
    /// the caller sets stdio and runs it (see [`Runtime::check`]).
    pub fn create_command(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Command {
        let mut cmd = self.command();
        cmd.arg("create").arg("--bundle").arg(bundle);
        if let Some(p) = &opts.pid_file {
            cmd.arg("--pid-file").arg(p);
        }
        if let Some(s) = &opts.console_socket {
            cmd.arg("--console-socket").arg(s);
        }
        if opts.no_pivot {
            cmd.arg("--no-pivot");
        }
        cmd.arg(id);
        cmd
    }

    /// `exec --process FILE [--tty] [--detach] [--pid-file] [--console-socket] ID`.
    pub fn exec_command(&self, id: &str, process: &Path, opts: &ExecOptions) -> Command {
        let mut cmd = self.command();
        cmd.arg("exec").arg("--process").arg(process);
        if opts.tty {
            cmd.arg("--tty");
        }
        if opts.detach {
            cmd.arg("--detach");
        }
        if let Some(p) = &opts.pid_file {
            cmd.arg("--pid-file").arg(p);
        }
        if let Some(s) = &opts.console_socket {
            cmd.arg("--console-socket").arg(s);
        }
        cmd.arg(id);
        cmd
    }

    /// Whether the runtime may hold state for `id`: runc, crun and
    /// berth-runtime keep a directory per container under `--root`, so
    /// without it there is nothing to ask about or delete (and no process
    /// to spawn for the answer).
    pub fn has_state(&self, id: &str) -> bool {
        self.root.join(id).exists()
    }

    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.run(&["start", id]).map(drop)
    }

    pub fn state(&self, id: &str) -> Result<State, RuntimeError> {
        let out = self.run(&["state", id])?;
        self.parse("state", &out.stdout)
    }

    /// `kill [--all] ID SIGNAL` with the signal as a number.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), RuntimeError> {
        let sig = signal.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, sig.as_str()]);
        self.run(&args).map(drop)
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        if force {
            self.run(&["delete", "--force", id]).map(drop)
        } else {
            self.run(&["delete", id]).map(drop)
        }
    }

    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.run(&["pause", id]).map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.run(&["resume", id]).map(drop)
    }

    /// The container's pids (`ps --format json`).
    pub fn ps(&self, id: &str) -> Result<Vec<i32>, RuntimeError> {
        let out = self.run(&["ps", "--format", "json", id])?;
        self.parse("ps", &out.stdout)
    }

    /// One `events --stats` sample (runc's JSON: `{"type":"stats","data":{...}}`).
    pub fn stats(&self, id: &str) -> Result<serde_json::Value, RuntimeError> {
        let out = self.run(&["events", "--stats", id])?;
        self.parse("events --stats", &out.stdout)
    }

    /// `update --resources FILE ID`.
    pub fn update(&self, id: &str, resources: &Path) -> Result<(), RuntimeError> {
        let mut cmd = self.command();
        cmd.arg("update").arg("--resources").arg(resources).arg(id);
        self.check(cmd, "update").map(drop)
    }

    /// Run a subcommand with captured output; a non-zero exit becomes
    /// [`RuntimeError::Failed`] with the runtime's message.
    pub fn run(&self, args: &[&str]) -> Result<Output, RuntimeError> {
        let mut cmd = self.command();
        cmd.args(args);
        self.check(cmd, args.first().copied().unwrap_or(""))
    }

    /// Run `cmd` (stdin null unless set), capturing stdout and stderr.
    pub fn check(&self, mut cmd: Command, what: &str) -> Result<Output, RuntimeError> {
        let out = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| RuntimeError::Spawn {
                path: self.path.clone(),
                source,
            })?;
        if out.status.success() {
            return Ok(out);
        }
        Err(self.failure(what, out.status.code(), &out.stderr))
    }

    /// The error for a failed `command`, from its stderr (or the JSON log).
    pub fn failure(&self, command: &str, status: Option<i32>, stderr: &[u8]) -> RuntimeError {
        RuntimeError::Failed {
            path: self.path.clone(),
            command: command.to_string(),
            message: error_message(stderr, self.log.as_deref()),
            status,
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        command: &str,
        stdout: &[u8],
    ) -> Result<T, RuntimeError> {
        serde_json::from_slice(stdout).map_err(|e| RuntimeError::Output {
            path: self.path.clone(),
            command: command.to_string(),
            reason: e.to_string(),
        })
    }
}

/// The runtime's last error: the last `"level":"error"` line of its JSON log
/// (what containerd reads), else the last stderr line, with runc's logrus
/// text form (`time=... level=error msg="..."`) reduced to its message.
pub fn error_message(stderr: &[u8], log: Option<&Path>) -> String {
    if let Some(msg) = log
        .and_then(|l| std::fs::read(l).ok())
        .and_then(|text| last_json_error(&text))
    {
        return msg;
    }
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    if let Some(msg) = last_json_error(line.as_bytes()) {
        return msg;
    }
    match line.find("msg=\"") {
        Some(i) => {
            let rest = &line[i + 5..];
            let end = rest.rfind('"').unwrap_or(rest.len());
            rest[..end].replace("\\\"", "\"")
        }
        None if line.is_empty() => "(no message)".to_string(),
        None => line.trim().to_string(),
    }
}

fn last_json_error(text: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Line {
        level: String,
        msg: String,
    }
    String::from_utf8_lossy(text)
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .find(|l| l.level == "error")
        .map(|l| l.msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_runc_and_json_logs() {
        let runc = b"time=\"2026-01-01T00:00:00Z\" level=error msg=\"container \\\"x\\\" does not exist\"\n";
        assert_eq!(error_message(runc, None), "container \"x\" does not exist");
        let json = b"{\"level\":\"info\",\"msg\":\"a\"}\n{\"level\":\"error\",\"msg\":\"boom\",\"time\":\"t\"}\n";
        assert_eq!(error_message(json, None), "boom");
        assert_eq!(error_message(b"plain failure\n\n", None), "plain failure");
        assert_eq!(error_message(b"", None), "(no message)");
    }
}
