//! Customers: who is writing, what they bought and what happened to it since. A
//! [`CustomerDirectory`] finds a customer by id, by phone number or by order number; the
//! embedded default, [`directory::RecordsDirectory`], keeps them in the records store and is
//! loaded from JSON Lines files (`corpus/customers/`, `kefu customers import`; the format is
//! in docs/corpus-formats.md).

pub mod ask;
pub mod crm;
pub mod dates;
pub mod decide;
pub mod directory;
pub mod say;
pub mod terms;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::CustomerId;
use crate::error::Result;
use crate::text::Lang;

pub use directory::{import_jsonl, Imported, RecordsDirectory};

/// A VIP tier of the membership policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Silver,
    Gold,
    Platinum,
}

/// Where a purchase was made: delivered from the online store, or taken home from a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesChannel {
    Online,
    Store,
}

/// What a repair was, and who paid for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairKind {
    /// Free under the warranty.
    Warranty,
    /// The accidental-damage repair of TianCare+.
    Tiancare,
    /// Paid by the customer.
    Paid,
    /// Free under a service bulletin (a known issue).
    Bulletin,
}

/// One past repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repair {
    pub rma: String,
    pub date: NaiveDate,
    pub part: String,
    pub kind: RepairKind,
    #[serde(default)]
    pub fault: String,
}

/// TianCare+ bought for a purchase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tiancare {
    pub bought: NaiveDate,
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub price: Option<f64>,
}

/// One product bought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purchase {
    pub order: String,
    pub model: String,
    pub category: String,
    pub channel: SalesChannel,
    pub ordered: NaiveDate,
    /// When an online order was delivered (none for a shop purchase).
    #[serde(default)]
    pub delivered: Option<NaiveDate>,
    #[serde(default)]
    pub invoiced: Option<NaiveDate>,
    pub serial: String,
    #[serde(default)]
    pub price: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub tier_at_purchase: Option<Tier>,
    #[serde(default)]
    pub tiancare: Option<Tiancare>,
    /// When an air conditioner was installed, and by whom (`tianlan` or `other`).
    #[serde(default)]
    pub installed: Option<NaiveDate>,
    #[serde(default)]
    pub installer: Option<String>,
    #[serde(default)]
    pub repairs: Vec<Repair>,
}

/// The words for each kind of product (category): Chinese, matched anywhere, and English,
/// matched as whole words (a plural `s` allowed). One table for every place that asks which
/// kind of product a message names.
pub const KIND_WORDS: &[(&str, &[&str], &[&str])] = &[
    ("phone", &["手机"], &["phone", "mobile", "smartphone"]),
    ("laptop", &["笔记本", "电脑"], &["laptop", "notebook"]),
    ("tv", &["电视"], &["tv", "television"]),
    (
        "earbuds",
        &["耳机"],
        &["earbuds", "earbud", "earphones", "buds", "pods"],
    ),
    ("washer", &["洗衣机"], &["washer", "washing machine"]),
    (
        "air_conditioner",
        &["空调"],
        &["air conditioner", "aircon", "ac"],
    ),
];

/// Where `word` stands in `lower` as a whole word (an ASCII word in lower-case text).
pub fn find_word(lower: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = lower[from..].find(word) {
        let at = from + i;
        let end = at + word.len();
        let before = lower[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after = lower[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return Some(at);
        }
        from = end;
    }
    None
}

/// Where `text` names a kind of product by one of `KIND_WORDS`: the word's byte range in
/// `text` lower-cased, for each category named, in the table's order.
pub fn kinds_named(text: &str) -> Vec<(&'static str, usize, usize)> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    for (category, zh, en) in KIND_WORDS {
        let zh_hit = zh
            .iter()
            .find_map(|w| lower.find(w).map(|i| (i, i + w.len())));
        let hit = zh_hit.or_else(|| {
            en.iter().find_map(|w| {
                find_word(&lower, w)
                    .map(|i| (i, i + w.len()))
                    .or_else(|| find_word(&lower, &format!("{w}s")).map(|i| (i, i + w.len() + 1)))
            })
        });
        if let Some((a, b)) = hit {
            out.push((*category, a, b));
        }
    }
    out
}

/// A customer and their purchases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    pub language: Lang,
    pub region: String,
    pub time_zone: String,
    pub tier: Tier,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub purchases: Vec<Purchase>,
    /// The support tickets that mention this customer (demo data).
    #[serde(default)]
    pub tickets: Vec<String>,
}

/// The regions kefu knows (the policies' markets).
pub const REGIONS: [&str; 6] = ["CN", "EU", "UK", "US", "SG", "AU"];

/// The product categories of the catalogue.
pub const CATEGORIES: [&str; 6] = [
    "phone",
    "laptop",
    "tv",
    "earbuds",
    "washer",
    "air_conditioner",
];

