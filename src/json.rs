//! Checks on JSON from outside (request bodies, uploaded tickets) made before it is parsed
//! into typed values: nesting depth, and keys that appear twice in one object (serde_json keeps
//! the last silently, so `{"audience": "internal", "audience": "public"}` would be public).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The deepest nesting of arrays and objects in a JSON text (strings skipped), counted without
/// parsing, so a hostile body is refused before a parser recurses into it.
pub fn depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Refuses a JSON text in which some object has the same key twice; the message names the
/// key and where it is (`filters.audience`). Valid JSON otherwise is not checked here.
pub fn unique_keys(bytes: &[u8]) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, Unique>(&mut de) {
        Ok(_) => Ok(()),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_data() {
                Err(if path == "." {
                    inner.to_string()
                } else {
                    format!("{inner} (in `{path}`)")
                })
            } else {
                // a syntax error: the typed parse that follows reports it
                Ok(())
            }
        }
    }
}

/// Any JSON value, read only to check that no object repeats a key.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_none<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{}`",
                    crate::error::printable(&key)
                )));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(unique_keys(br#"{"a": 1, "b": {"c": [1, {"d": 2}]}}"#).is_ok());
        let top = unique_keys(br#"{"a": 1, "a": 2}"#).unwrap_err();
        assert!(top.contains("duplicate key `a`"), "{top}");
        let nested = unique_keys(br#"{"filters": {"audience": "internal", "audience": "public"}}"#)
            .unwrap_err();
        assert!(
            nested.contains("`audience`") && nested.contains("filters"),
            "{nested}"
        );
        let in_list = unique_keys(br#"{"m": [{"x": 1}, {"y": 1, "y": 2}]}"#).unwrap_err();
        assert!(in_list.contains("`y`"), "{in_list}");
        // not JSON at all: left to the typed parse
        assert!(unique_keys(b"{nope").is_ok());
    }

    #[test]
    fn depth_counts_nesting_outside_strings() {
        assert_eq!(depth(b"1"), 0);
        assert_eq!(depth(br#"{"a": [1, {"b": 2}]}"#), 3);
        assert_eq!(depth(br#"{"q": "[[[[{{{{"}"#), 1);
        assert_eq!(depth(br#"{"q": "say \"[[[\" ok"}"#), 1);
        assert_eq!(depth(&b"[".repeat(10_000)), 10_000);
    }

    mod fuzz {
        use proptest::prelude::*;

        /// Near-JSON: the bytes JSON is made of, in any order.
        fn near_json() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![
                    Just("{".to_string()),
                    Just("}".to_string()),
                    Just("[".to_string()),
                    Just("]".to_string()),
                    Just("\"a\"".to_string()),
                    Just("\"a\":".to_string()),
                    Just(",".to_string()),
                    Just("\\".to_string()),
                    Just("\"\\ud800\"".to_string()),
                    Just("1e999".to_string()),
                    Just("null".to_string()),
                    "[ -~]{0,4}",
                ],
                0..40,
            )
            .prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]
            /// The checks that run before any parse never panic, and a body they pass is then
            /// parsed by serde_json without a panic either.
            #[test]
            fn body_checks_never_panic(text in near_json()) {
                let b = text.as_bytes();
                let d = super::super::depth(b);
                prop_assert!(d <= b.len());
                if super::super::unique_keys(b).is_ok() {
                    let _ = serde_json::from_slice::<serde_json::Value>(b);
                }
            }
        }
    }
}
