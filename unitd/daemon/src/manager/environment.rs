//! The manager environment (`systemctl set-environment` / `unset-environment` / `show-environment`): variables
//! every process unitd spawns inherits, below the unit's own `Environment=` and `EnvironmentFile=` — systemd's
//! "client environment". Pure: validation with systemd's rules (`env-util.c`), and the edit that
//! `UnsetAndSetEnvironment` makes. The manager keeps the result and writes it to the runtime directory, so a
//! restarted or re-executed unitd keeps it and a reboot starts without it, as with systemd.

use std::path::Path;

/// Names the manager sets itself for the processes it spawns; an assignment to one is dropped (systemd's
/// `sanitize_environment`), so `set-environment MAINPID=1` cannot confuse a service.
const RESERVED: &[&str] = &[
    "CACHE_DIRECTORY",
    "CONFIGURATION_DIRECTORY",
    "CREDENTIALS_DIRECTORY",
    "EXIT_CODE",
    "EXIT_STATUS",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "LISTEN_FDNAMES",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LOGS_DIRECTORY",
    "LOG_NAMESPACE",
    "MAINPID",
    "MANAGERPID",
    "MEMORY_PRESSURE_WATCH",
    "MEMORY_PRESSURE_WRITE",
    "MONITOR_EXIT_CODE",
    "MONITOR_EXIT_STATUS",
    "MONITOR_INVOCATION_ID",
    "MONITOR_SERVICE_RESULT",
    "MONITOR_UNIT",
    "NOTIFY_SOCKET",
    "PIDFILE",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "RUNTIME_DIRECTORY",
    "SERVICE_RESULT",
    "STATE_DIRECTORY",
    "SYSTEMD_EXEC_PID",
    "TRIGGER_PATH",
    "TRIGGER_TIMER_MONOTONIC_USEC",
    "TRIGGER_TIMER_REALTIME_USEC",
    "TRIGGER_UNIT",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
];

/// The longest assignment accepted: the kernel's limit on one environment string (`MAX_ARG_STRLEN`).
const MAX_ASSIGNMENT: usize = 128 * 1024;

/// The file in the runtime directory that keeps the environment across unitd restarts.
pub const FILE: &str = "environment.json";

/// A variable name as the shell takes it: letters, digits and `_`, not starting with a digit.
pub fn name_is_valid(name: &str) -> bool {
    name.len() < MAX_ASSIGNMENT && unitfile::env_name_is_valid(name)
}

/// `NAME=value` with a valid name; the value may hold anything but NUL (D-Bus strings are UTF-8 already).
pub fn assignment_is_valid(s: &str) -> bool {
    match s.split_once('=') {
        Some((name, value)) => {
            name_is_valid(name) && !value.contains('\0') && s.len() < MAX_ASSIGNMENT
        }
        None => false,
    }
}

/// What `SetEnvironment` accepts: assignments, none of a name twice. The error is systemd's message.
pub fn check_assignments(plus: &[String]) -> Result<(), &'static str> {
    let ok = plus.iter().enumerate().all(|(i, a)| {
        assignment_is_valid(a) && !plus[i + 1..].iter().any(|b| name_of(a) == name_of(b))
    });
    ok.then_some(()).ok_or("Invalid environment assignments")
}

/// What `UnsetEnvironment` accepts: names or assignments, none twice.
pub fn check_names_or_assignments(minus: &[String]) -> Result<(), &'static str> {
    let ok = minus
        .iter()
        .enumerate()
        .all(|(i, a)| (name_is_valid(a) || assignment_is_valid(a)) && !minus[i + 1..].contains(a));
    ok.then_some(())
        .ok_or("Invalid environment variable names or assignments")
}

fn name_of(assignment: &str) -> &str {
    assignment.split_once('=').map_or(assignment, |(n, _)| n)
}

/// Whether `pattern` (from `UnsetEnvironment`) removes `entry`: a name removes its variable whatever the value,
/// an assignment only that exact assignment (systemd's `env_match`).
fn matches(entry: &str, pattern: &str) -> bool {
    if pattern.contains('=') {
        entry == pattern
    } else {
        name_of(entry) == pattern
    }
}

/// The environment after `UnsetAndSetEnvironment(minus, plus)`: `minus` removed, then `plus` set (replacing
/// a variable of the same name), the manager's own names dropped, sorted.
pub fn modify(current: &[String], minus: &[String], plus: &[String]) -> Vec<String> {
    let mut env: Vec<String> = current
        .iter()
        .filter(|e| !minus.iter().any(|m| matches(e, m)))
        .cloned()
        .collect();
    for a in plus {
        match env.iter_mut().find(|e| name_of(e) == name_of(a)) {
            Some(slot) => slot.clone_from(a),
            None => env.push(a.clone()),
        }
    }
    env.retain(|e| !RESERVED.contains(&name_of(e)));
    env.sort();
    env
}

