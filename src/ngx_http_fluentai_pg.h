
/*
 * The database layer: a per-worker pool of PostgreSQL connections driven
 * by the event loop.  It knows nothing of HTTP: a caller hands it a query
 * (ngx_http_fluentai_query_t, one of the statements of sql.c), an opaque
 * pointer and a completion callback, and is called back exactly once with
 * an error kind and, for NGX_HTTP_FLUENTAI_PG_OK, the result.
 *
 * Files: pg_pool.c (the idle cache and the wait queue: the API below),
 * pg_conn.c (connecting, reconnecting, the sockets), pg_query.c (sending
 * a statement and reading its result), pg_batch.c (lookups waiting for a
 * connection served by one statement), pg_conninfo.c (configuration).
 */

#ifndef _NGX_HTTP_FLUENTAI_PG_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <libpq-fe.h>

#include "ngx_http_fluentai_sql.h"


/* the error kinds a completion callback gets */
#define NGX_HTTP_FLUENTAI_PG_OK           0  /* res: the result, maybe an
                                                 SQL error */
#define NGX_HTTP_FLUENTAI_PG_UNAVAILABLE  1  /* down, lost or timed out */
#define NGX_HTTP_FLUENTAI_PG_OVERLOADED   2  /* the wait queue is full */
#define NGX_HTTP_FLUENTAI_PG_BAD_QUERY    3  /* its parameters could not be
                                                 built (out of memory) */


typedef struct ngx_http_fluentai_pg_pool_s  ngx_http_fluentai_pg_pool_t;
typedef struct ngx_http_fluentai_pg_conn_s  ngx_http_fluentai_pg_conn_t;
typedef struct ngx_http_fluentai_pg_req_s   ngx_http_fluentai_pg_req_t;
typedef struct ngx_http_fluentai_pg_batch_s ngx_http_fluentai_pg_batch_t;


/* statements of one kind of lookup running at once, per worker */
#define NGX_HTTP_FLUENTAI_PG_INFLIGHT  1


/* told the size of every coalescable lookup's statement (1: alone) */
typedef void (*ngx_http_fluentai_pg_batched_pt)(ngx_uint_t sql,
    ngx_uint_t n);


/*
 * "fluentai_database", "fluentai_database_pool", ..._timeout,
 * ..._statement_timeout, ..._prepare, ..._coalesce
 */
typedef struct {
    ngx_str_t                       conninfo;
    ngx_uint_t                      size;
    ngx_uint_t                      queue;
    ngx_msec_t                      timeout;
    ngx_msec_t                      stmt_timeout;    /* 0: off */
    ngx_flag_t                      prepare;
    ngx_uint_t                      coalesce;        /* batch cap, 1: off */
    ngx_uint_t                      inflight;        /* per kind, 0: any */
    ngx_http_fluentai_pg_batched_pt batched;         /* NULL: nobody */
    u_char                          statement_timeout[48];  /* SET ... */
} ngx_http_fluentai_pg_conf_t;


/*
 * rc is one of the kinds above; res belongs to the pool (cleared after
 * the callback returns).  data is the caller's opaque pointer.
 */
typedef void (*ngx_http_fluentai_pg_done_pt)(void *data, ngx_int_t rc,
    PGresult *res);


/* a caller's place in the pool: waiting, or running on a connection */
struct ngx_http_fluentai_pg_req_s {
    ngx_queue_t                     queue;
    ngx_event_t                     timer;
    ngx_http_fluentai_query_t      *query;
    ngx_http_fluentai_pg_done_pt    done;
    void                           *data;
    ngx_log_t                      *log;
    ngx_http_fluentai_pg_conn_t    *conn;
    uint64_t                        sent;       /* usec, monotonic */
    uint64_t                        usec;       /* send to result */
    ngx_http_fluentai_pg_pool_t    *pool;
    ngx_queue_t                     same;       /* waiting, coalescable */
    ngx_http_fluentai_pg_batch_t   *batch;      /* served by one */
    ngx_uint_t                      slot;       /* its place there */
    ngx_uint_t                      lookup;     /* its kind + 1, 0: none */
    unsigned                        waiting:1;
    unsigned                        retried:1;
    unsigned                        coalescable:1;  /* in "same" */
};


ngx_int_t ngx_http_fluentai_pg_init_worker(ngx_cycle_t *cycle,
    ngx_http_fluentai_pg_conf_t *conf);
void ngx_http_fluentai_pg_exit_worker(ngx_cycle_t *cycle);
void ngx_http_fluentai_pg_query(ngx_http_fluentai_pg_req_t *pr,
    ngx_http_fluentai_query_t *q, ngx_log_t *log,
    ngx_http_fluentai_pg_done_pt done, void *data);
void ngx_http_fluentai_pg_cancel(ngx_http_fluentai_pg_req_t *pr);
void ngx_http_fluentai_pg_stats(ngx_uint_t *busy, ngx_uint_t *idle,
    ngx_uint_t *waiting, ngx_uint_t *held);
uint64_t ngx_http_fluentai_pg_usec(void);

/* a pool of its own, for a background user (see pg_pool.c) */
ngx_http_fluentai_pg_pool_t *ngx_http_fluentai_pg_pool_create(
    ngx_cycle_t *cycle, ngx_http_fluentai_pg_conf_t *conf);
void ngx_http_fluentai_pg_pool_destroy(ngx_http_fluentai_pg_pool_t *pool);
void ngx_http_fluentai_pg_pool_query(ngx_http_fluentai_pg_pool_t *pool,
    ngx_http_fluentai_pg_req_t *pr, ngx_http_fluentai_query_t *q,
    ngx_log_t *log, ngx_http_fluentai_pg_done_pt done, void *data);
char *ngx_http_fluentai_pg_check_conninfo(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *conninfo);


#endif /* _NGX_HTTP_FLUENTAI_PG_H_INCLUDED_ */
