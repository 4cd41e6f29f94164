//! One file per verb. Each `run` takes the verb's arguments and a [`Ctx`], prints what fleet prints, and
//! returns the exit code. This module also holds what several verbs share: the heads that find the units a verb
//! acts on (fleet's `findUnits`, the create phase), the bodies of `load`/`start` and of `stop`/`unload`
//! (fleet's `setTargetStateOfUnits` and the waits after it), and the list verbs' table.
//!
//! A helper that ends the verb early — it printed why — returns `Err(exit code)`; [`or_exit!`] returns that
//! code from the verb's `run`.

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

/// The value of a helper's `Ok`, or return its `Err` (an exit code) from the enclosing `run`.
macro_rules! or_exit {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(code) => return code,
        }
    };
}
pub(crate) use or_exit;

use fleet_model::schema::ApiUnit;
use fleet_model::TargetState;

use crate::block::{block_attempts, try_wait_for_unit_states};
use crate::cli::{BlockArgs, Command, StartArgs};
use crate::create::{lazy_create_units, CreateOptions, Verb};
use crate::ctx::Ctx;
use crate::driver::{is_global, Driver};
use crate::names::{expand_all, mangle};
use crate::table::render_with_legend;

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

/// The unit arguments, brace-expanded; none is fleet's `No units given` (exit 0).
pub fn given_units<D>(ctx: &Ctx<D>, args: &[String]) -> Result<Vec<String>, i32> {
    let names = expand_all(args);
    if names.is_empty() {
        ctx.io.stderr("No units given");
        return Err(0);
    }
    Ok(names)
}

/// fleet's `findUnits`: the registry's units named by `args` (mangled), in argument order; names not in the
/// registry are dropped. A failed read is printed (exit 1).
pub async fn find_units<D: Driver>(ctx: &Ctx<D>, args: &[String]) -> Result<Vec<ApiUnit>, i32> {
    let units = match ctx.driver.units().await {
        Ok(u) => u,
        Err(e) => {
            ctx.io.stderr(e.to_string());
            return Err(1);
        }
    };
    Ok(args
        .iter()
        .filter_map(|a| {
            let name = mangle(a);
            units.iter().find(|u| u.name == name).cloned()
        })
        .collect())
}

/// The head of `stop`, `unload` and `destroy`: the registry's units named by the arguments; none is `Units not
/// found in registry` (exit 0).
pub async fn registered_units<D: Driver>(
    ctx: &Ctx<D>,
    args: &[String],
) -> Result<Vec<ApiUnit>, i32> {
    let names = given_units(ctx, args)?;
    let units = find_units(ctx, &names).await?;
    if units.is_empty() {
        ctx.io.stderr("Units not found in registry");
        return Err(0);
    }
    Ok(units)
}

/// The create phase ([`lazy_create_units`]) run by a verb: a failure is printed as `Error creating units: …`
/// (exit 1). Returns the units replaced in place.
pub async fn create_units<D: Driver>(
    ctx: &Ctx<D>,
    names: &[String],
    opts: CreateOptions,
) -> Result<Vec<ApiUnit>, i32> {
    lazy_create_units(ctx, names, opts).await.map_err(|e| {
        ctx.io.stderr(format!("Error creating units: {e}"));
        1
    })
}

/// The head of `submit`, `load` and `start`: `--sign` is refused (exit 2), the arguments are expanded and the
/// create phase is run. Returns the expanded arguments and the units replaced in place.
pub async fn submit_units<D: Driver>(
    ctx: &Ctx<D>,
    sign: bool,
    args: &[String],
    opts: CreateOptions,
) -> Result<(Vec<String>, Vec<ApiUnit>), i32> {
    if sign {
        ctx.io.stderr(SIGN_WARNING);
        return Err(2);
    }
    let names = given_units(ctx, args)?;
    let replaced = create_units(ctx, &names, opts).await?;
    Ok((names, replaced))
}

/// What `load` or `start` asks of its units.
pub struct Schedule {
    /// The create phase's verb.
    pub verb: Verb,
    /// The desired state set and waited for.
    pub goal: TargetState,
    /// The verb as fleet prints it: `Triggered global unit a.service start`.
    pub word: &'static str,
    /// What a failure to set the desired state is printed after: `Error starting units: …`.
    pub failure: &'static str,
}

