//! systemd.resource-control(5) settings that Flotilla enforces through cgroups: `MemoryMax=` (and the legacy
//! `MemoryLimit=`), `CPUQuota=`, `CPUWeight=`, `CPUShares=` (legacy), `TasksMax=`, `IOWeight=`,
//! `AllowedCPUs=`. Every bad value is a warning, as in systemd; an empty assignment resets to the default.

use std::time::Duration;

use super::ctx::Ctx;
use crate::raw::RawEntry;
use crate::value::{
    parse_c_unsigned, parse_cpu_list, parse_permyriad, parse_permyriad_unbounded, parse_size,
};

/// Resource limits of a unit. `None` = not set (the manager's default applies); `Some(u64::MAX)` = explicitly
/// `infinity` (write `max` to the cgroup).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Bytes, from `MemoryMax=` or, when that is not set, the legacy `MemoryLimit=`; percentages are of the
    /// host's physical memory.
    pub memory_max: Option<u64>,
    /// `CPUQuota=` in percent of one CPU (rounded down; `150` = one and a half CPUs).
    pub cpu_quota_percent: Option<u32>,
    /// `CPUQuota=` exactly, as CPU time per second of wall time.
    pub cpu_quota_per_sec: Option<Duration>,
    /// `CPUWeight=`, 1..=10000; `Some(0)` is `idle`.
    pub cpu_weight: Option<u64>,
    /// `CPUShares=` (cgroup v1), 2..=262144.
    pub cpu_shares: Option<u64>,
    /// `TasksMax=`: a number, `infinity` (`u64::MAX`), or a percentage of the host's task limit.
    pub tasks_max: Option<u64>,
    /// `IOWeight=`, 1..=10000.
    pub io_weight: Option<u64>,
    /// `AllowedCPUs=`, normalized to the kernel's list syntax (`0-1,3`).
    pub allowed_cpus: Option<String>,
}

/// Builds [`Resources`] from the settings in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourcesBuilder {
    memory_max: Option<u64>,
    memory_limit: Option<u64>,
    allowed_cpus: Option<Vec<u32>>,
    pub out: Resources,
}

