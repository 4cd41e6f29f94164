//! One file per verb. Each has an async `run` over the [`Context`](crate::context::Context) and its
//! arguments; what it prints is computed by pure functions in the same file (or in [`crate::render`],
//! [`crate::props`], [`crate::jobs`]) so tests can check the text without a running unitd.

pub mod cancel;
pub mod cat;
pub mod daemon_reexec;
pub mod daemon_reload;
pub mod disable;
pub mod enable;
pub mod environment;
pub mod is_active;
pub mod is_enabled;
pub mod is_failed;
pub mod is_system_running;
pub mod journal;
pub mod kill;
pub mod list_dependencies;
pub mod list_jobs;
pub mod list_unit_files;
pub mod list_units;
pub mod mask;
pub mod reenable;
pub mod reload;
pub mod reload_or_restart;
pub mod reset_failed;
pub mod restart;
pub mod set_property;
pub mod show;
pub mod start;
pub mod status;
pub mod stop;
pub mod try_restart;
pub mod verify;
