//! `kefu index`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kefu::{Config, IndexOptions, IndexReport};

#[derive(clap::Args)]
pub struct Args {
    /// Corpus folder (default: corpus.dir from the configuration).
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let analyzer = kefu::analyzer(&config)?;
    let corpus = args.corpus.unwrap_or_else(|| config.corpus.dir.clone());
    let report = kefu::index(
        &config,
        &analyzer,
        &IndexOptions {
            corpus: corpus.clone(),
            progress: !args.json,
            ..Default::default()
        },
    )?;
    if args.json {
        let wire = kefu::http::dto::jobs::Report::from(report.clone());
        println!("{}", serde_json::to_string_pretty(&wire)?);
    } else {
        print_report(&report, &corpus);
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn print_report(r: &IndexReport, corpus: &Path) {
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
