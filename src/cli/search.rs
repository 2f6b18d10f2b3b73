//! `kefu search`.

use std::io::IsTerminal;
use std::process::ExitCode;

use kefu::http::dto::search::SearchResponse;
use kefu::{Config, Mode, SearchRequest};

/// A retrieval mode on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    /// Lexical only.
    #[value(alias = "lexical")]
    Bm25,
    /// Vector only.
    #[value(alias = "dense")]
    Vector,
    /// Lexical and vector, fused.
    Hybrid,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Bm25 => Mode::Bm25,
            ModeArg::Vector => Mode::Vector,
            ModeArg::Hybrid => Mode::Hybrid,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The question or keywords.
    query: String,
    /// Retrieval mode (falls back to bm25 without the embedding model).
    #[arg(long, value_enum, ignore_case = true, default_value = "hybrid")]
    mode: ModeArg,
    /// Number of passages to return.
    #[arg(long, short = 'k')]
    top_k: Option<usize>,
    #[command(flatten)]
    reading: super::Reading,
    /// Keep the hybrid order (no second-stage reranking).
    #[arg(long)]
    no_rerank: bool,
    /// Print results as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let (filters, scope) = args.reading.validate()?;
    let engine = super::open_or_build(config)?;
    let req = SearchRequest {
        query: args.query,
        top_k: args.top_k.unwrap_or(engine.config().search.top_k),
        mode: args.mode.into(),
        filters,
        scope,
        fusion: None,
        rerank: !args.no_rerank,
        cancel: Default::default(),
    };
    let json = args.json;
    let started = std::time::Instant::now();
    let outcome = engine.search(&req)?;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    if json {
        let mut out = SearchResponse::new(outcome, engine.generation().number, took_ms);
        out.query = Some(req.query);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for w in &outcome.warnings {
            eprintln!("warning: {w}");
        }
        print_hits(&outcome.hits, took_ms);
    }
    Ok(ExitCode::SUCCESS)
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
