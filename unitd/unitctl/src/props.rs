//! D-Bus property values as `unitctl show` and `unitctl status` use them.
//!
//! [`PropValue`] is a plain copy of a `GetAll` value (no zbus lifetimes), so everything after the D-Bus call is
//! pure: [`format_property`] prints one value the way systemctl's `print_property` does (timestamps, time spans,
//! `infinity`, `[not set]`, `yes`/`no`, space-separated arrays, systemd's `{ path=… ; argv[]=… }` for commands),
//! and [`render_show`] prints the `Key=Value` lines.

use std::collections::BTreeMap;

use unitd_client::ExecCommand;
use zbus::Variant;

use crate::render::process::{sigchld_code_name, signal_name};
use crate::render::{format_timespan, format_timestamp, Zone};

/// One property value.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    /// `s`
    Str(String),
    /// `o`
    Path(String),
    /// `b`
    Bool(bool),
    /// `y`, `n`, `q`, `i`, `u`, `x`: every integer that fits.
    Int(i64),
    /// `t`
    U64(u64),
    /// `d`
    Double(f64),
    /// `as` (and `ao`)
    Strings(Vec<String>),
    /// `a(sasbttttuii)`: `Exec*` commands.
    Exec(Vec<ExecCommand>),
    /// Any other structure.
    Struct(Vec<PropValue>),
    /// Any other array.
    Array(Vec<PropValue>),
    /// What we don't render (dicts, fds, signatures).
    Other(String),
}

/// A property map, as `GetAll` returns it.
pub type Props = BTreeMap<String, PropValue>;

impl PropValue {
    /// Copies a D-Bus value.
    pub fn from_variant(v: &Variant<'_>) -> PropValue {
        match v {
            Variant::U8(n) => PropValue::Int(i64::from(*n)),
            Variant::Bool(b) => PropValue::Bool(*b),
            Variant::I16(n) => PropValue::Int(i64::from(*n)),
            Variant::U16(n) => PropValue::Int(i64::from(*n)),
            Variant::I32(n) => PropValue::Int(i64::from(*n)),
            Variant::U32(n) => PropValue::Int(i64::from(*n)),
            Variant::I64(n) => PropValue::Int(*n),
            Variant::U64(n) => PropValue::U64(*n),
            Variant::F64(d) => PropValue::Double(*d),
            Variant::Str(s) => PropValue::Str(s.to_string()),
            Variant::ObjectPath(p) => PropValue::Path(p.as_str().to_string()),
            Variant::Variant(inner) => PropValue::from_variant(inner),
            Variant::Array(array) => {
                let items = array.inner();
                let element = array.element_signature().to_string();
                if element == "s" || element == "o" {
                    PropValue::Strings(
                        items
                            .iter()
                            .map(|v| match PropValue::from_variant(v) {
                                PropValue::Str(s) | PropValue::Path(s) => s,
                                other => format_plain(&other),
                            })
                            .collect(),
                    )
                } else if element == "(sasbttttuii)" {
                    PropValue::Exec(items.iter().filter_map(exec_command).collect())
                } else {
                    PropValue::Array(items.iter().map(PropValue::from_variant).collect())
                }
            }
            Variant::Structure(s) => {
                PropValue::Struct(s.fields().iter().map(PropValue::from_variant).collect())
            }
            other => PropValue::Other(format!("{other:?}")),
        }
    }

    /// The string inside `Str`/`Path`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropValue::Str(s) | PropValue::Path(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside `U64`/`Int` (negative integers are `None`).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            PropValue::U64(n) => Some(*n),
            PropValue::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// The number inside `Int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            PropValue::Int(n) => Some(*n),
            PropValue::U64(n) => i64::try_from(*n).ok(),
            _ => None,
        }
    }
}

/// One `(sasbttttuii)` structure.
fn exec_command(v: &Variant<'_>) -> Option<ExecCommand> {
    let Variant::Structure(s) = v else {
        return None;
    };
    let f: Vec<PropValue> = s.fields().iter().map(PropValue::from_variant).collect();
    let [path, argv, ignore, start, start_mono, exit, exit_mono, pid, code, status] = f.as_slice()
    else {
        return None;
    };
    Some(ExecCommand {
        path: path.as_str()?.to_string(),
        argv: match argv {
            PropValue::Strings(v) => v.clone(),
            _ => return None,
        },
        ignore_failure: matches!(ignore, PropValue::Bool(true)),
        start_timestamp: start.as_u64()?,
        start_monotonic: start_mono.as_u64()?,
        exit_timestamp: exit.as_u64()?,
        exit_monotonic: exit_mono.as_u64()?,
        pid: u32::try_from(pid.as_i64()?).ok()?,
        code: i32::try_from(code.as_i64()?).ok()?,
        status: i32::try_from(status.as_i64()?).ok()?,
    })
}

