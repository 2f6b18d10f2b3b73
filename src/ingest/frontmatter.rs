//! Front matter: YAML between `---` lines or TOML between `+++` lines at the top of a file,
//! parsed into typed metadata. Unknown keys are kept in `extra`; a malformed block is an error
//! that names the key.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;

use super::{Audience, DocType, Lang, WarrantyTerm};

/// Typed front matter. Every key is optional.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FrontMatter {
    pub id: Option<String>,
    pub title: Option<String>,
    pub doc_type: Option<DocType>,
    pub language: Option<Lang>,
    pub audience: Option<Audience>,
    pub products: Vec<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub effective_date: Option<NaiveDate>,
    pub version: Option<String>,
    pub warranty: Vec<WarrantyTerm>,
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The raw shape, deserialised from a JSON value made from YAML or TOML.
#[derive(Debug, Deserialize)]
struct Raw {
    id: Option<String>,
    title: Option<String>,
    doc_type: Option<DocType>,
    #[serde(alias = "lang")]
    language: Option<String>,
    audience: Option<String>,
    #[serde(default)]
    products: Option<OneOrMany>,
    product: Option<String>,
    category: Option<String>,
    #[serde(default)]
    tags: Option<OneOrMany>,
    effective_date: Option<String>,
    version: Option<serde_json::Value>,
    #[serde(default)]
    warranty: Vec<WarrantyTerm>,
    #[serde(flatten)]
    extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            OneOrMany::Many(v) => v
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }
}

/// Splits a file into its front matter (parsed) and the byte offset where the body starts.
/// A file without front matter gives `(None, 0)`.
pub fn split(src: &str) -> Result<(Option<FrontMatter>, usize), String> {
    let src_nobom = src.strip_prefix('\u{feff}').unwrap_or(src);
    let bom = src.len() - src_nobom.len();
    let (fence, is_yaml) = if src_nobom.starts_with("---") {
        ("---", true)
    } else if src_nobom.starts_with("+++") {
        ("+++", false)
    } else {
        return Ok((None, 0));
    };
    let first_line_end = match src_nobom.find('\n') {
        Some(i) => i,
        None => return Ok((None, 0)),
    };
    if src_nobom[..first_line_end].trim_end() != fence {
        return Ok((None, 0));
    }
    let body_start = first_line_end + 1;
    let mut pos = body_start;
    let mut close: Option<(usize, usize)> = None;
    for line in src_nobom[body_start..].split_inclusive('\n') {
        if line.trim_end() == fence {
            close = Some((pos, pos + line.len()));
            break;
        }
        pos += line.len();
    }
    let (inner_end, after) =
        close.ok_or_else(|| format!("malformed front matter: no closing `{fence}` line"))?;
    let inner = &src_nobom[body_start..inner_end];
    let fm = if is_yaml {
        parse_yaml(inner)
    } else {
        parse_toml(inner)
    }?;
    Ok((Some(fm), bom + after))
}

fn parse_yaml(inner: &str) -> Result<FrontMatter, String> {
    if inner.trim().is_empty() {
        return Ok(FrontMatter::default());
    }
    let value: serde_yaml::Value =
        serde_yaml::from_str(inner).map_err(|e| format!("malformed front matter (YAML): {e}"))?;
    let json =
        serde_json::to_value(value).map_err(|e| format!("malformed front matter (YAML): {e}"))?;
    from_json(json)
}

fn parse_toml(inner: &str) -> Result<FrontMatter, String> {
    let table: toml::Table = toml::from_str(inner)
        .map_err(|e| format!("malformed front matter (TOML): {}", e.message().trim()))?;
    from_json(toml_to_json(toml::Value::Table(table)))
}

