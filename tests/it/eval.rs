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

/// `--task rewrite` on a file of the public sets' layout: kefu's rewriter and both baselines,
/// with every key others will read.
#[test]
fn rewrite_task_reports_kefu_and_both_baselines() {
    let ws = Workspace::with_own_corpus();
    let file = ws.dir.path().join("rw.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"lang\":\"zh\",\"context\":[\"玩狼人杀吗\",\"你爱玩狼人杀\"],\"question\":\"这个挺好玩的\",\"rewrite\":\"狼人杀挺好玩的\"}\n",
            "{\"lang\":\"en\",\"context\":[\"Cary Grant\",\"Legacy\"],\"question\":\"Did he win any awards\",\"rewrite\":\"Did Cary Grant win any awards\"}\n",
            "{\"lang\":\"en\",\"context\":[\"Cary Grant\",\"Legacy\"],\"question\":\"What happened in 1950?\",\"rewrite\":\"What happened in 1950?\"}\n",
        ),
    )
    .expect("write");
    let out = ws.run(&[
        "eval",
        "--task",
        "rewrite",
        "--file",
        file.to_str().expect("utf8"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (v["task"].as_str(), v["rows"].as_u64()),
        (Some("rewrite"), Some(3))
    );
    for sys in [
        &v,
        &v["baselines"]["no_rewrite"],
        &v["baselines"]["prepend_previous"],
    ] {
        for key in [
            "exact_match",
            "restoration_p",
            "restoration_r",
            "restoration_f1",
            "bleu",
            "false_rewrite_rate",
        ] {
            assert!(sys[key].is_number(), "{key} missing in {sys}");
        }
    }
    // both rewrites exact, the standalone question left alone
    assert_eq!(v["exact_match"], 1.0, "{v}");
    assert_eq!(v["false_rewrite_rate"], 0.0);
    assert_eq!(v["baselines"]["no_rewrite"]["restoration_r"], 0.0);
    // a bad row is named by its line
    std::fs::write(&file, "{\"question\": 3}\n").expect("write");
    let out = ws.run(&[
        "eval",
        "--task",
        "rewrite",
        "--file",
        file.to_str().expect("utf8"),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("rw.jsonl:1"), "{}", text(&out));
}

/// `--task decisions` on the decision tables of the repository: every case right.
#[test]
fn decisions_task_grades_the_tables() {
    let ws = Workspace::new(&crate::repo().join("corpus"));
    for table in ["exams/decisions.jsonl", "exams/decisions-fresh.jsonl"] {
        let file = crate::repo().join(table);
        let out = ws.run(&[
            "eval",
            "--task",
            "decisions",
            "--file",
            file.to_str().expect("utf8"),
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["accuracy"], 1.0, "{table}: {}", v["failures"]);
    }
}
