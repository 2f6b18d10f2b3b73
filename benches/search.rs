//! Criterion benchmarks over the bundled demo corpus: lexical search (raw BM25 top-10 and the
//! full search with stored passages and snippets), query analysis, and chunking. Each benchmark
//! first checks that what it measures does its job (non-empty, sensible results).
//!
//! Run: `cargo bench --bench search`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};

use kefu::analyze::Stream;
use kefu::chunk::chunk_document;
use kefu::ingest::{read_file, Format};
use kefu::{Config, Engine, Filters, IndexOptions, Mode, SearchRequest};

const QUERIES: &[&str] = &[
    "屏幕碎了保修吗",
    "洗衣机显示E21是什么意思",
    "空调不制冷怎么办",
    "how do I remove the transit bolts",
    "X9 Pro battery drains fast",
    "return policy for opened earbuds",
    "WM-8012 E30 door lock",
    "发票怎么开",
];

fn setup() -> (tempfile::TempDir, Engine) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.corpus.dir = root.join("corpus");
    config.analysis.user_dict = root.join("corpus/dict/user.dict");
    config.index.dir = dir.path().join("indexes");
    let analyzer = kefu::analyzer(&config).expect("analyzer");
    let report = kefu::index(
        &config,
        &analyzer,
        &IndexOptions {
            corpus: config.corpus.dir.clone(),
            progress: false,
            ..Default::default()
        },
    )
    .expect("index the demo corpus");
    assert!(report.passages >= 1000, "demo corpus too small: {report:?}");
    let engine = Engine::open(config, analyzer).expect("open");
    (dir, engine)
}

fn bench_search(c: &mut Criterion) {
    let (_dir, engine) = setup();
    let boosts = engine.config().search.boost;
    let index = engine.index();
    // a query analysed, then searched lexically (what one BM25 request costs)
    let lexical = |q: &str| {
        let query = engine.analyse(q);
        index
            .lexical(
                &query,
                boosts.for_lang(query.lang),
                10,
                &Vec::new(),
                kefu::index::lexical::Stats::All,
            )
            .expect("search")
    };
    for q in QUERIES {
        assert!(!lexical(q).is_empty(), "no hits for {q}");
    }
    c.bench_function("lexical_top10_demo", |b| {
        let mut i = 0;
        b.iter(|| {
            let q = QUERIES[i % QUERIES.len()];
            i += 1;
            black_box(lexical(q))
        })
    });
    c.bench_function("search_with_snippets_demo", |b| {
        let mut i = 0;
        b.iter(|| {
            let req = SearchRequest {
                query: QUERIES[i % QUERIES.len()].to_string(),
                top_k: 10,
                mode: Mode::Bm25,
                filters: Filters::default(),
                scope: kefu::retrieve::Scope::All,
                fusion: None,
                rerank: false,
                cancel: Default::default(),
            };
            i += 1;
            black_box(engine.search(&req).expect("search"))
        })
    });
}

fn bench_analysis(c: &mut Criterion) {
    let config = Config::default();
    let analyzer = kefu::analyzer(&config).expect("analyzer");
    let zh = "我刚买的天澜X9 Pro手机屏幕碎了怎么办，还在保修期内吗？";
    assert!(analyzer.terms(Stream::Words, zh).len() > 3);
    c.bench_function("analyze_query_zh_all_streams", |b| {
        b.iter(|| {
            for s in [
                Stream::Words,
                Stream::CjkUnigrams,
                Stream::CjkBigrams,
                Stream::Idents,
                Stream::WordPairs,
            ] {
                black_box(analyzer.terms(s, black_box(zh)));
            }
        })
    });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("corpus/manuals/x9-pro-en.md");
    assert_eq!(Format::of(&path), Some(Format::Markdown));
    c.bench_function("parse_and_chunk_manual", |b| {
        b.iter(|| {
            let ing = read_file(&path, "manuals/x9-pro-en.md", &config).expect("parse");
            let n: usize = ing
                .documents
                .iter()
                .map(|d| chunk_document(d, &config.chunk).len())
                .sum();
            assert!(n > 10);
            black_box(n)
        })
    });
}

criterion_group!(benches, bench_search, bench_analysis);
criterion_main!(benches);
