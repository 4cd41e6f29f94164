//! `fleetctl rolling-replace [--block-attempts=N] UNIT...` (Flotilla): replace the contents of a group of units
//! one at a time, waiting after each until its machine runs the new contents, so a service of N instances
//! never has more than one down.
//!
//! A template (`web@.service`) names the template itself (replaced first, nothing to wait for) and every
//! instance of it in the registry, in instance order (`web@2` before `web@10`); other names (brace ranges
//! allowed) are taken as given. The new contents come from local files as `start` finds them: the file named
//! by the argument, or for an instance the template file next to it.
//!
//! Each unit keeps its desired state. After the replace fleetctl waits, up to `--block-attempts` attempts
//! (0: no limit), for: `launched` — a state published with the new hash and `active` (from the unit's machine;
//! from every machine for a global unit); `loaded` — a state with the new hash; `inactive` — nothing. The first
//! unit that does not get there stops the roll, naming the units left untouched. A unit that already has the
//! new contents is not written again, only waited on, so a roll can be re-run after a fix.

use fleet_model::schema::{ApiUnit, ApiUnitState};
use fleet_model::{
    default_unit_type, validate_name, validate_unit, NameInfo, TargetState, UnitFile,
};

use crate::block::{block_attempts, poll, Check, GaveUp};
use crate::cli::RestartArgs;
use crate::cmd::{given_units, go_list, or_exit};
use crate::create::{beside, read_unit_file};
use crate::ctx::{full_legend, go_duration, Ctx};
use crate::driver::{desired, is_global, unit_file, Driver};
use crate::names::{instance_order, is_template, mangle, template_of};

/// One unit to replace and its new contents.
struct Step {
    name: String,
    file: UnitFile,
}

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &RestartArgs) -> i32 {
    let names = or_exit!(given_units(ctx, &args.units));
    let plan = match plan(ctx, &names).await {
        Ok(p) => p,
        Err(e) => {
            ctx.io.stderr(format!("Error replacing units: {e}"));
            return 1;
        }
    };
    let attempts = u32::try_from(block_attempts(args.block_attempts, false)).unwrap_or(u32::MAX);
    for (i, step) in plan.iter().enumerate() {
        if let Err(e) = replace_one(ctx, step, attempts).await {
            ctx.io.stderr(format!("Error replacing units: {e}"));
            let left: Vec<String> = plan[i + 1..].iter().map(|s| s.name.clone()).collect();
            if !left.is_empty() {
                ctx.io
                    .stderr(format!("Units not replaced: {}", go_list(&left)));
            }
            return 1;
        }
    }
    0
}

/// The units to replace, in order, with their new contents, all validated before anything is written.
async fn plan<D: Driver>(ctx: &Ctx<D>, args: &[String]) -> Result<Vec<Step>, String> {
    let registry = ctx
        .driver
        .units()
        .await
        .map_err(|e| format!("error retrieving units from Registry: {e}"))?;
    let mut steps: Vec<Step> = Vec::new();
    let mut push = |step: Step| {
        if !steps.iter().any(|s| s.name == step.name) {
            steps.push(step);
        }
    };
    for arg in args {
        let path = default_unit_type(arg);
        let name = mangle(&path);
        if is_template(&name) {
            let file = read_unit_file(std::path::Path::new(&path))
                .map_err(|e| format!("failed getting Unit({path}) from file: {e}"))?;
            let mut instances: Vec<&ApiUnit> = registry
                .iter()
                .filter(|u| template_of(&u.name).as_deref() == Some(name.as_str()))
                .collect();
            instances.sort_by(|a, b| instance_order(&a.name, &b.name));
            let template_registered = registry.iter().any(|u| u.name == name);
            if instances.is_empty() && !template_registered {
                return Err(format!("no unit of template {name} in the registry"));
            }
            if template_registered {
                push(Step {
                    name: name.clone(),
                    file: file.clone(),
                });
            }
            for u in instances {
                push(Step {
                    name: u.name.clone(),
                    file: file.clone(),
                });
            }
            continue;
        }
        if !registry.iter().any(|u| u.name == name) {
            return Err(format!(
                "unit {name} is not in the registry (submit or start it first)"
            ));
        }
        let file = match read_unit_file(std::path::Path::new(&path)) {
            Ok(f) => f,
            Err(own) => {
                let template = NameInfo::parse(&name)
                    .filter(NameInfo::is_instance)
                    .and_then(|i| i.template)
                    .ok_or_else(|| format!("failed getting Unit({path}) from file: {own}"))?;
                read_unit_file(&beside(&path, &template)).map_err(|e| {
                    format!("unable to load template Unit({template}) from file: {e}")
                })?
            }
        };
        push(Step { name, file });
    }
    for s in &steps {
        validate_name(&s.name).map_err(|e| e.to_string())?;
        validate_unit(&s.name, &s.file).map_err(|e| format!("{}: {e}", s.name))?;
    }
    Ok(steps)
}