/// A value without name-specific rules: numbers in decimal, booleans as yes/no, arrays space-separated.
fn format_plain(value: &PropValue) -> String {
    match value {
        PropValue::Str(s) | PropValue::Path(s) | PropValue::Other(s) => s.clone(),
        PropValue::Bool(b) => yes_no(*b).to_string(),
        PropValue::Int(n) => n.to_string(),
        PropValue::U64(n) => n.to_string(),
        PropValue::Double(d) => d.to_string(),
        PropValue::Strings(v) => v.join(" "),
        PropValue::Struct(v) | PropValue::Array(v) => {
            v.iter().map(format_plain).collect::<Vec<_>>().join(" ")
        }
        PropValue::Exec(cmds) => cmds
            .iter()
            .map(|c| c.argv.join(" "))
            .collect::<Vec<_>>()
            .join(" ; "),
    }
}

/// `yes`/`no`.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Memory and task limits print `infinity` for u64::MAX.
const INFINITY_IF_MAX: [&str; 10] = [
    "DefaultMemoryLow",
    "DefaultMemoryMin",
    "MemoryLow",
    "MemoryHigh",
    "MemoryMax",
    "MemorySwapMax",
    "MemoryLimit",
    "MemoryAvailable",
    "TasksMax",
    "DefaultTasksMax",
];

/// The values of property `name` as systemctl prints them: usually one, one per command for `Exec*`, none
/// for an empty command list. `zone` is for timestamps.
pub fn format_property(name: &str, value: &PropValue, zone: &Zone) -> Vec<String> {
    let one = |s: String| vec![s];
    match value {
        PropValue::U64(u) => {
            let u = *u;
            one(if name.ends_with("Timestamp") {
                format_timestamp(u, zone).unwrap_or_default()
            } else if name.contains("USec") {
                format_timespan(u, 0)
            } else if u == u64::MAX
                && (name == "MemoryCurrent" || name == "TasksCurrent" || name.ends_with("NSec"))
            {
                "[not set]".to_string()
            } else if u == u64::MAX
                && (INFINITY_IF_MAX.contains(&name)
                    || name.starts_with("Limit")
                    || name.starts_with("DefaultLimit"))
            {
                "infinity".to_string()
            } else {
                u.to_string()
            })
        }
        PropValue::Struct(fields) => one(match (name, fields.as_slice()) {
            ("Job", [id, _]) => match id.as_u64() {
                Some(0) | None => String::new(),
                Some(id) => id.to_string(),
            },
            ("Unit", [unit, _]) => format_plain(unit),
            ("LoadError", [error, message]) => {
                let error = format_plain(error);
                if error.is_empty() {
                    String::new()
                } else {
                    format!("{error} \"{}\"", format_plain(message))
                }
            }
            _ => format_plain(value),
        }),
        PropValue::Exec(cmds) => cmds.iter().map(|c| format_exec(c, zone)).collect(),
        // A 128-bit ID as 32 hex digits (empty for the null ID, which unitd sends as no bytes).
        PropValue::Array(bytes) if name == "InvocationID" => one(bytes
            .iter()
            .filter_map(PropValue::as_i64)
            .map(|b| format!("{b:02x}"))
            .collect()),
        other => one(format_plain(other)),
    }
}

/// `{ path=/bin/sleep ; argv[]=/bin/sleep 1 ; ignore_errors=no ; start_time=[…] ; stop_time=[…] ; pid=1 ;
/// code=exited ; status=0 }`.
fn format_exec(c: &ExecCommand, zone: &Zone) -> String {
    let na = |t: u64| format_timestamp(t, zone).unwrap_or_else(|| "n/a".to_string());
    let status = if c.code == 1 {
        c.status.to_string()
    } else {
        format!("{}/{}", c.status, signal_name(c.status))
    };
    format!(
        "{{ path={} ; argv[]={} ; ignore_errors={} ; start_time=[{}] ; stop_time=[{}] ; pid={} ; code={} ; status={} }}",
        c.path,
        c.argv.join(" "),
        yes_no(c.ignore_failure),
        na(c.start_timestamp),
        na(c.exit_timestamp),
        c.pid,
        sigchld_code_name(c.code).unwrap_or("(null)"),
        status
    )
}

/// What `show` prints.
#[derive(Clone, Debug, Default)]
pub struct ShowOptions {
    /// `-p`: only these properties, shown even when empty. Empty: all properties.
    pub properties: Vec<String>,
    /// `--value`: values without `Name=`.
    pub value_only: bool,
    /// `--all`: also empty values.
    pub all: bool,
}

