//! Sentences of a passage as a customer reads them: the quoted bytes stay exactly as the source
//! has them (the citation's span and quote), but what the answer shows drops the scaffolding of
//! the document — clause and list numbers ("11.1", "1.", "(2)", "一、"), bullets, "答：" —
//! turns a table row into "header: value" pairs, and ends a list item as a sentence. A table's
//! header row, a lone lead-in ("when the screen shows:") and other fragments are not shown at
//! all.

use crate::text::is_cjk;

/// How a candidate sentence is shown, or `None` when it is not an answer sentence on its own.
pub fn shown(passage: &str, range: (usize, usize)) -> Option<String> {
    let raw = passage.get(range.0..range.1)?.trim();
    if raw.contains(" | ") || raw.starts_with('|') {
        return table_row(passage, range.0, raw);
    }
    let body = strip_marker(raw);
    if body.is_empty() || ends_as_lead_in(body) {
        return None;
    }
    Some(as_sentence(body))
}

/// A sentence that only introduces the list after it, as an answer shows it before an item of
/// that list ("Not covered:"); `None` for any other sentence.
pub fn lead_in(passage: &str, range: (usize, usize)) -> Option<String> {
    let raw = passage.get(range.0..range.1)?.trim();
    let body = strip_marker(raw);
    (!raw.contains(" | ") && !body.is_empty() && ends_as_lead_in(body)).then(|| body.to_string())
}

/// Whether a sentence, as shown, is an example of a rule rather than the rule ("For example,
/// …", "Example: …", 「例如……」, 「比如……」).
pub fn example(shown: &str) -> bool {
    let lower = shown.trim_start().to_lowercase();
    [
        "for example",
        "example:",
        "e.g.",
        "for instance",
        "例如",
        "比如",
        "举例",
        "譬如",
    ]
    .iter()
    .any(|m| lower.starts_with(m))
}

/// Whether a sentence only introduces what follows ("…when the screen shows:").
fn ends_as_lead_in(s: &str) -> bool {
    s.ends_with(':') || s.ends_with('：')
}

/// A sentence with its list or clause marker removed (`"11.1 Refunds are…"` → `"Refunds are…"`).
pub fn strip_marker(s: &str) -> &str {
    let mut rest = s.trim_start();
    // bullets
    for b in ["- ", "* ", "• ", "· ", "+ "] {
        if let Some(r) = rest.strip_prefix(b) {
            rest = r.trim_start();
        }
    }
    // "答：", "A:" (an FAQ's answer label)
    for label in ["答：", "答:", "A：", "A: "] {
        if let Some(r) = rest.strip_prefix(label) {
            return r.trim_start();
        }
    }
    // "11.1 ", "1. ", "1) ", "(2) ", "（2）", "2）"
    let b = rest.as_bytes();
    let mut i = 0;
    let open = rest.starts_with('(') || rest.starts_with('（');
    if open {
        i = rest.chars().next().map_or(0, char::len_utf8);
    }
    let digits_from = i;
    while i < b.len() && (b[i].is_ascii_digit() || (b[i] == b'.' && i > digits_from)) {
        i += 1;
    }
    if i > digits_from && i - digits_from <= 6 {
        let after = &rest[i..];
        for close in [") ", "）", ")", "、", ". ", " "] {
            if let Some(r) = after.strip_prefix(close) {
                // "5,000 mAh" and "2026 年" are not markers: a marker is followed by a word
                let next = r.chars().next();
                let numeric_rest = next.is_some_and(|c| c.is_ascii_digit() || c == '%');
                let unit = !open && close == " " && !rest[digits_from..i].contains('.');
                if !numeric_rest && !unit {
                    return r.trim_start();
                }
            }
        }
        // "1.Refunds" without a space after a dotted number
        if !open && rest[digits_from..i].ends_with('.') && i - digits_from >= 2 {
            let r = &rest[i..];
            if r.chars().next().is_some_and(|c| c.is_alphabetic()) {
                return r;
            }
        }
    }
    // "一、", "十二、"
    let cn: usize = rest
        .chars()
        .take_while(|c| "一二三四五六七八九十".contains(*c))
        .map(char::len_utf8)
        .sum();
    if cn > 0 {
        if let Some(r) = rest[cn..].strip_prefix('、') {
            return r.trim_start();
        }
    }
    rest
}

