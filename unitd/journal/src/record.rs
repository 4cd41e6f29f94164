//! The journal record and its on-disk form.
//!
//! Owns [`Record`], [`Stream`], the sd-daemon(3) `<N>` priority prefix, and the conversion to and from one
//! line of journald export field names (`__REALTIME_TIMESTAMP`, `_SYSTEMD_UNIT`, `SYSLOG_IDENTIFIER`, `_PID`,
//! `PRIORITY`, `MESSAGE`, …). Values are written as strings, exactly as `journalctl -o json` prints them, so a
//! stored line and [`crate::format_json`] agree; the parser also accepts numbers, and returns `None` (never an
//! error) for a line it can't use so that readers can skip it.

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// syslog priority `info`: what a unit's stdout/stderr line gets when it carries no `<N>` prefix.
pub const PRIORITY_INFO: u8 = 6;
/// syslog priority `err`.
pub const PRIORITY_ERR: u8 = 3;
/// syslog priority `notice`: the usual level of the manager's "Started …" messages.
pub const PRIORITY_NOTICE: u8 = 5;

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// A line the unit wrote to its standard output.
    Stdout,
    /// A line the unit wrote to its standard error.
    Stderr,
    /// A message unitd itself wrote about the unit ("Started …", "Main process exited …").
    Manager,
}

impl Stream {
    /// The value of the `_UNITD_STREAM` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
            Stream::Manager => "manager",
        }
    }

    /// journald's `_TRANSPORT`: unit output arrives over a stream, manager messages from the "driver".
    pub fn transport(self) -> &'static str {
        match self {
            Stream::Stdout | Stream::Stderr => "stdout",
            Stream::Manager => "driver",
        }
    }

    fn parse(s: &str) -> Option<Stream> {
        match s {
            "stdout" => Some(Stream::Stdout),
            "stderr" => Some(Stream::Stderr),
            "manager" => Some(Stream::Manager),
            _ => None,
        }
    }
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Wall-clock time of the entry, microseconds since the Unix epoch (`__REALTIME_TIMESTAMP`): the merge key.
    pub realtime_usec: u64,
    /// The unit the entry belongs to (`_SYSTEMD_UNIT`); also the directory it is stored in.
    pub unit: String,
    /// `SYSLOG_IDENTIFIER`: the process name, or `"unitd"` for manager messages; shown before `[pid]:`.
    pub identifier: String,
    /// `_PID` of the writer, when known (the unit's main process, or unitd's own pid for manager messages).
    pub pid: Option<u32>,
    /// syslog priority 0 (emerg) ..= 7 (debug): what `journalctl -p` would filter on.
    pub priority: u8,
    /// The text, without the trailing newline and without a `<N>` prefix.
    pub message: String,
    /// Which stream produced it; stdout and stderr look the same to journalctl but unitd keeps them apart.
    pub stream: Stream,
}

impl Record {
    /// A record for one line a unit printed: a leading `<N>` (sd-daemon(3)) sets the priority and is stripped,
    /// otherwise the priority is info, like journald does for both stdout and stderr.
    pub fn from_line(
        realtime_usec: u64,
        unit: &str,
        identifier: &str,
        pid: Option<u32>,
        stream: Stream,
        line: &str,
    ) -> Record {
        let (priority, message) = match parse_priority_prefix(line) {
            Some((priority, rest)) => (priority, rest),
            None => (PRIORITY_INFO, line),
        };
        Record {
            realtime_usec,
            unit: unit.to_string(),
            identifier: identifier.to_string(),
            pid,
            priority,
            message: message.to_string(),
            stream,
        }
    }

    /// A message from unitd about `unit`, stamped now, with identifier `"unitd"` and unitd's pid.
    pub fn manager(unit: &str, priority: u8, message: &str) -> Record {
        Record {
            realtime_usec: now_usec(),
            unit: unit.to_string(),
            identifier: "unitd".to_string(),
            pid: Some(std::process::id()),
            priority: priority.min(7),
            message: message.to_string(),
            stream: Stream::Manager,
        }
    }

    /// The record as one JSON object with journald field names and string values (no trailing newline).
    pub fn to_json(&self) -> String {
        let wire = Wire {
            realtime: self.realtime_usec.to_string(),
            unit: &self.unit,
            identifier: &self.identifier,
            pid: self.pid.map(|p| p.to_string()),
            priority: self.priority.to_string(),
            transport: self.stream.transport(),
            stream: self.stream.as_str(),
            message: &self.message,
        };
        // Serializing a struct of strings can't fail; fall back to an empty object rather than panic.
        serde_json::to_string(&wire).unwrap_or_else(|_| String::from("{}"))
    }

    /// Parses one stored line; `None` for anything that isn't a complete record (a line cut short by a crash,
    /// garbage, a missing field), so readers can skip it.
    pub fn from_json(line: &str) -> Option<Record> {
        let raw: RawRecord = serde_json::from_str(line).ok()?;
        let stream = match raw.stream.as_deref() {
            Some(s) => Stream::parse(s)?,
            None if raw.transport.as_deref() == Some("driver") => Stream::Manager,
            None => Stream::Stdout,
        };
        let priority = match raw.priority {
            Some(p) => u8::try_from(p.as_u64()?).ok().filter(|p| *p <= 7)?,
            None => PRIORITY_INFO,
        };
        Some(Record {
            realtime_usec: raw.realtime.as_u64()?,
            unit: raw.unit,
            identifier: raw.identifier.unwrap_or_default(),
            pid: match raw.pid {
                Some(p) => Some(u32::try_from(p.as_u64()?).ok()?),
                None => None,
            },
            priority,
            message: raw.message,
            stream,
        })
    }
}

