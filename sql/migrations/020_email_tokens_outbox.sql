-- 020: email verification, one-time email tokens and the mail outbox.
--
-- Tokens (password reset, email verification) are stored as the SHA-256
-- of the token only.  A mail is a row of fluentai_mail_outbox written in
-- the same transaction as its token, so no mail is lost and none is sent
-- for a token that was rolled back.  The outbox holds a random seed, not
-- the token: nginx derives the token as HMAC-SHA256 of the seed under a
-- key from the JWT secret, so the database alone holds no usable link;
-- the seed is cleared once the mail is sent or given up.

ALTER TABLE users ADD COLUMN IF NOT EXISTS email_verified_at timestamptz;

CREATE TABLE fluentai_email_tokens (
    hash       bytea       PRIMARY KEY CHECK (octet_length(hash) = 32),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL
               CHECK (purpose IN ('reset_password', 'verify_email')),
    email      text        NOT NULL,     -- the address it was sent to
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz               -- consumed, or superseded
);
CREATE INDEX fluentai_email_tokens_user_idx
    ON fluentai_email_tokens (user_id, purpose);

-- One row per mail.  Delivery state: pending (sent_at and failed_at NULL;
-- due at next_attempt_at), sent, or failed (given up: a permanent SMTP
-- failure, an expired token, superseded by a newer request).  A sender
-- claims a due row with FOR UPDATE SKIP LOCKED and moves next_attempt_at
-- past the end of its SMTP session (a lease): a sender that dies mid-way
-- leaves the row due again after the lease, so a mail can be delivered
-- twice but is never lost (at-least-once).
CREATE TABLE fluentai_mail_outbox (
    id               bigserial   PRIMARY KEY,
    user_id          uuid        REFERENCES users (id) ON DELETE CASCADE,
    kind             text        NOT NULL
                     CHECK (kind IN ('reset_password', 'verify_email')),
    recipient        text        NOT NULL,
    name             text        NOT NULL,
    seed             bytea       CHECK (octet_length(seed) = 32),
    lifetime         int         NOT NULL,   -- seconds, for {{lifetime}}
    token_expires_at timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         int         NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    failed_at        timestamptz,
    last_error       text
);
CREATE INDEX fluentai_mail_outbox_due_idx ON fluentai_mail_outbox
    (next_attempt_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX fluentai_mail_outbox_user_idx ON fluentai_mail_outbox
    (user_id, created_at);

-- fluentai_mail_request(email, kind, hash, seed, ttl, per_hour)
-- A token and its mail for the active user with this email, in one
-- transaction; the user row is locked, so concurrent requests for one
-- account are serialised.  Returns
--   'queued'    token stored (older unused ones of the kind superseded,
--               their pending mails given up), mail queued;
--   'unknown'   no such user, or inactive;
--   'verified'  kind verify_email and the email is verified already;
--   'limited'   the account got per_hour mails in the last hour.
CREATE FUNCTION fluentai_mail_request(p_email text, p_kind text,
    p_hash bytea, p_seed bytea, p_ttl int, p_per_hour int)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    u record;
    n bigint;
BEGIN
    SELECT id, email, name, is_active, email_verified_at INTO u
      FROM users
     WHERE lower(email) = lower(p_email)
       FOR UPDATE;

    IF NOT FOUND OR NOT u.is_active THEN
        RETURN 'unknown';
    END IF;

    IF p_kind = 'verify_email' AND u.email_verified_at IS NOT NULL THEN
        RETURN 'verified';
    END IF;

    SELECT count(*) INTO n
      FROM fluentai_mail_outbox
     WHERE user_id = u.id
       AND created_at > now() - interval '1 hour';

    IF n >= p_per_hour THEN
        RETURN 'limited';
    END IF;

    UPDATE fluentai_email_tokens
       SET used_at = now()
     WHERE user_id = u.id AND purpose = p_kind AND used_at IS NULL;

    UPDATE fluentai_mail_outbox
       SET failed_at = now(), seed = NULL, last_error = 'superseded'
     WHERE user_id = u.id AND kind = p_kind
       AND sent_at IS NULL AND failed_at IS NULL;

    INSERT INTO fluentai_email_tokens (hash, user_id, purpose, email,
                                       expires_at)
    VALUES (p_hash, u.id, p_kind, u.email,
            now() + make_interval(secs => p_ttl));

    INSERT INTO fluentai_mail_outbox (user_id, kind, recipient, name, seed,
                                      lifetime, token_expires_at)
    VALUES (u.id, p_kind, u.email, u.name, p_seed, p_ttl,
            now() + make_interval(secs => p_ttl));

    RETURN 'queued';
END
$$;

-- fluentai_email_token_use(hash, purpose) -> user id or NULL
-- Consumes an unused, unexpired token of the purpose whose address is
-- still the one of its active user.  One UPDATE: of two concurrent uses
-- exactly one matches (the second re-reads used_at after the first
-- commits).
CREATE FUNCTION fluentai_email_token_use(p_hash bytea, p_purpose text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_uid uuid;
BEGIN
    UPDATE fluentai_email_tokens t
       SET used_at = now()
      FROM users u
     WHERE t.hash = p_hash
       AND t.purpose = p_purpose
       AND t.used_at IS NULL
       AND t.expires_at > now()
       AND u.id = t.user_id
       AND u.is_active
       AND lower(u.email) = lower(t.email)
    RETURNING t.user_id INTO v_uid;

    RETURN v_uid;
END
$$;

-- fluentai_reset_password(hash, new password hash) -> user id or NULL
-- Consumes a reset token, sets the password, marks the email verified
-- (the mail reached its owner), supersedes the user's other reset tokens,
-- bumps the credential version (migration 010: a login verifying the old
-- password meanwhile gets no session) and revokes every session of the
-- user.
CREATE FUNCTION fluentai_reset_password(p_hash bytea, p_password text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_uid uuid;
BEGIN
    v_uid := fluentai_email_token_use(p_hash, 'reset_password');

    IF v_uid IS NULL THEN
        RETURN NULL;
    END IF;

    UPDATE users
       SET hashed_password    = p_password,
           credential_version = credential_version + 1,   -- see 010
           email_verified_at  = coalesce(email_verified_at, now()),
           updated_at         = now()
     WHERE id = v_uid;

    UPDATE fluentai_email_tokens
       SET used_at = now()
     WHERE user_id = v_uid AND purpose = 'reset_password'
       AND used_at IS NULL;

    UPDATE sessions
       SET revoked_at = now(), revoke_reason = 'password_reset'
     WHERE user_id = v_uid AND revoked_at IS NULL;

    RETURN v_uid;
END
$$;

-- fluentai_verify_email(hash) -> user id or NULL
-- Consumes a verification token and marks the email verified.
CREATE FUNCTION fluentai_verify_email(p_hash bytea)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_uid uuid;
BEGIN
    v_uid := fluentai_email_token_use(p_hash, 'verify_email');

    UPDATE users
       SET email_verified_at = coalesce(email_verified_at, now())
     WHERE id = v_uid;

    RETURN v_uid;
END
$$;
