//! `kefu index`: the corpus folder → a new index generation, incrementally.
//!
//! 1. Walk the corpus; hash every file (BLAKE3, in parallel).
//! 2. Compare with the live generation's manifest: unchanged files are skipped, changed and
//!    new files are parsed and chunked (in parallel), deleted files are dropped. A file that
//!    fails is reported with its path and reason; if it was indexed before, its previous
//!    version stays indexed (nothing good is lost).
//! 3. Build the next generation beside the live one (hard-linking the live lexical files and
//!    applying the changes, or from scratch when analysis, chunking or schema changed), write
//!    the store, then swap the generation in atomically.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use super::lexical::{LexicalIndex, SCHEMA_VERSION};
use super::vector::{HnswParams, VectorIndex};
use super::{FileEntry, IndexDir, Manifest, LEXICAL, MANIFEST, VECTOR};
use crate::analyze::Analyzer;
use crate::chunk::{chunk_document, Chunk};
use crate::config::Config;
use crate::domain::DocMeta;
use crate::error::{Error, Result};
use crate::fsutil::{sync_dir, write_atomic};
use crate::ingest::{self, Format};
use crate::store::{Opened, Store};

/// Where an indexing run is: `phase` (`parsing` files, `embedding` passages), `done` of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub phase: &'static str,
    pub done: usize,
    pub total: usize,
}

/// Receives [`Progress`] reports (from several threads).
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Options of one indexing run.
#[derive(Clone, Default)]
pub struct IndexOptions {
    /// The corpus folder (defaults to `corpus.dir` from the configuration).
    pub corpus: PathBuf,
    /// Show a progress bar on long work (only drawn on a terminal).
    pub progress: bool,
    /// Called as files are parsed and passages embedded.
    pub on_progress: Option<ProgressFn>,
    /// Stops the run (before anything is swapped in; embeddings made so far stay cached).
    pub cancel: Option<crate::cancel::Cancel>,
}

impl std::fmt::Debug for IndexOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexOptions")
            .field("corpus", &self.corpus)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

/// `Err(Error::Cancelled)` once the run's token is cancelled.
fn check_cancel(opts: &IndexOptions, phase: &str) -> Result<()> {
    match &opts.cancel {
        Some(c) => c.check(phase),
        None => Ok(()),
    }
}

fn report_progress(opts: &IndexOptions, phase: &'static str, done: usize, total: usize) {
    if let Some(f) = &opts.on_progress {
        f(Progress { phase, done, total });
    }
}

/// A file that could not be indexed (wholly or in part).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FileFailure {
    pub path: String,
    pub reason: String,
}

/// What an indexing run did.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct IndexReport {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Files with problems: wholly skipped, or with skipped parts (lines, rows).
    pub failed: Vec<FileFailure>,
    /// Files of types kefu does not read.
    pub ignored: usize,
    pub documents: usize,
    pub passages: usize,
    /// The live generation after the run.
    pub generation: u64,
    /// Whether a new generation was built (false when nothing changed).
    pub built: bool,
    /// Whether the build started from scratch.
    pub full_rebuild: bool,
    /// Set when the store was corrupt and was rebuilt.
    pub store_recovered: Option<String>,
    /// Whether the generation has a vector index.
    pub vectors: bool,
    /// Passages embedded in this run (the others came from the embedding cache).
    pub embedded: usize,
    /// Problems that did not stop the run (the embedding model was unavailable, say).
    pub warnings: Vec<String>,
    pub seconds: f64,
}

struct SourceFile {
    rel: String,
    abs: PathBuf,
}

/// The prefix of the sources of documents uploaded over HTTP (kept in `corpus.managed_dir`).
pub const MANAGED_PREFIX: &str = "@managed/";

/// Lists the files kefu reads (sorted) under the corpus folder and, when it exists, the folder
/// of uploaded documents; counts the others.
fn walk_all(corpus: &Path, managed: &Path) -> Result<(Vec<SourceFile>, usize)> {
    let (mut files, mut ignored) = walk(corpus, "")?;
    if managed.is_dir() && managed != corpus {
        let (more, n) = walk(managed, MANAGED_PREFIX)?;
        files.extend(more);
        ignored += n;
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
    }
    Ok((files, ignored))
}

/// Lists the files kefu reads under `corpus` (sorted), named `prefix` + relative path, and
/// counts the others.
fn walk(corpus: &Path, prefix: &str) -> Result<(Vec<SourceFile>, usize)> {
    let mut files = Vec::new();
    let mut ignored = 0;
    let mut stack = vec![corpus.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let ft = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                if Format::of(&path).is_some() {
                    let rel = prefix.to_string()
                        + &path
                            .strip_prefix(corpus)
                            .unwrap_or(&path)
                            .components()
                            .map(|c| c.as_os_str().to_string_lossy().to_string())
                            .collect::<Vec<_>>()
                            .join("/");
                    files.push(SourceFile { rel, abs: path });
                } else {
                    ignored += 1;
                }
            }
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((files, ignored))
}

