//! `kefu answer calibrate` and `kefu rerank train`: what kefu learns offline (the work is in
//! `kefu::learn`; this prints and writes the result).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use kefu::Config;

#[derive(clap::Subcommand)]
pub enum AnswerAction {
    /// Fit the answer confidence on pairs of data sets (each set's own questions are
    /// answerable, the other set's are not) and on customer questions asked of the configured
    /// corpus, and choose the abstention threshold.
    Calibrate(CalibrateArgs),
    /// Train the model that weighs candidate sentences for an answer on customer-question
    /// exams over the configured corpus (a sentence holding one of the question's facts is a
    /// good one); reports how often the best-weighed sentence holds a fact, before and after.
    /// kefu reads the model built in, so rebuild after writing it to data/sentences.json.
    TrainSentences {
        /// Exams to train on (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "exams/calibration.jsonl")]
        exams: Vec<PathBuf>,
        /// Where to write the model.
        #[arg(long, value_name = "FILE", default_value = "data/sentences.json")]
        out: PathBuf,
    },
}

/// `kefu answer calibrate`'s arguments.
#[derive(clap::Args)]
pub struct CalibrateArgs {
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
    /// Customer-question exams over the configured corpus to calibrate on too (comma-
    /// separated; answerable questions count as answered well when the extractive answer
    /// holds their facts). The threshold is chosen on these and the outside questions.
    #[arg(long, value_delimiter = ',', default_value = "exams/calibration.jsonl")]
    exams: Vec<PathBuf>,
    /// Unanswerable questions from outside the domain, asked of the configured corpus:
    /// PATH:LABEL, the rows of a JSON Lines file of {text, label} with that label
    /// (comma-separated; the paths are relative to the working folder).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "../shared/eval/intent-en-clinc150/train.jsonl:oos,../shared/eval/intent-zh-smp2017/train.jsonl:chat"
    )]
    outside: Vec<String>,
    /// Keep the labelled confidence signals of every question here, and when the file
    /// exists, fit on it instead of asking the questions again (for trying thresholds; it
    /// goes stale when answers change).
    #[arg(long, value_name = "FILE")]
    signals: Option<PathBuf>,
    /// Least abstention precision the threshold must give.
    #[arg(long, default_value_t = 0.9)]
    min_precision: f64,
    /// Least abstention recall; the lowest threshold giving both is chosen (answering as
    /// many answerable questions as possible).
    #[arg(long, default_value_t = 0.8)]
    min_recall: f64,
    /// Where to write the calibration.
    #[arg(long, value_name = "FILE", default_value = "data/confidence.json")]
    out: PathBuf,
}

#[derive(clap::Subcommand)]
pub enum RerankAction {
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

/// `kefu answer …`.
pub fn answer(config: &Config, action: AnswerAction) -> anyhow::Result<ExitCode> {
    let args = match action {
        AnswerAction::TrainSentences { exams, out } => {
            return train_sentences(config, &exams, &out);
        }
        AnswerAction::Calibrate(args) => args,
    };
    let CalibrateArgs {
        eval_dir,
        pairs,
        exams,
        outside,
        signals,
        min_precision,
        min_recall,
        out,
    } = args;
    let mut say = |line: &str| println!("{line}");
    let cached = signals.as_ref().filter(|f| f.is_file());
    let groups: Vec<kefu::learn::calibrate::Group> = if let Some(file) = cached {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        say(&format!("signals read from {}", file.display()));
        serde_json::from_str(&text).with_context(|| format!("reading {}", file.display()))?
    } else {
        let mut groups = kefu::learn::calibrate::pair_groups(config, &eval_dir, &pairs, &mut say)?;
        if !exams.is_empty() || !outside.is_empty() {
            let engine = super::index_and_open(config.clone(), true)?;
            groups.extend(kefu::learn::calibrate::in_domain(
                &engine, &exams, &outside, &mut say,
            )?);
        }
        if let Some(file) = &signals {
            write(file, &serde_json::to_string(&groups)?)?;
        }
        groups
    };
    let cal = kefu::learn::calibrate::calibrate(&groups, min_precision, min_recall, &mut say)?;
    write(&out, &serde_json::to_string_pretty(&cal)?)?;
    println!("calibration written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `kefu answer train-sentences`.
fn train_sentences(config: &Config, exams: &[PathBuf], out: &Path) -> anyhow::Result<ExitCode> {
    let engine = super::index_and_open(config.clone(), true)?;
    let mut say = |line: &str| println!("{line}");
    let questions = kefu::learn::sentences::weighed(&engine, exams, &mut say)?;
    let names: Vec<String> = exams.iter().map(|p| p.display().to_string()).collect();
    let about = format!(
        "kefu answer train-sentences --exams {} ({} questions with a candidate holding a fact)",
        names.join(","),
        questions.len()
    );
    let model = kefu::learn::sentences::train(&questions, &about)?;
    let before = kefu::learn::sentences::lead_accuracy(
        &kefu::answer::weigh::SentenceModel::hand_set(),
        &questions,
    );
    let built_in = kefu::learn::sentences::lead_accuracy(
        kefu::answer::weigh::SentenceModel::builtin(),
        &questions,
    );
    let after = kefu::learn::sentences::lead_accuracy(&model, &questions);
    say(&format!(
        "best-weighed sentence holds a fact: hand-set {before:.3}, built-in {built_in:.3}, trained {after:.3} (on the training questions)"
    ));
    for (f, w) in model.features.iter().zip(&model.weights) {
        say(&format!("  {f:<18} {w:+.3}"));
    }
    say(&format!("  {:<18} {:+.3}", "bias", model.bias));
    write(out, &(serde_json::to_string_pretty(&model)? + "\n"))?;
    println!("sentence model written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `kefu rerank …`.
pub fn rerank(config: &Config, action: RerankAction) -> anyhow::Result<ExitCode> {
    let RerankAction::Train {
        eval_dir,
        sets,
        out,
        candidates,
        l2,
        features_cache,
    } = action;
    let n = candidates.unwrap_or(config.rerank.candidates).max(1);
    let data =
        kefu::learn::rerank::collect_sets(config, &eval_dir, &sets, n, features_cache.as_deref())?;
    let model = kefu::learn::rerank::train_models(&data, &l2, &mut |line| println!("{line}"))?;
    write(&out, &serde_json::to_string_pretty(&model)?)?;
    println!("model written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` and a final newline to `out`, creating its folder.
fn write(out: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, format!("{text}\n")).with_context(|| format!("writing {}", out.display()))
}
