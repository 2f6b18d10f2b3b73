//! The HTTP connector to an external CRM (`[crm]`): customers looked up by id, phone number or
//! order number over the CRM's own API, its replies mapped field by field onto kefu's
//! [`Customer`] and checked like an imported record.
//!
//! A lookup is bounded: each attempt has a timeout, all attempts of one lookup share a time
//! budget, retries (timeouts, unreachable, 429, 5xx) back off and are limited to a share of
//! lookups (the retry budget), and after `breaker_failures` failed lookups in a row the CRM is
//! left alone for `breaker_open_ms` so that turns are answered at once. A failure is an
//! [`Error::Upstream`] whose message names the lookup and the cause — never the id, phone
//! number or order number asked about, nor a value of the reply (they are personal data, and
//! errors are logged).

use std::io::Read as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::{normalise_phone, Customer, CustomerDirectory};
use crate::config::crm_fields::{CUSTOMER_FIELDS, PURCHASE_FIELDS, REPAIR_FIELDS, TIANCARE_FIELDS};
use crate::config::CrmConfig;
use crate::domain::CustomerId;
use crate::error::{Error, Result};

/// The largest reply read.
const MAX_REPLY: u64 = 1 << 20;
/// Retries kept in reserve for a burst (the retry budget's cap).
const RETRY_RESERVE: f64 = 10.0;
const SERVICE: &str = "the CRM";

/// The three lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Id,
    Phone,
    Order,
}

impl Lookup {
    fn name(self) -> &'static str {
        match self {
            Lookup::Id => "by id",
            Lookup::Phone => "by phone number",
            Lookup::Order => "by order number",
        }
    }

    fn slot(self) -> &'static str {
        match self {
            Lookup::Id => "{id}",
            Lookup::Phone => "{phone}",
            Lookup::Order => "{order}",
        }
    }
}

/// What one attempt came to.
enum Attempt {
    Reply(Value),
    NotFound,
    /// Worth another attempt (timeout, unreachable, 429, 5xx).
    Retry(String),
    /// Not worth one (refused credentials, a 4xx, a reply that is not JSON).
    Fail(String),
}

/// The connector's memory of the CRM's health: the retry budget and the breaker.
struct Health {
    retry_tokens: f64,
    failures_in_row: u32,
    open_until: Option<Instant>,
}

/// Customers looked up in an external CRM.
pub struct CrmDirectory {
    config: CrmConfig,
    agent: ureq::Agent,
    auth: Option<String>,
    health: Mutex<Health>,
}

impl CrmDirectory {
    /// A connector for `config` (validated); the credential is read now from the environment
    /// variable `crm.auth_env` names, and its absence is an error.
    pub fn new(config: &CrmConfig) -> Result<CrmDirectory> {
        config.validate()?;
        let auth = if config.auth_env.is_empty() {
            None
        } else {
            match std::env::var(&config.auth_env) {
                Ok(v) if !v.trim().is_empty() => Some(v),
                _ => {
                    return Err(Error::config(
                        "crm.auth_env",
                        format!(
                            "the environment variable `{}` is not set (it holds the `{}` header sent to the CRM)",
                            config.auth_env, config.auth_header
                        ),
                    ))
                }
            }
        };
        let agent = ureq::builder()
            .timeout_connect(Duration::from_millis(config.connect_timeout_ms))
            .redirects(0)
            .build();
        Ok(CrmDirectory {
            config: config.clone(),
            agent,
            auth,
            health: Mutex::new(Health {
                retry_tokens: RETRY_RESERVE,
                failures_in_row: 0,
                open_until: None,
            }),
        })
    }

