//! Features of a (question, passage) pair for the second-stage ranker. Every feature is
//! comparable across questions (scores are shares of an ideal or of the best candidate, not raw
//! BM25), so one model fits every knowledge base.

use std::collections::HashSet;

use chrono::NaiveDate;

use crate::analyze::{Query, Stream, Tok};
use crate::chunk::Chunk;
use crate::domain::DocType;
use crate::error::Result;
use crate::index::lexical::SCORED;
use crate::text::{is_cjk, Lang};

/// One first-stage candidate and what the first stage knew of it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub chunk: Chunk,
    /// Cosine similarity to the question (when vectors exist).
    pub cosine: Option<f32>,
    /// Position in the lexical list (0 = first), if it was there.
    pub lex_rank: Option<usize>,
    /// Position in the vector list, if it was there.
    pub vec_rank: Option<usize>,
    /// Position after fusion.
    pub fused_rank: usize,
}

/// The feature names, in the order of a feature vector.
pub const NAMES: [&str; 31] = [
    "bm25_title",
    "bm25_heading",
    "bm25_body",
    "bm25_cjk1",
    "bm25_cjk2",
    "bm25_pairs",
    "bm25_ident",
    "bm25_total",
    "bm25_rel",
    "cosine",
    "cosine_gap",
    "cosine_z",
    "bm25_z",
    "rrf_lex",
    "rrf_vec",
    "fused_rank_log",
    "coverage",
    "proximity",
    "title_coverage",
    "heading_coverage",
    "ident_match",
    "lang_match",
    "char_dice",
    "len_log",
    "len_ratio",
    "type_faq",
    "type_manual",
    "type_policy",
    "type_ticket",
    "age_years",
    "dated",
];

/// The question, analysed once for all its candidates.
pub struct Question {
    words: Vec<String>,
    idents: Vec<String>,
    /// The question's language (the reranker has one model per language).
    pub lang: Lang,
    bigrams: HashSet<(char, char)>,
    chars: usize,
}

/// Lowercased letters, digits and CJK characters of a text (the rest dropped).
fn letters(text: &str) -> Vec<char> {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric() || is_cjk(*c))
        .collect()
}

