
/*
 * A per-worker pool of PostgreSQL connections driven by the event loop.
 *
 * Nothing here blocks: connections are opened with PQconnectStart and
 * PQconnectPoll (no DNS: host names are resolved at configuration time),
 * queries are sent with PQsendQueryPrepared or PQsendQueryParams and
 * flushed with PQflush, results are read with PQconsumeInput and taken
 * with PQgetResult only while PQisBusy is false.  The sockets are
 * registered level-triggered, so no result can be stranded in the kernel.
 *
 * Connections are opened lazily, up to "size" per worker; a request that
 * finds none free waits in a bounded queue for at most the timeout.  When
 * a connection attempt fails, the pool is "down": requests fail at once
 * and at most one attempt is made per backoff period (50 ms doubling up to
 * 500 ms), so a restarted database is used again within a second.
 */


#include "ngx_http_fluentai.h"

#include <netdb.h>


#define NGX_HTTP_FLUENTAI_PG_CONNECTING  1
#define NGX_HTTP_FLUENTAI_PG_PREPARING   2
#define NGX_HTTP_FLUENTAI_PG_IDLE        3
#define NGX_HTTP_FLUENTAI_PG_BUSY        4

#define NGX_HTTP_FLUENTAI_PG_BACKOFF_MIN 50
#define NGX_HTTP_FLUENTAI_PG_BACKOFF_MAX 500


struct ngx_http_fluentai_pg_conn_s {
    ngx_queue_t                      all;
    ngx_queue_t                      idle;
    ngx_http_fluentai_pg_pool_t     *pool;
    PGconn                          *pg;
    ngx_connection_t                *c;
    ngx_http_fluentai_pg_req_t      *req;
    PGresult                        *result;
    ngx_event_t                      timer;
    ngx_uint_t                       state;
    ngx_uint_t                       prepared;
    ngx_uint_t                       used;
    unsigned                         writing:1;
    unsigned                         in_idle:1;
    unsigned                         configured:1;   /* the SET done */
};


struct ngx_http_fluentai_pg_pool_s {
    ngx_http_fluentai_main_conf_t   *mcf;
    ngx_log_t                       *log;
    ngx_queue_t                      all;
    ngx_queue_t                      idle;
    ngx_queue_t                      waiting;
    ngx_uint_t                       nconns;
    ngx_uint_t                       nwaiting;
    ngx_uint_t                       connecting;
    ngx_msec_t                       backoff;
    ngx_msec_t                       retry_at;
    time_t                           wait_logged;
    unsigned                         down:1;
};


static void ngx_http_fluentai_pg_submit(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr, ngx_uint_t sync);
static void ngx_http_fluentai_pg_grow(ngx_http_fluentai_pg_pool_t *pool);
static void ngx_http_fluentai_pg_dispatch(ngx_http_fluentai_pg_pool_t *pool);
static void ngx_http_fluentai_pg_run(ngx_http_fluentai_pg_conn_t *conn,
    ngx_http_fluentai_pg_req_t *pr);
