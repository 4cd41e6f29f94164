//! Signal names and exit-status names, as systemd spells them (`signal_from_string()` in
//! `src/basic/signal-util.c`, `exit_status_from_string()` in `src/basic/exit-status.c`), with Linux's signal
//! numbers (x86/ARM/RISC-V numbering).

/// `SIGRTMIN` as glibc reports it (the kernel's 32, minus the two that glibc reserves).
pub const SIGRTMIN: i32 = 34;
/// `SIGRTMAX`.
pub const SIGRTMAX: i32 = 64;
/// `SIGTERM`, the default `KillSignal=`.
pub const SIGTERM: i32 = 15;
/// `SIGKILL`, the default `FinalKillSignal=`.
pub const SIGKILL: i32 = 9;
/// `SIGHUP`.
pub const SIGHUP: i32 = 1;
/// `SIGABRT`, the default `WatchdogSignal=`.
pub const SIGABRT: i32 = 6;

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

fn small_number(s: &str) -> Option<i32> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `SIGTERM`, `TERM`, `15`, `RTMIN`, `RTMIN+3`, `SIGRTMAX-1` → the signal number (1..=64); names are
/// case-sensitive, as in systemd.
pub fn signal_from_string(s: &str) -> Option<i32> {
    let name = s.strip_prefix("SIG").unwrap_or(s);
    if let Some((_, n)) = SIGNALS.iter().find(|(n, _)| *n == name) {
        return Some(*n);
    }
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off = if rest.is_empty() {
            0
        } else {
            small_number(rest.strip_prefix('+')?)?
        };
        return (off <= SIGRTMAX - SIGRTMIN).then_some(SIGRTMIN + off);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off = if rest.is_empty() {
            0
        } else {
            small_number(rest.strip_prefix('-')?)?
        };
        return (off <= SIGRTMAX - SIGRTMIN).then_some(SIGRTMAX - off);
    }
    if s.starts_with("SIG") {
        return None;
    }
    small_number(s).filter(|n| (1..=SIGRTMAX).contains(n))
}

/// The name of a signal (`SIGTERM`, `SIGRTMIN+3`), or its number.
pub fn signal_to_string(sig: i32) -> String {
    if let Some((n, _)) = SIGNALS.iter().find(|(_, v)| *v == sig) {
        return format!("SIG{n}");
    }
    if sig == SIGRTMIN {
        return "SIGRTMIN".into();
    }
    if (SIGRTMIN..=SIGRTMAX).contains(&sig) {
        return format!("SIGRTMIN+{}", sig - SIGRTMIN);
    }
    sig.to_string()
}

const EXIT_STATUSES: &[(&str, u8)] = &[
    ("SUCCESS", 0),
    ("FAILURE", 1),
    ("INVALIDARGUMENT", 2),
    ("NOTIMPLEMENTED", 3),
    ("NOPERMISSION", 4),
    ("NOTINSTALLED", 5),
    ("NOTCONFIGURED", 6),
    ("NOTRUNNING", 7),
    ("USAGE", 64),
    ("DATAERR", 65),
    ("NOINPUT", 66),
    ("NOUSER", 67),
    ("NOHOST", 68),
    ("UNAVAILABLE", 69),
    ("SOFTWARE", 70),
    ("OSERR", 71),
    ("OSFILE", 72),
    ("CANTCREAT", 73),
    ("IOERR", 74),
    ("TEMPFAIL", 75),
    ("PROTOCOL", 76),
    ("NOPERM", 77),
    ("CONFIG", 78),
    ("CHDIR", 200),
    ("NICE", 201),
    ("FDS", 202),
    ("EXEC", 203),
    ("MEMORY", 204),
    ("LIMITS", 205),
    ("OOM_ADJUST", 206),
    ("SIGNAL_MASK", 207),
    ("STDIN", 208),
    ("STDOUT", 209),
    ("CHROOT", 210),
    ("IOPRIO", 211),
    ("TIMERSLACK", 212),
    ("SECUREBITS", 213),
    ("SETSCHEDULER", 214),
    ("CPUAFFINITY", 215),
    ("GROUP", 216),
    ("USER", 217),
    ("CAPABILITIES", 218),
    ("CGROUP", 219),
    ("SETSID", 220),
    ("CONFIRM", 221),
    ("STDERR", 222),
    ("PAM", 224),
    ("NETWORK", 225),
    ("NAMESPACE", 226),
    ("NO_NEW_PRIVILEGES", 227),
    ("SECCOMP", 228),
    ("SELINUX_CONTEXT", 229),
    ("PERSONALITY", 230),
    ("APPARMOR_PROFILE", 231),
    ("ADDRESS_FAMILIES", 232),
    ("RUNTIME_DIRECTORY", 233),
    ("CHOWN", 235),
    ("SMACK_PROCESS_LABEL", 236),
    ("KEYRING", 237),
    ("STATE_DIRECTORY", 238),
    ("CACHE_DIRECTORY", 239),
    ("LOGS_DIRECTORY", 240),
    ("CONFIGURATION_DIRECTORY", 241),
    ("NUMA_POLICY", 242),
    ("CREDENTIALS", 243),
    ("BPF", 245),
];

/// An exit status: a number 0..=255 or one of systemd's names (`NOTINSTALLED`, `DATAERR`, `CHDIR`, …).
pub fn exit_status_from_string(s: &str) -> Option<u8> {
    if let Some((_, v)) = EXIT_STATUSES.iter().find(|(n, _)| *n == s) {
        return Some(*v);
    }
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<u8>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_table() {
        let cases: &[(&str, Option<i32>)] = &[
            ("SIGTERM", Some(15)),
            ("TERM", Some(15)),
            ("15", Some(15)),
            ("SIGKILL", Some(9)),
            ("HUP", Some(1)),
            ("RTMIN", Some(34)),
            ("RTMIN+3", Some(37)),
            ("SIGRTMAX-1", Some(63)),
            ("64", Some(64)),
            ("65", None),
            ("0", None),
            ("sigterm", None),
            ("SIGIOT", None),
            ("POLL", None),
            ("FOO", None),
            ("", None),
            ("SIG15", None),
            ("RTMIN+31", None),
        ];
        for (input, want) in cases {
            assert_eq!(signal_from_string(input), *want, "{input:?}");
        }
        assert_eq!(signal_to_string(15), "SIGTERM");
        assert_eq!(signal_to_string(37), "SIGRTMIN+3");
    }

    #[test]
    fn exit_status_table() {
        assert_eq!(exit_status_from_string("0"), Some(0));
        assert_eq!(exit_status_from_string("255"), Some(255));
        assert_eq!(exit_status_from_string("256"), None);
        assert_eq!(exit_status_from_string("NOTINSTALLED"), Some(5));
        assert_eq!(exit_status_from_string("SIGKILL"), None);
        assert_eq!(exit_status_from_string("-1"), None);
    }
}
