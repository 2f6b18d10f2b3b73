//! Documents uploaded over HTTP. Each becomes one file in `corpus.managed_dir`, written
//! atomically before the upload is acknowledged, and is indexed by the same pipeline as the
//! corpus (its source shows as `@managed/<file>`). Documents that come from corpus files are
//! not changed over HTTP: the corpus folder belongs to whoever keeps it (often a git checkout).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::Config;
use crate::domain::DocId;
use crate::error::{Error, Result};
use crate::index::build::MANAGED_PREFIX;
use crate::ingest::{self, Format};
use crate::retrieve::Scope;
use crate::Engine;

/// The formats a document can be uploaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// A document to write (the body of `PUT /v1/documents/{id}`, read by `http::dto`).
#[derive(Debug, Clone)]
pub struct Upload {
    pub format: UploadFormat,
    /// The document's source text (Markdown, HTML, plain text), or the ticket as a JSON object.
    pub content: Value,
    /// Front-matter keys (title, doc_type, language, audience, products, category, tags,
    /// effective_date, version, warranty); not for tickets, which carry their own fields.
    pub metadata: Map<String, Value>,
}

const EXTENSIONS: [&str; 4] = ["md", "html", "txt", "jsonl"];

/// Refuses to start a write once the request's deadline has passed (the client is told the
/// write did not happen, which is then true).
fn not_too_late(cancel: &crate::cancel::Cancel) -> Result<()> {
    cancel.check("the upload").map_err(|_| {
        Error::Cancelled(
            "the upload: its deadline (http.request_timeout_ms) passed before the document was written; nothing was written".into(),
        )
    })
}

