//! The create phase shared by `submit`, `load` and `start` (fleet's `lazyCreateUnits`, `checkUnitCreation`,
//! `isLocalUnitDifferent`, `getUnitFile`, `createUnit`).
//!
//! For each argument: a unit already in the registry wins (a differing local file only earns a WARNING)
//! unless `--replace` is given; otherwise the unit comes from the file named by the argument or, for an
//! instance (`web@1.service`), from its template — the registry's `web@.service` first, then a file
//! `web@.service` next to the argument. Every unit is found, read and validated — its name, its file (a syntax
//! error with its line number) and its `[X-Fleet]` options — before the first one is written, so a command that
//! is refused writes nothing: `start a.service broken.service` does not leave `a.service` behind (fleet created
//! each unit as it went). Each created unit is then waited on until it reports `inactive` (even with
//! `--no-block`, as in fleet).
//!
//! `--replace` replaces a unit's contents *in place*: the new contents are written with the unit's current
//! desired state, so the unit keeps its machine, which reloads it and (if it runs) restarts it with the new
//! contents — fleetd's API keeps the schedule on a replace. (fleet's client sent no desired state, so every
//! replaced unit was torn down to `inactive`, waited on, and brought up again wherever the engine chose.) A
//! replaced unit that was `inactive` is waited on like a new one; the others are returned so `start`/`load`
//! can wait for them to run the new contents.
//!
//! Also fixed: `--replace` of an instance whose own file does not exist replaces it with the local
//! *template* it was compared against (fleet compared against the local template, then re-read the registry's
//! template and so "replaced" the unit with its old contents).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use fleet_model::schema::ApiUnit;
use fleet_model::{
    default_unit_type, validate_name, validate_unit, NameInfo, TargetState, UnitFile,
};

use crate::block::wait_all;
use crate::ctx::Ctx;
use crate::driver::{desired, unit_file, Driver, DriverError};
use crate::io::go_reason;
use crate::names::{base, mangle};

/// The verb running the create phase: which desired states `--replace` may replace a unit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Submit,
    Load,
    Start,
    Restart,
}

impl Verb {
    /// fleet's `checkReplaceUnitState` table.
    fn may_replace(self, desired: &str) -> Result<bool, CreateError> {
        let allowed: &[&str] = match self {
            Verb::Submit => &["inactive"],
            Verb::Load => &["inactive", "loaded"],
            Verb::Start => &["inactive", "loaded", "launched"],
            Verb::Restart => {
                return Err(CreateError(
                    "error: replacing units is not supported in this context".into(),
                ))
            }
        };
        Ok(allowed.contains(&desired))
    }
}

/// How the create phase runs.
#[derive(Debug, Clone, Copy)]
pub struct CreateOptions {
    pub verb: Verb,
    /// `--replace`.
    pub replace: bool,
    /// The raw `--block-attempts` (not `--no-block`: the creation wait always runs).
    pub block_attempts: i64,
}

/// A create-phase failure; printed as `Error creating units: <this>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CreateError(pub String);

/// Runs the create phase over `args` (already brace-expanded): plans every write, then makes them. Returns the
/// units replaced in place with a desired state other than `inactive` (as they were before the replace).
pub async fn lazy_create_units<D: Driver>(
    ctx: &Ctx<D>,
    args: &[String],
    opts: CreateOptions,
) -> Result<Vec<ApiUnit>, CreateError> {
    let writes = plan(ctx, args, opts).await?;
    let mut created = Vec::new();
    let mut replaced = Vec::new();
    for write in writes {
        let result = match &write {
            Write::Create { name, file } => {
                ctx.driver
                    .create_unit(name, file, TargetState::Inactive)
                    .await
            }
            Write::Replace { unit, file, state } => {
                ctx.driver.replace_unit(&unit.name, file, *state).await
            }
        };
        result.map_err(|e| CreateError(format!("failed creating unit {}: {e}", write.name())))?;
        match write {
            Write::Replace { unit, state, .. } if state != TargetState::Inactive => {
                replaced.push(unit)
            }
            _ => created.push(write.name().to_string()),
        }
    }
    let errors = wait_all(ctx, &created, TargetState::Inactive, opts.block_attempts).await;
    for e in &errors {
        ctx.io
            .stderr(format!("Error waiting on unit creation: {e}"));
    }
    if errors.is_empty() {
        Ok(replaced)
    } else {
        Err(CreateError("One or more errors creating units".into()))
    }
}

