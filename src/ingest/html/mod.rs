//! HTML, tokenized by html5gum (the WHATWG tokenizer; no DOM). `<title>`, `<html lang>` and
//! `<meta name content>` give the metadata; `h1`–`h6` the heading path; `p`, `li`, table rows,
//! `pre` and friends the blocks. `script`, `style` and comments are skipped.
//!
//! Linear work: the tokenizer reads each byte a bounded number of times (an unclosed `<`,
//! comment, quote or `<script>` never makes it look ahead and come back), and this module
//! scans each text run once. `work_is_linear_in_the_input` checks it on pathological inputs
//! with a work counter (bytes the tokenizer read or compared, events, bytes scanned here). The
//! hand-written scanner this replaces rescanned the rest of the input at each `<` without a
//! `>` (quadratic).
//!
//! Byte offsets: html5gum gives each text run its source span, and the text is taken from
//! those source bytes (not from the tokenizer's decoded copy), so every word maps to its exact
//! bytes and each entity to its own bytes. html5gum 0.9, not 0.8: in 0.8 a text run that
//! reaches the end of the input loses its last bytes from its span (`a&` → `a`). One quirk is
//! handled here: `</>` produces no token at all, so the text run around it spans it; it is cut
//! out of the run.
//!
//! Malformed markup never fails; it reads as a browser reads it: `a < b` is text, unknown tags
//! are ignored, an unclosed comment, `<script>` or `<style>` hides the rest of the file, and a
//! tag still open at the end of the file (`<p class="x` with no `>`) is dropped.
//!
//! Measured in a debug test run (`parse_time_of_8_mib_inputs`, `cargo test --lib ingest::html
//! -- --ignored --nocapture`): an 8 MiB `<p<p<p…` input parses in 0.08 s (the old scanner:
//! hours), 8 MiB of `<a x=` in 0.3 s, of `<` in 0.5 s, of `&` in 1.3 s, and 8 MiB of `<p>x`
//! (two million blocks) in 1.4 s.

use std::cell::Cell;
use std::convert::Infallible;
use std::sync::Arc;

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Span, Tokenizer};

mod entities;
mod tokenize;

pub use entities::decode_entities;
use entities::{prefix, push_capped};
use tokenize::{CountingReader, Switching};

use super::{
    frontmatter, meta_from_front_matter, Block, BlockBuilder, BlockKind, Document, FileContext,
};

/// The metadata keys read from `<meta name="…" content="…">` (also as `kefu:<key>`).
const META_KEYS: [&str; 11] = [
    "id",
    "doc_type",
    "audience",
    "products",
    "product",
    "category",
    "tags",
    "effective_date",
    "language",
    "version",
    "title",
];

/// Heading text beyond this many bytes is dropped: every block carries its heading path, so a
/// huge heading over many small blocks would otherwise cost heading × blocks.
const MAX_HEADING_BYTES: usize = 512;
/// Title text beyond this many bytes is dropped (it is compared at every block).
const MAX_TITLE_BYTES: usize = 2048;
/// List items nested deeper than this are indented no further.
const MAX_LIST_INDENT: usize = 8;
/// Tag names are only compared with short known names; longer ones need not be kept whole.
const MAX_TAG_NAME: usize = 16;

/// Parses an HTML file into a document.
pub fn parse(src: &str, ctx: &FileContext<'_>) -> Result<Document, String> {
    parse_counting(src, ctx).map(|(doc, _)| doc)
}

