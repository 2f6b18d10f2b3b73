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

fn s(v: &[&'static str]) -> impl Strategy<Value = String> + Clone {
    select(v.to_vec()).prop_map(String::from)
}

/// A word: ASCII, digits, model numbers, CJK, combining marks, emoji, odd whitespace.
fn word() -> impl Strategy<Value = String> {
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

fn words(max: usize) -> impl Strategy<Value = String> {
    vec(word(), 0..max).prop_map(|w| w.join(" "))
}

/// Joins lines with `\n` or `\r\n`, with an optional byte order mark in front.
fn document(
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
fn cut(src: &str, at: Index) -> &str {
    let mut end = at.index(src.len() + 1);
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    &src[..end]
}

// ---------------------------------------------------------------------------------------------
// Front matter

fn yaml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        words(4),
        words(3).prop_map(|w| format!("\"{}\"", w.replace('"', "\\\""))),
        words(3).prop_map(|w| format!("'{w}'")),
        vec(words(2), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        vec(words(2), 1..4).prop_map(|v| format!(
            "\n{}",
            v.iter()
                .map(|w| format!("  - {w}"))
                .collect::<Vec<_>>()
                .join("\n")
        )),
        s(&[
            "2026-01-01",
            "2026-13-45",
            "next week",
            "2026-01-01T00:00:00Z",
            "12",
            "-1",
            "3.5",
            "1e400",
            "true",
            "~",
            "null",
            "",
            "&anchor x",
            "*anchor",
            "!!str 5",
            "!!binary aGk=",
            "|\n  line one\n  line two",
            ">\n  folded\n  text",
            "{ battery: 12 }",
            "[unclosed",
            "\"unclosed",
            "'it''s'",
            "\"a\\u0085b\"",
            "\"\\ud800\"",
            "\"\\U0001F600\"",
            "\ttab",
            "{a: [b, {c: d}]}",
            "[[[[[[[[]]]]]]]]",
            "!<tag:x> y",
            "? complex",
            "- - nested",
            "internal",
            "public",
            "policy",
            "manual",
            "brochure",
            "en",
            "zh-CN",
            "fr",
        ]),
        (1..2000usize).prop_map(|n| format!("{}x{}", "[".repeat(n), "]".repeat(n / 2))),
    ]
}

fn yaml_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => s(&[
            "id", "title", "doc_type", "language", "lang", "audience", "products", "product",
            "category", "tags", "effective_date", "version", "owner", "Title", "kefu:audience",
        ]),
        1 => "[a-z_]{1,10}",
    ];
    prop_oneof![
        8 => (key, yaml_value()).prop_map(|(k, v)| format!("{k}: {v}")),
        1 => Just("warranty:\n  - category: phone\n    months: 12\n    parts: { battery: 12 }".to_string()),
        1 => Just("warranty:\n  - category: phone\n    months: many".to_string()),
        1 => s(&["# comment", "", "  indented: x", "---", "...", "%YAML 1.2", "a: &a [x, *a]", "key without colon", ": no key", "a:\tb"]),
    ]
}

fn toml_line() -> impl Strategy<Value = String> {
    let key = s(&[
        "id",
        "title",
        "doc_type",
        "language",
        "audience",
        "products",
        "tags",
        "effective_date",
        "version",
        "owner",
        "\"quoted key\"",
        "a.b",
    ]);
    let value = prop_oneof![
        words(3).prop_map(|w| format!("\"{}\"", w.replace(['"', '\\'], ""))),
        words(3).prop_map(|w| format!("'{}'", w.replace('\'', ""))),
        s(&[
            "2026-03-01",
            "2026-03-01T10:00:00Z",
            "12",
            "3.5",
            "true",
            "[]",
            "[\"a\", \"b\"]",
            "[1, \"mixed\"]",
            "{ x = 1 }",
            "\"\"\"multi\nline\"\"\"",
            "\"unclosed",
            "",
            "nan",
            "inf",
            "0x1F",
            "1_000",
            "\"\\u0085\"",
            "\"\\uD800\"",
        ]),
    ];
    prop_oneof![
        6 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => s(&["[section]", "[[warranty]]", "category = \"phone\"", "months = 12", "# c", "", "= x", "[a", "a = 1\na = 2"]),
    ]
}

