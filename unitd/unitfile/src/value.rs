//! Scalar value grammars shared by many settings, each following the systemd function named in its docs:
//! booleans, time spans (systemd.time(7)), IEC sizes, percentages, file modes, C-style unsigned numbers and CPU
//! lists. Pure functions from `&str`; the setting parsers decide what a failure means (usually a warning).

use std::time::Duration;

use crate::lexer::WHITESPACE;

/// Why a value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not of the expected form.
    #[error("Invalid argument")]
    Invalid,
    /// Of the right form but too large, too small or negative.
    #[error("Numerical result out of range")]
    Range,
}

type Result<T> = std::result::Result<T, ValueError>;

fn is_ws(c: u8) -> bool {
    WHITESPACE.contains(&c)
}

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_ws(c as u8))
}

/// systemd's `parse_boolean()`: `1 yes y true t on` / `0 no n false f off`, case-insensitive.
pub fn parse_bool(s: &str) -> Result<bool> {
    const YES: [&str; 6] = ["1", "yes", "y", "true", "t", "on"];
    const NO: [&str; 6] = ["0", "no", "n", "false", "f", "off"];
    if YES.iter().any(|y| y.eq_ignore_ascii_case(s)) {
        Ok(true)
    } else if NO.iter().any(|n| n.eq_ignore_ascii_case(s)) {
        Ok(false)
    } else {
        Err(ValueError::Invalid)
    }
}

/// A time span: finite, or `infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeSpan {
    /// A finite span (microsecond resolution, like systemd's `usec_t`).
    Finite(Duration),
    /// `infinity`.
    Infinity,
}

impl TimeSpan {
    /// `None` for infinity.
    pub fn finite(self) -> Option<Duration> {
        match self {
            TimeSpan::Finite(d) => Some(d),
            TimeSpan::Infinity => None,
        }
    }

    /// `None` for infinity and for zero — systemd's `parse_sec_fix_0()`, used by the timeouts, where 0 has always
    /// meant "no timeout".
    pub fn nonzero(self) -> Option<Duration> {
        self.finite().filter(|d| !d.is_zero())
    }
}

const USEC_PER_SEC: u64 = 1_000_000;
const USEC_PER_MINUTE: u64 = 60 * USEC_PER_SEC;
const USEC_PER_HOUR: u64 = 60 * USEC_PER_MINUTE;
const USEC_PER_DAY: u64 = 24 * USEC_PER_HOUR;
const USEC_PER_WEEK: u64 = 7 * USEC_PER_DAY;
const USEC_PER_MONTH: u64 = 2_629_800 * USEC_PER_SEC;
const USEC_PER_YEAR: u64 = 31_557_600 * USEC_PER_SEC;
const USEC_INFINITY: u64 = u64::MAX;

/// The unit suffixes of `extract_multiplier()` in `src/basic/time-util.c`, in its order: the first prefix
/// match wins, so `ms` is milliseconds, `m` minutes and `M` months.
const TIME_UNITS: &[(&str, u64)] = &[
    ("seconds", USEC_PER_SEC),
    ("second", USEC_PER_SEC),
    ("sec", USEC_PER_SEC),
    ("s", USEC_PER_SEC),
    ("minutes", USEC_PER_MINUTE),
    ("minute", USEC_PER_MINUTE),
    ("min", USEC_PER_MINUTE),
    ("months", USEC_PER_MONTH),
    ("month", USEC_PER_MONTH),
    ("M", USEC_PER_MONTH),
    ("msec", 1000),
    ("ms", 1000),
    ("m", USEC_PER_MINUTE),
    ("hours", USEC_PER_HOUR),
    ("hour", USEC_PER_HOUR),
    ("hr", USEC_PER_HOUR),
    ("h", USEC_PER_HOUR),
    ("days", USEC_PER_DAY),
    ("day", USEC_PER_DAY),
    ("d", USEC_PER_DAY),
    ("weeks", USEC_PER_WEEK),
    ("week", USEC_PER_WEEK),
    ("w", USEC_PER_WEEK),
    ("years", USEC_PER_YEAR),
    ("year", USEC_PER_YEAR),
    ("y", USEC_PER_YEAR),
    ("usec", 1),
    ("us", 1),
    ("\u{3bc}s", 1),
    ("\u{b5}s", 1),
];

