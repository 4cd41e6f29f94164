//! `systemctl set-property` (`SetUnitProperties`): a resource-control property changed at runtime is applied to
//! the running unit's cgroup and kept as a drop-in, `CONTROL_DIR/UNIT.d/50-NAME.conf` — systemd's
//! `system.control` directory, searched before every other unit directory, so the setting outlives restarts of
//! the unit and of unitd; with `--runtime` the drop-in goes to the runtime control directory and is gone after a
//! reboot. Pure: which properties can be set, how a D-Bus value becomes a unit-file line, the drop-in's name and
//! text. The manager writes the file, re-reads the unit and applies its limits.

use std::path::{Path, PathBuf};

/// A property value as it arrives over D-Bus (systemctl sends these types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue {
    /// `t`: bytes, µs, a weight or a count; `u64::MAX` is "no limit" / "default".
    U64(u64),
    /// `ay`: a CPU bitmask (`AllowedCPUs`), bit N of byte N/8 for CPU N.
    Bytes(Vec<u8>),
    /// Anything else.
    Other(String),
}

/// The unit-file line that sets property `name` to `value` (`MemoryMax=67108864`), or systemd's error.
pub fn line(name: &str, value: &PropertyValue) -> Result<String, String> {
    let bad = || format!("Cannot set property {name}, or unknown property.");
    let invalid = |why: &str| format!("Invalid value for {name}: {why}");
    let key = match name {
        "CPUQuotaPerSecUSec" => "CPUQuota",
        "MemoryMax" | "TasksMax" | "CPUWeight" | "CPUShares" | "IOWeight" | "AllowedCPUs" => name,
        _ => return Err(bad()),
    };
    let text = match (name, value) {
        ("MemoryMax" | "TasksMax", PropertyValue::U64(u64::MAX)) => "infinity".to_string(),
        ("MemoryMax" | "TasksMax", PropertyValue::U64(n)) => n.to_string(),
        ("CPUQuotaPerSecUSec", PropertyValue::U64(u64::MAX)) => String::new(),
        ("CPUQuotaPerSecUSec", PropertyValue::U64(0)) => return Err(invalid("zero CPU time")),
        // unitd keeps whole percents of a CPU: 10 ms of CPU time per second each.
        ("CPUQuotaPerSecUSec", PropertyValue::U64(usec)) => {
            format!("{}%", (usec.saturating_add(5_000) / 10_000).max(1))
        }
        ("CPUWeight" | "IOWeight", PropertyValue::U64(u64::MAX)) => String::new(),
        ("CPUWeight" | "IOWeight", PropertyValue::U64(w)) if (1..=10_000).contains(w) => {
            w.to_string()
        }
        ("CPUWeight" | "IOWeight", PropertyValue::U64(_)) => {
            return Err(invalid("a weight is 1…10000"))
        }
        ("CPUShares", PropertyValue::U64(u64::MAX)) => String::new(),
        ("CPUShares", PropertyValue::U64(s)) if (2..=262_144).contains(s) => s.to_string(),
        ("CPUShares", PropertyValue::U64(_)) => return Err(invalid("shares are 2…262144")),
        ("AllowedCPUs", PropertyValue::Bytes(mask)) => cpu_list(mask),
        _ => return Err(invalid("wrong type")),
    };
    Ok(format!("{key}={text}"))
}

/// A CPU bitmask as a cpuset list: `0-2,5`.
pub fn cpu_list(mask: &[u8]) -> String {
    let cpus: Vec<usize> = (0..mask.len() * 8)
        .filter(|i| mask[i / 8] & (1 << (i % 8)) != 0)
        .collect();
    let mut ranges: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        while i + 1 < cpus.len() && cpus[i + 1] == cpus[i] + 1 {
            i += 1;
        }
        ranges.push(if cpus[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", cpus[i])
        });
        i += 1;
    }
    ranges.join(",")
}

/// Where the drop-in for property `key` (the unit-file name, `CPUQuota`) of `unit` goes under `dir`.
pub fn drop_in_path(dir: &Path, unit: &str, key: &str) -> PathBuf {
    dir.join(format!("{unit}.d")).join(format!("50-{key}.conf"))
}

/// The drop-in's text: systemd's header, the `[Service]` section, the line.
pub fn drop_in_text(line: &str) -> String {
    format!(
        "# This is a drop-in unit file extension, created via \"systemctl set-property\"\n\
         # or an equivalent operation. Do not edit.\n[Service]\n{line}\n"
    )
}

/// The unit-file key of a line (`CPUQuota` of `CPUQuota=50%`).
pub fn key_of(line: &str) -> &str {
    line.split_once('=').map_or(line, |(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PropertyValue::*;

    #[test]
    fn values_become_unit_file_lines() {
        assert_eq!(
            line("MemoryMax", &U64(64 << 20)),
            Ok("MemoryMax=67108864".into())
        );
        assert_eq!(
            line("MemoryMax", &U64(u64::MAX)),
            Ok("MemoryMax=infinity".into())
        );
        assert_eq!(line("TasksMax", &U64(100)), Ok("TasksMax=100".into()));
        assert_eq!(
            line("CPUQuotaPerSecUSec", &U64(500_000)),
            Ok("CPUQuota=50%".into())
        );
        assert_eq!(
            line("CPUQuotaPerSecUSec", &U64(2_000_000)),
            Ok("CPUQuota=200%".into())
        );
        assert_eq!(
            line("CPUQuotaPerSecUSec", &U64(u64::MAX)),
            Ok("CPUQuota=".into())
        );
        assert_eq!(line("CPUWeight", &U64(200)), Ok("CPUWeight=200".into()));
        assert_eq!(line("IOWeight", &U64(u64::MAX)), Ok("IOWeight=".into()));
        assert_eq!(
            line("AllowedCPUs", &Bytes(vec![0b0010_0111])),
            Ok("AllowedCPUs=0-2,5".into())
        );
    }

    #[test]
    fn unknown_properties_and_bad_values_are_refused() {
        assert_eq!(
            line("ExecStart", &U64(1)),
            Err("Cannot set property ExecStart, or unknown property.".into())
        );
        assert!(line("CPUWeight", &U64(0)).is_err());
        assert!(line("CPUWeight", &U64(10_001)).is_err());
        assert!(line("CPUQuotaPerSecUSec", &U64(0)).is_err());
        assert!(line("MemoryMax", &Other("s".into())).is_err());
        assert!(line("CPUShares", &U64(1)).is_err());
    }

    #[test]
    fn cpu_lists_collapse_runs() {
        assert_eq!(cpu_list(&[]), "");
        assert_eq!(cpu_list(&[1]), "0");
        assert_eq!(cpu_list(&[0b1010]), "1,3");
        assert_eq!(cpu_list(&[0xff, 0x01]), "0-8");
    }

    #[test]
    fn drop_ins_are_named_by_property() {
        let p = drop_in_path(
            Path::new("/etc/flotilla/system.control"),
            "web.service",
            "CPUQuota",
        );
        assert_eq!(
            p,
            Path::new("/etc/flotilla/system.control/web.service.d/50-CPUQuota.conf")
        );
        let text = drop_in_text("CPUQuota=50%");
        assert!(text.ends_with("[Service]\nCPUQuota=50%\n"), "{text}");
        assert_eq!(key_of("CPUQuota=50%"), "CPUQuota");
    }
}
