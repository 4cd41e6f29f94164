//! Rendering records the way journalctl does.
//!
//! Owns the output modes: [`format_short`] (`-o short`, the default), [`format_short_iso`]
//! (`-o short-iso`), [`format_json`] (`-o json`: one object, journald field names, every value a string) and
//! [`format_cat`] (`-o cat`: the message alone). Times are in the machine's local zone; the `_in` variants take
//! an explicit zone for tests and for callers that want UTC.

use crate::record::Record;
use chrono::{DateTime, Local, TimeZone, Utc};
use std::fmt::Display;

/// `Nov 23 16:10:03 host ident[pid]: message`, in local time.
pub fn format_short(record: &Record, hostname: &str) -> String {
    format_short_in(record, hostname, &Local)
}

/// [`format_short`] in the zone `tz`.
pub fn format_short_in<Tz: TimeZone>(record: &Record, hostname: &str, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    let time = timestamp(record).with_timezone(tz).format("%b %d %H:%M:%S");
    format!("{time} {hostname} {}: {}", origin(record), record.message)
}

/// `2023-11-23T16:10:03+00:00 host ident[pid]: message`, in local time.
pub fn format_short_iso(record: &Record, hostname: &str) -> String {
    format_short_iso_in(record, hostname, &Local)
}

/// [`format_short_iso`] in the zone `tz`.
pub fn format_short_iso_in<Tz: TimeZone>(record: &Record, hostname: &str, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    let time = timestamp(record)
        .with_timezone(tz)
        .format("%Y-%m-%dT%H:%M:%S%:z");
    format!("{time} {hostname} {}: {}", origin(record), record.message)
}

/// One JSON object with journald field names and string values, like `journalctl -o json`.
pub fn format_json(record: &Record) -> String {
    record.to_json()
}

/// The message alone, like `journalctl -o cat`.
pub fn format_cat(record: &Record) -> String {
    record.message.clone()
}

/// `ident[pid]`, `ident` without a pid, and the unit name when the identifier is empty (journalctl falls back
/// to `_COMM`; the unit name is what we have).
fn origin(record: &Record) -> String {
    let ident = if record.identifier.is_empty() {
        record.unit.as_str()
    } else {
        record.identifier.as_str()
    };
    match record.pid {
        Some(pid) => format!("{ident}[{pid}]"),
        None => ident.to_string(),
    }
}

fn timestamp(record: &Record) -> DateTime<Utc> {
    i64::try_from(record.realtime_usec)
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Stream;

    fn sample() -> Record {
        Record {
            // 2023-11-23 16:10:03.5 UTC
            realtime_usec: 1_700_755_803_500_000,
            unit: "hello.service".into(),
            identifier: "hello".into(),
            pid: Some(1234),
            priority: 6,
            message: "Hello, world".into(),
            stream: Stream::Stdout,
        }
    }

    #[test]
    fn short() {
        assert_eq!(
            format_short_in(&sample(), "host", &Utc),
            "Nov 23 16:10:03 host hello[1234]: Hello, world"
        );
        let mut r = sample();
        r.pid = None;
        r.identifier.clear();
        r.realtime_usec = 1_700_000_000_000_000; // Nov 14: day is zero-padded like journalctl
        assert_eq!(
            format_short_in(&r, "h", &Utc),
            "Nov 14 22:13:20 h hello.service: Hello, world"
        );
    }

    #[test]
    fn short_iso() {
        assert_eq!(
            format_short_iso_in(&sample(), "host", &Utc),
            "2023-11-23T16:10:03+00:00 host hello[1234]: Hello, world"
        );
        let plus2 = chrono::FixedOffset::east_opt(2 * 3600).expect("valid offset");
        assert_eq!(
            format_short_iso_in(&sample(), "host", &plus2),
            "2023-11-23T18:10:03+02:00 host hello[1234]: Hello, world"
        );
    }

    #[test]
    fn json_values_are_strings() -> Result<(), serde_json::Error> {
        let v: serde_json::Value = serde_json::from_str(&format_json(&sample()))?;
        let obj = v.as_object().expect("an object");
        assert!(obj.values().all(|v| v.is_string()), "{v}");
        assert_eq!(v["MESSAGE"], "Hello, world");
        assert_eq!(v["__REALTIME_TIMESTAMP"], "1700755803500000");
        Ok(())
    }

    #[test]
    fn cat() {
        assert_eq!(format_cat(&sample()), "Hello, world");
    }
}
