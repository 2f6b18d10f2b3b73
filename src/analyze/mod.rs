//! Text analysis for Chinese, English and identifiers, used both at index time (through the
//! index's tokenizer adapters) and at query time (directly, see [`Analyzer::terms`] and
//! [`Query`]).
//!
//! One text yields four token streams, each indexed in its own field and scored together:
//! - **words**: Chinese runs segmented by jieba (with the corpus's user dictionary of product
//!   terms), Chinese function words dropped; Latin runs lowercased, English stopwords dropped,
//!   Snowball-stemmed.
//! - **CJK unigrams** and **CJK bigrams** of every Chinese run: robust where segmentation fails
//!   (short colloquial questions, typos, unknown words).
//! - **identifiers**: model, error and order numbers (`WM-8012`, `X9 Pro`, `E21`,
//!   `TL20260315-482913`) whole (`wm8012`, `x9pro`) and by their parts (`wm`, `8012`).

mod query;

pub use query::Query;

use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

use jieba_rs::Jieba;
use rust_stemmers::{Algorithm, Stemmer};

use crate::config::AnalysisConfig;
use crate::error::{Error, Result};
pub use crate::text::is_cjk;

/// Maps full-width ASCII forms (`Ｘ９`) to ASCII.
fn fold_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

fn is_word_char(c: char) -> bool {
    let c = fold_width(c);
    c.is_alphanumeric() && !is_cjk(c)
}

/// A token: its text and byte range in the analysed string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub text: String,
    pub from: usize,
    pub to: usize,
}

/// The token streams of a text, one per lexical field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Words,
    CjkUnigrams,
    CjkBigrams,
    Idents,
    /// Adjacent pairs of words (after stopword removal): rewards passages that keep the
    /// query's words together.
    WordPairs,
}

/// English stopwords: Lucene's classic 33 words, and the scaffolding of a customer's question
/// (pronouns and auxiliaries: "do I", "can you", "my"), which says who asks, not what about.
/// Kept, "How do I reset the remote?" matched every FAQ heading that starts "How do I" better
/// than the remote's own section. Question words (how, what, why…) stay: dropping them too
/// helped the manuals further but cost faq-en, whose questions differ by them.
const EN_STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", // Lucene's
    "do", "does", "did", "can", "could", "would", "should", "i", "i'm", "me", "my", "you", "your",
    "we", "our", "us", "am",
];

/// Chinese function words: particles, pronouns and conjunctions with no topical content.
const ZH_STOP: &[&str] = &[
    "的", "了", "吗", "呢", "吧", "啊", "呀", "嘛", "哦", "哈", "啦", "么", "着", "过", "得", "地",
    "我", "你", "您", "他", "她", "它", "我们", "你们", "他们", "和", "与", "及", "或", "也", "就",
    "都", "而", "把", "被", "这", "那", "这个", "那个", "之", "于", "是", "在", "个", "一下", "请",
];

/// Words that complete a model number: `X9 Pro` is one identifier.
const MODEL_SUFFIXES: &[&str] = &["pro", "max", "plus", "ultra", "lite", "mini", "se", "air"];

/// The distinct terms of each stream of a query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryTerms {
    pub words: Vec<String>,
    pub cjk_unigrams: Vec<String>,
    pub cjk_bigrams: Vec<String>,
    pub pairs: Vec<String>,
    pub idents: Vec<String>,
}

fn distinct(toks: impl Iterator<Item = Tok>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in toks {
        if !out.contains(&t.text) {
            out.push(t.text);
        }
    }
    out
}

/// Adjacent pairs of words that are not separated by a sentence or clause break.
fn word_pairs(text: &str, words: &[Tok], out: &mut Vec<Tok>) {
    for w in words.windows(2) {
        let gap = &text[w[0].to.min(w[1].from)..w[1].from];
        let broken = gap.chars().any(|c| {
            matches!(
                c,
                '.' | ','
                    | ';'
                    | ':'
                    | '!'
                    | '?'
                    | '\n'
                    | '。'
                    | '，'
                    | '；'
                    | '：'
                    | '！'
                    | '？'
                    | '、'
            )
        });
        if !broken {
            out.push(Tok {
                text: format!("{}_{}", w[0].text, w[1].text),
                from: w[0].from,
                to: w[1].to,
            });
        }
    }
}

