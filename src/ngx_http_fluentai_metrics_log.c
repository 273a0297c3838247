
/*
 * Prometheus metrics: the requests.  Requests are counted in the log
 * phase by the endpoint their location mounts ($fluentai_endpoint, set
 * in the rewrite phase so that it survives error_page redirects, e.g.
 * limit_req's 429), with outcomes derived from the status and the
 * module's error code.
 */


#include "ngx_http_fluentai_metrics_int.h"


/* the endpoints whose POSTs have outcome counters */
typedef enum {
    NGX_HTTP_FLUENTAI_KIND_OTHER = 0,
    NGX_HTTP_FLUENTAI_KIND_LOGIN,
    NGX_HTTP_FLUENTAI_KIND_REGISTER,
    NGX_HTTP_FLUENTAI_KIND_REFRESH,
    NGX_HTTP_FLUENTAI_KIND_CHANGE_PASSWORD
} ngx_http_fluentai_metrics_kind_e;


static ngx_int_t ngx_http_fluentai_metrics_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_fluentai_metrics_mark(ngx_http_request_t *r);
static ngx_int_t ngx_http_fluentai_metrics_log(ngx_http_request_t *r);
static void ngx_http_fluentai_metrics_outcome(ngx_http_request_t *r,
    ngx_uint_t ep, ngx_uint_t status);
static ngx_uint_t ngx_http_fluentai_metrics_status(ngx_uint_t status);
static ngx_uint_t ngx_http_fluentai_metrics_class(ngx_uint_t status,
    ngx_uint_t first);


/* statuses with their own series; anything else is "other" */
ngx_uint_t  ngx_http_fluentai_metrics_statuses[
                                        NGX_HTTP_FLUENTAI_METRICS_OTHER + 1] = {
    200, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 499,
    500, 502, 503, 504, 0
};


static ngx_str_t  ngx_http_fluentai_metrics_kinds[] = {
    ngx_null_string,
    ngx_string("login"),
    ngx_string("register"),
    ngx_string("refresh"),
    ngx_string("change_password")
};


static ngx_str_t  ngx_http_fluentai_metrics_var_name =
    ngx_string("fluentai_endpoint");

/* the endpoint table's names and kinds, in its order */
ngx_str_t  ngx_http_fluentai_metrics_eps[
                                        NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS];
static ngx_uint_t  ngx_http_fluentai_metrics_kind[
                                        NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS];


/* configuration */

ngx_int_t
ngx_http_fluentai_metrics_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_fluentai_metrics_var_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_fluentai_metrics_variable;

    return NGX_OK;
}


ngx_int_t
ngx_http_fluentai_metrics_postconfiguration(ngx_conf_t *cf,
    ngx_http_fluentai_endpoint_t *endpoints)
{
    ngx_uint_t                      i, k;
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_fluentai_main_conf_t  *mcf;

    for (i = 0;
         endpoints[i].name.len && i < NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS;
         i++)
    {
        ngx_http_fluentai_metrics_eps[i] = endpoints[i].name;
        ngx_http_fluentai_metrics_kind[i] = NGX_HTTP_FLUENTAI_KIND_OTHER;

        for (k = 1; k <= NGX_HTTP_FLUENTAI_KIND_CHANGE_PASSWORD; k++) {
            if (ngx_strcmp(endpoints[i].name.data,
                           ngx_http_fluentai_metrics_kinds[k].data) == 0)
            {
                ngx_http_fluentai_metrics_kind[i] = k;
            }
        }
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fluentai_module);

    mcf->metrics_var = ngx_http_get_variable_index(cf,
                                        &ngx_http_fluentai_metrics_var_name);
    if (mcf->metrics_var == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fluentai_metrics_mark;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fluentai_metrics_log;

    return NGX_OK;
}


/* $fluentai_endpoint: empty until an endpoint location is entered */

static ngx_int_t
ngx_http_fluentai_metrics_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;

    return NGX_OK;
}

/* rewrite phase: remember the endpoint for the log phase */

static ngx_int_t
ngx_http_fluentai_metrics_mark(ngx_http_request_t *r)
{
    ngx_http_variable_value_t      *v;
    ngx_http_fluentai_loc_conf_t   *lcf;
    ngx_http_fluentai_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);

    if (lcf->endpoint == NULL) {
        return NGX_DECLINED;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_module);
    v = &r->variables[mcf->metrics_var];

    v->data = lcf->endpoint->name.data;
    v->len = lcf->endpoint->name.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_fluentai_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                      ep, status;
    ngx_http_variable_value_t      *v;
    ngx_http_fluentai_main_conf_t  *mcf;

    if (ngx_http_fluentai_metrics_shm == NULL) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_module);
    v = &r->variables[mcf->metrics_var];

    if (!v->valid || v->not_found) {
        return NGX_OK;
    }

    for (ep = 0; ep < NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS; ep++) {
        if (ngx_http_fluentai_metrics_eps[ep].data == v->data) {
            break;
        }
    }

    if (ep == NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS) {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    (void) ngx_atomic_fetch_add(&ngx_http_fluentai_metrics_shm->requests[ep]
                            [ngx_http_fluentai_metrics_status(status)], 1);

    /* r->method: an error_page redirect turns it into GET */

    if (r->request_line.len > 5
        && ngx_strncmp(r->request_line.data, "POST ", 5) == 0)
    {
        ngx_http_fluentai_metrics_outcome(r, ep, status);
    }

    return NGX_OK;
}