/// The closing fence: mostly the first of `v`.
fn closing(v: &[&'static str]) -> impl Strategy<Value = String> {
    let first = v.first().copied().unwrap_or("");
    prop_oneof![6 => Just(first.to_string()), 1 => s(v)]
}

/// Front matter at the start of a file: none, YAML or TOML, closed or not.
fn front_matter() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(String::new()),
        2 => (vec(yaml_line(), 0..8), closing(&["---\n", "--- \n", "...\n", ""]))
            .prop_map(|(l, close)| format!("---\n{}\n{close}", l.join("\n"))),
        1 => (vec(toml_line(), 0..8), closing(&["+++\n", "+++ \n", ""]))
            .prop_map(|(l, close)| format!("+++\n{}\n{close}", l.join("\n"))),
        1 => s(&["---", "---\n", "+++", "--- not a fence\n", "---\r\n---\r\n", "---\n---\n"]),
    ]
}

// ---------------------------------------------------------------------------------------------
// Markdown and text

fn md_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1..8usize, words(6)).prop_map(|(n, t)| format!("{} {t}", "#".repeat(n))),
        3 => (0..5usize, s(&["- ", "* ", "+ ", "1. ", "2) ", "10. ", "- [ ] ", "- [x] ", "-"]), words(6))
            .prop_map(|(indent, m, t)| format!("{}{m}{t}", "  ".repeat(indent))),
        2 => vec(words(3), 1..5).prop_map(|cells| format!("| {} |", cells.join(" | "))),
        1 => s(&["|---|---|", "| :-- | --: |", "|-|", "---|---"]),
        2 => (s(&["```", "~~~", "````", "   ```"]), "[a-z]{0,5}").prop_map(|(f, l)| format!("{f}{l}")),
        2 => s(&[
            "<b>", "</b>", "<div>", "</div>", "<!-- c -->", "<!--", "-->", "<script>x</script>",
            "<br/>", "<p>", "&amp;", "&#x4E2D;", "&bogus;", "<details><summary>s</summary>",
            "<", "\\", "\\*", "<http://x.y/z>", "<a@b.c>", "$$", "[^1]: note", "[x]: http://y",
        ]),
        3 => words(8).prop_map(|w| format!("*{w}* **{w}** `{w}` [{w}](http://x/{w}) ![i](y) ~~{w}~~")),
        6 => words(12),
        3 => Just(String::new()),
        1 => (1..6usize, words(5)).prop_map(|(n, t)| format!("{} {t}", ">".repeat(n))),
        1 => words(5).prop_map(|t| format!("    {t}")),
        1 => s(&["---", "***", "===", "___", "- - -"]),
    ]
}

fn markdown() -> impl Strategy<Value = String> {
    document(vec(md_line(), 0..60), front_matter())
}

fn text_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => words(12),
        2 => Just(String::new()),
        1 => s(&["   ", "\t", "\u{85}", "\u{2028}", "\u{a0}\u{a0}", "。", "---", "+++"]),
    ]
}

fn text() -> impl Strategy<Value = String> {
    document(vec(text_line(), 0..40), front_matter())
}

// ---------------------------------------------------------------------------------------------
// HTML

fn entity() -> impl Strategy<Value = String> {
    s(&[
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&#39;",
        "&nbsp;",
        "&#x4E2D;",
        "&#25991;",
        "&bogus;",
        "&",
        "&#",
        "&#x",
        "&#x110000;",
        "&#0;",
        "&#xD800;",
        "&copy",
        "&;",
        "&amp",
        "&notit;",
        "&AMP;",
        "&#99999999999;",
        "&hellip;",
        "&ampx;",
    ])
}

