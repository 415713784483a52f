-- Share links: a public, revocable, optionally expiring URL (`/s/{token}`) to watch one
-- saved recording without an account. Only the SHA-256 of the link's 256-bit token is
-- stored, so a leaked database opens nothing; the token itself is shown once, at creation.
-- A link dies with its recording and with the account that made it.
CREATE TABLE share_links (
    id TEXT PRIMARY KEY,
    recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    -- NULL: valid as long as the recording is.
    expires_at BIGINT NULL,
    -- Set once, when an owner revokes the link; it never works again.
    revoked_at BIGINT NULL
);
CREATE INDEX share_links_recording ON share_links (recording_id);
