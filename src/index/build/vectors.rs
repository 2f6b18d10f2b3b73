//! Step 5: the vector index — every passage of the new generation (and, when asked for, each
//! of its quotable sentences) embedded, or taken from the store's embedding cache (keyed by
//! the embedder's fingerprint and the text), so unchanged passages are never embedded twice.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use super::parse::Parsed;
use super::{check_cancel, report_progress, IndexOptions};
use crate::chunk::Chunk;
use crate::config::Config;
use crate::embed::{E5Embedder, E5Options, Embedder};
use crate::error::{Error, Result};
use crate::index::vector::{HnswParams, VectorIndex};
use crate::index::FileEntry;
use crate::store::Store;

/// The embedder of passages: `opts.embedder` when given, else the configured model (fetched
/// into the cache when missing).
pub(super) fn passage_embedder(config: &Config, opts: &IndexOptions) -> Result<Arc<dyn Embedder>> {
    if let Some(e) = &opts.embedder {
        return Ok(e.clone());
    }
    let model = crate::models::ensure(config, opts.progress)?;
    Ok(Arc::new(E5Embedder::load(
        &model,
        E5Options::for_indexing(&config.vector),
    )?))
}

/// Embeds every passage of the new generation with `embedder` (from the embedding cache when
/// possible) and writes the vector index into `dir`. Returns the embedder's fingerprint and
/// how many passages had to be embedded.
pub(super) fn build_vectors(
    config: &Config,
    embedder: &dyn Embedder,
    store: &Store,
    accepted: &[Parsed],
    files: &BTreeMap<String, FileEntry>,
    dir: &Path,
    opts: &IndexOptions,
) -> Result<(String, usize)> {
    let progress = opts.progress;
    let v = &config.vector;
    let fp = embedder.fingerprint().to_string();
    let fresh: HashMap<crate::domain::ChunkId, &Chunk> = accepted
        .iter()
        .flat_map(|p| p.docs.iter().flat_map(|(_, c)| c.iter()))
        .map(|c| (c.id, c))
        .collect();
    let ids: Vec<crate::domain::ChunkId> = files
        .values()
        .flat_map(|e| e.chunk_ids.iter().copied())
        .collect();
    let cache_key = |kind: &[u8], text: &str| -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(fp.as_bytes());
        h.update(kind);
        h.update(text.as_bytes());
        *h.finalize().as_bytes()
    };
    // texts to embed: every passage, then every quotable sentence of every passage; each
    // (index into `vectors`, cache key, text)
    let mut texts_of: Vec<String> = Vec::new();
    let mut vectors: Vec<Option<Vec<f32>>> = Vec::new();
    let mut missing: Vec<(usize, [u8; 32])> = Vec::new();
    // per passage: its sentences' (range in the passage text, index into `vectors`)
    type Slots = Vec<((usize, usize), usize)>;
    let mut sentence_slots: Vec<(crate::domain::ChunkId, Slots)> = Vec::new();
    let mut wanted = |text: String, kind: &[u8]| -> Result<usize> {
        let key = cache_key(kind, &text);
        let slot = vectors.len();
        match store.embedding(&key)? {
            Some(vec) if vec.len() == embedder.dim() => vectors.push(Some(vec)),
            _ => {
                vectors.push(None);
                missing.push((slot, key));
            }
        }
        texts_of.push(text);
        Ok(slot)
    };
    for id in &ids {
        let chunk = match fresh.get(id) {
            Some(c) => (*c).clone(),
            None => store
                .chunk(*id)?
                .ok_or_else(|| Error::Store(format!("passage {id} is missing from the store")))?,
        };
        let text = crate::embed::embed_text(&chunk.meta.title, &chunk.heading_path, &chunk.text);
        wanted(text, b"\0")?;
        let mut slots = Vec::new();
        if v.sentence_vectors {
            for (a, b) in crate::text::quotable_ranges(&chunk.text) {
                slots.push((
                    (a, b),
                    wanted(chunk.text[a..b].to_string(), b"\0sentence\0")?,
                ));
            }
        }
        sentence_slots.push((*id, slots));
    }
    let bar = if progress && missing.len() > 64 {
        let b = ProgressBar::new(missing.len() as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} embedding {pos}/{len} passages and sentences {bar:30} {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    tracing::info!(
        passages = ids.len(),
        to_embed = missing.len(),
        "building the vector index"
    );
    let mut done = 0;
    report_progress(opts, "embedding", 0, missing.len());
    for part in missing.chunks(256) {
        check_cancel(opts, "embedding")?;
        let texts: Vec<&str> = part.iter().map(|(i, _)| texts_of[*i].as_str()).collect();
        let vecs = embedder.embed_passages(&texts)?;
        let mut cache = Vec::with_capacity(part.len());
        for ((i, key), vec) in part.iter().zip(vecs) {
            cache.push((*key, vec.clone()));
            vectors[*i] = Some(vec);
        }
        store.put_embeddings(&cache)?;
        bar.inc(part.len() as u64);
        done += part.len();
        report_progress(opts, "embedding", done, missing.len());
    }
    bar.finish_and_clear();
    let mut sentences = Vec::with_capacity(sentence_slots.len());
    let mut items: Vec<(crate::domain::ChunkId, Vec<f32>)> = Vec::with_capacity(ids.len());
    let mut passage_slot = 0;
    for (id, slots) in sentence_slots {
        if let Some(vec) = vectors[passage_slot].take() {
            items.push((id, vec));
        }
        passage_slot += 1 + slots.len();
        let sents: Vec<((usize, usize), Vec<f32>)> = slots
            .into_iter()
            .filter_map(|(range, slot)| vectors[slot].take().map(|v| (range, v)))
            .collect();
        sentences.push((id, sents));
    }
    let index = VectorIndex::build(embedder.dim(), items, HnswParams::of(v))?;
    index.save(dir)?;
    if v.sentence_vectors {
        crate::index::sentences::SentenceVectors::build(embedder.dim(), sentences)?.save(dir)?;
    }
    Ok((fp, missing.len()))
}
