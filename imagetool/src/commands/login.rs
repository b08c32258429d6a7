//! `login REGISTRY [-u USER] [-p PASS | --password-stdin]`: check the
//! credentials against the registry (`GET /v2/` through the Basic or token
//! flow), then record them in the auth file like podman does.
use std::io::{self, BufRead, Write};

use crate::registry::name::parse_registry;
use crate::registry::{authfile, Client, Credentials, RegistryError, RegistryOptions};

#[derive(Debug, Clone, Default)]
pub struct LoginArgs {
    pub registry: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_stdin: bool,
    /// TLS options and `--authfile` (its `credentials` are ignored).
    pub opts: RegistryOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Usage(String),
    #[error("reading {what} from stdin: {source}")]
    Stdin {
        what: &'static str,
        source: io::Error,
    },
    #[error("writing output: {0}")]
    Output(io::Error),
}

/// `stdin` supplies `--password-stdin` and answers the prompts; messages go to `out`.
pub fn run(
    args: &LoginArgs,
    stdin: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), LoginError> {
    let reg = parse_registry(&args.registry)?;
    let say = |out: &mut dyn Write, msg: &str| writeln!(out, "{msg}").map_err(LoginError::Output);
    if args.password_stdin && args.password.is_some() {
        return Err(LoginError::Usage(
            "--password and --password-stdin are mutually exclusive".to_string(),
        ));
    }
    if args.password_stdin && args.username.is_none() {
        return Err(LoginError::Usage(
            "--password-stdin needs --username".to_string(),
        ));
    }
    let mut opts = args.opts.clone();
    opts.credentials = None;

    if args.username.is_none() && args.password.is_none() {
        // podman: reuse and re-check stored credentials when there are some.
        if let Some(existing) = authfile::find_credentials(&reg.name, opts.auth_file.as_deref())? {
            opts.credentials = Some(existing);
            if Client::new(&reg.name, &opts)?.verify_credentials().is_ok() {
                return say(out, &format!("Authenticating with existing credentials for {}\nExisting credentials are valid. Already logged in to {}", reg.name, reg.name));
            }
            opts.credentials = None;
        }
    }

    let username = match &args.username {
        Some(u) => u.clone(),
        None => prompt(stdin, out, "Username: ", "the username")?,
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let mut s = String::new();
            stdin
                .read_to_string(&mut s)
                .map_err(|source| LoginError::Stdin {
                    what: "the password",
                    source,
                })?;
            let s = s.strip_suffix('\n').unwrap_or(&s);
            s.strip_suffix('\r').unwrap_or(s).to_string()
        }
        (None, false) => prompt(stdin, out, "Password: ", "the password")?,
    };
    if username.is_empty() {
        return Err(LoginError::Usage("a username is required".to_string()));
    }
    if password.is_empty() {
        return Err(LoginError::Usage("a password is required".to_string()));
    }
    let creds = Credentials { username, password };
    opts.credentials = Some(creds.clone());
    Client::new(&reg.name, &opts)?.verify_credentials()?;
    let path = authfile::write_path(opts.auth_file.as_deref());
    authfile::store(&path, &reg.name, &creds)?;
    say(out, "Login Succeeded!")
}

fn prompt(
    stdin: &mut dyn BufRead,
    out: &mut dyn Write,
    text: &str,
    what: &'static str,
) -> Result<String, LoginError> {
    write!(out, "{text}")
        .and_then(|_| out.flush())
        .map_err(LoginError::Output)?;
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .map_err(|source| LoginError::Stdin { what, source })?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
