-- 030: the audit trail (OWASP ASVS V7), modelled on Supabase Auth's
-- audit_log_entries.
--
-- One row per security event, written by the statement that does the work
-- (a data-modifying CTE in the module's statements, or the trigger below
-- for every session revocation, whatever revokes it), so a success costs no
-- extra round trip and an event is recorded exactly when its work commits.
-- Rows hold who (user_id, session_id), from where (ip, user_agent), what
-- (event, detail) and when; never a password, a token or a hash.
--
--   event                 written by              user  session  detail
--   signup                fluentai_register        x     x       {}
--   login                 fluentai_login_session   x     x       {"remember": bool}
--   login_failed          fluentai_login_failed    (x)   -       {"reason", "email"}
--   logout                fluentai_logout          x     x       {"all": bool}
--   refresh_token_reused  fluentai_refresh         x     x       {}
--   password_changed      fluentai_password_set    x     x       {}
--   session_revoked       trigger on sessions      x     x       {"reason": revoke_reason}
--   password_reset, account_throttled: reserved for the statements that
--   will do that work.
--
-- login_failed reasons: unknown_email (user_id NULL), invalid_password,
-- inactive, credentials_changed (the password changed or the account was
-- deactivated while the login was being verified: migration 010).  session_revoked carries no ip/user_agent: the event that caused
-- it (logout, refresh_token_reused, password_changed, ...) does.
--
-- Retention: fluentai_audit_purge() deletes rows older than the database
-- setting fluentai.audit_retention (default 180 days), e.g. daily from cron:
--   ALTER DATABASE fluentai SET fluentai.audit_retention = '90 days';
--   psql -c "SELECT fluentai_purge(), fluentai_audit_purge()"

CREATE TABLE audit_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    event       text        NOT NULL CHECK (event IN (
                    'signup', 'login', 'login_failed', 'logout',
                    'refresh_token_reused', 'password_changed',
                    'password_reset', 'session_revoked',
                    'account_throttled')),
    -- no foreign keys: the record outlives the user and the session
    user_id     uuid,
    session_id  uuid,
    ip          inet,
    user_agent  text        CHECK (octet_length(user_agent) <= 256),
    detail      jsonb       NOT NULL DEFAULT '{}'
);

-- "all logins of this user", "failures from this address", retention
CREATE INDEX audit_log_user_idx ON audit_log (user_id, created_at)
    WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_ip_idx ON audit_log (ip, created_at)
    WHERE ip IS NOT NULL;
CREATE INDEX audit_log_created_at_idx ON audit_log USING brin (created_at);

COMMENT ON TABLE audit_log IS
    'FluentAI security events (sql/migrations/030_audit_log.sql)';


-- Every revocation of a session, whichever statement or tool revokes it.
CREATE OR REPLACE FUNCTION fluentai_audit_session_revoked()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO audit_log (event, user_id, session_id, detail)
    VALUES ('session_revoked', NEW.user_id, NEW.id,
            jsonb_build_object('reason', NEW.revoke_reason));
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_session_revoked
    AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION fluentai_audit_session_revoked();


-- fluentai_audit_purge(keep): deletes audit rows older than keep, by
-- default the setting fluentai.audit_retention, else 180 days.  Returns the
-- number of rows deleted.
CREATE OR REPLACE FUNCTION fluentai_audit_purge(p_keep interval DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
AS $$
    WITH gone AS (
        DELETE FROM audit_log
         WHERE created_at < now() - coalesce(
                   p_keep,
                   nullif(current_setting('fluentai.audit_retention', true),
                          '')::interval,
                   interval '180 days')
        RETURNING 1)
    SELECT count(*) FROM gone;
$$;
