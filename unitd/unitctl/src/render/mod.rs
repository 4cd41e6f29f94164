//! Pure formatting shared by the verbs: systemd's time, byte and exit-status wording, and its tables.

pub mod process;
pub mod size;
pub mod table;
pub mod time;

pub use size::format_bytes;
pub use table::render_table;
pub use time::{format_timespan, format_timestamp, format_timestamp_relative, Zone};
