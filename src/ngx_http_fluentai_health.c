
/*
 * GET /health: the database through the pool, with "SELECT 1".  A success
 * is remembered for one second, so a storm of health checks costs one
 * query per second per worker; a failure is not remembered.
 */


#include "ngx_http_fluentai.h"


#define NGX_HTTP_FLUENTAI_HEALTH_CACHE  1000


static void ngx_http_fluentai_health_done(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_health_answer(ngx_http_request_t *r,
    ngx_uint_t ok);


static ngx_msec_t  ngx_http_fluentai_healthy_at;
static ngx_uint_t  ngx_http_fluentai_healthy;


void
ngx_http_fluentai_health(ngx_http_request_t *r)
{
    ngx_http_fluentai_ctx_t  *ctx;

    if (ngx_http_fluentai_healthy
        && ngx_current_msec - ngx_http_fluentai_healthy_at
           < NGX_HTTP_FLUENTAI_HEALTH_CACHE)
    {
        ngx_http_fluentai_health_answer(r, 1);
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    ctx->query.sql = NGX_HTTP_FLUENTAI_SQL_HEALTH;
    ctx->query_failures = 1;

    ngx_http_fluentai_query(r, ngx_http_fluentai_health_done);
}


static void
ngx_http_fluentai_health_done(ngx_http_request_t *r, PGresult *res)
{
    ngx_http_fluentai_healthy = (res
                                 && PQresultStatus(res) == PGRES_TUPLES_OK);

    if (ngx_http_fluentai_healthy) {
        ngx_http_fluentai_healthy_at = ngx_current_msec;
    }

    ngx_http_fluentai_health_answer(r, ngx_http_fluentai_healthy);
}


static void
ngx_http_fluentai_health_answer(ngx_http_request_t *r, ngx_uint_t ok)
{
    ngx_http_fluentai_finish(r,
                             ok ? NGX_HTTP_OK : NGX_HTTP_SERVICE_UNAVAILABLE,
                             json_pack("{s:s, s:s}",
                                       "status",
                                       ok ? "healthy" : "unhealthy",
                                       "database",
                                       ok ? "connected" : "unavailable"));
}
