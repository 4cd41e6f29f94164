//! Resource limits of a unit and their translation between cgroup versions.
//!
//! Owns [`Limits`] (what a unit file's `MemoryMax=`, `CPUQuota=`, `CPUWeight=`, `CPUShares=`, `TasksMax=`,
//! `IOWeight=`, `AllowedCPUs=` ask for), its validation, and the conversions systemd uses between the v1 and
//! v2 scales. A `None` field means "no limit / the default": applying limits always writes every knob, so
//! dropping a line from a unit file and re-applying resets it.

use crate::error::{CgroupError, Result};

/// `cpu.cfs_period_us` / the period in `cpu.max`: 100 ms, so 1% of a CPU is 1000 µs of quota.
pub const CFS_PERIOD_US: u64 = 100_000;
/// v2 `cpu.weight` / `io.weight` default.
pub const WEIGHT_DEFAULT: u64 = 100;
/// v1 `cpu.shares` default.
pub const SHARES_DEFAULT: u64 = 1024;
/// v1 CFQ `blkio.weight` default.
pub const BLKIO_WEIGHT_DEFAULT: u64 = 500;

/// What a unit may use. `None` everywhere is "unlimited, default weights".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Hard memory limit in bytes (`MemoryMax=`): v2 `memory.max`, v1 `memory.limit_in_bytes`.
    pub memory_max: Option<u64>,
    /// CPU time as a percentage of one CPU (`CPUQuota=`; 200 = two CPUs): `cpu.max` / `cpu.cfs_quota_us`.
    pub cpu_quota_percent: Option<u32>,
    /// v2 CPU weight 1..=10000 (`CPUWeight=`); on v1 converted to `cpu.shares = weight * 1024 / 100`.
    pub cpu_weight: Option<u64>,
    /// Legacy v1 shares 2..=262144 (`CPUShares=`); on v2 converted to a weight. `cpu_weight` wins on v2,
    /// this wins on v1, when both are set.
    pub cpu_shares: Option<u64>,
    /// Maximum number of tasks (`TasksMax=`): `pids.max`.
    pub tasks_max: Option<u64>,
    /// IO weight 1..=10000 (`IOWeight=`): v2 `io.weight`/`io.bfq.weight`, v1 `blkio.weight` (converted) or
    /// `blkio.bfq.weight`; skipped when the kernel has no such file (no weight-aware IO scheduler).
    pub io_weight: Option<u64>,
    /// CPUs the unit may run on, cpuset list syntax like `0-3,6` (`AllowedCPUs=`).
    pub allowed_cpus: Option<String>,
}

impl Limits {
    /// Checks every field against the kernel's ranges.
    pub fn validate(&self) -> Result<()> {
        fn range(name: &str, v: Option<u64>, lo: u64, hi: u64) -> Result<()> {
            match v {
                Some(v) if !(lo..=hi).contains(&v) => Err(CgroupError::InvalidLimit(format!(
                    "{name} {v} is outside {lo}..={hi}"
                ))),
                _ => Ok(()),
            }
        }
        range(
            "cpu quota percent",
            self.cpu_quota_percent.map(u64::from),
            1,
            1_000_000,
        )?;
        range("cpu weight", self.cpu_weight, 1, 10_000)?;
        range("cpu shares", self.cpu_shares, 2, 262_144)?;
        range("io weight", self.io_weight, 1, 10_000)?;
        if let Some(cpus) = &self.allowed_cpus {
            let ok = cpus
                .trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '-');
            if !ok || cpus.trim().is_empty() {
                return Err(CgroupError::InvalidLimit(format!(
                    "allowed cpus {cpus:?} is not a cpu list like 0-3,6"
                )));
            }
        }
        Ok(())
    }

    /// The value for v1 `cpu.shares`.
    pub fn v1_cpu_shares(&self) -> u64 {
        self.cpu_shares
            .or(self.cpu_weight.map(weight_to_shares))
            .unwrap_or(SHARES_DEFAULT)
    }

    /// The value for v2 `cpu.weight`.
    pub fn v2_cpu_weight(&self) -> u64 {
        self.cpu_weight
            .or(self.cpu_shares.map(shares_to_weight))
            .unwrap_or(WEIGHT_DEFAULT)
    }

    /// The quota in µs per [`CFS_PERIOD_US`], `None` for unlimited.
    pub fn cfs_quota_us(&self) -> Option<u64> {
        self.cpu_quota_percent.map(|p| u64::from(p) * 1000)
    }
}

