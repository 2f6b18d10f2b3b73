//! HTML: a small, forgiving scanner (no DOM) that keeps byte offsets. `<title>`, `<html lang>`
//! and `<meta name content>` give the metadata; `h1`–`h6` the heading path; `p`, `li`, table
//! rows, `pre` and friends the blocks. `script`, `style` and comments are skipped. Malformed
//! markup never fails: unknown or unclosed tags are ignored.

use std::sync::Arc;

use super::{
    frontmatter, meta_from_front_matter, Block, BlockBuilder, BlockKind, Document, FileContext,
};

/// Parses an HTML file into a document.
pub fn parse(src: &str, ctx: &FileContext<'_>) -> Result<Document, String> {
    let mut p = HtmlState::default();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<' {
            if src[i..].starts_with("<!--") {
                i = src[i..].find("-->").map_or(bytes.len(), |e| i + e + 3);
                continue;
            }
            if src[i..].starts_with("<!") || src[i..].starts_with("<?") {
                i = src[i..].find('>').map_or(bytes.len(), |e| i + e + 1);
                continue;
            }
            if let Some(tag) = parse_tag(&src[i..]) {
                let end = i + tag.len;
                let name = tag.name.to_ascii_lowercase();
                if !tag.closing && (name == "script" || name == "style") {
                    let close = format!("</{name}");
                    i = find_ci(&src[end..], &close)
                        .map(|e| end + e)
                        .and_then(|e| src[e..].find('>').map(|g| e + g + 1))
                        .unwrap_or(bytes.len());
                    continue;
                }
                p.tag(&name, tag.closing, &tag.attrs);
                i = end;
                continue;
            }
            // a lone '<' is text
            p.text("<", i);
            i += 1;
            continue;
        }
        let next = src[i..].find('<').map_or(bytes.len(), |e| i + e);
        p.text_run(&src[i..next], i);
        i = next;
    }
    p.flush();
    let mut json = serde_json::Map::new();
    for (k, v) in &p.meta {
        json.insert(k.clone(), serde_json::Value::String(v.clone()));
    }
    if !json.contains_key("language") {
        if let Some(lang) = &p.lang {
            json.insert("language".into(), serde_json::Value::String(lang.clone()));
        }
    }
    let fm = frontmatter::from_json(serde_json::Value::Object(json))?;
    let title = p.title.trim().to_string();
    let fallback = if title.is_empty() {
        p.first_h1.clone()
    } else {
        Some(title)
    };
    let meta = meta_from_front_matter(fm, ctx, fallback, &p.blocks);
    Ok(Document {
        meta: Arc::new(meta),
        blocks: p.blocks,
    })
}

struct Tag {
    name: String,
    closing: bool,
    attrs: Vec<(String, String)>,
    len: usize,
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let hay_l = hay.to_ascii_lowercase();
    hay_l.find(&needle.to_ascii_lowercase())
}

