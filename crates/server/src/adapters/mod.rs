//! The adapters: everything outside the process, each behind a narrow interface, knowing
//! the configuration and nothing of the engine, HTTP or the command line.
//! - [`db`]: the database (SQLite or PostgreSQL): rows, queries, migrations, the job queue.
//! - [`livekit`]: LiveKit's Twirp API (egress, room metadata, data), join tokens,
//!   webhook verification.
//! - [`storage`]: object storage (local directory, S3) with the bucket's expiration rule
//!   and the storage event formats.
//! - [`mail`]: email (SMTP, console, file) and its templates.
//! - [`transcription`]: the transcription service.
//! - [`media_tools`]: ffmpeg and ffprobe, to join a paused recording's segments.
//! - [`outbound_webhooks`]: Standard Webhooks messages to operators' endpoints.
//! - [`identity_provider`]: the OpenID Connect provider users may sign in with.
//! - [`change_feed`]: "this room's recordings changed" across instances.

pub mod change_feed;
pub mod db;
pub mod identity_provider;
pub mod livekit;
pub mod mail;
pub mod media_tools;
pub mod outbound_webhooks;
pub mod storage;
pub mod transcription;
