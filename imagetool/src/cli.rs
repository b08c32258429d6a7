//! The command line. Image locations use skopeo's transport syntax
//! (`docker://NAME`, `oci:PATH[:REF]`, a bare NAME for the store); flags
//! follow skopeo (copy, inspect) and docker/podman (pull, push, images,
//! tag, rmi) where they have one.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::layer::{IdMapError, IdRange};
use crate::platform::{Platform, PlatformError};

#[derive(Debug, Parser)]
#[command(
    name = "berth-image",
    version,
    about = "berth-image: copy container images between registries, OCI layouts and the local store, and unpack them into runtime bundles",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalOpts {
    /// The image store, an OCI image layout directory
    /// [default: /var/lib/berth/images for root, else $XDG_DATA_HOME/berth/images].
    #[arg(long, global = true, env = "BERTH_IMAGE_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy an image from SRC to DST (docker://NAME, oci:PATH[:REF],
    /// docker-archive:FILE[:NAME], oci-archive:FILE[:REF], or a store NAME).
    Copy(Box<CopyArgs>),
    /// Copy an image from a registry into the store (copy docker://NAME NAME).
    Pull(PullArgs),
    /// Copy an image from the store to a registry (copy NAME docker://DST).
    Push(PushArgs),
    /// List the images in the store.
    Images(ImagesArgs),
    /// Show an image's metadata as JSON (like skopeo inspect).
    Inspect(InspectArgs),
    /// Give a stored image another name.
    Tag(TagArgs),
    /// Remove names from the store (the content stays until gc).
    Untag(NamesArgs),
    /// Remove names from the store, then remove content no image uses.
    Rmi(NamesArgs),
    /// Remove blobs no image uses and leftover temporary files.
    Gc,
    /// Print the digest of a manifest file (like skopeo manifest-digest).
    #[command(alias = "manifest-digest")]
    Digest(DigestArgs),
    /// List a repository's tags as JSON (like skopeo list-tags).
    ListTags(ListTagsCli),
    /// Check credentials against a registry and store them in the auth file.
    Login(LoginCli),
    /// Remove stored credentials for a registry (or all with --all).
    Logout(LogoutCli),
    /// Write stored images to a docker-archive or oci-archive (like docker save).
    Save(SaveArgs),
    /// Store the images of a docker-archive or oci-archive (like docker load).
    Load(LoadArgs),
    /// Write an image's flattened filesystem, or a bundle's rootfs, as a tar.
    Export(ExportArgs),
    /// Make a single-layer image of a filesystem tar (like docker import).
    Import(ImportArgs),
    /// Unpack an image into a runtime bundle (rootfs/ and config.json).
    Unpack(UnpackArgs),
    /// Unmount and remove a bundle made by unpack.
    Release(ReleaseArgs),
    /// Make the changes in an overlay bundle's rootfs a new layer on top of
    /// its image, stored as NAME (like docker commit).
    Commit(CommitArgs),
}

