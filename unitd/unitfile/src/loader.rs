//! Finding and loading unit files: the search path, templates, aliases, masking, drop-ins, `.wants/` and
//! `.requires/` directories — systemd's `unit_file_build_name_map()`, `unit_file_find_dropin_paths()` and
//! `conf_files_list()` reduced to what a service manager needs.
//!
//! - **Fragment**: the first `DIR/NAME` in search-path order. For an instance (`web@1.service`) without a file
//!   of its own, the template `web@.service` is used (its settings then see the instance through `%i`).
//! - **Symlinks**: a unit file that is a symlink loads the target's contents. When the target's file name is
//!   another unit name of the same type, the requested name is an *alias*: the unit is loaded under the
//!   target's name (looked up again in the search path, so an override of the real unit wins), with the drop-ins
//!   of both names. A symlink to `/dev/null`, and an empty file, mask the unit ([`LoadError::Masked`]).
//! - **Drop-ins**: for each search-path directory, in order: `NAME.d/`, the alias's and the template's `.d/`,
//!   the `-`-prefix hierarchy (`foo-bar-baz.service` → `foo-bar-.service.d/`, `foo-.service.d/`), and the
//!   type-wide `service.d/`. Of several `*.conf` files with the same file name the first found wins (so an
//!   earlier search-path directory overrides a later one, and a more specific directory a more generic one);
//!   a drop-in symlinked to `/dev/null` masks the ones of its name found later. All drop-ins are then applied
//!   after the fragment in lexical order of their file names.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::config::UnitConfig;
use crate::lexer::{parse_file, ParsedFile};
use crate::name::UnitName;
use crate::specifier::Specifiers;

/// systemd's system unit search path, in priority order (only directories that exist matter).
pub const SYSTEM_UNIT_PATH: &[&str] = &[
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
];

/// How many symlinks are followed before giving up (like the kernel's `ELOOP` limit).
const MAX_LINKS: usize = 32;

/// Why a unit could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No fragment in the search path (nor a template for an instance).
    #[error("Unit {name} not found.")]
    NotFound {
        /// The unit asked for.
        name: UnitName,
    },
    /// The unit file is a symlink to /dev/null (or empty).
    #[error("Unit {name} is masked.")]
    Masked {
        /// The unit asked for.
        name: UnitName,
        /// The masking file.
        path: PathBuf,
    },
    /// A unit file or drop-in could not be read.
    #[error("Failed to read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The unit was parsed but has settings systemd would refuse it for (load state `bad-setting`); the
    /// configuration, with its diagnostics, is inside.
    #[error("Unit {} has a bad unit file setting.", .0.config.name)]
    BadSetting(Box<LoadedUnit>),
}

/// A unit loaded from the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedUnit {
    /// The name that was asked for (an alias, or the unit's own name).
    pub requested: UnitName,
    /// The configuration; `config.name` is the unit's own name.
    pub config: UnitConfig,
}

impl LoadedUnit {
    /// Whether `requested` is an alias of another unit.
    pub fn is_alias(&self) -> bool {
        self.requested != self.config.name
    }
}

/// Which directory a wanted unit was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WantsKind {
    /// `NAME.wants/`: a `Wants=` dependency.
    Wants,
    /// `NAME.requires/`: a `Requires=` dependency.
    Requires,
}

/// A unit found in a `.wants/` or `.requires/` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedUnit {
    /// The kind of dependency.
    pub kind: WantsKind,
    /// The unit that is wanted (a template entry is instantiated with the owner's instance).
    pub unit: UnitName,
    /// The directory entry.
    pub path: PathBuf,
}

/// Where a unit file was found and what it resolves to.
struct Fragment {
    /// The unit's own name (the requested name, or an alias's target).
    name: UnitName,
    /// The file whose contents are the unit.
    file: PathBuf,
}

