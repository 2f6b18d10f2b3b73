//! Whether a question is one the knowledge base can answer at all, decided before any evidence
//! is weighed:
//!
//! - **needs_account**: the question is about the customer's own order, delivery, repair,
//!   refund, points or account ("where is my order TL…", 「我的退款到账了吗」). No document
//!   answers it; the customer's record does (the conversation layer will answer these).
//! - **out_of_scope**: the question names a model number the knowledge base never mentions
//!   (`X10`, `TV-75`), another brand (from the lexicon in `data/scope.json`) and none of the
//!   knowledge base's own models, or only kinds of product outside the categories its
//!   documents cover (a fridge, a drone).
//!
//! The catalogue — the models and the categories the knowledge base covers — is read from the
//! documents' metadata ([`Catalogue::of`]), never written down here. A question that names
//! models of the catalogue also restricts its evidence to passages about those models (or about
//! no model in particular): an answer about product A never quotes product B's manual.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use regex::Regex;
use serde::Deserialize;

use crate::analyze::{Analyzer, Query, Stream};
use crate::domain::{Audience, DocMeta};
use crate::error::{Error, Result};
use crate::index::lexical::{Stats, TermField};
use crate::index::Backend;

/// The lexicon shipped with kefu.
const BUILTIN: &str = include_str!("../../data/scope.json");

/// Words of the world outside the knowledge base.
#[derive(Debug, Clone, Deserialize)]
pub struct Lexicon {
    pub version: u32,
    #[serde(default)]
    pub about: String,
    pub brands: Vec<String>,
    /// Words for kinds of product, by category.
    pub product_types: BTreeMap<String, Vec<String>>,
}

impl Lexicon {
    /// The built-in lexicon.
    pub fn builtin() -> &'static Lexicon {
        static LEXICON: OnceLock<Lexicon> = OnceLock::new();
        LEXICON.get_or_init(|| {
            // the file is part of the source tree and checked by a test
            serde_json::from_str(BUILTIN).unwrap_or_else(|e| {
                tracing::error!(error = %e, "data/scope.json is unreadable; no scope lexicon");
                Lexicon {
                    version: 1,
                    about: String::new(),
                    brands: Vec::new(),
                    product_types: BTreeMap::new(),
                }
            })
        })
    }

    /// Reads a lexicon.
    pub fn from_json(text: &str) -> Result<Lexicon> {
        serde_json::from_str(text)
            .map_err(|e| Error::config("answer.scope", format!("unreadable scope lexicon: {e}")))
    }
}

/// A model of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// As the metadata writes it (`X9 Pro`).
    pub name: String,
    /// Its identifier as the analyzer makes it (`x9pro`).
    pub key: String,
    /// The category of the documents about it alone (`phone`), when they say.
    pub category: Option<String>,
    /// Names customers call it by, lower case, from the titles of its own documents
    /// (`pods 3` from "Tianlan Pods 3 (EB-300) User Manual").
    pub aliases: Vec<String>,
}

/// What a knowledge base covers: its models and their categories.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub models: Vec<Model>,
    pub categories: BTreeSet<String>,
}

