
/*
 * Between the metrics files only: the shared zone's layout and what the
 * zone (metrics.c), the request accounting (metrics_log.c) and the
 * Prometheus text (metrics_text.c) share.
 */


#ifndef _NGX_HTTP_FLUENTAI_METRICS_INT_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_METRICS_INT_H_INCLUDED_


#include "ngx_http_fluentai.h"
#include "ngx_http_fluentai_metrics.h"


#define NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS  32
#define NGX_HTTP_FLUENTAI_METRICS_WORKERS    64
#define NGX_HTTP_FLUENTAI_METRICS_BUCKETS    15
#define NGX_HTTP_FLUENTAI_METRICS_BATCH      11     /* sizes 1 .. 1024 */

/* statuses with their own series (metrics_log.c); anything else: "other" */
#define NGX_HTTP_FLUENTAI_METRICS_OTHER      17


typedef struct {
    ngx_atomic_t                    bucket[NGX_HTTP_FLUENTAI_METRICS_BUCKETS
                                           + 1];
    ngx_atomic_t                    count;
    ngx_atomic_t                    sum;            /* microseconds */
} ngx_http_fluentai_histogram_t;


typedef struct {
    ngx_atomic_t                    pid;
    ngx_atomic_t                    busy;
    ngx_atomic_t                    idle;
    ngx_atomic_t                    waiting;
    ngx_atomic_t                    held;           /* coalescing */
    ngx_atomic_t                    hashing;
} ngx_http_fluentai_worker_slot_t;


struct ngx_http_fluentai_metrics_shm_s {
    ngx_atomic_t                    requests
                                    [NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS]
                                    [NGX_HTTP_FLUENTAI_METRICS_OTHER + 1];
    ngx_atomic_t                    counters[NGX_HTTP_FLUENTAI_M_COUNT];
    ngx_http_fluentai_histogram_t   hash;
    ngx_http_fluentai_histogram_t   statements[NGX_HTTP_FLUENTAI_SQL_COUNT];
    ngx_http_fluentai_histogram_t   batches[NGX_HTTP_FLUENTAI_SQL_COUNT];
    ngx_http_fluentai_worker_slot_t workers[NGX_HTTP_FLUENTAI_METRICS_WORKERS];
};


/* this worker's view of the zone; NULL under "fluentai_metrics off" */
extern ngx_http_fluentai_metrics_shm_t  *ngx_http_fluentai_metrics_shm;

/* histogram bucket bounds, microseconds */
extern uint64_t  ngx_http_fluentai_metrics_bounds[];

/* the endpoint table's names, in its order; the statuses of the series */
extern ngx_str_t   ngx_http_fluentai_metrics_eps[];
extern ngx_uint_t  ngx_http_fluentai_metrics_statuses[];

/* this worker's gauges into its slot */
void ngx_http_fluentai_metrics_publish(void);


#endif /* _NGX_HTTP_FLUENTAI_METRICS_INT_H_INCLUDED_ */
