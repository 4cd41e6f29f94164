//! `unitctl status [UNIT...]`: systemctl's status page — the `●` header, `Loaded:`, `Drop-In:`, `Active:`,
//! processes, `Main PID:`, `Status:`, `Tasks:`, `Memory:`, `CPU:`, the `CGroup:` tree and the last journal
//! lines — with its exit codes: 0 if every unit is active, 3 if one is not, 4 if one doesn't exist (the first
//! non-zero code wins). Without units: the manager's state.
//!
//! `Loaded:` shows `; preset: …` only if unitd exposes `UnitFilePreset` (DBUS.md doesn't list it yet). Lines are
//! never truncated (systemctl's non-terminal output).
//!
//! [`StatusInfo::from_props`] and [`render_status`] are pure; `run` gathers properties, `/proc` and
//! cgroupfs data and the journal around them.

use unitd_client::ExecCommand;
use unitd_journal::{Filter, JournalReader};

use super::journal::OutputMode;
use crate::cgroup_tree::{find_cgroup_dir, process_comm, read_tree, render_tree};
use crate::context::{emit, emit_err, Context};
use crate::error::{code, Failure};
use crate::props::{PropValue, Props};
use crate::render::process::describe_exit;
use crate::render::time::{format_timespan, USEC_PER_MSEC};
use crate::render::{format_bytes, format_timestamp, format_timestamp_relative, Zone};
use crate::units::{
    expand_names, find_unit, get_all, hostname, journal_dir, manager_path, unit_props,
    FLOTILLA_IFACE, MANAGER_IFACE,
};

/// How many journal lines status shows without `-n`.
pub const DEFAULT_LINES: usize = 10;

/// The indentation of continuation lines (`Drop-In:` files, the cgroup tree).
const PREFIX: &str = "             ";

/// What the status page shows, from the unit's `Unit` and `Service` properties.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusInfo {
    /// `Id`.
    pub id: String,
    /// `Description`.
    pub description: String,
    /// `LoadState`.
    pub load_state: String,
    /// `ActiveState`.
    pub active_state: String,
    /// `SubState`.
    pub sub_state: String,
    /// `FragmentPath`.
    pub fragment_path: String,
    /// `DropInPaths`.
    pub drop_in_paths: Vec<String>,
    /// `UnitFileState`.
    pub unit_file_state: String,
    /// `UnitFilePreset`, if unitd has it.
    pub unit_file_preset: String,
    /// The message of `LoadError`.
    pub load_error: String,
    /// `ActiveEnterTimestamp`.
    pub active_enter: u64,
    /// `ActiveExitTimestamp`.
    pub active_exit: u64,
    /// `InactiveEnterTimestamp`.
    pub inactive_enter: u64,
    /// `InactiveExitTimestamp`.
    pub inactive_exit: u64,
    /// `Result` (services).
    pub result: String,
    /// `ExecMainPID`, else `MainPID`.
    pub main_pid: u32,
    /// Whether the main process runs (`MainPID` > 0).
    pub running: bool,
    /// `ControlPID`.
    pub control_pid: u32,
    /// `StatusText`.
    pub status_text: String,
    /// `ExecMainCode`.
    pub exit_code: i32,
    /// `ExecMainStatus`.
    pub exit_status: i32,
    /// `ExecMainStartTimestamp`.
    pub main_start: u64,
    /// `ExecMainExitTimestamp`.
    pub main_exit: u64,
    /// The commands that ran, by property (`ExecStart`, …).
    pub exec: Vec<(String, ExecCommand)>,
    /// `TasksCurrent` (u64::MAX: unknown).
    pub tasks_current: u64,
    /// `TasksMax`.
    pub tasks_max: u64,
    /// `MemoryCurrent` (u64::MAX: unknown).
    pub memory_current: u64,
    /// `MemoryMax`.
    pub memory_max: u64,
    /// `CPUUsageNSec` (u64::MAX: unknown).
    pub cpu_usage_nsec: u64,
    /// `ControlGroup`.
    pub control_group: String,
    /// `comm` of the main process (read from /proc).
    pub main_comm: Option<String>,
    /// `comm` of the control process.
    pub control_comm: Option<String>,
}