/// One write of the create phase.
enum Write {
    /// A new unit, created `inactive`.
    Create { name: String, file: UnitFile },
    /// New contents for `unit` (as it is in the registry), written with its desired state `state`.
    Replace {
        unit: ApiUnit,
        file: UnitFile,
        state: TargetState,
    },
}

impl Write {
    fn name(&self) -> &str {
        match self {
            Write::Create { name, .. } => name,
            Write::Replace { unit, .. } => &unit.name,
        }
    }

    /// The unit as the registry will hold it after this write.
    fn after(&self) -> ApiUnit {
        match self {
            Write::Create { name, file } => ApiUnit {
                name: name.clone(),
                options: file.options().to_vec(),
                desired_state: TargetState::Inactive.to_string(),
                ..ApiUnit::default()
            },
            Write::Replace { unit, file, state } => ApiUnit {
                options: file.options().to_vec(),
                desired_state: state.to_string(),
                ..unit.clone()
            },
        }
    }
}

/// The units as the registry holds them once the writes planned so far are made: a unit named twice, or an
/// instance after its template, is planned as it was found when fleet wrote each unit as it went.
type Planned = BTreeMap<String, ApiUnit>;

/// A unit from the registry, or as a planned write leaves it.
async fn registered<D: Driver>(
    ctx: &Ctx<D>,
    planned: &Planned,
    name: &str,
) -> Result<Option<ApiUnit>, DriverError> {
    match planned.get(name) {
        Some(u) => Ok(Some(u.clone())),
        None => ctx.driver.unit(name).await,
    }
}

/// The create phase's reads and checks, in argument order (fleet's messages and warnings included), with
/// nothing written: the writes to make.
async fn plan<D: Driver>(
    ctx: &Ctx<D>,
    args: &[String],
    opts: CreateOptions,
) -> Result<Vec<Write>, CreateError> {
    let mut planned = Planned::new();
    let mut writes = Vec::new();
    for arg in args {
        let arg = default_unit_type(arg);
        let name = mangle(&arg);
        let existing = registered(ctx, &planned, &name).await.map_err(|e| {
            CreateError(format!("error retrieving Unit({name}) from Registry: {e}"))
        })?;
        let write = match existing {
            Some(unit) => {
                let compared = local_differs(ctx, &arg, &unit, opts.replace);
                if !opts.replace {
                    continue;
                }
                let (differs, local) = compared?;
                if !differs {
                    ctx.io.stdout(format!(
                        "Found same Unit({}) in Registry, nothing to do",
                        unit.name
                    ));
                    continue;
                }
                if !opts.verb.may_replace(&unit.desired_state)? {
                    ctx.io.stderr(format!(
                        "Warning: can not replace Unit({}) in state '{}', use the appropriate command",
                        unit.name, unit.desired_state
                    ));
                    continue;
                }
                validate(&name, &local)?;
                let state = desired(&unit).unwrap_or(TargetState::Inactive);
                Write::Replace {
                    unit,
                    file: local,
                    state,
                }
            }
            None => {
                let file = get_unit_file(ctx, &planned, &arg, &name, opts.replace).await?;
                validate(&name, &file)?;
                Write::Create { name, file }
            }
        };
        planned.insert(write.name().to_string(), write.after());
        writes.push(write);
    }
    Ok(writes)
}

/// fleet's `createUnit` checks: the name, then the contents.
fn validate(name: &str, file: &UnitFile) -> Result<(), CreateError> {
    validate_name(name).map_err(|e| CreateError(e.to_string()))?;
    validate_unit(name, file).map_err(|e| CreateError(e.to_string()))?;
    Ok(())
}

/// fleet's `isLocalUnitDifferent` (not fatal): compares the registry's `unit` with the local file `arg` or,
/// when that does not exist and `arg` names an instance, with the template file next to it. Prints fleet's
/// WARNING when they differ and `--replace` is not given. Returns whether they differ and the local contents.
fn local_differs<D>(
    ctx: &Ctx<D>,
    arg: &str,
    unit: &ApiUnit,
    replace: bool,
) -> Result<(bool, UnitFile), CreateError> {
    let registry_hash = unit_file(unit).hash();
    if let Ok(local) = read_unit_file(Path::new(arg)) {
        let differs = local.hash() != registry_hash;
        if differs && !replace {
            ctx.io.stderr(format!(
                "WARNING: Unit {} in registry differs from local unit file {arg}. Add --replace to override.",
                unit.name
            ));
        }
        return Ok((differs, local));
    }
    let info = NameInfo::parse(base(arg))
        .ok_or_else(|| CreateError(format!("error extracting information from unit name {arg}")))?;
    let template = match (&info.template, info.is_instance()) {
        (Some(t), true) => t.clone(),
        _ => {
            return Err(CreateError(format!(
                "error Unit {arg} does not seem to be a template unit"
            )))
        }
    };
    let local = read_unit_file(&beside(arg, &template)).map_err(CreateError)?;
    let differs = local.hash() != registry_hash;
    if differs && !replace {
        ctx.io.stderr(format!(
            "WARNING: Unit {} in registry differs from local template unit file {arg}. Add --replace to override.",
            unit.name
        ));
    }
    Ok((differs, local))
}

