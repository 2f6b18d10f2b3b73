//! Plain text: the first non-empty line is the title, paragraphs are separated by blank lines,
//! and the lines of a paragraph are joined (hard-wrapped text reads as one paragraph).

use std::sync::Arc;

use super::{frontmatter, meta_from_front_matter, BlockBuilder, BlockKind, Document, FileContext};

/// Parses a plain-text file into a document.
pub fn parse(src: &str, ctx: &FileContext<'_>) -> Result<Document, String> {
    let (fm, body_start) = frontmatter::split(src)?;
    let mut blocks = Vec::new();
    let mut title: Option<String> = None;
    let mut cur = BlockBuilder::new();
    let mut pos = body_start;
    for line in src[body_start..].split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim();
        if trimmed.is_empty() {
            if let Some(b) = cur.take(&[], BlockKind::Paragraph) {
                blocks.push(b);
            }
        } else if title.is_none()
            && fm.as_ref().and_then(|f| f.title.as_ref()).is_none()
            && blocks.is_empty()
            && cur.is_blank()
        {
            title = Some(trimmed.to_string());
        } else {
            let lead = content.len() - content.trim_start().len();
            let prev = cur.text().chars().last();
            let next = trimmed.chars().next();
            let cjk =
                prev.is_some_and(crate::text::is_cjk) && next.is_some_and(crate::text::is_cjk);
            if !cjk {
                cur.push_space();
            }
            cur.push_source(trimmed, pos + lead, trimmed.len(), true);
        }
        pos += line.len();
    }
    if let Some(b) = cur.take(&[], BlockKind::Paragraph) {
        blocks.push(b);
    }
    let meta = meta_from_front_matter(fm.unwrap_or_default(), ctx, title, &blocks);
    Ok(Document {
        meta: Arc::new(meta),
        blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn title_and_paragraphs() {
        let src = "Returns FAQ\n\nYou can return\nwithin 7 days.\n\n退货需要\n保持包装完整。\n";
        let config = Config::default();
        let ctx = FileContext {
            rel_path: "faq.txt",
            config: &config,
        };
        let doc = parse(src, &ctx).expect("parses");
        assert_eq!(doc.meta.title, "Returns FAQ");
        assert_eq!(doc.blocks.len(), 2);
        assert_eq!(doc.blocks[0].text, "You can return within 7 days.");
        assert_eq!(doc.blocks[1].text, "退货需要保持包装完整。");
        let b = &doc.blocks[0];
        let (s, e) = b.map.to_source(15, 29);
        assert_eq!(&src[s..e], "within 7 days.");
    }
}
