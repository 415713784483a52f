//! Completion: an ended egress becomes a saved recording and an email to its owners,
//! through the durable job queue, whatever is lost, duplicated or interrupted.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{app::*, helpers::eventually};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_ended_recording_is_confirmed_saved_and_emailed_once() {
    let app = spawn_app_with(
        &[(
            "RECORDING_DOWNLOAD_BASE_URL",
            "https://meet.example.com/recording",
        )],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording_id = app.record(&host, &room, "screen_recording").await;
    let recording = app
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    assert!(recording["size_bytes"].as_i64().unwrap() > 0);
    let emails = app.sent_emails();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0].contains(&host.user.email));
    assert!(emails[0].contains(&format!(
        "https://meet.example.com/recording/{recording_id}"
    )));
}

#[tokio::test]
async fn a_failed_egress_emails_its_owner_and_frees_the_room() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "egress_failure", "after_ms": 200}))
        .await;
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    let recording_id = id(&reply.body["recording"]);
    app.wait_status(&recording_id, &host, "failed").await;
    eventually("failure email", Duration::from_secs(10), || async {
        let emails = app.sent_emails();
        (emails.len() == 1).then_some(())
    })
    .await;
    assert!(
        !app.sent_emails()[0].contains(&format!("/{recording_id}")),
        "no link to a missing file"
    );
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 201);
}

#[tokio::test]
async fn a_file_that_never_appears_fails_the_recording() {
    let elsewhere = tempfile::tempdir().unwrap();
    let elsewhere = elsewhere.path().display().to_string();
    let app = spawn_app_with(&[("MEET_RECORDER_STORAGE_DIR", &elsewhere)], |_| {}).await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording_id = app.record(&host, &room, "transcript").await;
    let recording = app.wait_status(&recording_id, &host, "failed").await;
    assert_eq!(recording["abilities"]["destroy"], true);
    eventually("failure email", Duration::from_secs(10), || async {
        (app.sent_emails().len() == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn dropped_webhooks_are_made_up_for_by_reconciliation() {
    let app = spawn_app_with(
        &[
            ("MEET_RECORDER_RECONCILE_INTERVAL_S", "1"),
            ("MEET_RECORDER_RECONCILE_GRACE_S", "0"),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "webhook", "action": "drop", "events": ["egress_ended"]}))
        .await;
    let recording_id = app.record(&host, &room, "screen_recording").await;
    let recording = app
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    assert!(recording["size_bytes"].as_i64().unwrap() > 0);
    assert_eq!(app.sent_emails().len(), 1);
}

#[tokio::test]
async fn a_lost_failure_webhook_no_longer_locks_the_room() {
    let app = spawn_app_with(
        &[
            ("MEET_RECORDER_RECONCILE_INTERVAL_S", "1"),
            ("MEET_RECORDER_RECONCILE_GRACE_S", "0"),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "webhook", "action": "drop"}))
        .await;
    app.inject(json!({"fault": "egress_failure", "after_ms": 200}))
        .await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    app.wait_status(&id(&reply.body["recording"]), &host, "failed")
        .await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "the room is free: {}", reply.body);
}

#[tokio::test]
async fn a_restart_between_the_state_change_and_the_email_sends_it_once() {
    // The first instance runs no jobs: it stops with the work queued in the database.
    let mut first = spawn_app_with(&[("MEET_RECORDER_RUN_JOBS", "false")], |_| {}).await;
    let host = first.user("host").await;
    let room = first.live_room(&host).await;
    let recording_id = first.record(&host, &room, "transcript").await;
    assert!(first.livekit.settle(Duration::from_secs(30)).await);
    let recording = first.recording(&recording_id, &host).await;
    assert_eq!(
        recording["status"], "stopped",
        "the confirmation is queued, not run"
    );
    let depth = first.db.queue_depth().await.unwrap();
    assert_eq!(depth.queued, 1);

    // A second instance on the same database and storage finishes the work.
    let database_url =
        secrecy::ExposeSecret::expose_secret(&first.state.config.database_url).to_owned();
    let storage_dir = first.state.config.storage_dir.display().to_string();
    let mail_dir = first.state.config.email.file_path.display().to_string();
    first.stop_service();
    let second = spawn_app_with(
        &[
            ("DATABASE_URL", &database_url),
            ("MEET_RECORDER_STORAGE_DIR", &storage_dir),
            ("EMAIL_FILE_PATH", &mail_dir),
        ],
        |_| {},
    )
    .await;
    second
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    let emails: Vec<_> = std::fs::read_dir(&mail_dir).unwrap().collect();
    assert_eq!(emails.len(), 1, "sent once");
    drop(first);
}

#[tokio::test]
async fn two_runners_never_claim_the_same_job() {
    let app = spawn_app_with(&[("MEET_RECORDER_RUN_JOBS", "false")], |_| {}).await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    for n in 0..60 {
        app.db
            .on(&mut *conn)
            .enqueue_job("test_job", &json!({ "n": n }), None, 3)
            .await
            .unwrap();
    }
    drop(conn);
    // A second connection pool on the same database, as a second instance would have.
    let other = meet_recorder::adapters::db::Db::connect(secrecy::ExposeSecret::expose_secret(
        &app.state.config.database_url,
    ))
    .await
    .unwrap();
    let claim_all = |db: meet_recorder::adapters::db::Db, worker: &'static str| async move {
        let mut claimed = Vec::new();
        while let Some(job) = db.claim_job(worker, 60_000).await.unwrap() {
            claimed.push(job.id);
            tokio::task::yield_now().await;
        }
        claimed
    };
    let (a, b) = tokio::join!(
        tokio::spawn(claim_all(app.db.clone(), "runner-a")),
        tokio::spawn(claim_all(other, "runner-b"))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all: Vec<_> = a.iter().chain(b.iter()).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), a.len() + b.len(), "no job claimed twice");
    assert_eq!(all.len(), 60, "every job claimed");
}

