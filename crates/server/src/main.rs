//! The `meet-recorder` binary: parses the command line and runs the chosen subcommand.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};
use livekit_emulator::{Emulator, EmulatorConfig};

#[derive(Parser)]
#[command(name = "meet-recorder", version, about = "Records LiveKit rooms")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the LiveKit server + Egress emulator (development and tests).
    LivekitEmulator(EmulatorArgs),
}

#[derive(Args)]
struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7880")]
    bind: SocketAddr,
    /// API keys as KEY:SECRET[,KEY2:SECRET2].
    #[arg(long, env = "LIVEKIT_EMULATOR_KEYS", default_value = "devkey:secret")]
    keys: String,
    /// Where webhooks are sent (repeat or separate with commas).
    #[arg(long = "webhook-url", value_delimiter = ',')]
    webhook_urls: Vec<String>,
    /// Which API key signs webhooks (default: the first of --keys).
    #[arg(long)]
    webhook_key: Option<String>,
    /// Directory for recordings whose request has no upload configuration.
    #[arg(long, default_value = "./data/egress")]
    storage_dir: PathBuf,
    /// Egress session limit in seconds: longer egresses end with EGRESS_LIMIT_REACHED.
    #[arg(long)]
    max_duration: Option<u64>,
    /// How long an egress stays STARTING before it is ACTIVE, in milliseconds.
    #[arg(long, default_value_t = 500)]
    start_delay_ms: u64,
    /// The ffmpeg executable that renders the media.
    #[arg(long, default_value = "ffmpeg")]
    ffmpeg: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::LivekitEmulator(args) => run_emulator(args).await,
    }
}

async fn run_emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let mut config = EmulatorConfig::new("unused", "unused");
    config.keys = EmulatorConfig::parse_keys(&args.keys)?;
    config.webhook_urls = args.webhook_urls;
    config.webhook_api_key = args.webhook_key;
    config.storage_dir = args.storage_dir;
    config.max_duration = args.max_duration.map(Duration::from_secs);
    config.start_delay = Duration::from_millis(args.start_delay_ms);
    config.ffmpeg = args.ffmpeg;
    let emulator = Emulator::start(config, args.bind).await?;
    println!("LiveKit emulator listening on {}", emulator.url());
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