fn attr_value() -> impl Strategy<Value = String> {
    prop_oneof![
        words(3),
        entity(),
        s(&[
            "",
            "a b",
            "x\"y",
            "x'y",
            "<p>",
            "internal",
            "public",
            "manual",
            "zh",
            "en",
            "5",
            "18446744073709551615",
            "-3"
        ]),
    ]
}

fn attribute() -> impl Strategy<Value = String> {
    let name = s(&[
        "class", "id", "name", "content", "lang", "start", "href", "NAME", "Content", "x-y",
        "data-a", "=", "\"", "'", "<", "/",
    ]);
    (name, attr_value(), 0..5u8).prop_map(|(n, v, style)| match style {
        0 => format!(" {n}=\"{v}\""),
        1 => format!(" {n}='{v}'"),
        2 => format!(" {n}={}", v.replace([' ', '>'], "")),
        3 => format!(" {n}"),
        _ => format!("{n}={v}"),
    })
}

fn meta_tag() -> impl Strategy<Value = String> {
    // (key, a valid value): an invalid one fails the whole file, so it comes now and then
    let pair = prop_oneof![
        12 => s(&[
            "audience=internal", "Audience=Public", "AUDIENCE=public", "kefu:audience=internal",
            "KEFU:Audience=public", " audience =internal", "doc_type=manual", "kefu:doc_type=faq",
            "language=zh", "language=en-US", "effective_date=2026-01-01", "id=doc-1",
            "title=Title", "products=X9 Pro, AC-3500", "product=X9", "tags=a, b", "version=3",
            "category=phone", "description=whatever",
        ]),
        1 => s(&["audience=secret", "doc_type=brochure", "language=fr", "effective_date=soon"]),
    ];
    (
        select(vec!["meta", "META", "Meta"]),
        pair,
        words(2),
        any::<bool>(),
        0..4u8,
    )
        .prop_map(|(tag, pair, text, close, extra)| {
            let (k, v) = pair.split_once('=').unwrap_or((pair.as_str(), ""));
            let v = if extra == 0 { text } else { v.to_string() };
            let end = if close { ">" } else { "" };
            format!("<{tag} name=\"{k}\" content=\"{v}\"{end}")
        })
}

fn html_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => words(8),
        2 => entity(),
        2 => s(&[
            "<", ">", "</>", "<!-->", "<!---->", "<!-- c -->", "<!--", "--!>", "<!DOCTYPE html>",
            "<?xml x?>", "<![CDATA[x]]>", "<br>", "<br/>", "<hr>", "</p>", "</li>", "</td>",
            "</table>", "</ul>", "</ol>", "</h2>", "</title>", "</script>", "</style>", "</pre>",
            "<img src=x alt='y'>", "< p>", "<3", "a<b", "<a", "</", "<\u{85}>",
        ]),
        2 => meta_tag(),
        1 => (s(&["script", "style", "SCRIPT", "Style", "textarea", "title", "noscript", "xmp"]),
              s(&["var x = \"<p>not text</p>\";", "<!-- <script> -->", "</scr", "</ipt>", "p { x: y }", "</script x>", "a</>b"]),
              any::<bool>())
            .prop_map(|(t, body, close)| if close { format!("<{t}>{body}</{t}>") } else { format!("<{t}>{body}") }),
        1 => (s(&["en", "zh", "zh-CN", "en-GB", "zh_TW"]), any::<bool>())
            .prop_map(|(l, up)| if up { format!("<HTML LANG={l}>") } else { format!("<html lang=\"{l}\">") }),
    ]
}

