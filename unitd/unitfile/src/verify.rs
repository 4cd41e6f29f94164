//! `unitctl verify FILE...`, like `systemd-analyze verify`: load each unit file (with the drop-ins next to it)
//! and report every diagnostic as `FILE:LINE: message`.
//!
//! As in `systemd-analyze verify`, a template (`foo@.service`) is checked as the instance `foo@i.service`, so
//! that `%i`/`%I` expand. A drop-in (`DIR/NAME.d/x.conf`) is checked as part of `NAME` when `DIR/NAME` (or its
//! template) exists, else on its own (settings only, no unit-level checks). Deviations: a masked unit is a
//! warning, not a failure; and executables are only checked with [`VerifyOptions::check_executables`], and then
//! a missing one is a warning — `systemd-analyze verify` fails for both, which would fail units that are fine
//! on the host they are meant for.

use std::path::{Path, PathBuf};

use crate::config::UnitConfig;
use crate::diag::Diagnostic;
use crate::exec::is_executable;
use crate::lexer::parse_file;
use crate::loader::{LoadError, Loader};
use crate::name::UnitName;
use crate::specifier::Specifiers;

/// The instance systemd-analyze uses for templates.
pub const TEST_INSTANCE: &str = "i";

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Directories searched for drop-ins (and aliases' targets) after the file's own directory.
    pub search_path: Vec<PathBuf>,
    /// The specifier values (`%H`, `%m`, …).
    pub specifiers: Specifiers,
    /// Warn about commands whose executable does not exist (or is not executable) on this host.
    pub check_executables: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            search_path: Vec::new(),
            specifiers: Specifiers::from_host(),
            check_executables: false,
        }
    }
}

/// A unit name for a file name, with templates instantiated.
fn verify_name(file_name: &str) -> Option<UnitName> {
    let n = UnitName::parse(file_name).ok()?;
    if n.is_template() {
        n.with_instance(TEST_INSTANCE).ok()
    } else {
        Some(n)
    }
}

fn load_diags(
    loader: &Loader,
    name: &UnitName,
    file: &Path,
    opts: &VerifyOptions,
) -> Result<Vec<Diagnostic>, LoadError> {
    let config = match loader.load(name, &opts.specifiers) {
        Ok(lu) => lu.config,
        Err(LoadError::BadSetting(lu)) => lu.config,
        Err(LoadError::Masked { name, .. }) => {
            return Ok(vec![Diagnostic::warning(
                file,
                0,
                format!("Unit {name} is masked."),
            )]);
        }
        Err(e) => return Err(e),
    };
    let mut diags = config.warnings.clone();
    if opts.check_executables {
        diags.extend(executable_warnings(&config));
    }
    Ok(diags)
}

fn executable_warnings(config: &UnitConfig) -> Vec<Diagnostic> {
    let Some(s) = &config.service else {
        return Vec::new();
    };
    let lists = [
        &s.exec_condition,
        &s.exec_start_pre,
        &s.exec_start,
        &s.exec_start_post,
        &s.exec_reload,
        &s.exec_stop,
        &s.exec_stop_post,
    ];
    lists
        .into_iter()
        .flatten()
        .filter(|c| !c.flags.ignore_failure)
        .filter(|c| !c.resolve_path().is_some_and(|p| is_executable(&p)))
        .map(|c| {
            Diagnostic::warning(
                &c.file,
                c.line,
                format!(
                    "Command {} is not executable: No such file or directory",
                    c.path
                ),
            )
        })
        .collect()
}

/// Verifies one unit file or drop-in.
fn verify_one(path: &Path, opts: &VerifyOptions) -> Vec<Diagnostic> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parent = path.parent().unwrap_or(Path::new("."));
    let dropin_of = parent
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".d"))
        .filter(|_| file_name.ends_with(".conf"));
    let (name, dir) = match dropin_of {
        Some(unit) => match verify_name(unit) {
            Some(n) => (n, parent.parent().unwrap_or(Path::new("."))),
            // A type-wide drop-in (`service.d/`) belongs to no unit in particular.
            None => match UnitName::parse(&format!("verify.{unit}")) {
                Ok(n) => (n, parent.parent().unwrap_or(Path::new("."))),
                Err(_) => {
                    return vec![Diagnostic::error(
                        path,
                        0,
                        format!(
                            "Failed to prepare filename {}: Invalid argument",
                            path.display()
                        ),
                    )];
                }
            },
        },
        None => match verify_name(file_name) {
            Some(n) => (n, parent),
            None => {
                return vec![Diagnostic::error(
                    path,
                    0,
                    format!(
                        "Failed to prepare filename {}: Invalid argument",
                        path.display()
                    ),
                )];
            }
        },
    };
    let mut search = vec![dir.to_path_buf()];
    search.extend(opts.search_path.iter().cloned());
    let loader = Loader::new(search);
    match load_diags(&loader, &name, path, opts) {
        Ok(d) => d,
        Err(LoadError::NotFound { .. }) if dropin_of.is_some() => match parse_file(path) {
            Ok(f) => {
                let specs = opts.specifiers.with_unit(&name);
                UnitConfig::from_files(&name, &[f], false, &specs).warnings
            }
            Err(e) => vec![Diagnostic::error(
                path,
                0,
                format!("Failed to read {}: {e}", path.display()),
            )],
        },
        Err(e) => vec![Diagnostic::error(path, 0, e.to_string())],
    }
}

