
/*
 * "fluentai_error_page": nginx's own errors (a rate limit, a body over
 * client_max_body_size, an unknown path, a failed upstream, a request line
 * or header too large) in the contract's error shape.  The location that
 * error_page sends them to answers the original status through the same
 * send_error as the endpoints, so with the same CORS headers and
 * Cache-Control: no-store; a 429 also gets Retry-After.
 */


#include "ngx_http_fluentai.h"


#define NGX_HTTP_FLUENTAI_HEADER_TOO_LARGE  431


typedef struct {
    ngx_uint_t                  status;     /* the error nginx raised */
    ngx_uint_t                  answer;     /* the status answered */
    const char                 *code;
} ngx_http_fluentai_error_map_t;


static ngx_int_t ngx_http_fluentai_error_page_handler(ngx_http_request_t *r);
static ngx_http_fluentai_error_map_t *ngx_http_fluentai_error_map(
    ngx_uint_t status);


/*
 * 494 is nginx's own code for a request header (or cookie) over
 * large_client_header_buffers; "error_page 494" passes it on as 400 unless
 * told otherwise ("error_page 494 =431"), and it is answered as 431.
 */

static ngx_http_fluentai_error_map_t  ngx_http_fluentai_error_maps[] = {
    { NGX_HTTP_BAD_REQUEST, NGX_HTTP_BAD_REQUEST, "bad_request" },
    { NGX_HTTP_FORBIDDEN, NGX_HTTP_FORBIDDEN, "forbidden" },
    { NGX_HTTP_NOT_FOUND, NGX_HTTP_NOT_FOUND, "not_found" },
    { NGX_HTTP_NOT_ALLOWED, NGX_HTTP_NOT_ALLOWED, "method_not_allowed" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
      "payload_too_large" },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, NGX_HTTP_REQUEST_URI_TOO_LARGE,
      "uri_too_long" },
    { NGX_HTTP_TOO_MANY_REQUESTS, NGX_HTTP_TOO_MANY_REQUESTS,
      "rate_limited" },
    { NGX_HTTP_FLUENTAI_HEADER_TOO_LARGE, NGX_HTTP_FLUENTAI_HEADER_TOO_LARGE,
      "request_header_too_large" },
    { NGX_HTTP_REQUEST_HEADER_TOO_LARGE, NGX_HTTP_FLUENTAI_HEADER_TOO_LARGE,
      "request_header_too_large" },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_INTERNAL_SERVER_ERROR,
      "internal_error" },
    { NGX_HTTP_BAD_GATEWAY, NGX_HTTP_BAD_GATEWAY, "service_unavailable" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, NGX_HTTP_SERVICE_UNAVAILABLE,
      "service_unavailable" },
    { NGX_HTTP_GATEWAY_TIME_OUT, NGX_HTTP_GATEWAY_TIME_OUT,
      "service_unavailable" },
    { 0, 0, NULL }
};


/* fluentai_error_page [retry_after=time] */

char *
ngx_http_fluentai_error_page(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_loc_conf_t *lcf = conf;

    time_t                     sec;
    ngx_str_t                 *value, s;
    ngx_http_core_loc_conf_t  *clcf;

    if (lcf->error_page) {
        return "is duplicate";
    }

    if (lcf->endpoint) {
        return "cannot be used with \"fluentai_endpoint\"";
    }

    value = cf->args->elts;
    sec = 1;

    if (cf->args->nelts == 2) {
        if (ngx_strncmp(value[1].data, "retry_after=", 12) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" (expected "
                               "retry_after=time)", &value[1]);
            return NGX_CONF_ERROR;
        }

        s.data = value[1].data + 12;
        s.len = value[1].len - 12;

        sec = ngx_parse_time(&s, 1);
        if (sec == (time_t) NGX_ERROR || sec < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid retry_after \"%V\" (at least 1s)",
                               &s);
            return NGX_CONF_ERROR;
        }
    }

    lcf->retry_after.data = ngx_pnalloc(cf->pool, NGX_TIME_T_LEN);
    if (lcf->retry_after.data == NULL) {
        return NGX_CONF_ERROR;
    }

    lcf->retry_after.len = ngx_sprintf(lcf->retry_after.data, "%T", sec)
                           - lcf->retry_after.data;
    lcf->error_page = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fluentai_error_page_handler;

    return NGX_CONF_OK;
}


static ngx_http_fluentai_error_map_t *
ngx_http_fluentai_error_map(ngx_uint_t status)
{
    ngx_http_fluentai_error_map_t  *m;

    for (m = ngx_http_fluentai_error_maps; m->code; m++) {
        if (m->status == status) {
            return m;
        }
    }

    return NULL;
}


/*
 * r->err_status is the error that error_page caught (or its "=code").
 * Without one (an "error_page ... = @location" drops it, or a request
 * that was not an error) there is nothing to report: 500, and a log line
 * for the operator.
 */

static ngx_int_t
ngx_http_fluentai_error_page_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_uint_t                      status;
    const char                     *code;
    ngx_http_fluentai_loc_conf_t   *lcf;
    ngx_http_fluentai_error_map_t  *m;

    /*
     * nginx leaves an error's unread body to the error page: read away,
     * or it would be taken for the next request on the connection
     */

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);

    status = r->err_status;

    if (status < NGX_HTTP_BAD_REQUEST) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fluentai_error_page without an error status %ui "
                      "(\"error_page ... = @location\" drops it: "
                      "leave out the \"=\")", status);

        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m = ngx_http_fluentai_error_map(status);

    if (m) {
        status = m->answer;
        code = m->code;

    } else {
        code = (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) ? "internal_error"
                                                          : "http_error";
    }

    /* the status answered is ours: nginx would send err_status instead */

    r->err_status = 0;

    if (status == NGX_HTTP_FLUENTAI_HEADER_TOO_LARGE) {
        ngx_str_set(&r->headers_out.status_line,
                    "431 Request Header Fields Too Large");
    }

    if (status == NGX_HTTP_TOO_MANY_REQUESTS
        && ngx_http_fluentai_header(r, "Retry-After", lcf->retry_after.data,
                                    lcf->retry_after.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* answered and finalized by fail(), as an endpoint's error */

    r->main->count++;
    ngx_http_fluentai_fail(r, status, code, NULL);

    return NGX_DONE;
}
