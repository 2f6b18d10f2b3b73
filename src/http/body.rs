//! Request bodies: read up to a limit, nesting checked before parsing.

/// The deepest nesting of arrays and objects in a JSON text (strings skipped), counted without
/// parsing, so a hostile body is refused before a parser recurses into it.
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting_outside_strings() {
        assert_eq!(json_depth(b"1"), 0);
        assert_eq!(json_depth(br#"{"a": [1, {"b": 2}]}"#), 3);
        assert_eq!(json_depth(br#"{"q": "[[[[{{{{"}"#), 1);
        assert_eq!(json_depth(br#"{"q": "say \"[[[\" ok"}"#), 1);
        assert_eq!(json_depth(&b"[".repeat(10_000)), 10_000);
    }
}
