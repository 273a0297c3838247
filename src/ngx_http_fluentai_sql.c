
/*
 * Every SQL statement the module runs.  Each is one statement (CTEs for
 * multi-step work), parameterised, and prepared once per connection
 * unless "fluentai_database_prepare off".  Parameters are cast explicitly
 * so that the server never has to guess their types.
 */


#include "ngx_http_fluentai_sql.h"


/*
 * A live session (sql/migrations/010): not revoked, not expired, user
 * active, same credential version as its user (no password change or
 * deactivation since it was created), younger than the maximum lifetime,
 * parameter max (seconds).
 */

#define NGX_HTTP_FLUENTAI_SESSION_OK(max)                                     \
    "s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active"           \
    " AND s.credential_version = u.credential_version"                        \
    " AND s.created_at > now() - make_interval(secs => " max "::int)"

/* to_char(timestamptz ...): "2026-01-31T12:00:00Z" (UTC), or null */
#define NGX_HTTP_FLUENTAI_UTC                                                 \
    " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


/*
 * The audit trail (sql/migrations/030): a data-modifying CTE that writes
 * the event in the statement that does the work, from a row "e" of
 * (ip, ua, event, user_id, session_id, detail); ip and ua are the
 * statement's last two parameters (ngx_http_fluentai_audit_params()).
 */

#define NGX_HTTP_FLUENTAI_AUDIT                                               \
    " INSERT INTO audit_log (event, user_id, session_id, ip, user_agent,"     \
    " detail) SELECT e.event, e.user_id, e.session_id, e.ip, e.ua, e.detail"  \
    " FROM"