/*
 * The outcome series of an endpoint: its first counter is success, then
 * (where it has them) the endpoint's own codes, then invalid_request,
 * throttled, unavailable, error.
 */

static void
ngx_http_fluentai_metrics_outcome(ngx_http_request_t *r, ngx_uint_t ep,
    ngx_uint_t status)
{
    ngx_str_t                 code;
    ngx_uint_t                m;
    ngx_http_fluentai_ctx_t  *ctx;

    ngx_str_null(&code);

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    if (ctx) {
        code = ctx->error_code;
    }

#define ngx_http_fluentai_code_is(s)                                          \
    (code.len == sizeof(s) - 1 && ngx_strncmp(code.data, s, code.len) == 0)

    switch (ngx_http_fluentai_metrics_kind[ep]) {

    case NGX_HTTP_FLUENTAI_KIND_LOGIN:
        m = ngx_http_fluentai_code_is("invalid_credentials")
            ? NGX_HTTP_FLUENTAI_M_LOGIN_INVALID_CREDENTIALS
            : ngx_http_fluentai_metrics_class(status,
                                          NGX_HTTP_FLUENTAI_M_LOGIN_SUCCESS);
        break;

    case NGX_HTTP_FLUENTAI_KIND_REGISTER:
        m = ngx_http_fluentai_code_is("email_exists")
            ? NGX_HTTP_FLUENTAI_M_REGISTER_EMAIL_EXISTS
            : ngx_http_fluentai_metrics_class(status,
                                        NGX_HTTP_FLUENTAI_M_REGISTER_CREATED);
        break;

    case NGX_HTTP_FLUENTAI_KIND_REFRESH:
        if (ngx_http_fluentai_code_is("refresh_token_reused")) {
            m = NGX_HTTP_FLUENTAI_M_REFRESH_REUSED;
            ngx_http_fluentai_metrics_count(
                                    NGX_HTTP_FLUENTAI_M_REVOKED_REUSED, 1);

        } else if (status == NGX_HTTP_UNAUTHORIZED) {
            m = NGX_HTTP_FLUENTAI_M_REFRESH_INVALID;

        } else if (status == NGX_HTTP_OK && ctx && ctx->reissued) {
            m = NGX_HTTP_FLUENTAI_M_REFRESH_REISSUED;

        } else {
            /* "invalid" is at invalid_request's place */
            m = ngx_http_fluentai_metrics_class(status,
                                         NGX_HTTP_FLUENTAI_M_REFRESH_ROTATED);
        }

        break;

    case NGX_HTTP_FLUENTAI_KIND_CHANGE_PASSWORD:
        if (status == NGX_HTTP_OK) {
            m = NGX_HTTP_FLUENTAI_M_PASSWORD_CHANGED;

        } else if (ngx_http_fluentai_code_is("current_password_incorrect")) {
            m = NGX_HTTP_FLUENTAI_M_PASSWORD_INCORRECT;

        } else {
            return;
        }

        break;

    default:
        return;
    }

#undef ngx_http_fluentai_code_is

    ngx_http_fluentai_metrics_count(m, 1);
}


/* the index of a status in the requests array */

static ngx_uint_t
ngx_http_fluentai_metrics_status(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_FLUENTAI_METRICS_OTHER; i++) {
        if (ngx_http_fluentai_metrics_statuses[i] == status) {
            return i;
        }
    }

    return NGX_HTTP_FLUENTAI_METRICS_OTHER;
}


/*
 * The outcome counter of a status, counting from the endpoint's first
 * (success) counter: success, (own code), invalid_request, throttled,
 * unavailable, error; the own code's place is the callers' business.
 */

static ngx_uint_t
ngx_http_fluentai_metrics_class(ngx_uint_t status, ngx_uint_t first)
{
    switch (status) {

    case NGX_HTTP_OK:
        return first;

    case NGX_HTTP_BAD_REQUEST:
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
    case NGX_HTTP_FLUENTAI_UNPROCESSABLE:
        return first + 2;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return first + 3;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return first + 4;

    default:
        return first + 5;
    }
}
