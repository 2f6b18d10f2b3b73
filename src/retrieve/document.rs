//! A document as a caller may read it, by id, within the caller's scope.

use super::{Filters, Scope};
use crate::error::Result;
use crate::index::Backend;

/// A document as a caller may see it: its metadata and its passages in order.
#[derive(Debug, Clone)]
pub struct DocumentView {
    pub doc_id: String,
    pub title: String,
    pub doc_type: String,
    pub language: String,
    pub audience: String,
    pub products: Vec<String>,
    pub source: String,
    pub passages: Vec<PassageView>,
}

/// One passage of a [`DocumentView`].
#[derive(Debug, Clone)]
pub struct PassageView {
    pub chunk_id: String,
    pub heading_path: Vec<String>,
    pub span: (usize, usize),
    pub text: String,
}

/// The document `doc_id` of the generation, if it exists and `scope` may read it (a document
/// the scope may not read is reported as absent, so its existence does not leak).
pub fn document(
    index: &dyn Backend,
    doc_id: &crate::domain::DocId,
    scope: Scope,
) -> Result<Option<DocumentView>> {
    let Some(filters) = Filters::default().within(scope) else {
        return Ok(None);
    };
    let mut chunks = index.document(doc_id.as_str(), &filters.set)?;
    chunks.retain(|c| scope.allows(c.meta.audience));
    let Some(first) = chunks.first() else {
        return Ok(None);
    };
    let m = first.meta.clone();
    Ok(Some(DocumentView {
        doc_id: m.id.clone(),
        title: m.title.clone(),
        doc_type: m.doc_type.as_str().to_string(),
        language: m.language.as_str().to_string(),
        audience: m.audience.as_str().to_string(),
        products: m.products.clone(),
        source: m.source.clone(),
        passages: chunks
            .into_iter()
            .map(|c| PassageView {
                chunk_id: c.id.to_string(),
                heading_path: c.heading_path,
                span: c.span,
                text: c.text,
            })
            .collect(),
    }))
}