/// The analyzer. Cheap to share (`Arc`), expensive to build (jieba's dictionary).
pub struct Analyzer {
    jieba: Jieba,
    stemmer: Option<Stemmer>,
    en_stop: HashSet<&'static str>,
    zh_stop: HashSet<&'static str>,
    fingerprint: String,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl Analyzer {
    /// Builds the analyzer, loading the user dictionary if the file exists.
    pub fn new(cfg: &AnalysisConfig) -> Result<Analyzer> {
        let mut jieba = Jieba::new();
        let mut dict_hash = String::from("none");
        if !cfg.user_dict.as_os_str().is_empty() {
            if cfg.user_dict.exists() {
                dict_hash = load_user_dict(&mut jieba, &cfg.user_dict)?;
            } else {
                tracing::warn!(path = %cfg.user_dict.display(), "user dictionary not found; using jieba's dictionary only");
            }
        }
        // the word lists are part of how text is analysed: changing one rebuilds the indexes
        let lists = blake3::hash(format!("{EN_STOP:?}{ZH_STOP:?}").as_bytes()).to_hex();
        let fingerprint = format!(
            "v2;stem={};enstop={};zhstop={};lists={};dict={dict_hash}",
            cfg.english_stemming,
            cfg.english_stopwords,
            cfg.chinese_stopwords,
            &lists[..12]
        );
        Ok(Analyzer {
            jieba,
            stemmer: cfg
                .english_stemming
                .then(|| Stemmer::create(Algorithm::English)),
            en_stop: if cfg.english_stopwords {
                EN_STOP.iter().copied().collect()
            } else {
                HashSet::new()
            },
            zh_stop: if cfg.chinese_stopwords {
                ZH_STOP.iter().copied().collect()
            } else {
                HashSet::new()
            },
            fingerprint,
        })
    }

    /// A string that changes whenever analysis would produce different tokens.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Analyses `text` into the tokens of `stream`, appended to `out`.
    pub fn analyze(&self, stream: Stream, text: &str, out: &mut Vec<Tok>) {
        match stream {
            Stream::Words => self.words(text, out),
            Stream::CjkUnigrams => cjk_grams(text, 1, out),
            Stream::CjkBigrams => cjk_grams(text, 2, out),
            Stream::Idents => idents(text, out),
            Stream::WordPairs => {
                let mut words = Vec::new();
                self.words(text, &mut words);
                word_pairs(text, &words, out);
            }
        }
    }

    /// The distinct terms of `text` in `stream`, in first-seen order (for queries).
    pub fn terms(&self, stream: Stream, text: &str) -> Vec<String> {
        let mut toks = Vec::new();
        self.analyze(stream, text, &mut toks);
        distinct(toks.into_iter())
    }

    /// All query terms of `text`, each stream deduplicated (one pass of word analysis).
    pub fn query_terms(&self, text: &str) -> QueryTerms {
        let mut words = Vec::new();
        self.words(text, &mut words);
        let mut pairs = Vec::new();
        word_pairs(text, &words, &mut pairs);
        let mut toks = Vec::new();
        let mut take = |stream: Stream| {
            toks.clear();
            self.analyze(stream, text, &mut toks);
            distinct(toks.drain(..))
        };
        let has_cjk = text.chars().any(is_cjk);
        QueryTerms {
            cjk_unigrams: if has_cjk {
                take(Stream::CjkUnigrams)
            } else {
                Vec::new()
            },
            cjk_bigrams: if has_cjk {
                take(Stream::CjkBigrams)
            } else {
                Vec::new()
            },
            idents: take(Stream::Idents),
            words: distinct(words.into_iter()),
            pairs: distinct(pairs.into_iter()),
        }
    }

    fn words(&self, text: &str, out: &mut Vec<Tok>) {
        let mut i = 0;
        let bytes_len = text.len();
        while i < bytes_len {
            let c = text[i..].chars().next().unwrap_or(' ');
            if is_cjk(c) {
                let end = text[i..]
                    .char_indices()
                    .find(|(_, c)| !is_cjk(*c))
                    .map_or(bytes_len, |(j, _)| i + j);
                for t in self.jieba.cut(&text[i..end], true) {
                    if t.word.chars().all(|c| !is_cjk(c) && !c.is_alphanumeric()) {
                        continue;
                    }
                    if self.zh_stop.contains(t.word) {
                        continue;
                    }
                    out.push(Tok {
                        text: t.word.to_string(),
                        from: i + t.byte_start,
                        to: i + t.byte_end,
                    });
                }
                i = end;
            } else if is_word_char(c) {
                let end = text[i..]
                    .char_indices()
                    .find(|(_, c)| !is_word_char(*c))
                    .map_or(bytes_len, |(j, _)| i + j);
                let word: String = text[i..end]
                    .chars()
                    .map(|c| fold_width(c).to_lowercase().next().unwrap_or(c))
                    .collect();
                // possessive 's and contractions: drop a lone trailing "s"/"t" after an apostrophe
                let skip = text[..i].ends_with('\'') && (word == "s" || word == "t");
                if !skip && !self.en_stop.contains(word.as_str()) {
                    let stemmed = match &self.stemmer {
                        Some(s) if word.chars().all(|c| c.is_alphabetic()) => {
                            s.stem(&word).into_owned()
                        }
                        _ => word,
                    };
                    out.push(Tok {
                        text: stemmed,
                        from: i,
                        to: end,
                    });
                }
                i = end;
            } else {
                i += c.len_utf8();
            }
        }
    }
}

fn load_user_dict(jieba: &mut Jieba, path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = blake3::Hasher::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let word = parts.next().unwrap_or_default();
        let freq = match parts.next() {
            Some(f) => Some(f.parse::<usize>().map_err(|_| {
                Error::config(
                    "analysis.user_dict",
                    format!(
                        "{}:{}: frequency `{f}` is not a number",
                        path.display(),
                        n + 1
                    ),
                )
            })?),
            None => None,
        };
        let tag = parts.next();
        jieba.add_word(word, freq, tag);
    }
    Ok(hasher.finalize().to_hex()[..16].to_string())
}

