
/*
 * POST /user/change-password: two round trips (read the hash with the
 * session check; store the new one and revoke the other sessions in one
 * statement), with the argon2id work in between on the thread pool.
 */


#include "ngx_http_fluentai.h"


static void ngx_http_fluentai_password_got(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_password_hashed(ngx_http_request_t *r);
static void ngx_http_fluentai_password_stored(ngx_http_request_t *r,
    PGresult *res);


void
ngx_http_fluentai_change_password(ngx_http_request_t *r)
{
    json_t                               *details;
    ngx_http_fluentai_ctx_t              *ctx;
    ngx_http_fluentai_password_change_t  *pw;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    pw = &ctx->passwords;

    details = ngx_http_fluentai_bearer_details_or_fail(r, ctx);
    if (details == NULL) {
        return;
    }

    if (ngx_http_fluentai_validate_password_change(ctx->body, details, pw)) {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed", details);
        return;
    }

    json_decref(details);

    if (pw->current.len == pw->new_password.len
        && ngx_memcmp(pw->current.data, pw->new_password.data,
                      pw->current.len) == 0)
    {
        details = ngx_http_fluentai_detail("newPassword",
                      "the new password must differ from the current one",
                      "value_error.same_password");

        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "same_password", details);
        return;
    }

    if (ngx_http_fluentai_new_password_or_fail(r, "newPassword",
                                               &pw->new_password)
        != NGX_OK)
    {
        return;
    }

    ctx->query.sql = NGX_HTTP_FLUENTAI_SQL_PASSWORD_GET;

    ngx_http_fluentai_param_session(r, ctx);
    ngx_http_fluentai_param_max(r, &ctx->query, 2);
    ngx_http_fluentai_param_int(r->pool, &ctx->query, 3,
                                ctx->mcf->throttle_max);
    ngx_http_fluentai_param_int(r->pool, &ctx->query, 4,
                                ctx->mcf->throttle_window);
    ngx_http_fluentai_audit_params(r, &ctx->query, 5);

    ngx_http_fluentai_query(r, ngx_http_fluentai_password_got);
}


/* the current hash, unless the account is over its login throttle */

static void
ngx_http_fluentai_password_got(ngx_http_request_t *r, PGresult *res)
{
    ngx_int_t                 n, retry;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    n = ngx_http_fluentai_rows_or_fail(r, res, 0);
    if (n < 0) {
        return;
    }

    if (n == 0) {
        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid_token",
                               NULL);
        return;
    }

    retry = ngx_atoi((u_char *) PQgetvalue(res, 0, 1),
                     PQgetlength(res, 0, 1));

    if (retry != 0) {
        ngx_http_fluentai_fail_too_many_attempts(r, retry);
        return;
    }

    ctx->old_hash.len = PQgetlength(res, 0, 0);
    ctx->old_hash.data = ngx_pnalloc(r->pool, ctx->old_hash.len + 1);

    if (ctx->old_hash.data == NULL
        || ngx_http_fluentai_job(r, ctx, PQgetvalue(res, 0, 0),
                                 &ctx->passwords.current,
                                 &ctx->passwords.new_password)
           == NULL)
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    ngx_cpystrn(ctx->old_hash.data, (u_char *) PQgetvalue(res, 0, 0),
                ctx->old_hash.len + 1);

    ngx_http_fluentai_task(r, ctx, ngx_http_fluentai_password_hashed);
}


static void
ngx_http_fluentai_password_hashed(ngx_http_request_t *r)
{
    ngx_http_fluentai_ctx_t     *ctx;
    ngx_http_fluentai_query_t   *q;
    ngx_http_fluentai_pw_job_t  *job;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    job = ctx->job;

    if (job->verified != 1) {
        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED,
                               "current_password_incorrect", NULL);
        return;
    }

    if (ngx_http_fluentai_hashed_or_fail(r, job) != NGX_OK) {
        return;
    }

    q = &ctx->query;
    ngx_memzero(q, sizeof(ngx_http_fluentai_query_t));
    q->sql = NGX_HTTP_FLUENTAI_SQL_PASSWORD_SET;

    ngx_http_fluentai_param_session(r, ctx);
    ngx_http_fluentai_param(r->pool, q, 2, job->out, ngx_strlen(job->out));
    ngx_http_fluentai_param(r->pool, q, 3, (char *) ctx->old_hash.data,
                            ctx->old_hash.len);
    ngx_http_fluentai_param_max(r, q, 4);
    ngx_http_fluentai_audit_params(r, q, 5);

    ngx_http_fluentai_query(r, ngx_http_fluentai_password_stored);
}


/*
 * Two change-password requests racing: the first one stores its hash and
 * revokes the other session; the second finds its session revoked (401
 * invalid_token) or the hash changed (401 current_password_incorrect).
 */

static void
ngx_http_fluentai_password_stored(ngx_http_request_t *r, PGresult *res)
{
    if (ngx_http_fluentai_rows_or_fail(r, res, 1) != 1) {
        return;
    }

    if (ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                 PQgetlength(res, 0, 0)) < 1)
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid_token",
                               NULL);
        return;
    }

    if (ngx_atoi((u_char *) PQgetvalue(res, 0, 1),
                 PQgetlength(res, 0, 1)) < 1)
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED,
                               "current_password_incorrect", NULL);
        return;
    }

    ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                             json_pack("{s:{}, s:s, s:b}",
                                       "data",
                                       "message",
                                       "Password updated successfully",
                                       "success", 1));
}
