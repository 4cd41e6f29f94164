//! Unit names: parsing and validation (`unit_name_is_valid()` in systemd's `src/basic/unit-name.c`), templates
//! and instances, and the `systemd-escape` rules for putting strings and paths into unit names.
//!
//! A name is `PREFIX[@INSTANCE].TYPE`: the prefix and instance use `[A-Za-z0-9:_.\-]` plus `\` (for `\xNN`
//! escapes), the instance may also contain `@`, the whole name is at most 255 bytes, and the type is one of the
//! eleven systemd unit types. `web@.service` is a template, `web@1.service` an instance of it.

use std::fmt;
use std::str::FromStr;

/// systemd's `UNIT_NAME_MAX` minus the terminating NUL.
pub const UNIT_NAME_MAX: usize = 255;

/// The unit types systemd knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitType {
    /// `.service`
    Service,
    /// `.socket`
    Socket,
    /// `.target`
    Target,
    /// `.device`
    Device,
    /// `.mount`
    Mount,
    /// `.automount`
    Automount,
    /// `.swap`
    Swap,
    /// `.timer`
    Timer,
    /// `.path`
    Path,
    /// `.slice`
    Slice,
    /// `.scope`
    Scope,
}

impl UnitType {
    /// Every type, in systemd's order.
    pub const ALL: [UnitType; 11] = [
        UnitType::Service,
        UnitType::Mount,
        UnitType::Swap,
        UnitType::Socket,
        UnitType::Target,
        UnitType::Device,
        UnitType::Automount,
        UnitType::Timer,
        UnitType::Path,
        UnitType::Slice,
        UnitType::Scope,
    ];

    /// The suffix without the dot: `service`, `socket`, …
    pub fn suffix(self) -> &'static str {
        match self {
            UnitType::Service => "service",
            UnitType::Socket => "socket",
            UnitType::Target => "target",
            UnitType::Device => "device",
            UnitType::Mount => "mount",
            UnitType::Automount => "automount",
            UnitType::Swap => "swap",
            UnitType::Timer => "timer",
            UnitType::Path => "path",
            UnitType::Slice => "slice",
            UnitType::Scope => "scope",
        }
    }

    /// The type for a suffix (without the dot).
    pub fn from_suffix(s: &str) -> Option<UnitType> {
        UnitType::ALL.into_iter().find(|t| t.suffix() == s)
    }

    /// The type-specific section of the unit file (`[Service]`, `[Socket]`, …); targets and devices have none.
    pub fn section(self) -> Option<&'static str> {
        match self {
            UnitType::Service => Some("Service"),
            UnitType::Socket => Some("Socket"),
            UnitType::Mount => Some("Mount"),
            UnitType::Automount => Some("Automount"),
            UnitType::Swap => Some("Swap"),
            UnitType::Timer => Some("Timer"),
            UnitType::Path => Some("Path"),
            UnitType::Slice => Some("Slice"),
            UnitType::Scope => Some("Scope"),
            UnitType::Target | UnitType::Device => None,
        }
    }
}

impl fmt::Display for UnitType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// Why a string is not a unit name, or cannot be escaped into or out of one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, or longer than [`UNIT_NAME_MAX`].
    #[error("unit name '{0}' is empty or too long")]
    Length(String),
    /// No `.type` suffix, or an unknown one.
    #[error("unit name '{0}' has no valid unit type suffix")]
    Type(String),
    /// A character outside the allowed set.
    #[error("unit name '{0}' contains invalid characters")]
    Chars(String),
    /// The name starts with `@`.
    #[error("unit name '{0}' has an empty prefix")]
    EmptyPrefix(String),
    /// A bad `\` escape while unescaping.
    #[error("invalid escape in '{0}'")]
    Escape(String),
    /// A path that cannot be escaped (contains `..`) or unescaped (leading/trailing `/`).
    #[error("invalid path '{0}'")]
    Path(String),
}

/// A validated unit name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitName {
    name: String,
    /// Byte index of the `@`, if any.
    at: Option<usize>,
    /// Byte index of the `.` before the type.
    dot: usize,
    unit_type: UnitType,
}

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '\\')
}

