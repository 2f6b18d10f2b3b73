//! The customer directory from the command line: the demo customers load from
//! `corpus/customers/`, a customer is found by id, order number or phone number, and a file
//! with bad lines loads its good ones and names each bad one by its line.

use crate::{repo, Workspace};

#[test]
fn the_demo_customers_load_and_are_found_by_id_order_and_phone() {
    let ws = Workspace::new(&repo().join("corpus"));
    let out = ws.run(&["customers", "import", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(v[0]["customers"].as_u64().unwrap_or(0) >= 60, "{v}");
    assert_eq!(v[0]["failed"].as_array().map(Vec::len), Some(0), "{v}");
    let show = |key: &str| {
        let out = ws.run(&["customers", "show", key, "--json"]);
        assert!(
            out.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let c = show("C0001");
    assert_eq!(c["purchases"][0]["model"], "X9 Pro");
    let order = c["purchases"][0]["order"]
        .as_str()
        .expect("an order")
        .to_lowercase();
    assert_eq!(show(&order)["id"], "C0001");
    let phone = c["phones"][0].as_str().expect("a phone").replace(' ', "-");
    assert_eq!(show(&phone)["id"], "C0001");
    let missing = ws.run(&["customers", "show", "C9999"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_file_with_bad_lines_loads_the_good_ones_and_names_the_bad() {
    let ws = Workspace::with_own_corpus();
    let good = r#"{"id": "K1", "name": "Ann Lee", "language": "en", "region": "US", "time_zone": "America/New_York", "tier": "gold", "phones": ["+1 555 0100 0001"], "purchases": [{"order": "TL20260601-000001", "model": "X9", "category": "phone", "channel": "online", "ordered": "2026-06-01", "delivered": "2026-06-03", "serial": "SN X9S2606A00001"}]}"#;
    let late = good
        .replace("K1", "K2")
        .replace("000001", "000002")
        .replace(
            "\"delivered\": \"2026-06-03\"",
            "\"delivered\": \"2026-05-03\"",
        );
    let file = ws.dir.path().join("crm-export.jsonl");
    std::fs::write(&file, format!("{good}\n{{\"id\": \"K3\"}}\n{late}\n")).expect("write");
    let path = file.to_string_lossy().to_string();
    let out = ws.run(&["customers", "import", &path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("1 customers imported, 2 lines left out"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{path}:2: not a customer record")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{path}:3: customer `K2`")) && text.contains("before"),
        "{text}"
    );
    let out = ws.run(&["customers", "show", "K1"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("TL20260601-000001"));
}
