//! The embedded customer directory: customers in the records store ([`Table::Customers`],
//! keyed by id) with keys for their phone numbers and order numbers
//! ([`Table::CustomerKeys`]: `phone:+8613800135721`, `order:TL20260315-482913` → the id), and
//! the import of JSON Lines files into it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{normalise_phone, Customer, CustomerDirectory};
use crate::domain::CustomerId;
use crate::error::{Error, Result};
use crate::store::records::{get_json, Batch, Records, Table};

/// Customers kept in the records store.
#[derive(Clone)]
pub struct RecordsDirectory {
    records: Arc<dyn Records>,
}

fn phone_key(phone: &str) -> Option<String> {
    normalise_phone(phone).map(|p| format!("phone:{p}"))
}

fn order_key(order: &str) -> String {
    format!("order:{}", order.trim().to_uppercase())
}

/// Every lookup key of `c`.
fn keys_of(c: &Customer) -> Vec<String> {
    let mut keys: Vec<String> = c.phones.iter().filter_map(|p| phone_key(p)).collect();
    keys.extend(c.purchases.iter().map(|p| order_key(&p.order)));
    keys
}

impl RecordsDirectory {
    pub fn new(records: Arc<dyn Records>) -> RecordsDirectory {
        RecordsDirectory { records }
    }

    fn by_key(&self, key: &str) -> Result<Option<Customer>> {
        let Some(id) = self.records.get(Table::CustomerKeys, key)? else {
            return Ok(None);
        };
        let id = String::from_utf8_lossy(&id).into_owned();
        get_json(self.records.as_ref(), Table::Customers, &id)
    }

    /// Stores `customers` (replacing those with the same id, and their old keys) in one
    /// commit: all of them or none.
    pub fn put(&self, customers: &[Customer]) -> Result<()> {
        let mut batch = Batch::new();
        for c in customers {
            if let Some(old) =
                get_json::<Customer>(self.records.as_ref(), Table::Customers, c.id.as_str())?
            {
                for k in keys_of(&old) {
                    batch.delete(Table::CustomerKeys, k);
                }
            }
            batch.put_json(Table::Customers, c.id.as_str(), c)?;
            for k in keys_of(c) {
                batch.put(Table::CustomerKeys, k, c.id.as_str().as_bytes().to_vec());
            }
        }
        self.records.commit(batch)
    }

    /// How many customers there are (up to `limit`).
    pub fn count(&self, limit: usize) -> Result<usize> {
        Ok(self.records.scan(Table::Customers, "", limit)?.len())
    }
}

impl CustomerDirectory for RecordsDirectory {
    fn by_id(&self, id: &CustomerId) -> Result<Option<Customer>> {
        get_json(self.records.as_ref(), Table::Customers, id.as_str())
    }

    fn by_phone(&self, phone: &str) -> Result<Option<Customer>> {
        match phone_key(phone) {
            Some(k) => self.by_key(&k),
            None => Ok(None),
        }
    }

