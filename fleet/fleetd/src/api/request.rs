//! What a handler sees of a request: the method, the decoded query parameters (every value kept, in order, as
//! Go's `url.Values`), the headers and the whole body; and the percent-decoding the router applies to paths
//! (unit names such as `a\x2db.service` arrive as `a%5Cx2db.service`).

use bytes::Bytes;
use warp::http::{HeaderMap, Method};

/// One request, read in full.
pub(crate) struct Request {
    pub method: Method,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Query parameters in the order given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `a=1&b=x%20y&a=2` (`+` is a space; a parameter without `=` has an empty value).
    pub(crate) fn parse(raw: &str) -> Query {
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k, true), percent_decode(v, true))
                })
                .collect(),
        )
    }

    /// Every value of `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name` (what Go's `Values.Get` returns).
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes `%XX` escapes (and `+` as a space in query strings). A `%` not followed by two hex digits is kept
/// as it is; bytes that are not UTF-8 become U+FFFD.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_every_value_in_order_and_decodes() {
        let q = Query::parse("nextPageToken=ZAABAA%3D%3D&unitName=a+b&nextPageToken=x&flag");
        assert_eq!(q.first("nextPageToken"), Some("ZAABAA=="));
        assert_eq!(q.all("nextPageToken").count(), 2);
        assert_eq!(q.first("unitName"), Some("a b"));
        assert_eq!(q.first("flag"), Some(""));
        assert_eq!(q.first("missing"), None);
        assert_eq!(Query::parse(""), Query::default());
    }

    #[test]
    fn paths_decode_but_keep_plus_and_bad_escapes() {
        assert_eq!(percent_decode("a%5Cx2db.service", false), "a\\x2db.service");
        assert_eq!(percent_decode("a+b%2", false), "a+b%2");
        assert_eq!(percent_decode("%zz%41", false), "%zzA");
        assert_eq!(percent_decode("%C3%A9", false), "é");
    }
}
