//! `update [-r FILE|-] [flags] ID`: change a running container's cgroup limits.
use super::{CommandError, Ctx};
use crate::cli::UpdateArgs;
use crate::state::{ContainerDir, Status};
use crate::update;

pub fn run(ctx: &Ctx, args: &UpdateArgs) -> Result<(), CommandError> {
    let input = match args.resources.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => Some(update::read_input(r)?),
        None => None,
    };
    let req = update::request(
        args,
        input
            .as_ref()
            .map(|(name, data)| (name.as_str(), data.as_slice())),
    )?;
    let dir = ContainerDir::open(&ctx.global.root, &args.id)?;
    let mut st = dir.load()?;
    if st.status(&dir.path) == Status::Stopped {
        return Err(CommandError::NotRunning);
    }
    update::update_container(&mut st, &req)?;
    dir.save(&st)?;
    Ok(())
}
