//! A linear scan run before pest. pest's parser recurses once per nesting level, so a
//! hostile input (100,000 open parentheses, a long chain of `if` or `-`) would overflow the
//! stack; this scan bounds nesting without recursing.

/// Where the nesting first passes `limit`, as a byte offset.
pub fn first_too_deep(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth: usize = 0;
    // Keywords and prefix operators that open a nested expression without a bracket. They
    // are counted per item and released at the next top-level item keyword.
    let mut open_words: usize = 0;
    let mut prev_before: u8 = b'(';
    // The last significant byte: a `-` after an operand is a binary minus, which the Pratt
    // parser handles in a loop rather than by recursion.
    let mut prev: u8 = b'(';
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if !b.is_ascii_whitespace() && b != b'#' {
            prev_before = prev;
            prev = b;
        }
        match b {
            b'#' => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    if c == b'\\' {
                        i += 1;
                    } else if c == b'"' || c == b'\n' {
                        break;
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' if !(prev_before.is_ascii_alphanumeric() || matches!(prev_before, b')' | b']' | b'%' | b'_' | b'"')) => {
                open_words += 1
            }
            // `??` is right-associative, so a chain of them recurses.
            b'?' if prev_before == b'?' => open_words += 1,
            b if b.is_ascii_lowercase() || b == b'_' => {
                let start = i;
                while bytes.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    i += 1;
                }
                prev = bytes.get(i.saturating_sub(1)).copied().unwrap_or(b'a');
                let word = text.get(start..i).unwrap_or("");
                let preceded_by_dot = start > 0 && bytes.get(start - 1) == Some(&b'.');
                match word {
                    "if" | "not" => open_words += 1,
                    "let" | "fn" | "schedule" | "collateral" | "covenant" | "margin_call" | "liquidation"
                    | "scenario" | "test" | "check" | "calendar" | "input" | "type" | "import" | "facility"
                        if depth == 0 && !preceded_by_dot =>
                    {
                        open_words = 0
                    }
                    _ => {}
                }
                if depth + open_words > limit {
                    return Some(start);
                }
                continue;
            }
            _ => {}
        }
        if depth + open_words > limit {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::first_too_deep;

    #[test]
    fn counts_brackets_and_prefix_words() {
        assert_eq!(first_too_deep("let a = ((1))", 2), None);
        assert_eq!(first_too_deep("let a = (((1)))", 2), Some(10));
        assert_eq!(first_too_deep("let a = - - - 1", 2), Some(12));
        assert_eq!(first_too_deep("let a = b - c - d - e", 2), None);
        assert!(first_too_deep(&"(".repeat(100_000), 64).is_some());
    }

    #[test]
    fn item_keywords_release_prefix_words() {
        let text = "let a = -1\nlet b = -2\nlet c = -3\n";
        assert_eq!(first_too_deep(text, 1), None);
    }

    #[test]
    fn ignores_comments_and_strings() {
        assert_eq!(first_too_deep("# (((((\nlet a = \"((((\"", 1), None);
    }
}
