//! One file per verb. Each `run` takes the verb's arguments and a [`Ctx`], prints what fleet prints, and
//! returns the exit code. This module also holds the helpers several verbs share (fleet's `findUnits`,
//! `setTargetStateOfUnits`).

pub mod cat;
pub mod destroy;
pub mod help;
pub mod journal;
pub mod list_machines;
pub mod list_unit_files;
pub mod list_units;
pub mod load;
pub mod restart;
pub mod rolling_replace;
pub mod start;
pub mod status;
pub mod stop;
pub mod submit;
pub mod unload;
pub mod verify;
pub mod version;

use fleet_model::schema::ApiUnit;
use fleet_model::TargetState;

use crate::cli::Command;
use crate::ctx::Ctx;
use crate::driver::{Driver, DriverError};
use crate::names::mangle;

/// fleet's message for the deprecated signing feature.
pub const SIGN_WARNING: &str =
    "WARNING: The signed/verified units feature is DEPRECATED and cannot be used.";

/// Runs a verb that talks to the cluster (`help` and `version` are answered before a driver exists).
pub async fn run<D: Driver>(ctx: &Ctx<D>, command: &Command) -> i32 {
    match command {
        Command::Cat(a) => cat::run(ctx, a).await,
        Command::Destroy(a) => destroy::run(ctx, a).await,
        Command::Journal(a) => journal::run(ctx, a).await,
        Command::ListMachines(a) => list_machines::run(ctx, a).await,
        Command::ListUnitFiles(a) => list_unit_files::run(ctx, a).await,
        Command::ListUnits(a) => list_units::run(ctx, a).await,
        Command::Load(a) => load::run(ctx, a).await,
        Command::Restart(a) => restart::run(ctx, a).await,
        Command::RollingReplace(a) => rolling_replace::run(ctx, a).await,
        Command::Start(a) => start::run(ctx, a).await,
        Command::Status(a) => status::run(ctx, a).await,
        Command::Stop(a) => stop::run(ctx, a).await,
        Command::Submit(a) => submit::run(ctx, a).await,
        Command::Unload(a) => unload::run(ctx, a).await,
        Command::Verify(_) => verify::run(&ctx.io),
        Command::Version => version::run(&ctx.io),
        Command::Help(a) => help::run(&ctx.io, &a.command),
    }
}

/// fleet's `findUnits`: the registry's units named by `args` (mangled), in argument order; names not in the
/// registry are dropped.
pub async fn find_units<D: Driver>(
    ctx: &Ctx<D>,
    args: &[String],
) -> Result<Vec<ApiUnit>, DriverError> {
    let units = ctx.driver.units().await?;
    Ok(args
        .iter()
        .filter_map(|a| {
            let name = mangle(a);
            units.iter().find(|u| u.name == name).cloned()
        })
        .collect())
}

/// fleet's `setTargetStateOfUnits`: sets `state` on each named unit whose desired state differs, and
/// returns those units.
pub async fn set_target_state_of_units<D: Driver>(
    ctx: &Ctx<D>,
    names: &[String],
    state: TargetState,
) -> Result<Vec<ApiUnit>, String> {
    let mut triggered = Vec::new();
    for name in names {
        let unit = ctx
            .driver
            .unit(name)
            .await
            .map_err(|e| format!("error retrieving unit {name} from registry: {e}"))?
            .ok_or_else(|| format!("unable to find unit {name}"))?;
        if unit.desired_state == state.as_str() {
            ctx.io.debug(
                "fleetctl.rs",
                format!("Unit({name}) already {}, skipping.", unit.desired_state),
            );
            continue;
        }
        ctx.driver
            .set_desired_state(name, state)
            .await
            .map_err(|e| e.to_string())?;
        triggered.push(unit);
    }
    Ok(triggered)
}

/// Go's `%v` of a string slice: `[a.service b.service]`.
pub fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_print_like_go() {
        assert_eq!(go_list(&[]), "[]");
        assert_eq!(
            go_list(&["a.service".into(), "b.service".into()]),
            "[a.service b.service]"
        );
    }
}
