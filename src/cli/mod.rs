//! The `kefu` command line: clap arguments (raw), turned into validated requests here, one
//! file per command. Only this module and `main.rs` know clap and anyhow.

mod ask;
mod chat;
mod customers;
mod eval;
mod index;
mod learn;
mod models;
mod records;
mod search;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use kefu::{Config, Engine, Error, IndexOptions};

/// kefu (客服): knowledge-base search for customer service, in Chinese and English.
#[derive(Parser)]
#[command(name = "kefu", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: ./config.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Index the corpus incrementally into a new generation and swap it in.
    Index(index::Args),
    /// Search the knowledge base (builds the index first if there is none).
    Search(search::Args),
    /// Answer a question from the knowledge base, citing the sources of every sentence (or say
    /// why not).
    Ask(ask::Args),
    /// The agents' console: a conversation with follow-ups, the customer panel and decisions.
    Chat(chat::Args),
    /// Serve the HTTP API (fetches the models and indexes the corpus first when needed).
    Serve(serve::Args),
    /// Fetch, verify and convert the embedding model and the ONNX Runtime library.
    Models {
        #[command(subcommand)]
        action: models::Action,
    },
    /// Calibrate answer confidence.
    Answer {
        #[command(subcommand)]
        action: learn::AnswerAction,
    },
    /// Train the second-stage ranker.
    Rerank {
        #[command(subcommand)]
        action: learn::RerankAction,
    },
    /// Measure retrieval quality and speed on a BEIR-layout data set, or grade a customer-question
    /// exam.
    Eval(eval::Args),
    /// The customer directory: import customers, show one.
    Customers {
        #[command(subcommand)]
        action: customers::Action,
    },
    /// The records store's kill-test writer.
    #[command(hide = true)]
    Records {
        #[command(subcommand)]
        action: records::Action,
    },
}

/// What a search or a question may read: filters and the caller's scope.
#[derive(clap::Args)]
struct Reading {
    /// Filter: key=value (type, product, lang, audience, tag, category, doc_id); repeatable.
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    filters: Vec<String>,
    /// Read only what a support bot may see (public passages).
    #[arg(long)]
    public: bool,
}

impl Reading {
    /// The filters parsed, and the scope of a local caller with or without `--public`.
    fn validate(&self) -> kefu::Result<(kefu::Filters, kefu::Scope)> {
        let filters = kefu::Filters::parse(&self.filters)?;
        Ok((filters, kefu::domain::Caller::local(self.public).scope))
    }
}

/// Runs the command line; the exit code (0 ok, 3 indexed with failed files).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    init_logging(&config);
    match cli.command {
        Command::Index(args) => index::run(config, args),
        Command::Search(args) => search::run(config, args),
        Command::Ask(args) => ask::run(config, args),
        Command::Chat(args) => chat::run(config, args),
        Command::Serve(args) => serve::run(config, args),
        Command::Models { action } => models::run(&config, action),
        Command::Answer { action } => learn::answer(&config, action),
        Command::Rerank { action } => learn::rerank(&config, action),
        Command::Eval(args) => eval::run(&config, args),
        Command::Customers { action } => customers::run(&config, action),
        Command::Records { action } => records::run(action),
    }
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

/// Indexes the configured corpus incrementally (so the engine reflects every file as it is
/// now) and opens the live generation.
pub(crate) fn index_and_open(config: Config, progress: bool) -> anyhow::Result<Engine> {
    let analyzer = kefu::analyzer(&config)?;
    let opts = IndexOptions {
        corpus: config.corpus.dir.clone(),
        progress,
        ..Default::default()
    };
    let report = kefu::index(&config, &analyzer, &opts)?;
    for f in &report.failed {
        eprintln!("  skipped {}: {}", f.path, f.reason);
    }
    Ok(Engine::open(config, analyzer)?)
}

/// Opens the live generation, building it from the corpus first when there is none.
pub(crate) fn open_or_build(config: Config) -> anyhow::Result<Engine> {
    let analyzer = kefu::analyzer(&config)?;
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
