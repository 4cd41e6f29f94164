//! `org.freedesktop.systemd1.Manager` at `/org/freedesktop/systemd1`, with systemd's signatures.

use zbus::{proxy, OwnedObjectPath};

use super::{JobListEntry, UnitFileChange, UnitFileEntry, UnitListEntry};

/// The manager: jobs, unit lookup, unit files, daemon reload/re-exec, and the job and unit signals.
#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
pub trait Manager {
    /// Enqueue a start job; `mode` is `replace`, `fail`, `ignore-dependencies` or `ignore-requirements`.
    #[zbus(name = "StartUnit")]
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Enqueue a stop job.
    #[zbus(name = "StopUnit")]
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Enqueue a restart job.
    #[zbus(name = "RestartUnit")]
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Enqueue a restart job if the unit is running.
    #[zbus(name = "TryRestartUnit")]
    fn try_restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Enqueue a reload job.
    #[zbus(name = "ReloadUnit")]
    fn reload_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Enqueue a reload job if the unit supports it, a restart job otherwise.
    #[zbus(name = "ReloadOrRestartUnit")]
    fn reload_or_restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Send `signal` to the unit's processes; `whom` is `main`, `control` or `all`.
    #[zbus(name = "KillUnit")]
    fn kill_unit(&self, name: &str, whom: &str, signal: i32) -> zbus::Result<()>;

    /// Reset the failed state (and the start-limit counter) of one unit.
    #[zbus(name = "ResetFailedUnit")]
    fn reset_failed_unit(&self, name: &str) -> zbus::Result<()>;

    /// Reset the failed state of all units.
    #[zbus(name = "ResetFailed")]
    fn reset_failed(&self) -> zbus::Result<()>;

    /// The object path of a loaded unit (`NoSuchUnit` if it is not loaded).
    #[zbus(name = "GetUnit")]
    fn get_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    /// Load a unit if needed and return its object path.
    #[zbus(name = "LoadUnit")]
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    /// The unit a process belongs to.
    #[zbus(name = "GetUnitByPID")]
    fn get_unit_by_pid(&self, pid: u32) -> zbus::Result<OwnedObjectPath>;

    /// All loaded units.
    #[zbus(name = "ListUnits")]
    fn list_units(&self) -> zbus::Result<Vec<UnitListEntry>>;

    /// Loaded units in one of `states` (load, active or sub state).
    #[zbus(name = "ListUnitsFiltered")]
    fn list_units_filtered(&self, states: &[&str]) -> zbus::Result<Vec<UnitListEntry>>;

    /// Loaded units in one of `states` whose names match one of the glob `patterns`.
    #[zbus(name = "ListUnitsByPatterns")]
    fn list_units_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<Vec<UnitListEntry>>;

    /// All unit files with their enablement state.
    #[zbus(name = "ListUnitFiles")]
    fn list_unit_files(&self) -> zbus::Result<Vec<UnitFileEntry>>;

    /// The enablement state of one unit file.
    #[zbus(name = "GetUnitFileState")]
    fn get_unit_file_state(&self, file: &str) -> zbus::Result<String>;

    /// Enable unit files: whether they had an `[Install]` section, and the symlinks made.
    #[zbus(name = "EnableUnitFiles")]
    fn enable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<(bool, Vec<UnitFileChange>)>;

