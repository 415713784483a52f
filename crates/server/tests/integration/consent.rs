//! Consent to being recorded: a room set to `notice` or `ask` has its participants answer
//! for what is recording; in an `ask` room those who have not accepted may not publish
//! (their join token withholds it, LiveKit's `UpdateParticipant` withdraws and grants it),
//! and the recording's owners see who answered what.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    app::*,
    helpers::{API_KEY, eventually, unique},
};

async fn set_consent(app: &TestApp, room: &Value, host: &TestUser, consent: &str) -> Reply {
    app.request(
        Method::PATCH,
        &format!("rooms/{}/", room["id"].as_str().unwrap()),
        Some(host),
        Some(json!({ "configuration": { "recording_consent": consent } })),
    )
    .await
}

/// A guest's join token for the room: `(token, identity, may_publish)`.
async fn guest_token(app: &TestApp, room: &Value, name: &str) -> (String, String, bool) {
    let reply = app
        .request(
            Method::GET,
            &format!("rooms/{}/token/?name={name}", room["id"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    let identity = identity_in(&token);
    (
        token,
        identity,
        reply.body["may_publish"].as_bool().unwrap(),
    )
}

/// The identity (`sub`) a join token carries, read without verifying it.
fn identity_in(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

async fn answer(app: &TestApp, room: &Value, token: &str, decision: &str) -> Reply {
    app.request(
        Method::POST,
        &format!("rooms/{}/recording-consent/", room["id"].as_str().unwrap()),
        None,
        Some(json!({ "token": token, "decision": decision })),
    )
    .await
}

/// Whether LiveKit lets the participant publish, as the emulator holds it.
async fn can_publish(app: &TestApp, room_id: &str, identity: &str) -> Option<bool> {
    let room = app.livekit_room(room_id).await;
    // The emulator shows participants in LiveKit's JSON, which leaves out `false`.
    let participant = room["participants"]
        .as_array()?
        .iter()
        .find(|p| p["identity"] == identity)?
        .clone();
    Some(
        participant["permission"]["canPublish"]
            .as_bool()
            .unwrap_or(false),
    )
}

async fn wait_publishing(app: &TestApp, room_id: &str, identity: &str, wanted: bool) {
    eventually(
        &format!("{identity} may publish: {wanted}"),
        Duration::from_secs(10),
        || async { (can_publish(app, room_id, identity).await == Some(wanted)).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn in_a_room_that_asks_only_those_who_accepted_publish_while_it_records() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let room_id = room["id"].as_str().unwrap().to_owned();
    let reply = set_consent(&app, &room, &host, "ask").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["configuration"]["recording_consent"], "ask");
    let people = app.livekit.participants();

    // Before anything records, everyone publishes and nobody is asked.
    let (early_token, early, may_publish) = guest_token(&app, &room, "Early").await;
    assert!(may_publish);
    people.join(&room_id, &early, "Early");
    people.join(&room_id, &host.user.id.to_string(), "Host");
    let (_, stale, stale_may_publish) = guest_token(&app, &room, "Stale").await;
    assert!(stale_may_publish);
    let nothing = answer(&app, &room, &early_token, "accepted").await;
    assert_eq!(nothing.status, 409, "{}", nothing.body);
    assert_eq!(nothing.body["code"], "not-recording");

    // The host starts: whoever has not accepted stops publishing; the host does not.
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let recording_id = reply.body["recording"]["id"].as_str().unwrap().to_owned();
    wait_publishing(&app, &room_id, &early, false).await;
    assert_eq!(
        can_publish(&app, &room_id, &host.user.id.to_string()).await,
        Some(true)
    );

    // A late joiner's token withholds publishing, and so does LiveKit once they are in,
    // even with a token from before the recording.
    let (late_token, late, may_publish) = guest_token(&app, &room, "Late").await;
    assert!(!may_publish);
    people.join(&room_id, &late, "Late");
    people.join(&room_id, &stale, "Stale");
    wait_publishing(&app, &room_id, &stale, false).await;

    // Accepting lets them publish at once.
    let accepted = answer(&app, &room, &late_token, "accepted").await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(
        accepted.body,
        json!({"decision": "accepted", "may_publish": true})
    );
    wait_publishing(&app, &room_id, &late, true).await;
    let declined = answer(&app, &room, &early_token, "declined").await;
    assert_eq!(declined.status, 200, "{}", declined.body);
    assert_eq!(declined.body["may_publish"], false);
    assert_eq!(can_publish(&app, &room_id, &early).await, Some(false));

    // The owners see who answered what, and when; nobody else does.
    let reply = app
        .get(&format!("recordings/{recording_id}/consents/"), &host)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answers = reply.body.as_array().unwrap();
    assert_eq!(answers.len(), 2, "{}", reply.body);
    let of = |name: &str| answers.iter().find(|a| a["name"] == name).unwrap().clone();
    assert_eq!(of("Late")["decision"], "accepted");
    assert_eq!(of("Late")["consent"], "ask");
    assert_eq!(of("Late")["is_guest"], true);
    assert_eq!(of("Early")["decision"], "declined");
    assert!(of("Early")["decided_at"].as_str().unwrap().ends_with('Z'));
    let stranger = app.user("stranger").await;
    let reply = app
        .get(&format!("recordings/{recording_id}/consents/"), &stranger)
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);

    // Once it stops capturing, everyone publishes again.
    let reply = app
        .stop(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    wait_publishing(&app, &room_id, &early, true).await;
    wait_publishing(&app, &room_id, &stale, true).await;
    let (_, _, may_publish) = guest_token(&app, &room, "After").await;
    assert!(may_publish);
}

#[tokio::test]
async fn turning_ask_off_while_recording_lets_everyone_publish() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let room_id = room["id"].as_str().unwrap().to_owned();
    assert_eq!(set_consent(&app, &room, &host, "ask").await.status, 200);
    let people = app.livekit.participants();
    let guest = unique("guest-quiet");
    people.join(&room_id, &guest, "Quiet");
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    wait_publishing(&app, &room_id, &guest, false).await;

    assert_eq!(set_consent(&app, &room, &host, "notice").await.status, 200);
    wait_publishing(&app, &room_id, &guest, true).await;
}

#[tokio::test]
async fn a_notice_is_acknowledged_without_holding_anyone_back() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    assert_eq!(set_consent(&app, &room, &host, "notice").await.status, 200);
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let recording_id = reply.body["recording"]["id"].as_str().unwrap().to_owned();

    let (token, _, may_publish) = guest_token(&app, &room, "Grace").await;
    assert!(may_publish, "a notice withholds nothing");
    let reply = answer(&app, &room, &token, "accepted").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["may_publish"], true);
    let reply = app
        .get(&format!("recordings/{recording_id}/consents/"), &host)
        .await;
    assert_eq!(reply.body[0]["consent"], "notice", "{}", reply.body);
    assert_eq!(reply.body[0]["name"], "Grace");
}

#[tokio::test]
async fn answers_need_a_join_token_for_the_room_and_a_room_that_asks() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let other = app.room(&host).await;
    let (token, _, _) = guest_token(&app, &room, "Ada").await;

    // A room that does not ask takes no answers.
    let reply = answer(&app, &room, &token, "accepted").await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.body["code"], "consent-not-asked");

    assert_eq!(set_consent(&app, &room, &host, "ask").await.status, 200);
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let recording_id = reply.body["recording"]["id"].as_str().unwrap().to_owned();

    let (other_token, _, _) = guest_token(&app, &other, "Ada").await;
    let forged = AccessToken::with_api_key(API_KEY, "not-the-secret")
        .with_identity("guest-forged")
        .with_grants(VideoGrants {
            room_join: true,
            room: room["id"].as_str().unwrap().to_owned(),
            ..Default::default()
        })
        .to_jwt()
        .unwrap();
    for (bad, why) in [
        (other_token.as_str(), "another room's token"),
        (forged.as_str(), "a token signed with another secret"),
        ("not-a-token", "garbage"),
    ] {
        let reply = answer(&app, &room, bad, "accepted").await;
        assert_eq!(reply.status, 400, "{why}: {}", reply.body);
        assert_eq!(reply.body["code"], "invalid-token", "{why}");
    }
    let reply = answer(&app, &room, &token, "maybe").await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["code"], "invalid-decision");
    let reply = app
        .request(
            Method::POST,
            &format!("rooms/{}/recording-consent/", room["id"].as_str().unwrap()),
            None,
            Some(json!({ "token": token, "decision": "accepted", "identity": "someone" })),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);

    // None of these left an answer.
    let reply = app
        .get(&format!("recordings/{recording_id}/consents/"), &host)
        .await;
    assert_eq!(reply.body, json!([]));

    // A bad setting is refused with what is wrong.
    let reply = set_consent(&app, &room, &host, "always").await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["code"], "invalid-configuration");
}
