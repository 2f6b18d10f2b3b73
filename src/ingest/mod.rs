//! Files → [`Document`]s: every supported format ends up as a list of [`Block`]s (a paragraph,
//! a list, a table, a code block, a ticket's problem or resolution) under a heading path, each
//! with a [`SourceMap`] back to the bytes of the source file.

/// Bumped whenever parsing produces different documents from the same bytes; a generation
/// built by another version is rebuilt from scratch.
pub const INGEST_VERSION: u32 = 5;

pub mod frontmatter;
#[cfg(test)]
mod fuzz;
pub mod html;
pub mod markdown;
pub mod redact;
pub mod text;
pub mod ticket;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::{Audience, DocMeta, DocType};
use crate::error::{Error, Result};
use crate::text::Lang;

/// The kind of a block of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    Paragraph,
    List,
    Table,
    Code,
    /// A ticket's customer side.
    Problem,
    /// A ticket's agent side and outcome.
    Resolution,
}

/// A run of text under one heading path, with a map back to its source bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub heading_path: Vec<String>,
    pub kind: BlockKind,
    pub text: String,
    pub map: SourceMap,
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub meta: Arc<DocMeta>,
    pub blocks: Vec<Block>,
}

/// One piece of a block's text and where it came from. A piece is *verbatim* when its text is
/// byte-for-byte the source range, so any offset inside it maps exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    text_start: usize,
    text_len: usize,
    src_start: usize,
    src_len: usize,
    verbatim: bool,
}

/// Maps byte offsets in a block's text to byte offsets in the source file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    pieces: Vec<Piece>,
}

impl SourceMap {
    /// The source range for the text range `start..end` (`start < end`). The result always lies
    /// on the boundaries of pieces or inside verbatim pieces, so it never splits a UTF-8
    /// character of the source.
    pub fn to_source(&self, start: usize, end: usize) -> (usize, usize) {
        let s = self.map_start(start);
        let e = self.map_end(end);
        if e < s {
            (s, s)
        } else {
            (s, e)
        }
    }

    // Pieces are in text order, each starting where the one before ends or later, so both
    // lookups are binary searches: mapping every sentence of a block stays O(n log n).
    fn map_start(&self, off: usize) -> usize {
        let i = self
            .pieces
            .partition_point(|p| p.text_start + p.text_len <= off);
        match self.pieces.get(i) {
            Some(p) if off <= p.text_start => p.src_start,
            Some(p) if p.verbatim => p.src_start + (off - p.text_start),
            Some(p) => p.src_start,
            None => self.pieces.last().map_or(0, |p| p.src_start + p.src_len),
        }
    }

    fn map_end(&self, off: usize) -> usize {
        let i = self.pieces.partition_point(|p| p.text_start < off);
        match i.checked_sub(1).and_then(|i| self.pieces.get(i)) {
            Some(p) if off >= p.text_start + p.text_len => p.src_start + p.src_len,
            Some(p) if p.verbatim => p.src_start + (off - p.text_start),
            Some(p) => p.src_start + p.src_len,
            None => self.pieces.first().map_or(0, |p| p.src_start),
        }
    }
}

/// Builds a block's text piece by piece, recording where each piece came from.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    text: String,
    pieces: Vec<Piece>,
}

impl BlockBuilder {
    /// A new, empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing but whitespace has been pushed.
    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Appends `s`, which came from `src_start..src_start + src_len` of the source. When `s` is
    /// exactly that source text the piece is verbatim.
    pub fn push_source(&mut self, s: &str, src_start: usize, src_len: usize, verbatim: bool) {
        if s.is_empty() {
            return;
        }
        self.pieces.push(Piece {
            text_start: self.text.len(),
            text_len: s.len(),
            src_start,
            src_len,
            verbatim: verbatim && s.len() == src_len,
        });
        self.text.push_str(s);
    }

    /// Appends text that has no source of its own (a list marker, a separator).
    pub fn push_synthetic(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Appends a single space unless the text is empty or already ends in whitespace.
    pub fn push_space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(char::is_whitespace) {
            self.text.push(' ');
        }
    }

