//! Shell globs with Go's `path.Match` semantics, which fleet uses for `Conflicts=` and `Replaces=`: `*` (any
//! run of characters but `/`), `?` (one character but `/`), `[...]` classes with ranges and `^` negation, and
//! `\` escaping. A malformed pattern matches nothing, as fleet treats `path.Match`'s error.

/// Whether `name` matches `pattern` as a whole.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?', '[', '\\']) {
        return pattern == name;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n).unwrap_or(false)
}

/// Backtracking matcher; `None` for a malformed pattern.
fn matches(p: &[char], n: &[char]) -> Option<bool> {
    let (mut pi, mut ni) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, name index it currently covers up to).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi + 1, ni));
                    pi += 1;
                    continue;
                }
                c => {
                    if ni < n.len() {
                        let (ok, next) = match c {
                            '?' => (n[ni] != '/', pi + 1),
                            '[' => class(p, pi, n[ni])?,
                            '\\' => {
                                let escaped = *p.get(pi + 1)?;
                                (n[ni] == escaped, pi + 2)
                            }
                            c => (n[ni] == c, pi + 1),
                        };
                        if ok {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    }
                }
            }
        } else if ni == n.len() {
            return Some(true);
        }
        // Mismatch: let the last `*` swallow one more character (never a `/`).
        match star {
            Some((sp, sn)) if sn < n.len() && n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp;
                ni = sn + 1;
            }
            _ => {
                // Still check the rest of the pattern is well-formed, as Go reports a bad pattern.
                return if well_formed(&p[pi.min(p.len())..]) {
                    Some(false)
                } else {
                    None
                };
            }
        }
    }
}

/// Matches `c` against the class starting at `p[start] == '['`; returns (matched, index after `]`).
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let (lo, after) = class_char(p, i)?;
        let (hi, after) = if p.get(after) == Some(&'-') && p.get(after + 1) != Some(&']') {
            class_char(p, after + 1)?
        } else {
            (lo, after)
        };
        if lo <= c && c <= hi {
            matched = true;
        }
        i = after;
    }
    Some((matched != negated, i))
}

fn class_char(p: &[char], i: usize) -> Option<(char, usize)> {
    match *p.get(i)? {
        '\\' => Some((*p.get(i + 1)?, i + 2)),
        '-' | ']' if i > 0 && p[i - 1] != '[' && p[i - 1] != '^' => None,
        c => Some((c, i + 1)),
    }
}

fn well_formed(p: &[char]) -> bool {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return false;
                }
                i += 2;
            }
            '[' => match class(p, i, '\0') {
                Some((_, next)) => i = next,
                None => return false,
            },
            _ => i += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn go_path_match_table() {
        let table = [
            ("web@*.service", "web@1.service", true),
            ("web@*.service", "web@.service", true),
            ("web@*.service", "web-discovery@1.service", false),
            ("web*", "web@1.service", true),
            ("*", "a/b", false),
            ("a*/b", "abc/b", true),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("db.service", "db.service", true),
            ("db.service", "db.servic", false),
            ("[ab]x", "bx", true),
            ("[^ab]x", "bx", false),
            ("[a-c]x", "cx", true),
            ("[a-c]x", "dx", false),
            ("\\*x", "*x", true),
            ("\\*x", "ax", false),
            ("*.service", "x.socket", false),
            ("*x*y", "axbxy", true),
            ("[", "[", false),
            ("a[", "a", false),
        ];
        for (pattern, name, want) in table {
            assert_eq!(glob_match(pattern, name), want, "{pattern:?} vs {name:?}");
        }
    }
}