    /// Disable unit files: the symlinks removed.
    #[zbus(name = "DisableUnitFiles")]
    fn disable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
    ) -> zbus::Result<Vec<UnitFileChange>>;

    /// Disable, then enable unit files: whether they had an `[Install]` section, and the links removed and made.
    #[zbus(name = "ReenableUnitFiles")]
    fn reenable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<(bool, Vec<UnitFileChange>)>;

    /// Mask unit files (link them to /dev/null): the changes made.
    #[zbus(name = "MaskUnitFiles")]
    fn mask_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<Vec<UnitFileChange>>;

    /// Unmask unit files: the links removed.
    #[zbus(name = "UnmaskUnitFiles")]
    fn unmask_unit_files(&self, files: &[&str], runtime: bool)
        -> zbus::Result<Vec<UnitFileChange>>;

    /// Queued jobs.
    #[zbus(name = "ListJobs")]
    fn list_jobs(&self) -> zbus::Result<Vec<JobListEntry>>;

    /// Cancel a job by id.
    #[zbus(name = "CancelJob")]
    fn cancel_job(&self, id: u32) -> zbus::Result<()>;

    /// Cancel every job.
    #[zbus(name = "ClearJobs")]
    fn clear_jobs(&self) -> zbus::Result<()>;

    /// daemon-reload: re-read unit files, keep running units.
    #[zbus(name = "Reload")]
    fn reload(&self) -> zbus::Result<()>;

    /// Change resource-control properties of a unit now, kept as drop-ins (`runtime`: until reboot).
    #[zbus(name = "SetUnitProperties")]
    fn set_unit_properties(
        &self,
        name: &str,
        runtime: bool,
        properties: &[(&str, zbus::Variant<'_>)],
    ) -> zbus::Result<()>;

    /// Set variables of the manager environment (`NAME=value` each) for processes started from now on.
    #[zbus(name = "SetEnvironment")]
    fn set_environment(&self, assignments: &[String]) -> zbus::Result<()>;

    /// Unset variables of the manager environment (names, or `NAME=value` to unset only that value).
    #[zbus(name = "UnsetEnvironment")]
    fn unset_environment(&self, names: &[String]) -> zbus::Result<()>;

    /// Unset, then set, in one step.
    #[zbus(name = "UnsetAndSetEnvironment")]
    fn unset_and_set_environment(
        &self,
        names: &[String],
        assignments: &[String],
    ) -> zbus::Result<()>;

    /// Serialize state and re-exec unitd (the connection may drop before the reply).
    #[zbus(name = "Reexecute")]
    fn reexecute(&self) -> zbus::Result<()>;

    /// Ask for the job and unit signals on this connection.
    #[zbus(name = "Subscribe")]
    fn subscribe(&self) -> zbus::Result<()>;

    /// Stop the job and unit signals on this connection.
    #[zbus(name = "Unsubscribe")]
    fn unsubscribe(&self) -> zbus::Result<()>;

    /// A unit was loaded.
    #[zbus(signal, name = "UnitNew")]
    fn unit_new(&self, id: String, unit: OwnedObjectPath) -> zbus::Result<()>;

    /// A unit was unloaded.
    #[zbus(signal, name = "UnitRemoved")]
    fn unit_removed(&self, id: String, unit: OwnedObjectPath) -> zbus::Result<()>;

    /// A job was queued.
    #[zbus(signal, name = "JobNew")]
    fn job_new(&self, id: u32, job: OwnedObjectPath, unit: String) -> zbus::Result<()>;

    /// A job finished: `result` is `done`, `canceled`, `timeout`, `failed`, `dependency` or `skipped`.
    #[zbus(signal, name = "JobRemoved")]
    fn job_removed(
        &self,
        id: u32,
        job: OwnedObjectPath,
        unit: String,
        result: String,
    ) -> zbus::Result<()>;

    /// unitd's version.
    #[zbus(property(emits_changed_signal = "const"), name = "Version")]
    fn version(&self) -> zbus::Result<String>;

    /// The machine architecture (`x86-64`, `arm64`, …).
    #[zbus(property(emits_changed_signal = "const"), name = "Architecture")]
    fn architecture(&self) -> zbus::Result<String>;

    /// The directories unit files are loaded from.
    #[zbus(property(emits_changed_signal = "false"), name = "UnitPath")]
    fn unit_path(&self) -> zbus::Result<Vec<String>>;

    /// The manager environment spawned processes start from, sorted `NAME=value`.
    #[zbus(property(emits_changed_signal = "false"), name = "Environment")]
    fn environment(&self) -> zbus::Result<Vec<String>>;

    /// How many units are loaded.
    #[zbus(property(emits_changed_signal = "false"), name = "NNames")]
    fn n_names(&self) -> zbus::Result<u32>;

    /// How many jobs are queued.
    #[zbus(property(emits_changed_signal = "false"), name = "NJobs")]
    fn n_jobs(&self) -> zbus::Result<u32>;

    /// How many units are failed.
    #[zbus(property(emits_changed_signal = "false"), name = "NFailedUnits")]
    fn n_failed_units(&self) -> zbus::Result<u32>;

    /// `running`, `degraded`, `starting` or `stopping`.
    #[zbus(property(emits_changed_signal = "false"), name = "SystemState")]
    fn system_state(&self) -> zbus::Result<String>;
}
