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

/// What `kefu eval --task` measures (on `--file`).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskArg {
    /// Decisions (covered, returnable, …) on a table of cases.
    Decisions,
    /// Follow-up rewriting on a public rewriting set, beside two baselines.
    Rewrite,
}

/// Which rewriter `--task rewrite` grades beside the rules.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RewriterArg {
    /// The OpenAI-compatible model of `[answer.llm]`.
    Llm,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["dataset", "exam", "task"])))]
pub struct Args {
    /// A task measured on one file: `decisions` (a table of decision cases) or `rewrite` (a
    /// follow-up rewriting set: context, question, rewrite).
    #[arg(long, value_enum, requires = "file", conflicts_with_all = ["mode", "negatives", "dump_vectors", "llm"])]
    task: Option<TaskArg>,
    /// The file --task reads (JSON Lines).
    #[arg(long, value_name = "FILE", requires = "task")]
    file: Option<PathBuf>,
    /// Folder with corpus.jsonl, queries.jsonl and qrels.tsv.
    #[arg(long, value_name = "DIR")]
    dataset: Option<PathBuf>,
    /// A customer-question exam (JSON Lines) over the configured corpus: each question asked
    /// as a customer would (public scope) and graded.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["mode", "negatives", "dump_vectors"])]
    exam: Option<PathBuf>,
    /// Exam: let the LLM composer write the answers (`[answer.llm]` must be configured).
    #[arg(long, requires = "exam")]
    llm: bool,
    /// bm25, vector, hybrid, rerank or all (retrieval); answer (answer quality).
    #[arg(long, value_enum, ignore_case = true, default_value = "bm25")]
    mode: ModeArg,
    /// Answer mode: ask this data set's questions too, against --dataset's corpus, as
    /// unanswerable ones (measures abstention).
    #[arg(long, value_name = "DIR")]
    negatives: Option<PathBuf>,
    /// --task rewrite: also grade the LLM rewriter of `llm` (the model of `[answer.llm]`) on
    /// the same rows.
    #[arg(long, value_enum, requires = "task")]
    rewriter: Option<RewriterArg>,
    /// --task rewrite: grade only the first N rows (an LLM takes seconds per row).
    #[arg(long, value_name = "N", requires = "task")]
    limit: Option<usize>,
    /// Print one JSON object per mode.
    #[arg(long)]
    json: bool,
    /// Write the corpus and query vectors and hnsw_rs's figures here (vector mode), for
    /// benches/peer_ann.py.
    #[arg(long, value_name = "DIR")]
    dump_vectors: Option<PathBuf>,
}

pub fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    if let (Some(task), Some(file)) = (args.task, args.file.as_deref()) {
        return match task {
            TaskArg::Decisions => decisions(config, file, args.json),
            TaskArg::Rewrite => rewrite(config, file, args.rewriter, args.limit, args.json),
        };
    }
    let Some(dataset) = args.dataset.clone() else {
        return exam(config, &args);
    };
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
    let ds = Dataset::load(&dataset)?;
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
    let Some(dataset) = &args.dataset else {
        return Err(Error::InvalidRequest("--mode answer needs --dataset".into()).into());
    };
    let ds = Dataset::load(dataset)?;
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

