//! The reading side of CRI logs (`berth logs`): records parsed, `P...F`
//! pieces joined into lines, rotated files read oldest first, `--tail`
//! found by reading backwards in blocks, `--since`/`--until` filters, and
//! `-f` following the file across rotations.
//!
//! A line's time is the time of its first record. Lines go to `out` or
//! `err` by their stream; a line still without its `F` record when the end
//! is reached is written as it is (no newline added), as docker shows a
//! prompt. A closed output (EPIPE, `| head`) ends reading quietly.
use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::time::{format_rfc3339_nano_fixed, parse_rfc3339, parse_time_arg, system_nanos};
use super::{rotated, LogError, Stream};

/// What `berth logs` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Only the last N lines (`F` records) of the log.
    pub tail: Option<u64>,
    /// Only lines at or after this time (ns since the epoch).
    pub since: Option<i64>,
    /// Only lines at or before this time; reading stops at the first later one.
    pub until: Option<i64>,
    /// Prefix each line with its time (RFC 3339, nine fraction digits, UTC).
    pub timestamps: bool,
    /// Keep reading what is written after the end.
    pub follow: bool,
}

/// One CRI record: `<time> <stream> <P|F> <content>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub time: &'a [u8],
    pub stream: Stream,
    /// `P`: the line continues in the stream's next record.
    pub partial: bool,
    pub content: &'a [u8],
}

/// Parse one record (without its newline); None if it is not one. The
/// time is not checked here (see [`parse_rfc3339`]).
pub fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let sp = memchr::memchr(b' ', line)?;
    let (time, rest) = (&line[..sp], &line[sp + 1..]);
    let stream = match rest.get(..7)? {
        b"stdout " => Stream::Stdout,
        b"stderr " => Stream::Stderr,
        _ => return None,
    };
    let partial = match rest.get(7)? {
        b'F' => false,
        b'P' => true,
        _ => return None,
    };
    let content = match rest.get(8) {
        None => &[][..],
        Some(b' ') => &rest[9..],
        Some(_) => return None,
    };
    Some(Record {
        time,
        stream,
        partial,
        content,
    })
}

/// `--tail`: `all` or a number of lines.
pub fn parse_tail(value: &str) -> Result<Option<u64>, LogError> {
    match value.trim() {
        "all" | "" => Ok(None),
        v => match v.parse::<i64>() {
            Ok(n) if n < 0 => Ok(None), // docker: a negative tail is all
            Ok(n) => Ok(Some(n as u64)),
            Err(_) => Err(LogError::BadValue {
                flag: "--tail",
                value: value.to_string(),
                reason: "expected a number of lines or \"all\"".to_string(),
            }),
        },
    }
}

/// `--since`/`--until` (`flag` names which, for the error).
pub fn parse_time(flag: &'static str, value: &str, now: SystemTime) -> Result<i64, LogError> {
    parse_time_arg(value, now).ok_or_else(|| LogError::BadValue {
        flag,
        value: value.to_string(),
        reason: "expected an RFC 3339 time (2026-01-02T15:04:05Z, 2026-01-02T15:04:05.5+01:00), \
                 a date (2026-01-02), unix seconds (1767323045.5) or a duration ago (90s, 10m, 1h30m)"
            .to_string(),
    })
}

/// Write `log`'s lines (its rotated files first) to `out` and `err` per
/// `opts`. When following, `alive` is asked now and then whether anything
/// may still write to the log; once it says no, what is left is read and
/// the function returns.
pub fn read_logs<O: Write, E: Write>(
    log: &Path,
    opts: &ReadOptions,
    out: &mut O,
    err: &mut E,
    alive: impl FnMut() -> bool,
) -> Result<(), LogError> {
    let mut sink = Sink::new(opts, out, err);
    let result = run(log, opts, &mut sink, alive);
    let result = result.and_then(|()| sink.finish());
    match result {
        Ok(()) | Err(Halt::Done) => Ok(()),
        Err(Halt::Fail(e)) => Err(e),
    }
}

/// Why reading stops early.
enum Halt {
    /// Nothing more to do: `--until` passed, or the output was closed.
    Done,
    Fail(LogError),
}

impl From<LogError> for Halt {
    fn from(e: LogError) -> Halt {
        Halt::Fail(e)
    }
}

type Flow = Result<(), Halt>;

