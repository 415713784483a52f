//! Rooms (`rooms/`), their accesses, and LiveKit join tokens. The LiveKit room name of a
//! room is its id.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use meet_recorder_domain::{Role, RoomSettings};
use rand::{Rng, distr::Alphanumeric};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::{ApiError, JsonBody, QueryParams},
    recordings::{Page, paginate},
    views::{
        AccessLevelTs, AccessUserView, ErrorView, PageView, RoleTs, RoomAccessView, RoomTokenView,
        RoomView,
    },
};
use crate::{
    adapters::db::{AccessRemoval, RoomRow, StoreError, UserRow},
    engine::{consent::consent_of, control::DeleteRoomError},
    http::AppState,
    http::auth::{CurrentUser, MaybeUser},
};

/// What a room's `access_level` may be.
pub const ACCESS_LEVELS: &[&str] = &["public", "trusted", "restricted"];

pub fn room_view(room: &RoomRow, role: Option<Role>) -> RoomView {
    RoomView {
        id: room.id,
        name: room.name.clone(),
        slug: room.slug.clone(),
        access_level: room.access_level.clone(),
        configuration: room.configuration.clone(),
        role,
        is_administrable: role.is_some_and(Role::is_privileged),
    }
}

/// The room and the user's role on it; 404 when it does not exist or is restricted to
/// others (not revealing that it exists).
pub async fn load_room(
    state: &AppState,
    id_or_slug: &str,
    user: &UserRow,
) -> Result<(RoomRow, Option<Role>), ApiError> {
    let not_found = || ApiError::not_found("room-not-found", "No Room matches the given query.");
    let room = state.db.room(id_or_slug).await?.ok_or_else(not_found)?;
    let role = state.db.room_role(room.id, user.id).await?;
    if room.access_level == "restricted" && role.is_none() {
        return Err(not_found());
    }
    Ok((room, role))
}

/// A room as seen by someone who may be signed out: guests see public rooms only, and
/// anything else asks them to sign in (without telling whether the room exists).
pub async fn load_room_as(
    state: &AppState,
    id_or_slug: &str,
    user: Option<&UserRow>,
) -> Result<(RoomRow, Option<Role>), ApiError> {
    match user {
        Some(user) => load_room(state, id_or_slug, user).await,
        None => state
            .db
            .room(id_or_slug)
            .await?
            .filter(|room| room.access_level == "public")
            .map(|room| (room, None))
            .ok_or_else(ApiError::not_authenticated),
    }
}

/// `?name=`: the name a guest of a public room goes by.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GuestName {
    /// A guest's name (signed-in users go by their own): at most 64 characters, no
    /// control characters; `Guest` when empty.
    #[param(max_length = 64)]
    name: Option<String>,
}

/// Who joins a room: a signed-in user as themselves, a guest under a fresh identity and
/// the name they gave. Returns `(identity, display name)`. A bad `name` is refused
/// whoever gives it, though a signed-in user's goes unused.
pub fn participant(
    user: Option<&UserRow>,
    guest: &GuestName,
) -> Result<(String, String), ApiError> {
    let name = guest.name.as_deref().map(str::trim).unwrap_or_default();
    if name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid-name",
            "name must be at most 64 characters, without control characters.",
        ));
    }
    if let Some(user) = user {
        let name = if user.full_name.is_empty() {
            &user.email
        } else {
            &user.full_name
        };
        return Ok((user.id.to_string(), name.clone()));
    }
    let name = if name.is_empty() { "Guest" } else { name };
    Ok((format!("guest-{}", Uuid::new_v4()), name.to_owned()))
}

fn require_privileged(role: Option<Role>) -> Result<(), ApiError> {
    if role.is_some_and(Role::is_privileged) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "room-privileges-required",
            "You must have privileges on room to perform this action.",
        ))
    }
}

