//! Object storage in a local directory: keys are relative paths under a root.
//!
//! Used when no S3 bucket is configured (development, and recordings written by the
//! LiveKit emulator into its own directory). A directory has no object metadata, so the
//! content type comes from the extension and the ETag from the size and modification
//! time. Keys are checked with [`validate_key`] before they touch the file system, so no
//! key can reach outside the root. Bodies are read with `tokio::fs` in 64 KiB chunks,
//! never whole, and writes go through a temporary file and a rename so a reader never
//! sees half an object.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, UNIX_EPOCH},
};

use bytes::Bytes;
use futures::{FutureExt, StreamExt, future::BoxFuture, stream::BoxStream};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{
    ByteRange, ObjectInfo, ObjectStorage, ObjectStream, StorageError, guess_content_type,
    resolve_range, validate_key,
};

/// How much one chunk of a body holds at most.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Objects as files under `root`.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// Storage under `root`; the directory is created by the first `put`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file a key names, once the key is known to stay under the root.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn info(key: &str, metadata: &std::fs::Metadata) -> Result<ObjectInfo, StorageError> {
        if !metadata.is_file() {
            return Err(StorageError::NotFound);
        }
        let modified = metadata.modified().map_err(io_error)?;
        let nanos = modified
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        Ok(ObjectInfo {
            key: key.to_owned(),
            size: metadata.len(),
            e_tag: Some(format!("\"{:x}-{nanos:x}\"", metadata.len())),
            last_modified: modified.into(),
            content_type: Some(guess_content_type(key).to_owned()),
        })
    }

    async fn head_impl(&self, key: &str) -> Result<ObjectInfo, StorageError> {
        let path = self.path_of(key)?;
        let metadata = tokio::fs::metadata(&path).await.map_err(io_error)?;
        Self::info(key, &metadata)
    }

    async fn get_impl(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, StorageError> {
        let path = self.path_of(key)?;
        let mut file = tokio::fs::File::open(&path).await.map_err(io_error)?;
        // Metadata of the open file, so size and body describe the same file even if
        // the path is replaced meanwhile.
        let metadata = file.metadata().await.map_err(io_error)?;
        let info = Self::info(key, &metadata)?;
        let served = match range {
            Some(range) => resolve_range(range, info.size)?,
            None => None,
        };
        let (start, length) = match served {
            Some((start, end)) => (start, end - start + 1),
            None => (0, info.size),
        };
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(io_error)?;
        }
        Ok(ObjectStream {
            info,
            range: served,
            body: read_chunks(file.take(length), length),
        })
    }

    async fn delete_impl(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io_error(error)),
        }
    }

    async fn put_impl(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.write_atomically(key, |temporary| async move {
            tokio::fs::write(&temporary, &bytes).await
        })
        .await
    }

    async fn copy_impl(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let source = self.path_of(from)?;
        if !tokio::fs::try_exists(&source).await.map_err(io_error)? {
            return Err(StorageError::NotFound);
        }
        self.write_atomically(to, |temporary| async move {
            tokio::fs::copy(&source, &temporary).await.map(drop)
        })
        .await
    }

    /// Writes `key` through a temporary file in its folder, renamed into place once
    /// `write` has filled it: a reader never sees a half-written object.
    async fn write_atomically<F, Fut>(&self, key: &str, write: F) -> Result<(), StorageError>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<()>>,
    {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = self.path_of(key)?;
        let parent = path.parent().unwrap_or(&self.root);
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = parent.join(format!(
            ".{file_name}.partial-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = async {
            write(temporary.clone()).await?;
            tokio::fs::rename(&temporary, &path).await
        }
        .await;
        if let Err(error) = written {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(io_error(error));
        }
        Ok(())
    }
}

/// Reads `length` bytes from `reader` as a stream of chunks of at most [`CHUNK_SIZE`];
/// a file that ends early is an error, not a short body.
fn read_chunks<R>(reader: R, length: u64) -> BoxStream<'static, Result<Bytes, StorageError>>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    futures::stream::try_unfold((reader, length), |(mut reader, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let mut buffer = vec![0; remaining.min(CHUNK_SIZE as u64) as usize];
        let read = reader.read(&mut buffer).await.map_err(io_error)?;
        if read == 0 {
            return Err(StorageError::Other(format!(
                "file ended {remaining} bytes early (truncated while reading?)"
            )));
        }
        buffer.truncate(read);
        Ok(Some((
            Bytes::from(buffer),
            (reader, remaining - read as u64),
        )))
    })
    .boxed()
}

