//! `%` specifiers: the values they stand for ([`Specifiers`]) and their expansion (`specifier_printf()` in
//! systemd's `src/shared/specifier.c`, tables from `src/core/unit-printf.c` and `src/shared/install-printf.c`).
//!
//! Two tables exist, as in systemd:
//! - [`SpecifierSet::Full`] (`unit_full_printf()`): command lines, paths, `Environment=`, `Description=`, …;
//!   every specifier of systemd.unit(5) "Specifiers": `%a %A %b %B %C %d %E %f %g %G %h %H %i %I %j %J %l %L
//!   %m %M %n %N %o %p %P %q %s %S %t %T %u %U %v %V %w %W %y %Y %%`, plus the deprecated `%c %r %R`
//!   (expanded, with a warning);
//! - [`SpecifierSet::Name`] (`unit_name_printf()`/`install_name_printf()`): dependency lists and `[Install]`;
//!   only what is safe inside a unit name: `%i %j %n %N %p`, the host specifiers (`%a %A %b %B %H %l %m %M %o
//!   %v %w %W`) and the user ones (`%g %G %u %U`).
//!
//! An unknown specifier is an error ([`SpecifierError::Unknown`]); what that means for the unit depends on the
//! setting (fatal in command lines, ignored with a warning in `Description=`), decided by the setting parsers.
//! A `%` at the very end of the text is kept.
//!
//! The values are those of the system service manager (`%t` = `/run`, `%S` = `/var/lib`, …). Host values are
//! read once by [`Specifiers::from_host`]; tests use [`Specifiers::for_tests`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::name::{unescape, unescape_path, NameError, UnitName};

/// Which specifier table applies to a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecifierSet {
    /// `unit_full_printf()`: all specifiers.
    Full,
    /// `unit_name_printf()`: the specifiers whose values are valid in unit names.
    Name,
}

/// Why a text could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecifierError {
    /// `%` followed by a character that is not a specifier of the table (systemd: `EBADSLT`, "Invalid slot").
    #[error("unknown specifier '%{0}'")]
    Unknown(char),
    /// A host value that could not be read (no `/etc/machine-id`, …).
    #[error("specifier '%{0}' is unavailable: {1}")]
    Unavailable(char, &'static str),
    /// `%f`, `%I`, `%J` or `%P` of a name that does not unescape.
    #[error("specifier '%{0}': {1}")]
    Unescape(char, NameError),
}

/// The account of the service manager, for `%u %U %g %G %h %s`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// `%u`
    pub name: String,
    /// `%U`
    pub uid: u32,
    /// `%g`
    pub group: String,
    /// `%G`
    pub gid: u32,
    /// `%h`
    pub home: String,
    /// `%s`
    pub shell: String,
}

impl UserInfo {
    /// root, as the system manager sees itself.
    pub fn root() -> Self {
        UserInfo {
            name: "root".into(),
            uid: 0,
            group: "root".into(),
            gid: 0,
            home: "/root".into(),
            shell: "/bin/sh".into(),
        }
    }
}

