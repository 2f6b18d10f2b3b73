//! The vector half of an index generation: passage embeddings (unit vectors) in an HNSW graph
//! (hnsw_rs) for approximate search, plus the flat vectors for exact search (selective filters,
//! recall checks) and for rebuilding the next generation without re-embedding.
//!
//! Files in the generation's `vector/` folder: `vectors.bin` (magic, dimension, count, the keys,
//! the vectors) and the HNSW dump (`hnsw.hnsw.graph`, `hnsw.hnsw.data`).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::Write;
use std::path::Path;

use hnsw_rs::prelude::{AnnT, Distance, Hnsw, HnswIo};

use crate::domain::ChunkId;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"KEFUVEC1";
const HNSW_BASENAME: &str = "hnsw";

/// `1 − a·b` for unit vectors, clamped at 0 (float error can push a·b just above 1).
#[derive(Debug, Default, Clone, Copy)]
pub struct DotDistance;

impl Distance<f32> for DotDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// Dot product over the shorter of the two slices: with AVX2 + FMA where the CPU has them
/// (checked once at run time), else 16 independent sums that the compiler vectorises.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            // SAFETY: the CPU supports AVX2 and FMA (checked above); only reads the slices.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_body(a, b)
}

#[inline(always)]
fn dot_body(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..16 {
            acc[j] += x[j] * y[j];
        }
    }
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// AVX2 + FMA: four 8-lane accumulators over 32 values per step, the rest by [`dot_body`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let whole = n / 32 * 32;
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i < whole {
        for (j, s) in acc.iter_mut().enumerate() {
            // SAFETY: i + 8 * j + 8 <= whole <= n, inside both slices
            let x = _mm256_loadu_ps(pa.add(i + 8 * j));
            let y = _mm256_loadu_ps(pb.add(i + 8 * j));
            *s = _mm256_fmadd_ps(x, y, *s);
        }
        i += 32;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
    lanes.iter().sum::<f32>() + dot_body(&a[whole..n], &b[whole..n])
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    use std::sync::OnceLock;
    static AVX2: OnceLock<bool> = OnceLock::new();
    *AVX2.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

/// The graph hnsw_rs built, copied into flat arrays for searching: hnsw_rs's own search goes
/// through reference-counted points, locks and hash sets per query, which made it 6× slower
/// than hnswlib on the same graph. Nodes are positions in the vector array.
struct FlatGraph {
    /// Layer 0: the neighbours of node `i` are `nbr0[off0[i]..off0[i + 1]]`.
    off0: Vec<u32>,
    nbr0: Vec<u32>,
    /// Layers 1 and up (index 0 is layer 1): node → neighbours.
    upper: Vec<HashMap<u32, Vec<u32>>>,
    /// A node of the top layer.
    entry: Option<u32>,
}

impl FlatGraph {
    fn from_hnsw(h: &Hnsw<'static, f32, DotDistance>, n: usize) -> FlatGraph {
        let pi = h.get_point_indexation();
        let top = h.get_max_level_observed() as usize;
        let mut lists0: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut upper: Vec<HashMap<u32, Vec<u32>>> = vec![HashMap::new(); top];
        let mut entry = None;
        // hnsw_rs stores each point once, in the layer of its level
        for layer in 0..=top {
            for p in pi.get_layer_iterator(layer) {
                let id = p.get_origin_id();
                if id >= n {
                    continue;
                }
                for (l, list) in p.get_neighborhood_id().iter().enumerate() {
                    let ids: Vec<u32> = list
                        .iter()
                        .filter(|x| x.d_id < n)
                        .map(|x| x.d_id as u32)
                        .collect();
                    if l == 0 {
                        lists0[id] = ids;
                    } else if l <= top {
                        upper[l - 1].insert(id as u32, ids);
                    }
                }
                if layer == top && entry.is_none() {
                    entry = Some(id as u32);
                }
            }
        }
        let mut off0 = Vec::with_capacity(n + 1);
        let mut nbr0 = Vec::new();
        off0.push(0);
        for l in lists0 {
            nbr0.extend(l);
            off0.push(nbr0.len() as u32);
        }
        FlatGraph {
            off0,
            nbr0,
            upper,
            entry,
        }
    }

    /// The `ef` best nodes for `q` (node, similarity), best first: greedy descent through the
    /// upper layers, then a beam search of width `ef` on layer 0.
    fn search(&self, vectors: &[f32], dim: usize, q: &[f32], ef: usize) -> Vec<(u32, f32)> {
        let Some(mut cur) = self.entry else {
            return Vec::new();
        };
        let sim = |i: u32| {
            let s = i as usize * dim;
            dot(q, &vectors[s..s + dim])
        };
        let mut cur_s = sim(cur);
        for layer in self.upper.iter().rev() {
            loop {
                let mut moved = false;
                for &nb in layer.get(&cur).map(|v| v.as_slice()).unwrap_or(&[]) {
                    let s = sim(nb);
                    if s > cur_s {
                        cur = nb;
                        cur_s = s;
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        let ef = ef.max(1);
        VISITED.with(|v| {
            let mut visited = v.borrow_mut();
            let stamp = visited.next(self.off0.len().saturating_sub(1));
            let seen = &mut visited.marks;
            // candidates: best first; results: worst first, at most `ef`
            let mut candidates = BinaryHeap::new();
            let mut results: BinaryHeap<Reverse<Scored>> = BinaryHeap::new();
            seen[cur as usize] = stamp;
            candidates.push(Scored(cur_s, cur));
            results.push(Reverse(Scored(cur_s, cur)));
            while let Some(Scored(s, c)) = candidates.pop() {
                let worst = results.peek().map_or(f32::MIN, |r| r.0 .0);
                if results.len() >= ef && s < worst {
                    break;
                }
                let (a, b) = (self.off0[c as usize], self.off0[c as usize + 1]);
                let nbrs = &self.nbr0[a as usize..b as usize];
                for (j, &nb) in nbrs.iter().enumerate() {
                    if let Some(&next) = nbrs.get(j + 1) {
                        prefetch(&vectors[next as usize * dim..]);
                    }
                    if seen[nb as usize] == stamp {
                        continue;
                    }
                    seen[nb as usize] = stamp;
                    let sn = sim(nb);
                    let worst = results.peek().map_or(f32::MIN, |r| r.0 .0);
                    if results.len() < ef || sn > worst {
                        candidates.push(Scored(sn, nb));
                        results.push(Reverse(Scored(sn, nb)));
                        if results.len() > ef {
                            results.pop();
                        }
                    }
                }
            }
            let mut out: Vec<(u32, f32)> = results.into_iter().map(|r| (r.0 .1, r.0 .0)).collect();
            out.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            out
        })
    }
}

/// Asks the CPU to start loading the first cache lines of `v` (a vector about to be compared).
#[inline(always)]
fn prefetch(v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = v.as_ptr() as *const i8;
        for line in 0..2 {
            if line * 16 < v.len() {
                // SAFETY: a prefetch is a hint that never faults; the address lies inside `v`
                // and SSE is part of the x86_64 baseline.
                #[allow(unused_unsafe)]
                unsafe {
                    _mm_prefetch(p.wrapping_add(line * 64), _MM_HINT_T0)
                };
            }
        }
    }
}

/// A node and its similarity, ordered by similarity (then node, for determinism).
#[derive(Clone, Copy, PartialEq)]
struct Scored(f32, u32);
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scored {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0).then(o.1.cmp(&self.1))
    }
}

/// Per-thread visited marks: a node is visited when its mark equals the query's stamp, so no
/// clearing between queries.
struct Visited {
    marks: Vec<u32>,
    stamp: u32,
}

impl Visited {
    fn next(&mut self, n: usize) -> u32 {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.stamp = 1;
        }
        self.stamp
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = const {
        RefCell::new(Visited {
            marks: Vec::new(),
            stamp: 0,
        })
    };
}

fn positions_of(keys: &[ChunkId]) -> std::collections::HashMap<ChunkId, u32> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| (*k, i as u32))
        .collect()
}

