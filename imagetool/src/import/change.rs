//! `import --change`: the Dockerfile instructions `docker import` accepts,
//! applied to an image config's `config` object.
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
#[error("--change {instruction:?}: {reason}")]
pub struct ChangeError {
    pub instruction: String,
    pub reason: String,
}

/// Apply one instruction (`CMD ["sh"]`, `ENV A=1 B=2`, `EXPOSE 80/tcp`, …).
pub fn apply(config: &mut Map<String, Value>, instruction: &str) -> Result<(), ChangeError> {
    let err = |reason: &str| ChangeError {
        instruction: instruction.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = instruction.trim();
    let (word, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (trimmed, ""),
    };
    if rest.is_empty() {
        return Err(err("needs an argument"));
    }
    match word.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), command(rest).map_err(|r| err(&r))?);
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), command(rest).map_err(|r| err(&r))?);
        }
        "ENV" => {
            let pairs = pairs(rest, true).map_err(|r| err(&r))?;
            let env = config
                .entry("Env")
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(env) = env else {
                return Err(err("Env is not a list"));
            };
            for (k, v) in pairs {
                let prefix = format!("{k}=");
                env.retain(|e| !e.as_str().is_some_and(|e| e.starts_with(&prefix)));
                env.push(Value::from(format!("{k}={v}")));
            }
        }
        "LABEL" => {
            let pairs = pairs(rest, false).map_err(|r| err(&r))?;
            let labels = object(config, "Labels").map_err(|r| err(&r))?;
            for (k, v) in pairs {
                labels.insert(k, Value::from(v));
            }
        }
        "EXPOSE" => {
            let mut ports = Vec::new();
            for p in words(rest).map_err(|r| err(&r))? {
                let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(err("ports are NUMBER[/tcp|/udp|/sctp]"));
                }
                ports.push(format!("{num}/{proto}"));
            }
            let exposed = object(config, "ExposedPorts").map_err(|r| err(&r))?;
            for p in ports {
                exposed.insert(p, Value::Object(Map::new()));
            }
        }
        "VOLUME" => {
            let list = if rest.starts_with('[') {
                json_strings(rest).map_err(|r| err(&r))?
            } else {
                words(rest).map_err(|r| err(&r))?
            };
            let volumes = object(config, "Volumes").map_err(|r| err(&r))?;
            for v in list {
                volumes.insert(v, Value::Object(Map::new()));
            }
        }
        "USER" => {
            config.insert("User".into(), Value::from(rest));
        }
        "WORKDIR" => {
            if !rest.starts_with('/') {
                return Err(err("the directory must be absolute"));
            }
            config.insert("WorkingDir".into(), Value::from(rest));
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), Value::from(rest));
        }
        _ => {
            return Err(err(
                "unknown or unsupported instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL)",
            ))
        }
    }
    Ok(())
}

fn object<'a>(
    config: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Map<String, Value>, String> {
    match config
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(m) => Ok(m),
        _ => Err(format!("{key} is not an object")),
    }
}

/// `["a", "b"]` (exec form) or `a b` (shell form: `/bin/sh -c "a b"`).
fn command(rest: &str) -> Result<Value, String> {
    if rest.starts_with('[') {
        Ok(Value::from(json_strings(rest)?))
    } else {
        Ok(Value::from(vec!["/bin/sh", "-c", rest]))
    }
}

fn json_strings(s: &str) -> Result<Vec<String>, String> {
    serde_json::from_str(s).map_err(|e| format!("not a JSON array of strings: {e}"))
}

/// Whitespace-separated words; double or single quotes group, backslash escapes.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                cur.push(chars.next().ok_or("a trailing backslash")?);
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("an unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `K=V K2="V 2"`; with `legacy`, also `K the rest` (ENV's old form).
fn pairs(s: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let ws = words(s)?;
    let first_has_eq = ws.first().is_some_and(|w| w.contains('='));
    if !first_has_eq {
        if legacy && ws.len() >= 2 {
            let (k, v) = s.split_once(char::is_whitespace).expect("two words");
            return Ok(vec![(k.to_string(), v.trim().to_string())]);
        }
        return Err("expected KEY=VALUE".into());
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not KEY=VALUE")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(changes: &[&str]) -> Value {
        let mut c = Map::new();
        for ch in changes {
            apply(&mut c, ch).unwrap();
        }
        Value::Object(c)
    }

    #[test]
    fn instructions() {
        let c = run(&[
            r#"CMD ["/bin/sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /init --fast",
            r#"ENV A=1 B="two words""#,
            "ENV A=3",
            "env LEGACY some value",
            "LABEL org.example=yes",
            "EXPOSE 80 53/udp",
            "VOLUME /data /logs",
            "USER 1000:1000",
            "WORKDIR /srv",
            "STOPSIGNAL SIGTERM",
        ]);
        assert_eq!(c["Cmd"], serde_json::json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(
            c["Entrypoint"],
            serde_json::json!(["/bin/sh", "-c", "/init --fast"])
        );
        assert_eq!(
            c["Env"],
            serde_json::json!(["B=two words", "A=3", "LEGACY=some value"])
        );
        assert_eq!(c["Labels"]["org.example"], "yes");
        assert_eq!(c["ExposedPorts"]["80/tcp"], serde_json::json!({}));
        assert_eq!(c["ExposedPorts"]["53/udp"], serde_json::json!({}));
        assert_eq!(c["Volumes"]["/logs"], serde_json::json!({}));
        assert_eq!(c["User"], "1000:1000");
        assert_eq!(c["WorkingDir"], "/srv");
        assert_eq!(c["StopSignal"], "SIGTERM");
    }

    #[test]
    fn errors_name_the_instruction() {
        let mut c = Map::new();
        for bad in [
            "FROM busybox",
            "CMD",
            "CMD [not json",
            "EXPOSE http",
            "LABEL novalue",
            "WORKDIR rel",
            "ENV A=\"open",
        ] {
            let e = apply(&mut c, bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
