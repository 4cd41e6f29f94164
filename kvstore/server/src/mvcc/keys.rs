//! Byte layouts of the MVCC column families.
//!
//! * `kv` column family: `escape(user_key) ++ 0x00 0x01 ++ inverted(revision)` → [`Record`]. Escaping keeps raw
//!   key order (0x00 becomes 0x00 0xff, the terminator 0x00 0x01 sorts below both), and the inverted revision makes
//!   a key's newest revision come first, so "the value of K at revision R" is one seek to `(K, inverted(R))`.
//! * `rev` column family: `revision` (big-endian main, sub) → user key, the order in which history happened; the
//!   watch replay and HashKV walk it.

use std::cmp::Ordering;

/// A point in the store's history: `main` is the cluster-wide revision of one transaction, `sub` orders the
/// changes inside it (etcd's `revision{main, sub}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

impl Revision {
    pub const fn new(main: i64, sub: i64) -> Self {
        Revision { main, sub }
    }

    /// Big-endian bytes: sorts like the revision.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(self.main as u64).to_be_bytes());
        b[8..].copy_from_slice(&(self.sub as u64).to_be_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 16 {
            return None;
        }
        let main = u64::from_be_bytes(b[..8].try_into().ok()?) as i64;
        let sub = u64::from_be_bytes(b[8..].try_into().ok()?) as i64;
        Some(Revision { main, sub })
    }

    /// Bytes that sort in reverse revision order.
    pub fn to_inverted(self) -> [u8; 16] {
        let mut b = self.to_bytes();
        for x in b.iter_mut() {
            *x = !*x;
        }
        b
    }

    pub fn from_inverted(b: &[u8]) -> Option<Self> {
        if b.len() != 16 {
            return None;
        }
        let mut c = [0u8; 16];
        for (d, s) in c.iter_mut().zip(b) {
            *d = !*s;
        }
        Self::from_bytes(&c)
    }
}

const ESCAPE: u8 = 0xff;
const TERMINATOR: u8 = 0x01;
/// One past the terminator: the first byte string after every revision of a key.
const AFTER_TERMINATOR: u8 = 0x02;

/// The escaped key without terminator.
fn escape_into(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(ESCAPE);
        }
    }
}

/// `escape(key) ++ 0x00 0x01`: the prefix every revision of `key` shares, and the smallest byte string that
/// sorts at or after every key ≥ `key`.
pub fn key_prefix(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 18);
    escape_into(&mut out, key);
    out.push(0);
    out.push(TERMINATOR);
    out
}

/// The first byte string after every revision of `key`: where the next key starts.
pub fn key_upper(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    escape_into(&mut out, key);
    out.push(0);
    out.push(AFTER_TERMINATOR);
    out
}

/// The index key of `key` at `rev`.
pub fn index_key(key: &[u8], rev: Revision) -> Vec<u8> {
    let mut out = key_prefix(key);
    out.extend_from_slice(&rev.to_inverted());
    out
}

/// Splits an index key into the user key and its revision. `None` on bytes this module did not write.
pub fn split_index_key(ik: &[u8]) -> Option<(Vec<u8>, Revision)> {
    if ik.len() < 18 {
        return None;
    }
    let (enc, rev) = ik.split_at(ik.len() - 16);
    let rev = Revision::from_inverted(rev)?;
    let body = enc.strip_suffix(&[0, TERMINATOR])?;
    let mut key = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        key.push(b);
        if b == 0 {
            if body.get(i + 1) != Some(&ESCAPE) {
                return None;
            }
            i += 1;
        }
        i += 1;
    }
    Some((key, rev))
}

/// Just the encoded-key part of an index key (everything but the revision), for cheap "same key?" checks.
pub fn index_key_prefix(ik: &[u8]) -> &[u8] {
    &ik[..ik.len().saturating_sub(16)]
}

/// What is stored for one revision of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// A tombstone marks the revision at which the key was deleted.
    pub tombstone: bool,
    pub create_revision: i64,
    pub version: i64,
    pub lease: i64,
    pub value: Vec<u8>,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(25 + self.value.len());
        out.push(u8::from(self.tombstone));
        out.extend_from_slice(&self.create_revision.to_be_bytes());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.lease.to_be_bytes());
        out.extend_from_slice(&self.value);
        out
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() < 25 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| {
            b.get(r)
                .and_then(|s| s.try_into().ok())
                .map(i64::from_be_bytes)
        };
        Some(Record {
            tombstone: b[0] == 1,
            create_revision: num(1..9)?,
            version: num(9..17)?,
            lease: num(17..25)?,
            value: b[25..].to_vec(),
        })
    }
}

/// Compares user keys against an etcd range end: `[]` means "just the key", `[0]` means "no upper bound".
pub fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        return key == start;
    }
    if key.cmp(start) == Ordering::Less {
        return false;
    }
    end == [0] || key < end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_round_trip_with_nul_bytes() {
        for key in [
            b"".to_vec(),
            b"a".to_vec(),
            vec![0, 1, 0],
            b"foo\0bar".to_vec(),
            vec![0xff, 0],
        ] {
            let ik = index_key(&key, Revision::new(7, 3));
            assert_eq!(
                split_index_key(&ik),
                Some((key.clone(), Revision::new(7, 3)))
            );
        }
    }

    #[test]
    fn encoding_preserves_key_order_and_puts_newest_revision_first() {
        let mut keys: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"a\0".to_vec(),
            b"a\0\0".to_vec(),
            b"a\x01".to_vec(),
            b"ab".to_vec(),
            b"b".to_vec(),
            vec![0xff],
        ];
        keys.sort();
        let mut encoded: Vec<Vec<u8>> = Vec::new();
        for k in &keys {
            for rev in [5, 3, 1] {
                encoded.push(index_key(k, Revision::new(rev, 0)));
            }
        }
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(sorted, encoded, "raw key order, then newest revision first");
        for k in &keys {
            assert!(key_prefix(k) < index_key(k, Revision::new(i64::MAX, i64::MAX)));
            assert!(key_upper(k) > index_key(k, Revision::new(0, 0)));
        }
    }

    #[test]
    fn record_round_trips() {
        let r = Record {
            tombstone: false,
            create_revision: 2,
            version: 3,
            lease: 99,
            value: b"v".to_vec(),
        };
        assert_eq!(Record::decode(&r.encode()), Some(r));
        assert_eq!(Record::decode(b"short"), None);
    }

    #[test]
    fn range_semantics_match_etcd() {
        assert!(in_range(b"a", b"a", b""));
        assert!(!in_range(b"ab", b"a", b""));
        assert!(in_range(b"ab", b"a", b"b"));
        assert!(!in_range(b"b", b"a", b"b"));
        assert!(in_range(b"zzz", b"a", b"\0"));
    }
}
