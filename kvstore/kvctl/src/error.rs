//! How kvctl fails: the exit codes etcdctl uses and the one error type that carries one.
//!
//! Commands return `anyhow::Result`; a [`Failure`] inside it decides the exit code and the exact text on stderr.
//! Any other error ends the process with [`ExitCode::Error`] and `Error: <message>`.

use std::fmt;

/// etcdctl's exit codes (`etcdctl/ctlv3/command/error.go`, and `ctlv2/command/error.go` for the v2 verbs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// A request failed (v3), or a v2 verb got bad arguments (v2's `ExitBadArgs` is 1).
    Error,
    /// No endpoint could be reached.
    BadConnection,
    /// Bad `txn` or `watch -i` input.
    InvalidInput,
    /// A valid flag with an unsupported value (an output format, a sort order); also v2's server error.
    BadFeature,
    /// The server cancelled a watch.
    Interrupted,
    /// Writing the output failed.
    Io,
    /// Wrong arguments or flags.
    BadArgs,
}

impl ExitCode {
    /// etcd v2's `ExitServerError`, which has the same number as v3's `ExitBadFeature`.
    pub const V2_SERVER_ERROR: ExitCode = ExitCode::BadFeature;

    /// The process exit status.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Error => 1,
            ExitCode::BadConnection => 2,
            ExitCode::InvalidInput => 3,
            ExitCode::BadFeature => 4,
            ExitCode::Interrupted => 5,
            ExitCode::Io => 6,
            ExitCode::BadArgs => 128,
        }
    }
}

/// A failure with a chosen exit code and the message etcdctl would print for it.
#[derive(Debug, thiserror::Error)]
pub struct Failure {
    /// Exit status of the process.
    pub code: ExitCode,
    /// Printed after the prefix on stderr; `None` exits without a message (the command already printed it).
    pub message: Option<String>,
    /// etcdctl v2 prints `Error:  ` (two spaces: Go's `Println("Error: ", err)`), v3 prints `Error: `.
    pub v2: bool,
}

impl Failure {
    /// A failure reported the way etcdctl v3 does.
    pub fn new(code: ExitCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: Some(message.into()),
            v2: false,
        }
    }

    /// A failure reported the way etcdctl v2 does.
    pub fn v2(code: ExitCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: Some(message.into()),
            v2: true,
        }
    }

    /// Exit with `code` and print nothing more.
    pub fn silent(code: ExitCode) -> Failure {
        Failure {
            code,
            message: None,
            v2: false,
        }
    }

    /// Bad arguments (exit 128).
    pub fn bad_args(message: impl Into<String>) -> Failure {
        Failure::new(ExitCode::BadArgs, message)
    }

    /// A failed request (exit 1).
    pub fn error(message: impl fmt::Display) -> Failure {
        Failure::new(ExitCode::Error, message.to_string())
    }

    /// The lines for stderr, or `None`.
    pub fn stderr_text(&self) -> Option<String> {
        let message = self.message.as_ref()?;
        Some(if self.v2 {
            format!("Error:  {message}")
        } else {
            format!("Error: {message}")
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "exit status {}", self.code.code()),
        }
    }
}

/// Go's `strconv.ParseInt(s, radix, 64)` with its error text, which etcdctl puts into its messages.
pub fn parse_go_int(s: &str, radix: u32) -> Result<i64, String> {
    i64::from_str_radix(s, radix).map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!(
            "strconv.ParseInt: parsing {}: {why}",
            go_quote(s.as_bytes())
        )
    })
}

/// Go's `strconv.ParseUint(s, 16, 64)` with its error text: how etcdctl reads member IDs.
pub fn parse_go_hex_u64(s: &str) -> Result<u64, String> {
    let parsed = if s.starts_with(['+', '-']) {
        Err("invalid syntax")
    } else {
        u64::from_str_radix(s, 16).map_err(|e| match e.kind() {
            std::num::IntErrorKind::PosOverflow => "value out of range",
            _ => "invalid syntax",
        })
    };
    parsed.map_err(|why| {
        format!(
            "strconv.ParseUint: parsing {}: {why}",
            go_quote(s.as_bytes())
        )
    })
}

/// Go's `%q` / `strconv.Quote` for bytes: a double-quoted string with Go escapes, invalid UTF-8 as `\x..`.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\u{b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if c.is_control() => {
                    if (c as u32) <= 0xffff {
                        out.push_str(&format!("\\u{:04x}", c as u32))
                    } else {
                        out.push_str(&format!("\\U{:08x}", c as u32))
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_int_errors_read_like_go() {
        assert_eq!(parse_go_int("1f", 16), Ok(31));
        assert_eq!(
            parse_go_int("zz", 16),
            Err(r#"strconv.ParseInt: parsing "zz": invalid syntax"#.to_string())
        );
        assert_eq!(
            parse_go_int("ffffffffffffffffff", 16),
            Err(
                r#"strconv.ParseInt: parsing "ffffffffffffffffff": value out of range"#.to_string()
            )
        );
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote(b"a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(go_quote(b"\x01\xff"), r#""\x01\xff""#);
        assert_eq!(go_quote("héllo".as_bytes()), "\"héllo\"");
    }

    #[test]
    fn v2_and_v3_prefixes() {
        assert_eq!(
            Failure::v2(ExitCode::V2_SERVER_ERROR, "100: Key not found (/a) [3]").stderr_text(),
            Some("Error:  100: Key not found (/a) [3]".to_string())
        );
        assert_eq!(
            Failure::error("boom").stderr_text(),
            Some("Error: boom".to_string())
        );
        assert_eq!(Failure::silent(ExitCode::Error).stderr_text(), None);
    }
}
