//! `kefu ask`.

use std::process::ExitCode;

use kefu::http::dto::answer::AnswerResponse;
use kefu::{AnswerRequest, Config};

#[derive(clap::Args)]
pub struct Args {
    /// The question.
    question: String,
    #[command(flatten)]
    reading: super::Reading,
    /// Compose extractively even when an LLM is configured.
    #[arg(long)]
    extractive: bool,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let (filters, scope) = args.reading.validate()?;
    let engine = super::open_or_build(config)?;
    let answer = engine.answer(&AnswerRequest {
        cancel: Default::default(),
        question: args.question,
        filters,
        scope,
        passages: engine.config().answer.passages,
        use_llm: !args.extractive,
    })?;
    let json = args.json;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&AnswerResponse::new(answer, None))?
        );
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
                r.as_str(),
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
