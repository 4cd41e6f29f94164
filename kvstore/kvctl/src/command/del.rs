//! `del KEY [RANGE_END]`: KV.DeleteRange; prints the number deleted (and the pairs with `--prev-kv`).

use clap::Args;
use kvstore_proto::etcdserverpb::DeleteRangeRequest;

use super::get::apply_range_flags;
use super::{emit, Context};
use crate::error::Failure;

/// `del [options] <key> [range_end]`.
#[derive(Args, Clone, Debug, Default)]
pub struct DelArgs {
    /// The key, or the start of the range.
    pub key: Option<String>,
    /// The end of the range [key, range_end).
    pub range_end: Option<String>,
    /// Delete keys with matching prefix.
    #[arg(long)]
    pub prefix: bool,
    /// Return deleted key-value pairs.
    #[arg(long)]
    pub prev_kv: bool,
    /// Delete keys that are greater than or equal to the given key using byte compare.
    #[arg(long)]
    pub from_key: bool,
    /// Arguments past the ones used (etcdctl ignores them, or rejects them for `del`).
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

impl DelArgs {
    /// The request these arguments ask for.
    pub fn request(&self) -> Result<DeleteRangeRequest, Failure> {
        let usage = || {
            Failure::bad_args(
                "del command needs one argument as key and an optional argument as range_end",
            )
        };
        if !self.extra.is_empty() {
            return Err(usage());
        }
        let key = self.key.clone().ok_or_else(usage)?;
        if self.prefix && self.from_key {
            return Err(Failure::bad_args(
                "`--prefix` and `--from-key` cannot be set at the same time, choose one",
            ));
        }
        let mut req = DeleteRangeRequest {
            key: key.into_bytes(),
            range_end: Vec::new(),
            prev_kv: self.prev_kv,
        };
        if let Some(end) = &self.range_end {
            if self.prefix || self.from_key {
                return Err(Failure::bad_args(
                    "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
                ));
            }
            req.range_end = end.clone().into_bytes();
        }
        apply_range_flags(&mut req.key, &mut req.range_end, self.prefix, self.from_key);
        Ok(req)
    }
}

/// Runs `del`.
pub async fn run(ctx: &Context, args: &DelArgs) -> anyhow::Result<()> {
    let req = args.request()?;
    let client = ctx.connect().await?;
    let resp = client
        .call(client.kv().delete_range(req))
        .await
        .map_err(Failure::from)?;
    emit(&ctx.printer.del(&resp)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_delete_range() {
        let a = DelArgs {
            key: Some("/svc/".into()),
            prefix: true,
            prev_kv: true,
            ..Default::default()
        };
        let r = a.request().expect("valid");
        assert_eq!(
            (r.key, r.range_end, r.prev_kv),
            (b"/svc/".to_vec(), b"/svc0".to_vec(), true)
        );
        assert!(DelArgs::default().request().is_err());
    }
}