/// systemd's `cgroup_cpu_weight_to_shares`: `weight * 1024 / 100`, clamped to 2..=262144.
pub fn weight_to_shares(weight: u64) -> u64 {
    (weight.saturating_mul(SHARES_DEFAULT) / WEIGHT_DEFAULT).clamp(2, 262_144)
}

/// systemd's `cgroup_cpu_shares_to_weight`: `shares * 100 / 1024`, clamped to 1..=10000.
pub fn shares_to_weight(shares: u64) -> u64 {
    (shares.saturating_mul(WEIGHT_DEFAULT) / SHARES_DEFAULT).clamp(1, 10_000)
}

/// systemd's `cgroup_weight_io_to_blkio`: `weight * 500 / 100`, clamped to CFQ's 10..=1000.
pub fn io_weight_to_blkio(weight: u64) -> u64 {
    (weight.saturating_mul(BLKIO_WEIGHT_DEFAULT) / WEIGHT_DEFAULT).clamp(10, 1000)
}

/// BFQ's weight range is 1..=1000 on both versions, same default (100) as `IOWeight=`.
pub fn io_weight_to_bfq(weight: u64) -> u64 {
    weight.clamp(1, 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(weight_to_shares(100), 1024);
        assert_eq!(weight_to_shares(1), 10);
        assert_eq!(weight_to_shares(10_000), 102_400);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(io_weight_to_blkio(100), 500);
        assert_eq!(io_weight_to_blkio(1), 10);
        assert_eq!(io_weight_to_blkio(10_000), 1000);
        assert_eq!(io_weight_to_bfq(5000), 1000);
    }

    #[test]
    fn native_field_wins() {
        let l = Limits {
            cpu_weight: Some(200),
            cpu_shares: Some(512),
            ..Limits::default()
        };
        assert_eq!((l.v1_cpu_shares(), l.v2_cpu_weight()), (512, 200));
        let only_weight = Limits {
            cpu_weight: Some(50),
            ..Limits::default()
        };
        assert_eq!(only_weight.v1_cpu_shares(), 512);
        let none = Limits::default();
        assert_eq!((none.v1_cpu_shares(), none.v2_cpu_weight()), (1024, 100));
        assert_eq!(none.cfs_quota_us(), None);
        let quota = Limits {
            cpu_quota_percent: Some(150),
            ..Limits::default()
        };
        assert_eq!(quota.cfs_quota_us(), Some(150_000));
    }

    #[test]
    fn validation() {
        let bad = [
            Limits {
                cpu_quota_percent: Some(0),
                ..Limits::default()
            },
            Limits {
                cpu_weight: Some(0),
                ..Limits::default()
            },
            Limits {
                cpu_shares: Some(1),
                ..Limits::default()
            },
            Limits {
                io_weight: Some(10_001),
                ..Limits::default()
            },
            Limits {
                allowed_cpus: Some("all".into()),
                ..Limits::default()
            },
        ];
        for l in &bad {
            assert!(l.validate().is_err(), "{l:?}");
        }
        let good = Limits {
            memory_max: Some(1 << 20),
            cpu_quota_percent: Some(250),
            cpu_weight: Some(10_000),
            cpu_shares: Some(2),
            tasks_max: Some(0),
            io_weight: Some(1),
            allowed_cpus: Some("0-1,3".into()),
        };
        assert!(good.validate().is_ok());
    }
}
