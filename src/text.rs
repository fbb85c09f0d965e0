//! Text from data or a program on its way to a human-facing line.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character that could move the cursor, recolour the terminal or reorder
/// what is shown written out as an escape: a newline as `\n`, a carriage return as `\r`, a
/// tab as `\t`, ESC as `\x1b`, other control and bidirectional-override characters as
/// `\u{…}`; a backslash is doubled so that an escape cannot be forged. A text field can
/// then never start a line of its own or restyle the report around it.
///
/// ```
/// use covenant::text::escape_controls;
/// assert_eq!(escape_controls("Atlas Ltd"), "Atlas Ltd");
/// assert_eq!(escape_controls("a\nFAKE\u{1b}[2J\r\\"), "a\\nFAKE\\x1b[2J\\r\\\\");
/// assert_eq!(escape_controls("\u{202e}cba"), "\\u{202e}cba");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    // Controls (C0, DEL, C1), line and paragraph separators, and the bidirectional
    // embeddings, overrides and isolates.
    c == '\\' || c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