/// The leading decimal digits of `s` as a number (saturating) and how many bytes they take.
fn leading_digits(s: &[u8]) -> (u64, usize) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let v = s[..n].iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    (v, n)
}

/// systemd's `parse_time(s, default_unit)` in microseconds.
fn parse_time_usec(t: &str, default_unit: u64) -> Result<u64> {
    let p = skip_ws(t);
    if let Some(rest) = p.strip_prefix("infinity") {
        return if skip_ws(rest).is_empty() {
            Ok(USEC_INFINITY)
        } else {
            Err(ValueError::Invalid)
        };
    }
    let b = p.as_bytes();
    let mut i = 0;
    let mut usec: u64 = 0;
    let mut something = false;
    loop {
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return if something {
                Ok(usec)
            } else {
                Err(ValueError::Invalid)
            };
        }
        if b[i] == b'-' {
            return Err(ValueError::Range);
        }
        // strtoll(): an optional '+', then digits.
        let num_start = if b[i] == b'+' { i + 1 } else { i };
        let (l, n) = leading_digits(&b[num_start..]);
        // `e` is where strtoll stopped: after the digits, or at the start when there were none.
        let e = if n == 0 { i } else { num_start + n };
        let mut q = if b.get(e) == Some(&b'.') {
            let mut q = e + 1;
            while q < b.len() && b[q].is_ascii_digit() {
                q += 1;
            }
            q
        } else if n == 0 {
            return Err(ValueError::Invalid);
        } else {
            e
        };
        let mut after_ws = q;
        while after_ws < b.len() && is_ws(b[after_ws]) {
            after_ws += 1;
        }
        let mut multiplier = default_unit;
        let mut s_pos = after_ws;
        for (suffix, mult) in TIME_UNITS {
            if b[after_ws..].starts_with(suffix.as_bytes()) {
                multiplier = *mult;
                s_pos = after_ws + suffix.len();
                break;
            }
        }
        if s_pos == q && s_pos < b.len() {
            return Err(ValueError::Invalid);
        }
        q = s_pos;
        if l >= USEC_INFINITY / multiplier {
            return Err(ValueError::Range);
        }
        let k = l * multiplier;
        if k >= USEC_INFINITY - usec {
            return Err(ValueError::Range);
        }
        usec += k;
        something = true;
        if b.get(e) == Some(&b'.') {
            let mut m = multiplier / 10;
            let mut d = e + 1;
            while d < b.len() && b[d].is_ascii_digit() {
                let k = u64::from(b[d] - b'0') * m;
                if k >= USEC_INFINITY - usec {
                    return Err(ValueError::Range);
                }
                usec += k;
                m /= 10;
                d += 1;
            }
            if d == e + 1 {
                return Err(ValueError::Invalid);
            }
        }
        i = q;
    }
}

/// A time span in systemd.time(7) syntax (`parse_sec()`): `5min 20s`, `1.5s`, `100ms`, `2h`, `1y 2w`, a bare
/// number is seconds, `infinity`. Components may be run together (`5min20s`).
pub fn parse_timespan(s: &str) -> Result<TimeSpan> {
    let usec = parse_time_usec(s, USEC_PER_SEC)?;
    Ok(if usec == USEC_INFINITY {
        TimeSpan::Infinity
    } else {
        TimeSpan::Finite(Duration::from_micros(usec))
    })
}

/// Like [`parse_timespan`] but a bare number is in the given unit (systemd's `parse_time()`); used for the
/// nanosecond and millisecond settings.
pub fn parse_timespan_default_unit(s: &str, default_unit: Duration) -> Result<TimeSpan> {
    let unit = u64::try_from(default_unit.as_micros()).map_err(|_| ValueError::Range)?;
    let usec = parse_time_usec(s, unit.max(1))?;
    Ok(if usec == USEC_INFINITY {
        TimeSpan::Infinity
    } else {
        TimeSpan::Finite(Duration::from_micros(usec))
    })
}

