//! `/v1/documents/{id}`: a document as a caller may read it, and an upload.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{span, Span};
use crate::retrieve::{DocumentView, PassageView};
use crate::service::documents::{Upload, UploadFormat};

/// A document and its passages, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Document {
    pub doc_id: String,
    pub title: String,
    pub doc_type: String,
    pub language: String,
    pub audience: String,
    pub products: Vec<String>,
    pub source: String,
    pub passages: Vec<DocumentPassage>,
}

/// One passage of a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPassage {
    pub chunk_id: String,
    pub heading_path: Vec<String>,
    /// Byte range of the passage in the source file.
    pub span: Span,
    pub text: String,
}

impl From<DocumentView> for Document {
    fn from(d: DocumentView) -> Document {
        Document {
            doc_id: d.doc_id,
            title: d.title,
            doc_type: d.doc_type,
            language: d.language,
            audience: d.audience,
            products: d.products,
            source: d.source,
            passages: d.passages.into_iter().map(passage).collect(),
        }
    }
}

fn passage(p: PassageView) -> DocumentPassage {
    DocumentPassage {
        chunk_id: p.chunk_id,
        heading_path: p.heading_path,
        span: span(p.span),
        text: p.text,
    }
}

/// How an upload's content is written.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Markdown,
    Html,
    Text,
    /// One support ticket, as a JSON object in the `.jsonl` ticket format.
    Ticket,
}

/// A document to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadBody {
    pub format: Format,
    /// The document's source text (Markdown, HTML, plain text), or the ticket as a JSON object.
    pub content: Value,
    /// Front-matter keys (title, doc_type, language, audience, products, category, tags,
    /// effective_date, version, warranty); not for tickets, which carry their own fields.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

impl From<UploadBody> for Upload {
    fn from(b: UploadBody) -> Upload {
        Upload {
            format: match b.format {
                Format::Markdown => UploadFormat::Markdown,
                Format::Html => UploadFormat::Html,
                Format::Text => UploadFormat::Text,
                Format::Ticket => UploadFormat::Ticket,
            },
            content: b.content,
            metadata: b.metadata,
        }
    }
}
