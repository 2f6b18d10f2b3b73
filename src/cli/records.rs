//! `kefu records hammer` (hidden): the writer of the kill test. It commits numbered batches to
//! a records store as fast as it can and prints each batch's number once its commit has
//! returned, until it is killed; the test (tests/it/records.rs) kills it at random moments and
//! checks what the store holds against what was acknowledged.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use kefu::store::records::{self, Records};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Commit numbered batches until killed, printing each number once committed.
    Hammer(HammerArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Backend {
    Redb,
    Sled,
}

#[derive(clap::Args)]
pub struct HammerArgs {
    /// The store to write: a redb file, or a sled folder.
    #[arg(long)]
    path: PathBuf,
    #[arg(long, value_enum, default_value = "redb")]
    backend: Backend,
    /// The number of the first batch.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Stop after this many batches (default: never).
    #[arg(long)]
    count: Option<u64>,
}

pub fn run(action: Action) -> anyhow::Result<ExitCode> {
    let Action::Hammer(args) = action;
    let store: Box<dyn Records> = match args.backend {
        Backend::Redb => Box::new(records::RedbRecords::open(&args.path)?),
        Backend::Sled => Box::new(records::SledRecords::open(&args.path)?),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "open")?;
    out.flush()?;
    let end = args.count.map_or(u64::MAX, |c| args.from.saturating_add(c));
    for n in args.from..end {
        store.commit(records::hammer_batch(n))?;
        writeln!(out, "{n}")?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
