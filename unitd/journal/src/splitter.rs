//! Turning a unit's output byte stream into journal lines.
//!
//! Owns [`LineSplitter`]: feed it the chunks read from a pipe or FIFO as they come, get back complete lines.
//! The rules are journald's for stream connections: split on `\n`, drop a `\r` before it, cut a line that
//! reaches [`LINE_MAX`] bytes without a newline into pieces (journald's `LineMax=`, default 48 KiB), replace
//! invalid UTF-8 lossily, and hand out a trailing partial line on [`LineSplitter::finish`] (the unit exited
//! without a final newline).

/// The longest line kept whole, in bytes; longer ones are split (journald's default `LineMax=48K`).
pub const LINE_MAX: usize = 48 * 1024;

/// Accumulates bytes until lines are complete.
#[derive(Debug)]
pub struct LineSplitter {
    /// Bytes after the last newline, waiting for the rest of their line.
    buf: Vec<u8>,
    /// Where lines are cut when no newline comes; [`LINE_MAX`] unless a test picks a smaller one.
    max: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::new()
    }
}

impl LineSplitter {
    /// A splitter that cuts at [`LINE_MAX`].
    pub fn new() -> LineSplitter {
        LineSplitter::with_max(LINE_MAX)
    }

    /// A splitter that cuts lines at `max` bytes (at least 4, so one UTF-8 character always fits).
    pub fn with_max(max: usize) -> LineSplitter {
        LineSplitter {
            buf: Vec::new(),
            max: max.max(4),
        }
    }

    /// Feeds one chunk; returns the lines it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    self.buf.extend_from_slice(&rest[..nl]);
                    rest = &rest[nl + 1..];
                    if self.buf.last() == Some(&b'\r') {
                        self.buf.pop();
                    }
                    self.cut_long(&mut lines);
                    lines.push(String::from_utf8_lossy(&self.buf).into_owned());
                    self.buf.clear();
                }
                None => {
                    self.buf.extend_from_slice(rest);
                    rest = &[];
                    self.cut_long(&mut lines);
                }
            }
        }
        lines
    }

    /// Ends the stream: returns the partial last line, if any bytes are left.
    pub fn finish(&mut self) -> Option<String> {
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        // push() never leaves more than `max` bytes, so what is left is one line.
        if self.buf.is_empty() {
            return None;
        }
        let line = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        Some(line)
    }

    /// Bytes waiting for a newline.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// While the buffer holds more than `max` bytes, emits `max`-byte pieces, moving the cut back to a
    /// character boundary when it would split a UTF-8 sequence. Up to `max` bytes stay, so a line of exactly
    /// `max` bytes comes out whole however the stream was chunked.
    fn cut_long(&mut self, lines: &mut Vec<String>) {
        while self.buf.len() > self.max {
            let cut = utf8_cut(&self.buf, self.max);
            lines.push(String::from_utf8_lossy(&self.buf[..cut]).into_owned());
            self.buf.drain(..cut);
        }
    }
}

/// The largest cut ≤ `max` that doesn't split a valid multi-byte UTF-8 sequence (or `max` itself when the
/// bytes there aren't valid UTF-8 anyway).
fn utf8_cut(buf: &[u8], max: usize) -> usize {
    // Look back at most 3 bytes for the lead byte of the sequence that straddles the cut.
    for back in 1..=3usize.min(max) {
        let i = max - back;
        let b = buf[i];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: keep looking for the lead
        }
        let len = match b {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => return max,
        };
        return if i + len > max { i } else { max };
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_newline_strips_cr_and_keeps_partial() {
        let mut s = LineSplitter::new();
        assert_eq!(s.push(b"one\r\ntw"), vec!["one"]);
        assert_eq!(s.push(b"o\n\nthr"), vec!["two", ""]);
        assert_eq!(s.pending(), 3);
        assert_eq!(s.finish().as_deref(), Some("thr"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut s = LineSplitter::new();
        assert_eq!(s.push(b"a\xffb\n"), vec!["a\u{fffd}b"]);
    }

    #[test]
    fn long_line_is_cut_at_line_max() {
        let mut s = LineSplitter::new();
        let mut input = vec![b'x'; LINE_MAX * 2 + 10];
        input.push(b'\n');
        // Fed in small chunks, as a pipe would deliver it.
        let mut lines = Vec::new();
        for chunk in input.chunks(4096) {
            lines.extend(s.push(chunk));
        }
        let lens: Vec<usize> = lines.iter().map(String::len).collect();
        assert_eq!(lens, vec![LINE_MAX, LINE_MAX, 10]);
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn line_of_exactly_max_is_whole_however_chunked() {
        let mut s = LineSplitter::with_max(8);
        assert_eq!(s.push(b"12345678"), Vec::<String>::new());
        assert_eq!(s.push(b"\nab\n"), vec!["12345678", "ab"]);
        let mut s = LineSplitter::with_max(8);
        assert_eq!(
            s.push(b"12345678\n123456789\n"),
            vec!["12345678", "12345678", "9"]
        );
    }

    #[test]
    fn cut_does_not_split_a_utf8_character() {
        let mut s = LineSplitter::with_max(8);
        // 7 ASCII bytes then a 2-byte 'é': cutting at 8 would split it.
        let lines = s.push("abcdefgé\n".as_bytes());
        assert_eq!(lines, vec!["abcdefg", "é"]);
        let mut s = LineSplitter::with_max(8);
        let lines = s.push("abcde€xyz\n".as_bytes()); // '€' is 3 bytes at 5..8: fits exactly
        assert_eq!(lines, vec!["abcde€", "xyz"]);
    }

    #[test]
    fn finish_cuts_long_partial_line() {
        let mut s = LineSplitter::with_max(4);
        assert_eq!(s.push(b"abcdef"), vec!["abcd"]);
        assert_eq!(s.pending(), 2);
        assert_eq!(s.finish().as_deref(), Some("ef"));
    }
}
