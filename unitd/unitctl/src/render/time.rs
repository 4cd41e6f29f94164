//! Times the way systemd prints them: `format_timestamp` (`Mon 2026-11-23 16:10:03 UTC`),
//! `format_timestamp_relative` (`5s ago`, `1h 2min ago`) and `format_timespan` (`1min 30s`, `100ms`, `infinity`).
//!
//! Everything here is a pure function of its inputs; the local zone is behind [`Zone`], whose
//! [`Zone::Local`] asks libc (`localtime_r`) for the offset and the zone's abbreviation, as strftime's `%Z`.

use chrono::{DateTime, FixedOffset};

/// Microseconds per second.
pub const USEC_PER_SEC: u64 = 1_000_000;
/// Microseconds per millisecond.
pub const USEC_PER_MSEC: u64 = 1_000;
/// Microseconds per minute.
pub const USEC_PER_MINUTE: u64 = 60 * USEC_PER_SEC;
/// Microseconds per hour.
pub const USEC_PER_HOUR: u64 = 60 * USEC_PER_MINUTE;
/// Microseconds per day.
pub const USEC_PER_DAY: u64 = 24 * USEC_PER_HOUR;
/// Microseconds per week.
pub const USEC_PER_WEEK: u64 = 7 * USEC_PER_DAY;
/// systemd's month: 30.44 days.
pub const USEC_PER_MONTH: u64 = 2_629_800 * USEC_PER_SEC;
/// systemd's year: 365.25 days.
pub const USEC_PER_YEAR: u64 = 31_557_600 * USEC_PER_SEC;
/// systemd's `USEC_INFINITY`.
pub const USEC_INFINITY: u64 = u64::MAX;

/// The zone timestamps are shown in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    /// UTC, shown as `UTC`.
    Utc,
    /// A fixed offset east of UTC with its abbreviation (for tests).
    #[cfg(test)]
    Fixed {
        /// Seconds east of UTC.
        offset_secs: i32,
        /// What `%Z` prints.
        abbreviation: String,
    },
    /// The process's local zone (TZ, /etc/localtime).
    Local,
}

impl Zone {
    /// The offset east of UTC and the abbreviation at `unix_secs`.
    pub fn at(&self, unix_secs: i64) -> (i32, String) {
        match self {
            Zone::Utc => (0, "UTC".to_string()),
            #[cfg(test)]
            Zone::Fixed {
                offset_secs,
                abbreviation,
            } => (*offset_secs, abbreviation.clone()),
            Zone::Local => local_zone_at(unix_secs).unwrap_or((0, "UTC".to_string())),
        }
    }
}

/// libc's idea of the local zone at `unix_secs`.
fn local_zone_at(unix_secs: i64) -> Option<(i32, String)> {
    // time_t is 32 bits on some targets.
    #[allow(clippy::useless_conversion)]
    let t: libc::time_t = unix_secs.try_into().ok()?;
    // SAFETY: `tm` is plain old data that localtime_r fills in; both pointers are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: see above; localtime_r is the thread-safe variant.
    let filled = unsafe { libc::localtime_r(&t, &mut tm) };
    if filled.is_null() {
        return None;
    }
    let abbreviation = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: tm_zone points to a NUL-terminated string owned by libc's zone data, alive for the process.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    let offset = i32::try_from(tm.tm_gmtoff).ok()?;
    Some((offset, abbreviation))
}

/// `Mon 2026-11-23 16:10:03 UTC`; `None` for 0 and infinity (systemd prints nothing, or `n/a`).
pub fn format_timestamp(usec: u64, zone: &Zone) -> Option<String> {
    if usec == 0 || usec == USEC_INFINITY {
        return None;
    }
    let secs = i64::try_from(usec / USEC_PER_SEC).ok()?;
    let (offset, abbreviation) = zone.at(secs);
    let offset = FixedOffset::east_opt(offset)?;
    let time = DateTime::from_timestamp(secs, 0)?.with_timezone(&offset);
    let mut out = time.format("%a %Y-%m-%d %H:%M:%S").to_string();
    if !abbreviation.is_empty() {
        out.push(' ');
        out.push_str(&abbreviation);
    }
    Some(out)
}