/// The IEC suffixes of `parse_size(…, 1024)`, largest first; a sum must use them in decreasing order.
const IEC: &[(&str, u64)] = &[
    ("E", 1 << 60),
    ("P", 1 << 50),
    ("T", 1 << 40),
    ("G", 1 << 30),
    ("M", 1 << 20),
    ("K", 1 << 10),
    ("B", 1),
    ("", 1),
];

/// systemd's `parse_size(s, 1024)`: bytes with optional `K M G T P E` (powers of 1024) or `B`, decimals
/// allowed (`1.5G`), several terms summed in decreasing order (`1G 512M`).
pub fn parse_size(s: &str) -> Result<u64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    let mut start_pos = 0;
    loop {
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        let sign = b.get(i).copied();
        let num_start = if matches!(sign, Some(b'+') | Some(b'-')) {
            i + 1
        } else {
            i
        };
        let n = b[num_start..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if n == 0 {
            return Err(ValueError::Invalid);
        }
        if sign == Some(b'-') {
            return Err(ValueError::Range);
        }
        let digits = &s[num_start..num_start + n];
        let l: u64 = digits.parse().map_err(|_| ValueError::Range)?;
        let mut e = num_start + n;
        let mut frac = 0f64;
        if b.get(e) == Some(&b'.') {
            e += 1;
            let m = b[e..].iter().take_while(|c| c.is_ascii_digit()).count();
            if m > 0 {
                let (l2, _) = leading_digits(&b[e..e + m]);
                frac = l2 as f64 / 10f64.powi(i32::try_from(m).unwrap_or(i32::MAX));
                e += m;
            }
        }
        while e < b.len() && is_ws(b[e]) {
            e += 1;
        }
        let idx = (start_pos..IEC.len())
            .find(|k| b[e..].starts_with(IEC[*k].0.as_bytes()))
            .ok_or(ValueError::Invalid)?;
        let factor = IEC[idx].1;
        let whole = l
            .checked_add(u64::from(frac > 0.0))
            .ok_or(ValueError::Range)?;
        if whole > u64::MAX / factor {
            return Err(ValueError::Range);
        }
        let tmp = l * factor + (frac * factor as f64) as u64;
        total = total.checked_add(tmp).ok_or(ValueError::Range)?;
        i = e + IEC[idx].0.len();
        start_pos = idx + 1;
        if i >= b.len() {
            return Ok(total);
        }
    }
}

/// C's `strtoul(s, &end, 0)` as systemd's `safe_atou()` uses it: leading blanks, an optional sign, `0x` for
/// hex, a leading `0` for octal; the whole rest must be digits; a negative number other than `-0` is refused.
pub fn parse_c_unsigned(s: &str) -> Result<u64> {
    let s = skip_ws(s);
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            if h.is_empty() {
                return Err(ValueError::Invalid);
            }
            (16, h)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(ValueError::Invalid);
    }
    let v = u64::from_str_radix(digits, radix).map_err(|_| ValueError::Range)?;
    if neg && v != 0 {
        return Err(ValueError::Range);
    }
    Ok(v)
}

/// [`parse_c_unsigned`] limited to `u32` (`safe_atou()`).
pub fn parse_c_unsigned32(s: &str) -> Result<u32> {
    u32::try_from(parse_c_unsigned(s)?).map_err(|_| ValueError::Range)
}

/// systemd's `parse_mode()`: octal, at most `07777`.
pub fn parse_mode(s: &str) -> Result<u32> {
    let s = skip_ws(s);
    if s.is_empty() || !s.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        return Err(ValueError::Invalid);
    }
    let v = u32::from_str_radix(s, 8).map_err(|_| ValueError::Range)?;
    if v > 0o7777 {
        return Err(ValueError::Range);
    }
    Ok(v)
}

