//! A stand-in for a company's CRM: real HTTP over a real socket, serving the demo customers in
//! a shape of its own (renamed fields, nested names, its own tier words, date-times), and
//! replying good, slow, failing or malformed by plan, so that tests can watch kefu's connector.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::repo;

/// How the stand-in answers a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reply {
    /// The customer in the CRM's shape (404 when there is none).
    Good,
    /// Nothing for this long, then the good reply.
    Slow(Duration),
    /// This HTTP status with an error page.
    Status(u16),
    /// A 200 whose body is not JSON.
    NotJson,
    /// A 200 with the record, but a date that is not one.
    BadDate,
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub auth: Option<String>,
}

struct Inner {
    plan: VecDeque<Reply>,
    otherwise: Reply,
    seen: Vec<Seen>,
}

pub struct Crm {
    /// `http://ADDR/api`
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

/// The credential the stand-in expects (the `Authorization` header's whole value).
type Token = Arc<String>;

/// The env that points `kefu serve` at the stand-in, with the field mapping its shape needs.
pub fn env_for(base: &str) -> Vec<(String, String)> {
    [
        ("KEFU__CRM__BASE_URL", base),
        ("KEFU__CRM__BY_PHONE", "/customers?phone={phone}"),
        ("KEFU__CRM__AUTH_ENV", "KEFU_TEST_CRM_TOKEN"),
        ("KEFU_TEST_CRM_TOKEN", "Bearer s3cret-token"),
        ("KEFU__CRM__ROOT", "/data"),
        ("KEFU__CRM__FIELDS__CUSTOMER__ID", "/customerNo"),
        ("KEFU__CRM__FIELDS__CUSTOMER__NAME", "/profile/fullName"),
        ("KEFU__CRM__FIELDS__CUSTOMER__LANGUAGE", "/profile/lang"),
        ("KEFU__CRM__FIELDS__CUSTOMER__TIER", "/vip"),
        ("KEFU__CRM__FIELDS__CUSTOMER__PURCHASES", "/orders"),
        ("KEFU__CRM__FIELDS__PURCHASE__ORDER", "/orderNo"),
        (
            "KEFU__CRM__FIELDS__PURCHASE__DELIVERED",
            "/shipping/deliveredAt",
        ),
        ("KEFU__CRM__VALUES__TIER__VIP1", "silver"),
        ("KEFU__CRM__VALUES__TIER__VIP2", "gold"),
        ("KEFU__CRM__VALUES__TIER__VIP3", "platinum"),
        ("KEFU__CRM__TIMEOUT_MS", "400"),
        ("KEFU__CRM__BUDGET_MS", "1500"),
        ("KEFU__CRM__RETRIES", "2"),
        ("KEFU__CRM__BACKOFF_MS", "20"),
        ("KEFU__CRM__BREAKER_FAILURES", "3"),
        ("KEFU__CRM__BREAKER_OPEN_MS", "600000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A demo customer as the stand-in CRM keeps it.
fn foreign(c: &Value) -> Value {
    let tier = match c["tier"].as_str().unwrap_or("") {
        "silver" => "VIP1",
        "gold" => "VIP2",
        _ => "VIP3",
    };
    let orders: Vec<Value> = c["purchases"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut p| {
            let order = p["order"].take();
            let delivered = p["delivered"].take();
            let obj = p.as_object_mut().expect("purchase object");
            obj.remove("order");
            obj.remove("delivered");
            obj.insert("orderNo".into(), order);
            // a date-time, as CRMs keep them
            let at = delivered
                .as_str()
                .map(|d| Value::String(format!("{d} 12:00:00")))
                .unwrap_or(Value::Null);
            obj.insert("shipping".into(), json!({ "deliveredAt": at }));
            if let Some(ch) = obj.get("channel").and_then(Value::as_str) {
                let up = ch.to_uppercase();
                obj.insert("channel".into(), Value::String(up));
            }
            p
        })
        .collect();
    json!({"data": {
        "customerNo": c["id"],
        "profile": {"fullName": c["name"], "lang": c["language"]},
        "region": c["region"],
        "time_zone": c["time_zone"],
        "vip": tier,
        "phones": c["phones"],
        "email": c["email"],
        "orders": orders,
    }})
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The demo customers: by id, by phone digits, by order number.
fn book() -> (HashMap<String, Value>, HashMap<String, String>) {
    let mut by_id = HashMap::new();
    let mut keys = HashMap::new();
    let dir = repo().join("corpus/customers");
    for f in std::fs::read_dir(&dir).expect("customers folder").flatten() {
        let text = std::fs::read_to_string(f.path()).expect("customers file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let c: Value = serde_json::from_str(line).expect("a customer");
            let id = c["id"].as_str().expect("id").to_string();
            for p in c["phones"].as_array().into_iter().flatten() {
                keys.insert(digits(p.as_str().unwrap_or("")), id.clone());
            }
            for p in c["purchases"].as_array().into_iter().flatten() {
                keys.insert(p["order"].as_str().unwrap_or("").to_string(), id.clone());
            }
            by_id.insert(id, c);
        }
    }
    (by_id, keys)
}

impl Crm {
    /// A stand-in that refuses (401) a request without `token` as its `Authorization`.
    pub fn start(token: &str) -> Crm {
        let token: Token = Arc::new(token.to_string());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}/api", listener.local_addr().expect("addr"));
        let inner = Arc::new(Mutex::new(Inner {
            plan: VecDeque::new(),
            otherwise: Reply::Good,
            seen: Vec::new(),
        }));
        let book = Arc::new(book());
        let i = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (i, book, token) = (i.clone(), book.clone(), token.clone());
                std::thread::spawn(move || serve(stream, &i, &book, &token));
            }
        });
        Crm { base, inner }
    }

    /// Answer the next requests by `plan`, then every other by `otherwise`.
    pub fn plan(&self, plan: &[Reply], otherwise: Reply) {
        let mut i = self.inner.lock().expect("lock");
        i.plan = plan.iter().copied().collect();
        i.otherwise = otherwise;
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().expect("lock").seen.clone()
    }
}

fn serve(
    mut stream: TcpStream,
    inner: &Mutex<Inner>,
    book: &(HashMap<String, Value>, HashMap<String, String>),
    token: &str,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut auth = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                auth = Some(value.trim().to_string());
            }
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let reply = {
        let mut i = inner.lock().expect("lock");
        i.seen.push(Seen {
            path: path.clone(),
            auth: auth.clone(),
        });
        let otherwise = i.otherwise;
        i.plan.pop_front().unwrap_or(otherwise)
    };
    let unescaped = path.replace("%2B", "+").replace("%2D", "-");
    let (by_id, keys) = book;
    let found: Option<&Value> = if let Some(id) = unescaped.strip_prefix("/api/customers/") {
        by_id.get(id)
    } else if let Some(phone) = unescaped.strip_prefix("/api/customers?phone=") {
        keys.get(&digits(phone)).and_then(|id| by_id.get(id))
    } else if let Some(rest) = unescaped.strip_prefix("/api/orders/") {
        let order = rest.trim_end_matches("/customer");
        keys.get(order).and_then(|id| by_id.get(id))
    } else {
        None
    };
    let send = |stream: &mut TcpStream, status: &str, ctype: &str, body: &str| {
        let _ = stream.write_all(
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        let _ = stream.flush();
    };
    let good = |stream: &mut TcpStream, bad_date: bool| match found {
        Some(c) => {
            let mut v = foreign(c);
            if bad_date {
                v["data"]["orders"][0]["shipping"]["deliveredAt"] = json!("next Tuesday");
            }
            send(stream, "200 OK", "application/json", &v.to_string());
        }
        None => send(
            stream,
            "404 Not Found",
            "application/json",
            r#"{"error":"no such customer"}"#,
        ),
    };
    if auth.as_deref() != Some(token) {
        send(&mut stream, "401 Unauthorized", "application/json", "{}");
        return;
    }
    match reply {
        Reply::Good => good(&mut stream, false),
        Reply::BadDate => good(&mut stream, true),
        Reply::Slow(d) => {
            std::thread::sleep(d);
            good(&mut stream, false);
        }
        Reply::Status(code) => send(
            &mut stream,
            &format!("{code} Oops"),
            "text/html",
            "<html>the CRM is having a bad day</html>",
        ),
        Reply::NotJson => send(
            &mut stream,
            "200 OK",
            "application/json",
            "{\"data\": {\"customerNo\": ",
        ),
    }
}
