//! `org.freedesktop.systemd1.Job` on `/org/freedesktop/systemd1/job/<id>`.

use zbus::{proxy, OwnedObjectPath};

/// A queued job.
#[proxy(
    interface = "org.freedesktop.systemd1.Job",
    default_service = "org.freedesktop.systemd1"
)]
pub trait Job {
    /// Cancel the job.
    #[zbus(name = "Cancel")]
    fn cancel(&self) -> zbus::Result<()>;

    /// The job id.
    #[zbus(property(emits_changed_signal = "const"), name = "Id")]
    fn id(&self) -> zbus::Result<u32>;

    /// The unit: name and object path.
    #[zbus(property(emits_changed_signal = "const"), name = "Unit")]
    fn unit(&self) -> zbus::Result<(String, OwnedObjectPath)>;

    /// `start`, `stop`, `restart`, `reload`, …
    #[zbus(property(emits_changed_signal = "const"), name = "JobType")]
    fn job_type(&self) -> zbus::Result<String>;

    /// `waiting` or `running`.
    #[zbus(property(emits_changed_signal = "false"), name = "State")]
    fn state(&self) -> zbus::Result<String>;
}
