//! Steps 4 and 6: the next generation written beside the live one — its lexical index (the
//! live one's files hard-linked and the changes applied, or built from scratch), the store's
//! documents, then the manifest, fsync, rename and the atomic swap — and what is no longer
//! needed afterwards.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::parse::Parsed;
use super::{chunking_fingerprint, IndexReport};
use crate::analyze::Analyzer;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsutil::{sync_dir, write_atomic};
use crate::index::lexical::{LexicalIndex, SCHEMA_VERSION};
use crate::index::{FileEntry, IndexDir, Manifest, LEXICAL, MANIFEST};
use crate::store::Store;

/// A generation being built: `gen-N.tmp/`.
pub(super) struct Draft {
    pub(super) number: u64,
    pub(super) tmp: PathBuf,
}

impl Draft {
    pub(super) fn start(dir: &IndexDir) -> Result<Draft> {
        let number = dir.next_generation()?;
        let tmp = dir.root().join(format!("gen-{number:06}.tmp"));
        let lex = tmp.join(LEXICAL);
        std::fs::create_dir_all(&lex).map_err(|e| Error::io(&lex, e))?;
        tracing::info!(generation = number, "building generation");
        Ok(Draft { number, tmp })
    }

    /// The lexical index: `live`'s files hard-linked and the changes applied (incremental),
    /// or every accepted passage into an empty index.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_lexical(
        &self,
        dir: &IndexDir,
        live: Option<u64>,
        analyzer: &Arc<Analyzer>,
        config: &Config,
        threads: usize,
        removed: &[String],
        accepted: &[Parsed],
    ) -> Result<()> {
        let lex_dir = self.tmp.join(LEXICAL);
        let lexical = match live {
            Some(l) => {
                link_files(&dir.gen_path(l).join(LEXICAL), &lex_dir)?;
                LexicalIndex::open_in_dir(&lex_dir, analyzer.clone())?
            }
            None => LexicalIndex::create_in_dir(&lex_dir, analyzer.clone())?,
        };
        let writer = lexical.writer(config.index.writer_memory_mb, threads.min(4))?;
        for rel in removed.iter().chain(accepted.iter().map(|p| &p.rel)) {
            writer.delete_source(rel);
        }
        for p in accepted {
            for (_, chunks) in &p.docs {
                for c in chunks {
                    writer.add(c)?;
                }
            }
        }
        writer.commit(live.is_none())
    }

    /// Writes the manifest, fsyncs, renames the draft into place and swaps it in.
    pub(super) fn publish(self, dir: &IndexDir, store: &Store, manifest: &Manifest) -> Result<()> {
        let bytes =
            serde_json::to_vec_pretty(manifest).map_err(|e| Error::Internal(e.to_string()))?;
        write_atomic(&self.tmp.join(MANIFEST), &bytes)?;
        sync_dir(&self.tmp.join(LEXICAL))?;
        sync_dir(&self.tmp)?;
        store.flush()?;
        let final_path = dir.gen_path(self.number);
        std::fs::rename(&self.tmp, &final_path).map_err(|e| Error::io(&final_path, e))?;
        sync_dir(dir.root())?;
        dir.swap(self.number)?;
        tracing::info!(generation = self.number, "generation is live");
        Ok(())
    }
}

/// The store's documents: those of removed and changed files out, the accepted ones in. (The
/// store may run ahead of the live generation if the build dies before the swap; the manifest,
/// not the store, says what is indexed.)
pub(super) fn write_store(
    store: &Store,
    old: &Manifest,
    removed: &[String],
    accepted: &[Parsed],
) -> Result<()> {
    let stale_docs: Vec<String> = removed
        .iter()
        .chain(accepted.iter().map(|p| &p.rel))
        .filter_map(|rel| old.files.get(rel))
        .flat_map(|e| e.documents.iter().cloned())
        .collect();
    store.remove_documents(stale_docs.iter().map(String::as_str))?;
    for p in accepted {
        for (meta, chunks) in &p.docs {
            store.put_document(meta, chunks)?;
        }
    }
    Ok(())
}

/// The manifest of generation `number`.
pub(super) fn manifest(
    number: u64,
    analyzer: &Analyzer,
    config: &Config,
    files: BTreeMap<String, FileEntry>,
    embedder: Option<String>,
) -> Manifest {
    Manifest {
        format: 1,
        generation: number,
        created_at: chrono::Utc::now().to_rfc3339(),
        schema: SCHEMA_VERSION,
        analysis: analyzer.fingerprint().to_string(),
        chunking: chunking_fingerprint(config),
        files,
        embedder,
    }
}

/// After the swap: the store keeps only live documents (when anything left), and old
/// generations beyond `index.keep_generations` go.
pub(super) fn collect_garbage(
    dir: &IndexDir,
    store: &Store,
    manifest: &Manifest,
    config: &Config,
    report: &IndexReport,
) -> Result<()> {
    let live_docs: HashSet<String> = manifest
        .files
        .values()
        .flat_map(|e| e.documents.iter().cloned())
        .collect();
    if report.full_rebuild || report.removed > 0 || report.changed > 0 {
        store.retain(&live_docs)?;
    }
    store.flush()?;
    dir.cleanup(config.index.keep_generations)
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