/// `save --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchiveFormat {
    /// The `docker save` format (manifest.json, configs, uncompressed layers).
    DockerArchive,
    /// A tar of an OCI image layout (manifests and blobs byte for byte).
    OciArchive,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Stored images (names or IDs).
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Write to FILE, atomically ("-": stdout; default: stdout unless it is a terminal).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<String>,
    /// Archive format.
    #[arg(long, value_enum, default_value_t = ArchiveFormat::DockerArchive)]
    pub format: ArchiveFormat,
    /// The image to take from a multi-platform index for a docker-archive
    /// (default: this host's); an oci-archive takes the whole index.
    #[arg(long, value_parser = parse_platform)]
    pub platform: Option<Platform>,
    /// Do not print progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from FILE ("-" or none: stdin); plain or gzip-compressed tar.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: Option<String>,
    /// Do not print progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A stored image (name or ID), or a bundle directory (config.json and its root).
    pub image: String,
    /// Write to FILE, atomically ("-": stdout; default: stdout unless it is a terminal).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<String>,
    /// The image to take from a multi-platform index (default: this host's).
    #[arg(long, value_parser = parse_platform)]
    pub platform: Option<Platform>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A tar of a filesystem (plain or gzip), or "-" for stdin.
    pub file: String,
    /// The new image's name.
    pub name: String,
    /// A Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL (repeatable).
    #[arg(long, short = 'c', value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// A comment for the image's history entry.
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListTagsCli {
    /// [docker://]REGISTRY/REPOSITORY
    pub repository: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct LoginCli {
    /// The registry (host[:port]).
    pub registry: String,
    /// User name (prompted for when missing).
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: a command line is visible to other users).
    #[arg(long, short = 'p')]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Credentials file to write (default: ${XDG_RUNTIME_DIR}/containers/auth.json or REGISTRY_AUTH_FILE).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Require HTTPS and verify certificates (default: true, except localhost).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Directory of certificates (*.crt, *.cert, *.key) for the registry.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogoutCli {
    /// The registry (host[:port]).
    #[arg(required_unless_present = "all")]
    pub registry: Option<String>,
    /// Remove the credentials of every registry.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Credentials file (default: ${XDG_RUNTIME_DIR}/containers/auth.json or REGISTRY_AUTH_FILE).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

fn parse_platform(s: &str) -> Result<Platform, PlatformError> {
    s.parse()
}

fn parse_id_range(s: &str) -> Result<IdRange, IdMapError> {
    s.parse()
}

/// Registry flags for one side of a transfer (used only by docker:// locations).
#[derive(Debug, Clone, Default)]
pub struct RegistryFlags {
    pub tls_verify: Option<bool>,
    pub cert_dir: Option<PathBuf>,
    pub creds: Option<String>,
    pub authfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source image location.
    pub src: String,
    /// Destination image location.
    pub dst: String,
    /// Copy every image of a multi-platform index, and the index.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// The image to take from a multi-platform index: os/arch[/variant] (default: this host's).
    #[arg(long, value_parser = parse_platform, conflicts_with = "all")]
    pub platform: Option<Platform>,
    /// Write the digest of the copied manifest to this file.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<PathBuf>,
    /// Manifest type to write (default: keep the source's, byte for byte).
    #[arg(long, short = 'f', value_enum, value_name = "TYPE")]
    pub format: Option<ManifestType>,
    /// Do not print progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Credentials file for both registries (containers auth.json format).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Credentials file for the source registry.
    #[arg(long, value_name = "FILE")]
    pub src_authfile: Option<PathBuf>,
    /// Credentials file for the destination registry.
    #[arg(long, value_name = "FILE")]
    pub dest_authfile: Option<PathBuf>,
    /// USER:PASSWORD for the source registry.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub src_creds: Option<String>,
    /// USER:PASSWORD for the destination registry.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub dest_creds: Option<String>,
    /// Require HTTPS and verify certificates for the source registry (default: true, except localhost).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub src_tls_verify: Option<bool>,
    /// Require HTTPS and verify certificates for the destination registry.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub dest_tls_verify: Option<bool>,
    /// Directory of certificates (*.crt, *.cert, *.key) for the source registry.
    #[arg(long, value_name = "DIR")]
    pub src_cert_dir: Option<PathBuf>,
    /// Directory of certificates for the destination registry.
    #[arg(long, value_name = "DIR")]
    pub dest_cert_dir: Option<PathBuf>,
}

impl CopyArgs {
    pub fn src_registry(&self) -> RegistryFlags {
        RegistryFlags {
            tls_verify: self.src_tls_verify,
            cert_dir: self.src_cert_dir.clone(),
            creds: self.src_creds.clone(),
            authfile: self.src_authfile.clone().or_else(|| self.authfile.clone()),
        }
    }

    pub fn dest_registry(&self) -> RegistryFlags {
        RegistryFlags {
            tls_verify: self.dest_tls_verify,
            cert_dir: self.dest_cert_dir.clone(),
            creds: self.dest_creds.clone(),
            authfile: self.dest_authfile.clone().or_else(|| self.authfile.clone()),
        }
    }
}

/// Registry flags of commands that talk to one registry.
#[derive(Debug, Args, Clone)]
pub struct RegistryArgs {
    /// Credentials file (containers auth.json format).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// USER:PASSWORD for the registry.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
    /// Require HTTPS and verify certificates (default: true, except localhost).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Directory of certificates (*.crt, *.cert, *.key) for the registry.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

impl RegistryArgs {
    pub fn flags(&self) -> RegistryFlags {
        RegistryFlags {
            tls_verify: self.tls_verify,
            cert_dir: self.cert_dir.clone(),
            creds: self.creds.clone(),
            authfile: self.authfile.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Image name (registry/repository[:tag|@digest]; docker.io by default).
    pub name: String,
    /// Pull every image of a multi-platform index.
    #[arg(long, short = 'a', alias = "all-platforms")]
    pub all: bool,
    /// The image to take from a multi-platform index: os/arch[/variant].
    #[arg(long, value_parser = parse_platform, conflicts_with = "all")]
    pub platform: Option<Platform>,
    /// Manifest type to store (default: keep the registry's, byte for byte).
    #[arg(long, short = 'f', value_enum, value_name = "TYPE")]
    pub format: Option<ManifestType>,
    /// Do not print progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl ManifestType {
    pub fn copy_format(t: Option<ManifestType>) -> crate::copy::ManifestFormat {
        match t {
            None => crate::copy::ManifestFormat::Keep,
            Some(ManifestType::Oci) => crate::copy::ManifestFormat::Oci,
        }
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Stored image (name or ID).
    pub name: String,
    /// Destination: a registry name (docker:// implied) or any image location (default: NAME).
    pub dst: Option<String>,
    /// Write the digest of the pushed manifest to this file.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<PathBuf>,
    /// Do not print progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `--format` of copy and pull: the manifest type to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifestType {
    /// OCI (Docker schema 2 manifests and lists are converted).
    Oci,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print only image IDs.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Show manifest digests.
    #[arg(long)]
    pub digests: bool,
    /// Do not truncate IDs and digests.
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Image location: a store name or ID, docker://NAME, oci:PATH[:REF],
    /// docker-archive:FILE[:NAME|:@N], oci-archive:FILE[:REF].
    pub image: String,
    /// Print the manifest (or with --config, the config) exactly as stored.
    #[arg(long)]
    pub raw: bool,
    /// Print the image's config.
    #[arg(long)]
    pub config: bool,
    /// The image to describe from a multi-platform index: os/arch[/variant].
    #[arg(long, value_parser = parse_platform)]
    pub platform: Option<Platform>,
    /// Do not list the repository's tags.
    #[arg(long, short = 'n')]
    pub no_tags: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Stored image (name or ID).
    pub src: String,
    /// The new name.
    pub new: String,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Image names (or IDs: every name of that image).
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// A manifest file.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct UnpackArgs {
    /// The image: a store name or ID, or oci:PATH[:REF].
    pub image: String,
    /// The bundle directory to write (missing, or empty).
    pub bundle: PathBuf,
    /// The image to take from a multi-platform index: os/arch[/variant] (default: this host's).
    #[arg(long, value_parser = parse_platform)]
    pub platform: Option<Platform>,
    /// Map the image's uids to host uids: CONTAINER:HOST:SIZE (repeatable).
    #[arg(long = "uid-map", value_name = "CONTAINER:HOST:SIZE", value_parser = parse_id_range)]
    pub uid_map: Vec<IdRange>,
    /// Map the image's gids to host gids: CONTAINER:HOST:SIZE (repeatable).
    #[arg(long = "gid-map", value_name = "CONTAINER:HOST:SIZE", value_parser = parse_id_range)]
    pub gid_map: Vec<IdRange>,
    /// Copy the layers into a plain rootfs instead of mounting an overlay of the layer cache.
    #[arg(long)]
    pub no_overlay: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// A bundle made by unpack.
    pub bundle: PathBuf,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// A bundle made by unpack (overlay, not --no-overlay).
    pub bundle: PathBuf,
    /// The new image's name.
    pub name: String,
    /// A Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL (repeatable).
    #[arg(long, short = 'c', value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// The image's author (config `author` and the history entry's).
    #[arg(long, short = 'a')]
    pub author: Option<String>,
    /// A comment for the image's history entry.
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}