/// `5s ago`, `2min 3s ago`, `1h 2min ago`, `3 days ago` (or `… left` for the future), `now`; `None` for 0 and
/// infinity. `now` is the current time in µs since the epoch.
pub fn format_timestamp_relative(usec: u64, now: u64) -> Option<String> {
    if usec == 0 || usec == USEC_INFINITY {
        return None;
    }
    let (d, s) = if now > usec {
        (now - usec, "ago")
    } else {
        (usec - now, "left")
    };
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    Some(if d >= USEC_PER_YEAR {
        let years = d / USEC_PER_YEAR;
        let months = (d % USEC_PER_YEAR) / USEC_PER_MONTH;
        format!(
            "{years} {} {months} {} {s}",
            plural(years, "year", "years"),
            plural(months, "month", "months")
        )
    } else if d >= USEC_PER_MONTH {
        let months = d / USEC_PER_MONTH;
        let days = (d % USEC_PER_MONTH) / USEC_PER_DAY;
        format!(
            "{months} {} {days} {} {s}",
            plural(months, "month", "months"),
            plural(days, "day", "days")
        )
    } else if d >= USEC_PER_WEEK {
        let weeks = d / USEC_PER_WEEK;
        let days = (d % USEC_PER_WEEK) / USEC_PER_DAY;
        format!(
            "{weeks} {} {days} {} {s}",
            plural(weeks, "week", "weeks"),
            plural(days, "day", "days")
        )
    } else if d >= 2 * USEC_PER_DAY {
        format!("{} days {s}", d / USEC_PER_DAY)
    } else if d >= 25 * USEC_PER_HOUR {
        format!("1 day {}h {s}", (d - USEC_PER_DAY) / USEC_PER_HOUR)
    } else if d >= 6 * USEC_PER_HOUR {
        format!("{}h {s}", d / USEC_PER_HOUR)
    } else if d >= USEC_PER_HOUR {
        format!(
            "{}h {}min {s}",
            d / USEC_PER_HOUR,
            (d % USEC_PER_HOUR) / USEC_PER_MINUTE
        )
    } else if d >= 5 * USEC_PER_MINUTE {
        format!("{}min {s}", d / USEC_PER_MINUTE)
    } else if d >= USEC_PER_MINUTE {
        format!(
            "{}min {}s {s}",
            d / USEC_PER_MINUTE,
            (d % USEC_PER_MINUTE) / USEC_PER_SEC
        )
    } else if d >= USEC_PER_SEC {
        format!("{}s {s}", d / USEC_PER_SEC)
    } else if d >= USEC_PER_MSEC {
        format!("{}ms {s}", d / USEC_PER_MSEC)
    } else if d > 0 {
        format!("{d}us {s}")
    } else {
        "now".to_string()
    })
}

