//! # unitctl
//!
//! systemctl for unitd: the verbs, options, output and exit codes of systemctl (and a journalctl-like
//! `journal` verb), talking to unitd only through `unitd-client` over D-Bus — never through the daemon's code.
//! Where unitd is comes from `--address`, `UNITD_ADDRESS`, `/run/unitd/private` or the system bus (the rule is
//! in `unitd-client`'s docs). `verify` and `journal -D` work offline.
//!
//! Layout:
//! - `main.rs`: the flags (clap) and the dispatch; nothing else.
//! - `context.rs`: global options, the lazily made connection, stdout/stderr.
//! - `error.rs`: systemctl's exit codes, [`error::Failure`], D-Bus error → exit code.
//! - `cmd/`: one file per verb; each computes its output with pure functions and prints it.
//! - `jobs.rs`: enqueue-and-wait for the job verbs and systemctl's failure messages.
//! - `units.rs`: unit lookup on unitd (names and globs, GetUnit/LoadUnit, GetAll, the journal directory).
//! - `props.rs`: property values and `show`'s `Key=Value` formatting.
//! - `render/`: systemd's time, size and exit-status wording, and its tables.
//! - `cgroup_tree.rs`: the `CGroup:` tree of `status` from cgroupfs (v1 and v2).
//! - `unit_name.rs`: `.service` mangling and fnmatch globs.
//!
//! All options are global, as in systemctl (`unitctl --all list-units` and `unitctl list-units --all` are the
//! same); only `journal` has options of its own (`-u`, `-f`, `-D`, `-x`, `-e`).

mod cgroup_tree;
mod cmd;
mod context;
mod error;
mod jobs;
mod props;
mod render;
mod unit_name;
mod units;

use clap::{Args, Parser, Subcommand};

use cmd::journal::JournalArgs;
use cmd::list_dependencies::Direction;
use context::{emit_err, Context, Options};
use error::{code, Failure};
use unitd_client::JobMode;

/// Control unitd, the unit manager.
#[derive(Parser, Debug)]
#[command(name = "unitctl", version, about)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// systemctl's options; all of them may come before or after the verb.
#[derive(Args, Debug)]
struct GlobalArgs {
    /// unitd's D-Bus address (else UNITD_ADDRESS): a socket path or `unix:path=…/private` for its private socket, else a bus.
    #[arg(long, global = true)]
    address: Option<String>,
    /// Do not wait for the jobs to finish.
    #[arg(long, global = true)]
    no_block: bool,
    /// Accepted for systemctl compatibility; unitctl never pages.
    #[arg(long, global = true)]
    no_pager: bool,
    /// Suppress informational output.
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    /// Do not print headers and footers of tables.
    #[arg(long, global = true)]
    no_legend: bool,
    /// Show times in UTC (status, show, journal).
    #[arg(long, global = true)]
    utc: bool,
    /// Accepted for systemctl compatibility; unitctl never truncates.
    #[arg(short = 'l', long, global = true)]
    full: bool,
    /// How a job interacts with queued ones: replace, fail, ignore-dependencies, ignore-requirements.
    #[arg(long, global = true, default_value = "replace", value_parser = parse_job_mode)]
    job_mode: JobMode,
    /// Show all units or properties, also inactive or empty ones.
    #[arg(short = 'a', long, global = true)]
    all: bool,
    /// List units (or unit files) in these states (comma-separated).
    #[arg(long, global = true)]
    state: Vec<String>,
    /// The same as --state=failed.
    #[arg(long, global = true)]
    failed: bool,
    /// List units of these types (comma-separated: service, target, …).
    #[arg(short = 't', long = "type", global = true)]
    types: Vec<String>,
    /// Show only these properties (comma-separated, repeatable).
    #[arg(short = 'p', long = "property", global = true)]
    property: Vec<String>,
    /// Print property values only.
    #[arg(long, global = true)]
    value: bool,
    /// Journal lines to show.
    #[arg(short = 'n', long, global = true)]
    lines: Option<usize>,
    /// Output mode: short, short-iso, json, cat (journal); json (show-environment).
    #[arg(short = 'o', long, global = true)]
    output: Option<String>,
    /// The signal for kill (name or number).
    #[arg(short = 's', long, global = true)]
    signal: Option<String>,
    /// Which processes kill signals: main, control, all.
    #[arg(long, global = true)]
    kill_whom: Option<String>,
    /// With enable/disable: also start/stop the units.
    #[arg(long, global = true)]
    now: bool,
    /// With enable/disable: do not daemon-reload afterwards.
    #[arg(long, global = true)]
    no_reload: bool,
    /// With enable/disable/set-property: only until the next reboot.
    #[arg(long, global = true)]
    runtime: bool,
    /// With enable: replace conflicting symlinks.
    #[arg(long, global = true)]
    force: bool,
    /// With list-dependencies: the units that depend on the unit instead.
    #[arg(long, global = true, overrides_with_all = ["after", "before"])]
    reverse: bool,
    /// With list-dependencies: the units ordered before the unit (its After=).
    #[arg(long, global = true, overrides_with_all = ["reverse", "before"])]
    after: bool,
    /// With list-dependencies: the units ordered after the unit (its Before=).
    #[arg(long, global = true, overrides_with_all = ["reverse", "after"])]
    before: bool,
    /// With list-dependencies: a flat list instead of a tree.
    #[arg(long, global = true)]
    plain: bool,
}

