//! `[crm]`: an external CRM that customers are looked up in instead of the embedded directory
//! (absent: the embedded directory of `corpus/customers/`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The CRM's HTTP API and how kefu reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CrmConfig {
    /// The API's base URL (`https://crm.example.com/api`); the paths below are appended.
    pub base_url: String,
    /// The path of a customer by id; `{id}` is replaced by the id.
    pub by_id: String,
    /// The path of a customer by phone number; `{phone}` is replaced by the number in E.164
    /// (`+8613800135721`).
    pub by_phone: String,
    /// The path of the customer who placed an order; `{order}` is replaced by the order number.
    pub by_order: String,
    /// The header the credential is sent in.
    pub auth_header: String,
    /// The environment variable holding the header's whole value (`Bearer …`); "" sends none.
    pub auth_env: String,
    /// Connecting, in milliseconds.
    pub connect_timeout_ms: u64,
    /// One attempt, connecting and reading the whole reply, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts after the first when the CRM times out, cannot be reached or answers 429 / 5xx.
    pub retries: u32,
    /// All attempts of one lookup together, back-off included, in milliseconds.
    pub budget_ms: u64,
    /// The wait before the first retry, doubled for each next one, in milliseconds.
    pub backoff_ms: u64,
    /// Retries may be at most this share of lookups (the retry budget), so a failing CRM is
    /// not sent a multiple of the traffic.
    pub retry_ratio: f64,
    /// After this many lookups in a row failed, the CRM is not asked for `breaker_open_ms`
    /// (turns are answered at once, with a warning), then asked again.
    pub breaker_failures: u32,
    pub breaker_open_ms: u64,
    /// Where in the reply the customer object is (a JSON pointer; "" is the reply itself).
    pub root: String,
    /// kefu's field names mapped to JSON pointers in the CRM's objects; a field not named
    /// is read from the key of the same name.
    pub fields: CrmFields,
    /// The CRM's words for kefu's values, per field: `[crm.values.tier] VIP2 = "gold"`.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

/// Field mappings per object (see docs/corpus-formats.md for kefu's fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CrmFields {
    pub customer: BTreeMap<String, String>,
    /// Relative to each element of the customer's `purchases` array.
    pub purchase: BTreeMap<String, String>,
    /// Relative to each element of a purchase's `repairs` array.
    pub repair: BTreeMap<String, String>,
    /// Relative to a purchase's `tiancare` object.
    pub tiancare: BTreeMap<String, String>,
}

/// kefu's fields of each object of a customer record.
pub const CUSTOMER_FIELDS: &[&str] = &[
    "id",
    "name",
    "language",
    "region",
    "time_zone",
    "tier",
    "phones",
    "email",
    "purchases",
    "tickets",
];
pub const PURCHASE_FIELDS: &[&str] = &[
    "order",
    "model",
    "category",
    "channel",
    "ordered",
    "delivered",
    "invoiced",
    "serial",
    "price",
    "currency",
    "tier_at_purchase",
    "tiancare",
    "installed",
    "installer",
    "repairs",
];
pub const REPAIR_FIELDS: &[&str] = &["rma", "date", "part", "kind", "fault"];
pub const TIANCARE_FIELDS: &[&str] = &["bought", "order", "price"];
/// The fields whose values may be translated by `[crm.values]`.
pub const VALUE_FIELDS: &[&str] = &[
    "tier",
    "language",
    "region",
    "category",
    "channel",
    "installer",
    "kind",
    "tier_at_purchase",
];

impl Default for CrmConfig {
    fn default() -> Self {
        CrmConfig {
            base_url: String::new(),
            by_id: "/customers/{id}".into(),
            by_phone: "/customers?phone={phone}".into(),
            by_order: "/orders/{order}/customer".into(),
            auth_header: "Authorization".into(),
            auth_env: String::new(),
            connect_timeout_ms: 300,
            timeout_ms: 1000,
            retries: 2,
            budget_ms: 2000,
            backoff_ms: 100,
            retry_ratio: 0.2,
            breaker_failures: 3,
            breaker_open_ms: 15_000,
            root: String::new(),
            fields: CrmFields::default(),
            values: BTreeMap::new(),
        }
    }
}

fn check_pointer(key: String, p: &str) -> Result<()> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!(
                "`{p}` is not a JSON pointer (\"\" or starting with `/`, e.g. `/profile/name`)"
            ),
        ))
    }
}

impl CrmConfig {
    pub fn validate(&self) -> Result<()> {
        let base = self.base_url.trim();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(Error::config(
                "crm.base_url",
                "must be an http:// or https:// URL, e.g. https://crm.example.com/api",
            ));
        }
        for (key, path, slot) in [
            ("crm.by_id", &self.by_id, "{id}"),
            ("crm.by_phone", &self.by_phone, "{phone}"),
            ("crm.by_order", &self.by_order, "{order}"),
        ] {
            if !path.starts_with('/') || !path.contains(slot) {
                return Err(Error::config(
                    key,
                    format!("must be a path starting with `/` that contains `{slot}`"),
                ));
            }
        }
        if self.auth_header.trim().is_empty()
            || !self
                .auth_header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::config(
                "crm.auth_header",
                "must be an HTTP header name (letters, digits, `-`)",
            ));
        }
        if self.timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return Err(Error::config(
                "crm.timeout_ms",
                "timeouts must be at least 1 ms",
            ));
        }
        if self.budget_ms < self.timeout_ms {
            return Err(Error::config(
                "crm.budget_ms",
                "must be at least crm.timeout_ms (one whole attempt)",
            ));
        }
        if self.retries > 10 {
            return Err(Error::config("crm.retries", "must be at most 10"));
        }
        if !(0.0..=1.0).contains(&self.retry_ratio) {
            return Err(Error::config("crm.retry_ratio", "must be between 0 and 1"));
        }
        if self.breaker_failures == 0 {
            return Err(Error::config("crm.breaker_failures", "must be at least 1"));
        }
        check_pointer("crm.root".into(), &self.root)?;
        for (object, map, known) in [
            ("customer", &self.fields.customer, CUSTOMER_FIELDS),
            ("purchase", &self.fields.purchase, PURCHASE_FIELDS),
            ("repair", &self.fields.repair, REPAIR_FIELDS),
            ("tiancare", &self.fields.tiancare, TIANCARE_FIELDS),
        ] {
            for (field, pointer) in map {
                let key = format!("crm.fields.{object}.{field}");
                if !known.contains(&field.as_str()) {
                    return Err(Error::config(
                        key,
                        format!(
                            "kefu has no {object} field `{field}` (it has {})",
                            known.join(", ")
                        ),
                    ));
                }
                check_pointer(key, pointer)?;
            }
        }
        for field in self.values.keys() {
            if !VALUE_FIELDS.contains(&field.as_str()) {
                return Err(Error::config(
                    format!("crm.values.{field}"),
                    format!("values can be translated for {}", VALUE_FIELDS.join(", ")),
                ));
            }
        }
        Ok(())
    }
}
