//! A tar file indexed once: every member's name, place and sha256, so that
//! members can be read in place, in any order, from several threads.
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use oci_spec::image::Digest;

use super::names::{self, resolve_link};
use super::{ArchiveError, MAX_MEMBERS};
use crate::digest;

/// A regular file in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// Where its data starts in the tar file.
    pub offset: u64,
    pub size: u64,
    /// sha256 of its data, computed while indexing.
    pub sha256: Digest,
}

#[derive(Debug, Clone)]
enum Entry {
    File(Member),
    Symlink(String),
    Hardlink(String),
}

/// Symlinks followed when resolving a member name.
const MAX_LINK_HOPS: usize = 8;

#[derive(Debug)]
pub struct TarIndex {
    archive: String,
    file: Arc<File>,
    entries: HashMap<String, Entry>,
}

impl TarIndex {
    /// Read the whole tar: check every name, hash every regular member,
    /// and fail on anything truncated. `archive` names it in messages.
    pub fn read(file: File, archive: &str) -> Result<TarIndex, ArchiveError> {
        let tar_err = |source: io::Error| {
            // The tar crate says "failed to read entire block" or
            // "unexpected EOF during skip" when the stream stops early.
            let text = source.to_string();
            if source.kind() == io::ErrorKind::UnexpectedEof
                || text.contains("entire block")
                || text.contains("unexpected EOF")
            {
                ArchiveError::Truncated {
                    archive: archive.to_string(),
                    reason: text,
                }
            } else {
                ArchiveError::Tar {
                    archive: archive.to_string(),
                    source,
                }
            }
        };
        let len = file
            .metadata()
            .map_err(|source| ArchiveError::Read {
                archive: archive.to_string(),
                source,
            })?
            .len();
        // Offsets are taken from the start of the file.
        (&file)
            .seek(SeekFrom::Start(0))
            .map_err(|source| ArchiveError::Read {
                archive: archive.to_string(),
                source,
            })?;
        let mut entries: HashMap<String, Entry> = HashMap::new();
        let mut end = 0u64;
        let mut count = 0usize;
        {
            let mut tar = tar::Archive::new(BufReader::with_capacity(256 * 1024, &file));
            for entry in tar.entries().map_err(tar_err)? {
                let mut e = entry.map_err(tar_err)?;
                count += 1;
                if count > MAX_MEMBERS {
                    return Err(ArchiveError::TooManyMembers {
                        archive: archive.to_string(),
                        limit: MAX_MEMBERS,
                    });
                }
                let raw = e.path_bytes().into_owned();
                let name = names::normalize(&raw).map_err(|reason| ArchiveError::UnsafeName {
                    archive: archive.to_string(),
                    member: String::from_utf8_lossy(&raw).into_owned(),
                    reason,
                })?;
                let offset = e.raw_file_position();
                let size = e.size();
                end = offset + size.div_ceil(512) * 512;
                let kind = e.header().entry_type();
                let new = if kind.is_file() || kind.is_contiguous() {
                    let (sha256, n) = digest::sha256_reader(&mut e).map_err(tar_err)?;
                    if n != size {
                        return Err(ArchiveError::Truncated {
                            archive: archive.to_string(),
                            reason: format!("{name}: {n} of {size} bytes"),
                        });
                    }
                    Entry::File(Member {
                        name: name.clone(),
                        offset,
                        size,
                        sha256,
                    })
                } else if kind.is_symlink() || kind.is_hard_link() {
                    let target = e.link_name_bytes().unwrap_or_default();
                    let target = String::from_utf8(target.into_owned()).map_err(|_| {
                        ArchiveError::invalid(archive, &name, "link target is not UTF-8")
                    })?;
                    if kind.is_symlink() {
                        Entry::Symlink(target)
                    } else {
                        let target = names::normalize(target.as_bytes()).map_err(|reason| {
                            ArchiveError::UnsafeName {
                                archive: archive.to_string(),
                                member: target.clone(),
                                reason,
                            }
                        })?;
                        if !matches!(entries.get(&target), Some(Entry::File(_))) {
                            return Err(ArchiveError::invalid(
                                archive,
                                &name,
                                format!("hard link to {target}, which is not an earlier file"),
                            ));
                        }
                        Entry::Hardlink(target)
                    }
                } else if kind.is_gnu_sparse() {
                    return Err(ArchiveError::invalid(
                        archive,
                        &name,
                        "sparse members are not supported",
                    ));
                } else {
                    // Directories, devices, fifos: nothing to read.
                    continue;
                };
                if name.is_empty() {
                    return Err(ArchiveError::invalid(archive, ".", "not a directory"));
                }
                if entries.insert(name.clone(), new).is_some() {
                    return Err(ArchiveError::Duplicate {
                        archive: archive.to_string(),
                        member: name,
                    });
                }
            }
        }
        // A tar ends with zero blocks; without them the stream was cut
        // (possibly right between two members).
        if count == 0 || len < end + 512 {
            return Err(ArchiveError::Truncated {
                archive: archive.to_string(),
                reason: if count == 0 {
                    "no members".to_string()
                } else {
                    "no end-of-archive marker after the last member".to_string()
                },
            });
        }
        Ok(TarIndex {
            archive: archive.to_string(),
            file: Arc::new(file),
            entries,
        })
    }

