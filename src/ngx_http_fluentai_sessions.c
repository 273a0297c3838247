
/*
 * The caller's sessions: GET /auth/sessions lists the user's active
 * sessions, newest first; DELETE /auth/sessions/{id} revokes one of them
 * (the caller's own too).  The bearer token's session is the caller's and
 * must itself be active (401 invalid_token otherwise); an id that is not
 * one of the user's active sessions, whoever's it is, is 404
 * session_not_found.  One statement each.
 */


#include "ngx_http_fluentai.h"


static void ngx_http_fluentai_sessions_done(ngx_http_request_t *r,
    PGresult *res);
static void ngx_http_fluentai_session_deleted(ngx_http_request_t *r,
    PGresult *res);
static ngx_int_t ngx_http_fluentai_caller_or_fail(ngx_http_request_t *r,
    PGresult *res);


void
ngx_http_fluentai_sessions(ngx_http_request_t *r)
{
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_bearer_or_fail(r, ctx) != NGX_OK) {
        return;
    }

    ctx->query.sql = NGX_HTTP_FLUENTAI_SQL_SESSIONS;
    ngx_http_fluentai_param_session(r, ctx);
    ngx_http_fluentai_param_max(r, &ctx->query, 2);

    ngx_http_fluentai_query(r, ngx_http_fluentai_sessions_done);
}


static void
ngx_http_fluentai_sessions_done(ngx_http_request_t *r, PGresult *res)
{
    json_t        *list;
    json_error_t   err;

    if (ngx_http_fluentai_caller_or_fail(r, res) != NGX_OK) {
        return;
    }

    list = json_loadb(PQgetvalue(res, 0, 1), PQgetlength(res, 0, 1), 0,
                      &err);

    if (!json_is_array(list)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fluentai: statement \"fluentai_sessions\" returned "
                      "no JSON array");
        json_decref(list);
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                             json_pack("{s:o}", "sessions", list));
}


/* DELETE /auth/sessions/{id}: the id is the last segment of the path */

void
ngx_http_fluentai_session_delete(ngx_http_request_t *r)
{
    u_char                   *p, *end;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_bearer_or_fail(r, ctx) != NGX_OK) {
        return;
    }

    end = r->uri.data + r->uri.len;

    for (p = end; p > r->uri.data && p[-1] != '/'; p--) {
        /* void */
    }

    if (!ngx_http_fluentai_uuid_valid(p, end - p)) {
        ngx_http_fluentai_fail(r, NGX_HTTP_NOT_FOUND, "session_not_found",
                               NULL);
        return;
    }

    ctx->query.sql = NGX_HTTP_FLUENTAI_SQL_SESSION_DELETE;
    ngx_http_fluentai_param_session(r, ctx);
    ngx_http_fluentai_param(r->pool, &ctx->query, 2, (char *) p, end - p);
    ngx_http_fluentai_param_max(r, &ctx->query, 3);

    ngx_http_fluentai_query(r, ngx_http_fluentai_session_deleted);
}


static void
ngx_http_fluentai_session_deleted(ngx_http_request_t *r, PGresult *res)
{
    if (ngx_http_fluentai_caller_or_fail(r, res) != NGX_OK) {
        return;
    }

    if (ngx_strcmp(PQgetvalue(res, 0, 1), "1") != 0) {
        ngx_http_fluentai_fail(r, NGX_HTTP_NOT_FOUND, "session_not_found",
                               NULL);
        return;
    }

    ngx_http_fluentai_metrics_count(NGX_HTTP_FLUENTAI_M_REVOKED_BY_USER, 1);

    ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                             json_pack("{s:s, s:b}",
                                       "message", "Session revoked",
                                       "success", 1));
}


/*
 * the first column says if the caller's session is active; NGX_DONE: no,
 * or a bad result, and answered
 */

static ngx_int_t
ngx_http_fluentai_caller_or_fail(ngx_http_request_t *r, PGresult *res)
{
    if (ngx_http_fluentai_rows_or_fail(r, res, 1) != 1) {
        return NGX_DONE;
    }

    if (ngx_strcmp(PQgetvalue(res, 0, 0), "1") != 0) {
        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid_token",
                               NULL);
        return NGX_DONE;
    }

    return NGX_OK;
}
