//! `LIVEKIT_VERIFY_SSL`: the LiveKit API behind HTTPS with a self-signed certificate, as
//! self-hosted servers often are. Verification on (the default) refuses it; off, the
//! service talks to it.

use std::{net::SocketAddr, sync::Arc};

use meet_recorder::{
    adapters::livekit::LiveKit,
    config::{Config, Source},
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::helpers::{API_KEY, API_SECRET, spawn_emulator, unique};

/// Self-signed for `localhost` and 127.0.0.1, valid until 2126; made once with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500`.
const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUCKHrLLQ2nhbRnY7WceJQkyrGAaIwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNzA0NTIwMVoYDzIxMjYxMTEz
MDQ1MjAxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARCjLRXED9K8wp2e2mZntXVRo3s5BRUds/UpWBejnyppvBxGu3taCSn
iaz44Rfe+nwPtBXKqppLJOn3sKJtzSu/o28wbTAdBgNVHQ4EFgQUHSzNfjPzS7rx
4TlPipXzNOjSneIwHwYDVR0jBBgwFoAUHSzNfjPzS7rx4TlPipXzNOjSneIwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDRwAwRAIgKBjanMe2rhjSTJQMtfLKOzJuBkl1uxMgra7MbvNTC0sCIG0v
cM+ZEMMVdx6LK5+XSznZYUHO/VTxBuLgesFPt1Jb
-----END CERTIFICATE-----
";

/// The certificate's key; it protects nothing but this test.
const PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPVJMcDW7bGTt6iS7
22gM2+QWbrnsqj6KDPmpOlKqnOyhRANCAARCjLRXED9K8wp2e2mZntXVRo3s5BRU
ds/UpWBejnyppvBxGu3taCSniaz44Rfe+nwPtBXKqppLJOn3sKJtzSu/
-----END PRIVATE KEY-----
";

/// A loopback HTTPS front for `backend`: TLS with the self-signed certificate, then the
/// bytes relayed as they are.
async fn https_front(backend: SocketAddr) -> SocketAddr {
    let certificate = CertificateDer::from_pem_slice(CERTIFICATE.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(PRIVATE_KEY.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut client) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    addr
}

fn livekit(api_url: &str, verify: &str) -> LiveKit {
    let config = Config::from_source(&Source::from_pairs([
        ("LIVEKIT_API_URL", api_url),
        ("LIVEKIT_API_KEY", API_KEY),
        ("LIVEKIT_API_SECRET", API_SECRET),
        ("LIVEKIT_VERIFY_SSL", verify),
    ]))
    .expect("valid settings");
    LiveKit::new(&config)
}

#[tokio::test]
async fn a_self_signed_livekit_is_refused_unless_verification_is_off() {
    let emulator = spawn_emulator().await;
    let backend: SocketAddr = emulator
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let front = https_front(backend).await;
    let api_url = format!("https://127.0.0.1:{}", front.port());
    let room = unique("tls");
    emulator.join(&room, "alice").await;

    let verifying = livekit(&api_url, "true");
    let error = verifying
        .active_egresses()
        .await
        .expect_err("an unknown issuer is refused");
    assert_eq!(error.code, None, "{error}");
    verifying
        .update_room_metadata(&room, |metadata| {
            metadata.insert("refused".into(), json!(true));
        })
        .await
        .expect_err("nothing reaches the server");

    // The reference's spelling of false.
    let trusting = livekit(&api_url, "False");
    assert_eq!(trusting.active_egresses().await.unwrap(), vec![]);
    trusting
        .update_room_metadata(&room, |metadata| {
            metadata.insert("through".into(), json!("tls"));
        })
        .await
        .unwrap();
    trusting
        .send_data(&room, &json!({"type": "hello"}))
        .await
        .unwrap();
    let view = emulator.room_view(&room).await;
    let metadata: serde_json::Value =
        serde_json::from_str(view["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata, json!({"through": "tls"}), "{view}");
    assert_eq!(
        view["data_messages"][0]["text"], r#"{"type":"hello"}"#,
        "{view}"
    );
}
