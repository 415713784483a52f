//! Object storage against real backends: the Garage S3 server started by
//! `scripts/test.sh` and a local temporary directory.
//!
//! Each test is written once and run over both backends (see [`backends`]), because
//! the service must not be able to tell them apart: the same key rules, the same range
//! arithmetic, the same errors. Keys are unique per test so tests can share the bucket.
//! The large-object test proves bodies are streamed in bounded chunks rather than
//! collected, and the presign test fetches the URL with a plain HTTP client, as a
//! browser would.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use meet_recorder::adapters::storage::{
    ByteRange, LocalStorage, ObjectStorage, ObjectStream, S3Storage, S3StorageSettings,
    StorageError, local,
};
use secrecy::SecretString;

use crate::helpers::{S3Env, unique};

/// One backend under test, named for assertion messages.
type Backend = (&'static str, Arc<dyn ObjectStorage>);

/// The Garage bucket and a fresh local directory (kept alive by the returned guard).
fn backends() -> (tempfile::TempDir, Vec<Backend>) {
    let env = S3Env::from_env();
    let s3 = S3Storage::new(&S3StorageSettings {
        endpoint: env.endpoint,
        region: env.region,
        bucket: env.bucket,
        access_key_id: env.access_key,
        secret_access_key: SecretString::from(env.secret),
    })
    .expect("S3 storage for Garage");
    let dir = tempfile::tempdir().unwrap();
    let local = LocalStorage::new(dir.path().join("objects"));
    (dir, vec![("s3", Arc::new(s3)), ("local", Arc::new(local))])
}

/// Bytes where every offset differs from its neighbours, so a shifted range shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8) ^ ((i / 251) as u8))
        .collect()
}

async fn body(stream: ObjectStream) -> Vec<u8> {
    let chunks: Vec<Bytes> = stream.body.try_collect().await.expect("read body");
    chunks.concat()
}

fn key(name: &str) -> String {
    format!("{}/{name}", unique("storage-test"))
}

#[tokio::test]
async fn put_then_head_reports_size_and_content_type() {
    let (_dir, backends) = backends();
    for (backend, storage) in backends {
        for (name, content_type) in [("clip.mp4", "video/mp4"), ("meta.json", "application/json")] {
            let key = key(name);
            let before = chrono::Utc::now() - chrono::Duration::seconds(5);
            storage
                .put(&key, Bytes::from(pattern(12_345)), content_type)
                .await
                .unwrap_or_else(|e| panic!("{backend}: put: {e}"));
            let info = storage
                .head(&key)
                .await
                .unwrap_or_else(|e| panic!("{backend}: head: {e}"));
            assert_eq!(info.key, key, "{backend}");
            assert_eq!(info.size, 12_345, "{backend}");
            assert_eq!(
                info.content_type.as_deref(),
                Some(content_type),
                "{backend}"
            );
            let e_tag = info.e_tag.as_deref().unwrap_or_default();
            assert!(
                e_tag.len() > 2 && e_tag.starts_with('"') && e_tag.ends_with('"'),
                "{backend}: e_tag {e_tag:?}"
            );
            assert!(
                info.last_modified >= before
                    && info.last_modified <= chrono::Utc::now() + chrono::Duration::seconds(5),
                "{backend}: last_modified {}",
                info.last_modified
            );
        }
    }
}

#[tokio::test]
async fn a_missing_object_is_not_found() {
    let (_dir, backends) = backends();
    for (backend, storage) in backends {
        let key = key("missing.mp4");
        let head = storage.head(&key).await;
        assert!(
            matches!(head, Err(StorageError::NotFound)),
            "{backend}: head {head:?}"
        );
        let get = storage.get(&key, None).await;
        assert!(
            matches!(get, Err(StorageError::NotFound)),
            "{backend}: get {get:?}"
        );
        let ranged = storage.get(&key, Some(ByteRange::From(0))).await;
        assert!(
            matches!(ranged, Err(StorageError::NotFound)),
            "{backend}: ranged get {ranged:?}"
        );
    }
}

