//! `ETCD_*` environment variables, read as etcd reads them (`pkg/flags.SetFlagsFromEnv`): `ETCD_DATA_DIR` for
//! `--data-dir`, and so for every flag — what Debian's `/etc/default/etcd`, etcd's systemd units and its
//! container images set. This module owns the decision only ([`sort`], pure); the binary applies it to its
//! flags and logs it.
//!
//! The rules: a flag on the command line wins over its variables (a warning says the variable went unused);
//! kvstore's own `KVSTORE_*` variable wins over the `ETCD_*` one, being the more specific; an empty `ETCD_*`
//! value is no setting, as in etcd; an `ETCD_*` variable that names no kvstore flag is reported and left alone
//! (etcd warns too, and a typo must not stop a member that would otherwise start); `--config-file` replaces
//! every variable, as it does in etcd.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// etcd's prefix.
pub const PREFIX: &str = "ETCD_";
/// kvstore's own prefix, ahead of etcd's.
pub const OWN_PREFIX: &str = "KVSTORE_";

/// What to do with the `ETCD_*` variables of an environment.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EtcdEnv {
    /// The flags to read from their `ETCD_*` variable, by the name their variables share after the prefix
    /// (`DATA_DIR`).
    pub used: Vec<String>,
    /// `ETCD_*` variables left unread because the `KVSTORE_*` one is set: (etcd's, kvstore's).
    pub shadowed: Vec<(String, String)>,
    /// `ETCD_*` variables that name no kvstore flag.
    pub unrecognized: Vec<String>,
}

/// Sorts the `ETCD_*` variables among `vars` against `known`, the names of kvstore's flag variables after
/// their prefix (`DATA_DIR` for `KVSTORE_DATA_DIR`). Variables whose names are not UTF-8 are not etcd's.
pub fn sort(known: &[&str], vars: impl IntoIterator<Item = (OsString, OsString)>) -> EtcdEnv {
    let vars: BTreeMap<String, OsString> = vars
        .into_iter()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value)))
        .collect();
    let mut env = EtcdEnv::default();
    for (name, value) in &vars {
        let Some(suffix) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if !known.contains(&suffix) {
            env.unrecognized.push(name.clone());
            continue;
        }
        if value.is_empty() {
            continue;
        }
        let own = format!("{OWN_PREFIX}{suffix}");
        if vars.contains_key(&own) {
            env.shadowed.push((name.clone(), own));
        } else {
            env.used.push(suffix.to_string());
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    const KNOWN: &[&str] = &["NAME", "DATA_DIR", "LISTEN_CLIENT_URLS", "SNAPSHOT_COUNT"];

    #[test]
    fn etcd_variables_name_the_flags_kvstore_has() {
        let env = sort(
            KNOWN,
            vars(&[
                ("ETCD_NAME", "infra0"),
                ("ETCD_DATA_DIR", "/var/lib/etcd/default"),
                ("PATH", "/usr/bin"),
                ("ETCDCTL_API", "3"),
            ]),
        );
        assert_eq!(env.used, ["DATA_DIR", "NAME"]);
        assert!(
            env.shadowed.is_empty() && env.unrecognized.is_empty(),
            "{env:?}"
        );
    }

    #[test]
    fn kvstores_own_variable_wins_and_empty_values_are_no_setting() {
        let env = sort(
            KNOWN,
            vars(&[
                ("ETCD_NAME", "from-etcd"),
                ("KVSTORE_NAME", "from-kvstore"),
                ("ETCD_DATA_DIR", ""),
            ]),
        );
        assert!(env.used.is_empty(), "{env:?}");
        assert_eq!(
            env.shadowed,
            [("ETCD_NAME".to_string(), "KVSTORE_NAME".to_string())]
        );
    }

    #[test]
    fn a_variable_that_names_no_flag_is_reported_not_used() {
        let env = sort(
            KNOWN,
            vars(&[("ETCD_SNAPSHOT_CONT", "100"), ("ETCD_UNSUPPORTED_ARCH", "")]),
        );
        assert!(env.used.is_empty());
        assert_eq!(
            env.unrecognized,
            ["ETCD_SNAPSHOT_CONT", "ETCD_UNSUPPORTED_ARCH"]
        );
    }
}