/// Verifies unit files and drop-ins; returns every diagnostic once, in order. Ordering cycles among the units
/// given (After=/Before= that loop back) are errors at the line of the first setting of the cycle.
pub fn verify(paths: &[PathBuf], opts: &VerifyOptions) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for p in paths {
        for d in verify_one(p, opts) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out.extend(ordering_cycle(paths, opts));
    out
}

/// The configurations of the unit files among `paths` (drop-ins and unreadable files left out).
fn unit_configs(paths: &[PathBuf], opts: &VerifyOptions) -> Vec<UnitConfig> {
    paths
        .iter()
        .filter_map(|path| {
            let name = UnitName::parse(path.file_name()?.to_str()?).ok()?;
            let dir = path.parent()?;
            let mut search = vec![dir.to_path_buf()];
            search.extend(opts.search_path.iter().cloned());
            match Loader::new(search).load(&name, &opts.specifiers) {
                Ok(lu) => Some(lu.config),
                Err(LoadError::BadSetting(lu)) => Some(lu.config),
                Err(_) => None,
            }
        })
        .collect()
}

/// An ordering cycle among the units in `paths`, as one error naming every After=/Before= that forms it.
fn ordering_cycle(paths: &[PathBuf], opts: &VerifyOptions) -> Option<Diagnostic> {
    let configs = unit_configs(paths, opts);
    let index: std::collections::HashMap<&str, usize> = configs
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); configs.len()];
    // (from, to) → (file, line, "a.service is after b.service")
    let mut why: std::collections::HashMap<(usize, usize), (PathBuf, u32, String)> =
        Default::default();
    for (i, c) in configs.iter().enumerate() {
        let settings = c
            .after
            .iter()
            .map(|d| (d, true))
            .chain(c.before.iter().map(|d| (d, false)));
        for (dep, after) in settings {
            let Some(&j) = index.get(dep.unit.as_str()) else {
                continue;
            };
            let (from, to) = if after { (i, j) } else { (j, i) };
            if !edges[from].contains(&to) {
                edges[from].push(to);
                let text = format!("{} is after {}", configs[from].name, configs[to].name);
                why.insert((from, to), (dep.file.clone(), dep.line, text));
            }
        }
    }
    let cycle = crate::find_cycle(&edges)?;
    let steps: Vec<&(PathBuf, u32, String)> = cycle
        .windows(2)
        .filter_map(|w| why.get(&(w[0], w[1])))
        .collect();
    let (file, line, _) = steps.first()?;
    let described: Vec<String> = steps
        .iter()
        .map(|(f, l, text)| format!("{text} ({}:{l})", f.display()))
        .collect();
    Some(Diagnostic::error(
        file,
        *line,
        format!("Ordering cycle found: {}.", described.join(", ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn opts() -> VerifyOptions {
        VerifyOptions {
            search_path: Vec::new(),
            specifiers: Specifiers::for_tests(),
            check_executables: false,
        }
    }

    fn lines(d: &[Diagnostic], root: &Path) -> Vec<String> {
        d.iter()
            .map(|d| {
                let rel = d
                    .file
                    .strip_prefix(root)
                    .unwrap_or(&d.file)
                    .display()
                    .to_string();
                format!("{} {rel}:{}: {}", d.severity, d.line, d.message)
            })
            .collect()
    }

    #[test]
    fn ordering_cycles_among_the_files_are_errors_at_their_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.service");
        let b = tmp.path().join("b.service");
        let c = tmp.path().join("c.service");
        fs::write(
            &a,
            "[Unit]\nAfter=b.service\n[Service]\nExecStart=/bin/true\n",
        )
        .unwrap();
        fs::write(
            &b,
            "[Unit]\nDescription=B\n[Service]\nExecStart=/bin/true\n",
        )
        .unwrap();
        // c is before b and after a: that closes the loop a → b → c → a.
        fs::write(
            &c,
            "[Unit]\nBefore=b.service\nAfter=a.service\n[Service]\nExecStart=/bin/true\n",
        )
        .unwrap();
        let d = verify(&[a.clone(), b.clone(), c.clone()], &opts());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].is_error());
        assert_eq!((d[0].file.as_path(), d[0].line), (a.as_path(), 2));
        for (file, line) in [(&a, 2), (&c, 2), (&c, 3)] {
            assert!(
                d[0].message
                    .contains(&format!("({}:{line})", file.display())),
                "{}",
                d[0].message
            );
        }
        // Without the closing edge there is nothing to report.
        assert!(verify(&[a, b], &opts()).is_empty());
    }

    #[test]
    fn verify_table() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let w = |rel: &str, text: &str| -> PathBuf {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
            p
        };
        // Written and verified one after the other: (file, contents, expected diagnostics).
        let cases: Vec<(&str, &str, Vec<&str>)> = vec![
            ("ok.service", "[Service]\nExecStart=/bin/true\n", vec![]),
            // Templates are checked as the instance "i": %i and %I expand.
            ("getty@.service", "[Service]\nExecStart=/sbin/agetty /dev/%I\nUser=%i\n", vec![]),
            (
                "bad.service", "[Unit]\nFoo=1\n[Service]\nExecStart=/bin/echo 'x\n",
                vec![
                    "warning bad.service:2: Unknown key 'Foo' in section [Unit], ignoring.",
                    "error bad.service:4: Unbalanced quoting, ignoring: \"/bin/echo 'x\"",
                ],
            ),
            (
                "empty.service", "[Unit]\nDescription=nothing to run\n",
                vec!["error empty.service:0: Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing."],
            ),
            // A drop-in next to its unit is checked with it.
            ("dup.service", "[Service]\nExecStart=/bin/first\n", vec![]),
            (
                "dup.service.d/x.conf", "[Service]\nExecStart=/bin/second\n",
                vec![
                    "error dup.service.d/x.conf:2: Service has more than one ExecStart= setting, which is only \
                     allowed for Type=oneshot services. Refusing.",
                ],
            ),
            // A drop-in whose unit is elsewhere is checked on its own.
            (
                "user-.slice.d/10.conf", "[Slice]\nTasksMax=33%\nBogus=1\n",
                vec!["warning user-.slice.d/10.conf:3: Unknown key 'Bogus' in section [Slice], ignoring."],
            ),
            (
                "notes.txt", "hello",
                vec!["error notes.txt:0: Failed to prepare filename NOTES: Invalid argument"],
            ),
        ];
        for (rel, text, want) in &cases {
            let path = w(rel, text);
            let got = lines(&verify(std::slice::from_ref(&path), &opts()), root);
            let want: Vec<String> = want
                .iter()
                .map(|s| s.replace("NOTES", &root.join("notes.txt").display().to_string()))
                .collect();
            assert_eq!(got, want, "{}", path.display());
        }
    }

    #[test]
    fn masked_and_executables_are_warnings() {
        let tmp = tempfile::tempdir().unwrap();
        let masked = tmp.path().join("m.service");
        std::os::unix::fs::symlink("/dev/null", &masked).unwrap();
        let d = verify(std::slice::from_ref(&masked), &opts());
        assert_eq!(d.len(), 1);
        assert!(!d[0].is_error());
        assert!(d[0].message.contains("masked"));

        let svc = tmp.path().join("x.service");
        fs::write(&svc, "[Service]\nExecStart=/nonexistent/bin/x\nExecStartPre=-/nonexistent/y\nExecStop=true\n")
            .unwrap();
        let quiet = verify(std::slice::from_ref(&svc), &opts());
        assert!(quiet.is_empty(), "{quiet:?}");
        let mut o = opts();
        o.check_executables = true;
        let d = verify(std::slice::from_ref(&svc), &o);
        let msgs: Vec<String> = d
            .iter()
            .map(|d| format!("{}:{}", d.line, d.message))
            .collect();
        assert_eq!(
            msgs,
            vec!["2:Command /nonexistent/bin/x is not executable: No such file or directory"]
        );
        assert!(d.iter().all(|d| !d.is_error()));
    }
}
