//! The rest of the HTTP API: the reference's `/recordings/` inventory (list, retrieve,
//! delete), and our own accounts, rooms, room accesses, join tokens, `config/`, health,
//! and the error format every endpoint shares.

use std::{collections::BTreeSet, time::Duration};

use livekit_api::access_token::TokenVerifier;
use meet_recorder::{adapters::db::UserRow, engine::accounts as auth};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    app::*,
    helpers::{API_KEY, API_SECRET, unique},
};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

const RECORDING_KEYS: &[&str] = &[
    "id",
    "room",
    "created_at",
    "updated_at",
    "status",
    "mode",
    "layout",
    "options",
    "key",
    "is_expired",
    "expired_at",
    "duration_ms",
    "size_bytes",
    "worker_id",
    "abilities",
    "stop_reason",
];

/// A recording of `owner` that ends at once: a start in a room nobody joined fails
/// (502) and the row is kept as `failed_to_start`.
async fn ended_recording(app: &TestApp, owner: &TestUser) -> Value {
    let room = app.room(owner).await;
    let reply = app
        .start(&room, owner, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    let recording = reply.body["recording"].clone();
    assert_eq!(recording["status"], "failed_to_start");
    recording
}

async fn anonymous(app: &TestApp, method: Method, path: &str) -> Reply {
    app.request(method, path, None, None).await
}

async fn delete(app: &TestApp, path: &str, user: &TestUser) -> Reply {
    app.request(Method::DELETE, path, Some(user), None).await
}

async fn patch(app: &TestApp, path: &str, user: &TestUser, body: Value) -> Reply {
    app.request(Method::PATCH, path, Some(user), Some(body))
        .await
}

/// A request that sends the session cookie instead of a bearer token.
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .http
        .request(method, format!("{}/{path}", app.api))
        .header("cookie", cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

/// An account that signs in with a password.
async fn password_user(app: &TestApp, password: &str) -> UserRow {
    let email = format!("{}@example.com", unique("alice"));
    let hash = auth::hash_password(password).unwrap();
    app.db
        .create_user(&email, "Alice", Some(&hash), "en", "UTC")
        .await
        .unwrap()
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert!(reply.body["detail"].is_string(), "{}", reply.body);
}

// ----- recordings/ -----------------------------------------------------------------

#[tokio::test]
async fn listing_recordings_requires_signing_in() {
    let app = spawn_app().await;
    let reply = anonymous(&app, Method::GET, "recordings/").await;
    assert_error(&reply, 401, "not-authenticated");
    assert_eq!(
        reply.body["detail"],
        "Authentication credentials were not provided."
    );
    assert_eq!(reply.headers["www-authenticate"], "Session");

    // A bearer token nobody issued is no better.
    let forged = TestUser {
        user: app.user("someone").await.user,
        token: format!("{}{}", auth::API_TOKEN_PREFIX, auth::new_token()),
    };
    let reply = app.get("recordings/", &forged).await;
    assert_error(&reply, 401, "not-authenticated");
}

#[tokio::test]
async fn the_recording_list_shows_only_my_recordings_in_the_reference_shape() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let other = app.user("other").await;
    let mine = ended_recording(&app, &host).await;
    let theirs = ended_recording(&app, &other).await;

    let reply = app.get("recordings/", &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        keys(&reply.body),
        set(&["count", "next", "previous", "results"])
    );
    assert_eq!(reply.body["count"], 1);
    assert_eq!(reply.body["next"], Value::Null);
    assert_eq!(reply.body["previous"], Value::Null);
    let results = reply.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let item = &results[0];
    assert_eq!(item["id"], mine["id"]);

    assert_eq!(keys(item), set(RECORDING_KEYS));
    assert_eq!(
        keys(&item["room"]),
        set(&["id", "name", "slug", "access_level"])
    );
    for key in ["created_at", "updated_at"] {
        let at = item[key].as_str().unwrap();
        assert!(at.ends_with('Z'), "{key}: {at}");
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok(),
            "{key}: {at}"
        );
    }
    assert_eq!(item["status"], "failed_to_start");
    assert_eq!(item["mode"], "screen_recording");
    assert_eq!(item["expired_at"], Value::Null, "no expiration configured");
    assert_eq!(item["is_expired"], false);
    assert_eq!(item["abilities"]["retrieve"], true);
    assert_eq!(item["abilities"]["destroy"], true);
    assert_eq!(item, &app.recording(&id(&mine), &host).await);

    let reply = app.get("recordings/", &other).await;
    assert_eq!(reply.body["count"], 1);
    assert_eq!(reply.body["results"][0]["id"], theirs["id"]);

    let stranger = app.user("stranger").await;
    let reply = app.get("recordings/", &stranger).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["count"], 0);
    assert_eq!(reply.body["results"], json!([]));
}

