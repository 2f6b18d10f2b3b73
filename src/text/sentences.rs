//! Sentences and tokens as every stage counts them: a Chinese character is one token, a run of
//! other letters or digits is one; sentences end at 。！？；!?… , a `.` or `;` before
//! whitespace, and line breaks. The chunker packs these sentences, the indexer embeds the
//! quotable ones, and the composer quotes them, so all three agree on what a sentence is.

use std::ops::Range;

use super::is_cjk;

/// Counts tokens: each CJK character, and each run of other letters/digits.
pub fn count_tokens(s: &str) -> usize {
    let mut n = 0;
    let mut in_word = false;
    for c in s.chars() {
        if is_cjk(c) {
            n += 1;
            in_word = false;
        } else if c.is_alphanumeric() {
            if !in_word {
                n += 1;
            }
            in_word = true;
        } else {
            in_word = false;
        }
    }
    n
}

/// Splits text into sentence ranges that together cover it exactly. A sentence ends after
/// 。！？；!?… or a `.` followed by whitespace, plus any closing quotes or brackets, and at
/// every line break; a table row (a line of cells between ` | `) is one sentence. Trailing
/// whitespace belongs to the sentence before it.
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    // inside a table row (a line of cells between ` | `), which is one sentence however many
    // its cells hold ("Battery life | Earbuds up to 8 h; case adds up to 32 h")
    let mut in_row = false;
    while k < chars.len() {
        let (at, c) = chars[k];
        if at == start {
            let line = text[at..].split('\n').next().unwrap_or("");
            in_row = line.trim_start().starts_with('|') || line.contains(" | ");
        }
        let next = chars.get(k + 1).map(|&(_, c)| c);
        let is_end = match c {
            '\n' => true,
            _ if in_row => false,
            '。' | '！' | '？' | '；' | '!' | '?' | '…' => true,
            '.' => next.is_none_or(char::is_whitespace),
            ';' => next.is_none_or(char::is_whitespace),
            _ => false,
        };
        if is_end {
            let mut e = k + 1;
            while e < chars.len()
                && matches!(
                    chars[e].1,
                    '”' | '’'
                        | '」'
                        | '』'
                        | '）'
                        | ')'
                        | '"'
                        | '\''
                        | '】'
                        | '》'
                        | '。'
                        | '！'
                        | '？'
                )
            {
                e += 1;
            }
            while e < chars.len() && chars[e].1.is_whitespace() {
                e += 1;
            }
            let end = chars.get(e).map_or(text.len(), |&(i, _)| i);
            if end > start {
                out.push(start..end);
            }
            start = end;
            k = e;
        } else {
            k += 1;
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

/// Whether a sentence is worth quoting: enough words, not a bare label, not a question.
pub fn quotable(s: &str) -> bool {
    // a question is not an answer ("could you check …?" in an agent's reply)
    if s.ends_with('?') || s.ends_with('？') {
        return false;
    }
    let tokens = count_tokens(s);
    // a table row states a fact in few words ("E21 | Drain problem")
    if s.contains(" | ") {
        return tokens >= 3;
    }
    let cjk = s.chars().any(is_cjk);
    (cjk && tokens >= 5) || (!cjk && tokens >= 4)
}

/// The byte ranges of the sentences of a passage text worth quoting (trimmed). The indexer
/// embeds exactly these, so the composer finds their vectors.
pub fn quotable_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for r in split_sentences(text) {
        let raw = &text[r.clone()];
        let lead = raw.len() - raw.trim_start().len();
        let s = raw.trim();
        if quotable(s) {
            let start = r.start + lead;
            out.push((start, start + s.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_in_both_languages() {
        let t = "屏幕碎了。怎么办？Call us. Version 1.2.5 is out! ok";
        let s: Vec<&str> = split_sentences(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(
            s,
            vec![
                "屏幕碎了。",
                "怎么办？",
                "Call us. ",
                "Version 1.2.5 is out! ",
                "ok"
            ]
        );
        let q = "他说：“好的。”然后走了；";
        let s: Vec<&str> = split_sentences(q).into_iter().map(|r| &q[r]).collect();
        assert_eq!(s, vec!["他说：“好的。”", "然后走了；"]);
        let row = "Battery | 8 h; case 32 h. Charge: 1 h\nNext. Line";
        let s: Vec<&str> = split_sentences(row).into_iter().map(|r| &row[r]).collect();
        assert_eq!(
            s,
            vec!["Battery | 8 h; case 32 h. Charge: 1 h\n", "Next. ", "Line"]
        );
    }

    #[test]
    fn tokens_are_counted_per_cjk_char_and_word() {
        assert_eq!(count_tokens("X9 Pro 屏幕碎了"), 6);
        assert_eq!(count_tokens("5,000 mAh"), 3);
    }

    #[test]
    fn questions_and_labels_are_not_quotable() {
        assert!(!quotable("Could you check the serial number?"));
        assert!(!quotable("Warranty"));
        assert!(quotable("The battery is covered for 12 months."));
        assert!(quotable("电池保修十二个月"));
        assert!(quotable("E21 | Drain problem"));
        assert!(!quotable("E21 | Drain"));
    }
}
