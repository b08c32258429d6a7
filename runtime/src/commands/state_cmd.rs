//! `state`: runc's state JSON.
use super::{print_json, CommandError, Ctx};
use crate::state::{self, StateError};

pub fn run(ctx: &Ctx, id: &str) -> Result<(), CommandError> {
    state::validate_id(id)?;
    let dir = ctx.global.root.join(id);
    if !dir.is_dir() {
        return Err(StateError::NotExist(id.to_string()).into());
    }
    let st = state::load(&dir.join(state::STATE_FILE), id)?;
    print_json(&st.view(&dir))
}
