//! `unitctl set-property [--runtime] UNIT NAME=VALUE…`: changes resource limits of a unit while it runs —
//! `MemoryMax=`, `CPUQuota=`, `CPUWeight=`, `CPUShares=`, `TasksMax=`, `IOWeight=`, `AllowedCPUs=` — through
//! `SetUnitProperties`, with values typed as systemctl sends them (bytes, µs of CPU per second, a CPU bitmask).
//! unitd applies them to the cgroup at once and keeps them as drop-ins, so they hold across restarts (with
//! `--runtime`, until the next reboot).

use zbus::Variant;

use crate::context::{bus_failure, Context};
use crate::error::{code, Failure};
use crate::unit_name::mangle;

/// A parsed assignment: the D-Bus property name and its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Assignment {
    U64(String, u64),
    Bytes(String, Vec<u8>),
}

impl Assignment {
    fn as_pair(&self) -> (&str, Variant<'_>) {
        match self {
            Assignment::U64(name, n) => (name.as_str(), Variant::U64(*n)),
            Assignment::Bytes(name, bytes) => (name.as_str(), Variant::from(bytes.clone())),
        }
    }
}

fn bad_value(field: &str, value: &str) -> Failure {
    Failure::new(
        code::INVALID_ARGUMENT,
        format!("Failed to parse {field}= value '{value}': Invalid argument"),
    )
}

/// `1G`, `512M`, `1024` (bytes, base 1024), or `infinity`.
fn size(field: &str, value: &str) -> Result<u64, Failure> {
    if value == "infinity" {
        return Ok(u64::MAX);
    }
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(split);
    let shift = match suffix {
        "" | "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        "E" => 60,
        _ => return Err(bad_value(field, value)),
    };
    let n: f64 = number.parse().map_err(|_| bad_value(field, value))?;
    let bytes = n * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(bad_value(field, value));
    }
    Ok(bytes as u64)
}

/// A number, or `u64::MAX` ("back to the default") for an empty value.
fn number_or_default(field: &str, value: &str) -> Result<u64, Failure> {
    if value.is_empty() {
        return Ok(u64::MAX);
    }
    value.parse().map_err(|_| bad_value(field, value))
}

/// `0-2,5` as a bitmask, bit N of byte N/8 for CPU N.
fn cpu_mask(field: &str, value: &str) -> Result<Vec<u8>, Failure> {
    let mut mask: Vec<u8> = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: usize = lo.trim().parse().map_err(|_| bad_value(field, value))?;
        let hi: usize = hi.trim().parse().map_err(|_| bad_value(field, value))?;
        if lo > hi || hi >= 8192 {
            return Err(bad_value(field, value));
        }
        for cpu in lo..=hi {
            if mask.len() <= cpu / 8 {
                mask.resize(cpu / 8 + 1, 0);
            }
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    Ok(mask)
}

/// One `NAME=VALUE` as systemctl's `bus_append_unit_property_assignment` types it.
pub fn parse(assignment: &str) -> Result<Assignment, Failure> {
    let Some((field, value)) = assignment.split_once('=') else {
        return Err(Failure::new(
            code::INVALID_ARGUMENT,
            format!("Not an assignment: {assignment}"),
        ));
    };
    let u = |name: &str, n: u64| Ok(Assignment::U64(name.to_string(), n));
    match field {
        "MemoryMax" | "TasksMax" => {
            if value.ends_with('%') {
                return Err(Failure::new(
                    code::INVALID_ARGUMENT,
                    format!("Failed to parse {field}= value '{value}': unitd takes an absolute value, not a percentage"),
                ));
            }
            if field == "TasksMax" && value != "infinity" {
                return u(field, value.parse().map_err(|_| bad_value(field, value))?);
            }
            u(field, size(field, value)?)
        }
        "CPUQuota" => {
            if value.is_empty() {
                return u("CPUQuotaPerSecUSec", u64::MAX);
            }
            let percent: f64 = value
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .filter(|p: &f64| p.is_finite() && *p > 0.0)
                .ok_or_else(|| {
                    Failure::new(
                        code::INVALID_ARGUMENT,
                        format!("CPU quota '{value}' invalid."),
                    )
                })?;
            u("CPUQuotaPerSecUSec", (percent * 10_000.0).round() as u64)
        }
        "CPUWeight" | "IOWeight" | "CPUShares" => u(field, number_or_default(field, value)?),
        "AllowedCPUs" => Ok(Assignment::Bytes(
            field.to_string(),
            cpu_mask(field, value)?,
        )),
        _ => Err(Failure::new(
            code::INVALID_ARGUMENT,
            format!("Unknown assignment: {assignment}"),
        )),
    }
}

/// Runs the verb: `args` is the unit, then its assignments.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let Some((unit, assignments)) = args.split_first().filter(|(_, a)| !a.is_empty()) else {
        return Err(Failure::new(code::INVALID_ARGUMENT, "Too few arguments.").into());
    };
    let unit = mangle(unit);
    let parsed = assignments
        .iter()
        .map(|a| parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    let pairs: Vec<(&str, Variant<'_>)> = parsed.iter().map(Assignment::as_pair).collect();
    let manager = ctx.manager().await?;
    manager
        .set_unit_properties(&unit, ctx.opts.runtime, &pairs)
        .await
        .map_err(|e| {
            bus_failure(
                &format!("Failed to set unit properties on {unit}"),
                &e.into(),
            )
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str, n: u64) -> Assignment {
        Assignment::U64(name.to_string(), n)
    }

    #[test]
    fn values_are_typed_as_systemctl_sends_them() {
        assert_eq!(parse("MemoryMax=64M").unwrap(), u("MemoryMax", 64 << 20));
        assert_eq!(parse("MemoryMax=1.5G").unwrap(), u("MemoryMax", 3 << 29));
        assert_eq!(parse("MemoryMax=4096").unwrap(), u("MemoryMax", 4096));
        assert_eq!(
            parse("MemoryMax=infinity").unwrap(),
            u("MemoryMax", u64::MAX)
        );
        assert_eq!(parse("TasksMax=20").unwrap(), u("TasksMax", 20));
        assert_eq!(
            parse("CPUQuota=50%").unwrap(),
            u("CPUQuotaPerSecUSec", 500_000)
        );
        assert_eq!(
            parse("CPUQuota=").unwrap(),
            u("CPUQuotaPerSecUSec", u64::MAX)
        );
        assert_eq!(parse("CPUWeight=200").unwrap(), u("CPUWeight", 200));
        assert_eq!(parse("IOWeight=").unwrap(), u("IOWeight", u64::MAX));
        assert_eq!(
            parse("AllowedCPUs=0-2,9").unwrap(),
            Assignment::Bytes("AllowedCPUs".into(), vec![0b111, 0b10])
        );
    }

    #[test]
    fn bad_assignments_name_the_problem() {
        let err = |a: &str| parse(a).unwrap_err().to_string();
        assert_eq!(err("Bogus=1"), "Unknown assignment: Bogus=1");
        assert_eq!(err("MemoryMax"), "Not an assignment: MemoryMax");
        assert_eq!(
            err("MemoryMax=lots"),
            "Failed to parse MemoryMax= value 'lots': Invalid argument"
        );
        assert_eq!(err("CPUQuota=50"), "CPU quota '50' invalid.");
        assert!(err("MemoryMax=50%").contains("percentage"));
        assert!(err("AllowedCPUs=3-1").contains("AllowedCPUs"));
    }
}
