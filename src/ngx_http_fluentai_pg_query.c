
/*
 * The database layer, one statement on a connection: sent with
 * PQsendQueryPrepared or PQsendQueryParams and flushed with PQflush, read
 * with PQconsumeInput and taken with PQgetResult only while PQisBusy is
 * false.  A broken connection or a timeout closes the connection.
 */


#include "ngx_http_fluentai_pg_int.h"


static void ngx_http_fluentai_pg_complete(ngx_http_fluentai_pg_conn_t *conn);


void
ngx_http_fluentai_pg_run(ngx_http_fluentai_pg_conn_t *conn,
    ngx_http_fluentai_pg_req_t *pr)
{
    int                         ok;
    ngx_http_fluentai_sql_t    *sql;
    ngx_http_fluentai_query_t  *q;

    if (conn->in_idle) {
        ngx_queue_remove(&conn->idle);
        conn->in_idle = 0;
        ngx_reusable_connection(conn->c, 0);
    }

    conn->state = NGX_HTTP_FLUENTAI_PG_BUSY;
    conn->req = pr;
    pr->conn = conn;

    if (pr->lookup) {
        conn->lookup = pr->lookup;
        conn->pool->running[pr->lookup - 1]++;
    }

    /* a running query keeps a shutting down worker alive */
    conn->timer.cancelable = 0;

    q = pr->query;
    sql = &ngx_http_fluentai_sql[q->sql];
    pr->sent = ngx_http_fluentai_pg_usec();

    /* a lookup that could have been coalesced goes out alone */

    if (sql->keys && conn->pool->conf->batched) {
        conn->pool->conf->batched(q->sql, 1);
    }

    if (conn->pool->conf->prepare) {
        ok = PQsendQueryPrepared(conn->pg, sql->name, q->nparams,
                                 q->values, q->lengths, q->formats, 0);

    } else {
        ok = PQsendQueryParams(conn->pg, sql->text, q->nparams, NULL,
                               q->values, q->lengths, q->formats, 0);
    }

    if (!ok) {
        ngx_http_fluentai_pg_error(conn, "send");
        return;
    }

    ngx_add_timer(&conn->timer, conn->pool->conf->timeout);

    if (ngx_http_fluentai_pg_flush(conn) != NGX_OK) {
        ngx_http_fluentai_pg_error(conn, "send");
    }
}


void
ngx_http_fluentai_pg_io(ngx_http_fluentai_pg_conn_t *conn)
{
    PGresult  *res;

    if (!PQconsumeInput(conn->pg)) {
        ngx_http_fluentai_pg_error(conn, "query");
        return;
    }

    if (conn->writing && ngx_http_fluentai_pg_flush(conn) != NGX_OK) {
        ngx_http_fluentai_pg_error(conn, "query");
        return;
    }

    while (!PQisBusy(conn->pg)) {
        res = PQgetResult(conn->pg);

        if (res == NULL) {
            ngx_http_fluentai_pg_complete(conn);
            return;
        }

        if (conn->result == NULL) {
            conn->result = res;

        } else {
            PQclear(res);
        }
    }
}


static void
ngx_http_fluentai_pg_complete(ngx_http_fluentai_pg_conn_t *conn)
{
    PGresult                     *res;
    ngx_http_fluentai_pg_req_t   *pr;
    ngx_http_fluentai_pg_pool_t  *pool;

    if (PQstatus(conn->pg) == CONNECTION_BAD) {
        ngx_http_fluentai_pg_error(conn, "query");
        return;
    }

    res = conn->result;
    conn->result = NULL;

    if (conn->state == NGX_HTTP_FLUENTAI_PG_PREPARING) {

        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
            ngx_http_fluentai_pg_log(conn->pool, "prepare",
                                     res ? PQresultErrorMessage(res)
                                         : "no result");
            PQclear(res);
            ngx_http_fluentai_pg_connect_failed(conn, "prepare failed");
            return;
        }

        PQclear(res);

        if (conn->configured) {
            conn->prepared++;

        } else {
            conn->configured = 1;
        }

        ngx_http_fluentai_pg_prepare_next(conn);
        return;
    }

    pool = conn->pool;
    pr = conn->req;
    conn->req = NULL;
    conn->used++;

    if (pr) {
        pr->conn = NULL;
        pr->usec = ngx_http_fluentai_pg_usec() - pr->sent;
    }

    /* back to the pool first: the request may run its next query on it */

    ngx_http_fluentai_pg_release(conn);
    ngx_http_fluentai_pg_park(conn);

    if (pr) {
        ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_OK, res);
    }

    PQclear(res);

    ngx_http_fluentai_pg_dispatch(pool);
}



/*
 * The connection failed while in use: close it; a read-only query on a
 * connection that had served before is retried once on another one, any
 * other request gets 503.
 */

void
ngx_http_fluentai_pg_error(ngx_http_fluentai_pg_conn_t *conn,
    const char *what)
{
    ngx_uint_t                    retry;
    ngx_http_fluentai_pg_req_t   *pr;
    ngx_http_fluentai_pg_pool_t  *pool;

    if (conn->state == NGX_HTTP_FLUENTAI_PG_PREPARING) {
        ngx_http_fluentai_pg_connect_failed(conn, PQerrorMessage(conn->pg));
        return;
    }

    pool = conn->pool;
    pr = conn->req;

    ngx_http_fluentai_pg_log(pool, what, PQerrorMessage(conn->pg));

    retry = pr
            && !pr->retried
            && conn->used > 0
            && ngx_http_fluentai_sql[pr->query->sql].readonly;

    conn->req = NULL;
    ngx_http_fluentai_pg_close(conn);

    if (pr == NULL) {
        ngx_http_fluentai_pg_dispatch(pool);
        return;
    }

    pr->conn = NULL;

    if (retry) {
        pr->retried = 1;
        ngx_http_fluentai_pg_submit(pool, pr);
        return;
    }

    ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_UNAVAILABLE,

                                NULL);
}


void
ngx_http_fluentai_pg_timeout(ngx_event_t *ev)
{
    ngx_http_fluentai_pg_req_t   *pr;
    ngx_http_fluentai_pg_conn_t  *conn;
    ngx_http_fluentai_pg_pool_t  *pool;

    conn = ev->data;
    pool = conn->pool;

    if (conn->state == NGX_HTTP_FLUENTAI_PG_CONNECTING
        || conn->state == NGX_HTTP_FLUENTAI_PG_PREPARING)
    {
        ngx_http_fluentai_pg_connect_failed(conn, "timed out");
        return;
    }

    /* libpq 15 has no non-blocking cancel: drop the connection */

    ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                  "fluentai: database query timed out after %M ms, "
                  "closing the connection", pool->conf->timeout);

    pr = conn->req;
    conn->req = NULL;
    ngx_http_fluentai_pg_close(conn);

    if (pr) {
        pr->conn = NULL;
        ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_UNAVAILABLE,
                                    NULL);
    }

    ngx_http_fluentai_pg_dispatch(pool);
}
