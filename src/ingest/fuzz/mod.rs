//! Property tests ("fuzzing") of every parser that reads outside input: Markdown, HTML, plain
//! text, ticket JSONL and CSV, and front matter on its own. The inputs come from structured
//! strategies (headings, lists, tables, fences, nested and unclosed tags, attributes, entities,
//! comments, scripts, meta tags, YAML and TOML front matter, broken JSON lines and CSV quotes,
//! huge fields, multibyte text) rather than random characters alone.
//!
//! Properties: no input makes a parser panic; parsing is deterministic; every piece of a block
//! lies on character boundaries of the input, and a verbatim piece is byte for byte its source;
//! every passage's span (through `chunk::chunk_document`) lies on character boundaries within
//! the input.
//!
//! 256 cases per property by default (proptest's default, a few seconds in a debug build);
//! `PROPTEST_CASES` sets another number:
//! `PROPTEST_CASES=100000 cargo test --release --lib ingest::fuzz`.

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};

mod front_matter;
mod markup;
mod records;

use front_matter::*;
use markup::*;
use records::*;

use super::{frontmatter, parse_bytes, Document, Format};
use crate::config::Config;

/// proptest's default configuration (which reads `PROPTEST_CASES`), without writing failure
/// files into the source tree: a failure found here becomes a named regression test.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The properties

/// Whether Markdown's verbatim pieces are checked against their source: yes, since
/// `BlockBuilder::push_newline` trims the pieces that claimed the spaces it removes (before,
/// a hard line break after a code span or trailing spaces left a stale piece; see
/// `markdown_spaces_before_a_hard_break_leave_no_stale_piece`).
const MARKDOWN_VERBATIM_CHECKED: bool = true;

/// Parses `src` twice as `format` and checks the properties.
fn check(src: &str, format: Format, name: &str) -> Result<(), TestCaseError> {
    let config = Config::default();
    let first = parse_bytes(src.as_bytes(), format, Path::new(name), name, &config);
    let again = parse_bytes(src.as_bytes(), format, Path::new(name), name, &config);
    let ing = match (first, again) {
        (Ok(a), Ok(b)) => {
            prop_assert_eq!(&a.documents, &b.documents, "not deterministic");
            prop_assert_eq!(&a.errors, &b.errors, "not deterministic");
            a
        }
        (Err(a), Err(b)) => {
            prop_assert_eq!(a.to_string(), b.to_string(), "not deterministic");
            return Ok(());
        }
        (a, b) => {
            return Err(TestCaseError::fail(format!(
                "not deterministic: {:?} then {:?}",
                a.map(|i| i.documents.len()),
                b.map(|i| i.documents.len())
            )))
        }
    };
    let verbatim = format != Format::Markdown || MARKDOWN_VERBATIM_CHECKED;
    for doc in &ing.documents {
        check_document(src, doc, verbatim)?;
    }
    Ok(())
}