fn run(
    log: &Path,
    opts: &ReadOptions,
    sink: &mut Sink<'_, impl Write, impl Write>,
    mut alive: impl FnMut() -> bool,
) -> Flow {
    let mut files: VecDeque<LogFile> = open_files(log)?.into();
    if let Some(n) = opts.tail {
        let start = tail_start(files.make_contiguous(), n)?;
        files.drain(..start.file);
        if let Some(f) = files.front_mut() {
            f.file
                .seek(SeekFrom::Start(start.offset))
                .map_err(LogError::io("seek", &f.path))?;
        }
        sink.skip = start.skip;
    }
    let mut cur = files.pop_front().map(Cursor::new);
    if !opts.follow {
        while let Some(c) = cur.as_mut() {
            c.pump(sink)?;
            cur = files.pop_front().map(Cursor::new);
        }
        return Ok(());
    }

    let mut waiter = Waiter::new(log);
    let mut last_check: Option<Instant> = None;
    let mut last_pass = false;
    loop {
        if let Some(c) = cur.as_mut() {
            c.pump(sink)?;
        }
        if let Some(next) = files.pop_front() {
            cur = Some(Cursor::new(next));
            continue;
        }
        // At the end of the newest file known: has it been rotated?
        let mut idle = true;
        match &mut cur {
            None => {
                files = open_files(log)?.into();
                idle = files.is_empty();
            }
            Some(c) if c.file.is_current(log) => {}
            Some(c) => {
                // Rotated: nothing more is written to it; finish it, then go
                // on with the file written after it.
                c.pump(sink)?;
                match successor(log, c.file.id)? {
                    Next::File(f) => {
                        cur = Some(Cursor::new(f));
                        idle = false;
                    }
                    Next::Deleted => {
                        // Removed by rotation: every file there is newer.
                        files = open_files(log)?.into();
                        cur = None;
                        idle = false;
                    }
                    Next::Retry => {} // mid-rotation: look again shortly
                }
            }
        }
        if !idle {
            continue;
        }
        if last_pass {
            return Ok(());
        }
        if opts
            .until
            .is_some_and(|u| system_nanos(SystemTime::now()) > u)
        {
            last_pass = true;
            continue;
        }
        if !matches!(last_check, Some(t) if t.elapsed() < Duration::from_millis(200)) {
            last_check = Some(Instant::now());
            // Asked before the last pass, so what was written before the
            // writer went away is read.
            if !alive() {
                last_pass = true;
                continue;
            }
        }
        sink.flush()?;
        waiter.wait(Duration::from_millis(200));
    }
}

/// An open log file and its identity (device, inode).
struct LogFile {
    file: File,
    path: PathBuf,
    id: (u64, u64),
}

impl LogFile {
    fn open(path: &Path) -> std::io::Result<LogFile> {
        let file = File::open(path)?;
        let m = file.metadata()?;
        Ok(LogFile {
            file,
            path: path.to_path_buf(),
            id: (m.dev(), m.ino()),
        })
    }