/// Replaces one unit and waits until it runs the new contents.
async fn replace_one<D: Driver>(ctx: &Ctx<D>, step: &Step, attempts: u32) -> Result<(), String> {
    let name = step.name.as_str();
    let hash = step.file.hash();
    let short = hash.short();
    let current = ctx
        .driver
        .unit(name)
        .await
        .map_err(|e| format!("error retrieving Unit({name}) from Registry: {e}"))?
        .ok_or_else(|| format!("unit {name} is no longer in the registry"))?;
    let state = desired(&current).unwrap_or(TargetState::Inactive);
    if unit_file(&current).hash() != hash {
        ctx.driver
            .replace_unit(name, &step.file, state)
            .await
            .map_err(|e| format!("failed replacing unit {name}: {e}"))?;
    }
    if is_template(name) || state == TargetState::Inactive {
        ctx.io
            .stdout(format!("Unit {name} replaced (hash {short})"));
        return Ok(());
    }
    let global = is_global(&current);
    let want = hash.to_string();
    let result = poll(ctx, attempts, || {
        let want = want.as_str();
        let short = short.as_str();
        async move {
            let unit = match ctx.driver.unit(name).await {
                Ok(Some(u)) => u,
                Ok(None) => {
                    return Check::Fail(format!("unit {name} was removed from the registry"))
                }
                Err(_) => return Check::NotYet,
            };
            if !global && unit.machine_id.is_empty() && !unit.unschedulable_reason.is_empty() {
                return Check::Stuck(format!(
                    "unit {name} cannot be scheduled: {}",
                    unit.unschedulable_reason
                ));
            }
            let Ok(states) = ctx.driver.unit_states(Some(name)).await else {
                return Check::NotYet;
            };
            let mine: Vec<&ApiUnitState> = states
                .iter()
                .filter(|s| global || s.machine_id == unit.machine_id)
                .collect();
            let ok = |s: &&ApiUnitState| {
                s.hash == want
                    && match state {
                        TargetState::Launched => s.active_state == "active",
                        _ => s.load_state == "loaded",
                    }
            };
            if !mine.is_empty() && mine.iter().all(ok) {
                return Check::Done;
            }
            let failing = mine.iter().any(|s| {
                s.hash == want && (s.active_state == "failed" || s.sub_state == "auto-restart")
            });
            if failing && state == TargetState::Launched {
                Check::Stuck(format!("unit {name} fails with hash {short}"))
            } else {
                Check::NotYet
            }
        }
    })
    .await;
    match result {
        Ok(()) => {
            let done = if state == TargetState::Launched {
                "active"
            } else {
                "loaded"
            };
            let place = if global {
                "on every machine".to_string()
            } else {
                let u = ctx.driver.unit(name).await.ok().flatten();
                let machine = u.map(|u| u.machine_id).unwrap_or_default();
                match ctx.machine(&machine).await {
                    Some(m) => format!("on {}", full_legend(&m.id, &m.primary_ip, false)),
                    None => format!("on {}", full_legend(&machine, "", false)),
                }
            };
            ctx.io.stdout(format!(
                "Unit {name} replaced (hash {short}), {done} {place}"
            ));
            Ok(())
        }
        Err(GaveUp::Attempts {
            stuck: Some(reason),
        }) => Err(reason),
        Err(GaveUp::Attempts { stuck: None }) => Err(format!(
            "timed out waiting for unit {name} to run hash {short}"
        )),
        Err(GaveUp::Stuck { reason, held }) => Err(format!(
            "{reason} (for {})",
            go_duration(std::time::Duration::from_secs(held.as_secs()))
        )),
        Err(GaveUp::Failed(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::driver::fake::{self, FakeDriver};
    use crate::testutil::{cluster, ctx, UNIT};

    const V2: &str = "[Service]\nExecStart=/bin/v2 %i\n";

    fn args(units: &[String], attempts: i64) -> RestartArgs {
        RestartArgs {
            block_attempts: attempts,
            units: units.to_vec(),
        }
    }

    fn template_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("web@.service"), V2).expect("write");
        dir
    }

    fn arg(dir: &Path, name: &str) -> String {
        dir.join(name).display().to_string()
    }

    fn web_cluster() -> crate::driver::fake::Cluster {
        cluster(&[
            ("web@.service", UNIT, TargetState::Inactive),
            ("web@10.service", UNIT, TargetState::Launched),
            ("web@2.service", UNIT, TargetState::Launched),
            ("web@1.service", UNIT, TargetState::Loaded),
            ("other.service", UNIT, TargetState::Launched),
        ])
    }

    #[tokio::test]
    async fn a_template_rolls_over_its_instances_one_at_a_time() {
        let dir = template_dir();
        let (ctx, cap) = ctx(FakeDriver::converging(web_cluster()));
        let code = run(&ctx, &args(&[arg(dir.path(), "web@.service")], 0)).await;
        assert_eq!(code, 0, "{}", cap.err());
        let h = UnitFile::parse(V2).expect("valid").hash().short();
        assert_eq!(
            ctx.driver.log(),
            [
                format!("replace web@.service {h} inactive"),
                format!("replace web@1.service {h} loaded"),
                format!("replace web@2.service {h} launched"),
                format!("replace web@10.service {h} launched"),
            ]
        );
        assert_eq!(
            cap.out(),
            format!(
                "Unit web@.service replaced (hash {h})\n\
                 Unit web@1.service replaced (hash {h}), loaded on 113f16a7.../172.17.8.103\n\
                 Unit web@2.service replaced (hash {h}), active on 113f16a7.../172.17.8.103\n\
                 Unit web@10.service replaced (hash {h}), active on 113f16a7.../172.17.8.103\n"
            )
        );
    }

    #[tokio::test]
    async fn the_next_unit_waits_until_the_previous_one_runs_the_new_hash() {
        let dir = template_dir();
        let d = FakeDriver::converging(web_cluster());
        // The agent takes a few polls to pick up new contents: until then it reports the old hash.
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let p = polls.clone();
        let old = UnitFile::parse(UNIT).expect("valid").hash().to_string();
        d.set_tick(Box::new(move |c| {
            fake::converge(c);
            if p.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 7 != 6 {
                for s in &mut c.states {
                    s.hash = old.clone();
                }
            }
        }));
        let (ctx, cap) = ctx(d);
        let names = vec![arg(dir.path(), "web@{2,10}.service")];
        assert_eq!(run(&ctx, &args(&names, 0)).await, 0, "{}", cap.err());
        assert_eq!(ctx.driver.log().len(), 2);
        assert!(polls.load(std::sync::atomic::Ordering::SeqCst) >= 14);
    }

    #[tokio::test]
    async fn the_first_failure_stops_the_roll() {
        let dir = template_dir();
        let d = FakeDriver::converging_with(web_cluster(), |s| {
            if s.name == "web@2.service" {
                fake::fail(s);
            }
        });
        let (ctx, cap) = ctx(d);
        let code = run(&ctx, &args(&[arg(dir.path(), "web@.service")], 0)).await;
        assert_eq!(code, 1);
        let h = UnitFile::parse(V2).expect("valid").hash().short();
        assert_eq!(ctx.driver.log().len(), 3, "web@10 untouched");
        let err = cap.err();
        assert!(
            err.starts_with(&format!(
                "Error replacing units: unit web@2.service fails with hash {h} (for "
            )),
            "{err}"
        );
        assert!(
            err.ends_with("Units not replaced: [web@10.service]\n"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn attempts_bound_each_wait_and_unschedulable_units_say_why() {
        let dir = template_dir();
        let mut c = web_cluster();
        c.units
            .get_mut("web@2.service")
            .expect("unit")
            .unschedulable_reason = "no machine left".into();
        let (ctx, cap) = ctx(FakeDriver::converging(c));
        let names = vec![arg(dir.path(), "web@2"), arg(dir.path(), "web@10")];
        assert_eq!(run(&ctx, &args(&names, 2)).await, 1);
        assert_eq!(
            cap.err(),
            "Error replacing units: unit web@2.service cannot be scheduled: no machine left\n\
             Units not replaced: [web@10.service]\n"
        );
    }

    #[tokio::test]
    async fn unknown_units_and_bad_files_are_refused_before_any_write() {
        let dir = template_dir();
        std::fs::write(
            dir.path().join("other.service"),
            "[Service]\nExecStart=/bin/x\n[X-Fleet]\nMachineID=a\nGlobal=true\n",
        )
        .expect("write");
        let (ctx, cap) = ctx(FakeDriver::converging(web_cluster()));
        let names = vec![arg(dir.path(), "web@1"), arg(dir.path(), "other")];
        assert_eq!(run(&ctx, &args(&names, 0)).await, 1);
        assert_eq!(
            cap.err(),
            "Error replacing units: other.service: MachineID cannot be used with Global\n"
        );
        assert_eq!(run(&ctx, &args(&["nope".to_string()], 0)).await, 1);
        assert!(cap.err().ends_with(
            "Error replacing units: unit nope.service is not in the registry (submit or start it first)\n"
        ));
        assert!(ctx.driver.log().is_empty());
    }
}