fn chunking_fingerprint(config: &Config) -> String {
    format!(
        "ingest={};max={};overlap={}",
        ingest::INGEST_VERSION,
        config.chunk.max_tokens,
        config.chunk.overlap_tokens
    )
}

/// The parsed content of one file.
struct Parsed {
    rel: String,
    hash: String,
    size: u64,
    docs: Vec<(Arc<DocMeta>, Vec<Chunk>)>,
    errors: Vec<String>,
}

/// Runs an indexing pass. Holds the store's lock for its whole duration, so two runs never
/// build at once.
pub fn run(config: &Config, analyzer: &Arc<Analyzer>, opts: &IndexOptions) -> Result<IndexReport> {
    let started = Instant::now();
    if !opts.corpus.is_dir() {
        return Err(Error::InvalidRequest(format!(
            "corpus folder {} does not exist",
            opts.corpus.display()
        )));
    }
    let dir = IndexDir::new(&config.index.dir);
    std::fs::create_dir_all(dir.root()).map_err(|e| Error::io(dir.root(), e))?;
    let (store, opened) = Store::open(&dir.store_path())?;
    let mut report = IndexReport::default();
    if let Opened::Recreated { moved_to } = &opened {
        report.store_recovered = Some(moved_to.display().to_string());
    }
    dir.cleanup(config.index.keep_generations)?;

    let live = dir.current()?;
    let live_manifest = match live {
        Some(n) => match dir.manifest(n) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(error = %e, "the live generation's manifest is unreadable; rebuilding from scratch");
                None
            }
        },
        None => None,
    };
    let compatible = live_manifest.as_ref().is_some_and(|m| {
        m.schema == SCHEMA_VERSION
            && m.analysis == analyzer.fingerprint()
            && m.chunking == chunking_fingerprint(config)
    }) && opened == Opened::Existing;
    let old = if compatible {
        live_manifest.clone().unwrap_or_default()
    } else {
        Manifest::default()
    };
    report.full_rebuild = !compatible;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.index.threads)
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;

    let (files, ignored) = walk_all(&opts.corpus, &config.corpus.managed_dir)?;
    report.ignored = ignored;

    // 1. hash
    type Hashed = std::result::Result<(String, u64), String>;
    let hashed: Vec<(usize, Hashed)> = pool.install(|| {
        files
            .par_iter()
            .enumerate()
            .map(|(i, f)| {
                let r = std::fs::read(&f.abs)
                    .map(|b| (blake3::hash(&b).to_hex().to_string(), b.len() as u64))
                    .map_err(|e| format!("cannot read: {e}"));
                (i, r)
            })
            .collect()
    });

    // 2. classify
    let mut to_parse: Vec<(usize, String, u64)> = Vec::new();
    let mut new_files: BTreeMap<String, FileEntry> = BTreeMap::new();
    let on_disk: HashSet<&str> = files.iter().map(|f| f.rel.as_str()).collect();
    for (i, r) in hashed {
        let f = &files[i];
        match r {
            Err(reason) => {
                report.failed.push(FileFailure {
                    path: f.rel.clone(),
                    reason,
                });
                if let Some(e) = old.files.get(&f.rel) {
                    new_files.insert(f.rel.clone(), e.clone());
                }
            }
            Ok((hash, size)) => match old.files.get(&f.rel) {
                Some(e) if e.hash == hash => {
                    report.unchanged += 1;
                    for reason in &e.errors {
                        report.failed.push(FileFailure {
                            path: f.rel.clone(),
                            reason: reason.clone(),
                        });
                    }
                    new_files.insert(f.rel.clone(), e.clone());
                }
                _ => to_parse.push((i, hash, size)),
            },
        }
    }
    let removed: Vec<String> = old
        .files
        .keys()
        .filter(|k| !on_disk.contains(k.as_str()))
        .cloned()
        .collect();

    // 3. parse + chunk
    let bar = if opts.progress && to_parse.len() > 20 {
        let b = ProgressBar::new(to_parse.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{spinner} parsing {pos}/{len} files {bar:30} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    tracing::info!(
        files = to_parse.len(),
        removed = removed.len(),
        full = report.full_rebuild,
        "parsing changed files"
    );
    let parsed_count = std::sync::atomic::AtomicUsize::new(0);
    report_progress(opts, "parsing", 0, to_parse.len());
    let parsed: Vec<std::result::Result<Parsed, FileFailure>> = pool.install(|| {
        to_parse
            .par_iter()
            .map(|(i, hash, size)| {
                let f = &files[*i];
                let r = ingest::read_file(&f.abs, &f.rel, config)
                    .map(|ing| {
                        let mut errors = ing.errors;
                        let mut docs = Vec::with_capacity(ing.documents.len());
                        for d in &ing.documents {
                            let chunks = chunk_document(d, &config.chunk);
                            // a document over the limits is left out, with its reason
                            match crate::chunk::check_limits(&d.meta, &chunks, &config.corpus) {
                                Ok(()) => docs.push((d.meta.clone(), chunks)),
                                Err(reason) => errors.push(reason),
                            }
                        }
                        Parsed {
                            rel: f.rel.clone(),
                            hash: hash.clone(),
                            size: *size,
                            docs,
                            errors,
                        }
                    })
                    .map_err(|e| FileFailure {
                        path: f.rel.clone(),
                        reason: match e {
                            Error::BadFile { reason, .. } => reason,
                            other => other.to_string(),
                        },
                    })
                    .and_then(|p| match (p.docs.is_empty(), p.errors.first()) {
                        // nothing usable: the file fails (an earlier version stays indexed)
                        (true, Some(reason)) => Err(FileFailure {
                            path: f.rel.clone(),
                            reason: reason.clone(),
                        }),
                        _ => Ok(p),
                    });
                bar.inc(1);
                let n = parsed_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                report_progress(opts, "parsing", n, to_parse.len());
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    check_cancel(opts, "parsing")?;

    // document ids must be unique across files
    let mut owner: HashMap<String, String> = HashMap::new();
    for (rel, e) in &new_files {
        for d in &e.documents {
            owner.insert(d.clone(), rel.clone());
        }
    }
    let mut accepted: Vec<Parsed> = Vec::new();
    for r in parsed {
        match r {
            Err(failure) => {
                if let Some(e) = old.files.get(&failure.path) {
                    // keep the previous, good version indexed
                    new_files.insert(failure.path.clone(), e.clone());
                    for d in &e.documents {
                        owner.insert(d.clone(), failure.path.clone());
                    }
                }
                report.failed.push(failure);
            }
            Ok(mut p) => {
                let mut keep = Vec::new();
                for (meta, chunks) in p.docs.drain(..) {
                    match owner.get(&meta.id) {
                        Some(other) if other != &p.rel => p.errors.push(format!(
                            "document id `{}` is already used by {other}; skipped",
                            meta.id
                        )),
                        _ => {
                            owner.insert(meta.id.clone(), p.rel.clone());
                            keep.push((meta, chunks));
                        }
                    }
                }
                p.docs = keep;
                for e in &p.errors {
                    report.failed.push(FileFailure {
                        path: p.rel.clone(),
                        reason: e.clone(),
                    });
                }
                if old.files.contains_key(&p.rel) {
                    report.changed += 1;
                } else {
                    report.added += 1;
                }
                new_files.insert(
                    p.rel.clone(),
                    FileEntry {
                        hash: p.hash.clone(),
                        size: p.size,
                        documents: p.docs.iter().map(|(m, _)| m.id.clone()).collect(),
                        passages: p.docs.iter().map(|(_, c)| c.len()).sum(),
                        chunk_ids: p
                            .docs
                            .iter()
                            .flat_map(|(_, c)| c.iter().map(|c| c.id))
                            .collect(),
                        errors: p.errors.clone(),
                    },
                );
                accepted.push(p);
            }
        }
    }
    report.removed = removed.len();
    report.failed.sort_by(|a, b| a.path.cmp(&b.path));

    let sentences_as_wanted = live.is_none_or(|n| {
        !config.vector.enabled
            || dir.gen_path(n).join(VECTOR).join("sentences.bin").exists()
                == config.vector.sentence_vectors
    });
    let vectors_as_wanted = sentences_as_wanted
        && live_manifest
            .as_ref()
            .is_some_and(|m| m.embedder.is_some() == config.vector.enabled);
    let nothing_changed = compatible
        && live.is_some()
        && accepted.is_empty()
        && removed.is_empty()
        && vectors_as_wanted;
    if nothing_changed {
        report.vectors = old.embedder.is_some();
        report.generation = live.unwrap_or(0);
        report.documents = old.documents();
        report.passages = old.passages();
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    // 4. build the next generation beside the live one
    let number = dir.next_generation()?;
    let tmp = dir.root().join(format!("gen-{number:06}.tmp"));
    let lex_dir = tmp.join(LEXICAL);
    std::fs::create_dir_all(&lex_dir).map_err(|e| Error::io(&lex_dir, e))?;
    tracing::info!(generation = number, "building generation");
    let incremental = compatible && live.is_some();
    let lexical = if let (true, Some(l)) = (incremental, live) {
        link_files(&dir.gen_path(l).join(LEXICAL), &lex_dir)?;
        LexicalIndex::open_in_dir(&lex_dir, analyzer.clone())?
    } else {
        LexicalIndex::create_in_dir(&lex_dir, analyzer.clone())?
    };
    let threads = if config.index.threads == 0 {
        pool.current_num_threads()
    } else {
        config.index.threads
    };
    let writer = lexical.writer(config.index.writer_memory_mb, threads.min(4))?;
    for rel in removed.iter().chain(accepted.iter().map(|p| &p.rel)) {
        writer.delete_source(rel);
    }
    for p in &accepted {
        for (_, chunks) in &p.docs {
            for c in chunks {
                writer.add(c)?;
            }
        }
    }
    writer.commit(!incremental)?;

    // 5. the store (may run ahead of the live generation if we die before the swap; the
    //    manifest, not the store, says what is indexed)
    let stale_docs: Vec<String> = removed
        .iter()
        .chain(accepted.iter().map(|p| &p.rel))
        .filter_map(|rel| old.files.get(rel))
        .flat_map(|e| e.documents.iter().cloned())
        .collect();
    store.remove_documents(stale_docs.iter().map(String::as_str))?;
    for p in &accepted {
        for (meta, chunks) in &p.docs {
            store.put_document(meta, chunks)?;
        }
    }

    // 6. the vector index: every passage of the generation, embedded or taken from the cache
    let mut embedder_fp = None;
    if config.vector.enabled {
        match build_vectors(
            config,
            &store,
            &accepted,
            &new_files,
            &tmp.join(VECTOR),
            opts,
        ) {
            Ok((fp, embedded)) => {
                embedder_fp = Some(fp);
                report.embedded = embedded;
            }
            Err(e) => {
                let w =
                    format!("no vector index in this generation (search answers from BM25): {e}");
                tracing::warn!("{w}");
                report.warnings.push(w);
            }
        }
    }
    report.vectors = embedder_fp.is_some();

    // 7. manifest, fsync, rename, swap
    let manifest = Manifest {
        format: 1,
        generation: number,
        created_at: chrono::Utc::now().to_rfc3339(),
        schema: SCHEMA_VERSION,
        analysis: analyzer.fingerprint().to_string(),
        chunking: chunking_fingerprint(config),
        files: new_files,
        embedder: embedder_fp,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    write_atomic(&tmp.join(MANIFEST), &bytes)?;
    sync_dir(&lex_dir)?;
    sync_dir(&tmp)?;
    store.flush()?;
    let final_path = dir.gen_path(number);
    std::fs::rename(&tmp, &final_path).map_err(|e| Error::io(&final_path, e))?;
    sync_dir(dir.root())?;
    dir.swap(number)?;
    tracing::info!(generation = number, "generation is live");

    // 7. garbage: the store keeps only live documents; old generations beyond `keep` go
    let live_docs: HashSet<String> = manifest
        .files
        .values()
        .flat_map(|e| e.documents.iter().cloned())
        .collect();
    if report.full_rebuild || !removed.is_empty() || report.changed > 0 {
        store.retain(&live_docs)?;
    }
    store.flush()?;
    dir.cleanup(config.index.keep_generations)?;

    report.generation = number;
    report.built = true;
    report.documents = manifest.documents();
    report.passages = manifest.passages();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Embeds every passage of the new generation (from the embedding cache when possible) and
/// writes the vector index into `dir`. Returns the embedder's fingerprint and how many passages
/// had to be embedded.
fn build_vectors(
    config: &Config,
    store: &Store,
    accepted: &[Parsed],
    files: &BTreeMap<String, FileEntry>,
    dir: &Path,
    opts: &IndexOptions,
) -> Result<(String, usize)> {
    let progress = opts.progress;
    use crate::embed::{E5Embedder, E5Options, Embedder};
    let model = crate::models::ensure(config, progress)?;
    let v = &config.vector;
    let embedder = E5Embedder::load(&model, E5Options::for_indexing(v))?;
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

/// Hard-links (or copies, where links fail) the files of a tantivy index into an empty folder.
/// Tantivy never modifies a file in place, so the two generations can share them.
fn link_files(from: &Path, to: &Path) -> Result<()> {
    let rd = std::fs::read_dir(from).map_err(|e| Error::io(from, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let name = entry.file_name();
        let name_s = name.to_string_lossy();
        if name_s.ends_with(".lock") || !entry.path().is_file() {
            continue;
        }
        let target = to.join(&name);
        if std::fs::hard_link(entry.path(), &target).is_err() {
            std::fs::copy(entry.path(), &target).map_err(|e| Error::io(&target, e))?;
        }
    }
    Ok(())
}
