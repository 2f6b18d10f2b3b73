//! Documents uploaded over HTTP. Each becomes one file in `corpus.managed_dir`, written
//! atomically before the upload is acknowledged, and is indexed by the same pipeline as the
//! corpus (its source shows as `@managed/<file>`). Documents that come from corpus files are
//! not changed over HTTP: the corpus folder belongs to whoever keeps it (often a git checkout).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::index::build::MANAGED_PREFIX;
use crate::ingest::{self, Format};
use crate::retrieve::Scope;
use crate::Engine;

/// The formats a document can be uploaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadFormat {
    Markdown,
    Html,
    Text,
    /// One support ticket, as a JSON object in the `.jsonl` ticket format.
    Ticket,
}

impl UploadFormat {
    fn extension(self) -> &'static str {
        match self {
            UploadFormat::Markdown => "md",
            UploadFormat::Html => "html",
            UploadFormat::Text => "txt",
            UploadFormat::Ticket => "jsonl",
        }
    }
}

/// The body of `PUT /v1/documents/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    pub format: UploadFormat,
    /// The document's source text (Markdown, HTML, plain text), or the ticket as a JSON object.
    pub content: Value,
    /// Front-matter keys (title, doc_type, language, audience, products, category, tags,
    /// effective_date, version, warranty); not for tickets, which carry their own fields.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

const EXTENSIONS: [&str; 4] = ["md", "html", "txt", "jsonl"];

/// Checks a document id: 1–128 characters of letters, digits, `.`, `_` and `-`, starting with
/// a letter or digit (it becomes a file name).
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "document id `{}` must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            id.chars().take(140).collect::<String>()
        )))
    }
}

fn managed_files(config: &Config, id: &str) -> Vec<PathBuf> {
    EXTENSIONS
        .iter()
        .map(|ext| config.corpus.managed_dir.join(format!("{id}.{ext}")))
        .filter(|p| p.is_file())
        .collect()
}

/// Refuses ids that belong to a corpus file (not to the managed folder).
fn check_not_owned_by_corpus(live: Option<&Engine>, id: &str) -> Result<()> {
    let Some(engine) = live else { return Ok(()) };
    if let Some(doc) = crate::retrieve::document(engine.generation(), id, Scope::All)? {
        if !doc.source.starts_with(MANAGED_PREFIX) {
            return Err(Error::Conflict(format!(
                "document `{id}` comes from the corpus file {}; change that file instead",
                doc.source
            )));
        }
    }
    Ok(())
}

fn yaml_front_matter(id: &str, metadata: &Map<String, Value>) -> Result<String> {
    if metadata.contains_key("id") {
        return Err(Error::InvalidRequest(
            "metadata.id is not allowed: the id is the one in the URL".into(),
        ));
    }
    let mut fm = Map::new();
    fm.insert("id".into(), Value::String(id.to_string()));
    fm.extend(metadata.clone());
    // JSON is YAML: no quoting rules of our own
    let json = serde_json::to_string(&Value::Object(fm))
        .map_err(|e| Error::Internal(format!("metadata: {e}")))?;
    Ok(format!("---\n{json}\n---\n"))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_meta(id: &str, metadata: &Map<String, Value>) -> Result<String> {
    let mut out = format!("<meta name=\"id\" content=\"{}\">\n", html_escape(id));
    for (k, v) in metadata {
        if k == "id" || k == "title" {
            return Err(Error::InvalidRequest(format!(
                "metadata.{k} is not allowed for HTML: the id is the one in the URL and the title is <title>"
            )));
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(other.to_string()),
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|bad| {
                    Error::InvalidRequest(format!("metadata.{k}: `{bad}` is not a string"))
                })?
                .join(", "),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(Error::InvalidRequest(format!(
                    "metadata.{k}: `{other}` cannot be an HTML meta tag (strings, numbers or lists of strings)"
                )))
            }
        };
        out.push_str(&format!(
            "<meta name=\"{}\" content=\"{}\">\n",
            html_escape(k),
            html_escape(&text)
        ));
    }
    Ok(out)
}

