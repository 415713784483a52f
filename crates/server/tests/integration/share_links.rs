//! Share links, end to end: an owner shares a saved recording, and a signed-out visitor
//! (a plain HTTP client with no credentials) opens the page, plays the file with Range
//! requests and downloads it; revoked, guessed and expired links stop working on both
//! paths, only owners and administrators of a saved recording can share it, the token is
//! shown once and stored hashed, and a client guessing tokens is rate limited.

use std::time::Duration;

use meet_recorder::engine::accounts as auth;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::*;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// A room with a participant in LiveKit, named `name`.
async fn live_room_named(app: &TestApp, owner: &TestUser, name: &str) -> Value {
    let reply = app.post("rooms/", owner, json!({ "name": name })).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    app.livekit.join(&id(&reply.body), "participant-share");
    reply.body
}

async fn create_link(app: &TestApp, recording: &str, user: &TestUser, body: Value) -> Reply {
    app.post(&format!("recordings/{recording}/share-links/"), user, body)
        .await
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Status and JSON `code` of an error answer.
async fn json_error(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON error body");
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// Status, content type and text of a page.
async fn html(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let content_type = header(&response, "content-type");
    (status, content_type, response.text().await.unwrap())
}

async fn execute(app: &TestApp, sql: &str, value: i64, id: &str) {
    let result = sqlx::query(sql)
        .bind(value)
        .bind(id)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(result.rows_affected(), 1, "{sql}");
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn parse_iso(value: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn a_signed_out_visitor_watches_streams_and_downloads_through_a_link() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = live_room_named(&app, &host, "<b>Board</b> & \"Co\"").await;
    let recording = app.saved_recording(&host, &room, "screen_recording").await;
    let size = recording["size_bytes"].as_i64().unwrap();
    assert!(size > 100, "{recording}");

    let reply = create_link(&app, &id(&recording), &host, json!({})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(reply.body["url"], format!("http://{}/s/{token}", app.addr));
    assert_eq!(reply.body["revoked"], false);
    assert_eq!(
        reply.body["expires_at"],
        Value::Null,
        "no expiry configured"
    );
    assert!(reply.body["created_at"].is_string());
    let link_id = id(&reply.body);

    // The page: the escaped room name, a player on the media path, a download link.
    let (status, content_type, page) = html(app.visit(&format!("/s/{token}"), &[]).await).await;
    assert_eq!(status, 200, "{page}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    assert!(page.contains("<meta name=\"viewport\""), "{page}");
    assert!(
        page.contains("&lt;b&gt;Board&lt;/b&gt; &amp; &quot;Co&quot;"),
        "{page}"
    );
    assert!(
        !page.contains("<b>Board"),
        "the room name is escaped: {page}"
    );
    assert!(page.contains("<title>&lt;b&gt;Board"), "{page}");
    // A French browser gets the page in French (the web app's other language).
    let (_, _, french) = html(
        app.visit(
            &format!("/s/{token}"),
            &[("accept-language", "fr-FR,fr;q=0.9,en;q=0.8")],
        )
        .await,
    )
    .await;
    assert!(french.contains("<html lang=\"fr\">"), "{french}");
    assert!(french.contains(">Télécharger</a>"), "{french}");
    assert!(french.contains("Enregistré le"), "{french}");
    assert!(
        page.contains(&format!(
            "<video controls preload=\"metadata\" playsinline src=\"/s/{token}/media\""
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"/s/{token}/media?download=1\"")),
        "{page}"
    );
    assert!(!page.contains("<audio"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );

    // A range, as a video element asks for it.
    let response = app
        .visit(&format!("/s/{token}/media"), &[("range", "bytes=0-99")])
        .await;
    assert_eq!(response.status(), 206);
    assert_eq!(
        header(&response, "content-range"),
        format!("bytes 0-99/{size}")
    );
    assert_eq!(header(&response, "content-type"), "video/mp4");
    assert!(header(&response, "content-disposition").starts_with("inline"));
    let head = response.bytes().await.unwrap();
    assert_eq!(head.len(), 100);

    // The whole file.
    let response = app.visit(&format!("/s/{token}/media"), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-length"), size.to_string());
    let whole = response.bytes().await.unwrap();
    assert_eq!(whole.len() as i64, size);
    assert_eq!(&whole[..100], &head[..]);

    // The download.
    let response = app
        .visit(&format!("/s/{token}/media?download=1"), &[])
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        header(&response, "content-disposition").starts_with("attachment; filename="),
        "{}",
        header(&response, "content-disposition")
    );

    // The list shows the link, never its token; the database holds only its hash.
    let reply = app
        .get(
            &format!("recordings/{}/share-links/", id(&recording)),
            &host,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["count"], 1);
    let listed = &reply.body["results"][0];
    assert_eq!(listed["id"], link_id.as_str());
    assert_eq!(listed["revoked"], false);
    assert!(
        listed.get("token").is_none() && listed.get("url").is_none(),
        "{listed}"
    );
    assert!(!reply.body.to_string().contains(&token), "{}", reply.body);
    let stored: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM share_links")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert_eq!(stored, vec![(auth::token_hash(&token),)]);
}

#[tokio::test]
async fn guessed_and_revoked_links_are_not_found_and_transcripts_play_as_audio() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let (room_a, room_b) = (
        live_room_named(&app, &host, "Weekly").await,
        live_room_named(&app, &host, "Standup").await,
    );
    let (screen, transcript) = tokio::join!(
        app.saved_recording(&host, &room_a, "screen_recording"),
        app.saved_recording(&host, &room_b, "transcript"),
    );
    let screen_link = create_link(&app, &id(&screen), &host, json!({})).await;
    assert_eq!(screen_link.status, 201, "{}", screen_link.body);
    let transcript_link = create_link(
        &app,
        &id(&transcript),
        &host,
        json!({"expires_in_days": null}),
    )
    .await;
    assert_eq!(transcript_link.status, 201, "{}", transcript_link.body);
    let screen_token = screen_link.body["token"].as_str().unwrap();
    let transcript_token = transcript_link.body["token"].as_str().unwrap();

    // A transcript is audio.
    let (status, _, page) = html(app.visit(&format!("/s/{transcript_token}"), &[]).await).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Standup"), "{page}");
    assert!(
        page.contains(&format!(
            "<audio controls preload=\"metadata\" playsinline src=\"/s/{transcript_token}/media\""
        )),
        "{page}"
    );
    assert!(!page.contains("<video"), "{page}");
    let response = app
        .visit(&format!("/s/{transcript_token}/media"), &[])
        .await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("audio/"));

    // A recording's links are managed through that recording only.
    let reply = app
        .request(
            reqwest::Method::DELETE,
            &format!(
                "recordings/{}/share-links/{}/",
                id(&screen),
                id(&transcript_link.body)
            ),
            Some(&host),
            None,
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.body["code"], "share-link-not-found");
    let (status, _, _) = html(app.visit(&format!("/s/{transcript_token}"), &[]).await).await;
    assert_eq!(status, 200, "the other recording's link still works");

    // Guessed and malformed tokens.
    for guess in [auth::new_token(), "nope".to_owned()] {
        let (status, content_type, page) = html(app.visit(&format!("/s/{guess}"), &[]).await).await;
        assert_eq!(status, 404, "{page}");
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert!(page.contains("Link not found"), "{page}");
        let (status, code) = json_error(app.visit(&format!("/s/{guess}/media"), &[]).await).await;
        assert_eq!(
            (status.as_u16(), code.as_str()),
            (404, "share-link-not-found")
        );
    }

    // Revoked while a player streams: its next range request fails.
    let media = format!("/s/{screen_token}/media");
    let response = app.visit(&media, &[("range", "bytes=0-99")]).await;
    assert_eq!(response.status(), 206);
    let revoke_path = format!(
        "recordings/{}/share-links/{}/",
        id(&screen),
        id(&screen_link.body)
    );
    let reply = app
        .request(reqwest::Method::DELETE, &revoke_path, Some(&host), None)
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let (status, code) = json_error(app.visit(&media, &[("range", "bytes=100-199")]).await).await;
    assert_eq!(
        (status.as_u16(), code.as_str()),
        (404, "share-link-not-found")
    );
    let (status, code) = json_error(app.visit(&media, &[]).await).await;
    assert_eq!(
        (status.as_u16(), code.as_str()),
        (404, "share-link-not-found")
    );
    let (status, _, page) = html(app.visit(&format!("/s/{screen_token}"), &[]).await).await;
    assert_eq!(status, 404, "{page}");
    assert!(!page.contains("Weekly"), "{page}");

    // Revoking is idempotent and keeps the first revocation time.
    let list_path = format!("recordings/{}/share-links/", id(&screen));
    let first = app.get(&list_path, &host).await.body["results"][0].clone();
    assert_eq!(first["revoked"], true, "{first}");
    assert!(first["revoked_at"].is_string(), "{first}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let reply = app
        .request(reqwest::Method::DELETE, &revoke_path, Some(&host), None)
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let second = app.get(&list_path, &host).await.body["results"][0].clone();
    assert_eq!(first["revoked_at"], second["revoked_at"]);
}

#[tokio::test]
async fn links_expire_on_their_own_and_with_their_recording() {
    let app = spawn_app_with(&[("RECORDING_EXPIRATION_DAYS", "2")], |_| {}).await;
    let host = app.user("host").await;
    let room = live_room_named(&app, &host, "Retro").await;
    let recording = app.saved_recording(&host, &room, "screen_recording").await;
    let recording_id = id(&recording);
    let recording_expiry = parse_iso(&recording["expired_at"]);

    // One way to ask for an expiry: whole days, 1 to 365.
    for bad in [
        json!({"expires_in_days": 0}),
        json!({"expires_in_days": 366}),
        json!({"expires_in_days": "7"}),
        json!({"expires_at": "2099-01-01T00:00:00Z"}),
    ] {
        let reply = create_link(&app, &recording_id, &host, bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }

    let short = create_link(&app, &recording_id, &host, json!({"expires_in_days": 1})).await;
    assert_eq!(short.status, 201, "{}", short.body);
    let expected = now_ms() + 86_400_000;
    let expires_at = parse_iso(&short.body["expires_at"]);
    assert!(
        (expires_at - expected).abs() < 60_000,
        "{expires_at} vs {expected}"
    );
    // Without an expiry, or a longer one, a link still ends with its recording.
    for body in [json!({}), json!({"expires_in_days": 365})] {
        let reply = create_link(&app, &recording_id, &host, body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(parse_iso(&reply.body["expires_at"]), recording_expiry);
    }
    let long = create_link(&app, &recording_id, &host, json!({"expires_in_days": null})).await;
    assert_eq!(long.status, 201, "{}", long.body);

    // The short link's day is over.
    let short_token = short.body["token"].as_str().unwrap();
    execute(
        &app,
        "UPDATE share_links SET expires_at = $1 WHERE id = $2",
        now_ms() - 1_000,
        &id(&short.body),
    )
    .await;
    let (status, _, page) = html(app.visit(&format!("/s/{short_token}"), &[]).await).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("share-link-expired"), "{page}");
    let (status, code) = json_error(app.visit(&format!("/s/{short_token}/media"), &[]).await).await;
    assert_eq!(
        (status.as_u16(), code.as_str()),
        (410, "share-link-expired")
    );
    let long_token = long.body["token"].as_str().unwrap();
    let response = app
        .visit(&format!("/s/{long_token}/media"), &[("range", "bytes=0-9")])
        .await;
    assert_eq!(response.status(), 206, "the other link still works");

    // The recording's retention is over: every link to it is gone.
    execute(
        &app,
        "UPDATE recordings SET created_at = $1 WHERE id = $2",
        now_ms() - 3 * 86_400_000,
        &recording_id,
    )
    .await;
    let (status, _, page) = html(app.visit(&format!("/s/{long_token}"), &[]).await).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("recording-expired"), "{page}");
    let (status, code) = json_error(app.visit(&format!("/s/{long_token}/media"), &[]).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (410, "recording-expired"));
    let reply = create_link(&app, &recording_id, &host, json!({})).await;
    assert_eq!(reply.status, 410, "{}", reply.body);
    assert_eq!(reply.body["code"], "recording-expired");
}

#[tokio::test]
async fn only_owners_and_administrators_share_a_saved_recording() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let recording_id = id(&reply.body["recording"]);
    app.wait_status(&recording_id, &host, "active").await;

    let reply = create_link(&app, &recording_id, &host, json!({})).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.body["code"], "recording-not-ready");

    let stranger = app.user("stranger").await;
    let member = app.user("member").await;
    let administrator = app.user("admin").await;
    for (user, role) in [(&member, "member"), (&administrator, "administrator")] {
        sqlx::query(
            "INSERT INTO recording_accesses (id, recording_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&recording_id)
        .bind(user.user.id.to_string())
        .bind(role)
        .bind(now_ms())
        .execute(app.db.pool())
        .await
        .unwrap();
    }
    let path = format!("recordings/{recording_id}/share-links/");
    let reply = create_link(&app, &recording_id, &stranger, json!({})).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(app.get(&path, &stranger).await.status, 404);
    let reply = create_link(&app, &recording_id, &member, json!({})).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(app.get(&path, &member).await.status, 403);
    let reply = create_link(&app, &recording_id, &administrator, json!({})).await;
    assert_eq!(
        reply.status, 409,
        "past the permission check: {}",
        reply.body
    );
    let reply = app
        .request(reqwest::Method::POST, &path, None, Some(json!({})))
        .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM share_links")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(count.0, 0);
}

#[tokio::test]
async fn a_client_guessing_tokens_is_rate_limited() {
    let app = spawn_app().await;
    for n in 0..20 {
        let path = if n % 2 == 0 {
            format!("/s/{}", auth::new_token())
        } else {
            format!("/s/{}/media", auth::new_token())
        };
        assert_eq!(app.visit(&path, &[]).await.status(), 404, "attempt {n}");
    }
    let response = app
        .visit(&format!("/s/{}/media", auth::new_token()), &[])
        .await;
    assert_eq!(header(&response, "retry-after"), "60");
    let (status, code) = json_error(response).await;
    assert_eq!((status.as_u16(), code.as_str()), (429, "too-many-attempts"));
    let response = app.visit(&format!("/s/{}", auth::new_token()), &[]).await;
    assert_eq!(header(&response, "retry-after"), "60");
    let (status, content_type, page) = html(response).await;
    assert_eq!(status, 429, "{page}");
    assert!(content_type.starts_with("text/html"));
    assert!(page.contains("too-many-attempts"), "{page}");

    // X-Forwarded-For from a peer that is not a trusted proxy is the client's own word:
    // it neither escapes the limit nor spends anyone else's.
    let forged = [("x-forwarded-for", "198.51.100.1")];
    let path = format!("/s/{}/media", auth::new_token());
    assert_eq!(app.visit(&path, &forged).await.status(), 429);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_allowance_and_valid_links_always_work() {
    // The test client connects from 127.0.0.1, standing for the reverse proxy.
    let app = spawn_app_with(
        &[("MEET_RECORDER_TRUSTED_PROXIES", "127.0.0.1/32, ::1")],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording = app.saved_recording(&host, &room, "transcript").await;
    let token = create_link(&app, &id(&recording), &host, json!({}))
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The attacker puts a victim's address first; the proxy appends the real one.
    let attacker = [("x-forwarded-for", "192.0.2.50, 203.0.113.7")];
    for n in 0..20 {
        let path = format!("/s/{}", auth::new_token());
        assert_eq!(
            app.visit(&path, &attacker).await.status(),
            404,
            "attempt {n}"
        );
    }
    let guess = format!("/s/{}/media", auth::new_token());
    assert_eq!(app.visit(&guess, &attacker).await.status(), 429);
    // The address the attacker named is not blocked; the attacker's is.
    let victim = [("x-forwarded-for", "192.0.2.50")];
    assert_eq!(app.visit(&guess, &victim).await.status(), 404);
    // A valid link works even from the blocked address.
    let page = app.visit(&format!("/s/{token}"), &attacker).await;
    assert_eq!(page.status(), 200);
    let media = app.visit(&format!("/s/{token}/media"), &attacker).await;
    assert_eq!(media.status(), 200);
}