    fn by_order(&self, order: &str) -> Result<Option<Customer>> {
        self.by_key(&order_key(order))
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// Customers written (new or replaced).
    pub customers: usize,
    /// Lines left out, each with its number (from 1) and why.
    pub failed: Vec<(usize, String)>,
}

/// Reads customers from the JSON Lines file `path` and stores every good one in `directory`
/// (one commit). A line that does not parse or check — or repeats a customer id, or claims an
/// order number or phone number another customer of the file or the directory has — is left
/// out and reported with its line number; the others are imported all the same.
pub fn import_jsonl(directory: &RecordsDirectory, path: &Path) -> Result<Imported> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Imported::default();
    let mut good: Vec<Customer> = Vec::new();
    // key -> the id that claims it in this file
    let mut claimed: HashMap<String, String> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let c: Customer = match serde_json::from_str::<Customer>(line) {
            Ok(c) => c,
            Err(e) => {
                out.failed.push((n, format!("not a customer record: {e}")));
                continue;
            }
        };
        if let Err(why) = c.check() {
            out.failed
                .push((n, format!("customer `{}`: {why}", c.id.as_str())));
            continue;
        }
        if good.iter().any(|g| g.id == c.id) {
            out.failed.push((
                n,
                format!("customer `{}` appears twice in the file", c.id.as_str()),
            ));
            continue;
        }
        let id = c.id.as_str().to_string();
        let mut clash = None;
        for k in keys_of(&c) {
            let in_file = claimed.get(&k).filter(|other| **other != id).cloned();
            let in_store = match directory.records.get(Table::CustomerKeys, &k)? {
                Some(other) if other != id.as_bytes() => {
                    Some(String::from_utf8_lossy(&other).into_owned())
                }
                _ => None,
            };
            if let Some(other) = in_file.or(in_store) {
                clash = Some(format!(
                    "customer `{id}`: {} belongs to customer `{other}`",
                    k.replacen(':', " ", 1)
                ));
                break;
            }
        }
        if let Some(why) = clash {
            out.failed.push((n, why));
            continue;
        }
        for k in keys_of(&c) {
            claimed.insert(k, id.clone());
        }
        good.push(c);
    }
    directory.put(&good)?;
    out.customers = good.len();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::MemoryRecords;

    fn line(id: &str, phone: &str, order: &str) -> String {
        format!(
            r#"{{"id": "{id}", "name": "Ann", "language": "en", "region": "US",
            "time_zone": "America/New_York", "tier": "gold", "phones": ["{phone}"],
            "purchases": [{{"order": "{order}", "model": "X9", "category": "phone",
            "channel": "online", "ordered": "2026-06-01", "delivered": "2026-06-03",
            "serial": "SN X9S2606A00001"}}]}}"#
        )
        .replace('\n', " ")
    }

    #[test]
    fn customers_are_found_by_id_phone_and_order_and_bad_lines_are_reported() {
        let dir = RecordsDirectory::new(Arc::new(MemoryRecords::new()));
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let lines = [
            line("C1", "+1 555 0100 0001", "TL20260601-000001"),
            "{not json".to_string(),
            line("C2", "+1 555 0100 0002", "TL20260601-000001"),
            line("C3", "+1 555 0100 0003", "TL20260601-000003")
                .replace("America/New_York", "Nowhere"),
            line("C4", "+1 555 0100 0004", "TL20260601-000004"),
        ];
        std::fs::write(file.path(), lines.join("\n")).expect("write");
        let got = import_jsonl(&dir, file.path()).expect("imports");
        assert_eq!(got.customers, 2);
        let failed: Vec<usize> = got.failed.iter().map(|(n, _)| *n).collect();
        assert_eq!(failed, vec![2, 3, 4], "{:?}", got.failed);
        assert!(got.failed[1].1.contains("belongs to customer `C1`"));
        assert!(got.failed[2].1.contains("time_zone"));
        let c1 = CustomerId::parse("C1").expect("id");
        assert_eq!(
            dir.by_id(&c1).expect("reads").map(|c| c.name),
            Some("Ann".into())
        );
        let by_phone = dir.by_phone("(555) 0100-0004").expect("reads");
        assert!(by_phone.is_none(), "a US number needs its country code");
        let by_phone = dir.by_phone("+15550100 0004").expect("reads");
        assert_eq!(
            by_phone.map(|c| c.id.as_str().to_string()),
            Some("C4".into())
        );
        let by_order = dir.by_order("tl20260601-000001").expect("reads");
        assert_eq!(
            by_order.map(|c| c.id.as_str().to_string()),
            Some("C1".into())
        );
        // importing again replaces, and an order moved to another customer is refused
        let again = import_jsonl(&dir, file.path()).expect("imports");
        assert_eq!(again.customers, 2);
        assert_eq!(dir.count(100).expect("counts"), 2);
    }

    #[test]
    fn a_replaced_customer_loses_the_keys_it_no_longer_has() {
        let dir = RecordsDirectory::new(Arc::new(MemoryRecords::new()));
        let mut c: Customer =
            serde_json::from_str(&line("C1", "+1 555 0100 0001", "TL20260601-000001"))
                .expect("a customer");
        dir.put(std::slice::from_ref(&c)).expect("puts");
        c.phones = vec!["+1 555 0100 0009".into()];
        dir.put(&[c]).expect("puts");
        assert!(dir.by_phone("+1 555 0100 0001").expect("reads").is_none());
        assert!(dir.by_phone("+1 555 0100 0009").expect("reads").is_some());
    }
}
