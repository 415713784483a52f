//! The `meet-recorder` binary: parses the command line, sets up logging and runs the
//! subcommand.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    // Read before any configuration: the log format must hold for configuration errors too.
    match std::env::var("MEET_RECORDER_LOG_FORMAT").as_deref() {
        Ok("json") => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init(),
        Ok("text") | Err(std::env::VarError::NotPresent) => {
            tracing_subscriber::fmt().with_env_filter(filter).init()
        }
        Ok(other) => anyhow::bail!("MEET_RECORDER_LOG_FORMAT={other:?}: use text or json"),
        Err(error) => anyhow::bail!("MEET_RECORDER_LOG_FORMAT: {error}"),
    }
    meet_recorder::cli::run(meet_recorder::cli::Cli::parse()).await
}
