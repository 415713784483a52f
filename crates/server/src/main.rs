//! The `meet-recorder` binary: parses the command line and runs the subcommand.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    meet_recorder::cli::run(meet_recorder::cli::Cli::parse()).await
}