fn io_error(error: std::io::Error) -> StorageError {
    match error.kind() {
        std::io::ErrorKind::NotFound => StorageError::NotFound,
        // A path component is a file, not a directory: the object cannot exist.
        std::io::ErrorKind::NotADirectory => StorageError::NotFound,
        _ => StorageError::Other(error.to_string()),
    }
}

impl ObjectStorage for LocalStorage {
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<ObjectInfo, StorageError>> {
        self.head_impl(key).boxed()
    }

    fn get<'a>(
        &'a self,
        key: &'a str,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<ObjectStream, StorageError>> {
        self.get_impl(key, range).boxed()
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        self.delete_impl(key).boxed()
    }

    fn presigned_get<'a>(
        &'a self,
        key: &'a str,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<url::Url>, StorageError>> {
        async move {
            validate_key(key)?;
            Ok(None)
        }
        .boxed()
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        _content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.put_impl(key, bytes).boxed()
    }

    fn copy<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        self.copy_impl(from, to).boxed()
    }

    fn upload_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a std::path::Path,
        _content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        async move {
            let source = path.to_owned();
            self.write_atomically(key, |temporary| async move {
                tokio::fs::copy(&source, &temporary).await.map(drop)
            })
            .await
        }
        .boxed()
    }

    fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    async fn body(stream: ObjectStream) -> Vec<u8> {
        let chunks: Vec<Bytes> = stream.body.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn serves_what_was_put() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        storage
            .put("a/b/c.ogg", Bytes::from(data.clone()), "audio/ogg")
            .await
            .unwrap();
        assert_eq!(std::fs::read(dir.path().join("a/b/c.ogg")).unwrap(), data);
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(dir.path().join("a/b")).unwrap().count(),
            1
        );

        let info = storage.head("a/b/c.ogg").await.unwrap();
        assert_eq!(info.size, 200_000);
        assert_eq!(info.content_type.as_deref(), Some("audio/ogg"));
        assert!(info.e_tag.as_deref().unwrap().starts_with("\"30d40-"));

        let whole = storage.get("a/b/c.ogg", None).await.unwrap();
        assert_eq!(whole.range, None);
        assert_eq!(whole.info, info);
        assert_eq!(body(whole).await, data);

        let part = storage
            .get("a/b/c.ogg", Some(ByteRange::From(150_000)))
            .await
            .unwrap();
        assert_eq!(part.range, Some((150_000, 199_999)));
        assert_eq!(part.content_length(), 50_000);
        assert_eq!(body(part).await, &data[150_000..]);
    }

    #[tokio::test]
    async fn chunks_are_bounded() {
        let data = vec![7u8; 3 * CHUNK_SIZE + 5];
        let chunks: Vec<Bytes> = read_chunks(std::io::Cursor::new(data.clone()), data.len() as u64)
            .try_collect()
            .await
            .unwrap();
        let sizes: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE, 5]);
        assert_eq!(chunks.concat(), data);
    }

    #[tokio::test]
    async fn a_short_file_is_an_error() {
        let result: Result<Vec<Bytes>, _> = read_chunks(std::io::Cursor::new(vec![1u8; 10]), 20)
            .try_collect()
            .await;
        assert!(matches!(result, Err(StorageError::Other(_))), "{result:?}");
    }

    #[tokio::test]
    async fn directories_and_files_in_the_path_are_not_objects() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        storage
            .put("d/f.json", Bytes::from_static(b"{}"), "application/json")
            .await
            .unwrap();
        assert!(matches!(
            storage.head("d").await,
            Err(StorageError::NotFound)
        ));
        assert!(matches!(
            storage.get("d", None).await,
            Err(StorageError::NotFound)
        ));
        assert!(matches!(
            storage.head("d/f.json/x").await,
            Err(StorageError::NotFound)
        ));
    }

    #[tokio::test]
    async fn refuses_keys_outside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path().join("root"));
        for key in ["../x", "/etc/passwd", "a//b", ""] {
            assert!(matches!(
                storage
                    .put(key, Bytes::from_static(b"x"), "text/plain")
                    .await,
                Err(StorageError::Other(_))
            ));
            assert!(matches!(
                storage.head(key).await,
                Err(StorageError::Other(_))
            ));
            assert!(matches!(
                storage.delete(key).await,
                Err(StorageError::Other(_))
            ));
        }
        assert!(!dir.path().join("x").exists());
    }
}
