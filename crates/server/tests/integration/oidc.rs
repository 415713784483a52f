//! Sign-in through a real OpenID Connect provider on loopback (the certified
//! `oidc-provider` from npm, `web/e2e/oidc-provider.mjs`): the tests walk the flow over
//! HTTP as a browser does, through the provider's own sign-in form, with cookies.

use std::{path::PathBuf, process::Stdio};

use reqwest::cookie::CookieStore;

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::app::{TestApp, spawn_app_on};

struct Provider {
    issuer: String,
    accounts: PathBuf,
    _dir: tempfile::TempDir,
    _child: Child,
}

const CLIENT_ID: &str = "meet-recorder";
const CLIENT_SECRET: &str = "meet-recorder-secret";

impl Provider {
    /// The provider, with meet-recorder at `app` as its one client and `accounts` as the
    /// people it knows (login → claims).
    async fn start(app: std::net::SocketAddr, accounts: Value, auth_method: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let accounts_path = dir.path().join("accounts.json");
        std::fs::write(&accounts_path, accounts.to_string()).unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../web/e2e/oidc-provider.mjs"
        );
        let mut child = Command::new("node")
            .arg(script)
            .env("OIDC_TEST_PORT", "0")
            .env("OIDC_TEST_CLIENT_ID", CLIENT_ID)
            .env("OIDC_TEST_CLIENT_SECRET", CLIENT_SECRET)
            .env(
                "OIDC_TEST_REDIRECT_URI",
                format!("http://{app}/api/v1.0/callback/"),
            )
            .env("OIDC_TEST_POST_LOGOUT_URI", format!("http://{app}/"))
            .env("OIDC_TEST_ACCOUNTS", &accounts_path)
            .env("OIDC_TEST_AUTH_METHOD", auth_method)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("run node (scripts/build-web.sh installs it with the web app's packages)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first =
            lines.next_line().await.unwrap().expect(
                "the provider starts (are web/node_modules installed? scripts/build-web.sh)",
            );
        let issuer = serde_json::from_str::<Value>(&first).unwrap()["issuer"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            issuer,
            accounts: accounts_path,
            _dir: dir,
            _child: child,
        }
    }

    fn set_accounts(&self, accounts: Value) {
        std::fs::write(&self.accounts, accounts.to_string()).unwrap();
    }

    /// The settings that make meet-recorder sign in through this provider by discovery.
    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OIDC_OP_URL", self.issuer.clone()),
            ("OIDC_RP_CLIENT_ID", CLIENT_ID.into()),
            ("OIDC_RP_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("OIDC_RP_SCOPES", "openid email profile".into()),
        ]
    }
}

/// meet-recorder signing in through a fresh provider that knows `accounts`.
async fn app_with_provider(
    accounts: Value,
    auth_method: &str,
    settings: impl FnOnce(&Provider) -> Vec<(&'static str, String)>,
) -> (TestApp, Provider) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider = Provider::start(listener.local_addr().unwrap(), accounts, auth_method).await;
    let settings = settings(&provider);
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_on(listener, &pairs, |_| {}, |_, _| {}).await;
    (app, provider)
}

fn alice() -> Value {
    json!({"alice": {
        "email": "alice@example.test", "email_verified": true,
        "given_name": "Alice", "family_name": "Liddell",
    }})
}

/// A browser: its own cookies, redirects followed by hand so each step can be seen.
struct Browser {
    http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Self {
            jar: jar.clone(),
            http: reqwest::Client::builder()
                .cookie_provider(jar)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .send()
            .await
            .unwrap()
    }

    async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.http
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Follows redirects from `response` (relative ones against `base`) until a page that
    /// is not one, or one that leaves for `stop_at`: the last URL and its response.
    async fn follow(
        &self,
        mut url: String,
        mut response: reqwest::Response,
        stop_at: &str,
    ) -> (String, reqwest::Response) {
        for _ in 0..10 {
            if !response.status().is_redirection() {
                return (url, response);
            }
            let location = response.headers()[header::LOCATION].to_str().unwrap();
            let next = url::Url::parse(&url)
                .unwrap()
                .join(location)
                .unwrap()
                .to_string();
            if next.starts_with(stop_at) {
                return (next, response);
            }
            response = self.get(&next).await;
            url = next;
        }
        panic!("too many redirects, last {url}");
    }

