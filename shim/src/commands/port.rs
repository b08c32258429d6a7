//! `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports of a
//! running container (`80/tcp -> 0.0.0.0:8080`), or the host address of one.
use super::{out, CommandError, Ctx};
use crate::cli::PortArgs;
use crate::container::display::host_address;
use crate::network::setup::read_state;

pub fn run(ctx: &Ctx, args: &PortArgs) -> Result<i32, CommandError> {
    let record = ctx.containers.lookup(&args.container)?;
    let mut ports = read_state(&ctx.dirs, &record.id)?
        .map(|s| s.ports)
        .unwrap_or_default();
    ports.sort_by(|a, b| (a.container_port, &a.protocol).cmp(&(b.container_port, &b.protocol)));
    let Some(wanted) = args.port.as_deref() else {
        let text: String = ports
            .iter()
            .map(|m| {
                format!(
                    "{}/{} -> {}\n",
                    m.container_port,
                    m.protocol,
                    host_address(&m.host_ip, m.host_port)
                )
            })
            .collect();
        out(&text)?;
        return Ok(0);
    };
    let (port, proto) = wanted.split_once('/').unwrap_or((wanted, "tcp"));
    let port: u16 = port.parse().map_err(|_| {
        CommandError::Usage(format!("invalid port {wanted:?}: expected PORT[/PROTO]"))
    })?;
    let found: String = ports
        .iter()
        .filter(|m| m.container_port == port && m.protocol == proto)
        .map(|m| format!("{}\n", host_address(&m.host_ip, m.host_port)))
        .collect();
    if found.is_empty() {
        return Err(CommandError::State {
            name: record.name.clone(),
            reason: format!("no public port '{port}/{proto}' published"),
        });
    }
    out(&found)?;
    Ok(0)
}