/// Everything a specifier can stand for: the unit's name and the host's identity and directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifiers {
    /// The unit the text belongs to (`%n %N %p %P %i %I %j %J %f %d`); the loader sets it per unit.
    pub unit: Option<UnitName>,
    /// The unit's fragment (`%y`, and its directory `%Y`); the loader sets it.
    pub fragment_path: Option<PathBuf>,
    /// `%H`: the host name (`%l` is its first label).
    pub hostname: String,
    /// `%q`: `PRETTY_HOSTNAME=` of /etc/machine-info (falls back to the host name).
    pub pretty_hostname: Option<String>,
    /// `%m`: /etc/machine-id; `None` when unreadable (then `%m` is an error).
    pub machine_id: Option<String>,
    /// `%b`: the boot ID without dashes; `None` when unreadable.
    pub boot_id: Option<String>,
    /// `%v`: the kernel release.
    pub kernel_release: String,
    /// `%a`: the architecture in systemd's spelling (`x86-64`, `arm64`, …).
    pub architecture: String,
    /// os-release fields by key (`ID`, `VERSION_ID`, `BUILD_ID`, `VARIANT_ID`, `IMAGE_ID`, `IMAGE_VERSION`) for
    /// `%o %w %B %W %M %A`; missing keys expand to "".
    pub os_release: BTreeMap<String, String>,
    /// `%t`: the runtime directory, `/run` for the system manager.
    pub runtime_dir: PathBuf,
    /// `%S`: `/var/lib`.
    pub state_dir: PathBuf,
    /// `%C`: `/var/cache`.
    pub cache_dir: PathBuf,
    /// `%L`: `/var/log`.
    pub logs_dir: PathBuf,
    /// `%E`: `/etc`.
    pub config_dir: PathBuf,
    /// `%T`: `/tmp` (or `$TMPDIR`).
    pub tmp_dir: PathBuf,
    /// `%V`: `/var/tmp` (or `$TMPDIR`).
    pub var_tmp_dir: PathBuf,
    /// `%d` is this directory plus the unit name: `/run/credentials`.
    pub credentials_dir: PathBuf,
    /// `%u %U %g %G %h %s`.
    pub user: UserInfo,
    /// Not a specifier but a host fact the same settings need: physical memory in bytes, the base of
    /// percentages in `MemoryMax=`.
    pub physical_memory: u64,
    /// Likewise: the host's task limit (`min(pid_max, threads-max) - 1`), the base of `TasksMax=` percentages.
    pub system_tasks_max: u64,
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = fs::read_to_string(path).ok()?;
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Parses `KEY=VALUE` lines of an os-release/machine-info style file, dropping one level of quotes.
pub(crate) fn parse_env_like(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            out.insert(k.trim().to_string(), v.to_string());
        }
    }
    out
}

fn architecture() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "x86-64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64-le",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "loongarch64" => "loongarch64",
        other => other,
    }
    .to_string()
}

/// The current process's account from /proc/self/status and /etc/passwd, /etc/group.
fn current_user() -> UserInfo {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let (Some(uid), Some(gid)) = (field("Uid:"), field("Gid:")) else {
        return UserInfo::root();
    };
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let pw = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid));
    let groups = fs::read_to_string("/etc/group").unwrap_or_default();
    let group = groups
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[2].parse::<u32>().ok() == Some(gid))
        .map_or_else(|| gid.to_string(), |f| f[0].to_string());
    let root = uid == 0;
    UserInfo {
        name: pw
            .as_ref()
            .map_or_else(|| uid.to_string(), |f| f[0].to_string()),
        uid,
        group,
        gid,
        home: pw
            .as_ref()
            .map(|f| f[5].to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| if root { "/root".into() } else { "/".into() }),
        shell: pw
            .as_ref()
            .map(|f| f[6].to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into()),
    }
}

/// `MemTotal` of /proc/meminfo in bytes (1 GiB when unreadable).
fn physical_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(1 << 30, |kb| kb.saturating_mul(1024))
}

/// systemd's `system_tasks_max()`: the smaller of `kernel.pid_max` and `kernel.threads-max`, minus one.
fn system_tasks_max() -> u64 {
    let read = |p: &str| read_trimmed(p).and_then(|v| v.parse::<u64>().ok());
    let limit = [
        read("/proc/sys/kernel/pid_max"),
        read("/proc/sys/kernel/threads-max"),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(4_194_304);
    limit.saturating_sub(1)
}

fn tmp_dir(default: &str) -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(t) if Path::new(&t).is_absolute() => PathBuf::from(t),
        _ => PathBuf::from(default),
    }
}

