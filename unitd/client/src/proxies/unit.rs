//! `org.freedesktop.systemd1.Unit` on `/org/freedesktop/systemd1/unit/<escaped id>`.
//!
//! unitd emits `PropertiesChanged` for the states and timestamps; the other properties are marked as not
//! emitting, so a caching proxy still reads them from unitd each time.

use zbus::{proxy, OwnedObjectPath};

/// A unit: its identity, states, dependencies, timestamps and the per-unit job methods.
#[proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1"
)]
pub trait Unit {
    /// Enqueue a start job for this unit.
    #[zbus(name = "Start")]
    fn start(&self, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Enqueue a stop job.
    #[zbus(name = "Stop")]
    fn stop(&self, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Enqueue a restart job.
    #[zbus(name = "Restart")]
    fn restart(&self, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Enqueue a reload job.
    #[zbus(name = "Reload")]
    fn reload(&self, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Send `signal` to the unit's processes (`whom`: `main`, `control`, `all`).
    #[zbus(name = "Kill")]
    fn kill(&self, whom: &str, signal: i32) -> zbus::Result<()>;

    /// Reset the failed state.
    #[zbus(name = "ResetFailed")]
    fn reset_failed(&self) -> zbus::Result<()>;

    /// The unit's primary name.
    #[zbus(property(emits_changed_signal = "const"), name = "Id")]
    fn id(&self) -> zbus::Result<String>;

    /// All names (aliases included).
    #[zbus(property(emits_changed_signal = "false"), name = "Names")]
    fn names(&self) -> zbus::Result<Vec<String>>;

    /// `Description=`.
    #[zbus(property(emits_changed_signal = "false"), name = "Description")]
    fn description(&self) -> zbus::Result<String>;

    /// `loaded`, `not-found`, `bad-setting`, `error` or `masked`.
    #[zbus(property(emits_changed_signal = "false"), name = "LoadState")]
    fn load_state(&self) -> zbus::Result<String>;

    /// `active`, `reloading`, `inactive`, `failed`, `activating` or `deactivating`.
    #[zbus(property, name = "ActiveState")]
    fn active_state(&self) -> zbus::Result<String>;

    /// The type-specific state.
    #[zbus(property, name = "SubState")]
    fn sub_state(&self) -> zbus::Result<String>;

    /// The unit file.
    #[zbus(property(emits_changed_signal = "false"), name = "FragmentPath")]
    fn fragment_path(&self) -> zbus::Result<String>;

    /// The drop-in files, in the order they apply.
    #[zbus(property(emits_changed_signal = "false"), name = "DropInPaths")]
    fn drop_in_paths(&self) -> zbus::Result<Vec<String>>;

    /// `enabled`, `disabled`, `static`, …
    #[zbus(property(emits_changed_signal = "false"), name = "UnitFileState")]
    fn unit_file_state(&self) -> zbus::Result<String>;

    /// `Requires=`.
    #[zbus(property(emits_changed_signal = "false"), name = "Requires")]
    fn requires(&self) -> zbus::Result<Vec<String>>;

    /// `Requisite=`.
    #[zbus(property(emits_changed_signal = "false"), name = "Requisite")]
    fn requisite(&self) -> zbus::Result<Vec<String>>;

    /// `Wants=`.
    #[zbus(property(emits_changed_signal = "false"), name = "Wants")]
    fn wants(&self) -> zbus::Result<Vec<String>>;

    /// `BindsTo=`.
    #[zbus(property(emits_changed_signal = "false"), name = "BindsTo")]
    fn binds_to(&self) -> zbus::Result<Vec<String>>;

    /// `PartOf=`.
    #[zbus(property(emits_changed_signal = "false"), name = "PartOf")]
    fn part_of(&self) -> zbus::Result<Vec<String>>;

    /// `Conflicts=`.
    #[zbus(property(emits_changed_signal = "false"), name = "Conflicts")]
    fn conflicts(&self) -> zbus::Result<Vec<String>>;

    /// `Before=`.
    #[zbus(property(emits_changed_signal = "false"), name = "Before")]
    fn before(&self) -> zbus::Result<Vec<String>>;

    /// `After=`.
    #[zbus(property(emits_changed_signal = "false"), name = "After")]
    fn after(&self) -> zbus::Result<Vec<String>>;

    /// Units that want this one (`Wants=` on them, or a `.wants/` link).
    #[zbus(property(emits_changed_signal = "false"), name = "WantedBy")]
    fn wanted_by(&self) -> zbus::Result<Vec<String>>;

    /// Units that require this one.
    #[zbus(property(emits_changed_signal = "false"), name = "RequiredBy")]
    fn required_by(&self) -> zbus::Result<Vec<String>>;

    /// Units with `Requisite=` on this one.
    #[zbus(property(emits_changed_signal = "false"), name = "RequisiteOf")]
    fn requisite_of(&self) -> zbus::Result<Vec<String>>;

    /// Units with `BindsTo=` on this one.
    #[zbus(property(emits_changed_signal = "false"), name = "BoundBy")]
    fn bound_by(&self) -> zbus::Result<Vec<String>>;

    /// Units with `PartOf=` on this one.
    #[zbus(property(emits_changed_signal = "false"), name = "ConsistsOf")]
    fn consists_of(&self) -> zbus::Result<Vec<String>>;

    /// Units with `Conflicts=` on this one.
    #[zbus(property(emits_changed_signal = "false"), name = "ConflictedBy")]
    fn conflicted_by(&self) -> zbus::Result<Vec<String>>;

    /// When it last became active (µs since the epoch, 0 = never).
    #[zbus(property, name = "ActiveEnterTimestamp")]
    fn active_enter_timestamp(&self) -> zbus::Result<u64>;

    /// When it last left the active state.
    #[zbus(property, name = "ActiveExitTimestamp")]
    fn active_exit_timestamp(&self) -> zbus::Result<u64>;

    /// When it last became inactive.
    #[zbus(property, name = "InactiveEnterTimestamp")]
    fn inactive_enter_timestamp(&self) -> zbus::Result<u64>;

    /// When it last left the inactive state.
    #[zbus(property, name = "InactiveExitTimestamp")]
    fn inactive_exit_timestamp(&self) -> zbus::Result<u64>;

    /// When its state last changed.
    #[zbus(property, name = "StateChangeTimestamp")]
    fn state_change_timestamp(&self) -> zbus::Result<u64>;

    /// The queued job: id and path, `(0, "/")` when none.
    #[zbus(property(emits_changed_signal = "false"), name = "Job")]
    fn job(&self) -> zbus::Result<(u32, OwnedObjectPath)>;

    /// Why loading failed: D-Bus error name and message, both empty when loaded.
    #[zbus(property(emits_changed_signal = "false"), name = "LoadError")]
    fn load_error(&self) -> zbus::Result<(String, String)>;
}