    /// Starts a sign-in at meet-recorder and goes to the provider: the provider's page.
    async fn to_provider(&self, app: &TestApp, return_to: &str) -> (String, String) {
        let start = format!(
            "{}/authenticate/?returnTo={}",
            app.api,
            url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
        );
        let response = self.get(&start).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "authenticate/ redirects"
        );
        let (url, page) = self.follow(start, response, &app_origin(app)).await;
        let status = page.status();
        let html = page.text().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "the provider's page at {url}: {html}"
        );
        (url, html)
    }

    /// Signs in as `login` on the provider's own form, and comes back to meet-recorder's
    /// callback: the callback's answer.
    async fn sign_in(&self, app: &TestApp, login: &str, return_to: &str) -> reqwest::Response {
        let (url, html) = self.to_provider(app, return_to).await;
        let action = form_action(&html);
        let action = url::Url::parse(&url)
            .unwrap()
            .join(&action)
            .unwrap()
            .to_string();
        let response = self
            .post_form(
                &action,
                &[("prompt", "login"), ("login", login), ("password", "any")],
            )
            .await;
        let (callback, _) = self.follow(action, response, &app_origin(app)).await;
        assert!(
            callback.starts_with(&format!("{}/callback/", app.api)),
            "the provider sends the browser back to the callback, not {callback}"
        );
        self.get(&callback).await
    }

    /// A POST from the service's own pages (the cross-site guard wants its origin).
    async fn post_json(&self, app: &TestApp, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/{path}", app.api))
            .header(header::ORIGIN, app_origin(app));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn me(&self, app: &TestApp) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}/users/me/", app.api))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn app_origin(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// The `action` of the first form of a page.
fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + "action=\"".len();
    html[start..][..html[start..].find('"').unwrap()].replace("&amp;", "&")
}

/// The hidden fields of a page's form.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter(|input| input.contains("type=\"hidden\""))
        .filter_map(|input| {
            let attr = |name: &str| {
                let start = input.find(&format!("{name}=\""))? + name.len() + 2;
                Some(input[start..][..input[start..].find('"')?].to_owned())
            };
            Some((attr("name")?, attr("value")?))
        })
        .collect()
}

/// Asserts a JSON error answer: its status and `code`.
async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], code);
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[header::LOCATION].to_str().unwrap()
}

async fn user_count(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get::<i64, _>("n")
}

