//! The lexical half of an index generation: a tantivy index with BM25 over title, heading path
//! and passage words, Chinese character unigrams and bigrams, and identifiers, each field with
//! its own weight, plus untokenised fields for filters. The whole passage is stored as JSON so
//! a generation can answer on its own, without the store.

use std::path::Path;
use std::sync::Arc;

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::tokenizer;

mod reader;
mod topk;

use crate::analyze::Analyzer;
use crate::chunk::Chunk;
use crate::domain::ChunkId;
use crate::error::{Error, Result};
pub use reader::LexicalReader;
pub use topk::select_top_k;

/// Bumped whenever the schema or what is indexed in it changes (forces a full rebuild).
pub const SCHEMA_VERSION: u32 = 3;

/// The filterable attributes of a passage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterKey {
    DocType,
    Product,
    Language,
    Audience,
    Tag,
    Category,
    DocId,
}

impl FilterKey {
    /// Parses a filter name (`type`, `doc_type`, `product`, `lang`, `language`, `audience`,
    /// `tag`, `tags`, `category`, `doc_id`).
    pub fn parse(s: &str) -> Option<FilterKey> {
        match s.trim().to_ascii_lowercase().as_str() {
            "type" | "doc_type" => Some(FilterKey::DocType),
            "product" | "products" | "model" => Some(FilterKey::Product),
            "lang" | "language" => Some(FilterKey::Language),
            "audience" => Some(FilterKey::Audience),
            "tag" | "tags" => Some(FilterKey::Tag),
            "category" => Some(FilterKey::Category),
            "doc" | "doc_id" | "document" => Some(FilterKey::DocId),
            _ => None,
        }
    }

    /// The names accepted by [`FilterKey::parse`], for error messages.
    pub const NAMES: &'static str = "type, product, lang, audience, tag, category, doc_id";
}

/// Normalises a filter value: lowercase; for products also without spaces and separators,
/// so `X9 Pro`, `x9pro` and `X9-PRO` are the same product.
pub fn normalize_filter_value(key: FilterKey, v: &str) -> String {
    let lower = v.trim().to_lowercase();
    match key {
        FilterKey::Product => lower
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.'))
            .collect(),
        FilterKey::DocId => v.trim().to_string(),
        _ => lower,
    }
}

/// The schema's fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub key: Field,
    pub doc_id: Field,
    pub source: Field,
    pub title: Field,
    pub heading: Field,
    pub body: Field,
    pub cjk1: Field,
    pub cjk2: Field,
    pub ident: Field,
    pub pairs: Field,
    pub f_type: Field,
    pub f_product: Field,
    pub f_lang: Field,
    pub f_audience: Field,
    pub f_tag: Field,
    pub f_category: Field,
    pub payload: Field,
    /// The document's whole metadata, stored once: on its first passage only.
    pub doc_meta: Field,
    /// Marks a document's first passage (the one that carries `doc_meta`).
    pub first: Field,
}

impl Fields {
    fn filter_field(&self, key: FilterKey) -> Field {
        match key {
            FilterKey::DocType => self.f_type,
            FilterKey::Product => self.f_product,
            FilterKey::Language => self.f_lang,
            FilterKey::Audience => self.f_audience,
            FilterKey::Tag => self.f_tag,
            FilterKey::Category => self.f_category,
            FilterKey::DocId => self.doc_id,
        }
    }
}

fn text_field(b: &mut tantivy::schema::SchemaBuilder, name: &str, tokenizer: &str) -> Field {
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    b.add_text_field(name, opts)
}

