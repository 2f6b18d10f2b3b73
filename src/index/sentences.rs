//! Embeddings of the quotable sentences of every passage, computed when indexing so that
//! composing an answer compares the question with a few dozen sentences in microseconds instead
//! of running the model over them. Stored 8-bit (one scale per vector): a quarter of the size,
//! and cosine errors around 0.002, far below what separates sentences.
//!
//! File `vector/sentences.bin`: magic, dimension, number of passages; per passage its key and
//! sentence count; per sentence its byte range in the passage text, scale and codes.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::domain::ChunkId;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"KEFUSEN1";
const FILE: &str = "sentences.bin";

/// One sentence: its range in the passage text and its quantised vector.
struct Entry {
    range: (u32, u32),
    scale: f32,
}

/// The sentence vectors of a generation.
#[derive(Default)]
pub struct SentenceVectors {
    dim: usize,
    /// Per passage: index of its first sentence and how many.
    passages: HashMap<ChunkId, (u32, u32)>,
    entries: Vec<Entry>,
    codes: Vec<i8>,
}

/// Sentences of one passage: (byte range in the passage text, unit vector).
pub type PassageSentences = Vec<((usize, usize), Vec<f32>)>;

impl SentenceVectors {
    /// Builds from each passage's sentences (vectors of `dim` values).
    pub fn build(dim: usize, items: Vec<(ChunkId, PassageSentences)>) -> Result<SentenceVectors> {
        let mut out = SentenceVectors {
            dim,
            ..Default::default()
        };
        for (key, sents) in items {
            let first = out.entries.len() as u32;
            for ((a, b), v) in sents {
                if v.len() != dim {
                    return Err(Error::Internal(format!(
                        "a sentence vector of passage {key} has {} values, expected {dim}",
                        v.len()
                    )));
                }
                let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
                let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
                out.codes.extend(
                    v.iter()
                        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
                );
                out.entries.push(Entry {
                    range: (a as u32, b as u32),
                    scale,
                });
            }
            out.passages
                .insert(key, (first, out.entries.len() as u32 - first));
        }
        Ok(out)
    }

    /// Number of sentences.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Cosine of `q` (a unit vector) with the sentence at `range` of passage `key`, if stored.
    pub fn cosine(&self, key: ChunkId, range: (usize, usize), q: &[f32]) -> Option<f32> {
        if q.len() != self.dim {
            return None;
        }
        let &(first, n) = self.passages.get(&key)?;
        (first..first + n).find_map(|i| {
            let e = &self.entries[i as usize];
            if (e.range.0 as usize, e.range.1 as usize) != range {
                return None;
            }
            let codes = &self.codes[i as usize * self.dim..(i as usize + 1) * self.dim];
            let dot: f32 = codes.iter().zip(q).map(|(c, x)| *c as f32 * x).sum();
            Some(dot * e.scale)
        })
    }

    /// Writes `sentences.bin` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let mut buf: Vec<u8> = Vec::with_capacity(24 + self.entries.len() * (12 + self.dim));
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&(self.dim as u64).to_le_bytes());
        buf.extend_from_slice(&(self.passages.len() as u64).to_le_bytes());
        let mut keys: Vec<(&ChunkId, &(u32, u32))> = self.passages.iter().collect();
        keys.sort_by_key(|(_, (first, _))| *first);
        for (key, &(first, n)) in keys {
            buf.extend_from_slice(&key.0.to_le_bytes());
            buf.extend_from_slice(&n.to_le_bytes());
            for i in first..first + n {
                let e = &self.entries[i as usize];
                buf.extend_from_slice(&e.range.0.to_le_bytes());
                buf.extend_from_slice(&e.range.1.to_le_bytes());
                buf.extend_from_slice(&e.scale.to_le_bytes());
                let codes = &self.codes[i as usize * self.dim..(i as usize + 1) * self.dim];
                buf.extend(codes.iter().map(|c| *c as u8));
            }
        }
        let mut f = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        f.write_all(&buf).map_err(|e| Error::io(&path, e))?;
        f.sync_all().map_err(|e| Error::io(&path, e))
    }

    /// Reads `sentences.bin` from `dir`; `None` when the generation has none.
    pub fn load(dir: &Path) -> Result<Option<SentenceVectors>> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let bad = || Error::Index(format!("{}: truncated or malformed", path.display()));
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = bytes.get(at..at + n).ok_or_else(bad)?;
            at += n;
            Ok(s)
        };
        if take(8)? != MAGIC {
            return Err(Error::Index(format!(
                "{}: not a kefu sentence file",
                path.display()
            )));
        }
        let u64_of = |b: &[u8]| -> u64 {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        };
        let u32_of = |b: &[u8]| -> u32 {
            let mut a = [0u8; 4];
            a.copy_from_slice(b);
            u32::from_le_bytes(a)
        };
        let dim = u64_of(take(8)?) as usize;
        let passages = u64_of(take(8)?) as usize;
        if dim == 0 || dim > 4096 {
            return Err(bad());
        }
        let mut out = SentenceVectors {
            dim,
            ..Default::default()
        };
        for _ in 0..passages {
            let key = ChunkId(u64_of(take(8)?));
            let n = u32_of(take(4)?);
            let first = out.entries.len() as u32;
            for _ in 0..n {
                let a = u32_of(take(4)?);
                let b = u32_of(take(4)?);
                let scale = f32::from_bits(u32_of(take(4)?));
                out.codes.extend(take(dim)?.iter().map(|c| *c as i8));
                out.entries.push(Entry {
                    range: (a, b),
                    scale,
                });
            }
            out.passages.insert(key, (first, n));
        }
        if at != bytes.len() {
            return Err(bad());
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn quantised_cosines_are_close_and_survive_a_round_trip() {
        let a = unit(&[0.3, -0.2, 0.9, 0.1]);
        let b = unit(&[-0.5, 0.4, 0.1, 0.7]);
        let sv = SentenceVectors::build(
            4,
            vec![
                (
                    ChunkId(7),
                    vec![((0, 10), a.clone()), ((11, 30), b.clone())],
                ),
                (ChunkId(9), vec![]),
            ],
        )
        .expect("builds");
        let q = unit(&[0.2, 0.1, 0.8, 0.3]);
        let exact = |v: &[f32]| v.iter().zip(&q).map(|(x, y)| x * y).sum::<f32>();
        let got = sv.cosine(ChunkId(7), (11, 30), &q).expect("stored");
        assert!((got - exact(&b)).abs() < 0.01, "{got} vs {}", exact(&b));
        assert_eq!(sv.cosine(ChunkId(7), (0, 9), &q), None);
        assert_eq!(sv.cosine(ChunkId(8), (0, 10), &q), None);
        let dir = tempfile::tempdir().expect("tempdir");
        sv.save(dir.path()).expect("saves");
        let back = SentenceVectors::load(dir.path())
            .expect("loads")
            .expect("present");
        assert_eq!(back.len(), 2);
        assert_eq!(
            back.cosine(ChunkId(7), (0, 10), &q),
            sv.cosine(ChunkId(7), (0, 10), &q)
        );
        // damage is an error, not a panic
        let path = dir.path().join(FILE);
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("write");
        assert!(SentenceVectors::load(dir.path()).is_err());
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(SentenceVectors::load(empty.path()).expect("ok").is_none());
    }
}
