
/*
 * The caller's sessions: GET /auth/sessions lists the user's active
 * sessions, newest first; DELETE /auth/sessions/{id} revokes one of them
 * (the caller's own too).  The bearer token's session is the caller's and
 * must itself be active (401 invalid_token otherwise); an id that is not
 * one of the user's active sessions, whoever's it is, is 404
 * session_not_found.  One statement each.
 */


#include "ngx_http_fluentai.h"


#define NGX_HTTP_FLUENTAI_UA_MAX  256


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

    ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                             json_pack("{s:s, s:b}",
                                       "message", "Session revoked",
                                       "success", 1));
}


/* the first column says if the caller's session is active; NGX_DONE: no,
 * or a bad result, and answered */

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


/*
 * Parameters i (ip) and i + 1 (user agent) of a statement that opens a
 * session.  The address is the client's as nginx sees it (after realip),
 * NULL for a unix socket; the user agent is cut to 256 bytes and
 * everything but printable ASCII becomes '?', so that no header can make
 * the statement fail (invalid UTF-8) or put control characters in a
 * client's session list.
 */

void
ngx_http_fluentai_client_params(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i)
{
    size_t             len;
    u_char            *p, *ua, addr[NGX_SOCKADDR_STRLEN];
    ngx_str_t         *v;
    ngx_connection_t  *c;

    c = r->connection;
    len = 0;

    switch (c->sockaddr->sa_family) {

    case AF_INET:
#if (NGX_HAVE_INET6)
    case AF_INET6:
#endif
        len = ngx_sock_ntop(c->sockaddr, c->socklen, addr, sizeof(addr), 0);
        break;
    }

    ngx_http_fluentai_param(r->pool, q, i, len ? (char *) addr : NULL, len);

    if (r->headers_in.user_agent == NULL) {
        ngx_http_fluentai_param(r->pool, q, i + 1, NULL, 0);
        return;
    }

    v = &r->headers_in.user_agent->value;
    len = ngx_min(v->len, NGX_HTTP_FLUENTAI_UA_MAX);

    ua = ngx_pnalloc(r->pool, len);
    if (ua == NULL) {
        q->failed = 1;
        return;
    }

    for (p = ua; p < ua + len; p++) {
        *p = v->data[p - ua];

        if (*p < 0x20 || *p > 0x7e) {
            *p = '?';
        }
    }

    ngx_http_fluentai_param(r->pool, q, i + 1, (char *) ua, len);
}
