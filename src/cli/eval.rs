//! `kefu eval`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use kefu::eval::{self, Dataset, EvalMode};
use kefu::rerank::Reranker;
use kefu::{Config, Error};

/// What `kefu eval --mode` measures.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Lexical retrieval.
    #[value(alias = "lexical")]
    Bm25,
    /// Vector retrieval.
    #[value(alias = "dense")]
    Vector,
    /// Lexical and vector, fused.
    Hybrid,
    /// Hybrid, its first candidates reranked.
    Rerank,
    /// Every retrieval mode.
    All,
    /// Answer quality (and abstention with --negatives).
    Answer,
}

#[derive(clap::Args)]
pub struct Args {
    /// Folder with corpus.jsonl, queries.jsonl and qrels.tsv.
    #[arg(long, value_name = "DIR")]
    dataset: PathBuf,
    /// bm25, vector, hybrid, rerank or all (retrieval); answer (answer quality).
    #[arg(long, value_enum, ignore_case = true, default_value = "bm25")]
    mode: ModeArg,
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
}

pub fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let modes: Vec<EvalMode> = match args.mode {
        ModeArg::Answer => return answers(config, &args),
        ModeArg::All => EvalMode::ALL.to_vec(),
        ModeArg::Bm25 => vec![EvalMode::Bm25],
        ModeArg::Vector => vec![EvalMode::Vector],
        ModeArg::Hybrid => vec![EvalMode::Hybrid],
        ModeArg::Rerank => vec![EvalMode::Rerank],
    };
    let reranker = if modes.contains(&EvalMode::Rerank) {
        let r = Reranker::from_config(config)?;
        if r.is_none() {
            return Err(Error::InvalidRequest(
                "rerank mode needs reranking on (rerank.enabled = true)".into(),
            )
            .into());
        }
        r.map(Arc::new)
    } else {
        None
    };
    let analyzer = kefu::analyzer(config)?;
    let ds = Dataset::load(&args.dataset)?;
    if !args.json {
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
    let dump = args.dump_vectors.as_deref();
    for r in eval::evaluate(&ds, &modes, config, &analyzer, !args.json, dump, reranker)? {
        if args.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!(
                "{:<18} {:<7} {:>7} {:>8.4} {:>10.4} {:>7.4} {:>8.2} {:>8.3} {:>8.3} {:>9.0}",
                r.dataset,
                r.mode,
                r.queries,
                r.ndcg10,
                r.recall100,
                r.mrr10,
                r.index_s,
                r.p50_ms,
                r.p99_ms,
                r.qps
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--mode answer`.
fn answers(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let analyzer = kefu::analyzer(config)?;
    let ds = Dataset::load(&args.dataset)?;
    let neg = match &args.negatives {
        Some(d) => Some(Dataset::load(d)?),
        None => None,
    };
    let reranker = match Reranker::from_config(config)? {
        Some(r) => r,
        None => Reranker::builtin(config.rerank.candidates)?,
    };
    let calibration = kefu::answer::Calibrations::builtin()?;
    let (r, _) = eval::evaluate_answers(
        &ds,
        neg.as_ref(),
        config,
        &analyzer,
        Arc::new(reranker),
        &calibration,
        !args.json,
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&r)?);
    }
    Ok(ExitCode::SUCCESS)
}
