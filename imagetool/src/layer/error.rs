//! The one error type of layer application. Every variant names the layer
//! (its digest) and, where there is one, the entry path as the tar names it.
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The layer asks for something never allowed: a path with `..`, a
    /// bare `.wh.`, a hardlink to a directory, replacing the root
    /// directory, an unknown entry type.
    #[error("layer {layer}: entry {path:?}: {what}")]
    Refused {
        layer: String,
        path: String,
        what: String,
    },
    /// A file system operation for an entry failed.
    #[error("layer {layer}: entry {path:?}: {what}: {source}")]
    Entry {
        layer: String,
        path: String,
        what: &'static str,
        source: io::Error,
    },
    /// An entry's owner has no host id under the requested map.
    #[error("layer {layer}: entry {path:?}: {kind} {id} is outside --{kind}-map")]
    Unmapped {
        layer: String,
        path: String,
        kind: &'static str,
        id: u64,
    },
    /// Reading the layer failed: the blob, its decompression, the tar stream.
    #[error("layer {layer}: {what}: {source}")]
    Read {
        layer: String,
        what: &'static str,
        source: io::Error,
    },
    /// A file system operation on the layer's directory (not one entry) failed.
    #[error("layer {layer}: {what} {path}: {source}")]
    Dir {
        layer: String,
        path: String,
        what: &'static str,
        source: io::Error,
    },
    #[error("layer {layer}: media type {media_type:?} is not a layer type berth-image knows")]
    MediaType { layer: String, media_type: String },
    /// The uncompressed content is not what the image config says.
    #[error("layer {layer}: uncompressed content is {actual}, but the image config's diff_id is {expected}")]
    DiffId {
        layer: String,
        expected: String,
        actual: String,
    },
    /// A layer below this one (whose content this one needs) failed.
    #[error("layer {layer}: not extracted because a layer below it failed")]
    LowerFailed { layer: String },
}

impl LayerError {
    /// The layer the error is about.
    pub fn layer(&self) -> &str {
        match self {
            LayerError::Refused { layer, .. }
            | LayerError::Entry { layer, .. }
            | LayerError::Unmapped { layer, .. }
            | LayerError::Read { layer, .. }
            | LayerError::Dir { layer, .. }
            | LayerError::MediaType { layer, .. }
            | LayerError::DiffId { layer, .. }
            | LayerError::LowerFailed { layer } => layer,
        }
    }
}
