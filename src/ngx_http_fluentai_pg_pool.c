
/*
 * The database layer, the pool: a per-worker set of PostgreSQL
 * connections with an idle cache (most recently used first) and a bounded
 * wait queue.  Connections are opened lazily, up to "size" per worker; a
 * caller that finds none free waits in the queue for at most the timeout.
 * When a connection attempt fails, the pool is "down": callers fail at
 * once and at most one attempt is made per backoff period (50 ms doubling
 * up to 500 ms), so a restarted database is used again within a second.
 *
 * Callers are told the outcome through their completion callback only;
 * nothing here knows what a caller is (see ngx_http_fluentai_pg.h).
 */


#include "ngx_http_fluentai_pg_int.h"


static ngx_uint_t ngx_http_fluentai_pg_held(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr);
static void ngx_http_fluentai_pg_grow(ngx_http_fluentai_pg_pool_t *pool);
static void ngx_http_fluentai_pg_wait_timeout(ngx_event_t *ev);


static ngx_http_fluentai_pg_pool_t  *ngx_http_fluentai_pg_pool;


ngx_int_t
ngx_http_fluentai_pg_init_worker(ngx_cycle_t *cycle,
    ngx_http_fluentai_pg_conf_t *conf)
{
    ngx_http_fluentai_pg_pool = NULL;

    if (conf == NULL || conf->conninfo.len == 0) {
        return NGX_OK;
    }

    ngx_http_fluentai_pg_pool = ngx_http_fluentai_pg_pool_create(cycle, conf);

    return ngx_http_fluentai_pg_pool ? NGX_OK : NGX_ERROR;
}


void
ngx_http_fluentai_pg_exit_worker(ngx_cycle_t *cycle)
{
    if (ngx_http_fluentai_pg_pool) {
        ngx_http_fluentai_pg_pool_destroy(ngx_http_fluentai_pg_pool);
        ngx_http_fluentai_pg_pool = NULL;
    }
}


/*
 * A pool of its own for a background user (the mail outbox), so that it
 * never takes a connection or a queue place from requests.
 */

ngx_http_fluentai_pg_pool_t *
ngx_http_fluentai_pg_pool_create(ngx_cycle_t *cycle,
    ngx_http_fluentai_pg_conf_t *conf)
{
    ngx_uint_t                    i;
    ngx_http_fluentai_pg_pool_t  *pool;

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_http_fluentai_pg_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pool->conf = conf;
    pool->log = cycle->log;

    ngx_queue_init(&pool->all);
    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);

    for (i = 0; i < NGX_HTTP_FLUENTAI_SQL_COUNT; i++) {
        ngx_queue_init(&pool->same[i]);
    }

    return pool;
}


/* closes every connection; nobody may be waiting */

void
ngx_http_fluentai_pg_pool_destroy(ngx_http_fluentai_pg_pool_t *pool)
{
    ngx_queue_t  *q;

    while (!ngx_queue_empty(&pool->all)) {
        q = ngx_queue_head(&pool->all);
        ngx_http_fluentai_pg_close(
            ngx_queue_data(q, ngx_http_fluentai_pg_conn_t, all));
    }

    ngx_http_fluentai_pg_batch_free(pool);
}


/*
 * Runs query q; done(data, rc, res) is called exactly once: with
 * NGX_HTTP_FLUENTAI_PG_OK and the result, or with the kind of failure and
 * no result.  done may be called before this function returns.
 */

void
ngx_http_fluentai_pg_query(ngx_http_fluentai_pg_req_t *pr,
    ngx_http_fluentai_query_t *q, ngx_log_t *log,
    ngx_http_fluentai_pg_done_pt done, void *data)
{
    ngx_http_fluentai_pg_pool_query(ngx_http_fluentai_pg_pool, pr, q, log,
                                    done, data);
}


/* the same on a pool of its own (NULL: unavailable) */

