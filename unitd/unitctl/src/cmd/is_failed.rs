//! `unitctl is-failed UNIT...`: prints each unit's active state and exits 0 if one of them is failed, 1
//! otherwise.

use crate::context::Context;
use crate::error::code;

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    super::is_active::check(ctx, args, &["failed"], code::FAILURE).await
}