fn html_node() -> impl Strategy<Value = String> {
    let tag = s(&[
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h6",
        "ul",
        "ol",
        "li",
        "table",
        "tr",
        "td",
        "th",
        "pre",
        "b",
        "i",
        "span",
        "a",
        "section",
        "blockquote",
        "br",
        "title",
        "dd",
        "dt",
        "svg",
        "math",
        "P",
        "LI",
        "H2",
        "TABLE",
        "x-custom",
        "plaintext",
        "template",
    ]);
    html_leaf().prop_recursive(4, 48, 6, move |inner| {
        (
            tag.clone(),
            vec(attribute(), 0..3),
            vec(inner, 0..6),
            0..4u8,
        )
            .prop_map(|(t, attrs, children, close)| {
                let open = format!("<{t}{}>", attrs.concat());
                let kids = children.concat();
                match close {
                    0 | 1 => format!("{open}{kids}</{t}>"),
                    2 => format!("{open}{kids}"),
                    _ => format!("{open}{kids}</{} >", t.to_ascii_uppercase()),
                }
            })
    })
}

/// An HTML document, where to cut it, whether to, and now and then a NUL byte somewhere.
fn html() -> impl Strategy<Value = (String, Index, bool)> {
    (
        vec(html_node(), 0..16),
        any::<Index>(),
        any::<bool>(),
        proptest::option::weighted(0.1, any::<Index>()),
    )
        .prop_map(|(nodes, at, truncate, nul)| {
            let mut doc = nodes.join("\n");
            if let Some(nul) = nul {
                let mut i = nul.index(doc.len() + 1);
                while !doc.is_char_boundary(i) {
                    i -= 1;
                }
                doc.insert(i, '\0');
            }
            (doc, at, truncate)
        })
}

// ---------------------------------------------------------------------------------------------
// Tickets

fn pii_word() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => word(),
        1 => s(&[
            "a@b.com", "13812345678", "+1 555-123-4567", "6222 0212 3456 7890", "110101199003077777",
            "张三", "user@例子.中国", "192.168.1.1",
        ]),
    ]
}

/// A big field now and then (up to 20,000 characters).
fn ticket_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => vec(pii_word(), 0..20).prop_map(|w| w.join(" ")),
        1 => (1..20_000usize, s(&["x", "屏", "a b ", "。", "\"", ",", "\n"])).prop_map(|(n, c)| c.repeat(n / c.len().max(1) + 1)),
    ]
}

/// Mostly one of `good`, now and then one of `bad`.
fn mostly(good: &[&'static str], bad: &[&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![12 => s(good), 1 => s(bad)]
}

fn role() -> impl Strategy<Value = String> {
    mostly(
        &[
            "customer",
            "agent",
            "user",
            "bot",
            "staff",
            "system",
            "Customer ",
        ],
        &["alien", ""],
    )
}

fn ticket_id() -> impl Strategy<Value = String> {
    mostly(&["T-1", "T-2", "T-3", "T-4", "工单-1", "t-1"], &["", "  "])
}

fn ticket_record() -> impl Strategy<Value = serde_json::Value> {
    let message =
        (role(), ticket_text()).prop_map(|(r, t)| serde_json::json!({"role": r, "text": t}));
    (
        ticket_id(),
        vec(message, 0..5),
        proptest::option::of(mostly(&["en", "zh", "zh-CN"], &["fr", ""])),
        proptest::option::of(ticket_text()),
        proptest::option::of(mostly(&["public", "internal"], &["secret"])),
        proptest::option::of(s(&["X9 Pro", "AC-3500", ""])),
        vec(words(2), 0..3),
        proptest::option::of(s(&["2026-01-01", "2026-01-01T10:00:00Z", "yesterday", ""])),
    )
        .prop_map(
            |(id, messages, language, resolution, audience, product, tags, created)| {
                let mut v = serde_json::json!({"id": id, "messages": messages, "tags": tags});
                if let Some(obj) = v.as_object_mut() {
                    for (k, x) in [
                        ("language", language),
                        ("resolution", resolution),
                        ("audience", audience),
                        ("product", product),
                        ("created_at", created),
                    ] {
                        if let Some(x) = x {
                            obj.insert(k.into(), serde_json::Value::String(x));
                        }
                    }
                }
                v
            },
        )
}

fn jsonl_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => ticket_record().prop_map(|v| v.to_string()),
        2 => (ticket_record(), any::<Index>()).prop_map(|(v, at)| cut(&v.to_string(), at).to_string()),
        2 => s(&[
            "", "   ", "{", "}", "[]", "null", "{\"id\": 5}", "{\"id\":\"x\"}", "not json",
            "{\"id\":\"T-9\",\"messages\":[{\"role\":\"customer\",\"text\":\"\\ud800\"}]}",
            "{\"id\":\"T-8\",\"messages\":[{\"role\":\"customer\",\"text\":\"hi\"}],\"tags\":\"x\"}",
            "{\"id\":\"T-7\",\"messages\":[{\"role\":\"agent\",\"text\":\"ok\"}],\"id\":\"T-6\"}",
            "\u{feff}{\"id\":\"T-5\",\"messages\":[]}",
        ]),
        1 => (1..3000usize).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
    ]
}

