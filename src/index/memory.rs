//! A generation built in memory from passages and an embedder: the same lexical index, vector
//! graph and scoring as a generation on disk, for evaluation, training and tests. What it
//! embeds for a passage is what the indexer embeds ([`crate::embed::embed_text`]).

use std::sync::Arc;
use std::time::Instant;

use crate::analyze::Analyzer;
use crate::chunk::Chunk;
use crate::embed::Embedder;
use crate::error::Result;

use super::lexical::LexicalIndex;
use super::vector::{HnswParams, VectorIndex};
use super::Generation;

/// Passages embedded per call (and between progress reports).
const EMBED_BATCH: usize = 256;

/// How long each part of an in-memory build took, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BuildTimes {
    pub lexical_s: f64,
    pub embed_s: f64,
    pub hnsw_s: f64,
}

/// Builds a generation over `chunks`, in their order (one indexing thread, so equal scores
/// always break the same way), with their vectors when `embedder` is given. `progress` is told
/// how many passages of how many are embedded.
pub fn build(
    analyzer: &Arc<Analyzer>,
    chunks: &[Chunk],
    embedder: Option<&dyn Embedder>,
    hnsw: HnswParams,
    writer_memory_mb: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Generation, BuildTimes)> {
    let mut times = BuildTimes::default();
    let t = Instant::now();
    let lexical = LexicalIndex::create_in_ram(analyzer.clone())?;
    let writer = lexical.writer(writer_memory_mb.max(64), 1)?;
    for chunk in chunks {
        writer.add(chunk)?;
    }
    writer.commit(true)?;
    times.lexical_s = t.elapsed().as_secs_f64();
    let Some(embedder) = embedder else {
        return Ok((Generation::in_memory(lexical, None)?, times));
    };
    let t = Instant::now();
    let texts: Vec<String> = chunks
        .iter()
        .map(|c| crate::embed::embed_text(&c.meta.title, &c.heading_path, &c.text))
        .collect();
    let mut items = Vec::with_capacity(chunks.len());
    for (part, ids) in texts.chunks(EMBED_BATCH).zip(chunks.chunks(EMBED_BATCH)) {
        let refs: Vec<&str> = part.iter().map(String::as_str).collect();
        for (c, v) in ids.iter().zip(embedder.embed_passages(&refs)?) {
            items.push((c.id, v));
        }
        progress(items.len(), chunks.len());
    }
    times.embed_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let vectors = VectorIndex::build(embedder.dim(), items, hnsw)?;
    times.hnsw_s = t.elapsed().as_secs_f64();
    Ok((Generation::in_memory(lexical, Some(vectors))?, times))
}