impl UnitName {
    /// Parses and validates a plain name (`web.service`), an instance (`web@1.service`) or a template
    /// (`web@.service`).
    pub fn parse(s: &str) -> Result<UnitName, NameError> {
        if s.is_empty() || s.len() > UNIT_NAME_MAX {
            return Err(NameError::Length(s.to_string()));
        }
        let dot = match s.rfind('.') {
            Some(d) if d > 0 => d,
            _ => return Err(NameError::Type(s.to_string())),
        };
        let unit_type =
            UnitType::from_suffix(&s[dot + 1..]).ok_or_else(|| NameError::Type(s.to_string()))?;
        let stem = &s[..dot];
        if !stem.chars().all(|c| valid_char(c) || c == '@') {
            return Err(NameError::Chars(s.to_string()));
        }
        let at = stem.find('@');
        if at == Some(0) {
            return Err(NameError::EmptyPrefix(s.to_string()));
        }
        Ok(UnitName {
            name: s.to_string(),
            at,
            dot,
            unit_type,
        })
    }

    /// True when `s` is a valid unit name.
    pub fn is_valid(s: &str) -> bool {
        UnitName::parse(s).is_ok()
    }

    /// The full name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The part before `@` (or before the type suffix): `web` for `web@1.service`.
    pub fn prefix(&self) -> &str {
        &self.name[..self.at.unwrap_or(self.dot)]
    }

    /// The instance of an instance name; `None` for plain names and templates.
    pub fn instance(&self) -> Option<&str> {
        let at = self.at?;
        let inst = &self.name[at + 1..self.dot];
        (!inst.is_empty()).then_some(inst)
    }

    /// The name without the type suffix (`%N`): `web@1` for `web@1.service`.
    pub fn prefix_and_instance(&self) -> &str {
        &self.name[..self.dot]
    }

    /// The unit type.
    pub fn unit_type(&self) -> UnitType {
        self.unit_type
    }

    /// `web@.service`.
    pub fn is_template(&self) -> bool {
        self.at.is_some() && self.instance().is_none()
    }

    /// `web@1.service`.
    pub fn is_instance(&self) -> bool {
        self.instance().is_some()
    }

    /// The template of an instance (`web@1.service` → `web@.service`); the name itself for a template;
    /// `None` for a plain name.
    pub fn template_name(&self) -> Option<UnitName> {
        let at = self.at?;
        let name = format!("{}@.{}", &self.name[..at], self.unit_type.suffix());
        UnitName::parse(&name).ok()
    }

    /// The unit name for a path (`unit_name_from_path()`): `/dev/sda1` + swap → `dev-sda1.swap`,
    /// `/` + mount → `-.mount`.
    pub fn from_path(path: &str, unit_type: UnitType) -> Result<UnitName, NameError> {
        UnitName::parse(&format!("{}.{}", escape_path(path)?, unit_type.suffix()))
    }

    /// This template (or instance) with `instance` as its instance: `web@.service` + `2` → `web@2.service`.
    /// The instance must consist of unit-name characters already (escape it with [`escape`] first).
    pub fn with_instance(&self, instance: &str) -> Result<UnitName, NameError> {
        let name = format!("{}@{}.{}", self.prefix(), instance, self.unit_type.suffix());
        let n = UnitName::parse(&name)?;
        if n.instance().is_none() {
            return Err(NameError::Chars(name));
        }
        Ok(n)
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnitName({:?})", self.name)
    }
}

impl FromStr for UnitName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitName::parse(s)
    }
}