    /// How messages name the archive.
    pub fn archive(&self) -> &str {
        &self.archive
    }

    /// Whether `name` is a file (or a link to one) in the archive.
    pub fn has(&self, name: &str) -> bool {
        self.member(name).is_ok()
    }

    /// Every regular file.
    pub fn files(&self) -> impl Iterator<Item = &Member> {
        self.entries.values().filter_map(|e| match e {
            Entry::File(m) => Some(m),
            _ => None,
        })
    }

    /// The regular file `name` names, following links inside the archive.
    pub fn member(&self, name: &str) -> Result<&Member, ArchiveError> {
        let missing = |member: &str| ArchiveError::Missing {
            archive: self.archive.clone(),
            member: member.to_string(),
        };
        let mut current =
            names::normalize(name.as_bytes()).map_err(|reason| ArchiveError::UnsafeName {
                archive: self.archive.clone(),
                member: name.to_string(),
                reason,
            })?;
        for _ in 0..=MAX_LINK_HOPS {
            match self.entries.get(&current) {
                Some(Entry::File(m)) => return Ok(m),
                Some(Entry::Hardlink(t)) => current = t.clone(),
                Some(Entry::Symlink(t)) => {
                    current = resolve_link(&current, t).ok_or_else(|| {
                        ArchiveError::invalid(
                            &self.archive,
                            &current,
                            format!("symlink to {t} leaves the archive"),
                        )
                    })?
                }
                None => return Err(missing(name)),
            }
        }
        Err(ArchiveError::invalid(
            &self.archive,
            name,
            "too many levels of symbolic links",
        ))
    }

    /// A reader of a member's data.
    pub fn open(&self, m: &Member) -> SectionReader {
        SectionReader {
            file: Arc::clone(&self.file),
            pos: m.offset,
            end: m.offset + m.size,
        }
    }

    /// The first bytes of a member (for compression magic).
    pub fn head(&self, m: &Member, n: usize) -> Result<Vec<u8>, ArchiveError> {
        let mut buf = vec![0u8; n.min(m.size as usize)];
        self.open(m)
            .read_exact(&mut buf)
            .map_err(|source| self.read_error(source))?;
        Ok(buf)
    }

    /// A small member read whole, at most `limit` bytes, checked against
    /// the hash taken while indexing.
    pub fn read_small(&self, name: &str, limit: u64) -> Result<Vec<u8>, ArchiveError> {
        let m = self.member(name)?;
        if m.size > limit {
            return Err(ArchiveError::TooLarge {
                archive: self.archive.clone(),
                member: m.name.clone(),
                limit,
            });
        }
        let mut bytes = Vec::with_capacity(m.size as usize);
        self.open(m)
            .read_to_end(&mut bytes)
            .map_err(|source| self.read_error(source))?;
        let actual = digest::sha256(&bytes);
        if actual != m.sha256 {
            return Err(ArchiveError::mismatch(
                &self.archive,
                &m.name,
                &m.sha256,
                &actual,
            ));
        }
        Ok(bytes)
    }

    fn read_error(&self, source: io::Error) -> ArchiveError {
        ArchiveError::Read {
            archive: self.archive.clone(),
            source,
        }
    }
}

/// Reads one member's bytes with positional reads (so readers of
/// different members do not share a file offset).
pub struct SectionReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for SectionReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive file shrank while it was read",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}
