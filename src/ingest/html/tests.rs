//! The HTML reader's tests.

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
    let doc =
        parse_str(r#"<meta name="audience" name="id" content="internal" content="public"><p>x"#);
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
