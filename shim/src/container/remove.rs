//! Removing a container: placeholder until the full version lands.
use super::{ContainerError, Record};
use crate::dirs::Dirs;
use crate::ociclient::Runtime;

pub fn remove(
    dirs: &Dirs,
    runtime: &Runtime,
    record: &Record,
    volumes: bool,
) -> Result<(), ContainerError> {
    let _ = runtime.delete(&record.id, true);
    let _ = berth_image::bundle::release(&dirs.bundle(&record.id));
    if volumes {
        for v in &record.anonymous_volumes {
            let _ = std::fs::remove_dir_all(dirs.volume(v));
        }
    }
    let _ = std::fs::remove_dir_all(dirs.run_dir(&record.id));
    let dir = dirs.container(&record.id);
    std::fs::remove_dir_all(&dir).map_err(ContainerError::io("remove", &dir))
}
