//! Past support tickets, from JSONL (one ticket per line) or CSV (one message per row). Each
//! ticket becomes a document with a problem block (the customer's side) and a resolution block
//! (the agent's answers and the outcome). Personal data is redacted first. A malformed line or
//! row is reported with its line number and skipped; the rest of the file is read.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;

use super::redact::redact;
use super::{
    Audience, BlockBuilder, BlockKind, DocMeta, DocType, Document, FileContext, Ingested, Lang,
};

/// The heading of a ticket's problem block (what the customer wrote), by language: answers
/// quote resolutions, never a customer's description of the fault.
pub const PROBLEM_HEADINGS: [&str; 2] = ["Problem", "问题"];

/// One ticket as written in a JSONL file.
#[derive(Debug, Clone, Deserialize)]
pub struct TicketRecord {
    pub id: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub status: Option<String>,
    pub messages: Vec<Message>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
}

/// One message of a ticket thread.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub role: String,
    pub text: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Customer,
    Agent,
}

fn side(role: &str) -> Option<Side> {
    match role.trim().to_ascii_lowercase().as_str() {
        "customer" | "user" | "client" => Some(Side::Customer),
        "agent" | "bot" | "staff" | "system" => Some(Side::Agent),
        _ => None,
    }
}

/// Turns a ticket record into a document; `span` is its byte range in the file.
fn to_document(
    t: TicketRecord,
    span: (usize, usize),
    ctx: &FileContext<'_>,
) -> Result<Document, String> {
    let id = t.id.trim().to_string();
    if id.is_empty() {
        return Err("ticket has an empty `id`".into());
    }
    if t.messages.is_empty() {
        return Err(format!("ticket {id} has no messages"));
    }
    let allow = &ctx.config.redact.allow;
    let (customer, agent) = thread(&t, &id, allow)?;
    let all_text = customer
        .iter()
        .chain(agent.iter())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    let language = match t.language.as_deref() {
        Some(l) => Lang::parse(l).ok_or_else(|| format!("ticket {id}: unknown language `{l}`"))?,
        None => Lang::detect(&all_text),
    };
    let declared = match t.audience.as_deref() {
        Some(a) => Some(
            Audience::parse(a)
                .ok_or_else(|| format!("ticket {id}: audience `{a}` is not public or internal"))?,
        ),
        None => None,
    };
    let audience = ctx.audience(declared, true);
    let (problem_h, resolution_h, resolution_label) = match language {
        Lang::Zh => (PROBLEM_HEADINGS[1], "处理结果", "处理结果："),
        Lang::En => (PROBLEM_HEADINGS[0], "Resolution", "Resolution: "),
    };
    let mut blocks = Vec::new();
    // The whole thread comes from one JSON line or CSV rows: the text is not the source
    // verbatim (escapes, redaction), so every block maps to the ticket's whole span.
    let whole = |text: &str| {
        let mut b = BlockBuilder::new();
        b.push_source(text, span.0, span.1 - span.0, false);
        b
    };
    if !customer.is_empty() {
        if let Some(b) =
            whole(&customer.join("\n")).finish(&[problem_h.to_string()], BlockKind::Problem)
        {
            blocks.push(b);
        }
    }
    let mut res = agent.join("\n");
    if let Some(r) = t
        .resolution
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        if !res.is_empty() {
            res.push('\n');
        }
        res.push_str(resolution_label);
        res.push_str(&redact(r, allow).0);
    }
    if let Some(b) = whole(&res).finish(&[resolution_h.to_string()], BlockKind::Resolution) {
        blocks.push(b);
    }
    let summary = customer
        .first()
        .map(|c| first_sentence(c, 60))
        .unwrap_or_default();
    let product = t.product.clone().filter(|p| !p.trim().is_empty());
    // The title names the ticket; it does not repeat the customer's words, which are already
    // the problem passage (repeating them would count them twice in scoring).
    let label = match language {
        Lang::Zh => "工单",
        Lang::En => "Ticket",
    };
    let title = match &product {
        Some(p) => format!("{label} {id} · {p}"),
        None => format!("{label} {id}"),
    };
    let meta = DocMeta {
        id,
        title,
        doc_type: DocType::Ticket,
        language,
        audience,
        products: product.into_iter().collect(),
        category: None,
        tags: t
            .tags
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        effective_date: t
            .created_at
            .as_deref()
            .and_then(super::frontmatter::parse_date),
        version: None,
        warranty: Vec::new(),
        source: ctx.rel_path.to_string(),
        extra: extra(&t, summary),
    };
    Ok(Document {
        meta: Arc::new(meta),
        blocks,
    })
}