ngx_http_fluentai_sql_t  ngx_http_fluentai_sql[NGX_HTTP_FLUENTAI_SQL_COUNT] = {

    [NGX_HTTP_FLUENTAI_SQL_HEALTH] = {
      .name = "fluentai_health",
      .text =
        "SELECT 1",
      .nparams = 0, .ncolumns = 1, .readonly = 1 },

    /*
     * $1 email, $2 name, $3 hash, $4 refresh hash, $5 ttl; with email
     * verification on: $6 verification token hash, $7 its outbox seed,
     * $8 its ttl (else NULL), the token and its mail in the same
     * transaction as the user; $9 ip, $10 ua
     */

    [NGX_HTTP_FLUENTAI_SQL_REGISTER] = {
      .name = "fluentai_register",
      .text =
        "WITH u AS ("
        " INSERT INTO users (email, name, hashed_password)"
        " VALUES ($1::text, $2::text, $3::text)"
        " RETURNING id, email, name, avatar, bio, email_verified_at,"
        " credential_version),"
        " s AS ("
        " INSERT INTO sessions (user_id, expires_at, remember,"
        " credential_version, ip, user_agent)"
        " SELECT id, now() + make_interval(secs => $5::int), true,"
        " credential_version, $9::inet, $10::text FROM u"
        " RETURNING id),"
        " t AS ("
        " INSERT INTO refresh_tokens (hash, session_id)"
        " SELECT $4::bytea, id FROM s),"
        " v AS ("
        " INSERT INTO fluentai_email_tokens"
        " (hash, user_id, purpose, email, expires_at)"
        " SELECT $6::bytea, id, 'verify_email', email,"
        " now() + make_interval(secs => $8::int)"
        " FROM u WHERE $6::bytea IS NOT NULL),"
        " o AS ("
        " INSERT INTO fluentai_mail_outbox (user_id, kind, recipient, name,"
        " seed, lifetime, token_expires_at)"
        " SELECT id, 'verify_email', email, name, $7::bytea, $8::int,"
        " now() + make_interval(secs => $8::int)"
        " FROM u WHERE $6::bytea IS NOT NULL),"
        " a AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $9::inet AS ip, $10::text AS ua,"
        " 'signup' AS event, u.id AS user_id, s.id AS session_id,"
        " '{}'::jsonb AS detail FROM u, s) e)"
        " SELECT u.id, u.email, u.name, u.avatar, u.bio,"
        " u.email_verified_at IS NOT NULL, s.id FROM u, s",
      .nparams = 10, .ncolumns = 7, .readonly = 0 },

    /*
     * $1 email (lower case), $2/$3 throttle attempts/window (sql/040),
     * $4 ip, $5 ua: always one row, the user's columns (the credential
     * version last) then the throttle's Retry-After; the user's are NULL
     * for an unknown email and when Retry-After is not 0 (that refusal is
     * in the audit trail: account_throttled)
     */

    [NGX_HTTP_FLUENTAI_SQL_LOGIN_USER] = {
      .name = "fluentai_login_user",
      .text =
        "WITH a AS ("
        " SELECT fluentai_login_attempt($1::text, $2::int, $3::int)"
        " AS retry_after),"
        " w AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $4::inet AS ip, $5::text AS ua,"
        " 'account_throttled' AS event,"
        " (SELECT id FROM users WHERE lower(email) = $1::text) AS user_id,"
        " NULL::uuid AS session_id, jsonb_build_object('email', $1::text,"
        " 'endpoint', 'login', 'retry_after', a.retry_after) AS detail"
        " FROM a WHERE a.retry_after > 0) e)"
        " SELECT u.id, u.email, u.name, u.avatar, u.bio,"
        " u.email_verified_at IS NOT NULL, u.hashed_password, u.is_active,"
        " u.credential_version, a.retry_after"
        " FROM a LEFT JOIN users u"
        " ON a.retry_after = 0 AND lower(u.email) = $1::text",
      .nparams = 5, .ncolumns = 10, .readonly = 0 },

    /*
     * $1 user id, $2 refresh hash, $3 ttl, $4 new password hash or NULL,
     * $5 the hash that was verified, $6 remember, $7 the credential
     * version read with that hash, $8 ip, $9 ua.  The user's row is locked
     * first: a password change or deactivation that committed since the
     * hash was read makes "me" empty (no session); one that comes later
     * waits for this statement and then ends the new session with the
     * others.
     */

    [NGX_HTTP_FLUENTAI_SQL_LOGIN_SESSION] = {
      .name = "fluentai_login_session",
      .text =
        "WITH me AS ("
        " SELECT id, credential_version FROM users"
        " WHERE id = $1::uuid AND is_active AND hashed_password = $5::text"
        " AND credential_version = $7::int FOR NO KEY UPDATE),"
        " h AS ("
        " UPDATE users SET hashed_password = $4::text"
        " WHERE id IN (SELECT id FROM me) AND $4::text IS NOT NULL),"
        " s AS ("
        " INSERT INTO sessions (user_id, expires_at, remember,"
        " credential_version, ip, user_agent)"
        " SELECT id, now() + make_interval(secs => $3::int), $6::bool,"
        " credential_version, $8::inet, $9::text FROM me"
        " RETURNING id),"
        " t AS ("
        " INSERT INTO refresh_tokens (hash, session_id)"
        " SELECT $2::bytea, id FROM s),"
        " ok AS ("
        " SELECT fluentai_login_succeeded(lower(email))"
        " FROM users WHERE id = $1::uuid AND EXISTS (SELECT 1 FROM s)),"
        " a AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $8::inet AS ip, $9::text AS ua,"
        " 'login' AS event, $1::uuid AS user_id, id AS session_id,"
        " jsonb_build_object('remember', $6::bool) AS detail FROM s) e)"
        " SELECT id FROM s WHERE (SELECT count(*) FROM ok) >= 0",
      .nparams = 9, .ncolumns = 1, .readonly = 0 },

    /*
     * $1 user id or NULL, $2 email, $3 reason, $4 ip, $5 ua: a login that
     * failed, the one statement of that path after the lookup
     */

    [NGX_HTTP_FLUENTAI_SQL_LOGIN_FAILED] = {
      .name = "fluentai_login_failed",
      .text =
        "WITH a AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $4::inet AS ip, $5::text AS ua,"
        " 'login_failed' AS event, $1::uuid AS user_id,"
        " NULL::uuid AS session_id, jsonb_build_object('reason', $3::text,"
        " 'email', $2::text) AS detail) e)"
        " SELECT 1",
      .nparams = 5, .ncolumns = 1, .readonly = 0 },

    /*
     * $1 old refresh hash, $2 new refresh hash (the successor), $3 ttl,
     * $4 short ttl, $5 max lifetime, $6 reuse interval (seconds, 0: off),
     * $7 ip, $8 ua; status "ok", "reissued" (the parent within the reuse
     * interval), "reused" or "invalid", and the session's end (Unix time)
     * for "ok" and "reissued" (sql/migrations/051)
     */

    [NGX_HTTP_FLUENTAI_SQL_REFRESH] = {
      .name = "fluentai_refresh",
      .text =
        "WITH r AS MATERIALIZED ("
        " SELECT status, session_id, user_id, ends_at"
        " FROM fluentai_refresh_reuse("
        "$1::bytea, $2::bytea, $3::int, $4::int, $5::int, $6::int)),"
        " a AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $7::inet AS ip, $8::text AS ua,"
        " 'refresh_token_reused' AS event, user_id, session_id,"
        " '{}'::jsonb AS detail FROM r WHERE status = 'reused') e)"
        " SELECT status, session_id, user_id, ends_at FROM r",
      .nparams = 8, .ncolumns = 4, .readonly = 0 },

    /*
     * $1 session id, $2 user id (a valid access token), $3 refresh hash,
     * $4 scope, $5 max lifetime, $6 ip, $7 ua.  Only live sessions are
     * named: the access token's, the refresh token's.  "local" ends the
     * named sessions; "others" every other session of their user, and
     * "global" both, need a live credential: the access token, or an
     * unused refresh token.  A token already rotated ends its own session
     * only (as presenting it to refresh does: reuse), so a logout racing a
     * refresh still ends the session, and a stale token never ends the
     * others.  The result is the UPDATE's: its row count is the number of
     * sessions revoked.
     */

    [NGX_HTTP_FLUENTAI_SQL_LOGOUT] = {
      .name = "fluentai_logout",
      .text =
        "WITH target AS ("
        " SELECT s.id, s.user_id, true AS live FROM sessions s JOIN users u"
        " ON u.id = s.user_id"
        " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$5")
        " UNION ALL"
        " SELECT s.id, s.user_id, t.used_at IS NULL FROM refresh_tokens t"
        " JOIN sessions s ON s.id = t.session_id JOIN users u"
        " ON u.id = s.user_id"
        " WHERE t.hash = $3::bytea AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$5") "),"
        " a AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT DISTINCT $6::inet AS ip, $7::text AS ua,"
        " 'logout' AS event, user_id, id AS session_id,"
        " jsonb_build_object('scope', $4::text) AS detail FROM target) e)"
        " UPDATE sessions s SET revoked_at = now(), revoke_reason = 'logout'"
        " WHERE s.revoked_at IS NULL"
        " AND CASE $4::text"
        " WHEN 'local' THEN s.id IN (SELECT id FROM target)"
        " WHEN 'others' THEN s.id NOT IN (SELECT id FROM target)"
        " AND s.user_id IN (SELECT user_id FROM target WHERE live)"
        " ELSE s.id IN (SELECT id FROM target)"
        " OR s.user_id IN (SELECT user_id FROM target WHERE live) END",
      .nparams = 7, .ncolumns = 0, .readonly = 0 },

    /* $1 session id, $2 user id, $3 max lifetime */

    [NGX_HTTP_FLUENTAI_SQL_PROFILE] = {
      .name = "fluentai_profile",
      .text =
        "SELECT u.id, u.email, u.name, u.avatar, u.bio,"
        " u.email_verified_at IS NOT NULL"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$3"),
      .nparams = 3, .ncolumns = 6, .readonly = 1,
      .keys = 2, .batch = NGX_HTTP_FLUENTAI_SQL_PROFILE_BATCH },

    /*
     * $1 session id, $2 user id, $3/$5/$7 set name/avatar/bio,
     * $4/$6/$8 their values, $9 max lifetime
     */

    [NGX_HTTP_FLUENTAI_SQL_PROFILE_UPDATE] = {
      .name = "fluentai_profile_update",
      .text =
        "UPDATE users u SET"
        " name = CASE WHEN $3::bool THEN $4::text ELSE u.name END,"
        " avatar = CASE WHEN $5::bool THEN $6::text ELSE u.avatar END,"
        " bio = CASE WHEN $7::bool THEN $8::text ELSE u.bio END,"
        " updated_at = now()"
        " FROM sessions s"
        " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND u.id = s.user_id"
        " AND " NGX_HTTP_FLUENTAI_SESSION_OK("$9")
        " RETURNING u.id, u.email, u.name, u.avatar, u.bio,"
        " u.email_verified_at IS NOT NULL",
      .nparams = 9, .ncolumns = 6, .readonly = 0 },

    /*
     * $1 session id, $2 user id, $3 max lifetime, $4/$5 throttle
     * attempts/window, $6 ip, $7 ua: the attempt counts against the
     * account's login throttle (sql/040); the second column is its
     * Retry-After, 0 to go ahead (a refusal is in the audit trail:
     * account_throttled)
     */

    [NGX_HTTP_FLUENTAI_SQL_PASSWORD_GET] = {
      .name = "fluentai_password_get",
      .text =
        "WITH g AS ("
        " SELECT u.id, u.hashed_password,"
        " fluentai_login_attempt(lower(u.email), $4::int, $5::int)"
        " AS retry_after"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$3") "),"
        " w AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $6::inet AS ip, $7::text AS ua,"
        " 'account_throttled' AS event, g.id AS user_id,"
        " $1::uuid AS session_id, jsonb_build_object('endpoint',"
        " 'change_password', 'retry_after', g.retry_after) AS detail"
        " FROM g WHERE g.retry_after > 0) e)"
        " SELECT hashed_password, retry_after FROM g",
      .nparams = 7, .ncolumns = 2, .readonly = 0 },

    /*
     * $1 session id, $2 user id, $3 new hash, $4 the verified hash,
     * $5 max lifetime, $6 ip, $7 ua.  fluentai_set_password() (migration
     * 010) stores the hash if it is still the verified one, bumps the
     * credential version, revokes the other sessions and keeps this one
     * live.  Columns: the live session (0/1), the password changed (0/1).
     */

    [NGX_HTTP_FLUENTAI_SQL_PASSWORD_SET] = {
      .name = "fluentai_password_set",
      .text =
        "WITH me AS ("
        " SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$5") "),"
        " upd AS ("
        " SELECT fluentai_set_password($2::uuid, $3::text, $4::text,"
        " $1::uuid, 'password_changed') AS v FROM me),"
        " a AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $6::inet AS ip, $7::text AS ua,"
        " 'password_changed' AS event, $2::uuid AS user_id,"
        " $1::uuid AS session_id, '{}'::jsonb AS detail FROM upd"
        " WHERE v IS NOT NULL) e),"
        " ok AS ("
        " SELECT fluentai_login_succeeded(lower(email))"
        " FROM users WHERE id = $2::uuid"
        " AND EXISTS (SELECT 1 FROM upd WHERE v IS NOT NULL))"
        " SELECT (SELECT count(*) FROM me), (SELECT count(v) FROM upd)"
        " WHERE (SELECT count(*) FROM ok) >= 0",
      .nparams = 7, .ncolumns = 2, .readonly = 0 },

    /*
     * Account recovery and email verification: sql/ migration 020 has
     * the functions.  $1 email, $2 kind, $3 token hash, $4 outbox seed,
     * $5 ttl, $6 mails per hour -> queued, unknown, verified or limited
     */

    [NGX_HTTP_FLUENTAI_SQL_MAIL_REQUEST] = {
      .name = "fluentai_mail_request",
      .text =
        "SELECT fluentai_mail_request($1::text, $2::text, $3::bytea,"
        " $4::bytea, $5::int, $6::int)",
      .nparams = 6, .ncolumns = 1, .readonly = 0 },

    /*
     * $1 token hash, $2 new password hash, $3 ip, $4 ua -> user id or
     * NULL.  A reset proves the mailbox: the event "password_reset" and
     * the end of the account's login throttle, in the reset's statement.
     */

    [NGX_HTTP_FLUENTAI_SQL_RESET_PASSWORD] = {
      .name = "fluentai_reset_password",
      .text =
        "WITH r AS MATERIALIZED ("
        " SELECT fluentai_reset_password($1::bytea, $2::text) AS user_id),"
        " a AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $3::inet AS ip, $4::text AS ua,"
        " 'password_reset' AS event, user_id, NULL::uuid AS session_id,"
        " '{}'::jsonb AS detail FROM r WHERE user_id IS NOT NULL) e),"
        " ok AS ("
        " SELECT fluentai_login_succeeded(lower(email))"
        " FROM users WHERE id = (SELECT user_id FROM r))"
        " SELECT user_id FROM r WHERE (SELECT count(*) FROM ok) >= 0",
      .nparams = 4, .ncolumns = 1, .readonly = 0 },

    /* $1 token hash, $2 ip, $3 ua -> user id or NULL (migration 070) */

    [NGX_HTTP_FLUENTAI_SQL_VERIFY_EMAIL] = {
      .name = "fluentai_verify_email",
      .text =
        "WITH r AS MATERIALIZED ("
        " SELECT fluentai_verify_email($1::bytea) AS user_id),"
        " a AS (" NGX_HTTP_FLUENTAI_AUDIT
        " (SELECT $2::inet AS ip, $3::text AS ua,"
        " 'email_verified' AS event, user_id, NULL::uuid AS session_id,"
        " '{}'::jsonb AS detail FROM r WHERE user_id IS NOT NULL) e)"
        " SELECT user_id FROM r",
      .nparams = 3, .ncolumns = 1, .readonly = 0 },

    /*
     * The outbox sender: claims the next due mail for $1 seconds (its
     * lease) -> id, kind, recipient, name, seed, lifetime, attempts,
     * token expired, created (epoch seconds); no row: nothing due
     */

    [NGX_HTTP_FLUENTAI_SQL_OUTBOX_CLAIM] = {
      .name = "fluentai_outbox_claim",
      .text =
        "UPDATE fluentai_mail_outbox o"
        " SET attempts = o.attempts + 1,"
        " next_attempt_at = now() + make_interval(secs => $1::int)"
        " WHERE o.id = (SELECT id FROM fluentai_mail_outbox"
        " WHERE sent_at IS NULL AND failed_at IS NULL"
        " AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING o.id, o.kind, o.recipient, o.name, o.seed, o.lifetime,"
        " o.attempts, o.token_expires_at <= now(),"
        " extract(epoch FROM o.created_at)::bigint",
      .nparams = 1, .ncolumns = 9, .readonly = 0 },

    /*
     * $1 id, $2 sent|retry|failed, $3 retry delay (seconds), $4 error;
     * the seed is wiped unless the mail is to be retried
     */

    [NGX_HTTP_FLUENTAI_SQL_OUTBOX_DONE] = {
      .name = "fluentai_outbox_done",
      .text =
        "UPDATE fluentai_mail_outbox SET"
        " sent_at = CASE WHEN $2::text = 'sent' THEN now() END,"
        " failed_at = CASE WHEN $2::text = 'failed' THEN now() END,"
        " seed = CASE WHEN $2::text = 'retry' THEN seed END,"
        " next_attempt_at = CASE WHEN $2::text = 'retry'"
        " THEN now() + make_interval(secs => $3::int)"
        " ELSE next_attempt_at END,"
        " last_error = $4::text"
        " WHERE id = $1::bigint AND sent_at IS NULL AND failed_at IS NULL",
      .nparams = 4, .ncolumns = 0, .readonly = 0 },

    /* "fluentai_auth_jwt session": $1 session id, $2 user id, $3 max life */

    [NGX_HTTP_FLUENTAI_SQL_GATE] = {
      .name = "fluentai_gate",
      .text =
        "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$3"),
      .nparams = 3, .ncolumns = 1, .readonly = 1,
      .keys = 2, .batch = NGX_HTTP_FLUENTAI_SQL_GATE_BATCH },

    /*
     * $1 session id, $2 user id, $3 max lifetime: is the caller's session
     * live (0 or 1), and the user's live sessions as a JSON array, newest
     * first; expires_at is the earlier of the sliding expiry and the
     * absolute end (created_at + max lifetime)
     */

    [NGX_HTTP_FLUENTAI_SQL_SESSIONS] = {
      .name = "fluentai_sessions",
      .text =
        "WITH me AS ("
        " SELECT s.id, s.user_id FROM sessions s JOIN users u"
        " ON u.id = s.user_id"
        " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$3") ")"
        " SELECT (SELECT count(*) FROM me),"
        " coalesce((SELECT json_agg(json_build_object("
        "'id', s.id,"
        " 'created_at', to_char(s.created_at" NGX_HTTP_FLUENTAI_UTC ","
        " 'last_used_at', to_char(s.last_used_at" NGX_HTTP_FLUENTAI_UTC ","
        " 'expires_at', to_char(least(s.expires_at,"
        " s.created_at + make_interval(secs => $3::int))"
        NGX_HTTP_FLUENTAI_UTC ","
        " 'remember', s.remember,"
        " 'user_agent', s.user_agent,"
        " 'ip', host(s.ip),"
        " 'current', s.id = $1::uuid)"
        " ORDER BY s.created_at DESC, s.id)"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.user_id IN (SELECT user_id FROM me) AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$3") "), '[]')",
      .nparams = 3, .ncolumns = 2, .readonly = 1 },

    /*
     * $1 session id, $2 user id, $3 the session to revoke, $4 max
     * lifetime: is the caller's session live (0 or 1), and was $3 one of
     * the user's live sessions, now revoked (0 or 1)
     */

    [NGX_HTTP_FLUENTAI_SQL_SESSION_DELETE] = {
      .name = "fluentai_session_delete",
      .text =
        "WITH me AS ("
        " SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
        NGX_HTTP_FLUENTAI_SESSION_OK("$4") "),"
        " rev AS ("
        " UPDATE sessions s SET revoked_at = now(),"
        " revoke_reason = 'revoked_by_user'"
        " FROM users u"
        " WHERE s.id = $3::uuid AND s.user_id IN (SELECT user_id FROM me)"
        " AND u.id = s.user_id AND " NGX_HTTP_FLUENTAI_SESSION_OK("$4")
        " RETURNING s.id)"
        " SELECT (SELECT count(*) FROM me), (SELECT count(*) FROM rev)",
      .nparams = 4, .ncolumns = 2, .readonly = 0 },

    /*
     * Coalesced lookups (pg_batch.c): $1 session ids, $2 user ids (one
     * pair per lookup), $3 max lifetime; a row per live session, its
     * lookup's place (1-based) last.  The same tests as fluentai_profile
     * and fluentai_gate, pair by pair: a lookup whose pair matches no
     * live session gets no row.
     */

    [NGX_HTTP_FLUENTAI_SQL_PROFILE_BATCH] = {
      .name = "fluentai_profile_batch",
      .text =
        "SELECT u.id, u.email, u.name, u.avatar, u.bio,"
        " u.email_verified_at IS NOT NULL, k.i"
        " FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY"
        " AS k(sid, uid, i)"
        " JOIN sessions s ON s.id = k.sid AND s.user_id = k.uid"
        " JOIN users u ON u.id = s.user_id WHERE "
        NGX_HTTP_FLUENTAI_SESSION_OK("$3"),
      .nparams = 3, .ncolumns = 7, .readonly = 1 },

    [NGX_HTTP_FLUENTAI_SQL_GATE_BATCH] = {
      .name = "fluentai_gate_batch",
      .text =
        "SELECT 1, k.i"
        " FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY"
        " AS k(sid, uid, i)"
        " JOIN sessions s ON s.id = k.sid AND s.user_id = k.uid"
        " JOIN users u ON u.id = s.user_id WHERE "
        NGX_HTTP_FLUENTAI_SESSION_OK("$3"),
      .nparams = 3, .ncolumns = 2, .readonly = 1 }
};


