
/*
 * "fluentai_auth_jwt on": an access-phase gate for any other location.
 * The bearer access token is verified statelessly (signature, type, exp);
 * a good one sets $fluentai_user_id and $fluentai_session_id for
 * proxying.  A missing or bad one: with "satisfy all" (the default) the
 * contract's 401 JSON is answered here; with "satisfy any" the handler
 * returns 401 (with WWW-Authenticate and $fluentai_error_code set) as
 * ngx_http_auth_request_module does, so that another access module
 * (allow, auth_basic, ...) may still grant access.
 */


#include "ngx_http_fluentai.h"


static ngx_int_t ngx_http_fluentai_gate_status(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *code);


ngx_int_t
ngx_http_fluentai_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    const char                    *code;
    ngx_http_fluentai_ctx_t       *ctx;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_fluentai_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);

    /* the endpoints authenticate by themselves */

    if (!lcf->auth_jwt
        || lcf->endpoint
        || r->method == NGX_HTTP_OPTIONS
        || r != r->main)
    {
        return NGX_DECLINED;
    }

    ctx = ngx_http_fluentai_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    code = ngx_http_fluentai_bearer(r, ctx);
    if (code == NULL) {
        return NGX_OK;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->satisfy == NGX_HTTP_SATISFY_ANY) {
        return ngx_http_fluentai_gate_status(r, ctx, code);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, code, NULL);

    return NGX_DONE;
}


/* "satisfy any": 401 for nginx to act on; the challenge nginx drops if
 * another module grants access */

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