/// `base` (unitd's own `PATH`, `LANG`) overlaid with the set variables, sorted: the manager's `Environment`
/// property, what `show-environment` prints.
pub fn effective(base: &[(String, String)], set: &[String]) -> Vec<String> {
    let base: Vec<String> = base.iter().map(|(k, v)| format!("{k}={v}")).collect();
    modify(&base, &[], set)
}

/// The environment a previous unitd left in `dir` (empty when there is none or it is unreadable).
pub fn load(dir: &Path) -> Vec<String> {
    let path = dir.join(FILE);
    let Ok(body) = std::fs::read(&path) else {
        return Vec::new();
    };
    match serde_json::from_slice::<Vec<String>>(&body) {
        Ok(env) => env.into_iter().filter(|a| assignment_is_valid(a)).collect(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "manager environment unreadable; starting without it");
            Vec::new()
        }
    }
}

/// Writes `env` to `dir` (write to a temporary file, then rename: a crash leaves the old or the new file).
pub fn save(dir: &Path, env: &[String]) {
    let tmp = dir.join(format!("{FILE}.tmp"));
    let result = serde_json::to_vec(env)
        .map_err(std::io::Error::other)
        .and_then(|body| std::fs::write(&tmp, body))
        .and_then(|()| std::fs::rename(&tmp, dir.join(FILE)));
    if let Err(e) = result {
        tracing::warn!(dir = %dir.display(), error = %e, "manager environment not written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_follow_the_shell() {
        assert!(name_is_valid("FOO_1"));
        assert!(name_is_valid("_x"));
        assert!(!name_is_valid(""));
        assert!(!name_is_valid("1FOO"));
        assert!(!name_is_valid("FOO-BAR"));
        assert!(!name_is_valid("FOO BAR"));
        assert!(assignment_is_valid("FOO="));
        assert!(assignment_is_valid("FOO=a b=c\nd"));
        assert!(!assignment_is_valid("FOO"));
        assert!(!assignment_is_valid("=x"));
        assert!(!assignment_is_valid("A-B=x"));
    }

    #[test]
    fn set_refuses_bare_names_and_duplicates() {
        assert_eq!(check_assignments(&v(&["A=1", "B=2"])), Ok(()));
        assert_eq!(
            check_assignments(&v(&["A"])),
            Err("Invalid environment assignments")
        );
        assert!(check_assignments(&v(&["A=1", "A=2"])).is_err());
        assert_eq!(check_names_or_assignments(&v(&["A", "B=2"])), Ok(()));
        assert!(check_names_or_assignments(&v(&["A", "A"])).is_err());
        assert!(check_names_or_assignments(&v(&["9"])).is_err());
    }

    #[test]
    fn modify_replaces_unsets_and_sorts() {
        let env = modify(&[], &[], &v(&["ZED=1", "ALPHA=2"]));
        assert_eq!(env, v(&["ALPHA=2", "ZED=1"]));
        let env = modify(&env, &[], &v(&["ZED=3"]));
        assert_eq!(env, v(&["ALPHA=2", "ZED=3"]));
        // A name unsets whatever the value; an assignment only when the value matches.
        assert_eq!(modify(&env, &v(&["ZED"]), &[]), v(&["ALPHA=2"]));
        assert_eq!(modify(&env, &v(&["ZED=1"]), &[]), env);
        assert_eq!(modify(&env, &v(&["ZED=3"]), &[]), v(&["ALPHA=2"]));
        // Unset first, then set.
        assert_eq!(
            modify(&env, &v(&["ALPHA", "ZED"]), &v(&["ALPHA=9"])),
            v(&["ALPHA=9"])
        );
    }

    #[test]
    fn names_the_manager_sets_itself_are_dropped() {
        let env = modify(&[], &[], &v(&["MAINPID=1", "NOTIFY_SOCKET=/x", "KEEP=1"]));
        assert_eq!(env, v(&["KEEP=1"]));
    }

    #[test]
    fn effective_overlays_the_base() {
        let base = vec![("PATH".to_string(), "/bin".to_string())];
        assert_eq!(
            effective(&base, &v(&["PATH=/opt/bin", "A=1"])),
            v(&["A=1", "PATH=/opt/bin"])
        );
        assert_eq!(effective(&base, &[]), v(&["PATH=/bin"]));
    }

    #[test]
    fn survives_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_empty());
        let env = v(&["A=1", "B=two\nlines"]);
        save(dir.path(), &env);
        assert_eq!(load(dir.path()), env);
        std::fs::write(dir.path().join(FILE), b"not json").unwrap();
        assert!(load(dir.path()).is_empty());
    }
}