impl Customer {
    /// Checks what the types alone do not: a known region and time zone, dates in order, a
    /// category of the catalogue, TianCare+ after the purchase, repairs after it. Each problem
    /// is named with the purchase it is in.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` is empty".into());
        }
        if !REGIONS.contains(&self.region.as_str()) {
            return Err(format!(
                "`region` `{}` is not one of {}",
                self.region,
                REGIONS.join(", ")
            ));
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(format!(
                "`time_zone` `{}` is not an IANA time zone (e.g. Asia/Shanghai)",
                self.time_zone
            ));
        }
        for p in &self.purchases {
            let at = |what: String| format!("purchase `{}`: {what}", p.order);
            if p.order.trim().is_empty() {
                return Err("a purchase has an empty `order`".into());
            }
            if !CATEGORIES.contains(&p.category.as_str()) {
                return Err(at(format!(
                    "`category` `{}` is not one of {}",
                    p.category,
                    CATEGORIES.join(", ")
                )));
            }
            if let Some(d) = p.delivered.filter(|d| *d < p.ordered) {
                return Err(at(format!(
                    "delivered {d} before it was ordered ({})",
                    p.ordered
                )));
            }
            if let Some(t) = p.tiancare.as_ref().filter(|t| t.bought < p.ordered) {
                return Err(at(format!(
                    "TianCare+ bought {} before the product ({})",
                    t.bought, p.ordered
                )));
            }
            if let Some(r) = p.repairs.iter().find(|r| r.date < p.ordered) {
                return Err(at(format!(
                    "repair `{}` dated {} before the purchase ({})",
                    r.rma, r.date, p.ordered
                )));
            }
        }
        Ok(())
    }

    /// The purchase with `order` number.
    pub fn purchase(&self, order: &str) -> Option<&Purchase> {
        self.purchases
            .iter()
            .find(|p| p.order.eq_ignore_ascii_case(order.trim()))
    }
}

/// Where customers are found.
pub trait CustomerDirectory: Send + Sync {
    fn by_id(&self, id: &CustomerId) -> Result<Option<Customer>>;
    /// By a phone number in any common writing (`+86 138-0013-5721`, `13800135721`).
    fn by_phone(&self, phone: &str) -> Result<Option<Customer>>;
    /// By an order number (`TL20260315-482913`): in any case in the embedded directory; a CRM
    /// is sent the number as written.
    fn by_order(&self, order: &str) -> Result<Option<Customer>>;
}

/// A phone number as one key: `+` and its digits. An 11-digit mainland mobile number without
/// a country code is taken as +86; `00` before a country code is `+`. `None` when there are
/// too few digits to be a phone number.
pub fn normalise_phone(phone: &str) -> Option<String> {
    let plus = phone.trim_start().starts_with('+');
    let mut digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if !plus {
        if let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_string();
        } else if digits.len() == 11 && digits.starts_with('1') {
            digits = format!("86{digits}");
        }
    }
    (digits.len() >= 7 && digits.len() <= 15).then(|| format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_one_key_however_written() {
        let key = Some("+8613800135721".to_string());
        assert_eq!(normalise_phone("+86 138 0013 5721"), key);
        assert_eq!(normalise_phone("13800135721"), key);
        assert_eq!(normalise_phone("138-0013-5721"), key);
        assert_eq!(normalise_phone("0086 13800135721"), key);
        assert_eq!(
            normalise_phone("+1 (555) 014-2233"),
            Some("+15550142233".into())
        );
        assert_eq!(normalise_phone("12345"), None);
    }

    fn customer() -> Customer {
        serde_json::from_str(
            r#"{"id": "C0001", "name": "王晓明", "language": "zh", "region": "CN",
            "time_zone": "Asia/Shanghai", "tier": "silver", "phones": ["+86 138 0013 5721"],
            "purchases": [{"order": "TL20261028-318274", "model": "X9 Pro", "category": "phone",
            "channel": "online", "ordered": "2026-10-28", "delivered": "2026-10-30",
            "serial": "SN X9P2610A03122", "tiancare": null, "repairs": []}]}"#,
        )
        .expect("a customer")
    }

    #[test]
    fn a_customer_is_checked_for_what_its_types_cannot_say() {
        let c = customer();
        assert_eq!(c.check(), Ok(()));
        assert!(c.purchase("tl20261028-318274").is_some());
        let mut bad = c.clone();
        bad.time_zone = "Mars/Olympus".into();
        assert!(bad.check().unwrap_err().contains("time_zone"));
        let mut bad = c.clone();
        bad.purchases[0].delivered = NaiveDate::from_ymd_opt(2026, 10, 1);
        let e = bad.check().unwrap_err();
        assert!(
            e.contains("TL20261028-318274") && e.contains("before"),
            "{e}"
        );
        let mut bad = c;
        bad.purchases[0].category = "drone".into();
        assert!(bad.check().unwrap_err().contains("category"));
    }
}
