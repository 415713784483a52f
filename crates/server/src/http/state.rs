//! What every handler shares. The application wiring (`crate::app`) builds it; handlers
//! reach the engine's services by role and the adapters they read from directly.

use std::sync::Arc;

use crate::{
    adapters::{
        change_feed::RoomEvents, db::Db, identity_provider::IdentityProvider, livekit::LiveKit,
        storage::ObjectStorage,
    },
    config::Config,
    engine::{Engine, accounts::LoginGuard},
    http::{room_events::RoomStates, share_links::AttemptLimiter},
};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub livekit: Arc<LiveKit>,
    pub storage: Arc<dyn ObjectStorage>,
    /// Tells open pages that a room's recordings changed.
    pub change_feed: Arc<RoomEvents>,
    pub engine: Engine,
    pub share_limiter: Arc<AttemptLimiter>,
    /// Sign-in throttling: this application's own, so applications sharing a process
    /// (as the tests do) never share limits.
    pub login_guard: Arc<LoginGuard>,
    /// The OpenID Connect provider users may sign in with (`OIDC_*`).
    pub identity_provider: Option<Arc<IdentityProvider>>,
    /// The room states open pages share, one reading per change.
    pub room_states: Arc<RoomStates>,
    /// Set by `meet-recorder dev` only.
    pub dev: Option<Arc<DevMode>>,
}

/// What only dev mode has: a stand-in for joining rooms (the emulator has no media
/// connection for a browser to open, so an open room page is the participant), and a demo
/// account the sign-in page may show.
pub struct DevMode {
    pub presence: Arc<dyn RoomPresence>,
    pub demo_email: &'static str,
    pub demo_password: &'static str,
}

/// Dev mode's simulated participants (`crate::dev::presence`).
pub trait RoomPresence: Send + Sync {
    /// `identity` has one more page open in `room`; it stays a participant while the
    /// returned guard lives.
    fn enter(&self, room: &str, identity: &str, name: &str) -> Box<dyn Send + Sync>;
}
