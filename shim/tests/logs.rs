//! `berth logs` end to end: containers run by the monitor, their CRI logs
//! read back whole, by --tail, by time, with -t, followed with -f, across
//! rotated files, and 100 MB of lines with none lost.
mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{wait_for, Env};

/// A detached container, killed (through the runtime) when dropped.
struct Running<'a> {
    env: &'a Env,
    id: String,
}

impl<'a> Running<'a> {
    fn start(env: &'a Env, args: &[&str]) -> Running<'a> {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        let id = env.ok(&all).trim().to_string();
        assert_eq!(id.len(), 64, "{id}");
        Running { env, id }
    }

    fn dir(&self) -> PathBuf {
        self.env.root().join("containers").join(&self.id)
    }

    /// Wait for the container to exit and its monitor to finish.
    fn wait_exit(&self, timeout: Duration) {
        let exit = self.dir().join("exit.json");
        let run_dir = self.env.run_root().join(&self.id);
        assert!(
            wait_for(timeout, || exit.exists() && !run_dir.exists()),
            "container {} did not finish in {timeout:?}",
            self.id
        );
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = Command::new(&self.env.runtime)
            .arg("--root")
            .arg(self.env.run_root().join("runtime"))
            .args(["kill", &self.id, "9"])
            .output();
        let run_dir = self.env.run_root().join(&self.id);
        wait_for(Duration::from_secs(10), || !run_dir.exists());
    }
}

const LOOP: &str = "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.05; done";

/// The numbers of `line N` lines, checked to be consecutive.
fn numbers(text: &str) -> Vec<u64> {
    let nums: Vec<u64> = text
        .lines()
        .map(|l| {
            l.strip_prefix("line ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a numbered line: {l:?}"))
        })
        .collect();
    for w in nums.windows(2) {
        assert_eq!(w[1], w[0] + 1, "lines out of order or lost: {nums:?}");
    }
    nums
}

fn wait_lines(env: &Env, name: &str, n: usize) {
    assert!(
        wait_for(Duration::from_secs(20), || env
            .ok(&["logs", name])
            .lines()
            .count()
            >= n),
        "{name} did not log {n} lines"
    );
}

#[test]
fn logs_whole_tail_and_timestamps() {
    let env = Env::new();
    let _c = Running::start(&env, &["--name", "x", "busybox", "sh", "-c", LOOP]);
    wait_lines(&env, "x", 10);
    let all = numbers(&env.ok(&["logs", "x"]));
    assert_eq!(all[0], 0);
    assert!(all.len() >= 10);

    let tail = numbers(&env.ok(&["logs", "--tail", "3", "x"]));
    assert_eq!(tail.len(), 3);
    assert!(tail[0] >= all[all.len() - 3], "{tail:?} {all:?}");
    assert_eq!(numbers(&env.ok(&["logs", "-n", "1", "x"])).len(), 1);
    assert_eq!(env.ok(&["logs", "--tail", "0", "x"]), "");
    assert_eq!(numbers(&env.ok(&["logs", "--tail", "all", "x"]))[0], 0);

    // -t: docker's RFC 3339 with nine fraction digits, UTC; the record's time.
    let stamped = env.ok(&["logs", "-t", "x"]);
    for line in stamped.lines() {
        let (ts, rest) = line.split_once(' ').unwrap();
        let b = ts.as_bytes();
        assert!(
            ts.len() == 30
                && b[4] == b'-'
                && b[10] == b'T'
                && b[19] == b'.'
                && b[29] == b'Z'
                && ts[20..29].bytes().all(|c| c.is_ascii_digit()),
            "{line:?}"
        );
        assert!(rest.starts_with("line "), "{line:?}");
    }
    let log = std::fs::read_to_string(_c.dir().join("ctr.log")).unwrap();
    let raw = log.lines().next().unwrap().split(' ').next().unwrap();
    let shown = stamped.lines().next().unwrap().split(' ').next().unwrap();
    let raw_frac = raw
        .trim_end_matches('Z')
        .split_once('.')
        .map_or("", |x| x.1);
    assert_eq!(&shown[..19], &raw[..19]);
    assert_eq!(
        shown[20..29].trim_end_matches('0'),
        raw_frac.trim_end_matches('0')
    );
    // By id prefix too.
    assert!(env.ok(&["logs", &_c.id[..12]]).starts_with("line 0\n"));
}

