//! The extractive composer: picks the sentences of the best passages that answer the question
//! (embedding similarity and word overlap, redundancy removed), orders them as they stand in
//! their passages, and cites each with its own byte span in the source file.

use std::collections::HashSet;

use serde::Serialize;

use crate::analyze::{Analyzer, Stream};
use crate::text::Lang;
use crate::text::{is_cjk, quotable_ranges};

use super::Evidence;

/// Settings of the extractive composer.
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions {
    /// Passages whose sentences are considered.
    pub passages: usize,
    /// Sentences in an answer at most.
    pub max_sentences: usize,
    /// A sentence joins the best one only when it scores at least this share of it.
    pub keep_ratio: f32,
    /// The best sentence of each of this many leading passages is taken first…
    pub diverse_passages: usize,
    /// …when it scores at least this share of the best sentence.
    pub diverse_ratio: f32,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            passages: 5,
            max_sentences: 5,
            keep_ratio: 0.7,
            diverse_passages: 4,
            diverse_ratio: 0.4,
        }
    }
}

/// A candidate sentence.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    /// Index of its passage among the evidence.
    pub passage: usize,
    /// Byte range in the passage text.
    pub range: (usize, usize),
    pub text: String,
    pub language: Lang,
    /// Cosine similarity to the question (0 without an embedder).
    pub cosine: f32,
    /// Share of the question's words found in the sentence.
    pub overlap: f32,
    pub score: f32,
}

/// Share of `terms` present in `text`.
pub fn overlap(analyzer: &Analyzer, terms: &[String], text: &str) -> f32 {
    if terms.is_empty() {
        return 0.0;
    }
    let mut toks = Vec::new();
    analyzer.analyze(Stream::Words, text, &mut toks);
    if text.chars().any(is_cjk) {
        analyzer.analyze(Stream::CjkBigrams, text, &mut toks);
    }
    analyzer.analyze(Stream::Idents, text, &mut toks);
    let have: HashSet<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    terms.iter().filter(|t| have.contains(t.as_str())).count() as f32 / terms.len() as f32
}

/// Character-bigram Dice similarity (for redundancy).
pub fn dice(a: &str, b: &str) -> f32 {
    let grams = |s: &str| -> HashSet<(char, char)> {
        let c: Vec<char> = s
            .chars()
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric() || is_cjk(*c))
            .collect();
        c.windows(2).map(|w| (w[0], w[1])).collect()
    };
    let (x, y) = (grams(a), grams(b));
    if x.is_empty() && y.is_empty() {
        return 0.0;
    }
    2.0 * x.intersection(&y).count() as f32 / (x.len() + y.len()) as f32
}

/// The candidate sentences of the first passages of `evidence`, unscored.
pub fn sentences(evidence: &[Evidence], opts: &ExtractOptions) -> Vec<Scored> {
    let mut out = Vec::new();
    for (pi, e) in evidence.iter().take(opts.passages).enumerate() {
        let c = &e.chunk;
        let customer_side = c.meta.doc_type == crate::domain::DocType::Ticket
            && c.heading_path.len() == 1
            && crate::ingest::ticket::PROBLEM_HEADINGS.contains(&c.heading_path[0].as_str());
        if customer_side {
            continue;
        }
        let text = &c.text;
        for (a, b) in quotable_ranges(text) {
            let s = &text[a..b];
            out.push(Scored {
                passage: pi,
                range: (a, b),
                text: s.to_string(),
                language: Lang::detect(s),
                cosine: 0.0,
                overlap: 0.0,
                score: 0.0,
            });
        }
    }
    out
}

/// Scores sentences: `cosines` (to the question, one per sentence; empty without an embedder)
/// and word overlap, with a small prior for better-ranked passages.
pub fn score(analyzer: &Analyzer, terms: &[String], sents: &mut [Scored], cosines: &[f32]) {
    for (i, s) in sents.iter_mut().enumerate() {
        s.overlap = overlap(analyzer, terms, &s.text);
        s.cosine = cosines.get(i).copied().unwrap_or(0.0);
        // e5 similarities of related text sit between about 0.75 and 0.95
        let cos = ((s.cosine - 0.75) / 0.2).clamp(0.0, 1.0);
        let prior = 1.0 / (1.0 + s.passage as f32);
        s.score = if cosines.is_empty() {
            0.9 * s.overlap + 0.1 * prior
        } else {
            0.45 * cos + 0.3 * s.overlap + 0.25 * prior
        };
    }
}

/// Picks the answer's sentences from scored candidates: the best, then others scoring at least
/// `keep_ratio` of it that do not repeat a picked one, in the question's language when
/// `language` is given; returned in reading order (by passage, then position).
pub fn select(sents: &[Scored], language: Option<Lang>, opts: &ExtractOptions) -> Vec<Scored> {
    let mut order: Vec<&Scored> = sents
        .iter()
        .filter(|s| language.is_none_or(|l| s.language == l))
        .collect();
    order.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.passage.cmp(&b.passage))
            .then(a.range.0.cmp(&b.range.0))
    });
    let Some(best) = order.first().map(|s| s.score) else {
        return Vec::new();
    };
    let mut picked: Vec<Scored> = Vec::new();
    let repeats =
        |picked: &[Scored], s: &Scored| picked.iter().any(|p| dice(&p.text, &s.text) > 0.6);
    // first the best sentence of each of the leading passages that has a good one (the
    // ranker's best passages are more often right than any single sentence score), then the
    // best of the rest
    for p in 0..opts.diverse_passages {
        if let Some(s) = order.iter().find(|s| s.passage == p) {
            if picked.len() < opts.max_sentences
                && s.score >= opts.diverse_ratio * best
                && !repeats(&picked, s)
            {
                picked.push((*s).clone());
            }
        }
    }
    for s in order {
        if picked.len() >= opts.max_sentences || s.score < opts.keep_ratio * best {
            break;
        }
        if picked
            .iter()
            .any(|p| p.passage == s.passage && p.range == s.range)
            || repeats(&picked, s)
        {
            continue;
        }
        picked.push(s.clone());
    }
    picked.sort_by(|a, b| a.passage.cmp(&b.passage).then(a.range.0.cmp(&b.range.0)));
    picked
}

