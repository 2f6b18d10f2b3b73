//! Reading a lexical index: BM25 with per-field weights over tantivy's postings, filters,
//! collection statistics by scope, and passages by id.

use std::sync::Arc;

use tantivy::columnar::Column;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::Postings;
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};
use tantivy::{DocSet, InvertedIndexReader, TERMINATED};

use super::topk::{select_top_k, Ranked};
use super::*;
use crate::analyze::{Analyzer, Query, QueryTerms};
use crate::chunk::Chunk;
use crate::config::FieldBoosts;
use crate::domain::ChunkId;
use crate::error::{Error, Result};

/// One segment's readers for the scored fields.
struct SegmentData {
    max_doc: u32,
    alive: Option<tantivy::fastfield::AliveBitSet>,
    inverted: Vec<Arc<InvertedIndexReader>>,
    norms: Vec<FieldNormReader>,
    reader_index: usize,
}

/// Searches one committed state of a lexical index. Cheap to share across threads.
///
/// Scoring is BM25 with per-field weights, computed here over tantivy's postings (exhaustive
/// term-at-a-time accumulation into a dense score array per segment, then a top-k heap): at
/// knowledge-base sizes (up to a few hundred thousand passages) this is faster than a
/// document-at-a-time union when queries have many terms, and it makes k1 and b settable.
pub struct LexicalReader {
    searcher: Searcher,
    keys: Vec<Column<u64>>,
    fields: Fields,
    analyzer: Arc<Analyzer>,
    segments: Vec<SegmentData>,
    /// Average field length of each scored field.
    avgdl: [f32; SCORED],
    num_docs: u64,
    /// Where each live passage is stored.
    addresses: std::collections::HashMap<ChunkId, DocAddress>,
    /// Each document's whole metadata (stored once per document), by id.
    metas: std::collections::HashMap<String, Arc<crate::domain::DocMeta>>,
    /// Per segment, the public passages as a bitset, and how many are alive.
    public: Vec<Vec<u64>>,
    public_docs: u64,
    norm_tables: std::sync::Mutex<Vec<NormTableEntry>>,
}

