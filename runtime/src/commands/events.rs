//! `events [--stats] [--interval D] ID`: stats and OOM events as JSON lines.
use super::{CommandError, Ctx};
use crate::cli::EventsArgs;
use crate::events::{self, Event, EventsError};
use crate::state::{self, Status};

pub fn run(ctx: &Ctx, args: &EventsArgs) -> Result<(), CommandError> {
    state::validate_id(&args.id)?;
    let dir = ctx.global.root.join(&args.id);
    let st = state::load(&dir.join(state::STATE_FILE), &args.id)?;
    if args.interval.is_zero() {
        return Err(EventsError::ZeroInterval.into());
    }
    if st.status(&dir) == Status::Stopped {
        return Err(EventsError::NotRunning {
            id: args.id.clone(),
        }
        .into());
    }
    let mut out = std::io::stdout().lock();
    if args.stats {
        let data = events::container_stats(&st, &ctx.proc_root)?;
        events::write_event(&mut out, &Event::stats(&st.id, data))?;
        return Ok(());
    }
    events::stream(&st, &dir, &ctx.proc_root, args.interval, &mut out)?;
    Ok(())
}
