//! The CLI side of `list-tags`, `login` and `logout`: clap arguments to the
//! library commands' arguments, stdio attached.
use std::io::Write;

use super::CommandError;
use crate::cli::{ListTagsCli, LoginCli, LogoutCli};
use crate::registry::RegistryOptions;

pub fn list_tags(a: &ListTagsCli) -> Result<(), CommandError> {
    let args = super::list_tags::ListTagsArgs {
        repository: a.repository.clone(),
        opts: crate::docker::options(&a.registry.flags())?,
    };
    let mut out = Vec::new();
    super::list_tags::run(&args, &mut out)?;
    super::out_bytes(&out)
}

pub fn login(a: &LoginCli) -> Result<(), CommandError> {
    let args = super::login::LoginArgs {
        registry: a.registry.clone(),
        username: a.username.clone(),
        password: a.password.clone(),
        password_stdin: a.password_stdin,
        opts: RegistryOptions {
            tls_verify: a.tls_verify,
            cert_dir: a.cert_dir.clone(),
            auth_file: a.authfile.clone(),
            credentials: None,
        },
    };
    let mut stdin = std::io::stdin().lock();
    let mut out = Vec::new();
    let r = super::login::run(&args, &mut stdin, &mut out);
    let _ = std::io::stdout().write_all(&out);
    Ok(r?)
}

pub fn logout(a: &LogoutCli) -> Result<(), CommandError> {
    let args = super::logout::LogoutArgs {
        registry: a.registry.clone(),
        all: a.all,
        auth_file: a.authfile.clone(),
    };
    let mut out = Vec::new();
    let r = super::logout::run(&args, &mut out);
    let _ = std::io::stdout().write_all(&out);
    Ok(r?)
}