thread_local! {
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A scored query term.
struct QueryTerm {
    slot: usize,
    /// The term's dictionary entry in each segment.
    infos: Vec<Option<tantivy::postings::TermInfo>>,
    /// boost × idf × (k1 + 1)
    weight: f32,
}

/// Per scored field, k1·(1 − b + b·len/avgdl) for each of the 256 field-length codes.
type NormTable = [[f32; 256]; SCORED];

/// A cached [`NormTable`] keyed by the bits of (k1, b).
type NormTableEntry = ((u32, u32), Arc<NormTable>);

impl LexicalReader {
    pub(super) fn new(
        searcher: Searcher,
        fields: Fields,
        analyzer: Arc<Analyzer>,
    ) -> Result<LexicalReader> {
        let scored = Self::scored_fields(&fields);
        let mut keys = Vec::with_capacity(searcher.segment_readers().len());
        let mut segments = Vec::new();
        for (i, seg) in searcher.segment_readers().iter().enumerate() {
            keys.push(seg.fast_fields().u64("key")?);
            let mut inverted = Vec::with_capacity(SCORED);
            let mut norms = Vec::with_capacity(SCORED);
            for f in scored {
                inverted.push(seg.inverted_index(f)?);
                norms.push(seg.get_fieldnorms_reader(f)?);
            }
            segments.push(SegmentData {
                max_doc: seg.max_doc(),
                alive: seg.alive_bitset().cloned(),
                inverted,
                norms,
                reader_index: i,
            });
        }
        let num_docs = searcher.num_docs();
        let total_docs: u64 = searcher
            .segment_readers()
            .iter()
            .map(|s| s.max_doc() as u64)
            .sum();
        let mut avgdl = [1.0f32; SCORED];
        for (slot, f) in scored.iter().enumerate() {
            let tokens: u64 = searcher
                .segment_readers()
                .iter()
                .map(|s| {
                    s.inverted_index(*f)
                        .map(|ii| ii.total_num_tokens())
                        .unwrap_or(0)
                })
                .sum();
            if total_docs > 0 && tokens > 0 {
                avgdl[slot] = tokens as f32 / total_docs as f32;
            }
        }
        let mut reader = LexicalReader {
            searcher,
            keys,
            fields,
            analyzer,
            segments,
            avgdl,
            num_docs,
            addresses: Default::default(),
            metas: Default::default(),
            public: Vec::new(),
            public_docs: 0,
            norm_tables: std::sync::Mutex::new(Vec::new()),
        };
        reader.metas = reader.load_metas()?;
        reader.addresses = reader.load_addresses();
        let only_public: FilterSet = vec![(FilterKey::Audience, vec!["public".to_string()])];
        let mut public = Vec::with_capacity(reader.segments.len());
        let mut public_docs = 0u64;
        for seg in &reader.segments {
            let bits = reader
                .filter_bits(seg, &only_public)?
                .unwrap_or_else(|| vec![0; (seg.max_doc as usize).div_ceil(64)]);
            public_docs += (0..seg.max_doc)
                .filter(|&d| {
                    bits[d as usize / 64] & (1 << (d % 64)) != 0
                        && seg.alive.as_ref().is_none_or(|a| a.is_alive(d))
                })
                .count() as u64;
            public.push(bits);
        }
        reader.public = public;
        reader.public_docs = public_docs;
        Ok(reader)
    }

    /// The address of every live passage, by id (from the key column).
    fn load_addresses(&self) -> std::collections::HashMap<ChunkId, DocAddress> {
        let mut out = std::collections::HashMap::with_capacity(self.num_docs as usize);
        for seg in &self.segments {
            let Some(keys) = self.keys.get(seg.reader_index) else {
                continue;
            };
            for d in 0..seg.max_doc {
                if seg.alive.as_ref().is_none_or(|a| a.is_alive(d)) {
                    if let Some(k) = keys.first(d) {
                        out.insert(ChunkId(k), DocAddress::new(seg.reader_index as u32, d));
                    }
                }
            }
        }
        out
    }

    /// The metadata of every document, read from the first passage of each.
    fn load_metas(&self) -> Result<std::collections::HashMap<String, Arc<crate::domain::DocMeta>>> {
        let mut out = std::collections::HashMap::new();
        let term = Term::from_field_text(self.fields.first, "1");
        for seg in &self.segments {
            let reader = &self.searcher.segment_readers()[seg.reader_index];
            let inverted = reader.inverted_index(self.fields.first)?;
            let Some(ti) = inverted
                .get_term_info(&term)
                .map_err(|e| Error::Index(e.to_string()))?
            else {
                continue;
            };
            let mut postings = inverted
                .read_postings_from_terminfo(&ti, IndexRecordOption::Basic)
                .map_err(|e| Error::Index(e.to_string()))?;
            let mut d = postings.doc();
            while d != TERMINATED {
                if seg.alive.as_ref().is_none_or(|a| a.is_alive(d)) {
                    let doc: TantivyDocument = self
                        .searcher
                        .doc(DocAddress::new(seg.reader_index as u32, d))?;
                    if let Some(json) = doc.get_first(self.fields.doc_meta).and_then(|v| v.as_str())
                    {
                        let meta: crate::domain::DocMeta =
                            serde_json::from_str(json).map_err(|e| {
                                Error::Index(format!("stored document metadata is unreadable: {e}"))
                            })?;
                        out.insert(meta.id.clone(), Arc::new(meta));
                    }
                }
                d = postings.advance();
            }
        }
        Ok(out)
    }

    /// The number of passages a statistic of `stats` counts.
    fn docs_in(&self, stats: Stats) -> u64 {
        match stats {
            Stats::All => self.num_docs,
            Stats::Public => self.public_docs,
        }
    }

    /// The document frequency of a term within `stats`: tantivy's own count for every passage,
    /// the term's postings counted against the public bitset for public passages.
    fn doc_freq(
        &self,
        stats: Stats,
        si: usize,
        slot: usize,
        ti: &tantivy::postings::TermInfo,
    ) -> Result<u64> {
        match stats {
            Stats::All => Ok(ti.doc_freq as u64),
            Stats::Public => {
                let seg = &self.segments[si];
                let bits = &self.public[si];
                let mut postings = seg.inverted[slot]
                    .read_postings_from_terminfo(ti, IndexRecordOption::Basic)
                    .map_err(|e| Error::Index(e.to_string()))?;
                let mut n = 0u64;
                let mut d = postings.doc();
                while d != TERMINATED {
                    if bits[d as usize / 64] & (1 << (d % 64)) != 0 {
                        n += 1;
                    }
                    d = postings.advance();
                }
                Ok(n)
            }
        }
    }

    fn scored_fields(f: &Fields) -> [Field; SCORED] {
        [f.title, f.heading, f.body, f.cjk1, f.cjk2, f.pairs, f.ident]
    }

    /// Number of passages.
    pub fn num_docs(&self) -> u64 {
        self.num_docs
    }

    /// The analyzer the index was opened with.
    pub fn analyzer(&self) -> &Arc<Analyzer> {
        &self.analyzer
    }

    /// The length-normalisation table for (k1, b), computed once per pair.
    fn norm_table(&self, k1: f32, b: f32) -> Arc<NormTable> {
        let key = (k1.to_bits(), b.to_bits());
        if let Ok(tables) = self.norm_tables.lock() {
            if let Some((_, t)) = tables.iter().find(|(k, _)| *k == key) {
                return t.clone();
            }
        }
        let mut table: NormTable = [[0f32; 256]; SCORED];
        for (slot, row) in table.iter_mut().enumerate() {
            for (id, v) in row.iter_mut().enumerate() {
                let len = FieldNormReader::id_to_fieldnorm(id as u8) as f32;
                *v = k1 * (1.0 - b + b * len / self.avgdl[slot]);
            }
        }
        let table = Arc::new(table);
        if let Ok(mut tables) = self.norm_tables.lock() {
            tables.push((key, table.clone()));
        }
        table
    }

    /// The scored terms of a query. Terms absent from the index are left out, and so are
    /// terms found in more than `max_df` of all passages (they cost the most to score and add
    /// the least), unless that would leave the query empty.
    fn query_terms(
        &self,
        q: &QueryTerms,
        b: &FieldBoosts,
        keep_common: bool,
        stats: Stats,
    ) -> Result<(Vec<QueryTerm>, f32)> {
        let n = self.docs_in(stats).max(1) as f64;
        let max_df = (b.max_df.clamp(0.0, 1.0) as f64 * n).ceil() as u64;
        let streams: [(usize, f32, &[String]); SCORED] = [
            (0, b.title, &q.words),
            (1, b.heading, &q.words),
            (2, b.body, &q.words),
            (3, b.cjk_unigram, &q.cjk_unigrams),
            (4, b.cjk_bigram, &q.cjk_bigrams),
            (5, b.pairs, &q.pairs),
            (6, b.ident, &q.idents),
        ];
        let fields = Self::scored_fields(&self.fields);
        let mut kept = Vec::new();
        let mut common = Vec::new();
        let mut ideal = 0f32;
        for (slot, boost, terms) in streams {
            if boost <= 0.0 {
                continue;
            }
            for t in terms {
                let (df, infos) = self.term_df(fields[slot], slot, t, stats)?;
                let idf = (1.0 + (n - df as f64 + 0.5) / (df as f64 + 0.5)).ln() as f32;
                // terms absent from the index still count in the ideal score: a query whose
                // words the corpus lacks (another language, say) covers little of itself
                ideal += boost * idf * (b.k1 + 1.0);
                if df == 0 {
                    continue;
                }
                let qt = QueryTerm {
                    slot,
                    infos,
                    weight: boost * idf * (b.k1 + 1.0),
                };
                if df > max_df && !keep_common {
                    common.push(qt);
                } else {
                    kept.push(qt);
                }
            }
        }
        Ok((if kept.is_empty() { common } else { kept }, ideal))
    }

    /// Documents of a segment that pass the filters, as a bitset (`None`: no filters).
    fn filter_bits(&self, seg: &SegmentData, filters: &FilterSet) -> Result<Option<Vec<u64>>> {
        if filters.is_empty() {
            return Ok(None);
        }
        let words = (seg.max_doc as usize).div_ceil(64);
        let reader = &self.searcher.segment_readers()[seg.reader_index];
        let mut all: Option<Vec<u64>> = None;
        for (key, values) in filters {
            let field = self.fields.filter_field(*key);
            let inverted = reader.inverted_index(field)?;
            let mut any = vec![0u64; words];
            for v in values {
                let term = Term::from_field_text(field, &normalize_filter_value(*key, v));
                if let Some(ti) = inverted
                    .get_term_info(&term)
                    .map_err(|e| Error::Index(e.to_string()))?
                {
                    let mut postings = inverted
                        .read_postings_from_terminfo(&ti, IndexRecordOption::Basic)
                        .map_err(|e| Error::Index(e.to_string()))?;
                    let mut d = postings.doc();
                    while d != TERMINATED {
                        any[d as usize / 64] |= 1 << (d % 64);
                        d = postings.advance();
                    }
                }
            }
            all = Some(match all {
                None => any,
                Some(mut acc) => {
                    for (a, b) in acc.iter_mut().zip(any) {
                        *a &= b;
                    }
                    acc
                }
            });
        }
        Ok(all)
    }

    /// The `k` best passages for `query` under `filters`, scored with the field weights `b`
    /// (the profile of the query's language).
    pub fn search(
        &self,
        query: &Query,
        b: &FieldBoosts,
        k: usize,
        filters: &FilterSet,
        stats: Stats,
    ) -> Result<Vec<LexicalHit>> {
        let (terms, ideal) = self.query_terms(&query.terms, b, false, stats)?;
        if terms.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let norm_cache = self.norm_table(b.k1, b.b);
        let mut best: Vec<(Ranked, f32, u32, u32)> = Vec::new();
        for (si, seg) in self.segments.iter().enumerate() {
            let allowed = self.filter_bits(seg, filters)?;
            SCORES.with(|cell| -> Result<()> {
                let mut scores = cell.borrow_mut();
                scores.clear();
                scores.resize(seg.max_doc as usize, 0.0);
                for t in &terms {
                    let inverted = &seg.inverted[t.slot];
                    let Some(ti) = t.infos.get(si).and_then(Option::as_ref) else {
                        continue;
                    };
                    let mut block = inverted
                        .read_block_postings_from_terminfo(ti, IndexRecordOption::WithFreqs)
                        .map_err(|e| Error::Index(e.to_string()))?;
                    let norms = &seg.norms[t.slot];
                    let cache = &norm_cache[t.slot];

                    let w = t.weight;
                    let scores = scores.as_mut_slice();
                    loop {
                        let docs = block.docs();
                        if docs.is_empty() {
                            break;
                        }
                        for (&d, &tf) in docs.iter().zip(block.freqs()) {
                            let tf = tf as f32;
                            let norm = cache[norms.fieldnorm_id(d) as usize];
                            if let Some(s) = scores.get_mut(d as usize) {
                                *s += w * tf / (tf + norm);
                            }
                        }
                        block.advance();
                    }
                }
                let accept = |d: usize| {
                    allowed
                        .as_ref()
                        .is_none_or(|bits| bits[d / 64] & (1 << (d % 64)) != 0)
                        && seg.alive.as_ref().is_none_or(|a| a.is_alive(d as u32))
                };
                let postings: u64 = terms
                    .iter()
                    .filter_map(|t| t.infos.get(si).and_then(Option::as_ref))
                    .map(|ti| ti.doc_freq as u64)
                    .sum();
                let dense = postings > seg.max_doc as u64;
                for (score, doc) in select_top_k(&scores, k, dense, accept) {
                    best.push((
                        Ranked::new(score, seg.reader_index as u32, doc),
                        score,
                        seg.reader_index as u32,
                        doc,
                    ));
                }
                Ok(())
            })?;
        }
        best.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        best.truncate(k);
        let mut out = Vec::with_capacity(best.len());
        for (_, score, seg, doc) in best {
            let key = self
                .keys
                .get(seg as usize)
                .and_then(|c| c.first(doc))
                .ok_or_else(|| Error::Index("a hit has no key".into()))?;
            out.push(LexicalHit {
                score,
                coverage: if ideal > 0.0 { score / ideal } else { 0.0 },
                key: ChunkId(key),
            });
        }
        Ok(out)
    }

    /// The document frequency within `stats` of each of `terms` (analysed as the stream
    /// `field` indexes), and the number of passages `stats` counts.
    pub fn doc_freqs(
        &self,
        field: TermField,
        terms: &[String],
        stats: Stats,
    ) -> Result<(Vec<u64>, u64)> {
        // the slots of the body (words) and identifier fields among the scored fields
        let slot = match field {
            TermField::Words => 2,
            TermField::Idents => 6,
        };
        let field = Self::scored_fields(&self.fields)[slot];
        let dfs = terms
            .iter()
            .map(|t| Ok(self.term_df(field, slot, t, stats)?.0))
            .collect::<Result<Vec<u64>>>()?;
        Ok((dfs, self.docs_in(stats)))
    }

    /// A term's document frequency within `stats` over every segment, and its term info in
    /// each segment (`None` where the segment lacks it).
    fn term_df(
        &self,
        field: Field,
        slot: usize,
        text: &str,
        stats: Stats,
    ) -> Result<(u64, Vec<Option<tantivy::postings::TermInfo>>)> {
        let term = Term::from_field_text(field, text);
        let mut infos = Vec::with_capacity(self.segments.len());
        let mut df = 0u64;
        for (si, seg) in self.segments.iter().enumerate() {
            let ti = seg.inverted[slot]
                .get_term_info(&term)
                .map_err(|e| Error::Index(e.to_string()))?;
            if let Some(ti) = &ti {
                df += self.doc_freq(stats, si, slot, ti)?;
            }
            infos.push(ti);
        }
        Ok((df, infos))
    }

    /// The metadata of every document in the index.
    pub fn documents(&self) -> Vec<Arc<crate::domain::DocMeta>> {
        let mut v: Vec<_> = self.metas.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// The idf-weighted share of the question's terms that occur anywhere in the index (0 when
    /// none does): low for a question about something the knowledge base never mentions.
    pub fn known_share(&self, query: &Query, b: &FieldBoosts, stats: Stats) -> Result<f32> {
        let (terms, ideal) = self.query_terms(&query.terms, b, true, stats)?;
        if ideal <= 0.0 {
            return Ok(0.0);
        }
        Ok(terms.iter().map(|t| t.weight).sum::<f32>() / ideal)
    }

    /// What each scored field contributes to the BM25 score of the passages `ids` for `query`
    /// (same weights as [`LexicalReader::search`], every query term the index knows, common
    /// ones included), each divided by the query's ideal score: per passage, in the order of
    /// [`FIELD_NAMES`], values in [0, 1) (zeros for an id the index does not hold). For
    /// reranking a few dozen candidates.
    pub fn field_scores(
        &self,
        query: &Query,
        b: &FieldBoosts,
        ids: &[ChunkId],
        stats: Stats,
    ) -> Result<Vec<[f32; SCORED]>> {
        let (terms, ideal) = self.query_terms(&query.terms, b, true, stats)?;
        let addrs: Vec<Option<DocAddress>> = ids
            .iter()
            .map(|id| self.addresses.get(id).copied())
            .collect();
        let mut out = vec![[0f32; SCORED]; ids.len()];
        if terms.is_empty() || ideal <= 0.0 {
            return Ok(out);
        }
        let norm_cache = self.norm_table(b.k1, b.b);
        for (si, seg) in self.segments.iter().enumerate() {
            // this segment's candidates, by document number
            let mut docs: Vec<(u32, usize)> = addrs
                .iter()
                .enumerate()
                .filter_map(|(i, a)| a.map(|a| (i, a)))
                .filter(|(_, a)| a.segment_ord as usize == seg.reader_index)
                .map(|(i, a)| (a.doc_id, i))
                .collect();
            if docs.is_empty() {
                continue;
            }
            docs.sort_unstable();
            for t in &terms {
                let Some(ti) = t.infos.get(si).and_then(Option::as_ref) else {
                    continue;
                };
                let mut postings = seg.inverted[t.slot]
                    .read_postings_from_terminfo(ti, IndexRecordOption::WithFreqs)
                    .map_err(|e| Error::Index(e.to_string()))?;
                let norms = &seg.norms[t.slot];
                let cache = &norm_cache[t.slot];
                for &(d, i) in &docs {
                    let mut at = postings.doc();
                    if at == TERMINATED {
                        break;
                    }
                    if at < d {
                        at = postings.seek(d);
                    }
                    if at == d {
                        let tf = postings.term_freq() as f32;
                        let norm = cache[norms.fieldnorm_id(d) as usize];
                        out[i][t.slot] += t.weight * tf / (tf + norm) / ideal;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The keys of the passages that pass `filters`.
    pub fn filter_keys(&self, filters: &FilterSet) -> Result<std::collections::HashSet<ChunkId>> {
        let mut out = std::collections::HashSet::new();
        for (i, seg) in self.segments.iter().enumerate() {
            let bits = self.filter_bits(seg, filters)?;
            for d in 0..seg.max_doc {
                let ok = bits
                    .as_ref()
                    .is_none_or(|b| b[d as usize / 64] & (1 << (d % 64)) != 0)
                    && seg.alive.as_ref().is_none_or(|a| a.is_alive(d));
                if ok {
                    if let Some(k) = self.keys.get(i).and_then(|c| c.first(d)) {
                        out.insert(ChunkId(k));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The stored passage with id `key`, if the index holds it.
    pub fn passage(&self, key: ChunkId) -> Result<Option<Chunk>> {
        match self.addresses.get(&key) {
            Some(a) => self.chunk(*a).map(Some),
            None => Ok(None),
        }
    }

    /// The stored passage at `addr`.
    fn chunk(&self, addr: DocAddress) -> Result<Chunk> {
        let doc: TantivyDocument = self.searcher.doc(addr)?;
        let payload = doc
            .get_first(self.fields.payload)
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::Index("a passage has no stored payload".into()))?;
        let mut chunk: Chunk = serde_json::from_str(payload)
            .map_err(|e| Error::Index(format!("stored passage is unreadable: {e}")))?;
        // the passage stores the scalars of its document's metadata; the whole is kept once
        if let Some(meta) = self.metas.get(&chunk.meta.id) {
            if meta.source == chunk.meta.source {
                chunk.meta = meta.clone();
            }
        }
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_metadata_is_stored_once_not_in_every_passage() {
        let config = crate::config::Config::default();
        let analyzer = Arc::new(Analyzer::new(&config.analysis).expect("analyzer"));
        let products: Vec<String> = (0..60).map(|i| format!("P{i:05}-LONGMODELNAME")).collect();
        let body: String = (0..40)
            .map(|i| {
                format!("## Section {i}\n\nThe vorpalite widget section {i} explains step {i}.\n\n")
            })
            .collect();
        let src = format!(
            "---\nid: amp\nproducts: [{}]\n---\n# Amp\n\n{body}",
            products.join(", ")
        );
        let rel = "amp.md";
        let ing = crate::ingest::parse_bytes(
            src.as_bytes(),
            crate::ingest::Format::Markdown,
            Path::new(rel),
            rel,
            &config,
        )
        .expect("parses");
        let chunks = crate::chunk::chunk_document(&ing.documents[0], &config.chunk);
        assert!(chunks.len() > 10);
        let index = LexicalIndex::create_in_ram(analyzer).expect("index");
        let writer = index.writer(64, 1).expect("writer");
        for c in &chunks {
            writer.add(c).expect("add");
        }
        writer.commit(true).expect("commit");
        let reader = index.reader().expect("reader");
        let mut stored_products = 0;
        for c in &chunks {
            let addr = *reader.addresses.get(&c.id).expect("stored");
            let doc: TantivyDocument = reader.searcher.doc(addr).expect("doc");
            for field in [reader.fields.payload, reader.fields.doc_meta] {
                if let Some(v) = doc.get_first(field).and_then(|v| v.as_str()) {
                    stored_products += v.matches("P00059-LONGMODELNAME").count();
                }
            }
            // every passage read back has the whole metadata
            assert_eq!(reader.chunk(addr).expect("chunk").meta.products, products);
        }
        assert_eq!(
            stored_products, 1,
            "the product list is stored once per document"
        );
    }
}
