//! The extractive composer: picks the sentences of the best passages that answer the question
//! (embedding similarity and word overlap, redundancy removed), orders them as they stand in
//! their passages, and cites each with its own byte span in the source file.

use std::collections::HashSet;

use serde::Serialize;

use crate::analyze::{Analyzer, Stream};
use crate::text::Lang;
use crate::text::{is_cjk, quotable_ranges};

use super::asked::{Asked, Kind};
use super::render;
use super::weigh::{rescaled, SentenceModel};
use super::Evidence;

/// Settings of the extractive composer.
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions {
    /// Passages whose sentences are considered.
    pub passages: usize,
    /// Sentences in an answer at most.
    pub max_sentences: usize,
    /// A sentence joins the lead only when it scores at least this share of it…
    pub keep_ratio: f32,
    /// …and comes from one of this many leading passages (or follows the lead in its own).
    pub support_passages: usize,
    /// Sentences that follow the lead in its passage (the next steps, a code's remedy) taken
    /// when the question asks what to do or about a code…
    pub follow: usize,
    /// …when they score at least this share of the lead.
    pub follow_ratio: f32,
    /// The length of an answer, in characters, that further sentences may not go past (the
    /// lead is always given), for Chinese and for English answers.
    pub max_chars_zh: usize,
    pub max_chars_en: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            passages: 5,
            max_sentences: 6,
            keep_ratio: 0.5,
            support_passages: 4,
            follow: 4,
            follow_ratio: 0.35,
            max_chars_zh: 260,
            max_chars_en: 700,
        }
    }
}

