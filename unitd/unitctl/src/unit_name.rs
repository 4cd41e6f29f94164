//! Unit names as systemctl treats its arguments: a name without a unit-type suffix gets `.service`
//! (`hello` → `hello.service`, `web@1` → `web@1.service`), globs are kept as patterns, and [`glob_match`] is
//! `fnmatch(3)` without flags for matching them against loaded units.

/// The unit types systemd knows; a name ending in one of these is left alone.
const UNIT_SUFFIXES: [&str; 11] = [
    ".service",
    ".socket",
    ".target",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".timer",
    ".path",
    ".slice",
    ".scope",
];

/// Whether `name` contains glob characters.
pub fn is_glob(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

/// Whether `name` ends in a unit-type suffix.
pub fn has_unit_suffix(name: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|s| name.ends_with(s) && name.len() > s.len())
}

/// The unit type of `name` (`service` for `a.service`), or `""`.
pub fn unit_type(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) => &name[i + 1..],
        None => "",
    }
}

/// `name` with `.service` appended unless it has a unit suffix; globs are patterns and stay as they are
/// (systemd's `unit_name_mangle_with_suffix` with `UNIT_NAME_MANGLE_GLOB`).
pub fn mangle(name: &str) -> String {
    if has_unit_suffix(name) || is_glob(name) {
        return name.to_string();
    }
    format!("{name}.service")
}

/// `fnmatch(pattern, name, 0)`: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`, and `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    // Where to resume after the last `*`: the pattern index after it, and the name index it has eaten to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match class_match(&p[pi..], n[ni]) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                // An unterminated `[` is a literal.
                None => (n[ni] == '[').then_some(1),
            },
            Some('\\') if pi + 1 < p.len() => (p[pi + 1] == n[ni]).then_some(2),
            Some(c) => (*c == n[ni]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                pi += len;
                ni += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    pi = sp;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`: `Some((matched, length))`, or `None` if
/// the bracket is not closed.
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            break;
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            let end = p[i + 2];
            if ch <= c && c <= end {
                matched = true;
            }
            i += 3;
        } else {
            if ch == c {
                matched = true;
            }
            i += 1;
        }
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangling() {
        let cases = [
            ("hello", "hello.service"),
            ("hello.service", "hello.service"),
            ("web@1", "web@1.service"),
            ("multi-user.target", "multi-user.target"),
            ("flotilla.slice", "flotilla.slice"),
            ("my.app", "my.app.service"),
            ("web@*", "web@*"),
            ("web@?", "web@?"),
            (".service", ".service.service"),
        ];
        for (name, want) in cases {
            assert_eq!(mangle(name), want, "{name}");
        }
    }

    #[test]
    fn globbing() {
        let cases = [
            ("*", "a.service", true),
            ("*.service", "a.service", true),
            ("*.service", "a.socket", false),
            ("web@*.service", "web@12.service", true),
            ("web@?.service", "web@12.service", false),
            ("[ab].service", "b.service", true),
            ("[!ab].service", "b.service", false),
            ("[a-c]x", "bx", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("[", "[", true),
            ("", "", true),
            ("a", "", false),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(glob_match(pattern, name), want, "{pattern} {name}");
        }
    }

    #[test]
    fn types() {
        assert_eq!(unit_type("a.b.service"), "service");
        assert_eq!(unit_type("x"), "");
        assert!(is_glob("a*"));
        assert!(!is_glob("a.service"));
    }
}
