
/*
 * Every SQL statement the module runs.  Each is one statement (CTEs for
 * multi-step work), parameterised, and prepared once per connection
 * unless "fluentai_database_prepare off".  Parameters are cast explicitly
 * so that the server never has to guess their types.
 */


#include "ngx_http_fluentai.h"


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


ngx_http_fluentai_sql_t  ngx_http_fluentai_sql[] = {

    { "fluentai_health", "SELECT 1", 0, 1 },

    /* $1 email, $2 name, $3 hash, $4 refresh hash, $5 ttl */

    { "fluentai_register",
      "WITH u AS ("
      " INSERT INTO users (email, name, hashed_password)"
      " VALUES ($1::text, $2::text, $3::text)"
      " RETURNING id, email, name, avatar, bio, credential_version),"
      " s AS ("
      " INSERT INTO sessions (user_id, expires_at, remember,"
      " credential_version)"
      " SELECT id, now() + make_interval(secs => $5::int), true,"
      " credential_version FROM u"
      " RETURNING id),"
      " t AS ("
      " INSERT INTO refresh_tokens (hash, session_id)"
      " SELECT $4::bytea, id FROM s)"
      " SELECT u.id, u.email, u.name, u.avatar, u.bio, s.id FROM u, s",
      5, 0 },

    /* $1 email (lower case) */

    { "fluentai_login_user",
      "SELECT id, email, name, avatar, bio, hashed_password, is_active,"
      " credential_version"
      " FROM users WHERE lower(email) = $1::text",
      1, 1 },

    /*
     * $1 user id, $2 refresh hash, $3 ttl, $4 new password hash or NULL,
     * $5 the hash that was verified, $6 remember, $7 the credential
     * version read with that hash.  The user's row is locked first: a
     * password change or deactivation that committed since the hash was
     * read makes "me" empty (no session); one that comes later waits for
     * this statement and then ends the new session with the others.
     */

    { "fluentai_login_session",
      "WITH me AS ("
      " SELECT id, credential_version FROM users"
      " WHERE id = $1::uuid AND is_active AND hashed_password = $5::text"
      " AND credential_version = $7::int FOR NO KEY UPDATE),"
      " h AS ("
      " UPDATE users SET hashed_password = $4::text"
      " WHERE id IN (SELECT id FROM me) AND $4::text IS NOT NULL),"
      " s AS ("
      " INSERT INTO sessions (user_id, expires_at, remember,"
      " credential_version)"
      " SELECT id, now() + make_interval(secs => $3::int), $6::bool,"
      " credential_version FROM me"
      " RETURNING id),"
      " t AS ("
      " INSERT INTO refresh_tokens (hash, session_id)"
      " SELECT $2::bytea, id FROM s)"
      " SELECT id FROM s",
      7, 0 },

    /*
     * $1 old refresh hash, $2 new refresh hash, $3 ttl, $4 short ttl,
     * $5 max lifetime
     */

    { "fluentai_refresh",
      "SELECT status, session_id, user_id, ends_at FROM fluentai_refresh("
      "$1::bytea, $2::bytea, $3::int, $4::int, $5::int)",
      5, 0 },

    /*
     * $1 session id, $2 user id (a valid access token), $3 refresh hash,
     * $4 all sessions, $5 max lifetime.  Only live sessions are named:
     * the access token's, the refresh token's.  "all" needs a live
     * credential: the access token, or an unused refresh token.  A token
     * already rotated ends its own session only (as presenting it to
     * refresh does: reuse), so a logout racing a refresh still ends the
     * session, and a stale token never ends the others.
     */

    { "fluentai_logout",
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
      NGX_HTTP_FLUENTAI_SESSION_OK("$5") ")"
      " UPDATE sessions s SET revoked_at = now(), revoke_reason = 'logout'"
      " WHERE s.revoked_at IS NULL"
      " AND (s.id IN (SELECT id FROM target)"
      " OR ($4::bool"
      " AND s.user_id IN (SELECT user_id FROM target WHERE live)))",
      5, 0 },

    /* $1 session id, $2 user id, $3 max lifetime */

    { "fluentai_profile",
      "SELECT u.id, u.email, u.name, u.avatar, u.bio"
      " FROM sessions s JOIN users u ON u.id = s.user_id"
      " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
      NGX_HTTP_FLUENTAI_SESSION_OK("$3"),
      3, 1 },

    /*
     * $1 session id, $2 user id, $3/$5/$7 set name/avatar/bio,
     * $4/$6/$8 their values, $9 max lifetime
     */

    { "fluentai_profile_update",
      "UPDATE users u SET"
      " name = CASE WHEN $3::bool THEN $4::text ELSE u.name END,"
      " avatar = CASE WHEN $5::bool THEN $6::text ELSE u.avatar END,"
      " bio = CASE WHEN $7::bool THEN $8::text ELSE u.bio END,"
      " updated_at = now()"
      " FROM sessions s"
      " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND u.id = s.user_id"
      " AND " NGX_HTTP_FLUENTAI_SESSION_OK("$9")
      " RETURNING u.id, u.email, u.name, u.avatar, u.bio",
      9, 0 },

    /* $1 session id, $2 user id, $3 max lifetime */

    { "fluentai_password_get",
      "SELECT u.hashed_password"
      " FROM sessions s JOIN users u ON u.id = s.user_id"
      " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
      NGX_HTTP_FLUENTAI_SESSION_OK("$3"),
      3, 1 },

    /*
     * $1 session id, $2 user id, $3 new hash, $4 the verified hash,
     * $5 max lifetime.  fluentai_set_password() (migration 010) stores
     * the hash if it is still the verified one, bumps the credential
     * version, revokes the other sessions and keeps this one live.
     * Columns: the live session (0/1), the password changed (0/1).
     */

    { "fluentai_password_set",
      "WITH me AS ("
      " SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id"
      " WHERE s.id = $1::uuid AND s.user_id = $2::uuid AND "
      NGX_HTTP_FLUENTAI_SESSION_OK("$5") "),"
      " upd AS ("
      " SELECT fluentai_set_password($2::uuid, $3::text, $4::text,"
      " $1::uuid, 'password_changed') AS v FROM me)"
      " SELECT (SELECT count(*) FROM me), (SELECT count(v) FROM upd)",
      5, 0 }
};


