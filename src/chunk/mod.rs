//! Documents → passages ([`Chunk`]s). Heading-aware: a passage never spans two sections.
//! Sentence-aware: passages are packed from whole sentences (split at 。！？； and .!? and line
//! breaks) up to a token budget, and each passage after the first of a section starts with the
//! last sentences of the previous one (the overlap). A sentence longer than the budget is cut
//! at word (or character) boundaries. Ticket problem and resolution blocks stay whole up to the
//! embedding model's limit.
//!
//! Tokens are counted as the analyzer sees them: a Chinese character is one token, a run of
//! letters or digits is one token.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::ChunkConfig;
use crate::domain::{ChunkId, DocMeta};
use crate::ingest::{Block, BlockKind, Document};
use crate::text::Lang;
use crate::text::{count_tokens, is_cjk, split_sentences};

/// The longest ticket block kept whole (the embedding model reads 512 tokens).
pub const TICKET_MAX_TOKENS: usize = 480;

/// A passage: the unit of retrieval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// Stable id: a hash of the document id, heading path and text.
    pub id: ChunkId,
    /// Position of the passage in its document.
    pub ord: u32,
    pub heading_path: Vec<String>,
    pub text: String,
    /// Byte range of the passage in the source file.
    pub span: (usize, usize),
    pub language: Lang,
    pub tokens: usize,
    /// The document's metadata (shared by all its passages).
    pub meta: Arc<DocMeta>,
    /// Where each sentence of `text` comes from in the source file, in order (for citing a
    /// sentence by its own byte span). Empty for passages built without a source (evaluation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pieces: Vec<SourcePiece>,
}

/// A range of a passage's text and the source bytes it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePiece {
    /// Byte range in the passage text.
    pub text: (usize, usize),
    /// Byte range in the source file.
    pub source: (usize, usize),
}

impl Chunk {
    /// The source bytes of the text range `start..end` of the passage: the smallest range
    /// covering every piece it touches (the whole passage's span without pieces).
    pub fn source_span(&self, start: usize, end: usize) -> (usize, usize) {
        let mut out: Option<(usize, usize)> = None;
        for p in &self.pieces {
            if p.text.0 < end && start < p.text.1 {
                out = Some(match out {
                    None => p.source,
                    Some((a, b)) => (a.min(p.source.0), b.max(p.source.1)),
                });
            }
        }
        out.unwrap_or(self.span)
    }
}

/// Cuts `range` of `text` into pieces of at most `max` tokens, at whitespace where possible and
/// otherwise between characters.
fn split_long(text: &str, range: Range<usize>, max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = range.start;
    let mut tokens = 0;
    let mut in_word = false;
    let mut last_space: Option<usize> = None;
    for (i, c) in text[range.clone()].char_indices() {
        let i = range.start + i;
        let starts_token = is_cjk(c) || (c.is_alphanumeric() && !in_word);
        in_word = c.is_alphanumeric() && !is_cjk(c);
        if starts_token {
            if tokens == max {
                let cut = match last_space {
                    Some(s) if s > start => s,
                    _ => i,
                };
                out.push(start..cut);
                start = cut;
                tokens = count_tokens(&text[start..i]);
                last_space = None;
            }
            tokens += 1;
        }
        if c.is_whitespace() {
            last_space = Some(i + c.len_utf8());
        }
    }
    if start < range.end {
        out.push(start..range.end);
    }
    out
}

/// A sentence of a block.
struct Unit {
    block: usize,
    range: Range<usize>,
    tokens: usize,
}