#[tokio::test]
async fn a_dead_job_is_kept_and_can_be_retried() {
    let app = spawn_app_with(&[("MEET_RECORDER_RUN_JOBS", "false")], |_| {}).await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    app.db
        .on(&mut *conn)
        .enqueue_job(
            "no_such_kind",
            &json!({"recording_id": uuid::Uuid::new_v4()}),
            None,
            2,
        )
        .await
        .unwrap();
    drop(conn);
    app.state.engine.jobs.drain().await.unwrap();
    let dead = app.db.jobs(true, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("unknown job kind")
    );
    assert!(app.db.retry_job(dead[0].id).await.unwrap());
    assert_eq!(app.db.queue_depth().await.unwrap().queued, 1);
}

#[tokio::test]
async fn a_recording_uploaded_to_s3_is_confirmed_there() {
    let s3 = crate::helpers::S3Env::from_env();
    let app = spawn_app_with(
        &[
            ("AWS_S3_ENDPOINT_URL", &s3.endpoint),
            ("AWS_S3_ACCESS_KEY_ID", &s3.access_key),
            ("AWS_S3_SECRET_ACCESS_KEY", &s3.secret),
            ("AWS_S3_REGION_NAME", &s3.region),
            ("AWS_STORAGE_BUCKET_NAME", &s3.bucket),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording_id = app.record(&host, &room, "screen_recording").await;
    let recording = app
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    let key = recording["key"].as_str().unwrap();
    let head =
        object_store::ObjectStoreExt::head(&s3.store(), &object_store::path::Path::from(key))
            .await
            .expect("the file is in the bucket");
    assert_eq!(recording["size_bytes"].as_i64().unwrap(), head.size as i64);
    assert!(
        !app.state.config.storage_dir.join(key).exists(),
        "nothing written locally"
    );

    // Deleting the recording deletes the object too.
    let reply = app
        .request(
            reqwest::Method::DELETE,
            &format!("recordings/{recording_id}/"),
            Some(&host),
            None,
        )
        .await;
    assert_eq!(reply.status, 204);
    assert!(
        object_store::ObjectStoreExt::head(&s3.store(), &object_store::path::Path::from(key))
            .await
            .is_err()
    );
}

/// A transcription service on loopback that records what it receives.
async fn fake_transcription_service() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, Value)>>>,
) {
    use axum::{Json, Router, extract::State, http::HeaderMap, routing::post};
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, Value)>>>;
    let seen: Seen = Default::default();
    let app = Router::new()
        .route(
            "/api/v2/tasks/",
            post(
                |State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    seen.lock().unwrap().push((auth, body));
                    Json(json!({"job_id": "transcription-job-1"}))
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v2/tasks/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn a_transcript_is_handed_off_and_the_callback_records_the_result() {
    let (endpoint, seen) = fake_transcription_service().await;
    let app = spawn_app_with(
        &[
            ("SUMMARY_SERVICE_ENDPOINT", &endpoint),
            ("SUMMARY_SERVICE_API_TOKEN", "to-the-service"),
            ("SUMMARY_SERVICE_WEBHOOK_API_TOKEN", "from-the-service"),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording_id = app.record(&host, &room, "transcript").await;
    let (auth, payload) = eventually("hand-off", Duration::from_secs(30), || async {
        let seen = seen.lock().unwrap().first().cloned();
        if seen.is_none() {
            for job in app.db.jobs(false, 10).await.unwrap() {
                eprintln!(
                    "job {} {} {} {:?}",
                    job.kind, job.status, job.attempts, job.last_error
                );
            }
        }
        seen
    })
    .await;
    assert_eq!(auth.as_deref(), Some("Bearer to-the-service"));
    assert_eq!(payload["user_email"], host.user.email.as_str());
    assert!(
        payload["cloud_storage_url"]
            .as_str()
            .unwrap()
            .contains(&recording_id)
    );
    assert!(
        payload["push_to_docs_config"]["title"]
            .as_str()
            .unwrap()
            .starts_with("Meeting \"")
    );
    app.wait_status(&recording_id, &host, "notification_succeeded")
        .await;

    let hook = format!("{}/recordings/external-process-hook/", app.api);
    let post = |token: &'static str, body: Value| {
        app.http.post(&hook).bearer_auth(token).json(&body).send()
    };
    assert_eq!(
        post("wrong", json!({"job_id": "transcription-job-1"}))
            .await
            .unwrap()
            .status(),
        401
    );
    let missing = post("from-the-service", json!({"type": "transcript"}))
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["job_id"][0],
        "This field is required."
    );
    let unknown = post(
        "from-the-service",
        json!({"job_id": "nope", "type": "transcript", "status": "success"}),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 200);
    // Handed off: the owners see the transcript being made.
    let recording = app.recording(&recording_id, &host).await;
    assert_eq!(
        recording["transcript"]["state"], "processing",
        "{recording}"
    );
    assert_eq!(recording["transcript"]["url"], Value::Null);
    let bad_url = post(
        "from-the-service",
        json!({"job_id": "transcription-job-1", "type": "transcript", "status": "success", "url": "javascript:alert(1)"}),
    )
    .await
    .unwrap();
    assert_eq!(bad_url.status(), 400);
    assert_eq!(
        bad_url.json::<Value>().await.unwrap()["code"],
        "invalid-url"
    );
    assert_eq!(
        app.recording(&recording_id, &host).await["status"],
        "notification_succeeded",
        "a refused callback changes nothing"
    );
    let done = post(
        "from-the-service",
        json!({"job_id": "transcription-job-1", "type": "transcript", "status": "success", "url": "https://docs.example.org/d/transcript-1"}),
    )
    .await
    .unwrap();
    assert_eq!(done.status(), 200);
    let recording = app
        .wait_status(&recording_id, &host, "external_process_successful")
        .await;
    assert_eq!(recording["transcript"]["state"], "ready", "{recording}");
    assert_eq!(
        recording["transcript"]["url"],
        "https://docs.example.org/d/transcript-1"
    );
}

#[tokio::test]
async fn metrics_report_recordings_jobs_and_webhooks() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording_id = app.record(&host, &room, "transcript").await;
    app.wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    let text = app
        .http
        .get(format!("http://{}/metrics", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("meet_recorder_recordings{status=\"notification_succeeded\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("meet_recorder_jobs{status=\"dead\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("meet_recorder_webhooks_total{result=\"processed\"}"),
        "{text}"
    );
    assert!(
        text.contains("meet_recorder_stop_to_saved_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains("meet_recorder_saved_to_notified_seconds_count 1"),
        "{text}"
    );
}

/// A TCP front for the SMTP server that the test can switch on: while off it drops every
/// connection (the mail server is down); once on it forwards to the real server. The
/// front keeps its port for the whole test, so no other process can take it.
async fn switchable_smtp_front() -> (u16, tokio::sync::watch::Sender<Option<u16>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (target, target_rx) = tokio::sync::watch::channel::<Option<u16>>(None);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let Some(backend) = *target_rx.borrow() else {
                drop(inbound);
                continue;
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) =
                    tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (port, target)
}

#[tokio::test]
async fn the_owner_gets_an_email_in_a_real_smtp_server_even_if_it_was_down_for_a_while() {
    let (port, switch_on) = switchable_smtp_front().await;
    let port_text = port.to_string();
    let app = spawn_app_with(
        &[
            ("EMAIL_BACKEND", "smtp"),
            ("EMAIL_HOST", "127.0.0.1"),
            ("EMAIL_PORT", &port_text),
            ("EMAIL_TIMEOUT", "2"),
            ("EMAIL_FROM", "recordings@example.com"),
            (
                "RECORDING_DOWNLOAD_BASE_URL",
                "https://meet.example.com/recording",
            ),
            ("MEET_RECORDER_JOB_RETRY_BASE_MS", "200"),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording_id = app.record(&host, &room, "screen_recording").await;
    // The SMTP server is down: the notification is retried, the recording stays saved.
    app.wait_status(&recording_id, &host, "saved").await;
    eventually("a failed attempt", Duration::from_secs(20), || async {
        let jobs = app.db.jobs(false, 10).await.unwrap();
        jobs.iter()
            .any(|j| j.kind == "notify_owners" && j.attempts >= 1 && j.last_error.is_some())
            .then_some(())
    })
    .await;

    let smtp = crate::smtp::SmtpServer::start().await;
    switch_on.send(Some(smtp.port())).unwrap();
    app.wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    let messages = smtp.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "delivered once");
    let email = crate::smtp::ParsedEmail::parse(&messages[0]);
    assert_eq!(
        email.header("To").as_deref(),
        Some(host.user.email.as_str())
    );
    let text = email.part("text/plain").unwrap();
    let link = format!("https://meet.example.com/recording/{recording_id}");
    assert!(text.contains(&link), "{text}");
    assert!(email.part("text/html").unwrap().contains(&link));
    assert!(
        email
            .decoded_header("Subject")
            .unwrap()
            .contains("Your recording is ready"),
        "{:?}",
        email.decoded_header("Subject")
    );
    assert!(text.contains(room["name"].as_str().unwrap()), "{text}");
}

#[tokio::test]
async fn a_job_whose_runner_died_is_taken_back_when_its_lease_expires() {
    let app = spawn_app_with(&[("MEET_RECORDER_RUN_JOBS", "false")], |_| {}).await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    app.db
        .on(&mut *conn)
        .enqueue_job("test_job", &json!({}), None, 3)
        .await
        .unwrap();
    drop(conn);
    let claimed = app
        .db
        .claim_job("runner-that-dies", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.db
            .claim_job("other", 60_000)
            .await
            .unwrap()
            .map(|j| j.id),
        None
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(app.db.requeue_stalled().await.unwrap(), 1);
    let again = app.db.claim_job("other", 60_000).await.unwrap().unwrap();
    assert_eq!(again.id, claimed.id);
    assert_eq!(again.attempts, 2);
}

#[tokio::test]
async fn a_running_jobs_heartbeat_keeps_it_and_only_its_runner_can_renew_it() {
    let app = spawn_app_with(&[("MEET_RECORDER_RUN_JOBS", "false")], |_| {}).await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    app.db
        .on(&mut *conn)
        .enqueue_job("test_job", &json!({}), None, 3)
        .await
        .unwrap();
    drop(conn);
    let claimed = app.db.claim_job("alive", 50).await.unwrap().unwrap();
    // Someone else's heartbeat changes nothing; the holder's keeps the job.
    app.db
        .renew_job_lease(claimed.id, "impostor", 60_000)
        .await
        .unwrap();
    app.db
        .renew_job_lease(claimed.id, "alive", 60_000)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.db.requeue_stalled().await.unwrap(), 0);
    assert!(app.db.claim_job("other", 60_000).await.unwrap().is_none());
}
