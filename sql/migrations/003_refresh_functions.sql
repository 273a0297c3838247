-- 003: atomic refresh-token rotation and housekeeping.

-- fluentai_refresh(p_old, p_new, p_ttl, p_short_ttl)
--   p_old, p_new : SHA-256 (32 bytes) of the presented / the new opaque token
--   p_ttl        : new session lifetime in seconds for remember = true
--   p_short_ttl  : new session lifetime in seconds for remember = false
-- Returns exactly one row (status, session_id, user_id):
--   ('ok',      sid,  uid)  p_old was valid and unused; it is now used,
--                           p_new is stored for the same session, the
--                           session's expiry slides and last_used_at = now().
--   ('reused',  sid,  uid)  p_old had already been rotated: the session is
--                           revoked (revoke_reason 'refresh_token_reused').
--   ('invalid', NULL, NULL) unknown token, expired or revoked session,
--                           inactive user.
--
-- Atomicity (READ COMMITTED): step a) is a single UPDATE guarded by
-- "used_at IS NULL".  Concurrent callers with the same p_old queue on that
-- row's lock; when the winner commits, PostgreSQL re-evaluates the WHERE
-- clause against the new row version (EvalPlanQual), finds used_at set and
-- skips the row, so exactly one caller rotates.  Each later statement of
-- this VOLATILE function takes a fresh snapshot, so the losers then see the
-- committed used_at and take branch b).
CREATE OR REPLACE FUNCTION fluentai_refresh(p_old bytea, p_new bytea,
                                            p_ttl integer, p_short_ttl integer)
RETURNS TABLE (status text, session_id uuid, user_id uuid)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_sid uuid;
    v_uid uuid;
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
    RETURNING s.id, s.user_id INTO v_sid, v_uid;

    IF FOUND THEN
        INSERT INTO refresh_tokens (hash, session_id) VALUES (p_new, v_sid);

        UPDATE sessions s
           SET last_used_at = now(),
               expires_at   = now() + make_interval(secs =>
                                  CASE WHEN s.remember THEN p_ttl
                                       ELSE p_short_ttl END)
         WHERE s.id = v_sid
           AND s.revoked_at IS NULL;
        IF NOT FOUND THEN
            -- session revoked (logout) concurrently, after our UPDATE matched:
            -- the new token is useless, report invalid.
            RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid;
            RETURN;
        END IF;

        RETURN QUERY SELECT 'ok'::text, v_sid, v_uid;
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
        RETURN QUERY SELECT 'reused'::text, v_sid, v_uid;
        RETURN;
    END IF;

    -- c) unknown / expired / revoked / inactive user
    RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid;
END
$$;

-- fluentai_purge(keep): housekeeping, e.g. from cron once a day:
--   psql -c "SELECT fluentai_purge()"
-- Deletes sessions (and, by cascade, their refresh tokens) that expired or
-- were revoked more than `keep` ago, and used refresh tokens rotated more
-- than `keep` ago (presenting such an old token then yields 'invalid'
-- instead of 'reused').  Returns the number of sessions deleted.
CREATE OR REPLACE FUNCTION fluentai_purge(p_keep interval DEFAULT interval '30 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM sessions s
     WHERE s.expires_at < now() - p_keep
        OR s.revoked_at < now() - p_keep;
    GET DIAGNOSTICS n = ROW_COUNT;

    DELETE FROM refresh_tokens t
     WHERE t.used_at < now() - p_keep;

    RETURN n;
END
$$;
