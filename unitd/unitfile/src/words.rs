//! Word splitting with systemd's quoting rules: `extract_first_word()` from `src/basic/extract-word.c` and
//! `cunescape_one()` from `src/basic/escape.c`.
//!
//! Words are separated by blanks (space, tab, CR, LF). With [`Flags::unquote`], single and double quotes group
//! (they may start or end in the middle of a word, `a"b c"d` is one word `ab cd`); both kinds behave the same,
//! and backslash escapes work inside both. With [`Flags::cunescape`], C escapes are decoded: `\a \b \f \n \r \t
//! \v \\ \" \'`, `\s` (space), `\xNN`, `\uNNNN`, `\UNNNNNNNN` and three-digit octal `\NNN`; an escape of NUL is
//! refused. Without it, a backslash just takes the next character literally. [`Flags::retain_escape`] keeps
//! backslashes (and what follows) verbatim, as systemd does for dependency lists.
//!
//! Bytes produced by `\x`/octal escapes that do not form UTF-8 are replaced by U+FFFD (the crate keeps words
//! as `String`s; systemd keeps raw bytes).

use crate::lexer::WHITESPACE;

/// Which of systemd's `EXTRACT_*` flags apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `EXTRACT_UNQUOTE`: quotes group and are removed.
    pub unquote: bool,
    /// `EXTRACT_CUNESCAPE`: decode C escapes.
    pub cunescape: bool,
    /// `EXTRACT_UNESCAPE_RELAX`: keep unknown escapes (and an unquoted trailing backslash) verbatim.
    pub unescape_relax: bool,
    /// `EXTRACT_RELAX`: an unterminated quote or trailing backslash ends the word instead of failing.
    pub relax: bool,
    /// `EXTRACT_RETAIN_ESCAPE`: backslashes are ordinary characters.
    pub retain_escape: bool,
}

impl Flags {
    /// `EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE`, the flags of command lines and `Environment=`.
    pub const UNQUOTE_CUNESCAPE: Flags = Flags {
        unquote: true,
        cunescape: true,
        unescape_relax: false,
        relax: false,
        retain_escape: false,
    };
}

/// Why a word could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordError {
    /// An opening quote without its closing quote.
    #[error("unbalanced quoting")]
    UnbalancedQuote,
    /// An unknown escape sequence, an escaped NUL, or a trailing backslash.
    #[error("invalid escape sequence")]
    InvalidEscape,
}

/// A word and the source text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word after unquoting and unescaping.
    pub value: String,
    /// The exact source text of the word, quotes and backslashes included.
    pub raw: String,
}

