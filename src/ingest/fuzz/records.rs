//! Strategies: ticket JSONL (broken lines, personal data) and CSV (quotes, huge fields).

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------------------------------------
// Tickets

pub(super) fn pii_word() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => word(),
        1 => s(&[
            "a@b.com", "13812345678", "+1 555-123-4567", "6222 0212 3456 7890", "110101199003077777",
            "张三", "user@例子.中国", "192.168.1.1",
        ]),
    ]
}

/// A big field now and then (up to 20,000 characters).
pub(super) fn ticket_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => vec(pii_word(), 0..20).prop_map(|w| w.join(" ")),
        1 => (1..20_000usize, s(&["x", "屏", "a b ", "。", "\"", ",", "\n"])).prop_map(|(n, c)| c.repeat(n / c.len().max(1) + 1)),
    ]
}

/// Mostly one of `good`, now and then one of `bad`.
pub(super) fn mostly(good: &[&'static str], bad: &[&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![12 => s(good), 1 => s(bad)]
}

pub(super) fn role() -> impl Strategy<Value = String> {
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

pub(super) fn ticket_id() -> impl Strategy<Value = String> {
    mostly(&["T-1", "T-2", "T-3", "T-4", "工单-1", "t-1"], &["", "  "])
}

pub(super) fn ticket_record() -> impl Strategy<Value = serde_json::Value> {
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

pub(super) fn jsonl_line() -> impl Strategy<Value = String> {
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

pub(super) fn jsonl() -> impl Strategy<Value = String> {
    document(vec(jsonl_line(), 0..12), Just(String::new()))
}

pub(super) fn csv_field() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => words(4),
        2 => ticket_text().prop_map(|t| format!("\"{}\"", t.replace('"', "\"\""))),
        1 => s(&["\"unclosed", "a\"b", "\"\"", "\"a,b\"", "\"line\nbreak\"", "x\r", "\"q\"\"q\""]),
        1 => s(&["customer", "agent", "T-1", "T-2", "zh", "en", "X9 Pro"]),
    ]
}

/// The columns of a CSV file: the full header (most often), shuffled or partial ones.
pub(super) fn csv_columns() -> impl Strategy<Value = Vec<&'static str>> {
    let full = crate::ingest::ticket::CSV_HEADER.to_vec();
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
pub(super) fn csv_value(column: &'static str) -> BoxedStrategy<String> {
    match column.trim() {
        "ticket_id" => ticket_id().boxed(),
        "role" => role().boxed(),
        "language" => mostly(&["en", "zh", ""], &["fr"]).boxed(),
        "created_at" => s(&["2026-01-01", "2026-01-01T10:00:00Z", "", "yesterday"]).boxed(),
        "tags" => s(&["a;b", "a, b", "", "\"x,y\""]).boxed(),
        _ => csv_field().boxed(),
    }
}

pub(super) fn csv_row(columns: Vec<&'static str>) -> BoxedStrategy<String> {
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

pub(super) fn csv() -> impl Strategy<Value = String> {
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