#[test]
fn since_and_until_pick_lines_by_time() {
    let env = Env::new();
    let _c = Running::start(&env, &["--name", "x", "busybox", "sh", "-c", LOOP]);
    wait_lines(&env, "x", 12);
    let stamped = env.ok(&["logs", "-t", "x"]);
    let time_of = |n: usize| {
        let line = stamped.lines().nth(n).unwrap();
        assert!(line.ends_with(&format!(" line {n}")), "{line}");
        line.split(' ').next().unwrap().to_string()
    };
    let t5 = time_of(5);
    let since = numbers(&env.ok(&["logs", "--since", &t5, "x"]));
    assert_eq!(since[0], 5, "{since:?}");
    let t8 = time_of(8);
    let window = numbers(&env.ok(&["logs", "--since", &t5, "--until", &t8, "x"]));
    assert_eq!(window, vec![5, 6, 7, 8]);
    // The same instant as unix seconds with a fraction.
    let unix = Command::new("date")
        .args(["-u", "-d", &t5, "+%s.%N"])
        .output()
        .unwrap();
    let unix = String::from_utf8(unix.stdout).unwrap();
    assert_eq!(
        numbers(&env.ok(&["logs", "--since", unix.trim(), "x"]))[0],
        5
    );
    // A duration ago: everything logged in the last hour, nothing from the future.
    assert_eq!(numbers(&env.ok(&["logs", "--since", "1h", "x"]))[0], 0);
    assert_eq!(env.ok(&["logs", "--until", "1h", "x"]), "");

    let err = env.fails(&["logs", "--since", "yesterday", "x"]);
    assert!(
        err.contains("--since") && err.contains("\"yesterday\""),
        "{err}"
    );
    let err = env.fails(&["logs", "--until", "2026-13-01", "x"]);
    assert!(err.contains("\"2026-13-01\""), "{err}");
    let err = env.fails(&["logs", "--tail", "lots", "x"]);
    assert!(err.contains("\"lots\""), "{err}");
    let err = env.fails(&["logs", "nosuch"]);
    assert!(err.contains("no such container: nosuch"), "{err}");
}

