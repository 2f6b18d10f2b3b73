//! Strategies: YAML and TOML front matter, well and badly formed.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------------------------------------
// Front matter

pub(super) fn yaml_value() -> impl Strategy<Value = String> {
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

pub(super) fn yaml_line() -> impl Strategy<Value = String> {
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

pub(super) fn toml_line() -> impl Strategy<Value = String> {
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
pub(super) fn closing(v: &[&'static str]) -> impl Strategy<Value = String> {
    let first = v.first().copied().unwrap_or("");
    prop_oneof![6 => Just(first.to_string()), 1 => s(v)]
}

/// Front matter at the start of a file: none, YAML or TOML, closed or not.
pub(super) fn front_matter() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(String::new()),
        2 => (vec(yaml_line(), 0..8), closing(&["---\n", "--- \n", "...\n", ""]))
            .prop_map(|(l, close)| format!("---\n{}\n{close}", l.join("\n"))),
        1 => (vec(toml_line(), 0..8), closing(&["+++\n", "+++ \n", ""]))
            .prop_map(|(l, close)| format!("+++\n{}\n{close}", l.join("\n"))),
        1 => s(&["---", "---\n", "+++", "--- not a fence\n", "---\r\n---\r\n", "---\n---\n"]),
    ]
}