/// The body of `load` and `start`: create what is missing, set every unit's desired state to the goal, print
/// `Triggered global unit NAME WORD` for each global unit and wait for the others to reach the goal — and for
/// the units replaced in place that already had it, to run the new contents. Returns the units waited for and
/// the attempts (`start` then waits for them to be active).
pub async fn schedule<D: Driver>(
    ctx: &Ctx<D>,
    args: &StartArgs,
    how: &Schedule,
) -> Result<(Vec<String>, i64), i32> {
    let opts = CreateOptions {
        verb: how.verb,
        replace: args.replace,
        block_attempts: args.block_attempts,
    };
    let (units, replaced) = submit_units(ctx, args.sign, &args.units, opts).await?;
    let names: Vec<String> = units.iter().map(|a| mangle(a)).collect();
    let triggered = match set_target_state_of_units(ctx, &names, how.goal).await {
        Ok(t) => t,
        Err(e) => {
            ctx.io.stderr(format!("{}: {e}", how.failure));
            return Err(1);
        }
    };
    let mut waiting = Vec::new();
    for u in triggered {
        if is_global(&u) {
            ctx.io
                .stdout(format!("Triggered global unit {} {}", u.name, how.word));
        } else {
            waiting.push(u.name);
        }
    }
    // Units replaced in place keep their desired state: wait for them to run the new contents too.
    for u in replaced {
        if !is_global(&u) && u.desired_state == how.goal.as_str() && !waiting.contains(&u.name) {
            waiting.push(u.name);
        }
    }
    let attempts = block_attempts(args.block_attempts, args.no_block);
    if let Err(e) = try_wait_for_unit_states(ctx, &waiting, how.word, how.goal, attempts).await {
        ctx.io
            .stderr(format!("Error waiting for unit states, exit status: {e}"));
        return Err(1);
    }
    Ok((waiting, attempts))
}

/// What `stop` or `unload` asks of its units.
pub struct BringDown {
    /// The desired state set and waited for.
    pub goal: TargetState,
    /// The verb as fleet prints it: `Triggered global unit a.service stop`.
    pub word: &'static str,
    /// Its past: `Successfully stopped units [a.service].`
    pub done: &'static str,
    /// The source named in `--debug` lines.
    pub source: &'static str,
    /// Whether a non-global unit in its current state needs the change (`Ok(false)`: skipped); `Err` is
    /// printed and ends the verb (exit 1).
    pub needed: fn(&ApiUnit) -> Result<bool, String>,
}

/// The body of `stop` and `unload`: set the goal on each unit found that needs it (a failure only logged, as
/// in fleet: the wait then reports the unit), print `Triggered global unit NAME WORD` for each global unit and
/// wait for the others; the outcome is reported on stderr.
pub async fn bring_down<D: Driver>(ctx: &Ctx<D>, args: &BlockArgs, how: &BringDown) -> i32 {
    let units = or_exit!(registered_units(ctx, &args.units).await);
    let mut waiting = Vec::new();
    for u in units {
        let global = is_global(&u);
        if !global {
            match (how.needed)(&u) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    ctx.io.stderr(e);
                    return 1;
                }
            }
        }
        if let Err(e) = ctx.driver.set_desired_state(&u.name, how.goal).await {
            ctx.io.debug(
                how.source,
                format!("Setting target state of Unit({}) failed: {e}", u.name),
            );
        }
        if global {
            ctx.io
                .stdout(format!("Triggered global unit {} {}", u.name, how.word));
        } else {
            waiting.push(u.name);
        }
    }
    let attempts = block_attempts(args.block_attempts, args.no_block);
    if let Err(e) = try_wait_for_unit_states(ctx, &waiting, how.word, how.goal, attempts).await {
        ctx.io.stderr(format!(
            "Failed to {} units {}. err: {e}",
            how.word,
            go_list(&waiting)
        ));
        return 1;
    }
    ctx.io.stderr(format!(
        "Successfully {} units {}.",
        how.done,
        go_list(&waiting)
    ));
    0
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

/// The list verbs' `--fields`, checked as fleet does against `valid`; the error is what fleet prints.
pub fn parse_fields<'a>(fields: &'a str, valid: &[&str]) -> Result<Vec<&'a str>, String> {
    if fields.is_empty() {
        return Err("Must define output format".to_string());
    }
    let cols: Vec<&str> = fields.split(',').collect();
    match cols.iter().find(|c| !valid.contains(c)) {
        Some(bad) => Err(format!("Invalid key in output format: {bad:?}")),
        None => Ok(cols),
    }
}

/// [`parse_fields`] for a list verb: a bad value is printed (exit 1).
pub fn columns<'a, D>(ctx: &Ctx<D>, fields: &'a str, valid: &[&str]) -> Result<Vec<&'a str>, i32> {
    parse_fields(fields, valid).map_err(|e| {
        ctx.io.stderr(e);
        1
    })
}

/// A list verb's table on stdout: a row per item, `cell` giving the text of each of `cols`, under the legend
/// unless `--no-legend`.
pub async fn print_table<D, T>(
    ctx: &Ctx<D>,
    cols: &[&str],
    items: &[T],
    no_legend: bool,
    cell: impl AsyncFn(&T, &str) -> String,
) {
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let mut row = Vec::with_capacity(cols.len());
        for c in cols {
            row.push(cell(item, c).await);
        }
        rows.push(row);
    }
    let _ = ctx
        .io
        .write_out(render_with_legend(cols, rows, !no_legend).as_bytes());
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