/// `0,1,2,5` → `0-2,5`.
fn cpu_list_string(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

impl ResourcesBuilder {
    pub fn apply(&mut self, e: &RawEntry, ctx: &mut Ctx) -> bool {
        let v = e.value.as_str();
        match e.key.as_str() {
            "MemoryMax" => self.memory_max = memory(e, ctx).unwrap_or(self.memory_max),
            "MemoryLimit" => {
                ctx.warn(
                    e,
                    "Unit uses MemoryLimit=; please use MemoryMax= instead. Support for MemoryLimit= will be \
                     removed soon.",
                );
                self.memory_limit = memory(e, ctx).unwrap_or(self.memory_limit);
            }
            "CPUQuota" => {
                if v.is_empty() {
                    self.out.cpu_quota_percent = None;
                    self.out.cpu_quota_per_sec = None;
                } else {
                    match parse_permyriad_unbounded(v) {
                        Ok(p) if p > 0 => {
                            self.out.cpu_quota_percent =
                                Some(u32::try_from(p / 100).unwrap_or(u32::MAX));
                            self.out.cpu_quota_per_sec = Some(Duration::from_micros(p * 100));
                        }
                        _ => ctx.warn(e, format!("Invalid CPU quota '{v}', ignoring.")),
                    }
                }
            }
            "CPUWeight" => {
                if v.is_empty() {
                    self.out.cpu_weight = None;
                } else if v == "idle" {
                    self.out.cpu_weight = Some(0);
                } else {
                    match parse_c_unsigned(v) {
                        Ok(w) if (1..=10_000).contains(&w) => self.out.cpu_weight = Some(w),
                        _ => ctx.warn(e, format!("Invalid CPU weight, ignoring: {v}")),
                    }
                }
            }
            "IOWeight" => {
                if v.is_empty() {
                    self.out.io_weight = None;
                } else {
                    match parse_c_unsigned(v) {
                        Ok(w) if (1..=10_000).contains(&w) => self.out.io_weight = Some(w),
                        _ => ctx.warn(e, format!("Invalid weight, ignoring: {v}")),
                    }
                }
            }
            "CPUShares" => {
                ctx.warn(
                    e,
                    "Unit uses CPUShares=; please use CPUWeight= instead. Support for CPUShares= will be removed \
                     soon.",
                );
                if v.is_empty() {
                    self.out.cpu_shares = None;
                } else {
                    match parse_c_unsigned(v) {
                        Ok(s) if (2..=262_144).contains(&s) => self.out.cpu_shares = Some(s),
                        _ => ctx.warn(e, format!("Invalid CPU shares, ignoring: {v}")),
                    }
                }
            }
            "TasksMax" => self.tasks_max(e, ctx),
            "AllowedCPUs" => {
                if v.is_empty() {
                    self.allowed_cpus = None;
                    return true;
                }
                match parse_cpu_list(v) {
                    Ok((cpus, inverted)) => {
                        for r in inverted {
                            ctx.warn(
                                e,
                                format!(
                                    "Range '{}' is invalid, {} > {}, ignoring.",
                                    r.item, r.lower, r.upper
                                ),
                            );
                        }
                        let set = self.allowed_cpus.get_or_insert_with(Vec::new);
                        set.extend(cpus);
                        set.sort_unstable();
                        set.dedup();
                    }
                    Err(item) => ctx.warn(e, format!("Failed to parse CPU affinity '{item}'")),
                }
            }
            _ => return false,
        }
        true
    }

    fn tasks_max(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        let v = e.value.as_str();
        if v.is_empty() {
            self.out.tasks_max = None;
        } else if v == "infinity" {
            self.out.tasks_max = Some(u64::MAX);
        } else if let Ok(p) = parse_permyriad(v) {
            let max = u128::from(ctx.specs.system_tasks_max);
            self.out.tasks_max =
                Some(u64::try_from(max * u128::from(p) / 10_000).unwrap_or(u64::MAX));
        } else {
            match parse_c_unsigned(v) {
                Ok(n) if n == 0 || n == u64::MAX => {
                    ctx.warn(
                        e,
                        format!("Maximum tasks value '{v}' out of range, ignoring."),
                    );
                }
                Ok(n) => self.out.tasks_max = Some(n),
                Err(err) => ctx.warn(
                    e,
                    format!("Invalid maximum tasks value '{v}', ignoring: {err}"),
                ),
            }
        }
    }

    pub fn finish(mut self) -> Resources {
        self.out.memory_max = self.memory_max.or(self.memory_limit);
        self.out.allowed_cpus = self.allowed_cpus.as_deref().map(cpu_list_string);
        self.out
    }
}

/// `config_parse_memory_limit()`: `Some(None)` resets (empty), `Some(Some(bytes))` sets, `None` after a
/// warning.
fn memory(e: &RawEntry, ctx: &mut Ctx) -> Option<Option<u64>> {
    let v = e.value.as_str();
    if v.is_empty() {
        return Some(None);
    }
    if v == "infinity" {
        return Some(Some(u64::MAX));
    }
    let bytes = match parse_permyriad(v) {
        Ok(p) => {
            let mem = u128::from(ctx.specs.physical_memory);
            u64::try_from(mem * u128::from(p) / 10_000).unwrap_or(u64::MAX)
        }
        Err(_) => match parse_size(v) {
            Ok(b) => b,
            Err(err) => {
                ctx.warn(e, format!("Invalid memory limit '{v}', ignoring: {err}"));
                return None;
            }
        },
    };
    if bytes == 0 || bytes == u64::MAX {
        ctx.warn(e, format!("Memory limit '{v}' out of range, ignoring."));
        return None;
    }
    Some(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_normalized() {
        assert_eq!(cpu_list_string(&[0, 1, 2, 5]), "0-2,5");
        assert_eq!(cpu_list_string(&[3]), "3");
        assert_eq!(cpu_list_string(&[]), "");
        assert_eq!(cpu_list_string(&[0, 2, 3, 4, 7, 8]), "0,2-4,7-8");
    }
}
