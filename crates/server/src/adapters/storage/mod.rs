//! Object storage: a local directory or an S3-compatible bucket behind one trait.
//!
//! Recordings land in object storage (written by LiveKit Egress, not by us); the service
//! only needs to confirm that an object exists and how big it is, serve it (whole or as
//! an HTTP byte range, streamed in constant memory), hand out presigned URLs where the
//! backend has them, and delete it when the recording expires. [`ObjectStorage`] is that
//! small surface; [`LocalStorage`] serves a directory (development and the emulator's
//! own storage), [`S3Storage`] any S3-compatible bucket. Both backends share the key
//! rules ([`validate_key`]) and the range arithmetic ([`resolve_range`]) defined here, so
//! they answer the same request the same way.

pub mod events;
pub mod expiration_rule;
pub mod local;
pub mod s3;
pub mod sigv4;

use std::{path::Path, sync::Arc, time::Duration};

use bytes::Bytes;
use futures::{future::BoxFuture, stream::BoxStream};

pub use local::LocalStorage;
pub use s3::{S3Storage, S3StorageSettings};

/// What storage knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    /// The size of the whole object, whatever range was asked for.
    pub size: u64,
    /// Quoted, as the `ETag` header carries it.
    pub e_tag: Option<String>,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    pub content_type: Option<String>,
}

/// A byte range as HTTP asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=N-`: from offset N to the end.
    From(u64),
    /// `bytes=a-b`: both ends inclusive; an end past the object is clamped.
    Bounded { start: u64, end_inclusive: u64 },
    /// `bytes=-N`: the last N bytes; more than the object serves all of it.
    Suffix(u64),
}

/// An object's body, streamed.
pub struct ObjectStream {
    pub info: ObjectInfo,
    /// The range actually served (inclusive), None = whole object.
    pub range: Option<(u64, u64)>,
    pub body: BoxStream<'static, Result<Bytes, StorageError>>,
}

impl ObjectStream {
    /// How many bytes `body` yields.
    pub fn content_length(&self) -> u64 {
        match self.range {
            Some((start, end)) => end - start + 1,
            None => self.info.size,
        }
    }
}

impl std::fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("info", &self.info)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found")]
    NotFound,
    /// The range starts at or past the end of the object; `size` is for `Content-Range`.
    #[error("range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("storage: {0}")]
    Other(String),
}

/// One object store. Keys are `/`-separated relative paths (see [`validate_key`]).
pub trait ObjectStorage: Send + Sync {
    /// The object's metadata; [`StorageError::NotFound`] when absent.
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<ObjectInfo, StorageError>>;

    /// The object's body (or a range of it), streamed in bounded chunks.
    /// [`StorageError::RangeNotSatisfiable`] when the range starts at or past the end.
    fn get<'a>(
        &'a self,
        key: &'a str,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<ObjectStream, StorageError>>;

    /// Removes the object; removing a missing object is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;

    /// A URL anyone can GET the object from until `ttl` passes, or `None` when the
    /// backend cannot presign (local). Does not check that the object exists.
    fn presigned_get<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<url::Url>, StorageError>>;

    /// Stores `bytes` under `key`, replacing any object there. Used by tests,
    /// benchmarks and the development setup (recordings are written by Egress).
    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Copies the object at `from` to `to`, replacing any object there.
    fn copy<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Stores the file at `path` under `key`, streamed (in parts on S3), replacing any
    /// object there: how a joined recording gets back into storage.
    fn upload_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a std::path::Path,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Where objects live, for logs: `local directory /path`, `s3 http://endpoint/bucket`.
    fn describe(&self) -> String;
}

/// The storage the configuration names: the S3 bucket when `AWS_S3_ENDPOINT_URL` is
/// set, otherwise the directory `local_root`.
pub fn from_config(
    config: &crate::config::Config,
    local_root: &Path,
) -> Result<Arc<dyn ObjectStorage>, StorageError> {
    Ok(match &config.s3 {
        Some(s3) => Arc::new(S3Storage::new(&S3StorageSettings::from(s3))?),
        None => Arc::new(LocalStorage::new(local_root)),
    })
}

/// Checks that `key` is a plain relative path: not empty, no leading `/`, no empty, `.`
/// or `..` components, no backslash or NUL. Both backends apply it, so a key that works
/// on one works on the other and none can leave the local root.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let refuse = |why: &str| Err(StorageError::Other(format!("invalid key {key:?}: {why}")));
    if key.is_empty() {
        return refuse("empty");
    }
    if key.starts_with('/') {
        return refuse("absolute path");
    }
    if key.contains(['\\', '\0']) {
        return refuse("backslash or NUL");
    }
    for component in key.split('/') {
        match component {
            "" => return refuse("empty path component"),
            "." | ".." => return refuse("relative path component"),
            _ => {}
        }
    }
    Ok(())
}

