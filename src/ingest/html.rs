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

use html5gum::emitters::callback::{Callback, CallbackEmitter, CallbackEvent};
use html5gum::{Emitter, ForwardingEmitter, Reader, Span, State, Tokenizer};

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

/// The input as html5gum reads it, counting every byte read or compared.
struct CountingReader<'a> {
    input: &'a [u8],
    pos: usize,
    work: &'a Cell<u64>,
}

impl CountingReader<'_> {
    fn add(&self, n: usize) {
        self.work.set(self.work.get() + n as u64);
    }
}

impl Reader for CountingReader<'_> {
    type Error = Infallible;

    fn read_byte(&mut self) -> Result<Option<u8>, Infallible> {
        self.add(1);
        let b = self.input.get(self.pos).copied();
        if b.is_some() {
            self.pos += 1;
        }
        Ok(b)
    }

    fn try_read_string(&mut self, s: &[u8], case_sensitive: bool) -> Result<bool, Infallible> {
        self.add(s.len());
        let next = self.input.get(self.pos..).unwrap_or_default();
        let Some(next) = next.get(..s.len()) else {
            return Ok(false);
        };
        let matches = next == s || (!case_sensitive && next.eq_ignore_ascii_case(s));
        if matches {
            self.pos += s.len();
        }
        Ok(matches)
    }

    /// A run of bytes none of which is in `needle`, or one byte that is (the contract of
    /// `Reader::read_until`).
    fn read_until<'b>(
        &'b mut self,
        needle: &[u8],
        _char_buf: &'b mut [u8; 4],
    ) -> Result<Option<&'b [u8]>, Infallible> {
        let input: &'b [u8] = self.input;
        let rest = input.get(self.pos..).unwrap_or_default();
        let Some(first) = rest.first() else {
            return Ok(None);
        };
        let len = if needle.contains(first) {
            1
        } else {
            rest.iter()
                .position(|b| needle.contains(b))
                .unwrap_or(rest.len())
        };
        self.add(len + 1);
        self.pos += len;
        Ok(rest.get(..len))
    }
}

/// The tokenizer state a start tag switches to. html5gum leaves this to the caller (it has no
/// tree builder); the content of these elements is text, not markup.
fn raw_state(tag: &[u8]) -> Option<State> {
    match tag {
        b"script" => Some(State::ScriptData),
        b"style" => Some(State::RawText),
        b"title" | b"textarea" => Some(State::RcData),
        _ => None,
    }
}

/// html5gum's callback emitter, switching the tokenizer's state after `script`, `style`,
/// `title` and `textarea` start tags.
struct Switching<F: Callback<Infallible, usize>> {
    inner: CallbackEmitter<F, Infallible, usize>,
    start: bool,
    name: Vec<u8>,
}