/// The outcome of following a directory entry's symlinks.
enum Resolved {
    Masked,
    /// The final file, and the file name of the last symlink target when it was a valid unit name.
    File(PathBuf, Option<UnitName>),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LoadError + '_ {
    move |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Follows symlinks from `p`; /dev/null or an empty file mask.
fn resolve(p: &Path) -> Result<Resolved, LoadError> {
    let mut cur = p.to_path_buf();
    let mut target_name = None;
    for _ in 0..MAX_LINKS {
        let meta = fs::symlink_metadata(&cur).map_err(io_err(&cur))?;
        if meta.file_type().is_symlink() {
            let t = fs::read_link(&cur).map_err(io_err(&cur))?;
            let next = match cur.parent() {
                Some(dir) if t.is_relative() => dir.join(&t),
                _ => t,
            };
            if next == Path::new("/dev/null") {
                return Ok(Resolved::Masked);
            }
            target_name = next
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| UnitName::parse(n).ok());
            cur = next;
            continue;
        }
        if meta.file_type().is_char_device() || (meta.is_file() && meta.len() == 0) {
            return Ok(Resolved::Masked);
        }
        if meta.is_dir() {
            return Err(LoadError::Io {
                path: cur,
                source: io::Error::other("is a directory"),
            });
        }
        return Ok(Resolved::File(cur, target_name));
    }
    Err(LoadError::Io {
        path: p.to_path_buf(),
        source: io::Error::other("too many levels of symbolic links"),
    })
}

/// The `-`-prefix hierarchy of drop-in names: `foo-bar-baz.service` → `foo-bar-.service`, `foo-.service`.
fn prefix_dropin_names(name: &UnitName) -> Vec<String> {
    let mut out = Vec::new();
    let mut prefix = name.prefix();
    // A trailing dash (as in `user-.slice` itself) is chopped once before looking further up.
    if let Some(p) = prefix.strip_suffix('-') {
        prefix = p;
    }
    while let Some(pos) = prefix.rfind('-') {
        if pos == 0 {
            break;
        }
        let up = &prefix[..=pos];
        out.push(format!("{up}.{}", name.unit_type().suffix()));
        prefix = &prefix[..pos];
    }
    out
}

/// The entries of a directory, sorted by file name; a missing directory is empty.
fn sorted_entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    v.sort();
    v
}

fn is_dev_null_link(p: &Path) -> bool {
    fs::read_link(p).is_ok_and(|t| t == Path::new("/dev/null"))
}

/// Loads units from a search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loader {
    search_path: Vec<PathBuf>,
}

impl Loader {
    /// A loader over `search_path`, highest priority first.
    pub fn new(search_path: Vec<PathBuf>) -> Loader {
        Loader { search_path }
    }

    /// A loader over systemd's system search path ([`SYSTEM_UNIT_PATH`]), skipping `/lib/systemd/system` when
    /// it is the same directory as `/usr/lib/systemd/system`.
    pub fn system() -> Loader {
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut path = Vec::new();
        for p in SYSTEM_UNIT_PATH {
            let p = PathBuf::from(p);
            let canon = fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
            if !seen.contains(&canon) {
                seen.push(canon);
                path.push(p);
            }
        }
        Loader::new(path)
    }

    /// The search path.
    pub fn search_path(&self) -> &[PathBuf] {
        &self.search_path
    }

    /// The first `DIR/file_name` that exists (as any kind of entry, dangling symlinks included).
    fn find(&self, file_name: &str) -> Option<PathBuf> {
        self.search_path
            .iter()
            .map(|d| d.join(file_name))
            .find(|p| fs::symlink_metadata(p).is_ok())
    }