/// A value with `symbol` and at most `places` decimal places, scaled by 10^places (systemd's
/// `parse_parts_value_with_*_place()`).
fn parse_scaled(s: &str, symbol: &str, places: u32) -> Result<u64> {
    let body = s.strip_suffix(symbol).ok_or(ValueError::Invalid)?;
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => {
            if f.is_empty() || f.len() > places as usize || !f.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ValueError::Invalid);
            }
            let mut q: u64 = f.parse().map_err(|_| ValueError::Invalid)?;
            for _ in f.len()..places as usize {
                q *= 10;
            }
            (i, q)
        }
        None => (body, 0),
    };
    let v = parse_c_unsigned(int)?;
    if v > (i32::MAX as u64 - frac) / 10u64.pow(places) {
        return Err(ValueError::Range);
    }
    Ok(v * 10u64.pow(places) + frac)
}

/// systemd's `parse_permyriad_unbounded()`: `N%` (two decimals), `N‰` (one decimal) or `N‱`, as parts per
/// ten thousand; may exceed 100%.
pub fn parse_permyriad_unbounded(s: &str) -> Result<u64> {
    parse_scaled(s, "%", 2)
        .or_else(|_| parse_scaled(s, "\u{2030}", 1))
        .or_else(|_| parse_scaled(s, "\u{2031}", 0))
}

/// systemd's `parse_permyriad()`: like [`parse_permyriad_unbounded`] but at most 100%.
pub fn parse_permyriad(s: &str) -> Result<u64> {
    let v = parse_permyriad_unbounded(s)?;
    if v > 10_000 {
        return Err(ValueError::Range);
    }
    Ok(v)
}

/// An item of a CPU list that is an inverted range (`3-1`): systemd warns and ignores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvertedRange {
    /// The item as written.
    pub item: String,
    /// Its lower end as written (the larger number).
    pub lower: u32,
    /// Its upper end as written.
    pub upper: u32,
}

/// The largest CPU index systemd accepts in a CPU set (`CPU_SIZE_MAX` bits).
const CPU_MAX: u32 = 8192 * 8;