    /// Appends a newline unless the text is empty or already ends in one.
    pub fn push_newline(&mut self) {
        while self.text.ends_with(' ') {
            self.text.pop();
        }
        // the pieces that claimed the spaces just removed end where the text now ends
        let len = self.text.len();
        while let Some(p) = self.pieces.last_mut() {
            if p.text_start > len || (p.text_start == len && p.text_len > 0) {
                self.pieces.pop();
                continue;
            }
            if p.text_start + p.text_len > len {
                let cut = p.text_start + p.text_len - len;
                p.text_len -= cut;
                if p.verbatim {
                    p.src_len -= cut;
                }
            }
            break;
        }
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    /// Appends source text, collapsing each run of whitespace to one space (HTML, plain text).
    pub fn push_collapsed(&mut self, raw: &str, src_start: usize) {
        let mut word_start: Option<usize> = None;
        for (i, c) in raw.char_indices() {
            if c.is_whitespace() {
                if let Some(ws) = word_start.take() {
                    self.push_source(&raw[ws..i], src_start + ws, i - ws, true);
                }
                self.push_space();
            } else if word_start.is_none() {
                word_start = Some(i);
            }
        }
        if let Some(ws) = word_start {
            self.push_source(&raw[ws..], src_start + ws, raw.len() - ws, true);
        }
    }

    /// Finishes the block: `None` when it holds nothing but whitespace.
    pub fn finish(self, heading_path: &[String], kind: BlockKind) -> Option<Block> {
        let trimmed_len = self.text.trim_end().len();
        if self.text.trim().is_empty() {
            return None;
        }
        let mut text = self.text;
        text.truncate(trimmed_len);
        Some(Block {
            heading_path: heading_path.to_vec(),
            kind,
            text,
            map: SourceMap {
                pieces: self.pieces,
            },
        })
    }

    /// Takes the finished block out of the builder, leaving it empty.
    pub fn take(&mut self, heading_path: &[String], kind: BlockKind) -> Option<Block> {
        std::mem::take(self).finish(heading_path, kind)
    }
}

/// The outcome of reading one source file.
#[derive(Debug, Default)]
pub struct Ingested {
    /// The documents read from the file (one for a manual; one per ticket for a ticket file).
    pub documents: Vec<Document>,
    /// Problems that did not stop the rest of the file from being read (a malformed JSON line).
    pub errors: Vec<String>,
}

/// The kinds of file kefu reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Text,
    TicketsJsonl,
    TicketsCsv,
}

impl Format {
    /// The format of a path by its extension, or `None` for files kefu does not read.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "txt" => Some(Format::Text),
            "jsonl" | "ndjson" => Some(Format::TicketsJsonl),
            "csv" => Some(Format::TicketsCsv),
            _ => None,
        }
    }
}

/// Context for parsing one file.
pub struct FileContext<'a> {
    /// The path relative to the corpus folder, `/`-separated (used as `source` and default id).
    pub rel_path: &'a str,
    pub config: &'a Config,
}

impl FileContext<'_> {
    /// The default document id: the relative path without its extension.
    pub fn default_id(&self) -> String {
        match self.rel_path.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem.to_string(),
            _ => self.rel_path.to_string(),
        }
    }

    /// The default title: the file name without its extension.
    pub fn default_title(&self) -> String {
        let name = self.rel_path.rsplit('/').next().unwrap_or(self.rel_path);
        match name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem.to_string(),
            _ => name.to_string(),
        }
    }

    /// The audience of a document: what its own metadata declares, else the configured default
    /// for its kind (`corpus.ticket_audience` for tickets, `corpus.default_audience` otherwise).
    /// The one place where the audience of anything indexed is decided; an upload's declared
    /// metadata is written into the file ahead of its content, so it is what is declared here.
    pub(crate) fn audience(&self, declared: Option<Audience>, ticket: bool) -> Audience {
        declared.unwrap_or_else(|| {
            if ticket {
                Audience::parse(&self.config.corpus.ticket_audience).unwrap_or(Audience::Internal)
            } else {
                Audience::parse(&self.config.corpus.default_audience).unwrap_or(Audience::Public)
            }
        })
    }
}

/// Checks raw bytes and returns them as text, or the reason the file is bad.
pub fn check_bytes(bytes: &[u8], max: u64) -> std::result::Result<&str, String> {
    if bytes.len() as u64 > max {
        return Err(format!(
            "file is {} bytes, over the limit of {max} (corpus.max_file_bytes)",
            bytes.len()
        ));
    }
    if bytes.is_empty() {
        return Err("empty file".into());
    }
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return Err("binary file (contains NUL bytes)".into());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    if text.trim().is_empty() {
        return Err("empty file (only whitespace)".into());
    }
    Ok(text)
}

