//! Typed configuration: `config.toml`, then `KEFU__SECTION__KEY` environment overrides, then
//! [`Config::validate`]. Unknown keys are rejected with their dotted name; relative paths are
//! resolved against the folder of the configuration file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod answer;
mod chat;
mod corpus;
mod crm;
mod http;
mod index;
mod records;
mod rerank;
mod search;
mod vector;

pub use answer::{AnswerConfig, LlmConfig};
pub use chat::ChatConfig;
pub use corpus::{CorpusConfig, RedactConfig};
pub use crm::{CrmConfig, CrmFields};
/// kefu's field names per object of a customer record, as `[crm.fields]` maps them.
pub mod crm_fields {
    pub use super::crm::{
        CUSTOMER_FIELDS, PURCHASE_FIELDS, REPAIR_FIELDS, TIANCARE_FIELDS, VALUE_FIELDS,
    };
}
pub use http::{ApiKeyConfig, HttpConfig};
pub use index::{AnalysisConfig, ChunkConfig, IndexConfig};
pub use records::RecordsConfig;
pub use rerank::{CrossEncoderConfig, RerankConfig};
pub use search::{
    BoostProfiles, FieldBoosts, FusionConfig, FusionMethod, LexicalScale, SearchConfig,
};
pub use vector::{ModelsConfig, Precision, VectorConfig};

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
    pub records: RecordsConfig,
    pub chat: ChatConfig,
    /// An external CRM to look customers up in (absent: the embedded directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm: Option<CrmConfig>,
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
            &mut self.records.path,
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

    /// Checks every value whose type alone does not make it valid: each section checks its
    /// own keys.
    pub fn validate(&self) -> Result<()> {
        self.corpus.validate()?;
        self.http.validate()?;
        self.index.validate()?;
        self.records.validate()?;
        self.chat.validate()?;
        if let Some(crm) = &self.crm {
            crm.validate()?;
        }
        self.chunk.validate()?;
        self.search.validate()?;
        self.answer.validate()?;
        self.rerank.validate()?;
        self.vector.validate()
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