/// Character n-grams (n = 1 or 2) of every Chinese run. A run of one character gives that
/// character in the bigram stream too, so single-character words still match.
fn cjk_grams(text: &str, n: usize, out: &mut Vec<Tok>) {
    let mut run: Vec<(usize, char)> = Vec::new();
    let flush = |run: &mut Vec<(usize, char)>, out: &mut Vec<Tok>| {
        if run.is_empty() {
            return;
        }
        if n == 1 || run.len() == 1 {
            for &(i, c) in run.iter() {
                out.push(Tok {
                    text: c.to_string(),
                    from: i,
                    to: i + c.len_utf8(),
                });
            }
        } else {
            for w in run.windows(2) {
                let (i, a) = w[0];
                let (j, b) = w[1];
                let mut s = String::with_capacity(6);
                s.push(a);
                s.push(b);
                out.push(Tok {
                    text: s,
                    from: i,
                    to: j + b.len_utf8(),
                });
            }
        }
        run.clear();
    };
    for (i, c) in text.char_indices() {
        if is_cjk(c) {
            run.push((i, c));
        } else {
            flush(&mut run, out);
        }
    }
    flush(&mut run, out);
}

/// Identifiers: runs of ASCII letters/digits joined by `-`, `_`, `.` or `/` that contain a
/// digit (`WM-8012`, `E21`, `X9`, `TL20260315-482913`), emitted whole without separators and,
/// when they have separators, by their parts; a model number followed by a suffix word
/// (`X9 Pro`) is also emitted joined (`x9pro`). Pure numbers need four digits or more.
fn idents(text: &str, out: &mut Vec<Tok>) {
    let folded: Vec<(usize, char)> = text
        .char_indices()
        .map(|(i, c)| (i, fold_width(c)))
        .collect();
    let n = folded.len();
    let mut k = 0;
    let alnum = |c: char| c.is_ascii_alphanumeric();
    while k < n {
        let (start, c) = folded[k];
        if !alnum(c) || (k > 0 && alnum(folded[k - 1].1)) {
            k += 1;
            continue;
        }
        // scan an identifier: alnum runs joined by single separators
        let mut j = k;
        let mut parts: Vec<(usize, usize)> = Vec::new(); // index ranges into folded
        loop {
            let ps = j;
            while j < n && alnum(folded[j].1) {
                j += 1;
            }
            parts.push((ps, j));
            if j + 1 < n && matches!(folded[j].1, '-' | '_' | '.' | '/') && alnum(folded[j + 1].1) {
                j += 1;
                continue;
            }
            break;
        }
        let end_byte = if j < n { folded[j].0 } else { text.len() };
        let part_str = |(a, b): (usize, usize)| -> String {
            folded[a..b]
                .iter()
                .map(|(_, c)| c.to_ascii_lowercase())
                .collect()
        };
        let joined: String = parts.iter().map(|&p| part_str(p)).collect();
        let has_digit = joined.chars().any(|c| c.is_ascii_digit());
        let all_digit = joined.chars().all(|c| c.is_ascii_digit());
        if has_digit && joined.len() >= 2 && (!all_digit || joined.len() >= 4) {
            out.push(Tok {
                text: joined.clone(),
                from: start,
                to: end_byte,
            });
            if parts.len() > 1 {
                for &p in &parts {
                    let s = part_str(p);
                    let s_digit = s.chars().all(|c| c.is_ascii_digit());
                    if !s.is_empty() && (!s_digit || s.len() >= 3) {
                        let from = folded[p.0].0;
                        let to = if p.1 < n { folded[p.1].0 } else { text.len() };
                        out.push(Tok { text: s, from, to });
                    }
                }
            }
            // model suffix: "X9 Pro"
            if j < n && folded[j].1 == ' ' {
                let ws = j + 1;
                let mut we = ws;
                while we < n && folded[we].1.is_ascii_alphabetic() {
                    we += 1;
                }
                if we > ws && (we == n || !alnum(folded[we].1)) {
                    let word: String = folded[ws..we]
                        .iter()
                        .map(|(_, c)| c.to_ascii_lowercase())
                        .collect();
                    if MODEL_SUFFIXES.contains(&word.as_str()) {
                        let to = if we < n { folded[we].0 } else { text.len() };
                        out.push(Tok {
                            text: format!("{joined}{word}"),
                            from: start,
                            to,
                        });
                    }
                }
            }
        }
        k = j.max(k + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> Analyzer {
        Analyzer::new(&AnalysisConfig {
            user_dict: "".into(),
            ..AnalysisConfig::default()
        })
        .expect("analyzer")
    }

    fn texts(a: &Analyzer, s: Stream, t: &str) -> Vec<String> {
        let mut v = Vec::new();
        a.analyze(s, t, &mut v);
        v.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn english_is_lowercased_stemmed_and_stopped() {
        let a = analyzer();
        assert_eq!(
            texts(
                &a,
                Stream::Words,
                "The phone's batteries are Charging slowly"
            ),
            vec!["phone", "batteri", "charg", "slowli"]
        );
        assert_eq!(texts(&a, Stream::Words, "Don't use it"), vec!["don", "use"]);
        // the scaffolding of a question is not what it is about
        assert_eq!(
            texts(&a, Stream::Words, "How do I reset my remote?"),
            vec!["how", "reset", "remot"]
        );
    }

    #[test]
    fn chinese_is_segmented_and_function_words_dropped() {
        let a = analyzer();
        let w = texts(&a, Stream::Words, "我的手机屏幕碎了怎么办");
        assert!(w.contains(&"手机".to_string()), "{w:?}");
        assert!(w.contains(&"屏幕".to_string()), "{w:?}");
        assert!(
            !w.contains(&"的".to_string()) && !w.contains(&"了".to_string()),
            "{w:?}"
        );
    }

    #[test]
    fn user_dictionary_keeps_product_terms_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("user.dict");
        std::fs::write(&path, "洗烘一体机 2000 n\n天澜无忧 1000\n").expect("write");
        let a = Analyzer::new(&AnalysisConfig {
            user_dict: path.clone(),
            ..AnalysisConfig::default()
        })
        .expect("analyzer");
        let w = texts(&a, Stream::Words, "天澜无忧的洗烘一体机");
        assert!(w.contains(&"洗烘一体机".to_string()), "{w:?}");
        assert!(w.contains(&"天澜无忧".to_string()), "{w:?}");
        std::fs::write(&path, "词 lots\n").expect("write");
        let err = Analyzer::new(&AnalysisConfig {
            user_dict: path,
            ..AnalysisConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains(":1: frequency"), "{err}");
    }

    #[test]
    fn cjk_ngrams() {
        let a = analyzer();
        assert_eq!(
            texts(&a, Stream::CjkBigrams, "屏幕碎了 X9 好"),
            vec!["屏幕", "幕碎", "碎了", "好"]
        );
        assert_eq!(texts(&a, Stream::CjkUnigrams, "屏幕X9"), vec!["屏", "幕"]);
    }

    #[test]
    fn identifiers_whole_and_by_parts() {
        let a = analyzer();
        assert_eq!(
            texts(&a, Stream::Idents, "WM-8012 shows E21"),
            vec!["wm8012", "wm", "8012", "e21"]
        );
        assert_eq!(
            texts(&a, Stream::Idents, "my X9 Pro and X9"),
            vec!["x9", "x9pro", "x9"]
        );
        assert_eq!(
            texts(&a, Stream::Idents, "订单TL20260315-482913已发货"),
            vec!["tl20260315482913", "tl20260315", "482913"]
        );
        assert_eq!(
            texts(&a, Stream::Idents, "ＷＭ－8012 and x9pro"),
            vec!["wm8012", "wm", "8012", "x9pro"]
        );
        assert!(texts(&a, Stream::Idents, "wait 3 seconds, 100 times").is_empty());
    }

    #[test]
    fn mixed_text_in_one_field() {
        let a = analyzer();
        let w = texts(&a, Stream::Words, "X9 Pro的屏幕碎了, cracked screen");
        assert_eq!(w[0], "x9");
        assert_eq!(w[1], "pro");
        assert!(w.contains(&"屏幕".to_string()));
        assert!(w.contains(&"crack".to_string()));
        assert!(w.contains(&"screen".to_string()));
        let i = texts(&a, Stream::Idents, "X9 Pro的屏幕");
        assert_eq!(i, vec!["x9", "x9pro"]);
    }

    #[test]
    fn query_terms_are_distinct() {
        let a = analyzer();
        assert_eq!(
            a.terms(Stream::Words, "screen screen Screens"),
            vec!["screen"]
        );
    }
}