/// Every block piece and passage span of `doc` lies on character boundaries of `src`, and (with
/// `verbatim`) a verbatim piece is its source text.
fn check_document(src: &str, doc: &Document, verbatim: bool) -> Result<(), TestCaseError> {
    let boundary = |at: usize| at <= src.len() && src.is_char_boundary(at);
    for block in &doc.blocks {
        for p in &block.map.pieces {
            let (s, e) = (p.src_start, p.src_start + p.src_len);
            prop_assert!(
                boundary(s) && boundary(e),
                "piece {s}..{e} of {}",
                src.len()
            );
            if verbatim && p.verbatim {
                // the block's text may have lost trailing whitespace after its last piece
                let t_end = (p.text_start + p.text_len).min(block.text.len());
                if p.text_start < t_end {
                    let text = block.text.get(p.text_start..t_end);
                    let source = src.get(s..s + (t_end - p.text_start));
                    prop_assert!(text.is_some(), "piece text not on boundaries");
                    prop_assert_eq!(text, source, "verbatim piece differs from its source");
                }
            }
        }
    }
    let config = Config::default();
    for c in crate::chunk::chunk_document(doc, &config.chunk) {
        let (s, e) = c.span;
        prop_assert!(s <= e && boundary(s) && boundary(e), "span {s}..{e}");
        for p in &c.pieces {
            let (s, e) = p.source;
            prop_assert!(s <= e && boundary(s) && boundary(e), "sentence {s}..{e}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Building blocks

pub(super) fn s(v: &[&'static str]) -> impl Strategy<Value = String> + Clone {
    select(v.to_vec()).prop_map(String::from)
}

/// A word: ASCII, digits, model numbers, CJK, combining marks, emoji, odd whitespace.
pub(super) fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z]{1,8}",
        1 => "[0-9]{1,4}",
        2 => s(&[
            "屏幕", "保修", "电池", "。", "！", "？", "é", "naïve", "e\u{301}", "😀", "ß", "İ",
            "X9-Pro", "AC-3500", "F0", "\u{a0}", "\u{85}", "\u{2028}", "\u{feff}", "\t", "\r",
            "\u{200b}", "ﬁ", "Ω", "\u{7f}", "\u{1b}",
        ]),
    ]
}

pub(super) fn words(max: usize) -> impl Strategy<Value = String> {
    vec(word(), 0..max).prop_map(|w| w.join(" "))
}

/// Joins lines with `\n` or `\r\n`, with an optional byte order mark in front.
pub(super) fn document(
    lines: impl Strategy<Value = Vec<String>>,
    head: impl Strategy<Value = String>,
) -> impl Strategy<Value = String> {
    (any::<bool>(), any::<bool>(), head, lines).prop_map(|(bom, crlf, head, lines)| {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut out = String::new();
        if bom {
            out.push('\u{feff}');
        }
        out.push_str(&head.replace('\n', nl));
        out.push_str(&lines.join(nl));
        out
    })
}

/// `src` cut at a character boundary near `at` (for unclosed constructs at the end).
pub(super) fn cut(src: &str, at: Index) -> &str {
    let mut end = at.index(src.len() + 1);
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    &src[..end]
}

// ---------------------------------------------------------------------------------------------
// The property tests

proptest! {
    #![proptest_config(config())]

    #[test]
    fn markdown_properties(src in markdown()) {
        check(&src, Format::Markdown, "a.md")?;
    }

    #[test]
    fn html_properties((src, at, truncate) in html()) {
        let src = if truncate { cut(&src, at) } else { &src };
        check(src, Format::Html, "a.html")?;
        // past the file checks too (they refuse NUL bytes near the start, not further on)
        let config = Config::default();
        let ctx = super::FileContext { rel_path: "a.html", config: &config };
        let first = super::html::parse(src, &ctx);
        prop_assert_eq!(&first, &super::html::parse(src, &ctx), "not deterministic");
        if let Ok(doc) = first {
            check_document(src, &doc, true)?;
        }
    }

    #[test]
    fn text_properties(src in text()) {
        check(&src, Format::Text, "a.txt")?;
    }

    #[test]
    fn jsonl_properties(src in jsonl()) {
        check(&src, Format::TicketsJsonl, "a.jsonl")?;
    }

    #[test]
    fn csv_properties(src in csv()) {
        check(&src, Format::TicketsCsv, "a.csv")?;
    }

    #[test]
    fn front_matter_properties(head in front_matter(), body in words(6), bom in any::<bool>()) {
        let src = format!("{}{head}{body}", if bom { "\u{feff}" } else { "" });
        let first = frontmatter::split(&src);
        let again = frontmatter::split(&src);
        prop_assert_eq!(&first, &again, "not deterministic");
        if let Ok((_, body_start)) = first {
            prop_assert!(body_start <= src.len() && src.is_char_boundary(body_start));
        }
    }

    /// Markdown or text read as every other format, too (a file named wrongly).
    #[test]
    fn any_input_in_any_format((src, at, truncate) in html(), md in markdown()) {
        let src = if truncate { cut(&src, at) } else { &src };
        for text in [src, md.as_str()] {
            for (format, name) in [
                (Format::Markdown, "a.md"),
                (Format::Html, "a.html"),
                (Format::Text, "a.txt"),
                (Format::TicketsJsonl, "a.jsonl"),
                (Format::TicketsCsv, "a.csv"),
            ] {
                check(text, format, name)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regression tests: what the properties found

pub(super) fn parse_as(src: &str, format: Format, name: &str) -> Document {
    let config = Config::default();
    match parse_bytes(src.as_bytes(), format, Path::new(name), name, &config) {
        Ok(mut ing) if !ing.documents.is_empty() => ing.documents.remove(0),
        Ok(_) => panic!("no document: {src:?}"),
        Err(e) => panic!("{e}: {src:?}"),
    }
}

/// Spaces at the end of `<pre>` text before a `<br>` were a verbatim piece that the line
/// break cut out of the text, so the piece covered `a\nb` while claiming the source `a  `.
#[test]
pub(super) fn html_pre_spaces_before_br_leave_no_stale_piece() {
    let src = "<pre>a  <br>b</pre><pre>x &amp; y   <li>z</pre>";
    let doc = parse_as(src, Format::Html, "a.html");
    assert_eq!(doc.blocks[0].text, "a\nb");
    if let Err(e) = check_document(src, &doc, true) {
        panic!("{e}");
    }
}

/// The same in Markdown (a code span ending in a space, then a hard break): the stale piece is
/// made by `BlockBuilder::push_newline`, outside the parsers.
#[test]
pub(super) fn markdown_spaces_before_a_hard_break_leave_no_stale_piece() {
    for src in [
        "a `b ` \\\nc",
        "+++\n\n+++\n*\t \r* **\t \r** `\t \r` [\t \r](http://x/\t \r) ![i](y) ~~\t \r~~",
    ] {
        let doc = parse_as(src, Format::Markdown, "a.md");
        if let Err(e) = check_document(src, &doc, true) {
            panic!("{e}: {src:?}");
        }
    }
}