#[tokio::test]
async fn full_get_returns_the_bytes() {
    let (_dir, backends) = backends();
    let data = pattern(300_001);
    for (backend, storage) in backends {
        let key = key("whole.ogg");
        storage
            .put(&key, Bytes::from(data.clone()), "audio/ogg")
            .await
            .unwrap();
        let stream = storage.get(&key, None).await.unwrap();
        assert_eq!(stream.range, None, "{backend}");
        assert_eq!(stream.info.size, data.len() as u64, "{backend}");
        assert_eq!(stream.content_length(), data.len() as u64, "{backend}");
        assert_eq!(
            stream.info.content_type.as_deref(),
            Some("audio/ogg"),
            "{backend}"
        );
        assert!(body(stream).await == data, "{backend}: body differs");
    }
}

#[tokio::test]
async fn every_range_form_is_served_like_http() {
    let (_dir, backends) = backends();
    let data = pattern(1000);
    let bounded = |start, end_inclusive| ByteRange::Bounded {
        start,
        end_inclusive,
    };
    // (range, the inclusive range served)
    let satisfiable = [
        (bounded(10, 19), (10, 19)),
        (bounded(0, 0), (0, 0)),
        (bounded(995, 2000), (995, 999)),
        (ByteRange::From(990), (990, 999)),
        (ByteRange::From(0), (0, 999)),
        (ByteRange::Suffix(5), (995, 999)),
        (ByteRange::Suffix(1000), (0, 999)),
        (ByteRange::Suffix(5000), (0, 999)),
    ];
    for (backend, storage) in backends {
        let key = key("ranges.mp4");
        storage
            .put(&key, Bytes::from(data.clone()), "video/mp4")
            .await
            .unwrap();
        for (range, (start, end)) in satisfiable {
            let stream = storage
                .get(&key, Some(range))
                .await
                .unwrap_or_else(|e| panic!("{backend}: {range:?}: {e}"));
            assert_eq!(stream.range, Some((start, end)), "{backend}: {range:?}");
            assert_eq!(stream.info.size, 1000, "{backend}: {range:?}");
            assert_eq!(
                stream.content_length(),
                end - start + 1,
                "{backend}: {range:?}"
            );
            let bytes = body(stream).await;
            assert_eq!(
                bytes,
                &data[start as usize..=end as usize],
                "{backend}: {range:?}"
            );
        }
        for range in [
            ByteRange::From(1000),
            ByteRange::From(5000),
            bounded(1000, 1010),
        ] {
            let result = storage.get(&key, Some(range)).await;
            assert!(
                matches!(
                    result,
                    Err(StorageError::RangeNotSatisfiable { size: 1000 })
                ),
                "{backend}: {range:?}: {result:?}"
            );
        }
    }
}

#[tokio::test]
async fn deleted_objects_are_gone_and_deleting_twice_is_fine() {
    let (_dir, backends) = backends();
    for (backend, storage) in backends {
        let key = key("doomed.mp4");
        let neighbour = key.replace("doomed", "kept");
        for k in [&key, &neighbour] {
            storage
                .put(k, Bytes::from_static(b"recording"), "video/mp4")
                .await
                .unwrap();
        }
        storage
            .delete(&key)
            .await
            .unwrap_or_else(|e| panic!("{backend}: delete: {e}"));
        let head = storage.head(&key).await;
        assert!(
            matches!(head, Err(StorageError::NotFound)),
            "{backend}: head after delete {head:?}"
        );
        let get = storage.get(&key, None).await;
        assert!(
            matches!(get, Err(StorageError::NotFound)),
            "{backend}: get after delete {get:?}"
        );
        storage
            .delete(&key)
            .await
            .unwrap_or_else(|e| panic!("{backend}: second delete: {e}"));
        storage
            .delete(&key.replace("doomed", "never-existed"))
            .await
            .unwrap_or_else(|e| panic!("{backend}: delete of a never-stored key: {e}"));
        // Only the one object went.
        assert_eq!(storage.head(&neighbour).await.unwrap().size, 9, "{backend}");
    }
}

