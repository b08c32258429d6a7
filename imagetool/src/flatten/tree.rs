//! The first pass of a flatten: apply every layer's entries, in order, to
//! a tree of metadata only (no file data), following the image spec's
//! rules: `.wh.NAME` removes NAME from lower layers, `.wh..wh..opq`
//! hides every lower child of its directory, an entry replaces whatever
//! was at its path unless both are directories, hard links share the
//! target's inode.
use std::collections::BTreeMap;

use super::meta::{Kind, Meta};

/// Where a file's data comes from: the `entry`th entry of layer `layer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin {
    pub layer: usize,
    pub entry: u64,
}

#[derive(Debug, Clone)]
pub struct Inode {
    pub meta: Meta,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
enum What {
    Dir(Box<Meta>),
    /// Anything else, by inode (shared by hard links).
    Inode(usize),
}

#[derive(Debug, Clone)]
struct Node {
    /// The layer that last wrote this path.
    layer: usize,
    what: What,
}

/// Why an entry cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// `..` in a path or a link target.
    Unsafe(&'static str),
    Invalid(String),
}

#[derive(Debug, Default)]
pub struct Tree {
    nodes: BTreeMap<Vec<u8>, Node>,
    inodes: Vec<Inode>,
}

/// `/./a//b/` → `a/b`; `..` is refused.
pub fn normalize(raw: &[u8]) -> Result<Vec<u8>, ApplyError> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(ApplyError::Unsafe("a `..` component")),
            p => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(p);
            }
        }
    }
    Ok(out)
}

fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// The key range holding `path`'s descendants: `path/` up to `path0`.
fn below(path: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut lo = path.to_vec();
    lo.push(b'/');
    let mut hi = path.to_vec();
    hi.push(b'/' + 1);
    (lo, hi)
}

impl Tree {
    /// Apply one entry of `layer` (its `entry`th, counting every entry the
    /// tar yields); `link` is a hard link's target.
    pub fn apply(
        &mut self,
        origin: Origin,
        raw_path: &[u8],
        meta: Option<Meta>,
        link: Option<&[u8]>,
    ) -> Result<(), ApplyError> {
        let path = normalize(raw_path)?;
        if path.is_empty() {
            return Ok(()); // the root directory itself
        }
        let layer = origin.layer;
        let (parent, base) = split_last(&path);
        if let Some(hidden) = base.strip_prefix(b".wh.") {
            if hidden == b".wh..opq" {
                self.remove_below(parent, |n| n.layer < layer, false);
            } else if !hidden.starts_with(b".wh.") {
                self.remove_below(&join(parent, hidden), |n| n.layer < layer, true);
            }
            return Ok(());
        }
        self.ensure_parents(&path, layer)?;
        if let Some(target) = link {
            let target = normalize(target)?;
            let inode = match self.nodes.get(&target) {
                Some(Node {
                    what: What::Inode(i),
                    ..
                }) => *i,
                Some(_) => return Err(ApplyError::Invalid("hard link to a directory".into())),
                None => {
                    return Err(ApplyError::Invalid(format!(
                        "hard link to {}, which does not exist",
                        String::from_utf8_lossy(&target)
                    )))
                }
            };
            if target != path {
                self.remove_below(&path, |_| true, true);
                self.nodes.insert(
                    path,
                    Node {
                        layer,
                        what: What::Inode(inode),
                    },
                );
            }
            return Ok(());
        }
        let Some(meta) = meta else {
            return Ok(());
        };
        if meta.kind == Kind::Dir {
            if let Some(Node {
                layer: l,
                what: What::Dir(m),
            }) = self.nodes.get_mut(&path)
            {
                // Directory over directory: new metadata, children kept.
                *l = layer;
                **m = meta;
                return Ok(());
            }
            self.remove_below(&path, |_| true, true);
            self.nodes.insert(
                path,
                Node {
                    layer,
                    what: What::Dir(Box::new(meta)),
                },
            );
            return Ok(());
        }
        self.remove_below(&path, |_| true, true);
        self.inodes.push(Inode { meta, origin });
        self.nodes.insert(
            path,
            Node {
                layer,
                what: What::Inode(self.inodes.len() - 1),
            },
        );
        Ok(())
    }

    /// Missing parents become directories; a parent that is not one is an error.
    fn ensure_parents(&mut self, path: &[u8], layer: usize) -> Result<(), ApplyError> {
        let mut end = 0;
        while let Some(i) = path[end..].iter().position(|&b| b == b'/') {
            let dir = &path[..end + i];
            match self.nodes.get(dir) {
                Some(Node {
                    what: What::Dir(_), ..
                }) => {}
                Some(_) => {
                    return Err(ApplyError::Invalid(format!(
                        "parent {} is not a directory",
                        String::from_utf8_lossy(dir)
                    )))
                }
                None => {
                    self.nodes.insert(
                        dir.to_vec(),
                        Node {
                            layer,
                            what: What::Dir(Box::new(Meta::implicit_dir())),
                        },
                    );
                }
            }
            end += i + 1;
        }
        Ok(())
    }