/// Checks a document against the per-document limits of `corpus`: products and tags (count
/// and length), title, category and version length, passages and sentences. The reason names
/// the limit and its configuration key.
pub fn check_limits(
    meta: &DocMeta,
    chunks: &[Chunk],
    corpus: &crate::config::CorpusConfig,
) -> std::result::Result<(), String> {
    let items = corpus.max_list_items;
    for (name, list) in [("products", &meta.products), ("tags", &meta.tags)] {
        if list.len() > items {
            return Err(format!(
                "document `{}` has {} {name}, over the limit of {items} (corpus.max_list_items)",
                meta.id,
                list.len()
            ));
        }
    }
    let chars = corpus.max_value_chars;
    let values = meta
        .products
        .iter()
        .map(|v| ("a product", v.as_str()))
        .chain(meta.tags.iter().map(|v| ("a tag", v.as_str())))
        .chain(meta.category.iter().map(|v| ("the category", v.as_str())))
        .chain(meta.version.iter().map(|v| ("the version", v.as_str())))
        .chain(std::iter::once(("the title", meta.title.as_str())));
    for (what, v) in values {
        let n = v.chars().count();
        if n > chars {
            return Err(format!(
                "document `{}`: {what} is {n} characters, over the limit of {chars} (corpus.max_value_chars)",
                meta.id
            ));
        }
    }
    if chunks.len() > corpus.max_passages_per_document {
        return Err(format!(
            "document `{}` makes {} passages, over the limit of {} (corpus.max_passages_per_document)",
            meta.id,
            chunks.len(),
            corpus.max_passages_per_document
        ));
    }
    let sentences: usize = chunks.iter().map(|c| c.pieces.len().max(1)).sum();
    if sentences > corpus.max_sentences_per_document {
        return Err(format!(
            "document `{}` has {sentences} sentences, over the limit of {} (corpus.max_sentences_per_document)",
            meta.id, corpus.max_sentences_per_document
        ));
    }
    Ok(())
}

/// Cuts a document into passages.
pub fn chunk_document(doc: &Document, cfg: &ChunkConfig) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut seen: HashMap<ChunkId, u32> = HashMap::new();
    // Sections: runs of blocks with the same heading path; ticket blocks stand alone.
    let mut b = 0;
    while b < doc.blocks.len() {
        let first = &doc.blocks[b];
        let ticket = matches!(first.kind, BlockKind::Problem | BlockKind::Resolution);
        let mut e = b + 1;
        if !ticket {
            while e < doc.blocks.len()
                && doc.blocks[e].heading_path == first.heading_path
                && !matches!(
                    doc.blocks[e].kind,
                    BlockKind::Problem | BlockKind::Resolution
                )
            {
                e += 1;
            }
        }
        let budget = if ticket {
            cfg.max_tokens.max(TICKET_MAX_TOKENS)
        } else {
            cfg.max_tokens
        };
        let mut units = Vec::new();
        for (bi, block) in doc.blocks[b..e].iter().enumerate() {
            for r in split_sentences(&block.text) {
                let t = count_tokens(&block.text[r.clone()]);
                if t > budget {
                    for piece in split_long(&block.text, r, budget) {
                        let t = count_tokens(&block.text[piece.clone()]);
                        units.push(Unit {
                            block: b + bi,
                            range: piece,
                            tokens: t,
                        });
                    }
                } else {
                    units.push(Unit {
                        block: b + bi,
                        range: r,
                        tokens: t,
                    });
                }
            }
        }
        pack(
            doc,
            &units,
            budget,
            cfg.overlap_tokens,
            &mut chunks,
            &mut seen,
        );
        b = e;
    }
    chunks
}

fn pack(
    doc: &Document,
    units: &[Unit],
    budget: usize,
    overlap: usize,
    out: &mut Vec<Chunk>,
    seen: &mut HashMap<ChunkId, u32>,
) {
    let mut start = 0;
    while start < units.len() {
        let mut end = start;
        let mut tokens = 0;
        while end < units.len() && (end == start || tokens + units[end].tokens <= budget) {
            tokens += units[end].tokens;
            end += 1;
        }
        emit(doc, &units[start..end], out, seen);
        if end >= units.len() {
            break;
        }
        // Overlap: step back over trailing sentences worth at most `overlap` tokens, but always
        // make progress.
        let mut next = end;
        let mut back = 0;
        while next > start + 1 && back + units[next - 1].tokens <= overlap {
            back += units[next - 1].tokens;
            next -= 1;
        }
        start = next;
    }
}

