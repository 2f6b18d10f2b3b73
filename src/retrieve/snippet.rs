//! Highlighted snippets: the window of a passage with the most query matches, and the byte
//! ranges of the matches inside it.

use std::collections::HashSet;

use crate::analyze::{Analyzer, Query, Stream};

/// A snippet and where its matches are (byte ranges into `text`).
#[derive(Debug, Clone, PartialEq)]
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

/// Match ranges of the query in `text`: words that analyse to a query word (same stem, not a
/// stopword), and Chinese bigrams of the query (single characters for one-character runs).
fn matches(analyzer: &Analyzer, text: &str, query: &Query) -> Vec<(usize, usize)> {
    let words: HashSet<&str> = query.terms.words.iter().map(String::as_str).collect();
    let grams: HashSet<&str> = query.terms.cjk_bigrams.iter().map(String::as_str).collect();
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut toks = Vec::new();
    analyzer.analyze(Stream::Words, text, &mut toks);
    out.extend(
        toks.iter()
            .filter(|t| words.contains(t.text.as_str()))
            .map(|t| (t.from, t.to)),
    );
    toks.clear();
    analyzer.analyze(Stream::CjkBigrams, text, &mut toks);
    out.extend(
        toks.iter()
            .filter(|t| grams.contains(t.text.as_str()))
            .map(|t| (t.from, t.to)),
    );
    out.sort_unstable();
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
pub fn make(analyzer: &Analyzer, text: &str, query: &Query, max_chars: usize) -> Snippet {
    let all = matches(analyzer, text, query);
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
    use crate::config::AnalysisConfig;

    fn analyzer() -> Analyzer {
        Analyzer::new(&AnalysisConfig {
            user_dict: "".into(),
            ..AnalysisConfig::default()
        })
        .expect("analyzer")
    }

    #[test]
    fn highlights_english_stems_and_chinese_bigrams() {
        let a = analyzer();
        let s = make(
            &a,
            "Charging the X9 Pro: take a screenshot, the screen charges fast.",
            &Query::new(&a, "charging on screen"),
            200,
        );
        assert_eq!(
            s.marked("[", "]"),
            "[Charging] the X9 Pro: take a screenshot, the [screen] [charges] fast."
        );
        let z = make(
            &a,
            "屏幕碎了请联系售后。",
            &Query::new(&a, "屏幕碎了怎么办"),
            200,
        );
        assert_eq!(z.marked("[", "]"), "[屏幕碎了]请联系售后。");
    }

    #[test]
    fn long_text_is_windowed_around_matches() {
        let text = format!(
            "{} warranty covers defects. {}",
            "filler ".repeat(100),
            "more ".repeat(100)
        );
        let a = analyzer();
        let s = make(&a, &text, &Query::new(&a, "warranty"), 60);
        assert!(s.text.starts_with('…') && s.text.ends_with('…'));
        assert!(s.marked("[", "]").contains("[warranty]"));
        for &(a, b) in &s.highlights {
            assert!(s.text.is_char_boundary(a) && s.text.is_char_boundary(b));
        }
    }
}