void
ngx_http_fluentai_pg_pool_query(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr, ngx_http_fluentai_query_t *q,
    ngx_log_t *log, ngx_http_fluentai_pg_done_pt done, void *data)
{
    pr->pool = pool;
    pr->query = q;
    pr->done = done;
    pr->data = data;
    pr->log = log;
    pr->conn = NULL;
    pr->retried = 0;
    pr->waiting = 0;
    pr->coalescable = 0;
    pr->batch = NULL;
    pr->lookup = 0;

    if (q->failed) {
        ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_BAD_QUERY, NULL);
        return;
    }

    if (pool == NULL) {
        ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_UNAVAILABLE,
                                    NULL);
        return;
    }

    /* a lookup that a batch may serve: limited in flight (pg_batch.c) */

    if (ngx_http_fluentai_sql[q->sql].keys
        && pool->conf->coalesce > 1
        && pool->conf->inflight)
    {
        pr->lookup = q->sql + 1;
    }

    ngx_http_fluentai_pg_submit(pool, pr);
}


/* the caller is going away: leave the queue, orphan the connection */

void
ngx_http_fluentai_pg_cancel(ngx_http_fluentai_pg_req_t *pr)
{
    if (pr->pool) {
        ngx_http_fluentai_pg_unwait(pr->pool, pr);
    }

    if (pr->batch) {
        ngx_http_fluentai_pg_batch_leave(pr);
    }

    if (pr->conn) {
        pr->conn->req = NULL;
        pr->conn = NULL;
    }
}


void
ngx_http_fluentai_pg_submit(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr)
{
    ngx_queue_t                  *q;
    ngx_http_fluentai_pg_conn_t  *conn;

    if (!ngx_queue_empty(&pool->idle)
        && !ngx_http_fluentai_pg_held(pool, pr))
    {
        q = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(q, ngx_http_fluentai_pg_conn_t, idle);
        ngx_http_fluentai_pg_run(conn, pr);
        return;
    }

    if (pool->down && pool->connecting == 0
        && (ngx_msec_int_t) (pool->retry_at - ngx_current_msec) > 0)
    {
        ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_UNAVAILABLE,
                                    NULL);
        return;
    }

    if (pool->nwaiting >= pool->conf->queue) {
        ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_OVERLOADED,
                                    NULL);
        return;
    }

    ngx_queue_insert_tail(&pool->waiting, &pr->queue);
    pool->nwaiting++;
    pr->waiting = 1;

    /* a lookup that a batch may serve (pg_batch.c) */

    if (ngx_http_fluentai_sql[pr->query->sql].keys
        && pool->conf->coalesce > 1)
    {
        ngx_queue_insert_tail(&pool->same[pr->query->sql], &pr->same);
        pr->coalescable = 1;
    }

    pr->timer.handler = ngx_http_fluentai_pg_wait_timeout;
    pr->timer.data = pr;
    pr->timer.log = pr->log;
    ngx_add_timer(&pr->timer, pool->conf->timeout);

    ngx_http_fluentai_pg_grow(pool);
}


/*
 * A lookup of a kind that has "inflight" statements running waits for one
 * of them to finish, even beside an idle connection: the lookups of that
 * kind that arrive meanwhile then go out together in one statement.
 */

static ngx_uint_t
ngx_http_fluentai_pg_held(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr)
{
    return pr->lookup
           && pool->running[pr->lookup - 1] >= pool->conf->inflight;
}


/* a connection that ran a limited lookup is done with it */

void
ngx_http_fluentai_pg_release(ngx_http_fluentai_pg_conn_t *conn)
{
    if (conn->lookup) {
        conn->pool->running[conn->lookup - 1]--;
        conn->lookup = 0;
    }
}


/* nobody waits for a connection while one is idle: only held lookups */