/// fleet's `getUnitFile`: the file `arg`, or for an instance its template (registry — or planned — first,
/// then disk).
async fn get_unit_file<D: Driver>(
    ctx: &Ctx<D>,
    planned: &Planned,
    arg: &str,
    name: &str,
    replace: bool,
) -> Result<UnitFile, CreateError> {
    if exists(Path::new(arg)) {
        return read_unit_file(Path::new(arg))
            .map_err(|e| CreateError(format!("failed getting Unit({arg}) from file: {e}")));
    }
    let info = NameInfo::parse(name).ok_or_else(|| {
        CreateError(format!(
            "error extracting information from unit name {name}"
        ))
    })?;
    let template = match (&info.template, info.is_instance()) {
        (Some(t), true) => t.clone(),
        _ => {
            return Err(CreateError(format!(
                "unable to find Unit({name}) in Registry or on filesystem"
            )))
        }
    };
    let from_template =
        |e: String| CreateError(format!("failed getting Unit({arg}) from template: {e}"));
    let template_unit = registered(ctx, planned, &template).await.map_err(|e| {
        from_template(format!(
            "error retrieving template Unit({template}) from Registry: {e}"
        ))
    })?;
    if let Some(t) = template_unit {
        // Only for fleet's WARNING about a differing local template.
        let _ = local_differs(ctx, arg, &t, replace);
        return Ok(unit_file(&t));
    }
    let path = beside(arg, &template);
    if !exists(&path) {
        return Err(from_template(format!(
            "unable to find template Unit({template}) in Registry or on filesystem"
        )));
    }
    read_unit_file(&path).map_err(|e| {
        from_template(format!(
            "unable to load template Unit({template}) from file: {e}"
        ))
    })
}

/// `path.Join(path.Dir(arg), file)`.
pub fn beside(arg: &str, file: &str) -> PathBuf {
    Path::new(arg)
        .parent()
        .map_or_else(|| PathBuf::from(file), |dir| dir.join(file))
}

/// Whether something is at `path` (fleet: `!os.IsNotExist(os.Stat(path))`).
fn exists(path: &Path) -> bool {
    !matches!(std::fs::metadata(path), Err(e) if e.kind() == ErrorKind::NotFound)
}

