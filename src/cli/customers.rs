//! `kefu customers import [FILE]` and `kefu customers show ID`: the embedded customer
//! directory, kept in the records store (`[records] path`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use kefu::customer::{self, Customer, CustomerDirectory, RecordsDirectory};
use kefu::store::records::RedbRecords;
use kefu::Config;

#[derive(clap::Subcommand)]
pub enum Action {
    /// Load customers from a JSON Lines file (format: docs/corpus-formats.md), replacing those
    /// with the same id; without FILE, every .jsonl file of the corpus' customers/ folder. Bad
    /// lines are reported with their numbers and left out (exit code 3); the others load.
    Import {
        file: Option<PathBuf>,
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a customer, found by customer id, order number or phone number — in the CRM of
    /// `[crm]` when one is configured, else in the embedded directory.
    Show {
        id: String,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn directory(config: &Config) -> anyhow::Result<RecordsDirectory> {
    let records = RedbRecords::open(&config.records.path)?;
    Ok(RecordsDirectory::new(Arc::new(records)))
}

pub fn run(config: &Config, action: Action) -> anyhow::Result<ExitCode> {
    match action {
        Action::Import { file, json } => import(config, file, json),
        Action::Show { id, json } => show(config, &id, json),
    }
}

fn import(config: &Config, file: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let files = match file {
        Some(f) => vec![f],
        None => {
            let dir = config.corpus.dir.join(kefu::index::build::CUSTOMERS_DIR);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect();
            files.sort();
            files
        }
    };
    let dir = directory(config)?;
    let mut failed = false;
    let mut report = Vec::new();
    for f in &files {
        let got = customer::import_jsonl(&dir, f)?;
        failed |= !got.failed.is_empty();
        if !json {
            println!(
                "{}: {} customers imported, {} lines left out",
                f.display(),
                got.customers,
                got.failed.len()
            );
            for (line, why) in &got.failed {
                println!("  {}:{line}: {why}", f.display());
            }
        }
        report.push(serde_json::json!({
            "file": f.display().to_string(),
            "customers": got.customers,
            "failed": got.failed.iter().map(|(line, why)| serde_json::json!({"line": line, "reason": why})).collect::<Vec<_>>(),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(if failed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn show(config: &Config, key: &str, json: bool) -> anyhow::Result<ExitCode> {
    // the directory turns are answered with: the CRM when one is configured (this shows its
    // replies as kefu maps them), else the embedded one
    let dir: Box<dyn CustomerDirectory> = match &config.crm {
        Some(crm) => Box::new(customer::crm::CrmDirectory::new(crm)?),
        None => Box::new(directory(config)?),
    };
    let found = match kefu::domain::CustomerId::parse(key) {
        Ok(id) => dir.by_id(&id)?,
        Err(_) => None,
    };
    let found = match found {
        Some(c) => Some(c),
        None => match dir.by_order(key)? {
            Some(c) => Some(c),
            None => dir.by_phone(key)?,
        },
    };
    let Some(c) = found else {
        eprintln!("no customer with the id, order number or phone number `{key}`");
        return Ok(ExitCode::from(2));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        print!("{}", panel(&c));
    }
    Ok(ExitCode::SUCCESS)
}

/// A customer as an agent reads it.
fn panel(c: &Customer) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} · {} · {:?} · {} ({}) · {}",
        c.id.as_str(),
        c.name,
        c.tier,
        c.region,
        c.time_zone,
        c.language.as_str()
    );
    for p in &c.purchases {
        let started = p
            .delivered
            .map(|d| format!("delivered {d}"))
            .or_else(|| p.invoiced.map(|d| format!("invoiced {d}")))
            .unwrap_or_else(|| "not delivered yet".into());
        let _ = writeln!(
            s,
            "  {} {} ({}) · {:?} · ordered {} · {started} · {}",
            p.order, p.model, p.category, p.channel, p.ordered, p.serial
        );
        if let Some(t) = &p.tiancare {
            let _ = writeln!(s, "    TianCare+ bought {}", t.bought);
        }
        if let Some(d) = p.installed {
            let by = p.installer.as_deref().unwrap_or("unknown");
            let _ = writeln!(s, "    installed {d} by {by}");
        }
        for r in &p.repairs {
            let _ = writeln!(
                s,
                "    repair {} {} · {} · {:?} · {}",
                r.rma, r.date, r.part, r.kind, r.fault
            );
        }
    }
    s
}
