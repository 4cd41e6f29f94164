//! etcdctl's rules for its `ETCDCTL_*` environment variables (etcd's `pkg/flags`, as etcdctl 3.4 applies them to
//! its global flags): a flag given on the command line while its variable is also set is refused — the user meant
//! one of the two, and etcdctl will not guess which — and a variable that names no flag is reported, since a typo
//! (`ETCDCTL_ENDPOINT=`) would otherwise silently do nothing. Pure: [`check`] is given the environment and which
//! flags the command line set, and returns the warnings to print or the refusal.

/// etcdctl 3.4's global flags by variable (`--dial-timeout` is `ETCDCTL_DIAL_TIMEOUT`), with the clap id of
/// kvctl's flag, or `None` where etcdctl has a flag kvctl does not.
const GLOBAL_FLAGS: &[(&str, Option<&str>)] = &[
    ("ETCDCTL_ENDPOINTS", Some("endpoints")),
    ("ETCDCTL_DIAL_TIMEOUT", Some("dial_timeout")),
    ("ETCDCTL_COMMAND_TIMEOUT", Some("command_timeout")),
    ("ETCDCTL_WRITE_OUT", Some("write_out")),
    ("ETCDCTL_HEX", Some("hex")),
    ("ETCDCTL_CACERT", Some("tls-cacert")),
    ("ETCDCTL_CERT", Some("tls-cert")),
    ("ETCDCTL_KEY", Some("tls-key")),
    (
        "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
        Some("insecure_skip_tls_verify"),
    ),
    ("ETCDCTL_INSECURE_TRANSPORT", Some("insecure_transport")),
    ("ETCDCTL_DEBUG", None),
    ("ETCDCTL_USER", None),
    ("ETCDCTL_PASSWORD", None),
    ("ETCDCTL_KEEPALIVE_TIME", None),
    ("ETCDCTL_KEEPALIVE_TIMEOUT", None),
    ("ETCDCTL_DISCOVERY_SRV", None),
    ("ETCDCTL_DISCOVERY_SRV_NAME", None),
    ("ETCDCTL_INSECURE_DISCOVERY", None),
];

/// Variables etcdctl reads or tolerates outside its flags: the API version (read before flags are parsed), and
/// the two `watch` declares so that an etcdctl run by `watch -- command` does not warn about them.
const OTHER_KNOWN: &[&str] = &[
    "ETCDCTL_API",
    "ETCDCTL_WATCH_KEY",
    "ETCDCTL_WATCH_RANGE_END",
];

/// Applies etcdctl's rules to `vars` (the process environment). `on_command_line(id)` tells whether the flag
/// with clap id `id` was given on the command line. Returns the warnings to print, or the refusal of a variable
/// shadowed by its flag (etcdctl's message, word for word).
pub fn check(
    vars: impl IntoIterator<Item = (String, String)>,
    on_command_line: impl Fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    for (name, value) in vars {
        if !name.starts_with("ETCDCTL_") || OTHER_KNOWN.contains(&name.as_str()) {
            continue;
        }
        match GLOBAL_FLAGS.iter().find(|(var, _)| *var == name) {
            Some((_, Some(id))) if on_command_line(id) => {
                return Err(format!(
                    "conflicting environment variable {name:?} is shadowed by corresponding command-line flag \
                     (either unset environment variable or disable flag)"
                ));
            }
            Some((_, Some(_))) => {}
            Some((_, None)) if value.is_empty() => {}
            Some((_, None)) => warnings.push(format!(
                "environment variable {name} is an etcdctl flag kvctl does not have; ignored"
            )),
            None => warnings.push(format!("unrecognized environment variable {name}={value}")),
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_variable_shadowed_by_its_flag_is_refused() {
        let vars = env(&[("PATH", "/bin"), ("ETCDCTL_DIAL_TIMEOUT", "1s")]);
        let err = check(vars.clone(), |id| id == "dial_timeout").unwrap_err();
        assert_eq!(
            err,
            "conflicting environment variable \"ETCDCTL_DIAL_TIMEOUT\" is shadowed by corresponding \
             command-line flag (either unset environment variable or disable flag)"
        );
        assert_eq!(check(vars, |id| id == "write_out"), Ok(vec![]));
        let tls = env(&[("ETCDCTL_CACERT", "/ca.pem")]);
        assert!(check(tls, |id| id == "tls-cacert").is_err());
    }

    #[test]
    fn unknown_variables_are_reported_and_known_ones_are_not() {
        let vars = env(&[
            ("ETCDCTL_API", "3"),
            ("ETCDCTL_ENDPOINT", "10.0.0.1:2379"),
            ("ETCDCTL_WATCH_KEY", "k"),
            ("ETCDCTL_ENDPOINTS", "10.0.0.1:2379"),
            ("ETCDCTL_USER", "root:secret"),
            ("ETCDCTL_PASSWORD", ""),
            ("ETCD_DATA_DIR", "/var/lib/etcd"),
        ]);
        assert_eq!(
            check(vars, |_| false),
            Ok(vec![
                "unrecognized environment variable ETCDCTL_ENDPOINT=10.0.0.1:2379".to_string(),
                "environment variable ETCDCTL_USER is an etcdctl flag kvctl does not have; ignored"
                    .to_string(),
            ])
        );
    }
}
