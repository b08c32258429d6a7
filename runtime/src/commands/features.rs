//! `features`: what this runtime supports, as runtime-spec features.md JSON.
use super::{print_json, CommandError};

pub fn run() -> Result<(), CommandError> {
    print_json(&crate::spec::features())
}