    fn url(&self, lookup: Lookup, key: &str) -> String {
        let template = match lookup {
            Lookup::Id => &self.config.by_id,
            Lookup::Phone => &self.config.by_phone,
            Lookup::Order => &self.config.by_order,
        };
        let encoded: String =
            percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        format!(
            "{}{}",
            self.config.base_url.trim().trim_end_matches('/'),
            template.replace(lookup.slot(), &encoded)
        )
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn upstream(lookup: Lookup, message: impl std::fmt::Display) -> Error {
        Error::Upstream {
            service: SERVICE.into(),
            message: format!("lookup {}: {message}", lookup.name()),
        }
    }

    /// One lookup: the breaker, the attempts, the mapping.
    pub fn lookup(&self, lookup: Lookup, key: &str) -> Result<Option<Customer>> {
        let started = Instant::now();
        {
            let mut h = self.health();
            if let Some(until) = h.open_until {
                if started < until {
                    return Err(Self::upstream(
                        lookup,
                        format!(
                            "not asked: {} lookups in a row failed; asking again in {} s",
                            h.failures_in_row,
                            (until - started).as_secs().max(1)
                        ),
                    ));
                }
                // half open: this lookup is the trial; one more failure opens it again
                h.open_until = None;
            }
            h.retry_tokens = (h.retry_tokens + self.config.retry_ratio).min(RETRY_RESERVE);
        }
        let outcome = self.attempts(lookup, key, started);
        let mut h = self.health();
        match &outcome {
            Err(_) => {
                h.failures_in_row = h.failures_in_row.saturating_add(1);
                if h.failures_in_row >= self.config.breaker_failures {
                    h.open_until =
                        Some(Instant::now() + Duration::from_millis(self.config.breaker_open_ms));
                }
            }
            Ok(_) => {
                h.failures_in_row = 0;
                h.open_until = None;
            }
        }
        drop(h);
        let reply = match outcome? {
            None => return Ok(None),
            Some(reply) => reply,
        };
        match map_reply(&self.config, &reply) {
            Ok(None) => Ok(None),
            Ok(Some(c)) => {
                if lookup == Lookup::Id && !c.id.as_str().eq_ignore_ascii_case(key) {
                    return Err(Self::upstream(
                        lookup,
                        "the reply is another customer's record",
                    ));
                }
                Ok(Some(c))
            }
            Err(why) => Err(Self::upstream(lookup, why)),
        }
    }

    /// Attempts until a reply, a not-found, a failure not worth retrying, or the end of the
    /// retries, the time budget or the retry budget.
    fn attempts(&self, lookup: Lookup, key: &str, started: Instant) -> Result<Option<Value>> {
        let budget = Duration::from_millis(self.config.budget_ms);
        let url = self.url(lookup, key);
        let mut retried = 0u32;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            let timeout = left.min(Duration::from_millis(self.config.timeout_ms));
            let why = match self.attempt(&url, timeout) {
                Attempt::Reply(v) => return Ok(Some(v)),
                Attempt::NotFound => return Ok(None),
                Attempt::Fail(why) => return Err(Self::upstream(lookup, why)),
                Attempt::Retry(why) => why,
            };
            let tries = retried + 1;
            if retried >= self.config.retries {
                return Err(Self::upstream(lookup, format!("{why} ({tries} attempts)")));
            }
            let backoff = Duration::from_millis(
                self.config
                    .backoff_ms
                    .saturating_mul(1u64 << retried.min(16)),
            );
            let left = budget.saturating_sub(started.elapsed());
            // a retry needs its back-off and some time to be answered in
            if left <= backoff + Duration::from_millis(10) {
                return Err(Self::upstream(
                    lookup,
                    format!(
                        "{why} ({tries} attempts, time budget of {} ms spent)",
                        self.config.budget_ms
                    ),
                ));
            }
            {
                let mut h = self.health();
                if h.retry_tokens < 1.0 {
                    return Err(Self::upstream(
                        lookup,
                        format!("{why} (no retry: the retry budget is spent)"),
                    ));
                }
                h.retry_tokens -= 1.0;
            }
            std::thread::sleep(backoff);
            retried += 1;
        }
    }

    fn attempt(&self, url: &str, timeout: Duration) -> Attempt {
        let mut req = self
            .agent
            .get(url)
            .timeout(timeout)
            .set("Accept", "application/json");
        if let Some(v) = &self.auth {
            req = req.set(&self.config.auth_header, v);
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(404, _)) => return Attempt::NotFound,
            Err(ureq::Error::Status(code @ (401 | 403), _)) => {
                return Attempt::Fail(format!(
                    "the CRM refused kefu's credentials ({code}); check crm.auth_header and the variable crm.auth_env names"
                ))
            }
            Err(ureq::Error::Status(code, _)) if code == 429 || code >= 500 => {
                return Attempt::Retry(format!("the CRM answered {code}"))
            }
            Err(ureq::Error::Status(code, _)) => {
                return Attempt::Fail(format!("the CRM answered {code}"))
            }
            Err(ureq::Error::Transport(t)) => return Attempt::Retry(transport_cause(&t)),
        };
        if !(200..300).contains(&resp.status()) {
            return Attempt::Fail(format!("the CRM answered {}", resp.status()));
        }
        let mut body = Vec::new();
        if let Err(e) = resp
            .into_reader()
            .take(MAX_REPLY + 1)
            .read_to_end(&mut body)
        {
            return Attempt::Retry(io_cause(&e));
        }
        if body.len() as u64 > MAX_REPLY {
            return Attempt::Fail(format!("the reply is larger than {} KiB", MAX_REPLY / 1024));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => Attempt::Reply(v),
            Err(e) => Attempt::Fail(format!(
                "the reply is not JSON (line {}, column {})",
                e.line(),
                e.column()
            )),
        }
    }
}

