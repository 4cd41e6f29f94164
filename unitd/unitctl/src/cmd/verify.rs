//! `unitctl verify FILE...`: checks unit files offline with the `unitfile` crate (like
//! `systemd-analyze verify`), printing `FILE:LINE: message` per diagnostic on stdout; exits 1 if any of them
//! is an error (warnings alone exit 0).

use std::path::PathBuf;

use unitfile::{Diagnostic, VerifyOptions};

use crate::context::{emit, Context};
use crate::error::{code, Failure};

/// How `verify` checks: the file's own directory for drop-ins, host specifiers, and missing executables
/// reported (as warnings, see the `unitfile` crate).
pub fn options() -> VerifyOptions {
    VerifyOptions {
        check_executables: true,
        ..VerifyOptions::default()
    }
}

/// The lines for `diagnostics`, and whether one is an error.
pub fn render_diagnostics(diagnostics: &[Diagnostic]) -> (String, bool) {
    let text = diagnostics.iter().map(|d| format!("{d}\n")).collect();
    (text, diagnostics.iter().any(Diagnostic::is_error))
}

/// Runs the verb.
pub async fn run(_ctx: &Context, files: &[String]) -> anyhow::Result<()> {
    let paths: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
    let diagnostics = unitfile::verify(&paths, &options());
    let (text, has_error) = render_diagnostics(&diagnostics);
    emit(&text)?;
    if has_error {
        return Err(Failure::silent(code::FAILURE).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_decide_the_exit_code() {
        let tmp = tempfile::tempdir().unwrap();
        let good = tmp.path().join("good.service");
        std::fs::write(
            &good,
            "[Unit]\nDescription=ok\n\n[Service]\nExecStart=/bin/true\n",
        )
        .unwrap();
        let (text, has_error) = render_diagnostics(&unitfile::verify(&[good], &options()));
        assert_eq!(text, "");
        assert!(!has_error);

        let bad = tmp.path().join("bad.service");
        std::fs::write(&bad, "[Service]\nExecStart=relative/path\n").unwrap();
        let (text, has_error) =
            render_diagnostics(&unitfile::verify(std::slice::from_ref(&bad), &options()));
        assert!(has_error, "{text}");
        assert!(
            text.starts_with(&format!("{}:2: ", bad.display())),
            "{text}"
        );
    }
}
