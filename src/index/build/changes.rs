//! Step 2: what changed since the live generation — every file hashed (in parallel) and
//! compared with the live manifest: unchanged files keep their entry, changed and new ones are
//! to be parsed, deleted ones are dropped. A file that cannot be read keeps its previous entry.

use std::collections::{BTreeMap, HashSet};

use rayon::prelude::*;

use super::walk::SourceFile;
use super::{chunking_fingerprint, FileFailure, IndexReport};
use crate::analyze::Analyzer;
use crate::config::Config;
use crate::error::Result;
use crate::index::lexical::SCHEMA_VERSION;
use crate::index::{FileEntry, IndexDir, Manifest, VECTOR};
use crate::store::Opened;

/// The live generation as a build starts from it.
pub(super) struct Base {
    /// Its number, if there is one.
    pub(super) live: Option<u64>,
    /// Its manifest, when readable.
    pub(super) manifest: Option<Manifest>,
    /// Whether its files can be reused (same schema, analysis and chunking, the store intact).
    pub(super) compatible: bool,
    /// What is reused of it: its manifest when compatible, nothing otherwise.
    pub(super) old: Manifest,
}

impl Base {
    pub(super) fn read(
        dir: &IndexDir,
        config: &Config,
        analyzer: &Analyzer,
        opened: &Opened,
    ) -> Result<Base> {
        let live = dir.current()?;
        let manifest = match live {
            Some(n) => match dir.manifest(n) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(error = %e, "the live generation's manifest is unreadable; rebuilding from scratch");
                    None
                }
            },
            None => None,
        };
        let compatible = manifest.as_ref().is_some_and(|m| {
            m.schema == SCHEMA_VERSION
                && m.analysis == analyzer.fingerprint()
                && m.chunking == chunking_fingerprint(config)
        }) && *opened == Opened::Existing;
        let old = if compatible {
            manifest.clone().unwrap_or_default()
        } else {
            Manifest::default()
        };
        Ok(Base {
            live,
            manifest,
            compatible,
            old,
        })
    }

    /// Whether the live generation has the vectors (and sentence vectors) the configuration
    /// asks for.
    pub(super) fn vectors_as_wanted(&self, dir: &IndexDir, config: &Config) -> bool {
        let sentences_as_wanted = self.live.is_none_or(|n| {
            !config.vector.enabled
                || dir.gen_path(n).join(VECTOR).join("sentences.bin").exists()
                    == config.vector.sentence_vectors
        });
        sentences_as_wanted
            && self
                .manifest
                .as_ref()
                .is_some_and(|m| m.embedder.is_some() == config.vector.enabled)
    }
}

/// What a build has to do.
pub(super) struct Plan {
    /// Files to parse: (index into the file list, hash, size).
    pub(super) to_parse: Vec<(usize, String, u64)>,
    /// The new generation's entries so far (unchanged and unreadable files).
    pub(super) files: BTreeMap<String, FileEntry>,
    /// Files of the live generation no longer on disk.
    pub(super) removed: Vec<String>,
}

/// Hashes every file and compares it with `old`.
pub(super) fn plan(
    pool: &rayon::ThreadPool,
    files: &[SourceFile],
    old: &Manifest,
    report: &mut IndexReport,
) -> Plan {
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
    let mut plan = Plan {
        to_parse: Vec::new(),
        files: BTreeMap::new(),
        removed: Vec::new(),
    };
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
                    plan.files.insert(f.rel.clone(), e.clone());
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
                    plan.files.insert(f.rel.clone(), e.clone());
                }
                _ => plan.to_parse.push((i, hash, size)),
            },
        }
    }
    plan.removed = old
        .files
        .keys()
        .filter(|k| !on_disk.contains(k.as_str()))
        .cloned()
        .collect();
    plan
}