/// Refuses an id that differs only in letter case from a document that exists (ids are
/// compared case-insensitively: `Note-Agent-Goodwill-En` beside `note-agent-goodwill-en`
/// would be a look-alike, and the same file on a case-insensitive file system).
fn check_not_look_alike(config: &Config, live: Option<&Engine>, id: &str) -> Result<()> {
    let clash = |other: &str| {
        Err(Error::Conflict(format!(
            "document id `{id}` differs only in letter case from the existing document `{other}`; ids are compared case-insensitively"
        )))
    };
    if let Some(engine) = live {
        for entry in engine.generation().manifest.files.values() {
            if let Some(other) = entry
                .documents
                .iter()
                .find(|d| d.eq_ignore_ascii_case(id) && d.as_str() != id)
            {
                return clash(other);
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir(&config.corpus.managed_dir) {
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some((stem, ext)) = name.rsplit_once('.') else {
                continue;
            };
            if EXTENSIONS.contains(&ext) && stem.eq_ignore_ascii_case(id) && stem != id {
                return clash(stem);
            }
        }
    }
    Ok(())
}

fn managed_files(config: &Config, id: &str) -> Vec<PathBuf> {
    EXTENSIONS
        .iter()
        .map(|ext| config.corpus.managed_dir.join(format!("{id}.{ext}")))
        .filter(|p| p.is_file())
        .collect()
}

/// Refuses ids that belong to a corpus file (not to the managed folder).
fn check_not_owned_by_corpus(live: Option<&Engine>, id: &DocId) -> Result<()> {
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
    let mut fm = Map::new();
    fm.insert("id".into(), Value::String(id.to_string()));
    fm.extend(metadata.clone());
    // JSON is YAML: no quoting rules of our own (control characters escaped, so that YAML
    // gives back exactly what was sent)
    let json = ingest::frontmatter::yaml_json(&Value::Object(fm));
    Ok(format!("---\n{json}\n---\n"))
}

/// What an upload declares about its document, checked like front matter, with the audience
/// always decided (the declared one, else the configured default), so the file written says
/// it explicitly and nothing in its content or a later change of defaults can change it.
fn declared(config: &Config, id: &str, upload: &Upload) -> Result<Map<String, Value>> {
    let mut metadata = upload.metadata.clone();
    if metadata.contains_key("id") {
        return Err(Error::InvalidRequest(
            "metadata.id is not allowed: the id is the one in the URL".into(),
        ));
    }
    if upload.format == UploadFormat::Ticket {
        if !metadata.is_empty() {
            return Err(Error::InvalidRequest(
                "tickets carry their own fields; metadata must be empty".into(),
            ));
        }
        return Ok(metadata);
    }
    if !metadata.contains_key("audience") {
        metadata.insert(
            "audience".into(),
            Value::String(config.corpus.default_audience.clone()),
        );
    }
    ingest::frontmatter::from_json(Value::Object(metadata.clone()))
        .map_err(|e| Error::bad_file(format!("metadata of `{id}`"), e))?;
    Ok(metadata)
}

/// Checks that the parsed document has every piece of metadata the upload declared: the
/// declared values are written ahead of the content and win, so a difference means the
/// content carried its own value and a parser preferred it — refused, never indexed.
fn check_effective(
    rel: &str,
    declared: &ingest::frontmatter::FrontMatter,
    meta: &crate::domain::DocMeta,
) -> Result<()> {
    let differs = |key: &str, want: String, got: String| -> Result<()> {
        Err(Error::bad_file(
            rel,
            format!(
                "the content sets `{key}` to {got} but the upload's metadata declares {want}; the declared metadata must win (remove it from the content)"
            ),
        ))
    };
    let s = |v: &dyn std::fmt::Debug| format!("{v:?}");
    if let Some(a) = declared.audience {
        if a != meta.audience {
            return differs("audience", s(&a), s(&meta.audience));
        }
    }
    if let Some(t) = &declared.title {
        if t != &meta.title {
            return differs("title", s(t), s(&meta.title));
        }
    }
    if let Some(d) = declared.doc_type {
        if d != meta.doc_type {
            return differs("doc_type", s(&d), s(&meta.doc_type));
        }
    }
    if let Some(l) = declared.language {
        if l != meta.language {
            return differs("language", s(&l), s(&meta.language));
        }
    }
    if !declared.products.is_empty() && declared.products != meta.products {
        return differs("products", s(&declared.products), s(&meta.products));
    }
    if !declared.tags.is_empty() && declared.tags != meta.tags {
        return differs("tags", s(&declared.tags), s(&meta.tags));
    }
    if declared.category.is_some() && declared.category != meta.category {
        return differs("category", s(&declared.category), s(&meta.category));
    }
    if declared.effective_date.is_some() && declared.effective_date != meta.effective_date {
        return differs(
            "effective_date",
            s(&declared.effective_date),
            s(&meta.effective_date),
        );
    }
    if declared.version.is_some() && declared.version != meta.version {
        return differs("version", s(&declared.version), s(&meta.version));
    }
    if !declared.warranty.is_empty() && declared.warranty != meta.warranty {
        return differs("warranty", s(&declared.warranty), s(&meta.warranty));
    }
    Ok(())
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

/// The file an upload becomes: its extension and bytes. `metadata` is what [`declared`] made of
/// the upload's metadata.
fn render(
    config: &Config,
    id: &str,
    upload: &Upload,
    metadata: &Map<String, Value>,
) -> Result<(&'static str, Vec<u8>)> {
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
            yaml_front_matter(id, metadata)? + t
        }
        UploadFormat::Html => html_meta(id, metadata)? + text()?,
        UploadFormat::Ticket => {
            let mut ticket = match &upload.content {
                Value::Object(o) => o.clone(),
                Value::String(s) => {
                    crate::json::unique_keys(s.as_bytes())
                        .map_err(|e| Error::InvalidRequest(format!("the ticket: {e}")))?;
                    match serde_json::from_str::<Value>(s) {
                        Ok(Value::Object(o)) => o,
                        _ => {
                            return Err(Error::InvalidRequest(
                                "a ticket's content must be a JSON object".into(),
                            ))
                        }
                    }
                }
                _ => {
                    return Err(Error::InvalidRequest(
                        "a ticket's content must be a JSON object".into(),
                    ))
                }
            };
            if !ticket.contains_key("audience") {
                ticket.insert(
                    "audience".into(),
                    Value::String(config.corpus.ticket_audience.clone()),
                );
            }
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
/// `cancel` is checked just before the file is written: once the request's deadline has passed
/// nothing is written, and the error says so.
pub fn put(
    config: &Config,
    live: Option<&Engine>,
    id: &DocId,
    upload: &Upload,
    cancel: &crate::cancel::Cancel,
) -> Result<PathBuf> {
    id.check_new()?;
    check_not_owned_by_corpus(live, id)?;
    let id = id.as_str();
    check_not_look_alike(config, live, id)?;
    let metadata = declared(config, id, upload)?;
    let (ext, bytes) = render(config, id, upload, &metadata)?;
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
            // terminal escapes and other control characters would be echoed to clients and
            // printed raw by the command line
            for b in &d.blocks {
                if let Some(c) = b
                    .text
                    .chars()
                    .find(|c| crate::error::is_control(*c) && !matches!(c, '\n' | '\t'))
                {
                    return Err(Error::bad_file(
                        &rel,
                        format!(
                            "the text has the control character U+{:04X}; remove it",
                            c as u32
                        ),
                    ));
                }
            }
            if upload.format != UploadFormat::Ticket {
                let declared = ingest::frontmatter::from_json(Value::Object(metadata))
                    .map_err(|e| Error::bad_file(&rel, e))?;
                check_effective(&rel, &declared, &d.meta)?;
            }
            let chunks = crate::chunk::chunk_document(d, &config.chunk);
            crate::chunk::check_limits(&d.meta, &chunks, &config.corpus)
                .map_err(|reason| Error::bad_file(&rel, reason))?;
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
    not_too_late(cancel)?;
    crate::fsutil::write_atomic(&path, &bytes)?;
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
pub fn delete(
    config: &Config,
    live: Option<&Engine>,
    id: &DocId,
    cancel: &crate::cancel::Cancel,
) -> Result<()> {
    let files = managed_files(config, id.as_str());
    if files.is_empty() {
        check_not_owned_by_corpus(live, id)?;
        return Err(Error::NotFound(format!("document `{id}`")));
    }
    not_too_late(cancel)?;
    for f in files {
        std::fs::remove_file(&f).map_err(|e| Error::io(&f, e))?;
    }
    Ok(())
}

#[cfg(test)]
fn doc_id(s: &str) -> DocId {
    DocId::parse_new(s).expect("a valid id")
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
    fn uploads_become_files_that_parse_into_that_document() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.corpus.managed_dir = dir.path().join("managed");
        let md = upload(
            UploadFormat::Markdown,
            Value::String("# Returns\n\nYou can return within 7 days.\n".into()),
            serde_json::json!({"audience": "internal", "products": ["X9 Pro"], "title": "Returns: \"quoted\""}),
        );
        let path = put(
            &config,
            None,
            &doc_id("returns-1"),
            &md,
            &crate::cancel::Cancel::new(),
        )
        .expect("put");
        let back = ingest::read_file(&path, "@managed/returns-1.md", &config).expect("parses");
        let meta = &back.documents[0].meta;
        assert_eq!(meta.id, "returns-1");
        assert_eq!(meta.title, "Returns: \"quoted\"");
        assert_eq!(meta.audience, crate::domain::Audience::Internal);
        // the same id in another format replaces the file
        let html = upload(
            UploadFormat::Html,
            Value::String("<title>Returns</title><p>Seven days &amp; a receipt.</p>".into()),
            serde_json::json!({"tags": ["returns", "policy"]}),
        );
        let p2 = put(
            &config,
            None,
            &doc_id("returns-1"),
            &html,
            &crate::cancel::Cancel::new(),
        )
        .expect("put html");
        assert!(p2.is_file() && !path.exists());
        let ticket = upload(
            UploadFormat::Ticket,
            serde_json::json!({"channel": "web_chat", "language": "en", "messages": [{"role": "customer", "text": "Screen cracked"}, {"role": "agent", "text": "Covered by warranty"}], "resolution": "repaired"}),
            Value::Null,
        );
        put(
            &config,
            None,
            &doc_id("TK-1"),
            &ticket,
            &crate::cancel::Cancel::new(),
        )
        .expect("ticket");
        delete(
            &config,
            None,
            &doc_id("TK-1"),
            &crate::cancel::Cancel::new(),
        )
        .expect("delete");
        assert!(matches!(
            delete(
                &config,
                None,
                &doc_id("TK-1"),
                &crate::cancel::Cancel::new()
            ),
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
            assert!(
                put(
                    &config,
                    None,
                    &doc_id("doc-1"),
                    u,
                    &crate::cancel::Cancel::new()
                )
                .is_err(),
                "case {i} accepted"
            );
        }
        assert!(!config.corpus.managed_dir.exists() || managed_files(&config, "doc-1").is_empty());
    }

    mod declared_audience {
        use super::*;
        use proptest::prelude::*;

        /// Ways a content can carry its own audience (and other metadata), per format.
        fn carrier() -> impl Strategy<Value = String> {
            let key = prop_oneof![
                Just("audience"),
                Just("Audience"),
                Just("AUDIENCE"),
                Just("kefu:audience"),
                Just("KEFU:Audience"),
                Just("doc_type"),
                Just("products"),
            ];
            let value = prop_oneof![
                Just("public"),
                Just("Public"),
                Just(" PUBLIC "),
                Just("faq")
            ];
            let quote = prop_oneof![Just("\""), Just("'"), Just("")];
            (key, value, quote, 0..4usize).prop_map(|(k, v, q, form)| match form {
                0 => format!("<meta name={q}{k}{q} content={q}{v}{q}>"),
                1 => format!("<META CONTENT={q}{v}{q} NAME={q}{k}{q} />"),
                2 => format!("\n---\n{k}: {v}\n---\n"),
                _ => format!("{k}: {v}\n"),
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]
            /// For every format and every way content can carry metadata, an upload declared
            /// internal is refused or indexed as internal: never readable by a public caller.
            #[test]
            fn an_upload_declared_internal_is_never_public(
                before in proptest::collection::vec(carrier(), 0..3),
                after in proptest::collection::vec(carrier(), 0..3),
                format in 0..4usize,
            ) {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut config = Config::default();
                config.corpus.managed_dir = dir.path().join("managed");
                let text = format!(
                    "{}<title>Override</title>\n\n# Override\n\nStaff override code ZEBRA-7731.\n\n{}",
                    before.concat(),
                    after.concat()
                );
                let up = match format {
                    0 => upload(UploadFormat::Html, Value::String(text), serde_json::json!({"audience": "internal"})),
                    1 => upload(UploadFormat::Markdown, Value::String(text), serde_json::json!({"audience": "internal"})),
                    2 => upload(UploadFormat::Text, Value::String(text), serde_json::json!({"audience": "internal"})),
                    _ => upload(
                        UploadFormat::Ticket,
                        serde_json::json!({"audience": "internal", "language": "en", "messages": [{"role": "customer", "text": text}, {"role": "agent", "text": "Noted."}]}),
                        Value::Null,
                    ),
                };
                if let Ok(path) = put(&config, None, &doc_id("probe-1"), &up, &crate::cancel::Cancel::new()) {
                    let rel = format!("@managed/{}", path.file_name().and_then(|n| n.to_str()).unwrap_or(""));
                    let back = ingest::read_file(&path, &rel, &config).expect("written files parse");
                    for d in &back.documents {
                        prop_assert_eq!(d.meta.audience, crate::domain::Audience::Internal, "{}", std::fs::read_to_string(&path).unwrap_or_default());
                    }
                }
            }
        }
    }
}
