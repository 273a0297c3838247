
/*
 * The profile, GET and PUT: GET /auth/profile and GET /user/profile read
 * token, session and user at once; PUT /user/profile validates first, so
 * bad input never reaches the database, then checks the session and
 * updates in one statement.
 */


#include "ngx_http_fluentai.h"


static void ngx_http_fluentai_param_opt(ngx_http_request_t *r,
    ngx_uint_t i, ngx_uint_t set, ngx_http_fluentai_vstr_t *v);
static void ngx_http_fluentai_profile_done(ngx_http_request_t *r,
    PGresult *res);


/* GET /auth/profile, GET /user/profile: token, session and user at once */

void
ngx_http_fluentai_profile(ngx_http_request_t *r)
{
    ngx_http_fluentai_ctx_t    *ctx;
    ngx_http_fluentai_query_t  *q;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_bearer_or_fail(r, ctx) != NGX_OK) {
        return;
    }

    q = &ctx->query;
    q->sql = NGX_HTTP_FLUENTAI_SQL_PROFILE;

    ngx_http_fluentai_param_session(r, ctx);
    ngx_http_fluentai_param_max(r, q, 2);

    ngx_http_fluentai_query(r, ngx_http_fluentai_profile_done);
}


void
ngx_http_fluentai_profile_update(ngx_http_request_t *r)
{
    json_t                              *details;
    ngx_http_fluentai_ctx_t             *ctx;
    ngx_http_fluentai_profile_update_t  *p;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    p = &ctx->profile;

    details = ngx_http_fluentai_bearer_details_or_fail(r, ctx);
    if (details == NULL) {
        return;
    }

    if (ngx_http_fluentai_validate_profile(ctx->body, details, p)) {
        ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                               "validation_failed", details);
        return;
    }

    json_decref(details);

    ctx->query.sql = NGX_HTTP_FLUENTAI_SQL_PROFILE_UPDATE;

    ngx_http_fluentai_param_session(r, ctx);
    ngx_http_fluentai_param_opt(r, 2, p->set_name, &p->name);
    ngx_http_fluentai_param_opt(r, 4, p->set_avatar, &p->avatar);
    ngx_http_fluentai_param_opt(r, 6, p->set_bio, &p->bio);
    ngx_http_fluentai_param_max(r, &ctx->query, 8);

    ngx_http_fluentai_query(r, ngx_http_fluentai_profile_done);
}


/* $i: is the field set, $i+1: its value (NULL clears) */

static void
ngx_http_fluentai_param_opt(ngx_http_request_t *r, ngx_uint_t i,
    ngx_uint_t set, ngx_http_fluentai_vstr_t *v)
{
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    ngx_http_fluentai_param(r->pool, &ctx->query, i, set ? "t" : "f", 1);
    ngx_http_fluentai_param(r->pool, &ctx->query, i + 1, set ? v->data : NULL,
                            v->len);
}


/*
 * The end of profile, GET and PUT alike: no row means the session is not
 * active (revoked, expired, user deactivated), else the user.
 */

static void
ngx_http_fluentai_profile_done(ngx_http_request_t *r, PGresult *res)
{
    ngx_int_t  n;

    n = ngx_http_fluentai_rows_or_fail(r, res, 0);
    if (n < 0) {
        return;
    }

    if (n == 0) {
        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid_token",
                               NULL);
        return;
    }

    ngx_http_fluentai_finish_buf(r, NGX_HTTP_OK,
                                 ngx_http_fluentai_user_buf(r, res, 0, 0));
}