fn parse_job_mode(s: &str) -> Result<JobMode, String> {
    s.parse()
}

/// The verbs.
#[derive(Subcommand, Debug)]
enum Command {
    /// Start (activate) units.
    Start { units: Vec<String> },
    /// Stop (deactivate) units.
    Stop { units: Vec<String> },
    /// Restart units (start them if not running).
    Restart { units: Vec<String> },
    /// Restart units if they are running.
    TryRestart { units: Vec<String> },
    /// Reload units.
    Reload { units: Vec<String> },
    /// Reload units if they support it, restart them otherwise.
    ReloadOrRestart { units: Vec<String> },
    /// Send a signal to the processes of units.
    Kill { units: Vec<String> },
    /// Show runtime status of units (or of unitd).
    Status { units: Vec<String> },
    /// Show properties of units (or of unitd).
    Show { units: Vec<String> },
    /// Show the unit files and drop-ins of units.
    Cat { units: Vec<String> },
    /// List loaded units.
    ListUnits { patterns: Vec<String> },
    /// List installed unit files.
    ListUnitFiles { patterns: Vec<String> },
    /// Show the units a unit pulls in (or, with --reverse, is pulled in by) as a tree.
    ListDependencies { units: Vec<String> },
    /// Enable unit files.
    Enable { units: Vec<String> },
    /// Disable unit files.
    Disable { units: Vec<String> },
    /// Mask unit files (link them to /dev/null: they cannot be started).
    Mask { units: Vec<String> },
    /// Disable and enable unit files again (links follow a changed [Install] section).
    Reenable { units: Vec<String> },
    /// Unmask unit files.
    Unmask { units: Vec<String> },
    /// Check whether units are active.
    IsActive { units: Vec<String> },
    /// Check whether units are failed.
    IsFailed { units: Vec<String> },
    /// Check whether unit files are enabled.
    IsEnabled { units: Vec<String> },
    /// Reload unit files.
    DaemonReload,
    /// Print the manager's state (running, starting, degraded); exit 0 only when running.
    IsSystemRunning {
        /// Wait until startup has finished first.
        #[arg(long)]
        wait: bool,
    },
    /// Re-execute unitd, keeping running units.
    DaemonReexec,
    /// Reset the failed state of units (or of all units).
    ResetFailed { units: Vec<String> },
    /// List queued jobs.
    ListJobs,
    /// Cancel jobs by id, or all of them.
    Cancel { jobs: Vec<String> },
    /// Change resource limits of a running unit (MemoryMax=, CPUQuota=, …), kept across restarts.
    SetProperty { args: Vec<String> },
    /// Print the environment units are started with (the manager environment).
    ShowEnvironment,
    /// Set variables of the manager environment (NAME=VALUE...).
    SetEnvironment { assignments: Vec<String> },
    /// Unset variables of the manager environment (NAME or NAME=VALUE...).
    UnsetEnvironment { names: Vec<String> },
    /// Copy variables of this shell into the manager environment.
    ImportEnvironment { names: Vec<String> },
    /// Check unit files for errors, offline.
    Verify { files: Vec<String> },
    /// Show the journal of units.
    Journal(JournalArgs),
}

