//! `list-tags [docker://]REGISTRY/REPOSITORY`: print the tags as skopeo does,
//! `{"Repository": "...", "Tags": [...]}` indented by four spaces.
use std::io::{self, Write};

use serde::Serialize;

use crate::registry::name::parse_repository;
use crate::registry::{Client, RegistryError, RegistryOptions};

#[derive(Debug, Clone, Default)]
pub struct ListTagsArgs {
    pub repository: String,
    pub opts: RegistryOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum ListTagsError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("writing output: {0}")]
    Output(io::Error),
}

/// skopeo's output shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagList {
    #[serde(rename = "Repository")]
    pub repository: String,
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
}

pub fn list(args: &ListTagsArgs) -> Result<TagList, RegistryError> {
    let (reg, repo) = parse_repository(&args.repository)?;
    let client = Client::new(&reg.name, &args.opts)?;
    let tags = client.list_tags(&repo)?;
    Ok(TagList {
        repository: format!("{}/{repo}", reg.name),
        tags,
    })
}

pub fn run(args: &ListTagsArgs, out: &mut dyn Write) -> Result<(), ListTagsError> {
    let list = list(args)?;
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
    list.serialize(&mut ser)
        .map_err(|e| ListTagsError::Output(io::Error::other(e)))?;
    text.push(b'\n');
    out.write_all(&text).map_err(ListTagsError::Output)
}
