
/*
 * Account recovery and email verification:
 *
 *   POST /auth/forgot-password      {"email"}
 *   POST /auth/reset-password       {"token", "new_password"}
 *   POST /auth/verify-email         {"token"}
 *   POST /auth/resend-verification  {"email"}
 *
 * forgot-password and resend-verification answer the same 200 after the
 * same single statement whatever the email (unknown, inactive, verified,
 * over its hourly limit): the answer tells nothing about accounts.  The
 * token and its mail are written by that statement in one transaction;
 * the outbox sender delivers the mail.  reset-password hashes on the
 * thread pool, then consumes the token, sets the password, revokes
 * every session, ends the account's login throttle and writes the audit
 * event in one statement; it does not log the user in.
 */


#include "ngx_http_fluentai.h"
#include "ngx_http_fluentai_mail.h"


static void ngx_http_fluentai_mail_request(ngx_http_request_t *r,
    ngx_uint_t kind);
static void ngx_http_fluentai_mail_requested(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_reset_hashed(ngx_http_request_t *r);
static void ngx_http_fluentai_reset_done(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_verify_done(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_token_used(ngx_http_request_t *r,
    PGresult *res, const char *code, const char *message);


static const char  *ngx_http_fluentai_mail_answers[2] = {
    "If an account with this email exists, a link to reset the password "
    "has been sent to it.",
    "If this email belongs to an account that is not verified yet, a "
    "verification link has been sent to it."
};


void
ngx_http_fluentai_forgot_password(ngx_http_request_t *r)
{
    ngx_http_fluentai_mail_request(r, NGX_HTTP_FLUENTAI_MAIL_RESET);
}


void
ngx_http_fluentai_resend_verification(ngx_http_request_t *r)
{
    ngx_http_fluentai_mail_request(r, NGX_HTTP_FLUENTAI_MAIL_VERIFY);
}


/*
 * $1 email, $2 kind, $3 token hash, $4 seed, $5 ttl, $6 mails per hour.
 * A token is made for every request, used or not: the same work always.
 */

static void
ngx_http_fluentai_mail_request(ngx_http_request_t *r, ngx_uint_t kind)
{
    json_t                         *details;
    u_char                         *seed;
    ngx_http_fluentai_ctx_t        *ctx;
    ngx_http_fluentai_query_t      *q;
    ngx_http_fluentai_mail_conf_t  *mcf;
    u_char                          token[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1];

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_mail_module);

    details = ngx_http_fluentai_details_or_fail(r);
    if (details == NULL) {
        return;
    }

    if (ngx_http_fluentai_validate_email_request(ctx->body, details,
                                                 &ctx->cred))
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed", details);
        return;
    }

    json_decref(details);

    seed = ngx_pnalloc(r->pool, NGX_HTTP_FLUENTAI_MAIL_SEED_LEN);

    if (seed == NULL || !mcf->key_set
        || ngx_http_fluentai_mail_token(mcf->key, seed, 1, token,
                                        ctx->refresh_hash)
           != 0)
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    ngx_explicit_memzero(token, sizeof(token));

    ctx->mail_kind = kind;

    q = &ctx->query;
    q->sql = NGX_HTTP_FLUENTAI_SQL_MAIL_REQUEST;

    ngx_http_fluentai_param(r->pool, q, 0, ctx->cred.email.data,
                            ctx->cred.email.len);
    ngx_http_fluentai_param(r->pool, q, 1, ngx_http_fluentai_mail_kinds[kind],
                            ngx_strlen(ngx_http_fluentai_mail_kinds[kind]));
    ngx_http_fluentai_param_bin(q, 2, ctx->refresh_hash,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_param_bin(q, 3, seed, NGX_HTTP_FLUENTAI_MAIL_SEED_LEN);
    ngx_http_fluentai_param_int(r->pool, q, 4, mcf->ttl[kind]);
    ngx_http_fluentai_param_int(r->pool, q, 5, mcf->per_hour);

    ngx_http_fluentai_query(r, ngx_http_fluentai_mail_requested);
}


static void
ngx_http_fluentai_mail_requested(ngx_http_request_t *r, PGresult *res)
{
    char                     *status;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_rows_or_fail(r, res, 1) != 1) {
        return;
    }

    status = PQgetvalue(res, 0, 0);

    if (ngx_strcmp(status, "queued") == 0) {
        ngx_http_fluentai_outbox_kick();

    } else if (ngx_strcmp(status, "limited") == 0) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "fluentai: %s mail not queued: the account reached "
                      "its hourly limit",
                      ngx_http_fluentai_mail_kinds[ctx->mail_kind]);
    }

    ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                     json_pack("{s:s, s:b}", "message",
                               ngx_http_fluentai_mail_answers[ctx->mail_kind],
                               "success", 1));
}