    /// Remove `path`'s descendants (and `path` itself with `itself`) that `pick` selects.
    fn remove_below(&mut self, path: &[u8], pick: impl Fn(&Node) -> bool, itself: bool) {
        if itself && self.nodes.get(path).is_some_and(&pick) {
            self.nodes.remove(path);
        }
        let (lo, hi) = below(path);
        let doomed: Vec<Vec<u8>> = self
            .nodes
            .range(lo..hi)
            .filter(|(_, n)| pick(n))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Directories, in path order (parents first).
    pub fn dirs(&self) -> impl Iterator<Item = (&[u8], &Meta)> {
        self.nodes.iter().filter_map(|(p, n)| match &n.what {
            What::Dir(m) => Some((p.as_slice(), &**m)),
            What::Inode(_) => None,
        })
    }

    /// Every inode some path still reaches, with its paths in order.
    pub fn live_inodes(&self) -> Vec<(&Inode, Vec<&[u8]>)> {
        let mut paths: BTreeMap<usize, Vec<&[u8]>> = BTreeMap::new();
        for (p, n) in &self.nodes {
            if let What::Inode(i) = n.what {
                paths.entry(i).or_default().push(p.as_slice());
            }
        }
        paths
            .into_iter()
            .map(|(i, ps)| (&self.inodes[i], ps))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(kind: Kind) -> Meta {
        Meta {
            kind,
            ..Meta::implicit_dir()
        }
    }

    fn paths(t: &Tree) -> Vec<String> {
        t.nodes
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    fn add(t: &mut Tree, layer: usize, path: &str, kind: Kind) {
        let o = Origin { layer, entry: 0 };
        t.apply(o, path.as_bytes(), Some(meta(kind)), None).unwrap();
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        let mut t = Tree::default();
        add(&mut t, 0, "etc/", Kind::Dir);
        add(&mut t, 0, "etc/motd", Kind::File);
        add(&mut t, 0, "etc/hosts", Kind::File);
        add(&mut t, 0, "var/cache/old/stale", Kind::File);
        add(&mut t, 1, "etc/.wh.motd", Kind::File);
        add(&mut t, 1, "var/cache/old/", Kind::Dir);
        add(&mut t, 1, "var/cache/old/.wh..wh..opq", Kind::File);
        add(&mut t, 1, "var/cache/old/fresh", Kind::File);
        assert_eq!(
            paths(&t),
            [
                "etc",
                "etc/hosts",
                "var",
                "var/cache",
                "var/cache/old",
                "var/cache/old/fresh"
            ]
        );
    }

    #[test]
    fn replacement_rules() {
        let mut t = Tree::default();
        add(&mut t, 0, "a/b/c", Kind::File);
        // A file over a directory removes what was below it.
        add(&mut t, 1, "a/b", Kind::File);
        assert_eq!(paths(&t), ["a", "a/b"]);
        // A directory over a file replaces it.
        add(&mut t, 2, "a/b/", Kind::Dir);
        add(&mut t, 2, "a/b/d", Kind::Symlink);
        assert_eq!(paths(&t), ["a", "a/b", "a/b/d"]);
        // A whiteout of a directory removes its subtree.
        add(&mut t, 3, "a/.wh.b", Kind::File);
        assert_eq!(paths(&t), ["a"]);
        // Paths through a file are refused; `..` too.
        add(&mut t, 4, "f", Kind::File);
        let o = Origin { layer: 4, entry: 1 };
        assert!(t.apply(o, b"f/x", Some(meta(Kind::File)), None).is_err());
        assert_eq!(
            t.apply(o, b"a/../../x", Some(meta(Kind::File)), None),
            Err(ApplyError::Unsafe("a `..` component"))
        );
    }

    #[test]
    fn hard_links_share_inodes_and_survive_their_target() {
        let mut t = Tree::default();
        add(&mut t, 0, "etc/hosts", Kind::File);
        let o = Origin { layer: 0, entry: 1 };
        t.apply(o, b"usr/hosts-link", None, Some(b"etc/hosts"))
            .unwrap();
        add(&mut t, 1, "etc/.wh.hosts", Kind::File);
        let live = t.live_inodes();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].1, vec![&b"usr/hosts-link"[..]]);
        let e = t.apply(o, b"x", None, Some(b"nope")).unwrap_err();
        assert!(matches!(e, ApplyError::Invalid(_)));
        let e = t.apply(o, b"x", None, Some(b"usr")).unwrap_err();
        assert_eq!(e, ApplyError::Invalid("hard link to a directory".into()));
    }
}
