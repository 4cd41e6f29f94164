//! fleet's tables, byte for byte: fleet writes rows through Go's `text/tabwriter` configured as
//! `(minwidth 0, tabwidth 8, padding 1, padchar '\t', flags 0)`, so columns are padded with TABs.
//!
//! This is that algorithm (`tabwriter.Writer.format`/`writeLines`): every cell but the last of a line is
//! tab-terminated; a column's width is the widest cell plus the padding, computed over a *block* of
//! consecutive lines that have that column; a cell is followed by as many TABs as it takes to reach the next
//! multiple of 8 at or past that width.

/// Go's `tabwidth`.
const TAB_WIDTH: usize = 8;
/// Go's `padding`.
const PADDING: usize = 1;

/// Renders `lines`, each a list of cells (the last one not aligned), one per output line.
pub fn render(lines: &[Vec<String>]) -> String {
    let mut w = Writer {
        lines,
        widths: Vec::new(),
        out: String::new(),
    };
    w.format(0, lines.len());
    w.out
}

/// A table with an optional header (`--no-legend` drops it): the header is the field names upper-cased.
pub fn render_with_legend(fields: &[&str], rows: Vec<Vec<String>>, legend: bool) -> String {
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if legend {
        lines.push(fields.iter().map(|f| f.to_uppercase()).collect());
    }
    lines.extend(rows);
    render(&lines)
}

struct Writer<'a> {
    lines: &'a [Vec<String>],
    /// The widths of the columns of the enclosing blocks (Go's `widths` stack).
    widths: Vec<usize>,
    out: String,
}

/// The number of tab-terminated cells of a line.
fn terminated(line: &[String]) -> usize {
    line.len().saturating_sub(1)
}

fn text_width(cell: &str) -> usize {
    cell.chars().count()
}

impl Writer<'_> {
    fn format(&mut self, mut line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column >= terminated(&self.lines[this]) {
                this += 1;
                continue;
            }
            // A block of lines that have this column begins: print what came before it.
            self.write_lines(line0, this);
            line0 = this;
            let mut width = 0;
            while this < line1 && column < terminated(&self.lines[this]) {
                width = width.max(text_width(&self.lines[this][column]) + PADDING);
                this += 1;
            }
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for line in &self.lines[line0..line1] {
            for (j, cell) in line.iter().enumerate() {
                self.out.push_str(cell);
                if let Some(&width) = self.widths.get(j) {
                    let cell_width = width.div_ceil(TAB_WIDTH) * TAB_WIDTH;
                    let n = cell_width - text_width(cell);
                    for _ in 0..n.div_ceil(TAB_WIDTH) {
                        self.out.push('\t');
                    }
                }
            }
            self.out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[&[&str]]) -> Vec<Vec<String>> {
        text.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn fleets_documented_example() {
        let out = render(&rows(&[
            &["UNIT", "HASH", "DSTATE", "STATE", "TARGET"],
            &[
                "hello.service",
                "e55c0ae",
                "launched",
                "launched",
                "113f16a7.../172.17.8.103",
            ],
        ]));
        assert_eq!(
            out,
            "UNIT\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET\n\
             hello.service\te55c0ae\tlaunched\tlaunched\t113f16a7.../172.17.8.103\n"
        );
    }

    #[test]
    fn widths_round_up_to_the_next_tab_stop_past_the_padding() {
        // 7 chars + 1 padding = 8: one tab each. 8 chars + 1 = 9, rounded to 16: one tab after the long cell,
        // two after the short one.
        let out = render(&rows(&[&["abcdefg", "x"], &["a", "y"]]));
        assert_eq!(out, "abcdefg\tx\na\ty\n");
        let out = render(&rows(&[&["abcdefgh", "x"], &["a", "y"]]));
        assert_eq!(out, "abcdefgh\tx\na\t\ty\n");
    }

    #[test]
    fn one_column_and_empty_cells() {
        assert_eq!(
            render(&rows(&[&["UNIT"], &["a.service"]])),
            "UNIT\na.service\n"
        );
        // An empty cell is padded like any other: width 1 → 8.
        assert_eq!(render(&rows(&[&["", "b"], &["a", "c"]])), "\tb\na\tc\n");
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn blocks_are_runs_of_lines_that_have_the_column() {
        // The middle line has no terminated cell, so the lines around it align separately.
        let out = render(&rows(&[&["a", "1"], &["lonely"], &["abcdefghij", "2"]]));
        assert_eq!(out, "a\t1\nlonely\nabcdefghij\t2\n");
    }

    #[test]
    fn legend_is_the_upper_cased_fields() {
        let out = render_with_legend(&["unit", "sub"], rows(&[&["a.service", "running"]]), true);
        assert_eq!(out, "UNIT\t\tSUB\na.service\trunning\n");
        let out = render_with_legend(&["unit", "sub"], rows(&[&["a.service", "running"]]), false);
        assert_eq!(out, "a.service\trunning\n");
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        assert_eq!(
            render(&rows(&[&["é", "x"], &["abcdef", "y"]])),
            "é\tx\nabcdef\ty\n"
        );
    }
}
