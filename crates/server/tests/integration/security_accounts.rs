//! Accounts under attack (issue 13, points 5, 8, 11 and 12), on the database the suite
//! runs on: sign-in limits per address and per account, and attempts per address and
//! minute (429 with `Retry-After`), the same
//! password verification for unknown emails, API tokens that expire and are listed and
//! revoked (API and CLI), a room that never loses its last owner to concurrent removals,
//! and pages far past the end that answer 4xx, never 500.

use std::process::Output;

use futures::future::join_all;
use meet_recorder::{
    adapters::db::UserRow,
    engine::accounts::{self as auth, ACCOUNT_MAX_FAILURES, ADDRESS_MAX_FAILURES, LOGIN_WINDOW},
};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::{app::*, helpers::unique};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert!(reply.body["detail"].is_string(), "{}", reply.body);
}

/// An app behind a "reverse proxy": the test client (127.0.0.1) is trusted, so each
/// request's `X-Forwarded-For` is its client address. Attempts per minute are not limited
/// here, so the failure limits are seen alone.
async fn app_behind_proxy() -> TestApp {
    spawn_app_with(
        &[
            ("MEET_RECORDER_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("MEET_RECORDER_SIGN_IN_ATTEMPTS_PER_MINUTE", "1000"),
        ],
        |_| {},
    )
    .await
}

async fn password_user(app: &TestApp, password: &str) -> UserRow {
    let email = format!("{}@example.com", unique("signin"));
    let hash = auth::hash_password(password).unwrap();
    app.db
        .create_user(&email, "Signs In", Some(&hash), "en", "UTC")
        .await
        .unwrap()
}

/// `POST auth/login/` from the client address `from`.
async fn login(app: &TestApp, from: &str, email: &str, password: &str) -> Reply {
    let response = app
        .http
        .post(format!("{}/auth/login/", app.api))
        .header("x-forwarded-for", from)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request reaches the app");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

// ----- sign-in (point 5) ------------------------------------------------------------

#[tokio::test]
async fn an_address_that_fails_too_often_gets_429_while_other_addresses_still_sign_in() {
    let app = app_behind_proxy().await;
    let alice = password_user(&app, "alice's password").await;
    // Guessing across many accounts (credential stuffing) from one address.
    for n in 0..ADDRESS_MAX_FAILURES {
        let email = format!("{}@example.com", unique("guess"));
        let reply = login(&app, "203.0.113.7", &email, "123456").await;
        assert_error(&reply, 400, "invalid-credentials");
        assert!(reply.headers.get("retry-after").is_none(), "attempt {n}");
    }
    // Now even the right password is refused from there, without being checked.
    let before = app.state.login_guard.clone().verifications();
    let reply = login(&app, "203.0.113.7", &alice.email, "alice's password").await;
    assert_error(&reply, 429, "too-many-login-attempts");
    assert!(reply.headers.get("set-cookie").is_none());
    let wait = retry_after(&reply);
    assert!(
        (1..=LOGIN_WINDOW.as_secs()).contains(&wait),
        "Retry-After: {wait}"
    );
    assert_eq!(reply.body["retry_after"], wait);
    assert_eq!(app.state.login_guard.clone().verifications(), before);

    // Alice, from her own address, signs in.
    let reply = login(&app, "198.51.100.20", &alice.email, "alice's password").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.headers.get("set-cookie").is_some());
}

#[tokio::test]
async fn an_account_guessed_from_many_addresses_gets_429_and_other_accounts_do_not() {
    let app = app_behind_proxy().await;
    let alice = password_user(&app, "alice's password").await;
    let bob = password_user(&app, "bob's password").await;
    // Spread so that no single address reaches its own limit.
    for n in 0..ACCOUNT_MAX_FAILURES {
        let from = format!("10.20.{}.{}", n / 200, n % 200 + 1);
        let reply = login(&app, &from, &alice.email, &format!("guess {n}")).await;
        assert_error(&reply, 400, "invalid-credentials");
    }
    // Case and spaces do not make another account.
    let shouted = format!(" {} ", alice.email.to_uppercase());
    let reply = login(&app, "192.0.2.99", &shouted, "alice's password").await;
    assert_error(&reply, 429, "too-many-login-attempts");
    assert!(retry_after(&reply) >= 1);
    let reply = login(&app, "192.0.2.99", &bob.email, "bob's password").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn successful_sign_ins_do_not_count_against_the_limits() {
    let app = app_behind_proxy().await;
    let alice = password_user(&app, "alice's password").await;
    for n in 0..ADDRESS_MAX_FAILURES + 5 {
        let reply = login(&app, "203.0.113.50", &alice.email, "alice's password").await;
        assert_eq!(reply.status, 200, "{n}: {}", reply.body);
    }
    let reply = login(&app, "203.0.113.50", &alice.email, "wrong").await;
    assert_error(&reply, 400, "invalid-credentials");
}

#[tokio::test]
async fn an_address_signing_in_again_and_again_gets_429_once_its_attempts_are_used() {
    let app = spawn_app_with(
        &[
            ("MEET_RECORDER_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("MEET_RECORDER_SIGN_IN_ATTEMPTS_PER_MINUTE", "3"),
        ],
        |_| {},
    )
    .await;
    let alice = password_user(&app, "alice's password").await;
    for n in 0..3 {
        let reply = login(&app, "203.0.113.60", &alice.email, "alice's password").await;
        assert_eq!(reply.status, 200, "{n}: {}", reply.body);
    }
    // The fourth, valid as it is, costs no password verification: it is refused first.
    let before = app.state.login_guard.clone().verifications();
    let reply = login(&app, "203.0.113.60", &alice.email, "alice's password").await;
    assert_error(&reply, 429, "too-many-login-attempts");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("from your address"),
        "{}",
        reply.body
    );
    // One attempt comes back every 20 s.
    assert!(
        (1..=20).contains(&retry_after(&reply)),
        "{}",
        retry_after(&reply)
    );
    assert_eq!(app.state.login_guard.clone().verifications(), before);
    // Another address still signs in.
    let reply = login(&app, "203.0.113.61", &alice.email, "alice's password").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn an_unknown_email_costs_the_same_password_verification_as_a_known_one() {
    let app = app_behind_proxy().await;
    let alice = password_user(&app, "alice's password").await;
    // An account without a password (created by an administrator, or elsewhere).
    let tokens_only = app.user("no-password").await;
    let guard = app.state.login_guard.clone();
    let before = guard.verifications();
    let attempts = [
        (alice.email.clone(), "wrong"),
        (alice.email.clone(), "alice's password"),
        (format!("{}@example.com", unique("nobody")), "wrong"),
        (
            format!("{}@example.com", unique("nobody")),
            "alice's password",
        ),
        (tokens_only.user.email.clone(), "anything"),
    ];
    for (n, (email, password)) in attempts.iter().enumerate() {
        let from = format!("198.51.100.{}", n + 1);
        let reply = login(&app, &from, email, password).await;
        let expected = if n == 1 { 200 } else { 400 };
        assert_eq!(reply.status, expected, "{email}: {}", reply.body);
        // Exactly one verification each, whether the account exists or not.
        assert_eq!(guard.verifications(), before + n as u64 + 1, "{email}");
    }
}

#[tokio::test]
async fn thirty_two_concurrent_sign_ins_are_all_answered() {
    let app = app_behind_proxy().await;
    let alice = password_user(&app, "alice's password").await;
    let replies = join_all((0..32).map(|n| {
        let email = alice.email.clone();
        let app = &app;
        async move {
            let password = if n % 2 == 0 {
                "alice's password"
            } else {
                "wrong"
            };
            login(app, &format!("203.0.113.{}", n + 1), &email, password).await
        }
    }))
    .await;
    for (n, reply) in replies.iter().enumerate() {
        let expected = if n % 2 == 0 { 200 } else { 400 };
        assert_eq!(reply.status, expected, "{n}: {}", reply.body);
    }
    let health = app
        .http
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

// ----- API tokens (point 8) -----------------------------------------------------------

/// A request signed with the API token `token`.
async fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> Reply {
    let response = app
        .http
        .request(method, format!("{}/{path}", app.api))
        .bearer_auth(token)
        .send()
        .await
        .expect("request reaches the app");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
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
async fn api_tokens_are_listed_without_secrets_and_revoked_by_their_owner_only() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;

    let reply = app
        .post(
            "users/me/tokens/",
            &alice,
            json!({"name": "ci", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.body.clone();
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(auth::API_TOKEN_PREFIX));
    assert_eq!(created["name"], "ci");
    assert!(created["last_used_at"].is_null());
    let expires = parse_iso(&created["expires_at"]);
    let thirty_days = 30 * 86_400_000;
    assert!(
        (expires - now_ms() - thirty_days).abs() < 60_000,
        "{created}"
    );
    for days in [0, -1, 3651] {
        let reply = app
            .post(
                "users/me/tokens/",
                &alice,
                json!({"name": "x", "expires_in_days": days}),
            )
            .await;
        assert_error(&reply, 400, "invalid-expiry");
    }

    let reply = app.get("users/me/tokens/", &alice).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let tokens = reply.body.as_array().unwrap().clone();
    assert_eq!(tokens.len(), 2, "{}", reply.body);
    assert_eq!(tokens[0]["id"], created["id"], "newest first");
    assert_eq!(tokens[1]["name"], "test");
    assert!(tokens[1]["expires_at"].is_null());
    for token in &tokens {
        let keys: Vec<&str> = token
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys.clone();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["created_at", "expires_at", "id", "last_used_at", "name"]
        );
    }
    let text = reply.body.to_string();
    assert!(!text.contains(&secret) && !text.contains(&alice.token));
    // Bob sees only his own.
    let reply = app.get("users/me/tokens/", &bob).await;
    assert_eq!(reply.body.as_array().unwrap().len(), 1);

    // A use is recorded, at most once a minute.
    let reply = bearer(&app, Method::GET, "users/me/", &secret).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let listed = |reply: &Reply| {
        reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == created["id"])
            .cloned()
            .unwrap()
    };
    let first_use = listed(&app.get("users/me/tokens/", &alice).await)["last_used_at"].clone();
    assert!(
        (parse_iso(&first_use) - now_ms()).abs() < 60_000,
        "{first_use}"
    );
    let reply = bearer(&app, Method::GET, "users/me/", &secret).await;
    assert_eq!(reply.status, 200);
    let rows = app.db.api_tokens_of(alice.user.id).await.unwrap();
    let row = rows
        .iter()
        .find(|t| t.id.to_string() == id(&created))
        .unwrap();
    assert_eq!(
        row.last_used_at.map(|ms| ms / 1000),
        Some(parse_iso(&first_use) / 1000)
    );

    // Bob cannot revoke Alice's token, nor learn that it exists.
    let path = format!("users/me/tokens/{}/", id(&created));
    let reply = app.request(Method::DELETE, &path, Some(&bob), None).await;
    assert_error(&reply, 404, "token-not-found");
    let reply = app
        .request(
            Method::DELETE,
            "users/me/tokens/not-a-uuid/",
            Some(&bob),
            None,
        )
        .await;
    assert_error(&reply, 404, "token-not-found");
    assert_eq!(
        bearer(&app, Method::GET, "users/me/", &secret).await.status,
        200
    );

    let reply = app.request(Method::DELETE, &path, Some(&alice), None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let reply = bearer(&app, Method::GET, "users/me/", &secret).await;
    assert_error(&reply, 401, "not-authenticated");
    let reply = app.request(Method::DELETE, &path, Some(&alice), None).await;
    assert_error(&reply, 404, "token-not-found");
    // Her other token still works.
    assert_eq!(app.get("users/me/", &alice).await.status, 200);
}

#[tokio::test]
async fn an_expired_api_token_is_refused() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let secret = format!("{}{}", auth::API_TOKEN_PREFIX, auth::new_token());
    let row = app
        .db
        .create_api_token_expiring(
            &auth::token_hash(&secret),
            alice.user.id,
            "short-lived",
            Some(now_ms() + 60_000),
        )
        .await
        .unwrap();
    assert_eq!(
        bearer(&app, Method::GET, "users/me/", &secret).await.status,
        200
    );
    // A minute later (moved back in time rather than waited for).
    sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2")
        .bind(now_ms() - 1)
        .bind(row.id.to_string())
        .execute(app.db.pool())
        .await
        .unwrap();
    let reply = bearer(&app, Method::GET, "users/me/", &secret).await;
    assert_error(&reply, 401, "not-authenticated");
    // Listed, with its expiry, so that its owner can see why and delete it.
    let reply = app.get("users/me/tokens/", &alice).await;
    let listed = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == row.id.to_string())
        .cloned()
        .unwrap();
    assert!(parse_iso(&listed["expires_at"]) <= now_ms());
}

/// Runs the binary against the app's database.
async fn meet_recorder(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meet-recorder"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            app.state.config.database_url.expose_secret(),
        )
        .env("RUST_LOG", "error")
        .output()
        .await
        .expect("run meet-recorder")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_cli_creates_expiring_tokens_lists_them_without_secrets_and_revokes_them() {
    let app = spawn_app().await;
    let email = format!("{}@example.com", unique("cli-tokens"));
    let output = meet_recorder(&app, &["users", "create", &email, "--expires-in-days", "7"]).await;
    assert!(
        !output.status.success(),
        "--expires-in-days needs --api-token"
    );

    let args = [
        "users",
        "create",
        &email,
        "--api-token",
        "--expires-in-days",
        "7",
    ];
    let output = meet_recorder(&app, &args).await;
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("API token: "))
        .expect("token printed")
        .to_owned();
    assert!(text.contains("Expires: "), "{text}");
    let user = app.db.user_by_email(&email).await.unwrap().unwrap();
    let tokens = app.db.api_tokens_of(user.id).await.unwrap();
    let expires = tokens[0].expires_at.expect("an expiry");
    assert!((expires - now_ms() - 7 * 86_400_000).abs() < 60_000);
    assert_eq!(
        bearer(&app, Method::GET, "users/me/", &secret).await.status,
        200
    );

    let output = meet_recorder(&app, &["users", "tokens", "list", &email]).await;
    assert!(output.status.success(), "{output:?}");
    let listing = stdout(&output);
    let token_id = tokens[0].id.to_string();
    assert!(listing.contains(&token_id), "{listing}");
    assert!(listing.contains("cli"), "{listing}");
    assert!(!listing.contains(&secret), "{listing}");
    assert!(!listing.contains("never  "), "used once already: {listing}");

    let output = meet_recorder(&app, &["users", "tokens", "revoke", &email, &token_id]).await;
    assert!(output.status.success(), "{output:?}");
    let reply = bearer(&app, Method::GET, "users/me/", &secret).await;
    assert_error(&reply, 401, "not-authenticated");
    let output = meet_recorder(&app, &["users", "tokens", "revoke", &email, &token_id]).await;
    assert!(!output.status.success(), "revoked twice: {output:?}");
    let output = meet_recorder(&app, &["users", "tokens", "list", "nobody@example.com"]).await;
    assert!(!output.status.success());
}

// ----- the last owner (point 11) ----------------------------------------------------------

#[tokio::test]
async fn concurrent_owner_removals_always_leave_an_owner() {
    let app = spawn_app().await;
    for round in 0..6 {
        let owners: Vec<TestUser> = join_all((0..5).map(|_| app.user("owner"))).await;
        let room = app.room(&owners[0]).await;
        let path = format!("rooms/{}/accesses/", id(&room));
        for owner in &owners[1..] {
            let reply = app
                .post(
                    &path,
                    &owners[0],
                    json!({"email": owner.user.email, "role": "owner"}),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        let accesses = app.get(&path, &owners[0]).await.body;
        let access_of = |user: &TestUser| {
            accesses
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["user"]["id"] == user.user.id.to_string())
                .map(id)
                .unwrap()
        };
        // Every owner removes every other owner, all at once.
        let removals = owners.iter().flat_map(|remover| {
            owners
                .iter()
                .filter(move |target| target.user.id != remover.user.id)
                .map(move |target| (remover, access_of(target)))
        });
        let replies = join_all(removals.map(|(remover, access)| {
            let path = format!("{path}{access}/");
            let app = &app;
            async move {
                app.request(Method::DELETE, &path, Some(remover), None)
                    .await
            }
        }))
        .await;
        for reply in &replies {
            assert!(
                [204, 403, 404].contains(&reply.status.as_u16()),
                "round {round}: {} {}",
                reply.status,
                reply.body
            );
            if reply.status != 204 {
                assert!(reply.body["code"].is_string(), "{}", reply.body);
            }
        }
        let room_id = id(&room).parse().unwrap();
        let left = app.db.room_owner_count(room_id).await.unwrap();
        assert!(left >= 1, "round {round}: the room has no owner left");
        // Only one owner can be left: each of several would have removed the others.
        assert_eq!(left, 1, "round {round}");
    }
}

// ----- pages (point 12) ---------------------------------------------------------------

#[tokio::test]
async fn pages_past_any_end_are_4xx_with_a_code_never_500() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let lists = [
        "rooms/".to_owned(),
        "recordings/".to_owned(),
        format!("recordings/{}/share-links/", id(&reply.body["recording"])),
    ];
    let max = i64::MAX.to_string();
    let pages = [
        format!("page={max}"),
        format!("page={max}&page_size=100"),
        format!("page={max}&page_size={max}"),
        format!("page={}", i64::MAX / 20 + 1),
        format!("page={}&page_size=1", i64::MAX),
        "page=99999999999999999999999".to_owned(),
        "page=-9223372036854775808".to_owned(),
        "page=0".to_owned(),
        "page=2".to_owned(),
        "page=x".to_owned(),
    ];
    for list in &lists {
        for query in &pages {
            let reply = app.get(&format!("{list}?{query}"), &host).await;
            assert_error(&reply, 404, "invalid-page");
            assert_eq!(reply.body["detail"], "Invalid page.");
        }
        // An odd page size falls back to the default (as the reference does): 200.
        for query in [
            format!("page_size={max}"),
            "page_size=-1".to_owned(),
            "page=1&page_size=0".to_owned(),
        ] {
            let reply = app.get(&format!("{list}?{query}"), &host).await;
            assert_eq!(reply.status, 200, "{list}?{query}: {}", reply.body);
        }
    }
}