#[tokio::test]
async fn a_first_sign_in_creates_the_account_and_later_ones_refresh_it() {
    let (app, provider) = app_with_provider(alice(), "client_secret_post", |p| p.settings()).await;
    let config = app
        .request(reqwest::Method::GET, "config/", None, None)
        .await;
    assert_eq!(
        config.body["sign_in"],
        json!({"password": true, "identity_provider": true})
    );

    let browser = Browser::new();
    let back = browser.sign_in(&app, "alice", "/recordings?page=2").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&back),
        "/recordings?page=2",
        "back where the person was"
    );
    let (status, me) = browser.me(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "alice@example.test");
    assert_eq!(me["full_name"], "Alice Liddell");
    let id = me["id"].clone();

    // The provider changes her name and email: the next sign-in brings them.
    provider.set_accounts(json!({"alice": {
        "email": "alice.hargreaves@example.test", "email_verified": true,
        "given_name": "Alice", "family_name": "Hargreaves",
    }}));
    let browser = Browser::new();
    let back = browser.sign_in(&app, "alice", "/").await;
    assert_eq!(location(&back), "/");
    let (_, me) = browser.me(&app).await;
    assert_eq!(me["id"], id, "the same account, found by its subject");
    assert_eq!(me["email"], "alice.hargreaves@example.test");
    assert_eq!(me["full_name"], "Alice Hargreaves");
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn an_identity_seen_first_is_linked_to_the_account_with_its_email_once() {
    let accounts = json!({
        "bob-at-idp": {"email": "Bob@Example.test", "given_name": "Bob", "family_name": "Builder"},
        "impostor": {"email": "bob@example.test", "given_name": "Not", "family_name": "Bob"},
        "unverified": {"email": "carol@example.test", "email_verified": false},
    });
    let (app, _provider) =
        app_with_provider(accounts, "client_secret_post", |p| p.settings()).await;
    let bob = app
        .db
        .create_user("bob@example.test", "Bob", None, "fr", "Europe/Paris")
        .await
        .unwrap();
    let carol = app
        .db
        .create_user("carol@example.test", "Carol", None, "en", "UTC")
        .await
        .unwrap();

    let browser = Browser::new();
    browser.sign_in(&app, "bob-at-idp", "/").await;
    let (_, me) = browser.me(&app).await;
    assert_eq!(me["id"], bob.id.to_string(), "linked by email");
    assert_eq!(me["full_name"], "Bob Builder");
    assert_eq!(me["language"], "fr", "the account's own preferences stay");

    // Another identity with the same email cannot take the account over.
    let browser = Browser::new();
    let back = browser.sign_in(&app, "impostor", "/").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&back),
        "/signin?error=sign-in-email-linked-to-another"
    );
    assert_eq!(browser.me(&app).await.0, StatusCode::UNAUTHORIZED);

    // Nor does an email the provider says is unverified find an account.
    let browser = Browser::new();
    let back = browser.sign_in(&app, "unverified", "/").await;
    assert_eq!(location(&back), "/signin?error=sign-in-email-taken");
    let unchanged = app.db.user_by_id(carol.id).await.unwrap().unwrap();
    assert_eq!(unchanged.full_name, "Carol");
    assert_eq!(user_count(&app).await, 2, "no account was created");
}