/// `--exam`: indexes the configured corpus (incrementally) and grades the exam on it.
fn exam(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let Some(path) = &args.exam else {
        return Err(Error::InvalidRequest("give --dataset or --exam".into()).into());
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    if eval::dialogue::is_dialogue_file(&text) {
        return dialogue(config, path, args.json);
    }
    let exam = eval::exam::Exam::load(path)?;
    if args.llm && config.answer.llm.is_none() {
        return Err(Error::config(
            "answer.llm",
            "--llm needs an LLM: set [answer.llm] in the configuration",
        )
        .into());
    }
    let engine = super::index_and_open(config.clone(), !args.json)?;
    let progress = !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = eval::exam::grade(&engine, &exam, args.llm, &mut |done, total| {
        if progress {
            eprint!("\rquestions: {done}/{total}");
            if done == total {
                eprintln!();
            }
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    for f in &report.failures {
        println!(
            "{:<8} {:<14} {:<24} conf {:.3}  {}",
            f.id,
            f.area,
            format!("{:?}", f.outcome).to_lowercase(),
            f.confidence,
            f.question
        );
        if !f.missing.is_empty() {
            println!("         missing: {}", f.missing.join(" · "));
        }
        if f.got == "answered" {
            let mut answer: String = f.answer.chars().take(160).collect();
            if answer.len() < f.answer.len() {
                answer.push('…');
            }
            println!("         cited {}: {answer}", f.cited.join(", "));
        } else {
            println!("         abstained: {}", f.got);
        }
    }
    println!();
    println!(
        "{:<14} {:>5} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "group", "n", "automation", "wrong", "abst_ans", "abst_unans", "reason"
    );
    let row = |name: &str, f: &eval::exam::Figures| {
        println!(
            "{:<14} {:>5} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>8.3}",
            name,
            f.questions,
            f.automation,
            f.wrong_rate,
            f.abstained_on_answerable,
            f.correct_abstention,
            f.reason_correct
        );
    };
    row("all", &report.all);
    for (lang, f) in &report.by_lang {
        row(lang, f);
    }
    for (area, f) in &report.by_area {
        row(area, f);
    }
    println!(
        "p50 {:.1} ms, p99 {:.1} ms; conflicting_sources fired {} times ({} composer)",
        report.p50_ms, report.p99_ms, report.all.conflicting_sources, report.composer
    );
    Ok(ExitCode::SUCCESS)
}

/// `--task decisions`.
fn decisions(config: &Config, file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let r = eval::decisions::grade(file, &config.corpus.dir)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    for m in &r.failures {
        println!("{:<8} wrong {}", m.id, m.fields.join(", "));
        println!("         expected {}", m.expected);
        println!("         got      {}", m.got);
    }
    println!(
        "{} cases: all fields {:.3}, decision {:.3}, reason {:.3}, dates {:.3}, cost {:.3}",
        r.rows,
        r.accuracy,
        r.decision_accuracy,
        r.reason_accuracy,
        r.dates_accuracy,
        r.cost_accuracy
    );
    Ok(ExitCode::SUCCESS)
}

/// `--task rewrite`.
fn rewrite(
    config: &Config,
    file: &std::path::Path,
    rewriter: Option<RewriterArg>,
    limit: Option<usize>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let llm = match rewriter {
        None => None,
        Some(RewriterArg::Llm) => {
            let Some(c) = config.answer.llm.as_ref() else {
                anyhow::bail!(
                    "--rewriter llm needs an LLM server: configure [answer.llm] (base_url, model)"
                );
            };
            Some(kefu::converse::llm::LlmRewriter::new(c))
        }
    };
    let call = |q: &str, lang: kefu::Lang, turns: &[String]| match &llm {
        Some(l) => l.rewrite(q, lang, turns),
        None => Ok(q.to_string()),
    };
    let r = eval::rewrite::grade_with(
        file,
        llm.as_ref().map(|_| &call as eval::rewrite::LlmRewrite<'_>),
        limit,
    )?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} rows ({} need no rewrite)\n{:<18} {:>6} {:>7} {:>7} {:>7} {:>6} {:>8}",
        r.rows, r.unchanged_rows, "system", "EM", "rest_P", "rest_R", "rest_F1", "BLEU", "false_rw"
    );
    let row = |name: &str, f: &eval::rewrite::Figures| {
        println!(
            "{:<18} {:>6.3} {:>7.3} {:>7.3} {:>7.3} {:>6.3} {:>8.3}",
            name,
            f.exact_match,
            f.restoration_p,
            f.restoration_r,
            f.restoration_f1,
            f.bleu,
            f.false_rewrite_rate
        );
    };
    row("kefu", &r.kefu);
    row("no_rewrite", &r.baselines.no_rewrite);
    row("prepend_previous", &r.baselines.prepend_previous);
    if let Some(f) = &r.llm {
        row("kefu_llm", f);
        println!(
            "(LLM calls failed: {}; those questions stand unchanged)",
            r.llm_failures.unwrap_or(0)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--exam` on a dialogue exam.
fn dialogue(config: &Config, path: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let engine = super::index_and_open(config.clone(), !json)?;
    let progress = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let r = eval::dialogue::grade(&engine, path, &mut |done, total| {
        if progress {
            eprint!("\rconversations: {done}/{total}");
            if done == total {
                eprintln!();
            }
        }
    })?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    for f in &r.failures {
        println!(
            "{}#{} {:<14} {:?}: {}\n         searched: {}\n         reference: {}",
            f.conversation, f.turn, f.kind, f.failure.outcome, f.question, f.searched, f.reference
        );
        if !f.failure.missing.is_empty() {
            println!("         missing: {}", f.failure.missing.join(" · "));
        }
    }
    println!(
        "\n{} conversations, {} turns; p50 {:.1} ms per turn",
        r.conversations, r.turns, r.p50_ms
    );
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "system", "all", "turn 1", "turns 2+", "wrong 2+", "2+ by lang"
    );
    let row = |name: &str, s: &eval::dialogue::SystemFigures| {
        let langs: Vec<String> = s
            .later_by_lang
            .iter()
            .map(|(l, f)| format!("{l} {:.3}", f.automation))
            .collect();
        println!(
            "{:<18} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {}",
            name,
            s.all.automation,
            s.first_turns.automation,
            s.later_turns.automation,
            s.later_turns.wrong_rate,
            langs.join(", ")
        );
    };
    row("kefu", &r.kefu);
    for (name, s) in &r.baselines {
        row(name, s);
    }
    Ok(ExitCode::SUCCESS)
}