impl ExtractOptions {
    /// The length budget of an answer in `lang`.
    pub fn max_chars(&self, lang: Lang) -> usize {
        match lang {
            Lang::Zh => self.max_chars_zh,
            Lang::En => self.max_chars_en,
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
    /// The sentence as the source has it (what the citation quotes).
    pub text: String,
    /// The sentence as the answer shows it ([`render::shown`]).
    pub shown: String,
    /// From a support ticket (weighed below manuals, policies and FAQs).
    pub ticket: bool,
    /// An item of a list (a step, a clause) in the source, or a later sentence of one.
    pub item: bool,
    /// A step of a numbered procedure ("1. …", "2) …"), or a later sentence of one: an item of
    /// a list whose order matters (a clause numbered "11.1" is not one).
    pub step: bool,
    /// A row of a table.
    pub row: bool,
    /// The title of the section it stands in (the passage's last heading).
    pub section: String,
    /// For an item of a list, the sentence that introduces the list ("These are not
    /// covered:"): given before the item, which means little without it.
    pub intro: Option<Box<Scored>>,
    pub language: Lang,
    /// Cosine similarity to the question (0 without an embedder).
    pub cosine: f32,
    /// Its passage's similarity to the question (0 when unknown) and share of the question's
    /// ideal BM25 score.
    pub passage_cosine: f32,
    pub passage_coverage: f32,
    /// The first sentence of its passage.
    pub first: bool,
    /// What [`score`] weighed ([`super::weigh::FEATURES`]).
    pub features: Vec<f32>,
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

/// Whether a ticket's sentence is about that ticket's own customer rather than a fact to
/// answer with: it holds a redaction placeholder (`[EMAIL]`), or an agent tells what they did
/// or will do ("I've created the order", 「我已为您登记」).
fn about_that_customer(s: &str) -> bool {
    const PLACEHOLDERS: [crate::ingest::redact::PiiKind; 4] = [
        crate::ingest::redact::PiiKind::Email,
        crate::ingest::redact::PiiKind::IdCard,
        crate::ingest::redact::PiiKind::BankCard,
        crate::ingest::redact::PiiKind::Phone,
    ];
    if PLACEHOLDERS.iter().any(|k| s.contains(k.placeholder())) {
        return true;
    }
    // the agent's own "I" (the customer's side of a ticket is never a candidate)
    let lower = s.to_lowercase();
    let agent_en = ["i", "i've", "i'll", "i'm", "i'd"]
        .iter()
        .any(|w| crate::customer::find_word(&lower, w).is_some());
    const AGENT_ZH: &[&str] = &["我已", "我会", "我这边", "我帮您", "已为您", "已经为您"];
    agent_en || AGENT_ZH.iter().any(|p| s.contains(p))
}

/// The candidate sentences of the first passages of `evidence`, unscored: never the customer's
/// side of a ticket, nor a fragment (a table's header row, a lone lead-in).
pub fn sentences(evidence: &[Evidence], opts: &ExtractOptions) -> Vec<Scored> {
    let mut out = Vec::new();
    for (pi, e) in evidence.iter().take(opts.passages).enumerate() {
        let c = &e.chunk;
        let ticket = c.meta.doc_type == crate::domain::DocType::Ticket;
        let customer_side = ticket
            && c.heading_path.len() == 1
            && crate::ingest::ticket::PROBLEM_HEADINGS.contains(&c.heading_path[0].as_str());
        if customer_side {
            continue;
        }
        let text = &c.text;
        let section = c.heading_path.last().cloned().unwrap_or_default();
        let mut intro: Option<Box<Scored>> = None;
        let ranges = quotable_ranges(text);
        let first_at = ranges.first().map_or(0, |r| r.0);
        // the end of the sentence before, and whether it was (part of) an item of a list
        let (mut prev_end, mut in_item) = (None::<usize>, false);
        for (a, b) in ranges {
            let s = &text[a..b];
            // an item goes on, sentence after sentence, until its line ends
            let same_line =
                prev_end.is_some_and(|e| text.get(e..a).is_some_and(|g| !g.contains('\n')));
            let item = marked(text, a, b) || (same_line && in_item);
            let step = item && numbered(text, a);
            (prev_end, in_item) = (Some(b), item);
            if asks(text, a, b) {
                // a question (an FAQ's, a customer's) never answers one
                continue;
            }
            if ticket && about_that_customer(s) {
                // what an agent did for another customer, or their redacted details
                continue;
            }
            let mut sentence = Scored {
                passage: pi,
                range: (a, b),
                text: s.to_string(),
                item,
                step,
                row: s.contains(" | "),
                section: section.clone(),
                intro: None,
                shown: String::new(),
                ticket,
                language: Lang::detect(s),
                cosine: 0.0,
                passage_cosine: e.cosine.unwrap_or(0.0),
                passage_coverage: e.coverage,
                first: a == first_at,
                features: Vec::new(),
                overlap: 0.0,
                score: 0.0,
            };
            let Some(shown) = render::shown(text, (a, b)) else {
                // a lead-in stays at hand for the items of its list
                intro = render::lead_in(text, (a, b))
                    .map(|shown| Box::new(Scored { shown, ..sentence }));
                continue;
            };
            sentence.shown = shown;
            if item {
                sentence.intro = intro.clone();
            } else {
                intro = None;
            }
            out.push(sentence);
        }
    }
    out
}

/// Whether the sentence at `a..b` of `text` is a question: it ends with a question mark, or
/// its line does (an FAQ's question in bold, "**Is it free? Can I…?**").
fn asks(text: &str, a: usize, b: usize) -> bool {
    let q = |s: &str| {
        let s = s.trim().trim_end_matches(['*', '_']).trim_end();
        s.ends_with('?') || s.ends_with('？')
    };
    let end = text
        .get(b..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |i| b + i);
    q(text.get(a..b).unwrap_or("")) || q(text.get(a..end).unwrap_or(""))
}

/// Whether the sentence at `a..b` of `text` begins an item of a list: its line starts with a
/// list or clause marker, before the sentence or as its first characters (a quotable sentence
/// leaves the marker out).
fn marked(text: &str, a: usize, b: usize) -> bool {
    let line = text
        .get(..a)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let before = text.get(line..a).unwrap_or("").trim();
    if before.is_empty() {
        let s = text.get(a..b).unwrap_or("");
        return render::strip_marker(s) != s.trim_start();
    }
    render::strip_marker(&format!("{before} x")) == "x"
}

/// Whether the line holding byte `a` of `text` starts with the number of a step ("1. ", "2)",
/// "3、", "（4）"), not a clause's ("11.1 ") nor a figure ("5,000 mAh", "12 秒").
fn numbered(text: &str, a: usize) -> bool {
    let start = text
        .get(..a)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = text.get(start..).unwrap_or("").trim_start();
    let line = line
        .strip_prefix('(')
        .or_else(|| line.strip_prefix('（'))
        .unwrap_or(line);
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &line[digits..];
    (1..=2).contains(&digits) && [". ", ")", "）", "、"].iter().any(|m| rest.starts_with(m))
}

/// Scores sentences with `model`: `cosines` (to the question, one per sentence; empty without
/// an embedder), word overlap with the sentence and with its section's title, its passage's
/// rank, similarity and coverage, what the question asks for (`asked`), and whether it is a
/// document's (not a ticket's), a step, a row, a passage's first.
pub fn score(
    analyzer: &Analyzer,
    terms: &[String],
    asked: &Asked,
    model: &SentenceModel,
    sents: &mut [Scored],
    cosines: &[f32],
) {
    for (i, s) in sents.iter_mut().enumerate() {
        s.overlap = overlap(analyzer, terms, &s.text);
        s.cosine = cosines.get(i).copied().unwrap_or(0.0);
        let flag = |b: bool| f32::from(u8::from(b));
        s.features = vec![
            rescaled(s.cosine),
            s.overlap,
            1.0 / (1.0 + s.passage as f32),
            overlap(analyzer, terms, &s.section),
            asked.fit(&s.shown, s.intro.as_ref().map(|i| i.shown.as_str())),
            flag(!s.ticket),
            flag(s.item),
            flag(s.row),
            flag(s.first),
            rescaled(s.passage_cosine),
            s.passage_coverage,
            flag(render::example(&s.shown)),
        ];
        s.score = model.score(&s.features);
    }
}

/// Picks the answer's sentences from scored candidates, in the question's language when
/// `language` is given: the lead (the best sentence); for a code, its row of the error table;
/// the best sentence of each other leading passage that scores at least `keep_ratio` of the
/// lead; when the question asks what to do or about a code (`asked`), the steps around the lead
/// in its passage (from the first step of its list); then the best of the rest. None repeats
/// one already picked, and all fit the length budget. Returned lead first (or its list from
/// the first step), the rest in reading order.
pub fn select(
    sents: &[Scored],
    language: Option<Lang>,
    asked: &Asked,
    opts: &ExtractOptions,
) -> Vec<Scored> {
    // a sentence about another code than the one asked about says nothing of it
    let mut order: Vec<&Scored> = sents
        .iter()
        .filter(|s| language.is_none_or(|l| s.language == l))
        .filter(|s| !asked.names_other_code(&s.shown))
        .collect();
    order.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.passage.cmp(&b.passage))
            .then(a.range.0.cmp(&b.range.0))
    });
    let Some(lead) = order.first().copied() else {
        return Vec::new();
    };
    let mut pick = Picking {
        picked: vec![lead],
        chars: lead.shown.chars().count(),
        budget: opts.max_chars(lead.language),
        opts,
    };
    // a question about what to do, or about a code, is answered by the steps around the lead in
    // its passage (its list from the first step, or the list its lead introduces; a code's
    // remedy after the sentence that names it) before any other passage is heard; and a step
    // of a procedure leading the answer to a question of no known kind is given with its
    // procedure from the first step ("release both keys" means nothing without "hold both
    // keys"; a question asking for a code, a figure or a yes or no is answered by its own lead)
    let follows = match asked.kind {
        Kind::Code => asked.fit(&lead.shown, None) > 0.0,
        Kind::Steps => true,
        Kind::Other => lead.step,
        _ => false,
    };
    let from_first = follows && pick.steps(&order, asked);
    if asked.kind == Kind::Code && !lead.row {
        // a code's row of the error table says in a few words what the prose explains
        if let Some(row) = order
            .iter()
            .find(|s| s.row && asked.fit(&s.shown, None) > 0.0)
        {
            pick.take(row);
        }
    }
    let strong = |s: &&&Scored| {
        s.score >= opts.keep_ratio * lead.score
            && s.passage < opts.support_passages.max(lead.passage + 1)
    };
    // the ranker's leading passages are more often right than any one sentence score
    for p in 0..opts.support_passages {
        if pick.picked.iter().any(|x| x.passage == p) {
            continue;
        }
        if let Some(s) = order.iter().filter(strong).find(|s| s.passage == p) {
            pick.take(s);
        }
    }
    // when the ranker's best passage holds the lead, what stands beside the lead completes it
    if lead.passage == 0 {
        let own = order
            .iter()
            .skip(1)
            .filter(strong)
            .filter(|s| s.passage == lead.passage);
        for s in own {
            pick.take(s);
        }
    }
    for s in order.iter().skip(1).filter(strong) {
        pick.take(s);
    }
    pick.in_order(from_first)
}