/*
 * A text parameter, copied NUL-terminated into the pool (libpq reads text
 * parameters up to their NUL); a NULL value is SQL NULL.  An allocation
 * failure marks the query: the database layer reports
 * NGX_HTTP_FLUENTAI_PG_BAD_QUERY for it.
 */

void
ngx_http_fluentai_param(ngx_pool_t *pool, ngx_http_fluentai_query_t *q,
    ngx_uint_t i, const char *value, size_t len)
{
    u_char  *p;

    p = NULL;

    if (value) {
        p = ngx_pnalloc(pool, len + 1);
        if (p == NULL) {
            q->failed = 1;
            return;
        }

        ngx_memcpy(p, value, len);
        p[len] = '\0';
    }

    q->values[i] = (const char *) p;
    q->lengths[i] = (int) len;
    q->formats[i] = 0;

    if (i + 1 > (ngx_uint_t) q->nparams) {
        q->nparams = i + 1;
    }
}


/* a binary parameter (bytea), used as is */

void
ngx_http_fluentai_param_bin(ngx_http_fluentai_query_t *q, ngx_uint_t i,
    const u_char *value, size_t len)
{
    q->values[i] = (const char *) value;
    q->lengths[i] = (int) len;
    q->formats[i] = value ? 1 : 0;

    if (i + 1 > (ngx_uint_t) q->nparams) {
        q->nparams = i + 1;
    }
}


void
ngx_http_fluentai_param_int(ngx_pool_t *pool,
    ngx_http_fluentai_query_t *q, ngx_uint_t i, ngx_int_t value)
{
    u_char  *p, buf[NGX_INT_T_LEN];

    p = ngx_sprintf(buf, "%i", value);

    ngx_http_fluentai_param(pool, q, i, (char *) buf, p - buf);
}