/// The inclusive byte range `range` selects in an object of `size` bytes, with HTTP's
/// rules (RFC 9110 §14.1.2): a bounded end past the object is clamped, a suffix longer
/// than the object selects all of it, a start at or past the end is not satisfiable.
/// `Ok(None)` only for a non-zero suffix of an empty object: the (empty) whole object.
pub fn resolve_range(range: ByteRange, size: u64) -> Result<Option<(u64, u64)>, StorageError> {
    let unsatisfiable = Err(StorageError::RangeNotSatisfiable { size });
    match range {
        ByteRange::From(start) if start < size => Ok(Some((start, size - 1))),
        ByteRange::Bounded {
            start,
            end_inclusive,
        } if start < size && start <= end_inclusive => {
            Ok(Some((start, end_inclusive.min(size - 1))))
        }
        ByteRange::Suffix(0) => unsatisfiable,
        ByteRange::Suffix(_) if size == 0 => Ok(None),
        ByteRange::Suffix(length) => Ok(Some((size - length.min(size), size - 1))),
        ByteRange::From(_) | ByteRange::Bounded { .. } => unsatisfiable,
    }
}

/// The content type a key's extension suggests (local storage has no metadata).
pub fn guess_content_type(key: &str) -> &'static str {
    let extension = key
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension.to_ascii_lowercase());
    match extension.as_deref() {
        Some("mp4") => "video/mp4",
        Some("ogg") => "audio/ogg",
        Some("mp3") => "audio/mpeg",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(range: ByteRange, size: u64) -> Option<(u64, u64)> {
        resolve_range(range, size).unwrap()
    }

    fn unsatisfiable(range: ByteRange, size: u64) -> bool {
        matches!(
            resolve_range(range, size),
            Err(StorageError::RangeNotSatisfiable { size: s }) if s == size
        )
    }

    fn bounded(start: u64, end_inclusive: u64) -> ByteRange {
        ByteRange::Bounded {
            start,
            end_inclusive,
        }
    }

    #[test]
    fn ranges_follow_http() {
        assert_eq!(range(ByteRange::From(0), 10), Some((0, 9)));
        assert_eq!(range(ByteRange::From(9), 10), Some((9, 9)));
        assert!(unsatisfiable(ByteRange::From(10), 10));
        assert!(unsatisfiable(ByteRange::From(0), 0));

        assert_eq!(range(bounded(2, 5), 10), Some((2, 5)));
        assert_eq!(range(bounded(3, 3), 10), Some((3, 3)));
        assert_eq!(range(bounded(8, 100), 10), Some((8, 9)));
        assert_eq!(range(bounded(0, u64::MAX), 10), Some((0, 9)));
        assert!(unsatisfiable(bounded(10, 20), 10));
        assert!(unsatisfiable(bounded(5, 4), 10));

        assert_eq!(range(ByteRange::Suffix(3), 10), Some((7, 9)));
        assert_eq!(range(ByteRange::Suffix(10), 10), Some((0, 9)));
        assert_eq!(range(ByteRange::Suffix(1000), 10), Some((0, 9)));
        assert_eq!(range(ByteRange::Suffix(5), 0), None);
        assert!(unsatisfiable(ByteRange::Suffix(0), 10));
    }

    #[test]
    fn keys_must_be_plain_relative_paths() {
        for good in ["a", "recordings/abc.mp4", "a/b/c.d.e", "with space/x"] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/abs", "../x", "a/../b", "a/..", "./a", "a//b", "a/", "a\\b", "a\0b",
        ] {
            assert!(
                matches!(validate_key(bad), Err(StorageError::Other(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn content_type_comes_from_the_extension() {
        assert_eq!(guess_content_type("r/a.mp4"), "video/mp4");
        assert_eq!(guess_content_type("r/a.MP4"), "video/mp4");
        assert_eq!(guess_content_type("a.ogg"), "audio/ogg");
        assert_eq!(guess_content_type("a.mp3"), "audio/mpeg");
        assert_eq!(guess_content_type("a.json"), "application/json");
        assert_eq!(guess_content_type("a.bin"), "application/octet-stream");
        assert_eq!(guess_content_type("mp4"), "application/octet-stream");
        assert_eq!(
            guess_content_type("dir.mp4/file"),
            "application/octet-stream"
        );
    }

    fn config(pairs: &[(&str, &str)]) -> crate::config::Config {
        let source = crate::config::Source::from_pairs(pairs.iter().copied());
        crate::config::Config::from_source(&source).unwrap()
    }

    #[test]
    fn config_chooses_the_backend() {
        let local = from_config(&config(&[]), Path::new("/srv/recordings")).unwrap();
        assert_eq!(local.describe(), "local directory /srv/recordings");

        let s3 = from_config(
            &config(&[
                ("AWS_S3_ENDPOINT_URL", "http://s3.internal:9000"),
                ("AWS_S3_ACCESS_KEY_ID", "id"),
                ("AWS_S3_SECRET_ACCESS_KEY", "very-secret"),
                ("AWS_STORAGE_BUCKET_NAME", "media"),
            ]),
            Path::new("/srv/recordings"),
        )
        .unwrap();
        assert_eq!(s3.describe(), "s3 http://s3.internal:9000/media");
        assert!(!s3.describe().contains("very-secret"));
    }
}
