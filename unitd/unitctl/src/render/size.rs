//! Byte counts the way systemd's `format_bytes` prints them: IEC units with one decimal (`1.5M`, `512B`).

/// `format_bytes`: `1.5M`, `4.0K`, `512B`; `None` for u64::MAX (unknown).
pub fn format_bytes(t: u64) -> Option<String> {
    const TABLE: [(&str, u64); 6] = [
        ("E", 1 << 60),
        ("P", 1 << 50),
        ("T", 1 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ];
    if t == u64::MAX {
        return None;
    }
    for (i, (suffix, factor)) in TABLE.iter().enumerate() {
        if t >= *factor {
            // The decimal is computed like systemd does, to avoid overflowing for large values.
            let decimal = match TABLE.get(i + 1) {
                Some((_, next)) => (t / next * 10 / 1024) % 10,
                None => (t * 10 / factor) % 10,
            };
            return Some(format!("{}.{decimal}{suffix}", t / factor));
        }
    }
    Some(format!("{t}B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iec_with_one_decimal() {
        let cases = [
            (0, "0B"),
            (512, "512B"),
            (1024, "1.0K"),
            (1536, "1.5K"),
            (1_572_864, "1.5M"),
            (104_857_600, "100.0M"),
            (3 << 30, "3.0G"),
        ];
        for (t, want) in cases {
            assert_eq!(format_bytes(t).as_deref(), Some(want), "{t}");
        }
        assert_eq!(format_bytes(u64::MAX), None);
    }
}