/// systemd's `parse_cpu_set_extend()`: CPU indices and ranges separated by blanks or commas (`0-1,3 5`).
/// Returns the sorted CPUs and the inverted ranges that were skipped; `Err(item)` names the first bad item.
pub fn parse_cpu_list(s: &str) -> std::result::Result<(Vec<u32>, Vec<InvertedRange>), String> {
    let mut cpus = Vec::new();
    let mut inverted = Vec::new();
    for item in s.split(|c: char| c == ',' || (c.is_ascii() && is_ws(c as u8))) {
        if item.is_empty() {
            continue;
        }
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (parse_c_unsigned32(a), parse_c_unsigned32(b)),
            None => (parse_c_unsigned32(item), parse_c_unsigned32(item)),
        };
        let (Ok(lo), Ok(hi)) = (lo, hi) else {
            return Err(item.to_string());
        };
        if lo > hi {
            inverted.push(InvertedRange {
                item: item.to_string(),
                lower: lo,
                upper: hi,
            });
            continue;
        }
        if hi >= CPU_MAX {
            return Err(item.to_string());
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok((cpus, inverted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> TimeSpan {
        TimeSpan::Finite(Duration::from_millis(v))
    }

    #[test]
    fn timespan_table() {
        let cases: &[(&str, Option<TimeSpan>)] = &[
            ("5", Some(ms(5000))),
            ("5min 20s", Some(ms(320_000))),
            ("5min20s", Some(ms(320_000))),
            ("1.5s", Some(ms(1500))),
            ("1.5", Some(ms(1500))),
            (".5", Some(ms(500))),
            ("1 .5", Some(ms(1500))),
            ("+1", Some(ms(1000))),
            ("100ms", Some(ms(100))),
            ("100 msec", Some(ms(100))),
            ("2h", Some(ms(7_200_000))),
            ("1d 2hr", Some(ms(93_600_000))),
            ("1w", Some(ms(604_800_000))),
            ("1M", Some(ms(2_629_800_000))),
            ("1y2", Some(ms(31_557_602_000))),
            ("1s2", Some(ms(3000))),
            ("3us", Some(TimeSpan::Finite(Duration::from_micros(3)))),
            ("3\u{b5}s", Some(TimeSpan::Finite(Duration::from_micros(3)))),
            ("0", Some(ms(0))),
            ("infinity", Some(TimeSpan::Infinity)),
            ("  infinity  ", Some(TimeSpan::Infinity)),
            ("", None),
            ("   ", None),
            ("abc", None),
            ("5x", None),
            ("1.", None),
            ("-1", None),
            ("3.hoge", None),
            ("12.34.56", None),
            ("infinity s", None),
            ("99999999999999999999", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_timespan(input).ok(), *want, "input {input:?}");
        }
    }

    #[test]
    fn timespan_helpers() {
        assert_eq!(TimeSpan::Infinity.finite(), None);
        assert_eq!(ms(0).nonzero(), None);
        assert_eq!(ms(5).nonzero(), Some(Duration::from_millis(5)));
        assert_eq!(
            parse_timespan_default_unit("5", Duration::from_millis(1)),
            Ok(ms(5))
        );
    }

    #[test]
    fn size_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("100", Some(100)),
            ("100B", Some(100)),
            ("1K", Some(1024)),
            ("512M", Some(512 << 20)),
            ("1G", Some(1 << 30)),
            ("1.5G", Some(3 << 29)),
            ("2T", Some(2 << 40)),
            ("1G 512M", Some((1 << 30) + (512 << 20))),
            ("1 G", Some(1 << 30)),
            ("512M 1G", None),
            ("1k", None),
            ("abc", None),
            ("", None),
            ("-1", None),
            ("16E", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input).ok(), *want, "input {input:?}");
        }
    }

    #[test]
    fn percent_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("50%", Some(5000)),
            ("10.5%", Some(1050)),
            ("10.55%", Some(1055)),
            ("10.555%", None),
            ("0%", Some(0)),
            ("100%", Some(10_000)),
            ("101%", None),
            ("5\u{2030}", Some(50)),
            ("7\u{2031}", Some(7)),
            ("50", None),
            ("%", None),
            ("x%", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_permyriad(input).ok(), *want, "input {input:?}");
        }
        assert_eq!(parse_permyriad_unbounded("300%"), Ok(30_000));
    }

    #[test]
    fn bool_mode_number_table() {
        for t in ["1", "yes", "Y", "true", "T", "on", "ON"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "no", "n", "false", "F", "off"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        for bad in ["", "maybe", "2", "yess"] {
            assert!(parse_bool(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_mode("0022"), Ok(0o22));
        assert_eq!(parse_mode("7"), Ok(7));
        assert_eq!(parse_mode("0777"), Ok(0o777));
        assert_eq!(parse_mode("999"), Err(ValueError::Invalid));
        assert_eq!(parse_mode("10000"), Err(ValueError::Range));
        assert_eq!(parse_mode(""), Err(ValueError::Invalid));
        assert_eq!(parse_c_unsigned("5"), Ok(5));
        assert_eq!(parse_c_unsigned(" 5"), Ok(5));
        assert_eq!(parse_c_unsigned("0x10"), Ok(16));
        assert_eq!(parse_c_unsigned("010"), Ok(8));
        assert_eq!(parse_c_unsigned("-0"), Ok(0));
        assert_eq!(parse_c_unsigned("-1"), Err(ValueError::Range));
        assert_eq!(parse_c_unsigned("5 "), Err(ValueError::Invalid));
        assert_eq!(parse_c_unsigned("x"), Err(ValueError::Invalid));
        assert_eq!(parse_c_unsigned("09"), Err(ValueError::Invalid));
    }

    #[test]
    fn cpu_list_table() {
        assert_eq!(parse_cpu_list("0-1,3 5"), Ok((vec![0, 1, 3, 5], vec![])));
        assert_eq!(parse_cpu_list("2,2,1"), Ok((vec![1, 2], vec![])));
        let (cpus, inv) = parse_cpu_list("3-1,4").unwrap();
        assert_eq!(cpus, vec![4]);
        assert_eq!(inv[0].item, "3-1");
        assert_eq!(parse_cpu_list("a-b"), Err("a-b".to_string()));
        assert_eq!(parse_cpu_list("0-70000"), Err("0-70000".to_string()));
    }
}