impl Command {
    /// The positional arguments, for the verbs that need at least one.
    fn required_args(&self) -> Option<(&'static str, &[String])> {
        Some(match self {
            Command::Start { units } => ("start", units),
            Command::Stop { units } => ("stop", units),
            Command::Restart { units } => ("restart", units),
            Command::TryRestart { units } => ("try-restart", units),
            Command::Reload { units } => ("reload", units),
            Command::ReloadOrRestart { units } => ("reload-or-restart", units),
            Command::Kill { units } => ("kill", units),
            Command::Cat { units } => ("cat", units),
            Command::Enable { units } => ("enable", units),
            Command::Disable { units } => ("disable", units),
            Command::Mask { units } => ("mask", units),
            Command::Reenable { units } => ("reenable", units),
            Command::Unmask { units } => ("unmask", units),
            Command::IsActive { units } => ("is-active", units),
            Command::IsFailed { units } => ("is-failed", units),
            Command::IsEnabled { units } => ("is-enabled", units),
            Command::Verify { files } => ("verify", files),
            Command::SetEnvironment { assignments } => ("set-environment", assignments),
            Command::SetProperty { args } => ("set-property", args),
            Command::UnsetEnvironment { names } => ("unset-environment", names),
            _ => return None,
        })
    }
}

async fn dispatch(ctx: &Context, command: &Command) -> anyhow::Result<()> {
    if let Some((verb, args)) = command.required_args() {
        if args.is_empty() {
            return Err(Failure::new(
                code::INVALID_ARGUMENT,
                format!("Too few arguments to '{verb}'."),
            )
            .into());
        }
    }
    match command {
        Command::Start { units } => cmd::start::run(ctx, units).await,
        Command::Stop { units } => cmd::stop::run(ctx, units).await,
        Command::Restart { units } => cmd::restart::run(ctx, units).await,
        Command::TryRestart { units } => cmd::try_restart::run(ctx, units).await,
        Command::Reload { units } => cmd::reload::run(ctx, units).await,
        Command::ReloadOrRestart { units } => cmd::reload_or_restart::run(ctx, units).await,
        Command::Kill { units } => cmd::kill::run(ctx, units).await,
        Command::Status { units } => cmd::status::run(ctx, units).await,
        Command::Show { units } => cmd::show::run(ctx, units).await,
        Command::Cat { units } => cmd::cat::run(ctx, units).await,
        Command::ListUnits { patterns } => cmd::list_units::run(ctx, patterns).await,
        Command::ListUnitFiles { patterns } => cmd::list_unit_files::run(ctx, patterns).await,
        Command::ListDependencies { units } => cmd::list_dependencies::run(ctx, units).await,
        Command::Enable { units } => cmd::enable::run(ctx, units).await,
        Command::Disable { units } => cmd::disable::run(ctx, units).await,
        Command::Mask { units } => cmd::mask::mask(ctx, units).await,
        Command::Reenable { units } => cmd::reenable::run(ctx, units).await,
        Command::Unmask { units } => cmd::mask::unmask(ctx, units).await,
        Command::IsActive { units } => cmd::is_active::run(ctx, units).await,
        Command::IsFailed { units } => cmd::is_failed::run(ctx, units).await,
        Command::IsSystemRunning { wait } => cmd::is_system_running::run(ctx, *wait).await,
        Command::IsEnabled { units } => cmd::is_enabled::run(ctx, units).await,
        Command::DaemonReload => cmd::daemon_reload::run(ctx).await,
        Command::Cancel { jobs } => cmd::cancel::run(ctx, jobs).await,
        Command::DaemonReexec => cmd::daemon_reexec::run(ctx).await,
        Command::ResetFailed { units } => cmd::reset_failed::run(ctx, units).await,
        Command::ListJobs => cmd::list_jobs::run(ctx).await,
        Command::Verify { files } => cmd::verify::run(ctx, files).await,
        Command::ShowEnvironment => cmd::environment::show(ctx).await,
        Command::SetProperty { args } => cmd::set_property::run(ctx, args).await,
        Command::SetEnvironment { assignments } => cmd::environment::set(ctx, assignments).await,
        Command::UnsetEnvironment { names } => cmd::environment::unset(ctx, names).await,
        Command::ImportEnvironment { names } => cmd::environment::import(ctx, names).await,
        Command::Journal(args) => cmd::journal::run(ctx, args).await,
    }
}