fn jsonl() -> impl Strategy<Value = String> {
    document(vec(jsonl_line(), 0..12), Just(String::new()))
}

fn csv_field() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => words(4),
        2 => ticket_text().prop_map(|t| format!("\"{}\"", t.replace('"', "\"\""))),
        1 => s(&["\"unclosed", "a\"b", "\"\"", "\"a,b\"", "\"line\nbreak\"", "x\r", "\"q\"\"q\""]),
        1 => s(&["customer", "agent", "T-1", "T-2", "zh", "en", "X9 Pro"]),
    ]
}

/// The columns of a CSV file: the full header (most often), shuffled or partial ones.
fn csv_columns() -> impl Strategy<Value = Vec<&'static str>> {
    let full = super::ticket::CSV_HEADER.to_vec();
    prop_oneof![
        6 => Just(full.clone()),
        2 => Just(full).prop_shuffle(),
        1 => Just(vec!["ticket_id", "role", "text"]),
        1 => Just(vec!["text", "role", "ticket_id", "extra"]),
        1 => Just(vec!["ticket_id", "text"]),
        1 => Just(vec![" ticket_id ", " role ", " text "]),
        1 => Just(vec![""]),
    ]
}

/// A value for `column`, mostly a valid one.
fn csv_value(column: &'static str) -> BoxedStrategy<String> {
    match column.trim() {
        "ticket_id" => ticket_id().boxed(),
        "role" => role().boxed(),
        "language" => mostly(&["en", "zh", ""], &["fr"]).boxed(),
        "created_at" => s(&["2026-01-01", "2026-01-01T10:00:00Z", "", "yesterday"]).boxed(),
        "tags" => s(&["a;b", "a, b", "", "\"x,y\""]).boxed(),
        _ => csv_field().boxed(),
    }
}

fn csv_row(columns: Vec<&'static str>) -> BoxedStrategy<String> {
    let well_formed = columns
        .into_iter()
        .map(csv_value)
        .collect::<Vec<_>>()
        .prop_map(|fields| fields.join(","));
    prop_oneof![
        8 => well_formed,
        1 => vec(csv_field(), 0..10).prop_map(|f| f.join(",")),
        1 => Just(String::new()),
    ]
    .boxed()
}

fn csv() -> impl Strategy<Value = String> {
    (any::<bool>(), any::<bool>(), csv_columns())
        .prop_flat_map(|(bom, crlf, columns)| {
            let header = columns.join(",");
            (
                Just(bom),
                Just(crlf),
                Just(header),
                vec(csv_row(columns), 0..12),
            )
        })
        .prop_map(|(bom, crlf, header, rows)| {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut out = String::new();
            if bom {
                out.push('\u{feff}');
            }
            out.push_str(&header);
            for r in rows {
                out.push_str(nl);
                out.push_str(&r);
            }
            out
        })
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

fn parse_as(src: &str, format: Format, name: &str) -> Document {
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
fn html_pre_spaces_before_br_leave_no_stale_piece() {
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
fn markdown_spaces_before_a_hard_break_leave_no_stale_piece() {
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
