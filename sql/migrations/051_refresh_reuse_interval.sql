-- 051: the refresh reuse interval ("fluentai_refresh_reuse_interval",
-- default 10 s).
--
-- The module derives a rotation's new token from the presented one:
-- successor = base64url(HMAC-SHA256(K, parent)), K a key derived from the
-- JWT secret (README: "Tokens and sessions").  A second refresh with the
-- same parent therefore computes the same successor, and its hash (p_new)
-- names it here without the token ever being stored.
--
-- fluentai_refresh_reuse(p_old, p_new, p_ttl, p_short_ttl, p_interval)
--   As fluentai_refresh(p_old, p_new, p_ttl, p_short_ttl), plus one
--   status:
--   ('reissued', sid, uid)  p_old is the immediate parent of the session's
--                           current token (an unused token whose hash is
--                           p_new: only that parent derives it), it was
--                           rotated less than p_interval seconds ago, and
--                           the session is active.  Nothing is changed:
--                           the caller answers with the same successor
--                           and a new access token.
--   Everything else is fluentai_refresh's: a fresh rotation is 'ok'; an
--   older ancestor, the parent after the interval (or p_interval = 0), a
--   parent whose successor was rotated already (that makes it a
--   grandparent), or a revoked or expired session is 'reused' or
--   'invalid' as before, and 'reused' revokes the session.
--
-- Concurrency (READ COMMITTED): the callers presenting one token are
-- serialised on its row (SELECT ... FOR UPDATE) before anything is
-- decided.  The first rotates and commits; each later one then reads,
-- with a fresh snapshot, the committed rotation and takes 'reissued'.  So
-- N concurrent refreshes of one token all succeed with one successor, and
-- the session lives on.
CREATE OR REPLACE FUNCTION fluentai_refresh_reuse(p_old bytea, p_new bytea,
                                                  p_ttl integer,
                                                  p_short_ttl integer,
                                                  p_interval integer)
RETURNS TABLE (status text, session_id uuid, user_id uuid)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_sid uuid;
    v_uid uuid;
BEGIN
    PERFORM 1 FROM refresh_tokens t WHERE t.hash = p_old FOR UPDATE;

    IF p_interval > 0 THEN
        SELECT s.id, s.user_id INTO v_sid, v_uid
          FROM refresh_tokens t
          JOIN sessions s ON s.id = t.session_id
          JOIN users u ON u.id = s.user_id
          JOIN refresh_tokens c ON c.session_id = s.id
         WHERE t.hash = p_old
           AND t.used_at IS NOT NULL
           AND t.used_at > now() - make_interval(secs => p_interval)
           AND c.hash = p_new
           AND c.used_at IS NULL
           AND s.revoked_at IS NULL
           AND s.expires_at > now()
           AND u.is_active;

        IF FOUND THEN
            RETURN QUERY SELECT 'reissued'::text, v_sid, v_uid;
            RETURN;
        END IF;
    END IF;

    RETURN QUERY
        SELECT f.status, f.session_id, f.user_id
          FROM fluentai_refresh(p_old, p_new, p_ttl, p_short_ttl) f;
END
$$;
