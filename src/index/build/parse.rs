//! Step 3: the changed files parsed and chunked (in parallel), each document checked against
//! the per-document limits, and document ids kept unique across files. A file that fails is
//! reported with its path and reason; if it was indexed before, its previous version stays.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::walk::SourceFile;
use super::{report_progress, FileFailure, IndexOptions, IndexReport};
use crate::chunk::{chunk_document, Chunk};
use crate::config::Config;
use crate::domain::DocMeta;
use crate::error::Error;
use crate::index::{FileEntry, Manifest};
use crate::ingest;

/// The parsed content of one file.
pub(super) struct Parsed {
    pub(super) rel: String,
    hash: String,
    size: u64,
    pub(super) docs: Vec<(Arc<DocMeta>, Vec<Chunk>)>,
    errors: Vec<String>,
}

/// Parses and chunks one file.
fn parse_one(
    f: &SourceFile,
    hash: &str,
    size: u64,
    config: &Config,
) -> std::result::Result<Parsed, FileFailure> {
    let ing = ingest::read_file(&f.abs, &f.rel, config).map_err(|e| FileFailure {
        path: f.rel.clone(),
        reason: match e {
            Error::BadFile { reason, .. } => reason,
            other => other.to_string(),
        },
    })?;
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
    match (docs.is_empty(), errors.first()) {
        // nothing usable: the file fails (an earlier version stays indexed)
        (true, Some(reason)) => Err(FileFailure {
            path: f.rel.clone(),
            reason: reason.clone(),
        }),
        _ => Ok(Parsed {
            rel: f.rel.clone(),
            hash: hash.to_string(),
            size,
            docs,
            errors,
        }),
    }
}

/// Parses the files of `to_parse` (index into `files`, hash, size) on `pool`.
pub(super) fn parse_all(
    pool: &rayon::ThreadPool,
    files: &[SourceFile],
    to_parse: &[(usize, String, u64)],
    config: &Config,
    opts: &IndexOptions,
) -> Vec<std::result::Result<Parsed, FileFailure>> {
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
    let parsed_count = std::sync::atomic::AtomicUsize::new(0);
    report_progress(opts, "parsing", 0, to_parse.len());
    let parsed = pool.install(|| {
        to_parse
            .par_iter()
            .map(|(i, hash, size)| {
                let r = parse_one(&files[*i], hash, *size, config);
                bar.inc(1);
                let n = parsed_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                report_progress(opts, "parsing", n, to_parse.len());
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    parsed
}

/// The parsed files that join the new generation, with their entries added to `entries`:
/// a failed file keeps its previous entry, and a document whose id another file already uses
/// is skipped with a reason.
pub(super) fn accept(
    parsed: Vec<std::result::Result<Parsed, FileFailure>>,
    old: &Manifest,
    entries: &mut BTreeMap<String, FileEntry>,
    report: &mut IndexReport,
) -> Vec<Parsed> {
    let mut owner: HashMap<String, String> = HashMap::new();
    for (rel, e) in entries.iter() {
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
                    entries.insert(failure.path.clone(), e.clone());
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
                entries.insert(p.rel.clone(), entry(&p));
                accepted.push(p);
            }
        }
    }
    accepted
}

/// The manifest entry of a parsed file.
fn entry(p: &Parsed) -> FileEntry {
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
    }
}