fn options(g: GlobalArgs) -> Options {
    Options {
        address: g.address,
        no_block: g.no_block,
        quiet: g.quiet,
        no_legend: g.no_legend,
        job_mode: g.job_mode,
        all: g.all,
        states: if g.failed {
            g.state.into_iter().chain(["failed".to_string()]).collect()
        } else {
            g.state
        },
        types: g.types,
        properties: g.property,
        value: g.value,
        lines: g.lines,
        output: g.output,
        signal: g.signal,
        kill_whom: g.kill_whom,
        now: g.now,
        no_reload: g.no_reload,
        runtime: g.runtime,
        force: g.force,
        dependency: if g.reverse {
            Direction::Reverse
        } else if g.after {
            Direction::After
        } else if g.before {
            Direction::Before
        } else {
            Direction::Forward
        },
        plain: g.plain,
    }
}

/// Prints an error as systemctl would and returns the exit status.
fn report(err: &anyhow::Error) -> i32 {
    if let Some(f) = err.downcast_ref::<Failure>() {
        if let Some(message) = &f.message {
            emit_err(&format!("{message}\n"));
        }
        f.code
    } else {
        emit_err(&format!("{err:#}\n"));
        code::FAILURE
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let status = if e.use_stderr() {
                code::INVALID_ARGUMENT
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(status);
        }
    };
    // --no-pager and --full are accepted no-ops.
    let _ = (cli.global.no_pager, cli.global.full);
    let command = cli.command.unwrap_or(Command::ListUnits {
        patterns: Vec::new(),
    });
    let utc = cli.global.utc;
    let mut ctx = Context::new(options(cli.global));
    if utc {
        ctx.zone = render::Zone::Utc;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => std::process::exit(report(
            &anyhow::Error::new(e).context("Failed to start the async runtime"),
        )),
    };
    let status = match runtime.block_on(dispatch(&ctx, &command)) {
        Ok(()) => code::SUCCESS,
        Err(e) => report(&e),
    };
    drop(ctx);
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(status);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("unitctl").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_go_before_or_after_the_verb() {
        for args in [
            &["--all", "list-units"][..],
            &["list-units", "--all"][..],
            &["-a"][..],
        ] {
            let cli = parse(args);
            assert!(cli.global.all, "{args:?}");
        }
        let cli = parse(&["show", "-p", "Id,ActiveState", "--value", "hello"]);
        assert_eq!(cli.global.property, ["Id,ActiveState"]);
        assert!(cli.global.value);
        let cli = parse(&["kill", "-s", "KILL", "--kill-whom=main", "hello"]);
        assert_eq!(cli.global.signal.as_deref(), Some("KILL"));
        assert_eq!(cli.global.kill_whom.as_deref(), Some("main"));
        let cli = parse(&["--no-block", "--job-mode", "fail", "start", "a", "b"]);
        assert!(cli.global.no_block);
        assert_eq!(cli.global.job_mode, JobMode::Fail);
        assert!(matches!(cli.command, Some(Command::Start { ref units }) if units == &["a", "b"]));
    }

    #[test]
    fn the_hint_in_job_failures_parses() {
        let cli = parse(&["journal", "-xeu", "hello.service"]);
        let Some(Command::Journal(args)) = cli.command else {
            panic!("not journal");
        };
        assert_eq!(args.units, ["hello.service"]);
        assert!(args.catalog && args.pager_end && !args.follow);
        let cli = parse(&[
            "journal", "-u", "a", "-u", "b", "-n", "5", "-f", "-o", "json", "-D", "/j",
        ]);
        let Some(Command::Journal(args)) = cli.command else {
            panic!("not journal");
        };
        assert_eq!(args.units, ["a", "b"]);
        assert!(args.follow);
        assert_eq!(args.directory.as_deref(), Some("/j"));
        assert_eq!(cli.global.lines, Some(5));
        assert_eq!(cli.global.output.as_deref(), Some("json"));
    }

    #[test]
    fn bad_arguments_fail() {
        assert!(Cli::try_parse_from(["unitctl", "frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["unitctl", "--job-mode", "sideways", "start", "a"]).is_err());
        assert!(parse(&[]).command.is_none());
    }
}