#[utoipa::path(
    get,
    path = "/api/v1.0/rooms/",
    tag = "rooms",
    summary = "The rooms the user has an access to",
    params(Page),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "A page of rooms.", body = PageView<RoomView>),
        (status = 404, description = "`invalid-page`: a page past the end, or not a number.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<PageView<RoomView>>, ApiError> {
    let (limit, offset) = page.limits()?;
    let (rooms, count) = state.db.rooms_of(user.id, limit, offset).await?;
    let results = rooms
        .iter()
        .map(|(room, role)| room_view(room, Some(*role)))
        .collect();
    Ok(Json(paginate(&state, "rooms/", &page, count, results)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    /// 1 to 500 characters, once trimmed.
    #[schema(min_length = 1, max_length = 500)]
    name: String,
    /// `public` when absent.
    #[serde(default)]
    #[schema(value_type = Option<AccessLevelTs>)]
    access_level: Option<String>,
}

fn check_access_level(level: &str) -> Result<(), ApiError> {
    if ACCESS_LEVELS.contains(&level) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid-access-level",
            "access_level must be public, trusted or restricted.",
        ))
    }
}

fn check_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 500 {
        return Err(ApiError::bad_request(
            "invalid-name",
            "A room needs a name of 1 to 500 characters.",
        ));
    }
    Ok(name)
}