/// The customer's and the agent's messages of a ticket, redacted, in order (empty ones left
/// out).
fn thread(
    t: &TicketRecord,
    id: &str,
    allow: &[String],
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut customer = Vec::new();
    let mut agent = Vec::new();
    for (i, m) in t.messages.iter().enumerate() {
        let s = side(&m.role).ok_or_else(|| {
            format!(
                "ticket {id}: message {} has unknown role `{}` (customer or agent)",
                i + 1,
                m.role
            )
        })?;
        let text = redact(m.text.trim(), allow).0;
        if text.is_empty() {
            continue;
        }
        match s {
            Side::Customer => customer.push(text),
            Side::Agent => agent.push(text),
        }
    }
    Ok((customer, agent))
}

/// The ticket's fields kept as extra metadata: the summary, channel, status and creation time.
fn extra(t: &TicketRecord, summary: String) -> BTreeMap<String, serde_json::Value> {
    let mut extra = BTreeMap::new();
    if !summary.is_empty() {
        extra.insert("summary".to_string(), serde_json::Value::String(summary));
    }
    for (k, v) in [
        ("channel", &t.channel),
        ("status", &t.status),
        ("created_at", &t.created_at),
    ] {
        if let Some(v) = v {
            extra.insert(k.to_string(), serde_json::Value::String(v.clone()));
        }
    }
    extra
}

/// The first sentence of `s`, cut to at most `max` characters.
fn first_sentence(s: &str, max: usize) -> String {
    let end = s
        .char_indices()
        .find(|(_, c)| matches!(c, '。' | '！' | '？' | '!' | '?' | '\n'))
        .map_or(s.len(), |(i, c)| i + c.len_utf8());
    let first = s[..end].trim();
    if first.chars().count() > max {
        let mut out: String = first.chars().take(max).collect();
        out.push('…');
        out
    } else {
        first.to_string()
    }
}

/// Parses a JSONL file of tickets.
pub fn parse_jsonl(src: &str, ctx: &FileContext<'_>) -> Result<Ingested, String> {
    let mut out = Ingested::default();
    let mut seen = HashSet::new();
    let mut pos = 0;
    for (n, line) in src.split_inclusive('\n').enumerate() {
        let start = pos;
        pos += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() {
            continue;
        }
        let lineno = n + 1;
        let record: TicketRecord = match serde_json::from_str(content) {
            Ok(r) => r,
            Err(e) => {
                out.errors
                    .push(format!("line {lineno}: malformed ticket JSON: {e}"));
                continue;
            }
        };
        if !seen.insert(record.id.trim().to_string()) {
            out.errors.push(format!(
                "line {lineno}: duplicate ticket id `{}`",
                record.id
            ));
            continue;
        }
        match to_document(record, (start, start + content.len()), ctx) {
            Ok(d) => out.documents.push(d),
            Err(e) => out.errors.push(format!("line {lineno}: {e}")),
        }
    }
    if out.documents.is_empty() && !out.errors.is_empty() {
        return Err(format!(
            "no valid ticket in the file; first problem: {}",
            out.errors[0]
        ));
    }
    Ok(out)
}

/// The CSV columns, one message per row.
pub const CSV_HEADER: [&str; 9] = [
    "ticket_id",
    "created_at",
    "channel",
    "product",
    "language",
    "tags",
    "role",
    "text",
    "resolution",
];

