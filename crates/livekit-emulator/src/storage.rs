//! Uploads as Egress does them: to the request's `S3Upload` (path-style or virtual-hosted,
//! content type, `Content-Disposition`, user metadata; multipart above 5 MiB), or to a
//! local directory when the request has no upload configuration.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use anyhow::Context;
use livekit_protocol as proto;
use object_store::{
    Attribute, Attributes, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    aws::AmazonS3Builder, path::Path as ObjectPath,
};
use tokio::io::AsyncReadExt;

/// Egress's uploader switches to multipart above this size; parts are this large.
pub const MULTIPART_THRESHOLD: usize = 5 * 1024 * 1024;

/// Where a file goes.
#[derive(Clone, Debug)]
pub enum UploadTarget {
    /// Files are written under this directory, at their key.
    Directory(PathBuf),
    S3(S3Target),
}

/// An S3-compatible bucket, as described by `S3Upload`.
#[derive(Clone)]
pub struct S3Target {
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret: String,
    pub session_token: String,
    pub region: String,
    pub force_path_style: bool,
    pub metadata: HashMap<String, String>,
    pub content_disposition: String,
}

impl std::fmt::Debug for S3Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Target")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("force_path_style", &self.force_path_style)
            .finish_non_exhaustive()
    }
}

impl S3Target {
    pub fn from_proto(s3: &proto::S3Upload) -> Self {
        Self {
            endpoint: s3.endpoint.clone(),
            bucket: s3.bucket.clone(),
            access_key: s3.access_key.clone(),
            secret: s3.secret.clone(),
            session_token: s3.session_token.clone(),
            region: s3.region.clone(),
            force_path_style: s3.force_path_style,
            metadata: s3.metadata.clone(),
            content_disposition: s3.content_disposition.clone(),
        }
    }

    fn store(&self) -> anyhow::Result<impl ObjectStore> {
        let region = if self.region.is_empty() {
            "us-east-1"
        } else {
            &self.region
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret)
            .with_region(region)
            .with_virtual_hosted_style_request(!self.force_path_style)
            .with_allow_http(true);
        if !self.endpoint.is_empty() {
            builder = builder.with_endpoint(&self.endpoint);
        }
        if !self.session_token.is_empty() {
            builder = builder.with_token(&self.session_token);
        }
        builder.build().context("configure S3 client")
    }

    /// `FileInfo.location`: `{endpoint}/{bucket}/{key}` path-style, else virtual-hosted.
    pub fn location(&self, key: &str) -> String {
        let endpoint = self.endpoint.trim_end_matches('/');
        if self.force_path_style {
            format!("{endpoint}/{}/{key}", self.bucket)
        } else if endpoint.is_empty() {
            format!("https://{}.s3.amazonaws.com/{key}", self.bucket)
        } else {
            let host = endpoint
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            format!("https://{}.{host}/{key}", self.bucket)
        }
    }

    fn attributes(&self, content_type: &str) -> Attributes {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        let disposition = if self.content_disposition.is_empty() {
            "inline"
        } else {
            &self.content_disposition
        };
        attributes.insert(Attribute::ContentDisposition, disposition.to_owned().into());
        for (key, value) in &self.metadata {
            attributes.insert(
                Attribute::Metadata(key.clone().into()),
                value.clone().into(),
            );
        }
        attributes
    }
}

impl UploadTarget {
    /// Uploads a file and returns its location.
    pub async fn upload_file(
        &self,
        key: &str,
        file: &Path,
        content_type: &str,
    ) -> anyhow::Result<String> {
        match self {
            UploadTarget::Directory(root) => {
                let destination = local_path(root, key)?;
                if let Some(parent) = destination.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::copy(file, &destination)
                    .await
                    .with_context(|| format!("write {}", destination.display()))?;
                // The rendered temporary file is private; the stored recording is not.
                use std::os::unix::fs::PermissionsExt;
                tokio::fs::set_permissions(&destination, std::fs::Permissions::from_mode(0o644))
                    .await?;
                Ok(destination.display().to_string())
            }
            UploadTarget::S3(s3) => {
                let store = s3.store()?;
                let path = ObjectPath::from(key);
                let size = tokio::fs::metadata(file).await?.len() as usize;
                let mut reader = tokio::fs::File::open(file).await?;
                if size <= MULTIPART_THRESHOLD {
                    let mut body = Vec::with_capacity(size);
                    reader.read_to_end(&mut body).await?;
                    let options = PutOptions {
                        attributes: s3.attributes(content_type),
                        ..Default::default()
                    };
                    store
                        .put_opts(&path, PutPayload::from(body), options)
                        .await
                        .with_context(|| format!("upload {key}"))?;
                } else {
                    let options = PutMultipartOptions {
                        attributes: s3.attributes(content_type),
                        ..Default::default()
                    };
                    let mut upload = store
                        .put_multipart_opts(&path, options)
                        .await
                        .with_context(|| format!("start multipart upload of {key}"))?;
                    let mut remaining = size;
                    while remaining > 0 {
                        let mut part = vec![0; remaining.min(MULTIPART_THRESHOLD)];
                        reader.read_exact(&mut part).await?;
                        remaining -= part.len();
                        if let Err(error) = upload.put_part(PutPayload::from(part)).await {
                            let _ = upload.abort().await;
                            return Err(error).with_context(|| format!("upload part of {key}"));
                        }
                    }
                    upload
                        .complete()
                        .await
                        .with_context(|| format!("complete multipart upload of {key}"))?;
                }
                Ok(s3.location(key))
            }
        }
    }

    /// Uploads a small in-memory object (the manifest) and returns its location.
    pub async fn upload_bytes(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> anyhow::Result<String> {
        match self {
            UploadTarget::Directory(root) => {
                let destination = local_path(root, key)?;
                if let Some(parent) = destination.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::write(&destination, body).await?;
                Ok(destination.display().to_string())
            }
            UploadTarget::S3(s3) => {
                let options = PutOptions {
                    attributes: s3.attributes(content_type),
                    ..Default::default()
                };
                s3.store()?
                    .put_opts(&ObjectPath::from(key), PutPayload::from(body), options)
                    .await
                    .with_context(|| format!("upload {key}"))?;
                Ok(s3.location(key))
            }
        }
    }
}

/// `root/key`, refusing keys that would leave `root`.
fn local_path(root: &Path, key: &str) -> anyhow::Result<PathBuf> {
    let relative = Path::new(key.trim_start_matches('/'));
    anyhow::ensure!(
        relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_))),
        "file path {key:?} leaves the storage directory"
    );
    Ok(root.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_follows_addressing_style() {
        let mut target = S3Target::from_proto(&proto::S3Upload {
            endpoint: "http://127.0.0.1:3900".into(),
            bucket: "b".into(),
            force_path_style: true,
            ..Default::default()
        });
        assert_eq!(
            target.location("k/x.mp4"),
            "http://127.0.0.1:3900/b/k/x.mp4"
        );
        target.force_path_style = false;
        target.endpoint = String::new();
        assert_eq!(target.location("x.mp4"), "https://b.s3.amazonaws.com/x.mp4");
    }

    #[test]
    fn local_keys_cannot_escape_the_directory() {
        assert!(local_path(Path::new("/tmp/s"), "../etc/passwd").is_err());
        assert_eq!(
            local_path(Path::new("/tmp/s"), "/a/b.mp4").unwrap(),
            Path::new("/tmp/s/a/b.mp4")
        );
    }
}