    fn find_fragment(&self, name: &UnitName, depth: usize) -> Result<Fragment, LoadError> {
        let (entry, via_template) = match self.find(name.as_str()) {
            Some(p) => (p, false),
            None => {
                let t = name
                    .template_name()
                    .filter(|t| t != name)
                    .ok_or_else(|| LoadError::NotFound { name: name.clone() })?;
                let p = self
                    .find(t.as_str())
                    .ok_or_else(|| LoadError::NotFound { name: name.clone() })?;
                (p, true)
            }
        };
        match resolve(&entry)? {
            Resolved::Masked => Err(LoadError::Masked {
                name: name.clone(),
                path: entry,
            }),
            Resolved::File(file, target) => {
                let alias_target = target.filter(|t| {
                    !via_template
                        && t != name
                        && t.unit_type() == name.unit_type()
                        && !(name.is_instance()
                            && t.is_template()
                            && Some(t) == name.template_name().as_ref())
                });
                match alias_target {
                    Some(real) if depth < MAX_LINKS => {
                        // Look the real unit up again, so that an override of it in an earlier directory wins.
                        let real = if real.is_template() {
                            match name.instance() {
                                Some(i) => real.with_instance(i).unwrap_or(real),
                                None => real,
                            }
                        } else {
                            real
                        };
                        match self.find_fragment(&real, depth + 1) {
                            Ok(f) => Ok(f),
                            Err(LoadError::NotFound { .. }) => Ok(Fragment { name: real, file }),
                            Err(e) => Err(e),
                        }
                    }
                    _ => Ok(Fragment {
                        name: name.clone(),
                        file,
                    }),
                }
            }
        }
    }

    /// The drop-in files for a unit known under `names` (its own name first, then aliases), in the order they
    /// are applied.
    pub fn dropin_paths(&self, names: &[UnitName]) -> Vec<PathBuf> {
        let mut dir_names: Vec<String> = Vec::new();
        let mut push = |n: String| {
            if !dir_names.contains(&n) {
                dir_names.push(n);
            }
        };
        for n in names {
            push(n.as_str().to_string());
            if let Some(t) = n.template_name() {
                push(t.as_str().to_string());
            }
        }
        for n in names {
            for p in prefix_dropin_names(n) {
                push(p);
            }
        }
        if let Some(n) = names.first() {
            push(n.unit_type().suffix().to_string());
        }
        let mut chosen: BTreeMap<String, Option<PathBuf>> = BTreeMap::new();
        for dir in &self.search_path {
            for n in &dir_names {
                for (file, path) in sorted_entries(&dir.join(format!("{n}.d"))) {
                    if !file.ends_with(".conf") || chosen.contains_key(&file) {
                        continue;
                    }
                    if is_dev_null_link(&path) {
                        chosen.insert(file, None);
                    } else if path.is_file() {
                        chosen.insert(file, Some(path));
                    }
                }
            }
        }
        chosen.into_values().flatten().collect()
    }

    /// Loads `name`: fragment, drop-ins, validation. Specifiers see the unit's own name and fragment path.
    pub fn load(&self, name: &UnitName, specs: &Specifiers) -> Result<LoadedUnit, LoadError> {
        let fragment = self.find_fragment(name, 0)?;
        let mut names = vec![fragment.name.clone()];
        if fragment.name != *name {
            names.push(name.clone());
        }
        let mut files: Vec<ParsedFile> =
            vec![parse_file(&fragment.file).map_err(io_err(&fragment.file))?];
        for d in self.dropin_paths(&names) {
            files.push(parse_file(&d).map_err(io_err(&d))?);
        }
        let specs = specs
            .with_unit(&fragment.name)
            .with_fragment(Some(&fragment.file));
        let config = UnitConfig::from_files(&fragment.name, &files, true, &specs);
        let loaded = LoadedUnit {
            requested: name.clone(),
            config,
        };
        if loaded.config.has_errors() {
            return Err(LoadError::BadSetting(Box::new(loaded)));
        }
        Ok(loaded)
    }

    /// Every unit file in the search path (`ListUnitFiles`): valid unit names (templates included) that are
    /// files or symlinks, the first of each name winning; sorted by name. The path is the directory entry
    /// (not the symlink target).
    pub fn list_unit_files(&self) -> Vec<(UnitName, PathBuf)> {
        let mut out: BTreeMap<UnitName, PathBuf> = BTreeMap::new();
        for dir in &self.search_path {
            for (file, path) in sorted_entries(dir) {
                let Ok(name) = UnitName::parse(&file) else {
                    continue;
                };
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.is_dir() {
                    continue;
                }
                out.entry(name).or_insert(path);
            }
        }
        out.into_iter().collect()
    }