impl Catalogue {
    /// The catalogue of the documents `public_only` lets a caller see.
    pub fn of(analyzer: &Analyzer, docs: &[Arc<DocMeta>], public_only: bool) -> Catalogue {
        let mut models: BTreeMap<String, Model> = BTreeMap::new();
        let mut categories = BTreeSet::new();
        for d in docs {
            if public_only && d.audience != Audience::Public {
                continue;
            }
            let category = d
                .category
                .as_ref()
                .filter(|c| c.as_str() != "general")
                .cloned();
            if let Some(c) = &category {
                categories.insert(c.clone());
            }
            for p in &d.products {
                let Some(key) = model_key(analyzer, p) else {
                    continue;
                };
                let m = models.entry(key.clone()).or_insert_with(|| Model {
                    name: p.clone(),
                    key,
                    category: None,
                    aliases: Vec::new(),
                });
                if d.products.len() == 1 {
                    if m.category.is_none() {
                        m.category = category.clone();
                    }
                    if let Some(a) = title_name(&d.title, p) {
                        if !m.aliases.contains(&a) {
                            m.aliases.push(a);
                        }
                    }
                }
            }
        }
        let mut models: Vec<Model> = models.into_values().collect();
        // a name's first word alone stands for the model when no other model's name has it
        // ("airbook"; not "pods", shared by Pods 3 and Pods Pro)
        let firsts: Vec<String> = models
            .iter()
            .flat_map(|m| m.aliases.iter())
            .filter_map(|a| a.split(' ').next().map(str::to_string))
            .collect();
        for m in &mut models {
            let extra: Vec<String> = m
                .aliases
                .iter()
                .filter_map(|a| a.split(' ').next())
                .filter(|w| w.len() >= 4 && firsts.iter().filter(|f| f == w).count() == 1)
                .map(str::to_string)
                .collect();
            m.aliases.extend(extra);
            // customers run a name together ("pods3", "podspro")
            let joined: Vec<String> = m
                .aliases
                .iter()
                .filter(|a| a.contains(' '))
                .map(|a| a.replace(' ', ""))
                .collect();
            m.aliases.extend(joined);
        }
        Catalogue { models, categories }
    }

    fn by_alias(&self, lower: &str) -> Vec<&Model> {
        self.models
            .iter()
            .filter(|m| m.aliases.iter().any(|a| mentions(lower, a)))
            .collect()
    }

    fn by_key(&self, key: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.key == key)
    }

    /// The model a customer's shorthand or slip stands for, when only one fits: a catalogue key
    /// it begins (`x9p` → `x9pro`, at least three characters), one it ends after the key's
    /// letters (`65u` → `tv65u`), or one it misspells by a letter (`x9por` → `x9pro`, at least
    /// four characters, the same digits: `ac3600` is another model, not a slip).
    fn by_shorthand(&self, ident: &str) -> Option<&Model> {
        fn unique(found: Vec<&Model>) -> Option<&Model> {
            (found.len() == 1).then(|| found[0])
        }
        if ident.len() < 3 {
            return None;
        }
        let begins = self.models.iter().filter(|m| m.key.starts_with(ident));
        if let Some(m) = unique(begins.collect()) {
            return Some(m);
        }
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        if ident.chars().any(|c| c.is_ascii_digit()) {
            let ends = self.models.iter().filter(|m| {
                m.key.strip_suffix(ident).is_some_and(|head| {
                    !head.is_empty() && head.chars().all(|c| c.is_ascii_alphabetic())
                })
            });
            if let Some(m) = unique(ends.collect()) {
                return Some(m);
            }
        }
        if ident.len() < 4 {
            return None;
        }
        let slips = self
            .models
            .iter()
            .filter(|m| digits(&m.key) == digits(ident) && one_edit(&m.key, ident));
        unique(slips.collect())
    }
}

/// The name a title gives its one model: the Latin words before the model number in
/// parentheses, without the brand word they start with, at most its first two words ("Tianlan
/// Pods 3 (EB-300) User Manual" → `pods 3`; "Tianlan Vista 65 Mini-LED (TV-65U)" → `vista 65`).
/// `None` when the title has no such name (it starts with a number, say).
fn title_name(title: &str, model: &str) -> Option<String> {
    let at = title
        .find(&format!("({model})"))
        .or_else(|| title.find(&format!("（{model}）")))?;
    // after the brand word every title starts with
    let name: Vec<&str> = title[..at]
        .split_whitespace()
        .skip(1)
        .take_while(|w| w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    let first = name.first()?;
    if !first
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
    {
        return None;
    }
    let name = name.iter().take(2).copied().collect::<Vec<_>>().join(" ");
    (name.len() >= 4).then(|| name.to_lowercase())
}

/// A model number as one identifier (`X9 Pro` → `x9pro`, `WM-8012` → `wm8012`): the longest
/// identifier token of the text.
fn model_key(analyzer: &Analyzer, name: &str) -> Option<String> {
    let mut toks = Vec::new();
    analyzer.analyze(Stream::Idents, name, &mut toks);
    toks.into_iter().map(|t| t.text).max_by_key(|t| t.len())
}

/// What the scope check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The knowledge base may answer; `models` are the catalogue models the question names,
    /// `categories` the catalogue's kinds of product it names (`空调`: `air_conditioner`).
    InScope {
        models: Vec<String>,
        categories: Vec<String>,
    },
    /// About something the knowledge base does not cover; the words that showed it.
    OutOfScope { why: String },
    /// About the customer's own order, repair or account.
    NeedsAccount { why: String },
}

