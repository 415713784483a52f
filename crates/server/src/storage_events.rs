//! Storage events (MinIO, RustFS, S3, SNS, EventBridge) parsed into one shape.