impl AsRef<str> for UnitName {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

/// `systemd-escape STRING`: `/` becomes `-`; `-`, `\` and every byte outside `[A-Za-z0-9:_.]` become `\xNN`;
/// a leading `.` is escaped too.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.');
        if b == b'/' {
            out.push('-');
        } else if keep && !(i == 0 && b == b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// `systemd-escape --path PATH`: the path is simplified (duplicate and trailing slashes, `.` components), the
/// root becomes `-`, leading and trailing slashes are dropped and the rest is [`escape`]d. Paths with `..`
/// components are refused.
pub fn escape_path(path: &str) -> Result<String, NameError> {
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if comps.contains(&"..") {
        return Err(NameError::Path(path.to_string()));
    }
    if comps.is_empty() {
        return Ok("-".to_string());
    }
    Ok(escape(&comps.join("/")))
}

/// `systemd-escape --unescape`: `-` becomes `/`, `\xNN` becomes the byte; any other backslash is an error.
pub fn unescape(s: &str) -> Result<String, NameError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' => out.push(b'/'),
            b'\\' => {
                let h = |k: usize| b.get(k).and_then(|c| (*c as char).to_digit(16));
                match (b.get(i + 1), h(i + 2), h(i + 3)) {
                    (Some(b'x'), Some(hi), Some(lo)) => out.push(((hi << 4) | lo) as u8),
                    _ => return Err(NameError::Escape(s.to_string())),
                }
                i += 3;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `systemd-escape --unescape --path`: like [`unescape`] with a `/` in front; `-` alone is the root.
pub fn unescape_path(s: &str) -> Result<String, NameError> {
    if s.is_empty() {
        return Err(NameError::Path(s.to_string()));
    }
    if s == "-" {
        return Ok("/".to_string());
    }
    let u = unescape(s)?;
    if u.starts_with('/')
        || u.ends_with('/')
        || u.split('/').any(|c| c == ".." || c == "." || c.is_empty())
    {
        return Err(NameError::Path(s.to_string()));
    }
    Ok(format!("/{u}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        // (name, prefix, instance, type, template?)
        let cases: &[(&str, &str, Option<&str>, UnitType, bool)] = &[
            ("web.service", "web", None, UnitType::Service, false),
            ("web@1.service", "web", Some("1"), UnitType::Service, false),
            ("web@.service", "web", None, UnitType::Service, true),
            (
                "getty@tty1.service",
                "getty",
                Some("tty1"),
                UnitType::Service,
                false,
            ),
            ("a@b@c.socket", "a", Some("b@c"), UnitType::Socket, false),
            ("dev-sda1.device", "dev-sda1", None, UnitType::Device, false),
            (
                "sys-kernel-debug.mount",
                "sys-kernel-debug",
                None,
                UnitType::Mount,
                false,
            ),
            ("user-.slice", "user-", None, UnitType::Slice, false),
            ("x\\x2dy.timer", "x\\x2dy", None, UnitType::Timer, false),
            (
                "multi-user.target",
                "multi-user",
                None,
                UnitType::Target,
                false,
            ),
        ];
        for (s, prefix, inst, ty, tmpl) in cases {
            let n = UnitName::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(n.prefix(), *prefix, "{s}");
            assert_eq!(n.instance(), *inst, "{s}");
            assert_eq!(n.unit_type(), *ty, "{s}");
            assert_eq!(n.is_template(), *tmpl, "{s}");
            assert_eq!(n.as_str(), *s);
        }
    }

    #[test]
    fn invalid_names() {
        let long = format!("{}.service", "a".repeat(250));
        for s in [
            "",
            "web",
            ".service",
            "web.serv",
            "web.Service",
            "@1.service",
            "we b.service",
            "web/x.service",
            "wéb.service",
            long.as_str(),
        ] {
            assert!(UnitName::parse(s).is_err(), "{s:?} should be invalid");
        }
    }

    #[test]
    fn templates_and_instances() {
        let n = UnitName::parse("web@1.service").unwrap();
        assert_eq!(n.template_name().unwrap().as_str(), "web@.service");
        assert_eq!(n.prefix_and_instance(), "web@1");
        let t = UnitName::parse("web@.service").unwrap();
        assert_eq!(t.template_name().unwrap(), t);
        assert_eq!(t.with_instance("2").unwrap().as_str(), "web@2.service");
        assert!(t.with_instance("").is_err());
        assert!(UnitName::parse("web.service")
            .unwrap()
            .template_name()
            .is_none());
    }

    #[test]
    fn escape_table() {
        let cases: &[(&str, &str)] = &[
            ("foo", "foo"),
            ("a/b", "a-b"),
            ("a-b", "a\\x2db"),
            ("a b", "a\\x20b"),
            (".hidden", "\\x2ehidden"),
            ("a.b", "a.b"),
            ("a\\b", "a\\x5cb"),
            ("é", "\\xc3\\xa9"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), *want, "{input:?}");
            assert_eq!(unescape(want).unwrap(), *input, "{want:?}");
        }
        assert_eq!(escape_path("/").unwrap(), "-");
        assert_eq!(escape_path("/dev//sda1/").unwrap(), "dev-sda1");
        assert_eq!(escape_path("/home/a-b/./c").unwrap(), "home-a\\x2db-c");
        assert!(escape_path("/a/../b").is_err());
        assert_eq!(unescape_path("dev-sda1").unwrap(), "/dev/sda1");
        assert_eq!(unescape_path("-").unwrap(), "/");
        assert!(unescape_path("-a").is_err());
        assert!(unescape("a\\q").is_err());
        assert!(unescape("a\\x4").is_err());
    }
}
