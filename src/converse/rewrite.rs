//! Follow-up resolution: a question that leans on earlier turns (「那电池呢」, "and the
//! charger?", 「它防水吗」, "does it fit my phone") is rewritten into one that stands alone,
//! and a question that already stands alone is left as it is.
//!
//! In order, first rule that applies:
//! 1. **A product of its own.** A question that names a catalogue model is not about the
//!    earlier one; only an elliptic one ("and the 65 inch one?") borrows the earlier question's
//!    ask.
//! 2. **Ellipsis** (「那X呢」, 「X呢」, "and X?", "what about X?"): the earlier question with X in
//!    the place of the thing of X's kind it named (a part for a part, a model for a model), or X
//!    added beside its product.
//! 3. **Pronouns** (它, 这个, 这款, "it", "this one", "the other one"): the referent in their
//!    place: the product carried from earlier turns, else the open-domain referent.
//! 4. **The customer's product** ("my phone", 「我的手机」): their purchase of that kind.
//! 5. **Carrying the product**: a question about a part, a price or the cover of an unnamed
//!    device gets the product of the earlier turns.
//! 6. **Open domain** (chit-chat, encyclopaedic dialogues; when there is no catalogue): the
//!    referent is the longest phrase the earlier user and reply turns share (Chinese), or the
//!    dialogue's topic (English), put in place of a pronoun or, in Chinese, before the
//!    predicate of a subjectless reply.
//!
//! Phrase lists are constants here, written for this domain; the trims and the phrases that
//! are never referents (「知道」, 「喜欢」) were counted on rewrite-zh `train.jsonl`.

use crate::customer::ask::{detect_part, detect_part_span};
use crate::customer::{find_word, kinds_named, KIND_WORDS};
use crate::text::Lang;

/// The catalogue as the rewriter needs it.
pub trait Names {
    /// The catalogue models a text names, as the catalogue writes them (`X9 Pro`).
    fn models(&self, text: &str) -> Vec<String>;
    /// The category of a model (`phone`).
    fn category(&self, model: &str) -> Option<String>;
    /// The catalogue's models of a category.
    fn models_of(&self, _category: &str) -> Vec<String> {
        Vec::new()
    }
}

/// No catalogue: open-domain dialogues.
pub struct NoNames;

impl Names for NoNames {
    fn models(&self, _text: &str) -> Vec<String> {
        Vec::new()
    }
    fn category(&self, _model: &str) -> Option<String> {
        None
    }
}

/// What the rewriter knows of the conversation so far.
#[derive(Debug, Clone, Default)]
pub struct Dialogue<'a> {
    /// The earlier turns, oldest first, alternating user and reply, starting with a user turn.
    pub turns: &'a [String],
    /// The previous user question as it was resolved (what was searched).
    pub previous: Option<&'a str>,
    /// The product the conversation is about so far.
    pub product: Option<&'a str>,
    /// The customer's purchases: (model, category).
    pub customer_products: &'a [(String, String)],
    /// The dialogue's topic, if it has one (an article's title).
    pub topic: Option<&'a str>,
    /// No catalogue: use the open-domain rules.
    pub open_domain: bool,
}

/// Which rule rewrote the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    Unchanged,
    Ellipsis,
    Pronoun,
    CustomerProduct,
    CarryProduct,
    OpenDomain,
}

/// A resolved question.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resolved {
    pub text: String,
    pub how: How,
    /// The product the question is about after resolution, carried on to the next turn (the
    /// turn pipeline adds the one product an answer turned out to be about when the question
    /// named none).
    pub product: Option<String>,
}

const ZH_PRONOUNS: &[&str] = &[
    "这款", "那款", "这个", "那个", "这台", "那台", "它们", "他们", "她们", "这里", "那里", "这儿",
    "那儿", "这些", "那些", "它", "他", "她",
];
const ZH_INTERJECTIONS: &[&str] = &[
    "哈哈哈",
    "哈哈",
    "呵呵",
    "嗯嗯",
    "对啊",
    "是啊",
    "好吧",
    "好的",
    "嗯",
    "哦",
    "啊",
    "对",
    "好",
];
/// Characters trimmed from the left and right of a shared phrase before it is a referent.
const ZH_TRIM_LEFT: &str =
    "你去喝想是有看知觉认我他她它这那的了吗呢吧啊呀哦嘛哈也都很在和就还要会能说个来到一没玩吃听";
