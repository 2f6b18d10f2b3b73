//! What is known about a document besides its text, and the policy terms a document may carry.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::text::Lang;

/// The kind of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocType {
    Manual,
    Policy,
    Faq,
    Ticket,
    Note,
    Other,
}

impl DocType {
    /// Parses a document type name (`manual`, `policy`, `faq`, `ticket`, `note`, `other`).
    pub fn parse(s: &str) -> Option<DocType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "manual" => Some(DocType::Manual),
            "policy" => Some(DocType::Policy),
            "faq" => Some(DocType::Faq),
            "ticket" => Some(DocType::Ticket),
            "note" => Some(DocType::Note),
            "other" => Some(DocType::Other),
            _ => None,
        }
    }

    /// The lowercase name used in filters and output.
    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Manual => "manual",
            DocType::Policy => "policy",
            DocType::Faq => "faq",
            DocType::Ticket => "ticket",
            DocType::Note => "note",
            DocType::Other => "other",
        }
    }
}

/// Who may read a document: everyone, or agents only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Public,
    Internal,
}

impl Audience {
    /// Parses `public` / `internal`.
    pub fn parse(s: &str) -> Option<Audience> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" => Some(Audience::Public),
            "internal" => Some(Audience::Internal),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Public => "public",
            Audience::Internal => "internal",
        }
    }
}

/// Typed warranty terms a policy may carry in its front matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarrantyTerm {
    /// Product category (`phone`, `laptop`, …).
    pub category: String,
    /// Months the whole device is covered.
    pub months: u32,
    /// Months for named parts (`battery: 12`).
    #[serde(default)]
    pub parts: BTreeMap<String, u32>,
    /// The clause that states the whole-device period (`"4.1"`), for citing a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    /// The clause that states each part's period.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub part_clauses: BTreeMap<String, String>,
}

/// What is known about a document besides its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocMeta {
    /// Stable document id (front matter `id`, a ticket id, or the path in the corpus).
    pub id: String,
    pub title: String,
    pub doc_type: DocType,
    pub language: Lang,
    pub audience: Audience,
    /// Exact model numbers the document is about.
    pub products: Vec<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub effective_date: Option<NaiveDate>,
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warranty: Vec<WarrantyTerm>,
    /// The source file, relative to the corpus folder, with `/` separators.
    pub source: String,
    /// Other metadata (a ticket's channel, status, created_at; unknown front-matter keys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}
