//! The read side of an index, as the stages above `index/` see it: a trait that speaks
//! [`ChunkId`]s and kefu's own types only (no tantivy or hnsw_rs type crosses it), so a
//! scale-out backend can replace the local generation without touching retrieval, reranking
//! or answers.

use std::sync::Arc;

use crate::analyze::{Analyzer, Query};
use crate::chunk::Chunk;
use crate::config::FieldBoosts;
use crate::domain::ChunkId;
use crate::error::Result;

use super::lexical::{FilterSet, LexicalHit, Stats, TermField, SCORED};

/// What retrieval, reranking and answers read from an index.
pub trait Backend: Send + Sync {
    /// The analyzer the index was built with (queries are analysed by it).
    fn analyzer(&self) -> &Arc<Analyzer>;

    /// The `k` best passages for `query` by BM25 with the field weights `boosts`, among those
    /// passing `filters`, with the collection statistics of `stats`.
    fn lexical(
        &self,
        query: &Query,
        boosts: &FieldBoosts,
        k: usize,
        filters: &FilterSet,
        stats: Stats,
    ) -> Result<Vec<LexicalHit>>;

    /// Whether the index holds passage vectors.
    fn has_vectors(&self) -> bool;

    /// The `k` passages nearest to the unit vector `q` (cosine), among those passing
    /// `filters`; empty without vectors.
    fn nearest(&self, q: &[f32], k: usize, filters: &FilterSet) -> Result<Vec<(ChunkId, f32)>>;

    /// The stored vector of a passage.
    fn vector(&self, id: ChunkId) -> Option<&[f32]>;

    /// The centroid of the vectors of the passages `stats` counts.
    fn centroid(&self, stats: Stats) -> Option<&[f32]>;

    /// The stored passages with these ids, in order (`None` for an id the index lacks).
    fn passages(&self, ids: &[ChunkId]) -> Result<Vec<Option<Chunk>>>;

    /// The passages of document `doc_id` passing `filters`.
    fn document(&self, doc_id: &str, filters: &FilterSet) -> Result<Vec<Chunk>>;

    /// Per passage of `ids`, what each scored field contributes to its BM25 score for `query`,
    /// as shares of the query's ideal score.
    fn field_scores(
        &self,
        query: &Query,
        boosts: &FieldBoosts,
        ids: &[ChunkId],
        stats: Stats,
    ) -> Result<Vec<[f32; SCORED]>>;

    /// The idf-weighted share of the query's terms the index knows at all.
    fn known_share(&self, query: &Query, boosts: &FieldBoosts, stats: Stats) -> Result<f32>;

    /// The document frequency of each of `terms` (of the stream `field` indexes: words or
    /// identifiers) among the passages `stats` counts, and the number of those passages.
    fn doc_freqs(
        &self,
        field: TermField,
        terms: &[String],
        stats: Stats,
    ) -> Result<(Vec<u64>, u64)>;

    /// The metadata of every document in the index (what the catalogue of products is read
    /// from).
    fn documents(&self) -> Vec<Arc<crate::domain::DocMeta>>;

    /// Whether precomputed vectors of the passages' quotable sentences exist.
    fn has_sentence_vectors(&self) -> bool;

    /// The cosine between `q` and the precomputed vector of the sentence at `range` of passage
    /// `id`, when there is one.
    fn sentence_cosine(&self, id: ChunkId, range: (usize, usize), q: &[f32]) -> Option<f32>;
}