const ZH_TRIM_RIGHT: &str =
    "不了吗啊好我是样谁的呢吧呀哦嘛哈也都很在和就还要会能想说个去来到一看没么";
/// Phrases turns share that are not what a follow-up leaves out.
const ZH_NOT_REFERENTS: &[&str] = &[
    "怎么样",
    "怎么办",
    "为什么",
    "听说过",
    "不知道",
    "知道",
    "认识",
    "喜欢",
    "看过",
    "怎么",
    "好看",
    "好吃",
    "好玩",
    "漂亮",
    "去过",
    "推荐",
    "是谁",
    "没有",
    "介绍",
    "吃过",
    "玩过",
    "不是",
    "可爱",
    "看了",
    "听过",
    "好喝",
    "一个",
    "给我",
    "意思",
    "了解",
    "真的",
    "觉得",
    "最近",
    "什么",
    "可以",
    "现在",
    "今天",
    "明天",
    "时候",
    "哪里",
    "这么",
    "那么",
    "还是",
    "就是",
    "一下",
    "一起",
    "我们",
    "你们",
    "他们",
    "自己",
    "东西",
    "事情",
    "问题",
];

const EN_PRONOUNS: &[(&str, bool)] = &[
    // (pronoun, possessive)
    ("he", false),
    ("she", false),
    ("him", false),
    ("they", false),
    ("them", false),
    ("his", true),
    ("her", true),
    ("their", true),
];
const EN_THING_PRONOUNS: &[(&str, bool)] = &[
    ("the other one", false),
    ("this one", false),
    ("that one", false),
    ("it", false),
    ("its", true),
];

/// Resolves `question` in `dialogue`.
pub fn resolve(question: &str, lang: Lang, dialogue: &Dialogue<'_>, names: &dyn Names) -> Resolved {
    let q = question.trim();
    let unchanged = |product: Option<String>| Resolved {
        text: q.to_string(),
        how: How::Unchanged,
        product,
    };
    let named = names.models(q);
    let carried = dialogue.product.map(str::to_string);
    // 1–2: ellipsis borrows the earlier ask, whatever the thing it swaps in
    if let (Some(prev), Some(x)) = (dialogue.previous, elliptic(q, lang)) {
        if let Some(text) = substitute(prev, &x, lang, names, dialogue.product) {
            let product = names.models(&text).first().cloned().or(carried);
            return Resolved {
                text,
                how: How::Ellipsis,
                product,
            };
        }
    }
    if !named.is_empty() {
        return unchanged(named.first().cloned());
    }
    // 3: pronouns stand for the carried product
    if let Some(product) = dialogue.product {
        if let Some(text) = replace_thing_pronoun(q, lang, product) {
            return Resolved {
                text,
                how: How::Pronoun,
                product: carried,
            };
        }
    }
    // 4: "my phone"
    if let Some((text, model)) = customer_product(q, lang, dialogue.customer_products) {
        return Resolved {
            text,
            how: How::CustomerProduct,
            product: Some(model),
        };
    }
    // 5: a part, a price or the cover of the device talked about
    if let Some(product) = dialogue.product {
        if carries(q, lang, product, names) {
            let text = match lang {
                Lang::Zh => format!("{product} {q}"),
                _ => format!("{q} ({product})"),
            };
            return Resolved {
                text,
                how: How::CarryProduct,
                product: carried,
            };
        }
    }
    // 6: open domain
    if dialogue.open_domain {
        let text = match lang {
            Lang::Zh => open_zh(q, dialogue.turns),
            _ => dialogue.topic.and_then(|t| replace_person_pronoun(q, t)),
        };
        if let Some(text) = text {
            return Resolved {
                text,
                how: How::OpenDomain,
                product: None,
            };
        }
    }
    unchanged(carried)
}