#[tokio::test]
async fn presigned_urls_fetch_the_object_on_s3_only() {
    let (_dir, backends) = backends();
    let data = pattern(70_000);
    let http = reqwest::Client::new();
    for (backend, storage) in backends {
        let key = key("shared clip.mp4");
        storage
            .put(&key, Bytes::from(data.clone()), "video/mp4")
            .await
            .unwrap();
        let url = storage
            .presigned_get(&key, Duration::from_secs(300))
            .await
            .unwrap_or_else(|e| panic!("{backend}: presign: {e}"));
        match backend {
            "local" => assert_eq!(url, None, "local storage cannot presign"),
            _ => {
                let url = url.unwrap_or_else(|| panic!("{backend}: no presigned URL"));
                let response = http.get(url.clone()).send().await.unwrap();
                assert_eq!(response.status(), 200, "{backend}: GET {url}");
                let fetched = response.bytes().await.unwrap();
                assert!(fetched == data, "{backend}: presigned body differs");

                // The signature is what grants access: without it the bucket refuses.
                let mut unsigned = url.clone();
                unsigned.set_query(None);
                let response = http.get(unsigned).send().await.unwrap();
                assert_eq!(response.status(), 403, "{backend}: unsigned GET");
            }
        }
    }
}

#[tokio::test]
async fn keys_cannot_leave_the_root() {
    let (dir, backends) = backends();
    for (backend, storage) in backends {
        for bad in ["../x", "a/../../x", "/etc/passwd", "a//b"] {
            let put = storage
                .put(bad, Bytes::from_static(b"x"), "text/plain")
                .await;
            assert!(
                matches!(put, Err(StorageError::Other(_))),
                "{backend}: put {bad:?}: {put:?}"
            );
            let head = storage.head(bad).await;
            assert!(
                matches!(head, Err(StorageError::Other(_))),
                "{backend}: head {bad:?}: {head:?}"
            );
            let get = storage.get(bad, None).await;
            assert!(
                matches!(get, Err(StorageError::Other(_))),
                "{backend}: get {bad:?}: {get:?}"
            );
            let delete = storage.delete(bad).await;
            assert!(
                matches!(delete, Err(StorageError::Other(_))),
                "{backend}: delete {bad:?}: {delete:?}"
            );
        }
    }
    // The local root is `<dir>/objects`: `../x` would have landed in `<dir>/x`.
    assert!(!dir.path().join("x").exists(), "a file escaped the root");

    // And a file that really is outside the root stays out of reach.
    std::fs::write(dir.path().join("secret.json"), b"{}").unwrap();
    let local = LocalStorage::new(dir.path().join("objects"));
    let head = local.head("../secret.json").await;
    assert!(matches!(head, Err(StorageError::Other(_))), "{head:?}");
}

#[tokio::test]
async fn large_objects_stream_in_bounded_chunks() {
    const SIZE: usize = 20 * 1024 * 1024;
    const MAX_CHUNK: usize = 8 * 1024 * 1024;
    let (_dir, backends) = backends();
    let data = Bytes::from(pattern(SIZE));
    for (backend, storage) in backends {
        let key = key("long.mp4");
        storage.put(&key, data.clone(), "video/mp4").await.unwrap();
        let stream = storage.get(&key, None).await.unwrap();
        assert_eq!(stream.info.size, SIZE as u64, "{backend}");

        let mut body = stream.body;
        let (mut offset, mut chunks, mut largest) = (0, 0, 0);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.unwrap_or_else(|e| panic!("{backend}: chunk: {e}"));
            assert!(
                chunk.len() <= MAX_CHUNK,
                "{backend}: a {} byte chunk: the body was collected, not streamed",
                chunk.len()
            );
            assert!(
                chunk[..] == data[offset..offset + chunk.len()],
                "{backend}: chunk at {offset} differs"
            );
            offset += chunk.len();
            chunks += 1;
            largest = largest.max(chunk.len());
        }
        assert_eq!(offset, SIZE, "{backend}: body length");
        assert!(chunks >= 3, "{backend}: only {chunks} chunks");
        eprintln!("{backend}: {chunks} chunks, largest {largest} bytes");
        if backend == "local" {
            // Local storage reads in fixed chunks: a larger one means it read ahead.
            assert!(largest <= local::CHUNK_SIZE, "local: {largest} byte chunk");
        }

        // A range deep in the object streams the same way.
        let tail = storage
            .get(&key, Some(ByteRange::From(SIZE as u64 - 9_000_000)))
            .await
            .unwrap();
        assert_eq!(tail.range, Some((SIZE as u64 - 9_000_000, SIZE as u64 - 1)));
        let chunks: Vec<Bytes> = tail.body.try_collect().await.unwrap();
        assert!(chunks.iter().all(|c| c.len() <= MAX_CHUNK), "{backend}");
        assert!(chunks.concat()[..] == data[SIZE - 9_000_000..], "{backend}");

        storage.delete(&key).await.unwrap();
    }
}
