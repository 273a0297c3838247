
/*
 * The auth endpoints: register, login, refresh, logout.
 *
 * Round trips on the success path: register 1 (user, session and refresh
 * token in one statement), login 2 (user lookup; session, token and any
 * rehash in one statement), refresh 1, logout 1.
 */


#include "ngx_http_fluentai.h"
#include "ngx_http_fluentai_mail.h"


static void ngx_http_fluentai_register_hashed(ngx_http_request_t *r);
static ngx_int_t ngx_http_fluentai_register_verification(
    ngx_http_request_t *r, ngx_http_fluentai_ctx_t *ctx);
static void ngx_http_fluentai_register_done(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_login_user(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_login_verified(ngx_http_request_t *r);
static void ngx_http_fluentai_login_done(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_refresh_done(ngx_http_request_t *r,
    PGresult *res);
static ngx_int_t ngx_http_fluentai_refresh_token(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, ngx_str_t *token);
static void ngx_http_fluentai_logout_done(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_logged_out(ngx_http_request_t *r);
static const char *ngx_http_fluentai_logout_scope(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);


void
ngx_http_fluentai_register(ngx_http_request_t *r)
{
    json_t                   *details;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    details = ngx_http_fluentai_details_or_fail(r);
    if (details == NULL) {
        return;
    }

    if (ngx_http_fluentai_validate_register(ctx->body, details, &ctx->cred))
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed", details);
        return;
    }

    json_decref(details);

    if (ngx_http_fluentai_new_password_or_fail(r, "password",
                                               &ctx->cred.password)
        != NGX_OK)
    {
        return;
    }

    ngx_http_fluentai_task_hash(r, ctx, &ctx->cred.password,
                                ngx_http_fluentai_register_hashed);
}


static void
ngx_http_fluentai_register_hashed(ngx_http_request_t *r)
{
    ngx_http_fluentai_ctx_t    *ctx;
    ngx_http_fluentai_query_t  *q;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_hashed_or_fail(r, ctx->job) != NGX_OK) {
        return;
    }

    /* logs its own failure */

    if (ngx_http_fluentai_new_refresh_token(r, ctx) != NGX_OK) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    q = &ctx->query;
    q->sql = NGX_HTTP_FLUENTAI_SQL_REGISTER;

    ngx_http_fluentai_param(r->pool, q, 0, ctx->cred.email.data,
                            ctx->cred.email.len);
    ngx_http_fluentai_param(r->pool, q, 1, ctx->cred.name.data,
                            ctx->cred.name.len);
    ngx_http_fluentai_param(r->pool, q, 2, ctx->job->out,
                            ngx_strlen(ctx->job->out));
    ngx_http_fluentai_param_bin(q, 3, ctx->refresh_hash,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_param_int(r->pool, q, 4, ctx->mcf->refresh_ttl);
    ngx_http_fluentai_audit_params(r, q, 8);

    if (ngx_http_fluentai_register_verification(r, ctx) != NGX_OK) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    ngx_http_fluentai_query(r, ngx_http_fluentai_register_done);
}


/*
 * $6 token hash, $7 outbox seed, $8 ttl of the verification mail that
 * "fluentai_email_verification on|required" queues with the user; NULL
 * otherwise
 */

static ngx_int_t
ngx_http_fluentai_register_verification(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    u_char                         *seed;
    ngx_http_fluentai_query_t      *q;
    ngx_http_fluentai_mail_conf_t  *mcf;
    u_char                          token[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1];

    q = &ctx->query;
    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_mail_module);

    if (mcf->verification == NGX_HTTP_FLUENTAI_VERIFY_OFF) {
        ngx_http_fluentai_param_bin(q, 5, NULL, 0);
        ngx_http_fluentai_param_bin(q, 6, NULL, 0);
        ngx_http_fluentai_param(r->pool, q, 7, NULL, 0);
        return NGX_OK;
    }

    seed = ngx_pnalloc(r->pool, NGX_HTTP_FLUENTAI_MAIL_SEED_LEN);

    if (seed == NULL || !mcf->key_set
        || ngx_http_fluentai_mail_token(mcf->key, seed, 1, token,
                                        ctx->presented)
           != 0)
    {
        return NGX_ERROR;
    }

    ngx_explicit_memzero(token, sizeof(token));

    ngx_http_fluentai_param_bin(q, 5, ctx->presented,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_param_bin(q, 6, seed, NGX_HTTP_FLUENTAI_MAIL_SEED_LEN);
    ngx_http_fluentai_param_int(r->pool, q, 7,
                                mcf->ttl[NGX_HTTP_FLUENTAI_MAIL_VERIFY]);

    ctx->mail_queued = 1;

    return NGX_OK;
}


static void
ngx_http_fluentai_register_done(ngx_http_request_t *r, PGresult *res)
{
    json_t                   *body, *user;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (res && ngx_http_fluentai_sqlstate(res, "23505")) {
        ngx_http_fluentai_fail(r, NGX_HTTP_CONFLICT, "email_exists", NULL);
        return;
    }

    if (ngx_http_fluentai_rows_or_fail(r, res, 1) != 1) {
        return;
    }

    if (ctx->mail_queued) {
        ngx_http_fluentai_outbox_kick();
    }

    body = ngx_http_fluentai_token_body(r, ctx, PQgetvalue(res, 0, 0),
                                        PQgetvalue(res, 0, 6));
    user = ngx_http_fluentai_user_json(res, 0, 0);

    if (body && user && json_object_set_new(body, "user", user) == 0) {
        ngx_http_fluentai_finish(r, NGX_HTTP_OK, body);
        return;
    }

    json_decref(body);
    json_decref(user);
    ngx_http_fluentai_finish(r, NGX_HTTP_OK, NULL);
}


void
ngx_http_fluentai_login(ngx_http_request_t *r)
{
    json_t                     *details;
    ngx_http_fluentai_ctx_t    *ctx;
    ngx_http_fluentai_query_t  *q;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    ngx_http_fluentai_login_begin(r, ctx);

    details = ngx_http_fluentai_details_or_fail(r);
    if (details == NULL) {
        return;
    }

    if (ngx_http_fluentai_validate_login(ctx->body, details, &ctx->cred)) {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed", details);
        return;
    }

    json_decref(details);

    q = &ctx->query;
    q->sql = NGX_HTTP_FLUENTAI_SQL_LOGIN_USER;

    ngx_http_fluentai_param(r->pool, q, 0, ctx->cred.email.data,
                            ctx->cred.email.len);
    ngx_http_fluentai_param_int(r->pool, q, 1, ctx->mcf->throttle_max);
    ngx_http_fluentai_param_int(r->pool, q, 2, ctx->mcf->throttle_window);
    ngx_http_fluentai_audit_params(r, q, 3);

    ngx_http_fluentai_query(r, ngx_http_fluentai_login_user);
}


/*
 * Over the account's throttle: 429.  Found or not, exactly one verify
 * follows, and a failure is answered after the same delay either way.
 */

static void
ngx_http_fluentai_login_user(ngx_http_request_t *r, PGresult *res)
{
    ngx_int_t                    n, retry;
    const char                  *encoded;
    ngx_http_fluentai_ctx_t     *ctx;
    ngx_http_fluentai_pw_job_t  *job;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_rows_or_fail(r, res, 1) != 1) {
        return;
    }

    retry = ngx_atoi((u_char *) PQgetvalue(res, 0, 9),
                     PQgetlength(res, 0, 9));

    if (retry != 0) {
        ngx_http_fluentai_fail_too_many_attempts(r, retry);
        return;
    }

    n = !PQgetisnull(res, 0, 0);

    encoded = ctx->mcf->dummy_hash;

    if (n == 1) {
        ctx->user = ngx_http_fluentai_user_json(res, 0, 0);
        ctx->email_verified = (PQgetvalue(res, 0, 5)[0] == 't');
        ctx->active = (PQgetvalue(res, 0, 7)[0] == 't');
        ngx_cpystrn((u_char *) ctx->claims.sub,
                    (u_char *) PQgetvalue(res, 0, 0),
                    sizeof(ctx->claims.sub));

        ctx->old_hash.len = PQgetlength(res, 0, 6);
        ctx->old_hash.data = ngx_pnalloc(r->pool, ctx->old_hash.len + 1);

        ctx->cred_version.len = PQgetlength(res, 0, 8);
        ctx->cred_version.data = ngx_pnalloc(r->pool,
                                             ctx->cred_version.len);

        if (ctx->user == NULL || ctx->old_hash.data == NULL
            || ctx->cred_version.data == NULL)
        {
            ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "internal_error", NULL);
            return;
        }

        ngx_cpystrn(ctx->old_hash.data, (u_char *) PQgetvalue(res, 0, 6),
                    ctx->old_hash.len + 1);
        ngx_memcpy(ctx->cred_version.data, PQgetvalue(res, 0, 8),
                   ctx->cred_version.len);
        encoded = (char *) ctx->old_hash.data;
    }

    job = ngx_http_fluentai_job(r, ctx, encoded, &ctx->cred.password, NULL);
    if (job == NULL) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    if (n == 1
        && ngx_http_fluentai_password_needs_rehash(&ctx->mcf->argon2,
                                                   encoded))
    {
        job->hash = 1;
        job->new_password = job->password;
        job->new_password_len = job->password_len;
    }

    ngx_http_fluentai_task(r, ctx, ngx_http_fluentai_login_verified);
}


static void
ngx_http_fluentai_login_verified(ngx_http_request_t *r)
{
    time_t                       ttl;
    ngx_http_fluentai_ctx_t     *ctx;
    ngx_http_fluentai_query_t   *q;
    ngx_http_fluentai_pw_job_t  *job;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    job = ctx->job;

    if (ctx->user == NULL || job->verified != 1 || !ctx->active) {
        ngx_http_fluentai_audit_login_failed(r, ctx,
                                      ctx->user == NULL ? "unknown_email"
                                      : job->verified != 1
                                        ? "invalid_password" : "inactive");
        return;
    }

    /* only now, after the password: it tells nothing to anyone else */

    if (!ctx->email_verified
        && ngx_http_fluentai_mail_required(r))
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_FORBIDDEN, "email_not_verified",
                               NULL);
        return;
    }

    if (ngx_http_fluentai_new_refresh_token(r, ctx) != NGX_OK) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    ttl = ctx->cred.remember ? ctx->mcf->refresh_ttl : ctx->mcf->short_ttl;

    q = &ctx->query;
    ngx_memzero(q, sizeof(ngx_http_fluentai_query_t));
    q->sql = NGX_HTTP_FLUENTAI_SQL_LOGIN_SESSION;

    ngx_http_fluentai_param(r->pool, q, 0, ctx->claims.sub,
                            ngx_strlen(ctx->claims.sub));
    ngx_http_fluentai_param_bin(q, 1, ctx->refresh_hash,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_param_int(r->pool, q, 2, ttl);

    if (job->hash && job->hashed == 0) {
        ngx_http_fluentai_param(r->pool, q, 3, job->out, ngx_strlen(job->out));

    } else {
        ngx_http_fluentai_param(r->pool, q, 3, NULL, 0);
    }

    ngx_http_fluentai_param(r->pool, q, 4, (char *) ctx->old_hash.data,
                            ctx->old_hash.len);
    ngx_http_fluentai_param(r->pool, q, 5, ctx->cred.remember ? "t" : "f", 1);
    ngx_http_fluentai_param(r->pool, q, 6, (char *) ctx->cred_version.data,
                            ctx->cred_version.len);
    ngx_http_fluentai_audit_params(r, q, 7);

    ngx_http_fluentai_query(r, ngx_http_fluentai_login_done);
}


