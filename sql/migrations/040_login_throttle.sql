-- 040: per-account failed-login throttle (issue 13).
--
-- One row per normalised email (the login's lower-cased email, which is
-- also lower(users.email)), for existing and unknown emails alike, so the
-- throttle tells nothing about which accounts exist.  Shared by every
-- worker and every nginx server on this database.
--
-- Counting: every login (and change-password) attempt is counted as a
-- failure by fluentai_login_attempt() in the statement that looks the
-- user up (no extra round trip); a success deletes the row in the
-- statement that opens the session (fluentai_login_succeeded()).  The
-- window is fixed: it starts at the first counted failure and lasts
-- p_window seconds; after p_max failures in it every further attempt is
-- refused until it has passed.
--
-- Unlocking an account by hand:  SELECT fluentai_login_unlock('a@b.example');
CREATE TABLE IF NOT EXISTS login_throttle (
    email        text PRIMARY KEY,
    failures     integer NOT NULL CHECK (failures >= 0),
    window_start timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS login_throttle_window_start_idx
    ON login_throttle (window_start);

-- fluentai_login_attempt(p_email, p_max, p_window) -> seconds
--   counts one attempt for p_email; 0: go ahead; > 0: refused (the window
--   already holds p_max failures), the seconds until the window ends.
--   p_max < 1 turns the throttle off.  Now and then (1 call in 100) it
--   also deletes up to 1000 rows whose window ended long ago.
CREATE OR REPLACE FUNCTION fluentai_login_attempt(p_email text,
                                                  p_max integer,
                                                  p_window integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_window   interval := make_interval(secs => p_window);
    v_failures integer;
    v_start    timestamptz;
BEGIN
    IF p_max IS NULL OR p_max < 1 OR p_email IS NULL THEN
        RETURN 0;
    END IF;

    INSERT INTO login_throttle AS t (email, failures, window_start)
    VALUES (p_email, 1, now())
    ON CONFLICT (email) DO UPDATE
       SET failures = CASE WHEN t.window_start <= now() - v_window THEN 1
                           ELSE least(t.failures + 1, p_max + 1) END,
           window_start = CASE WHEN t.window_start <= now() - v_window
                               THEN now() ELSE t.window_start END
    RETURNING t.failures, t.window_start INTO v_failures, v_start;

    IF random() < 0.01 THEN
        PERFORM fluentai_login_throttle_purge(p_window);
    END IF;

    IF v_failures <= p_max THEN
        RETURN 0;
    END IF;

    RETURN greatest(1, ceil(extract(epoch FROM
                                    v_start + v_window - now())))::integer;
END
$$;

-- a success: the count starts again
CREATE OR REPLACE FUNCTION fluentai_login_succeeded(p_email text)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    DELETE FROM login_throttle WHERE email = p_email;
$$;

-- for operators: unlock an account (true if it had a count)
CREATE OR REPLACE FUNCTION fluentai_login_unlock(p_email text)
RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    WITH d AS (DELETE FROM login_throttle
               WHERE email = lower(btrim(p_email)) RETURNING 1)
    SELECT count(*) > 0 FROM d;
$$;

-- housekeeping: up to 1000 rows whose window ended
CREATE OR REPLACE FUNCTION fluentai_login_throttle_purge(p_window integer)
RETURNS integer
LANGUAGE sql VOLATILE
AS $$
    WITH d AS (
        DELETE FROM login_throttle
         WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM login_throttle
                WHERE window_start < now() - make_interval(secs => p_window)
                LIMIT 1000))
        RETURNING 1)
    SELECT count(*)::integer FROM d;
$$;