fn io_cause(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out".into(),
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
            "the connection was dropped".into()
        }
        std::io::ErrorKind::UnexpectedEof => "the reply was cut off".into(),
        k => format!("I/O error ({k})"),
    }
}

/// The cause of a transport error, without its URL (which holds the key looked up).
fn transport_cause(t: &ureq::Transport) -> String {
    use std::error::Error as _;
    let mut source = t.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io_cause(io);
        }
        source = s.source();
    }
    match t.kind() {
        ureq::ErrorKind::Dns => "the CRM's host name does not resolve".into(),
        ureq::ErrorKind::ConnectionFailed => "cannot connect".into(),
        ureq::ErrorKind::TooManyRedirects => "redirected".into(),
        ureq::ErrorKind::BadStatus | ureq::ErrorKind::BadHeader => "the reply is not HTTP".into(),
        k => format!("{k}"),
    }
}

impl CustomerDirectory for CrmDirectory {
    fn by_id(&self, id: &CustomerId) -> Result<Option<Customer>> {
        self.lookup(Lookup::Id, id.as_str())
    }

    fn by_phone(&self, phone: &str) -> Result<Option<Customer>> {
        match normalise_phone(phone) {
            Some(p) => self.lookup(Lookup::Phone, &p),
            None => Ok(None),
        }
    }

    fn by_order(&self, order: &str) -> Result<Option<Customer>> {
        let order = order.trim();
        if order.is_empty() {
            return Ok(None);
        }
        self.lookup(Lookup::Order, order)
    }
}

/// `msg` with every quoted part left out: serde's messages quote the offending value, and a
/// value of a customer record is personal data.
fn without_values(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut quote: Option<char> = None;
    for c in msg.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => {
                quote = Some(c);
                out.push('…');
            }
            None => out.push(c),
        }
    }
    out
}

/// The fields holding dates.
const DATE_FIELDS: &[&str] = &[
    "ordered",
    "delivered",
    "invoiced",
    "installed",
    "date",
    "bought",
];
/// The fields holding lower-case words.
const WORD_FIELDS: &[&str] = &[
    "tier",
    "language",
    "category",
    "channel",
    "installer",
    "kind",
    "tier_at_purchase",
];
const NUMBER_FIELDS: &[&str] = &["price"];

/// The CRM's reply mapped onto kefu's customer record: `Ok(None)` when the reply is an empty
/// list (a search that found nobody). Errors name the field and the cause, never a value.
pub fn map_reply(
    config: &CrmConfig,
    reply: &Value,
) -> std::result::Result<Option<Customer>, String> {
    let Some(root) = reply.pointer(&config.root) else {
        return Err(format!(
            "the reply has nothing at `{}` (crm.root)",
            config.root
        ));
    };
    let object = match root {
        Value::Array(items) => match items.as_slice() {
            [] => return Ok(None),
            [one] => one,
            _ => {
                return Err(format!(
                    "the reply lists {} customers for one key",
                    items.len()
                ))
            }
        },
        Value::Null => return Ok(None),
        other => other,
    };
    if !object.is_object() {
        return Err("the customer is not a JSON object".into());
    }
    let time_zone = mapped_field(&config.fields.customer, object, "time_zone")
        .and_then(|v| v.as_str().and_then(|s| s.parse::<chrono_tz::Tz>().ok()));
    let mapper = Mapper { config, time_zone };
    let mapped = mapper.object(object, &config.fields.customer, CUSTOMER_FIELDS, "")?;
    let customer: Customer = serde_path_to_error::deserialize(mapped).map_err(|e| {
        let field = e.path().to_string();
        format!(
            "field `{field}` of the mapped record: {}",
            without_values(&e.into_inner().to_string())
        )
    })?;
    customer
        .check()
        .map_err(|why| format!("the record does not check: {}", without_values(&why)))?;
    Ok(Some(customer))
}

