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
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Log `data` read from `stream`: a record per line, `F` for lines
    /// that end here, `P` for a trailing piece without its newline yet.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> Result<(), LogError> {
        if data.is_empty() {
            return Ok(());
        }
        let ts = berth_runtime::timefmt::rfc3339_nano(SystemTime::now());
        self.buf.clear();
        let mut rest = data;
        while !rest.is_empty() {
            let (line, tag, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], b'F', &rest[i + 1..]),
                None => (rest, b'P', &rest[rest.len()..]),
            };
            record(&mut self.buf, &ts, stream, tag, line);
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
        let ts = berth_runtime::timefmt::rfc3339_nano(SystemTime::now());
        self.buf.clear();
        record(&mut self.buf, &ts, stream, b'F', b"");
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

fn record(buf: &mut Vec<u8>, ts: &str, stream: Stream, tag: u8, line: &[u8]) {
    buf.extend_from_slice(ts.as_bytes());
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
