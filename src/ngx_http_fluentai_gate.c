
/*
 * "fluentai_auth_jwt on | session": an access-phase gate for any other
 * location.  The bearer access token is verified statelessly (signature,
 * type, exp); with "session" the token's session is then checked through
 * the pool (active, within its lifetime, its user active), so logout and
 * change-password close the gate at once.  A good token sets
 * $fluentai_user_id and $fluentai_session_id for proxying.
 *
 * A missing or bad token: with "satisfy all" (the default) the contract's
 * 401 JSON is answered here; with "satisfy any" the handler returns 401
 * (with WWW-Authenticate and $fluentai_error_code set) as
 * ngx_http_auth_request_module does, so that another access module
 * (allow, auth_basic, ...) may still grant access.  A database that
 * cannot answer the session check is the contract's 503 JSON either way.
 *
 * The session check runs while the phase engine waits: the handler
 * returns NGX_AGAIN, the query's continuation records the outcome and
 * posts the request, and the phases run the handler again.
 */


#include "ngx_http_fluentai.h"


#define NGX_HTTP_FLUENTAI_GATE_WAITING  1
#define NGX_HTTP_FLUENTAI_GATE_DONE     2


static ngx_int_t ngx_http_fluentai_gate_session(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
static void ngx_http_fluentai_gate_done(ngx_http_request_t *r,
    PGresult *res);
static ngx_int_t ngx_http_fluentai_gate_refuse(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *code);
static ngx_int_t ngx_http_fluentai_gate_status(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *code);


ngx_int_t
ngx_http_fluentai_access_handler(ngx_http_request_t *r)
{
    const char                    *code;
    ngx_http_fluentai_ctx_t       *ctx;
    ngx_http_fluentai_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);

    /* the endpoints authenticate by themselves; error pages need none */

    if (lcf->auth_jwt == NGX_HTTP_FLUENTAI_GATE_OFF
        || lcf->endpoint
        || lcf->error_page
        || r->method == NGX_HTTP_OPTIONS
        || r != r->main)
    {
        return NGX_DECLINED;
    }

    ctx = ngx_http_fluentai_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ctx->gate) {

    case NGX_HTTP_FLUENTAI_GATE_WAITING:
        return NGX_AGAIN;

    case NGX_HTTP_FLUENTAI_GATE_DONE:
        code = ctx->gate_code;
        break;

    default:
        code = ngx_http_fluentai_bearer(r, ctx);

        if (code == NULL && lcf->auth_jwt == NGX_HTTP_FLUENTAI_GATE_SESSION) {
            return ngx_http_fluentai_gate_session(r, ctx);
        }
    }

    if (code == NULL) {
        return NGX_OK;
    }

    return ngx_http_fluentai_gate_refuse(r, ctx, code);
}


/* starts the session check: NGX_AGAIN, or its outcome if it came at once */

static ngx_int_t
ngx_http_fluentai_gate_session(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    ctx->query.sql = NGX_HTTP_FLUENTAI_SQL_GATE;
    ngx_http_fluentai_param_session(r, ctx);
    ngx_http_fluentai_param_max(r, &ctx->query, 2);

    if (ctx->query.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* done(r, NULL) for an outage: the gate answers it, not query.c */

    ctx->query_failures = 1;
    ctx->gate = NGX_HTTP_FLUENTAI_GATE_WAITING;

    ngx_http_fluentai_query(r, ngx_http_fluentai_gate_done);

    if (ctx->gate == NGX_HTTP_FLUENTAI_GATE_WAITING) {
        return NGX_AGAIN;
    }

    return ngx_http_fluentai_access_handler(r);
}


static void
ngx_http_fluentai_gate_done(ngx_http_request_t *r, PGresult *res)
{
    ngx_int_t                 n;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (res == NULL) {
        ctx->gate_code = "database_unavailable";

    } else {
        n = ngx_http_fluentai_rows(r, res, 0);

        if (n == NGX_ERROR) {
            ctx->gate_code = "internal_error";

        } else if (n == 0) {
            /* a good token whose session ended: no ids for the log */
            ctx->gate_code = "invalid_token";
            ngx_str_null(&ctx->user_id);
            ngx_str_null(&ctx->session_id);

        } else {
            ctx->gate_code = NULL;
        }
    }

    ctx->gate = NGX_HTTP_FLUENTAI_GATE_DONE;

    if (r->read_event_handler == ngx_http_test_reading) {
        r->read_event_handler = ngx_http_block_reading;
    }

    if (!ctx->query_sync) {
        /* query.c runs the posted requests next */
        (void) ngx_http_post_request(r, NULL);
    }
}


/* a refused request: 401 (satisfy any: a status), 503 or 500 */

static ngx_int_t
ngx_http_fluentai_gate_refuse(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *code)
{
    ngx_int_t                  rc;
    ngx_uint_t                 status;
    ngx_http_core_loc_conf_t  *clcf;

    status = NGX_HTTP_UNAUTHORIZED;

    if (ngx_strcmp(code, "database_unavailable") == 0) {
        status = NGX_HTTP_SERVICE_UNAVAILABLE;

    } else if (ngx_strcmp(code, "internal_error") == 0) {
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (status == NGX_HTTP_UNAUTHORIZED
        && clcf->satisfy == NGX_HTTP_SATISFY_ANY)
    {
        return ngx_http_fluentai_gate_status(r, ctx, code);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_fluentai_fail(r, status, code, NULL);

    return NGX_DONE;
}


/*
 * "satisfy any": 401 for nginx to act on; the challenge nginx drops if
 * another module grants access
 */

static ngx_int_t
ngx_http_fluentai_gate_status(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *code)
{
    ngx_table_elt_t  *h;

    ctx->error_code.data = (u_char *) code;
    ctx->error_code.len = ngx_strlen(code);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");

    if (ngx_strcmp(code, "not_authenticated") == 0) {
        ngx_str_set(&h->value, "Bearer");

    } else {
        ngx_str_set(&h->value, "Bearer error=\"invalid_token\"");
    }

    r->headers_out.www_authenticate = h;

    return NGX_HTTP_UNAUTHORIZED;
}
