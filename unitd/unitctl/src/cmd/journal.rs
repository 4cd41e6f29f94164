//! `unitctl journal [-u UNIT]... [-n N] [-f] [-o short|short-iso|json|cat] [-D DIR] [-x] [-e]`: reads the
//! journal files directly, like journalctl. The directory is `-D`, else `StateDirectory/journal` as unitd
//! reports it, else `/var/lib/unitd/journal`. Without `-n` every line is shown; `-e` means the last 1000 and
//! `-f` the last 10, then new lines as they are written. `-x` is accepted and ignored (there is no catalog).

use std::time::Duration;

use clap::Args;
use unitd_journal::{Filter, JournalReader, Record};

use crate::context::{emit, Context};
use crate::error::Failure;
use crate::render::Zone;
use crate::unit_name::mangle;
use crate::units::{hostname, journal_dir};

/// The journal verb's own flags (`-n` and `-o` are global, as in systemctl).
#[derive(Args, Debug, Default, Clone)]
pub struct JournalArgs {
    /// Show records of this unit (repeatable).
    #[arg(short = 'u', long = "unit")]
    pub units: Vec<String>,
    /// Keep printing new records.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Read the journal from this directory.
    #[arg(short = 'D', long = "directory")]
    pub directory: Option<String>,
    /// Add explanations (accepted, no catalog).
    #[arg(short = 'x', long = "catalog")]
    pub catalog: bool,
    /// Jump to the end (shows the last 1000 lines unless -n).
    #[arg(short = 'e', long = "pager-end")]
    pub pager_end: bool,
}

/// journalctl's output modes that unitd's journal has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// `Nov 23 16:10:03 host ident[pid]: message`.
    Short,
    /// The same with an ISO 8601 time.
    ShortIso,
    /// One JSON object per line.
    Json,
    /// The message alone.
    Cat,
}

impl OutputMode {
    /// Parses `-o`.
    pub fn parse(s: Option<&str>) -> Result<OutputMode, Failure> {
        Ok(match s.unwrap_or("short") {
            "short" => OutputMode::Short,
            "short-iso" => OutputMode::ShortIso,
            "json" => OutputMode::Json,
            "cat" => OutputMode::Cat,
            other => return Err(Failure::error(format!("Unknown output format '{other}'."))),
        })
    }

    /// One record as a line (with its newline), times in `zone` (UTC or local).
    pub fn format(self, record: &Record, host: &str, zone: &Zone) -> String {
        let utc = matches!(zone, Zone::Utc);
        let mut line = match self {
            OutputMode::Short if utc => unitd_journal::format_short_in(record, host, &chrono::Utc),
            OutputMode::Short => unitd_journal::format_short(record, host),
            OutputMode::ShortIso if utc => {
                unitd_journal::format_short_iso_in(record, host, &chrono::Utc)
            }
            OutputMode::ShortIso => unitd_journal::format_short_iso(record, host),
            OutputMode::Json => unitd_journal::format_json(record),
            OutputMode::Cat => unitd_journal::format_cat(record),
        };
        line.push('\n');
        line
    }
}

/// How many records to show first: `-n`, else 1000 with `-e`, 10 with `-f`, all otherwise.
pub fn initial_lines(lines: Option<usize>, pager_end: bool, follow: bool) -> Option<usize> {
    lines.or(if pager_end {
        Some(1000)
    } else if follow {
        Some(10)
    } else {
        None
    })
}

/// What to print when nothing matched (journalctl's marker, in the modes that have it).
pub fn no_entries(mode: OutputMode) -> &'static str {
    match mode {
        OutputMode::Short | OutputMode::ShortIso => "-- No entries --\n",
        OutputMode::Json | OutputMode::Cat => "",
    }
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &JournalArgs) -> anyhow::Result<()> {
    let mode = OutputMode::parse(ctx.opts.output.as_deref())?;
    let dir = journal_dir(ctx, args.directory.as_deref()).await;
    let reader = JournalReader::open(&dir).map_err(|e| Failure::error(e.to_string()))?;
    let filter = Filter {
        units: args.units.iter().map(|u| mangle(u)).collect(),
        since: None,
        lines: initial_lines(ctx.opts.lines, args.pager_end, args.follow),
    };
    let host = hostname();
    let print = |records: &[Record]| -> Result<(), Failure> {
        let text: String = records
            .iter()
            .map(|r| mode.format(r, &host, &ctx.zone))
            .collect();
        emit(&text)
    };
    if !args.follow {
        let records = reader
            .read(&filter)
            .map_err(|e| Failure::error(e.to_string()))?;
        if records.is_empty() {
            emit(no_entries(mode))?;
        }
        print(&records)?;
        return Ok(());
    }
    let (records, mut follower) = reader
        .follow(&filter)
        .map_err(|e| Failure::error(e.to_string()))?;
    print(&records)?;
    loop {
        let records = follower.poll().map_err(|e| Failure::error(e.to_string()))?;
        if records.is_empty() {
            tokio::time::sleep(unitd_journal::POLL_INTERVAL.max(Duration::from_millis(10))).await;
        } else {
            print(&records)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unitd_journal::{JournalWriter, Limits, Stream};

    #[test]
    fn modes_and_defaults() {
        assert_eq!(OutputMode::parse(None).unwrap(), OutputMode::Short);
        assert_eq!(OutputMode::parse(Some("json")).unwrap(), OutputMode::Json);
        assert_eq!(
            OutputMode::parse(Some("verbose")).unwrap_err().to_string(),
            "Unknown output format 'verbose'."
        );
        assert_eq!(initial_lines(None, false, false), None);
        assert_eq!(initial_lines(None, true, false), Some(1000));
        assert_eq!(initial_lines(None, false, true), Some(10));
        assert_eq!(initial_lines(Some(3), true, true), Some(3));
        assert_eq!(no_entries(OutputMode::Short), "-- No entries --\n");
        assert_eq!(no_entries(OutputMode::Json), "");
    }

    #[test]
    fn formats_records_from_a_journal_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let mut writer = JournalWriter::open(tmp.path(), Limits::default()).unwrap();
        for (i, line) in ["one", "two", "three"].iter().enumerate() {
            let t = 1_795_450_203_000_000 + i as u64;
            writer
                .append(&Record::from_line(
                    t,
                    "hello.service",
                    "hello",
                    Some(7),
                    Stream::Stdout,
                    line,
                ))
                .unwrap();
        }
        writer.sync().unwrap();
        let reader = JournalReader::open(tmp.path()).unwrap();
        let records = reader
            .read(&Filter {
                units: vec![mangle("hello")],
                since: None,
                lines: Some(2),
            })
            .unwrap();
        let cat: String = records
            .iter()
            .map(|r| OutputMode::Cat.format(r, "h", &Zone::Utc))
            .collect();
        assert_eq!(cat, "two\nthree\n");
        let json = OutputMode::Json.format(&records[0], "h", &Zone::Utc);
        let short = OutputMode::Short.format(&records[0], "h", &Zone::Utc);
        assert_eq!(short, "Nov 23 16:10:03 h hello[7]: two\n");
        assert!(json.contains("\"MESSAGE\":\"two\""), "{json}");
        assert!(json.ends_with('\n'));
    }
}
