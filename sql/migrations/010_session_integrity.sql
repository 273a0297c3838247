-- 010: session integrity.
--
-- 1. Credential version.  users.credential_version counts the events that
--    must end every existing session of a user: a password change, a
--    password reset, a deactivation.  Every session records the version of
--    its user when it was created (sessions.credential_version); a session
--    is only live while the two are equal.  The login statement copies the
--    version it read before verifying the password and inserts the session
--    only if the user still has that version (under a row lock), so a login
--    that verified the old password cannot outlive a password change that
--    committed meanwhile.  Whatever sets a new password must bump the
--    version: use fluentai_set_password() below.
--
-- 2. Deactivation is revocation: a trigger on users revokes every session
--    (revoke_reason 'user_deactivated') and bumps the credential version
--    when is_active goes from true to false, whatever tool flips the flag.
--    Setting is_active back to true brings no old session back.
--
-- 3. Absolute session lifetime: fluentai_refresh() takes the maximum
--    session age (fluentai_session_max_lifetime) and neither rotates a
--    token of an older session nor slides an expiry past created_at + max.
--
-- A session is LIVE when, with s its row and u its user's:
--
--     s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active
--     AND s.credential_version = u.credential_version
--     AND s.created_at > now() - <max lifetime>
--
-- Every statement of the module that uses a session checks exactly this
-- (see fluentai_session_live() for the same test in SQL).

ALTER TABLE users
    ADD COLUMN IF NOT EXISTS credential_version integer NOT NULL DEFAULT 1;

ALTER TABLE sessions ADD COLUMN IF NOT EXISTS credential_version integer;

UPDATE sessions s
   SET credential_version = u.credential_version
  FROM users u
 WHERE u.id = s.user_id
   AND s.credential_version IS NULL;

ALTER TABLE sessions ALTER COLUMN credential_version SET NOT NULL;

-- A session inserted without a version (tools, fixtures) gets its user's
-- current one.  The module always passes the version it read together
-- with the hash it verified, and so must any code that creates a session
-- after checking a credential: copying the current version then would
-- reopen the race this column closes.

CREATE OR REPLACE FUNCTION fluentai_session_version()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF NEW.credential_version IS NULL THEN
        SELECT u.credential_version INTO NEW.credential_version
          FROM users u
         WHERE u.id = NEW.user_id;
    END IF;

    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS fluentai_session_version ON sessions;

CREATE TRIGGER fluentai_session_version
    BEFORE INSERT ON sessions
    FOR EACH ROW
    WHEN (NEW.credential_version IS NULL)
    EXECUTE FUNCTION fluentai_session_version();


-- fluentai_session_live(session_id, user_id, max_lifetime seconds): the
-- definition above as a function, for tools and later statements.

CREATE OR REPLACE FUNCTION fluentai_session_live(p_session uuid,
                                                 p_user uuid,
                                                 p_max_lifetime integer)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (
        SELECT 1
          FROM sessions s
          JOIN users u ON u.id = s.user_id
         WHERE s.id = p_session
           AND s.user_id = p_user
           AND s.revoked_at IS NULL
           AND s.expires_at > now()
           AND u.is_active
           AND s.credential_version = u.credential_version
           AND s.created_at > now() - make_interval(secs => p_max_lifetime))
$$;


-- fluentai_set_password(user, new_hash, old_hash, keep_session, reason)
--   Stores new_hash if the user's hash is still old_hash (any hash when
--   old_hash is NULL), bumps credential_version, revokes every other
--   session of the user (revoke_reason = reason) and moves keep_session
--   (NULL: none) to the new version, so it stays live.  Returns the new
--   credential version, or NULL when nothing was changed (no such user,
--   or the hash changed meanwhile).  Change-password calls it with the
--   verified hash and the current session; a password reset must call it
--   too (keep_session NULL, reason 'password_reset').

CREATE OR REPLACE FUNCTION fluentai_set_password(p_user uuid,
                                                 p_new_hash text,
                                                 p_old_hash text,
                                                 p_keep_session uuid,
                                                 p_reason text
                                                     DEFAULT 'password_changed')
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v integer;
BEGIN
    UPDATE users u
       SET hashed_password    = p_new_hash,
           credential_version = u.credential_version + 1,
           updated_at         = now()
     WHERE u.id = p_user
       AND (p_old_hash IS NULL OR u.hashed_password = p_old_hash)
    RETURNING u.credential_version INTO v;

    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    UPDATE sessions s
       SET revoked_at = now(), revoke_reason = p_reason
     WHERE s.user_id = p_user
       AND s.revoked_at IS NULL
       AND s.id IS DISTINCT FROM p_keep_session;

    UPDATE sessions s
       SET credential_version = v
     WHERE s.id = p_keep_session
       AND s.user_id = p_user
       AND s.revoked_at IS NULL;

    RETURN v;