/// A list item or clause ended as a sentence: `；` → `。`, `;` → `.`, a missing full stop
/// added; the first letter of an English sentence in upper case.
fn as_sentence(s: &str) -> String {
    let cjk = s.chars().any(is_cjk);
    let mut out = s.trim_end_matches(['；', ';', '，', ',']).to_string();
    let ends = out.chars().next_back();
    if !ends.is_some_and(|c| "。！？.!?…”\"』」)）".contains(c)) {
        out.push(if cjk { '。' } else { '.' });
    }
    if !cjk {
        let mut chars = out.chars();
        if let Some(first) = chars.next().filter(char::is_ascii_lowercase) {
            out = first.to_ascii_uppercase().to_string() + chars.as_str();
        }
    }
    out
}

/// A table row as "header: value" pairs, from the header row of its table (the first line of
/// the run of table lines it belongs to); `None` for the header row itself.
fn table_row(passage: &str, start: usize, row: &str) -> Option<String> {
    // the lines of the passage up to this row, back to the first of its table
    let before = &passage[..start];
    let mut header = None;
    for line in before.lines().rev() {
        let line = line.trim();
        if line.contains(" | ") {
            header = Some(line);
        } else if !line.is_empty() {
            break;
        }
    }
    let header = header?;
    let cells = |l: &str| -> Vec<String> {
        l.trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let (heads, values) = (cells(header), cells(row));
    let cjk = row.chars().any(is_cjk) || header.chars().any(is_cjk);
    let (colon, sep) = if cjk { ("：", "，") } else { (": ", "; ") };
    let parts: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(i, v)| match heads.get(i).filter(|h| !h.is_empty()) {
            Some(h) => format!("{h}{colon}{v}"),
            None => v.clone(),
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(as_sentence(&parts.join(sep)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_example_is_known_in_both_languages() {
        assert!(example(
            "For example, a screen replaced in month 4 is covered."
        ));
        assert!(example("Example: an X9 screen replaced in month 11…"));
        assert!(example("例如，手机买了 4 个月时换了屏幕。"));
        assert!(!example("The warranty does not cover drops, for example."));
        assert!(!example("进液损坏不在保修范围内。"));
    }

    fn show(s: &str) -> Option<String> {
        shown(s, (0, s.len()))
    }

    #[test]
    fn clause_and_list_numbers_are_not_shown() {
        assert_eq!(
            show("11.1 Refunds are paid to the original payment method.").as_deref(),
            Some("Refunds are paid to the original payment method.")
        );
        assert_eq!(
            show("- Unplug the washer first.").as_deref(),
            Some("Unplug the washer first.")
        );
        assert_eq!(show("3. 关闭水龙头；").as_deref(), Some("关闭水龙头。"));
        assert_eq!(show("（2）检查进水阀。").as_deref(), Some("检查进水阀。"));
        assert_eq!(show("一、检测免费").as_deref(), Some("检测免费。"));
        assert_eq!(
            show("答：可以按《维修收费标准》付费维修。").as_deref(),
            Some("可以按《维修收费标准》付费维修。")
        );
    }

    #[test]
    fn numbers_that_are_content_stay() {
        assert_eq!(
            show("5,000 mAh battery lasts a day.").as_deref(),
            Some("5,000 mAh battery lasts a day.")
        );
        assert_eq!(
            show("2026 年起适用本政策。").as_deref(),
            Some("2026 年起适用本政策。")
        );
        assert_eq!(
            show("12 months from delivery.").as_deref(),
            Some("12 months from delivery.")
        );
    }

    #[test]
    fn a_table_row_is_shown_with_its_headers_and_the_header_row_not_at_all() {
        let t = "维修项目 | 型号 | 中国大陆 | 海外\n更换屏幕 | X9 Pro | ¥1,299 | US$189\n";
        let header = (0, t.find('\n').unwrap_or(0));
        assert_eq!(shown(t, header), None);
        let start = t.find("更换").unwrap_or(0);
        let end = t.len() - 1;
        assert_eq!(
            shown(t, (start, end)).as_deref(),
            Some("维修项目：更换屏幕，型号：X9 Pro，中国大陆：¥1,299，海外：US$189。")
        );
        let e = "Code | Meaning\nE21 | Drain problem\n";
        let s = e.find("E21").unwrap_or(0);
        assert_eq!(
            shown(e, (s, e.len() - 1)).as_deref(),
            Some("Code: E21; Meaning: Drain problem.")
        );
    }

    #[test]
    fn a_lead_in_is_a_fragment() {
        assert_eq!(
            show("Pixel faults are covered when the screen shows:"),
            None
        );
        assert_eq!(show("以下情况需要按本标准付费维修："), None);
    }

    #[test]
    fn an_english_list_item_starts_with_a_capital() {
        assert_eq!(
            show("- check the inlet filter;").as_deref(),
            Some("Check the inlet filter.")
        );
    }
}