/// Extracts the first word of `*input` and advances `*input` past it and the blanks after it.
/// `Ok(None)` when only blanks are left.
pub fn extract_first_word(input: &mut &str, flags: Flags) -> Result<Option<Word>, WordError> {
    let s = input.as_bytes();
    let mut i = s
        .iter()
        .position(|c| !WHITESPACE.contains(c))
        .unwrap_or(s.len());
    if i == s.len() {
        *input = "";
        return Ok(None);
    }
    let start = i;
    let mut out: Vec<u8> = Vec::new();
    let mut quote: Option<u8> = None;
    let mut end = s.len();
    loop {
        let Some(&c) = s.get(i) else {
            // End of input.
            if quote.is_some() && !flags.relax {
                return Err(WordError::UnbalancedQuote);
            }
            break;
        };
        if c == b'\\' && !flags.retain_escape {
            i += 1;
            let Some(&n) = s.get(i) else {
                if flags.unescape_relax && (quote.is_none() || flags.relax) {
                    out.push(b'\\');
                    break;
                }
                if flags.relax {
                    break;
                }
                return Err(if quote.is_some() {
                    WordError::UnbalancedQuote
                } else {
                    WordError::InvalidEscape
                });
            };
            if flags.cunescape {
                match cunescape_one(&s[i..]) {
                    Some((bytes, len)) => {
                        out.extend_from_slice(&bytes);
                        i += len;
                    }
                    None if flags.unescape_relax => {
                        out.push(b'\\');
                        out.push(n);
                        i += 1;
                    }
                    None => return Err(WordError::InvalidEscape),
                }
            } else {
                out.push(n);
                i += 1;
            }
            continue;
        }
        match quote {
            Some(q) if c == q => {
                quote = None;
                i += 1;
            }
            Some(_) => {
                out.push(c);
                i += 1;
            }
            None if flags.unquote && (c == b'\'' || c == b'"') => {
                quote = Some(c);
                i += 1;
            }
            None if WHITESPACE.contains(&c) => {
                end = i;
                break;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    let raw_end = end.min(i);
    let raw = String::from_utf8_lossy(&s[start..raw_end]).into_owned();
    let rest_start = s[raw_end..]
        .iter()
        .position(|c| !WHITESPACE.contains(c))
        .map_or(s.len(), |p| raw_end + p);
    *input = &input[rest_start..];
    Ok(Some(Word {
        value: String::from_utf8_lossy(&out).into_owned(),
        raw,
    }))
}

/// Splits all of `input` into words.
pub fn split(input: &str, flags: Flags) -> Result<Vec<Word>, WordError> {
    let mut p = input;
    let mut out = Vec::new();
    while let Some(w) = extract_first_word(&mut p, flags)? {
        out.push(w);
    }
    Ok(out)
}

/// The result of [`extract_first_word_and_warn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Extracted {
    /// A word; `relaxed` when it had unknown escapes that were kept verbatim (systemd warns
    /// "Ignoring unknown escape sequences").
    Word { word: Word, relaxed: bool },
    /// Nothing left.
    End,
    /// Unbalanced quoting (systemd: "Unbalanced quoting, ignoring").
    Unbalanced,
}

/// systemd's `extract_first_word_and_warn()`: on an escape error, retry keeping unknown escapes verbatim.
pub(crate) fn extract_first_word_and_warn(input: &mut &str, flags: Flags) -> Extracted {
    let save = *input;
    match extract_first_word(input, flags) {
        Ok(Some(word)) => Extracted::Word {
            word,
            relaxed: false,
        },
        Ok(None) => Extracted::End,
        Err(_) if !flags.unescape_relax => {
            *input = save;
            let relaxed = Flags {
                unescape_relax: true,
                ..flags
            };
            match extract_first_word(input, relaxed) {
                Ok(Some(word)) => Extracted::Word {
                    word,
                    relaxed: true,
                },
                Ok(None) => Extracted::End,
                Err(_) => Extracted::Unbalanced,
            }
        }
        Err(_) => Extracted::Unbalanced,
    }
}

fn hex(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// Decodes one C escape; `s` starts right after the backslash. Returns the bytes and how many input bytes the
/// escape used, or `None` for an escape systemd refuses.
pub(crate) fn cunescape_one(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let simple = |b: u8| Some((vec![b], 1));
    let c = *s.first()?;
    match c {
        b'a' => simple(0x07),
        b'b' => simple(0x08),
        b'f' => simple(0x0c),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(0x0b),
        b'\\' => simple(b'\\'),
        b'"' => simple(b'"'),
        b'\'' => simple(b'\''),
        b's' => simple(b' '),
        b'x' => {
            let a = hex(*s.get(1)?)?;
            let b = hex(*s.get(2)?)?;
            let v = (a << 4) | b;
            (v != 0).then(|| (vec![v as u8], 3))
        }
        b'u' | b'U' => {
            let n = if c == b'u' { 4 } else { 8 };
            let mut v: u32 = 0;
            for k in 1..=n {
                v = (v << 4) | hex(*s.get(k)?)?;
            }
            if v == 0 {
                return None;
            }
            let ch = char::from_u32(v)?;
            let mut buf = [0u8; 4];
            Some((ch.encode_utf8(&mut buf).as_bytes().to_vec(), n + 1))
        }
        b'0'..=b'7' => {
            let oct = |k: usize| -> Option<u32> {
                let d = *s.get(k)?;
                (b'0'..=b'7').contains(&d).then(|| u32::from(d - b'0'))
            };
            let v = (oct(0)? << 6) | (oct(1)? << 3) | oct(2)?;
            (v != 0 && v <= 255).then(|| (vec![v as u8], 3))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(input: &str, flags: Flags) -> Result<Vec<String>, WordError> {
        Ok(split(input, flags)?.into_iter().map(|w| w.value).collect())
    }

    #[test]
    fn quoting_and_escapes_table() {
        let f = Flags::UNQUOTE_CUNESCAPE;
        let cases: &[(&str, &[&str])] = &[
            ("a b  c", &["a", "b", "c"]),
            ("  lead trail  ", &["lead", "trail"]),
            ("\"a b\" c", &["a b", "c"]),
            ("'a b' c", &["a b", "c"]),
            ("a\"b c\"d", &["ab cd"]),
            ("\"\"", &[""]),
            ("'it''s'", &["its"]),
            ("\"say \\\"hi\\\"\"", &["say \"hi\""]),
            ("'a\\tb'", &["a\tb"]),
            ("a\\nb", &["a\nb"]),
            ("\\x41\\102\\u00e9\\U0001F600", &["AB\u{e9}\u{1F600}"]),
            ("a\\sb", &["a b"]),
            ("\\\\", &["\\"]),
            ("$VAR ${X}", &["$VAR", "${X}"]),
        ];
        for (input, want) in cases {
            let got = words(input, f).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(&got, want, "input {input:?}");
        }
    }

    #[test]
    fn errors_table() {
        let f = Flags::UNQUOTE_CUNESCAPE;
        let cases: &[(&str, WordError)] = &[
            ("\"abc", WordError::UnbalancedQuote),
            ("a 'b", WordError::UnbalancedQuote),
            ("\\d", WordError::InvalidEscape),
            ("\\x00", WordError::InvalidEscape),
            ("\\000", WordError::InvalidEscape),
            ("\\8", WordError::InvalidEscape),
            ("a\\ b", WordError::InvalidEscape),
            ("abc\\", WordError::InvalidEscape),
            ("\"abc\\", WordError::UnbalancedQuote),
        ];
        for (input, want) in cases {
            assert_eq!(words(input, f), Err(want.clone()), "input {input:?}");
        }
    }

    #[test]
    fn raw_text_is_kept() {
        let ws = split("'a b' c\\td \"$X\"", Flags::UNQUOTE_CUNESCAPE).unwrap();
        let raw: Vec<&str> = ws.iter().map(|w| w.raw.as_str()).collect();
        assert_eq!(raw, vec!["'a b'", "c\\td", "\"$X\""]);
        assert_eq!(ws[2].value, "$X");
    }

    #[test]
    fn and_warn_retries_relaxed() {
        let mut p = "x\\qy rest";
        match extract_first_word_and_warn(&mut p, Flags::UNQUOTE_CUNESCAPE) {
            Extracted::Word { word, relaxed } => {
                assert!(relaxed);
                assert_eq!(word.value, "x\\qy");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p, "rest");
        let mut p = "\"open";
        assert_eq!(
            extract_first_word_and_warn(&mut p, Flags::UNQUOTE_CUNESCAPE),
            Extracted::Unbalanced
        );
    }

    #[test]
    fn without_unquote_quotes_are_literal_and_retain_escape_keeps_backslashes() {
        let f = Flags {
            retain_escape: true,
            ..Flags::default()
        };
        assert_eq!(
            words("a\\x2db.service \"q\"", f).unwrap(),
            vec!["a\\x2db.service", "\"q\""]
        );
        let relax = Flags {
            unquote: true,
            relax: true,
            ..Flags::default()
        };
        assert_eq!(
            words("'a b' \"unterminated c", relax).unwrap(),
            vec!["a b", "unterminated c"]
        );
    }
}