static void ngx_http_fluentai_pg_connect(ngx_http_fluentai_pg_pool_t *pool);
static void ngx_http_fluentai_pg_connect_step(
    ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_connect_failed(
    ngx_http_fluentai_pg_conn_t *conn, const char *why);
static void ngx_http_fluentai_pg_prepare_next(
    ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_ready(ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_park(ngx_http_fluentai_pg_conn_t *conn);
static ngx_int_t ngx_http_fluentai_pg_attach(
    ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_detach(ngx_http_fluentai_pg_conn_t *conn);
static ngx_int_t ngx_http_fluentai_pg_want_write(
    ngx_http_fluentai_pg_conn_t *conn, ngx_uint_t on);
static ngx_int_t ngx_http_fluentai_pg_flush(ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_event(ngx_event_t *ev);
static void ngx_http_fluentai_pg_io(ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_complete(ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_idle_read(ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_error(ngx_http_fluentai_pg_conn_t *conn,
    const char *what);
static void ngx_http_fluentai_pg_timeout(ngx_event_t *ev);
static void ngx_http_fluentai_pg_wait_timeout(ngx_event_t *ev);
static void ngx_http_fluentai_pg_close(ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_finish(ngx_http_fluentai_pg_req_t *pr,
    PGresult *res, ngx_uint_t sync);
static void ngx_http_fluentai_pg_unavailable(ngx_http_fluentai_pg_req_t *pr,
    const char *code, ngx_uint_t sync);
static void ngx_http_fluentai_pg_log(ngx_http_fluentai_pg_pool_t *pool,
    const char *what, const char *msg);
static ngx_int_t ngx_http_fluentai_pg_resolve(ngx_conf_t *cf, char *host,
    char *addr);
static u_char *ngx_http_fluentai_pg_kv(u_char *p, const char *key,
    const char *val);


static ngx_http_fluentai_pg_pool_t  *ngx_http_fluentai_pg_pool;


ngx_int_t
ngx_http_fluentai_pg_init_worker(ngx_cycle_t *cycle)
{
    ngx_http_fluentai_pg_pool_t    *pool;
    ngx_http_fluentai_main_conf_t  *mcf;

    ngx_http_fluentai_pg_pool = NULL;

    if (ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module)
        == NULL)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_fluentai_module);

    if (mcf == NULL || mcf->conninfo.len == 0) {
        return NGX_OK;
    }

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_http_fluentai_pg_pool_t));
    if (pool == NULL) {
        return NGX_ERROR;
    }

    pool->mcf = mcf;
    pool->log = cycle->log;

    ngx_queue_init(&pool->all);
    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);

    ngx_http_fluentai_pg_pool = pool;

    return NGX_OK;
}


void
ngx_http_fluentai_pg_exit_worker(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_http_fluentai_pg_pool_t  *pool;

    pool = ngx_http_fluentai_pg_pool;

    if (pool == NULL) {
        return;
    }

    while (!ngx_queue_empty(&pool->all)) {
        q = ngx_queue_head(&pool->all);
        ngx_http_fluentai_pg_close(
            ngx_queue_data(q, ngx_http_fluentai_pg_conn_t, all));
    }

    ngx_http_fluentai_pg_pool = NULL;
}


/*
 * Runs query q for request r; done(r, res) is called exactly once, with
 * the result, or with NULL when the database could not be used (then
 * pr->status and pr->code say what to answer).  done may be called before
 * this function returns.
 */

void
ngx_http_fluentai_pg_query(ngx_http_request_t *r,
    ngx_http_fluentai_pg_req_t *pr, ngx_http_fluentai_query_t *q,
    ngx_http_fluentai_pg_done_pt done)
{
    pr->request = r;
    pr->query = q;
    pr->done = done;
    pr->conn = NULL;
    pr->retried = 0;
    pr->waiting = 0;

    if (q->failed) {
        pr->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        pr->code = "internal_error";
        ngx_http_fluentai_pg_finish(pr, NULL, 1);
        return;
    }

    if (ngx_http_fluentai_pg_pool == NULL) {
        ngx_http_fluentai_pg_unavailable(pr, "database_unavailable", 1);
        return;
    }

    ngx_http_fluentai_pg_submit(ngx_http_fluentai_pg_pool, pr, 1);
}


void
ngx_http_fluentai_pg_fail(ngx_http_request_t *r,
    ngx_http_fluentai_pg_req_t *pr)
{
    ngx_http_fluentai_fail(r, pr->status, pr->code);
}


/* the request is going away: leave the queue, orphan the connection */

void
ngx_http_fluentai_pg_cancel(ngx_http_fluentai_pg_req_t *pr)
{
    if (pr->waiting) {
        ngx_queue_remove(&pr->queue);
        ngx_http_fluentai_pg_pool->nwaiting--;
        pr->waiting = 0;
    }

    if (pr->timer.timer_set) {
        ngx_del_timer(&pr->timer);
    }

    if (pr->conn) {
        pr->conn->req = NULL;
        pr->conn = NULL;
    }
}


static void
ngx_http_fluentai_pg_submit(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr, ngx_uint_t sync)
{
    ngx_queue_t                  *q;
    ngx_http_fluentai_pg_conn_t  *conn;

    if (!ngx_queue_empty(&pool->idle)) {
        q = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(q, ngx_http_fluentai_pg_conn_t, idle);
        ngx_http_fluentai_pg_run(conn, pr);
        return;
    }

    if (pool->down && pool->connecting == 0
        && (ngx_msec_int_t) (pool->retry_at - ngx_current_msec) > 0)
    {
        ngx_http_fluentai_pg_unavailable(pr, "database_unavailable", sync);
        return;
    }

    if (pool->nwaiting >= pool->mcf->queue_size) {
        ngx_http_fluentai_pg_unavailable(pr, "overloaded", sync);
        return;
    }

    ngx_queue_insert_tail(&pool->waiting, &pr->queue);
    pool->nwaiting++;
    pr->waiting = 1;

    pr->timer.handler = ngx_http_fluentai_pg_wait_timeout;
    pr->timer.data = pr;
    pr->timer.log = pr->request->connection->log;
    ngx_add_timer(&pr->timer, pool->mcf->timeout);

    ngx_http_fluentai_pg_grow(pool);
}


static void
ngx_http_fluentai_pg_grow(ngx_http_fluentai_pg_pool_t *pool)
{
    if (pool->nconns >= pool->mcf->pool_size
        || pool->connecting >= pool->nwaiting)
    {
        return;
    }

    if (pool->down
        && (pool->connecting > 0
            || (ngx_msec_int_t) (pool->retry_at - ngx_current_msec) > 0))
    {
        return;
    }

    ngx_http_fluentai_pg_connect(pool);
}


/* hand idle connections to waiting requests */

static void
ngx_http_fluentai_pg_dispatch(ngx_http_fluentai_pg_pool_t *pool)
{
    ngx_queue_t                  *q;
    ngx_http_fluentai_pg_req_t   *pr;
    ngx_http_fluentai_pg_conn_t  *conn;

    while (!ngx_queue_empty(&pool->idle) && !ngx_queue_empty(&pool->waiting))
    {
        q = ngx_queue_head(&pool->waiting);
        pr = ngx_queue_data(q, ngx_http_fluentai_pg_req_t, queue);

        ngx_queue_remove(q);
        pool->nwaiting--;
        pr->waiting = 0;

        if (pr->timer.timer_set) {
            ngx_del_timer(&pr->timer);
        }

        q = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(q, ngx_http_fluentai_pg_conn_t, idle);

        ngx_http_fluentai_pg_run(conn, pr);
    }

    if (!ngx_queue_empty(&pool->waiting)) {
        /* a connection may have been closed: replace it */
        ngx_http_fluentai_pg_grow(pool);
        return;
    }

    if (ngx_exiting || ngx_terminate) {
        while (!ngx_queue_empty(&pool->idle)) {
            q = ngx_queue_head(&pool->idle);
            ngx_http_fluentai_pg_close(
                ngx_queue_data(q, ngx_http_fluentai_pg_conn_t, idle));
        }
    }
}


static void
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

    /* a running query keeps a shutting down worker alive */
    conn->timer.cancelable = 0;

    q = pr->query;
    sql = &ngx_http_fluentai_sql[q->sql];

    if (conn->pool->mcf->prepare) {
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

    ngx_add_timer(&conn->timer, conn->pool->mcf->timeout);

    if (ngx_http_fluentai_pg_flush(conn) != NGX_OK) {
        ngx_http_fluentai_pg_error(conn, "send");
    }
}


static void
ngx_http_fluentai_pg_connect(ngx_http_fluentai_pg_pool_t *pool)
{
    PGconn                       *pg;
    ngx_http_fluentai_pg_conn_t  *conn;

    pg = PQconnectStart((char *) pool->mcf->conninfo.data);

    if (pg == NULL) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "fluentai: database connection: out of memory");
        return;
    }

    conn = ngx_calloc(sizeof(ngx_http_fluentai_pg_conn_t), pool->log);
    if (conn == NULL) {
        PQfinish(pg);
        return;
    }

    conn->pool = pool;
    conn->pg = pg;
    conn->state = NGX_HTTP_FLUENTAI_PG_CONNECTING;
    conn->timer.handler = ngx_http_fluentai_pg_timeout;
    conn->timer.data = conn;
    conn->timer.log = pool->log;
    conn->timer.cancelable = 1;

    ngx_queue_insert_tail(&pool->all, &conn->all);
    pool->nconns++;
    pool->connecting++;

    if (PQstatus(pg) == CONNECTION_BAD || PQsetnonblocking(pg, 1) != 0) {
        ngx_http_fluentai_pg_connect_failed(conn, PQerrorMessage(pg));
        return;
    }

    if (ngx_http_fluentai_pg_attach(conn) != NGX_OK) {
        ngx_http_fluentai_pg_connect_failed(conn, "no free connection");
        return;
    }

    ngx_add_timer(&conn->timer, pool->mcf->timeout);

    /* libpq: behave as if PQconnectPoll had said PGRES_POLLING_WRITING */

    if (ngx_http_fluentai_pg_want_write(conn, 1) != NGX_OK) {
        ngx_http_fluentai_pg_connect_failed(conn, "event registration");
    }
}


static void
ngx_http_fluentai_pg_connect_step(ngx_http_fluentai_pg_conn_t *conn)
{
    PostgresPollingStatusType  st;

    st = PQconnectPoll(conn->pg);

    if (st != PGRES_POLLING_FAILED
        && (conn->c == NULL || PQsocket(conn->pg) != conn->c->fd))
    {
        /* libpq moved to another socket (next host, SSL retry) */

        ngx_http_fluentai_pg_detach(conn);

        if (ngx_http_fluentai_pg_attach(conn) != NGX_OK) {
            ngx_http_fluentai_pg_connect_failed(conn, "no free connection");
            return;
        }
    }

    switch (st) {

    case PGRES_POLLING_READING:
        if (ngx_http_fluentai_pg_want_write(conn, 0) != NGX_OK) {
            ngx_http_fluentai_pg_connect_failed(conn, "event registration");
        }
        return;

    case PGRES_POLLING_WRITING:
        if (ngx_http_fluentai_pg_want_write(conn, 1) != NGX_OK) {
            ngx_http_fluentai_pg_connect_failed(conn, "event registration");
        }
        return;

    case PGRES_POLLING_OK:
        break;

    default:
        ngx_http_fluentai_pg_connect_failed(conn, PQerrorMessage(conn->pg));
        return;
    }

    if (ngx_http_fluentai_pg_want_write(conn, 0) != NGX_OK) {
        ngx_http_fluentai_pg_connect_failed(conn, "event registration");
        return;
    }

    conn->pool->connecting--;

    if (conn->pool->down) {
        ngx_log_error(NGX_LOG_NOTICE, conn->pool->log, 0,
                      "fluentai: database connection restored");
    }

    conn->pool->down = 0;
    conn->pool->backoff = 0;

    conn->state = NGX_HTTP_FLUENTAI_PG_PREPARING;
    ngx_http_fluentai_pg_prepare_next(conn);
}


static void
ngx_http_fluentai_pg_connect_failed(ngx_http_fluentai_pg_conn_t *conn,
    const char *why)
{
    ngx_queue_t                  *q;
    ngx_http_fluentai_pg_req_t   *pr;
    ngx_http_fluentai_pg_pool_t  *pool;

    pool = conn->pool;

    ngx_http_fluentai_pg_log(pool, "connection", why);

    ngx_http_fluentai_pg_close(conn);

    pool->down = 1;
    pool->backoff = pool->backoff ? ngx_min(pool->backoff * 2,
                                            NGX_HTTP_FLUENTAI_PG_BACKOFF_MAX)
                                  : NGX_HTTP_FLUENTAI_PG_BACKOFF_MIN;
    pool->retry_at = ngx_current_msec + pool->backoff;

    if (pool->nconns > 0) {
        return;
    }

    /* nothing left to wait for: fail fast */

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        pr = ngx_queue_data(q, ngx_http_fluentai_pg_req_t, queue);

        ngx_queue_remove(q);
        pool->nwaiting--;
        pr->waiting = 0;

        if (pr->timer.timer_set) {
            ngx_del_timer(&pr->timer);
        }

        ngx_http_fluentai_pg_unavailable(pr, "database_unavailable", 0);
    }
}


/*
 * A new connection's setup: first "SET statement_timeout" (below the
 * module's timeout: a statement the module gives up on is cancelled and
 * rolled back by the server too), then, unless "fluentai_database_prepare
 * off", every statement is prepared.
 */

static void
ngx_http_fluentai_pg_prepare_next(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_http_fluentai_sql_t  *sql;

    /* "fluentai_database_statement_timeout off": nothing to set */

    if (!conn->configured && conn->pool->mcf->statement_timeout[0] == '\0') {
        conn->configured = 1;
    }

    if (!conn->configured) {
        if (!PQsendQuery(conn->pg,
                         (char *) conn->pool->mcf->statement_timeout)
            || ngx_http_fluentai_pg_flush(conn) != NGX_OK)
        {
            ngx_http_fluentai_pg_error(conn, "set statement_timeout");
        }

        return;
    }

    if (conn->prepared == NGX_HTTP_FLUENTAI_SQL_COUNT
        || !conn->pool->mcf->prepare)
    {
        ngx_http_fluentai_pg_ready(conn);
        return;
    }

    sql = &ngx_http_fluentai_sql[conn->prepared];

    if (!PQsendPrepare(conn->pg, sql->name, sql->text, 0, NULL)
        || ngx_http_fluentai_pg_flush(conn) != NGX_OK)
    {
        ngx_http_fluentai_pg_error(conn, "prepare");
    }
}


static void
ngx_http_fluentai_pg_ready(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_http_fluentai_pg_park(conn);
    ngx_http_fluentai_pg_dispatch(conn->pool);
}


/* most recently used first: warm connections stay warm */

static void
ngx_http_fluentai_pg_park(ngx_http_fluentai_pg_conn_t *conn)
{
    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    conn->timer.cancelable = 1;

    conn->state = NGX_HTTP_FLUENTAI_PG_IDLE;
    conn->in_idle = 1;
    ngx_queue_insert_head(&conn->pool->idle, &conn->idle);
    ngx_reusable_connection(conn->c, 1);
}


static ngx_int_t
ngx_http_fluentai_pg_attach(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_socket_t       fd;
    ngx_connection_t  *c;

    fd = PQsocket(conn->pg);
    if (fd == (ngx_socket_t) -1) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, conn->pool->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = conn;
    c->read->handler = ngx_http_fluentai_pg_event;
    c->write->handler = ngx_http_fluentai_pg_event;
    c->read->log = conn->pool->log;
    c->write->log = conn->pool->log;

    conn->c = c;
    conn->writing = 0;

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* forget the nginx side of the socket; libpq owns and closes the fd */

static void
ngx_http_fluentai_pg_detach(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_connection_t  *c;

    c = conn->c;

    if (c == NULL) {
        return;
    }

    if (c->reusable) {
        ngx_reusable_connection(c, 0);
    }

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    conn->c = NULL;
    conn->writing = 0;
}


static ngx_int_t
ngx_http_fluentai_pg_want_write(ngx_http_fluentai_pg_conn_t *conn,
    ngx_uint_t on)
{
    if (on && !conn->writing) {
        if (ngx_add_event(conn->c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        conn->writing = 1;

    } else if (!on && conn->writing) {
        if (ngx_del_event(conn->c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        conn->writing = 0;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_fluentai_pg_flush(ngx_http_fluentai_pg_conn_t *conn)
{
    switch (PQflush(conn->pg)) {

    case 0:
        return ngx_http_fluentai_pg_want_write(conn, 0);

    case 1:
        return ngx_http_fluentai_pg_want_write(conn, 1);

    default:
        return NGX_ERROR;
    }
}


static void
ngx_http_fluentai_pg_event(ngx_event_t *ev)
{
    ngx_connection_t             *c;
    ngx_http_fluentai_pg_conn_t  *conn;

    c = ev->data;
    conn = c->data;

    if (c->close) {
        /* graceful shutdown or connections running out: only idle ones */
        ngx_http_fluentai_pg_close(conn);
        return;
    }

    switch (conn->state) {

    case NGX_HTTP_FLUENTAI_PG_CONNECTING:
        ngx_http_fluentai_pg_connect_step(conn);
        return;

    case NGX_HTTP_FLUENTAI_PG_IDLE:
        if (!ev->write) {
            ngx_http_fluentai_pg_idle_read(conn);
        }
        return;

    default:
        ngx_http_fluentai_pg_io(conn);
    }
}


static void
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
    }

    /* back to the pool first: the request may run its next query on it */

    ngx_http_fluentai_pg_park(conn);

    if (pr) {
        ngx_http_fluentai_pg_finish(pr, res, 0);
    }

    PQclear(res);

    ngx_http_fluentai_pg_dispatch(pool);
}


static void
ngx_http_fluentai_pg_idle_read(ngx_http_fluentai_pg_conn_t *conn)
{
    PGnotify  *n;
    PGresult  *res;

    if (!PQconsumeInput(conn->pg) || PQstatus(conn->pg) == CONNECTION_BAD) {
        ngx_http_fluentai_pg_log(conn->pool, "idle connection",
                                 PQerrorMessage(conn->pg));
        ngx_http_fluentai_pg_close(conn);
        return;
    }

    while ((n = PQnotifies(conn->pg)) != NULL) {
        PQfreemem(n);
    }

    while (!PQisBusy(conn->pg)) {
        res = PQgetResult(conn->pg);
        if (res == NULL) {
            break;
        }

        PQclear(res);
    }
}


/*
 * The connection failed while in use: close it; a read-only query on a
 * connection that had served before is retried once on another one, any
 * other request gets 503.
 */

static void
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
        ngx_http_fluentai_pg_submit(pool, pr, 0);
        return;
    }

    ngx_http_fluentai_pg_unavailable(pr, "database_unavailable", 0);
}


static void
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
                  "closing the connection", pool->mcf->timeout);

    pr = conn->req;
    conn->req = NULL;
    ngx_http_fluentai_pg_close(conn);

    if (pr) {
        pr->conn = NULL;
        ngx_http_fluentai_pg_unavailable(pr, "database_unavailable", 0);
    }

    ngx_http_fluentai_pg_dispatch(pool);
}


static void
ngx_http_fluentai_pg_wait_timeout(ngx_event_t *ev)
{
    ngx_http_fluentai_pg_req_t  *pr;

    pr = ev->data;

    if (pr->waiting) {
        ngx_queue_remove(&pr->queue);
        ngx_http_fluentai_pg_pool->nwaiting--;
        pr->waiting = 0;
    }

    /* once a second at most, however many requests time out */

    if (ngx_time() != ngx_http_fluentai_pg_pool->wait_logged) {
        ngx_http_fluentai_pg_pool->wait_logged = ngx_time();

        ngx_log_error(NGX_LOG_WARN, ngx_http_fluentai_pg_pool->log, 0,
                      "fluentai: no database connection within %M ms, "
                      "%ui requests waiting",
                      ngx_http_fluentai_pg_pool->mcf->timeout,
                      ngx_http_fluentai_pg_pool->nwaiting);
    }

    ngx_http_fluentai_pg_unavailable(pr, "database_unavailable", 0);
}


static void
ngx_http_fluentai_pg_close(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_http_fluentai_pg_pool_t  *pool;

    pool = conn->pool;

    if (conn->in_idle) {
        ngx_queue_remove(&conn->idle);
        conn->in_idle = 0;
    }

    if (conn->state == NGX_HTTP_FLUENTAI_PG_CONNECTING) {
        pool->connecting--;
    }

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    if (conn->req) {
        conn->req->conn = NULL;
        conn->req = NULL;
    }

    if (conn->result) {
        PQclear(conn->result);
        conn->result = NULL;
    }

    ngx_http_fluentai_pg_detach(conn);

    PQfinish(conn->pg);

    ngx_queue_remove(&conn->all);
    pool->nconns--;

    ngx_free(conn);
}


static void
ngx_http_fluentai_pg_finish(ngx_http_fluentai_pg_req_t *pr, PGresult *res,
    ngx_uint_t sync)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = pr->request;
    c = r->connection;

    pr->done(r, res);

    if (!sync) {
        ngx_http_run_posted_requests(c);
    }
}


static void
ngx_http_fluentai_pg_unavailable(ngx_http_fluentai_pg_req_t *pr,
    const char *code, ngx_uint_t sync)
{
    pr->status = NGX_HTTP_SERVICE_UNAVAILABLE;
    pr->code = code;

    ngx_http_fluentai_pg_finish(pr, NULL, sync);
}


/* one line per failure event, libpq's message without its newline */

static void
ngx_http_fluentai_pg_log(ngx_http_fluentai_pg_pool_t *pool,
    const char *what, const char *msg)
{
    size_t  len;

    len = ngx_strlen(msg);

    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' ')) {
        len--;
    }

    ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                  "fluentai: database %s failed: %*s", what, len, msg);
}