    /// Whether `log` still names this file.
    fn is_current(&self, log: &Path) -> bool {
        file_id(log) == Some(self.id)
    }
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The highest `N` of the `log.N` files there.
fn max_rotated(log: &Path) -> u32 {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name()) else {
        return 0;
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix(&prefix)?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

/// Open `log` and its rotated files, oldest first. They are opened newest
/// first: a rotation meanwhile moves files to higher numbers, so a file may
/// be met twice (kept once) but none is missed.
fn open_files(log: &Path) -> Result<Vec<LogFile>, LogError> {
    let max = max_rotated(log);
    let mut files: Vec<LogFile> = Vec::new();
    let mut k = 0;
    loop {
        let path = if k == 0 {
            log.to_path_buf()
        } else {
            rotated(log, k)
        };
        match LogFile::open(&path) {
            Ok(f) => {
                if !files.iter().any(|g| g.id == f.id) {
                    files.push(f);
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if k > max {
                    break;
                }
            }
            Err(e) => return Err(LogError::io("open", &path)(e)),
        }
        k += 1;
    }
    files.reverse();
    Ok(files)
}

enum Next {
    File(LogFile),
    /// The file is gone (rotated away beyond max-file, or max-file is 1).
    Deleted,
    /// A rotation is under way.
    Retry,
}

/// The file written after the (rotated) file `id`: if `id` is `log.k` now,
/// `log.(k-1)` (or `log`), provided `id` is still `log.k` after that was
/// opened (renames go from the highest number down, so no rotation slipped
/// in between).
fn successor(log: &Path, id: (u64, u64)) -> Result<Next, LogError> {
    let max = max_rotated(log);
    let mut k = 1;
    loop {
        let path = rotated(log, k);
        match file_id(&path) {
            Some(found) if found == id => {
                let newer = if k == 1 {
                    log.to_path_buf()
                } else {
                    rotated(log, k - 1)
                };
                let f = match LogFile::open(&newer) {
                    Ok(f) => f,
                    Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Next::Retry),
                    Err(e) => return Err(LogError::io("open", &newer)(e)),
                };
                return Ok(if file_id(&path) == Some(id) {
                    Next::File(f)
                } else {
                    Next::Retry
                });
            }
            None if k > max + 1 => return Ok(Next::Deleted),
            _ => k += 1,
        }
    }
}

/// Where `--tail N` starts: reading from `offset` of `files[file]`, the
/// first `skip` lines finished are not shown (lines of another stream that
/// end between the start of an interleaved partial line and the N-th last).
#[derive(Debug, PartialEq, Eq)]
struct TailStart {
    file: usize,
    offset: u64,
    skip: u64,
}

/// Read the files backwards in blocks, counting `F` records, to the
/// earliest record that belongs to one of the last `n` lines (or to a line
/// still open at the end).
fn tail_start(files: &[LogFile], n: u64) -> Result<TailStart, LogError> {
    let Some(last) = files.len().checked_sub(1) else {
        return Ok(TailStart {
            file: 0,
            offset: 0,
            skip: 0,
        });
    };
    let mut start = TailStart {
        file: last,
        offset: 0,
        skip: 0,
    };
    let mut count = 0u64;
    let mut seen_full = [false; 2];
    let mut open = [false; 2];
    let mut pending_skip = 0u64;
    let mut done = false;
    for (i, f) in files.iter().enumerate().rev() {
        let end = scan_back(f, |offset, line| {
            let Some(rec) = parse_record(line) else {
                return true;
            };
            let s = idx(rec.stream);
            let mut belongs = false;
            if !rec.partial {
                seen_full[s] = true;
                if count < n {
                    count += 1;
                    open[s] = true;
                    belongs = true;
                } else {
                    open[s] = false;
                    pending_skip += 1;
                }
            } else if !seen_full[s] || open[s] {
                open[s] = true;
                belongs = true;
            }
            if belongs {
                start = TailStart {
                    file: i,
                    offset,
                    skip: start.skip + pending_skip,
                };
                pending_skip = 0;
            }
            done = count == n && !open[0] && !open[1];
            !done
        })?;
        if i == last
            && start.file == last
            && start.offset == 0
            && count == 0
            && !open.contains(&true)
        {
            // Nothing belongs: start after the last whole record.
            start.offset = end;
        }
        if done {
            break;
        }
    }
    Ok(start)
}

/// Call `f(offset, line)` for each whole record of `f` (ending in a
/// newline), last first, until it returns false. Returns the end of the
/// last whole record.
fn scan_back(f: &LogFile, mut each: impl FnMut(u64, &[u8]) -> bool) -> Result<u64, LogError> {
    const BLOCK: u64 = 1 << 16;
    let size = f
        .file
        .metadata()
        .map_err(LogError::io("stat", &f.path))?
        .len();
    let mut pos = size;
    // File bytes [pos, pos + carry.len()) not yet handed out.
    let mut carry: Vec<u8> = Vec::new();
    let mut end = None;
    while pos > 0 {
        let n = BLOCK.min(pos);
        pos -= n;
        let mut block = vec![0u8; n as usize];
        f.file
            .read_exact_at(&mut block, pos)
            .map_err(LogError::io("read", &f.path))?;
        block.extend_from_slice(&carry);
        carry = block;
        if end.is_none() {
            // A torn record at the very end (being written) is not whole.
            match memchr::memrchr(b'\n', &carry) {
                Some(i) => {
                    carry.truncate(i + 1);
                    end = Some(pos + i as u64 + 1);
                }
                None => continue,
            }
        }
        loop {
            let body = &carry[..carry.len() - 1];
            match memchr::memrchr(b'\n', body) {
                Some(j) => {
                    if !each(pos + j as u64 + 1, &body[j + 1..]) {
                        return Ok(end.unwrap_or(0));
                    }
                    carry.truncate(j + 1);
                }
                None if pos == 0 => {
                    each(0, body);
                    return Ok(end.unwrap_or(0));
                }
                None => break,
            }
        }
    }
    Ok(end.unwrap_or(0))
}

fn idx(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

/// Reads one file forwards in big blocks, handing whole records to the sink.
struct Cursor {
    file: LogFile,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

const READ_BLOCK: usize = 1 << 20;

impl Cursor {
    fn new(file: LogFile) -> Cursor {
        Cursor {
            file,
            buf: vec![0; READ_BLOCK],
            start: 0,
            end: 0,
        }
    }

    /// Read to the end of the file as it is now. A record not yet whole
    /// stays for the next call.
    fn pump(&mut self, sink: &mut Sink<'_, impl Write, impl Write>) -> Flow {
        loop {
            if self.end == self.buf.len() {
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                } else {
                    // One record longer than the buffer.
                    self.buf.resize(self.buf.len() * 2, 0);
                }
            }
            let n = match self.file.file.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(LogError::io("read", &self.file.path)(e).into()),
            };
            let mut at = self.end;
            self.end += n;
            while let Some(i) = memchr::memchr(b'\n', &self.buf[at..self.end]) {
                let line = &self.buf[self.start..at + i];
                if let Some(rec) = parse_record(line) {
                    sink.record(rec)?;
                }
                self.start = at + i + 1;
                at = self.start;
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
        }
    }
}

/// A line being assembled from `P` records.
#[derive(Default)]
struct Pending {
    /// A `P` record was seen.
    active: bool,
    /// Its start was already written (the line outgrew `PENDING_MAX`).
    written: bool,
    time: i64,
    buf: Vec<u8>,
}

/// A line without its end yet is written out once it is this long.
const PENDING_MAX: usize = 1 << 20;

/// Joins pieces into lines, filters them and writes them out.
struct Sink<'w, O: Write, E: Write> {
    out: &'w mut O,
    err: &'w mut E,
    timestamps: bool,
    since: Option<i64>,
    until: Option<i64>,
    /// Lines still to drop (see [`TailStart`]).
    skip: u64,
    pending: [Pending; 2],
    /// The stream written last, flushed before the other one is written to
    /// (so a terminal shows both in order).
    last: Option<usize>,
    /// The last record time seen and its value.
    time_raw: Vec<u8>,
    time: i64,
    /// The last `-t` prefix written and its time.
    prefix: Vec<u8>,
    prefix_time: Option<i64>,
}

impl<'w, O: Write, E: Write> Sink<'w, O, E> {
    fn new(opts: &ReadOptions, out: &'w mut O, err: &'w mut E) -> Self {
        Sink {
            out,
            err,
            timestamps: opts.timestamps,
            since: opts.since,
            until: opts.until,
            skip: 0,
            pending: Default::default(),
            last: None,
            time_raw: Vec::new(),
            time: 0,
            prefix: Vec::new(),
            prefix_time: None,
        }
    }

    fn record(&mut self, rec: Record<'_>) -> Flow {
        // Records of one write share their time: parse it once.
        if rec.time != self.time_raw.as_slice() {
            let Some(t) = parse_rfc3339(rec.time) else {
                return Ok(()); // not a record
            };
            self.time_raw.clear();
            self.time_raw.extend_from_slice(rec.time);
            self.time = t;
        }
        let t = self.time;
        let s = idx(rec.stream);
        let p = &mut self.pending[s];
        if rec.partial {
            if !p.active {
                p.active = true;
                p.time = t;
            }
            p.buf.extend_from_slice(rec.content);
            if p.buf.len() >= PENDING_MAX && self.skip == 0 {
                let time = p.time;
                if self.wanted(time)? {
                    self.write_piece(s, time, b"")?;
                }
            }
            return Ok(());
        }
        let time = if p.active { p.time } else { t };
        if self.skip > 0 {
            self.skip -= 1;
            self.pending[s] = Pending::default();
            return Ok(());
        }
        if self.wanted(time)? {
            self.write_piece(s, time, rec.content)?;
            self.write(s, b"\n")?;
        }
        let p = &mut self.pending[s];
        p.active = false;
        p.written = false;
        p.buf.clear();
        Ok(())
    }

    /// Whether a line of `time` is shown; past `--until` reading ends.
    fn wanted(&self, time: i64) -> Result<bool, Halt> {
        if self.until.is_some_and(|u| time > u) {
            return Err(Halt::Done);
        }
        Ok(!matches!(self.since, Some(s) if time < s))
    }

    /// Write the pending start of stream `s`'s line (with its prefix if it
    /// was not written yet), then `rest`.
    fn write_piece(&mut self, s: usize, time: i64, rest: &[u8]) -> Flow {
        if self.timestamps && !self.pending[s].written {
            if self.prefix_time != Some(time) {
                self.prefix.clear();
                format_rfc3339_nano_fixed(time, &mut self.prefix);
                self.prefix.push(b' ');
                self.prefix_time = Some(time);
            }
            let prefix = std::mem::take(&mut self.prefix);
            let r = self.write(s, &prefix);
            self.prefix = prefix;
            r?;
        }
        let buf = std::mem::take(&mut self.pending[s].buf);
        let r = self.write(s, &buf).and_then(|()| self.write(s, rest));
        self.pending[s].buf = buf;
        self.pending[s].buf.clear();
        self.pending[s].written = true;
        r
    }

    fn write(&mut self, s: usize, data: &[u8]) -> Flow {
        if self.last != Some(s) {
            if self.last.is_some() {
                self.flush_one(1 - s)?;
            }
            self.last = Some(s);
        }
        let r = if s == 0 {
            self.out.write_all(data)
        } else {
            self.err.write_all(data)
        };
        r.map_err(|e| output_error(s, e))
    }

    fn flush_one(&mut self, s: usize) -> Flow {
        let r = if s == 0 {
            self.out.flush()
        } else {
            self.err.flush()
        };
        r.map_err(|e| output_error(s, e))
    }

    fn flush(&mut self) -> Flow {
        self.flush_one(0)?;
        self.flush_one(1)
    }

    /// The end: lines still open are written as they are.
    fn finish(&mut self) -> Flow {
        for s in 0..2 {
            let p = &self.pending[s];
            if p.active && self.skip == 0 && (!p.buf.is_empty() || !p.written) {
                let time = p.time;
                if self.wanted(time)? {
                    self.write_piece(s, time, b"")?;
                }
            }
        }
        self.flush()
    }
}

fn output_error(s: usize, e: std::io::Error) -> Halt {
    if e.kind() == ErrorKind::BrokenPipe {
        return Halt::Done;
    }
    let name = if s == 0 { "stdout" } else { "stderr" };
    Halt::Fail(LogError::Io {
        op: "write",
        path: PathBuf::from(name),
        source: e,
    })
}

/// Sleeps until the log's directory changes (inotify), or 100 ms polls
/// where inotify is not to be had.
struct Waiter {
    inotify: Option<nix::sys::inotify::Inotify>,
}

impl Waiter {
    fn new(log: &Path) -> Waiter {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let dir = log.parent().unwrap_or(Path::new("."));
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .ok()
            .filter(|i| {
                i.add_watch(
                    dir,
                    AddWatchFlags::IN_MODIFY
                        | AddWatchFlags::IN_CREATE
                        | AddWatchFlags::IN_MOVED_TO
                        | AddWatchFlags::IN_MOVED_FROM
                        | AddWatchFlags::IN_DELETE
                        | AddWatchFlags::IN_CLOSE_WRITE,
                )
                .is_ok()
            });
        Waiter { inotify }
    }

    fn wait(&mut self, timeout: Duration) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let Some(ino) = &self.inotify else {
            std::thread::sleep(timeout.min(Duration::from_millis(100)));
            return;
        };
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(ino.as_fd(), PollFlags::POLLIN)];
        if matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0) {
            while matches!(ino.read_events(), Ok(ev) if !ev.is_empty()) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{LogOptions, LogWriter};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    const T0: &str = "2026-01-02T03:04:05.000000001Z";

    fn rec(t: &str, stream: &str, tag: &str, content: &str) -> String {
        format!("{t} {stream} {tag} {content}\n")
    }

    fn read(log: &Path, opts: &ReadOptions) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        read_logs(log, opts, &mut out, &mut err, || false).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    fn tail(n: u64) -> ReadOptions {
        ReadOptions {
            tail: Some(n),
            ..Default::default()
        }
    }

    #[test]
    fn records_parse() {
        let r = parse_record(b"2026-01-02T03:04:05Z stdout F hello world").unwrap();
        assert_eq!(r.time, b"2026-01-02T03:04:05Z");
        assert_eq!(r.stream, Stream::Stdout);
        assert!(!r.partial);
        assert_eq!(r.content, b"hello world");
        let r = parse_record(b"2026-01-02T03:04:05Z stderr P  two  ").unwrap();
        assert_eq!(
            (r.stream, r.partial, r.content),
            (Stream::Stderr, true, &b" two  "[..])
        );
        assert_eq!(
            parse_record(b"2026-01-02T03:04:05Z stdout F")
                .unwrap()
                .content,
            b""
        );
        for bad in [
            &b""[..],
            b"2026-01-02T03:04:05Z",
            b"2026-01-02T03:04:05Z stdin F x",
            b"2026-01-02T03:04:05Z stdout X x",
            b"2026-01-02T03:04:05Z stdout Fx",
        ] {
            assert!(
                parse_record(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn tail_and_time_values() {
        assert_eq!(parse_tail("all").unwrap(), None);
        assert_eq!(parse_tail("3").unwrap(), Some(3));
        assert_eq!(parse_tail("-1").unwrap(), None);
        let e = parse_tail("three").unwrap_err().to_string();
        assert!(e.contains("--tail") && e.contains("\"three\""), "{e}");
        let now = SystemTime::now();
        let e = parse_time("--since", "yesterday", now)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--since") && e.contains("\"yesterday\"") && e.contains("10m"),
            "{e}"
        );
        assert!(parse_time("--until", "2026-01-02", now).is_ok());
    }

    #[test]
    fn partial_records_join_into_lines_per_stream() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ctr.log");
        let t1 = "2026-01-02T03:04:06+01:00";
        let data = [
            rec(T0, "stdout", "F", "one"),
            rec(T0, "stdout", "P", "tw"),
            rec(T0, "stderr", "F", "err"),
            rec(t1, "stdout", "P", "o "),
            rec(t1, "stdout", "F", "done"),
            "garbage line\n".to_string(),
            rec(t1, "stdout", "F", ""),
            rec(t1, "stderr", "P", "prompt> "),
        ]
        .concat();
        std::fs::write(&log, data).unwrap();
        let (out, err) = read(&log, &ReadOptions::default());
        assert_eq!(out, "one\ntwo done\n\n");
        assert_eq!(err, "err\nprompt> ");
        // -t: a joined line has its first piece's time.
        let (out, err) = read(
            &log,
            &ReadOptions {
                timestamps: true,
                ..Default::default()
            },
        );
        assert_eq!(
            out,
            "2026-01-02T03:04:05.000000001Z one\n\
             2026-01-02T03:04:05.000000001Z two done\n\
             2026-01-02T02:04:06.000000000Z \n"
        );
        assert_eq!(
            err,
            "2026-01-02T03:04:05.000000001Z err\n2026-01-02T02:04:06.000000000Z prompt> "
        );
    }

    #[test]
    fn torn_last_record_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ctr.log");
        let mut data = rec(T0, "stdout", "F", "a");
        data.push_str("2026-01-02T03:04:05Z stdout F tor");
        std::fs::write(&log, data).unwrap();
        assert_eq!(read(&log, &ReadOptions::default()).0, "a\n");
        assert_eq!(read(&log, &tail(1)).0, "a\n");
        assert_eq!(read(&log, &tail(0)).0, "");
    }

    /// `ctr.log.2`, `.1` and `ctr.log` with lines 0..30 (10 per file).
    fn rotated_set(dir: &Path) -> PathBuf {
        let log = dir.join("ctr.log");
        for (f, path) in [rotated(&log, 2), rotated(&log, 1), log.clone()]
            .iter()
            .enumerate()
        {
            let data: String = (f * 10..f * 10 + 10)
                .map(|i| rec(T0, "stdout", "F", &format!("line {i}")))
                .collect();
            std::fs::write(path, data).unwrap();
        }
        log
    }

    fn lines(range: std::ops::Range<usize>) -> String {
        range.map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn rotated_files_in_order_and_tail_across_them() {
        let dir = tempfile::tempdir().unwrap();
        let log = rotated_set(dir.path());
        assert_eq!(read(&log, &ReadOptions::default()).0, lines(0..30));
        for n in [0, 1, 3, 10, 11, 25, 30] {
            assert_eq!(
                read(&log, &tail(n)).0,
                lines(30 - n as usize..30),
                "tail {n}"
            );
        }
        assert_eq!(read(&log, &tail(100)).0, lines(0..30));
        // An empty current file (just rotated).
        std::fs::write(&log, "").unwrap();
        assert_eq!(read(&log, &tail(3)).0, lines(17..20));
        // No log at all.
        let none = dir.path().join("none.log");
        assert_eq!(read(&none, &tail(3)).0, "");
    }

    #[test]
    fn tail_counts_full_lines_and_keeps_their_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ctr.log");
        let data = [
            rec(T0, "stdout", "F", "zero"),
            rec(T0, "stdout", "P", "a"),
            rec(T0, "stderr", "F", "e1"),
            rec(T0, "stdout", "P", "b"),
            rec(T0, "stderr", "F", "e2"),
            rec(T0, "stdout", "F", "c"),
            rec(T0, "stdout", "F", "last"),
        ]
        .concat();
        std::fs::write(&log, data).unwrap();
        assert_eq!(read(&log, &tail(1)), ("last\n".into(), "".into()));
        // The 2nd last line began before e1 and e2: they are not shown.
        assert_eq!(read(&log, &tail(2)), ("abc\nlast\n".into(), "".into()));
        assert_eq!(read(&log, &tail(3)), ("abc\nlast\n".into(), "e2\n".into()));
        assert_eq!(
            read(&log, &tail(4)),
            ("abc\nlast\n".into(), "e1\ne2\n".into())
        );
        assert_eq!(
            read(&log, &tail(5)),
            ("zero\nabc\nlast\n".into(), "e1\ne2\n".into())
        );
    }

    #[test]
    fn tail_of_big_log_reads_only_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ctr.log");
        let mut w = std::io::BufWriter::new(File::create(&log).unwrap());
        let n = 400_000;
        for i in 0..n {
            writeln!(w, "{T0} stdout F line {i}").unwrap();
        }
        drop(w);
        let t = Instant::now();
        assert_eq!(read(&log, &tail(3)).0, lines(n - 3..n));
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        let (out, _) = read(&log, &ReadOptions::default());
        assert_eq!(out.len(), lines(0..n).len());
    }