/// The scope check of one knowledge base (for one kind of caller).
pub struct Scope<'a> {
    pub catalogue: &'a Catalogue,
    pub lexicon: &'a Lexicon,
    pub index: &'a dyn Backend,
    pub stats: Stats,
}

impl Scope<'_> {
    /// Decides whether `query` is for the knowledge base.
    pub fn check(&self, query: &Query) -> Result<Verdict> {
        let text = &query.text;
        if let Some(why) = needs_account(text) {
            return Ok(Verdict::NeedsAccount { why });
        }
        let lower = text.to_lowercase();
        let (models, unknown) = self.models_named(query)?;
        // another maker's console or speaker plugged into one of ours is a question about ours
        let ours_named = !models.is_empty()
            || self.lexicon.product_types.iter().any(|(c, words)| {
                self.catalogue.categories.contains(c) && words.iter().any(|w| mentions(&lower, w))
            });
        let peripheral = ours_named && connects(&lower);
        if !unknown.is_empty() && models.is_empty() && !peripheral {
            return Ok(Verdict::OutOfScope {
                why: format!("model not in the knowledge base: {}", unknown.join(", ")),
            });
        }
        let mut categories = Vec::new();
        if models.is_empty() {
            let brands = self.lexicon.brands.iter().filter(|_| !peripheral);
            for b in brands.filter(|b| mentions(&lower, b)) {
                // a brand the knowledge base is about is its own (or one it covers)
                if !self.writes_about(b)? {
                    return Ok(Verdict::OutOfScope {
                        why: format!("another brand: {b}"),
                    });
                }
            }
            // kinds of product, when the documents say which categories they cover
            let mut other = None;
            for (category, words) in &self.lexicon.product_types {
                let Some(w) = words.iter().find(|w| mentions(&lower, w)) else {
                    continue;
                };
                if self.catalogue.categories.contains(category) {
                    categories.push(category.clone());
                } else {
                    other.get_or_insert(w.clone());
                }
            }
            if let (true, Some(w)) = (categories.is_empty(), other) {
                if !self.catalogue.categories.is_empty() {
                    return Ok(Verdict::OutOfScope {
                        why: format!("a kind of product the knowledge base does not cover: {w}"),
                    });
                }
            }
        }
        Ok(Verdict::InScope {
            models: models.into_iter().map(|m| m.name.clone()).collect(),
            categories,
        })
    }

    /// The catalogue models the question names, and the model-like identifiers it names that
    /// the knowledge base never mentions.
    pub fn models_named(&self, query: &Query) -> Result<(Vec<&Model>, Vec<String>)> {
        let mut toks = Vec::new();
        self.index
            .analyzer()
            .analyze(Stream::Idents, &query.text, &mut toks);
        // the longest identifier at each start (`x9pro` over its `x9`), whole ones only
        let mut whole: Vec<(usize, usize, String)> = Vec::new();
        for t in toks {
            if let Some(w) = whole.iter_mut().find(|w| w.0 == t.from) {
                if t.to > w.1 {
                    *w = (t.from, t.to, t.text);
                }
            } else if !whole.iter().any(|w| w.0 < t.from && t.to <= w.1) {
                whole.push((t.from, t.to, t.text));
            }
        }
        let mut models: Vec<&Model> = self.catalogue.by_alias(&query.text.to_lowercase());
        let mut candidates = Vec::new();
        for (_, _, ident) in &whole {
            if let Some(m) = self
                .catalogue
                .by_key(ident)
                .or_else(|| self.catalogue.by_shorthand(ident))
            {
                if !models.contains(&m) {
                    models.push(m);
                }
            } else if model_like(ident) {
                candidates.push(ident.clone());
            }
        }
        let unknown = if candidates.is_empty() {
            Vec::new()
        } else {
            let (dfs, _) = self
                .index
                .doc_freqs(TermField::Idents, &candidates, self.stats)?;
            candidates
                .into_iter()
                .zip(dfs)
                .filter(|(_, df)| *df == 0)
                .map(|(c, _)| c)
                .collect()
        };
        Ok((models, unknown))
    }

    /// Whether the knowledge base is about `brand`: every word of it occurs in at least one
    /// passage in fifty (a manual of that brand's products names it throughout; a note on
    /// moving data from another brand's phone names it in passing).
    fn writes_about(&self, brand: &str) -> Result<bool> {
        let words = self.index.analyzer().terms(Stream::Words, brand);
        if words.is_empty() {
            return Ok(false);
        }
        let (dfs, passages) = self.index.doc_freqs(TermField::Words, &words, self.stats)?;
        Ok(dfs
            .iter()
            .all(|df| df.saturating_mul(50) >= passages.max(1)))
    }

    /// Keeps the evidence a question naming `models` may cite: passages about one of them, or
    /// about no model in particular.
    pub fn about_models(models: &[String], products: &[String]) -> bool {
        models.is_empty() || products.is_empty() || products.iter().any(|p| models.contains(p))
    }

    /// Whether a passage of a document may be evidence for a question that the scope check
    /// found to name `models` or, naming none, the kinds of product `categories`: about one
    /// of the models, or of the categories, or about nothing in particular.
    pub fn may_cite(models: &[String], categories: &[String], meta: &DocMeta) -> bool {
        if !models.is_empty() {
            return Self::about_models(models, &meta.products);
        }
        match meta.category.as_deref() {
            Some(c) if !categories.is_empty() && c != "general" => {
                categories.iter().any(|k| k == c)
            }
            _ => true,
        }
    }
}