/// Builds the schema.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        key: b.add_u64_field("key", FAST | STORED | INDEXED),
        doc_id: b.add_text_field("doc_id", STRING),
        source: b.add_text_field("source", STRING),
        title: text_field(&mut b, "title", "kefu_words"),
        heading: text_field(&mut b, "heading", "kefu_words"),
        body: text_field(&mut b, "body", "kefu_words"),
        cjk1: text_field(&mut b, "cjk1", "kefu_cjk1"),
        cjk2: text_field(&mut b, "cjk2", "kefu_cjk2"),
        ident: text_field(&mut b, "ident", "kefu_ident"),
        pairs: text_field(&mut b, "pairs", "kefu_pairs"),
        f_type: b.add_text_field("f_type", STRING),
        f_product: b.add_text_field("f_product", STRING),
        f_lang: b.add_text_field("f_lang", STRING),
        f_audience: b.add_text_field("f_audience", STRING),
        f_tag: b.add_text_field("f_tag", STRING),
        f_category: b.add_text_field("f_category", STRING),
        payload: b.add_text_field("payload", STORED),
        doc_meta: b.add_text_field("doc_meta", STORED),
        first: b.add_text_field("first", STRING),
    };
    (b.build(), fields)
}

/// A document's metadata without its lists: what each passage stores of it.
fn slim_meta(m: &crate::domain::DocMeta) -> crate::domain::DocMeta {
    crate::domain::DocMeta {
        products: Vec::new(),
        tags: Vec::new(),
        warranty: Vec::new(),
        extra: Default::default(),
        ..m.clone()
    }
}

/// A lexical index (one generation's, or an evaluation's in memory).
#[derive(Clone)]
pub struct LexicalIndex {
    index: Index,
    fields: Fields,
    analyzer: Arc<Analyzer>,
}

impl LexicalIndex {
    fn wrap(index: Index, analyzer: Arc<Analyzer>) -> Result<LexicalIndex> {
        tokenizer::register(index.tokenizers(), &analyzer);
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Err(Error::Index(
                "the index was built with another schema; rebuild it".into(),
            ));
        }
        Ok(LexicalIndex {
            index,
            fields,
            analyzer,
        })
    }

    /// Creates an empty index in `dir` (which must exist and be empty).
    pub fn create_in_dir(dir: &Path, analyzer: Arc<Analyzer>) -> Result<LexicalIndex> {
        let index = Index::create_in_dir(dir, schema().0)?;
        Self::wrap(index, analyzer)
    }

    /// Creates an empty index in memory.
    pub fn create_in_ram(analyzer: Arc<Analyzer>) -> Result<LexicalIndex> {
        Self::wrap(Index::create_in_ram(schema().0), analyzer)
    }

    /// Opens the index in `dir`.
    pub fn open_in_dir(dir: &Path, analyzer: Arc<Analyzer>) -> Result<LexicalIndex> {
        let index = Index::open_in_dir(dir)?;
        Self::wrap(index, analyzer)
    }

    /// A writer with `threads` indexing threads sharing `memory_mb`.
    pub fn writer(&self, memory_mb: usize, threads: usize) -> Result<LexicalWriter> {
        let threads = threads.max(1);
        let per_thread = (memory_mb * 1024 * 1024 / threads).max(15_000_000);
        let writer = self
            .index
            .writer_with_num_threads(threads, per_thread * threads)?;
        Ok(LexicalWriter {
            writer,
            fields: self.fields,
        })
    }

    /// A reader over the last commit.
    pub fn reader(&self) -> Result<LexicalReader> {
        let reader: IndexReader = self
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        LexicalReader::new(reader.searcher(), self.fields, self.analyzer.clone())
    }
}

/// Adds and deletes passages; nothing is visible before [`LexicalWriter::commit`].
pub struct LexicalWriter {
    writer: IndexWriter,
    fields: Fields,
}

