//! The browser app as the binary serves it: its files, and `index.html` for its routes.

use reqwest::Method;

use crate::app::*;

/// `scripts/test.sh` builds the app first and sets this, so there the tests check the
/// real files; a bare `cargo test` on an unbuilt checkout checks the hint page instead.
fn app_must_be_built() -> bool {
    std::env::var_os("MEETREC_TEST_REQUIRE_WEB").is_some()
}

#[tokio::test]
async fn the_apps_routes_get_its_page_and_its_files_are_cached_by_hash() {
    let app = spawn_app().await;
    let built = meet_recorder::http::web::is_built();
    assert!(built || !app_must_be_built(), "web/dist is missing");
    for path in [
        "/",
        "/signin",
        "/rooms/weekly-sync",
        "/recording/5b0f8d1e-1111-4222-8333-944445555666",
        "/recordings",
    ] {
        let response = app.visit(path, &[]).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let html = response.text().await.unwrap();
        if built {
            assert!(html.contains("<div id=\"root\">"), "{path}: {html}");
        } else {
            assert!(html.contains("not built"), "{path}");
        }
    }
    if !built {
        return;
    }
    let index = app.visit("/", &[]).await;
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let html = index.text().await.unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("index.html loads a script");
    assert!(script.starts_with("/assets/"), "{script}");
    let asset = app.visit(script, &[]).await;
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = asset.headers()["etag"].to_str().unwrap().to_owned();
    let again = app.visit(script, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn missing_files_and_api_paths_are_not_the_apps_page() {
    let app = spawn_app().await;
    for path in ["/assets/missing-1234.js", "/favicon-missing.png"] {
        let response = app.visit(path, &[]).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let api = app
        .request(Method::GET, "no-such-endpoint/", None, None)
        .await;
    assert_eq!(api.status, 404);
    assert_eq!(api.body["code"], "not-found");
    let outside = app.visit("/api/v2/rooms/", &[]).await;
    assert_eq!(outside.status(), 404);
    let post = app
        .http
        .post(format!("http://{}/rooms/x", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    // Share pages stay the server's own (they work without JavaScript).
    let share = app.visit("/s/not-a-token", &[]).await;
    assert_eq!(share.status(), 404);
}
