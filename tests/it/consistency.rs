//! The demo knowledge base agrees with itself: each policy and manual in one language states
//! the same typed terms as its counterpart in the other (warranty periods, products, dates),
//! and the figures a customer relies on (months, prices, hours, phone numbers) are the same
//! set in both languages.

use std::collections::{BTreeMap, BTreeSet};

use kefu::domain::DocMeta;
use kefu::Config;

use crate::repo;

/// Every public or internal manual and policy of the demo corpus, by id.
fn documents() -> BTreeMap<String, (DocMeta, String)> {
    let config = Config::default();
    let mut out = BTreeMap::new();
    for folder in ["manuals", "policies"] {
        let dir = repo().join("corpus").join(folder);
        for entry in std::fs::read_dir(&dir).expect("corpus folder") {
            let path = entry.expect("entry").path();
            let rel = format!(
                "{folder}/{}",
                path.file_name().and_then(|n| n.to_str()).expect("name")
            );
            let ing = kefu::ingest::read_file(&path, &rel, &config).expect("parses");
            for d in ing.documents {
                let text: String = d
                    .blocks
                    .iter()
                    .map(|b| b.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                out.insert(d.meta.id.clone(), ((*d.meta).clone(), text));
            }
        }
    }
    out
}

/// The pairs of documents that are one text in two languages (`…-en` and `…-zh`).
fn pairs(docs: &BTreeMap<String, (DocMeta, String)>) -> Vec<(&DocMeta, &DocMeta, &str, &str)> {
    docs.iter()
        .filter_map(|(id, (en, en_text))| {
            let base = id.strip_suffix("-en")?;
            let (zh, zh_text) = docs.get(&format!("{base}-zh"))?;
            Some((en, zh, en_text.as_str(), zh_text.as_str()))
        })
        .collect()
}

#[test]
fn every_english_document_has_a_chinese_counterpart() {
    let docs = documents();
    let missing: Vec<&String> = docs
        .keys()
        .filter(|id| {
            let other = match (id.strip_suffix("-en"), id.strip_suffix("-zh")) {
                (Some(b), _) => format!("{b}-zh"),
                (_, Some(b)) => format!("{b}-en"),
                _ => return false,
            };
            !docs.contains_key(&other)
        })
        .collect();
    assert!(missing.is_empty(), "no counterpart for {missing:?}");
    assert!(pairs(&docs).len() >= 19, "{}", pairs(&docs).len());
}

#[test]
fn warranty_terms_are_the_same_in_both_languages() {
    let docs = documents();
    let mut typed = 0;
    for (en, zh, _, _) in pairs(&docs) {
        assert_eq!(en.warranty, zh.warranty, "{} vs {}", en.id, zh.id);
        typed += usize::from(!en.warranty.is_empty());
    }
    // the warranty policy at least carries typed terms, and they cover every category
    assert!(typed >= 1);
    let policy = &docs["policy-warranty-en"].0;
    let categories: BTreeSet<&str> = policy
        .warranty
        .iter()
        .map(|w| w.category.as_str())
        .collect();
    for c in kefu::customer::CATEGORIES {
        assert!(categories.contains(c), "{c} missing from {categories:?}");
    }
}

#[test]
fn products_dates_audience_and_type_are_the_same_in_both_languages() {
    let docs = documents();
    for (en, zh, _, _) in pairs(&docs) {
        let sorted = |m: &DocMeta| m.products.iter().cloned().collect::<BTreeSet<_>>();
        assert_eq!(sorted(en), sorted(zh), "products of {} vs {}", en.id, zh.id);
        assert_eq!(en.effective_date, zh.effective_date, "{}", en.id);
        assert_eq!(en.audience, zh.audience, "{}", en.id);
        assert_eq!(en.doc_type, zh.doc_type, "{}", en.id);
        assert_eq!(en.category, zh.category, "{}", en.id);
    }
}

/// Money amounts in a text: the digits after a currency sign (`¥1,299` → `¥1299`).
fn amounts(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let sign = match c {
            '¥' | '￥' => "¥",
            '$' => "$",
            _ => continue,
        };
        let digits: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == ',' || **c == '.')
            .filter(|c| c.is_ascii_digit() || **c == '.')
            .collect();
        let digits = digits.trim_end_matches('.');
        if !digits.is_empty() {
            out.insert(format!("{sign}{digits}"));
        }
    }
    out
}

#[test]
fn policies_state_the_same_amounts_in_both_languages() {
    let docs = documents();
    let mut compared = 0;
    for (en, zh, en_text, zh_text) in pairs(&docs) {
        if en.doc_type != kefu::domain::DocType::Policy {
            continue;
        }
        // yuan amounts: both languages quote the same Chinese prices
        let yuan = |t: &str| -> BTreeSet<String> {
            amounts(t)
                .into_iter()
                .filter(|a| a.starts_with('¥'))
                .collect()
        };
        let (a, b) = (yuan(en_text), yuan(zh_text));
        assert_eq!(
            a.symmetric_difference(&b).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{} vs {}",
            en.id,
            zh.id
        );
        compared += 1;
    }
    assert!(compared >= 7, "{compared}");
}

#[test]
fn the_support_channels_are_the_same_everywhere_they_are_given() {
    let docs = documents();
    for (id, (_, text)) in &docs {
        for (number, right) in [("400-", "400-820-6688"), ("+1-800-", "+1-800-555-0142")] {
            let mut from = 0;
            while let Some(i) = text[from..].find(number) {
                let at = from + i;
                assert!(
                    text[at..].starts_with(right),
                    "{id}: {}",
                    &text[at..(at + 20).min(text.len())]
                );
                from = at + number.len();
            }
        }
    }
    // the fact sheet names the same hotline
    let sheet = std::fs::read_to_string(repo().join("docs/demo-world.md")).expect("fact sheet");
    assert!(sheet.contains("400-820-6688") && sheet.contains("+1-800-555-0142"));
}
