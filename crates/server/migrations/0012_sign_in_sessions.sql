-- The ID token a sign-in through OpenID Connect received, kept with its session so that
-- signing out can also end the provider's session (`id_token_hint`).
ALTER TABLE sessions ADD COLUMN id_token TEXT NULL;
