//! How processes ended, in systemd's words: `code=exited, status=1/FAILURE`, `code=killed, signal=TERM`; and
//! signal names for `kill --signal`.

/// Signal names (without `SIG`) by number, Linux x86/arm numbering.
const SIGNALS: [(i32, &str); 31] = [
    (1, "HUP"),
    (2, "INT"),
    (3, "QUIT"),
    (4, "ILL"),
    (5, "TRAP"),
    (6, "ABRT"),
    (7, "BUS"),
    (8, "FPE"),
    (9, "KILL"),
    (10, "USR1"),
    (11, "SEGV"),
    (12, "USR2"),
    (13, "PIPE"),
    (14, "ALRM"),
    (15, "TERM"),
    (16, "STKFLT"),
    (17, "CHLD"),
    (18, "CONT"),
    (19, "STOP"),
    (20, "TSTP"),
    (21, "TTIN"),
    (22, "TTOU"),
    (23, "URG"),
    (24, "XCPU"),
    (25, "XFSZ"),
    (26, "VTALRM"),
    (27, "PROF"),
    (28, "WINCH"),
    (29, "IO"),
    (30, "PWR"),
    (31, "SYS"),
];

/// The first real-time signal.
const SIGRTMIN: i32 = 34;
/// The last real-time signal.
const SIGRTMAX: i32 = 64;

/// `TERM` for 15; `RTMIN+3` for real-time signals; the number otherwise (systemd's `signal_to_string`).
pub fn signal_name(signal: i32) -> String {
    if let Some((_, name)) = SIGNALS.iter().find(|(n, _)| *n == signal) {
        return (*name).to_string();
    }
    if (SIGRTMIN..=SIGRTMAX).contains(&signal) {
        return if signal == SIGRTMIN {
            "RTMIN".to_string()
        } else {
            format!("RTMIN+{}", signal - SIGRTMIN)
        };
    }
    signal.to_string()
}

/// Parses `--signal`: `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+2`.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=SIGRTMAX).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((n, _)) = SIGNALS.iter().find(|(_, sig)| *sig == name) {
        return Some(*n);
    }
    if name == "RTMIN" {
        return Some(SIGRTMIN);
    }
    if name == "RTMAX" {
        return Some(SIGRTMAX);
    }
    let offset = name.strip_prefix("RTMIN+")?.parse::<i32>().ok()?;
    let n = SIGRTMIN + offset;
    (n <= SIGRTMAX).then_some(n)
}

/// `si_code` names: 1 `exited`, 2 `killed`, 3 `dumped`.
pub fn sigchld_code_name(code: i32) -> Option<&'static str> {
    match code {
        1 => Some("exited"),
        2 => Some("killed"),
        3 => Some("dumped"),
        4 => Some("trapped"),
        5 => Some("stopped"),
        6 => Some("continued"),
        _ => None,
    }
}

/// Names of exit statuses that systemd prints after the number (libc's and systemd's own, not LSB's).
pub fn exit_status_name(status: i32) -> Option<&'static str> {
    Some(match status {
        0 => "SUCCESS",
        1 => "FAILURE",
        200 => "CHDIR",
        201 => "NICE",
        202 => "FDS",
        203 => "EXEC",
        204 => "MEMORY",
        205 => "LIMITS",
        206 => "OOM_ADJUST",
        207 => "SIGNAL_MASK",
        208 => "STDIN",
        209 => "STDOUT",
        210 => "CHROOT",
        211 => "IOPRIO",
        212 => "TIMERSLACK",
        213 => "SECUREBITS",
        214 => "SETSCHEDULER",
        215 => "CPUAFFINITY",
        216 => "GROUP",
        217 => "USER",
        218 => "CAPABILITIES",
        219 => "CGROUP",
        220 => "SETSID",
        221 => "CONFIRM",
        222 => "STDERR",
        224 => "PAM",
        225 => "NETWORK",
        226 => "NAMESPACE",
        227 => "NO_NEW_PRIVILEGES",
        228 => "SECCOMP",
        229 => "SELINUX_CONTEXT",
        230 => "PERSONALITY",
        231 => "APPARMOR_PROFILE",
        232 => "ADDRESS_FAMILIES",
        233 => "RUNTIME_DIRECTORY",
        235 => "CHOWN",
        236 => "SMACK_PROCESS_LABEL",
        237 => "KEYRING",
        238 => "STATE_DIRECTORY",
        239 => "CACHE_DIRECTORY",
        240 => "LOGS_DIRECTORY",
        241 => "CONFIGURATION_DIRECTORY",
        242 => "NUMA_POLICY",
        243 => "CREDENTIALS",
        245 => "BPF",
        _ => return None,
    })
}

/// `code=exited, status=1/FAILURE` or `code=killed, signal=TERM` (the inside of status's parentheses).
pub fn describe_exit(code: i32, status: i32) -> String {
    let code_name = sigchld_code_name(code).unwrap_or("(null)");
    if code == 1 {
        match exit_status_name(status) {
            Some(name) => format!("code={code_name}, status={status}/{name}"),
            None => format!("code={code_name}, status={status}"),
        }
    } else {
        format!("code={code_name}, signal={}", signal_name(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_both_ways() {
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(34), "RTMIN");
        assert_eq!(signal_name(36), "RTMIN+2");
        assert_eq!(signal_name(99), "99");
        for (s, n) in [
            ("SIGKILL", 9),
            ("kill", 9),
            ("TERM", 15),
            ("15", 15),
            ("RTMIN+2", 36),
            ("SIGRTMAX", 64),
        ] {
            assert_eq!(parse_signal(s), Some(n), "{s}");
        }
        assert_eq!(parse_signal("BOGUS"), None);
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("RTMIN+40"), None);
    }

    #[test]
    fn exits() {
        assert_eq!(describe_exit(1, 1), "code=exited, status=1/FAILURE");
        assert_eq!(describe_exit(1, 203), "code=exited, status=203/EXEC");
        assert_eq!(describe_exit(1, 3), "code=exited, status=3");
        assert_eq!(describe_exit(2, 9), "code=killed, signal=KILL");
        assert_eq!(describe_exit(3, 11), "code=dumped, signal=SEGV");
    }
}
