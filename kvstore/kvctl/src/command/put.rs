//! `put KEY [VALUE]`: KV.Put. The value comes from stdin when not given, as etcdctl's.

use std::io::Read;

use clap::Args;
use kvstore_proto::etcdserverpb::PutRequest;

use super::{emit, Context};
use crate::error::{parse_go_int, Failure};

const NEEDS_ARGS: &str = "put command needs 1 argument and input from stdin or 2 arguments";

/// `put [options] <key> <value>` (value may also come from stdin).
#[derive(Args, Clone, Debug, Default)]
pub struct PutArgs {
    /// The key.
    pub key: Option<String>,
    /// The value; read from standard input when omitted.
    pub value: Option<String>,
    /// Lease ID (in hexadecimal) to attach to the key.
    #[arg(long, default_value = "0")]
    pub lease: String,
    /// Return the previous key-value pair before modification.
    #[arg(long)]
    pub prev_kv: bool,
    /// Update the key using its current value.
    #[arg(long)]
    pub ignore_value: bool,
    /// Update the key using its current lease.
    #[arg(long)]
    pub ignore_lease: bool,
    /// Arguments past the ones used (etcdctl ignores them, or rejects them for `del`).
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

impl PutArgs {
    /// The request these arguments ask for. `stdin` supplies the value when it is not an argument; `None` means
    /// there is no stdin to read (inside `txn`).
    pub fn request(&self, stdin: Option<&mut dyn Read>) -> Result<PutRequest, Failure> {
        let key = self
            .key
            .clone()
            .ok_or_else(|| Failure::bad_args(NEEDS_ARGS))?;
        if self.ignore_value && self.value.is_some() {
            return Err(Failure::bad_args(
                "put command needs only 1 argument when 'ignore-value' is set",
            ));
        }
        let value = if self.ignore_value {
            Vec::new()
        } else if let Some(v) = &self.value {
            v.clone().into_bytes()
        } else {
            let mut buf = Vec::new();
            let read = stdin.map(|r| r.read_to_end(&mut buf));
            match read {
                Some(Ok(_)) if !buf.is_empty() => buf,
                _ => return Err(Failure::bad_args(NEEDS_ARGS)),
            }
        };
        let lease = parse_go_int(&self.lease, 16)
            .map_err(|e| Failure::bad_args(format!("bad lease ID ({e}), expecting ID in Hex")))?;
        Ok(PutRequest {
            key: key.into_bytes(),
            value,
            lease,
            prev_kv: self.prev_kv,
            ignore_value: self.ignore_value,
            ignore_lease: self.ignore_lease,
        })
    }
}

/// Runs `put`.
pub async fn run(ctx: &Context, args: &PutArgs) -> anyhow::Result<()> {
    let req = args.request(Some(&mut std::io::stdin()))?;
    let client = ctx.connect().await?;
    let resp = client
        .call(client.kv().put(req))
        .await
        .map_err(Failure::from)?;
    emit(&ctx.printer.put(&resp)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    fn args(key: Option<&str>, value: Option<&str>) -> PutArgs {
        PutArgs {
            key: key.map(str::to_string),
            value: value.map(str::to_string),
            lease: "0".into(),
            ..Default::default()
        }
    }

    #[test]
    fn value_from_argument_or_stdin() {
        let req = args(Some("k"), Some("v")).request(None).expect("valid");
        assert_eq!((req.key, req.value), (b"k".to_vec(), b"v".to_vec()));
        let mut stdin: &[u8] = b"from stdin\n";
        let req = args(Some("k"), None)
            .request(Some(&mut stdin))
            .expect("valid");
        assert_eq!(req.value, b"from stdin\n".to_vec());
        let mut empty: &[u8] = b"";
        let err = args(Some("k"), None)
            .request(Some(&mut empty))
            .expect_err("no value");
        assert_eq!(err.code, ExitCode::BadArgs);
        assert_eq!(err.message.as_deref(), Some(NEEDS_ARGS));
    }

    #[test]
    fn lease_is_hex() {
        let mut a = args(Some("k"), Some("v"));
        a.lease = "694d5d3f8b0e6c1b".into();
        assert_eq!(a.request(None).expect("valid").lease, 0x694d5d3f8b0e6c1b);
        a.lease = "xyz".into();
        let err = a.request(None).expect_err("bad lease");
        assert_eq!(
            err.message.as_deref(),
            Some(
                r#"bad lease ID (strconv.ParseInt: parsing "xyz": invalid syntax), expecting ID in Hex"#
            )
        );
    }

    #[test]
    fn ignore_value_takes_one_argument() {
        let mut a = args(Some("k"), Some("v"));
        a.ignore_value = true;
        assert_eq!(
            a.request(None).expect_err("two args").code,
            ExitCode::BadArgs
        );
        a.value = None;
        assert!(a.request(None).expect("valid").ignore_value);
    }
}