/// Parses a CSV export of tickets (one message per row, rows of a ticket consecutive).
pub fn parse_csv(src: &str, ctx: &FileContext<'_>) -> Result<Ingested, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(src.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("malformed CSV header: {e}"))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let idx: Vec<Option<usize>> = CSV_HEADER.iter().map(|h| col(h)).collect();
    for required in ["ticket_id", "role", "text"] {
        if col(required).is_none() {
            return Err(format!(
                "CSV header lacks the `{required}` column (expected {})",
                CSV_HEADER.join(",")
            ));
        }
    }
    let mut out = Ingested::default();
    let mut current: Option<(TicketRecord, usize, usize, usize)> = None; // record, start, end, first line
    let mut seen = HashSet::new();
    let flush = |cur: Option<(TicketRecord, usize, usize, usize)>,
                 out: &mut Ingested,
                 seen: &mut HashSet<String>| {
        if let Some((rec, s, e, line)) = cur {
            if !seen.insert(rec.id.clone()) {
                out.errors.push(format!(
                    "line {line}: ticket `{}` appears again (its rows must be consecutive)",
                    rec.id
                ));
                return;
            }
            match to_document(rec, (s, e), ctx) {
                Ok(d) => out.documents.push(d),
                Err(err) => out.errors.push(format!("line {line}: {err}")),
            }
        }
    };
    for result in reader.records() {
        let row = match result {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.errors
                    .push(format!("line {line}: malformed CSV row: {e}"));
                continue;
            }
        };
        let pos = row
            .position()
            .map(|p| (p.byte() as usize, p.line() as usize))
            .unwrap_or((0, 0));
        let get = |i: usize| idx[i].and_then(|c| row.get(c)).map(str::trim).unwrap_or("");
        let id = get(0).to_string();
        if id.is_empty() {
            out.errors.push(format!("line {}: empty ticket_id", pos.1));
            continue;
        }
        let row_end = src[pos.0..].find('\n').map_or(src.len(), |e| pos.0 + e);
        let msg = Message {
            role: get(6).to_string(),
            text: get(7).to_string(),
        };
        let same = current.as_ref().is_some_and(|(r, ..)| r.id == id);
        if same {
            if let Some((rec, _, end, _)) = current.as_mut() {
                rec.messages.push(msg);
                *end = row_end;
                let res = get(8);
                if !res.is_empty() {
                    rec.resolution = Some(res.to_string());
                }
            }
        } else {
            flush(current.take(), &mut out, &mut seen);
            let opt = |s: &str| {
                if s.is_empty() {
                    None
                } else {
                    Some(s.to_string())
                }
            };
            let rec = TicketRecord {
                id,
                created_at: opt(get(1)),
                channel: opt(get(2)),
                product: opt(get(3)),
                language: opt(get(4)),
                tags: get(5)
                    .split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect(),
                status: None,
                messages: vec![msg],
                resolution: opt(get(8)),
                audience: None,
            };
            current = Some((rec, pos.0, row_end, pos.1));
        }
    }
    flush(current.take(), &mut out, &mut seen);
    if out.documents.is_empty() && !out.errors.is_empty() {
        return Err(format!(
            "no valid ticket in the file; first problem: {}",
            out.errors[0]
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn ctx(config: &Config) -> FileContext<'_> {
        FileContext {
            rel_path: "tickets/t.jsonl",
            config,
        }
    }

    #[test]
    fn jsonl_ticket_gives_problem_and_resolution_redacted() {
        let config = Config::default();
        let src = concat!(
            r#"{"id":"TK-1","channel":"wechat","product":"X9 Pro","language":"zh","created_at":"2026-03-02T10:15:00+08:00","tags":["screen"],"status":"resolved","messages":[{"role":"customer","text":"屏幕碎了，电话13812345678"},{"role":"agent","text":"人为损坏不在保修范围，可拨打400-820-6688。"}],"resolution":"报价 ¥1,299。"}"#,
            "\n",
            "{not json}\n",
            r#"{"id":"TK-2","messages":[{"role":"customer","text":"My earbuds died."}]}"#,
            "\n"
        );
        let out = parse_jsonl(src, &ctx(&config)).expect("parses");
        assert_eq!(out.documents.len(), 2);
        assert_eq!(out.errors.len(), 1);
        assert!(
            out.errors[0].starts_with("line 2: malformed ticket JSON"),
            "{}",
            out.errors[0]
        );
        let d = &out.documents[0];
        assert_eq!(d.meta.doc_type, DocType::Ticket);
        assert_eq!(d.meta.audience, Audience::Internal);
        assert_eq!(d.meta.products, vec!["X9 Pro"]);
        assert_eq!(d.blocks.len(), 2);
        assert_eq!(d.blocks[0].kind, BlockKind::Problem);
        assert_eq!(d.blocks[0].text, "屏幕碎了，电话[PHONE]");
        assert_eq!(
            d.blocks[1].text,
            "人为损坏不在保修范围，可拨打400-820-6688。\n处理结果：报价 ¥1,299。"
        );
        assert_eq!(
            d.meta.extra.get("channel"),
            Some(&serde_json::json!("wechat"))
        );
        let (s, e) = d.blocks[0].map.to_source(0, d.blocks[0].text.len());
        assert!(src[s..e].starts_with("{\"id\":\"TK-1\"") && src[s..e].ends_with('}'));
        assert_eq!(out.documents[1].meta.language, Lang::En);
        assert_eq!(out.documents[1].blocks.len(), 1);
    }

    #[test]
    fn jsonl_rejects_bad_roles_and_duplicates_but_keeps_the_rest() {
        let config = Config::default();
        let src = concat!(
            r#"{"id":"A","messages":[{"role":"robot","text":"x"}]}"#,
            "\n",
            r#"{"id":"B","messages":[{"role":"customer","text":"hello"}]}"#,
            "\n",
            r#"{"id":"B","messages":[{"role":"customer","text":"again"}]}"#,
            "\n",
            r#"{"id":"C","messages":[]}"#,
            "\n",
        );
        let out = parse_jsonl(src, &ctx(&config)).expect("parses");
        assert_eq!(out.documents.len(), 1);
        assert_eq!(out.errors.len(), 3, "{:?}", out.errors);
        assert!(out.errors[0].contains("unknown role"));
        assert!(out.errors[1].contains("duplicate"));
        assert!(out.errors[2].contains("no messages"));
    }

    #[test]
    fn all_bad_lines_fail_the_file() {
        let config = Config::default();
        assert!(parse_jsonl("{oops}\n[1,2]\n", &ctx(&config)).is_err());
    }

    #[test]
    fn csv_rows_group_into_tickets() {
        let config = Config::default();
        let src = "ticket_id,created_at,channel,product,language,tags,role,text,resolution\n\
TK-3,2026-01-02T09:00:00Z,phone,EB-500,en,earbuds;audio,customer,\"Left bud silent, my mail is a.b@example.com\",\n\
TK-3,2026-01-02T09:00:00Z,phone,EB-500,en,earbuds;audio,agent,Reset the case.,\n\
TK-3,2026-01-02T09:00:00Z,phone,EB-500,en,earbuds;audio,customer,Works now,Reset fixed it.\n\
TK-4,2026-01-03T09:00:00Z,phone,AC-3500,zh,ac,customer,空调显示E5,\n";
        let c = FileContext {
            rel_path: "tickets/p.csv",
            config: &config,
        };
        let out = parse_csv(src, &c).expect("parses");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.documents.len(), 2);
        let d = &out.documents[0];
        assert_eq!(d.meta.tags, vec!["earbuds", "audio"]);
        assert_eq!(
            d.blocks[0].text,
            "Left bud silent, my mail is [EMAIL]\nWorks now"
        );
        assert_eq!(
            d.blocks[1].text,
            "Reset the case.\nResolution: Reset fixed it."
        );
        assert_eq!(out.documents[1].meta.language, Lang::Zh);
    }

    #[test]
    fn csv_without_required_columns_fails() {
        let config = Config::default();
        let c = FileContext {
            rel_path: "t.csv",
            config: &config,
        };
        let err = parse_csv("id,body\n1,x\n", &c).unwrap_err();
        assert!(err.contains("ticket_id"), "{err}");
    }
}
