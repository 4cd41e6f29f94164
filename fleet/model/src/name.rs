//! Unit names as fleet accepts them (`api/units.go` `ValidateName`, after systemd's `unit_name_is_valid`), and
//! the name parts the `%n %N %p %i` specifiers expand to (`unit.NewUnitNameInfo`).

/// systemd's (and fleet's) longest unit name.
pub const UNIT_NAME_MAX: usize = 256;

/// Unit types fleet accepts.
const UNIT_TYPES: &[&str] = &[
    "automount",
    "busname",
    "device",
    "mount",
    "path",
    "scope",
    "service",
    "slice",
    "snapshot",
    "socket",
    "swap",
    "target",
    "timer",
];

/// Unit types that may be templates or instances.
const TEMPLATE_TYPES: &[&str] = &["path", "service", "socket", "target", "timer"];

/// Types `fleetctl` recognises as a suffix; any other name gets `.service` appended.
const RECOGNIZED_TYPES: &[&str] = &[
    "service",
    "socket",
    "timer",
    "path",
    "device",
    "mount",
    "automount",
];

/// Why a unit name is refused; the messages are fleet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("unit name cannot be empty")]
    Empty,
    #[error("unit name exceeds maximum length ({UNIT_NAME_MAX})")]
    TooLong,
    #[error("unit name must contain \".\"")]
    NoDot,
    #[error("unit name cannot end in \".\"")]
    EndsInDot,
    #[error("invalid unit type: {0:?}")]
    InvalidType(String),
    #[error("invalid unit type for template: {0:?}")]
    InvalidTemplateType(String),
    #[error("invalid character {0:?} in unit name")]
    InvalidCharacter(char),
    #[error("unit name cannot start in \"@\"")]
    StartsWithAt,
}

/// Checks `name` the way fleet does, reporting the first problem.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > UNIT_NAME_MAX {
        return Err(NameError::TooLong);
    }
    let dot = name.rfind('.').ok_or(NameError::NoDot)?;
    if dot == name.len() - 1 {
        return Err(NameError::EndsInDot);
    }
    let suffix = &name[dot + 1..];
    if !UNIT_TYPES.contains(&suffix) {
        return Err(NameError::InvalidType(suffix.to_string()));
    }
    if name.contains('@') && !TEMPLATE_TYPES.contains(&suffix) {
        return Err(NameError::InvalidTemplateType(suffix.to_string()));
    }
    if let Some(c) = name[..dot]
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":-_.\\@".contains(*c)))
    {
        return Err(NameError::InvalidCharacter(c));
    }
    if name.starts_with('@') {
        return Err(NameError::StartsWithAt);
    }
    Ok(())
}

/// `fleetctl`'s rule for names typed on the command line: a name without a recognised unit-type suffix is a
/// service (`hello` → `hello.service`).
pub fn default_unit_type(name: &str) -> String {
    let recognized = RECOGNIZED_TYPES.iter().any(|t| {
        name.len() > t.len() + 1 && name.ends_with(t) && name[..name.len() - t.len()].ends_with('.')
    });
    if recognized {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

/// The parts of a unit name that fleet's specifiers expand to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameInfo {
    /// `%n`: the whole name, `web@1.service`.
    pub full_name: String,
    /// `%N`: the name without its suffix, `web@1`.
    pub name: String,
    /// `%p`: the part before `@`, `web` (the whole `%N` when there is no `@`).
    pub prefix: String,
    /// `%i`: the part after `@`, `1` (empty when there is none).
    pub instance: String,
    /// `web@.service` for an instance or template, `None` otherwise.
    pub template: Option<String>,
}

impl NameInfo {
    /// Splits `unit` (`None` when it has no `.`, as fleet's `NewUnitNameInfo`).
    pub fn parse(unit: &str) -> Option<NameInfo> {
        let dot = unit.rfind('.')?;
        let (name, suffix) = (&unit[..dot], &unit[dot..]);
        let (prefix, instance, template) = match name.find('@') {
            Some(at) => (
                &name[..at],
                &name[at + 1..],
                Some(format!("{}@{suffix}", &name[..at])),
            ),
            None => (name, "", None),
        };
        Some(NameInfo {
            full_name: unit.to_string(),
            name: name.to_string(),
            prefix: prefix.to_string(),
            instance: instance.to_string(),
            template,
        })
    }

    /// Whether this is an instance (`web@1.service`), not a template (`web@.service`) or a plain unit.
    pub fn is_instance(&self) -> bool {
        self.template.is_some() && !self.instance.is_empty()
    }

    /// Expands fleet's four specifiers in `value` (the same plain replacements fleet's `unitPrintf` does).
    pub fn expand(&self, value: &str) -> String {
        if !value.contains('%') {
            return value.to_string();
        }
        value
            .replace("%n", &self.full_name)
            .replace("%N", &self.name)
            .replace("%p", &self.prefix)
            .replace("%i", &self.instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fleet_accepts_and_refuses() {
        let long_ok = format!("{}.service", "a".repeat(UNIT_NAME_MAX - 8));
        let too_long = format!("{}.service", "a".repeat(UNIT_NAME_MAX - 7));
        let table: &[(&str, Result<(), NameError>)] = &[
            ("hello.service", Ok(())),
            ("web@1.service", Ok(())),
            ("web@.service", Ok(())),
            ("a:b-c_d.e\\x2d.socket", Ok(())),
            ("data.mount", Ok(())),
            ("tick@x.timer", Ok(())),
            (&long_ok, Ok(())),
            ("", Err(NameError::Empty)),
            (&too_long, Err(NameError::TooLong)),
            ("hello", Err(NameError::NoDot)),
            ("hello.", Err(NameError::EndsInDot)),
            ("hello.exe", Err(NameError::InvalidType("exe".into()))),
            (
                "web@1.mount",
                Err(NameError::InvalidTemplateType("mount".into())),
            ),
            ("we b.service", Err(NameError::InvalidCharacter(' '))),
            ("wéb.service", Err(NameError::InvalidCharacter('é'))),
            ("@web.service", Err(NameError::StartsWithAt)),
        ];
        for (name, want) in table {
            assert_eq!(&validate_name(name), want, "{name:?}");
        }
        assert_eq!(too_long.len(), UNIT_NAME_MAX + 1);
        assert_eq!(
            validate_name("hello.exe").unwrap_err().to_string(),
            "invalid unit type: \"exe\""
        );
    }

    #[test]
    fn default_type_is_service_unless_recognised() {
        assert_eq!(default_unit_type("hello"), "hello.service");
        assert_eq!(default_unit_type("hello.service"), "hello.service");
        assert_eq!(default_unit_type("web@1.socket"), "web@1.socket");
        assert_eq!(default_unit_type("my.app"), "my.app.service");
        assert_eq!(default_unit_type(".service"), ".service.service");
    }

    #[test]
    fn name_parts_and_specifiers() {
        let n = NameInfo::parse("web@blue.service").expect("has a dot");
        assert_eq!(n.prefix, "web");
        assert_eq!(n.instance, "blue");
        assert_eq!(n.template.as_deref(), Some("web@.service"));
        assert!(n.is_instance());
        assert_eq!(
            n.expand("%p-disc@%i for %n (%N)"),
            "web-disc@blue for web@blue.service (web@blue)"
        );
        let plain = NameInfo::parse("db.service").expect("has a dot");
        assert_eq!((plain.prefix.as_str(), plain.instance.as_str()), ("db", ""));
        assert!(!plain.is_instance());
        assert!(!NameInfo::parse("web@.service").expect("dot").is_instance());
        assert_eq!(NameInfo::parse("nodot"), None);
    }
}