impl LexicalWriter {
    /// Adds a passage.
    pub fn add(&self, chunk: &Chunk) -> Result<()> {
        let f = &self.fields;
        let m = &chunk.meta;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.key, chunk.id.0);
        doc.add_text(f.doc_id, &m.id);
        doc.add_text(f.source, &m.source);
        doc.add_text(f.title, &m.title);
        let heading = chunk.heading_path.join(" / ");
        doc.add_text(f.heading, &heading);
        // the body field holds title, headings and text together (as a single-field BM25
        // would); the title and heading fields add weight on top
        let all = format!("{}\n{}\n{}", m.title, heading, chunk.text);
        doc.add_text(f.body, &all);
        doc.add_text(f.cjk1, &all);
        doc.add_text(f.cjk2, &all);
        doc.add_text(f.ident, &all);
        doc.add_text(f.pairs, &all);
        doc.add_text(f.f_type, m.doc_type.as_str());
        for p in &m.products {
            doc.add_text(f.f_product, normalize_filter_value(FilterKey::Product, p));
        }
        doc.add_text(f.f_lang, chunk.language.as_str());
        doc.add_text(f.f_audience, m.audience.as_str());
        for t in &m.tags {
            doc.add_text(f.f_tag, normalize_filter_value(FilterKey::Tag, t));
        }
        if let Some(c) = &m.category {
            doc.add_text(f.f_category, normalize_filter_value(FilterKey::Category, c));
        }
        // the document's metadata once, on its first passage; every passage carries only the
        // scalars (lists of products and tags, extra keys and warranty terms are not repeated)
        if chunk.ord == 0 {
            let meta =
                serde_json::to_string(m.as_ref()).map_err(|e| Error::Internal(e.to_string()))?;
            doc.add_text(f.doc_meta, meta);
            doc.add_text(f.first, "1");
        }
        let slim = Chunk {
            meta: Arc::new(slim_meta(m)),
            ..chunk.clone()
        };
        let payload = serde_json::to_string(&slim).map_err(|e| Error::Internal(e.to_string()))?;
        doc.add_text(f.payload, payload);
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Deletes every passage from the source file `source`.
    pub fn delete_source(&self, source: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.fields.source, source));
    }

    /// Commits, optionally merges everything into one segment, and waits for merges to end.
    pub fn commit(mut self, merge_all: bool) -> Result<()> {
        self.writer.commit()?;
        if merge_all {
            let ids = self.writer.index().searchable_segment_ids()?;
            if ids.len() > 1 {
                self.writer.merge(&ids).wait()?;
            }
        }
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

/// One lexical hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LexicalHit {
    pub score: f32,
    /// The score as a share of what a passage matching every query term would get (idf-weighted
    /// coverage of the query, in [0, 1)): comparable across queries, unlike the raw score.
    pub coverage: f32,
    pub key: ChunkId,
}

/// Filters: all keys must match; several values of one key match any.
pub type FilterSet = Vec<(FilterKey, Vec<String>)>;

/// The text fields that are scored, in a fixed order (index into per-segment tables).
pub const SCORED: usize = 7;

/// Names of the scored fields, in their order.
pub const FIELD_NAMES: [&str; SCORED] =
    ["title", "heading", "body", "cjk1", "cjk2", "pairs", "ident"];

/// Which passages the collection statistics of a query (document frequencies, the passage
/// count) are computed over. A caller limited to public passages gets statistics of the public
/// passages only, so that nothing it sees (scores, coverage, an answer's confidence) depends on
/// what internal passages contain.
/// A stream of indexed terms that can be looked up by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermField {
    /// Words (jieba words, English stems): the body field.
    Words,
    /// Identifiers (model, error and order numbers).
    Idents,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stats {
    /// Every passage.
    All,
    /// Passages whose audience is `public`.
    Public,
}

impl Stats {
    /// The passages whose collection statistics shape what `scope` sees.
    pub fn of(scope: crate::domain::Scope) -> Stats {
        match scope {
            crate::domain::Scope::Public => Stats::Public,
            crate::domain::Scope::All => Stats::All,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_normalised() {
        assert_eq!(
            normalize_filter_value(FilterKey::Product, "X9 Pro"),
            "x9pro"
        );
        assert_eq!(
            normalize_filter_value(FilterKey::Product, "WM-8012"),
            "wm8012"
        );
        assert_eq!(
            normalize_filter_value(FilterKey::DocType, " Manual "),
            "manual"
        );
        assert_eq!(FilterKey::parse("type"), Some(FilterKey::DocType));
        assert_eq!(FilterKey::parse("colour"), None);
    }
}