/// [`parse`], also returning the work done: bytes the tokenizer read or compared, plus one per
/// event, plus the bytes this module scanned or copied.
fn parse_counting(src: &str, ctx: &FileContext<'_>) -> Result<(Document, u64), String> {
    let work = Cell::new(0u64);
    let mut p = HtmlState::new(src, &work);
    {
        let callback = |event: CallbackEvent<'_>, span: Span<usize>| -> Option<Infallible> {
            p.event(event, span);
            None
        };
        let emitter = Switching {
            inner: CallbackEmitter::new(callback),
            start: false,
            name: Vec::with_capacity(MAX_TAG_NAME),
        };
        let reader = CountingReader {
            input: src.as_bytes(),
            pos: 0,
            work: &work,
        };
        match Tokenizer::new_with_emitter(reader, emitter).finish() {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }
    p.flush();
    let HtmlState {
        meta,
        lang,
        title,
        first_h1,
        blocks,
        ..
    } = p;
    let mut json = serde_json::Map::new();
    for (k, v) in meta {
        json.insert(k.to_string(), serde_json::Value::String(v));
    }
    if !json.contains_key("language") {
        if let Some(lang) = lang {
            json.insert("language".into(), serde_json::Value::String(lang));
        }
    }
    let fm = frontmatter::from_json(serde_json::Value::Object(json))?;
    let title = title.trim().to_string();
    let fallback = if title.is_empty() {
        first_h1
    } else {
        Some(title)
    };
    let meta = meta_from_front_matter(fm, ctx, fallback, &blocks);
    Ok((
        Document {
            meta: Arc::new(meta),
            blocks,
        },
        work.get(),
    ))
}

/// The attributes of the current tag that matter here (the first of each name wins, as in
/// HTML).
#[derive(Default)]
struct Attrs {
    name: Option<String>,
    content: Option<String>,
    lang: Option<String>,
    start: Option<String>,
}

#[derive(Clone, Copy)]
enum AttrSlot {
    Name,
    Content,
    Lang,
    Start,
}

impl Attrs {
    fn slot(&mut self, slot: AttrSlot) -> &mut Option<String> {
        match slot {
            AttrSlot::Name => &mut self.name,
            AttrSlot::Content => &mut self.content,
            AttrSlot::Lang => &mut self.lang,
            AttrSlot::Start => &mut self.start,
        }
    }
}

