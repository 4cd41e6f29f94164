//! `get KEY [RANGE_END]`: KV.Range, with etcdctl's flags and checks.

use clap::Args;
use kvstore_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use kvstore_proto::etcdserverpb::RangeRequest;
use kvstore_proto::prefix_range_end;

use super::{emit, Context};
use crate::error::{ExitCode, Failure};
use crate::printer::Format;

/// `get [options] <key> [range_end]`.
#[derive(Args, Clone, Debug)]
pub struct GetArgs {
    /// The key, or the start of the range.
    pub key: Option<String>,
    /// The end of the range [key, range_end).
    pub range_end: Option<String>,
    /// Linearizable(l) or Serializable(s).
    #[arg(long, default_value = "l")]
    pub consistency: String,
    /// Order of results; ASCEND or DESCEND (ASCEND by default).
    #[arg(long, default_value = "")]
    pub order: String,
    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION.
    #[arg(long, default_value = "")]
    pub sort_by: String,
    /// Maximum number of results.
    #[arg(long, default_value_t = 0)]
    pub limit: i64,
    /// Get keys with matching prefix.
    #[arg(long)]
    pub prefix: bool,
    /// Get keys that are greater than or equal to the given key using byte compare.
    #[arg(long)]
    pub from_key: bool,
    /// Specify the kv revision.
    #[arg(long, default_value_t = 0)]
    pub rev: i64,
    /// Get only the keys.
    #[arg(long)]
    pub keys_only: bool,
    /// Get only the count.
    #[arg(long)]
    pub count_only: bool,
    /// Only write values when using the "simple" output format.
    #[arg(long)]
    pub print_value_only: bool,
    /// v2 `get --sort` (only with ETCDCTL_API=2; accepted and ignored: keys come back sorted).
    #[arg(long, hide = true)]
    pub sort: bool,
    /// v2 `get --quorum` (only with ETCDCTL_API=2; reads are linearizable anyway).
    #[arg(short = 'q', long, hide = true)]
    pub quorum: bool,
    /// Arguments past the ones used (etcdctl ignores them, or rejects them for `del`).
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

impl GetArgs {
    /// The request these arguments ask for, with etcdctl's argument errors.
    pub fn request(&self) -> Result<RangeRequest, Failure> {
        let key = self.key.clone().ok_or_else(|| {
            Failure::bad_args(
                "get command needs one argument as key and an optional argument as range_end",
            )
        })?;
        if self.prefix && self.from_key {
            return Err(Failure::bad_args(
                "`--prefix` and `--from-key` cannot be set at the same time, choose one",
            ));
        }
        if self.keys_only && self.count_only {
            return Err(Failure::bad_args(
                "`--keys-only` and `--count-only` cannot be set at the same time, choose one",
            ));
        }
        let serializable = match self.consistency.as_str() {
            "s" => true,
            "l" => false,
            other => {
                return Err(Failure::new(
                    ExitCode::BadFeature,
                    format!("unknown consistency flag {other:?}"),
                ))
            }
        };
        let mut req = RangeRequest {
            key: key.into_bytes(),
            limit: self.limit,
            revision: self.rev.max(0),
            serializable,
            keys_only: self.keys_only,
            count_only: self.count_only,
            ..Default::default()
        };
        if let Some(end) = &self.range_end {
            if self.prefix || self.from_key {
                return Err(Failure::bad_args(
                    "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
                ));
            }
            req.range_end = end.clone().into_bytes();
        }
        let mut order = match self.order.to_uppercase().as_str() {
            "ASCEND" => SortOrder::Ascend,
            "DESCEND" => SortOrder::Descend,
            "" => SortOrder::None,
            _ => {
                return Err(Failure::new(
                    ExitCode::BadFeature,
                    format!("bad sort order {}", self.order),
                ))
            }
        };
        let target = match self.sort_by.to_uppercase().as_str() {
            "CREATE" => SortTarget::Create,
            "KEY" | "" => SortTarget::Key,
            "MODIFY" => SortTarget::Mod,
            "VALUE" => SortTarget::Value,
            "VERSION" => SortTarget::Version,
            _ => {
                return Err(Failure::new(
                    ExitCode::BadFeature,
                    format!("bad sort target {}", self.sort_by),
                ))
            }
        };
        // As clientv3: keys already come back ascending, so ascending by key is no sort at all.
        if target == SortTarget::Key && order == SortOrder::Ascend {
            order = SortOrder::None;
        }
        req.sort_order = order as i32;
        req.sort_target = target as i32;
        apply_range_flags(&mut req.key, &mut req.range_end, self.prefix, self.from_key);
        Ok(req)
    }
}

/// `--prefix`/`--from-key` as clientv3 applies them: an empty key means every key.
pub fn apply_range_flags(key: &mut Vec<u8>, range_end: &mut Vec<u8>, prefix: bool, from_key: bool) {
    if prefix {
        if key.is_empty() {
            *key = vec![0];
            *range_end = vec![0];
        } else {
            *range_end = prefix_range_end(key);
        }
    }
    if from_key {
        if key.is_empty() {
            *key = vec![0];
        }
        *range_end = vec![0];
    }
}

/// Runs `get`.
pub async fn run(ctx: &Context, args: &GetArgs) -> anyhow::Result<()> {
    let req = args.request()?;
    let mut printer = ctx.printer.clone();
    if args.print_value_only {
        if printer.format != Format::Simple {
            return Err(
                Failure::bad_args("print-value-only is only for `--write-out=simple`").into(),
            );
        }
        printer.value_only = true;
    }
    printer.count_only = args.count_only;
    let client = ctx.connect().await?;
    let resp = client
        .call(client.kv().range(req))
        .await
        .map_err(Failure::from)?;
    emit(&printer.get(&resp)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: GetArgs,
    }

    fn parse(argv: &[&str]) -> GetArgs {
        let mut full = vec!["get"];
        full.extend_from_slice(argv);
        Wrap::try_parse_from(full).expect("parses").args
    }

    #[test]
    fn prefix_and_from_key_ranges() {
        let r = parse(&["--prefix", "/a"]).request().expect("valid");
        assert_eq!((r.key, r.range_end), (b"/a".to_vec(), b"/b".to_vec()));
        let r = parse(&["--prefix", ""]).request().expect("valid");
        assert_eq!((r.key, r.range_end), (vec![0], vec![0]));
        let r = parse(&["--from-key", "k"]).request().expect("valid");
        assert_eq!((r.key, r.range_end), (b"k".to_vec(), vec![0]));
        let r = parse(&["a", "c"]).request().expect("valid");
        assert_eq!((r.key, r.range_end), (b"a".to_vec(), b"c".to_vec()));
    }

    #[test]
    fn argument_errors_match_etcdctl() {
        let e = parse(&[]).request().expect_err("no key");
        assert_eq!(e.code, ExitCode::BadArgs);
        let e = parse(&["--prefix", "--from-key", "k"])
            .request()
            .expect_err("both");
        assert_eq!(e.code, ExitCode::BadArgs);
        let e = parse(&["--prefix", "a", "b"])
            .request()
            .expect_err("range with prefix");
        assert_eq!(e.code, ExitCode::BadArgs);
        let e = parse(&["--consistency", "x", "k"])
            .request()
            .expect_err("consistency");
        assert_eq!(e.code, ExitCode::BadFeature);
        let e = parse(&["--order", "up", "k"]).request().expect_err("order");
        assert_eq!(e.message.as_deref(), Some("bad sort order up"));
    }

    #[test]
    fn sort_and_limits() {
        let r = parse(&["--order", "ascend", "k"]).request().expect("valid");
        assert_eq!(r.sort_order, SortOrder::None as i32);
        let r = parse(&[
            "--order",
            "DESCEND",
            "--sort-by",
            "modify",
            "--limit",
            "3",
            "--rev",
            "7",
            "k",
        ])
        .request()
        .expect("valid");
        assert_eq!(r.sort_order, SortOrder::Descend as i32);
        assert_eq!(r.sort_target, SortTarget::Mod as i32);
        assert_eq!((r.limit, r.revision), (3, 7));
        let r = parse(&["--consistency", "s", "--keys-only", "k"])
            .request()
            .expect("valid");
        assert!(r.serializable && r.keys_only);
    }
}
