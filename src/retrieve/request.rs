//! What a search asks for: the mode, the filters (validated), the caller's scope, and the
//! limits every request is checked against.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::{Audience, DocType, Scope};
use crate::error::{Error, Result};
use crate::index::lexical::{FilterKey, FilterSet};

/// How to retrieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Lexical only.
    Bm25,
    /// Vector only.
    Vector,
    /// Lexical and vector, fused.
    #[default]
    Hybrid,
}

impl Mode {
    /// Parses `bm25`, `vector` or `hybrid`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bm25" | "lexical" => Some(Mode::Bm25),
            "vector" | "dense" => Some(Mode::Vector),
            "hybrid" => Some(Mode::Hybrid),
            _ => None,
        }
    }
}

/// Filters parsed from `key=value` pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub set: FilterSet,
}

impl Filters {
    /// Parses `key=value` strings; values of the same key are alternatives, different keys must
    /// all match.
    pub fn parse<S: AsRef<str>>(pairs: &[S]) -> Result<Filters> {
        let mut set: FilterSet = Vec::new();
        for p in pairs {
            let p = p.as_ref();
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| Error::InvalidRequest(format!("filter `{p}` is not key=value")))?;
            let key = FilterKey::parse(k).ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "unknown filter key `{k}` (one of: {})",
                    FilterKey::NAMES
                ))
            })?;
            if v.trim().is_empty() {
                return Err(Error::InvalidRequest(format!(
                    "filter `{p}` has an empty value"
                )));
            }
            check_filter_value(key, k, v.trim())?;
            match set.iter_mut().find(|(kk, _)| *kk == key) {
                Some((_, vs)) => vs.push(v.trim().to_string()),
                None => set.push((key, vec![v.trim().to_string()])),
            }
        }
        Ok(Filters { set })
    }
}

/// Checks the text of a query or question (`what`): not empty, not only whitespace and control
/// characters (NUL, escapes), within `search.max_query_bytes`.
pub fn check_query_text(what: &str, text: &str, config: &Config) -> Result<()> {
    if text.len() > config.search.max_query_bytes {
        return Err(Error::InvalidRequest(format!(
            "the {what} is {} bytes, over the limit of {} (search.max_query_bytes)",
            text.len(),
            config.search.max_query_bytes
        )));
    }
    if text
        .chars()
        .all(|c| c.is_whitespace() || crate::error::is_control(c))
    {
        return Err(Error::InvalidRequest(format!(
            "the {what} is empty (it has no letters, digits or signs, only spaces or control characters)"
        )));
    }
    Ok(())
}

/// Refuses a value no passage can have for an enumerated key (`type=manaul`,
/// `audience=internl`): such a filter would silently match nothing.
fn check_filter_value(key: FilterKey, name: &str, v: &str) -> Result<()> {
    let known = match key {
        FilterKey::DocType => DocType::parse(v).is_some(),
        FilterKey::Language => crate::text::Lang::parse(v).is_some(),
        FilterKey::Audience => Audience::parse(v).is_some(),
        _ => return Ok(()),
    };
    if known {
        return Ok(());
    }
    let allowed = match key {
        FilterKey::DocType => "manual, policy, faq, ticket, note or other",
        FilterKey::Language => "en or zh",
        _ => "public or internal",
    };
    Err(Error::InvalidRequest(format!(
        "filter `{name}`: unknown value `{}` ({allowed})",
        crate::error::printable(v)
    )))
}

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub top_k: usize,
    pub mode: Mode,
    pub filters: Filters,
    /// What the caller may read.
    pub scope: Scope,
    /// Fusion settings for this request instead of `[search.fusion]`.
    pub fusion: Option<crate::config::FusionConfig>,
    /// Rerank hybrid results with the second-stage ranker (when one is configured).
    pub rerank: bool,
    /// Stops the search when nobody waits for it any more.
    pub cancel: crate::cancel::Cancel,
}

impl Filters {
    /// These filters narrowed to what `scope` may read, or `None` when the filters ask only for
    /// audiences the scope may not read (so nothing can match).
    pub fn within(&self, scope: Scope) -> Option<Filters> {
        if scope == Scope::All {
            return Some(self.clone());
        }
        let mut set = self.set.clone();
        if let Some(pos) = set.iter().position(|(k, _)| *k == FilterKey::Audience) {
            let (_, values) = set.remove(pos);
            if !values.iter().any(|v| v.eq_ignore_ascii_case("public")) {
                return None;
            }
        }
        set.push((FilterKey::Audience, vec!["public".to_string()]));
        Some(Filters { set })
    }
}

/// Validates a request against the limits in the configuration.
pub fn validate(req: &SearchRequest, config: &Config) -> Result<()> {
    check_query_text("query", &req.query, config)?;
    if req.top_k == 0 || req.top_k > config.search.max_top_k {
        return Err(Error::InvalidRequest(format!(
            "top_k must be between 1 and {}",
            config.search.max_top_k
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_scope_narrows_every_filter_to_public_passages() {
        let none = Filters::default();
        assert_eq!(none.within(Scope::All), Some(none.clone()));
        let p = none.within(Scope::Public).expect("some");
        assert_eq!(
            p.set,
            vec![(FilterKey::Audience, vec!["public".to_string()])]
        );
        let internal = Filters::parse(&["audience=internal"]).expect("parses");
        assert_eq!(internal.within(Scope::Public), None);
        let both =
            Filters::parse(&["audience=internal", "audience=public", "type=faq"]).expect("parses");
        let r = both.within(Scope::Public).expect("some");
        assert!(r
            .set
            .contains(&(FilterKey::Audience, vec!["public".to_string()])));
        assert_eq!(r.set.len(), 2);
    }

    #[test]
    fn filters_parse_and_group() {
        let f = Filters::parse(&["product=X9 Pro", "type=manual", "product=X9"]).expect("parses");
        assert_eq!(f.set.len(), 2);
        assert_eq!(
            f.set[0],
            (
                FilterKey::Product,
                vec!["X9 Pro".to_string(), "X9".to_string()]
            )
        );
        assert!(Filters::parse(&["colour=red"])
            .unwrap_err()
            .to_string()
            .contains("colour"));
        assert!(Filters::parse(&["product"])
            .unwrap_err()
            .to_string()
            .contains("key=value"));
        assert!(Filters::parse(&["product="])
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }
}