impl Specifiers {
    /// Reads the host's values: host name, machine and boot ID, kernel release, os-release, the current user.
    /// No unit is set; the loader sets it with [`Specifiers::with_unit`].
    pub fn from_host() -> Specifiers {
        let hostname = read_trimmed("/proc/sys/kernel/hostname")
            .or_else(|| read_trimmed("/etc/hostname"))
            .unwrap_or_else(|| "localhost".into());
        let os_release = fs::read_to_string("/etc/os-release")
            .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
            .map(|t| parse_env_like(&t))
            .unwrap_or_default();
        let pretty_hostname = fs::read_to_string("/etc/machine-info")
            .ok()
            .and_then(|t| parse_env_like(&t).remove("PRETTY_HOSTNAME"))
            .filter(|s| !s.is_empty());
        Specifiers {
            unit: None,
            fragment_path: None,
            hostname,
            pretty_hostname,
            machine_id: read_trimmed("/etc/machine-id")
                .filter(|m| m.len() == 32 && m.bytes().all(|c| c.is_ascii_hexdigit())),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id").map(|b| b.replace('-', "")),
            kernel_release: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
            architecture: architecture(),
            os_release,
            runtime_dir: PathBuf::from("/run"),
            state_dir: PathBuf::from("/var/lib"),
            cache_dir: PathBuf::from("/var/cache"),
            logs_dir: PathBuf::from("/var/log"),
            config_dir: PathBuf::from("/etc"),
            tmp_dir: tmp_dir("/tmp"),
            var_tmp_dir: tmp_dir("/var/tmp"),
            credentials_dir: PathBuf::from("/run/credentials"),
            user: current_user(),
            physical_memory: physical_memory(),
            system_tasks_max: system_tasks_max(),
        }
    }

    /// Fixed values for tests: host `testhost.example.com`, machine ID `0123…cdef`, boot ID `fedc…3210`,
    /// kernel `6.1.0-test`, os-release `ID=flotilla VERSION_ID=1`, user root.
    pub fn for_tests() -> Specifiers {
        let mut os_release = BTreeMap::new();
        os_release.insert("ID".to_string(), "flotilla".to_string());
        os_release.insert("VERSION_ID".to_string(), "1".to_string());
        Specifiers {
            unit: None,
            fragment_path: None,
            hostname: "testhost.example.com".into(),
            pretty_hostname: None,
            machine_id: Some("0123456789abcdef0123456789abcdef".into()),
            boot_id: Some("fedcba9876543210fedcba9876543210".into()),
            kernel_release: "6.1.0-test".into(),
            architecture: "x86-64".into(),
            os_release,
            runtime_dir: PathBuf::from("/run"),
            state_dir: PathBuf::from("/var/lib"),
            cache_dir: PathBuf::from("/var/cache"),
            logs_dir: PathBuf::from("/var/log"),
            config_dir: PathBuf::from("/etc"),
            tmp_dir: PathBuf::from("/tmp"),
            var_tmp_dir: PathBuf::from("/var/tmp"),
            credentials_dir: PathBuf::from("/run/credentials"),
            user: UserInfo::root(),
            physical_memory: 8 << 30,
            system_tasks_max: 4_194_303,
        }
    }

    /// A copy for one unit.
    pub fn with_unit(&self, unit: &UnitName) -> Specifiers {
        Specifiers {
            unit: Some(unit.clone()),
            ..self.clone()
        }
    }

    /// A copy with the unit's fragment path (for `%y`/`%Y`).
    pub fn with_fragment(&self, path: Option<&Path>) -> Specifiers {
        Specifiers {
            fragment_path: path.map(Path::to_path_buf),
            ..self.clone()
        }
    }

    /// Expands the specifiers of `set` in `text`.
    pub fn expand(&self, text: &str, set: SpecifierSet) -> Result<String, SpecifierError> {
        self.expand_noting(text, set, &mut Vec::new())
    }

