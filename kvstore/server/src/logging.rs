//! The server's log, set up as etcd's flags describe it: `--logger` picks the line format, `--log-outputs` where
//! lines go, `--log-level` (or the older `--debug`) how much is written.
//!
//! - `capnslog` (etcd 3.4's default): one human-readable line per event, as tracing's text format writes it.
//! - `zap`: one JSON object per line with etcd's zap keys — `level` (lowercase), `ts` (ISO 8601, UTC,
//!   milliseconds), `caller` (file:line), `msg`, then the event's fields — so log pipelines that parse etcd's
//!   structured logs parse these.
//!
//! Outputs are `default` or `stderr` (standard error), `stdout`, or file paths (appended to; zap only), as many as
//! given. The rules on what may be combined are etcd's: capnslog takes exactly one of default/stdout/stderr, and
//! `default` cannot be combined with other outputs.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{invalid, ConfigError};

/// A `--log-level` that is neither one of etcd's level names nor a tracing filter.
fn bad_level(level: &str, e: impl std::fmt::Display) -> ConfigError {
    invalid(
        "log-level",
        format!("{level:?}: expected debug, info, warn, error, panic or fatal (or a tracing filter such as kvstore=debug): {e}"),
    )
}

/// The line format (`--logger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logger {
    /// Human-readable lines.
    Capnslog,
    /// JSON lines with zap's keys.
    Zap,
}

/// Where lines go (one entry of `--log-outputs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOutput {
    Stderr,
    Stdout,
    File(PathBuf),
}

/// The validated logging flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub logger: Logger,
    pub outputs: Vec<LogOutput>,
    /// A tracing filter (etcd's level names mapped onto tracing's).
    pub filter: String,
}

impl LogSettings {
    /// Checks the flags as etcd 3.4 does. `outputs` are the entries of `--log-outputs` (comma-separated on the
    /// command line, a list in a config file); `debug` is the deprecated `--debug`, which wins over `level`.
    pub fn parse(
        logger: &str,
        outputs: &[String],
        level: &str,
        debug: bool,
    ) -> Result<LogSettings, ConfigError> {
        let logger = match logger {
            "capnslog" => Logger::Capnslog,
            "zap" => Logger::Zap,
            other => {
                return Err(invalid(
                    "logger",
                    format!("{other:?}: expected zap or capnslog"),
                ))
            }
        };
        let names: Vec<&str> = outputs
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .collect();
        let names = if names.is_empty() {
            vec!["default"]
        } else {
            names
        };
        if names.len() > 1 && names.contains(&"default") {
            return Err(invalid(
                "log-outputs",
                format!("{names:?}: \"default\" cannot be combined with other outputs"),
            ));
        }
        let outputs: Vec<LogOutput> = names
            .iter()
            .map(|n| match *n {
                "default" | "stderr" => LogOutput::Stderr,
                "stdout" => LogOutput::Stdout,
                path => LogOutput::File(PathBuf::from(path)),
            })
            .collect();
        if logger == Logger::Capnslog
            && (outputs.len() != 1 || matches!(outputs[0], LogOutput::File(_)))
        {
            return Err(invalid(
                "log-outputs",
                format!("{names:?}: --logger=capnslog writes to exactly one of default, stdout or stderr (files need --logger=zap)"),
            ));
        }
        let filter = match (debug, level) {
            (true, _) => "debug".to_string(),
            (false, "panic" | "fatal" | "dpanic") => "error".to_string(),
            (false, other) => other.to_string(),
        };
        tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| bad_level(level, e))?;
        Ok(LogSettings {
            logger,
            outputs,
            filter,
        })
    }

    /// Installs the global subscriber. Under a service manager (unitd or systemd set `INVOCATION_ID`) text lines
    /// leave out the time: the journal stamps every line already.
    pub fn init(&self) -> Result<(), ConfigError> {
        let mut writer: Option<BoxMakeWriter> = None;
        let mut to_terminal = false;
        for output in &self.outputs {
            let next = match output {
                LogOutput::Stderr => {
                    to_terminal |= std::io::IsTerminal::is_terminal(&std::io::stderr());
                    BoxMakeWriter::new(std::io::stderr)
                }
                LogOutput::Stdout => {
                    to_terminal |= std::io::IsTerminal::is_terminal(&std::io::stdout());
                    BoxMakeWriter::new(std::io::stdout)
                }
                LogOutput::File(path) => {
                    let file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| invalid("log-outputs", format!("{}: {e}", path.display())))?;
                    BoxMakeWriter::new(SharedFile(Arc::new(Mutex::new(file))))
                }
            };
            writer = Some(match writer {
                None => next,
                Some(w) => {
                    BoxMakeWriter::new(tracing_subscriber::fmt::writer::MakeWriterExt::and(w, next))
                }
            });
        }
        let writer = writer.unwrap_or_else(|| BoxMakeWriter::new(std::io::stderr));
        let filter = tracing_subscriber::EnvFilter::try_new(&self.filter)
            .map_err(|e| bad_level(&self.filter, e))?;
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer);
        match self.logger {
            Logger::Zap => builder.event_format(ZapFormat).init(),
            Logger::Capnslog => {
                let builder = builder.with_ansi(to_terminal && self.outputs.len() == 1);
                if std::env::var_os("INVOCATION_ID").is_some() {
                    builder.without_time().init();
                } else {
                    builder.init();
                }
            }
        }
        Ok(())
    }
}

