//! Embeddings: the [`Embedder`] trait and its implementation for multilingual-e5-small on ONNX
//! Runtime through fastembed. e5 wants `query: ` before questions and `passage: ` before
//! passages; the model's output is mean-pooled and L2-normalised. Text is normalised by the
//! model's own table first (see `models::tokenizer`). Passages are embedded in batches sorted by
//! length, so a batch pads little.

pub mod cache;

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, OutputKey, Pooling, QuantizationMode, TextEmbedding, TokenizerFiles,
    UserDefinedEmbeddingModel,
};

use crate::error::{Error, Result};
use crate::models::tokenizer::Normalizer;
use crate::models::ModelFiles;

/// Turns text into unit vectors.
pub trait Embedder: Send + Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Embeds questions.
    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// Embeds passages.
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// Changes whenever the vectors for the same text would change (model, conversion, prefixes).
    fn fingerprint(&self) -> &str;
}

/// The text embedded for a passage: its title and heading path give the passage context.
pub fn embed_text(title: &str, heading_path: &[String], text: &str) -> String {
    let mut s = String::with_capacity(title.len() + text.len() + 8);
    if !title.trim().is_empty() {
        s.push_str(title.trim());
        s.push_str(". ");
    }
    for h in heading_path {
        s.push_str(h);
        s.push_str(". ");
    }
    s.push_str(text);
    s
}

/// Cosine of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

static ORT_ENV: OnceLock<ort::environment::Environment> = OnceLock::new();

/// Turns off ONNX Runtime's own usage store: the Linux builds keep a database (and a device id)
/// under `~/.cache/Microsoft/DeveloperTools/.onnxruntime` and write it on every inference
/// unless `ORT_DISABLE_TELEMETRY` is set (`with_telemetry(false)` does not stop it). Call it
/// first thing in `main`, before any thread starts (it sets an environment variable); a value
/// the user set is kept.
pub fn quiet_runtime() {
    if std::env::var_os("ORT_DISABLE_TELEMETRY").is_none() {
        std::env::set_var("ORT_DISABLE_TELEMETRY", "1");
    }
}

/// The process's one ONNX Runtime environment, loading the library at `lib` on first use.
pub(crate) fn ort_env(lib: &Path) -> Result<ort::environment::Environment> {
    if let Some(e) = ORT_ENV.get() {
        return Ok(e.clone());
    }
    let env = ort::init_from(lib)
        .map_err(|e| {
            Error::NotAvailable(format!(
                "cannot load ONNX Runtime from {}: {e}",
                lib.display()
            ))
        })?
        .with_name("kefu")
        .with_telemetry(false)
        .build()
        .map_err(|e| Error::NotAvailable(format!("cannot start ONNX Runtime: {e}")))?;
    Ok(ORT_ENV.get_or_init(|| env).clone())
}

/// Options of the e5 embedder.
#[derive(Debug, Clone)]
pub struct E5Options {
    /// Intra-op threads of ONNX Runtime (at least 1).
    pub threads: usize,
    /// At most this many texts per inference batch.
    pub batch_size: usize,
    /// At most about this many tokens (padded) per inference batch: long passages go one or two
    /// at a time, short questions many at a time (measured fastest on two cores).
    pub batch_tokens: usize,
    /// Longest input in tokens (the model reads 512 at most).
    pub max_tokens: usize,
    /// Model sessions, so that this many calls embed at once.
    pub sessions: usize,
}

impl Default for E5Options {
    fn default() -> Self {
        E5Options {
            threads: 1,
            batch_size: 32,
            batch_tokens: 512,
            max_tokens: 512,
            sessions: 1,
        }
    }
}

impl E5Options {
    /// The options for embedding passages while indexing (`vector.index_threads`, 0 = every
    /// core; one session).
    pub fn for_indexing(v: &crate::config::VectorConfig) -> E5Options {
        E5Options {
            threads: crate::config::threads_or_cores(v.index_threads),
            batch_size: v.batch_size,
            batch_tokens: v.batch_tokens,
            max_tokens: 512,
            sessions: 1,
        }
    }

    /// The options for embedding questions (`vector.query_threads` per question,
    /// `vector.query_sessions` questions at once).
    pub fn for_queries(v: &crate::config::VectorConfig) -> E5Options {
        E5Options {
            threads: v.query_threads,
            batch_size: v.batch_size,
            batch_tokens: v.batch_tokens,
            max_tokens: 512,
            sessions: v.query_sessions.max(1),
        }
    }
}