/*
 * A text parameter, copied NUL-terminated into r->pool (libpq reads text
 * parameters up to their NUL); a NULL value is SQL NULL.  An allocation
 * failure marks the query, and the pool answers 500 for it.
 */

void
ngx_http_fluentai_param(ngx_http_request_t *r, ngx_http_fluentai_query_t *q,
    ngx_uint_t i, const char *value, size_t len)
{
    u_char  *p;

    p = NULL;

    if (value) {
        p = ngx_pnalloc(r->pool, len + 1);
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


ngx_int_t
ngx_http_fluentai_sqlstate(PGresult *res, const char *state)
{
    char  *s;

    s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return (s && ngx_strcmp(s, state) == 0) ? 1 : 0;
}


void
ngx_http_fluentai_param_int(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i, ngx_int_t value)
{
    u_char  *p, buf[NGX_INT_T_LEN];

    p = ngx_sprintf(buf, "%i", value);

    ngx_http_fluentai_param(r, q, i, (char *) buf, p - buf);
}


/* the maximum session age, fluentai_session_max_lifetime, in seconds */

void
ngx_http_fluentai_param_max(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i)
{
    ngx_http_fluentai_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_module);

    ngx_http_fluentai_param_int(r, q, i, mcf->max_lifetime);
}


/* $1 session id, $2 user id, from the verified access token */

void
ngx_http_fluentai_param_session(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    ngx_http_fluentai_param(r, &ctx->query, 0, ctx->claims.sid,
                            ngx_strlen(ctx->claims.sid));
    ngx_http_fluentai_param(r, &ctx->query, 1, ctx->claims.sub,
                            ngx_strlen(ctx->claims.sub));
}


/*
 * The number of rows of a successful result.  A failure is answered here
 * (503 for the pool's, 500 for a query error, logged without parameters)
 * and gives -1, as does a row count other than 1 when exactly_one is set.
 */

ngx_int_t
ngx_http_fluentai_rows(ngx_http_request_t *r, PGresult *res,
    ngx_uint_t exactly_one)
{
    ngx_int_t                 n;
    ExecStatusType            st;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (res == NULL) {
        ngx_http_fluentai_pg_fail(r, &ctx->pg);
        return -1;
    }

    st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fluentai: statement \"%s\" failed: %s",
                      ngx_http_fluentai_sql[ctx->query.sql].name,
                      PQresultErrorMessage(res));

        /*
         * 57014: the server's statement_timeout (set below the module's
         * timeout, see pg.c) cancelled it; it was rolled back
         */

        if (ngx_http_fluentai_sqlstate(res, "57014")) {
            ngx_http_fluentai_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "database_unavailable");
            return -1;
        }

        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error");
        return -1;
    }

    n = (st == PGRES_TUPLES_OK) ? PQntuples(res) : 0;

    if (exactly_one && n != 1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fluentai: statement \"%s\" returned %i rows",
                      ngx_http_fluentai_sql[ctx->query.sql].name, n);
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error");
        return -1;
    }

    return n;
}