/// A log file shared by every line: each line is one `write` of the whole formatted buffer, so lines from
/// different threads never interleave (the file is opened with `O_APPEND`).
#[derive(Clone)]
struct SharedFile(Arc<Mutex<File>>);

impl<'a> MakeWriter<'a> for SharedFile {
    type Writer = SharedFileWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        SharedFileWriter {
            file: &self.0,
            buf: Vec::new(),
        }
    }
}

/// Collects one line, then writes it in one call when dropped.
struct SharedFileWriter<'a> {
    file: &'a Mutex<File>,
    buf: Vec<u8>,
}

impl Write for SharedFileWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SharedFileWriter<'_> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(&self.buf);
        }
    }
}

/// etcd's zap encoder: `{"level":"info","ts":"…","caller":"file:line","msg":"…",<fields>}`. The fields of the
/// spans around the event (the request or unit it belongs to) follow under `span`.
struct ZapFormat;

impl<S, N> FormatEvent<S, N> for ZapFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert(
            "level".into(),
            meta.level().as_str().to_ascii_lowercase().into(),
        );
        line.insert(
            "ts".into(),
            chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
                .into(),
        );
        let caller = match (meta.file(), meta.line()) {
            (Some(file), Some(n)) => format!("{file}:{n}"),
            _ => meta.target().to_string(),
        };
        line.insert("caller".into(), caller.into());
        let mut fields = JsonFields(serde_json::Map::new());
        event.record(&mut fields);
        let msg = fields
            .0
            .remove("message")
            .unwrap_or_else(|| serde_json::Value::String(String::new()));
        line.insert("msg".into(), msg);
        for (k, v) in fields.0 {
            line.entry(k).or_insert(v);
        }
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<String> = scope
                .from_root()
                .map(|span| {
                    let ext = span.extensions();
                    match ext.get::<FormattedFields<N>>() {
                        Some(f) if !f.is_empty() => format!("{}{{{}}}", span.name(), f),
                        _ => span.name().to_string(),
                    }
                })
                .collect();
            if !spans.is_empty() {
                line.insert("span".into(), spans.join(":").into());
            }
        }
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

/// An event's fields as JSON values: numbers and booleans as such, everything else as its text.
struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonFields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn etcd_rules_on_loggers_and_outputs() {
        let s = LogSettings::parse("capnslog", &[], "info", false).unwrap();
        assert_eq!(s.outputs, vec![LogOutput::Stderr]);
        let s =
            LogSettings::parse("zap", &outputs(&["stdout", "/tmp/x.log"]), "warn", false).unwrap();
        assert_eq!(
            s.outputs,
            vec![LogOutput::Stdout, LogOutput::File("/tmp/x.log".into())]
        );
        assert_eq!(s.filter, "warn");
        let e = LogSettings::parse("capnslog", &outputs(&["/tmp/x.log"]), "info", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--log-outputs: ") && e.contains("--logger=zap"),
            "{e}"
        );
        let e = LogSettings::parse("zap", &outputs(&["default", "stdout"]), "info", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"default\" cannot be combined"), "{e}");
        let e = LogSettings::parse("logrus", &[], "info", false)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "--logger: \"logrus\": expected zap or capnslog");
    }

    #[test]
    fn etcd_level_names_map_onto_tracing_and_debug_wins() {
        let level =
            |l: &str, debug: bool| LogSettings::parse("zap", &[], l, debug).map(|s| s.filter);
        assert_eq!(level("fatal", false).unwrap(), "error");
        assert_eq!(level("panic", false).unwrap(), "error");
        assert_eq!(level("info", true).unwrap(), "debug");
        assert_eq!(level("kvstore=debug", false).unwrap(), "kvstore=debug");
        assert!(level("info,[", false)
            .unwrap_err()
            .to_string()
            .starts_with("--log-level: "));
    }
}
