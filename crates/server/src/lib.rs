//! meet-recorder: records LiveKit rooms. The binary's `main.rs` only parses the command
//! line; everything else lives here so the integration tests can build the real
//! application in-process.
//!
//! # Layout
//! - [`config`]: settings from the environment.
//! - [`db`]: the database (SQLite or PostgreSQL).
//! - [`livekit`]: LiveKit through the `livekit-api` crate.
//! - [`recorder`]: the recording lifecycle and its side effects; [`completion`]: from an
//!   ended egress to a saved recording and notified owners; [`jobs`]: the job runner.
//! - [`storage`]: object storage (local directory, S3). [`storage_events`]: storage
//!   event formats (MinIO, RustFS, S3, SNS, EventBridge).
//! - [`mail`]: email (SMTP, console, file) and its templates.
//! - [`auth`]: accounts, sessions, API tokens.
//! - [`http`]: the HTTP interface; [`metrics`]: Prometheus metrics.
//! - [`app`]: state, server and background loops.
//! - [`expiry`]: deleting expired recordings. [`events`]: live room state for pages.
//! - [`web`]: the browser app, embedded in release builds.
//! - [`cli`]: the subcommands; [`dev`]: the one-command development setup;
//!   [`presence`]: dev mode's simulated participants.

pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod completion;
pub mod config;
pub mod db;
pub mod dev;
pub mod events;
pub mod expiry;
pub mod http;
pub mod jobs;
pub mod lifecycle;
pub mod livekit;
pub mod mail;
pub mod metrics;
pub mod presence;
pub mod recorder;
pub mod sigv4;
pub mod storage;
pub mod storage_events;
pub mod web;
