//! `kefu eval` on a small data set made here, where the right answers are known.

use crate::{text, Workspace};

#[test]
fn eval_reports_metrics_and_skips_self_hits() {
    let ws = Workspace::with_own_corpus();
    let ds = ws.dir.path().join("set");
    std::fs::create_dir_all(&ds).expect("mkdir");
    std::fs::write(
        ds.join("corpus.jsonl"),
        concat!(
            "{\"_id\":\"d1\",\"title\":\"Battery\",\"text\":\"The battery lasts two days.\"}\n",
            "{\"_id\":\"d2\",\"title\":\"Screen\",\"text\":\"Replace a cracked screen at a service centre.\"}\n",
            "{\"_id\":\"q3\",\"title\":\"\",\"text\":\"屏幕碎了怎么办\"}\n",
            "{\"_id\":\"d4\",\"title\":\"\",\"text\":\"屏幕摔碎了去哪里修\"}\n",
        ),
    )
    .expect("write");
    std::fs::write(
        ds.join("queries.jsonl"),
        "{\"_id\":\"q1\",\"text\":\"how long does the battery last\"}\n{\"_id\":\"q2\",\"text\":\"cracked screen\"}\n{\"_id\":\"q3\",\"text\":\"屏幕碎了怎么办\"}\n{\"_id\":\"q9\",\"text\":\"unjudged\"}\n",
    )
    .expect("write");
    std::fs::write(
        ds.join("qrels.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td4\t1\n",
    )
    .expect("write");
    let out = ws.run(&["eval", "--dataset", ds.to_str().expect("utf8"), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("json line")
        .to_string();
    let r: serde_json::Value = serde_json::from_str(&line).expect("json");
    for key in [
        "dataset",
        "mode",
        "queries",
        "ndcg@10",
        "recall@100",
        "mrr@10",
        "index_s",
        "p50_ms",
        "p99_ms",
        "qps",
    ] {
        assert!(r.get(key).is_some(), "missing {key}: {r}");
    }
    assert_eq!(r["queries"], 3);
    assert_eq!(r["mode"], "bm25");
    // q3's own sentence is skipped, so d4 ranks first: every query is answered perfectly
    assert_eq!(r["ndcg@10"].as_f64(), Some(1.0), "{r}");
    assert_eq!(r["mrr@10"].as_f64(), Some(1.0));

    // all three modes in one run (fetches the embedding model into the shared cache if needed)
    let out = ws.run(&[
        "eval",
        "--dataset",
        ds.to_str().expect("utf8"),
        "--mode",
        "all",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let modes: Vec<&str> = rows
        .iter()
        .map(|r| r["mode"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(modes, vec!["bm25", "vector", "hybrid", "rerank"]);
    // reranking keeps the judged passage on top here, and reports its own step's time
    assert_eq!(rows[3]["ndcg@10"].as_f64(), Some(1.0), "{}", rows[3]);
    assert!(rows[3]["rerank_p50_ms"].as_f64().is_some(), "{}", rows[3]);
    assert!(
        rows[1]["ndcg@10"].as_f64().unwrap_or(0.0) >= 0.6,
        "{}",
        rows[1]
    );
    assert_eq!(rows[2]["ndcg@10"].as_f64(), Some(1.0), "{}", rows[2]);
    assert!(rows[1]["ann_recall@10"].as_f64().is_some());

    let out = ws.run(&["eval", "--dataset", "/nonexistent/set"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        text(&out)
    );
}
