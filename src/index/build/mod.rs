//! `kefu index`: the corpus folder → a new index generation, incrementally, one step per file:
//!
//! 1. [`walk`]: the files of the corpus (and of uploaded documents).
//! 2. [`changes`]: hash every file and compare with the live generation's manifest.
//! 3. [`parse`]: parse and chunk the changed and new files (in parallel); a file that fails is
//!    reported with its path and reason, and its previous version stays indexed.
//! 4. [`generation`]: the next generation's lexical index beside the live one (hard-linking
//!    the live files and applying the changes, or from scratch when analysis, chunking or
//!    schema changed), and the store.
//! 5. [`vectors`]: the passages embedded (or taken from the embedding cache).
//! 6. [`generation`]: manifest, fsync, rename, atomic swap; garbage collected.

mod changes;
mod generation;
mod parse;
mod vectors;
mod walk;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::analyze::Analyzer;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ingest;
use crate::store::{Opened, Store};

use super::{IndexDir, VECTOR};

pub use walk::{CUSTOMERS_DIR, MANAGED_PREFIX};

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
    /// Embeds passages with this embedder instead of the configured model (tests).
    pub embedder: Option<Arc<dyn crate::embed::Embedder>>,
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
pub(super) fn check_cancel(opts: &IndexOptions, phase: &str) -> Result<()> {
    match &opts.cancel {
        Some(c) => c.check(phase),
        None => Ok(()),
    }
}

pub(super) fn report_progress(opts: &IndexOptions, phase: &'static str, done: usize, total: usize) {
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

fn chunking_fingerprint(config: &Config) -> String {
    format!(
        "ingest={};max={};overlap={}",
        ingest::INGEST_VERSION,
        config.chunk.max_tokens,
        config.chunk.overlap_tokens
    )
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
    let base = changes::Base::read(&dir, config, analyzer, &opened)?;
    report.full_rebuild = !base.compatible;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.index.threads)
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;

    // 1-3: what changed, parsed
    let (files, ignored) = walk::walk_all(&opts.corpus, &config.corpus.managed_dir)?;
    report.ignored = ignored;
    let mut plan = changes::plan(&pool, &files, &base.old, &mut report);
    tracing::info!(
        files = plan.to_parse.len(),
        removed = plan.removed.len(),
        full = report.full_rebuild,
        "parsing changed files"
    );
    let parsed = parse::parse_all(&pool, &files, &plan.to_parse, config, opts);
    check_cancel(opts, "parsing")?;
    let accepted = parse::accept(parsed, &base.old, &mut plan.files, &mut report);
    report.removed = plan.removed.len();
    report.failed.sort_by(|a, b| a.path.cmp(&b.path));
    let nothing_changed = base.compatible
        && base.live.is_some()
        && accepted.is_empty()
        && plan.removed.is_empty()
        && base.vectors_as_wanted(&dir, config);
    if nothing_changed {
        report.vectors = base.old.embedder.is_some();
        report.generation = base.live.unwrap_or(0);
        report.documents = base.old.documents();
        report.passages = base.old.passages();
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    // 4. the next generation beside the live one, and the store
    let draft = generation::Draft::start(&dir)?;
    let threads = match config.index.threads {
        0 => pool.current_num_threads(),
        n => n,
    };
    let incremental_from = base.live.filter(|_| base.compatible);
    draft.write_lexical(
        &dir,
        incremental_from,
        analyzer,
        config,
        threads,
        &plan.removed,
        &accepted,
    )?;
    generation::write_store(&store, &base.old, &plan.removed, &accepted)?;

    // 5. the vector index: every passage of the generation, embedded or taken from the cache
    let mut embedder_fp = None;
    if config.vector.enabled {
        let built = vectors::passage_embedder(config, opts).and_then(|e| {
            vectors::build_vectors(
                config,
                e.as_ref(),
                &store,
                &accepted,
                &plan.files,
                &draft.tmp.join(VECTOR),
                opts,
            )
        });
        match built {
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

    // 6. manifest, fsync, rename, swap; then the garbage
    let number = draft.number;
    let manifest = generation::manifest(number, analyzer, config, plan.files, embedder_fp);
    draft.publish(&dir, &store, &manifest)?;
    generation::collect_garbage(&dir, &store, &manifest, config, &report)?;

    report.generation = number;
    report.built = true;
    report.documents = manifest.documents();
    report.passages = manifest.passages();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