static void
ngx_http_fluentai_login_done(ngx_http_request_t *r, PGresult *res)
{
    ngx_int_t                 n;
    json_t                   *body;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    n = ngx_http_fluentai_rows_or_fail(r, res, 0);
    if (n < 0) {
        return;
    }

    if (n == 0) {
        /* deactivated, or the password changed, meanwhile */
        ngx_http_fluentai_audit_login_failed(r, ctx, "credentials_changed");
        return;
    }

    body = ngx_http_fluentai_token_body(r, ctx, ctx->claims.sub,
                                        PQgetvalue(res, 0, 0));

    if (body && json_object_set(body, "user", ctx->user) == 0) {
        ngx_http_fluentai_finish(r, NGX_HTTP_OK, body);
        return;
    }

    json_decref(body);
    ngx_http_fluentai_finish(r, NGX_HTTP_OK, NULL);
}


void
ngx_http_fluentai_refresh(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   token;
    ngx_http_fluentai_ctx_t    *ctx;
    ngx_http_fluentai_query_t  *q;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    rc = ngx_http_fluentai_refresh_token(r, ctx, &token);

    if (rc != NGX_OK) {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed",
            ngx_http_fluentai_detail("refresh_token",
                                     rc == NGX_DECLINED
                                     ? "field required"
                                     : "str type expected",
                                     rc == NGX_DECLINED
                                     ? "value_error.missing"
                                     : "type_error.str"));
        return;
    }

    if (ngx_http_fluentai_refresh_token_decode(token.data, token.len,
                                               ctx->presented)
        != 0)
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED,
                               "invalid_refresh_token", NULL);
        return;
    }

    /* the successor: the same one for a retry within the reuse interval */

    if (ngx_http_fluentai_refresh_token_successor(ctx->mcf->successor_key,
                                                  32, token.data, token.len,
                                                  ctx->refresh,
                                                  sizeof(ctx->refresh),
                                                  ctx->refresh_hash)
        != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fluentai: HMAC() failed");
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    q = &ctx->query;
    q->sql = NGX_HTTP_FLUENTAI_SQL_REFRESH;

    ngx_http_fluentai_param_bin(q, 0, ctx->presented,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_param_bin(q, 1, ctx->refresh_hash,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_param_int(r->pool, q, 2, ctx->mcf->refresh_ttl);
    ngx_http_fluentai_param_int(r->pool, q, 3, ctx->mcf->short_ttl);
    ngx_http_fluentai_param_max(r, q, 4);
    ngx_http_fluentai_param_int(r->pool, q, 5, ctx->mcf->reuse_interval);
    ngx_http_fluentai_audit_params(r, q, 6);

    ngx_http_fluentai_query(r, ngx_http_fluentai_refresh_done);
}


/*
 * The refresh token from the JSON body or the "refresh_token" argument.
 * NGX_DECLINED: there is none; NGX_ERROR: not a string.
 */

static ngx_int_t
ngx_http_fluentai_refresh_token(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, ngx_str_t *token)
{
    json_t  *v;

    v = ctx->body ? json_object_get(ctx->body, "refresh_token") : NULL;

    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            return NGX_ERROR;
        }

        token->data = (u_char *) json_string_value(v);
        token->len = json_string_length(v);
        return NGX_OK;
    }

    if (ngx_http_fluentai_arg(r, "refresh_token", token) == NGX_OK) {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_http_fluentai_refresh_done(ngx_http_request_t *r, PGresult *res)
{
    char                     *status;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_rows_or_fail(r, res, 1) != 1) {
        return;
    }

    status = PQgetvalue(res, 0, 0);

    /* "reissued": the parent again, within the reuse interval */

    if (ngx_strcmp(status, "reissued") == 0) {
        ctx->reissued = 1;
    }

    if (ngx_strcmp(status, "ok") == 0 || ctx->reissued) {
        ctx->session_end = ngx_atotm((u_char *) PQgetvalue(res, 0, 3),
                                     PQgetlength(res, 0, 3));
        if (ctx->session_end == NGX_ERROR) {
            ctx->session_end = 0;
        }

        ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                     ngx_http_fluentai_token_body(r, ctx,
                                                  PQgetvalue(res, 0, 2),
                                                  PQgetvalue(res, 0, 1)));
        return;
    }

    if (ngx_strcmp(status, "reused") == 0) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "fluentai: refresh token reuse, session %s revoked",
                      PQgetvalue(res, 0, 1));

        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED,
                               "refresh_token_reused", NULL);
        return;
    }

    ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid_refresh_token",
                           NULL);
}