    #[test]
    fn since_and_until_filter_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ctr.log");
        let data: String = (0..10)
            .map(|i| {
                rec(
                    &format!("2026-01-02T03:04:0{i}.5Z"),
                    "stdout",
                    "F",
                    &format!("line {i}"),
                )
            })
            .collect();
        std::fs::write(&log, data).unwrap();
        let at = |s: &str| parse_time("--since", s, SystemTime::now()).unwrap();
        let opts = |since: Option<&str>, until: Option<&str>| ReadOptions {
            since: since.map(at),
            until: until.map(at),
            ..Default::default()
        };
        assert_eq!(
            read(&log, &opts(Some("2026-01-02T03:04:07Z"), None)).0,
            lines(7..10)
        );
        assert_eq!(
            read(&log, &opts(Some("2026-01-02T03:04:07.5Z"), None)).0,
            lines(7..10)
        );
        assert_eq!(
            read(&log, &opts(Some("2026-01-02T04:04:07.6+01:00"), None)).0,
            lines(8..10)
        );
        assert_eq!(
            read(&log, &opts(None, Some("2026-01-02T03:04:02Z"))).0,
            lines(0..2)
        );
        let unix = parse_rfc3339(b"2026-01-02T03:04:03Z").unwrap() / 1_000_000_000;
        assert_eq!(
            read(
                &log,
                &opts(Some(&unix.to_string()), Some("2026-01-02T03:04:05.5Z"))
            )
            .0,
            lines(3..6)
        );
        // --tail applies first, then the times.
        let o = ReadOptions {
            tail: Some(3),
            since: Some(at("2026-01-02T03:04:08Z")),
            ..Default::default()
        };
        assert_eq!(read(&log, &o).0, lines(8..10));
        assert_eq!(read(&log, &opts(Some("1h"), None)).0, "");
    }

    #[test]
    fn closed_output_ends_quietly() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Err(ErrorKind::BrokenPipe.into())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let log = rotated_set(dir.path());
        let opts = ReadOptions {
            follow: true,
            ..Default::default()
        };
        // Following: would wait forever if the closed output did not end it.
        read_logs(&log, &opts, &mut Closed, &mut Vec::new(), || true).unwrap();
    }

    /// A writer thread logs numbered lines (some in pieces, some on
    /// stderr) with rotation every few KiB while the reader follows: every
    /// line arrives once, in order.
    fn follow_while_rotating(max_files: u32, tail: Option<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ctr.log");
        let opts = LogOptions {
            max_size: Some(4096),
            max_files,
        };
        // Before the reader starts: lines 0..50.
        let mut w = LogWriter::open(&log, opts).unwrap();
        let early = 50;
        for i in 0..early {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let done = Arc::new(AtomicBool::new(false));
        let total = 5000;
        let writer = {
            let done = done.clone();
            std::thread::spawn(move || {
                // Let the reader find its --tail start first.
                std::thread::sleep(Duration::from_millis(200));
                for i in early..total {
                    let line = format!("line {i}\n");
                    if i % 7 == 0 {
                        let (a, b) = line.split_at(3);
                        w.write(Stream::Stdout, a.as_bytes()).unwrap();
                        w.write(Stream::Stdout, b.as_bytes()).unwrap();
                    } else {
                        w.write(Stream::Stdout, line.as_bytes()).unwrap();
                    }
                    if i % 100 == 0 {
                        w.write(Stream::Stderr, format!("err {i}\n").as_bytes())
                            .unwrap();
                    }
                    // Few files kept: a writer that outruns the reader by
                    // more than they hold loses lines, so go slower.
                    if i % (if max_files > 2 { 50 } else { 10 }) == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                w.close_stream(Stream::Stdout).unwrap();
                done.store(true, Ordering::SeqCst);
            })
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let o = ReadOptions {
            follow: true,
            tail,
            ..Default::default()
        };
        read_logs(&log, &o, &mut out, &mut err, || {
            !done.load(Ordering::SeqCst)
        })
        .unwrap();
        writer.join().unwrap();
        let first = tail.map_or(0, |n| early - n as usize);
        assert_eq!(rotated(&log, 1).exists(), max_files > 1);
        let out = String::from_utf8(out).unwrap();
        let want = lines(first..total);
        if out != want {
            let got: Vec<&str> = out.lines().collect();
            let first_bad = got
                .iter()
                .zip(want.lines())
                .position(|(a, b)| *a != b)
                .unwrap_or(got.len().min(want.lines().count()));
            panic!(
                "{} lines, want {}; first difference at {first_bad}: {:?}",
                got.len(),
                want.lines().count(),
                &got[first_bad.saturating_sub(2)..(first_bad + 3).min(got.len())]
            );
        }
        let want_err: String = (early..total)
            .filter(|i| i % 100 == 0)
            .map(|i| format!("err {i}\n"))
            .collect();
        assert_eq!(String::from_utf8(err).unwrap(), want_err);
    }

    #[test]
    fn follow_across_rotations() {
        follow_while_rotating(50, None);
    }

    #[test]
    fn follow_with_tail_across_rotations() {
        follow_while_rotating(50, Some(5));
    }

    #[test]
    fn follow_across_rotations_with_two_files() {
        follow_while_rotating(2, None);
    }

    #[test]
    fn follow_across_rotations_with_one_file() {
        // max-file=1: the full file is removed and a new one made.
        follow_while_rotating(1, Some(0));
    }

    #[test]
    fn follow_waits_for_the_log_to_appear() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ctr.log");
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (log, done) = (log.clone(), done.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                let mut w = LogWriter::open(&log, LogOptions::default()).unwrap();
                w.write(Stream::Stdout, b"late\n").unwrap();
                done.store(true, Ordering::SeqCst);
            })
        };
        let o = ReadOptions {
            follow: true,
            ..Default::default()
        };
        let mut out = Vec::new();
        read_logs(&log, &o, &mut out, &mut Vec::new(), || {
            !done.load(Ordering::SeqCst)
        })
        .unwrap();
        writer.join().unwrap();
        assert_eq!(out, b"late\n");
    }
}
