//! The embedding model: fetched by kefu into an empty cache (also by two processes at once),
//! and embeddings that carry meaning across Chinese and English.

use kefu::embed::{cosine, E5Embedder, E5Options, Embedder};
use kefu::Config;

use crate::{text, Workspace};

#[test]
fn models_fetch_into_an_empty_cache_twice_at_once_then_idempotent() {
    let ws = Workspace::with_own_corpus();
    let cache = ws.dir.path().join("cache");
    let spawn = || {
        ws.cmd(&["models", "fetch"])
            .env("KEFU__MODELS__CACHE_DIR", &cache)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("model-fp32.onnx"),
            "{}",
            text(&out)
        );
    }
    let dir = cache.join("models/multilingual-e5-small-v3");
    for f in [
        "model-fp32.onnx",
        "tokenizer.json",
        "normalization.json",
        "READY",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    assert!(cache
        .join("runtime/onnxruntime-1.32.0/libonnxruntime.so.1.32.0")
        .is_file());
    // a second run finds everything in place and downloads nothing
    let out = ws
        .cmd(&["models", "fetch"])
        .env("KEFU__MODELS__CACHE_DIR", &cache)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("downloading"),
        "{}",
        text(&out)
    );
    // another precision is converted from the downloaded file, again without downloading
    let out = ws
        .cmd(&["models", "fetch"])
        .env("KEFU__MODELS__CACHE_DIR", &cache)
        .env("KEFU__MODELS__PRECISION", "int8")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("downloading"), "{}", text(&out));
    assert!(dir.join("model-int8.onnx").is_file());
}

#[test]
fn every_precision_loads_and_agrees_with_fp32() {
    let text = "passage: 洗衣机显示 E21 错误代码时，请检查排水管是否堵塞。";
    let embed = |precision: kefu::config::Precision| {
        let mut config = Config::default();
        config.models.precision = precision;
        let files = kefu::models::ensure(&config, false).expect("models");
        let e = E5Embedder::load(&files, E5Options::default()).expect("load");
        e.embed_passages(&[text]).expect("embed").remove(0)
    };
    use kefu::config::Precision::*;
    let reference = embed(Fp32);
    for (p, at_least) in [(Q4, 0.9999), (Int8, 0.99), (Q4Int8, 0.999)] {
        let c = cosine(&reference, &embed(p));
        assert!(c >= at_least, "{p:?}: cosine {c} to fp32");
    }
}

#[test]
fn a_chinese_question_is_closer_to_its_english_translation_than_to_an_unrelated_text() {
    let files = kefu::models::ensure(&Config::default(), false).expect("models");
    let e = E5Embedder::load(&files, E5Options::default()).expect("load");
    let q = e.embed_queries(&["我的手机屏幕碎了怎么办"]).expect("embed");
    let p = e
        .embed_passages(&[
            "My phone screen is cracked, what should I do?",
            "今天天气很好，我们去公园散步吧。",
            "The washing machine shows error E21.",
        ])
        .expect("embed");
    assert_eq!(q[0].len(), 384);
    let norm: f32 = q[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "not unit length: {norm}");
    let (translation, weather, washer) = (
        cosine(&q[0], &p[0]),
        cosine(&q[0], &p[1]),
        cosine(&q[0], &p[2]),
    );
    assert!(
        translation > weather && translation > washer,
        "translation {translation}, weather {weather}, washer {washer}"
    );
    // the order of a batch does not change a text's vector
    let again = e
        .embed_passages(&["The washing machine shows error E21."])
        .expect("embed");
    assert!(cosine(&again[0], &p[2]) > 0.9999);
}

/// A user-supplied cross-encoder runs through fastembed's user-defined reranker on kefu's ONNX
/// Runtime. The model here is a tiny real ONNX graph written for the test (its "relevance" is
/// the mean token id over the attention mask, so the expected order is known), with the e5
/// tokenizer; what is tested is kefu's loading, scoring and ordering, not a model's quality.
#[test]
fn a_configured_cross_encoder_scores_and_orders_candidates() {
    use kefu::models::onnx::{Attr, Graph};
    let config = Config::default();
    let files = kefu::models::ensure(&config, false).expect("models");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = Graph::default();
    let ids = g.op("Cast", &["input_ids"], &[("to", Attr::Int(1))], "ids");
    let mask = g.op("Cast", &["attention_mask"], &[("to", Attr::Int(1))], "mask");
    let masked = g.op("Mul", &[ids.as_str(), mask.as_str()], &[], "masked");
    let axes = g.ints("axes", &[1]);
    let sum = g.op(
        "ReduceSum",
        &[masked.as_str(), axes.as_str()],
        &[("keepdims", Attr::Int(1))],
        "sum",
    );
    let count = g.op(
        "ReduceSum",
        &[mask.as_str(), axes.as_str()],
        &[("keepdims", Attr::Int(1))],
        "count",
    );
    g.op_to("Div", &[sum.as_str(), count.as_str()], &[], "logits");
    let onnx = g.model_with_output(
        &["input_ids", "attention_mask"],
        "logits",
        &[Err("batch"), Ok(1)],
        17,
    );
    let model_path = dir.path().join("model.onnx");
    std::fs::write(&model_path, onnx).expect("write model");
    std::fs::copy(&files.tokenizer, dir.path().join("tokenizer.json")).expect("tokenizer");
    let ce = kefu::config::CrossEncoderConfig {
        onnx: model_path,
        tokenizer: dir.path().to_path_buf(),
        max_length: 64,
        threads: 1,
    };
    let model = kefu::rerank::cross::CrossEncoder::load(&ce, &config).expect("loads");
    let passages = ["a a a a", "zebra xylophone quagmire", "a"];
    let scores = model.score("a", &passages).expect("scores");
    assert_eq!(scores.len(), 3);
    assert!(scores.iter().all(|s| s.is_finite()), "{scores:?}");
    // rarer words have larger token ids: the second passage scores highest, and the two
    // passages of only "a" score alike up to the special tokens' share
    assert!(scores[1] > scores[0] && scores[1] > scores[2], "{scores:?}");
    // the configured reranker is the cross-encoder
    let mut cfg = config.clone();
    cfg.rerank.cross_encoder = Some(ce.clone());
    let rr = kefu::rerank::Reranker::from_config(&cfg)
        .expect("loads")
        .expect("enabled");
    assert_eq!(rr.kind(), "cross-encoder");
    // a missing model file is an error naming it
    let mut bad = ce;
    bad.onnx = dir.path().join("missing.onnx");
    let err = kefu::rerank::cross::CrossEncoder::load(&bad, &config)
        .err()
        .expect("fails")
        .to_string();
    assert!(err.contains("missing.onnx"), "{err}");
}
