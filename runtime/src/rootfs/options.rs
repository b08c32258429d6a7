//! Mount option parsing (stub).
use super::RootfsError;

#[derive(Debug, Clone, Default)]
pub struct MountOptions {}

impl MountOptions {
    /// Options passed to the filesystem as data ("mode=755,size=65536k"), if any.
    pub fn data_string(&self) -> Option<String> {
        unimplemented!()
    }
}

pub fn parse_mount_options<S: AsRef<str>>(_options: &[S]) -> Result<MountOptions, RootfsError> {
    unimplemented!()
}
