//! Index generations. The index folder holds numbered, immutable generations and a `CURRENT`
//! file naming the live one:
//!
//! ```text
//! indexes/
//!   CURRENT               "gen-000007"
//!   gen-000007/           manifest.json + lexical/ (tantivy)
//!   gen-000008.tmp/       a generation being built (removed if the build dies)
//!   store/                the embedded store (see `store/`)
//! ```
//!
//! A new generation is built beside the live one (its tantivy files hard-linked from the live
//! generation when only some files changed), fsynced, renamed into place, and then `CURRENT` is
//! replaced atomically (write, fsync, rename, fsync the folder). Killing the process at any
//! instant leaves `CURRENT` naming a whole generation.

mod backend;
pub mod build;
pub mod lexical;
pub mod memory;
pub mod sentences;
mod tokenizer;
pub mod vector;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analyze::{Analyzer, Query};
use crate::chunk::Chunk;
use crate::config::FieldBoosts;
use crate::domain::ChunkId;
use crate::error::{Error, Result};
pub use backend::Backend;
use lexical::{FilterSet, LexicalHit, LexicalIndex, LexicalReader, Stats, TermField};

impl From<tantivy::TantivyError> for Error {
    fn from(e: tantivy::TantivyError) -> Self {
        Error::Index(e.to_string())
    }
}

/// What a generation holds, per source file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format.
    pub format: u32,
    pub generation: u64,
    pub created_at: String,
    /// [`lexical::SCHEMA_VERSION`] at build time.
    pub schema: u32,
    /// The analyzer's fingerprint at build time.
    pub analysis: String,
    /// The chunking settings at build time.
    pub chunking: String,
    /// Source files by their path in the corpus.
    pub files: BTreeMap<String, FileEntry>,
    /// The embedder's fingerprint when the generation has a vector index.
    #[serde(default)]
    pub embedder: Option<String>,
}

/// One indexed source file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// BLAKE3 of the file's bytes.
    pub hash: String,
    pub size: u64,
    /// Ids of the documents read from the file.
    pub documents: Vec<String>,
    /// Number of passages.
    pub passages: usize,
    /// Ids of the passages.
    #[serde(default)]
    pub chunk_ids: Vec<crate::domain::ChunkId>,
    /// Problems in parts of the file that were skipped (a malformed JSON line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Manifest {
    /// Number of documents.
    pub fn documents(&self) -> usize {
        self.files.values().map(|f| f.documents.len()).sum()
    }

    /// Number of passages.
    pub fn passages(&self) -> usize {
        self.files.values().map(|f| f.passages).sum()
    }
}

const CURRENT: &str = "CURRENT";
const MANIFEST: &str = "manifest.json";
const LEXICAL: &str = "lexical";
const VECTOR: &str = "vector";

/// The index folder.
#[derive(Debug, Clone)]
pub struct IndexDir {
    root: PathBuf,
}

fn gen_name(n: u64) -> String {
    format!("gen-{n:06}")
}

fn parse_gen_name(name: &str) -> Option<u64> {
    name.strip_prefix("gen-")?.split('.').next()?.parse().ok()
}