#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/",
    tag = "rooms",
    summary = "Create a room, owned by the user",
    request_body = NewRoom,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 201, description = "The room.", body = RoomView),
        (status = 400, description = "`invalid-name`: a name of 1 to 500 characters is needed. `invalid-access-level`: not public, trusted or restricted.", body = ErrorView),
        (status = 409, description = "`slug-unavailable`: no free slug could be found for the name.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(body): JsonBody<NewRoom>,
) -> Result<(StatusCode, Json<RoomView>), ApiError> {
    let name = check_name(&body.name)?;
    let access_level = body.access_level.as_deref().unwrap_or("public");
    check_access_level(access_level)?;
    let base = match slug::slugify(name) {
        s if s.is_empty() => "room".to_owned(),
        // A slug that parses as a UUID would shadow lookups by id.
        s if s.parse::<Uuid>().is_ok() => format!("room-{s}"),
        s => s.chars().take(80).collect(),
    };
    let mut slug = base.clone();
    for _ in 0..8 {
        if !state.db.slug_taken(&slug).await? {
            match state
                .db
                .create_room(name, &slug, access_level, user.id)
                .await
            {
                Ok(room) => {
                    return Ok((
                        StatusCode::CREATED,
                        Json(room_view(&room, Some(Role::Owner))),
                    ));
                }
                Err(StoreError::Conflict) => {}
                Err(StoreError::Other(error)) => return Err(error.into()),
            }
        }
        let suffix: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(5)
            .map(|c| char::from(c).to_ascii_lowercase())
            .collect();
        slug = format!("{base}-{suffix}");
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "slug-unavailable",
        "Could not find a free slug for this name.",
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1.0/rooms/{room}/",
    tag = "rooms",
    summary = "A room, as the requester sees it (guests: public rooms only)",
    params(("room" = String, Path, description = "The room's id or slug.")),
    security((), ("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The room.", body = RoomView),
        (status = 401, description = "`not-authenticated`: signed out, and the room is not public (whether it exists is not told).", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
    ),
)]
pub async fn retrieve(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(room): Path<String>,
) -> Result<Json<RoomView>, ApiError> {
    let (room, role) = load_room_as(&state, &room, user.as_ref()).await?;
    Ok(Json(room_view(&room, role)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoom {
    /// 1 to 500 characters, once trimmed.
    #[schema(min_length = 1, max_length = 500)]
    name: Option<String>,
    #[schema(value_type = Option<AccessLevelTs>)]
    access_level: Option<String>,
    /// Replaces the room's configuration; its recording settings are checked
    /// ([`RoomSettings`]), anything else clients keep there is stored as given.
    #[schema(value_type = Option<Object>)]
    configuration: Option<serde_json::Value>,
}

/// Largest configuration a room keeps.
const MAX_CONFIGURATION_BYTES: usize = 16 * 1024;

/// A configuration the service can act on: well-formed recording settings naming modes
/// this instance records.
fn check_configuration(
    state: &AppState,
    configuration: &serde_json::Value,
) -> Result<(), ApiError> {
    let invalid = |detail: String| ApiError::bad_request("invalid-configuration", detail);
    if !configuration.is_object() {
        return Err(invalid("configuration must be a JSON object.".into()));
    }
    if configuration.to_string().len() > MAX_CONFIGURATION_BYTES {
        return Err(invalid(format!(
            "configuration must be at most {MAX_CONFIGURATION_BYTES} bytes."
        )));
    }
    let settings = RoomSettings::parse(configuration).map_err(|e| invalid(e.to_string()))?;
    let available = state.config.recording.available_modes();
    if let Some(mode) = settings
        .auto_record
        .iter()
        .find(|mode| !state.config.recording.enable || !available.contains(mode))
    {
        return Err(invalid(format!(
            "configuration.auto_record names {mode}, which this service does not record."
        )));
    }
    Ok(())
}

#[utoipa::path(
    patch,
    path = "/api/v1.0/rooms/{room}/",
    tag = "rooms",
    summary = "Change a room (its owners and administrators)",
    params(("room" = String, Path, description = "The room's id or slug.")),
    request_body = Option<UpdateRoom>,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The room, changed.", body = RoomView),
        (status = 400, description = "`invalid-name`, `invalid-access-level`, `invalid-configuration`: a value out of its bounds (see the body's schema).", body = ErrorView),
        (status = 403, description = "`room-privileges-required`: the user is not an owner or administrator of the room.", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(room): Path<String>,
    JsonBody(body): JsonBody<UpdateRoom>,
) -> Result<Json<RoomView>, ApiError> {
    let (room, role) = load_room(&state, &room, &user).await?;
    require_privileged(role)?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    if let Some(level) = &body.access_level {
        check_access_level(level)?;
    }
    if let Some(configuration) = &body.configuration {
        check_configuration(&state, configuration)?;
    }
    let updated = state
        .db
        .update_room(
            room.id,
            name,
            body.access_level.as_deref(),
            body.configuration.as_ref(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("room-not-found", "No Room matches the given query."))?;
    // Who may publish follows the consent setting at once, for the recordings running too.
    if consent_of(&room) != consent_of(&updated) {
        state
            .engine
            .consent
            .review_later(room.id, &format!("settings:{}", updated.updated_at))
            .await?;
    }
    Ok(Json(room_view(&updated, role)))
}

#[utoipa::path(
    delete,
    path = "/api/v1.0/rooms/{room}/",
    tag = "rooms",
    summary = "Delete a room (its owners)",
    params(("room" = String, Path, description = "The room's id or slug.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 204, description = "Deleted, with its recordings."),
        (status = 403, description = "`room-owner-required`: the user is not an owner of the room.", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
        (status = 409, description = "`recording-in-progress`: stop the room's recording first.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn destroy(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(room): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (room, role) = load_room(&state, &room, &user).await?;
    if role != Some(Role::Owner) {
        return Err(ApiError::forbidden(
            "room-owner-required",
            "Only an owner can delete a room.",
        ));
    }
    match state.engine.control.delete_room(room.id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(DeleteRoomError::RecordingInProgress) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "recording-in-progress",
            "A recording of this room is in progress; stop it before deleting the room.",
        )),
        Err(DeleteRoomError::Database(error)) => Err(error.into()),
    }
}

/// `GET rooms/{id}/token/[?name=]`: a LiveKit token to join the room, as the signed-in
/// user or, in a public room, as a guest.
#[utoipa::path(
    get,
    path = "/api/v1.0/rooms/{room}/token/",
    tag = "rooms",
    summary = "A LiveKit token to join the room (guests: public rooms, under `name`)",
    params(("room" = String, Path, description = "The room's id or slug."), GuestName),
    security((), ("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The token and where to connect.", body = RoomTokenView),
        (status = 400, description = "`invalid-name`: a guest's name over 64 characters or with control characters.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: signed out, and the room is not public (whether it exists is not told).", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
    ),
)]
pub async fn token(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(room): Path<String>,
    QueryParams(guest): QueryParams<GuestName>,
) -> Result<Json<RoomTokenView>, ApiError> {
    let (room, role) = load_room_as(&state, &room, user.as_ref()).await?;
    let (identity, name) = participant(user.as_ref(), &guest)?;
    let is_host = role.is_some_and(Role::is_privileged);
    let may_publish = state
        .engine
        .consent
        .may_publish_on_join(&room, &identity, is_host)
        .await?;
    let token = state
        .livekit
        .join_token(&room.id.to_string(), &identity, &name, may_publish);
    Ok(Json(RoomTokenView {
        url: state.livekit.public_url().to_owned(),
        room: room.id,
        token,
        may_publish,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1.0/rooms/{room}/accesses/",
    tag = "rooms",
    summary = "Who has an access to the room (its owners and administrators)",
    params(("room" = String, Path, description = "The room's id or slug.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The accesses.", body = Vec<RoomAccessView>),
        (status = 403, description = "`room-privileges-required`: the user is not an owner or administrator of the room.", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn list_accesses(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(room): Path<String>,
) -> Result<Json<Vec<RoomAccessView>>, ApiError> {
    let (room, role) = load_room(&state, &room, &user).await?;
    require_privileged(role)?;
    let accesses = state
        .db
        .room_accesses(room.id)
        .await?
        .into_iter()
        .map(|a| RoomAccessView {
            id: a.id,
            user: AccessUserView {
                id: a.user_id,
                email: a.email,
            },
            role: a.role,
        })
        .collect();
    Ok(Json(accesses))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccess {
    /// The email of the user to give the access to.
    email: String,
    #[schema(value_type = RoleTs)]
    role: String,
}

#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/{room}/accesses/",
    tag = "rooms",
    summary = "Give a user an access to the room",
    params(("room" = String, Path, description = "The room's id or slug.")),
    request_body = NewAccess,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 201, description = "The access.", body = RoomAccessView),
        (status = 400, description = "`invalid-role`: not member, administrator or owner. `unknown-user`: no user has this email.", body = ErrorView),
        (status = 403, description = "`room-privileges-required`: the user is not an owner or administrator. `room-owner-required`: only owners add owners.", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
        (status = 409, description = "`access-exists`: the user has an access already.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn add_access(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(room): Path<String>,
    JsonBody(body): JsonBody<NewAccess>,
) -> Result<(StatusCode, Json<RoomAccessView>), ApiError> {
    let (room, role) = load_room(&state, &room, &user).await?;
    require_privileged(role)?;
    let new_role: Role = body.role.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid-role",
            "role must be member, administrator or owner.",
        )
    })?;
    if new_role == Role::Owner && role != Some(Role::Owner) {
        return Err(ApiError::forbidden(
            "room-owner-required",
            "Only an owner can add owners.",
        ));
    }
    let target = state
        .db
        .user_by_email(body.email.trim())
        .await?
        .ok_or_else(|| ApiError::bad_request("unknown-user", "No user has this email address."))?;
    let id = match state.db.add_room_access(room.id, target.id, new_role).await {
        Ok(id) => id,
        Err(StoreError::Conflict) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "access-exists",
                "This user already has an access to the room.",
            ));
        }
        Err(StoreError::Other(error)) => return Err(error.into()),
    };
    Ok((
        StatusCode::CREATED,
        Json(RoomAccessView {
            id,
            user: AccessUserView {
                id: target.id,
                email: target.email,
            },
            role: new_role,
        }),
    ))
}

/// `DELETE rooms/{id}/accesses/{access}/`. The checks that matter under concurrency (the
/// requester's role, the last owner) run inside the removal's transaction, so two owners
/// removing each other at once leave one owner, never none.
#[utoipa::path(
    delete,
    path = "/api/v1.0/rooms/{room}/accesses/{access}/",
    tag = "rooms",
    summary = "Remove an access to the room",
    params(("room" = String, Path, description = "The room's id or slug."), ("access" = String, Path, description = "The access's id.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 204, description = "Removed."),
        (status = 403, description = "`room-privileges-required`: the user is not an owner or administrator. `room-owner-required`: only owners remove owners. `last-owner`: a room keeps one owner.", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others. `access-not-found`: no such access to this room.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn remove_access(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((room, access)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (room, role) = load_room(&state, &room, &user).await?;
    require_privileged(role)?;
    let not_found =
        || ApiError::not_found("access-not-found", "No access matches the given query.");
    let access: Uuid = access.parse().map_err(|_| not_found())?;
    match state
        .db
        .remove_room_access(room.id, access, user.id)
        .await?
    {
        AccessRemoval::Removed => Ok(StatusCode::NO_CONTENT),
        AccessRemoval::NotFound => Err(not_found()),
        // Removed or demoted by someone else since the request began.
        AccessRemoval::NotPrivileged => Err(ApiError::forbidden(
            "room-privileges-required",
            "You must have privileges on room to perform this action.",
        )),
        AccessRemoval::OwnerRequired => Err(ApiError::forbidden(
            "room-owner-required",
            "Only an owner can remove an owner.",
        )),
        AccessRemoval::LastOwner => Err(ApiError::forbidden(
            "last-owner",
            "A room keeps at least one owner.",
        )),
    }
}