/// `Name=Value` lines for `props` (in the given order), like `systemctl show`.
pub fn render_show(props: &[(String, PropValue)], opts: &ShowOptions, zone: &Zone) -> String {
    let mut out = String::new();
    for (name, value) in props {
        let requested = opts.properties.iter().any(|p| p == name);
        if !opts.properties.is_empty() && !requested {
            continue;
        }
        let show_empty = opts.all || requested;
        let mut values = format_property(name, value, zone);
        if values.is_empty() {
            values.push(String::new());
        }
        for v in values {
            if v.is_empty() && !show_empty {
                continue;
            }
            if opts.value_only {
                out.push_str(&v);
            } else {
                out.push_str(name);
                out.push('=');
                out.push_str(&v);
            }
            out.push('\n');
        }
    }
    out
}

/// The `Service` properties in the order DBUS.md lists them (systemctl shows the type's properties first).
pub const SERVICE_ORDER: &[&str] = &[
    "Type",
    "Restart",
    "RestartUSec",
    "NRestarts",
    "RemainAfterExit",
    "PIDFile",
    "MainPID",
    "ControlPID",
    "ExecMainPID",
    "ExecMainCode",
    "ExecMainStatus",
    "ExecMainStartTimestamp",
    "ExecMainExitTimestamp",
    "Result",
    "StatusText",
    "ControlGroup",
    "MemoryCurrent",
    "TasksCurrent",
    "CPUUsageNSec",
    "TimeoutStartUSec",
    "TimeoutStopUSec",
    "WatchdogUSec",
    "KillMode",
    "KillSignal",
    "MemoryMax",
    "TasksMax",
    "CPUQuotaPerSecUSec",
    "ExecStart",
];

/// The `Unit` properties in the order DBUS.md lists them.
pub const UNIT_ORDER: &[&str] = &[
    "Id",
    "Names",
    "Description",
    "LoadState",
    "ActiveState",
    "SubState",
    "FragmentPath",
    "DropInPaths",
    "UnitFileState",
    "Requires",
    "Requisite",
    "Wants",
    "BindsTo",
    "PartOf",
    "Upholds",
    "RequiredBy",
    "RequisiteOf",
    "WantedBy",
    "BoundBy",
    "UpheldBy",
    "ConsistsOf",
    "Conflicts",
    "ConflictedBy",
    "Before",
    "After",
    "OnSuccess",
    "OnSuccessOf",
    "OnFailure",
    "OnFailureOf",
    "ActiveEnterTimestamp",
    "ActiveExitTimestamp",
    "InactiveEnterTimestamp",
    "InactiveExitTimestamp",
    "StateChangeTimestamp",
    "Job",
    "LoadError",
    "InvocationID",
];

/// The `Manager` properties (and unitd's own) in the order DBUS.md lists them.
pub const MANAGER_ORDER: &[&str] = &[
    "Version",
    "Architecture",
    "UnitPath",
    "NNames",
    "NJobs",
    "NFailedUnits",
    "SystemState",
    "Environment",
    "StateDirectory",
    "RuntimeDirectory",
];

