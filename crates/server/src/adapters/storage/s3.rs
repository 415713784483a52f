//! Object storage in an S3-compatible bucket (AWS, MinIO, RustFS, Garage), through the
//! `object_store` crate.
//!
//! Requests are path-style (`endpoint/bucket/key`), which every S3-compatible server
//! accepts, and plain `http://` endpoints are allowed for servers on a private network.
//! `head` asks with a HEAD request that also returns the content type; `get` of a range
//! first resolves the range against the object's size with the same rules as local
//! storage ([`resolve_range`]) and then asks for exactly those bytes, pinned to the
//! ETag it saw so the size and the body describe the same object. Bodies are passed
//! through as the HTTP client receives them, never collected. There is no overall
//! request timeout (a slow client downloading a long recording must not be cut off);
//! a stalled connection is caught by the read timeout instead.

use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt, TryStreamExt, future::BoxFuture};
use object_store::{
    Attribute, Attributes, ClientOptions, GetOptions, GetRange, GetResult, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, WriteMultipart,
    aws::{AmazonS3, AmazonS3Builder},
    path::Path,
    signer::{Method, Signer},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    ByteRange, ObjectInfo, ObjectStorage, ObjectStream, StorageError, resolve_range, validate_key,
};

/// How long a read from the server may stall before the request fails.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest lifetime SigV4 allows a presigned URL (`X-Amz-Expires`).
const MAX_PRESIGN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where the bucket is and how to sign for it.
#[derive(Debug, Clone)]
pub struct S3StorageSettings {
    /// `http(s)://host:port`, without the bucket.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

impl From<&crate::config::S3Settings> for S3StorageSettings {
    fn from(settings: &crate::config::S3Settings) -> Self {
        Self {
            endpoint: settings.endpoint.clone(),
            region: settings.region.clone(),
            bucket: settings.bucket.clone(),
            access_key_id: settings.access_key_id.clone(),
            secret_access_key: settings.secret_access_key.clone(),
        }
    }
}

/// Objects in one S3 bucket.
#[derive(Debug)]
pub struct S3Storage {
    store: AmazonS3,
    endpoint: String,
    bucket: String,
}

impl S3Storage {
    pub fn new(settings: &S3StorageSettings) -> Result<Self, StorageError> {
        let endpoint = settings.endpoint.trim_end_matches('/').to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(StorageError::Other(format!(
                "S3 endpoint {endpoint:?} is not an http(s) URL"
            )));
        }
        if settings.bucket.is_empty() {
            return Err(StorageError::Other("S3 bucket name is empty".to_owned()));
        }
        let client_options = ClientOptions::new()
            .with_allow_http(endpoint.starts_with("http://"))
            .with_timeout_disabled()
            .with_read_timeout(READ_TIMEOUT)
            .with_connect_timeout(CONNECT_TIMEOUT);
        let store = AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_region(&settings.region)
            .with_bucket_name(&settings.bucket)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(settings.secret_access_key.expose_secret())
            .with_virtual_hosted_style_request(false)
            .with_client_options(client_options)
            .build()
            .map_err(|error| StorageError::Other(format!("S3 configuration: {error}")))?;
        Ok(Self {
            store,
            endpoint,
            bucket: settings.bucket.clone(),
        })
    }

    /// The underlying client, for what the trait does not cover.
    pub fn store(&self) -> &AmazonS3 {
        &self.store
    }

    fn path(key: &str) -> Result<Path, StorageError> {
        validate_key(key)?;
        Path::parse(key).map_err(|error| StorageError::Other(format!("invalid key: {error}")))
    }

    fn info(key: &str, result: &GetResult) -> ObjectInfo {
        ObjectInfo {
            key: key.to_owned(),
            size: result.meta.size,
            e_tag: result.meta.e_tag.clone(),
            last_modified: result.meta.last_modified,
            content_type: result
                .attributes
                .get(&Attribute::ContentType)
                .map(|value| value.to_string()),
        }
    }

    async fn head_impl(&self, key: &str) -> Result<ObjectInfo, StorageError> {
        let path = Self::path(key)?;
        let result = self
            .store
            .get_opts(&path, GetOptions::new().with_head(true))
            .await
            .map_err(s3_error)?;
        Ok(Self::info(key, &result))
    }

    async fn get_impl(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectStream, StorageError> {
        let path = Self::path(key)?;
        let Some(range) = range else {
            let result = self.store.get(&path).await.map_err(s3_error)?;
            return Ok(stream(key, result, None));
        };
        // Resolve the range ourselves so every backend answers it the same way (and
        // an unsatisfiable range reports the size), then fetch exactly that.
        let info = self.head_impl(key).await?;
        let Some((start, end)) = resolve_range(range, info.size)? else {
            // A suffix of an empty object: the empty whole object.
            return Ok(ObjectStream {
                info,
                range: None,
                body: futures::stream::empty().boxed(),
            });
        };
        let options = GetOptions::new()
            .with_range(Some(GetRange::Bounded(start..end + 1)))
            .with_if_match(info.e_tag.clone());
        let result = self
            .store
            .get_opts(&path, options)
            .await
            .map_err(|error| match error {
                object_store::Error::Precondition { .. } => {
                    StorageError::Other(format!("{key} was replaced while being read"))
                }
                error => s3_error(error),
            })?;
        Ok(stream(key, result, Some((start, end))))
    }

    async fn delete_impl(&self, key: &str) -> Result<(), StorageError> {
        let path = Self::path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(s3_error(error)),
        }
    }

