//! Object storage: a local directory or an S3-compatible bucket behind one trait.