static void
ngx_http_fluentai_pg_grow(ngx_http_fluentai_pg_pool_t *pool)
{
    if (!ngx_queue_empty(&pool->idle)
        || pool->nconns >= pool->conf->size
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


/* hand idle connections to waiting callers */

void
ngx_http_fluentai_pg_dispatch(ngx_http_fluentai_pg_pool_t *pool)
{
    ngx_queue_t                  *q;
    ngx_http_fluentai_pg_req_t   *pr;
    ngx_http_fluentai_pg_conn_t  *conn;

    q = ngx_queue_head(&pool->waiting);

    while (!ngx_queue_empty(&pool->idle)
           && q != ngx_queue_sentinel(&pool->waiting))
    {
        pr = ngx_queue_data(q, ngx_http_fluentai_pg_req_t, queue);

        if (ngx_http_fluentai_pg_held(pool, pr)) {
            q = ngx_queue_next(q);
            continue;
        }

        ngx_http_fluentai_pg_unwait(pool, pr);

        q = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(q, ngx_http_fluentai_pg_conn_t, idle);

        /* lookups of the same statement waiting too: one statement */

        if (ngx_http_fluentai_pg_batch_run(conn, pr) != NGX_OK) {
            ngx_http_fluentai_pg_run(conn, pr);
        }

        /* the run may have taken more than pr from the queue */

        q = ngx_queue_head(&pool->waiting);
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
ngx_http_fluentai_pg_wait_timeout(ngx_event_t *ev)
{
    ngx_http_fluentai_pg_req_t   *pr;
    ngx_http_fluentai_pg_pool_t  *pool;

    pr = ev->data;
    pool = pr->pool;

    ngx_http_fluentai_pg_unwait(pool, pr);

    /* once a second at most, however many requests time out */

    if (ngx_time() != pool->wait_logged) {
        pool->wait_logged = ngx_time();

        ngx_log_error(NGX_LOG_WARN, pool->log, 0,
                      "fluentai: no database connection within %M ms, "
                      "%ui requests waiting", pool->conf->timeout,
                      pool->nwaiting);
    }

    ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_UNAVAILABLE,

                                NULL);
}


/* nothing left to wait for: every waiting caller fails at once */

void
ngx_http_fluentai_pg_fail_waiting(ngx_http_fluentai_pg_pool_t *pool)
{
    ngx_queue_t                 *q;
    ngx_http_fluentai_pg_req_t  *pr;

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        pr = ngx_queue_data(q, ngx_http_fluentai_pg_req_t, queue);

        ngx_http_fluentai_pg_unwait(pool, pr);

        ngx_http_fluentai_pg_finish(pr, NGX_HTTP_FLUENTAI_PG_UNAVAILABLE,
                                    NULL);
    }
}


void
ngx_http_fluentai_pg_finish(ngx_http_fluentai_pg_req_t *pr, ngx_int_t rc,
    PGresult *res)
{
    pr->done(pr->data, rc, res);
}


/* out of the wait queue, its timer gone */

void
ngx_http_fluentai_pg_unwait(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr)
{
    if (pr->waiting) {
        ngx_queue_remove(&pr->queue);
        pool->nwaiting--;
        pr->waiting = 0;
    }

    if (pr->coalescable) {
        ngx_queue_remove(&pr->same);
        pr->coalescable = 0;
    }

    if (pr->timer.timer_set) {
        ngx_del_timer(&pr->timer);
    }
}


/*
 * for the metrics: this worker's connections, the callers waiting for a
 * connection and the lookups held for a batch (waiting for their kind)
 */

void
ngx_http_fluentai_pg_stats(ngx_uint_t *busy, ngx_uint_t *idle,
    ngx_uint_t *waiting, ngx_uint_t *held)
{
    ngx_queue_t                  *q;
    ngx_http_fluentai_pg_req_t   *pr;
    ngx_http_fluentai_pg_conn_t  *conn;
    ngx_http_fluentai_pg_pool_t  *pool;

    *busy = 0;
    *idle = 0;
    *waiting = 0;
    *held = 0;

    pool = ngx_http_fluentai_pg_pool;

    if (pool == NULL) {
        return;
    }

    for (q = ngx_queue_head(&pool->all);
         q != ngx_queue_sentinel(&pool->all);
         q = ngx_queue_next(q))
    {
        conn = ngx_queue_data(q, ngx_http_fluentai_pg_conn_t, all);

        if (conn->state == NGX_HTTP_FLUENTAI_PG_BUSY) {
            (*busy)++;

        } else if (conn->state == NGX_HTTP_FLUENTAI_PG_IDLE) {
            (*idle)++;
        }
    }

    for (q = ngx_queue_head(&pool->waiting);
         q != ngx_queue_sentinel(&pool->waiting);
         q = ngx_queue_next(q))
    {
        pr = ngx_queue_data(q, ngx_http_fluentai_pg_req_t, queue);

        if (ngx_http_fluentai_pg_held(pool, pr)) {
            (*held)++;
        }
    }

    *waiting = pool->nwaiting - *held;
}


/* a monotonic clock in microseconds (statement times) */

uint64_t
ngx_http_fluentai_pg_usec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
