//! How unitctl fails: systemctl's exit codes (LSB's, see systemd's `exit-status.h`) and the [`Failure`] that
//! carries one with the exact text for stderr.
//!
//! Verbs return `anyhow::Result`; a [`Failure`] inside decides the exit code and the message. Any other error
//! prints its chain and exits 1, as systemctl does for errors it has no special code for.

use std::fmt;

use unitd_client::error::names;
use unitd_client::RemoteError;

/// systemctl's exit codes.
pub mod code {
    /// Success; also "program is running" for `status`/`is-active`.
    pub const SUCCESS: i32 = 0;
    /// Generic failure; also `is-failed` when no unit failed, and a failed job.
    pub const FAILURE: i32 = 1;
    /// Bad arguments (systemctl exits 1 for those, as we do).
    pub const INVALID_ARGUMENT: i32 = 1;
    /// LSB "unimplemented feature" (JobTypeNotApplicable, NotSupported).
    pub const NOT_IMPLEMENTED: i32 = 3;
    /// LSB "program is not running" (`status`, `is-active`).
    pub const PROGRAM_NOT_RUNNING: i32 = 3;
    /// LSB "insufficient privilege" (AccessDenied, destructive transactions).
    pub const NO_PERMISSION: i32 = 4;
    /// LSB "program or service status is unknown" (`status` of a unit that doesn't exist).
    pub const STATUS_UNKNOWN: i32 = 4;
    /// LSB "program is not installed" (NoSuchUnit).
    pub const NOT_INSTALLED: i32 = 5;
    /// LSB "program is not configured" (LoadFailed).
    pub const NOT_CONFIGURED: i32 = 6;
}

/// systemd's `translate_bus_error_to_exit_status`: the exit code for a D-Bus error reply.
pub fn exit_code_for_remote(err: &RemoteError) -> i32 {
    match err.name.as_str() {
        names::ACCESS_DENIED
        | names::ONLY_BY_DEPENDENCY
        | names::NO_ISOLATION
        | names::TRANSACTION_IS_DESTRUCTIVE => code::NO_PERMISSION,
        names::NO_SUCH_UNIT => code::NOT_INSTALLED,
        names::JOB_TYPE_NOT_APPLICABLE | names::NOT_SUPPORTED => code::NOT_IMPLEMENTED,
        names::LOAD_FAILED => code::NOT_CONFIGURED,
        _ => code::FAILURE,
    }
}

/// A failure with its exit code and what to print on stderr.
#[derive(Debug, thiserror::Error)]
pub struct Failure {
    /// The exit status.
    pub code: i32,
    /// The text for stderr (without a trailing newline); `None` when the verb already printed it.
    pub message: Option<String>,
}

impl Failure {
    /// Exit with `code` after printing `message`.
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: Some(message.into()),
        }
    }

    /// Exit with `code` and print nothing (more).
    pub fn silent(code: i32) -> Failure {
        Failure {
            code,
            message: None,
        }
    }

    /// A generic failure (exit 1).
    pub fn error(message: impl fmt::Display) -> Failure {
        Failure::new(code::FAILURE, message.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(name: &str) -> RemoteError {
        RemoteError {
            name: name.to_string(),
            message: String::new(),
        }
    }

    #[test]
    fn bus_errors_map_like_systemctl() {
        let cases = [
            (names::NO_SUCH_UNIT, 5),
            (names::LOAD_FAILED, 6),
            (names::JOB_TYPE_NOT_APPLICABLE, 3),
            (names::NOT_SUPPORTED, 3),
            (names::ACCESS_DENIED, 4),
            (names::TRANSACTION_IS_DESTRUCTIVE, 4),
            (names::UNIT_MASKED, 1),
            (names::INVALID_ARGS, 1),
            ("org.example.Whatever", 1),
        ];
        for (name, want) in cases {
            assert_eq!(exit_code_for_remote(&remote(name)), want, "{name}");
        }
    }

    #[test]
    fn display() {
        assert_eq!(Failure::new(3, "x").to_string(), "x");
        assert_eq!(Failure::silent(3).to_string(), "exit status 3");
    }
}