/// Parses a tag at the start of `s` (which begins with `<`).
fn parse_tag(s: &str) -> Option<Tag> {
    let b = s.as_bytes();
    let mut i = 1;
    let closing = b.get(1) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let name = s[name_start..i].to_string();
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        if b[i] == b'>' {
            return Some(Tag {
                name,
                closing,
                attrs,
                len: i + 1,
            });
        }
        if b[i] == b'/' {
            i += 1;
            continue;
        }
        let an_start = i;
        while i < b.len()
            && !b[i].is_ascii_whitespace()
            && b[i] != b'='
            && b[i] != b'>'
            && b[i] != b'/'
        {
            i += 1;
        }
        let an = s[an_start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = s[vs..].find(q as char).map(|e| vs + e)?;
                value = decode_entities(&s[vs..ve]);
                i = ve + 1;
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = decode_entities(&s[vs..i]);
            }
        }
        if an.is_empty() {
            // no attribute name here: skip one character (not one byte: it may be multi-byte)
            i += s
                .get(i..)
                .and_then(|r| r.chars().next())
                .map_or(1, char::len_utf8);
        } else {
            attrs.push((an, value));
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decodes the common named entities and numeric references.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let end = prefix(rest, 12).find(';');
        let decoded = end.and_then(|e| {
            let ent = &rest[1..e];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "hellip" => Some('…'),
                "copy" => Some('©'),
                "reg" => Some('®'),
                "deg" => Some('°'),
                "times" => Some('×'),
                _ => {
                    if let Some(hex) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                    } else if let Some(dec) = ent.strip_prefix('#') {
                        dec.parse::<u32>().ok().and_then(char::from_u32)
                    } else {
                        None
                    }
                }
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[derive(Default)]
struct HtmlState {
    meta: Vec<(String, String)>,
    lang: Option<String>,
    title: String,
    in_title: bool,
    first_h1: Option<String>,
    headings: Vec<(u8, String)>,
    heading: Option<(u8, String)>,
    blocks: Vec<Block>,
    cur: BlockBuilder,
    kind: Option<BlockKind>,
    list_depth: usize,
    ordered: Vec<Option<u64>>,
    table_depth: usize,
    cells_in_row: usize,
    pre_depth: usize,
}

impl HtmlState {
    fn heading_path(&self) -> Vec<String> {
        let title = self.title.trim();
        let title = if title.is_empty() {
            self.first_h1.as_deref().unwrap_or("")
        } else {
            title
        };
        self.headings
            .iter()
            .filter(|(l, t)| !(*l == 1 && t == title))
            .map(|(_, t)| t.clone())
            .collect()
    }

    fn flush(&mut self) {
        let path = self.heading_path();
        let kind = self.kind.take().unwrap_or(BlockKind::Paragraph);
        if let Some(b) = self.cur.take(&path, kind) {
            self.blocks.push(b);
        }
    }

    fn in_container(&self) -> bool {
        self.list_depth > 0 || self.table_depth > 0 || self.pre_depth > 0
    }

    fn tag(&mut self, name: &str, closing: bool, attrs: &[(String, String)]) {
        let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match (name, closing) {
            ("html", false) => self.lang = attr("lang"),
            ("meta", false) => {
                if let (Some(n), Some(c)) = (attr("name"), attr("content")) {
                    let key = n.strip_prefix("kefu:").unwrap_or(&n).to_ascii_lowercase();
                    if matches!(
                        key.as_str(),
                        "id" | "doc_type"
                            | "audience"
                            | "products"
                            | "product"
                            | "category"
                            | "tags"
                            | "effective_date"
                            | "language"
                            | "version"
                            | "title"
                    ) {
                        self.meta.push((key, c));
                    }
                }
            }
            ("title", false) => self.in_title = true,
            ("title", true) => self.in_title = false,
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                self.flush();
                let level = name.as_bytes()[1] - b'0';
                self.heading = Some((level, String::new()));
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) => {
                if let Some((level, text)) = self.heading.take() {
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
            ("ul" | "ol", false) => {
                if self.list_depth == 0 && self.table_depth == 0 {
                    self.flush();
                    self.kind = Some(BlockKind::List);
                }
                self.list_depth += 1;
                self.ordered.push(if name == "ol" {
                    Some(attr("start").and_then(|s| s.parse().ok()).unwrap_or(1))
                } else {
                    None
                });
            }
            ("ul" | "ol", true) if self.list_depth > 0 => {
                self.list_depth -= 1;
                self.ordered.pop();
                if self.list_depth == 0 && self.table_depth == 0 {
                    self.flush();
                }
            }
            ("li", false) => {
                self.cur.push_newline();
                let indent = "  ".repeat(self.list_depth.saturating_sub(1));
                let marker = match self.ordered.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{indent}{n}. ");
                        *n += 1;
                        m
                    }
                    _ => format!("{indent}- "),
                };
                self.cur.push_synthetic(&marker);
            }
            ("table", false) => {
                if self.table_depth == 0 {
                    self.flush();
                    self.kind = Some(BlockKind::Table);
                }
                self.table_depth += 1;
            }
            ("table", true) if self.table_depth > 0 => {
                self.table_depth -= 1;
                if self.table_depth == 0 {
                    self.flush();
                }
            }
            ("tr", false) => {
                self.cur.push_newline();
                self.cells_in_row = 0;
            }
            ("td" | "th", false) => {
                if self.cells_in_row > 0 {
                    self.cur.push_synthetic(" | ");
                }
                self.cells_in_row += 1;
            }
            ("pre", false) => {
                if !self.in_container() {
                    self.flush();
                    self.kind = Some(BlockKind::Code);
                }
                self.pre_depth += 1;
            }
            ("pre", true) if self.pre_depth > 0 => {
                self.pre_depth -= 1;
                if self.pre_depth == 0 && self.list_depth == 0 && self.table_depth == 0 {
                    self.flush();
                }
            }
            ("br", _) => self.cur.push_newline(),
            (
                "p" | "div" | "section" | "article" | "blockquote" | "dd" | "dt" | "header"
                | "footer" | "main" | "aside" | "figcaption" | "hr",
                _,
            ) => {
                if self.in_container() {
                    self.cur.push_space();
                } else {
                    self.flush();
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, t: &str, at: usize) {
        if self.in_title {
            self.title.push_str(t);
        } else if let Some((_, h)) = self.heading.as_mut() {
            h.push_str(t);
        } else {
            self.cur.push_source(t, at, t.len(), true);
        }
    }

    fn text_run(&mut self, raw: &str, at: usize) {
        if self.in_title {
            self.title.push_str(&decode_entities(raw));
            return;
        }
        if let Some((_, h)) = self.heading.as_mut() {
            h.push_str(&decode_entities(raw));
            return;
        }
        if self.pre_depth > 0 {
            let decoded = decode_entities(raw);
            let verbatim = decoded == raw;
            self.cur.push_source(&decoded, at, raw.len(), verbatim);
            return;
        }
        if !raw.contains('&') {
            self.cur.push_collapsed(raw, at);
            return;
        }
        // Entities: split around them so the plain stretches stay verbatim.
        let mut rest = raw;
        let mut off = at;
        while let Some(pos) = rest.find('&') {
            self.cur.push_collapsed(&rest[..pos], off);
            let tail = &rest[pos..];
            let end = prefix(tail, 12).find(';').map_or(1, |e| e + 1);
            let decoded = decode_entities(&tail[..end]);
            if decoded.chars().all(char::is_whitespace) {
                self.cur.push_space();
            } else {
                self.cur.push_source(&decoded, off + pos, end, false);
            }
            rest = &tail[end..];
            off += pos + end;
        }
        self.cur.push_collapsed(rest, off);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ingest::{DocType, Lang};

    #[test]
    fn parses_metadata_headings_lists_tables() {
        let src = r#"<!DOCTYPE html>
<html lang="zh"><head><title>AC-3500 使用说明书</title>
<meta name="id" content="manual-ac-3500-zh"><meta name="doc_type" content="manual">
<meta name="products" content="AC-3500"><style>p { color: red }</style></head>
<body><h1>AC-3500 使用说明书</h1>
<h2>故障代码</h2><p>出现 <b>E1</b> 代码时，请&nbsp;联系售后。</p>
<ol><li>关闭电源</li><li>等待 3 分钟</li></ol>
<table><tr><th>代码</th><th>含义</th></tr><tr><td>F0</td><td>冷媒不足</td></tr></table>
<script>var x = "<p>not text</p>";</script>
</body></html>"#;
        let config = Config::default();
        let ctx = FileContext {
            rel_path: "manuals/ac.html",
            config: &config,
        };
        let doc = parse(src, &ctx).expect("parses");
        assert_eq!(doc.meta.id, "manual-ac-3500-zh");
        assert_eq!(doc.meta.title, "AC-3500 使用说明书");
        assert_eq!(doc.meta.doc_type, DocType::Manual);
        assert_eq!(doc.meta.language, Lang::Zh);
        assert_eq!(doc.meta.products, vec!["AC-3500"]);
        let texts: Vec<&str> = doc.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "出现 E1 代码时，请 联系售后。",
                "1. 关闭电源\n2. 等待 3 分钟",
                "代码 | 含义\nF0 | 冷媒不足"
            ]
        );
        assert_eq!(doc.blocks[0].heading_path, vec!["故障代码".to_string()]);
        let b = &doc.blocks[0];
        let (s, e) = b.map.to_source(0, b.text.len());
        assert!(src[s..e].starts_with("出现 <b>E1</b>"));
        assert!(src[s..e].ends_with("联系售后。"));
    }

    #[test]
    fn malformed_markup_does_not_fail() {
        let config = Config::default();
        let ctx = FileContext {
            rel_path: "x.html",
            config: &config,
        };
        let doc = parse("<p>a < b and <unclosed <p>c &bogus; d", &ctx).expect("parses");
        let all: String = doc
            .blocks
            .iter()
            .map(|b| b.text.clone())
            .collect::<Vec<_>>()
            .join("|");
        assert!(all.contains("a < b"), "{all}");
        assert!(all.contains("&bogus;"), "{all}");
    }

    #[test]
    fn entities_decode() {
        assert_eq!(
            decode_entities("a &amp; b &#x4E2D;&#25991; &lt;"),
            "a & b 中文 <"
        );
    }
}
