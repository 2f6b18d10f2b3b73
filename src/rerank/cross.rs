//! An optional user-supplied cross-encoder (a BERT-style ONNX model reading a question and a
//! passage together and giving one relevance logit, output named `logits`), run through
//! fastembed's user-defined reranker on kefu's ONNX Runtime.

use std::path::Path;
use std::sync::Mutex;

use fastembed::{
    RerankInitOptionsUserDefined, TextRerank, TokenizerFiles, UserDefinedRerankingModel,
};

use crate::config::{Config, CrossEncoderConfig};
use crate::error::{Error, Result};

/// A loaded cross-encoder.
pub struct CrossEncoder {
    model: Mutex<TextRerank>,
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| Error::io(p, e))
}

impl CrossEncoder {
    /// Loads the model named by `[rerank.cross_encoder]`: `onnx` (the model file) and
    /// `tokenizer` (a folder with `tokenizer.json`, and optionally `config.json`,
    /// `special_tokens_map.json` and `tokenizer_config.json`). Needs ONNX Runtime from
    /// `kefu models fetch`.
    pub fn load(ce: &CrossEncoderConfig, config: &Config) -> Result<CrossEncoder> {
        let runtime = crate::models::find(config)
            .map(|f| f.runtime)
            .ok_or_else(|| {
                Error::NotAvailable(
                    "the cross-encoder needs ONNX Runtime: run `kefu models fetch` first".into(),
                )
            })?;
        let env = crate::embed::ort_env(&runtime)?;
        let dir = &ce.tokenizer;
        let optional = |name: &str, default: &[u8]| -> Result<Vec<u8>> {
            let p = dir.join(name);
            if p.exists() {
                read(&p)
            } else {
                Ok(default.to_vec())
            }
        };
        let tokenizer_config = dir.join("tokenizer_config.json");
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read(&dir.join("tokenizer.json"))?,
            config_file: optional("config.json", b"{}")?,
            special_tokens_map_file: optional("special_tokens_map.json", b"{}")?,
            tokenizer_config_file: if tokenizer_config.exists() {
                read(&tokenizer_config)?
            } else {
                format!(
                    r#"{{"model_max_length": {}, "pad_token": "[PAD]"}}"#,
                    ce.max_length
                )
                .into_bytes()
            },
        };
        let onnx = read(&ce.onnx)?;
        let model = UserDefinedRerankingModel::new(onnx, tokenizer_files);
        let opts = RerankInitOptionsUserDefined::new()
            .with_environment(env)
            .with_max_length(ce.max_length)
            .with_intra_threads(ce.threads.max(1))
            .with_session_config("session.intra_op.allow_spinning", "0");
        let rr = TextRerank::try_new_from_user_defined(model, opts).map_err(|e| {
            Error::config(
                "rerank.cross_encoder",
                format!("cannot load {}: {e}", ce.onnx.display()),
            )
        })?;
        Ok(CrossEncoder {
            model: Mutex::new(rr),
        })
    }

    /// The relevance logit of each passage for the question, in the passages' order.
    pub fn score(&self, question: &str, passages: &[&str]) -> Result<Vec<f32>> {
        let mut model = self
            .model
            .lock()
            .map_err(|_| Error::Internal("cross-encoder lock poisoned".into()))?;
        let results = model
            .rerank(question, passages, false, Some(16))
            .map_err(|e| Error::Internal(format!("the cross-encoder failed: {e}")))?;
        let mut scores = vec![f32::NEG_INFINITY; passages.len()];
        for r in results {
            if let Some(s) = scores.get_mut(r.index) {
                *s = r.score;
            }
        }
        Ok(scores)
    }
}
