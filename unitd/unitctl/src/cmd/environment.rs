//! The manager environment verbs — variables every unit started from now on inherits (below its own
//! `Environment=`):
//! - `show-environment`: the manager's `Environment` property, one `NAME=value` per line, a value that the
//!   shell would split or expand quoted as `$'…'` (systemctl's `shell_maybe_quote` in POSIX mode); `-o json`
//!   prints one JSON object.
//! - `set-environment NAME=value…` / `unset-environment NAME[=value]…`: `SetEnvironment` / `UnsetEnvironment`;
//!   unitd validates and answers "Invalid environment assignments" as systemd does.
//! - `import-environment [NAME…]`: this process's variables of those names (all of them, deprecated, without
//!   names) through `SetEnvironment`.

use unitfile::env_name_is_valid;

use crate::context::{bus_failure, emit, emit_err, Context};
use crate::error::{code, Failure};

/// Characters that make the shell split, expand or glob a word (systemd's WHITESPACE and SHELL_NEED_QUOTES).
const NEEDS_QUOTES: &[char] = &[
    ' ', '\t', '\n', '\r', '"', '\\', '`', '$', '*', '?', '[', '\'', '(', ')', '<', '>', '|', '&',
    ';', '!',
];

/// `value` as the shell reads it back: unchanged when nothing in it is special, else `$'…'` with control
/// characters C-escaped and `\` and `'` backslashed.
pub fn shell_maybe_quote(value: &str) -> String {
    let special = |c: char| c.is_ascii_control() || NEEDS_QUOTES.contains(&c);
    let Some(first) = value.find(special) else {
        return value.to_string();
    };
    let mut out = String::with_capacity(value.len() + 4);
    out.push_str("$'");
    out.push_str(&value[..first]);
    for c in value[first..].chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `show-environment`'s text: one `NAME=value` line per variable (an entry without `=` is skipped).
pub fn render(env: &[String]) -> String {
    env.iter()
        .filter_map(|e| e.split_once('='))
        .map(|(name, value)| format!("{name}={}\n", shell_maybe_quote(value)))
        .collect()
}

/// `show-environment -o json`: one object, variables in order.
pub fn render_json(env: &[String]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = env
        .iter()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    format!("{}\n", serde_json::Value::Object(map))
}

/// `show-environment`.
pub async fn show(ctx: &Context) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    let env = manager
        .environment()
        .await
        .map_err(|e| bus_failure("Failed to get environment", &e.into()))?;
    match ctx.opts.output.as_deref() {
        Some("json") => emit(&render_json(&env))?,
        _ => emit(&render(&env))?,
    }
    Ok(())
}

/// `set-environment`.
pub async fn set(ctx: &Context, assignments: &[String]) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    manager
        .set_environment(assignments)
        .await
        .map_err(|e| bus_failure("Failed to set environment", &e.into()))?;
    Ok(())
}

/// `unset-environment`.
pub async fn unset(ctx: &Context, names: &[String]) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    manager
        .unset_environment(names)
        .await
        .map_err(|e| bus_failure("Failed to set environment", &e.into()))?;
    Ok(())
}

/// What `import-environment` sends, from `environ` (this process's variables): the named ones, or every valid
/// one (the first of a name) when no name is given. Also the messages systemctl prints on the way.
pub fn imports(
    environ: &[(String, String)],
    names: &[String],
) -> Result<(Vec<String>, Vec<String>), Failure> {
    let mut notes = Vec::new();
    let mut out: Vec<String> = Vec::new();
    if names.is_empty() {
        notes.push(
            "Calling import-environment without a list of variable names is deprecated.".into(),
        );
        for (k, v) in environ {
            if env_name_is_valid(k)
                && !out
                    .iter()
                    .any(|e| e.split_once('=').is_some_and(|(n, _)| n == k))
            {
                out.push(format!("{k}={v}"));
            }
        }
        return Ok((out, notes));
    }
    for name in names {
        if !env_name_is_valid(name) {
            return Err(Failure::new(
                code::INVALID_ARGUMENT,
                format!("Not a valid environment variable name: {name}"),
            ));
        }
        match environ.iter().find(|(k, _)| k == name) {
            Some((k, v)) => {
                if v.chars().any(|c| c.is_ascii_control()) {
                    notes.push(format!(
                        "Environment variable ${k} contains control characters, importing anyway."
                    ));
                }
                out.push(format!("{k}={v}"));
            }
            None => notes.push(format!("Environment variable ${name} not set, ignoring.")),
        }
    }
    Ok((out, notes))
}

/// `import-environment`.
pub async fn import(ctx: &Context, names: &[String]) -> anyhow::Result<()> {
    let environ: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let (assignments, notes) = imports(&environ, names)?;
    for note in notes {
        emit_err(&format!("{note}\n"));
    }
    let manager = ctx.manager().await?;
    manager
        .set_environment(&assignments)
        .await
        .map_err(|e| bus_failure("Failed to import environment", &e.into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_printed_as_they_are() {
        assert_eq!(shell_maybe_quote("/usr/bin:/bin"), "/usr/bin:/bin");
        assert_eq!(shell_maybe_quote("C.UTF-8"), "C.UTF-8");
        assert_eq!(shell_maybe_quote(""), "");
        assert_eq!(shell_maybe_quote("héllo"), "héllo");
    }

    #[test]
    fn special_values_are_quoted_as_systemctl_does() {
        assert_eq!(shell_maybe_quote("a b"), "$'a b'");
        assert_eq!(shell_maybe_quote("it's"), "$'it\\'s'");
        assert_eq!(shell_maybe_quote("two\nlines"), "$'two\\nlines'");
        assert_eq!(shell_maybe_quote("$HOME"), "$'$HOME'");
        assert_eq!(shell_maybe_quote("a\\b"), "$'a\\\\b'");
        assert_eq!(shell_maybe_quote("x\x1by"), "$'x\\033y'");
        assert_eq!(shell_maybe_quote("say \"hi\""), "$'say \"hi\"'");
    }

    #[test]
    fn render_prints_one_line_per_variable() {
        let env = vec!["A=1".to_string(), "B=x y".to_string()];
        assert_eq!(render(&env), "A=1\nB=$'x y'\n");
        assert_eq!(render_json(&env), "{\"A\":\"1\",\"B\":\"x y\"}\n");
    }

    #[test]
    fn import_takes_named_variables_and_notes_missing_ones() {
        let environ = vec![
            ("HOME".to_string(), "/root".to_string()),
            ("TERM".to_string(), "xterm".to_string()),
        ];
        let (out, notes) = imports(&environ, &["TERM".into(), "NOPE".into()]).unwrap();
        assert_eq!(out, vec!["TERM=xterm"]);
        assert_eq!(notes, vec!["Environment variable $NOPE not set, ignoring."]);
        let err = imports(&environ, &["1X".into()]).unwrap_err();
        assert_eq!(err.to_string(), "Not a valid environment variable name: 1X");
        let (all, notes) = imports(&environ, &[]).unwrap();
        assert_eq!(all, vec!["HOME=/root", "TERM=xterm"]);
        assert!(notes[0].contains("deprecated"));
    }
}
