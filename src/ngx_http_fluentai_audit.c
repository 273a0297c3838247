
/*
 * The audit trail's request side (sql/migrations/030): the client address
 * and user agent that the statements write into audit_log, and the one
 * statement of a failed login.  Every other event is written by the
 * statement that does the work (src/ngx_http_fluentai_sql.c).
 */


#include "ngx_http_fluentai.h"


#define NGX_HTTP_FLUENTAI_AUDIT_UA_MAX  256


static void ngx_http_fluentai_audit_login_failed_done(ngx_http_request_t *r,
    PGresult *res);


/*
 * Parameters i (ip) and i + 1 (user agent).  The address is the client's
 * as nginx sees it (after realip), NULL for a unix socket; the user agent
 * is cut to 256 bytes and everything but printable ASCII becomes '?', so
 * that no header can make the statement fail (invalid UTF-8) or smuggle
 * control characters into the trail.
 */

void
ngx_http_fluentai_audit_params(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i)
{
    size_t            len;
    u_char           *p, *ua, addr[NGX_SOCKADDR_STRLEN];
    ngx_str_t        *v;
    ngx_connection_t *c;

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
    len = ngx_min(v->len, NGX_HTTP_FLUENTAI_AUDIT_UA_MAX);

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


/*
 * A login that failed after the lookup: the event is written, then the
 * request answers 401 "invalid_credentials" whatever the write's fate (a
 * failed write is logged), after fluentai_login_failure_delay (brute.c).
 * reason: unknown_email, invalid_password, inactive, credentials_changed.
 */

void
ngx_http_fluentai_audit_login_failed(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *reason)
{
    ngx_http_fluentai_query_t  *q;

    q = &ctx->query;
    ngx_memzero(q, sizeof(ngx_http_fluentai_query_t));
    q->sql = NGX_HTTP_FLUENTAI_SQL_LOGIN_FAILED;

    ngx_http_fluentai_param(r->pool, q, 0,
                            ctx->user ? ctx->claims.sub : NULL,
                            ngx_strlen(ctx->claims.sub));
    ngx_http_fluentai_param(r->pool, q, 1, (char *) ctx->cred.email.data,
                            ctx->cred.email.len);
    ngx_http_fluentai_param(r->pool, q, 2, reason, ngx_strlen(reason));
    ngx_http_fluentai_audit_params(r, q, 3);

    /* a database that fails now still gets the 401 */
    ctx->query_failures = 1;

    ngx_http_fluentai_query(r, ngx_http_fluentai_audit_login_failed_done);
}


static void
ngx_http_fluentai_audit_login_failed_done(ngx_http_request_t *r,
    PGresult *res)
{
    if (res && PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fluentai: audit of a failed login not written: %s",
                      PQresultErrorMessage(res));
    }

    ngx_http_fluentai_fail_login(r);
}