#[test]
fn streams_go_to_stdout_and_stderr() {
    let env = Env::new();
    let c = Running::start(
        &env,
        &[
            "--name",
            "s",
            "busybox",
            "sh",
            "-c",
            "echo out1; echo err1 >&2; printf 'par'; sleep 0.1; echo tial; printf end",
        ],
    );
    c.wait_exit(Duration::from_secs(10));
    let out = env.run(&["logs", "s"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out1\npartial\nend\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err1\n");
}

#[test]
fn follow_picks_up_new_lines_and_ends_with_the_container() {
    let env = Env::new();
    let _c = Running::start(&env, &["--name", "x", "busybox", "sh", "-c", LOOP]);
    wait_lines(&env, "x", 3);
    let before = numbers(&env.ok(&["logs", "x"]));
    let mut child = env
        .berth()
        .args(["logs", "-f", "x"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut got = String::new();
    let want = before.last().unwrap() + 10;
    let start = Instant::now();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "logs -f ended");
        got.push_str(&line);
        if line == format!("line {want}\n") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{got}");
    }
    let nums = numbers(&got);
    assert_eq!(nums[0], 0);
    child.kill().unwrap();
    child.wait().unwrap();

    // A container that ends: -f reads it all and exits 0 on its own.
    let c = Running::start(
        &env,
        &[
            "--name",
            "short",
            "busybox",
            "sh",
            "-c",
            "for i in 0 1 2 3 4 5; do echo line $i; sleep 0.2; done",
        ],
    );
    let start = Instant::now();
    let out = env.berth().args(["logs", "-f", "short"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        numbers(&String::from_utf8_lossy(&out.stdout)),
        vec![0, 1, 2, 3, 4, 5]
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    c.wait_exit(Duration::from_secs(10));
    // Of a stopped container, -f is just logs.
    let out = env.ok(&["logs", "-f", "--tail", "2", "short"]);
    assert_eq!(out, "line 4\nline 5\n");
}

/// `awk` printing lines `000000001 xxx...` of `width` bytes, `n` of them.
fn numbered_lines(n: u64, width: usize) -> String {
    format!(
        "awk 'BEGIN {{ pad = sprintf(\"%{}s\", \"\"); gsub(/ /, \"x\", pad); \
         for (i = 1; i <= {n}; i++) printf \"%09d %s\\n\", i, pad }}'",
        width - 11
    )
}

/// Check `text` is exactly lines `first..=last` of [`numbered_lines`].
fn check_numbered(text: &[u8], first: u64, last: u64, width: usize) {
    let mut want = first;
    for line in text.split(|b| *b == b'\n') {
        if line.is_empty() && want == last + 1 {
            continue; // after the final newline
        }
        let n: u64 = std::str::from_utf8(&line[..9.min(line.len())])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "line {want}: not numbered: {:?}",
                    String::from_utf8_lossy(line)
                )
            });
        assert_eq!(n, want, "lines lost or out of order");
        assert_eq!(line.len() + 1, width, "line {n}");
        want += 1;
    }
    assert_eq!(want, last + 1, "the last line");
}

#[test]
fn a_hundred_megabytes_of_lines_none_lost() {
    let env = Env::new();
    let width = 100;
    let n = 1_000_000; // 100 MB
    let t = Instant::now();
    let c = Running::start(
        &env,
        &[
            "--name",
            "big",
            "busybox",
            "sh",
            "-c",
            &numbered_lines(n, width),
        ],
    );
    c.wait_exit(Duration::from_secs(300));
    eprintln!("100 MB logged in {:?}", t.elapsed());
    let t = Instant::now();
    let out = env
        .berth()
        .args(["logs", "big"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(out.status.success());
    eprintln!(
        "berth logs: {} MB in {took:?} ({:.0} MB/s)",
        out.stdout.len() >> 20,
        out.stdout.len() as f64 / 1e6 / took.as_secs_f64()
    );
    check_numbered(&out.stdout, 1, n, width);
    let t = Instant::now();
    let tail = env.ok(&["logs", "--tail", "5", "big"]);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    check_numbered(tail.as_bytes(), n - 4, n, width);
    // A reader that stops early (`| head`) ends it quietly.
    let mut child = env
        .berth()
        .args(["logs", "big"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("000000001 "));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn rotated_logs_are_read_across_files() {
    let env = Env::new();
    let width = 100;
    let n = 25_000; // 2.5 MB of output, 3.4 MB of log: ctr.log, .1 and .2 are full
    let c = Running::start(
        &env,
        &[
            "--name",
            "rot",
            "--log-opt",
            "max-size=1m",
            "--log-opt",
            "max-file=3",
            "busybox",
            "sh",
            "-c",
            &format!("sleep 1; {}", numbered_lines(n, width)),
        ],
    );
    // Followed from the start, while it rotates.
    let follow = env
        .berth()
        .args(["logs", "-f", "rot"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(follow.status.success());
    check_numbered(&follow.stdout, 1, n, width);
    c.wait_exit(Duration::from_secs(60));

    let log = c.dir().join("ctr.log");
    let rotated = |k: u32| PathBuf::from(format!("{}.{k}", log.display()));
    assert!(rotated(1).exists() && rotated(2).exists() && !rotated(3).exists());
    for p in [log.clone(), rotated(1), rotated(2)] {
        assert!(std::fs::metadata(&p).unwrap().len() <= 1 << 20, "{p:?}");
    }
    // What is kept is the newest lines, in order across the files.
    let out = env.run(&["logs", "rot"]).stdout;
    let first: u64 = std::str::from_utf8(&out[..9]).unwrap().parse().unwrap();
    assert!(first > 1, "the oldest file was dropped");
    check_numbered(&out, first, n, width);
    // --tail reaching back into ctr.log.2.
    let current = std::fs::read_to_string(&log).unwrap().lines().count() as u64;
    let one = std::fs::read_to_string(rotated(1)).unwrap().lines().count() as u64;
    let k = current + one + 5;
    let tail = env.ok(&["logs", "--tail", &k.to_string(), "rot"]);
    check_numbered(tail.as_bytes(), n - k + 1, n, width);
}
