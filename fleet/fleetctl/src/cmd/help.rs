//! `fleetctl help [COMMAND]`, `fleetctl` alone and `--help`/`-h`: fleet's help layout (NAME, USAGE, VERSION,
//! COMMANDS, DESCRIPTION, OPTIONS, GLOBAL OPTIONS), flags listed as pflag lists them, and the whole passed
//! through the same tab writer as fleet's.

use clap::{Arg, Command as ClapCommand, CommandFactory};

use crate::cli::{Cli, DESCRIPTION};
use crate::io::Io;
use crate::table::render;

/// `help [COMMAND]`: exit 0, or 2 for a command that does not exist.
pub fn run(io: &Io, topic: &[String]) -> i32 {
    match topic.first() {
        None => {
            let _ = io.write_out(top().as_bytes());
            0
        }
        Some(name) => match find(name) {
            Some(cmd) => {
                let _ = io.write_out(command(cmd.get_name()).as_bytes());
                0
            }
            None => {
                io.stderr(format!("Unknown help topic {name:?}"));
                let _ = io.write_out(top().as_bytes());
                2
            }
        },
    }
}

/// A subcommand by name or unambiguous prefix (cobra's prefix matching).
fn find(name: &str) -> Option<ClapCommand> {
    let root = Cli::command();
    let subs: Vec<&ClapCommand> = root.get_subcommands().collect();
    if let Some(exact) = subs.iter().find(|c| c.get_name() == name) {
        return Some((*exact).clone());
    }
    let mut prefixed = subs.iter().filter(|c| c.get_name().starts_with(name));
    match (prefixed.next(), prefixed.next()) {
        (Some(one), None) => Some((*one).clone()),
        _ => None,
    }
}

/// The top-level help.
pub fn top() -> String {
    let mut root = Cli::command();
    root.build();
    let mut text = format!(
        "NAME:\n\tfleetctl - {DESCRIPTION}\n\nUSAGE:\n\tfleetctl [flags]\n\nVERSION:\n\t{}\n\nCOMMANDS:\n",
        env!("CARGO_PKG_VERSION")
    );
    let mut subs: Vec<&ClapCommand> = root.get_subcommands().collect();
    subs.sort_by_key(|c| c.get_name());
    for c in subs {
        let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
        text.push_str(&format!("\t{}\t{about}\n", c.get_name()));
    }
    text.push_str("\nOPTIONS:\n");
    text.push_str(&flag_usages(
        root.get_arguments()
            .filter(|a| a.is_global_set() || a.get_long() == Some("version")),
    ));
    text.push('\n');
    tabbed(&text)
}

/// The help of one subcommand (by its exact name).
pub fn command(name: &str) -> String {
    let mut root = Cli::command();
    root.build();
    let Some(cmd) = root.find_subcommand(name).cloned() else {
        return top();
    };
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let usage = cmd
        .clone()
        .render_usage()
        .to_string()
        .trim_start_matches("Usage: ")
        .trim()
        .to_string();
    let mut text = format!("NAME:\n\t{name} - {about}\n\nUSAGE:\n\t{usage}\n");
    if let Some(long) = cmd.get_long_about() {
        text.push_str("\nDESCRIPTION:\n");
        for line in long.to_string().trim_matches(['\n', '\t', ' ']).lines() {
            text.push_str(&format!("\t{line}\n"));
        }
    }
    let local: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_positional())
        .collect();
    if !local.is_empty() {
        text.push_str("\nOPTIONS:\n");
        text.push_str(&flag_usages(local.into_iter()));
    }
    text.push_str("\nGLOBAL OPTIONS:\n");
    text.push_str(&flag_usages(
        root.get_arguments().filter(|a| a.is_global_set()),
    ));
    text.push('\n');
    tabbed(&text)
}

/// Runs text through fleet's tab writer (cells are tab-separated).
fn tabbed(text: &str) -> String {
    let lines: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    render(&lines)
}

/// pflag's `FlagUsages`: sorted by name, `  -x, --name type` or `      --name type`, the usage aligned after
/// the longest, with `(default …)` when the default is not the zero value.
fn flag_usages<'a>(args: impl Iterator<Item = &'a Arg>) -> String {
    let mut args: Vec<&Arg> = args.filter(|a| a.get_long().is_some()).collect();
    args.sort_by_key(|a| a.get_long());
    let lines: Vec<(String, String)> = args
        .iter()
        .map(|a| {
            let long = a.get_long().unwrap_or_default();
            let mut left = match a.get_short() {
                Some(s) => format!("  -{s}, --{long}"),
                None => format!("      --{long}"),
            };
            let value_name = a
                .get_value_names()
                .and_then(|v| v.first().map(|s| s.to_string()));
            let takes_value = a.get_num_args().is_some_and(|n| n.takes_values());
            let kind = match value_name.as_deref() {
                _ if !takes_value => "",
                Some("BOOL") => "",
                Some("N") => "int",
                _ if long.ends_with("timeout") => "float",
                _ => "string",
            };
            if !kind.is_empty() {
                left.push(' ');
                left.push_str(kind);
            }
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            let default = a
                .get_default_values()
                .first()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default();
            let usage = match (kind, default.as_str()) {
                (_, "" | "false" | "0") => help,
                ("string", d) => format!("{help} (default {d:?})"),
                (_, d) => format!("{help} (default {d})"),
            };
            (left, usage)
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    lines
        .into_iter()
        .map(|(left, usage)| format!("{left:width$}   {usage}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_help_lists_commands_and_global_flags() {
        let t = top();
        assert!(t.starts_with("NAME:\n\tfleetctl - fleetctl is a command-line interface to fleet"));
        assert!(
            t.contains("\nCOMMANDS:\n\tcat\t\tOutput the contents of a submitted unit\n"),
            "{t}"
        );
        assert!(t.contains("\trolling-replace\t"));
        assert!(t.contains("      --endpoint string"));
        assert!(t.contains("(default \"unix:///var/run/fleet.sock\")"));
        assert!(t.contains("  -v, --version"));
    }

    #[test]
    fn command_help_has_usage_options_and_globals() {
        let t = command("start");
        assert!(
            t.starts_with("NAME:\n\tstart - Instruct systemd to start"),
            "{t}"
        );
        assert!(
            t.contains("USAGE:\n\tfleetctl start [--no-block|--block-attempts=N] UNIT...\n"),
            "{t}"
        );
        assert!(t.contains("\nDESCRIPTION:\n\tStart one or many units"));
        assert!(t.contains("      --block-attempts int"), "{t}");
        assert!(t.contains("      --no-block "), "{t}");
        assert!(t.contains("\nGLOBAL OPTIONS:\n"));
        assert!(command("list-units").contains("  -l, --full"));
    }

    #[test]
    fn prefixes_find_commands() {
        assert_eq!(
            find("list-m").map(|c| c.get_name().to_string()).as_deref(),
            Some("list-machines")
        );
        assert!(find("list").is_none());
        assert!(find("nope").is_none());
    }
}