/// The thing an elliptic follow-up asks about instead: X in 「那X呢」, 「X呢」, 「X也是吗」,
/// "and X?", "what about X?", "how about X?".
fn elliptic(q: &str, lang: Lang) -> Option<String> {
    let t = q.trim_end_matches(['?', '？', '!', '！', '。', '.', ' ', '~']);
    match lang {
        Lang::Zh => {
            let t = t.trim();
            let t = t
                .strip_prefix("那么")
                .or_else(|| t.strip_prefix("那"))
                .unwrap_or(t);
            // 「X呢」 possibly followed by a short tail (「也是一样」「一样吗」)
            let (head, _) = t.split_once('呢')?;
            let head = head
                .trim()
                .trim_start_matches(['，', ',', ' '])
                .trim_end_matches(['，', ',', ' ']);
            let n = head.chars().count();
            // a thing, not a question of its own (「为什么开不了机呢」)
            const ASKING: &[&str] = &[
                "什么",
                "怎么",
                "为什么",
                "多少",
                "哪",
                "几",
                "能",
                "可以",
                "会",
                "是不是",
                "要",
                "有没有",
                "不",
                "吗",
                "我",
                "你",
            ];
            ((1..=12).contains(&n) && !ASKING.iter().any(|a| head.contains(a)))
                .then(|| head.to_string())
        }
        _ => {
            let lower = t.to_lowercase();
            let rest = [
                "and what about ",
                "what about ",
                "how about ",
                "and ",
                "what of ",
            ]
            .iter()
            .find_map(|p| lower.strip_prefix(p).map(|r| r.to_string()))?;
            let rest = rest
                .split([',', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let words = rest.split_whitespace().count();
            let verbish = [
                "is ", "does ", "do ", "can ", "will ", "how ", "what ", "why ",
            ];
            ((1..=10).contains(&words) && !verbish.iter().any(|v| rest.starts_with(v)))
                .then_some(rest)
        }
    }
}

/// The earlier question with `x` in place of the thing of its kind, or added beside the
/// product.
fn substitute(
    prev: &str,
    x: &str,
    lang: Lang,
    names: &dyn Names,
    product: Option<&str>,
) -> Option<String> {
    let x_models = names.models(x);
    let category = product.and_then(|p| names.category(p));
    // a model for a model
    if let Some(new_model) = x_models.first() {
        let old = names.models(prev);
        if let Some(old_model) = old.first() {
            if let Some(text) = replace_ci(prev, old_model, new_model) {
                // a part named beside the new model replaces the earlier part too
                let x_part = detect_part_span(x, category.as_deref());
                return Some(match (x_part, detect_part(prev, category.as_deref())) {
                    (Some((np, s, e)), Some(op)) if np != op => {
                        swap_part(&text, &op, &x[s..e]).unwrap_or(text)
                    }
                    _ => text,
                });
            }
        }
        return None;
    }
    // "the 65 inch one", "the other one": another model of the same kind
    if let (Some(p), Some(cat)) = (product, category.as_deref()) {
        if let Some(other) = sibling(x, p, &names.models_of(cat)) {
            if let Some(text) = replace_ci(prev, p, &other) {
                return Some(text);
            }
        }
    }
    let Some((x_part, s, e)) = detect_part_span(x, category.as_deref()) else {
        // no part, no model: an error code for an error code, a word for its sibling
        // (「无线」 for 「有线」, 「铂金」 for 「黄金」), else the thing beside the earlier ask
        return Some(
            swap_code(prev, x)
                .or_else(|| swap_sibling_word(prev, x, lang))
                .unwrap_or_else(|| match lang {
                    Lang::Zh => format!("{prev} {x}"),
                    _ => format!("{prev} ({x})"),
                }),
        );
    };
    // a short phrase whole ("the wall bracket"), else the words naming the part
    let x_word = if x.split_whitespace().count() <= 3 {
        strip_article(x)
    } else {
        x[s..e].to_string()
    };
    if let Some(op) = detect_part(prev, category.as_deref()) {
        if op != x_part {
            if let Some(text) = swap_part(prev, &op, &x_word) {
                return Some(text);
            }
        }
    }
    // nothing of its kind: add it beside the product
    match (product, lang) {
        (Some(p), Lang::Zh) => replace_ci(prev, p, &format!("{p} 的{x_word}"))
            .or_else(|| Some(format!("{p} 的{x_word} {prev}"))),
        (Some(p), _) => replace_ci(prev, p, &format!("{p} {x_word}"))
            .or_else(|| Some(format!("{prev} ({p} {x_word})"))),
        (None, Lang::Zh) => Some(format!("{x_word} {prev}")),
        (None, _) => Some(format!("{prev} ({x_word})")),
    }
}

/// Another model of the carried one's kind that `x` points at: the one whose name has the
/// number `x` gives ("the 65 inch one"), or the only other one ("the other one").
fn sibling(x: &str, product: &str, models: &[String]) -> Option<String> {
    let others: Vec<&String> = models
        .iter()
        .filter(|m| !m.eq_ignore_ascii_case(product))
        .collect();
    let digits: String = x.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 2 {
        let hit: Vec<&&String> = others.iter().filter(|m| m.contains(&digits)).collect();
        return (hit.len() == 1).then(|| hit[0].to_string());
    }
    let lower = x.to_lowercase();
    // "the pro" after the X9: the model that is the carried one's name and a word of `x`
    let grown: Vec<&&String> = others
        .iter()
        .filter(|m| {
            let ml = m.to_lowercase();
            let pl = product.to_lowercase();
            ml.strip_prefix(&pl).is_some_and(|rest| {
                let rest = rest.trim();
                !rest.is_empty() && lower.contains(rest)
            })
        })
        .collect();
    if grown.len() == 1 {
        return Some(grown[0].to_string());
    }
    let points_away = [
        "other",
        "another",
        "different",
        "另一",
        "另外",
        "那款",
        "别的",
    ]
    .iter()
    .any(|w| lower.contains(w));
    (points_away && others.len() == 1).then(|| others[0].to_string())
}

/// An error code or number in `x` in place of the one `prev` has (`E6` → `F0`, `2001` →
/// `2003`).
fn swap_code(prev: &str, x: &str) -> Option<String> {
    // alphanumeric tokens with a digit, not part of a model name (`AC-3500`), and their shape
    let codes = |s: &str| -> Vec<(usize, usize, bool)> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_alphanumeric() {
                let start = i;
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let tok = &s[start..i];
                let after_dash = start > 0 && b[start - 1] == b'-';
                if tok.chars().any(|c| c.is_ascii_digit()) && tok.len() <= 6 && !after_dash {
                    out.push((start, i, tok.chars().any(|c| c.is_ascii_alphabetic())));
                }
            } else {
                i += 1;
            }
        }
        out
    };
    let &(xs, xe, x_letters) = codes(x).first()?;
    let new = &x[xs..xe];
    let (ps, pe, _) = codes(prev).into_iter().find(|(_, _, l)| *l == x_letters)?;
    (new != &prev[ps..pe]).then(|| format!("{}{}{}", &prev[..ps], new, &prev[pe..]))
}