/// Numbers in a text (digit runs, with a decimal point kept).
fn numbers(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || (c == '.' && !cur.is_empty()) {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(cur.trim_end_matches('.').to_string());
            cur.clear();
        }
    }
    if !cur.is_empty() {
        out.push(cur.trim_end_matches('.').to_string());
    }
    out
}

/// Whether two sentences state the same thing with different figures ("within 30 days" against
/// "within 14 days"): alike once the numbers are removed, and no number in common.
pub fn conflicting(a: &str, b: &str) -> bool {
    let (na, nb) = (numbers(a), numbers(b));
    if na.is_empty() || nb.is_empty() || na.iter().any(|n| nb.contains(n)) {
        return false;
    }
    let strip = |s: &str| {
        s.chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>()
    };
    dice(&strip(a), &strip(b)) >= 0.6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(passage: usize, start: usize, text: &str, score: f32) -> Scored {
        Scored {
            passage,
            range: (start, start + text.len()),
            text: text.into(),
            language: Lang::detect(text),
            cosine: 0.0,
            overlap: 0.0,
            score,
        }
    }

    #[test]
    fn selection_keeps_the_best_drops_repeats_and_reads_in_order() {
        let cands = vec![
            s(1, 0, "Hold the power button for ten seconds to reset.", 0.9),
            s(
                0,
                40,
                "The remote pairs again after the reset finishes.",
                0.85,
            ),
            s(
                0,
                0,
                "Hold the power button for ten seconds to reset!",
                0.88,
            ),
            s(2, 0, "Warranty covers the screen for one year.", 0.2),
        ];
        let picked = select(&cands, None, &ExtractOptions::default());
        let texts: Vec<&str> = picked.iter().map(|p| p.text.as_str()).collect();
        // one of the two near-identical sentences is dropped, the weak one is left out, and
        // the two kept are in reading order
        assert_eq!(
            texts,
            vec![
                "Hold the power button for ten seconds to reset!",
                "The remote pairs again after the reset finishes."
            ]
        );
        // a leading passage's best sentence comes in although weaker than the others kept…
        let diverse = vec![
            s(0, 0, "Unplug the washer before cleaning the filter.", 0.9),
            s(
                0,
                50,
                "Open the flap at the bottom right of the front.",
                0.88,
            ),
            s(2, 0, "The drain pump filter catches coins and lint.", 0.45),
            s(7, 0, "Unrelated sentence about television menus here.", 0.3),
        ];
        let picked = select(&diverse, None, &ExtractOptions::default());
        assert_eq!(picked.len(), 3);
        assert_eq!(picked[2].passage, 2);
        // …but never a weak one from a passage beyond the leading ones
        assert!(picked.iter().all(|p| p.passage != 7));
        // a language preference keeps only sentences in that language
        let zh = vec![
            s(0, 0, "按住电源键十秒即可重置。", 0.5),
            s(1, 0, "Hold the power button.", 0.9),
        ];
        let picked = select(&zh, Some(Lang::Zh), &ExtractOptions::default());
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].language, Lang::Zh);
        assert!(select(&[], None, &ExtractOptions::default()).is_empty());
    }

    #[test]
    fn candidate_sentences_carry_exact_ranges() {
        use crate::chunk::Chunk;
        use crate::domain::{Audience, DocMeta, DocType};
        let text = "Short.\nTo reset the remote, hold Back and Play for 3 seconds. 然后遥控器会重新配对成功。";
        let meta = std::sync::Arc::new(DocMeta {
            id: "d".into(),
            title: "T".into(),
            doc_type: DocType::Manual,
            language: Lang::En,
            audience: Audience::Public,
            products: vec![],
            category: None,
            tags: vec![],
            effective_date: None,
            version: None,
            warranty: vec![],
            source: "d.md".into(),
            extra: Default::default(),
        });
        let ev = vec![Evidence {
            chunk: Chunk {
                id: crate::domain::ChunkId(1),
                ord: 0,
                heading_path: vec![],
                text: text.into(),
                span: (0, text.len()),
                language: Lang::En,
                tokens: crate::text::count_tokens(text),
                meta,
                pieces: vec![],
            },
            cosine: None,
            coverage: 0.0,
            score: 1.0,
        }];
        let sents = sentences(&ev, &ExtractOptions::default());
        // "Short." is too short to quote
        assert_eq!(sents.len(), 2);
        for c in &sents {
            assert_eq!(&text[c.range.0..c.range.1], c.text);
        }
        assert_eq!(sents[1].language, Lang::Zh);
    }

    #[test]
    fn conflicts_are_same_statements_with_other_figures() {
        assert!(conflicting(
            "Returns are accepted within 30 days of delivery.",
            "Returns are accepted within 14 days of delivery."
        ));
        assert!(!conflicting(
            "Returns are accepted within 30 days of delivery.",
            "Returns are accepted within 30 days of delivery, unopened."
        ));
        assert!(!conflicting(
            "The battery lasts 10 hours.",
            "Shipping takes 3 days."
        ));
        assert!(conflicting(
            "保修期为12个月，自购买之日起计算。",
            "保修期为24个月，自购买之日起计算。"
        ));
        assert_eq!(numbers("v2.5 costs 30."), vec!["2.5", "30"]);
    }
}