/// What a line is written as; field order is the order in the file.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: String,
    #[serde(rename = "_SYSTEMD_UNIT")]
    unit: &'a str,
    #[serde(rename = "SYSLOG_IDENTIFIER")]
    identifier: &'a str,
    #[serde(rename = "_PID", skip_serializing_if = "Option::is_none")]
    pid: Option<String>,
    #[serde(rename = "PRIORITY")]
    priority: String,
    #[serde(rename = "_TRANSPORT")]
    transport: &'a str,
    #[serde(rename = "_UNITD_STREAM")]
    stream: &'a str,
    #[serde(rename = "MESSAGE")]
    message: &'a str,
}

/// What a line is read as: lenient about numbers-as-strings and unknown fields (`_HOSTNAME`, `__CURSOR`, …).
#[derive(Deserialize)]
struct RawRecord {
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Num,
    #[serde(rename = "_SYSTEMD_UNIT")]
    unit: String,
    #[serde(rename = "SYSLOG_IDENTIFIER")]
    identifier: Option<String>,
    #[serde(rename = "_PID")]
    pid: Option<Num>,
    #[serde(rename = "PRIORITY")]
    priority: Option<Num>,
    #[serde(rename = "_TRANSPORT")]
    transport: Option<String>,
    #[serde(rename = "_UNITD_STREAM")]
    stream: Option<String>,
    #[serde(rename = "MESSAGE")]
    message: String,
}

/// A number written either as a JSON number or as a decimal string (journalctl writes strings).
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Int(u64),
    Text(String),
}

impl Num {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Num::Int(n) => Some(*n),
            Num::Text(s) => s.parse().ok(),
        }
    }
}

/// Splits a leading sd-daemon(3) level prefix off `line`: `<N>`, `<0N>` or `<00N>` with N in 0..=7, as
/// journald's `syslog_parse_priority()` without facility. Returns the level and the rest of the line.
pub fn parse_priority_prefix(line: &str) -> Option<(u8, &str)> {
    let rest = line.strip_prefix('<')?;
    let end = rest.find('>')?;
    let digits = &rest[..end];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (leading, last) = digits.split_at(digits.len() - 1);
    if leading.bytes().any(|b| b != b'0') {
        return None;
    }
    let level = last.as_bytes()[0] - b'0';
    if level > 7 {
        return None;
    }
    Some((level, &rest[end + 1..]))
}

/// The current wall-clock time in microseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_usec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_prefix_table() {
        let cases: &[(&str, Option<(u8, &str)>)] = &[
            ("<3>disk on fire", Some((3, "disk on fire"))),
            ("<7>", Some((7, ""))),
            ("<0>x", Some((0, "x"))),
            ("<03>x", Some((3, "x"))),
            ("<004>x", Some((4, "x"))),
            ("<8>x", None),
            ("<13>x", None),
            ("<0004>x", None),
            ("<>x", None),
            ("<a>x", None),
            ("<3 x", None),
            (" <3>x", None),
            ("plain", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_priority_prefix(line), *want, "line {line:?}");
        }
    }

    #[test]
    fn from_line_applies_prefix_or_info() {
        let r = Record::from_line(1, "a.service", "a", Some(7), Stream::Stderr, "<2>crit");
        assert_eq!((r.priority, r.message.as_str()), (2, "crit"));
        let r = Record::from_line(1, "a.service", "a", Some(7), Stream::Stderr, "plain");
        assert_eq!((r.priority, r.message.as_str()), (PRIORITY_INFO, "plain"));
    }

    #[test]
    fn json_round_trip_uses_journald_names_and_strings() {
        let r = Record {
            realtime_usec: 1_700_756_203_123_456,
            unit: "hello.service".into(),
            identifier: "hello".into(),
            pid: Some(42),
            priority: 4,
            message: "a \"quoted\"\nline ü".into(),
            stream: Stream::Stderr,
        };
        let line = r.to_json();
        assert!(!line.contains('\n'), "one line: {line}");
        let v: serde_json::Value = serde_json::from_str(&line).expect("valid json");
        assert_eq!(v["__REALTIME_TIMESTAMP"], "1700756203123456");
        assert_eq!(v["_SYSTEMD_UNIT"], "hello.service");
        assert_eq!(v["SYSLOG_IDENTIFIER"], "hello");
        assert_eq!(v["_PID"], "42");
        assert_eq!(v["PRIORITY"], "4");
        assert_eq!(v["_TRANSPORT"], "stdout");
        assert_eq!(Record::from_json(&line), Some(r));
    }

    #[test]
    fn from_json_is_lenient_about_numbers_and_extra_fields() {
        let line = r#"{"__REALTIME_TIMESTAMP":5,"_SYSTEMD_UNIT":"u","MESSAGE":"m","_HOSTNAME":"h","PRIORITY":3}"#;
        let r = Record::from_json(line).expect("parses");
        assert_eq!(
            (r.realtime_usec, r.priority, r.pid, r.stream),
            (5, 3, None, Stream::Stdout)
        );
    }

    #[test]
    fn from_json_rejects_broken_lines() {
        for line in [
            "",
            "{",
            r#"{"__REALTIME_TIMESTAMP":"1","_SYSTEMD_UNIT":"u","MESS"#,
            r#"{"_SYSTEMD_UNIT":"u","MESSAGE":"m"}"#,
            r#"{"__REALTIME_TIMESTAMP":"x","_SYSTEMD_UNIT":"u","MESSAGE":"m"}"#,
            r#"{"__REALTIME_TIMESTAMP":"1","_SYSTEMD_UNIT":"u","MESSAGE":"m","PRIORITY":"9"}"#,
        ] {
            assert_eq!(Record::from_json(line), None, "line {line:?}");
        }
    }
}
