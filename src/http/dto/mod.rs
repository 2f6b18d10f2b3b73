//! The wire format: the only place core types become JSON, and JSON bodies become requests.
//! Every type here derives its OpenAPI schema (utoipa), so the published document is the
//! format the server writes; the core types stay free to change shape.

pub mod answer;
pub mod chat;
pub mod documents;
pub mod jobs;
pub mod search;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoResponses, ToSchema};

use super::error::ApiError;
pub use super::error::{ErrorBody, ErrorDetail};

/// A byte range `[start, end)` of a source file or passage, written as a two-number array.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Span(usize, usize);

pub(crate) fn span((start, end): (usize, usize)) -> Span {
    Span(start, end)
}

impl utoipa::PartialSchema for Span {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .min_items(Some(2))
            .max_items(Some(2))
            .description(Some("byte range [start, end)"))
            .into()
    }
}

impl utoipa::ToSchema for Span {}

/// One value or a list of alternatives.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Filters as requests send them: `type`, `product`, `lang`, `audience`, `tag`, `category`,
/// `doc_id`, each a string or a list of alternatives.
pub type FilterMap = BTreeMap<String, OneOrMany>;

/// `key=value` pairs of a request's filters object; an empty list is refused (it would
/// silently remove the filter).
pub(crate) fn filter_pairs(filters: FilterMap) -> Result<Vec<String>, ApiError> {
    let mut pairs = Vec::new();
    for (k, v) in filters {
        match v {
            OneOrMany::One(v) => pairs.push(format!("{k}={v}")),
            OneOrMany::Many(vs) if vs.is_empty() => {
                return Err(ApiError::bad_request(format!(
                    "filter `{}` is an empty list; leave the key out to not filter by it",
                    crate::error::printable(&k)
                )))
            }
            OneOrMany::Many(vs) => pairs.extend(vs.into_iter().map(|v| format!("{k}={v}"))),
        }
    }
    Ok(pairs)
}

/// The errors of a route that needs a key.
#[derive(IntoResponses)]
pub enum AuthErrors {
    /// missing or unknown API key
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// the key's role may not do this
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// the key is over its rate limit (Retry-After)
    #[response(status = 429)]
    RateLimited(ErrorBody),
}

/// The errors of a route that reads a JSON body.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// malformed JSON, unknown field, bad value
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// the body did not arrive in time (http.body_timeout_ms)
    #[response(status = 408)]
    BodyTimeout(ErrorBody),
    /// body over the limit
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// a body that is not JSON, or compressed
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
}

/// The errors of a route whose work runs on the server's pools.
#[derive(IntoResponses)]
pub enum BusyErrors {
    /// internal error
    #[response(status = 500)]
    Internal(ErrorBody),
    /// not ready, saturated (Retry-After) or timed out
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

#[cfg(test)]
mod tests {
    use super::answer::AnswerBody;
    use super::documents::UploadBody;
    use super::search::SearchBody;
    use super::*;
    use crate::cancel::Cancel;
    use crate::config::Config;
    use crate::domain::DocId;
    use crate::retrieve::{Filters, Scope};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// Request bodies with the routes' own keys and values of every JSON type.
    fn body() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("query"),
            Just("question"),
            Just("mode"),
            Just("top_k"),
            Just("filters"),
            Just("fusion"),
            Just("rerank"),
            Just("passages"),
            Just("composer"),
            Just("stream"),
            Just("format"),
            Just("content"),
            Just("metadata"),
            Just("type"),
            Just("audience"),
            Just("method"),
        ];
        let leaf = prop_oneof![
            Just(json!(null)),
            Just(json!(true)),
            Just(json!(-1)),
            Just(json!(0)),
            Just(json!(1e300)),
            Just(json!(u64::MAX)),
            Just(json!("hybrid")),
            Just(json!("\u{0}")),
            Just(json!("保修 warranty")),
            Just(json!([])),
            "[ -~]{0,12}".prop_map(Value::String),
        ];
        let value = leaf.prop_recursive(3, 16, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::btree_map(key, value, 0..6).prop_map(|m| {
            Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).to_string()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]
        /// Any body is refused with a message or becomes a valid request; nothing panics.
        #[test]
        fn request_bodies_are_refused_or_become_valid_requests(text in body()) {
            let config = Config::default();
            let b = text.as_bytes();
            prop_assume!(crate::json::unique_keys(b).is_ok());
            if let Ok(s) = serde_json::from_slice::<SearchBody>(b) {
                match s.into_request(&config, Scope::Public, 50) {
                    Ok(r) => prop_assert!(r.top_k >= 1 && r.top_k <= 50),
                    Err(e) => prop_assert!(!e.message().is_empty()),
                }
            }
            if let Ok(a) = serde_json::from_slice::<AnswerBody>(b) {
                let _ = filter_pairs(a.filters).map(|p| Filters::parse(&p));
            }
            if let Ok(u) = serde_json::from_slice::<UploadBody>(b) {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut config = Config::default();
                config.corpus.managed_dir = dir.path().join("managed");
                let _ = crate::service::documents::put(
                    &config,
                    None,
                    &DocId::parse_new("fuzz-1").expect("id"),
                    &u.into(),
                    &Cancel::new(),
                );
            }
        }
    }
}
