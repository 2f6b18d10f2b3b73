//! Markdown (CommonMark + tables) via pulldown-cmark. Headings build the heading path; each
//! paragraph, list, table and code block becomes a [`Block`] whose pieces point back at the
//! exact source bytes.

use std::sync::Arc;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::{
    frontmatter, meta_from_front_matter, Block, BlockBuilder, BlockKind, Document, FileContext,
};

/// Parses a Markdown file (with optional front matter) into a document.
pub fn parse(src: &str, ctx: &FileContext<'_>) -> Result<Document, String> {
    let (fm, body_start) = frontmatter::split(src)?;
    let body = &src[body_start..];
    let mut state = State::new(body_start, fm.as_ref().and_then(|f| f.title.clone()));
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        state.event(event, range, body);
    }
    state.flush();
    let State {
        blocks, first_h1, ..
    } = state;
    let meta = meta_from_front_matter(fm.unwrap_or_default(), ctx, first_h1, &blocks);
    Ok(Document {
        meta: Arc::new(meta),
        blocks,
    })
}

struct State {
    base: usize,
    title: Option<String>,
    first_h1: Option<String>,
    headings: Vec<(u8, String)>,
    heading_text: Option<(u8, String)>,
    blocks: Vec<Block>,
    cur: BlockBuilder,
    kind: BlockKind,
    /// Nesting of lists: the next number of an ordered list, `None` for bullets.
    lists: Vec<Option<u64>>,
    in_table: bool,
    cell_index: usize,
    in_code: bool,
}

impl State {
    fn new(base: usize, title: Option<String>) -> Self {
        State {
            base,
            title,
            first_h1: None,
            headings: Vec::new(),
            heading_text: None,
            blocks: Vec::new(),
            cur: BlockBuilder::new(),
            kind: BlockKind::Paragraph,
            lists: Vec::new(),
            in_table: false,
            cell_index: 0,
            in_code: false,
        }
    }

    fn heading_path(&self) -> Vec<String> {
        let title = self.title.as_deref().or(self.first_h1.as_deref());
        self.headings
            .iter()
            .filter(|(level, text)| !(*level == 1 && Some(text.as_str()) == title))
            .map(|(_, t)| t.clone())
            .collect()
    }

    fn flush(&mut self) {
        let path = self.heading_path();
        if let Some(b) = self.cur.take(&path, self.kind) {
            self.blocks.push(b);
        }
        self.kind = BlockKind::Paragraph;
    }

    fn in_block_container(&self) -> bool {
        !self.lists.is_empty() || self.in_table || self.in_code
    }

    fn text(&mut self, t: &str, range: std::ops::Range<usize>, body: &str) {
        if let Some((_, h)) = self.heading_text.as_mut() {
            h.push_str(t);
            return;
        }
        let raw = &body[range.clone()];
        // Text events are usually the source verbatim; inline code and escapes are not, but
        // their text often sits inside the source range.
        if raw == t {
            self.cur
                .push_source(t, self.base + range.start, range.len(), true);
        } else if let Some(p) = raw.find(t) {
            self.cur
                .push_source(t, self.base + range.start + p, t.len(), true);
        } else {
            self.cur
                .push_source(t, self.base + range.start, range.len(), false);
        }
    }

