
/*
 * Between the files of the database layer only (pg_pool.c, pg_conn.c,
 * pg_query.c): the pool and connection structures and their functions.
 */

#ifndef _NGX_HTTP_FLUENTAI_PG_INT_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_PG_INT_H_INCLUDED_


#include "ngx_http_fluentai_pg.h"


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
    ngx_uint_t                       lookup;     /* running: kind + 1 */
    ino_t                            ino;        /* of the socket */
    unsigned                         writing:1;
    unsigned                         in_idle:1;
    unsigned                         configured:1;   /* the SET done */
};


struct ngx_http_fluentai_pg_pool_s {
    ngx_http_fluentai_pg_conf_t     *conf;
    ngx_log_t                       *log;
    ngx_queue_t                      all;
    ngx_queue_t                      idle;
    ngx_queue_t                      waiting;
    ngx_queue_t                      same[NGX_HTTP_FLUENTAI_SQL_COUNT];
    ngx_http_fluentai_pg_batch_t    *batches;   /* all of them */
    ngx_http_fluentai_pg_batch_t    *free;      /* not running */
    ngx_uint_t                       running[NGX_HTTP_FLUENTAI_SQL_COUNT];
    ngx_uint_t                       nconns;
    ngx_uint_t                       nwaiting;
    ngx_uint_t                       connecting;
    ngx_msec_t                       backoff;
    ngx_msec_t                       retry_at;
    time_t                           wait_logged;
    unsigned                         down:1;
};


/* pg_pool.c: the idle cache and the wait queue */
void ngx_http_fluentai_pg_submit(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr);
void ngx_http_fluentai_pg_dispatch(ngx_http_fluentai_pg_pool_t *pool);
void ngx_http_fluentai_pg_fail_waiting(ngx_http_fluentai_pg_pool_t *pool);
void ngx_http_fluentai_pg_finish(ngx_http_fluentai_pg_req_t *pr,
    ngx_int_t rc, PGresult *res);
void ngx_http_fluentai_pg_unwait(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr);
void ngx_http_fluentai_pg_release(ngx_http_fluentai_pg_conn_t *conn);

/* pg_batch.c: coalesced lookups */
ngx_int_t ngx_http_fluentai_pg_batch_run(ngx_http_fluentai_pg_conn_t *conn,
    ngx_http_fluentai_pg_req_t *pr);
void ngx_http_fluentai_pg_batch_leave(ngx_http_fluentai_pg_req_t *pr);
void ngx_http_fluentai_pg_batch_free(ngx_http_fluentai_pg_pool_t *pool);

/* pg_conn.c: connections */
void ngx_http_fluentai_pg_connect(ngx_http_fluentai_pg_pool_t *pool);
void ngx_http_fluentai_pg_connect_failed(ngx_http_fluentai_pg_conn_t *conn,
    const char *why);
void ngx_http_fluentai_pg_prepare_next(ngx_http_fluentai_pg_conn_t *conn);
void ngx_http_fluentai_pg_park(ngx_http_fluentai_pg_conn_t *conn);
ngx_int_t ngx_http_fluentai_pg_flush(ngx_http_fluentai_pg_conn_t *conn);
void ngx_http_fluentai_pg_close(ngx_http_fluentai_pg_conn_t *conn);
void ngx_http_fluentai_pg_log(ngx_http_fluentai_pg_pool_t *pool,
    const char *what, const char *msg);

/* pg_query.c: a statement on a connection */
void ngx_http_fluentai_pg_run(ngx_http_fluentai_pg_conn_t *conn,
    ngx_http_fluentai_pg_req_t *pr);
void ngx_http_fluentai_pg_io(ngx_http_fluentai_pg_conn_t *conn);
void ngx_http_fluentai_pg_error(ngx_http_fluentai_pg_conn_t *conn,
    const char *what);
void ngx_http_fluentai_pg_timeout(ngx_event_t *ev);


#endif /* _NGX_HTTP_FLUENTAI_PG_INT_H_INCLUDED_ */
