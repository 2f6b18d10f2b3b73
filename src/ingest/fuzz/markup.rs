//! Strategies: Markdown, plain text and HTML (nested and unclosed tags, attributes,
//! entities, comments, scripts, meta tags).

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------------------------------------
// Markdown and text

pub(super) fn md_line() -> impl Strategy<Value = String> {
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

pub(super) fn markdown() -> impl Strategy<Value = String> {
    document(vec(md_line(), 0..60), front_matter())
}

pub(super) fn text_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => words(12),
        2 => Just(String::new()),
        1 => s(&["   ", "\t", "\u{85}", "\u{2028}", "\u{a0}\u{a0}", "。", "---", "+++"]),
    ]
}

pub(super) fn text() -> impl Strategy<Value = String> {
    document(vec(text_line(), 0..40), front_matter())
}

// ---------------------------------------------------------------------------------------------
// HTML

pub(super) fn entity() -> impl Strategy<Value = String> {
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

pub(super) fn attr_value() -> impl Strategy<Value = String> {
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

pub(super) fn attribute() -> impl Strategy<Value = String> {
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

pub(super) fn meta_tag() -> impl Strategy<Value = String> {
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

pub(super) fn html_leaf() -> impl Strategy<Value = String> {
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

pub(super) fn html_node() -> impl Strategy<Value = String> {
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
pub(super) fn html() -> impl Strategy<Value = (String, Index, bool)> {
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