/// A Chinese word of `x` in place of a word of `prev` as long that shares its last or first
/// character (「无线」 for 「有线」).
fn swap_sibling_word(prev: &str, x: &str, lang: Lang) -> Option<String> {
    if lang != Lang::Zh {
        return None;
    }
    let xs: Vec<char> = x.chars().filter(|c| !c.is_whitespace()).collect();
    if !(2..=4).contains(&xs.len()) {
        return None;
    }
    let ps: Vec<(usize, char)> = prev.char_indices().collect();
    for w in ps.windows(xs.len()) {
        let word: Vec<char> = w.iter().map(|(_, c)| *c).collect();
        if word == xs || word.iter().any(|c| !is_han(*c)) {
            continue;
        }
        let same_end = word.last() == xs.last() && word.first() != xs.first();
        let same_start = word.first() == xs.first() && word.last() != xs.last();
        if same_end || same_start {
            let start = w[0].0;
            let end = w[w.len() - 1].0 + w[w.len() - 1].1.len_utf8();
            let new: String = xs.iter().collect();
            return Some(format!("{}{}{}", &prev[..start], new, &prev[end..]));
        }
    }
    None
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

fn strip_article(x: &str) -> String {
    let t = x.trim();
    for a in ["the ", "a ", "an ", "my ", "your "] {
        if let Some(r) = t.strip_prefix(a) {
            return r.to_string();
        }
    }
    t.to_string()
}

/// Replaces the words of `prev` that name part `old` with `new`.
fn swap_part(prev: &str, old: &str, new: &str) -> Option<String> {
    let (part, start, end) = detect_part_span(prev, None)?;
    (part == old).then(|| format!("{}{}{}", &prev[..start], new, &prev[end..]))
}

fn replace_ci(text: &str, old: &str, new: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let i = lower.find(&old.to_lowercase())?;
    // lower-casing can change lengths outside ASCII; fall back to an exact search then
    if lower.len() != text.len() {
        let j = text.find(old)?;
        return Some(format!("{}{}{}", &text[..j], new, &text[j + old.len()..]));
    }
    Some(format!("{}{}{}", &text[..i], new, &text[i + old.len()..]))
}

/// A pronoun for a thing replaced by the product.
fn replace_thing_pronoun(q: &str, lang: Lang, product: &str) -> Option<String> {
    match lang {
        Lang::Zh => {
            let p = ["这款", "那款", "这个", "那个", "这台", "那台", "它"]
                .iter()
                .find(|p| q.contains(*p))?;
            Some(q.replacen(p, product, 1))
        }
        _ => replace_en_word(q, EN_THING_PRONOUNS, product),
    }
}

/// The first English pronoun of `list` replaced by `name` (`name's` for a possessive).
fn replace_en_word(q: &str, list: &[(&str, bool)], name: &str) -> Option<String> {
    let lower = q.to_lowercase();
    let mut best: Option<(usize, usize, bool)> = None;
    for (p, possessive) in list {
        let mut from = 0;
        while let Some(i) = lower[from..].find(p) {
            let at = from + i;
            let end = at + p.len();
            let before_ok = lower[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            let after_ok = lower[end..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric() && c != '\'');
            if before_ok && after_ok {
                if best.is_none_or(|(b, _, _)| at < b) {
                    best = Some((at, end, *possessive));
                }
                break;
            }
            from = end;
        }
    }
    let (at, end, possessive) = best?;
    let with = if possessive {
        format!("{name}'s")
    } else {
        name.to_string()
    };
    Some(format!("{}{}{}", &q[..at], with, &q[end..]))
}

fn replace_person_pronoun(q: &str, topic: &str) -> Option<String> {
    replace_en_word(q, EN_PRONOUNS, topic.trim())
}

/// Where `word` stands as a whole word in `lower`.
/// "my phone" → the customer's phone.
fn customer_product(
    q: &str,
    lang: Lang,
    products: &[(String, String)],
) -> Option<(String, String)> {
    let lower = q.to_lowercase();
    for (category, zh, en) in KIND_WORDS {
        let mine: Vec<&(String, String)> = products.iter().filter(|(_, c)| c == category).collect();
        if mine.len() != 1 {
            continue;
        }
        let model = &mine[0].0;
        match lang {
            Lang::Zh => {
                for w in *zh {
                    for mine_w in [
                        format!("我的{w}"),
                        format!("我{w}"),
                        format!("我家{w}"),
                        format!("我家的{w}"),
                    ] {
                        if q.contains(&mine_w) {
                            return Some((
                                q.replacen(&mine_w, &format!("我的{model}"), 1),
                                model.clone(),
                            ));
                        }
                    }
                }
            }
            _ => {
                if products.len() == 1 {
                    if let Some(at) = find_word(&lower, "mine") {
                        let text = format!("{}my {model}{}", &q[..at], &q[at + 4..]);
                        return Some((text, model.clone()));
                    }
                }
                for w in *en {
                    let mine_w = format!("my {w}");
                    if let Some(i) = lower.find(&mine_w) {
                        let end = i + mine_w.len();
                        if lower[end..]
                            .chars()
                            .next()
                            .is_none_or(|c| !c.is_alphanumeric())
                        {
                            return Some((
                                format!("{}my {model}{}", &q[..i], &q[end..]),
                                model.clone(),
                            ));
                        }
                    }
                }
            }
        }
    }
    None
}

/// Whether a question without a model is about the product talked about: not a question on
/// the service itself (hotline, membership, shipping, privacy, an order or repair number), not
/// about another brand, and not naming another kind of product.
fn carries(q: &str, lang: Lang, product: &str, names: &dyn Names) -> bool {
    let lower = q.to_lowercase();
    const SERVICE: &[&str] = &[
        "客服",
        "热线",
        "电话",
        "会员",
        "积分",
        "铂金",
        "黄金",
        "白银",
        "快递",
        "发货",
        "物流",
        "配送",
        "隐私",
        "个人信息",
        "门店",
        "营业",
        "发票",
        "维修单",
        "rma",
        "退款",
        "订单",
        "support number",
        "hotline",
        "phone number",
        "contact",
        "membership",
        "member",
        "points",
        "tier",
        "platinum",
        "gold",
        "silver",
        "shipping",
        "delivery time",
        "privacy",
        "personal data",
        "store hours",
        "opening hours",
        "invoice",
        "order status",
        "refund",
    ];
    const BRANDS: &[&str] = &[
        "格力", "美的", "海尔", "小米", "华为", "苹果", "三星", "索尼", "戴森", "iphone",
        "samsung", "sony", "apple", "xiaomi", "huawei", "gree", "midea", "haier", "dyson", "lg ",
    ];
    if SERVICE.iter().chain(BRANDS).any(|w| lower.contains(w)) {
        return false;
    }
    let own = names.category(product);
    let other_kind = kinds_named(q)
        .iter()
        .any(|(cat, _, _)| own.as_deref() != Some(*cat));
    let _ = lang;
    !other_kind
}

/// The open-domain Chinese rule: the referent the two earlier turns share (or the user's
/// short first turn), in place of a pronoun or before the reply's predicate.
fn open_zh(q: &str, turns: &[String]) -> Option<String> {
    let referent = zh_referent(turns)?;
    if q.contains(&referent) {
        return None;
    }
    if let Some(p) = ZH_PRONOUNS.iter().find(|p| q.contains(*p)) {
        return Some(q.replacen(p, &referent, 1));
    }
    for i in ZH_INTERJECTIONS {
        if let Some(rest) = q.strip_prefix(i) {
            return Some(format!("{i}{referent}{rest}"));
        }
    }
    Some(format!("{referent}{q}"))
}

fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !"，。！？,.!?~…、：:；;“”\"'（）()".contains(*c))
        .collect()
}