/// `props` as a list: the names in `order` first, in that order, then the rest by name.
pub fn ordered(props: &Props, order: &[&str]) -> Vec<(String, PropValue)> {
    let mut out: Vec<(String, PropValue)> = order
        .iter()
        .filter_map(|name| props.get(*name).map(|v| (name.to_string(), v.clone())))
        .collect();
    out.extend(
        props
            .iter()
            .filter(|(name, _)| !order.contains(&name.as_str()))
            .map(|(name, v)| (name.clone(), v.clone())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_795_450_203_000_000;

    fn s(v: &str) -> PropValue {
        PropValue::Str(v.to_string())
    }

    #[test]
    fn values_like_systemctl() {
        let z = Zone::Utc;
        let cases: Vec<(&str, PropValue, &str)> = vec![
            (
                "ActiveEnterTimestamp",
                PropValue::U64(T),
                "Mon 2026-11-23 16:10:03 UTC",
            ),
            ("ActiveExitTimestamp", PropValue::U64(0), ""),
            ("ActiveEnterTimestampMonotonic", PropValue::U64(5), "5"),
            ("RestartUSec", PropValue::U64(100_000), "100ms"),
            ("TimeoutStartUSec", PropValue::U64(90_000_000), "1min 30s"),
            ("WatchdogUSec", PropValue::U64(0), "0"),
            ("CPUQuotaPerSecUSec", PropValue::U64(u64::MAX), "infinity"),
            ("MemoryMax", PropValue::U64(u64::MAX), "infinity"),
            ("TasksMax", PropValue::U64(u64::MAX), "infinity"),
            ("MemoryMax", PropValue::U64(1024), "1024"),
            (
                "InvocationID",
                PropValue::Array(vec![PropValue::Int(0xab), PropValue::Int(1)]),
                "ab01",
            ),
            ("InvocationID", PropValue::Array(Vec::new()), ""),
            ("MemoryCurrent", PropValue::U64(u64::MAX), "[not set]"),
            ("CPUUsageNSec", PropValue::U64(u64::MAX), "[not set]"),
            ("MemoryCurrent", PropValue::U64(4096), "4096"),
            ("RemainAfterExit", PropValue::Bool(false), "no"),
            ("MainPID", PropValue::Int(123), "123"),
            (
                "After",
                PropValue::Strings(vec!["a.target".into(), "b.service".into()]),
                "a.target b.service",
            ),
            (
                "Job",
                PropValue::Struct(vec![PropValue::Int(0), PropValue::Path("/".into())]),
                "",
            ),
            (
                "Job",
                PropValue::Struct(vec![PropValue::Int(7), PropValue::Path("/j/7".into())]),
                "7",
            ),
            (
                "LoadError",
                PropValue::Struct(vec![
                    s("org.freedesktop.systemd1.NoSuchUnit"),
                    s("Unit x not found."),
                ]),
                "org.freedesktop.systemd1.NoSuchUnit \"Unit x not found.\"",
            ),
            ("LoadError", PropValue::Struct(vec![s(""), s("")]), ""),
        ];
        for (name, value, want) in cases {
            assert_eq!(
                format_property(name, &value, &z),
                vec![want.to_string()],
                "{name}"
            );
        }
    }

    #[test]
    fn exec_commands() {
        let cmd = ExecCommand {
            path: "/bin/sleep".into(),
            argv: vec!["/bin/sleep".into(), "100".into()],
            ignore_failure: false,
            start_timestamp: T,
            start_monotonic: 1,
            exit_timestamp: 0,
            exit_monotonic: 0,
            pid: 42,
            code: 0,
            status: 0,
        };
        let exited = ExecCommand {
            code: 1,
            status: 1,
            exit_timestamp: T,
            ..cmd.clone()
        };
        assert_eq!(
            format_property("ExecStart", &PropValue::Exec(vec![cmd, exited]), &Zone::Utc),
            vec![
                "{ path=/bin/sleep ; argv[]=/bin/sleep 100 ; ignore_errors=no ; start_time=[Mon 2026-11-23 16:10:03 UTC] ; stop_time=[n/a] ; pid=42 ; code=(null) ; status=0/0 }".to_string(),
                "{ path=/bin/sleep ; argv[]=/bin/sleep 100 ; ignore_errors=no ; start_time=[Mon 2026-11-23 16:10:03 UTC] ; stop_time=[Mon 2026-11-23 16:10:03 UTC] ; pid=42 ; code=exited ; status=1 }".to_string(),
            ]
        );
    }

    #[test]
    fn show_hides_empty_unless_asked() {
        let props = vec![
            ("Id".to_string(), s("hello.service")),
            ("Description".to_string(), s("")),
            ("After".to_string(), PropValue::Strings(vec![])),
            ("MainPID".to_string(), PropValue::Int(12)),
        ];
        let z = Zone::Utc;
        assert_eq!(
            render_show(&props, &ShowOptions::default(), &z),
            "Id=hello.service\nMainPID=12\n"
        );
        assert_eq!(
            render_show(
                &props,
                &ShowOptions {
                    all: true,
                    ..Default::default()
                },
                &z
            ),
            "Id=hello.service\nDescription=\nAfter=\nMainPID=12\n"
        );
        let p = ShowOptions {
            properties: vec!["MainPID".into(), "Description".into()],
            ..Default::default()
        };
        assert_eq!(render_show(&props, &p, &z), "Description=\nMainPID=12\n");
        let v = ShowOptions {
            properties: vec!["Id".into()],
            value_only: true,
            ..Default::default()
        };
        assert_eq!(render_show(&props, &v, &z), "hello.service\n");
    }

    #[test]
    fn known_names_first() {
        let mut props = Props::new();
        props.insert("Zed".into(), PropValue::Int(1));
        props.insert("Description".into(), s("d"));
        props.insert("Id".into(), s("x"));
        let names: Vec<String> = ordered(&props, UNIT_ORDER)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["Id", "Description", "Zed"]);
    }

    #[test]
    fn converts_variants() {
        let v = Variant::from(vec!["a", "b"]);
        assert_eq!(
            PropValue::from_variant(&v),
            PropValue::Strings(vec!["a".into(), "b".into()])
        );
        let v = Variant::from((7u32, "x".to_string()));
        assert_eq!(
            PropValue::from_variant(&v),
            PropValue::Struct(vec![PropValue::Int(7), s("x")])
        );
        assert_eq!(
            PropValue::from_variant(&Variant::from(5u64)),
            PropValue::U64(5)
        );
    }
}
