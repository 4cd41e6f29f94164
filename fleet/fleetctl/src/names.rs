//! Unit names as typed on the command line: fleet's name mangling (`hello` → `hello.service`,
//! `dir/web@1` → `web@1.service`), brace expansion (`web@{1..3}.service`, done here because `sh` does not), and
//! the order instances are rolled in.

use std::cmp::Ordering;

use fleet_model::{default_unit_type, NameInfo};

/// Go's `path.Base`: the last element of a slash-separated path (`.` for an empty one).
pub fn base(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// fleet's `unitNameMangle`: the base name of `arg`, with `.service` appended unless it ends in a unit type
/// fleetctl recognises.
pub fn mangle(arg: &str) -> String {
    default_unit_type(base(arg))
}

/// Whether `name` is an instance (`web@1.service`) and, if so, its template (`web@.service`).
pub fn template_of(name: &str) -> Option<String> {
    NameInfo::parse(name)
        .filter(NameInfo::is_instance)
        .and_then(|i| i.template)
}

/// Whether `name` is a template (`web@.service`).
pub fn is_template(name: &str) -> bool {
    NameInfo::parse(name).is_some_and(|i| i.template.is_some() && i.instance.is_empty())
}

/// Expands every argument's brace expressions, keeping argument order.
pub fn expand_all(args: &[String]) -> Vec<String> {
    args.iter().flat_map(|a| expand_braces(a)).collect()
}

/// Shell brace expansion of one word: `{a,b}` alternatives and `{1..3}`, `{01..10}`, `{3..1}`, `{a..c}`
/// sequences, several and nested braces included. A brace that is neither (`{x}`, an unmatched `{`) is kept
/// as written, as bash does.
pub fn expand_braces(word: &str) -> Vec<String> {
    let bytes = word.as_bytes();
    let mut search = 0;
    while let Some(rel) = word[search..].find('{') {
        let open = search + rel;
        let Some(close) = matching_brace(bytes, open) else {
            break;
        };
        let inner = &word[open + 1..close];
        let parts = split_top_level(inner);
        let alternatives = if parts.len() > 1 {
            Some(parts)
        } else {
            sequence(inner)
        };
        if let Some(alternatives) = alternatives {
            let (prefix, suffix) = (&word[..open], &word[close + 1..]);
            let suffixes = expand_braces(suffix);
            let mut out = Vec::new();
            for alt in alternatives {
                for a in expand_braces(&alt) {
                    for s in &suffixes {
                        out.push(format!("{prefix}{a}{s}"));
                    }
                }
            }
            return out;
        }
        search = open + 1;
    }
    vec![word.to_string()]
}

fn matching_brace(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `a,b,{c,d}` split on its top-level commas.
fn split_top_level(inner: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(inner[start..i].to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(inner[start..].to_string());
    parts
}

/// `1..3`, `01..10`, `5..1`, `a..e`.
fn sequence(inner: &str) -> Option<Vec<String>> {
    let (from, to) = inner.split_once("..")?;
    if let (Ok(a), Ok(b)) = (from.parse::<i64>(), to.parse::<i64>()) {
        let padded = |s: &str| {
            s.trim_start_matches('-').len() > 1 && s.trim_start_matches('-').starts_with('0')
        };
        let width = if padded(from) || padded(to) {
            from.len().max(to.len())
        } else {
            0
        };
        let range: Box<dyn Iterator<Item = i64>> = if a <= b {
            Box::new(a..=b)
        } else {
            Box::new((b..=a).rev())
        };
        return Some(range.map(|n| format!("{n:0width$}")).collect());
    }
    let (mut f, mut t) = (from.chars(), to.chars());
    match (f.next(), f.next(), t.next(), t.next()) {
        (Some(a), None, Some(b), None) if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            let (a, b) = (a as u8, b as u8);
            let seq: Vec<u8> = if a <= b {
                (a..=b).collect()
            } else {
                (b..=a).rev().collect()
            };
            Some(seq.into_iter().map(|c| (c as char).to_string()).collect())
        }
        _ => None,
    }
}

/// The order instances of a template are rolled in: grouped by template, numeric instances first in numeric
/// order (`web@2` before `web@10`), then the others by name. A total order, whatever the names.
pub fn instance_order(a: &str, b: &str) -> Ordering {
    instance_key(a).cmp(&instance_key(b))
}

fn instance_key(name: &str) -> (String, u8, u64, &str) {
    match NameInfo::parse(name) {
        Some(NameInfo {
            template: Some(t),
            instance,
            ..
        }) => match instance.parse::<u64>() {
            Ok(n) => (t, 0, n, name),
            Err(_) => (t, 1, 0, name),
        },
        _ => (name.to_string(), 1, 0, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_mangled_like_fleet() {
        let table = [
            ("hello", "hello.service"),
            ("hello.service", "hello.service"),
            ("dir/web@1", "web@1.service"),
            ("./units/hello.socket", "hello.socket"),
            ("foo.target", "foo.target.service"),
            ("dir/", "dir.service"),
            ("a.timer", "a.timer"),
        ];
        for (arg, want) in table {
            assert_eq!(mangle(arg), want, "{arg}");
        }
        assert_eq!(base(""), ".");
        assert_eq!(base("/"), "/");
        assert_eq!(base("a/b/c"), "c");
    }

    #[test]
    fn templates_and_instances() {
        assert_eq!(
            template_of("web@8080.service").as_deref(),
            Some("web@.service")
        );
        assert_eq!(template_of("web@.service"), None);
        assert_eq!(template_of("db.service"), None);
        assert!(is_template("web@.service"));
        assert!(!is_template("web@1.service"));
        assert!(!is_template("db.service"));
    }

    #[test]
    fn braces_expand_like_bash() {
        let table: &[(&str, &[&str])] = &[
            (
                "web@{1..3}.service",
                &["web@1.service", "web@2.service", "web@3.service"],
            ),
            ("web@{3..1}", &["web@3", "web@2", "web@1"]),
            ("w@{08..10}", &["w@08", "w@09", "w@10"]),
            ("{a,b}@{1..2}", &["a@1", "a@2", "b@1", "b@2"]),
            ("x{a,{b,c}}", &["xa", "xb", "xc"]),
            ("x{a..c}", &["xa", "xb", "xc"]),
            ("{-1..1}", &["-1", "0", "1"]),
            ("plain.service", &["plain.service"]),
            ("odd{x}.service", &["odd{x}.service"]),
            ("open{1..2", &["open{1..2"]),
            ("{x}{1..2}", &["{x}1", "{x}2"]),
            ("{1..a}", &["{1..a}"]),
        ];
        for (word, want) in table {
            assert_eq!(expand_braces(word), *want, "{word}");
        }
        assert_eq!(
            expand_all(&["a".into(), "b@{1..2}".into()]),
            ["a", "b@1", "b@2"]
        );
    }

    #[test]
    fn instances_roll_in_numeric_order() {
        let mut names = vec![
            "web@10.service",
            "web@2.service",
            "web@1.service",
            "web@b.service",
            "web@a.service",
        ];
        names.sort_by(|a, b| instance_order(a, b));
        assert_eq!(
            names,
            [
                "web@1.service",
                "web@2.service",
                "web@10.service",
                "web@a.service",
                "web@b.service"
            ]
        );
    }
}
