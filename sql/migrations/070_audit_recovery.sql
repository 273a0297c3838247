-- 070: the audit trail (030) records account recovery and verification.
--
--   event            written by                user  session  detail
--   password_reset   fluentai_reset_password    x     -       {}
--   email_verified   fluentai_verify_email      x     -       {}
--
-- Both by the module's statement that consumes the token (a data-modifying
-- CTE around fluentai_reset_password() / fluentai_verify_email() of 020),
-- with the client's ip and user agent, only when the token was good.  The
-- reset's statement also ends the account's login throttle (040): the
-- reset proved the mailbox.  password_reset was already allowed by 030;
-- email_verified is new, so the event list grows by one.
--
-- Every existing row passed the narrower list, so the new constraint is
-- added NOT VALID: no scan of the whole table under the lock this takes.
-- (ALTER TABLE audit_log VALIDATE CONSTRAINT audit_log_event_check
-- validates it later without blocking writers, if wanted.)

ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_event_check;

ALTER TABLE audit_log ADD CONSTRAINT audit_log_event_check CHECK (event IN (
    'signup', 'login', 'login_failed', 'logout',
    'refresh_token_reused', 'password_changed',
    'password_reset', 'session_revoked',
    'account_throttled', 'email_verified')) NOT VALID;
