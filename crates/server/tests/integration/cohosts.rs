//! Co-hosts and viewers: a room's owners and administrators own the recordings made in
//! it (see, share, delete, and the email); its members see them only when the room shows
//! them to members, and then only to watch.

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::*;

async fn give_access(app: &TestApp, room: &Value, host: &TestUser, user: &TestUser, role: &str) {
    let reply = app
        .post(
            &format!("rooms/{}/accesses/", room["id"].as_str().unwrap()),
            host,
            json!({"email": user.user.email, "role": role}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn listed(reply: &Reply, id: &str) -> Option<Value> {
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
}

#[tokio::test]
async fn a_rooms_hosts_own_its_recordings_and_each_is_emailed_once() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let cohost = app.user("cohost").await;
    let member = app.user("member").await;
    let room = app.live_room(&host).await;
    give_access(&app, &room, &host, &cohost, "administrator").await;
    give_access(&app, &room, &host, &member, "member").await;
    let recording = app.saved_recording(&host, &room, "screen_recording").await;
    let id = recording["id"].as_str().unwrap();

    // The starter and the co-host each got the email, once.
    let recipients: Vec<String> = app
        .sent_emails()
        .iter()
        .filter_map(|eml| {
            eml.lines()
                .find_map(|line| line.strip_prefix("To: "))
                .map(str::to_owned)
        })
        .collect();
    let mut sorted = recipients.clone();
    sorted.sort();
    let mut expected = vec![host.user.email.clone(), cohost.user.email.clone()];
    expected.sort();
    assert_eq!(sorted, expected, "{recipients:?}");

    // The co-host sees, shares and may delete it.
    let list = app.get("recordings/", &cohost).await;
    let entry = listed(&list, id).expect("listed for the co-host");
    assert_eq!(entry["abilities"]["share"], true);
    assert_eq!(entry["abilities"]["destroy"], true);
    let reply = app
        .post(&format!("recordings/{id}/share-links/"), &cohost, json!({}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);

    // The member does not see it: the room shows its recordings to its hosts only.
    assert!(listed(&app.get("recordings/", &member).await, id).is_none());
    assert_eq!(
        app.get(&format!("recordings/{id}/"), &member).await.status,
        404
    );

    let reply = app
        .request(
            Method::DELETE,
            &format!("recordings/{id}/"),
            Some(&cohost),
            None,
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

#[tokio::test]
async fn members_watch_a_rooms_recordings_when_it_shows_them_but_never_share_or_delete() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let member = app.user("member").await;
    let stranger = app.user("stranger").await;
    let room = app.live_room(&host).await;
    give_access(&app, &room, &host, &member, "member").await;
    let recording = app.saved_recording(&host, &room, "screen_recording").await;
    let id = recording["id"].as_str().unwrap();
    let room_path = format!("rooms/{}/", room["id"].as_str().unwrap());
    let set_visibility = |value: &'static str| {
        app.request(
            Method::PATCH,
            &room_path,
            Some(&host),
            Some(json!({"configuration": {"recordings_visible_to": value}})),
        )
    };
    let reply = set_visibility("everyone").await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["code"], "invalid-configuration");
    let reply = set_visibility("members").await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Listed and playable for the member, without the owners' abilities.
    let list = app.get("recordings/", &member).await;
    let entry = listed(&list, id).expect("listed for the member");
    assert_eq!(entry["abilities"]["retrieve"], true);
    assert_eq!(entry["abilities"]["share"], false);
    assert_eq!(entry["abilities"]["destroy"], false);
    assert_eq!(
        app.get(&format!("recordings/{id}/"), &member).await.status,
        200
    );
    let media = app
        .http
        .get(format!("{}/recordings/{id}/media/", app.api))
        .bearer_auth(&member.token)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 206);

    let reply = app
        .post(&format!("recordings/{id}/share-links/"), &member, json!({}))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.body["code"], "permission-denied");
    let reply = app
        .request(
            Method::DELETE,
            &format!("recordings/{id}/"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        app.get(&format!("recordings/{id}/"), &host).await.status,
        200,
        "still there"
    );
    // People without access to the room still see nothing.
    assert_eq!(
        app.get(&format!("recordings/{id}/"), &stranger)
            .await
            .status,
        404
    );

    // Back to hosts only.
    let reply = set_visibility("owners").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        app.get(&format!("recordings/{id}/"), &member).await.status,
        404
    );
    assert!(listed(&app.get("recordings/", &member).await, id).is_none());
}