/// HNSW construction and search parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HnswParams {
    pub m: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
}

impl HnswParams {
    /// The parameters of `[vector]`.
    pub fn of(v: &crate::config::VectorConfig) -> HnswParams {
        HnswParams {
            m: v.m,
            ef_construction: v.ef_construction,
            ef_search: v.ef_search,
        }
    }
}

/// Embeddings of a generation's passages, searchable.
pub struct VectorIndex {
    dim: usize,
    keys: Vec<ChunkId>,
    /// Position of each key in `keys`.
    positions: std::collections::HashMap<ChunkId, u32>,
    vectors: Vec<f32>,
    hnsw: Hnsw<'static, f32, DotDistance>,
    flat: FlatGraph,
    ef_search: usize,
}

impl VectorIndex {
    /// Builds the index from (key, unit vector) pairs; every vector must have `dim` values.
    pub fn build(
        dim: usize,
        items: Vec<(ChunkId, Vec<f32>)>,
        p: HnswParams,
    ) -> Result<VectorIndex> {
        let n = items.len();
        let mut keys = Vec::with_capacity(n);
        let mut vectors = Vec::with_capacity(n * dim);
        for (k, v) in items {
            if v.len() != dim {
                return Err(Error::Internal(format!(
                    "vector of passage {k} has {} values, expected {dim}",
                    v.len()
                )));
            }
            keys.push(k);
            vectors.extend_from_slice(&v);
        }
        let hnsw = Self::graph(dim, &vectors, p);
        let flat = FlatGraph::from_hnsw(&hnsw, keys.len());
        Ok(VectorIndex {
            dim,
            positions: positions_of(&keys),
            keys,
            vectors,
            hnsw,
            flat,
            ef_search: p.ef_search,
        })
    }