    async fn put_impl(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let path = Self::path(key)?;
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        self.store
            .put_opts(&path, PutPayload::from(bytes), PutOptions::from(attributes))
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    async fn copy_impl(&self, from: &str, to: &str) -> Result<(), StorageError> {
        self.store
            .copy(&Self::path(from)?, &Self::path(to)?)
            .await
            .map_err(s3_error)
    }

    /// A multipart upload in 8 MiB parts, at most 4 in flight: memory stays bounded
    /// whatever the file's size.
    async fn upload_file_impl(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        use tokio::io::AsyncReadExt;
        const PART_BYTES: usize = 8 * 1024 * 1024;
        let location = Self::path(key)?;
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        let upload = self
            .store
            .put_multipart_opts(
                &location,
                PutMultipartOptions {
                    attributes,
                    ..Default::default()
                },
            )
            .await
            .map_err(s3_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| StorageError::Other(format!("{}: {e}", path.display())))?;
        let mut buffer = vec![0; 1024 * 1024];
        loop {
            let read = file
                .read(&mut buffer)
                .await
                .map_err(|e| StorageError::Other(format!("{}: {e}", path.display())))?;
            if read == 0 {
                break;
            }
            writer.wait_for_capacity(4).await.map_err(s3_error)?;
            writer.write(&buffer[..read]);
        }
        writer.finish().await.map_err(s3_error)?;
        Ok(())
    }

    async fn presigned_get_impl(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<url::Url>, StorageError> {
        let path = Self::path(key)?;
        if ttl.is_zero() || ttl > MAX_PRESIGN_TTL {
            return Err(StorageError::Other(format!(
                "presigned URL lifetime {ttl:?} is outside S3's 1 s to 7 days"
            )));
        }
        let url = self
            .store
            .signed_url(Method::GET, &path, ttl)
            .await
            .map_err(s3_error)?;
        Ok(Some(url))
    }
}

/// The object and its body, with the body's errors in our terms.
fn stream(key: &str, result: GetResult, range: Option<(u64, u64)>) -> ObjectStream {
    let info = S3Storage::info(key, &result);
    ObjectStream {
        info,
        range,
        body: result.into_stream().map_err(s3_error).boxed(),
    }
}

fn s3_error(error: object_store::Error) -> StorageError {
    match error {
        object_store::Error::NotFound { .. } => StorageError::NotFound,
        error => StorageError::Other(error.to_string()),
    }
}

impl ObjectStorage for S3Storage {
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
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<url::Url>, StorageError>> {
        self.presigned_get_impl(key, ttl).boxed()
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.put_impl(key, bytes, content_type).boxed()
    }

    fn copy<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        self.copy_impl(from, to).boxed()
    }

    fn upload_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a std::path::Path,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.upload_file_impl(key, path, content_type).boxed()
    }

    fn describe(&self) -> String {
        format!("s3 {}/{}", self.endpoint, self.bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(endpoint: &str) -> S3StorageSettings {
        S3StorageSettings {
            endpoint: endpoint.to_owned(),
            region: "garage".to_owned(),
            bucket: "media".to_owned(),
            access_key_id: "GKid".to_owned(),
            secret_access_key: SecretString::from("s3cr3t-value"),
        }
    }

    #[test]
    fn describes_without_secrets() {
        let storage = S3Storage::new(&settings("http://127.0.0.1:3900/")).unwrap();
        assert_eq!(storage.describe(), "s3 http://127.0.0.1:3900/media");
        assert!(!format!("{:?}", settings("http://x")).contains("s3cr3t-value"));
    }

    #[test]
    fn refuses_what_cannot_work() {
        assert!(S3Storage::new(&settings("127.0.0.1:3900")).is_err());
        let mut no_bucket = settings("http://127.0.0.1:3900");
        no_bucket.bucket.clear();
        assert!(S3Storage::new(&no_bucket).is_err());
    }

    #[tokio::test]
    async fn presigns_path_style_without_a_request() {
        let storage = S3Storage::new(&settings("http://127.0.0.1:3900")).unwrap();
        let url = storage
            .presigned_get("recordings/a b.mp4", Duration::from_secs(300))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(url.path(), "/media/recordings/a%20b.mp4");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(query.contains(&("X-Amz-Expires".to_owned(), "300".to_owned())));
        assert!(query.iter().any(|(k, _)| k == "X-Amz-Signature"));
        assert!(!url.as_str().contains("s3cr3t-value"));
        assert!(matches!(
            storage.presigned_get("../x", Duration::from_secs(1)).await,
            Err(StorageError::Other(_))
        ));
        for ttl in [Duration::ZERO, MAX_PRESIGN_TTL + Duration::from_secs(1)] {
            assert!(matches!(
                storage.presigned_get("a.mp4", ttl).await,
                Err(StorageError::Other(_))
            ));
        }
        assert!(
            storage
                .presigned_get("a.mp4", MAX_PRESIGN_TTL)
                .await
                .is_ok()
        );
    }
}
