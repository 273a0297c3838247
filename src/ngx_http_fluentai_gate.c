
/*
 * "fluentai_auth_jwt on": an access-phase gate for any other location.
 * The bearer access token is verified statelessly (signature, type, exp);
 * a missing or bad one is answered with the contract's 401 JSON, a good
 * one sets $fluentai_user_id and $fluentai_session_id for proxying.
 */


#include "ngx_http_fluentai.h"


ngx_int_t
ngx_http_fluentai_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    const char                    *code;
    ngx_http_fluentai_ctx_t       *ctx;
    ngx_http_fluentai_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);

    /* the endpoints authenticate by themselves; error pages need none */

    if (!lcf->auth_jwt
        || lcf->endpoint != NGX_HTTP_FLUENTAI_EP_NONE
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

    code = ngx_http_fluentai_bearer(r, ctx);
    if (code == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_finalize_request(r,
        ngx_http_fluentai_send_error(r, NGX_HTTP_UNAUTHORIZED, code, NULL));

    return NGX_DONE;
}
