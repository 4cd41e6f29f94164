//! # fleet-model — what fleet's cluster state is, and the decisions taken over it
//!
//! Everything here is pure: no sockets, no clocks, no KV client. The registry (`fleet-registry`) reads and
//! writes these types through the etcd v3 API; the engine and the agent (`fleetd`) call the decision functions
//! on a snapshot and perform the I/O around them; `fleetctl` validates with them before it submits. Keeping the
//! decisions pure is what lets the scheduler be unit-tested as a table and benchmarked in-process at 10,000
//! units.
//!
//! ## Layout
//! - `name` — fleet's unit-name rules ([`validate_name`]) and the name parts used by specifiers
//!   ([`NameInfo`]).
//! - `unit` — [`UnitFile`]: a unit as an ordered list of [`UnitOption`]s, fleet's canonical serialisation and
//!   its SHA-1 [`UnitHash`] (units are content-addressed in the KV store).
//! - `requirements` — the `[X-Fleet]` section as [`Requirements`] (legacy `X-Condition…`/`X-Conflicts`
//!   spellings merged, `%n %N %p %i` expanded), and [`validate_unit`]: fleet's option-combination checks.
//! - `glob` — `path.Match` shell globs, which fleet uses for `Conflicts=` and `Replaces=`.
//! - `machine` — [`MachineState`] (presence record), metadata strings and [`has_metadata`].
//! - `state` — [`TargetState`] (inactive|loaded|launched) and [`UnitState`] (what agents publish).
//! - `schema` — fleet's HTTP API v1 entities (units as options, states, machines, pages and page tokens, error
//!   bodies), shared by fleetd's API and fleetctl's API driver.
//! - `keys` — [`Keys`]: the layout of fleet's data under its KV prefix.
//! - `scheduler` — [`reconcile`]: the engine's decisions over a [`ClusterSnapshot`] (unschedule what can no
//!   longer run where it is, place the rest on the least-loaded eligible machine), and [`agent_units`]: what
//!   one machine should run, global units included.
//!
//! ## Semantics (CoreOS fleet v1.0 as the reference)
//! The eligibility checks, their order and their messages are fleet's `AgentState.AbleToRun`: `MachineID`
//! (full or 8-character short ID), then `MachineMetadata` (AND across keys, OR within a key), then
//! `MachineOf` (every peer scheduled on that machine), then `Conflicts` (globs, in both directions), then
//! `Replaces`. The engine's passes are fleet's `calculateClusterTasks`; two things differ on purpose and are
//! documented on [`reconcile`]: passes run to a fixed point (so a `MachineOf` follower moves with its peer in
//! the same pass, whatever the names sort as) and an unscheduled unit goes back to an eligible machine that still
//! reports it running before anywhere else (fleet issue #1690: a machine that returns after a KV outage must not
//! have its units moved away and restarted).

mod glob;
mod keys;
mod machine;
mod name;
mod requirements;
mod scheduler;
pub mod schema;
mod state;
mod unit;

pub use glob::glob_match;
pub use keys::Keys;
pub use machine::{
    format_metadata, has_metadata, parse_metadata, short_id, MachineState, MetadataError,
};
pub use name::{default_unit_type, validate_name, NameError, NameInfo};
pub use requirements::{is_truthy, validate_unit, Requirements, RequirementsError};
pub use scheduler::{agent_units, can_run_on, reconcile, ClusterSnapshot, Decision, Job, Plan};
pub use state::{is_launched_state, is_running_state, TargetState, TargetStateError, UnitState};
pub use unit::{UnitFile, UnitFileError, UnitHash, UnitOption};