/// Reads and parses a unit file; errors read like Go's (`open x: no such file or directory`).
pub fn read_unit_file(path: &Path) -> Result<UnitFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("open {}: {}", path.display(), go_reason(&e)))?;
    UnitFile::parse(&text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::testutil::{cluster, ctx, UNIT};

    fn opts(verb: Verb, replace: bool) -> CreateOptions {
        CreateOptions {
            verb,
            replace,
            block_attempts: 0,
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    }

    #[tokio::test]
    async fn a_local_file_is_created_and_waited_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "hello.service", UNIT);
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[])));
        // `dir/hello` finds `dir/hello.service`.
        let arg = path.trim_end_matches(".service").to_string();
        lazy_create_units(&ctx, &[arg], opts(Verb::Submit, false))
            .await
            .expect("created");
        assert_eq!(ctx.driver.log(), ["create hello.service inactive"]);
        assert_eq!(cap.out(), "Unit hello.service inactive\n");
    }

    #[tokio::test]
    async fn instances_come_from_the_registry_template_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "web@.service",
            "[Service]\nExecStart=/bin/local\n",
        );
        let registry_text = "[Service]\nExecStart=/bin/registry %i\n";
        let d = FakeDriver::converging(cluster(&[(
            "web@.service",
            registry_text,
            TargetState::Inactive,
        )]));
        let (ctx, cap) = ctx(d);
        let arg = dir.path().join("web@1.service").display().to_string();
        lazy_create_units(&ctx, std::slice::from_ref(&arg), opts(Verb::Start, false))
            .await
            .expect("created");
        let created = ctx.driver.with(|c| c.units["web@1.service"].clone());
        assert_eq!(
            unit_file(&created).hash(),
            UnitFile::parse(registry_text).expect("valid").hash()
        );
        assert_eq!(
            cap.err(),
            format!("WARNING: Unit web@.service in registry differs from local template unit file {arg}. Add --replace to override.\n")
        );
    }

    #[tokio::test]
    async fn instances_come_from_a_template_file_next_to_the_argument() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "web@.service",
            "[Service]\nExecStart=/bin/web %i\n",
        );
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[])));
        let args: Vec<String> = (1..=2)
            .map(|i| dir.path().join(format!("web@{i}")).display().to_string())
            .collect();
        lazy_create_units(&ctx, &args, opts(Verb::Start, false))
            .await
            .expect("created");
        assert_eq!(
            ctx.driver.log(),
            [
                "create web@1.service inactive",
                "create web@2.service inactive"
            ]
        );
        assert!(cap.out().contains("Unit web@1.service inactive\n"));
        assert!(cap.out().contains("Unit web@2.service inactive\n"));
    }

    #[tokio::test]
    async fn missing_units_and_templates_are_fleets_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ctx, _cap) = ctx(FakeDriver::converging(cluster(&[])));
        let arg = |n: &str| dir.path().join(n).display().to_string();
        let err = lazy_create_units(&ctx, &[arg("nope")], opts(Verb::Start, false))
            .await
            .expect_err("missing");
        assert_eq!(
            err.to_string(),
            "unable to find Unit(nope.service) in Registry or on filesystem"
        );
        let err = lazy_create_units(&ctx, &[arg("web@1")], opts(Verb::Start, false))
            .await
            .expect_err("no template");
        assert_eq!(
            err.to_string(),
            format!("failed getting Unit({}) from template: unable to find template Unit(web@.service) in Registry or on filesystem", arg("web@1.service"))
        );
        assert!(ctx.driver.log().is_empty());
    }

    #[tokio::test]
    async fn validation_runs_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ctx, _cap) = ctx(FakeDriver::converging(cluster(&[])));
        let bad_name = write(dir.path(), "bad!name.service", UNIT);
        let err = lazy_create_units(&ctx, &[bad_name], opts(Verb::Submit, false))
            .await
            .expect_err("bad name");
        assert_eq!(err.to_string(), "invalid character '!' in unit name");
        let bad_text = write(
            dir.path(),
            "a.service",
            "[Unit]\nDescription=x\n[Service\nExecStart=/bin/true\n",
        );
        let err = lazy_create_units(
            &ctx,
            std::slice::from_ref(&bad_text),
            opts(Verb::Submit, false),
        )
        .await
        .expect_err("bad text");
        assert_eq!(
            err.to_string(),
            format!("failed getting Unit({bad_text}) from file: line 3: Invalid section header '[Service'")
        );
        let bad_combo = write(
            dir.path(),
            "b.service",
            "[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineID=abc\nGlobal=true\n",
        );
        let err = lazy_create_units(&ctx, &[bad_combo], opts(Verb::Submit, false))
            .await
            .expect_err("bad options");
        assert_eq!(err.to_string(), "MachineID cannot be used with Global");
        assert!(ctx.driver.log().is_empty());
    }

    #[tokio::test]
    async fn a_bad_unit_after_good_ones_stops_the_phase_before_any_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = write(dir.path(), "a.service", UNIT);
        let template = write(dir.path(), "web@.service", UNIT);
        let instance = dir.path().join("web@1.service").display().to_string();
        let bad_combo = write(
            dir.path(),
            "b.service",
            "[Service]\nExecStart=/bin/true\n[X-Fleet]\nConflicts=a.service\nReplaces=c.service\n",
        );
        let (ctx, _cap) = ctx(FakeDriver::converging(cluster(&[])));
        let err = lazy_create_units(
            &ctx,
            &[good, template, instance, bad_combo],
            opts(Verb::Start, false),
        )
        .await
        .expect_err("refused");
        assert_eq!(err.to_string(), "Conflicts cannot be used with Replaces");
        assert!(ctx.driver.log().is_empty());
    }

    #[tokio::test]
    async fn a_unit_named_twice_or_after_its_template_is_planned_as_if_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let template = write(
            dir.path(),
            "web@.service",
            "[Service]\nExecStart=/bin/web %i\n",
        );
        let instance = dir.path().join("web@1.service").display().to_string();
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[])));
        // The instance comes from the template created before it; the second template is already there.
        lazy_create_units(
            &ctx,
            &[template.clone(), instance, template],
            opts(Verb::Submit, false),
        )
        .await
        .expect("created");
        assert_eq!(
            ctx.driver.log(),
            [
                "create web@.service inactive",
                "create web@1.service inactive"
            ]
        );
        let created = ctx.driver.with(|c| c.units["web@1.service"].clone());
        assert_eq!(
            unit_file(&created).hash(),
            UnitFile::parse("[Service]\nExecStart=/bin/web %i\n")
                .expect("valid")
                .hash()
        );
        assert_eq!(cap.err(), "");
        assert_eq!(cap.out().lines().count(), 2);
    }

    #[tokio::test]
    async fn the_registry_copy_wins_without_replace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "a.service", "[Service]\nExecStart=/bin/new\n");
        let d = FakeDriver::converging(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        let (ctx, cap) = ctx(d);
        lazy_create_units(&ctx, std::slice::from_ref(&path), opts(Verb::Start, false))
            .await
            .expect("nothing to do");
        assert!(ctx.driver.log().is_empty());
        assert_eq!(
            cap.err(),
            format!("WARNING: Unit a.service in registry differs from local unit file {path}. Add --replace to override.\n")
        );
    }

    #[tokio::test]
    async fn replace_follows_fleets_state_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "a.service", "[Service]\nExecStart=/bin/new\n");
        let same = write(dir.path(), "b.service", UNIT);
        let d = FakeDriver::converging(cluster(&[
            ("a.service", UNIT, TargetState::Launched),
            ("b.service", UNIT, TargetState::Launched),
        ]));
        let (ctx, cap) = ctx(d);
        // submit may not replace a launched unit.
        lazy_create_units(&ctx, std::slice::from_ref(&path), opts(Verb::Submit, true))
            .await
            .expect("skipped");
        assert_eq!(
            cap.err(),
            "Warning: can not replace Unit(a.service) in state 'launched', use the appropriate command\n"
        );
        assert!(ctx.driver.log().is_empty());
        // start may; the unit goes down to inactive first.
        let replaced = lazy_create_units(&ctx, &[path.clone(), same], opts(Verb::Start, true))
            .await
            .expect("replaced");
        assert_eq!(
            replaced.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["a.service"]
        );
        let new_hash = UnitFile::parse("[Service]\nExecStart=/bin/new\n")
            .expect("valid")
            .hash()
            .short();
        assert_eq!(
            ctx.driver.log(),
            [format!("replace a.service {new_hash} launched")]
        );
        assert_eq!(
            cap.out(),
            "Found same Unit(b.service) in Registry, nothing to do\n"
        );
    }

    #[tokio::test]
    async fn an_inactive_unit_is_replaced_and_waited_on_like_a_new_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "a.service", "[Service]\nExecStart=/bin/new\n");
        let d = FakeDriver::converging(cluster(&[("a.service", UNIT, TargetState::Inactive)]));
        let (ctx, cap) = ctx(d);
        let replaced =
            lazy_create_units(&ctx, std::slice::from_ref(&path), opts(Verb::Submit, true))
                .await
                .expect("replaced");
        assert!(replaced.is_empty());
        assert_eq!(ctx.driver.log().len(), 1);
        assert_eq!(cap.out(), "Unit a.service inactive\n");
    }

    #[tokio::test]
    async fn replace_without_a_local_file_is_an_error() {
        let d = FakeDriver::converging(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        let (ctx, _cap) = ctx(d);
        let err = lazy_create_units(&ctx, &["a.service".to_string()], opts(Verb::Start, true))
            .await
            .expect_err("no local file");
        assert_eq!(
            err.to_string(),
            "error Unit a.service does not seem to be a template unit"
        );
    }

    #[tokio::test]
    async fn replacing_an_instance_uses_the_local_template() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "[Service]\nExecStart=/bin/v2 %i\n";
        write(dir.path(), "web@.service", text);
        let d = FakeDriver::converging(cluster(&[
            ("web@.service", UNIT, TargetState::Inactive),
            ("web@1.service", UNIT, TargetState::Launched),
        ]));
        let (ctx, _cap) = ctx(d);
        let arg = dir.path().join("web@1.service").display().to_string();
        lazy_create_units(&ctx, &[arg], opts(Verb::Start, true))
            .await
            .expect("replaced");
        let hash = UnitFile::parse(text).expect("valid").hash().short();
        assert_eq!(
            ctx.driver.log(),
            [format!("replace web@1.service {hash} launched")]
        );
    }
}
