
/*
 * Prometheus metrics, summed over all workers: the shared zone and the
 * counting into it.
 *
 * Counters and histograms live in one shared memory zone and are updated
 * with atomic adds (pool threads add hashing times directly).  Gauges of
 * a worker's own state (database connections, waiting requests, hashing
 * jobs) are published by each worker into its own slot of the zone, once a
 * second and on every scrape it serves; the endpoint sums the slots of
 * live workers.  Requests are counted in metrics_log.c, the text is
 * written in metrics_text.c.
 */


#include "ngx_http_fluentai_metrics_int.h"

#include <time.h>


#define NGX_HTTP_FLUENTAI_METRICS_PUBLISH    1000


static ngx_int_t ngx_http_fluentai_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static void ngx_http_fluentai_metrics_timer(ngx_event_t *ev);
static void ngx_http_fluentai_metrics_observe(
    ngx_http_fluentai_histogram_t *h, uint64_t usec);


/* histogram bucket bounds, microseconds (100 us .. 5 s) */
uint64_t  ngx_http_fluentai_metrics_bounds[
                                        NGX_HTTP_FLUENTAI_METRICS_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000, 2500000, 5000000
};


/* this worker's view: the zone, its slot, its hashing jobs, its timer */
ngx_http_fluentai_metrics_shm_t         *ngx_http_fluentai_metrics_shm;
static ngx_http_fluentai_worker_slot_t  *ngx_http_fluentai_metrics_slot;
static ngx_int_t                         ngx_http_fluentai_metrics_jobs;
static ngx_event_t                       ngx_http_fluentai_metrics_ev;


/* configuration */

char *
ngx_http_fluentai_metrics_zone(ngx_conf_t *cf, ngx_shm_zone_t **zone)
{
    size_t                size;
    ngx_str_t             name = ngx_string("fluentai_metrics");

    size = ngx_align(sizeof(ngx_http_fluentai_metrics_shm_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    *zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_fluentai_module);
    if (*zone == NULL) {
        return NGX_CONF_ERROR;
    }

    (*zone)->init = ngx_http_fluentai_metrics_init_zone;

    return NGX_CONF_OK;
}


/* counters survive a reload: the zone of the old cycle is kept */

static ngx_int_t
ngx_http_fluentai_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t                  *shpool;
    ngx_http_fluentai_metrics_shm_t  *m;

    if (data) {
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_fluentai_metrics_shm_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    zone->data = m;

    return NGX_OK;
}

/* worker start and exit: the slot for this worker's gauges */

ngx_int_t
ngx_http_fluentai_metrics_init_worker(ngx_cycle_t *cycle,
    ngx_shm_zone_t *zone)
{
    ngx_uint_t                        i;
    ngx_atomic_uint_t                 pid;
    ngx_http_fluentai_metrics_shm_t  *m;

    if (zone == NULL || zone->data == NULL) {
        return NGX_OK;
    }

    m = zone->data;
    ngx_http_fluentai_metrics_shm = m;

    for (i = 0; i < NGX_HTTP_FLUENTAI_METRICS_WORKERS; i++) {
        pid = m->workers[i].pid;

        if (pid != 0 && (kill((pid_t) pid, 0) == 0 || ngx_errno != ESRCH)) {
            continue;
        }

        if (ngx_atomic_cmp_set(&m->workers[i].pid, pid, ngx_pid)) {
            ngx_http_fluentai_metrics_slot = &m->workers[i];
            break;
        }
    }

    if (ngx_http_fluentai_metrics_slot == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "fluentai: more than %d workers, this one's gauges "
                      "are not in the metrics",
                      NGX_HTTP_FLUENTAI_METRICS_WORKERS);
        return NGX_OK;
    }

    ngx_http_fluentai_metrics_publish();

    ngx_http_fluentai_metrics_ev.handler = ngx_http_fluentai_metrics_timer;
    ngx_http_fluentai_metrics_ev.log = cycle->log;
    ngx_http_fluentai_metrics_ev.data = cycle;
    ngx_http_fluentai_metrics_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_fluentai_metrics_ev,
                  NGX_HTTP_FLUENTAI_METRICS_PUBLISH);

    return NGX_OK;
}


