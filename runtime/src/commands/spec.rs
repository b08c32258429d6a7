//! `spec`: write a default config.json, refusing to overwrite one.
use std::io::Write;

use super::CommandError;
use crate::cli::SpecArgs;

pub fn run(args: &SpecArgs) -> Result<(), CommandError> {
    let path = args.bundle.join("config.json");
    let spec = crate::spec::default_spec(args.rootless);
    let text =
        serde_json::to_string_pretty(&spec).map_err(|e| CommandError::Usage(e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                CommandError::Usage(format!("File {} exists. Remove it first", path.display()))
            }
            _ => CommandError::io("create", &path)(e),
        })?;
    f.write_all(text.as_bytes())
        .map_err(CommandError::io("write", &path))
}
