//! `kefu serve`.

use std::process::ExitCode;

use kefu::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
}

pub fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let analyzer = kefu::analyzer(&config)?;
    if config.vector.enabled {
        if let Err(e) = kefu::models::ensure(&config, true) {
            eprintln!("warning: {e}; serving with BM25 only");
        }
    }
    let service = kefu::service::Service::start(config.clone(), analyzer)?;
    let bind = args.bind.unwrap_or_else(|| config.http.bind.clone());
    kefu::http::serve(service, &bind)?;
    Ok(ExitCode::SUCCESS)
}
