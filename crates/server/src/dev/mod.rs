//! `meet-recorder dev`: the whole product on one machine with no setup. The LiveKit
//! emulator runs in-process and sends its webhooks to the service; SQLite and the
//! emulator's storage directory hold the data; a demo account is created and printed.
//!
//! Dev tooling, in the Cargo feature `dev-tools` (on by default; a production build may
//! leave it out with `--no-default-features`, and with it the emulator and its ffmpeg
//! rendering): this module, [`presence`] (simulated participants) and [`bench`].

pub mod bench;
pub mod presence;

use std::{future::Future, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use livekit_emulator::{Emulator, EmulatorConfig};
use secrecy::ExposeSecret;

use crate::{
    app::Application,
    config::{Config, Source},
    dev::presence::{DEPARTURE_GRACE, SimulatedPresence},
    engine::accounts as auth,
    http::{AppState, DevMode},
};

pub const DEMO_EMAIL: &str = "demo@example.com";
pub const DEMO_PASSWORD: &str = "meet-recorder-demo";

pub async fn run(
    file: Option<&Path>,
    livekit_bind: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut source = Source::load(file)?;
    source.set_default("RECORDING_ENABLE", "true");
    // Links (emails, share links) point where this instance listens when only the
    // address was changed.
    if let Some(listen) = source.value("MEET_RECORDER_LISTEN").map(str::to_owned) {
        source.set_default("MEET_RECORDER_PUBLIC_URL", &format!("http://{listen}"));
    }
    source.set_default("LIVEKIT_API_URL", &format!("http://{livekit_bind}"));
    source.set_default("LIVEKIT_API_KEY", "devkey");
    source.set_default("LIVEKIT_API_SECRET", "secret");
    let config = Config::from_source(&source)?;

    let mut emulator_config = EmulatorConfig::new(
        &config.livekit.api_key,
        config.livekit.api_secret.expose_secret(),
    );
    emulator_config.webhook_urls = vec![format!(
        "http://{}/api/v1.0/rooms/webhooks-livekit/",
        config.listen
    )];
    emulator_config.storage_dir = "data/egress".into();
    emulator_config.webhook_retry_base = Duration::from_secs(1);
    let emulator = Emulator::start(emulator_config, livekit_bind).await?;

    let mut state = AppState::migrated(config).await?;
    state.dev = Some(Arc::new(DevMode {
        presence: Arc::new(SimulatedPresence::new(
            emulator.participants(),
            DEPARTURE_GRACE,
        )),
        demo_email: DEMO_EMAIL,
        demo_password: DEMO_PASSWORD,
    }));
    if state.db.user_by_email(DEMO_EMAIL).await?.is_none() {
        let hash = auth::hash_password(DEMO_PASSWORD)?;
        state
            .db
            .create_user(DEMO_EMAIL, "Demo User", Some(&hash), "en", "UTC")
            .await
            .map_err(|e| anyhow::anyhow!("create the demo account: {e}"))?;
    }
    let app = Application::build(state.clone()).await?;
    println!();
    println!("  meet-recorder is running at {}", state.config.public_url);
    println!(
        "  LiveKit emulator at {} (admin API under /admin/)",
        emulator.url()
    );
    println!("  Demo account: {DEMO_EMAIL} / {DEMO_PASSWORD}");
    println!();
    app.run(shutdown).await?;
    emulator.shutdown().await;
    Ok(())
}