fn toml_to_json(v: toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(i) => serde_json::Value::from(i),
        toml::Value::Float(f) => serde_json::Value::from(f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(toml_to_json).collect())
        }
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// Builds typed front matter from a JSON object; errors name the key.
pub fn from_json(json: serde_json::Value) -> Result<FrontMatter, String> {
    if !json.is_object() {
        return Err("malformed front matter: expected key-value pairs".into());
    }
    let raw: Raw = serde_path_to_error::deserialize(json)
        .map_err(|e| format!("malformed front matter at `{}`: {}", e.path(), e.inner()))?;
    let language = match raw.language {
        Some(l) => Some(Lang::parse(&l).ok_or_else(|| {
            format!("malformed front matter at `language`: unknown language `{l}` (en or zh)")
        })?),
        None => None,
    };
    let audience = match raw.audience {
        Some(a) => Some(Audience::parse(&a).ok_or_else(|| {
            format!("malformed front matter at `audience`: `{a}` is not public or internal")
        })?),
        None => None,
    };
    let effective_date = match raw.effective_date {
        Some(d) => Some(parse_date(&d).ok_or_else(|| {
            format!("malformed front matter at `effective_date`: `{d}` is not a YYYY-MM-DD date")
        })?),
        None => None,
    };
    let mut products = raw.products.map(OneOrMany::into_vec).unwrap_or_default();
    if let Some(p) = raw.product {
        if !p.trim().is_empty() && !products.contains(&p) {
            products.push(p.trim().to_string());
        }
    }
    let version = raw.version.and_then(|v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    });
    Ok(FrontMatter {
        id: raw
            .id
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        title: raw
            .title
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        doc_type: raw.doc_type,
        language,
        audience,
        products,
        category: raw.category,
        tags: raw.tags.map(OneOrMany::into_vec).unwrap_or_default(),
        effective_date,
        version,
        warranty: raw.warranty,
        extra: raw.extra,
    })
}

/// Parses `YYYY-MM-DD`, also when followed by a time (`2026-01-01T00:00:00Z`).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let head = s.get(..10).unwrap_or(s);
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_front_matter_is_typed() {
        let src = "---\nid: policy-warranty-en\ntitle: Warranty\ndoc_type: policy\nlanguage: en\naudience: internal\nproducts: [X9 Pro, X9]\ntags: warranty, phone\neffective_date: 2026-01-01\nversion: 3\nwarranty:\n  - category: phone\n    months: 12\n    parts: { battery: 12 }\nowner: legal\n---\n# Body\n";
        let (fm, body) = split(src).expect("parses");
        let fm = fm.expect("has front matter");
        assert_eq!(&src[body..], "# Body\n");
        assert_eq!(fm.id.as_deref(), Some("policy-warranty-en"));
        assert_eq!(fm.doc_type, Some(DocType::Policy));
        assert_eq!(fm.audience, Some(Audience::Internal));
        assert_eq!(fm.products, vec!["X9 Pro", "X9"]);
        assert_eq!(fm.tags, vec!["warranty", "phone"]);
        assert_eq!(fm.effective_date, NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(fm.version.as_deref(), Some("3"));
        assert_eq!(fm.warranty[0].months, 12);
        assert_eq!(fm.warranty[0].parts.get("battery"), Some(&12));
        assert_eq!(fm.extra.get("owner"), Some(&serde_json::json!("legal")));
    }

    #[test]
    fn toml_front_matter_with_bare_dates() {
        let src = "+++\ntitle = \"Shipping\"\ndoc_type = \"policy\"\neffective_date = 2026-03-01\nproducts = []\n+++\nBody";
        let (fm, body) = split(src).expect("parses");
        let fm = fm.expect("front matter");
        assert_eq!(&src[body..], "Body");
        assert_eq!(fm.title.as_deref(), Some("Shipping"));
        assert_eq!(fm.effective_date, NaiveDate::from_ymd_opt(2026, 3, 1));
    }

    #[test]
    fn no_front_matter() {
        assert_eq!(split("# Title\ntext").expect("ok"), (None, 0));
        assert_eq!(split("--- not a fence\n").expect("ok"), (None, 0));
    }

    #[test]
    fn malformed_front_matter_names_the_problem() {
        let unclosed = split("---\ntitle: x\n# body\n").unwrap_err();
        assert!(unclosed.contains("closing"), "{unclosed}");
        let bad_yaml = split("---\ntitle: [unclosed\n---\n").unwrap_err();
        assert!(bad_yaml.contains("YAML"), "{bad_yaml}");
        let bad_type = split("---\ndoc_type: brochure\n---\n").unwrap_err();
        assert!(bad_type.contains("doc_type"), "{bad_type}");
        let bad_date = split("---\neffective_date: next week\n---\n").unwrap_err();
        assert!(bad_date.contains("effective_date"), "{bad_date}");
        let bad_months =
            split("---\nwarranty:\n  - category: phone\n    months: many\n---\n").unwrap_err();
        assert!(bad_months.contains("warranty"), "{bad_months}");
        let bad_toml = split("+++\ntitle = \n+++\n").unwrap_err();
        assert!(bad_toml.contains("TOML"), "{bad_toml}");
    }
}