fn clean_zh(s: &str) -> String {
    let mut s: Vec<char> = squeeze(s).chars().collect();
    loop {
        let before = s.len();
        let text: String = s.iter().collect();
        if let Some(p) = ZH_NOT_REFERENTS.iter().find(|p| text.starts_with(*p)) {
            s.drain(..p.chars().count());
            continue;
        }
        if let Some(p) = ZH_NOT_REFERENTS.iter().find(|p| text.ends_with(*p)) {
            let n = s.len() - p.chars().count();
            s.truncate(n);
            continue;
        }
        if s.first().is_some_and(|c| ZH_TRIM_LEFT.contains(*c)) {
            s.remove(0);
        }
        if s.last().is_some_and(|c| ZH_TRIM_RIGHT.contains(*c)) {
            s.pop();
        }
        if s.len() == before {
            break;
        }
    }
    s.into_iter().collect()
}

/// The phrase the first user turn and the reply share, cleaned; else the user's turn itself
/// when short.
fn zh_referent(turns: &[String]) -> Option<String> {
    let a: Vec<char> = squeeze(turns.first()?).chars().collect();
    let b = turns.get(1).map(|s| squeeze(s)).unwrap_or_default();
    let mut best: Option<String> = None;
    for i in 0..a.len() {
        for j in (i + 2)..=a.len() {
            let sub: String = a[i..j].iter().collect();
            if !b.contains(&sub) {
                break;
            }
            let c = clean_zh(&sub);
            let n = c.chars().count();
            if n >= 2
                && !ZH_NOT_REFERENTS.contains(&c.as_str())
                && best.as_ref().is_none_or(|x| n > x.chars().count())
            {
                best = Some(c);
            }
        }
    }
    if best.is_some() {
        return best;
    }
    let c = clean_zh(turns.first()?);
    (2..=6).contains(&c.chars().count()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Demo;
    impl Names for Demo {
        fn models(&self, text: &str) -> Vec<String> {
            let l = text.to_lowercase().replace([' ', '-'], "");
            ["X9 Pro", "TV-55Q", "TV-65U", "AB-14"]
                .iter()
                .filter(|m| l.contains(&m.to_lowercase().replace([' ', '-'], "")))
                .map(|m| m.to_string())
                .collect()
        }
        fn category(&self, model: &str) -> Option<String> {
            Some(
                match model {
                    "X9 Pro" => "phone",
                    "AB-14" => "laptop",
                    _ => "tv",
                }
                .to_string(),
            )
        }
    }

    fn domain<'a>(prev: &'a str, product: &'a str) -> Dialogue<'a> {
        Dialogue {
            previous: Some(prev),
            product: Some(product),
            ..Dialogue::default()
        }
    }

    #[test]
    fn ellipsis_swaps_or_adds_the_part() {
        let r = resolve(
            "那电池呢",
            Lang::Zh,
            &domain("X9 Pro 保修多久", "X9 Pro"),
            &Demo,
        );
        assert_eq!(r.text, "X9 Pro 的电池 保修多久");
        assert_eq!(r.how, How::Ellipsis);
        let r = resolve(
            "充电头呢 也是一样？",
            Lang::Zh,
            &domain("X9 Pro 的电池保修多久", "X9 Pro"),
            &Demo,
        );
        assert_eq!(r.text, "X9 Pro 的充电头保修多久");
        let r = resolve(
            "and the charger?",
            Lang::En,
            &domain("how long is the battery warranty on the X9 Pro", "X9 Pro"),
            &Demo,
        );
        assert_eq!(r.text, "how long is the charger warranty on the X9 Pro");
        let r = resolve(
            "what about the TV-65U?",
            Lang::En,
            &domain("What VESA pattern does the TV-55Q use?", "TV-55Q"),
            &Demo,
        );
        assert_eq!(r.text, "What VESA pattern does the TV-65U use?");
    }

    #[test]
    fn pronouns_and_carried_products() {
        let r = resolve(
            "它防水吗",
            Lang::Zh,
            &domain("X9 Pro 多重", "X9 Pro"),
            &Demo,
        );
        assert_eq!((r.text.as_str(), r.how), ("X9 Pro防水吗", How::Pronoun));
        let r = resolve(
            "how heavy is it",
            Lang::En,
            &domain("What VESA pattern does the TV-65U use?", "TV-65U"),
            &Demo,
        );
        assert_eq!(r.text, "how heavy is TV-65U");
        let r = resolve(
            "过保了换块屏要多少钱",
            Lang::Zh,
            &domain("TV-55Q 屏幕保修多久", "TV-55Q"),
            &Demo,
        );
        assert_eq!(
            (r.text.as_str(), r.how),
            ("TV-55Q 过保了换块屏要多少钱", How::CarryProduct)
        );
    }

    #[test]
    fn a_question_that_stands_alone_is_left_alone() {
        for (q, lang) in [
            ("你们客服电话是多少", Lang::Zh),
            ("What are your opening hours?", Lang::En),
            ("AB-14 键盘多少钱", Lang::Zh),
        ] {
            let r = resolve(q, lang, &domain("X9 Pro 保修多久", "X9 Pro"), &Demo);
            assert_eq!((r.text.as_str(), r.how), (q, How::Unchanged), "{q}");
        }
    }

    #[test]
    fn my_phone_is_the_customers_phone() {
        let mine = vec![("X9 Pro".to_string(), "phone".to_string())];
        let d = Dialogue {
            customer_products: &mine,
            ..Dialogue::default()
        };
        let r = resolve("does the CH-65 charge my phone fast", Lang::En, &d, &Demo);
        assert_eq!(r.text, "does the CH-65 charge my X9 Pro fast");
        let r = resolve("我的手机屏幕碎了怎么办", Lang::Zh, &d, &Demo);
        assert_eq!(
            (r.text.as_str(), r.product.as_deref()),
            ("我的X9 Pro屏幕碎了怎么办", Some("X9 Pro"))
        );
    }

    #[test]
    fn open_domain_referents() {
        let turns = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        let t = turns("玩狼人杀吗", "你爱玩狼人杀");
        let d = Dialogue {
            turns: &t,
            open_domain: true,
            ..Dialogue::default()
        };
        assert_eq!(
            resolve("这个挺好玩的", Lang::Zh, &d, &NoNames).text,
            "狼人杀挺好玩的"
        );
        let t = turns("乌龙茶", "乌龙茶好喝吗");
        let d = Dialogue {
            turns: &t,
            open_domain: true,
            ..Dialogue::default()
        };
        assert_eq!(
            resolve("嗯好喝", Lang::Zh, &d, &NoNames).text,
            "嗯乌龙茶好喝"
        );
        let d = Dialogue {
            topic: Some("Cary Grant"),
            open_domain: true,
            ..Dialogue::default()
        };
        assert_eq!(
            resolve("Did he win any awards", Lang::En, &d, &NoNames).text,
            "Did Cary Grant win any awards"
        );
        assert_eq!(
            resolve("What was his legacy", Lang::En, &d, &NoNames).text,
            "What was Cary Grant's legacy"
        );
        assert_eq!(
            resolve("What happened in 1950?", Lang::En, &d, &NoNames).how,
            How::Unchanged
        );
    }
}
