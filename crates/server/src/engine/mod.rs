//! The engine: what happens to recordings, over the adapters.
//!
//! Each service has one role; every status change goes through [`Lifecycle::apply`]:
//! - [`lifecycle`]: the one place a status changes ([`meet_recorder_domain::decide`] in a
//!   transaction, then the jobs, pages and room effects it names).
//! - [`control`]: starting and stopping recordings, deleting rooms (hosts' requests).
//! - [`webhooks`]: LiveKit's webhooks. [`reconcile`]: the database kept true to LiveKit,
//!   and the maximum duration. [`egress`]: LiveKit's egresses in the domain's terms.
//! - [`completion`]: from an ended egress to a saved recording and notified owners.
//! - [`expiry`]: expired recordings and what the database keeps only for a while.
//! - [`jobs`]: the jobs the queue holds; [`runner`]: their runner. [`metrics`]: counters for `/metrics`.
//! - [`requests`]: participants asking the hosts for a recording.
//! - [`consent`]: participants' consent to being recorded, and who may publish meanwhile.
//! - [`announcements`]: status changes announced to operators' endpoints (outbound webhooks).
//! - [`accounts`]: passwords, session and API tokens, sign-in limits. [`sign_in`]: which
//!   account an identity from the OpenID Connect provider signs into.
//!
//! The engine knows the adapters (database, LiveKit, object storage, mail, transcription,
//! change feed) and the configuration, never HTTP, the command line or dev tooling.

pub mod accounts;
pub mod announcements;
pub mod completion;
pub mod consent;
pub mod control;
pub mod egress;
pub mod expiry;
pub mod jobs;
pub mod lifecycle;
pub mod metrics;
pub mod reconcile;
pub mod requests;
pub mod runner;
pub mod sign_in;
pub mod webhooks;

use std::sync::Arc;

use crate::{
    adapters::{
        change_feed::RoomEvents,
        db::Db,
        livekit::LiveKit,
        mail::{Brand, Mailer},
        storage::ObjectStorage,
        transcription::TranscriptionService,
    },
    config::Config,
};
use completion::Completion;
use consent::Consent;
use control::RecordingControl;
use expiry::Expiry;
use lifecycle::Lifecycle;
use metrics::Metrics;
use reconcile::Reconciler;
use requests::RecordingRequests;
use runner::{JobRunner, JobWork};
use webhooks::LiveKitWebhooks;

/// What the engine is built on.
pub struct Adapters {
    pub db: Db,
    pub livekit: Arc<LiveKit>,
    pub storage: Arc<dyn ObjectStorage>,
    pub mailer: Arc<dyn Mailer>,
    pub brand: Brand,
    pub change_feed: Arc<RoomEvents>,
}

/// The engine's services, built once and shared.
#[derive(Clone)]
pub struct Engine {
    pub lifecycle: Arc<Lifecycle>,
    pub control: Arc<RecordingControl>,
    pub webhooks: Arc<LiveKitWebhooks>,
    pub reconciler: Arc<Reconciler>,
    pub completion: Arc<Completion>,
    pub expiry: Arc<Expiry>,
    pub jobs: Arc<JobRunner>,
    pub requests: Arc<RecordingRequests>,
    pub consent: Arc<Consent>,
    pub metrics: Arc<Metrics>,
}

impl Engine {
    pub fn new(config: Arc<Config>, adapters: Adapters) -> Self {
        let Adapters {
            db,
            livekit,
            storage,
            mailer,
            brand,
            change_feed,
        } = adapters;
        let metrics = Arc::new(Metrics::default());
        let jobs_wakeup = Arc::new(tokio::sync::Notify::new());
        let lifecycle = Arc::new(Lifecycle::new(
            db.clone(),
            livekit.clone(),
            config.clone(),
            jobs_wakeup.clone(),
            change_feed.clone(),
        ));
        let reconciler = Arc::new(Reconciler::new(
            lifecycle.clone(),
            db.clone(),
            livekit.clone(),
            config.clone(),
        ));
        let completion = Arc::new(Completion::new(
            lifecycle.clone(),
            db.clone(),
            config.clone(),
            storage.clone(),
            mailer,
            brand,
            config.transcription.clone().map(TranscriptionService::new),
            metrics.clone(),
        ));
        let consent = Arc::new(Consent::new(lifecycle.clone(), db.clone(), livekit.clone()));
        let announcements = Arc::new(announcements::Announcements::new(config.clone()));
        let control = Arc::new(RecordingControl::new(
            lifecycle.clone(),
            consent.clone(),
            db.clone(),
            livekit.clone(),
            config.clone(),
        ));
        Self {
            requests: Arc::new(RecordingRequests::new(
                db.clone(),
                livekit.clone(),
                change_feed,
            )),
            webhooks: Arc::new(LiveKitWebhooks::new(
                lifecycle.clone(),
                reconciler.clone(),
                db.clone(),
                livekit,
                config.clone(),
            )),
            expiry: Arc::new(Expiry::new(
                lifecycle.clone(),
                db.clone(),
                config.clone(),
                storage.clone(),
                metrics.clone(),
            )),
            jobs: Arc::new(JobRunner::new(
                db,
                config,
                JobWork {
                    announcements,
                    completion: completion.clone(),
                    control: control.clone(),
                    consent: consent.clone(),
                    storage,
                },
                metrics.clone(),
                jobs_wakeup,
            )),
            control,
            consent,
            lifecycle,
            reconciler,
            completion,
            metrics,
        }
    }
}
