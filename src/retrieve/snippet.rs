//! Highlighted snippets: the window of a passage with the most query matches, and the byte
//! ranges of the matches inside it.

use std::collections::HashSet;

use serde::Serialize;

use crate::analyze::is_cjk;

/// A snippet and where its matches are (byte ranges into `text`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<(usize, usize)>,
}

impl Snippet {
    /// The snippet with matches wrapped in `open` … `close`.
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + self.highlights.len() * 8);
        let mut last = 0;
        for &(s, e) in &self.highlights {
            out.push_str(&self.text[last..s]);
            out.push_str(open);
            out.push_str(&self.text[s..e]);
            out.push_str(close);
            last = e;
        }
        out.push_str(&self.text[last..]);
        out
    }
}

/// Query needles: lowercase Latin words (at least 2 characters, or digits) and Chinese bigrams
/// (single characters when the run is one character long).
fn needles(query: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_run = |run: &mut Vec<char>, out: &mut HashSet<String>| {
        if run.len() == 1 {
            out.insert(run[0].to_string());
        }
        for w in run.windows(2) {
            out.insert(w.iter().collect());
        }
        run.clear();
    };
    for c in query.chars().chain(std::iter::once(' ')) {
        if is_cjk(c) {
            run.push(c);
        } else {
            flush_run(&mut run, &mut out);
        }
        if c.is_alphanumeric() && !is_cjk(c) {
            word.extend(c.to_lowercase());
        } else {
            if word.chars().count() >= 2 || word.chars().any(|c| c.is_ascii_digit()) {
                out.insert(std::mem::take(&mut word));
            }
            word.clear();
        }
    }
    out
}

/// Finds match ranges of the needles in `text`: Latin words that start with a needle's stem
/// (first 5 letters) and CJK bigrams.
fn matches(text: &str, needles: &HashSet<String>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (i, c) = chars[k];
        if is_cjk(c) {
            let next = chars.get(k + 1).filter(|(_, n)| is_cjk(*n));
            if let Some(&(j, n)) = next {
                let bi: String = [c, n].iter().collect();
                if needles.contains(&bi) {
                    out.push((i, j + n.len_utf8()));
                    k += 1;
                    continue;
                }
            }
            if needles.contains(&c.to_string()) {
                out.push((i, i + c.len_utf8()));
            }
            k += 1;
        } else if c.is_alphanumeric() {
            let mut e = k;
            while e < chars.len() && chars[e].1.is_alphanumeric() && !is_cjk(chars[e].1) {
                e += 1;
            }
            let end = chars.get(e).map_or(text.len(), |&(b, _)| b);
            let w = text[i..end].to_lowercase();
            let hit = needles.iter().any(|n| {
                if n.chars().any(is_cjk) {
                    return false;
                }
                let stem: String = n.chars().take(5).collect();
                w == *n || (stem.chars().count() >= 4 && w.starts_with(&stem))
            });
            if hit {
                out.push((i, end));
            }
            k = e;
        } else {
            k += 1;
        }
    }
    // merge touching ranges
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for r in out {
        match merged.last_mut() {
            Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
            _ => merged.push(r),
        }
    }
    merged
}

/// A snippet of at most about `max_chars` characters around the densest matches.
pub fn make(text: &str, query: &str, max_chars: usize) -> Snippet {
    let n = needles(query);
    let all = matches(text, &n);
    let char_starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    if char_starts.len() <= max_chars {
        return Snippet {
            text: text.to_string(),
            highlights: all,
        };
    }
    // slide a window of max_chars characters; pick the one covering most matches
    let mut best = (0usize, 0usize);
    for (wi, &ws) in char_starts.iter().enumerate().step_by(8) {
        let we = char_starts
            .get(wi + max_chars)
            .copied()
            .unwrap_or(text.len());
        let count = all.iter().filter(|&&(s, e)| s >= ws && e <= we).count();
        if count > best.1 {
            best = (wi, count);
        }
        if we == text.len() {
            break;
        }
    }
    let ws = char_starts[best.0];
    let we = char_starts
        .get(best.0 + max_chars)
        .copied()
        .unwrap_or(text.len());
    let mut s = String::new();
    let prefix = ws > 0;
    if prefix {
        s.push('…');
    }
    let base = s.len();
    s.push_str(&text[ws..we]);
    let highlights = all
        .iter()
        .filter(|&&(a, b)| a >= ws && b <= we)
        .map(|&(a, b)| (a - ws + base, b - ws + base))
        .collect();
    if we < text.len() {
        s.push('…');
    }
    Snippet {
        text: s,
        highlights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_english_stems_and_chinese_bigrams() {
        let s = make(
            "Charging the X9 Pro: the screen charges fast.",
            "charging screen",
            200,
        );
        assert_eq!(
            s.marked("[", "]"),
            "[Charging] the X9 Pro: the [screen] [charges] fast."
        );
        let z = make("屏幕碎了请联系售后。", "屏幕碎了怎么办", 200);
        assert_eq!(z.marked("[", "]"), "[屏幕碎了]请联系售后。");
    }

    #[test]
    fn long_text_is_windowed_around_matches() {
        let text = format!(
            "{} warranty covers defects. {}",
            "filler ".repeat(100),
            "more ".repeat(100)
        );
        let s = make(&text, "warranty", 60);
        assert!(s.text.starts_with('…') && s.text.ends_with('…'));
        assert!(s.marked("[", "]").contains("[warranty]"));
        for &(a, b) in &s.highlights {
            assert!(s.text.is_char_boundary(a) && s.text.is_char_boundary(b));
        }
    }
}