void
ngx_http_fluentai_reset_password(ngx_http_request_t *r)
{
    json_t                     *details;
    ngx_http_fluentai_ctx_t    *ctx;
    ngx_http_fluentai_reset_t   reset;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    details = ngx_http_fluentai_details_or_fail(r);
    if (details == NULL) {
        return;
    }

    if (ngx_http_fluentai_validate_reset(ctx->body, details, &reset)) {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed", details);
        return;
    }

    json_decref(details);

    /* common or blank: 422 whatever the token (blocklist.c) */

    if (ngx_http_fluentai_new_password_or_fail(r, "newPassword",
                                               &reset.new_password)
        != NGX_OK)
    {
        return;
    }

    /* a token we cannot have issued costs no hashing */

    if (ngx_http_fluentai_refresh_token_decode((u_char *) reset.token.data,
                                               reset.token.len,
                                               ctx->presented)
        != 0)
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_BAD_REQUEST,
                               "invalid_reset_token", NULL);
        return;
    }

    ngx_http_fluentai_task_hash(r, ctx, &reset.new_password,
                                ngx_http_fluentai_reset_hashed);
}


/* $1 token hash, $2 the new password's hash, $3 ip, $4 user agent */

static void
ngx_http_fluentai_reset_hashed(ngx_http_request_t *r)
{
    ngx_http_fluentai_ctx_t    *ctx;
    ngx_http_fluentai_query_t  *q;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_hashed_or_fail(r, ctx->job) != NGX_OK) {
        return;
    }

    q = &ctx->query;
    q->sql = NGX_HTTP_FLUENTAI_SQL_RESET_PASSWORD;

    ngx_http_fluentai_param_bin(q, 0, ctx->presented,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_param(r->pool, q, 1, ctx->job->out,
                            ngx_strlen(ctx->job->out));
    ngx_http_fluentai_audit_params(r, q, 2);

    ngx_http_fluentai_query(r, ngx_http_fluentai_reset_done);
}


static void
ngx_http_fluentai_reset_done(ngx_http_request_t *r, PGresult *res)
{
    ngx_http_fluentai_token_used(r, res, "invalid_reset_token",
                                 "Password has been reset; sign in with "
                                 "the new password");
}


void
ngx_http_fluentai_verify_email(ngx_http_request_t *r)
{
    json_t                     *details;
    ngx_http_fluentai_ctx_t    *ctx;
    ngx_http_fluentai_vstr_t    token;
    ngx_http_fluentai_query_t  *q;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    details = ngx_http_fluentai_details_or_fail(r);
    if (details == NULL) {
        return;
    }

    if (ngx_http_fluentai_validate_token(ctx->body, details, &token)) {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed", details);
        return;
    }

    json_decref(details);

    if (ngx_http_fluentai_refresh_token_decode((u_char *) token.data,
                                               token.len, ctx->presented)
        != 0)
    {
        ngx_http_fluentai_fail(r, NGX_HTTP_BAD_REQUEST,
                               "invalid_verification_token", NULL);
        return;
    }

    q = &ctx->query;
    q->sql = NGX_HTTP_FLUENTAI_SQL_VERIFY_EMAIL;

    ngx_http_fluentai_param_bin(q, 0, ctx->presented,
                                NGX_HTTP_FLUENTAI_HASH_LEN);
    ngx_http_fluentai_audit_params(r, q, 1);

    ngx_http_fluentai_query(r, ngx_http_fluentai_verify_done);
}


static void
ngx_http_fluentai_verify_done(ngx_http_request_t *r, PGresult *res)
{
    ngx_http_fluentai_token_used(r, res, "invalid_verification_token",
                                 "Email verified");
}


/* one row: the user id, or NULL for an unknown, used or expired token */

static void
ngx_http_fluentai_token_used(ngx_http_request_t *r, PGresult *res,
    const char *code, const char *message)
{
    if (ngx_http_fluentai_rows_or_fail(r, res, 1) != 1) {
        return;
    }

    if (PQgetisnull(res, 0, 0)) {
        ngx_http_fluentai_fail(r, NGX_HTTP_BAD_REQUEST, code, NULL);
        return;
    }

    ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                             json_pack("{s:s, s:b}", "message", message,
                                       "success", 1));
}