void
ngx_http_fluentai_metrics_exit_worker(ngx_cycle_t *cycle)
{
    ngx_http_fluentai_worker_slot_t  *s;

    s = ngx_http_fluentai_metrics_slot;

    if (s == NULL) {
        return;
    }

    if (ngx_http_fluentai_metrics_ev.timer_set) {
        ngx_del_timer(&ngx_http_fluentai_metrics_ev);
    }

    s->busy = 0;
    s->idle = 0;
    s->waiting = 0;
    s->held = 0;
    s->hashing = 0;
    (void) ngx_atomic_cmp_set(&s->pid, ngx_pid, 0);

    ngx_http_fluentai_metrics_slot = NULL;
}


static void
ngx_http_fluentai_metrics_timer(ngx_event_t *ev)
{
    ngx_http_fluentai_metrics_publish();

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(ev, NGX_HTTP_FLUENTAI_METRICS_PUBLISH);
    }
}


void
ngx_http_fluentai_metrics_publish(void)
{
    ngx_uint_t                        busy, idle, waiting, held;
    ngx_http_fluentai_worker_slot_t  *s;

    s = ngx_http_fluentai_metrics_slot;

    if (s == NULL) {
        return;
    }

    ngx_http_fluentai_pg_stats(&busy, &idle, &waiting, &held);

    s->busy = busy;
    s->idle = idle;
    s->waiting = waiting;
    s->held = held;
    s->hashing = ngx_http_fluentai_metrics_jobs;
}


/* counting */

void
ngx_http_fluentai_metrics_count(ngx_http_fluentai_metric_e m, ngx_uint_t n)
{
    if (ngx_http_fluentai_metrics_shm && n) {
        (void) ngx_atomic_fetch_add(&ngx_http_fluentai_metrics_shm->counters[m],
                                    n);
    }
}


uint64_t
ngx_http_fluentai_metrics_now(void)
{
    struct timespec  ts;

    if (ngx_http_fluentai_metrics_shm == NULL) {
        return 0;
    }

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


void
ngx_http_fluentai_metrics_hash_time(uint64_t usec)
{
    if (ngx_http_fluentai_metrics_shm) {
        ngx_http_fluentai_metrics_observe(&ngx_http_fluentai_metrics_shm->hash,
                                          usec);
    }
}


void
ngx_http_fluentai_metrics_statement_time(ngx_uint_t sql, uint64_t usec)
{
    if (ngx_http_fluentai_metrics_shm && sql < NGX_HTTP_FLUENTAI_SQL_COUNT) {
        ngx_http_fluentai_metrics_observe(
                         &ngx_http_fluentai_metrics_shm->statements[sql], usec);
    }
}


/*
 * The pool's hook (pg_batch.c): a statement that served n lookups of
 * statement sql (1: one went alone); buckets 1, 2, 4, ... 1024
 */

void
ngx_http_fluentai_metrics_batch(ngx_uint_t sql, ngx_uint_t n)
{
    ngx_uint_t                      i;
    ngx_http_fluentai_histogram_t  *h;

    if (ngx_http_fluentai_metrics_shm == NULL
        || sql >= NGX_HTTP_FLUENTAI_SQL_COUNT)
    {
        return;
    }

    h = &ngx_http_fluentai_metrics_shm->batches[sql];

    for (i = 0; i < NGX_HTTP_FLUENTAI_METRICS_BATCH && n > (1u << i); i++) {
        /* void */
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->count, 1);
    (void) ngx_atomic_fetch_add(&h->sum, n);
}


/* on the event loop only: jobs posted and not yet completed */

void
ngx_http_fluentai_metrics_hashing(ngx_int_t delta)
{
    ngx_http_fluentai_metrics_jobs += delta;
}


void
ngx_http_fluentai_metrics_observe(ngx_http_fluentai_histogram_t *h,
    uint64_t usec)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_FLUENTAI_METRICS_BUCKETS; i++) {
        if (usec <= ngx_http_fluentai_metrics_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->count, 1);
    (void) ngx_atomic_fetch_add(&h->sum, (ngx_atomic_int_t) usec);
}