/// The file an upload becomes: its extension and bytes.
pub fn render(id: &str, upload: &Upload) -> Result<(&'static str, Vec<u8>)> {
    let text = || {
        upload.content.as_str().ok_or_else(|| {
            Error::InvalidRequest("content must be a string for markdown, html and text".into())
        })
    };
    let body = match upload.format {
        UploadFormat::Markdown | UploadFormat::Text => {
            let t = text()?;
            if t.trim_start_matches('\u{feff}').starts_with("---")
                || t.trim_start_matches('\u{feff}').starts_with("+++")
            {
                return Err(Error::InvalidRequest(
                    "content starts with its own front matter; send those keys in `metadata`"
                        .into(),
                ));
            }
            yaml_front_matter(id, &upload.metadata)? + t
        }
        UploadFormat::Html => html_meta(id, &upload.metadata)? + text()?,
        UploadFormat::Ticket => {
            if !upload.metadata.is_empty() {
                return Err(Error::InvalidRequest(
                    "tickets carry their own fields; metadata must be empty".into(),
                ));
            }
            let mut ticket = match &upload.content {
                Value::Object(o) => o.clone(),
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(Value::Object(o)) => o,
                    _ => {
                        return Err(Error::InvalidRequest(
                            "a ticket's content must be a JSON object".into(),
                        ))
                    }
                },
                _ => {
                    return Err(Error::InvalidRequest(
                        "a ticket's content must be a JSON object".into(),
                    ))
                }
            };
            match ticket.get("id") {
                None => {
                    ticket.insert("id".into(), Value::String(id.to_string()));
                }
                Some(Value::String(s)) if s == id => {}
                Some(other) => {
                    return Err(Error::InvalidRequest(format!(
                        "the ticket's id {other} differs from the id in the URL `{id}`"
                    )))
                }
            }
            serde_json::to_string(&Value::Object(ticket))
                .map_err(|e| Error::Internal(format!("ticket: {e}")))?
                + "\n"
        }
    };
    Ok((upload.format.extension(), body.into_bytes()))
}

