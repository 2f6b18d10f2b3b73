//! Validated identifiers. Each is parsed once, at the edge where it enters (a path segment, a
//! request field, a command-line argument), and carried as its type from there on.

use serde::{Deserialize, Serialize};

use crate::error::{printable, Error, Result};

/// A passage id: 64 bits of a BLAKE3 hash, shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChunkId(pub u64);

impl std::fmt::Display for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for ChunkId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() != 16 {
            return Err(format!("`{s}` is not a passage id (16 hex digits)"));
        }
        u64::from_str_radix(s, 16)
            .map(ChunkId)
            .map_err(|_| format!("`{s}` is not a passage id (16 hex digits)"))
    }
}

impl ChunkId {
    /// The id of a passage with this content.
    pub fn of(doc_id: &str, heading_path: &[String], text: &str) -> ChunkId {
        let mut h = blake3::Hasher::new();
        h.update(doc_id.as_bytes());
        h.update(&[0]);
        for p in heading_path {
            h.update(p.as_bytes());
            h.update(&[0x1f]);
        }
        h.update(&[0]);
        h.update(text.as_bytes());
        let bytes = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&bytes.as_bytes()[..8]);
        ChunkId(u64::from_le_bytes(first))
    }
}

/// A document id as a caller names it: 1–128 letters, digits, `.`, `_` and `-`, starting with
/// a letter or digit. (Ids of corpus files come from their paths and need not follow this
/// rule; this is the form a document is looked up, replaced or deleted by.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DocId(String);

/// The file extensions an upload's id may not end with (the format is given apart).
const EXTENSIONS: [&str; 7] = [
    ".md",
    ".markdown",
    ".html",
    ".htm",
    ".txt",
    ".jsonl",
    ".csv",
];

impl DocId {
    /// Parses an id to look a document up by.
    pub fn parse(id: &str) -> Result<DocId> {
        let ok = !id.is_empty()
            && id.len() <= 128
            && id.as_bytes()[0].is_ascii_alphanumeric()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(DocId(id.to_string()))
        } else {
            Err(Error::InvalidRequest(format!(
                "document id `{}` must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
                printable(id)
            )))
        }
    }

    /// Parses the id of a new (uploaded) document: the lookup form, also ending with a letter
    /// or digit, without `..` and without a file extension, so that it is a safe file name.
    pub fn parse_new(id: &str) -> Result<DocId> {
        let b = id.as_bytes();
        let ok = !id.is_empty()
            && id.len() <= 128
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && !id.contains("..")
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(Error::InvalidRequest(format!(
                "document id `{}` must be 1-128 letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
                printable(id)
            )));
        }
        let lower = id.to_ascii_lowercase();
        if let Some(ext) = EXTENSIONS.iter().find(|e| lower.ends_with(*e)) {
            return Err(Error::InvalidRequest(format!(
                "document id `{id}` ends with the file extension `{ext}`; the format is given by `format`, not the id"
            )));
        }
        Ok(DocId(id.to_string()))
    }

    /// Whether this id would also be accepted for a new document.
    pub fn check_new(&self) -> Result<()> {
        DocId::parse_new(&self.0).map(|_| ())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DocId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks the common shape of session and customer ids: 1–`max` ASCII letters, digits, `_`,
/// `-` (and `.` when `dot`), starting with a letter or digit.
fn check_token(what: &str, id: &str, max: usize, dot: bool) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= max
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (dot && b == b'.'));
    if ok {
        Ok(())
    } else {
        let extra = if dot { ", '.'" } else { "" };
        Err(Error::InvalidRequest(format!(
            "{what} `{}` must be 1-{max} letters, digits, '_', '-'{extra}, starting with a letter or digit",
            printable(id)
        )))
    }
}

/// A conversation's id: 1–64 letters, digits, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// Parses a session id given by a caller.
    pub fn parse(id: &str) -> Result<SessionId> {
        check_token("session id", id, 64, false).map(|_| SessionId(id.to_string()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A customer's id in the customer directory: 1–64 letters, digits, `.`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CustomerId(String);

impl CustomerId {
    /// Parses a customer id given by a caller.
    pub fn parse(id: &str) -> Result<CustomerId> {
        check_token("customer id", id, 64, true).map(|_| CustomerId(id.to_string()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! deserialize_by_parse {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    )*};
}
deserialize_by_parse!(DocId, SessionId, CustomerId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_document_ids_are_file_names_without_tricks() {
        for ok in ["faq-1", "X9.manual_v2", "a"] {
            assert!(DocId::parse_new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../etc/passwd",
            ".hidden",
            "a/b",
            "a b",
            "中文",
            "a.md",
            "b-",
        ] {
            assert!(DocId::parse_new(bad).is_err(), "{bad}");
        }
        assert!(DocId::parse_new(&"x".repeat(129)).is_err());
    }

    #[test]
    fn lookup_ids_allow_what_corpus_ids_may_end_with() {
        assert!(DocId::parse("faq.md").is_ok());
        assert!(DocId::parse("note-").is_ok());
        assert!(DocId::parse("a/b").is_err());
        assert!(DocId::parse("").is_err());
    }

    #[test]
    fn chunk_ids_round_trip_as_hex() {
        let id = ChunkId::of("doc", &["A".into()], "text");
        assert_eq!(id.to_string().parse::<ChunkId>(), Ok(id));
        assert!("xyz".parse::<ChunkId>().is_err());
    }

    #[test]
    fn session_and_customer_ids_are_checked() {
        assert!(SessionId::parse("s-1_a").is_ok());
        assert!(SessionId::parse("s.1").is_err());
        assert!(CustomerId::parse("C1001").is_ok());
        assert!(CustomerId::parse("c.1001").is_ok());
        assert!(CustomerId::parse("c 1").is_err());
        assert!(serde_json::from_str::<CustomerId>("\"c/1\"").is_err());
    }
}
