//! The HTTP surface against a hostile browser or client: cross-site requests (own origin,
//! JSON bodies), slow and greedy clients (header timeout, connection limit, event streams
//! per client), framing and what pages may load (CSP), dev mode's host names, and what
//! guests' event streams tell.

use std::time::{Duration, Instant};

use futures::StreamExt;
use meet_recorder::engine::accounts as auth;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    app::*,
    helpers::{eventually, unique},
};

// ----- helpers ----------------------------------------------------------------------------

/// An account with a password and an API token, signed in: its session cookie
/// (`name=value`).
async fn signed_in(app: &TestApp, prefix: &str) -> (TestUser, String) {
    let hash = auth::hash_password("a long enough password").unwrap();
    let email = format!("{}@example.com", unique(prefix));
    let user = app
        .db
        .create_user(&email, prefix, Some(&hash), "en", "UTC")
        .await
        .unwrap();
    let token = format!("{}{}", auth::API_TOKEN_PREFIX, auth::new_token());
    app.db
        .create_api_token(&auth::token_hash(&token), user.id, "test")
        .await
        .unwrap();
    let response = app
        .http
        .post(format!("{}/auth/login/", app.api))
        .header("origin", own_origin(app))
        .json(&json!({"email": email, "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (TestUser { user, token }, cookie)
}

fn own_origin(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// A request as a browser sends it: the session cookie, and the given headers.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut request = app.http.request(method, format!("{}/{path}", app.api));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
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

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert!(reply.body["detail"].is_string(), "{}", reply.body);
}

async fn room_count(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM rooms")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get("n")
}

/// One raw HTTP/1.1 exchange (`Connection: close`): the status and the whole answer.
async fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// An open event stream (a guest's without `user`), yielding each event's JSON.
struct Events {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, room_id: &str, user: Option<&TestUser>) -> Self {
        let mut request = app
            .http
            .get(format!("{}/rooms/{room_id}/recording-events/", app.api));
        if let Some(user) = user {
            request = request.bearer_auth(&user.token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        Self {
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event's data, verbatim.
    async fn next_text(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                        return data.trim().to_owned();
                    }
                    continue;
                }
                let chunk = self.stream.next().await.expect("stream open").unwrap();
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event in time")
    }

    /// Events until `mode`'s recording has `status`: that event, verbatim and parsed.
    async fn until(&mut self, mode: &str, status: &str) -> (String, Value) {
        loop {
            let text = self.next_text().await;
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["recordings"][mode]["status"] == status {
                return (text, event);
            }
        }
    }
}

// ----- 1. cross-site requests -------------------------------------------------------------

#[tokio::test]
async fn json_endpoints_take_only_bodies_declared_json() {
    let app = spawn_app().await;
    let (host, cookie) = signed_in(&app, "host").await;
    let origin = own_origin(&app);
    let room = app.room(&app.user("other").await).await;
    let room_id = room["id"].as_str().unwrap();
    let rooms_before = room_count(&app).await;
    let name = json!({"name": "Posted by a form"}).to_string();

    // What a page can make a browser send without a CORS preflight: forms and text.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let headers = [
            ("cookie", cookie.as_str()),
            ("origin", origin.as_str()),
            ("content-type", content_type),
        ];
        let reply = send(&app, Method::POST, "rooms/", &headers, Some(&name)).await;
        assert_error(&reply, 415, "unsupported-media-type");
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{}",
            reply.body
        );
        // The login too (login CSRF), even with no session.
        let login = json!({"email": host.user.email, "password": "a long enough password"});
        let reply = send(
            &app,
            Method::POST,
            "auth/login/",
            &headers[1..],
            Some(&login.to_string()),
        )
        .await;
        assert_error(&reply, 415, "unsupported-media-type");
        assert!(reply.headers.get("set-cookie").is_none());
        // An empty body is no longer "{}" when it says it is something else.
        for path in ["rooms/{id}/stop-recording/", "rooms/{id}/start-recording/"] {
            let path = path.replace("{id}", room_id);
            let reply = send(&app, Method::POST, &path, &headers, Some("")).await;
            assert_error(&reply, 415, "unsupported-media-type");
        }
        let reply = send(
            &app,
            Method::PATCH,
            "users/me/",
            &headers,
            Some(r#"{"full_name":"Mallory"}"#),
        )
        .await;
        assert_error(&reply, 415, "unsupported-media-type");
    }
    // A body with no Content-Type at all is not JSON either; bearer clients included.
    let bearer = format!("Bearer {}", host.token);
    let reply = send(
        &app,
        Method::POST,
        "rooms/",
        &[("authorization", &bearer)],
        Some(&name),
    )
    .await;
    assert_error(&reply, 415, "unsupported-media-type");
    let reply = send(
        &app,
        Method::POST,
        "rooms/",
        &[("authorization", &bearer), ("content-type", "text/plain")],
        Some(&name),
    )
    .await;
    assert_error(&reply, 415, "unsupported-media-type");
    assert_eq!(room_count(&app).await, rooms_before, "nothing was created");
    assert_eq!(app.recording_count(room_id).await, 0);

    // JSON is welcome, with parameters too; a bare POST (curl -X POST) still means `{}`.
    let reply = send(
        &app,
        Method::POST,
        "rooms/",
        &[
            ("cookie", &cookie),
            ("origin", &origin),
            ("content-type", "application/json; charset=utf-8"),
        ],
        Some(&name),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let own_room = reply.body["id"].as_str().unwrap().to_owned();
    let reply = send(
        &app,
        Method::POST,
        &format!("rooms/{own_room}/stop-recording/"),
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_ne!(reply.status, 415, "{}", reply.body);
    let reply = send(
        &app,
        Method::POST,
        &format!("rooms/{own_room}/stop-recording/"),
        &[("cookie", &cookie), ("origin", &origin)],
        None,
    )
    .await;
    assert_ne!(reply.status, 415, "{}", reply.body);
}

#[tokio::test]
async fn unsafe_requests_from_other_origins_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (host, cookie) = signed_in(&app, "host").await;
    let mallory = app.user("mallory").await;
    let origin = own_origin(&app);
    // The host's own room, created from the app's own page.
    let reply = send(
        &app,
        Method::POST,
        "rooms/",
        &[
            ("cookie", &cookie),
            ("origin", &origin),
            ("content-type", "application/json"),
        ],
        Some(r#"{"name":"Board"}"#),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let room_id = reply.body["id"].as_str().unwrap().to_owned();
    app.livekit.join(&room_id, "participant-1");
    let sibling_port = format!("http://127.0.0.1:{}", app.addr.port() + 1);
    let attacks: [&[(&str, &str)]; 6] = [
        &[("origin", "https://evil.example")],
        // Same site, other port: SameSite=Lax lets the cookie through.
        &[("origin", &sibling_port)],
        &[("origin", "null")],
        &[("sec-fetch-site", "same-site")],
        &[("sec-fetch-site", "cross-site")],
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-origin"),
        ],
    ];
    let add_mallory = json!({"email": mallory.user.email, "role": "owner"}).to_string();
    for attack in attacks {
        let mut headers = vec![
            ("cookie", cookie.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(attack);
        for (method, path, body) in [
            (
                Method::POST,
                format!("rooms/{room_id}/accesses/"),
                Some(add_mallory.as_str()),
            ),
            (
                Method::POST,
                format!("rooms/{room_id}/start-recording/"),
                Some(r#"{"mode":"screen_recording"}"#),
            ),
            (
                Method::PATCH,
                format!("rooms/{room_id}/"),
                Some(r#"{"name":"Owned"}"#),
            ),
            (Method::DELETE, format!("rooms/{room_id}/"), None),
            (
                Method::PATCH,
                "users/me/".to_owned(),
                Some(r#"{"full_name":"Owned"}"#),
            ),
            (
                Method::POST,
                "users/me/tokens/".to_owned(),
                Some(r#"{"name":"for mallory"}"#),
            ),
            (Method::POST, "auth/logout/".to_owned(), None),
        ] {
            let reply = send(&app, method.clone(), &path, &headers, body).await;
            assert_error(&reply, 403, "cross-origin-request");
        }
        // Login CSRF: signing the victim into the attacker's account.
        let login = json!({"email": host.user.email, "password": "a long enough password"});
        let reply = send(
            &app,
            Method::POST,
            "auth/login/",
            &headers[1..],
            Some(&login.to_string()),
        )
        .await;
        assert_error(&reply, 403, "cross-origin-request");
        assert!(reply.headers.get("set-cookie").is_none());
    }
    // Nothing changed: same owner alone, no recording, same name, session alive.
    let accesses = send(
        &app,
        Method::GET,
        &format!("rooms/{room_id}/accesses/"),
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(accesses.status, 200, "{}", accesses.body);
    assert!(
        !accesses.body.to_string().contains(&mallory.user.email),
        "{}",
        accesses.body
    );
    assert_eq!(app.recording_count(&room_id).await, 0);
    let room = send(
        &app,
        Method::GET,
        &format!("rooms/{room_id}/"),
        &[("cookie", &cookie), ("origin", "https://evil.example")],
        None,
    )
    .await;
    assert_eq!(room.status, 200, "reads stay open: {}", room.body);
    assert_eq!(room.body["name"], "Board");
    let me = send(&app, Method::GET, "users/me/", &[("cookie", &cookie)], None).await;
    assert_eq!(me.status, 200);
    assert_ne!(me.body["full_name"], "Owned");

    // Our own pages (by Origin or Sec-Fetch-Site) and clients that are not browsers work.
    for own in [
        &[("origin", origin.as_str())][..],
        &[("sec-fetch-site", "same-origin")],
        &[],
    ] {
        let mut headers = vec![
            ("cookie", cookie.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(own);
        let reply = send(
            &app,
            Method::PATCH,
            &format!("rooms/{room_id}/"),
            &headers,
            Some(&json!({"name": unique("Renamed")}).to_string()),
        )
        .await;
        assert_eq!(reply.status, 200, "{own:?}: {}", reply.body);
    }
    // A bearer token is no ambient authority: a page cannot attach it cross-origin.
    let reply = send(
        &app,
        Method::POST,
        &format!("rooms/{room_id}/accesses/"),
        &[
            ("authorization", &format!("Bearer {}", host.token)),
            ("origin", "https://tool.example"),
            ("content-type", "application/json"),
        ],
        Some(&json!({"email": mallory.user.email, "role": "member"}).to_string()),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    // A login from our own page signs in.
    let login = json!({"email": host.user.email, "password": "a long enough password"});
    let reply = send(
        &app,
        Method::POST,
        "auth/login/",
        &[("origin", &origin), ("content-type", "application/json")],
        Some(&login.to_string()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn server_to_server_hooks_are_not_held_to_the_browser_rules() {
    let app = spawn_app().await;
    for path in [
        "rooms/webhooks-livekit/",
        "recordings/storage-hook/",
        "recordings/external-process-hook/",
    ] {
        let reply = send(
            &app,
            Method::POST,
            path,
            &[
                ("origin", "https://elsewhere.example"),
                ("sec-fetch-site", "cross-site"),
                ("authorization", "not-a-valid-signature"),
                ("content-type", "application/webhook+json"),
            ],
            Some("{}"),
        )
        .await;
        // Refused by their own authentication, not as cross-origin requests.
        assert_eq!(reply.status, 401, "{path}: {}", reply.body);
        assert_ne!(reply.body["code"], "cross-origin-request", "{path}");
    }
    // And real webhooks (signed, from the emulator) drive a whole recording.
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.saved_recording(&host, &room, "transcript").await;
}

// ----- 2. connections ---------------------------------------------------------------------

/// Seconds until the server closes `stream` (reads until EOF or reset), at most `limit`.
async fn closed_after(stream: &mut TcpStream, started: Instant, limit: Duration) -> Duration {
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("still open after {limit:?}"),
        }
    }
}

#[tokio::test]
async fn clients_that_take_too_long_to_send_their_headers_are_disconnected() {
    let app = spawn_app_with(&[("MEET_RECORDER_HEADER_TIMEOUT_S", "1")], |_| {}).await;
    // Connects and says nothing.
    let started = Instant::now();
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let held = closed_after(&mut silent, started, Duration::from_secs(5)).await;
    assert!(held >= Duration::from_millis(900), "{held:?}");
    println!("a silent client was disconnected after {held:?}");

    // Sends a byte of its headers every 200 ms (a slowloris).
    let started = Instant::now();
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let dribble = async {
        let request =
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for byte in request.iter() {
            if slow.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), dribble).await;
    let held = closed_after(&mut slow, started, Duration::from_secs(5)).await;
    println!("a slow client was disconnected after {held:?}");

    // A keep-alive connection left idle is closed too; a prompt client is served.
    let started = Instant::now();
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 512];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    closed_after(&mut idle, started, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_body_that_trickles_in_is_answered_408_and_the_connection_closed() {
    let app = spawn_app_with(&[("MEET_RECORDER_BODY_TIMEOUT_S", "1")], |_| {}).await;
    // Sends its headers at once, then one byte of its body every 200 ms.
    let started = Instant::now();
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(
        b"POST /api/v1.0/auth/login/ HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 200\r\n\r\n",
    )
    .await
    .unwrap();
    let dribble = async {
        for byte in br#"{"email": "someone@example.com", "password": "#.iter() {
            if slow.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), dribble).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body-timeout\""), "{answer}");
    let held = started.elapsed();
    assert!(held < Duration::from_secs(6), "{held:?}");
    println!("a trickling body was answered 408 after {held:?}");

    // A body sent at once is served as ever.
    let reply = app
        .request(
            Method::POST,
            "auth/login/",
            None,
            Some(json!({"email": "nobody@example.com", "password": "wrong"})),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
}

/// A raw connection holding one guest event stream open (the answer's head read).
async fn hold_event_stream(app: &TestApp, room_id: &str) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /api/v1.0/rooms/{room_id}/recording-events/ HTTP/1.1\r\nHost: {}\r\n\r\n",
                app.addr
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_until_one_closes() {
    let app = spawn_app_with(
        &[
            ("MEET_RECORDER_MAX_CONNECTIONS", "4"),
            ("MEET_RECORDER_HEADER_TIMEOUT_S", "1"),
            ("MEET_RECORDER_EVENT_STREAMS_PER_CLIENT", "100"),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    // The test client's idle keep-alive connection is closed by the server meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(hold_event_stream(&app, room_id).await);
    }
    let (status, answer) = raw_exchange(
        app.addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("too-many-connections"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: "),
        "{answer}"
    );

    // A closed stream frees its place.
    drop(held.pop());
    eventually("a free connection", Duration::from_secs(20), || async {
        let (status, _) = raw_exchange(
            app.addr,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        (status == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn one_client_holds_at_most_its_share_of_event_streams() {
    let app = spawn_app_with(
        &[
            ("MEET_RECORDER_EVENT_STREAMS_PER_CLIENT", "3"),
            ("MEET_RECORDER_TRUSTED_PROXIES", "127.0.0.1"),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    let path = format!("{}/rooms/{room_id}/recording-events/", app.api);

    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Events::open(&app, room_id, None).await);
    }
    // Signed in or not, the address has used its share.
    for user in [None, Some(&host)] {
        let mut request = app.http.get(&path);
        if let Some(user) = user {
            request = request.bearer_auth(&user.token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "too-many-event-streams", "{body}");
    }
    // Another client (behind the trusted proxy) has its own share.
    let other = app
        .http
        .get(&path)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    // A closed page gives its place back.
    drop(open.pop());
    let again = eventually("a stream slot back", Duration::from_secs(30), || async {
        let response = app.http.get(&path).send().await.unwrap();
        (response.status() == 200).then_some(response)
    })
    .await;
    drop(again);
}

/// Reads from `stream` until `until` is in what was read (or 10 s pass): the text read.
async fn read_until(stream: &mut TcpStream, until: &str) -> String {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(until) {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn an_event_stream_is_the_same_whichever_way_its_request_arrives() {
    let app = spawn_app_with(&[("MEET_RECORDER_EVENT_STREAMS_PER_CLIENT", "2")], |_| {}).await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    let head = format!(
        "GET /api/v1.0/rooms/{room_id}/recording-events/ HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        app.addr, host.token
    );
    // In one packet (the usual case, served without hyper), and dribbled in three (hyper).
    let (first, rest) = head.split_at(10);
    let (middle, last) = rest.split_at(30);
    for parts in [vec![head.as_str()], vec![first, middle, last]] {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        for part in &parts {
            stream.write_all(part.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let answer = read_until(&mut stream, "\n\n").await;
        let lower = answer.to_ascii_lowercase();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        for header in [
            "content-type: text/event-stream",
            "transfer-encoding: chunked",
            "x-frame-options: deny",
            "x-accel-buffering: no",
            "date: ",
        ] {
            assert!(lower.contains(header), "{header} in {answer}");
        }
        assert!(
            answer.contains("event: recording-state\ndata: {"),
            "{answer}"
        );
        // The owner sees the recording's id once one starts.
        let started = app
            .start(&room, &host, json!({"mode": "screen_recording"}))
            .await;
        assert_eq!(started.status, 201, "{}", started.body);
        let id = started.body["recording"]["id"].as_str().unwrap().to_owned();
        let answer = read_until(&mut stream, &id).await;
        assert!(answer.contains(&id), "{answer}");
        app.wait_status(&id, &host, "active").await;
        let stopped = app.stop(&room, &host, json!({})).await;
        assert_eq!(stopped.status, 200, "{}", stopped.body);
        // Gone, the page gives its place back at once: two more fit in a share of two.
        drop(stream);
        let mut again = Vec::new();
        for _ in 0..2 {
            again.push(
                eventually("a stream slot back", Duration::from_secs(5), || async {
                    let response = app
                        .http
                        .get(format!("{}/rooms/{room_id}/recording-events/", app.api))
                        .bearer_auth(&host.token)
                        .send()
                        .await
                        .unwrap();
                    (response.status() == 200).then_some(response)
                })
                .await,
            );
        }
    }

    // What the router refuses is answered whole, and the connection closed.
    let (status, answer) = raw_exchange(
        app.addr,
        "GET /api/v1.0/rooms/no-such-room/recording-events/ HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(matches!(status, 401 | 404), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.ends_with('}'), "{answer}");
}

// ----- 3. headers ---------------------------------------------------------------------------

#[tokio::test]
async fn every_page_forbids_framing_and_names_what_it_may_load() {
    let app = spawn_app_with(&[("LIVEKIT_URL", "wss://livekit.example.org:7443")], |_| {}).await;
    let mut paths = vec![
        "/".to_owned(),
        "/signin".to_owned(),
        "/rooms/weekly-sync".to_owned(),
        "/api/v1.0/config/".to_owned(),
        "/api/v1.0/no-such-endpoint/".to_owned(),
        "/assets/missing-1234.js".to_owned(),
        "/healthz".to_owned(),
    ];
    if meet_recorder::http::web::is_built() {
        let html = app.visit("/", &[]).await.text().await.unwrap();
        let script = html
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        paths.push(script);
    }
    for path in &paths {
        let response = app.visit(path, &[]).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(
            csp.contains(
                "connect-src 'self' wss://livekit.example.org:7443 https://livekit.example.org:7443"
            ),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
    }
    // The share pages keep their own, stricter policy.
    let share = app.visit("/s/not-a-token", &[]).await;
    let csp = share.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(share.headers()["referrer-policy"], "no-referrer");
    assert_eq!(share.headers()["x-frame-options"], "DENY");
}

// ----- 4. dev mode's host names -----------------------------------------------------------

#[tokio::test]
async fn dev_mode_answers_only_its_own_host_names() {
    let app = spawn_app_configured(
        &[],
        |_| {},
        |state, emulator| {
            state.dev = Some(std::sync::Arc::new(meet_recorder::http::DevMode {
                presence: std::sync::Arc::new(
                    meet_recorder::dev::presence::SimulatedPresence::new(
                        emulator.participants(),
                        Duration::from_millis(300),
                    ),
                ),
                demo_email: "demo@example.com",
                demo_password: "demo",
            }));
        },
    )
    .await;
    let port = app.addr.port();
    let login = r#"{"email":"demo@example.com","password":"demo"}"#;
    let request = |method: &str, path: &str, host: &str, body: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    // A DNS-rebinding page: the attacker's name, our address.
    for host in [
        format!("rebind.evil.example:{port}"),
        "rebind.evil.example".to_owned(),
        format!("localhost.evil.example:{port}"),
    ] {
        for (method, path, body) in [
            ("GET", "/", ""),
            ("GET", "/api/v1.0/config/", ""),
            ("POST", "/api/v1.0/auth/login/", login),
        ] {
            let (status, answer) =
                raw_exchange(app.addr, &request(method, path, &host, body)).await;
            assert_eq!(status, 421, "{host} {path}: {answer}");
            assert!(answer.contains("unknown-host"), "{answer}");
        }
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, answer) =
            raw_exchange(app.addr, &request("GET", "/api/v1.0/config/", &host, "")).await;
        assert_eq!(status, 200, "{host}: {answer}");
        assert!(answer.contains("demo@example.com"), "{answer}");
    }
    // Dev mode's pages are those of the names it answers to (the Vite dev server proxies
    // from its own port); any other page is refused.
    let sign_in_from = |host: &str, origin: &str| {
        format!(
            "POST /api/v1.0/auth/login/ HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{login}",
            login.len()
        )
    };
    for (host, origin, allowed) in [
        ("127.0.0.1:5173", "http://127.0.0.1:5173", true),
        (
            &format!("localhost:{port}")[..],
            &format!("http://localhost:{port}")[..],
            true,
        ),
        (
            &format!("127.0.0.1:{port}")[..],
            "http://localhost:5173",
            false,
        ),
        (
            &format!("127.0.0.1:{port}")[..],
            "https://evil.example",
            false,
        ),
    ] {
        let (status, answer) = raw_exchange(app.addr, &sign_in_from(host, origin)).await;
        if allowed {
            // (The demo account is not created here: the credentials are refused.)
            assert_eq!(status, 400, "{host} {origin}: {answer}");
        } else {
            assert_eq!(status, 403, "{host} {origin}: {answer}");
            assert!(answer.contains("cross-origin-request"), "{answer}");
        }
    }
    // Outside dev mode the reverse proxy in front decides which names reach us.
    let served = spawn_app().await;
    let (status, _) = raw_exchange(
        served.addr,
        &request("GET", "/api/v1.0/config/", "recorder.example.org", ""),
    )
    .await;
    assert_eq!(status, 200);
}

// ----- 5. what guests' event streams tell --------------------------------------------------

#[tokio::test]
async fn guests_follow_recordings_without_their_ids_or_error_texts() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let member = app.user("member").await;
    let room = app.live_room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    let added = app
        .post(
            &format!("rooms/{room_id}/accesses/"),
            &host,
            json!({"email": member.user.email, "role": "member"}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);

    let mut host_view = Events::open(&app, room_id, Some(&host)).await;
    let mut guest_view = Events::open(&app, room_id, None).await;
    let mut member_view = Events::open(&app, room_id, Some(&member)).await;
    for view in [&mut host_view, &mut guest_view, &mut member_view] {
        view.next_text().await;
    }

    app.inject(json!({"fault": "egress_failure", "after_ms": 200}))
        .await;
    let started = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let id = started.body["recording"]["id"].as_str().unwrap().to_owned();

    let (_, seen_by_host) = host_view.until("screen_recording", "failed").await;
    let hosts = &seen_by_host["recordings"]["screen_recording"];
    assert_eq!(hosts["id"], id.as_str());
    assert!(
        hosts["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{hosts}"
    );
    assert_eq!(hosts["error_code"], "recording-failed");
    let key = hosts["ref"].as_str().unwrap().to_owned();
    assert!(!key.is_empty() && !id.contains(&key) && !key.contains(&id));

    for view in [&mut guest_view, &mut member_view] {
        // Every event they got, active included, carries no id.
        let (text, event) = loop {
            let text = view.next_text().await;
            assert!(!text.contains(&id), "{text}");
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["recordings"]["screen_recording"]["status"] == "failed" {
                break (text, event);
            }
        };
        let theirs = &event["recordings"]["screen_recording"];
        assert!(theirs.get("id").is_none(), "{text}");
        assert!(theirs.get("error").is_none(), "{text}");
        assert_eq!(theirs["error_code"], "recording-failed", "{text}");
        assert_eq!(theirs["ref"], key.as_str(), "the same key for everyone");
        assert_eq!(theirs["may_be_recording"], false);
        assert!(!text.contains(hosts["error"].as_str().unwrap()), "{text}");
    }
}
