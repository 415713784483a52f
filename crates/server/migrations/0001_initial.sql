-- Times are Unix milliseconds; identifiers are UUID text; JSON is text.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    -- The subject at an external identity provider (OIDC), when the account comes from one.
    external_sub TEXT UNIQUE,
    language TEXT NOT NULL DEFAULT 'en',
    timezone TEXT NOT NULL DEFAULT 'UTC',
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE rooms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    access_level TEXT NOT NULL DEFAULT 'public',
    configuration TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE room_accesses (
    id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (room_id, user_id)
);

CREATE TABLE recordings (
    id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    mode TEXT NOT NULL,
    layout TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    worker_id TEXT,
    external_process_id TEXT UNIQUE,
    started_at BIGINT,
    stopped_at BIGINT,
    duration_ms BIGINT,
    size_bytes BIGINT,
    file_location TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- At most one open recording per room and mode: concurrent starts get one winner.
CREATE UNIQUE INDEX recordings_one_open_per_room_and_mode
    ON recordings (room_id, mode) WHERE status IN ('initiated', 'active');
CREATE INDEX recordings_worker_id ON recordings (worker_id);
CREATE INDEX recordings_room_created ON recordings (room_id, created_at);

CREATE TABLE recording_accesses (
    id TEXT PRIMARY KEY,
    recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (recording_id, user_id)
);
CREATE INDEX recording_accesses_user ON recording_accesses (user_id);

-- LiveKit webhook event ids already handled: duplicates change nothing.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
