
/*
 * The HTTP side of the database: a request's query goes to the database
 * layer (pg_pool.c) with the request as its opaque pointer; the error
 * kind that comes back is answered here (503 database_unavailable or
 * overloaded, 500 internal_error), a result goes to the request's
 * continuation (a *_done function), and the request is resumed.
 */


#include "ngx_http_fluentai.h"


static void ngx_http_fluentai_query_done(void *data, ngx_int_t rc,
    PGresult *res);


/*
 * Runs ctx->query; done(r, res) follows with the result.  If the database
 * cannot be used the request is answered here and done is not called,
 * unless ctx->query_failures is set: then done(r, NULL) answers.
 */

void
ngx_http_fluentai_query(ngx_http_request_t *r, ngx_http_fluentai_done_pt done)
{
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    ctx->done = done;
    ctx->query_sync = 1;

    ngx_http_fluentai_watch_client(r);

    /* the request stays alive even if it is answered before we return */
    r->main->count++;

    ngx_http_fluentai_pg_query(&ctx->pg, &ctx->query, r->connection->log,
                               ngx_http_fluentai_query_done, r);

    ctx->query_sync = 0;

    ngx_http_finalize_request(r, NGX_DONE);
}


static void
ngx_http_fluentai_query_done(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_request_t *r = data;

    ngx_uint_t                sync;
    ngx_connection_t         *c;
    ngx_http_fluentai_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    sync = ctx->query_sync;

    switch (rc) {

    case NGX_HTTP_FLUENTAI_PG_OK:
        ngx_http_fluentai_metrics_statement_time(ctx->query.sql,
                                                 ctx->pg.usec);
        ctx->done(r, res);
        break;

    case NGX_HTTP_FLUENTAI_PG_BAD_QUERY:
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        break;

    default:
        if (ctx->query_failures) {
            ctx->done(r, NULL);

        } else if (rc == NGX_HTTP_FLUENTAI_PG_OVERLOADED) {
            ngx_http_fluentai_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "overloaded", NULL);

        } else {
            ngx_http_fluentai_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "database_unavailable", NULL);
        }
    }

    if (!sync) {
        ngx_http_run_posted_requests(c);
    }
}


/*
 * The number of rows of a successful result, or NGX_ERROR (logged,
 * without parameters) for a failed statement or a result whose columns
 * are not the statement's, or (exactly_one) a row count other than 1.
 * Does not answer: the caller does.
 */

ngx_int_t
ngx_http_fluentai_rows(ngx_http_request_t *r, PGresult *res,
    ngx_uint_t exactly_one)
{
    ngx_int_t                 n;
    ExecStatusType            st;
    ngx_http_fluentai_sql_t  *sql;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    sql = &ngx_http_fluentai_sql[ctx->query.sql];

    st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK && sql->ncolumns == 0 && !exactly_one) {
        return 0;
    }

    if (st != PGRES_TUPLES_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fluentai: statement \"%s\" failed: %s",
                      sql->name, PQresultErrorMessage(res));
        return NGX_ERROR;
    }

    if (PQnfields(res) != sql->ncolumns) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fluentai: statement \"%s\" returned %d columns, "
                      "expected %d", sql->name, PQnfields(res),
                      sql->ncolumns);
        return NGX_ERROR;
    }

    n = PQntuples(res);

    if (exactly_one && n != 1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fluentai: statement \"%s\" returned %i rows",
                      sql->name, n);
        return NGX_ERROR;
    }

    return n;
}


/*
 * The same; a failure is answered here: 503 for a statement the server's
 * statement_timeout cancelled (57014: set below the module's timeout, see
 * pg_conn.c; it was rolled back), else 500.
 */

ngx_int_t
ngx_http_fluentai_rows_or_fail(ngx_http_request_t *r, PGresult *res,
    ngx_uint_t exactly_one)
{
    ngx_int_t  n;

    n = ngx_http_fluentai_rows(r, res, exactly_one);

    if (n == NGX_ERROR && ngx_http_fluentai_sqlstate(res, "57014")) {
        ngx_http_fluentai_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "database_unavailable", NULL);

    } else if (n == NGX_ERROR) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
    }

    return n;
}


ngx_int_t
ngx_http_fluentai_sqlstate(PGresult *res, const char *state)
{
    char  *s;

    s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return (s && ngx_strcmp(s, state) == 0) ? 1 : 0;
}


/* $1 session id, $2 user id, from the verified access token */

void
ngx_http_fluentai_param_session(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    ngx_http_fluentai_param(r->pool, &ctx->query, 0, ctx->claims.sid,
                            ngx_strlen(ctx->claims.sid));
    ngx_http_fluentai_param(r->pool, &ctx->query, 1, ctx->claims.sub,
                            ngx_strlen(ctx->claims.sub));
}


/* the maximum session age, fluentai_session_max_lifetime, in seconds */

void
ngx_http_fluentai_param_max(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i)
{
    ngx_http_fluentai_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_module);

    ngx_http_fluentai_param_int(r->pool, q, i, mcf->max_lifetime);
}
