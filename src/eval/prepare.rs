//! A data set as the product would hold it: its corpus as passages in an in-memory generation
//! (built by [`crate::index::memory`]), and the [`Engine`] over it. Corpus embeddings are cached
//! per model and corpus, so re-running an evaluation (to tune fusion, say) does not embed again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::analyze::Analyzer;
use crate::answer::Calibrations;
use crate::chunk::Chunk;
use crate::config::Config;
use crate::domain::{Audience, ChunkId, DocMeta, DocType};
use crate::embed::{E5Embedder, E5Options, Embedder};
use crate::engine::Engine;
use crate::error::Result;
use crate::index::memory;
use crate::index::vector::HnswParams;
use crate::models;
use crate::rerank::Reranker;
use crate::text::{count_tokens, Lang};

use super::Dataset;

/// A data set indexed in memory, and the engine over it.
pub struct Prepared {
    pub engine: Engine,
    /// Seconds to build the lexical index.
    pub lexical_s: f64,
    /// Seconds spent embedding the corpus (the original time when the embeddings were cached).
    pub embed_s: f64,
    /// Seconds to build the vector graph.
    pub hnsw_s: f64,
}

/// The passages of a data set: one per corpus entry, its id the entry's position.
fn passages(ds: &Dataset) -> Vec<Chunk> {
    ds.corpus
        .iter()
        .enumerate()
        .map(|(i, (id, title, text))| {
            let language = Lang::detect(text);
            Chunk {
                id: ChunkId(i as u64),
                ord: 0,
                heading_path: vec![],
                text: text.clone(),
                span: (0, text.len()),
                language,
                tokens: count_tokens(text),
                meta: Arc::new(DocMeta {
                    id: id.clone(),
                    title: title.clone(),
                    doc_type: DocType::Other,
                    language,
                    audience: Audience::Public,
                    products: vec![],
                    category: None,
                    tags: vec![],
                    effective_date: None,
                    version: None,
                    warranty: vec![],
                    source: String::new(),
                    extra: Default::default(),
                }),
                pieces: Vec::new(),
            }
        })
        .collect()
}

/// Indexes a data set in memory with the product's pipeline; with `vectors`, also embeds the
/// corpus (from the cache when it can) and loads the query embedder. The engine reranks with
/// `reranker` and calibrates answers with `calibration`.
pub fn prepare(
    ds: &Dataset,
    config: &Config,
    analyzer: &Arc<Analyzer>,
    progress: bool,
    vectors: bool,
    reranker: Option<Arc<Reranker>>,
    calibration: Arc<Calibrations>,
) -> Result<Prepared> {
    let chunks = passages(ds);
    let hnsw = HnswParams::of(&config.vector);
    let mb = config.index.writer_memory_mb;
    let mut report = |done: usize, total: usize| {
        if progress {
            eprint!("\rembedding the corpus: {done}/{total}");
            if done == total {
                eprintln!();
            }
        }
    };
    if !vectors {
        let (generation, times) = memory::build(analyzer, &chunks, None, hnsw, mb, &mut report)?;
        let engine = Engine::in_memory(config.clone(), generation, None, reranker, calibration);
        return Ok(Prepared {
            engine,
            lexical_s: times.lexical_s,
            embed_s: 0.0,
            hnsw_s: 0.0,
        });
    }
    let files = models::ensure(config, progress)?;
    let cache = FileCache::open(
        config,
        ds,
        &chunks,
        E5Embedder::load(&files, E5Options::for_indexing(&config.vector))?,
    );
    let (generation, times) =
        memory::build(analyzer, &chunks, Some(&cache), hnsw, mb, &mut report)?;
    let embed_s = cache.save(times.embed_s);
    let queries = E5Embedder::load(
        &files,
        E5Options {
            sessions: 1,
            ..E5Options::for_queries(&config.vector)
        },
    )?;
    let engine = Engine::in_memory(
        config.clone(),
        generation,
        Some(Arc::new(queries)),
        reranker,
        calibration,
    );
    Ok(Prepared {
        engine,
        lexical_s: times.lexical_s,
        embed_s,
        hnsw_s: times.hnsw_s,
    })
}

/// An embedder that answers the corpus's passages from the evaluation cache
/// (`eval-embeddings/SET-HASH.bin` in kefu's cache: the seconds the embedding took, then every
/// passage's vector in corpus order) and embeds what it lacks.
struct FileCache {
    inner: E5Embedder,
    file: PathBuf,
    /// The corpus's embedded texts, in order.
    texts: Vec<String>,
    /// Vectors by text: from the file, then as embedded.
    vectors: Mutex<HashMap<String, Vec<f32>>>,
    /// The seconds the cached embedding took, when the file was read.
    cached_s: Option<f64>,
}

impl FileCache {
    fn open(config: &Config, ds: &Dataset, chunks: &[Chunk], inner: E5Embedder) -> FileCache {
        let texts: Vec<String> = chunks
            .iter()
            .map(|c| crate::embed::embed_text(&c.meta.title, &c.heading_path, &c.text))
            .collect();
        let mut h = blake3::Hasher::new();
        h.update(inner.fingerprint().as_bytes());
        for t in &texts {
            h.update(t.as_bytes());
            h.update(&[0]);
        }
        let file = models::cache_dir(config)
            .join("eval-embeddings")
            .join(format!("{}-{}.bin", ds.name, &h.finalize().to_hex()[..16]));
        let dim = inner.dim();
        let mut vectors = HashMap::new();
        let mut cached_s = None;
        if let Ok(bytes) = std::fs::read(&file) {
            if bytes.len() == 8 + texts.len() * dim * 4 {
                cached_s = Some(f64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8])));
                for (t, v) in texts.iter().zip(bytes[8..].chunks_exact(dim * 4)) {
                    let v: Vec<f32> = v
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    vectors.insert(t.clone(), v);
                }
            }
        }
        FileCache {
            inner,
            file,
            texts,
            vectors: Mutex::new(vectors),
            cached_s,
        }
    }

    /// Writes the cache when the corpus was embedded now; the seconds the embedding took (the
    /// original time when it came from the cache).
    fn save(&self, embed_s: f64) -> f64 {
        if let Some(s) = self.cached_s {
            return s;
        }
        let vectors = self.vectors.lock().unwrap_or_else(|p| p.into_inner());
        let mut bytes = embed_s.to_le_bytes().to_vec();
        for t in &self.texts {
            let Some(v) = vectors.get(t) else {
                return embed_s;
            };
            for x in v {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = crate::fsutil::write_atomic(&self.file, &bytes) {
            tracing::warn!(error = %e, "could not cache the corpus embeddings");
        }
        embed_s
    }
}

impl Embedder for FileCache {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.inner.embed_queries(texts)
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut vectors = self.vectors.lock().unwrap_or_else(|p| p.into_inner());
        let missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !vectors.contains_key(*t))
            .collect();
        if !missing.is_empty() {
            for (t, v) in missing.iter().zip(self.inner.embed_passages(&missing)?) {
                vectors.insert(t.to_string(), v);
            }
        }
        Ok(texts
            .iter()
            .map(|t| vectors.get(*t).cloned().unwrap_or_default())
            .collect())
    }

    fn fingerprint(&self) -> &str {
        self.inner.fingerprint()
    }
}
