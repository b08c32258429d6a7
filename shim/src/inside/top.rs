//! `berth top`: the host's `ps` (with the user's options, `-ef` by
//! default) filtered down to the container's pids, as docker does it: the
//! header names a PID column, and a row is kept when that column holds one
//! of the container's pids.
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum TopError {
    #[error("cannot run ps {args:?}: {source}")]
    Spawn {
        args: Vec<String>,
        source: std::io::Error,
    },
    #[error("ps {args:?} failed: {message}")]
    Failed { args: Vec<String>, message: String },
    #[error("ps {args:?}: couldn't find the PID field in its output")]
    NoPidColumn { args: Vec<String> },
}

/// The processes table: the titles and one row of cells per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// ps options when the user gives none.
pub const DEFAULT_PS_ARGS: &[&str] = &["-ef"];

/// Run the host's `ps` with `args` (default `-ef`) and keep the rows of `pids`.
pub fn top(args: &[String], pids: &[i32]) -> Result<Table, TopError> {
    let args: Vec<String> = if args.is_empty() {
        DEFAULT_PS_ARGS.iter().map(|s| s.to_string()).collect()
    } else {
        args.to_vec()
    };
    let out = Command::new("ps")
        .args(&args)
        .output()
        .map_err(|source| TopError::Spawn {
            args: args.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(TopError::Failed {
            args,
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    filter(&String::from_utf8_lossy(&out.stdout), pids).ok_or(TopError::NoPidColumn { args })
}

/// Keep the header of `ps` output and the rows whose PID column is in
/// `pids`; None when the header has no PID column. Each row is split into
/// as many cells as there are titles, the last (the command) taking the rest.
pub fn filter(output: &str, pids: &[i32]) -> Option<Table> {
    let mut lines = output.lines();
    let header = lines.next()?;
    let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let pid_col = titles.iter().position(|t| t == "PID")?;
    let mut processes = Vec::new();
    for line in lines {
        let cells = split_cells(line, titles.len());
        let Some(pid) = cells.get(pid_col).and_then(|c| c.parse::<i32>().ok()) else {
            continue;
        };
        if pids.contains(&pid) {
            processes.push(cells);
        }
    }
    Some(Table { titles, processes })
}

/// `line` as `n` whitespace-separated cells, the last one keeping its spaces.
fn split_cells(line: &str, n: usize) -> Vec<String> {
    let mut cells = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while cells.len() + 1 < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        cells.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    if !rest.is_empty() {
        cells.push(rest.trim_end().to_string());
    }
    cells
}

/// The table as docker prints it (a tabwriter with cells at least 20 wide
/// and 3 spaces between columns).
pub fn render(table: &Table) -> String {
    let mut rows = vec![table.titles.clone()];
    rows.extend(table.processes.iter().cloned());
    align(&rows, 20, 3)
}

/// Left-align `rows` in columns: each column as wide as its widest cell
/// plus `pad`, at least `min`; the last cell of a row is not padded.
pub fn align(rows: &[Vec<String>], min: usize, pad: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max(cell.chars().count() + pad).max(min);
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let n = widths[i].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', n));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init splash
root         812       1  0 10:01 ?        00:00:00 berth-shim --id abc
root         815     812  0 10:01 pts/0    00:00:00 sh -c sleep 1000
root         820     815  0 10:01 pts/0    00:00:00 sleep 1000
user        4000    3999  0 10:02 pts/1    00:00:00 ps -ef
";

    #[test]
    fn keeps_the_header_and_the_container_rows() {
        let t = filter(PS_EF, &[815, 820]).unwrap();
        assert_eq!(
            t.titles,
            vec!["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(t.processes.len(), 2);
        assert_eq!(t.processes[0][1], "815");
        assert_eq!(t.processes[0][7], "sh -c sleep 1000");
        assert_eq!(t.processes[1][7], "sleep 1000");
        // The pid only counts in the PID column (812 is 815's PPID).
        let t = filter(PS_EF, &[812]).unwrap();
        assert_eq!(t.processes.len(), 1);
        assert_eq!(t.processes[0][7], "berth-shim --id abc");
    }

    #[test]
    fn custom_columns_and_no_pid_column() {
        let out =
            "  PID COMMAND         RSS\n  820 sleep           512\n  999 other          1024\n";
        let t = filter(out, &[820]).unwrap();
        assert_eq!(t.titles, vec!["PID", "COMMAND", "RSS"]);
        assert_eq!(t.processes, vec![vec!["820", "sleep", "512"]]);
        assert!(filter("USER COMMAND\nroot sh\n", &[1]).is_none());
        assert!(filter("", &[1]).is_none());
    }

    #[test]
    fn renders_like_docker() {
        let t = filter(PS_EF, &[820]).unwrap();
        let text = render(&t);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("UID                 PID                 PPID"));
        assert!(lines[1].starts_with("root                820                 815"));
        assert!(lines[1].ends_with("00:00:00            sleep 1000"));
    }
}