    /// Like [`Specifiers::expand`], collecting the deprecated specifiers (`%c %r %R`) it met.
    pub(crate) fn expand_noting(
        &self,
        text: &str,
        set: SpecifierSet,
        deprecated: &mut Vec<char>,
    ) -> Result<String, SpecifierError> {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(s) = chars.next() else {
                out.push('%');
                break;
            };
            if s == '%' {
                out.push('%');
                continue;
            }
            if !in_set(s, set) {
                return Err(SpecifierError::Unknown(s));
            }
            if matches!(s, 'c' | 'r' | 'R') {
                deprecated.push(s);
            }
            out.push_str(&self.value(s)?);
        }
        Ok(out)
    }

    fn unit_name(&self) -> Option<&UnitName> {
        self.unit.as_ref()
    }

    fn last_component(&self) -> String {
        let prefix = self.unit_name().map_or("", |u| u.prefix());
        prefix
            .rsplit_once('-')
            .map_or(prefix, |(_, last)| last)
            .to_string()
    }

    fn os(&self, key: &str) -> String {
        self.os_release.get(key).cloned().unwrap_or_default()
    }

    fn value(&self, s: char) -> Result<String, SpecifierError> {
        let unit = self.unit_name();
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let unesc = |t: &str| unescape(t).map_err(|e| SpecifierError::Unescape(s, e));
        Ok(match s {
            'n' => unit.map_or_else(String::new, |u| u.as_str().to_string()),
            'N' => unit.map_or_else(String::new, |u| u.prefix_and_instance().to_string()),
            'p' => unit.map_or_else(String::new, |u| u.prefix().to_string()),
            'P' => unesc(unit.map_or("", |u| u.prefix()))?,
            'i' => unit.and_then(|u| u.instance()).unwrap_or("").to_string(),
            'I' => unesc(unit.and_then(|u| u.instance()).unwrap_or(""))?,
            'j' => self.last_component(),
            'J' => unesc(&self.last_component())?,
            'f' => {
                let src = unit.map_or("", |u| u.instance().unwrap_or(u.prefix()));
                unescape_path(src).map_err(|e| SpecifierError::Unescape(s, e))?
            }
            'y' => self.fragment_path.as_deref().map(path).unwrap_or_default(),
            'Y' => self
                .fragment_path
                .as_deref()
                .and_then(Path::parent)
                .map(path)
                .unwrap_or_default(),
            'c' => format!("/system.slice/{}", unit.map_or("", |u| u.as_str())),
            'r' => "/system.slice".into(),
            'R' => "/".into(),
            'C' => path(&self.cache_dir),
            'd' => path(&self.credentials_dir.join(unit.map_or("", |u| u.as_str()))),
            'E' => path(&self.config_dir),
            'L' => path(&self.logs_dir),
            'S' => path(&self.state_dir),
            't' => path(&self.runtime_dir),
            'T' => path(&self.tmp_dir),
            'V' => path(&self.var_tmp_dir),
            'h' => self.user.home.clone(),
            's' => self.user.shell.clone(),
            'u' => self.user.name.clone(),
            'U' => self.user.uid.to_string(),
            'g' => self.user.group.clone(),
            'G' => self.user.gid.to_string(),
            'H' => self.hostname.clone(),
            'l' => self.hostname.split('.').next().unwrap_or("").to_string(),
            'q' => self
                .pretty_hostname
                .clone()
                .unwrap_or_else(|| self.hostname.clone()),
            'm' => self
                .machine_id
                .clone()
                .ok_or(SpecifierError::Unavailable('m', "no machine ID"))?,
            'b' => self
                .boot_id
                .clone()
                .ok_or(SpecifierError::Unavailable('b', "no boot ID"))?,
            'v' => self.kernel_release.clone(),
            'a' => self.architecture.clone(),
            'o' => self.os("ID"),
            'w' => self.os("VERSION_ID"),
            'B' => self.os("BUILD_ID"),
            'W' => self.os("VARIANT_ID"),
            'M' => self.os("IMAGE_ID"),
            'A' => self.os("IMAGE_VERSION"),
            other => return Err(SpecifierError::Unknown(other)),
        })
    }
}