impl<F: Callback<Infallible, usize>> ForwardingEmitter for Switching<F> {
    type Token = Infallible;

    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.inner
    }

    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn init_start_tag(&mut self) {
        self.start = true;
        self.name.clear();
        self.inner.init_start_tag();
    }

    fn init_end_tag(&mut self) {
        self.start = false;
        self.name.clear();
        self.inner.init_end_tag();
    }

    fn push_tag_name(&mut self, s: &[u8]) {
        let room = MAX_TAG_NAME.saturating_sub(self.name.len());
        self.name.extend_from_slice(&s[..s.len().min(room)]);
        self.inner.push_tag_name(s);
    }

    fn emit_current_tag(&mut self) -> Option<State> {
        // None: the inner emitter's own (naive) state switching is off
        let _ = self.inner.emit_current_tag();
        let next = if self.start {
            raw_state(&self.name)
        } else {
            None
        };
        if next.is_some() {
            // raw text and script data do not start a text run themselves
            self.inner.init_string();
        }
        next
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

/// Appends `s` to `out`, keeping `out` within `max` bytes.
fn push_capped(out: &mut String, s: &str, max: usize) {
    let room = max.saturating_sub(out.len());
    out.push_str(prefix(s, room));
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

    fn tag(&mut self, name: &str, closing: bool, attrs: &Attrs) {
        match (name, closing) {
            ("html", false) if self.lang.is_none() => self.lang = attrs.lang.clone(),
            ("meta", false) => {
                if let (Some(n), Some(c)) = (&attrs.name, &attrs.content) {
                    let n = n.trim().to_ascii_lowercase();
                    let key = n.strip_prefix("kefu:").unwrap_or(&n);
                    // the first meta tag for a key wins: an upload's declared metadata is
                    // written at the top of the file, ahead of anything in its content
                    if let Some(&k) = META_KEYS.iter().find(|k| **k == key) {
                        if !self.meta.iter().any(|(have, _)| *have == k) {
                            self.meta.push((k, c.clone()));
                        }
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
            ("ul" | "ol", true) if self.list_depth > 0 => {
                self.list_depth -= 1;
                self.ordered.pop();
                if self.list_depth == 0 && self.table_depth == 0 {
                    self.flush();
                }
            }
            ("li", false) => {
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
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::{Audience, DocType};
    use crate::text::Lang;

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

    fn parse_str(src: &str) -> Document {
        let config = Config::default();
        let ctx = FileContext {
            rel_path: "x.html",
            config: &config,
        };
        match parse(src, &ctx) {
            Ok(doc) => doc,
            Err(e) => panic!("{e}: {src:?}"),
        }
    }

    fn texts(doc: &Document) -> Vec<&str> {
        doc.blocks.iter().map(|b| b.text.as_str()).collect()
    }

    #[test]
    fn first_meta_tag_for_a_key_wins() {
        let doc = parse_str(
            r#"<meta name="audience" content="internal"><META NAME="Audience" CONTENT="Public">
<meta name="kefu:audience" content="public"><meta name="KEFU:AUDIENCE" content="public">
<p>text</p>"#,
        );
        assert_eq!(doc.meta.audience, Audience::Internal);
        // the kefu: prefix names the same key, whichever comes first
        let doc = parse_str(
            r#"<meta name="kefu:audience" content="internal"><meta name="audience" content="public">
<meta name="Kefu:Doc_Type" content="policy"><body><meta name="doc_type" content="faq"><p>x"#,
        );
        assert_eq!(doc.meta.audience, Audience::Internal);
        assert_eq!(doc.meta.doc_type, DocType::Policy);
        let doc = parse_str(
            r#"<meta name=" KEFU:audience " content="public"><meta name="audience" content="internal"><p>x"#,
        );
        assert_eq!(doc.meta.audience, Audience::Public);
        // a repeated attribute is ignored, as in HTML
        let doc = parse_str(
            r#"<meta name="audience" name="id" content="internal" content="public"><p>x"#,
        );
        assert_eq!(doc.meta.audience, Audience::Internal);
        // the first <html lang> too
        let doc = parse_str(r#"<html lang="zh"><html lang="en"><p>hello world"#);
        assert_eq!(doc.meta.language, Lang::Zh);
    }

    #[test]
    fn text_spans_are_the_source_bytes() {
        let src = "<p>a &amp; b</>c <b>d</b>\r\n e&#x4E2D;</p><title>t</>u</title><p>tail &amp";
        let doc = parse_str(src);
        assert_eq!(texts(&doc), vec!["a & bc d e中", "tail &amp"]);
        assert_eq!(doc.meta.title, "t</>u");
        for b in &doc.blocks {
            for p in &b.map.pieces {
                let source = &src[p.src_start..p.src_start + p.src_len];
                if p.verbatim {
                    assert_eq!(&b.text[p.text_start..p.text_start + p.text_len], source);
                }
            }
        }
        // the last run reaches the end of the input
        let last = &doc.blocks[1];
        assert_eq!(
            last.map.to_source(0, last.text.len()),
            (src.len() - 9, src.len())
        );
        let first = &doc.blocks[0];
        let (s, e) = first.map.to_source(0, first.text.len());
        assert_eq!(&src[s..e], "a &amp; b</>c <b>d</b>\r\n e&#x4E2D;");
    }

    #[test]
    fn markup_reads_as_a_browser_reads_it() {
        let doc = parse_str(
            "<SCRIPT>if (a < b) document.write('<p>no</p>')</SCRIPT ><Style>p{}</Style>\
             <p>kept <!-- hidden <p> --> too</p><textarea>a <b> c</textarea><p>x <a href=\"open",
        );
        assert_eq!(texts(&doc), vec!["kept too", "a <b> c", "x"]);
        // an unclosed comment or script hides the rest
        assert_eq!(texts(&parse_str("<p>a<!-- b <p>c")), vec!["a"]);
        assert_eq!(texts(&parse_str("<p>a<script>b <p>c")), vec!["a"]);
    }

    #[test]
    fn ol_start_at_the_largest_number_does_not_overflow() {
        let doc = parse_str(r#"<ol start="18446744073709551615"><li>a<li>b</ol>"#);
        assert_eq!(
            texts(&doc),
            vec!["18446744073709551615. a\n18446744073709551615. b"]
        );
    }

    #[test]
    fn deep_lists_and_long_headings_stay_bounded() {
        let doc = parse_str(&format!("{}x", "<ul><li>".repeat(50)));
        assert!(doc.blocks[0].text.len() < 50 * (2 * MAX_LIST_INDENT + 4));
        let doc = parse_str(&format!("<h2>{}</h2><p>x", "word ".repeat(1000)));
        assert!(doc.blocks[0].heading_path[0].len() <= MAX_HEADING_BYTES);
    }

    fn work_of(src: &str) -> u64 {
        let config = Config::default();
        let ctx = FileContext {
            rel_path: "x.html",
            config: &config,
        };
        match parse_counting(src, &ctx) {
            Ok((_, work)) => work,
            Err(e) => panic!("{e}"),
        }
    }

    /// Inputs of doubling size for pathological shapes: the work (bytes the tokenizer read or
    /// compared, events, bytes scanned here) grows linearly. Measured, work per input byte at
    /// the largest size (each doubling of the input at most doubled the work, ×2.08): `<a x=` 2.6,
    /// `<p` 1.0, `<` 3.0, unclosed `<!--` 1.5, unclosed `<script>` + `<p>` 2.7, `&` 3.0,
    /// 300k attributes in one tag 2.3, `<meta` without `>` 2.2; the worst shapes are entities
    /// (8.6) and long headings over many blocks (each block carries its heading path: 543).
    #[test]
    fn work_is_linear_in_the_input() {
        type Shape = (&'static str, usize, u64, fn(usize) -> String);
        let shapes: [Shape; 20] = [
            ("<a x= × n", 1 << 15, 4, |n| "<a x=".repeat(n)),
            ("<p × n", 1 << 16, 4, |n| "<p".repeat(n)),
            ("< × n", 1 << 16, 4, |n| "<".repeat(n)),
            ("unclosed <!--", 1 << 15, 4, |n| {
                format!("<p>a<!--{}", "x<p>".repeat(n))
            }),
            ("unclosed <script> + <p>", 1 << 15, 4, |n| {
                format!("<script>{}", "<p>".repeat(n))
            }),
            ("& × n", 1 << 16, 8, |n| "&".repeat(n)),
            ("attributes in one tag", 300_000 / 4, 4, |n| {
                let attrs: String = (0..n).map(|i| format!(" a{i}=v")).collect();
                format!("<p{attrs}>x")
            }),
            ("<meta without >", 1 << 14, 4, |n| {
                "<meta name=\"audience\" content=\"public\" ".repeat(n)
            }),
            ("</> × n", 1 << 15, 8, |n| {
                format!("<p>{}", "</>x".repeat(n))
            }),
            ("&#x × n", 1 << 15, 8, |n| "&#x".repeat(n)),
            ("entities", 1 << 13, 16, |n| {
                "&amp;&lt;&#x4E2D;&nbsp;&copy&notin".repeat(n)
            }),
            ("unclosed quote", 1 << 15, 4, |n| {
                format!("<a href=\"{}", "<p>x".repeat(n))
            }),
            ("unclosed <title>", 1 << 15, 8, |n| {
                format!("<title>{}", "<p>x".repeat(n))
            }),
            ("unclosed <style> + </styl", 1 << 15, 4, |n| {
                format!("<style>{}", "</styl".repeat(n))
            }),
            ("<!DOCTYPE × n", 1 << 14, 4, |n| {
                "<!DOCTYPE html ".repeat(n)
            }),
            ("closed metas", 1 << 13, 8, |n| {
                "<meta name=kefu:audience content=public>".repeat(n)
            }),
            ("nested lists", 1 << 13, 16, |n| "<ul><li>x".repeat(n)),
            ("many blocks", 1 << 14, 16, |n| "<p>x".repeat(n)),
            ("long headings over many blocks", 1 << 11, 4096, |n| {
                let heading = "word ".repeat(200);
                format!(
                    "{}{}",
                    (1..=6)
                        .map(|l| format!("<h{l}>{heading}</h{l}>"))
                        .collect::<String>(),
                    "<p>x".repeat(n)
                )
            }),
            ("long title over many blocks", 1 << 13, 64, |n| {
                format!("<title>{}</title>{}", " ".repeat(10_000), "<p>x".repeat(n))
            }),
        ];
        for (name, base, per_byte, make) in shapes {
            let mut prev: Option<u64> = None;
            let mut figures = Vec::new();
            for n in [base, 2 * base, 4 * base] {
                let src = make(n);
                let work = work_of(&src);
                figures.push(format!("n={n} bytes={} work={work}", src.len()));
                assert!(
                    work <= per_byte * src.len() as u64 + 100_000,
                    "{name}: work {work} for {} bytes",
                    src.len()
                );
                if let Some(p) = prev {
                    assert!(
                        work * 2 <= p * 5,
                        "{name}: work {p} then {work} for twice the input"
                    );
                }
                prev = Some(work);
            }
            eprintln!("{name}: {}", figures.join(", "));
        }
    }

    /// Prints the time of parsing 8 MiB pathological inputs (for the figure in the module
    /// documentation): `cargo test --lib ingest::html -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn parse_time_of_8_mib_inputs() {
        let size = 8 << 20;
        for unit in ["<p", "<a x=", "<", "&", "<p>x"] {
            let src = unit.repeat(size / unit.len());
            let start = std::time::Instant::now();
            let work = work_of(&src);
            eprintln!(
                "{unit:?} × {}: {} bytes, work {work}, {:?}",
                size / unit.len(),
                src.len(),
                start.elapsed()
            );
        }
    }

    #[test]
    fn entities_decode() {
        assert_eq!(
            decode_entities("a &amp; b &#x4E2D;&#25991; &lt;"),
            "a & b 中文 <"
        );
    }
}
