//! Tables like systemd's `format-table` prints them when not on a terminal: upper-case headers, columns
//! padded to their widest cell and separated by one space, no trailing blanks, no truncation.

/// Renders `headers` and `rows` (each row as many cells as headers). With `header` false only the rows are
/// printed. Widths count characters, so `●` is one column.
pub fn render_table(headers: &[&str], rows: &[Vec<String>], header: bool) -> String {
    let columns = headers.len();
    let mut widths: Vec<usize> = if header {
        headers.iter().map(|h| h.chars().count()).collect()
    } else {
        vec![0; columns]
    };
    for row in rows {
        for (i, cell) in row.iter().take(columns).enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate().take(columns) {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    if header {
        let upper: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
        line(&mut upper.iter().map(String::as_str));
    }
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns_and_trims_lines() {
        let rows = vec![
            vec![
                "●".to_string(),
                "a.service".into(),
                "failed".into(),
                "".into(),
            ],
            vec![
                " ".to_string(),
                "bb.service".into(),
                "active".into(),
                "B".into(),
            ],
        ];
        assert_eq!(
            render_table(&["", "unit", "active", "description"], &rows, true),
            "  UNIT       ACTIVE DESCRIPTION\n\
             ● a.service  failed\n  \
             bb.service active B\n"
        );
        assert_eq!(
            render_table(&["x", "y"], &[vec!["1".into(), "2".into()]], false),
            "1 2\n"
        );
    }
}
