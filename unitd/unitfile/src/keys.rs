//! Which sections a unit type reads and which keys each section knows, so that unknown ones get systemd's
//! warnings ("Unknown section 'Foo'. Ignoring.", "Unknown key 'Bar' in section [Service], ignoring.").
//!
//! The key lists are systemd 252's (see `keys_table.rs`). Sections and keys starting with `X-` are extensions:
//! accepted silently and kept in the raw parse for whoever reads them (fleet's `[X-Fleet]`).

use crate::keys_table as t;
use crate::name::UnitType;

/// The sections a unit of this type reads: `Unit`, the type's own section (if any), `Install`.
pub fn sections_for(ty: UnitType) -> Vec<&'static str> {
    let mut v = vec!["Unit"];
    v.extend(ty.section());
    v.push("Install");
    v
}

/// Whether systemd 252 knows `key` in `section`.
pub fn is_known_key(section: &str, key: &str) -> bool {
    let list: &[&str] = match section {
        "Unit" => t::UNIT,
        "Install" => t::INSTALL,
        "Service" => t::SERVICE,
        "Socket" => t::SOCKET,
        "Mount" => t::MOUNT,
        "Automount" => t::AUTOMOUNT,
        "Swap" => t::SWAP,
        "Timer" => t::TIMER,
        "Path" => t::PATH,
        "Slice" => t::SLICE,
        "Scope" => t::SCOPE,
        _ => return false,
    };
    list.binary_search(&key).is_ok()
}

/// The value grammar of a setting that is known but not modelled, so that its value can still be checked the
/// way systemd 252's parser for it would (with a warning on failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// `config_parse_bool`.
    Bool,
    /// `config_parse_sec`.
    Sec,
    /// `config_parse_unsigned`.
    Unsigned,
}

/// Settings parsed with `config_parse_bool` in systemd 252 (only those with no other accepted spelling).
const BOOL_KEYS: &[&str] = &[
    "AllowIsolate",
    "BlockIOAccounting",
    "Broadcast",
    "CPUAccounting",
    "CPUSchedulingResetOnFork",
    "DynamicUser",
    "FixedRandomDelay",
    "FlushPending",
    "ForceUnmount",
    "FreeBind",
    "IOAccounting",
    "IPAccounting",
    "IgnoreOnIsolate",
    "IgnoreSIGPIPE",
    "KeepAlive",
    "LazyUnmount",
    "LockPersonality",
    "MakeDirectory",
    "MemoryAccounting",
    "MemoryDenyWriteExecute",
    "MountAPIVFS",
    "NoDelay",
    "NoNewPrivileges",
    "NonBlocking",
    "PassCredentials",
    "PassPacketInfo",
    "PassSecurity",
    "PermissionsStartOnly",
    "Persistent",
    "PrivateDevices",
    "PrivateIPC",
    "PrivateMounts",
    "PrivateNetwork",
    "PrivateTmp",
    "PrivateUsers",
    "ProtectClock",
    "ProtectControlGroups",
    "ProtectHostname",
    "ProtectKernelLogs",
    "ProtectKernelModules",
    "ProtectKernelTunables",
    "ReadWriteOnly",
    "RefuseManualStart",
    "RefuseManualStop",
    "RemainAfterElapse",
    "RemoveIPC",
    "RemoveOnStop",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "ReusePort",
    "RootDirectoryStartOnly",
    "SELinuxContextFromNet",
    "SloppyOptions",
    "StopWhenUnneeded",
    "SyslogLevelPrefix",
    "TTYReset",
    "TTYVHangup",
    "TTYVTDisallocate",
    "TasksAccounting",
    "Transparent",
    "WakeSystem",
    "Writable",
];

/// Settings parsed with `config_parse_sec` in systemd 252.
const SEC_KEYS: &[&str] = &[
    "AccuracySec",
    "DeferAcceptSec",
    "JobRunningTimeoutSec",
    "KeepAliveIntervalSec",
    "KeepAliveTimeSec",
    "LogRateLimitIntervalSec",
    "RandomizedDelaySec",
    "RuntimeRandomizedExtraSec",
    "TimeoutIdleSec",
    "TriggerLimitIntervalSec",
];

/// Settings parsed with `config_parse_unsigned` in systemd 252.
const UNSIGNED_KEYS: &[&str] = &[
    "Backlog",
    "KeepAliveProbes",
    "LogRateLimitBurst",
    "MaxConnections",
    "MaxConnectionsPerSource",
    "TriggerLimitBurst",
];

/// How to check the value of a known, unmodelled key; `None` = not checked.
pub(crate) fn value_kind(section: &str, key: &str) -> Option<ValueKind> {
    if !is_known_key(section, key) {
        return None;
    }
    if BOOL_KEYS.binary_search(&key).is_ok() {
        Some(ValueKind::Bool)
    } else if SEC_KEYS.binary_search(&key).is_ok() {
        Some(ValueKind::Sec)
    } else if UNSIGNED_KEYS.binary_search(&key).is_ok() {
        Some(ValueKind::Unsigned)
    } else {
        None
    }
}

/// Extension sections and keys (`X-…`) are never warned about.
pub fn is_extension(name: &str) -> bool {
    name.starts_with("X-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for list in [
            t::UNIT,
            t::INSTALL,
            t::SERVICE,
            t::SOCKET,
            t::MOUNT,
            t::AUTOMOUNT,
            t::SWAP,
            t::TIMER,
            t::PATH,
            t::SLICE,
            t::SCOPE,
            BOOL_KEYS,
            SEC_KEYS,
            UNSIGNED_KEYS,
        ] {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "{:?}",
                list.windows(2).find(|w| w[0] >= w[1])
            );
        }
    }

    #[test]
    fn lookups() {
        assert!(is_known_key("Service", "ExecStart"));
        assert!(is_known_key("Service", "MemoryMax"));
        assert!(is_known_key("Unit", "After"));
        assert!(is_known_key("Install", "WantedBy"));
        assert!(is_known_key("Socket", "ListenStream"));
        assert!(!is_known_key("Service", "ListenStream"));
        assert!(!is_known_key("Service", "Bogus"));
        assert!(!is_known_key("X-Fleet", "MachineOf"));
        assert_eq!(
            sections_for(UnitType::Service),
            vec!["Unit", "Service", "Install"]
        );
        assert_eq!(sections_for(UnitType::Target), vec!["Unit", "Install"]);
        assert!(is_extension("X-Fleet"));
        assert_eq!(value_kind("Service", "PrivateTmp"), Some(ValueKind::Bool));
        assert_eq!(value_kind("Timer", "AccuracySec"), Some(ValueKind::Sec));
        assert_eq!(
            value_kind("Socket", "MaxConnections"),
            Some(ValueKind::Unsigned)
        );
        assert_eq!(value_kind("Service", "MaxConnections"), None);
        assert_eq!(value_kind("Service", "ProtectSystem"), None);
    }
}