/// Sentences being picked for an answer, within its limits.
struct Picking<'a, 'o> {
    picked: Vec<&'a Scored>,
    chars: usize,
    budget: usize,
    opts: &'o ExtractOptions,
}

impl<'a> Picking<'a, '_> {
    /// Takes `s` when there is room and it repeats nothing taken; whether it was taken.
    fn take(&mut self, s: &'a Scored) -> bool {
        let intro = s.intro.as_ref().filter(|i| {
            !self
                .picked
                .iter()
                .any(|p| p.intro.as_ref().is_some_and(|x| x.range == i.range))
        });
        let len = s.shown.chars().count() + intro.map_or(0, |i| i.shown.chars().count());
        let fits = self.picked.len() < self.opts.max_sentences
            && self.chars + len <= self.budget
            && !self.picked.iter().any(|p| {
                (p.passage == s.passage && p.range == s.range) || dice(&p.shown, &s.shown) > 0.6
            });
        if fits {
            self.chars += len;
            self.picked.push(s);
        }
        fits
    }

    /// Takes the steps around the lead in its passage: when the lead is an item of a list and
    /// the question asks what to do, the items before it from the first; after it, the items of
    /// its list (or of the list it introduces, starting within the next two sentences) and any
    /// other sentence that scores at least `follow_ratio` of it, up to `follow` of them. A lead
    /// in prose with no list after it brings only a code's remedy. Whether the answer starts
    /// at a first step.
    fn steps(&mut self, order: &[&'a Scored], asked: &Asked) -> bool {
        let lead = self.picked[0];
        let mut own: Vec<&'a Scored> = order
            .iter()
            .copied()
            .filter(|s| s.passage == lead.passage)
            .collect();
        own.sort_by_key(|s| s.range.0);
        let at = own.iter().position(|s| s.range == lead.range).unwrap_or(0);
        let mut first = at;
        if (asked.kind == Kind::Steps && lead.item) || (asked.kind == Kind::Other && lead.step) {
            while first > 0 && own[first - 1].item && at - (first - 1) < self.opts.max_sentences {
                first -= 1;
            }
        }
        for s in &own[first..at] {
            self.take(s);
        }
        let after = &own[at + 1..];
        let list = lead.item || after.iter().take(2).any(|s| s.item);
        if asked.kind == Kind::Steps && !list {
            return false;
        }
        let (mut taken, mut seen_item) = (0, lead.item);
        for s in after {
            if taken == self.opts.follow {
                break;
            }
            if (s.item && list) || s.score >= self.opts.follow_ratio * lead.score {
                if !self.take(s) {
                    break;
                }
                taken += 1;
                seen_item |= s.item;
            } else if !list || seen_item {
                // a weak remark between a lead and the list it introduces is passed over
                break;
            }
        }
        first < at
    }

    /// The picked sentences as the answer reads them: the lead first, or, when the answer
    /// starts at a first step, the lead's passage in reading order; then the rest in reading
    /// order.
    fn in_order(self, from_first: bool) -> Vec<Scored> {
        let lead = self.picked[0];
        let reading =
            |a: &&Scored, b: &&Scored| a.passage.cmp(&b.passage).then(a.range.0.cmp(&b.range.0));
        let (mut head, mut rest): (Vec<&Scored>, Vec<&Scored>) = if from_first {
            self.picked.iter().partition(|s| s.passage == lead.passage)
        } else {
            (vec![lead], self.picked[1..].to_vec())
        };
        head.sort_by(reading);
        rest.sort_by(reading);
        // each list's lead-in before the first of its items given
        let mut out: Vec<Scored> = Vec::new();
        for s in head.into_iter().chain(rest) {
            if let Some(i) = &s.intro {
                if !out
                    .iter()
                    .any(|o| o.passage == i.passage && o.range == i.range)
                {
                    out.push((**i).clone());
                }
            }
            out.push(s.clone());
        }
        out
    }
}