    fn event(&mut self, event: Event<'_>, range: std::ops::Range<usize>, body: &str) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                self.flush();
                self.heading_text = Some((level as u8, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text)) = self.heading_text.take() {
                    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    if level == 1 && self.first_h1.is_none() {
                        self.first_h1 = Some(text.clone());
                    }
                    while self.headings.last().is_some_and(|(l, _)| *l >= level) {
                        self.headings.pop();
                    }
                    if !text.is_empty() {
                        self.headings.push((level, text));
                    }
                }
            }
            Event::Start(Tag::Paragraph) => {
                if self.in_block_container() {
                    self.cur.push_space();
                } else {
                    self.flush();
                }
            }
            Event::End(TagEnd::Paragraph) if !self.in_block_container() => {
                self.flush();
            }
            Event::Start(Tag::List(start)) => {
                if self.lists.is_empty() {
                    self.flush();
                    self.kind = BlockKind::List;
                }
                self.lists.push(start);
            }
            Event::End(TagEnd::List(_)) => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.flush();
                }
            }
            Event::Start(Tag::Item) => {
                self.cur.push_newline();
                let depth = self.lists.len().saturating_sub(1);
                let indent = "  ".repeat(depth);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{indent}{n}. ");
                        *n += 1;
                        m
                    }
                    _ => format!("{indent}- "),
                };
                self.cur.push_synthetic(&marker);
            }
            Event::End(TagEnd::Item) => {}
            Event::Start(Tag::Table(_)) => {
                self.flush();
                self.kind = BlockKind::Table;
                self.in_table = true;
            }
            Event::End(TagEnd::Table) => {
                self.in_table = false;
                self.flush();
            }
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => {
                self.cur.push_newline();
                self.cell_index = 0;
            }
            Event::Start(Tag::TableCell) => {
                if self.cell_index > 0 {
                    self.cur.push_synthetic(" | ");
                }
                self.cell_index += 1;
            }
            Event::Start(Tag::CodeBlock(_)) => {
                self.flush();
                self.kind = BlockKind::Code;
                self.in_code = true;
            }
            Event::End(TagEnd::CodeBlock) => {
                self.in_code = false;
                self.flush();
            }
            Event::Text(t) => self.text(&t, range, body),
            Event::Code(t) => self.text(&t, range, body),
            Event::SoftBreak => {
                // A soft break between two CJK characters is not a space.
                let prev = self.cur.text().chars().last();
                let next = body[range.end..].chars().next();
                let cjk =
                    prev.is_some_and(crate::text::is_cjk) && next.is_some_and(crate::text::is_cjk);
                if !cjk {
                    if let Some((_, h)) = self.heading_text.as_mut() {
                        h.push(' ');
                    } else {
                        self.cur.push_space();
                    }
                }
            }
            Event::HardBreak => self.cur.push_newline(),
            Event::Rule => self.flush(),
            Event::TaskListMarker(done) => {
                self.cur.push_synthetic(if done { "[x] " } else { "[ ] " })
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::{Audience, DocType};
    use crate::text::Lang;

    fn parse_str(src: &str) -> Document {
        let config = Config::default();
        let ctx = FileContext {
            rel_path: "manuals/x.md",
            config: &config,
        };
        parse(src, &ctx).expect("parses")
    }

    #[test]
    fn headings_become_paths_and_spans_point_at_source() {
        let src = "---\ntitle: X9 Pro Manual\ndoc_type: manual\n---\n# X9 Pro Manual\n\nIntro text.\n\n## Charging\n\nUse the **100 W** charger.\n\n### Slow charging\n\n1. Check the cable.\n2. Restart the phone.\n\n## Specs\n\n| Item | Value |\n|---|---|\n| Battery | 5,000 mAh |\n";
        let doc = parse_str(src);
        assert_eq!(doc.meta.title, "X9 Pro Manual");
        assert_eq!(doc.meta.doc_type, DocType::Manual);
        assert_eq!(doc.meta.language, Lang::En);
        assert_eq!(doc.meta.audience, Audience::Public);
        let texts: Vec<(&[String], &str)> = doc
            .blocks
            .iter()
            .map(|b| (b.heading_path.as_slice(), b.text.as_str()))
            .collect();
        assert_eq!(texts[0].1, "Intro text.");
        assert!(texts[0].0.is_empty());
        assert_eq!(texts[1].0, ["Charging".to_string()]);
        assert_eq!(texts[1].1, "Use the 100 W charger.");
        assert_eq!(
            texts[2].0,
            ["Charging".to_string(), "Slow charging".to_string()]
        );
        assert_eq!(texts[2].1, "1. Check the cable.\n2. Restart the phone.");
        assert_eq!(doc.blocks[2].kind, BlockKind::List);
        assert_eq!(texts[3].0, ["Specs".to_string()]);
        assert_eq!(texts[3].1, "Item | Value\nBattery | 5,000 mAh");
        // spans
        let b = &doc.blocks[1];
        let (s, e) = b.map.to_source(0, b.text.len());
        assert_eq!(&src[s..e], "Use the **100 W** charger.");
        let (s, e) = b.map.to_source(8, 13);
        assert_eq!(&src[s..e], "100 W");
    }

    #[test]
    fn chinese_soft_breaks_do_not_add_spaces() {
        let doc = parse_str("# 标题\n\n第一行\n第二行。\n");
        assert_eq!(doc.blocks[0].text, "第一行第二行。");
        assert_eq!(doc.meta.language, Lang::Zh);
        assert_eq!(doc.meta.title, "标题");
    }

    #[test]
    fn code_blocks_stay_verbatim() {
        let doc = parse_str("## Reset\n\n```\nadb reboot\n```\n");
        assert_eq!(doc.blocks[0].kind, BlockKind::Code);
        assert_eq!(doc.blocks[0].text, "adb reboot");
    }
}
