//! The embedded stores: the only module that knows sled and redb. Two kinds, kept apart:
//!
//! - the cache, [`Store`] (sled): the parsed documents, their passages and embeddings under
//!   versioned tree names — everything in it can be rebuilt from the corpus files;
//! - the records, [`records`] (redb): sessions, turns, customers, events, feedback — which
//!   cannot, and must survive kill -9.
//!
//! The rest of this file is the cache.
//!
//! Everything in it can be rebuilt from the corpus files. So when sled reports corruption on
//! open (a known sled 0.34 failure after a kill), the store is moved aside and recreated, and
//! the caller is told to rebuild; it never crashes kefu and never touches source files.

pub mod records;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chunk::Chunk;
use crate::domain::ChunkId;
use crate::domain::DocMeta;
use crate::error::{Error, Result};

const DOCS: &str = "docs.v1";
const CHUNKS: &str = "chunks.v1";
const EMBEDDINGS: &str = "embeddings.v1";

/// A stored document: its metadata and the ids of its passages in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDocument {
    pub meta: DocMeta,
    pub chunk_ids: Vec<ChunkId>,
}

/// The store.
pub struct Store {
    db: sled::Db,
    docs: sled::Tree,
    chunks: sled::Tree,
    embeddings: sled::Tree,
    path: PathBuf,
}

/// How the store was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The store was opened as it was.
    Existing,
    /// The store was corrupt; it was moved to the given path and a new one created.
    Recreated { moved_to: PathBuf },
}

fn store_err(path: &Path, e: sled::Error) -> Error {
    match e {
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
        {
            Error::Locked {
                path: path.to_path_buf(),
                detail: io.to_string(),
            }
        }
        other => Error::Store(format!("{}: {other}", path.display())),
    }
}

impl Store {
    /// Opens (or creates) the store in `path`. A corrupt store is moved aside and recreated.
    pub fn open(path: &Path) -> Result<(Store, Opened)> {
        std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
        match Self::try_open(path) {
            Ok(s) => Ok((s, Opened::Existing)),
            Err(Error::Locked { path, detail }) => Err(Error::Locked { path, detail }),
            Err(e) => {
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
                let moved_to = path.with_file_name(format!(
                    "{}.corrupt-{stamp}",
                    path.file_name().and_then(|n| n.to_str()).unwrap_or("store")
                ));
                tracing::warn!(error = %e, moved_to = %moved_to.display(), "store could not be opened; moving it aside and rebuilding from the corpus");
                std::fs::rename(path, &moved_to).map_err(|e| Error::io(path, e))?;
                std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
                Ok((Self::try_open(path)?, Opened::Recreated { moved_to }))
            }
        }
    }

    fn try_open(path: &Path) -> Result<Store> {
        let db = sled::Config::new()
            .path(path)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|e| store_err(path, e))?;
        let docs = db.open_tree(DOCS).map_err(|e| store_err(path, e))?;
        let chunks = db.open_tree(CHUNKS).map_err(|e| store_err(path, e))?;
        let embeddings = db.open_tree(EMBEDDINGS).map_err(|e| store_err(path, e))?;
        Ok(Store {
            db,
            docs,
            chunks,
            embeddings,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: sled::Error) -> Error {
        store_err(&self.path, e)
    }

    /// Writes a document and its passages (replacing an older version of the document).
    pub fn put_document(&self, meta: &DocMeta, chunks: &[Chunk]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for c in chunks {
            let v = serde_json::to_vec(c).map_err(|e| Error::Internal(e.to_string()))?;
            batch.insert(&c.id.0.to_be_bytes(), v);
        }
        self.chunks.apply_batch(batch).map_err(|e| self.err(e))?;
        let doc = StoredDocument {
            meta: meta.clone(),
            chunk_ids: chunks.iter().map(|c| c.id).collect(),
        };
        let v = serde_json::to_vec(&doc).map_err(|e| Error::Internal(e.to_string()))?;
        self.docs
            .insert(meta.id.as_bytes(), v)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A document by id.
    #[cfg(test)]
    pub fn document(&self, id: &str) -> Result<Option<StoredDocument>> {
        match self.docs.get(id.as_bytes()).map_err(|e| self.err(e))? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| Error::Store(format!("document {id}: {e}"))),
            None => Ok(None),
        }
    }

