//! meet-recorder: records LiveKit rooms. The binary's `main.rs` only parses the command
//! line; everything else lives here so the integration tests can build the real
//! application in-process.
//!
//! # Layout, by role
//! - [`engine`]: what happens to recordings (the lifecycle, start and stop, webhooks,
//!   reconciliation, completion, expiry, jobs, accounts), on top of the pure
//!   `meet-recorder-domain` crate that decides every status change.
//! - [`adapters`]: the outside world behind narrow interfaces (database, LiveKit, object
//!   storage, mail, transcription service, change feed).
//! - [`http`]: the HTTP interface and the embedded browser app.
//! - [`cli`]: the subcommands. [`config`]: settings from the environment.
//! - [`app`]: the wiring, the only module that knows all the others: builds the adapters,
//!   the engine and the HTTP state, runs the server and the background loops.
//! - [`dev`] (Cargo feature `dev-tools`, on by default): `meet-recorder dev` with the
//!   in-process LiveKit emulator, its simulated participants, and `meet-recorder bench`.
//!
//! Dependencies point one way: `config` ← `adapters` ← `engine` ← `http` ← `app` ←
//! `dev` ← `cli`; a unit test (`layering`) holds the code to it.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
#[cfg(feature = "dev-tools")]
pub mod dev;
pub mod engine;
pub mod http;

#[cfg(test)]
mod layering;