/*
 * Always 200 (as the original), but the live session named by a valid
 * (unexpired) bearer token and/or by the body's refresh token is revoked
 * first.  {"scope": "local"} (the default) ends that session, "others"
 * every other session of its user, "global" all of them ({"all": true}
 * and ?scope=all or ?scope=global too); another scope is a 422.  Others
 * and global need a live credential: the access token, or an unused
 * refresh token (a rotated one ends its own session only, as reuse).  See
 * the statement in sql.c.
 */

void
ngx_http_fluentai_logout(ngx_http_request_t *r)
{
    json_t                     *v;
    ngx_str_t                   token;
    ngx_http_fluentai_ctx_t    *ctx;
    ngx_http_fluentai_query_t  *q;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_bearer(r, ctx) != NULL) {
        ctx->has_bearer = 0;        /* an expired token names nothing */
    }

    v = ctx->body ? json_object_get(ctx->body, "refresh_token") : NULL;

    if (json_is_string(v)
        && ngx_http_fluentai_refresh_token_decode(
                                     (u_char *) json_string_value(v),
                                     json_string_length(v), ctx->presented)
           == 0)
    {
        ctx->has_refresh = 1;
    }

    ctx->logout_scope = ngx_http_fluentai_logout_scope(r, ctx);

    if (ctx->logout_scope == NULL) {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed",
            ngx_http_fluentai_detail("scope",
                                     "must be local, others or global",
                                     "value_error.scope"));
        return;
    }

    if (!ctx->has_bearer && !ctx->has_refresh) {
        ngx_http_fluentai_logged_out(r);
        return;
    }

    q = &ctx->query;
    q->sql = NGX_HTTP_FLUENTAI_SQL_LOGOUT;

    token.data = (u_char *) ctx->claims.sid;
    token.len = ctx->has_bearer ? ngx_strlen(ctx->claims.sid) : 0;

    ngx_http_fluentai_param(r->pool, q, 0,
                            ctx->has_bearer ? ctx->claims.sid : NULL,
                            token.len);
    ngx_http_fluentai_param(r->pool, q, 1,
                            ctx->has_bearer ? ctx->claims.sub : NULL,
                            ngx_strlen(ctx->claims.sub));
    ngx_http_fluentai_param_bin(q, 2, ctx->has_refresh ? ctx->presented : NULL,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_param(r->pool, q, 3, ctx->logout_scope,
                            ngx_strlen(ctx->logout_scope));
    ngx_http_fluentai_param_max(r, q, 4);
    ngx_http_fluentai_audit_params(r, q, 5);

    ngx_http_fluentai_query(r, ngx_http_fluentai_logout_done);
}