#[tokio::test]
async fn recordings_are_listed_newest_first_and_paginated() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(id(&ended_recording(&app, &host).await));
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let reply = app.get("recordings/", &host).await;
    let listed: Vec<String> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(listed, newest_first);
    let times: Vec<&str> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    let reply = app.get("recordings/?page_size=2", &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["count"], 3);
    let page: Vec<String> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(page, newest_first[..2]);
    assert_eq!(reply.body["previous"], Value::Null);
    let next = reply.body["next"].as_str().expect("a next link").to_owned();
    assert!(next.contains("page=2"), "{next}");
    assert!(next.contains("page_size=2"), "{next}");

    // The next link is absolute and leads to the last recording.
    let reply = app.get(&next, &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["count"], 3);
    let page: Vec<String> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(page, newest_first[2..]);
    assert_eq!(reply.body["next"], Value::Null);
    assert!(reply.body["previous"].is_string(), "{}", reply.body);

    let reply = app.get("recordings/?page=99", &host).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.body["detail"], "Invalid page.");
}

#[tokio::test]
async fn a_recording_is_retrieved_by_its_owner_only() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let recording = ended_recording(&app, &host).await;
    let path = format!("recordings/{}/", id(&recording));

    let reply = anonymous(&app, Method::GET, &path).await;
    assert_error(&reply, 401, "not-authenticated");

    let stranger = app.user("stranger").await;
    let reply = app.get(&path, &stranger).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(
        reply.body["detail"],
        "No Recording matches the given query."
    );

    for missing in [
        "recordings/not-a-uuid/".to_owned(),
        format!("recordings/{}/", uuid::Uuid::new_v4()),
    ] {
        let reply = app.get(&missing, &host).await;
        assert_eq!(reply.status, 404, "{missing}: {}", reply.body);
        assert_eq!(
            reply.body["detail"],
            "No Recording matches the given query."
        );
    }

    let reply = app.get(&path, &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(keys(&reply.body), set(RECORDING_KEYS));
    assert_eq!(reply.body["id"], recording["id"]);
    assert_eq!(reply.body["status"], "failed_to_start");
}