/// The figures of a text with what they count: a number with the currency before it (`¥`,
/// `US$`) or the word or Chinese unit after it (`months`, `个月`, `W`); a bare number counts
/// nothing (`""`). Digit runs keep a decimal point.
fn figures(s: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let from = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || (chars[i] == '.' && i + 1 < chars.len() && chars[i + 1].is_ascii_digit())
                || (chars[i] == ',' && i + 1 < chars.len() && chars[i + 1].is_ascii_digit()))
        {
            i += 1;
        }
        let value: String = chars[from..i].iter().filter(|c| **c != ',').collect();
        // a currency sign just before
        let before: String = chars[from.saturating_sub(3)..from]
            .iter()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_lowercase();
        let currency = ["us$", "¥", "￥", "$", "€", "£"]
            .iter()
            .find(|c| before.ends_with(*c))
            .map(|c| if *c == "￥" { "¥" } else { c });
        let unit = if let Some(c) = currency {
            c.to_string()
        } else {
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j < chars.len() && is_cjk(chars[j]) {
                // 个月, 天, 年, 元, 小时: the first two characters name it well enough
                let k = if chars[j] == '个' { j + 2 } else { j + 1 };
                chars[j..k.min(chars.len())].iter().collect()
            } else {
                let word: String = chars[j..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect::<String>()
                    .to_lowercase();
                word.strip_suffix('s').map_or(word.clone(), str::to_string)
            }
        };
        out.push((unit, value));
    }
    out
}

