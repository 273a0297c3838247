
/*
 * CORS: origins listed in "fluentai_cors_origins" get the CORS headers on
 * every module response; preflight OPTIONS requests are answered here.
 */


#include "ngx_http_fluentai.h"


#define NGX_HTTP_FLUENTAI_CORS_MAX_AGE  "600"


static ngx_table_elt_t *ngx_http_fluentai_cors_origin(ngx_http_request_t *r);
static ngx_int_t ngx_http_fluentai_cors_allow(ngx_http_request_t *r,
    ngx_table_elt_t *origin);


char *
ngx_http_fluentai_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_str_t   *value, *origin;
    ngx_uint_t   i;

    if (mcf->cors_origins) {
        return "is duplicate";
    }

    mcf->cors_origins = ngx_array_create(cf->pool, cf->args->nelts,
                                         sizeof(ngx_str_t));
    if (mcf->cors_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 1 && value[i].data[0] == '*') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"*\" cannot be used with credentials; "
                               "list the origins");
            return NGX_CONF_ERROR;
        }

        if ((ngx_strncmp(value[i].data, "http://", 7) != 0
             && ngx_strncmp(value[i].data, "https://", 8) != 0)
            || value[i].data[value[i].len - 1] == '/')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\" (expected "
                               "scheme://host[:port])", &value[i]);
            return NGX_CONF_ERROR;
        }

        origin = ngx_array_push(mcf->cors_origins);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = value[i];
    }

    return NGX_CONF_OK;
}


/* the request's Origin header if it is an allowed origin, else NULL */

static ngx_table_elt_t *
ngx_http_fluentai_cors_origin(ngx_http_request_t *r)
{
    ngx_str_t                      *origin;
    ngx_uint_t                      i, j;
    ngx_list_part_t                *part;
    ngx_table_elt_t                *h;
    ngx_http_fluentai_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_module);

    if (mcf->cors_origins == NULL) {
        return NULL;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Origin") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Origin", 6) != 0)
        {
            continue;
        }

        origin = mcf->cors_origins->elts;

        for (j = 0; j < mcf->cors_origins->nelts; j++) {
            if (origin[j].len == h[i].value.len
                && ngx_strncmp(origin[j].data, h[i].value.data,
                               h[i].value.len) == 0)
            {
                return &h[i];
            }
        }

        return NULL;
    }
}


ngx_int_t
ngx_http_fluentai_cors_headers(ngx_http_request_t *r)
{
    return ngx_http_fluentai_cors_allow(r, ngx_http_fluentai_cors_origin(r));
}


/* Vary, and for an allowed origin (or NULL) the two CORS headers */

static ngx_int_t
ngx_http_fluentai_cors_allow(ngx_http_request_t *r, ngx_table_elt_t *origin)
{
    if (ngx_http_fluentai_header(r, "Vary", (u_char *) "Origin", 6)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (origin == NULL) {
        return NGX_OK;
    }

    if (ngx_http_fluentai_header(r, "Access-Control-Allow-Origin",
                                   origin->value.data, origin->value.len)
        != NGX_OK
        || ngx_http_fluentai_header(r, "Access-Control-Allow-Credentials",
                                      (u_char *) "true", 4)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* 204 for OPTIONS; the Origin header is looked up once */

ngx_int_t
ngx_http_fluentai_cors_preflight(ngx_http_request_t *r, ngx_str_t *allow)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *origin;

    origin = ngx_http_fluentai_cors_origin(r);

    if (ngx_http_fluentai_cors_allow(r, origin) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (origin) {
        if (ngx_http_fluentai_header(r, "Access-Control-Allow-Methods",
                                       allow->data, allow->len)
            != NGX_OK
            || ngx_http_fluentai_header(r, "Access-Control-Allow-Headers",
                                   (u_char *) "Authorization, Content-Type",
                                   sizeof("Authorization, Content-Type") - 1)
               != NGX_OK
            || ngx_http_fluentai_header(r, "Access-Control-Max-Age",
                               (u_char *) NGX_HTTP_FLUENTAI_CORS_MAX_AGE,
                               sizeof(NGX_HTTP_FLUENTAI_CORS_MAX_AGE) - 1)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ngx_http_fluentai_header(r, "Allow", allow->data, allow->len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}
