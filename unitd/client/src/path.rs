//! Object paths of units: `sd_bus_path_encode` escaping under `/org/freedesktop/systemd1/unit`.
//!
//! Every byte outside `[A-Za-z0-9]` becomes `_` and two lowercase hex digits, and so does a leading digit;
//! an empty name is `_` (as in sd-bus). The escaping is reversible, so a path from `ListUnits` can be turned
//! back into the unit's name.

use zbus::{ObjectPath, OwnedObjectPath};

/// Where unit objects live.
pub const UNIT_PATH_PREFIX: &str = "/org/freedesktop/systemd1/unit";

/// The object path of the manager (`org.freedesktop.systemd1.Manager` and `io.flotilla.unitd1.Manager`).
pub const MANAGER_PATH: &str = "/org/freedesktop/systemd1";

/// `sd_bus_path_encode` of one path element.
pub fn escape_path_element(id: &str) -> String {
    if id.is_empty() {
        return "_".to_string();
    }
    let mut out = String::with_capacity(id.len() * 3);
    for (i, b) in id.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (b.is_ascii_digit() && i > 0) {
            out.push(char::from(b));
        } else {
            out.push('_');
            out.push_str(&format!("{b:02x}"));
        }
    }
    out
}

/// The inverse of [`escape_path_element`]; `None` if `element` is not a valid escaping.
pub fn unescape_path_element(element: &str) -> Option<String> {
    if element == "_" {
        return Some(String::new());
    }
    let bytes = element.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => {
                let hex = element.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if b.is_ascii_alphanumeric() => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// The object path of `unit`: `hello.service` → `/org/freedesktop/systemd1/unit/hello_2eservice`.
pub fn unit_object_path(unit: &str) -> OwnedObjectPath {
    let path = format!("{UNIT_PATH_PREFIX}/{}", escape_path_element(unit));
    // The escaped element only holds [A-Za-z0-9_], so the path is always valid.
    OwnedObjectPath::from(ObjectPath::from_string_unchecked(path))
}

/// The unit name encoded in a unit object path, or `None` if `path` is not one.
pub fn unit_name_from_object_path(path: &str) -> Option<String> {
    let element = path.strip_prefix(UNIT_PATH_PREFIX)?.strip_prefix('/')?;
    if element.contains('/') {
        return None;
    }
    unescape_path_element(element)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_sd_bus() {
        let cases = [
            ("hello.service", "hello_2eservice"),
            ("web@1.service", "web_401_2eservice"),
            ("1st.service", "_31st_2eservice"),
            ("a-b_c.socket", "a_2db_5fc_2esocket"),
            ("flotilla.slice", "flotilla_2eslice"),
            ("", "_"),
        ];
        for (unit, element) in cases {
            assert_eq!(
                unit_object_path(unit).as_str(),
                format!("/org/freedesktop/systemd1/unit/{element}"),
                "{unit}"
            );
        }
    }

    #[test]
    fn non_ascii_bytes_are_escaped_per_byte() {
        assert_eq!(escape_path_element("é"), "_c3_a9");
        assert_eq!(unescape_path_element("_c3_a9").as_deref(), Some("é"));
    }

    #[test]
    fn decodes_back() {
        for unit in [
            "hello.service",
            "web@1.service",
            "9.target",
            "x\\y.mount",
            "",
        ] {
            let path = unit_object_path(unit);
            assert_eq!(
                unit_name_from_object_path(path.as_str()).as_deref(),
                Some(unit)
            );
        }
        assert_eq!(
            unit_name_from_object_path("/org/freedesktop/systemd1"),
            None
        );
        assert_eq!(
            unit_name_from_object_path("/org/freedesktop/systemd1/unit/a_2"),
            None
        );
        assert_eq!(
            unit_name_from_object_path("/org/freedesktop/systemd1/unit/a/b"),
            None
        );
    }
}