fn mapped_field<'v>(
    map: &std::collections::BTreeMap<String, String>,
    object: &'v Value,
    field: &str,
) -> Option<&'v Value> {
    let pointer = map
        .get(field)
        .cloned()
        .unwrap_or_else(|| format!("/{field}"));
    object.pointer(&pointer).filter(|v| !v.is_null())
}

struct Mapper<'c> {
    config: &'c CrmConfig,
    time_zone: Option<chrono_tz::Tz>,
}

impl Mapper<'_> {
    fn object(
        &self,
        object: &Value,
        map: &std::collections::BTreeMap<String, String>,
        fields: &[&str],
        at: &str,
    ) -> std::result::Result<Value, String> {
        let mut out = Map::new();
        for &field in fields {
            let Some(v) = mapped_field(map, object, field) else {
                continue;
            };
            let path = if at.is_empty() {
                field.to_string()
            } else {
                format!("{at}.{field}")
            };
            let v = match field {
                "purchases" | "repairs" => {
                    let (inner_map, inner_fields) = if field == "purchases" {
                        (&self.config.fields.purchase, PURCHASE_FIELDS)
                    } else {
                        (&self.config.fields.repair, REPAIR_FIELDS)
                    };
                    let Some(items) = v.as_array() else {
                        return Err(format!("field `{path}` is not a list"));
                    };
                    let mut list = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        list.push(self.object(
                            item,
                            inner_map,
                            inner_fields,
                            &format!("{path}[{i}]"),
                        )?);
                    }
                    Value::Array(list)
                }
                "tiancare" => {
                    self.object(v, &self.config.fields.tiancare, TIANCARE_FIELDS, &path)?
                }
                _ => self.value(field, v.clone()),
            };
            out.insert(field.to_string(), v);
        }
        Ok(Value::Object(out))
    }

    /// One value in kefu's form: the CRM's word translated, words lower-cased, a date-time
    /// taken as the day it was in the customer's time zone, numbers written as text read.
    fn value(&self, field: &str, v: Value) -> Value {
        let v = match (&v, self.config.values.get(field)) {
            (Value::String(s), Some(words)) => words
                .get(s)
                .or_else(|| {
                    words
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(s))
                        .map(|(_, w)| w)
                })
                .map_or(v.clone(), |w| Value::String(w.clone())),
            _ => v,
        };
        match v {
            Value::Number(n) if field == "id" => Value::String(n.to_string()),
            Value::String(s) if WORD_FIELDS.contains(&field) => {
                Value::String(s.trim().to_lowercase())
            }
            Value::String(s) if field == "region" => Value::String(s.trim().to_uppercase()),
            Value::String(s) if DATE_FIELDS.contains(&field) => Value::String(self.day(s)),
            Value::String(s) if NUMBER_FIELDS.contains(&field) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                .unwrap_or(Value::String(s)),
            Value::String(s) if field == "phones" => Value::Array(vec![Value::String(s)]),
            other => other,
        }
    }

    /// `2026-03-15T23:30:00Z` → the day it was for the customer (`2026-03-16` in Shanghai);
    /// `2026-03-15 10:00:00` → `2026-03-15`; anything else unchanged (checked later).
    fn day(&self, s: String) -> String {
        let t = s.trim();
        if t.len() <= 10 {
            return t.to_string();
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(t) {
            return match self.time_zone {
                Some(tz) => at.with_timezone(&tz).date_naive().to_string(),
                None => at.date_naive().to_string(),
            };
        }
        for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
            if let Ok(at) = chrono::NaiveDateTime::parse_from_str(t, format) {
                return at.date().to_string();
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> CrmConfig {
        CrmConfig {
            base_url: "http://127.0.0.1:9".into(),
            ..CrmConfig::default()
        }
    }

    fn record() -> Value {
        json!({
            "id": "C1", "name": "Ada", "language": "en", "region": "UK",
            "time_zone": "Europe/London", "tier": "gold",
            "purchases": [{"order": "TL1", "model": "X9 Pro", "category": "phone",
                "channel": "online", "ordered": "2026-03-01", "delivered": "2026-03-03",
                "serial": "S1"}]
        })
    }

    #[test]
    fn a_reply_in_kefus_own_shape_needs_no_mapping() {
        let c = map_reply(&config(), &record())
            .expect("maps")
            .expect("found");
        assert_eq!(c.id.as_str(), "C1");
        assert_eq!(c.purchases[0].model, "X9 Pro");
    }

    #[test]
    fn fields_values_dates_and_roots_are_mapped() {
        let mut cfg = config();
        cfg.root = "/data".into();
        cfg.fields
            .customer
            .insert("id".into(), "/customerNo".into());
        cfg.fields
            .customer
            .insert("name".into(), "/profile/fullName".into());
        cfg.fields.customer.insert("tier".into(), "/vip".into());
        cfg.fields
            .customer
            .insert("purchases".into(), "/orders".into());
        cfg.fields
            .purchase
            .insert("order".into(), "/orderNo".into());
        cfg.fields
            .purchase
            .insert("delivered".into(), "/shipping/deliveredAt".into());
        cfg.values
            .entry("tier".into())
            .or_default()
            .insert("VIP2".into(), "gold".into());
        let reply = json!({"data": [{
            "customerNo": 10234, "profile": {"fullName": "Li Lei"}, "language": "ZH",
            "region": "cn", "time_zone": "Asia/Shanghai", "vip": "vip2",
            "orders": [{"orderNo": "TL9", "model": "X9 Pro", "category": "Phone",
                "channel": "ONLINE", "ordered": "2026-03-01T10:00:00+08:00",
                "shipping": {"deliveredAt": "2026-03-02T17:30:00Z"},
                "serial": "S9", "price": "3999.00"}]
        }]});
        let c = map_reply(&cfg, &reply).expect("maps").expect("found");
        assert_eq!(c.id.as_str(), "10234");
        assert_eq!(c.name, "Li Lei");
        assert_eq!(c.tier, crate::customer::Tier::Gold);
        assert_eq!(c.region, "CN");
        let p = &c.purchases[0];
        assert_eq!(p.order, "TL9");
        // 17:30 UTC on the 2nd is the 3rd in Shanghai
        assert_eq!(
            p.delivered.map(|d| d.to_string()).as_deref(),
            Some("2026-03-03")
        );
        assert_eq!(p.price, Some(3999.0));
    }

    #[test]
    fn an_empty_search_is_nobody_and_several_are_an_error() {
        assert!(map_reply(&config(), &json!([])).expect("maps").is_none());
        let err = map_reply(&config(), &json!([record(), record()])).unwrap_err();
        assert!(err.contains("2 customers"), "{err}");
    }

    #[test]
    fn a_bad_field_is_named_without_its_value() {
        let mut r = record();
        r["purchases"][0]["delivered"] = json!("13800135721");
        let err = map_reply(&config(), &r).unwrap_err();
        assert!(err.contains("purchases[0].delivered"), "{err}");
        assert!(!err.contains("13800135721"), "{err}");
        let mut r = record();
        r["tier"] = json!("diamond-Ada");
        let err = map_reply(&config(), &r).unwrap_err();
        assert!(err.contains("tier"), "{err}");
        assert!(!err.contains("diamond"), "{err}");
    }

    #[test]
    fn unknown_mapped_fields_and_bad_pointers_are_config_errors() {
        let mut cfg = config();
        cfg.fields.purchase.insert("deliverd".into(), "/x".into());
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("crm.fields.purchase.deliverd"), "{err}");
        let mut cfg = config();
        cfg.fields
            .customer
            .insert("name".into(), "profile.name".into());
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("JSON pointer"), "{err}");
    }

    #[test]
    fn a_missing_credential_variable_is_named() {
        let mut cfg = config();
        cfg.auth_env = "KEFU_TEST_CRM_TOKEN_THAT_IS_NOT_SET".into();
        let err = CrmDirectory::new(&cfg).err().expect("refused").to_string();
        assert!(err.contains("KEFU_TEST_CRM_TOKEN_THAT_IS_NOT_SET"), "{err}");
    }

    #[test]
    fn keys_are_escaped_into_the_path() {
        let d = CrmDirectory::new(&config()).expect("connector");
        assert_eq!(
            d.url(Lookup::Phone, "+8613800135721"),
            "http://127.0.0.1:9/customers?phone=%2B8613800135721"
        );
        assert_eq!(
            d.url(Lookup::Order, "TL/1 2"),
            "http://127.0.0.1:9/orders/TL%2F1%202/customer"
        );
    }
}