/// Validates and writes an upload. The document must parse, whole, into exactly the document
/// `id`; nothing is written otherwise.
pub fn put(config: &Config, live: Option<&Engine>, id: &str, upload: &Upload) -> Result<PathBuf> {
    check_id(id)?;
    check_not_owned_by_corpus(live, id)?;
    let (ext, bytes) = render(id, upload)?;
    if bytes.len() as u64 > config.corpus.max_file_bytes {
        return Err(Error::InvalidRequest(format!(
            "the document is {} bytes, over the limit of {} (corpus.max_file_bytes)",
            bytes.len(),
            config.corpus.max_file_bytes
        )));
    }
    let dir = &config.corpus.managed_dir;
    let path = dir.join(format!("{id}.{ext}"));
    let rel = format!("{MANAGED_PREFIX}{id}.{ext}");
    let format = Format::of(&path)
        .ok_or_else(|| Error::Internal(format!("no format for {}", path.display())))?;
    let parsed = ingest::parse_bytes(&bytes, format, Path::new(&rel), &rel, config)?;
    if let Some(e) = parsed.errors.first() {
        return Err(Error::bad_file(&rel, e.clone()));
    }
    match parsed.documents.as_slice() {
        [d] if d.meta.id == id => {
            if d.blocks.iter().all(|b| b.text.trim().is_empty()) {
                return Err(Error::bad_file(&rel, "the document has no text"));
            }
        }
        docs => {
            return Err(Error::bad_file(
                &rel,
                format!(
                    "expected exactly the document `{id}`, got {}",
                    docs.iter()
                        .map(|d| format!("`{}`", d.meta.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::index::write_atomic(&path, &bytes)?;
    // a document re-uploaded in another format replaces the old file
    for old in managed_files(config, id) {
        if old != path {
            std::fs::remove_file(&old).map_err(|e| Error::io(&old, e))?;
        }
    }
    Ok(path)
}

/// Removes an uploaded document's file. A document from a corpus file is a conflict; an
/// unknown id is not found.
pub fn delete(config: &Config, live: Option<&Engine>, id: &str) -> Result<()> {
    check_id(id)?;
    let files = managed_files(config, id);
    if files.is_empty() {
        check_not_owned_by_corpus(live, id)?;
        return Err(Error::NotFound(format!("document `{id}`")));
    }
    for f in files {
        std::fs::remove_file(&f).map_err(|e| Error::io(&f, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(format: UploadFormat, content: Value, metadata: Value) -> Upload {
        Upload {
            format,
            content,
            metadata: metadata.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn ids_are_file_names_without_tricks() {
        for ok in ["faq-1", "X9.manual_v2", "a"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../etc/passwd",
            ".hidden",
            "a/b",
            "a b",
            "中文",
            &"x".repeat(129),
        ] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uploads_become_files_that_parse_into_that_document() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.corpus.managed_dir = dir.path().join("managed");
        let md = upload(
            UploadFormat::Markdown,
            Value::String("# Returns\n\nYou can return within 7 days.\n".into()),
            serde_json::json!({"audience": "internal", "products": ["X9 Pro"], "title": "Returns: \"quoted\""}),
        );
        let path = put(&config, None, "returns-1", &md).expect("put");
        let back = ingest::read_file(&path, "@managed/returns-1.md", &config).expect("parses");
        let meta = &back.documents[0].meta;
        assert_eq!(meta.id, "returns-1");
        assert_eq!(meta.title, "Returns: \"quoted\"");
        assert_eq!(meta.audience, ingest::Audience::Internal);
        // the same id in another format replaces the file
        let html = upload(
            UploadFormat::Html,
            Value::String("<title>Returns</title><p>Seven days &amp; a receipt.</p>".into()),
            serde_json::json!({"tags": ["returns", "policy"]}),
        );
        let p2 = put(&config, None, "returns-1", &html).expect("put html");
        assert!(p2.is_file() && !path.exists());
        let ticket = upload(
            UploadFormat::Ticket,
            serde_json::json!({"channel": "web_chat", "language": "en", "messages": [{"role": "customer", "text": "Screen cracked"}, {"role": "agent", "text": "Covered by warranty"}], "resolution": "repaired"}),
            Value::Null,
        );
        put(&config, None, "TK-1", &ticket).expect("ticket");
        delete(&config, None, "TK-1").expect("delete");
        assert!(matches!(
            delete(&config, None, "TK-1"),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn bad_uploads_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.corpus.managed_dir = dir.path().join("managed");
        let cases = [
            upload(
                UploadFormat::Markdown,
                Value::String("---\nid: x\n---\nbody".into()),
                Value::Null,
            ),
            upload(UploadFormat::Markdown, Value::Bool(true), Value::Null),
            upload(
                UploadFormat::Markdown,
                Value::String("text".into()),
                serde_json::json!({"id": "other"}),
            ),
            upload(
                UploadFormat::Markdown,
                Value::String("text".into()),
                serde_json::json!({"audience": "everyone"}),
            ),
            upload(
                UploadFormat::Text,
                Value::String("   \n".into()),
                Value::Null,
            ),
            upload(
                UploadFormat::Ticket,
                serde_json::json!({"id": "TK-2"}),
                Value::Null,
            ),
            upload(
                UploadFormat::Ticket,
                Value::String("not json".into()),
                Value::Null,
            ),
            upload(
                UploadFormat::Html,
                Value::String("<p>x</p>".into()),
                serde_json::json!({"tags": {"a": 1}}),
            ),
        ];
        for (i, u) in cases.iter().enumerate() {
            assert!(put(&config, None, "doc-1", u).is_err(), "case {i} accepted");
        }
        assert!(!config.corpus.managed_dir.exists() || managed_files(&config, "doc-1").is_empty());
    }
}