/// Reads and parses one file of a known format. `path` is the file on disk; `rel_path` its
/// name in the corpus. Errors name the path and the reason.
pub fn read_file(path: &Path, rel_path: &str, config: &Config) -> Result<Ingested> {
    let format = Format::of(path).ok_or_else(|| Error::bad_file(path, "unsupported file type"))?;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > config.corpus.max_file_bytes {
        return Err(Error::bad_file(
            path,
            format!(
                "file is {} bytes, over the limit of {} (corpus.max_file_bytes)",
                meta.len(),
                config.corpus.max_file_bytes
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_bytes(&bytes, format, path, rel_path, config)
}

/// Parses the bytes of a file of `format`.
pub fn parse_bytes(
    bytes: &[u8],
    format: Format,
    path: &Path,
    rel_path: &str,
    config: &Config,
) -> Result<Ingested> {
    let text =
        check_bytes(bytes, config.corpus.max_file_bytes).map_err(|r| Error::bad_file(path, r))?;
    let ctx = FileContext { rel_path, config };
    let result = match format {
        Format::Markdown => markdown::parse(text, &ctx).map(|d| Ingested {
            documents: vec![d],
            errors: vec![],
        }),
        Format::Html => html::parse(text, &ctx).map(|d| Ingested {
            documents: vec![d],
            errors: vec![],
        }),
        Format::Text => text::parse(text, &ctx).map(|d| Ingested {
            documents: vec![d],
            errors: vec![],
        }),
        Format::TicketsJsonl => ticket::parse_jsonl(text, &ctx),
        Format::TicketsCsv => ticket::parse_csv(text, &ctx),
    };
    result.map_err(|reason| Error::bad_file(PathBuf::from(path), reason))
}

/// Builds a document's metadata from parsed front matter (or HTML meta tags) and defaults.
pub(crate) fn meta_from_front_matter(
    fm: frontmatter::FrontMatter,
    ctx: &FileContext<'_>,
    fallback_title: Option<String>,
    blocks: &[Block],
) -> DocMeta {
    let language = fm.language.unwrap_or_else(|| {
        let sample: String = blocks
            .iter()
            .take(20)
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        Lang::detect(&sample)
    });
    DocMeta {
        id: fm.id.unwrap_or_else(|| ctx.default_id()),
        title: fm
            .title
            .or(fallback_title)
            .unwrap_or_else(|| ctx.default_title()),
        doc_type: fm.doc_type.unwrap_or(DocType::Other),
        language,
        audience: ctx.audience(fm.audience, false),
        products: fm.products,
        category: fm.category,
        tags: fm.tags,
        effective_date: fm.effective_date,
        version: fm.version,
        warranty: fm.warranty,
        source: ctx.rel_path.to_string(),
        extra: fm.extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bytes_have_reasons() {
        assert!(check_bytes(b"", 10).unwrap_err().contains("empty"));
        assert!(check_bytes(b"  \n ", 10).unwrap_err().contains("empty"));
        assert!(check_bytes(b"a\0b", 10).unwrap_err().contains("binary"));
        assert!(check_bytes(b"ab\xffcd", 10)
            .unwrap_err()
            .contains("UTF-8 at byte 2"));
        assert!(check_bytes(b"abcdef", 3).unwrap_err().contains("limit"));
        assert_eq!(check_bytes("好的".as_bytes(), 10), Ok("好的"));
    }

    #[test]
    fn source_map_maps_verbatim_and_synthetic_pieces() {
        let src = "ab **cd** ef";
        let mut b = BlockBuilder::new();
        b.push_source("ab ", 0, 3, true);
        b.push_source("cd", 5, 2, true);
        b.push_synthetic(" ");
        b.push_source("ef", 10, 2, true);
        let block = b.finish(&[], BlockKind::Paragraph).expect("block");
        assert_eq!(block.text, "ab cd ef");
        assert_eq!(block.map.to_source(3, 5), (5, 7));
        assert_eq!(&src[5..7], "cd");
        assert_eq!(block.map.to_source(0, 8), (0, 12));
        // an offset on the synthetic space maps to the next piece's start / previous piece's end
        assert_eq!(block.map.to_source(5, 6), (10, 10));
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// No input makes a parser panic, and every span it produces lies on character
        /// boundaries of the input.
        #[test]
        fn parsers_never_panic_and_spans_are_boundaries(src in "[<>&;#/a-z0-9 \\n\\-|*`!=\"'保修屏幕é]{0,300}") {
            let config = Config::default();
            for (format, name) in [(Format::Markdown, "a.md"), (Format::Html, "a.html"), (Format::Text, "a.txt"), (Format::TicketsJsonl, "a.jsonl"), (Format::TicketsCsv, "a.csv")] {
                let out = parse_bytes(src.as_bytes(), format, Path::new(name), name, &config);
                if let Ok(ing) = out {
                    for d in &ing.documents {
                        for c in crate::chunk::chunk_document(d, &config.chunk) {
                            prop_assert!(src.is_char_boundary(c.span.0) && src.is_char_boundary(c.span.1));
                            prop_assert!(c.span.0 <= c.span.1 && c.span.1 <= src.len());
                        }
                    }
                }
            }
        }
    }
}