/// multilingual-e5-small on ONNX Runtime.
pub struct E5Embedder {
    /// One or more sessions of the model; a call takes a free one.
    models: Vec<Mutex<TextEmbedding>>,
    next: std::sync::atomic::AtomicUsize,
    normalizer: Normalizer,
    opts: E5Options,
    fingerprint: String,
}

impl E5Embedder {
    /// Loads the converted model.
    pub fn load(files: &ModelFiles, opts: E5Options) -> Result<E5Embedder> {
        let env = ort_env(&files.runtime)?;
        let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io(p, e));
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read(&files.tokenizer)?,
            config_file: br#"{"pad_token_id": 1}"#.to_vec(),
            // empty: special tokens would split texts that contain "<s>" literally
            special_tokens_map_file: b"{}".to_vec(),
            tokenizer_config_file: format!(
                r#"{{"model_max_length": {}, "pad_token": "<pad>"}}"#,
                opts.max_tokens
            )
            .into_bytes(),
        };
        let onnx = read(&files.onnx)?;
        let mut models = Vec::with_capacity(opts.sessions.max(1));
        for _ in 0..opts.sessions.max(1) {
            let mut model = UserDefinedEmbeddingModel::new(onnx.clone(), tokenizer_files.clone())
                .with_pooling(Pooling::Mean)
                .with_quantization(QuantizationMode::None);
            model.output_key = Some(OutputKey::ByName("last_hidden_state"));
            let init = InitOptionsUserDefined::new()
                .with_environment(env.clone())
                .with_max_length(opts.max_tokens)
                .with_intra_threads(opts.threads.max(1))
                .with_session_config("session.intra_op.allow_spinning", "0");
            let te = TextEmbedding::try_new_from_user_defined(model, init).map_err(|e| {
                Error::NotAvailable(format!(
                    "cannot load the embedding model {}: {e}",
                    files.onnx.display()
                ))
            })?;
            models.push(Mutex::new(te));
        }
        let norm_text = std::fs::read_to_string(&files.normalization)
            .map_err(|e| Error::io(&files.normalization, e))?;
        let normalizer = Normalizer::from_json(&norm_text)
            .map_err(|e| Error::bad_file(&files.normalization, e))?;
        let fingerprint = format!(
            "multilingual-e5-small;{};{};max{}",
            files
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            files.precision.name(),
            opts.max_tokens
        );
        Ok(E5Embedder {
            models,
            next: std::sync::atomic::AtomicUsize::new(0),
            normalizer,
            opts,
            fingerprint,
        })
    }

    /// A free session if there is one, else the next in turn (waiting for it).
    fn session(&self) -> Result<std::sync::MutexGuard<'_, TextEmbedding>> {
        let n = self.models.len();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..n {
            if let Ok(g) = self.models[(start + i) % n].try_lock() {
                return Ok(g);
            }
        }
        self.models[start % n]
            .lock()
            .map_err(|_| Error::Internal("embedding model lock poisoned".into()))
    }

    fn embed_prefixed(&self, prefix: &str, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let prepared: Vec<String> = texts
            .iter()
            .map(|t| format!("{prefix}{}", self.normalizer.normalize(t)))
            .collect();
        // sort by length so each batch pads little, then restore the order
        let mut order: Vec<usize> = (0..prepared.len()).collect();
        order.sort_by_key(|&i| prepared[i].len());
        let sorted: Vec<&str> = order.iter().map(|&i| prepared[i].as_str()).collect();
        let mut model = self.session()?;
        // batches by a token budget: sorted by length, each batch pads to its longest text
        let estimate =
            |t: &str| (crate::text::count_tokens(t) * 3 / 2 + 2).min(self.opts.max_tokens);
        let mut vecs = Vec::with_capacity(sorted.len());
        let mut start = 0;
        while start < sorted.len() {
            let mut end = start + 1;
            while end < sorted.len()
                && end - start < self.opts.batch_size
                && (end - start + 1) * estimate(sorted[end]) <= self.opts.batch_tokens.max(1)
            {
                end += 1;
            }
            let part = model
                .embed(&sorted[start..end], Some(end - start))
                .map_err(|e| Error::Internal(format!("embedding failed: {e}")))?;
            vecs.extend(part);
            start = end;
        }
        drop(model);
        let mut out = vec![Vec::new(); prepared.len()];
        for (v, &i) in vecs.into_iter().zip(&order) {
            out[i] = v;
        }
        Ok(out)
    }
}

impl Embedder for E5Embedder {
    fn dim(&self) -> usize {
        384
    }

    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_prefixed("query: ", texts)
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_prefixed("passage: ", texts)
    }

    fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}