fn in_set(c: char, set: SpecifierSet) -> bool {
    const SYSTEM: &str = "aAbBHlmMovwW";
    const CREDS: &str = "gGuU";
    match set {
        SpecifierSet::Full => {
            "nNpPiIjJfyYcrRCdELStTVhsq".contains(c) || SYSTEM.contains(c) || CREDS.contains(c)
        }
        SpecifierSet::Name => "ijnNp".contains(c) || SYSTEM.contains(c) || CREDS.contains(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(unit: &str) -> Specifiers {
        Specifiers::for_tests().with_unit(&UnitName::parse(unit).unwrap())
    }

    #[test]
    fn full_table() {
        let s = specs("foo-bar@a\\x2db-c.service")
            .with_fragment(Some(Path::new("/etc/systemd/system/x.service")));
        let cases: &[(&str, &str)] = &[
            ("%n", "foo-bar@a\\x2db-c.service"),
            ("%N", "foo-bar@a\\x2db-c"),
            ("%p", "foo-bar"),
            ("%P", "foo/bar"),
            ("%i", "a\\x2db-c"),
            ("%I", "a-b/c"),
            ("%j", "bar"),
            ("%J", "bar"),
            ("%f", "/a-b/c"),
            ("%H", "testhost.example.com"),
            ("%l", "testhost"),
            ("%m", "0123456789abcdef0123456789abcdef"),
            ("%b", "fedcba9876543210fedcba9876543210"),
            ("%t", "/run"),
            (
                "%S/%C/%L/%E/%T/%V",
                "/var/lib//var/cache//var/log//etc//tmp//var/tmp",
            ),
            ("%d", "/run/credentials/foo-bar@a\\x2db-c.service"),
            ("%u %U %g %G %h %s", "root 0 root 0 /root /bin/sh"),
            ("%o %w %B", "flotilla 1 "),
            ("%v %a", "6.1.0-test x86-64"),
            ("%y %Y", "/etc/systemd/system/x.service /etc/systemd/system"),
            ("100%%", "100%"),
            ("trailing %", "trailing %"),
            ("no specifiers", "no specifiers"),
            ("%q", "testhost.example.com"),
        ];
        for (input, want) in cases {
            assert_eq!(
                s.expand(input, SpecifierSet::Full).as_deref(),
                Ok(*want),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn plain_and_template_units() {
        let s = specs("web.service");
        assert_eq!(
            s.expand("%i|%I|%p|%N|%f", SpecifierSet::Full).unwrap(),
            "||web|web|/web"
        );
        let t = specs("getty@.service");
        assert_eq!(t.expand("%i%I", SpecifierSet::Full).unwrap(), "");
        let i = specs("getty@tty1.service");
        assert_eq!(
            i.expand("/dev/%I", SpecifierSet::Full).unwrap(),
            "/dev/tty1"
        );
    }

    #[test]
    fn errors_and_sets() {
        let s = specs("web@1.service");
        assert_eq!(
            s.expand("%z", SpecifierSet::Full),
            Err(SpecifierError::Unknown('z'))
        );
        assert_eq!(
            s.expand("%I.service", SpecifierSet::Name),
            Err(SpecifierError::Unknown('I'))
        );
        assert_eq!(
            s.expand("%t", SpecifierSet::Name),
            Err(SpecifierError::Unknown('t'))
        );
        assert_eq!(
            s.expand("%p-%i.target", SpecifierSet::Name).unwrap(),
            "web-1.target"
        );
        let mut no_id = Specifiers::for_tests();
        no_id.machine_id = None;
        assert!(matches!(
            no_id.expand("%m", SpecifierSet::Full),
            Err(SpecifierError::Unavailable('m', _))
        ));
        let mut dep = Vec::new();
        assert_eq!(
            s.expand_noting("%c", SpecifierSet::Full, &mut dep).unwrap(),
            "/system.slice/web@1.service"
        );
        assert_eq!(dep, vec!['c']);
    }

    #[test]
    fn host_values_are_read() {
        let h = Specifiers::from_host();
        assert!(!h.hostname.is_empty());
        assert_eq!(h.runtime_dir, PathBuf::from("/run"));
        assert!(h.physical_memory > 0);
        assert!(h.system_tasks_max > 0);
        if let Some(b) = &h.boot_id {
            assert!(!b.contains('-'));
        }
    }
}