fn bigrams(chars: &[char]) -> HashSet<(char, char)> {
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

impl Question {
    /// The question's features of itself, from its analysis.
    pub fn new(query: &Query) -> Question {
        let chars = letters(&query.text);
        Question {
            words: query.terms.words.clone(),
            idents: query.terms.idents.clone(),
            lang: query.lang,
            bigrams: bigrams(&chars),
            chars: chars.len(),
        }
    }
}

/// The share of `words` found among `toks`.
fn share_found(words: &[String], toks: &[Tok]) -> f32 {
    if words.is_empty() {
        return 0.0;
    }
    let found = words
        .iter()
        .filter(|w| toks.iter().any(|t| &t.text == *w))
        .count();
    found as f32 / words.len() as f32
}

/// How close together the question's words occur: the number of distinct question words in
/// the shortest window holding the most of them, over that window's length in tokens (1 when
/// they are adjacent; 0 when fewer than two occur).
fn proximity(words: &[String], toks: &[Tok]) -> f32 {
    let hits: Vec<(usize, usize)> = toks
        .iter()
        .enumerate()
        .filter_map(|(pos, t)| words.iter().position(|w| *w == t.text).map(|w| (pos, w)))
        .collect();
    let distinct: HashSet<usize> = hits.iter().map(|h| h.1).collect();
    let want = distinct.len();
    if want < 2 {
        return 0.0;
    }
    let mut counts = vec![0usize; words.len()];
    let mut have = 0;
    let mut best = usize::MAX;
    let mut lo = 0;
    for hi in 0..hits.len() {
        let w = hits[hi].1;
        counts[w] += 1;
        if counts[w] == 1 {
            have += 1;
        }
        while have == want {
            best = best.min(hits[hi].0 - hits[lo].0 + 1);
            let wl = hits[lo].1;
            counts[wl] -= 1;
            if counts[wl] == 0 {
                have -= 1;
            }
            lo += 1;
        }
    }
    want as f32 / best.max(want) as f32
}

/// Years between an effective date and `today` (0 for future dates).
fn age_years(date: NaiveDate, today: NaiveDate) -> f32 {
    ((today - date).num_days().max(0) as f32 / 365.25).min(20.0)
}

/// The feature vectors of `candidates` for `question` (of text `text`), in the order of
/// [`NAMES`].
/// Whether most candidates are in another language than the question (a Chinese question over
/// an English knowledge base): such questions are ranked by the cross-lingual model, because
/// the words they share with a passage mean little and its cosine much.
pub fn mostly_other_language(features: &[Vec<f32>]) -> bool {
    let Some(k) = NAMES.iter().position(|n| *n == "lang_match") else {
        return false;
    };
    let other = features
        .iter()
        .filter(|x| x.get(k).is_some_and(|v| *v < 0.5))
        .count();
    other * 2 > features.len()
}

pub fn extract(
    ctx: &super::Context<'_>,
    query: &Query,
    question: &Question,
    candidates: &[Candidate],
) -> Result<Vec<Vec<f32>>> {
    let today = ctx.today;
    let ids: Vec<_> = candidates.iter().map(|c| c.chunk.id).collect();
    let fields = ctx.index.field_scores(query, ctx.boosts, &ids, ctx.stats)?;
    let totals: Vec<f32> = fields.iter().map(|f| f.iter().sum()).collect();
    let max_total = totals.iter().copied().fold(0f32, f32::max);
    let max_cos = candidates
        .iter()
        .filter_map(|c| c.cosine)
        .fold(f32::NEG_INFINITY, f32::max);
    let z = |values: &[f32]| -> Vec<f32> {
        let n = values.len().max(1) as f32;
        let mean = values.iter().sum::<f32>() / n;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        values
            .iter()
            .map(|v| if sd > 1e-6 { (v - mean) / sd } else { 0.0 })
            .collect()
    };
    let cos_z = z(&candidates
        .iter()
        .map(|c| c.cosine.unwrap_or(0.0))
        .collect::<Vec<_>>());
    let bm25_z = z(&totals);
    let analyzer = ctx.index.analyzer();
    let mut toks = Vec::new();
    let mut out = Vec::with_capacity(candidates.len());
    for (i, ((c, f), total)) in candidates.iter().zip(&fields).zip(&totals).enumerate() {
        let mut x = Vec::with_capacity(NAMES.len());
        x.extend_from_slice(&f[..SCORED]);
        x.push(*total);
        x.push(if max_total > 0.0 {
            total / max_total
        } else {
            0.0
        });
        let cos = c.cosine.unwrap_or(0.0);
        x.push(cos);
        x.push(if c.cosine.is_some() {
            cos - max_cos
        } else {
            -1.0
        });
        x.push(cos_z[i]);
        x.push(bm25_z[i]);
        x.push(c.lex_rank.map_or(0.0, |r| 60.0 / (61.0 + r as f32)));
        x.push(c.vec_rank.map_or(0.0, |r| 60.0 / (61.0 + r as f32)));
        x.push((1.0 + c.fused_rank as f32).ln());

        toks.clear();
        analyzer.analyze(Stream::Words, &c.chunk.text, &mut toks);
        x.push(share_found(&question.words, &toks));
        x.push(proximity(&question.words, &toks));
        toks.clear();
        analyzer.analyze(Stream::Words, &c.chunk.meta.title, &mut toks);
        x.push(share_found(&question.words, &toks));
        toks.clear();
        analyzer.analyze(Stream::Words, &c.chunk.heading_path.join(" / "), &mut toks);
        x.push(share_found(&question.words, &toks));
        if question.idents.is_empty() {
            x.push(0.0);
        } else {
            toks.clear();
            analyzer.analyze(Stream::Idents, &c.chunk.text, &mut toks);
            x.push(share_found(&question.idents, &toks));
        }
        x.push(if c.chunk.language == question.lang {
            1.0
        } else {
            0.0
        });
        let chars = letters(&c.chunk.text);
        let pb = bigrams(&chars);
        let shared = question.bigrams.intersection(&pb).count();
        let denom = question.bigrams.len() + pb.len();
        let dice = if denom > 0 {
            2.0 * shared as f32 / denom as f32
        } else {
            0.0
        };
        x.push(dice);
        x.push((1.0 + c.chunk.tokens as f32).ln());
        let (a, b) = (question.chars as f32, chars.len() as f32);
        x.push(if a.max(b) > 0.0 {
            a.min(b) / a.max(b)
        } else {
            0.0
        });
        let t = c.chunk.meta.doc_type;
        for ty in [
            DocType::Faq,
            DocType::Manual,
            DocType::Policy,
            DocType::Ticket,
        ] {
            x.push(if t == ty { 1.0 } else { 0.0 });
        }
        match c.chunk.meta.effective_date {
            Some(d) => {
                x.push(age_years(d, today));
                x.push(1.0);
            }
            None => {
                x.push(0.0);
                x.push(0.0);
            }
        }
        debug_assert_eq!(x.len(), NAMES.len());
        out.push(x);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(words: &[&str]) -> Vec<Tok> {
        words
            .iter()
            .enumerate()
            .map(|(i, w)| Tok {
                text: w.to_string(),
                from: i,
                to: i + 1,
            })
            .collect()
    }

    fn strings(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn proximity_rewards_words_close_together() {
        let q = strings(&["reset", "remot"]);
        let near = toks(&["how", "reset", "remot", "now"]);
        let far = toks(&["reset", "a", "b", "c", "d", "remot"]);
        assert_eq!(proximity(&q, &near), 1.0);
        assert!((proximity(&q, &far) - 2.0 / 6.0).abs() < 1e-6);
        // the closest pair counts, not the first
        let both = toks(&["reset", "x", "x", "x", "remot", "reset"]);
        assert_eq!(proximity(&q, &both), 1.0);
        assert_eq!(proximity(&q, &toks(&["reset", "x"])), 0.0);
    }

    #[test]
    fn shares_and_ages() {
        let q = strings(&["a", "b", "c", "d"]);
        assert_eq!(share_found(&q, &toks(&["b", "d", "e"])), 0.5);
        assert_eq!(share_found(&[], &toks(&["b"])), 0.0);
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        assert!((age_years(d, today) - 2.0).abs() < 0.01);
        assert_eq!(age_years(today, d), 0.0);
        assert_eq!(letters("Hi, 你好!"), vec!['h', 'i', '你', '好']);
    }
}