/// Whether `text` (lower case) mentions `word`: as a whole word for Latin script, anywhere for
/// Chinese.
fn mentions(text: &str, word: &str) -> bool {
    if word.chars().any(crate::text::is_cjk) {
        return text.contains(word);
    }
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let (a, mut b) = (from + i, from + i + word.len());
        // a plural ("smart watches", "drones") is the same word
        for suffix in ["es", "s"] {
            if text[b..].starts_with(suffix) {
                b += suffix.len();
                break;
            }
        }
        let before = text[..a].chars().next_back();
        let after = text[b..].chars().next();
        let edge =
            |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() || crate::text::is_cjk(c));
        if edge(before) && edge(after) {
            return true;
        }
        from = b;
    }
    false
}

/// Whether a question (lower case) is about connecting one device to another ("接", "投屏",
/// "connect", "pair", "hook up").
fn connects(lower: &str) -> bool {
    static CUE: OnceLock<Option<Regex>> = OnceLock::new();
    CUE.get_or_init(|| {
        Regex::new(r"(接|连|投屏|配对|搭配|兼容|(?-u:\b)(connect|pair|hook|plug|cast|mirror|compatible|work with|works with|use with)(?-u:\B|\b))").ok()
    })
    .as_ref()
    .is_some_and(|r| r.is_match(lower))
}

/// Whether `b` is `a` with one letter changed, added, dropped, or two neighbours swapped.
fn one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[head..], &b[head..]);
    match ra.len().cmp(&rb.len()) {
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Greater => ra[1..] == *rb,
        std::cmp::Ordering::Less => *ra == rb[1..],
    }
}