/// systemd's `format_timespan(t, accuracy)`: `1min 30s`, `100ms`, `1.500000s`, `0`, `infinity`. Parts below
/// `accuracy` µs are dropped (0 means 1µs).
pub fn format_timespan(t: u64, accuracy: u64) -> String {
    const TABLE: [(&str, u64); 9] = [
        ("y", USEC_PER_YEAR),
        ("month", USEC_PER_MONTH),
        ("w", USEC_PER_WEEK),
        ("d", USEC_PER_DAY),
        ("h", USEC_PER_HOUR),
        ("min", USEC_PER_MINUTE),
        ("s", USEC_PER_SEC),
        ("ms", USEC_PER_MSEC),
        ("us", 1),
    ];
    if t == USEC_INFINITY {
        return "infinity".to_string();
    }
    if t == 0 {
        return "0".to_string();
    }
    let accuracy = accuracy.max(1);
    let mut t = t;
    let mut out = String::new();
    let mut something = false;
    for (suffix, unit) in TABLE {
        if t == 0 {
            break;
        }
        if t < accuracy && something {
            break;
        }
        if t < unit {
            continue;
        }
        let a = t / unit;
        let mut b = t % unit;
        let sep = if out.is_empty() { "" } else { " " };
        let mut done = false;
        // Below a minute, a remainder is shown as a fraction of this unit.
        if t < USEC_PER_MINUTE && b > 0 {
            let mut digits: i32 = 0;
            let mut cc = unit;
            while cc > 1 {
                digits += 1;
                cc /= 10;
            }
            let mut cc = accuracy;
            while cc > 1 {
                b /= 10;
                digits -= 1;
                cc /= 10;
            }
            if digits > 0 {
                let width = usize::try_from(digits).unwrap_or(0);
                out.push_str(&format!("{sep}{a}.{b:0width$}{suffix}"));
                t = 0;
                done = true;
            }
        }
        if !done {
            out.push_str(&format!("{sep}{a}{suffix}"));
            t = b;
        }
        something = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23 16:10:03 UTC, a Monday.
    const T: u64 = 1_795_450_203 * USEC_PER_SEC;

    #[test]
    fn timestamps() {
        assert_eq!(
            format_timestamp(T + 123_456, &Zone::Utc).as_deref(),
            Some("Mon 2026-11-23 16:10:03 UTC")
        );
        let cet = Zone::Fixed {
            offset_secs: 3600,
            abbreviation: "CET".into(),
        };
        assert_eq!(
            format_timestamp(T, &cet).as_deref(),
            Some("Mon 2026-11-23 17:10:03 CET")
        );
        assert_eq!(format_timestamp(0, &Zone::Utc), None);
        assert_eq!(format_timestamp(u64::MAX, &Zone::Utc), None);
    }

    #[test]
    fn relative() {
        let cases = [
            (0, "now"),
            (500, "500us ago"),
            (5 * USEC_PER_MSEC, "5ms ago"),
            (5 * USEC_PER_SEC + 1, "5s ago"),
            (USEC_PER_MINUTE + 3 * USEC_PER_SEC, "1min 3s ago"),
            (7 * USEC_PER_MINUTE, "7min ago"),
            (USEC_PER_HOUR + 2 * USEC_PER_MINUTE, "1h 2min ago"),
            (7 * USEC_PER_HOUR, "7h ago"),
            (USEC_PER_DAY + 3 * USEC_PER_HOUR, "1 day 3h ago"),
            (3 * USEC_PER_DAY, "3 days ago"),
            (8 * USEC_PER_DAY, "1 week 1 day ago"),
            (40 * USEC_PER_DAY, "1 month 9 days ago"),
            (USEC_PER_YEAR + USEC_PER_MONTH, "1 year 1 month ago"),
        ];
        for (ago, want) in cases {
            assert_eq!(format_timestamp_relative(T - ago, T).as_deref(), Some(want));
        }
        assert_eq!(
            format_timestamp_relative(T + 90 * USEC_PER_SEC, T).as_deref(),
            Some("1min 30s left")
        );
        assert_eq!(format_timestamp_relative(0, T), None);
    }

    #[test]
    fn timespans() {
        let cases = [
            (0, "0"),
            (u64::MAX, "infinity"),
            (100 * USEC_PER_MSEC, "100ms"),
            (90 * USEC_PER_SEC, "1min 30s"),
            (1_500_000, "1.500000s"),
            (USEC_PER_DAY + USEC_PER_HOUR, "1d 1h"),
            (5, "5us"),
        ];
        for (t, want) in cases {
            assert_eq!(format_timespan(t, 0), want, "{t}");
        }
        // CPU time is shown to the millisecond, as status does.
        assert_eq!(format_timespan(12_345, USEC_PER_MSEC), "12ms");
        assert_eq!(format_timespan(1_234_567, USEC_PER_MSEC), "1.234s");
        assert_eq!(format_timespan(61_234_567, USEC_PER_MSEC), "1min 1.234s");
    }
}
