//! The lexical half of an index generation: a tantivy index with BM25 over title, heading path
//! and passage words, Chinese character unigrams and bigrams, and identifiers, each field with
//! its own weight, plus untokenised fields for filters. The whole passage is stored as JSON so
//! a generation can answer on its own, without the store.

use std::path::Path;
use std::sync::Arc;

use tantivy::collector::TopDocs;
use tantivy::columnar::Column;
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term,
};

use crate::analyze::{tokenizer, Analyzer, Stream};
use crate::chunk::{Chunk, ChunkId};
use crate::config::{BoostProfiles, FieldBoosts};
use crate::error::{Error, Result};

/// Bumped whenever the schema or what is indexed in it changes (forces a full rebuild).
pub const SCHEMA_VERSION: u32 = 1;

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
    };
    (b.build(), fields)
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
        let searcher = reader.searcher();
        let mut keys = Vec::with_capacity(searcher.segment_readers().len());
        for seg in searcher.segment_readers() {
            keys.push(seg.fast_fields().u64("key")?);
        }
        Ok(LexicalReader {
            searcher,
            keys,
            fields: self.fields,
            analyzer: self.analyzer.clone(),
        })
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
        let payload = serde_json::to_string(chunk).map_err(|e| Error::Internal(e.to_string()))?;
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

/// BM25 statistics with the average field length scaled up by `scale` (>= 1): tantivy's BM25
/// has fixed k1 = 1.2 and b = 0.75, and a longer "average" weakens length normalisation, which
/// is what `search.length_normalization` controls.
struct ScaledStats<'a> {
    searcher: &'a Searcher,
    scale: f64,
}

impl Bm25StatisticsProvider for ScaledStats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let n = self.searcher.total_num_tokens(field)?;
        Ok((n as f64 * self.scale).round() as u64)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        self.searcher.total_num_docs()
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        self.searcher.doc_freq(term)
    }
}

fn length_scale(boosts: &FieldBoosts) -> f64 {
    let s = boosts.length_normalization.clamp(0.01, 1.0);
    1.0 / s as f64
}

/// One lexical hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LexicalHit {
    pub score: f32,
    pub key: ChunkId,
    pub addr: DocAddress,
}

/// Filters: all keys must match; several values of one key match any.
pub type FilterSet = Vec<(FilterKey, Vec<String>)>;

/// Searches one committed state of a lexical index. Cheap to share across threads.
pub struct LexicalReader {
    searcher: Searcher,
    keys: Vec<Column<u64>>,
    fields: Fields,
    analyzer: Arc<Analyzer>,
}

impl LexicalReader {
    /// Number of passages.
    pub fn num_docs(&self) -> u64 {
        self.searcher.num_docs()
    }

    /// The weighted term clauses of a query text. Terms absent from the index are left out,
    /// and so are terms found in more than `max_df` of all passages (they cost the most to
    /// score and add the least), unless that would leave the query empty.
    fn text_clauses(&self, text: &str, boosts: &FieldBoosts) -> Vec<(Occur, Box<dyn Query>)> {
        let f = &self.fields;
        let n = self.searcher.num_docs().max(1) as f64;
        let max_df = (boosts.max_df.clamp(0.0, 1.0) as f64 * n).ceil() as u64;
        let mut kept: Vec<(Term, f32)> = Vec::new();
        let mut common: Vec<(Term, f32)> = Vec::new();
        let mut add = |field: Field, boost: f32, terms: &[String]| {
            if boost <= 0.0 {
                return;
            }
            for t in terms {
                let term = Term::from_field_text(field, t);
                let df = self.searcher.doc_freq(&term).unwrap_or(1);
                if df == 0 {
                    continue;
                }
                if df > max_df {
                    common.push((term, boost));
                } else {
                    kept.push((term, boost));
                }
            }
        };
        let words = self.analyzer.terms(Stream::Words, text);
        add(f.title, boosts.title, &words);
        add(f.heading, boosts.heading, &words);
        add(f.body, boosts.body, &words);
        if text.chars().any(crate::analyze::is_cjk) {
            add(
                f.cjk1,
                boosts.cjk_unigram,
                &self.analyzer.terms(Stream::CjkUnigrams, text),
            );
            add(
                f.cjk2,
                boosts.cjk_bigram,
                &self.analyzer.terms(Stream::CjkBigrams, text),
            );
        }
        add(
            f.pairs,
            boosts.pairs,
            &self.analyzer.terms(Stream::WordPairs, text),
        );
        add(
            f.ident,
            boosts.ident,
            &self.analyzer.terms(Stream::Idents, text),
        );
        if kept.is_empty() {
            kept = common;
        }
        kept.into_iter()
            .map(|(term, boost)| {
                let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
                let q: Box<dyn Query> = if (boost - 1.0).abs() < f32::EPSILON {
                    Box::new(q)
                } else {
                    Box::new(BoostQuery::new(Box::new(q), boost))
                };
                (Occur::Should, q)
            })
            .collect()
    }

