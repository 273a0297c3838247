-- 051: the refresh reuse interval ("fluentai_refresh_reuse_interval",
-- default 10 s).
--
-- The module derives a rotation's new token from the presented one:
-- successor = base64url(HMAC-SHA256(K, parent)), K a key derived from the
-- JWT secret (README: "Tokens and sessions").  A second refresh with the
-- same parent therefore computes the same successor, and its hash (p_new)
-- names it here without the token ever being stored.
--
-- fluentai_refresh_reuse(p_old, p_new, p_ttl, p_short_ttl, p_max_lifetime,
--                        p_interval)
--   As fluentai_refresh(p_old, p_new, p_ttl, p_short_ttl, p_max_lifetime)
--   (migration 010), plus one status:
--   ('reissued', sid, uid, ends_at)
--                           p_old is the immediate parent of the session's
--                           current token (an unused token whose hash is
--                           p_new: only that parent derives it), it was
--                           rotated less than p_interval seconds ago, and
--                           the session is live (010: not revoked, not
--                           expired, user active, same credential version,
--                           younger than p_max_lifetime).  Nothing is
--                           changed: the caller answers with the same
--                           successor and a new access token, which ends
--                           no later than ends_at.
--   Everything else is fluentai_refresh's: a fresh rotation is 'ok'; an
--   older ancestor, the parent after the interval (or p_interval = 0), a
--   parent whose successor was rotated already (that makes it a
--   grandparent), or a session that is not live is 'reused' or 'invalid'
--   as before, and 'reused' revokes the session.
--
-- Concurrency (READ COMMITTED): the callers presenting one token are
-- serialised on its row (SELECT ... FOR UPDATE) before anything is
-- decided.  The first rotates and commits; each later one then reads,
-- with a fresh snapshot, the committed rotation and takes 'reissued'.  So
-- N concurrent refreshes of one token all succeed with one successor, and
-- the session lives on.
DROP FUNCTION IF EXISTS fluentai_refresh_reuse(bytea, bytea, integer,
                                                integer, integer);

CREATE OR REPLACE FUNCTION fluentai_refresh_reuse(p_old bytea, p_new bytea,
                                                  p_ttl integer,
                                                  p_short_ttl integer,
                                                  p_max_lifetime integer,
                                                  p_interval integer)
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
    PERFORM 1 FROM refresh_tokens t WHERE t.hash = p_old FOR UPDATE;

    IF p_interval > 0 THEN
        SELECT s.id, s.user_id, s.created_at INTO v_sid, v_uid, v_created
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
           AND u.is_active
           AND s.credential_version = u.credential_version
           AND s.created_at > now() - v_max;

        IF FOUND THEN
            RETURN QUERY
                SELECT 'reissued'::text, v_sid, v_uid,
                       floor(extract(epoch FROM v_created + v_max))::bigint;
            RETURN;
        END IF;
    END IF;

    RETURN QUERY
        SELECT f.status, f.session_id, f.user_id, f.ends_at
          FROM fluentai_refresh(p_old, p_new, p_ttl, p_short_ttl,
                                p_max_lifetime) f;
END
$$;