impl IndexDir {
    /// The index folder at `root` (not created until something is built).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        IndexDir { root: root.into() }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's folder.
    pub fn store_path(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The live generation's number, if there is one.
    pub fn current(&self) -> Result<Option<u64>> {
        let path = self.root.join(CURRENT);
        match std::fs::read_to_string(&path) {
            Ok(s) => parse_gen_name(s.trim()).map(Some).ok_or_else(|| {
                Error::Index(format!("{} is malformed: `{}`", path.display(), s.trim()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// The folder of generation `n`.
    pub fn gen_path(&self, n: u64) -> PathBuf {
        self.root.join(gen_name(n))
    }

    /// All generation numbers present (finished or not).
    fn all_generations(&self) -> Result<Vec<(u64, PathBuf, bool)>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&self.root, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(n) = parse_gen_name(&name) {
                out.push((n, entry.path(), name.ends_with(".tmp")));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The number a new generation gets: above every generation present.
    pub fn next_generation(&self) -> Result<u64> {
        Ok(self
            .all_generations()?
            .iter()
            .map(|(n, ..)| *n)
            .max()
            .unwrap_or(0)
            + 1)
    }

    /// Reads the manifest of generation `n`.
    pub fn manifest(&self, n: u64) -> Result<Manifest> {
        let path = self.gen_path(n).join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Index(format!("{}: {e}", path.display())))
    }

    /// Opens the live generation for reading.
    pub fn open_current(
        &self,
        analyzer: Arc<Analyzer>,
        hnsw: vector::HnswParams,
    ) -> Result<Generation> {
        let n = self.current()?.ok_or_else(|| Error::NoIndex {
            dir: self.root.clone(),
        })?;
        Generation::open(self.gen_path(n), n, analyzer, hnsw)
    }

    /// Makes generation `n` (already complete in its folder) the live one.
    pub fn swap(&self, n: u64) -> Result<()> {
        crate::fsutil::write_atomic(
            &self.root.join(CURRENT),
            format!("{}\n", gen_name(n)).as_bytes(),
        )
    }

    /// Removes unfinished builds and all but the `keep` newest finished generations up to the
    /// live one; generations newer than the live one (built, never swapped in) go too.
    pub fn cleanup(&self, keep: usize) -> Result<()> {
        let live = self.current()?;
        let mut finished: Vec<u64> = Vec::new();
        for (n, path, tmp) in self.all_generations()? {
            let stale = tmp || live.is_none_or(|l| n > l);
            if stale {
                if Some(n) != live {
                    remove_dir(&path);
                }
            } else {
                finished.push(n);
            }
        }
        finished.sort_unstable_by(|a, b| b.cmp(a));
        for n in finished.into_iter().skip(keep.max(1)) {
            if Some(n) != live {
                remove_dir(&self.gen_path(n));
            }
        }
        Ok(())
    }
}

fn remove_dir(path: &Path) {
    if let Err(e) = std::fs::remove_dir_all(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove an old index generation");
    }
}

/// A generation opened for reading: the local [`Backend`] (cheap to clone: its parts are
/// shared).
#[derive(Clone)]
pub struct Generation {
    pub number: u64,
    pub path: PathBuf,
    pub manifest: Manifest,
    lexical: Arc<LexicalReader>,
    /// The vector index, when the generation has one and it could be read.
    vectors: Option<Arc<vector::VectorIndex>>,
    /// Vectors of the passages' quotable sentences (for composing answers), when built.
    sentences: Option<Arc<sentences::SentenceVectors>>,
    /// The centroid of the passage vectors, of all of them and of the public ones (what a
    /// public caller's answer confidence is measured against).
    centroid: Option<Arc<Vec<f32>>>,
    public_centroid: Option<Arc<Vec<f32>>>,
}

/// With a filter this selective (allowed passages), vector search is exact over them instead
/// of approximate with over-fetching.
const EXACT_FILTER_LIMIT: usize = 5000;

impl Backend for Generation {
    fn analyzer(&self) -> &Arc<Analyzer> {
        self.lexical.analyzer()
    }

    fn lexical(
        &self,
        query: &Query,
        boosts: &FieldBoosts,
        k: usize,
        filters: &FilterSet,
        stats: Stats,
    ) -> Result<Vec<LexicalHit>> {
        self.lexical.search(query, boosts, k, filters, stats)
    }

    fn has_vectors(&self) -> bool {
        self.vectors.is_some()
    }

    fn nearest(&self, q: &[f32], k: usize, filters: &FilterSet) -> Result<Vec<(ChunkId, f32)>> {
        let Some(vectors) = &self.vectors else {
            return Ok(Vec::new());
        };
        if filters.is_empty() {
            return Ok(vectors.search(q, k));
        }
        let allowed = self.lexical.filter_keys(filters)?;
        if allowed.len() <= EXACT_FILTER_LIMIT {
            return Ok(vectors.exact(q, k, |key| allowed.contains(&key)));
        }
        let mut hits = vectors.search(q, k * 4);
        hits.retain(|(key, _)| allowed.contains(key));
        hits.truncate(k);
        Ok(hits)
    }

    fn vector(&self, id: ChunkId) -> Option<&[f32]> {
        self.vectors.as_ref()?.vector(id)
    }

    fn centroid(&self, stats: Stats) -> Option<&[f32]> {
        match stats {
            Stats::All => self.centroid.as_deref().map(Vec::as_slice),
            Stats::Public => self.public_centroid.as_deref().map(Vec::as_slice),
        }
    }

    fn passages(&self, ids: &[ChunkId]) -> Result<Vec<Option<Chunk>>> {
        ids.iter().map(|id| self.lexical.passage(*id)).collect()
    }

    fn document(&self, doc_id: &str, filters: &FilterSet) -> Result<Vec<Chunk>> {
        let mut set = filters.clone();
        set.push((lexical::FilterKey::DocId, vec![doc_id.to_string()]));
        let keys: Vec<ChunkId> = self.lexical.filter_keys(&set)?.into_iter().collect();
        let mut chunks: Vec<Chunk> = self
            .passages(&keys)?
            .into_iter()
            .flatten()
            .filter(|c| c.meta.id == doc_id)
            .collect();
        chunks.sort_by_key(|c| (c.span.0, c.span.1));
        Ok(chunks)
    }

    fn field_scores(
        &self,
        query: &Query,
        boosts: &FieldBoosts,
        ids: &[ChunkId],
        stats: Stats,
    ) -> Result<Vec<[f32; lexical::SCORED]>> {
        self.lexical.field_scores(query, boosts, ids, stats)
    }

    fn known_share(&self, query: &Query, boosts: &FieldBoosts, stats: Stats) -> Result<f32> {
        self.lexical.known_share(query, boosts, stats)
    }

    fn doc_freqs(
        &self,
        field: TermField,
        terms: &[String],
        stats: Stats,
    ) -> Result<(Vec<u64>, u64)> {
        self.lexical.doc_freqs(field, terms, stats)
    }

    fn documents(&self) -> Vec<Arc<crate::domain::DocMeta>> {
        self.lexical.documents()
    }

    fn has_sentence_vectors(&self) -> bool {
        self.sentences.is_some()
    }

    fn sentence_cosine(&self, id: ChunkId, range: (usize, usize), q: &[f32]) -> Option<f32> {
        self.sentences.as_ref()?.cosine(id, range, q)
    }
}

impl Generation {
    /// Opens the generation in `path` (the vector index with `hnsw` parameters).
    pub fn open(
        path: PathBuf,
        number: u64,
        analyzer: Arc<Analyzer>,
        hnsw: vector::HnswParams,
    ) -> Result<Generation> {
        let mpath = path.join(MANIFEST);
        let bytes = std::fs::read(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Index(format!("{}: {e}", mpath.display())))?;
        if manifest.schema != lexical::SCHEMA_VERSION {
            // built by another version of kefu: not an error, an index to build again (the
            // build notices the same and starts from scratch; the sources are all there)
            tracing::warn!(
                generation = number,
                schema = manifest.schema,
                wanted = lexical::SCHEMA_VERSION,
                "the index was built by another version of kefu; it will be rebuilt"
            );
            return Err(Error::NoIndex {
                dir: path.parent().unwrap_or(&path).to_path_buf(),
            });
        }
        let lexical = LexicalIndex::open_in_dir(&path.join(LEXICAL), analyzer)?.reader()?;
        let vectors = match &manifest.embedder {
            Some(_) => match vector::VectorIndex::load(&path.join(VECTOR), hnsw) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(error = %e, "the vector index could not be read; answering from BM25");
                    None
                }
            },
            None => None,
        };
        let sentences = match &vectors {
            Some(_) => sentences::SentenceVectors::load(&path.join(VECTOR)).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the sentence vectors could not be read; answers embed sentences as they go");
                None
            }),
            None => None,
        };
        Generation::assemble(number, path, manifest, lexical, vectors, sentences)
    }

    /// A generation held in memory (evaluation, tests): the lexical index `lexical` built by
    /// the caller, and the passage vectors `vectors` when there are any.
    pub fn in_memory(
        lexical: LexicalIndex,
        vectors: Option<vector::VectorIndex>,
    ) -> Result<Generation> {
        Generation::assemble(
            0,
            PathBuf::new(),
            Manifest::default(),
            lexical.reader()?,
            vectors,
            None,
        )
    }

    /// This generation with `sentences` as its sentence vectors (the rest shared).
    pub fn with_sentences(&self, sentences: sentences::SentenceVectors) -> Generation {
        Generation {
            number: self.number,
            path: self.path.clone(),
            manifest: self.manifest.clone(),
            lexical: self.lexical.clone(),
            vectors: self.vectors.clone(),
            sentences: Some(Arc::new(sentences)),
            centroid: self.centroid.clone(),
            public_centroid: self.public_centroid.clone(),
        }
    }

    /// The vector index itself (for measuring the approximate search against the exact one).
    pub fn vector_index(&self) -> Option<&vector::VectorIndex> {
        self.vectors.as_deref()
    }

    fn assemble(
        number: u64,
        path: PathBuf,
        manifest: Manifest,
        lexical: LexicalReader,
        vectors: Option<vector::VectorIndex>,
        sentences: Option<sentences::SentenceVectors>,
    ) -> Result<Generation> {
        let centroid = vectors.as_ref().map(|v| Arc::new(v.centroid()));
        let public_centroid = match &vectors {
            Some(v) => {
                let public = lexical.filter_keys(&vec![(
                    lexical::FilterKey::Audience,
                    vec!["public".to_string()],
                )])?;
                Some(Arc::new(v.centroid_of(|k| public.contains(&k))))
            }
            None => None,
        };
        Ok(Generation {
            number,
            path,
            manifest,
            lexical: Arc::new(lexical),
            vectors: vectors.map(Arc::new),
            sentences: sentences.map(Arc::new),
            centroid,
            public_centroid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_names_round_trip() {
        assert_eq!(gen_name(7), "gen-000007");
        assert_eq!(parse_gen_name("gen-000007"), Some(7));
        assert_eq!(parse_gen_name("gen-000008.tmp"), Some(8));
        assert_eq!(parse_gen_name("store"), None);
    }

    #[test]
    fn cleanup_keeps_live_and_recent_and_drops_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let idx = IndexDir::new(dir.path());
        for n in 1..=4 {
            std::fs::create_dir_all(idx.gen_path(n)).expect("mkdir");
        }
        std::fs::create_dir_all(dir.path().join("gen-000005.tmp")).expect("mkdir");
        idx.swap(3).expect("swap");
        assert_eq!(idx.current().expect("current"), Some(3));
        assert_eq!(idx.next_generation().expect("next"), 6);
        idx.cleanup(2).expect("cleanup");
        let left: Vec<u64> = idx
            .all_generations()
            .expect("list")
            .into_iter()
            .map(|(n, ..)| n)
            .collect();
        assert_eq!(left, vec![2, 3]);
    }
}