    fn graph(dim: usize, vectors: &[f32], p: HnswParams) -> Hnsw<'static, f32, DotDistance> {
        let n = vectors.len() / dim.max(1);
        // hnsw_rs dumps only graphs declared with its maximum of 16 layers (levels are drawn
        // randomly, so small graphs use few of them anyway)
        let hnsw = Hnsw::new(
            p.m.clamp(2, 128),
            n.max(1),
            16,
            p.ef_construction.max(p.m),
            DotDistance,
        );
        let data: Vec<(&[f32], usize)> = vectors
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, v)| (v, i))
            .collect();
        hnsw.parallel_insert_slice(&data);
        hnsw
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// All (key, vector) pairs, to carry unchanged passages into the next generation.
    pub fn iter(&self) -> impl Iterator<Item = (ChunkId, &[f32])> {
        self.keys
            .iter()
            .copied()
            .zip(self.vectors.chunks_exact(self.dim))
    }

    /// The mean of all vectors, normalised: what the knowledge base is about in general. A
    /// question as close to this as to its best passage matches nothing in particular.
    pub fn centroid(&self) -> Vec<f32> {
        self.centroid_of(|_| true)
    }

    /// The normalised mean of the vectors of the passages `keep` accepts.
    pub fn centroid_of(&self, keep: impl Fn(ChunkId) -> bool) -> Vec<f32> {
        let mut c = vec![0f32; self.dim];
        for (k, v) in self.keys.iter().zip(self.vectors.chunks_exact(self.dim)) {
            if !keep(*k) {
                continue;
            }
            for (a, b) in c.iter_mut().zip(v) {
                *a += b;
            }
        }
        let n = c.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            for x in &mut c {
                *x /= n;
            }
        }
        c
    }

    /// The stored vector of a passage.
    pub fn vector(&self, key: ChunkId) -> Option<&[f32]> {
        let i = *self.positions.get(&key)? as usize;
        self.vectors.get(i * self.dim..(i + 1) * self.dim)
    }

    /// Approximate `k` nearest passages: (key, cosine similarity), best first.
    pub fn search(&self, q: &[f32], k: usize) -> Vec<(ChunkId, f32)> {
        if self.is_empty() || q.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let mut found = self
            .flat
            .search(&self.vectors, self.dim, q, self.ef_search.max(k));
        found.truncate(k);
        found
            .into_iter()
            .filter_map(|(i, s)| self.keys.get(i as usize).map(|key| (*key, s)))
            .collect()
    }

    /// Exact `k` nearest among the vectors whose position `accept`s.
    pub fn exact(
        &self,
        q: &[f32],
        k: usize,
        accept: impl Fn(ChunkId) -> bool,
    ) -> Vec<(ChunkId, f32)> {
        if q.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let mut all: Vec<(ChunkId, f32)> = self
            .keys
            .iter()
            .zip(self.vectors.chunks_exact(self.dim))
            .filter(|(key, _)| accept(**key))
            .map(|(key, v)| (*key, dot(q, v)))
            .collect();
        let order =
            |a: &(ChunkId, f32), b: &(ChunkId, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if all.len() > k {
            all.select_nth_unstable_by(k - 1, order);
            all.truncate(k);
        }
        all.sort_by(order);
        all
    }

    /// Writes the index into `dir` (created if missing).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join("vectors.bin");
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?);
        let mut write = |b: &[u8]| f.write_all(b).map_err(|e| Error::io(&path, e));
        write(MAGIC)?;
        write(&(self.dim as u64).to_le_bytes())?;
        write(&(self.keys.len() as u64).to_le_bytes())?;
        for k in &self.keys {
            write(&k.0.to_le_bytes())?;
        }
        for v in &self.vectors {
            write(&v.to_le_bytes())?;
        }
        let file = f
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        let used = self
            .hnsw
            .file_dump(dir, HNSW_BASENAME)
            .map_err(|e| Error::Index(format!("writing the HNSW graph: {e}")))?;
        if used != HNSW_BASENAME {
            return Err(Error::Index(format!(
                "the HNSW graph was written as {used}, not {HNSW_BASENAME}"
            )));
        }
        Ok(())
    }

    /// Reads an index written by [`VectorIndex::save`]. A damaged graph is rebuilt from the
    /// vectors instead of failing; damaged vectors are an error.
    pub fn load(dir: &Path, p: HnswParams) -> Result<VectorIndex> {
        let path = dir.join("vectors.bin");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let bad = |why: &str| Error::Index(format!("{}: {why}", path.display()));
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err(bad("not a kefu vector file"));
        }
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&bytes[o..o + 8]);
            u64::from_le_bytes(a)
        };
        let dim = u64_at(8) as usize;
        let n = u64_at(16) as usize;
        let expect = 24usize
            .checked_add(
                n.checked_mul(8 + dim * 4)
                    .ok_or_else(|| bad("size overflow"))?,
            )
            .ok_or_else(|| bad("size overflow"))?;
        if dim == 0 || bytes.len() != expect {
            return Err(bad("truncated or malformed"));
        }
        let keys: Vec<ChunkId> = (0..n).map(|i| ChunkId(u64_at(24 + i * 8))).collect();
        let base = 24 + n * 8;
        let vectors: Vec<f32> = bytes[base..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let dir_owned = dir.to_path_buf();
        // hnsw_rs panics on a damaged file: contain it and rebuild the graph from the vectors
        let loaded = std::panic::catch_unwind(move || {
            let io: &'static mut HnswIo =
                Box::leak(Box::new(HnswIo::new(&dir_owned, HNSW_BASENAME)));
            io.load_hnsw::<f32, DotDistance>()
        });
        let hnsw = match loaded {
            Ok(Ok(h)) if h.get_nb_point() == n => h,
            _ => {
                tracing::warn!(dir = %dir.display(), "the HNSW graph is missing or damaged; rebuilding it from the stored vectors");
                Self::graph(dim, &vectors, p)
            }
        };
        let flat = FlatGraph::from_hnsw(&hnsw, keys.len());
        Ok(VectorIndex {
            dim,
            positions: positions_of(&keys),
            keys,
            vectors,
            hnsw,
            flat,
            ef_search: p.ef_search,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = dot(&v, &v).sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    fn sample(n: usize, dim: usize) -> Vec<(ChunkId, Vec<f32>)> {
        // deterministic pseudo-random vectors
        let mut x: u64 = 42;
        (0..n)
            .map(|i| {
                let v: Vec<f32> = (0..dim)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((x >> 33) as f32 / u32::MAX as f32) - 0.25
                    })
                    .collect();
                (ChunkId(i as u64 * 7 + 1), unit(v))
            })
            .collect()
    }

    const P: HnswParams = HnswParams {
        m: 16,
        ef_construction: 100,
        ef_search: 64,
    };

    #[test]
    fn approximate_search_agrees_with_exact_and_survives_a_round_trip() {
        let items = sample(600, 32);
        let idx = VectorIndex::build(32, items.clone(), P).expect("build");
        let mut hits = 0;
        for (_, q) in items.iter().take(50) {
            let a: Vec<ChunkId> = idx.search(q, 10).into_iter().map(|x| x.0).collect();
            let e: Vec<ChunkId> = idx
                .exact(q, 10, |_| true)
                .into_iter()
                .map(|x| x.0)
                .collect();
            hits += a.iter().filter(|k| e.contains(k)).count();
        }
        assert!(hits as f32 / 500.0 >= 0.9, "recall {}", hits as f32 / 500.0);
        // a vector's nearest neighbour is itself
        assert_eq!(idx.exact(&items[3].1, 1, |_| true)[0].0, items[3].0);
        let dir = tempfile::tempdir().expect("tempdir");
        idx.save(dir.path()).expect("save");
        let back = VectorIndex::load(dir.path(), P).expect("load");
        assert_eq!(back.len(), 600);
        assert_eq!(back.search(&items[5].1, 1)[0].0, items[5].0);
        // a damaged graph is rebuilt, damaged vectors are an error
        std::fs::write(dir.path().join("hnsw.hnsw.graph"), b"garbage").expect("write");
        let rebuilt = VectorIndex::load(dir.path(), P).expect("rebuilds");
        assert_eq!(rebuilt.search(&items[7].1, 1)[0].0, items[7].0);
        std::fs::write(dir.path().join("vectors.bin"), b"KEFUVEC1 short").expect("write");
        assert!(VectorIndex::load(dir.path(), P).is_err());
    }

    #[test]
    fn dot_matches_a_plain_sum_at_every_length() {
        for n in [0usize, 1, 7, 16, 31, 32, 33, 384, 390] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "n = {n}");
            assert!((dot_body(&a, &b) - plain).abs() < 1e-4, "n = {n}");
        }
        assert_eq!(dot(&[1.0, 2.0], &[3.0]), 3.0);
    }

    #[test]
    fn exact_search_honours_the_filter_and_wrong_dimensions_are_refused() {
        let items = sample(100, 8);
        let idx = VectorIndex::build(8, items.clone(), P).expect("build");
        let only = items[10].0;
        let r = idx.exact(&items[0].1, 5, |k| k == only);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, only);
        assert!(idx.search(&[1.0, 0.0], 5).is_empty());
        assert!(VectorIndex::build(8, vec![(ChunkId(1), vec![1.0; 3])], P).is_err());
    }
}
