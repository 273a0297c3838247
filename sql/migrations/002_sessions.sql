-- 002: sessions and refresh tokens.

CREATE TABLE sessions (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    revoke_reason text,
    remember      boolean     NOT NULL DEFAULT true
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- hash = SHA-256 of the opaque refresh token; the token itself is never
-- stored.  used_at is set when the token is rotated; a used token presented
-- again is a reuse and revokes the session (see fluentai_refresh).
CREATE TABLE refresh_tokens (
    hash       bytea       PRIMARY KEY CHECK (octet_length(hash) = 32),
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