/// An identifier that looks like a model number: letters, then a digit, at most ten
/// characters (`x10`, `tv75`, `s24`; not `5000mah`, not an order or serial number).
fn model_like(ident: &str) -> bool {
    let mut chars = ident.chars();
    ident.len() <= 10
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && ident.chars().any(|c| c.is_ascii_digit())
}

/// Cues that a question is about the customer's own order, delivery, repair, refund, points or
/// account: what the knowledge base cannot know. `None` when there is none.
pub fn needs_account(text: &str) -> Option<String> {
    struct Cues {
        /// A number of the customer's own: a cue even in a how-to question.
        ids: Vec<Regex>,
        /// The state of the customer's own case or account.
        status: Vec<Regex>,
        /// Whether the warranty of the customer's own product still runs…
        undated: Vec<Regex>,
        /// …asked without the dates that would let the policy answer it.
        time: Option<Regex>,
        /// "How do I check my order?" asks how, not what the record says.
        how: Option<Regex>,
    }
    static CUES: OnceLock<Cues> = OnceLock::new();
    let compile = |rules: &[&str]| -> Vec<Regex> {
        rules.iter().filter_map(|r| Regex::new(r).ok()).collect()
    };
    let cues = CUES.get_or_init(|| Cues {
        ids: compile(&[
            // an order number (letters, a date, a serial) and a repair number; ASCII word
            // boundaries, as Chinese text runs into them without a space
            r"(?i)(?-u:\b)[a-z]{2}\d{8}-?\d{6}(?-u:\b)",
            r"(?i)(?-u:\b)rma-?\d{4,}(?-u:\b)",
        ]),
        status: compile(&[
            // 「我的订单到哪了」「我的退款怎么还没到账」「我的积分有多少」
            r"我(的|们的|家的)?(这个|那个)?(订单|快递|包裹|物流|货|单子|退款|钱|维修单|维修|返修|工单|积分|会员等级|账户|账号|发票|报价单|退货|换货|申请|天澜无忧\+?|无忧\+?|生日券|优惠券)[^。？?！!]{0,12}(到哪|在哪|进度|状态|怎么样了|什么时候|何时|几时|啥时候|到账|退了没|还没|没到|到了没|到了吗|发货|发了没|修好|多少|剩|查一下|查下|查查|帮我查|处理|审核|通过|批了|到期|激活)",
            r"(到哪了|到哪儿了|到哪个城市|发货了吗|发货了没|到账了吗|到账了没|修好了吗|修好了没|修得怎么样|进度怎么样|进度如何|帮我查一下|帮我查查|帮我查下|帮我看看我|帮我看下我)",
            r"(申请|订单|退货|换货|退款|维修|报价|发票|快递|包裹|券|激活)[^。？?！!]{0,10}(了没|了吗|过了没|好了没|弄好了|批了没|收到了吗|收到没|发了吗|成功了没|成功了吗)",
            r"我(现在|目前|当前)(有|是|的)[^。？?！!]{0,8}(多少|哪|什么|吗|还是)",
            r"(哪天来|什么时候来|几点来|啥时候来)",
            r"(生效|激活)(了没|了吗|没有)",
            r"我(寄|发|交|提交|申请|退)[^。？?！!]{0,10}(收到|批|通过|处理|审核)(了吗|了没|没有|没)",
            r"(给我分配的|我的专属|我的服务经理)",
            r"(?i)\b(where|what)('s| is| are)? (is |are )?my (order|package|parcel|delivery|shipment|refund|repair|replacement|return|exchange|claim|ticket|case|invoice)\b",
            r"(?i)\b(has|have|did|is|was) my (order|package|parcel|delivery|shipment|refund|repair|replacement|return|exchange|claim|ticket|case|money)\b",
            r"(?i)\bmy ([a-z+]+ ){0,2}(order|package|parcel|delivery|shipment|refund|repair|replacement|return|exchange|claim|ticket|case|points|account|membership|tier|invoice|courier|pick-?up|technician|installation)\b[^.?!]{0,40}\b(status|track(ing)?|arrive[ds]?|arriving|yet|still not|received|balance|progress|update|approved|processed|booked|scheduled|confirmed)\b",
            r"(?i)\b((quote|estimate|invoice|receipt) (on|for) my|on my ([a-z]+ )?account)\b",
            r"(?i)\b(how many (vip |reward )?points (do i have|have i|are (on|in) my)|what('s| is) my (points|balance|tier|membership level|status)|when (does|will) my (warranty|tiancare\+?|plan|membership) (end|expire|run out))\b",
            r"(?i)\b(am i (a )?(silver|gold|platinum|vip)|who is my|how much did i pay|tracking number for my|did you (get|receive) (the|my)|when is (the|my) (technician|engineer|installer|courier)|is (tiancare\+?|my plan|my warranty|my membership) (active|activated))\b",
        ]),
        undated: compile(&[
            r"我的[^。？?！!]{0,8}(还在保修|保修什么时候到期|保修到什么时候|保修到哪天|过保了吗|过保了没|过保没)",
            r"(?i)\b(am i|is (it|my [a-z]+)) still (under|in|covered by( the)?) warranty\b|\bwhen does my warranty (end|expire)\b",
        ]),
        time: Regex::new(r"(?i)(\d+ ?(个月|个多月|天|年|周|星期|months?|years?|days?|weeks?)|\d{4}[-/年.]\d|半年|一年|两年|去年|前年|上个月|上周| ago\b)").ok(),
        how: Regex::new(r"(?i)(\bhow (do|can|could|should) (i|we|you)\b|\bhow to\b|\bwhere (can|do|should) i (see|find|check|track|look)\b|怎么查|如何查|怎样查|在哪里?(看|查)|去哪(里|儿)?(看|查)|怎么看)").ok(),
    });
    if cues.ids.iter().any(|r| r.is_match(text)) {
        return Some("a number of the customer's own order or repair".into());
    }
    let dated = cues.time.as_ref().is_some_and(|r| r.is_match(text));
    if !dated && cues.undated.iter().any(|r| r.is_match(text)) {
        return Some("the warranty of the customer's own product, without its dates".into());
    }
    let asks_how = cues.how.as_ref().is_some_and(|r| r.is_match(text));
    if !asks_how && cues.status.iter().any(|r| r.is_match(text)) {
        return Some("the state of the customer's own order, case or account".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_lexicon_reads() {
        let l = Lexicon::from_json(BUILTIN).expect("reads");
        assert!(!l.brands.is_empty());
        assert!(l.product_types.contains_key("refrigerator"));
        // every word is in the form it is matched in (lower case)
        for w in l.brands.iter().chain(l.product_types.values().flatten()) {
            assert_eq!(w, &w.to_lowercase(), "{w}");
        }
    }

    #[test]
    fn order_and_repair_status_questions_need_the_account() {
        for q in [
            "我的订单TL20260315-482913到哪了",
            "订单TL20260402-110358 现在到哪个城市了",
            "我的手机还在保修期吗",
            "am I still under warranty?",
            "my price protection claim - approved yet?",
            "RMA-240781 修好了没",
            "我的退款怎么还没到账",
            "我的积分有多少",
            "快递到哪了？？",
            "where is my order??",
            "has my refund gone through yet",
            "my parcel still not arrived, tracking says nothing",
            "How many points do I have",
            "when does my warranty end",
        ] {
            assert!(needs_account(q).is_some(), "{q}");
        }
    }

    #[test]
    fn how_to_and_policy_questions_do_not_need_the_account() {
        for q in [
            "how do I track my order?",
            "怎么查订单物流",
            "退款多久到账",
            "how long does a refund take",
            "X9 Pro 保修多久",
            "my washer shows E21",
            "can I return my earbuds if I opened them",
            "我的手机买了 13 个月，还在保修期吗",
            "cancelled my order before it shipped - when do I get the money back",
            "how many points do you earn per yuan spent",
        ] {
            assert!(needs_account(q).is_none(), "{q}");
        }
    }

    #[test]
    fn words_match_whole_in_latin_script_and_anywhere_in_chinese() {
        assert!(mentions("my samsung tv", "samsung"));
        assert!(!mentions("the lgbt", "lg"));
        assert!(mentions("lg的电视", "lg"));
        assert!(mentions("我家冰箱坏了", "冰箱"));
        assert!(mentions("is the ac broken", "ac"));
        assert!(!mentions("my account", "ac"));
        assert!(mentions("do you make smart watches", "smart watch"));
        assert!(mentions("tianlan e-bikes?", "e-bike"));
        assert!(!mentions("my tvstand", "tv"));
    }

    #[test]
    fn a_model_is_named_by_its_title_as_customers_call_it() {
        assert_eq!(
            title_name("Tianlan Pods 3 (EB-300) User Manual", "EB-300").as_deref(),
            Some("pods 3")
        );
        assert_eq!(
            title_name("天澜 Pods Pro 降噪耳机（EB-500）使用说明书", "EB-500").as_deref(),
            Some("pods pro")
        );
        assert_eq!(
            title_name("Tianlan Vista 65 Mini-LED (TV-65U) User Manual", "TV-65U").as_deref(),
            Some("vista 65")
        );
        assert_eq!(
            title_name(
                "Tianlan 10 kg Front-Load Washer-Dryer (WM-8012) User Manual",
                "WM-8012"
            ),
            None
        );
        assert_eq!(title_name("Tianlan X9 User Manual", "X9"), None);
    }

    #[test]
    fn a_slip_of_one_letter_is_the_model_and_another_number_is_not() {
        assert!(one_edit("x9pro", "x9por"));
        assert!(one_edit("x9pro", "x9pr"));
        assert!(one_edit("x9pro", "x9proo"));
        assert!(one_edit("ac3500", "ac3600"));
        assert!(!one_edit("x9pro", "x9pro"));
        assert!(!one_edit("x9pro", "x9"));
        let model = |key: &str| Model {
            name: key.to_uppercase(),
            key: key.into(),
            category: None,
            aliases: Vec::new(),
        };
        let cat = Catalogue {
            models: vec![model("x9pro"), model("x9"), model("ac3500"), model("tv65u")],
            categories: BTreeSet::new(),
        };
        let key = |i: &str| cat.by_shorthand(i).map(|m| m.key.clone());
        assert_eq!(key("x9por").as_deref(), Some("x9pro"));
        assert_eq!(key("x9p").as_deref(), Some("x9pro"));
        assert_eq!(key("65u").as_deref(), Some("tv65u"));
        // another number is another model, unknown here
        assert_eq!(key("ac3600"), None);
        assert_eq!(key("x10"), None);
    }

    #[test]
    fn connecting_is_a_cue_in_both_languages() {
        assert!(connects("ps5接电视怎么开4k120"));
        assert!(connects("how do i connect my soundbar to the 65u"));
        assert!(!connects("三星电视保修多久"));
        assert!(!connects("is the iphone 15 covered"));
    }

    #[test]
    fn model_like_identifiers_start_with_a_letter_and_are_short() {
        assert!(model_like("x10"));
        assert!(model_like("tv75"));
        assert!(!model_like("5000mah"));
        assert!(!model_like("tl20260315482913"));
    }

    #[test]
    fn evidence_about_another_model_is_not_kept() {
        let models = vec!["X9".to_string()];
        assert!(Scope::about_models(
            &models,
            &["X9".into(), "X9 Pro".into()]
        ));
        assert!(Scope::about_models(&models, &[]));
        assert!(!Scope::about_models(&models, &["X9 Pro".into()]));
        assert!(Scope::about_models(&[], &["X9 Pro".into()]));
    }
}
