//! The one integration-test binary: every test spawns the real parts (the LiveKit
//! emulator, the Garage S3 server started by `scripts/test.sh`, a webhook receiver) and
//! talks to them over loopback.

mod api;
mod app;
mod auto_record;
mod cli;
mod cohosts;
mod completion;
mod consent;
mod emulator_faults;
mod emulator_media;
mod emulator_protocol;
mod emulator_python_sdk;
mod helpers;
mod lifecycle;
mod livekit_tls;
mod mail;
mod media;
mod media_auth;
mod minio_events;
mod oidc;
mod openapi;
mod orphans;
mod outbound_webhooks;
mod pause;
mod real_livekit;
mod requests;
mod retention;
mod room_deletion;
mod room_events;
mod security_accounts;
mod security_http;
mod share_links;
mod smtp;
mod storage;
mod storage_hook;
mod web;
mod webhooks;
