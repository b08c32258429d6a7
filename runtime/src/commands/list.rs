//! `list`: a table like runc's (Go tabwriter: minwidth 12, padding 3), JSON, or ids.
use super::{print_json, CommandError, Ctx};
use crate::cli::{ListArgs, ListFormat};
use crate::state::{self, StateView};

pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<(), CommandError> {
    let root = &ctx.global.root;
    let views: Vec<StateView> = state::list_ids(root)?
        .into_iter()
        .filter_map(|id| {
            let dir = root.join(&id);
            state::load(&dir.join(state::STATE_FILE), &id)
                .ok()
                .map(|st| st.view(&dir))
        })
        .collect();
    if args.quiet {
        for v in &views {
            println!("{}", v.id);
        }
        return Ok(());
    }
    match args.format {
        ListFormat::Json => print_json(&views),
        ListFormat::Table => {
            print!("{}", table(&views));
            Ok(())
        }
    }
}

/// Columns as runc prints them.
pub fn table(views: &[StateView]) -> String {
    let mut rows = vec![vec![
        "ID".to_string(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ]];
    for v in views {
        rows.push(vec![
            v.id.clone(),
            v.pid.to_string(),
            v.status.as_str().to_string(),
            v.bundle.display().to_string(),
            v.created.clone(),
            v.owner.clone(),
        ]);
    }
    let ncols = rows[0].len();
    let widths: Vec<usize> = (0..ncols - 1)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in &rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 < ncols {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    #[test]
    fn table_pads_like_go_tabwriter() {
        let v = StateView {
            oci_version: "1.0.2".into(),
            id: "c1".into(),
            pid: 42,
            status: Status::Running,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            annotations: None,
            owner: "root".into(),
        };
        let t = table(&[v]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "ID          PID         STATUS      BUNDLE      CREATED                OWNER"
        );
        assert_eq!(
            lines[1],
            "c1          42          running     /b          2026-01-01T00:00:00Z   root"
        );
    }
}
