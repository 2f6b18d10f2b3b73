//! Front matter: YAML between `---` lines or TOML between `+++` lines at the top of a file,
//! parsed into typed metadata. Unknown keys are kept in `extra`; a malformed block is an error
//! that names the key.
//!
//! YAML is read with `serde_norway`: the maintained fork of the deprecated `serde_yaml` (same
//! API and behaviour, on a maintained fork of its libyaml port, `unsafe-libyaml-norway`).
//! `serde_yaml_ng` still sits on the unmaintained `unsafe-libyaml`; `serde_yml` is unsound.
//!
//! libyaml folds a raw NEL (U+0085) inside a double-quoted scalar into a space and refuses raw
//! DEL, C1 controls and U+FFFE/U+FFFF; [`yaml_json`] writes JSON that YAML reads back exactly.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::{Audience, DocType, WarrantyTerm};
use crate::text::Lang;

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

/// The most (`[` or `{`) × (bytes) a YAML block may have. libyaml's scanner does work in
/// proportion to the flow nesting depth at every token, so `[[[[…` costs depth × length (and
/// serde's recursion limit comes only after the whole block is scanned): 100,000 `[` took 47 s.
/// The depth is at most the number of `[` and `{`; this bound keeps the scan under a second
/// while leaving room for any real front matter (a 16 KiB block may hold 1,000 of them).
const MAX_YAML_FLOW_WORK: usize = 1 << 24;

fn parse_yaml(inner: &str) -> Result<FrontMatter, String> {
    if inner.trim().is_empty() {
        return Ok(FrontMatter::default());
    }
    let openers = inner.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    if openers.saturating_mul(inner.len()) > MAX_YAML_FLOW_WORK {
        return Err(format!(
            "malformed front matter (YAML): {openers} `[` and `{{` in {} bytes, too many to read (nested collections cost the YAML reader their depth at every token)",
            inner.len()
        ));
    }
    let value: serde_norway::Value =
        serde_norway::from_str(inner).map_err(|e| format!("malformed front matter (YAML): {e}"))?;
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

/// Renders `value` as one line of JSON that reads back exactly as YAML too (front matter
/// written as `---\n{json}\n---\n`): besides JSON's own escapes, every control character (C0,
/// DEL, C1 including NEL), the YAML line breaks U+2028 and U+2029, the byte order mark and the
/// noncharacters U+FFFE and U+FFFF are written as `\uXXXX` (all are in the Basic Multilingual
/// Plane, so no surrogate pairs, which YAML does not accept). Everything else, emoji included,
/// stays as it is.
pub fn yaml_json(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, YamlSafe);
    match serde::Serialize::serialize(value, &mut ser) {
        // the formatter writes only ASCII escapes and whole UTF-8 fragments of valid strings
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        // serialising a `Value` into memory does not fail
        Err(_) => String::new(),
    }
}

/// Whether YAML must not see `c` raw inside a double-quoted scalar.
fn yaml_escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// A compact JSON formatter that escapes what [`yaml_escaped`] names.
struct YamlSafe;

impl serde_json::ser::Formatter for YamlSafe {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> std::io::Result<()>
    where
        W: ?Sized + std::io::Write,
    {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if yaml_escaped(c) {
                writer.write_all(&bytes[start..i])?;
                write!(writer, "\\u{:04X}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&bytes[start..])
    }

    fn write_char_escape<W>(
        &mut self,
        writer: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()>
    where
        W: ?Sized + std::io::Write,
    {
        use serde_json::ser::CharEscape;
        let code: u8 = match escape {
            CharEscape::Quote => return writer.write_all(b"\\\""),
            CharEscape::ReverseSolidus => return writer.write_all(b"\\\\"),
            CharEscape::Solidus => return writer.write_all(b"\\/"),
            CharEscape::Backspace => 0x08,
            CharEscape::FormFeed => 0x0c,
            CharEscape::LineFeed => b'\n',
            CharEscape::CarriageReturn => b'\r',
            CharEscape::Tab => b'\t',
            CharEscape::AsciiControl(b) => b,
        };
        write!(writer, "\\u{code:04X}")
    }
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
    fn yaml_json_round_trips_line_breaks_and_controls() {
        let title = "a\u{85}b\u{2028}c\u{2029}d\te \"quoted\" 'single' back\\slash \u{7f}\u{9f}\u{1b}\u{feff}\u{fffe}\r\n屏幕😀 z";
        let value = serde_json::json!({"id": "doc-1", "title": title, "tags": ["x\u{85}y", "z"]});
        let text = yaml_json(&value);
        assert!(!text.contains('\n') && !text.contains('\u{85}') && !text.contains('\u{2028}'));
        assert!(text.contains("\\u0085") && text.contains("\\u2028") && text.contains("\\u0009"));
        assert!(text.contains("屏幕😀"), "{text}");
        // still JSON, read back exactly
        let again: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(again, value);
        // and YAML reads it back exactly as front matter
        let src = format!("---\n{text}\n---\nbody");
        let (fm, body) = split(&src).expect("parses");
        let fm = fm.expect("front matter");
        assert_eq!(&src[body..], "body");
        assert_eq!(fm.title.as_deref(), Some(title));
        assert_eq!(fm.tags, vec!["x\u{85}y", "z"]);
    }

    #[test]
    fn raw_nel_in_yaml_is_folded_which_is_why_yaml_json_exists() {
        let plain = serde_json::to_string(&serde_json::json!({"title": "a\u{85}b"})).expect("json");
        let (fm, _) = split(&format!("---\n{plain}\n---\n")).expect("parses");
        assert_eq!(fm.and_then(|f| f.title).as_deref(), Some("a b"));
        let del = serde_json::to_string(&serde_json::json!({"title": "a\u{7f}b"})).expect("json");
        assert!(split(&format!("---\n{del}\n---\n")).is_err());
    }

    #[test]
    fn deeply_nested_yaml_is_refused_before_the_yaml_reader_sees_it() {
        // found by the ingest fuzz probes: 100,000 `[` took 47 s in libyaml's scanner
        let deep = format!(
            "---\na: {}{}\n---\nbody",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let err = split(&deep).unwrap_err();
        assert!(err.contains("YAML") && err.contains("too many"), "{err}");
        let wide = format!(
            "---\na: {}{}{}\n---\n",
            "[".repeat(60),
            "x,".repeat(1_000_000),
            "]".repeat(60)
        );
        assert!(split(&wide).is_err());
        // real front matter with many collections still reads
        let terms: Vec<String> = (0..300)
            .map(|i| {
                format!("{{\"category\": \"c{i}\", \"months\": 12, \"parts\": {{\"battery\": 6}}}}")
            })
            .collect();
        let ok = format!(
            "---\n{{\"id\": \"p\", \"warranty\": [{}]}}\n---\n",
            terms.join(", ")
        );
        let (fm, _) = split(&ok).expect("parses");
        assert_eq!(fm.map(|f| f.warranty.len()), Some(300));
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