    /// The `k` best passages for `text` under `filters`.
    pub fn search(
        &self,
        text: &str,
        k: usize,
        profiles: &BoostProfiles,
        filters: &FilterSet,
    ) -> Result<Vec<LexicalHit>> {
        let boosts = profiles.for_query(text);
        let clauses = self.text_clauses(text, boosts);
        if clauses.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let query: Box<dyn Query> = if filters.is_empty() {
            Box::new(BooleanQuery::new(clauses))
        } else {
            let mut all: Vec<(Occur, Box<dyn Query>)> =
                vec![(Occur::Must, Box::new(BooleanQuery::new(clauses)))];
            for (key, values) in filters {
                let field = self.fields.filter_field(*key);
                let any: Vec<(Occur, Box<dyn Query>)> = values
                    .iter()
                    .map(|v| {
                        let t = Term::from_field_text(field, &normalize_filter_value(*key, v));
                        (
                            Occur::Should,
                            Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn Query>,
                        )
                    })
                    .collect();
                all.push((
                    Occur::Must,
                    Box::new(BoostQuery::new(Box::new(BooleanQuery::new(any)), 0.0)),
                ));
            }
            Box::new(BooleanQuery::new(all))
        };
        let stats = ScaledStats {
            searcher: &self.searcher,
            scale: length_scale(boosts),
        };
        let top = self.searcher.search_with_statistics_provider(
            &*query,
            &TopDocs::with_limit(k).order_by_score(),
            &stats,
        )?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let key = self
                .keys
                .get(addr.segment_ord as usize)
                .and_then(|c| c.first(addr.doc_id))
                .ok_or_else(|| Error::Index("a hit has no key".into()))?;
            out.push(LexicalHit {
                score,
                key: ChunkId(key),
                addr,
            });
        }
        Ok(out)
    }

    /// The stored passage of a hit.
    pub fn chunk(&self, addr: DocAddress) -> Result<Chunk> {
        let doc: TantivyDocument = self.searcher.doc(addr)?;
        let payload = doc
            .get_first(self.fields.payload)
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::Index("a passage has no stored payload".into()))?;
        serde_json::from_str(payload)
            .map_err(|e| Error::Index(format!("stored passage is unreadable: {e}")))
    }

    /// The passages of a document, by its id, in order.
    pub fn chunks_of_document(&self, doc_id: &str) -> Result<Vec<Chunk>> {
        let q = TermQuery::new(
            Term::from_field_text(self.fields.doc_id, doc_id),
            IndexRecordOption::Basic,
        );
        let top = self
            .searcher
            .search(&q, &TopDocs::with_limit(10_000).order_by_score())?;
        let mut chunks = top
            .into_iter()
            .map(|(_, a)| self.chunk(a))
            .collect::<Result<Vec<_>>>()?;
        chunks.sort_by_key(|c| c.ord);
        Ok(chunks)
    }
}