/// The `Exec*` properties status lists, in systemd's order.
const EXEC_PROPERTIES: [&str; 7] = [
    "ExecCondition",
    "ExecStartPre",
    "ExecStart",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
];

impl StatusInfo {
    /// Reads the unit's and the service's property maps (the latter empty for other unit types).
    pub fn from_props(unit: &Props, service: &Props) -> StatusInfo {
        let get = |name: &str| unit.get(name).or_else(|| service.get(name));
        let string = |name: &str| {
            get(name)
                .and_then(PropValue::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let number =
            |name: &str, default: u64| get(name).and_then(PropValue::as_u64).unwrap_or(default);
        let int = |name: &str| get(name).and_then(PropValue::as_i64).unwrap_or(0);
        let pid = |name: &str| u32::try_from(number(name, 0)).unwrap_or(0);
        let strings = |name: &str| match get(name) {
            Some(PropValue::Strings(v)) => v.clone(),
            _ => Vec::new(),
        };
        let load_error = match get("LoadError") {
            Some(PropValue::Struct(fields)) => fields
                .get(1)
                .and_then(PropValue::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        };
        let mut exec = Vec::new();
        for name in EXEC_PROPERTIES {
            if let Some(PropValue::Exec(cmds)) = get(name) {
                exec.extend(cmds.iter().map(|c| (name.to_string(), c.clone())));
            }
        }
        let main_pid = pid("MainPID");
        let exec_main_pid = pid("ExecMainPID");
        StatusInfo {
            id: string("Id"),
            description: string("Description"),
            load_state: string("LoadState"),
            active_state: string("ActiveState"),
            sub_state: string("SubState"),
            fragment_path: string("FragmentPath"),
            drop_in_paths: strings("DropInPaths"),
            unit_file_state: string("UnitFileState"),
            unit_file_preset: string("UnitFilePreset"),
            load_error,
            active_enter: number("ActiveEnterTimestamp", 0),
            active_exit: number("ActiveExitTimestamp", 0),
            inactive_enter: number("InactiveEnterTimestamp", 0),
            inactive_exit: number("InactiveExitTimestamp", 0),
            result: string("Result"),
            main_pid: if exec_main_pid > 0 {
                exec_main_pid
            } else {
                main_pid
            },
            running: main_pid > 0,
            control_pid: pid("ControlPID"),
            status_text: string("StatusText"),
            exit_code: i32::try_from(int("ExecMainCode")).unwrap_or(0),
            exit_status: i32::try_from(int("ExecMainStatus")).unwrap_or(0),
            main_start: number("ExecMainStartTimestamp", 0),
            main_exit: number("ExecMainExitTimestamp", 0),
            exec,
            tasks_current: number("TasksCurrent", u64::MAX),
            tasks_max: number("TasksMax", u64::MAX),
            memory_current: number("MemoryCurrent", u64::MAX),
            memory_max: number("MemoryMax", u64::MAX),
            cpu_usage_nsec: number("CPUUsageNSec", u64::MAX),
            control_group: string("ControlGroup"),
            main_comm: None,
            control_comm: None,
        }
    }

    /// Whether status exits 0 for this unit.
    pub fn is_active(&self) -> bool {
        matches!(self.active_state.as_str(), "active" | "reloading")
    }

    /// Whether the unit does not exist (status says "could not be found" and exits 4).
    pub fn is_not_found(&self) -> bool {
        self.load_state == "not-found" && self.active_state == "inactive"
    }
}

/// systemd's glyph for an active state.
pub fn state_glyph(active_state: &str) -> &'static str {
    match active_state {
        "reloading" | "refreshing" => "↻",
        "inactive" | "maintenance" => "○",
        "failed" => "×",
        _ => "●",
    }
}

/// Whether systemd shows the preset for this unit-file state.
fn show_preset_for_state(state: &str) -> bool {
    matches!(state, "enabled" | "disabled")
}

/// The status page of one unit (without the cgroup tree and the journal, which are passed in as lines).
pub fn render_status(
    i: &StatusInfo,
    zone: &Zone,
    now: u64,
    cgroup_lines: &[String],
    journal_lines: &[String],
) -> String {
    let mut out = String::new();
    let id = if i.id.is_empty() { "n/a" } else { &i.id };
    if !i.description.is_empty() && i.description != i.id {
        push_line(
            &mut out,
            format!("{} {id} - {}", state_glyph(&i.active_state), i.description),
        );
    } else {
        push_line(&mut out, format!("{} {id}", state_glyph(&i.active_state)));
    }

    let load_state = if i.load_state.is_empty() {
        "n/a"
    } else {
        &i.load_state
    };
    let path = (!i.fragment_path.is_empty()).then_some(i.fragment_path.as_str());
    if !i.load_error.is_empty() {
        push_line(
            &mut out,
            format!("     Loaded: {load_state} (Reason: {})", i.load_error),
        );
    } else if let (Some(path), false) = (path, i.unit_file_state.is_empty()) {
        let preset = if !i.unit_file_preset.is_empty() && show_preset_for_state(&i.unit_file_state)
        {
            format!("; preset: {}", i.unit_file_preset)
        } else {
            String::new()
        };
        push_line(
            &mut out,
            format!(
                "     Loaded: {load_state} ({path}; {}{preset})",
                i.unit_file_state
            ),
        );
    } else if let Some(path) = path {
        push_line(&mut out, format!("     Loaded: {load_state} ({path})"));
    } else {
        push_line(&mut out, format!("     Loaded: {load_state}"));
    }

    if !i.drop_in_paths.is_empty() {
        let mut text = String::new();
        let mut dir: Option<String> = None;
        let mut last = false;
        for (n, dropin) in i.drop_in_paths.iter().enumerate() {
            if dir.is_none() || last {
                text.push_str(if dir.is_some() {
                    PREFIX
                } else {
                    "    Drop-In: "
                });
                let d = match dropin.rfind('/') {
                    Some(0) => "/".to_string(),
                    Some(k) => dropin[..k].to_string(),
                    None => ".".to_string(),
                };
                text.push_str(&format!("{d}\n{PREFIX}└─"));
                dir = Some(d);
            }
            let d = dir.as_deref().unwrap_or("");
            last = !i
                .drop_in_paths
                .get(n + 1)
                .is_some_and(|next| next.starts_with(d));
            let base = dropin.rsplit('/').next().unwrap_or(dropin);
            text.push_str(base);
            text.push_str(if last { "\n" } else { ", " });
        }
        out.push_str(&text);
    }

    let mut active = if !i.sub_state.is_empty() && i.sub_state != i.active_state {
        format!("     Active: {} ({})", or_na(&i.active_state), i.sub_state)
    } else {
        format!("     Active: {}", or_na(&i.active_state))
    };
    if !i.result.is_empty() && i.result != "success" {
        active.push_str(&format!(" (Result: {})", i.result));
    }
    let timestamp = match i.active_state.as_str() {
        "active" | "reloading" => i.active_enter,
        "inactive" | "failed" => i.inactive_enter,
        "activating" => i.inactive_exit,
        _ => i.active_exit,
    };
    match (
        format_timestamp(timestamp, zone),
        format_timestamp_relative(timestamp, now),
    ) {
        (Some(abs), Some(rel)) => active.push_str(&format!(" since {abs}; {rel}")),
        (Some(abs), None) => active.push_str(&format!(" since {abs}")),
        _ => {}
    }
    push_line(&mut out, active);

    let mut main_pid = i.main_pid;
    let mut control_pid = i.control_pid;
    for (name, p) in &i.exec {
        if p.code == 0 {
            continue;
        }
        push_line(
            &mut out,
            format!(
                "    Process: {} {name}={} ({})",
                p.pid,
                p.argv.join(" "),
                describe_exit(p.code, p.status)
            ),
        );
        if main_pid == p.pid
            && i.main_start == p.start_timestamp
            && i.main_exit == p.start_timestamp
        {
            // Don't show the same process twice.
            main_pid = 0;
        }
        if p.pid == control_pid {
            control_pid = 0;
        }
    }

    if main_pid > 0 || control_pid > 0 {
        let mut text = String::new();
        if main_pid > 0 {
            text.push_str(&format!("   Main PID: {main_pid}"));
            if i.running {
                if let Some(comm) = &i.main_comm {
                    text.push_str(&format!(" ({comm})"));
                }
            } else if i.exit_code > 0 {
                text.push_str(&format!(" ({})", describe_exit(i.exit_code, i.exit_status)));
            }
        }
        if control_pid > 0 {
            text.push_str(if main_pid > 0 {
                "; Control PID: "
            } else {
                "  Cntrl PID: "
            });
            text.push_str(&control_pid.to_string());
            if let Some(comm) = &i.control_comm {
                text.push_str(&format!(" ({comm})"));
            }
        }
        push_line(&mut out, text);
    }

    if !i.status_text.is_empty() {
        push_line(&mut out, format!("     Status: \"{}\"", i.status_text));
    }
    if i.tasks_current != u64::MAX {
        if i.tasks_max != u64::MAX {
            push_line(
                &mut out,
                format!("      Tasks: {} (limit: {})", i.tasks_current, i.tasks_max),
            );
        } else {
            push_line(&mut out, format!("      Tasks: {}", i.tasks_current));
        }
    }
    if let Some(memory) = format_bytes(i.memory_current) {
        match format_bytes(i.memory_max) {
            Some(max) => push_line(&mut out, format!("     Memory: {memory} (max: {max})")),
            None => push_line(&mut out, format!("     Memory: {memory}")),
        }
    }
    if i.cpu_usage_nsec != u64::MAX {
        push_line(
            &mut out,
            format!(
                "        CPU: {}",
                format_timespan(i.cpu_usage_nsec / 1000, USEC_PER_MSEC)
            ),
        );
    }
    if !i.control_group.is_empty() {
        push_line(&mut out, format!("     CGroup: {}", i.control_group));
        for l in cgroup_lines {
            push_line(&mut out, l.clone());
        }
    }
    if !journal_lines.is_empty() {
        out.push('\n');
        for l in journal_lines {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Appends `s` and a newline.
fn push_line(out: &mut String, s: String) {
    out.push_str(&s);
    out.push('\n');
}

/// `n/a` for an empty string.
fn or_na(s: &str) -> &str {
    if s.is_empty() {
        "n/a"
    } else {
        s
    }
}

/// What status shows without units: the manager's state and counters.
pub fn render_system_status(host: &str, props: &Props) -> String {
    let get = |n: &str| props.get(n);
    let state = get("SystemState")
        .and_then(PropValue::as_str)
        .unwrap_or("n/a")
        .to_string();
    let jobs = get("NJobs").and_then(PropValue::as_u64).unwrap_or(0);
    let failed = get("NFailedUnits").and_then(PropValue::as_u64).unwrap_or(0);
    let glyph = if state == "degraded" { "×" } else { "●" };
    let mut out = format!(
        "{glyph} {host}\n    State: {state}\n     Jobs: {jobs} queued\n   Failed: {failed} units\n"
    );
    if let Some(version) = get("Version").and_then(PropValue::as_str) {
        out.push_str(&format!("  Version: {version}\n"));
    }
    out
}

/// Microseconds since the epoch now.
pub fn now_usec() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    if args.is_empty() {
        let path = manager_path();
        let mut props = get_all(ctx, &path, MANAGER_IFACE).await?;
        props.extend(
            get_all(ctx, &path, FLOTILLA_IFACE)
                .await
                .unwrap_or_default(),
        );
        emit(&render_system_status(&hostname(), &props))?;
        return Ok(());
    }
    let units = expand_names(ctx, args).await?;
    let lines = ctx.opts.lines.unwrap_or(DEFAULT_LINES);
    let journal = if lines > 0 {
        JournalReader::open(journal_dir(ctx, None).await).ok()
    } else {
        None
    };
    let host = hostname();
    let mut ret = code::SUCCESS;
    let mut first = true;
    for unit in &units {
        let Some(path) = find_unit(ctx, unit).await? else {
            emit_err(&format!("Unit {unit} could not be found.\n"));
            if ret == code::SUCCESS {
                ret = code::STATUS_UNKNOWN;
            }
            continue;
        };
        let (unit_p, service_p) = unit_props(ctx, unit, &path).await?;
        let mut info = StatusInfo::from_props(&unit_p, &service_p);
        if info.is_not_found() {
            emit_err(&format!("Unit {unit} could not be found.\n"));
            if ret == code::SUCCESS {
                ret = code::STATUS_UNKNOWN;
            }
            continue;
        }
        if info.running && info.main_pid > 0 {
            info.main_comm = process_comm(info.main_pid);
        }
        if info.control_pid > 0 {
            info.control_comm = process_comm(info.control_pid);
        }
        let cgroup_lines = if info.control_group.is_empty() {
            Vec::new()
        } else {
            find_cgroup_dir(&info.control_group)
                .map(|dir| render_tree(&read_tree(&dir), PREFIX))
                .unwrap_or_default()
        };
        let journal_lines = match &journal {
            Some(reader) => {
                let filter = Filter {
                    units: vec![info.id.clone()],
                    since: None,
                    lines: Some(lines),
                };
                reader
                    .read(&filter)
                    .map(|records| {
                        records
                            .iter()
                            .map(|r| {
                                let line = OutputMode::Short.format(r, &host, &ctx.zone);
                                line.trim_end_matches('\n').to_string()
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        if !first {
            emit("\n")?;
        }
        first = false;
        emit(&render_status(
            &info,
            &ctx.zone,
            now_usec(),
            &cgroup_lines,
            &journal_lines,
        ))?;
        if !info.is_active() && ret == code::SUCCESS {
            ret = code::PROGRAM_NOT_RUNNING;
        }
    }
    if ret != code::SUCCESS {
        return Err(Failure::silent(ret).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_795_450_203_000_000;

    fn s(v: &str) -> PropValue {
        PropValue::Str(v.to_string())
    }

    fn running_service() -> (Props, Props) {
        let mut unit = Props::new();
        unit.insert("Id".into(), s("hello.service"));
        unit.insert("Description".into(), s("Hello"));
        unit.insert("LoadState".into(), s("loaded"));
        unit.insert("ActiveState".into(), s("active"));
        unit.insert("SubState".into(), s("running"));
        unit.insert("FragmentPath".into(), s("/etc/unitd/system/hello.service"));
        unit.insert("UnitFileState".into(), s("enabled"));
        unit.insert("ActiveEnterTimestamp".into(), PropValue::U64(T - 5_000_000));
        unit.insert("LoadError".into(), PropValue::Struct(vec![s(""), s("")]));
        let mut service = Props::new();
        service.insert("MainPID".into(), PropValue::Int(123));
        service.insert("ExecMainPID".into(), PropValue::Int(123));
        service.insert("Result".into(), s("success"));
        service.insert("TasksCurrent".into(), PropValue::U64(1));
        service.insert("TasksMax".into(), PropValue::U64(u64::MAX));
        service.insert("MemoryCurrent".into(), PropValue::U64(1_572_864));
        service.insert("MemoryMax".into(), PropValue::U64(u64::MAX));
        service.insert("CPUUsageNSec".into(), PropValue::U64(12_345_678));
        service.insert("ControlGroup".into(), s("/flotilla.slice/hello.service"));
        (unit, service)
    }

    #[test]
    fn running_service_page() {
        let (unit, service) = running_service();
        let mut info = StatusInfo::from_props(&unit, &service);
        info.main_comm = Some("sleep".into());
        let page = render_status(
            &info,
            &Zone::Utc,
            T,
            &["             └─123 sleep 100".to_string()],
            &["Nov 23 16:09:58 host hello[123]: hi".to_string()],
        );
        assert_eq!(
            page,
            "● hello.service - Hello
     Loaded: loaded (/etc/unitd/system/hello.service; enabled)
     Active: active (running) since Mon 2026-11-23 16:09:58 UTC; 5s ago
   Main PID: 123 (sleep)
      Tasks: 1
     Memory: 1.5M
        CPU: 12ms
     CGroup: /flotilla.slice/hello.service
             └─123 sleep 100

Nov 23 16:09:58 host hello[123]: hi
"
        );
        assert!(info.is_active());
    }

    #[test]
    fn failed_service_page() {
        let (mut unit, mut service) = running_service();
        unit.insert("ActiveState".into(), s("failed"));
        unit.insert("SubState".into(), s("failed"));
        unit.insert(
            "InactiveEnterTimestamp".into(),
            PropValue::U64(T - 90_000_000),
        );
        unit.insert("UnitFilePreset".into(), s("disabled"));
        unit.insert(
            "DropInPaths".into(),
            PropValue::Strings(vec![
                "/etc/unitd/system/hello.service.d/a.conf".into(),
                "/etc/unitd/system/hello.service.d/b.conf".into(),
                "/run/unitd/system/hello.service.d/c.conf".into(),
            ]),
        );
        service.insert("MainPID".into(), PropValue::Int(0));
        service.insert("Result".into(), s("exit-code"));
        service.insert("ExecMainCode".into(), PropValue::Int(1));
        service.insert("ExecMainStatus".into(), PropValue::Int(1));
        service.insert("TasksCurrent".into(), PropValue::U64(u64::MAX));
        service.insert("MemoryCurrent".into(), PropValue::U64(u64::MAX));
        service.insert("CPUUsageNSec".into(), PropValue::U64(u64::MAX));
        service.insert(
            "ExecStart".into(),
            PropValue::Exec(vec![ExecCommand {
                path: "/bin/false".into(),
                argv: vec!["/bin/false".into(), "x".into()],
                ignore_failure: false,
                start_timestamp: T - 91_000_000,
                start_monotonic: 1,
                exit_timestamp: T - 90_000_000,
                exit_monotonic: 2,
                pid: 123,
                code: 1,
                status: 1,
            }]),
        );
        let info = StatusInfo::from_props(&unit, &service);
        assert_eq!(
            render_status(&info, &Zone::Utc, T, &[], &[]),
            "× hello.service - Hello
     Loaded: loaded (/etc/unitd/system/hello.service; enabled; preset: disabled)
    Drop-In: /etc/unitd/system/hello.service.d
             └─a.conf, b.conf
             /run/unitd/system/hello.service.d
             └─c.conf
     Active: failed (Result: exit-code) since Mon 2026-11-23 16:08:33 UTC; 1min 30s ago
    Process: 123 ExecStart=/bin/false x (code=exited, status=1/FAILURE)
   Main PID: 123 (code=exited, status=1/FAILURE)
     CGroup: /flotilla.slice/hello.service
"
        );
        assert!(!info.is_active());
    }

    #[test]
    fn not_found_unit() {
        let mut unit = Props::new();
        unit.insert("Id".into(), s("nope.service"));
        unit.insert("LoadState".into(), s("not-found"));
        unit.insert("ActiveState".into(), s("inactive"));
        unit.insert("SubState".into(), s("dead"));
        unit.insert(
            "LoadError".into(),
            PropValue::Struct(vec![
                s("org.freedesktop.systemd1.NoSuchUnit"),
                s("Unit nope.service not found."),
            ]),
        );
        let info = StatusInfo::from_props(&unit, &Props::new());
        assert!(info.is_not_found());
        assert_eq!(
            render_status(&info, &Zone::Utc, T, &[], &[]),
            "○ nope.service
     Loaded: not-found (Reason: Unit nope.service not found.)
     Active: inactive (dead)
"
        );
    }

    #[test]
    fn glyphs() {
        assert_eq!(state_glyph("active"), "●");
        assert_eq!(state_glyph("activating"), "●");
        assert_eq!(state_glyph("inactive"), "○");
        assert_eq!(state_glyph("failed"), "×");
        assert_eq!(state_glyph("reloading"), "↻");
    }

    #[test]
    fn system_status() {
        let mut props = Props::new();
        props.insert("SystemState".into(), s("running"));
        props.insert("NJobs".into(), PropValue::Int(2));
        props.insert("NFailedUnits".into(), PropValue::Int(0));
        assert_eq!(
            render_system_status("node1", &props),
            "● node1\n    State: running\n     Jobs: 2 queued\n   Failed: 0 units\n"
        );
    }
}
