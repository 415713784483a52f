-- API tokens: an optional expiry chosen at creation (NULL: until revoked) and when the
-- token was last used (written at most once a minute per token, to spare writes). Both are
-- Unix milliseconds. Tokens are listed per user, newest first.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT NULL;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT NULL;
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
