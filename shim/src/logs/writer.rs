//! The monitor's side: container output in, CRI records out. Every chunk
//! read from the container becomes whole records written with one
//! `write`; the monitor reads again only after the write returned, so a
//! container that outruns the disk blocks on its pipe instead of losing lines.
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{rotated, LogError, LogOptions, Stream};

pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    opts: LogOptions,
    /// Whether the last record of each stream was partial (P).
    partial: [bool; 2],
    buf: Vec<u8>,
    clock: Clock,
}

impl LogWriter {
    /// Open (append to) the log at `path`.
    pub fn open(path: &Path, opts: LogOptions) -> Result<LogWriter, LogError> {
        let file = open_append(path)?;
        let size = file.metadata().map_err(LogError::io("stat", path))?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            opts,
            partial: [false; 2],
            buf: Vec::with_capacity(1 << 17),
            clock: Clock::default(),
        })
    }

    /// Log `data` read from `stream`: a record per line, `F` for lines
    /// that end here, `P` for a trailing piece without its newline yet.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> Result<(), LogError> {
        if data.is_empty() {
            return Ok(());
        }
        let ts = self.clock.now();
        self.buf.clear();
        let mut rest = data;
        while !rest.is_empty() {
            let (line, tag, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], b'F', &rest[i + 1..]),
                None => (rest, b'P', &rest[rest.len()..]),
            };
            record(&mut self.buf, ts, stream, tag, line);
            rest = next;
        }
        self.partial[idx(stream)] = data.last() != Some(&b'\n');
        self.emit()
    }

    /// The stream ended: a pending partial line gets its closing `F` record.
    pub fn close_stream(&mut self, stream: Stream) -> Result<(), LogError> {
        if !std::mem::take(&mut self.partial[idx(stream)]) {
            return Ok(());
        }
        let ts = self.clock.now();
        self.buf.clear();
        record(&mut self.buf, ts, stream, b'F', b"");
        self.emit()
    }

    /// Flush to disk (at exit).
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(LogError::io("fsync", &self.path))
    }

    fn emit(&mut self) -> Result<(), LogError> {
        let len = self.buf.len() as u64;
        if let Some(max) = self.opts.max_size {
            if self.size > 0 && self.size + len > max {
                self.rotate()?;
            }
        }
        self.file
            .write_all(&self.buf)
            .map_err(LogError::io("write", &self.path))?;
        self.size += len;
        Ok(())
    }

    /// `ctr.log` becomes `ctr.log.1`, `.1` becomes `.2`, ...; the oldest
    /// beyond max-file goes.
    fn rotate(&mut self) -> Result<(), LogError> {
        let keep = self.opts.max_files.saturating_sub(1);
        if keep == 0 {
            std::fs::remove_file(&self.path).map_err(LogError::io("remove", &self.path))?;
        } else {
            let oldest = rotated(&self.path, keep);
            match std::fs::remove_file(&oldest) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(LogError::io("remove", &oldest)(e))
                }
                _ => {}
            }
            for n in (1..keep).rev() {
                let from = rotated(&self.path, n);
                if from.exists() {
                    let to = rotated(&self.path, n + 1);
                    std::fs::rename(&from, &to).map_err(LogError::io("rename", &from))?;
                }
            }
            let first = rotated(&self.path, 1);
            std::fs::rename(&self.path, &first).map_err(LogError::io("rename", &self.path))?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn idx(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

/// The time now as Go's RFC3339Nano in UTC (what
/// `berth_runtime::timefmt::rfc3339_nano` prints), the date and time of day
/// formatted only when the second changes: the monitor stamps every chunk it
/// reads, up to one per line.
#[derive(Default)]
struct Clock {
    sec: Option<u64>,
    text: Vec<u8>,
    /// The length of `YYYY-MM-DDTHH:MM:SS` in `text`.
    prefix: usize,
}

impl Clock {
    fn now(&mut self) -> &[u8] {
        self.at(SystemTime::now())
    }

    fn at(&mut self, t: SystemTime) -> &[u8] {
        let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        if self.sec != Some(d.as_secs()) {
            let whole = std::time::UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs());
            let s = berth_runtime::timefmt::rfc3339(whole);
            self.text.clear();
            self.text
                .extend_from_slice(s.trim_end_matches('Z').as_bytes());
            self.prefix = self.text.len();
            self.sec = Some(d.as_secs());
        }
        self.text.truncate(self.prefix);
        let mut nanos = d.subsec_nanos();
        if nanos != 0 {
            let mut digits = [b'0'; 9];
            for slot in digits.iter_mut().rev() {
                *slot = b'0' + (nanos % 10) as u8;
                nanos /= 10;
            }
            let len = 9 - digits.iter().rev().take_while(|d| **d == b'0').count();
            self.text.push(b'.');
            self.text.extend_from_slice(&digits[..len]);
        }
        self.text.push(b'Z');
        &self.text
    }
}

