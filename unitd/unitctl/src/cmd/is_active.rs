//! `unitctl is-active UNIT...`: prints each unit's active state (`inactive` for units unitd doesn't have) and
//! exits 0 if one of them is active or reloading, 3 ("not running") otherwise.

use crate::context::{emit, Context};
use crate::error::{code, Failure};
use crate::units::{active_state, expand_names};

/// systemctl's `check_unit_generic`: the states printed, and the exit code — 0 if any state is in `good`,
/// `otherwise` if none is.
pub fn check_states(states: &[String], good: &[&str], otherwise: i32) -> i32 {
    if states.iter().any(|s| good.contains(&s.as_str())) {
        code::SUCCESS
    } else {
        otherwise
    }
}

/// Prints the states of `args` (unless `-q`) and exits by [`check_states`].
pub async fn check(
    ctx: &Context,
    args: &[String],
    good: &[&str],
    otherwise: i32,
) -> anyhow::Result<()> {
    let units = expand_names(ctx, args).await?;
    let mut states = Vec::with_capacity(units.len());
    for unit in &units {
        let state = active_state(ctx, unit).await?;
        if !ctx.opts.quiet {
            emit(&format!("{state}\n"))?;
        }
        states.push(state);
    }
    match check_states(&states, good, otherwise) {
        code::SUCCESS => Ok(()),
        c => Err(Failure::silent(c).into()),
    }
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    check(
        ctx,
        args,
        &["active", "reloading", "refreshing"],
        code::PROGRAM_NOT_RUNNING,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_good_state_wins() {
        let good = ["active", "reloading"];
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(check_states(&s(&["active"]), &good, 3), 0);
        assert_eq!(check_states(&s(&["inactive", "reloading"]), &good, 3), 0);
        assert_eq!(check_states(&s(&["inactive", "failed"]), &good, 3), 3);
        assert_eq!(check_states(&s(&["active"]), &["failed"], 1), 1);
    }
}