    /// The units in `NAME.wants/` and `NAME.requires/` (and the template's, for an instance) across the search
    /// path: what `enable` linked and what `default.target.wants/` pulls in. Entries masked by a /dev/null
    /// symlink are skipped; the first entry of a unit per kind wins.
    pub fn wants_dirs(&self, name: &UnitName) -> Vec<WantedUnit> {
        let mut owners = vec![name.clone()];
        if let Some(t) = name.template_name().filter(|t| t != name) {
            owners.push(t);
        }
        let mut out: Vec<WantedUnit> = Vec::new();
        for dir in &self.search_path {
            for owner in &owners {
                for (suffix, kind) in [
                    ("wants", WantsKind::Wants),
                    ("requires", WantsKind::Requires),
                ] {
                    let d = dir.join(format!("{}.{suffix}", owner.as_str()));
                    for (file, path) in sorted_entries(&d) {
                        let Ok(mut unit) = UnitName::parse(&file) else {
                            continue;
                        };
                        if unit.is_template() {
                            match name.instance().and_then(|i| unit.with_instance(i).ok()) {
                                Some(u) => unit = u,
                                None => continue,
                            }
                        }
                        if is_dev_null_link(&path)
                            || out.iter().any(|w| w.kind == kind && w.unit == unit)
                        {
                            continue;
                        }
                        out.push(WantedUnit { kind, unit, path });
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Two search-path directories: `etc` (first) and `lib`.
    struct Tree {
        _tmp: tempfile::TempDir,
        etc: PathBuf,
        lib: PathBuf,
    }

    impl Tree {
        fn new() -> Tree {
            let tmp = tempfile::tempdir().unwrap();
            let etc = tmp.path().join("etc");
            let lib = tmp.path().join("lib");
            fs::create_dir_all(&etc).unwrap();
            fs::create_dir_all(&lib).unwrap();
            Tree {
                _tmp: tmp,
                etc,
                lib,
            }
        }

        fn write(&self, dir: &Path, rel: &str, text: &str) -> PathBuf {
            let p = dir.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
            p
        }

        fn loader(&self) -> Loader {
            Loader::new(vec![self.etc.clone(), self.lib.clone()])
        }
    }

    fn name(s: &str) -> UnitName {
        UnitName::parse(s).unwrap()
    }

    fn load(t: &Tree, n: &str) -> Result<LoadedUnit, LoadError> {
        t.loader().load(&name(n), &Specifiers::for_tests())
    }

    fn start_argv(lu: &LoadedUnit) -> Vec<String> {
        lu.config.service.as_ref().unwrap().exec_start[0]
            .argv
            .clone()
    }

    #[test]
    fn first_directory_wins() {
        let t = Tree::new();
        t.write(&t.lib, "web.service", "[Service]\nExecStart=/bin/lib\n");
        let lu = load(&t, "web.service").unwrap();
        assert_eq!(start_argv(&lu), vec!["/bin/lib"]);
        let etc = t.write(&t.etc, "web.service", "[Service]\nExecStart=/bin/etc\n");
        let lu = load(&t, "web.service").unwrap();
        assert_eq!(start_argv(&lu), vec!["/bin/etc"]);
        assert_eq!(lu.config.fragment_path, Some(etc));
        assert!(!lu.is_alias());
    }

    #[test]
    fn instance_uses_template() {
        let t = Tree::new();
        let tmpl = t.write(
            &t.lib,
            "web@.service",
            "[Unit]\nDescription=web %i\n[Service]\nExecStart=/bin/web -p %i\n",
        );
        let lu = load(&t, "web@8080.service").unwrap();
        assert_eq!(lu.config.name.as_str(), "web@8080.service");
        assert_eq!(lu.config.description.as_deref(), Some("web 8080"));
        assert_eq!(start_argv(&lu), vec!["/bin/web", "-p", "8080"]);
        assert_eq!(lu.config.fragment_path, Some(tmpl));
        // An instance file of its own wins over the template.
        t.write(&t.lib, "web@9.service", "[Service]\nExecStart=/bin/nine\n");
        assert_eq!(
            start_argv(&load(&t, "web@9.service").unwrap()),
            vec!["/bin/nine"]
        );
    }

    #[test]
    fn dropins_order_override_and_reset() {
        let t = Tree::new();
        t.write(
            &t.lib,
            "web@.service",
            "[Service]\nExecStart=/bin/web\nEnvironment=A=lib\n",
        );
        // Same file name in both directories: etc wins.
        t.write(
            &t.lib,
            "web@1.service.d/10-env.conf",
            "[Service]\nEnvironment=A=lib-dropin\n",
        );
        t.write(
            &t.etc,
            "web@1.service.d/10-env.conf",
            "[Service]\nEnvironment=A=etc-dropin\n",
        );
        // Template and type-wide drop-ins apply too, in lexical order of file names.
        t.write(
            &t.lib,
            "web@.service.d/20-tmpl.conf",
            "[Service]\nEnvironment=B=tmpl\n",
        );
        t.write(
            &t.lib,
            "service.d/05-all.conf",
            "[Service]\nEnvironment=C=all A=all\n",
        );
        // A later drop-in resets ExecStart.
        t.write(
            &t.etc,
            "web@1.service.d/30-exec.conf",
            "[Service]\nExecStart=\nExecStart=/bin/new %i\n",
        );
        // A drop-in masked by /dev/null in etc hides the lib one.
        t.write(
            &t.lib,
            "web@1.service.d/40-masked.conf",
            "[Service]\nEnvironment=D=masked\n",
        );
        fs::create_dir_all(t.etc.join("web@1.service.d")).unwrap();
        symlink("/dev/null", t.etc.join("web@1.service.d/40-masked.conf")).unwrap();
        // Non-.conf files are ignored.
        t.write(
            &t.etc,
            "web@1.service.d/README",
            "[Service]\nExecStart=/bin/no\n",
        );

        let lu = load(&t, "web@1.service").unwrap();
        let files: Vec<String> = lu
            .config
            .dropin_paths
            .iter()
            .map(|p| {
                p.strip_prefix(t.etc.parent().unwrap())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            files,
            vec![
                "lib/service.d/05-all.conf",
                "etc/web@1.service.d/10-env.conf",
                "lib/web@.service.d/20-tmpl.conf",
                "etc/web@1.service.d/30-exec.conf",
            ]
        );
        let s = lu.config.service.as_ref().unwrap();
        assert_eq!(
            s.exec_context.environment,
            vec![
                ("A".to_string(), "etc-dropin".to_string()),
                ("C".to_string(), "all".to_string()),
                ("B".to_string(), "tmpl".to_string()),
            ]
        );
        assert_eq!(start_argv(&lu), vec!["/bin/new", "1"]);
    }

    #[test]
    fn prefix_dropins() {
        let t = Tree::new();
        t.write(&t.lib, "user-1000.slice", "[Slice]\n");
        t.write(
            &t.lib,
            "user-.slice.d/10-defaults.conf",
            "[Slice]\nTasksMax=33%\nBogus=1\n",
        );
        let lu = load(&t, "user-1000.slice").unwrap();
        assert_eq!(lu.config.dropin_paths.len(), 1);
        assert_eq!(lu.config.warnings.len(), 1);
        assert!(lu.config.warnings[0]
            .file
            .ends_with("user-.slice.d/10-defaults.conf"));
    }

    #[test]
    fn aliases_masks_and_errors() {
        let t = Tree::new();
        t.write(
            &t.lib,
            "real.service",
            "[Service]\nExecStart=/bin/real %n\n",
        );
        symlink("real.service", t.lib.join("alias.service")).unwrap();
        t.write(
            &t.etc,
            "alias.service.d/x.conf",
            "[Service]\nEnvironment=VIA=alias\n",
        );
        let lu = load(&t, "alias.service").unwrap();
        assert!(lu.is_alias());
        assert_eq!(lu.config.name.as_str(), "real.service");
        assert_eq!(start_argv(&lu), vec!["/bin/real", "real.service"]);
        assert_eq!(
            lu.config
                .service
                .as_ref()
                .unwrap()
                .exec_context
                .environment
                .len(),
            1
        );

        // A symlink to a file that is not a unit name: same unit, target's contents.
        let other = t.write(
            t.lib.parent().unwrap(),
            "stash/unit.txt",
            "[Service]\nExecStart=/bin/linked\n",
        );
        symlink(&other, t.etc.join("linked.service")).unwrap();
        let lu = load(&t, "linked.service").unwrap();
        assert!(!lu.is_alias());
        assert_eq!(start_argv(&lu), vec!["/bin/linked"]);
        assert_eq!(lu.config.fragment_path, Some(other));

        symlink("/dev/null", t.etc.join("real.service")).unwrap();
        assert!(matches!(
            load(&t, "real.service"),
            Err(LoadError::Masked { .. })
        ));
        t.write(&t.lib, "empty.service", "");
        assert!(matches!(
            load(&t, "empty.service"),
            Err(LoadError::Masked { .. })
        ));
        assert!(matches!(
            load(&t, "nope.service"),
            Err(LoadError::NotFound { .. })
        ));
        assert!(matches!(
            load(&t, "nope@1.service"),
            Err(LoadError::NotFound { .. })
        ));

        t.write(&t.lib, "bad.service", "[Service]\nExecStart=/bin/a \"b\n");
        match load(&t, "bad.service") {
            Err(LoadError::BadSetting(lu)) => {
                let e = lu.config.errors().next().unwrap();
                assert_eq!(e.line, 2);
                assert!(e.file.ends_with("bad.service"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn list_unit_files_and_wants() {
        let t = Tree::new();
        t.write(&t.lib, "a.service", "[Service]\nExecStart=/bin/a\n");
        let etc_a = t.write(&t.etc, "a.service", "[Service]\nExecStart=/bin/a\n");
        t.write(&t.lib, "b@.service", "[Service]\nExecStart=/bin/b\n");
        t.write(&t.lib, "not-a-unit.txt", "");
        fs::create_dir_all(t.lib.join("multi-user.target.wants")).unwrap();
        symlink(
            "../a.service",
            t.lib.join("multi-user.target.wants/a.service"),
        )
        .unwrap();
        symlink(
            "../b@.service",
            t.lib.join("multi-user.target.wants/b@x.service"),
        )
        .unwrap();
        fs::create_dir_all(t.etc.join("multi-user.target.wants")).unwrap();
        symlink("/dev/null", t.etc.join("multi-user.target.wants/c.service")).unwrap();
        fs::create_dir_all(t.etc.join("multi-user.target.requires")).unwrap();
        symlink(
            "../a.service",
            t.etc.join("multi-user.target.requires/a.service"),
        )
        .unwrap();
        fs::create_dir_all(t.lib.join("getty@.target.wants")).unwrap();
        symlink(
            "../b@.service",
            t.lib.join("getty@.target.wants/b@.service"),
        )
        .unwrap();

        let files: Vec<(String, PathBuf)> = t
            .loader()
            .list_unit_files()
            .into_iter()
            .map(|(n, p)| (n.as_str().to_string(), p))
            .collect();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0], ("a.service".to_string(), etc_a));
        assert_eq!(files[1].0, "b@.service");

        let wants = t.loader().wants_dirs(&name("multi-user.target"));
        let got: Vec<(WantsKind, &str)> = wants.iter().map(|w| (w.kind, w.unit.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (WantsKind::Requires, "a.service"),
                (WantsKind::Wants, "a.service"),
                (WantsKind::Wants, "b@x.service"),
            ]
        );
        let inst = t.loader().wants_dirs(&name("getty@tty1.target"));
        assert_eq!(inst.len(), 1);
        assert_eq!(inst[0].unit.as_str(), "b@tty1.service");
    }

    #[test]
    fn prefix_hierarchy() {
        let n = UnitName::parse("foo-bar-baz.service").unwrap();
        assert_eq!(
            prefix_dropin_names(&n),
            vec!["foo-bar-.service", "foo-.service"]
        );
        let s = UnitName::parse("user-1000.slice").unwrap();
        assert_eq!(prefix_dropin_names(&s), vec!["user-.slice"]);
        let u = UnitName::parse("user-.slice").unwrap();
        assert!(prefix_dropin_names(&u).is_empty());
        let plain = UnitName::parse("web.service").unwrap();
        assert!(prefix_dropin_names(&plain).is_empty());
        let lead = UnitName::parse("-x.service").unwrap();
        assert!(prefix_dropin_names(&lead).is_empty());
    }
}
