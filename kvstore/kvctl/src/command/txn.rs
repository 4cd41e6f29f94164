//! `txn`: reads compares, a blank line, success requests, a blank line, failure requests from stdin, in
//! etcdctl's syntax, and sends one KV.Txn.
//!
//! Compares: `TARGET("key") OP "value"` with TARGET one of `ver`/`version`, `c`/`create`, `m`/`mod`,
//! `val`/`value`, `lease` and OP one of `=`, `!=`, `<`, `>`; quoted strings are Go strings (escapes, or
//! backquoted raw). `lease` compares take the lease ID in hex, as every other lease ID in etcdctl (etcdctl 3.4
//! itself cannot parse them). Requests are `put`, `get` and `del` command lines with their usual flags.
//! Unlike etcdctl, end of input also ends a section, so the trailing blank lines are optional.

use std::io::BufRead;

use clap::{Args, Parser};
use kvstore_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kvstore_proto::etcdserverpb::{request_op, Compare, RequestOp, TxnRequest};

use super::del::DelArgs;
use super::get::GetArgs;
use super::put::PutArgs;
use super::{emit, Context};
use crate::error::{parse_go_int, ExitCode, Failure};

/// `txn [options]`.
#[derive(Args, Clone, Debug)]
pub struct TxnArgs {
    /// Input transaction in interactive mode (prints prompts).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// etcdctl accepts none; kept to report it as etcdctl does.
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// A request line inside a txn.
#[derive(Parser, Debug)]
#[command(no_binary_name = true)]
enum TxnOp {
    Put(PutArgs),
    Get(GetArgs),
    Del(DelArgs),
}

fn invalid(message: String) -> Failure {
    Failure::new(ExitCode::InvalidInput, message)
}

/// Reads lines up to a blank line or end of input; a read error is bad input.
fn read_section(input: &mut dyn BufRead) -> Result<Vec<String>, Failure> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = input
            .read_line(&mut line)
            .map_err(|e| invalid(e.to_string()))?;
        let trimmed = line.trim();
        if n == 0 || trimmed.is_empty() {
            return Ok(lines);
        }
        lines.push(trimmed.to_string());
    }
}