fn emit(doc: &Document, units: &[Unit], out: &mut Vec<Chunk>, seen: &mut HashMap<ChunkId, u32>) {
    let mut text = String::new();
    let mut span: Option<(usize, usize)> = None;
    let mut pieces = Vec::new();
    let mut tokens = 0;
    let mut i = 0;
    while i < units.len() {
        let bi = units[i].block;
        let mut j = i;
        while j + 1 < units.len() && units[j + 1].block == bi {
            j += 1;
        }
        let block: &Block = &doc.blocks[bi];
        let (s, e) = (units[i].range.start, units[j].range.end);
        let piece = block.text[s..e].trim();
        if !piece.is_empty() {
            let lead = block.text[s..e].len() - block.text[s..e].trim_start().len();
            let (from, to) = (s + lead, s + lead + piece.len());
            let (ss, se) = block.map.to_source(from, to);
            span = Some(match span {
                None => (ss, se),
                Some((a, b)) => (a.min(ss), b.max(se)),
            });
            if !text.is_empty() {
                text.push('\n');
            }
            let base = text.len();
            // each sentence's own place in the source
            for u in &units[i..=j] {
                let (a, b) = (u.range.start.max(from), u.range.end.min(to));
                let sentence = block.text.get(a..b).unwrap_or("");
                let a = a + (sentence.len() - sentence.trim_start().len());
                let b = b - (sentence.len() - sentence.trim_end().len());
                if a < b {
                    pieces.push(SourcePiece {
                        text: (base + a - from, base + b - from),
                        source: block.map.to_source(a, b),
                    });
                }
            }
            text.push_str(piece);
        }
        tokens += units[i..=j].iter().map(|u| u.tokens).sum::<usize>();
        i = j + 1;
    }
    if text.is_empty() {
        return;
    }
    let heading_path = doc.blocks[units[0].block].heading_path.clone();
    let mut id = ChunkId::of(&doc.meta.id, &heading_path, &text);
    // identical passages in one document (a repeated sentence) get distinct ids
    let count = seen.entry(id).or_insert(0);
    if *count > 0 {
        id = ChunkId::of(&doc.meta.id, &heading_path, &format!("{text}\u{0}{count}"));
    }
    *count += 1;
    out.push(Chunk {
        id,
        ord: out.len() as u32,
        language: Lang::detect(&text),
        heading_path,
        text,
        span: span.unwrap_or((0, 0)),
        tokens,
        meta: doc.meta.clone(),
        pieces,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ingest::{markdown, FileContext};
    use proptest::prelude::*;

    fn doc(src: &str) -> Document {
        let config = Config::default();
        let ctx = FileContext {
            rel_path: "m.md",
            config: &config,
        };
        markdown::parse(src, &ctx).expect("parses")
    }

    #[test]
    fn sections_are_not_mixed_and_budget_holds() {
        let mut src = String::from("# T\n\n## A\n\n");
        for i in 0..30 {
            src.push_str(&format!("Sentence number {i} is here. "));
        }
        src.push_str("\n\n## B\n\nShort section.\n");
        let d = doc(&src);
        let cfg = ChunkConfig {
            max_tokens: 20,
            overlap_tokens: 5,
        };
        let chunks = chunk_document(&d, &cfg);
        assert!(chunks.len() > 3);
        for c in &chunks {
            assert!(c.tokens <= 20, "{} tokens: {}", c.tokens, c.text);
        }
        let last = chunks.last().expect("chunks");
        assert_eq!(last.heading_path, vec!["B".to_string()]);
        assert_eq!(last.text, "Short section.");
        assert!(chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.heading_path == vec!["A".to_string()]));
        // overlap: the second passage starts with the last sentence of the first
        let first_last_sentence = chunks[0].text.rsplit(". ").next().expect("sentence");
        assert!(
            chunks[1]
                .text
                .starts_with(first_last_sentence.trim_end_matches('.')),
            "{:?} / {:?}",
            chunks[0].text,
            chunks[1].text
        );
        // spans point at the source
        assert_eq!(&src[last.span.0..last.span.1], "Short section.");
        // and so does every sentence: plain text is read verbatim
        for c in &chunks {
            assert!(!c.pieces.is_empty());
            for p in &c.pieces {
                assert_eq!(&c.text[p.text.0..p.text.1], &src[p.source.0..p.source.1]);
            }
        }
        let c = &chunks[1];
        let second = c.pieces[1];
        assert_eq!(c.source_span(second.text.0, second.text.1), second.source);
        assert_eq!(c.source_span(0, c.text.len()).0, c.pieces[0].source.0);
    }

    #[test]
    fn ids_are_stable_and_content_addressed() {
        let d1 = doc("# T\n\n## A\n\nSame text.\n\n## B\n\nOther.\n");
        let d2 = doc("# T\n\n## A\n\nSame text.\n\n## B\n\nChanged.\n");
        let cfg = ChunkConfig::default();
        let (c1, c2) = (chunk_document(&d1, &cfg), chunk_document(&d2, &cfg));
        assert_eq!(c1[0].id, c2[0].id);
        assert_ne!(c1[1].id, c2[1].id);
        assert_eq!(chunk_document(&d1, &cfg)[1].id, c1[1].id);
        let parsed: ChunkId = c1[0].id.to_string().parse().expect("round trip");
        assert_eq!(parsed, c1[0].id);
    }

    #[test]
    fn long_sentences_are_cut() {
        let long = "字".repeat(50);
        let d = doc(&format!("# T\n\n{long}\n"));
        let chunks = chunk_document(
            &d,
            &ChunkConfig {
                max_tokens: 16,
                overlap_tokens: 0,
            },
        );
        assert_eq!(
            chunks.iter().map(|c| c.text.chars().count()).sum::<usize>(),
            50
        );
        assert!(chunks.iter().all(|c| c.tokens <= 16));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Every non-space character of every block lands in some passage, and every span lies
        /// on character boundaries of the source.
        #[test]
        fn chunks_cover_text_and_spans_are_char_boundaries(
            paras in proptest::collection::vec("[a-zA-Z0-9 .!?,，。！？；屏幕碎了保修é\\-]{0,120}", 1..8),
            max in 16usize..64,
        ) {
            let mut src = String::from("# Title\n\n");
            for (i, p) in paras.iter().enumerate() {
                if i % 3 == 2 { src.push_str(&format!("## H{i}\n\n")); }
                src.push_str(p);
                src.push_str("\n\n");
            }
            let d = doc(&src);
            let chunks = chunk_document(&d, &ChunkConfig { max_tokens: max, overlap_tokens: max / 4 });
            let all: String = chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("");
            let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            let joined_chunks = strip(&all);
            for b in &d.blocks {
                for r in split_sentences(&b.text) {
                    let sentence = strip(&b.text[r]);
                    if !sentence.is_empty() {
                        // each sentence (or its cut pieces) appears in the passages
                        let first: String = sentence.chars().take(8).collect();
                        prop_assert!(joined_chunks.contains(&first), "missing {:?}", sentence);
                    }
                }
            }
            for c in &chunks {
                for p in &c.pieces {
                    prop_assert!(p.text.0 < p.text.1 && p.text.1 <= c.text.len());
                    prop_assert!(c.text.is_char_boundary(p.text.0) && c.text.is_char_boundary(p.text.1));
                    prop_assert!(src.is_char_boundary(p.source.0) && src.is_char_boundary(p.source.1));
                    prop_assert!(p.source.0 <= p.source.1 && p.source.1 <= src.len());
                }
                prop_assert!(src.is_char_boundary(c.span.0) && src.is_char_boundary(c.span.1));
                prop_assert!(c.span.0 <= c.span.1 && c.span.1 <= src.len());
                prop_assert!(c.tokens <= max || c.tokens == count_tokens(&c.text));
            }
        }
    }
}