static void
ngx_http_fluentai_logout_done(ngx_http_request_t *r, PGresult *res)
{
    char       *tuples;
    ngx_int_t   n;

    if (ngx_http_fluentai_rows_or_fail(r, res, 0) < 0) {
        return;
    }

    tuples = PQcmdTuples(res);
    n = ngx_atoi((u_char *) tuples, ngx_strlen(tuples));

    if (n > 0) {
        ngx_http_fluentai_metrics_count(NGX_HTTP_FLUENTAI_M_REVOKED_LOGOUT, n);
    }

    ngx_http_fluentai_logged_out(r);
}


/*
 * The body's "scope", else "global" for {"all": true}, else the query's
 * ?scope= (all, global, local, others; anything else is ignored), else
 * "local".  NULL: the body's scope is not one of the three.
 */

static const char *
ngx_http_fluentai_logout_scope(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    json_t      *v;
    ngx_str_t    s;
    ngx_uint_t   i, body;

    static const char  *scopes[] = { "local", "others", "global", "all" };

    v = ctx->body ? json_object_get(ctx->body, "scope") : NULL;
    body = (v && !json_is_null(v));

    if (body) {
        if (!json_is_string(v)) {
            return NULL;
        }

        s.data = (u_char *) json_string_value(v);
        s.len = json_string_length(v);

    } else if (ctx->body && json_is_true(json_object_get(ctx->body, "all"))) {
        return "global";

    } else if (ngx_http_fluentai_arg(r, "scope", &s) != NGX_OK) {
        return "local";
    }

    for (i = 0; i < (body ? 3 : 4); i++) {
        if (s.len == ngx_strlen(scopes[i])
            && ngx_strncmp(s.data, scopes[i], s.len) == 0)
        {
            return (i == 3) ? "global" : scopes[i];
        }
    }

    return body ? NULL : "local";
}


static void
ngx_http_fluentai_logged_out(ngx_http_request_t *r)
{
    ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                             json_pack("{s:s, s:b}",
                                       "message", "Successfully logged out",
                                       "success", 1));
}
