//! `ps [-f table|json] ID [ps options]`: the container's processes, as runc shows them.
use std::collections::HashSet;

use super::{print_json, CommandError, Ctx};
use crate::cgroups::Cgroup;
use crate::cli::{PsArgs, PsFormat};
use crate::state::{self, Status};

pub fn run(ctx: &Ctx, args: &PsArgs) -> Result<(), CommandError> {
    state::validate_id(&args.id)?;
    let dir = ctx.global.root.join(&args.id);
    let st = state::load(&dir.join(state::STATE_FILE), &args.id)?;
    if st.status(&dir) == Status::Stopped {
        return Err(CommandError::NotRunning);
    }
    let pids: Vec<i32> = Cgroup::from_paths(st.cgroup.clone())
        .processes()?
        .into_iter()
        .map(|p| p.as_raw())
        .collect();
    match args.format {
        PsFormat::Json => print_json(&pids),
        PsFormat::Table => {
            let ps_args: Vec<String> = if args.ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                args.ps_args.clone()
            };
            let out = std::process::Command::new("ps")
                .args(&ps_args)
                .output()
                .map_err(CommandError::io("run", "ps"))?;
            if !out.status.success() {
                return Err(CommandError::Usage(format!(
                    "ps {}: {}",
                    ps_args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            print!(
                "{}",
                filter_table(&String::from_utf8_lossy(&out.stdout), &pids)?
            );
            Ok(())
        }
    }
}

/// Keep the header and the lines whose PID column names one of `pids`.
pub fn filter_table(text: &str, pids: &[i32]) -> Result<String, CommandError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| CommandError::Usage("ps: no PID column in the output".into()))?;
    let wanted: HashSet<i32> = pids.iter().copied().collect();
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| wanted.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_header_and_container_lines() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 other\n";
        assert_eq!(
            filter_table(text, &[42]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sleep\n"
        );
        assert!(filter_table("UID CMD\n", &[1]).is_err());
    }
}