#[tokio::test]
async fn with_an_expiration_a_recording_expires_that_many_days_after_creation() {
    let app = spawn_app_with(&[("RECORDING_EXPIRATION_DAYS", "1")], |_| {}).await;
    let host = app.user("host").await;
    let recording = ended_recording(&app, &host).await;
    let recording = app.recording(&id(&recording), &host).await;

    let at = |key: &str| {
        let text = recording[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {recording}"));
        assert!(text.ends_with('Z'), "{key}: {text}");
        chrono::DateTime::parse_from_rfc3339(text).unwrap()
    };
    assert_eq!(
        at("expired_at") - at("created_at"),
        chrono::TimeDelta::days(1)
    );
    assert_eq!(recording["is_expired"], false);

    let config = app.get("config/", &host).await;
    assert_eq!(config.body["recording"]["expiration_days"], 1);
}

#[tokio::test]
async fn a_recording_is_deleted_only_once_it_has_ended() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let active = id(&reply.body["recording"]);
    let active_path = format!("recordings/{active}/");

    let reply = anonymous(&app, Method::DELETE, &active_path).await;
    assert_error(&reply, 401, "not-authenticated");
    let stranger = app.user("stranger").await;
    let reply = delete(&app, &active_path, &stranger).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(
        reply.body["detail"],
        "No Recording matches the given query."
    );
    let reply = delete(&app, &active_path, &host).await;
    assert_error(&reply, 403, "recording-not-final");
    assert_eq!(app.recording(&active, &host).await["status"], "active");

    // An egress that never gets its start signal ends ABORTED: final, deletable.
    app.inject(json!({"fault": "egress_abort"})).await;
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let aborted = id(&reply.body["recording"]);
    let aborted_path = format!("recordings/{aborted}/");
    app.wait_status(&aborted, &host, "aborted").await;
    let reply = delete(&app, &aborted_path, &host).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(app.get(&aborted_path, &host).await.status, 404);
    let reply = delete(&app, &aborted_path, &host).await;
    assert_eq!(reply.status, 404, "{}", reply.body);

    // A stopped recording is final too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = app
        .stop(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = delete(&app, &active_path, &host).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(app.get(&active_path, &host).await.status, 404);
    assert_eq!(app.recording_count(&id(&room)).await, 0);
}

// ----- accounts ----------------------------------------------------------------------

#[tokio::test]
async fn a_password_sign_in_sets_a_session_cookie_that_sign_out_revokes() {
    let app = spawn_app().await;
    let alice = password_user(&app, "correct horse battery").await;

    for (email, password) in [
        (alice.email.as_str(), "wrong password"),
        ("nobody@example.com", "correct horse battery"),
    ] {
        let reply = app
            .request(
                Method::POST,
                "auth/login/",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_error(&reply, 400, "invalid-credentials");
        assert!(reply.headers.get("set-cookie").is_none());
    }

    let reply = app
        .request(
            Method::POST,
            "auth/login/",
            None,
            Some(json!({"email": alice.email, "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["email"], alice.email);
    let set_cookie = reply.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.starts_with(&format!("{}=", auth::SESSION_COOKIE)),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("; HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    assert!(
        cookie.len() > "meet_recorder_session=".len() + 16,
        "{cookie}"
    );

    let reply = with_cookie(&app, Method::GET, "users/me/", &cookie, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["email"], alice.email);
    assert_eq!(reply.body["id"], alice.id.to_string());

    let reply = with_cookie(&app, Method::POST, "auth/logout/", &cookie, None).await;
    assert_eq!(reply.status, 204);
    let reply = with_cookie(&app, Method::GET, "users/me/", &cookie, None).await;
    assert_error(&reply, 401, "not-authenticated");
}

#[tokio::test]
async fn preferences_are_updated_and_validated() {
    let app = spawn_app().await;
    let alice = password_user(&app, "pw-for-alice").await;
    let reply = app
        .request(
            Method::POST,
            "auth/login/",
            None,
            Some(json!({"email": alice.email, "password": "pw-for-alice"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cookie = reply.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let reply = with_cookie(
        &app,
        Method::PATCH,
        "users/me/",
        &cookie,
        Some(json!({"language": "fr", "timezone": "Europe/Paris"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["language"], "fr");
    assert_eq!(reply.body["timezone"], "Europe/Paris");

    for (bad, code) in [
        (json!({"language": "klingon"}), "invalid-language"),
        (json!({"timezone": "Mars/Olympus_Mons"}), "invalid-timezone"),
    ] {
        let reply = with_cookie(&app, Method::PATCH, "users/me/", &cookie, Some(bad.clone())).await;
        assert_error(&reply, 400, code);
    }
    // Rejected changes changed nothing.
    let reply = with_cookie(&app, Method::GET, "users/me/", &cookie, None).await;
    assert_eq!(reply.body["language"], "fr");
    assert_eq!(reply.body["timezone"], "Europe/Paris");
}

#[tokio::test]
async fn an_api_token_is_shown_once_and_signs_in_as_bearer() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let reply = app
        .post("users/me/tokens/", &alice, json!({"name": "laptop"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["name"], "laptop");
    let token = reply.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mrt_"), "{token}");

    let as_bearer = TestUser {
        user: alice.user.clone(),
        token,
    };
    let reply = app.get("users/me/", &as_bearer).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["email"], alice.user.email);

    let reply = app
        .post("users/me/tokens/", &alice, json!({"name": "  "}))
        .await;
    assert_error(&reply, 400, "invalid-name");
    let reply = app
        .request(
            Method::POST,
            "users/me/tokens/",
            None,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_error(&reply, 401, "not-authenticated");
}

// ----- rooms -------------------------------------------------------------------------

#[tokio::test]
async fn a_room_gets_a_unique_slug_from_its_name_and_is_found_by_slug_or_id() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let reply = app
        .post("rooms/", &host, json!({"name": "Team Meeting"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let first = reply.body;
    assert_eq!(first["slug"], "team-meeting");
    assert_eq!(first["name"], "Team Meeting");
    assert_eq!(first["access_level"], "public");
    assert_eq!(first["role"], "owner");

    let reply = app
        .post("rooms/", &host, json!({"name": "Team Meeting"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let second = reply.body;
    assert_ne!(second["slug"], first["slug"]);
    assert_ne!(second["id"], first["id"]);
    assert!(
        second["slug"].as_str().unwrap().starts_with("team-meeting"),
        "{second}"
    );

    for key in ["slug", "id"] {
        let reply = app
            .get(&format!("rooms/{}/", first[key].as_str().unwrap()), &host)
            .await;
        assert_eq!(reply.status, 200, "{key}: {}", reply.body);
        assert_eq!(reply.body["id"], first["id"]);
    }
    let reply = app.get("rooms/no-such-room/", &host).await;
    assert_error(&reply, 404, "room-not-found");
}

#[tokio::test]
async fn a_restricted_room_is_hidden_from_strangers() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let stranger = app.user("stranger").await;
    let reply = app
        .post(
            "rooms/",
            &host,
            json!({"name": unique("Secret"), "access_level": "restricted"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let room = reply.body;
    for key in ["id", "slug"] {
        let path = format!("rooms/{}/", room[key].as_str().unwrap());
        let reply = app.get(&path, &stranger).await;
        assert_error(&reply, 404, "room-not-found");
        assert_eq!(app.get(&path, &host).await.status, 200);
    }
    let reply = app
        .get(&format!("rooms/{}/token/", id(&room)), &stranger)
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);

    // Once public, the stranger sees it (without a role).
    let reply = patch(
        &app,
        &format!("rooms/{}/", id(&room)),
        &host,
        json!({"access_level": "public"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = app.get(&format!("rooms/{}/", id(&room)), &stranger).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["role"], Value::Null);
    assert_eq!(reply.body["is_administrable"], false);
}

#[tokio::test]
async fn only_privileged_users_change_or_delete_a_room() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let stranger = app.user("stranger").await;
    let room = app.room(&host).await;
    let path = format!("rooms/{}/", id(&room));

    let reply = patch(&app, &path, &host, json!({"name": "Renamed"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["name"], "Renamed");
    assert_eq!(reply.body["slug"], room["slug"], "the slug does not move");

    let reply = patch(&app, &path, &stranger, json!({"name": "Hijacked"})).await;
    assert_error(&reply, 403, "room-privileges-required");
    let reply = patch(&app, &path, &host, json!({"access_level": "secret"})).await;
    assert_error(&reply, 400, "invalid-access-level");
    let reply = delete(&app, &path, &stranger).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(app.get(&path, &host).await.body["name"], "Renamed");

    let reply = delete(&app, &path, &host).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let reply = app.get(&path, &host).await;
    assert_error(&reply, 404, "room-not-found");
    let reply = delete(&app, &path, &host).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[tokio::test]
async fn room_accesses_are_added_by_email_and_keep_an_owner() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let member = app.user("member").await;
    let room = app.room(&host).await;
    let path = format!("rooms/{}/accesses/", id(&room));

    let reply = app
        .post(
            &path,
            &host,
            json!({"email": member.user.email, "role": "member"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["user"]["email"], member.user.email);
    assert_eq!(reply.body["role"], "member");
    let member_access = id(&reply.body);

    let reply = app
        .post(
            &path,
            &host,
            json!({"email": member.user.email, "role": "administrator"}),
        )
        .await;
    assert_error(&reply, 409, "access-exists");
    let reply = app
        .post(
            &path,
            &host,
            json!({"email": "nobody@example.com", "role": "member"}),
        )
        .await;
    assert_error(&reply, 400, "unknown-user");

    let reply = app.get(&path, &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let accesses = reply.body.as_array().unwrap().clone();
    let by_email: BTreeSet<(String, String)> = accesses
        .iter()
        .map(|a| {
            (
                a["user"]["email"].as_str().unwrap().to_owned(),
                a["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        by_email,
        BTreeSet::from([
            (host.user.email.clone(), "owner".to_owned()),
            (member.user.email.clone(), "member".to_owned()),
        ])
    );
    // A member is not privileged: it cannot list accesses.
    assert_eq!(app.get(&path, &member).await.status, 403);

    let owner_access = accesses
        .iter()
        .find(|a| a["role"] == "owner")
        .map(id)
        .unwrap();
    let reply = delete(&app, &format!("{path}{owner_access}/"), &host).await;
    assert_error(&reply, 403, "last-owner");
    assert_eq!(
        app.get(&path, &host).await.body.as_array().unwrap().len(),
        2
    );

    let reply = delete(&app, &format!("{path}{member_access}/"), &host).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(
        app.get(&path, &host).await.body.as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn the_room_list_shows_only_my_rooms() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let other = app.user("other").await;
    let mine: BTreeSet<String> = [app.room(&host).await, app.room(&host).await]
        .iter()
        .map(id)
        .collect();
    let theirs = app.room(&other).await;

    let reply = app.get("rooms/", &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["count"], 2);
    let listed: BTreeSet<String> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(listed, mine);

    let reply = app.get("rooms/", &other).await;
    assert_eq!(reply.body["count"], 1);
    assert_eq!(reply.body["results"][0]["id"], theirs["id"]);

    let reply = anonymous(&app, Method::GET, "rooms/").await;
    assert_error(&reply, 401, "not-authenticated");
}

#[tokio::test]
async fn a_join_token_lets_me_into_that_livekit_room_only() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let reply = app
        .get(
            &format!("rooms/{}/token/", room["slug"].as_str().unwrap()),
            &host,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        keys(&reply.body),
        set(&["url", "room", "token", "may_publish"])
    );
    assert_eq!(reply.body["may_publish"], true);
    assert_eq!(reply.body["room"], room["id"]);
    assert_eq!(reply.body["url"], app.state.livekit.public_url());

    let token = reply.body["token"].as_str().unwrap();
    let claims = TokenVerifier::with_api_key(API_KEY, API_SECRET)
        .verify(token)
        .expect("the token verifies with the LiveKit key and secret");
    assert!(claims.video.room_join);
    assert_eq!(claims.video.room, id(&room));
    assert_eq!(claims.sub, host.user.id.to_string());
    assert!(!claims.video.room_admin);
    assert!(!claims.video.room_record);
    assert!(
        TokenVerifier::with_api_key(API_KEY, "another-secret-that-is-long-enough-for-hs256")
            .verify(token)
            .is_err()
    );

    // Signed out, a public room gives a guest's token (see room_events.rs); a trusted
    // one asks to sign in.
    let trusted = app
        .post(
            "rooms/",
            &host,
            serde_json::json!({"name": "Trusted", "access_level": "trusted"}),
        )
        .await
        .body;
    let reply = anonymous(&app, Method::GET, &format!("rooms/{}/token/", id(&trusted))).await;
    assert_error(&reply, 401, "not-authenticated");
}

// ----- config, health, errors --------------------------------------------------------

#[tokio::test]
async fn config_describes_the_recording_feature() {
    let app = spawn_app().await;
    let user = app.user("user").await;
    let reply = app.get("config/", &user).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let recording = &reply.body["recording"];
    assert_eq!(recording["is_enabled"], true);
    assert_eq!(
        recording["available_modes"],
        json!(["screen_recording", "transcript"])
    );
    assert_eq!(recording["expiration_days"], Value::Null);
    assert_eq!(recording["max_duration"], Value::Null);
}

#[tokio::test]
async fn health_and_readiness_answer_outside_the_api() {
    let app = spawn_app().await;
    for path in ["healthz", "readyz"] {
        let response = app
            .http
            .get(format!("http://{}/{path}", app.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404() {
    let app = spawn_app().await;
    let user = app.user("user").await;
    for reply in [
        app.get("no-such-endpoint/", &user).await,
        anonymous(&app, Method::GET, "recordings/extra/segments/").await,
        anonymous(&app, Method::POST, "nothing/here/").await,
    ] {
        assert_error(&reply, 404, "not-found");
    }
}

#[tokio::test]
async fn every_error_body_has_a_detail_and_a_code() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let stranger = app.user("stranger").await;
    let room = app.room(&host).await;
    let room_path = format!("rooms/{}/", id(&room));

    let raw = |path: &str, body: Vec<u8>| {
        app.http
            .post(format!("{}/{path}", app.api))
            .bearer_auth(&host.token)
            .header("content-type", "application/json")
            .body(body)
    };
    let mut replies = vec![
        (
            "anonymous",
            anonymous(&app, Method::GET, "recordings/").await,
        ),
        ("unknown path", app.get("nope/", &host).await),
        ("unknown room", app.get("rooms/nope/", &host).await),
        (
            "unknown recording",
            app.get("recordings/nope/", &host).await,
        ),
        ("invalid page", app.get("recordings/?page=99", &host).await),
        (
            "invalid page number",
            app.get("rooms/?page=zero", &host).await,
        ),
        (
            "not privileged",
            patch(&app, &room_path, &stranger, json!({"name": "x"})).await,
        ),
        (
            "unknown field",
            app.post("rooms/", &host, json!({"name": "x", "colour": "red"}))
                .await,
        ),
        ("missing field", app.post("rooms/", &host, json!({})).await),
        (
            "wrong credentials",
            app.request(
                Method::POST,
                "auth/login/",
                None,
                Some(json!({"email": "a@example.com", "password": "b"})),
            )
            .await,
        ),
        ("nothing to stop", app.stop(&room, &host, json!({})).await),
        (
            "bad start body",
            app.start(&room, &host, json!({"mode": "video"})).await,
        ),
        (
            "webhook without authorization",
            app.request(
                Method::POST,
                "rooms/webhooks-livekit/",
                None,
                Some(json!({})),
            )
            .await,
        ),
    ];
    for (what, response) in [
        ("malformed JSON", raw("rooms/", b"{not json".to_vec())),
        ("oversized JSON", raw("rooms/", vec![b' '; 100 * 1024])),
    ] {
        let response = response.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        replies.push((
            what,
            Reply {
                status,
                body: serde_json::from_str(&text).unwrap_or(Value::Null),
                headers,
            },
        ));
    }
    for (what, reply) in &replies {
        assert!(
            reply.status.is_client_error(),
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        assert!(
            reply.body["detail"].is_string() && reply.body["code"].is_string(),
            "{what}: {} {}",
            reply.status,
            reply.body
        );
    }
}

/// Rejections produced before a handler runs (wrong method, unreadable query string,
/// oversized webhook) must use the same error format as the handlers.
#[tokio::test]
async fn rejections_outside_the_handlers_use_the_error_format_too() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let send = |method: Method, path: &str, body: Vec<u8>| {
        app.http
            .request(method, format!("{}/{path}", app.api))
            .bearer_auth(&host.token)
            .body(body)
            .send()
    };
    let mut failures = Vec::new();
    for (what, response) in [
        ("wrong method", send(Method::PUT, "rooms/", Vec::new())),
        (
            "duplicated query parameter",
            send(Method::GET, "rooms/?page=1&page=2", Vec::new()),
        ),
        (
            "oversized webhook",
            send(
                Method::POST,
                "rooms/webhooks-livekit/",
                vec![b' '; 70 * 1024],
            ),
        ),
    ] {
        let response = response.await.unwrap();
        let status = response.status();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
        assert!(status.is_client_error(), "{what}: {status}");
        if !(body["detail"].is_string() && body["code"].is_string()) {
            failures.push(format!("{what}: {status} {body}"));
        }
    }
    // Rejections made by the framework (method, query string, body size) use the
    // application's error format too.
    assert!(failures.is_empty(), "{failures:#?}");
}