    /// A passage by id.
    pub fn chunk(&self, id: ChunkId) -> Result<Option<Chunk>> {
        match self
            .chunks
            .get(id.0.to_be_bytes())
            .map_err(|e| self.err(e))?
        {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| Error::Store(format!("passage {id}: {e}"))),
            None => Ok(None),
        }
    }

    /// The passages of a stored document, in order.
    #[cfg(test)]
    pub fn chunks_of(&self, id: &str) -> Result<Option<Vec<Chunk>>> {
        let Some(doc) = self.document(id)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(doc.chunk_ids.len());
        for cid in doc.chunk_ids {
            match self.chunk(cid)? {
                Some(c) => out.push(c),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// Removes documents (their passages go with the next [`Store::retain`]).
    pub fn remove_documents<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Result<()> {
        for id in ids {
            self.docs.remove(id.as_bytes()).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Keeps only the given documents and the passages they reference (garbage collection after
    /// a generation is swapped in).
    pub fn retain(&self, live_docs: &HashSet<String>) -> Result<(usize, usize)> {
        let mut live_chunks = HashSet::new();
        let mut removed_docs = 0;
        for item in self.docs.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let id = String::from_utf8_lossy(&k).to_string();
            if live_docs.contains(&id) {
                if let Ok(d) = serde_json::from_slice::<StoredDocument>(&v) {
                    live_chunks.extend(d.chunk_ids);
                }
            } else {
                self.docs.remove(k).map_err(|e| self.err(e))?;
                removed_docs += 1;
            }
        }
        let mut removed_chunks = 0;
        for item in self.chunks.iter() {
            let (k, _) = item.map_err(|e| self.err(e))?;
            let mut b = [0u8; 8];
            if k.len() == 8 {
                b.copy_from_slice(&k);
            }
            if !live_chunks.contains(&ChunkId(u64::from_be_bytes(b))) {
                self.chunks.remove(k).map_err(|e| self.err(e))?;
                removed_chunks += 1;
            }
        }
        Ok((removed_docs, removed_chunks))
    }

    /// A cached embedding by its key (a hash of the embedder and the embedded text).
    pub fn embedding(&self, key: &[u8; 32]) -> Result<Option<Vec<f32>>> {
        Ok(self.embeddings.get(key).map_err(|e| self.err(e))?.map(|v| {
            v.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        }))
    }

    /// Caches embeddings.
    pub fn put_embeddings(&self, items: &[([u8; 32], Vec<f32>)]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (k, v) in items {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            batch.insert(&k[..], bytes);
        }
        self.embeddings.apply_batch(batch).map_err(|e| self.err(e))
    }

    /// Number of stored documents.
    #[cfg(test)]
    pub fn document_count(&self) -> usize {
        self.docs.len()
    }

    /// Flushes everything to disk.
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ingest::{markdown, FileContext};

    #[test]
    fn documents_and_chunks_round_trip_and_gc() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::default();
        let ctx = FileContext {
            rel_path: "a.md",
            config: &config,
        };
        let doc =
            markdown::parse("# A\n\nHello there.\n\n## B\n\nMore text.\n", &ctx).expect("parse");
        let chunks = crate::chunk::chunk_document(&doc, &config.chunk);
        let (store, opened) = Store::open(&dir.path().join("store")).expect("open");
        assert_eq!(opened, Opened::Existing);
        store.put_document(&doc.meta, &chunks).expect("put");
        let back = store.chunks_of("a").expect("read").expect("present");
        assert_eq!(back, chunks);
        assert_eq!(
            store.document("a").expect("read").expect("doc").meta,
            *doc.meta
        );
        let (d, c) = store.retain(&HashSet::new()).expect("gc");
        assert_eq!((d, c), (1, chunks.len()));
        assert!(store.document("a").expect("read").is_none());
    }

    #[test]
    fn corrupt_store_is_moved_aside_and_recreated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store");
        std::fs::create_dir_all(&path).expect("mkdir");
        // garbage where sled expects its files
        std::fs::write(path.join("conf"), b"\xff\xfe garbage").expect("write");
        std::fs::write(path.join("db"), vec![0xAB; 4096]).expect("write");
        let (store, opened) = Store::open(&path).expect("open recovers");
        assert!(matches!(opened, Opened::Recreated { .. }), "{opened:?}");
        assert_eq!(store.document_count(), 0);
    }
}