/*
 * Configuration time: parse the conninfo (keyword/value or URI), resolve a
 * host name now so that connecting never needs DNS, and rebuild it as a
 * keyword/value string with hostaddr set.
 */

char *
ngx_http_fluentai_pg_check_conninfo(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *conninfo)
{
    char               *ci, *err, *host, *hostaddr;
    u_char             *p;
    size_t              len;
    PQconninfoOption   *opts, *o;
    char                addr[NGX_SOCKADDR_STRLEN];

    ci = (char *) ngx_pnalloc(cf->pool, value->len + 1);
    if (ci == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn((u_char *) ci, value->data, value->len + 1);

    err = NULL;
    opts = PQconninfoParse(ci, &err);

    if (opts == NULL) {
        len = err ? ngx_strlen(err) : 0;
        while (len && err[len - 1] == '\n') {
            len--;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"fluentai_database\": %*s", len,
                           err ? err : "out of memory");
        PQfreemem(err);
        return NGX_CONF_ERROR;
    }

    host = NULL;
    hostaddr = NULL;

    for (o = opts; o->keyword; o++) {
        if (o->val && o->val[0] && ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;
        }

        if (o->val && o->val[0] && ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;
        }
    }

    addr[0] = '\0';

    if (host && hostaddr == NULL && host[0] != '/' && host[0] != '@') {
        if (ngx_http_fluentai_pg_resolve(cf, host, addr) != NGX_OK) {
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }
    }

    len = sizeof("hostaddr=''") + ngx_strlen(addr);

    for (o = opts; o->keyword; o++) {
        if (o->val && o->val[0]) {
            len += ngx_strlen(o->keyword) + 4 + 2 * ngx_strlen(o->val);
        }
    }

    p = ngx_pnalloc(cf->pool, len + 1);
    if (p == NULL) {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    conninfo->data = p;

    for (o = opts; o->keyword; o++) {
        if (o->val && o->val[0]) {
            p = ngx_http_fluentai_pg_kv(p, o->keyword, o->val);
        }
    }

    if (addr[0]) {
        p = ngx_http_fluentai_pg_kv(p, "hostaddr", addr);
    }

    *p = '\0';
    conninfo->len = p - conninfo->data;

    PQconninfoFree(opts);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fluentai_pg_resolve(ngx_conf_t *cf, char *host, char *addr)
{
    int               rc;
    size_t            len;
    struct addrinfo   hints, *res, *ai;

    if (ngx_strchr(host, ',')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fluentai_database\": several hosts are not "
                           "supported, use one host or a pooler");
        return NGX_ERROR;
    }

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, NULL, &hints, &res);

    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fluentai_database\": host \"%s\" could not "
                           "be resolved: %s", host, gai_strerror(rc));
        return NGX_ERROR;
    }

    /* IPv4 first: "localhost" must not land on ::1 the server ignores */

    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            break;
        }
    }

    if (ai == NULL) {
        ai = res;
    }

    len = ngx_sock_ntop(ai->ai_addr, ai->ai_addrlen, (u_char *) addr,
                        NGX_SOCKADDR_STRLEN - 1, 0);
    addr[len] = '\0';

    freeaddrinfo(res);

    return NGX_OK;
}


static u_char *
ngx_http_fluentai_pg_kv(u_char *p, const char *key, const char *val)
{
    p = ngx_cpymem(p, key, ngx_strlen(key));
    *p++ = '=';
    *p++ = '\'';

    while (*val) {
        if (*val == '\'' || *val == '\\') {
            *p++ = '\\';
        }

        *p++ = *val++;
    }

    *p++ = '\'';
    *p++ = ' ';

    return p;
}