struct HtmlState<'a> {
    src: &'a str,
    work: &'a Cell<u64>,
    /// The current start tag's name (lowercase, at most `MAX_TAG_NAME` bytes).
    tag_name: Vec<u8>,
    attrs: Attrs,
    attr: Option<AttrSlot>,
    /// Inside `script` or `style`: text is skipped.
    skip: bool,
    /// Inside `title` or `textarea`: the tokenizer reads markup as text (`</>` included).
    rcdata: bool,
    /// Metadata from meta tags, the first of each key.
    meta: Vec<(&'static str, String)>,
    lang: Option<String>,
    title: String,
    /// `title` trimmed, as of the last block.
    title_trimmed: String,
    title_changed: bool,
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

impl<'a> HtmlState<'a> {
    fn new(src: &'a str, work: &'a Cell<u64>) -> Self {
        HtmlState {
            src,
            work,
            tag_name: Vec::new(),
            attrs: Attrs::default(),
            attr: None,
            skip: false,
            rcdata: false,
            meta: Vec::new(),
            lang: None,
            title: String::new(),
            title_trimmed: String::new(),
            title_changed: false,
            in_title: false,
            first_h1: None,
            headings: Vec::new(),
            heading: None,
            blocks: Vec::new(),
            cur: BlockBuilder::new(),
            kind: None,
            list_depth: 0,
            ordered: Vec::new(),
            table_depth: 0,
            cells_in_row: 0,
            pre_depth: 0,
        }
    }

    fn add_work(&self, n: usize) {
        self.work.set(self.work.get() + n as u64);
    }

    fn event(&mut self, event: CallbackEvent<'_>, span: Span<usize>) {
        self.add_work(1);
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.add_work(name.len().min(MAX_TAG_NAME));
                self.tag_name.clear();
                self.tag_name
                    .extend_from_slice(&name[..name.len().min(MAX_TAG_NAME)]);
                self.tag_name.make_ascii_lowercase();
                self.attrs = Attrs::default();
                self.attr = None;
            }
            CallbackEvent::AttributeName { name } => {
                self.add_work(name.len());
                let slot = if name.eq_ignore_ascii_case(b"name") {
                    Some(AttrSlot::Name)
                } else if name.eq_ignore_ascii_case(b"content") {
                    Some(AttrSlot::Content)
                } else if name.eq_ignore_ascii_case(b"lang") {
                    Some(AttrSlot::Lang)
                } else if name.eq_ignore_ascii_case(b"start") {
                    Some(AttrSlot::Start)
                } else {
                    None
                };
                // a repeated attribute is ignored, as in HTML
                self.attr = slot.filter(|s| self.attrs.slot(*s).is_none());
                if let Some(s) = self.attr {
                    *self.attrs.slot(s) = Some(String::new());
                }
            }
            CallbackEvent::AttributeValue { value } => {
                self.add_work(value.len());
                if let Some(s) = self.attr {
                    if let Some(v) = self.attrs.slot(s) {
                        v.push_str(&String::from_utf8_lossy(value));
                    }
                }
            }
            CallbackEvent::CloseStartTag { .. } => {
                let name = std::mem::take(&mut self.tag_name);
                let attrs = std::mem::take(&mut self.attrs);
                self.attr = None;
                let name_str = std::str::from_utf8(&name).unwrap_or("");
                self.tag(name_str, false, &attrs);
                match name.as_slice() {
                    b"script" | b"style" => self.skip = true,
                    b"title" | b"textarea" => self.rcdata = true,
                    _ => {}
                }
            }
            CallbackEvent::EndTag { name } => {
                self.add_work(name.len().min(MAX_TAG_NAME));
                // inside script, style, title or textarea the tokenizer ends the element at
                // its own end tag only
                self.skip = false;
                self.rcdata = false;
                self.attrs = Attrs::default();
                self.attr = None;
                let mut lower = name[..name.len().min(MAX_TAG_NAME)].to_vec();
                lower.make_ascii_lowercase();
                self.tag(
                    std::str::from_utf8(&lower).unwrap_or(""),
                    true,
                    &Attrs::default(),
                );
            }
            CallbackEvent::String { .. } => self.string(span),
            CallbackEvent::Comment { .. }
            | CallbackEvent::Doctype { .. }
            | CallbackEvent::Error(_) => {}
        }
    }

    /// A text run at `span` of the source.
    fn string(&mut self, span: Span<usize>) {
        let len = self.src.len();
        let (mut s, mut e) = (span.start.min(len), span.end.min(len));
        if s >= e {
            return;
        }
        self.add_work(e - s);
        if self.skip {
            return;
        }
        // html5gum's spans lie on character boundaries; widen defensively all the same
        while !self.src.is_char_boundary(s) {
            s -= 1;
        }
        while !self.src.is_char_boundary(e) {
            e += 1;
        }
        let src = self.src;
        let raw = &src[s..e];
        if self.rcdata {
            self.text_run(raw, s);
            return;
        }
        // `</>` is no token: cut it out of the run
        let mut rest = raw;
        let mut at = s;
        while let Some(i) = rest.find("</>") {
            self.text_run(&rest[..i], at);
            rest = &rest[i + 3..];
            at += i + 3;
        }
        self.text_run(rest, at);
    }

    fn heading_path(&self) -> Vec<String> {
        let title = if self.title_trimmed.is_empty() {
            self.first_h1.as_deref().unwrap_or("")
        } else {
            self.title_trimmed.as_str()
        };
        self.headings
            .iter()
            .filter(|(l, t)| !(*l == 1 && t == title))
            .map(|(_, t)| t.clone())
            .collect()
    }

    fn flush(&mut self) {
        let kind = self.kind.take().unwrap_or(BlockKind::Paragraph);
        if self.cur.is_blank() {
            self.cur = BlockBuilder::new();
            return;
        }
        if self.title_changed {
            self.title_trimmed = self.title.trim().to_string();
            self.title_changed = false;
            self.add_work(self.title.len());
        }
        let path = self.heading_path();
        self.add_work(path.iter().map(String::len).sum::<usize>() + self.cur.text().len());
        if let Some(b) = self.cur.take(&path, kind) {
            self.blocks.push(b);
        }
    }

    fn in_container(&self) -> bool {
        self.list_depth > 0 || self.table_depth > 0 || self.pre_depth > 0
    }

    /// `<meta name content>`: the first meta tag for a key wins (an upload's declared
    /// metadata is written at the top of the file, ahead of anything in its content).
    fn meta_tag(&mut self, attrs: &Attrs) {
        if let (Some(n), Some(c)) = (&attrs.name, &attrs.content) {
            let n = n.trim().to_ascii_lowercase();
            let key = n.strip_prefix("kefu:").unwrap_or(&n);
            if let Some(&k) = META_KEYS.iter().find(|k| **k == key) {
                if !self.meta.iter().any(|(have, _)| *have == k) {
                    self.meta.push((k, c.clone()));
                }
            }
        }
    }

    /// `</hN>`: the heading joins the path, replacing those at its level and below.
    fn heading_end(&mut self) {
        let Some((level, text)) = self.heading.take() else {
            return;
        };
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

    /// `<ul>` or `<ol>` (numbered from its `start`).
    fn list_start(&mut self, ordered: bool, attrs: &Attrs) {
        if self.list_depth == 0 && self.table_depth == 0 {
            self.flush();
            self.kind = Some(BlockKind::List);
        }
        self.list_depth += 1;
        self.ordered.push(if ordered {
            Some(
                attrs
                    .start
                    .as_deref()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1),
            )
        } else {
            None
        });
    }

    /// `<li>`: a new line, indented by depth, with its marker.
    fn list_item(&mut self) {
        self.cur.push_newline();
        let depth = self.list_depth.saturating_sub(1).min(MAX_LIST_INDENT);
        let indent = "  ".repeat(depth);
        let marker = match self.ordered.last_mut() {
            Some(Some(n)) => {
                let m = format!("{indent}{n}. ");
                *n = n.saturating_add(1);
                m
            }
            _ => format!("{indent}- "),
        };
        self.cur.push_synthetic(&marker);
    }

    fn tag(&mut self, name: &str, closing: bool, attrs: &Attrs) {
        match (name, closing) {
            ("html", false) if self.lang.is_none() => self.lang = attrs.lang.clone(),
            ("meta", false) => self.meta_tag(attrs),
            ("title", false) => self.in_title = true,
            ("title", true) => self.in_title = false,
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                self.flush();
                let level = name.as_bytes()[1] - b'0';
                self.heading = Some((level, String::new()));
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) => self.heading_end(),
            ("ul" | "ol", false) => self.list_start(name == "ol", attrs),
            ("ul" | "ol", true) if self.list_depth > 0 => {
                self.list_depth -= 1;
                self.ordered.pop();
                if self.list_depth == 0 && self.table_depth == 0 {
                    self.flush();
                }
            }
            ("li", false) => self.list_item(),
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

    /// A run of source text at byte `at`: title, heading or block text.
    fn text_run(&mut self, raw: &str, at: usize) {
        if raw.is_empty() {
            return;
        }
        if self.in_title {
            if self.title.len() < MAX_TITLE_BYTES {
                push_capped(&mut self.title, &decode_entities(raw), MAX_TITLE_BYTES);
                self.title_changed = true;
            }
            return;
        }
        if let Some((_, h)) = self.heading.as_mut() {
            if h.len() < MAX_HEADING_BYTES {
                push_capped(h, &decode_entities(raw), MAX_HEADING_BYTES);
            }
            return;
        }
        if self.pre_depth > 0 {
            // Trailing spaces go in as text of their own: a line break after them takes them
            // out of the text again (`BlockBuilder::push_newline`), which must not leave a
            // piece behind that still claims them.
            let body = raw.trim_end_matches(' ');
            let decoded = decode_entities(body);
            let verbatim = decoded == body;
            self.cur.push_source(&decoded, at, body.len(), verbatim);
            self.cur.push_synthetic(&raw[body.len()..]);
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
                let verbatim = decoded == tail[..end];
                self.cur.push_source(&decoded, off + pos, end, verbatim);
            }
            rest = &tail[end..];
            off += pos + end;
        }
        self.cur.push_collapsed(rest, off);
    }
}

#[cfg(test)]
mod tests;