fn record(buf: &mut Vec<u8>, ts: &[u8], stream: Stream, tag: u8, line: &[u8]) {
    buf.extend_from_slice(ts);
    buf.push(b' ');
    buf.extend_from_slice(stream.as_str().as_bytes());
    buf.push(b' ');
    buf.push(tag);
    buf.push(b' ');
    buf.extend_from_slice(line);
    buf.push(b'\n');
}

fn open_append(path: &Path) -> Result<File, LogError> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(LogError::io("open", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(path: &Path) -> Vec<(String, String, String)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let mut p = l.splitn(4, ' ');
                let ts = p.next().unwrap();
                assert!(ts.ends_with('Z') && ts.contains('T'), "{ts}");
                (
                    p.next().unwrap().to_string(),
                    p.next().unwrap().to_string(),
                    p.next().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn full_partial_and_final_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&path, LogOptions::default()).unwrap();
        w.write(Stream::Stdout, b"one\ntw").unwrap();
        w.write(Stream::Stderr, b"err\n").unwrap();
        w.write(Stream::Stdout, b"o\nthree").unwrap();
        w.close_stream(Stream::Stdout).unwrap();
        w.close_stream(Stream::Stderr).unwrap();
        let r = records(&path);
        let want = [
            ("stdout", "F", "one"),
            ("stdout", "P", "tw"),
            ("stderr", "F", "err"),
            ("stdout", "F", "o"),
            ("stdout", "P", "three"),
            ("stdout", "F", ""),
        ];
        assert_eq!(r.len(), want.len(), "{r:?}");
        for (got, want) in r.iter().zip(want) {
            assert_eq!((got.0.as_str(), got.1.as_str(), got.2.as_str()), want);
        }
    }

    #[test]
    fn clock_prints_what_timefmt_prints() {
        use std::time::{Duration, UNIX_EPOCH};
        let mut c = Clock::default();
        for (s, n) in [
            (1_700_000_000, 120_000_000),
            (1_700_000_000, 1),
            (1_700_000_000, 0),
            (1_700_000_001, 999_999_999),
            (0, 0),
            (951_782_400, 500),
        ] {
            let t = UNIX_EPOCH + Duration::new(s, n);
            assert_eq!(
                std::str::from_utf8(c.at(t)).unwrap(),
                berth_runtime::timefmt::rfc3339_nano(t)
            );
        }
        let now = SystemTime::now();
        assert_eq!(
            std::str::from_utf8(c.at(now)).unwrap(),
            berth_runtime::timefmt::rfc3339_nano(now)
        );
    }

    #[test]
    fn rotation_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let opts = LogOptions {
            max_size: Some(200),
            max_files: 3,
        };
        let mut w = LogWriter::open(&path, opts).unwrap();
        for i in 0..40 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        assert!(rotated(&path, 1).exists() && rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists());
        for p in [path.clone(), rotated(&path, 1), rotated(&path, 2)] {
            assert!(std::fs::metadata(&p).unwrap().len() <= 200);
        }
        // The newest lines are in the current file, in order across files.
        let mut all = Vec::new();
        for p in [rotated(&path, 2), rotated(&path, 1), path.clone()] {
            all.extend(records(&p).into_iter().map(|r| r.2));
        }
        let last: Vec<String> = (40 - all.len()..40).map(|i| format!("line {i}")).collect();
        assert_eq!(all, last);
    }
}