END
$$;


-- Deactivation: revoke and bump, in the same transaction as the update.

CREATE OR REPLACE FUNCTION fluentai_user_deactivated()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    NEW.credential_version := OLD.credential_version + 1;

    UPDATE sessions s
       SET revoked_at = now(), revoke_reason = 'user_deactivated'
     WHERE s.user_id = NEW.id
       AND s.revoked_at IS NULL;

    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS fluentai_user_deactivated ON users;

CREATE TRIGGER fluentai_user_deactivated
    BEFORE UPDATE OF is_active ON users
    FOR EACH ROW
    WHEN (OLD.is_active AND NOT NEW.is_active)
    EXECUTE FUNCTION fluentai_user_deactivated();


-- fluentai_refresh(p_old, p_new, p_ttl, p_short_ttl, p_max_lifetime)
--   As in 003, plus: the session must be live (credential version, maximum
--   age p_max_lifetime seconds, default 30 days), and the sliding expiry
--   never passes created_at + p_max_lifetime.  One more column, ends_at:
--   the session's absolute end as a Unix time (for 'ok'; access tokens are
--   not issued past it).  The 4-argument form of 003 is replaced; a caller
--   still passing four arguments gets the 30-day default.
--
-- Atomicity is that of 003: step a) is one UPDATE guarded by
-- "used_at IS NULL" (see 003 and sql/README.md).

DROP FUNCTION IF EXISTS fluentai_refresh(bytea, bytea, integer, integer);

CREATE FUNCTION fluentai_refresh(p_old bytea, p_new bytea,
                                 p_ttl integer, p_short_ttl integer,
                                 p_max_lifetime integer DEFAULT 2592000)
RETURNS TABLE (status text, session_id uuid, user_id uuid, ends_at bigint)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_sid     uuid;
    v_uid     uuid;
    v_created timestamptz;
    v_max     interval := make_interval(secs => p_max_lifetime);
BEGIN
    -- a) rotate
    UPDATE refresh_tokens t
       SET used_at = now()
      FROM sessions s
      JOIN users u ON u.id = s.user_id
     WHERE t.hash = p_old
       AND t.used_at IS NULL
       AND s.id = t.session_id
       AND s.revoked_at IS NULL
       AND s.expires_at > now()
       AND u.is_active
       AND s.credential_version = u.credential_version
       AND s.created_at > now() - v_max
    RETURNING s.id, s.user_id, s.created_at INTO v_sid, v_uid, v_created;

    IF FOUND THEN
        INSERT INTO refresh_tokens (hash, session_id) VALUES (p_new, v_sid);

        UPDATE sessions s
           SET last_used_at = now(),
               expires_at   = least(now() + make_interval(secs =>
                                        CASE WHEN s.remember THEN p_ttl
                                             ELSE p_short_ttl END),
                                    s.created_at + v_max)
         WHERE s.id = v_sid
           AND s.revoked_at IS NULL;
        IF NOT FOUND THEN
            -- revoked concurrently (logout) after our UPDATE matched
            RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid,
                                NULL::bigint;
            RETURN;
        END IF;

        RETURN QUERY
            SELECT 'ok'::text, v_sid, v_uid,
                   floor(extract(epoch FROM v_created + v_max))::bigint;
        RETURN;
    END IF;

    -- b) reuse of an already rotated token: revoke the whole session
    SELECT s.id, s.user_id INTO v_sid, v_uid
      FROM refresh_tokens t
      JOIN sessions s ON s.id = t.session_id
     WHERE t.hash = p_old
       AND t.used_at IS NOT NULL;

    IF FOUND THEN
        UPDATE sessions s
           SET revoked_at    = now(),
               revoke_reason = 'refresh_token_reused'
         WHERE s.id = v_sid
           AND s.revoked_at IS NULL;
        RETURN QUERY SELECT 'reused'::text, v_sid, v_uid, NULL::bigint;
        RETURN;
    END IF;

    -- c) unknown token, session not live
    RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid, NULL::bigint;
END
$$;