#[tokio::test]
async fn accounts_are_created_or_linked_only_when_the_settings_allow() {
    let accounts = json!({
        "dave": {"email": "dave@example.test", "name": "Dave Grohl"},
        "erin": {"email": "erin@example.test"},
        "nomail": {"given_name": "No", "family_name": "Mail"},
    });
    let (app, _provider) = app_with_provider(accounts.clone(), "client_secret_post", |p| {
        let mut settings = p.settings();
        settings.push(("OIDC_CREATE_USER", "false".into()));
        settings.push(("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "false".into()));
        settings
    })
    .await;
    app.db
        .create_user("erin@example.test", "Erin", None, "en", "UTC")
        .await
        .unwrap();
    let back = Browser::new().sign_in(&app, "dave", "/").await;
    assert_eq!(location(&back), "/signin?error=sign-in-no-account");
    let back = Browser::new().sign_in(&app, "erin", "/").await;
    assert_eq!(location(&back), "/signin?error=sign-in-email-taken");
    assert_eq!(user_count(&app).await, 1);

    // With creation on, a person without an email cannot have an account; `name` makes
    // the full name when the configured claims are missing.
    let (app, _provider) =
        app_with_provider(accounts, "client_secret_post", |p| p.settings()).await;
    let back = Browser::new().sign_in(&app, "nomail", "/").await;
    assert_eq!(location(&back), "/signin?error=sign-in-no-email");
    let browser = Browser::new();
    browser.sign_in(&app, "dave", "/").await;
    assert_eq!(browser.me(&app).await.1["full_name"], "Dave Grohl");
}

#[tokio::test]
async fn signing_out_also_ends_the_provider_session() {
    let (app, _provider) = app_with_provider(alice(), "client_secret_post", |p| p.settings()).await;
    let browser = Browser::new();
    browser.sign_in(&app, "alice", "/").await;
    assert_eq!(browser.me(&app).await.0, StatusCode::OK);

    // Signed in at the provider, a new sign-in goes straight through, no form.
    let start = format!("{}/authenticate/", app.api);
    let response = browser.get(&start).await;
    let (url, _) = browser.follow(start, response, &app_origin(&app)).await;
    assert!(
        url.contains("/callback/"),
        "no sign-in form while signed in: {url}"
    );

    let out = browser.post_json(&app, "auth/logout/", None).await;
    assert_eq!(out.status(), StatusCode::OK);
    let redirect = out.json::<Value>().await.unwrap()["redirect"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(redirect.contains("id_token_hint="), "{redirect}");
    assert_eq!(browser.me(&app).await.0, StatusCode::UNAUTHORIZED);

    // The provider asks to confirm, then sends the browser back to the service.
    let confirm = browser.get(&redirect).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let html = confirm.text().await.unwrap();
    let action = url::Url::parse(&redirect)
        .unwrap()
        .join(&form_action(&html))
        .unwrap()
        .to_string();
    let mut fields = hidden_fields(&html);
    fields.push(("logout".into(), "yes".into()));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let done = browser.post_form(&action, &fields).await;
    let (after, _) = browser.follow(action, done, &app_origin(&app)).await;
    assert_eq!(after, format!("{}/", app_origin(&app)));

    // Signed out at the provider: the next sign-in shows its form again.
    let (_, page) = browser.to_provider(&app, "/").await;
    assert!(
        page.contains("name=\"login\""),
        "the provider's sign-in form"
    );

    // A session signed in with a password has no provider session to end.
    let local = Browser::new();
    app.db
        .create_user(
            "frank@example.test",
            "Frank",
            Some(&meet_recorder::engine::accounts::hash_password("a long password").unwrap()),
            "en",
            "UTC",
        )
        .await
        .unwrap();
    let credentials = json!({"email": "frank@example.test", "password": "a long password"});
    let signed_in = local
        .post_json(&app, "auth/login/", Some(credentials))
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let out = local.post_json(&app, "auth/logout/", None).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn forged_replayed_and_open_redirect_requests_sign_no_one_in() {
    let (app, _provider) = app_with_provider(alice(), "client_secret_post", |p| {
        let mut settings = p.settings();
        settings.push(("OIDC_REDIRECT_ALLOWED_HOSTS", "docs.example.org".into()));
        settings
    })
    .await;
    let api = |path: &str| format!("{}/{path}", app.api);
    let json_get = |url: String| {
        let http = app.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };

    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
    ] {
        let (status, body) = json_get(api(&format!(
            "authenticate/?returnTo={}",
            url::form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>()
        )))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{evil}");
        assert_eq!(body["code"], "redirect-not-allowed");
    }
    let allowed = Browser::new()
        .get(&api(
            "authenticate/?returnTo=https%3A%2F%2Fdocs.example.org%2Fdoc%2F1",
        ))
        .await;
    assert_eq!(allowed.status(), StatusCode::SEE_OTHER);

    // A callback with no sign-in in progress in this browser, or another sign-in's state.
    let (status, body) = json_get(api("callback/?code=abc&state=xyz")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "sign-in-not-started");
    let browser = Browser::new();
    browser.to_provider(&app, "/").await;
    let forged = browser
        .http
        .get(api("callback/?code=abc&state=forged"))
        .send()
        .await
        .unwrap();
    assert_error(forged, StatusCode::BAD_REQUEST, "sign-in-state-mismatch").await;

    // The person cancels at the provider.
    let browser = Browser::new();
    let start = api("authenticate/");
    let response = browser.get(&start).await;
    let state = url::Url::parse(location(&response))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let cancelled = browser
        .get(&api(&format!(
            "callback/?error=access_denied&state={state}"
        )))
        .await;
    assert_eq!(location(&cancelled), "/signin?error=sign-in-cancelled");

    // A code used once cannot sign anyone in again, even with its own state.
    let browser = Browser::new();
    let (url, html) = browser.to_provider(&app, "/").await;
    let action = url::Url::parse(&url)
        .unwrap()
        .join(&form_action(&html))
        .unwrap()
        .to_string();
    let response = browser
        .post_form(
            &action,
            &[("prompt", "login"), ("login", "alice"), ("password", "x")],
        )
        .await;
    let (callback, _) = browser.follow(action, response, &app_origin(&app)).await;
    // The sign-in cookie as it was, for the replay below.
    let sign_in_cookie = browser
        .jar
        .cookies(&callback.parse().unwrap())
        .expect("the sign-in cookie");
    let first = browser.get(&callback).await;
    assert_eq!(location(&first), "/");
    let users = user_count(&app).await;
    // The replay brings the used code with the very cookie it was issued for.
    let replay = app
        .http
        .get(&callback)
        .header(header::COOKIE, sign_in_cookie)
        .send()
        .await
        .unwrap();
    assert!(
        replay
            .headers()
            .get(header::SET_COOKIE)
            .is_some_and(|c| { !c.to_str().unwrap().starts_with("meet_recorder_session") })
    );
    assert_error(replay, StatusCode::FORBIDDEN, "sign-in-rejected").await;
    let attacker = Browser::new();
    assert_eq!(attacker.me(&app).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(user_count(&app).await, users);
}

#[tokio::test]
async fn explicit_endpoints_basic_authentication_and_password_sign_in_turned_off() {
    let (app, _provider) = app_with_provider(alice(), "client_secret_basic", |p| {
        let base = &p.issuer;
        vec![
            ("OIDC_RP_CLIENT_ID", CLIENT_ID.into()),
            ("OIDC_RP_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("OIDC_RP_SCOPES", "openid email profile".into()),
            ("OIDC_OP_AUTHORIZATION_ENDPOINT", format!("{base}/auth")),
            ("OIDC_OP_TOKEN_ENDPOINT", format!("{base}/token")),
            ("OIDC_OP_USER_ENDPOINT", format!("{base}/me")),
            ("OIDC_OP_JWKS_ENDPOINT", format!("{base}/jwks")),
            ("OIDC_OP_LOGOUT_ENDPOINT", format!("{base}/session/end")),
            ("OIDC_TOKEN_USE_BASIC_AUTH", "true".into()),
            ("MEET_RECORDER_PASSWORD_SIGN_IN", "false".into()),
        ]
    })
    .await;
    let config = app
        .request(reqwest::Method::GET, "config/", None, None)
        .await;
    assert_eq!(
        config.body["sign_in"],
        json!({"password": false, "identity_provider": true})
    );
    let credentials = json!({"email": "alice@example.test", "password": "whatever"});
    let refused = Browser::new()
        .post_json(&app, "auth/login/", Some(credentials))
        .await;
    assert_error(refused, StatusCode::FORBIDDEN, "password-sign-in-disabled").await;

    let browser = Browser::new();
    let back = browser.sign_in(&app, "alice", "/").await;
    assert_eq!(location(&back), "/");
    assert_eq!(browser.me(&app).await.1["full_name"], "Alice Liddell");
}

#[tokio::test]
async fn without_a_provider_the_sign_in_endpoints_answer_404() {
    let app = crate::app::spawn_app().await;
    for path in ["authenticate/", "callback/?code=a&state=b"] {
        let reply = app.request(reqwest::Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.body["code"], "oidc-not-configured");
    }
    let config = app
        .request(reqwest::Method::GET, "config/", None, None)
        .await;
    assert_eq!(
        config.body["sign_in"],
        json!({"password": true, "identity_provider": false})
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_clear_502() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_on(
        listener,
        &[
            ("OIDC_OP_URL", &issuer),
            ("OIDC_RP_CLIENT_ID", CLIENT_ID),
            ("OIDC_RP_CLIENT_SECRET", CLIENT_SECRET),
        ],
        |_| {},
        |_, _| {},
    )
    .await;
    let reply = app
        .request(reqwest::Method::GET, "authenticate/", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.body["code"], "identity-provider-unavailable");
}