/// Reads a whole transaction from `input`, printing prompts when `prompt` is set.
pub fn read_txn(
    input: &mut dyn BufRead,
    prompt: &mut dyn FnMut(&str),
) -> Result<TxnRequest, Failure> {
    prompt("compares:");
    let compare = read_section(input)?
        .iter()
        .map(|l| parse_compare(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    prompt("success requests (get, put, del):");
    let success = read_section(input)?
        .iter()
        .map(|l| parse_request(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    prompt("failure requests (get, put, del):");
    let failure = read_section(input)?
        .iter()
        .map(|l| parse_request(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    Ok(TxnRequest {
        compare,
        success,
        failure,
    })
}

/// Parses one compare line.
pub fn parse_compare(line: &str) -> Result<Compare, String> {
    let malformed = || format!("malformed comparison: {line}");
    let (target, rest) = line.split_once('(').ok_or_else(malformed)?;
    let (key, rest) = unquote(rest.trim_start()).ok_or_else(malformed)?;
    let rest = rest.strip_prefix(')').ok_or_else(malformed)?.trim_start();
    let op_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (op, rest) = rest.split_at(op_len);
    let (value, _) = unquote(rest.trim_start()).ok_or_else(malformed)?;
    let result = match op {
        "=" => CompareResult::Equal,
        "!=" => CompareResult::NotEqual,
        "<" => CompareResult::Less,
        ">" => CompareResult::Greater,
        _ => {
            return Err(format!(
                "malformed comparison: {line} (unknown operator {op})"
            ))
        }
    };
    let number = || -> Result<i64, String> {
        std::str::from_utf8(&value)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("invalid txn compare request: {line}"))
    };
    let (target, union) = match target.trim() {
        "ver" | "version" => (CompareTarget::Version, TargetUnion::Version(number()?)),
        "c" | "create" => (
            CompareTarget::Create,
            TargetUnion::CreateRevision(number()?),
        ),
        "m" | "mod" => (CompareTarget::Mod, TargetUnion::ModRevision(number()?)),
        "val" | "value" => (CompareTarget::Value, TargetUnion::Value(value.clone())),
        "lease" => {
            let id = std::str::from_utf8(&value)
                .ok()
                .and_then(|v| parse_go_int(v, 16).ok())
                .ok_or_else(|| format!("invalid txn compare request: {line}"))?;
            (CompareTarget::Lease, TargetUnion::Lease(id))
        }
        other => {
            return Err(format!(
                "malformed comparison: {line} (unknown target {other})"
            ))
        }
    };
    Ok(Compare {
        result: result as i32,
        target: target as i32,
        key,
        range_end: Vec::new(),
        target_union: Some(union),
    })
}

/// Parses one request line (`put k v`, `get --prefix k`, `del k`).
pub fn parse_request(line: &str) -> Result<RequestOp, String> {
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(format!("invalid txn compare request: {line}"));
    }
    let bad = || format!("invalid txn request: {line}");
    let op = TxnOp::try_parse_from(&args).map_err(|_| bad())?;
    let request = match op {
        TxnOp::Put(a) => request_op::Request::RequestPut(a.request(None).map_err(|_| bad())?),
        TxnOp::Get(a) => request_op::Request::RequestRange(a.request().map_err(|_| bad())?),
        TxnOp::Del(a) => request_op::Request::RequestDeleteRange(a.request().map_err(|_| bad())?),
    };
    Ok(RequestOp {
        request: Some(request),
    })
}

/// Splits a line into words as etcdctl's `argify`: bare words, `'single quoted'`, `"double quoted"` (with Go
/// escapes).
pub fn argify(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            let (bytes, after) =
                unquote(rest).ok_or_else(|| format!("bad quoted string in: {line}"))?;
            args.push(String::from_utf8_lossy(&bytes).into_owned());
            rest = after;
        } else if let Some(inner) = rest.strip_prefix('\'') {
            let end = inner
                .find('\'')
                .ok_or_else(|| format!("unterminated quote in: {line}"))?;
            args.push(inner[..end].to_string());
            rest = &inner[end + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            args.push(rest[..end].to_string());
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(args)
}

/// Reads one Go string literal at the start of `s` (`"..."` with escapes, or `` `raw` ``); returns its bytes and
/// what follows it.
pub fn unquote(s: &str) -> Option<(Vec<u8>, &str)> {
    if let Some(raw) = s.strip_prefix('`') {
        let end = raw.find('`')?;
        return Some((raw.as_bytes()[..end].to_vec(), &raw[end + 1..]));
    }
    let body = s.strip_prefix('"')?;
    let mut out = Vec::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'a' => out.push(7),
                    'b' => out.push(8),
                    'f' => out.push(12),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    'v' => out.push(11),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    '\'' => out.push(b'\''),
                    'x' => {
                        let hex: String = (0..2)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        out.push(u8::from_str_radix(&hex, 16).ok()?);
                    }
                    'u' | 'U' => {
                        let n = if e == 'u' { 4 } else { 8 };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        let ch = char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    '0'..='7' => {
                        let mut oct = e.to_string();
                        oct.extend((0..2).filter_map(|_| chars.next().map(|(_, c)| c)));
                        out.push(u8::from_str_radix(&oct, 8).ok()?);
                    }
                    _ => return None,
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    None
}

/// Runs `txn`.
pub async fn run(ctx: &Context, args: &TxnArgs) -> anyhow::Result<()> {
    if !args.extra.is_empty() {
        return Err(Failure::bad_args("txn command does not accept argument").into());
    }
    let interactive = args.interactive;
    let mut prompt = |s: &str| {
        if interactive {
            // A prompt that cannot be shown does not stop the transaction.
            let _ = emit(format!("{s}\n").as_bytes());
        }
    };
    let req = read_txn(&mut std::io::stdin().lock(), &mut prompt)?;
    let client = ctx.connect().await?;
    let resp = client
        .call(client.kv().txn(req))
        .await
        .map_err(Failure::from)?;
    emit(&ctx.printer.txn(&resp)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_parse_every_target() {
        let cases: &[(&str, CompareTarget, CompareResult, TargetUnion)] = &[
            (
                r#"mod("key1") > "0""#,
                CompareTarget::Mod,
                CompareResult::Greater,
                TargetUnion::ModRevision(0),
            ),
            (
                r#"m("k") = "12""#,
                CompareTarget::Mod,
                CompareResult::Equal,
                TargetUnion::ModRevision(12),
            ),
            (
                r#"ver("k") != "1""#,
                CompareTarget::Version,
                CompareResult::NotEqual,
                TargetUnion::Version(1),
            ),
            (
                r#"create("k") = "0""#,
                CompareTarget::Create,
                CompareResult::Equal,
                TargetUnion::CreateRevision(0),
            ),
            (
                r#"value("key1") = "ok""#,
                CompareTarget::Value,
                CompareResult::Equal,
                TargetUnion::Value(b"ok".to_vec()),
            ),
            (
                r#"val("k") < "a\"b""#,
                CompareTarget::Value,
                CompareResult::Less,
                TargetUnion::Value(b"a\"b".to_vec()),
            ),
            (
                r#"lease("k") = "694d5d3f8b0e6c1b""#,
                CompareTarget::Lease,
                CompareResult::Equal,
                TargetUnion::Lease(0x694d5d3f8b0e6c1b),
            ),
        ];
        for (line, target, result, union) in cases {
            let c = parse_compare(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(c.target, *target as i32, "{line}");
            assert_eq!(c.result, *result as i32, "{line}");
            assert_eq!(c.target_union.as_ref(), Some(union), "{line}");
        }
        assert_eq!(
            parse_compare(r#"mod("key1") > "0""#).expect("valid").key,
            b"key1".to_vec()
        );
    }

    #[test]
    fn bad_compares_are_rejected() {
        for (line, want) in [
            ("mod key > 0", "malformed comparison: mod key > 0"),
            (r#"mod("k") >"#, r#"malformed comparison: mod("k") >"#),
            (
                r#"foo("k") = "1""#,
                r#"malformed comparison: foo("k") = "1" (unknown target foo)"#,
            ),
            (
                r#"mod("k") = "x""#,
                r#"invalid txn compare request: mod("k") = "x""#,
            ),
            (
                r#"mod("k") >= "1""#,
                r#"malformed comparison: mod("k") >= "1" (unknown operator >=)"#,
            ),
        ] {
            assert_eq!(parse_compare(line).expect_err(line), want);
        }
    }

    #[test]
    fn requests_parse_with_flags_and_quotes() {
        let op = parse_request(r#"put key1 "hello world""#).expect("valid");
        match op.request {
            Some(request_op::Request::RequestPut(p)) => {
                assert_eq!(
                    (p.key, p.value),
                    (b"key1".to_vec(), b"hello world".to_vec())
                )
            }
            other => panic!("{other:?}"),
        }
        match parse_request("get --prefix /a").expect("valid").request {
            Some(request_op::Request::RequestRange(r)) => assert_eq!(r.range_end, b"/b".to_vec()),
            other => panic!("{other:?}"),
        }
        match parse_request("del k").expect("valid").request {
            Some(request_op::Request::RequestDeleteRange(d)) => assert_eq!(d.key, b"k".to_vec()),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_request("get").expect_err("short"),
            "invalid txn compare request: get"
        );
        assert_eq!(
            parse_request("frob k").expect_err("verb"),
            "invalid txn request: frob k"
        );
        assert_eq!(
            parse_request("put k").expect_err("no value"),
            "invalid txn request: put k"
        );
    }

    #[test]
    fn argify_splits_like_etcdctl() {
        assert_eq!(
            argify(r#"put 'a b' "c\td" e"#).expect("valid"),
            vec!["put", "a b", "c\td", "e"]
        );
        assert_eq!(argify("  get   k  ").expect("valid"), vec!["get", "k"]);
        assert!(argify(r#"put "open"#).is_err());
    }

    #[test]
    fn whole_transaction_from_stdin() {
        let input = "mod(\"k\") > \"0\"\n\nput k v\nget k\n\nput k w\n\n";
        let mut prompts = Vec::new();
        let req =
            read_txn(&mut input.as_bytes(), &mut |p| prompts.push(p.to_string())).expect("valid");
        assert_eq!(
            (req.compare.len(), req.success.len(), req.failure.len()),
            (1, 2, 1)
        );
        assert_eq!(prompts.len(), 3);
        // End of input ends the sections, so a trailing blank line is optional.
        let req = read_txn(&mut "\nput a b".as_bytes(), &mut |_| ()).expect("valid");
        assert_eq!(
            (req.compare.len(), req.success.len(), req.failure.len()),
            (0, 1, 0)
        );
        let err = read_txn(&mut "bogus\n".as_bytes(), &mut |_| ()).expect_err("bad compare");
        assert_eq!(err.code, ExitCode::InvalidInput);
    }

    #[test]
    fn go_string_literals() {
        assert_eq!(
            unquote(r#""a\x41\u00e9\101" rest"#),
            Some(("aAéA".as_bytes().to_vec(), " rest"))
        );
        assert_eq!(unquote("`raw\\n`x"), Some((b"raw\\n".to_vec(), "x")));
        assert_eq!(unquote("\"open"), None);
    }
}