/// Whether two sentences state the same thing with different figures ("within 30 days" against
/// "within 14 days"): alike once the numbers are removed, and for some unit they both count
/// (days, months, yuan) no figure in common. A price and a period never conflict.
pub fn conflicting(a: &str, b: &str) -> bool {
    let (fa, fb) = (figures(a), figures(b));
    let differs = fa.iter().any(|(unit, _)| {
        let va: Vec<&String> = fa.iter().filter(|f| &f.0 == unit).map(|f| &f.1).collect();
        let vb: Vec<&String> = fb.iter().filter(|f| &f.0 == unit).map(|f| &f.1).collect();
        !vb.is_empty() && !va.iter().any(|v| vb.contains(v))
    });
    if !differs {
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

    #[test]
    fn a_tickets_own_business_is_not_an_answer() {
        assert!(about_that_customer(
            "I've created the order for one left Pods 3 bud, to be paid in the app."
        ));
        assert!(about_that_customer(
            "and I'll send the confirmation to [EMAIL]."
        ));
        assert!(about_that_customer("我已为您登记上门取件。"));
        assert!(!about_that_customer(
            "Loss is not covered by the warranty, but a single bud can be bought for US$29."
        ));
        assert!(!about_that_customer("我们会先报价，经您确认后才开始维修。"));
    }

    fn s(passage: usize, start: usize, text: &str, score: f32) -> Scored {
        Scored {
            passage,
            range: (start, start + text.len()),
            text: text.into(),
            shown: text.into(),
            ticket: false,
            item: false,
            step: false,
            row: false,
            section: String::new(),
            intro: None,
            language: Lang::detect(text),
            cosine: 0.0,
            passage_cosine: 0.0,
            passage_coverage: 0.0,
            first: false,
            features: Vec::new(),
            overlap: 0.0,
            score,
        }
    }

    fn texts(picked: &[Scored]) -> Vec<&str> {
        picked.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn the_lead_comes_first_and_the_rest_in_reading_order() {
        let cands = vec![
            s(
                0,
                60,
                "The remote pairs again after the reset finishes.",
                0.85,
            ),
            s(0, 0, "Hold the power button for ten seconds to reset.", 0.9),
            s(1, 0, "Warranty covers the screen for one year.", 0.2),
        ];
        let asked = Asked::of("what happens when I reset the remote");
        let picked = select(&cands, None, &asked, &ExtractOptions::default());
        assert_eq!(
            texts(&picked),
            vec![
                "Hold the power button for ten seconds to reset.",
                "The remote pairs again after the reset finishes."
            ]
        );
        assert!(select(&[], None, &asked, &ExtractOptions::default()).is_empty());
    }

    #[test]
    fn a_sentence_repeating_a_picked_one_is_left_out() {
        let cands = vec![
            s(1, 0, "Hold the power button for ten seconds to reset.", 0.9),
            s(
                0,
                0,
                "Hold the power button for ten seconds to reset!",
                0.88,
            ),
        ];
        let picked = select(
            &cands,
            None,
            &Asked::of("reset?"),
            &ExtractOptions::default(),
        );
        assert_eq!(picked.len(), 1);
    }

    #[test]
    fn a_weak_sentence_of_another_passage_is_left_out() {
        let opts = ExtractOptions::default();
        let cands = vec![
            s(0, 0, "The X9 has two nano-SIM slots.", 0.9),
            s(
                2,
                0,
                "The X9 battery is 4,500 mAh.",
                0.9 * opts.keep_ratio - 0.05,
            ),
            s(
                opts.support_passages,
                0,
                "Returns are accepted within 7 days.",
                0.85,
            ),
        ];
        let picked = select(&cands, None, &Asked::of("sim slots?"), &opts);
        // the strong one from a passage beyond the leading ones is not support either
        assert_eq!(texts(&picked), vec!["The X9 has two nano-SIM slots."]);
    }

    #[test]
    fn steps_follow_their_lead_in_order() {
        let cands = vec![
            s(0, 0, "E21 means water is not pumped out in time.", 0.9),
            s(0, 50, "Unplug the washer and open the filter flap.", 0.4),
            s(0, 100, "Unscrew the drain pump filter and clean it.", 0.38),
            s(1, 0, "The washer stops and beeps when a fault occurs.", 0.3),
        ];
        let picked = select(
            &cands,
            None,
            &Asked::of("washer shows E21"),
            &ExtractOptions::default(),
        );
        assert_eq!(
            texts(&picked),
            vec![
                "E21 means water is not pumped out in time.",
                "Unplug the washer and open the filter flap.",
                "Unscrew the drain pump filter and clean it."
            ]
        );
    }

    #[test]
    fn steps_are_given_from_the_first_step_of_the_lead_list() {
        let mut cands = vec![
            s(0, 0, "1. Open the app and tap Add device.", 0.5),
            s(0, 40, "2. Hold the Wi-Fi key for 5 seconds.", 0.6),
            s(0, 80, "3. Enter your Wi-Fi password.", 0.9),
            s(0, 120, "4. Wait until the icon stays on.", 0.4),
        ];
        for c in &mut cands {
            c.item = true;
        }
        let picked = select(
            &cands,
            None,
            &Asked::of("how do I connect the AC to wifi"),
            &ExtractOptions::default(),
        );
        let ranges: Vec<usize> = picked.iter().map(|p| p.range.0).collect();
        assert_eq!(ranges, vec![0, 40, 80, 120]);
    }

    #[test]
    fn a_step_leads_with_its_procedure_but_a_clause_does_not() {
        let cands = |step: bool| {
            let mut c = vec![
                s(0, 0, "Hold the power and volume-down keys.", 0.5),
                s(0, 40, "Keep holding for about 12 seconds.", 0.4),
                s(0, 80, "Release both keys and wait.", 0.9),
            ];
            for x in &mut c {
                x.item = true;
                x.step = step;
            }
            c
        };
        let asked = Asked::of("my phone died after two months, what is going on");
        assert_ne!(asked.kind, Kind::Steps);
        let ranges = |c: &[Scored]| -> Vec<usize> {
            select(c, None, &asked, &ExtractOptions::default())
                .iter()
                .map(|p| p.range.0)
                .collect()
        };
        assert_eq!(ranges(&cands(true)), vec![0, 40, 80]);
        // items of an unordered list or clauses: the lead alone comes first
        assert_eq!(ranges(&cands(false))[0], 80);
    }

    #[test]
    fn a_step_is_known_by_its_number_and_a_clause_or_figure_is_not() {
        let text = "1. Hold the keys.\n2) Wait.\n（3）等待。\n11.1 Refunds are paid.\n5,000 mAh battery.\n12 秒后松开。\n- a bullet";
        let at = |needle: &str| text.find(needle).expect("in text");
        assert!(numbered(text, at("Hold")));
        assert!(numbered(text, at("Wait")));
        assert!(numbered(text, at("等待")));
        assert!(!numbered(text, at("Refunds")));
        assert!(!numbered(text, at("mAh")));
        assert!(!numbered(text, at("秒后")));
        assert!(!numbered(text, at("a bullet")));
    }

    #[test]
    fn a_lead_in_prose_does_not_bring_the_sentences_after_it() {
        let cands = vec![
            s(0, 0, "A cracked screen is repaired for a fee.", 0.9),
            s(0, 50, "IP ratings are laboratory results.", 0.4),
        ];
        let picked = select(
            &cands,
            None,
            &Asked::of("屏幕碎了怎么办"),
            &ExtractOptions::default(),
        );
        assert_eq!(
            texts(&picked),
            vec!["A cracked screen is repaired for a fee."]
        );
    }

    #[test]
    fn a_lead_that_introduces_a_list_brings_its_steps_before_other_passages() {
        let mut cands = vec![
            s(0, 0, "If the phone freezes, force it to restart.", 0.9),
            s(0, 50, "No data is erased.", 0.1),
            s(0, 80, "1. Hold the power key and volume down key.", 0.2),
            s(0, 130, "2. Keep holding for about 12 seconds.", 0.2),
            s(0, 170, "If it stays on the logo, charge it first.", 0.1),
            s(1, 0, "A frozen phone can be restarted.", 0.8),
        ];
        cands[2].item = true;
        cands[3].item = true;
        let picked = select(
            &cands,
            None,
            &Asked::of("my phone is frozen, how do I force restart it"),
            &ExtractOptions::default(),
        );
        assert_eq!(
            texts(&picked)[..3],
            [
                "If the phone freezes, force it to restart.",
                "1. Hold the power key and volume down key.",
                "2. Keep holding for about 12 seconds."
            ]
        );
    }

    #[test]
    fn a_code_is_given_with_its_row_of_the_error_table() {
        let mut row = s(1, 0, "E21 | Drain problem", 0.3);
        row.row = true;
        row.shown = "Code: E21; Meaning: Drain problem.".into();
        let cands = vec![
            s(0, 0, "E21 means water is not pumped out in time.", 0.9),
            row,
        ];
        let picked = select(
            &cands,
            None,
            &Asked::of("washer shows E21"),
            &ExtractOptions::default(),
        );
        assert_eq!(picked.len(), 2);
        assert!(picked[1].row);
    }

    #[test]
    fn the_length_budget_stops_further_sentences_but_never_the_lead() {
        let long = "很长的一句话".repeat(ExtractOptions::default().max_chars_zh / 6 + 1);
        let cands = vec![
            s(0, 0, &long, 0.9),
            s(0, 300, "第二句也相关而且很有用。", 0.85),
        ];
        let picked = select(
            &cands,
            None,
            &Asked::of("怎么办"),
            &ExtractOptions::default(),
        );
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].text, long);
    }

    #[test]
    fn a_language_preference_keeps_only_that_language() {
        let zh = vec![
            s(0, 0, "按住电源键十秒即可重置。", 0.5),
            s(1, 0, "Hold the power button.", 0.9),
        ];
        let picked = select(
            &zh,
            Some(Lang::Zh),
            &Asked::of("怎么重置"),
            &ExtractOptions::default(),
        );
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].language, Lang::Zh);
    }

    /// One passage of `doc_type` under `heading`, as evidence.
    fn evidence(text: &str, doc_type: crate::domain::DocType, heading: &str) -> Vec<Evidence> {
        use crate::chunk::Chunk;
        use crate::domain::{Audience, DocMeta};
        let meta = std::sync::Arc::new(DocMeta {
            id: "d".into(),
            title: "T".into(),
            doc_type,
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
        vec![Evidence {
            chunk: Chunk {
                id: crate::domain::ChunkId(1),
                ord: 0,
                heading_path: if heading.is_empty() {
                    vec![]
                } else {
                    vec![heading.to_string()]
                },
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
        }]
    }

    #[test]
    fn candidate_sentences_carry_exact_ranges() {
        let text = "Short.\nTo reset the remote, hold Back and Play for 3 seconds. 然后遥控器会重新配对成功。";
        let ev = evidence(text, crate::domain::DocType::Manual, "");
        let sents = sentences(&ev, &ExtractOptions::default());
        // "Short." is too short to quote
        assert_eq!(sents.len(), 2);
        for c in &sents {
            assert_eq!(&text[c.range.0..c.range.1], c.text);
        }
        assert_eq!(sents[1].language, Lang::Zh);
    }

    #[test]
    fn items_are_known_by_the_marker_their_line_starts_with() {
        let text = "If the phone will not start, do this:\n\
                    1. Charge the phone for at least thirty minutes. The charging icon may take a while to appear.\n\
                    2. Hold the power key and the volume key for twelve seconds.\n\
                    If it still does not start, take it to a service centre.";
        let at = |needle: &str| {
            let a = text.find(needle).expect("in text");
            (a, a + needle.len())
        };
        let (a, b) = at("Charge the phone for at least thirty minutes.");
        assert!(marked(text, a, b));
        let (a, b) = at("1. Charge the phone for at least thirty minutes.");
        assert!(marked(text, a, b));
        let (a, b) = at("The charging icon may take a while to appear.");
        assert!(!marked(text, a, b));
        let (a, b) = at("If it still does not start, take it to a service centre.");
        assert!(!marked(text, a, b));
        let ev = evidence(text, crate::domain::DocType::Manual, "Setup");
        let got: Vec<(String, bool, bool)> = sentences(&ev, &ExtractOptions::default())
            .into_iter()
            .map(|s| (s.shown, s.item, s.intro.is_some()))
            .collect();
        let has = |t: &str, item: bool, intro: bool| got.contains(&(t.to_string(), item, intro));
        assert!(
            has("Charge the phone for at least thirty minutes.", true, true),
            "{got:?}"
        );
        // a later sentence of an item is part of it
        assert!(
            has("The charging icon may take a while to appear.", true, true),
            "{got:?}"
        );
        assert!(
            has(
                "If it still does not start, take it to a service centre.",
                false,
                false
            ),
            "{got:?}"
        );
    }

    #[test]
    fn the_customer_side_of_a_ticket_is_never_a_candidate() {
        use crate::domain::DocType;
        let text = "My X9 Pro screen cracked after a drop and I don't have TianCare+.";
        let problem = evidence(
            text,
            DocType::Ticket,
            crate::ingest::ticket::PROBLEM_HEADINGS[0],
        );
        assert!(sentences(&problem, &ExtractOptions::default()).is_empty());
        let answer = evidence(
            "The X9 Pro screen was replaced for a fee of ¥1,299.",
            DocType::Ticket,
            "Resolution",
        );
        let sents = sentences(&answer, &ExtractOptions::default());
        assert_eq!(sents.len(), 1);
        assert!(sents[0].ticket);
    }

    #[test]
    fn a_table_header_and_a_lead_in_are_not_candidates_and_rows_are_shown_readably() {
        let text = "Code | Meaning\nE21 | Drain problem\nWhen the screen shows:";
        let ev = evidence(text, crate::domain::DocType::Manual, "");
        let sents = sentences(&ev, &ExtractOptions::default());
        let shown: Vec<&str> = sents.iter().map(|s| s.shown.as_str()).collect();
        assert_eq!(shown, vec!["Code: E21; Meaning: Drain problem."]);
        assert!(sents[0].row);
        // the citation quotes the source bytes as they are
        assert_eq!(sents[0].text, "E21 | Drain problem");
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
        // a period and a price are not the same thing
        assert!(!conflicting(
            "It adds 12 months to the standard warranty and covers one accidental-damage repair per year.",
            "Accidental-damage repairs for phones carry a separate service fee of ¥199 per repair."
        ));
        let f = |s: &str| figures(s);
        assert_eq!(
            f("v2.5: ¥1,299 for 12 months, 3个月, 5 天"),
            vec![
                (String::new(), "2.5".to_string()),
                ("¥".to_string(), "1299".to_string()),
                ("month".to_string(), "12".to_string()),
                ("个月".to_string(), "3".to_string()),
                ("天".to_string(), "5".to_string()),
            ]
        );
    }
}
