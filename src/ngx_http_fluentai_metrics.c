
/*
 * Prometheus metrics, summed over all workers.
 *
 * Counters and histograms live in one shared memory zone and are updated
 * with atomic adds (pool threads add hashing times directly).  Gauges of
 * a worker's own state (database connections, waiting requests, hashing
 * jobs) are published by each worker into its own slot of the zone, once a
 * second and on every scrape it serves; the endpoint sums the slots of
 * live workers.  Requests are counted in the log phase by the endpoint
 * their location mounts ($fluentai_endpoint, set in the rewrite phase so
 * that it survives error_page redirects, e.g. limit_req's 429), with
 * outcomes derived from the status and the module's error code.
 */


#include "ngx_http_fluentai.h"
#include "ngx_http_fluentai_metrics.h"

#include <time.h>


#define NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS  32
#define NGX_HTTP_FLUENTAI_METRICS_WORKERS    64
#define NGX_HTTP_FLUENTAI_METRICS_BUCKETS    15
#define NGX_HTTP_FLUENTAI_METRICS_PUBLISH    1000
#define NGX_HTTP_FLUENTAI_METRICS_LINE       256
#define NGX_HTTP_FLUENTAI_METRICS_BATCH      11     /* 1 .. 1024 */


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
    ngx_atomic_t                    hashing;
} ngx_http_fluentai_worker_slot_t;


typedef struct {
    const char                     *name;
    const char                     *help;
    const char                     *key;
    const char                     *value;
} ngx_http_fluentai_counter_t;


/* statuses with their own series; anything else is "other" */
static ngx_uint_t  ngx_http_fluentai_metrics_statuses[] = {
    200, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 499,
    500, 502, 503, 504, 0
};

#define NGX_HTTP_FLUENTAI_METRICS_OTHER                                       \
    (sizeof(ngx_http_fluentai_metrics_statuses) / sizeof(ngx_uint_t) - 1)


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


static ngx_int_t ngx_http_fluentai_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_fluentai_metrics_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_fluentai_metrics_mark(ngx_http_request_t *r);
static ngx_int_t ngx_http_fluentai_metrics_log(ngx_http_request_t *r);
static void ngx_http_fluentai_metrics_outcome(ngx_http_request_t *r,
    ngx_uint_t ep, ngx_uint_t status);
static ngx_uint_t ngx_http_fluentai_metrics_status(ngx_uint_t status);
static ngx_uint_t ngx_http_fluentai_metrics_class(ngx_uint_t status,
    ngx_uint_t first);
static void ngx_http_fluentai_metrics_publish(void);
static void ngx_http_fluentai_metrics_timer(ngx_event_t *ev);
static void ngx_http_fluentai_metrics_observe(
    ngx_http_fluentai_histogram_t *h, uint64_t usec);
static u_char *ngx_http_fluentai_metrics_render(u_char *p, u_char *last);
static u_char *ngx_http_fluentai_metrics_histogram(u_char *p, u_char *last,
    const char *name, const char *label, ngx_http_fluentai_histogram_t *h);
static u_char *ngx_http_fluentai_metrics_batches(u_char *p, u_char *last);


/* histogram bucket bounds, microseconds (100 us .. 5 s) */
static uint64_t  ngx_http_fluentai_metrics_bounds[] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000, 2500000, 5000000
};


/*
 * At the indexes of ngx_http_fluentai_metric_e.  The request outcomes of
 * an endpoint: success, its own failure, then the common ones in the
 * order ngx_http_fluentai_metrics_class() counts them.
 */

#define NGX_HTTP_FLUENTAI_OUTCOMES(name, help, success, own, invalid)         \
    { name, help, "outcome", success },                                       \
    { name, help, "outcome", own },                                           \
    { name, help, "outcome", invalid },                                       \
    { name, help, "outcome", "throttled" },                                   \
    { name, help, "outcome", "unavailable" },                                 \
    { name, help, "outcome", "error" }

#define NGX_HTTP_FLUENTAI_PASSWORD_CHANGES                                    \
    "fluentai_password_changes_total", "Password changes by outcome."

#define NGX_HTTP_FLUENTAI_REVOCATIONS                                         \
    "fluentai_session_revocations_total",                                     \
    "Sessions revoked by the module, by reason."

static ngx_http_fluentai_counter_t  ngx_http_fluentai_counters[] = {

    NGX_HTTP_FLUENTAI_OUTCOMES("fluentai_logins_total",
                               "Login attempts (POST) by outcome.",
                               "success", "invalid_credentials",
                               "invalid_request"),

    NGX_HTTP_FLUENTAI_OUTCOMES("fluentai_registrations_total",
                               "Registrations (POST) by outcome.",
                               "created", "email_exists", "invalid_request"),

    NGX_HTTP_FLUENTAI_OUTCOMES("fluentai_refreshes_total",
                               "Refresh token rotations (POST) by outcome.",
                               "rotated", "reused", "invalid"),

    /* the parent again within the reuse interval: the same successor */
    { "fluentai_refreshes_total",
      "Refresh token rotations (POST) by outcome.", "outcome", "reissued" },

    { NGX_HTTP_FLUENTAI_PASSWORD_CHANGES, "outcome", "changed" },
    { NGX_HTTP_FLUENTAI_PASSWORD_CHANGES, "outcome",
      "current_password_incorrect" },

    { NGX_HTTP_FLUENTAI_REVOCATIONS, "reason", "logout" },
    { NGX_HTTP_FLUENTAI_REVOCATIONS, "reason", "refresh_token_reused" },
    { NGX_HTTP_FLUENTAI_REVOCATIONS, "reason", "revoked_by_user" }
};


/* the endpoints whose POSTs have outcome counters */
typedef enum {
    NGX_HTTP_FLUENTAI_KIND_OTHER = 0,
    NGX_HTTP_FLUENTAI_KIND_LOGIN,
    NGX_HTTP_FLUENTAI_KIND_REGISTER,
    NGX_HTTP_FLUENTAI_KIND_REFRESH,
    NGX_HTTP_FLUENTAI_KIND_CHANGE_PASSWORD
} ngx_http_fluentai_metrics_kind_e;


static ngx_str_t  ngx_http_fluentai_metrics_kinds[] = {
    ngx_null_string,
    ngx_string("login"),
    ngx_string("register"),
    ngx_string("refresh"),
    ngx_string("change_password")
};


static ngx_str_t  ngx_http_fluentai_metrics_var_name =
    ngx_string("fluentai_endpoint");

/* the endpoint table's names and kinds, in its order */
static ngx_str_t  ngx_http_fluentai_metrics_eps[
                                        NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS];
static ngx_uint_t  ngx_http_fluentai_metrics_kind[
                                        NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS];

/* this worker's view: the zone, its slot, its hashing jobs, its timer */
static ngx_http_fluentai_metrics_shm_t  *ngx_http_fluentai_metrics_shm;
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


ngx_int_t
ngx_http_fluentai_metrics_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_fluentai_metrics_var_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_fluentai_metrics_variable;

    return NGX_OK;
}


ngx_int_t
ngx_http_fluentai_metrics_postconfiguration(ngx_conf_t *cf,
    ngx_http_fluentai_endpoint_t *endpoints)
{
    ngx_uint_t                      i, k;
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_fluentai_main_conf_t  *mcf;

    for (i = 0;
         endpoints[i].name.len && i < NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS;
         i++)
    {
        ngx_http_fluentai_metrics_eps[i] = endpoints[i].name;
        ngx_http_fluentai_metrics_kind[i] = NGX_HTTP_FLUENTAI_KIND_OTHER;

        for (k = 1; k <= NGX_HTTP_FLUENTAI_KIND_CHANGE_PASSWORD; k++) {
            if (ngx_strcmp(endpoints[i].name.data,
                           ngx_http_fluentai_metrics_kinds[k].data) == 0)
            {
                ngx_http_fluentai_metrics_kind[i] = k;
            }
        }
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fluentai_module);

    mcf->metrics_var = ngx_http_get_variable_index(cf,
                                        &ngx_http_fluentai_metrics_var_name);
    if (mcf->metrics_var == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fluentai_metrics_mark;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fluentai_metrics_log;

    return NGX_OK;
}


/* $fluentai_endpoint: empty until an endpoint location is entered */

static ngx_int_t
ngx_http_fluentai_metrics_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;

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


static void
ngx_http_fluentai_metrics_publish(void)
{
    ngx_uint_t                        busy, idle, waiting;
    ngx_http_fluentai_worker_slot_t  *s;

    s = ngx_http_fluentai_metrics_slot;

    if (s == NULL) {
        return;
    }

    ngx_http_fluentai_pg_stats(&busy, &idle, &waiting);

    s->busy = busy;
    s->idle = idle;
    s->waiting = waiting;
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


static void
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


/* rewrite phase: remember the endpoint for the log phase */

static ngx_int_t
ngx_http_fluentai_metrics_mark(ngx_http_request_t *r)
{
    ngx_http_variable_value_t      *v;
    ngx_http_fluentai_loc_conf_t   *lcf;
    ngx_http_fluentai_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);

    if (lcf->endpoint == NULL) {
        return NGX_DECLINED;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_module);
    v = &r->variables[mcf->metrics_var];

    v->data = lcf->endpoint->name.data;
    v->len = lcf->endpoint->name.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_fluentai_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                      ep, status;
    ngx_http_variable_value_t      *v;
    ngx_http_fluentai_main_conf_t  *mcf;

    if (ngx_http_fluentai_metrics_shm == NULL) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_module);
    v = &r->variables[mcf->metrics_var];

    if (!v->valid || v->not_found) {
        return NGX_OK;
    }

    for (ep = 0; ep < NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS; ep++) {
        if (ngx_http_fluentai_metrics_eps[ep].data == v->data) {
            break;
        }
    }

    if (ep == NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS) {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    (void) ngx_atomic_fetch_add(&ngx_http_fluentai_metrics_shm->requests[ep]
                            [ngx_http_fluentai_metrics_status(status)], 1);

    /* r->method: an error_page redirect turns it into GET */

    if (r->request_line.len > 5
        && ngx_strncmp(r->request_line.data, "POST ", 5) == 0)
    {
        ngx_http_fluentai_metrics_outcome(r, ep, status);
    }

    return NGX_OK;
}


/*
 * The outcome series of an endpoint: its first counter is success, then
 * (where it has them) the endpoint's own codes, then invalid_request,
 * throttled, unavailable, error.
 */

static void
ngx_http_fluentai_metrics_outcome(ngx_http_request_t *r, ngx_uint_t ep,
    ngx_uint_t status)
{
    ngx_str_t                 code;
    ngx_uint_t                m;
    ngx_http_fluentai_ctx_t  *ctx;

    ngx_str_null(&code);

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    if (ctx) {
        code = ctx->error_code;
    }

#define ngx_http_fluentai_code_is(s)                                          \
    (code.len == sizeof(s) - 1 && ngx_strncmp(code.data, s, code.len) == 0)

    switch (ngx_http_fluentai_metrics_kind[ep]) {

    case NGX_HTTP_FLUENTAI_KIND_LOGIN:
        m = ngx_http_fluentai_code_is("invalid_credentials")
            ? NGX_HTTP_FLUENTAI_M_LOGIN_INVALID_CREDENTIALS
            : ngx_http_fluentai_metrics_class(status,
                                          NGX_HTTP_FLUENTAI_M_LOGIN_SUCCESS);
        break;

    case NGX_HTTP_FLUENTAI_KIND_REGISTER:
        m = ngx_http_fluentai_code_is("email_exists")
            ? NGX_HTTP_FLUENTAI_M_REGISTER_EMAIL_EXISTS
            : ngx_http_fluentai_metrics_class(status,
                                        NGX_HTTP_FLUENTAI_M_REGISTER_CREATED);
        break;

    case NGX_HTTP_FLUENTAI_KIND_REFRESH:
        if (ngx_http_fluentai_code_is("refresh_token_reused")) {
            m = NGX_HTTP_FLUENTAI_M_REFRESH_REUSED;
            ngx_http_fluentai_metrics_count(
                                    NGX_HTTP_FLUENTAI_M_REVOKED_REUSED, 1);

        } else if (status == NGX_HTTP_UNAUTHORIZED) {
            m = NGX_HTTP_FLUENTAI_M_REFRESH_INVALID;

        } else if (status == NGX_HTTP_OK && ctx && ctx->reissued) {
            m = NGX_HTTP_FLUENTAI_M_REFRESH_REISSUED;

        } else {
            /* "invalid" is at invalid_request's place */
            m = ngx_http_fluentai_metrics_class(status,
                                         NGX_HTTP_FLUENTAI_M_REFRESH_ROTATED);
        }

        break;

    case NGX_HTTP_FLUENTAI_KIND_CHANGE_PASSWORD:
        if (status == NGX_HTTP_OK) {
            m = NGX_HTTP_FLUENTAI_M_PASSWORD_CHANGED;

        } else if (ngx_http_fluentai_code_is("current_password_incorrect")) {
            m = NGX_HTTP_FLUENTAI_M_PASSWORD_INCORRECT;

        } else {
            return;
        }

        break;

    default:
        return;
    }

#undef ngx_http_fluentai_code_is

    ngx_http_fluentai_metrics_count(m, 1);
}


/* the index of a status in the requests array */

static ngx_uint_t
ngx_http_fluentai_metrics_status(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_FLUENTAI_METRICS_OTHER; i++) {
        if (ngx_http_fluentai_metrics_statuses[i] == status) {
            return i;
        }
    }

    return NGX_HTTP_FLUENTAI_METRICS_OTHER;
}


/*
 * The outcome counter of a status, counting from the endpoint's first
 * (success) counter: success, (own code), invalid_request, throttled,
 * unavailable, error; the own code's place is the callers' business.
 */

static ngx_uint_t
ngx_http_fluentai_metrics_class(ngx_uint_t status, ngx_uint_t first)
{
    switch (status) {

    case NGX_HTTP_OK:
        return first;

    case NGX_HTTP_BAD_REQUEST:
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
    case NGX_HTTP_FLUENTAI_UNPROCESSABLE:
        return first + 2;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return first + 3;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return first + 4;

    default:
        return first + 5;
    }
}


/* GET /metrics: the Prometheus text format (version 0.0.4) */

void
ngx_http_fluentai_metrics_send(ngx_http_request_t *r)
{
    size_t        size;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    /* "fluentai_metrics off": nginx's own 404 */

    if (ngx_http_fluentai_metrics_shm == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_NOT_FOUND);
        return;
    }

    ngx_http_fluentai_metrics_publish();

    size = NGX_HTTP_FLUENTAI_METRICS_LINE
           * (64 + NGX_HTTP_FLUENTAI_M_COUNT
              + NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS
                * (NGX_HTTP_FLUENTAI_METRICS_OTHER + 1)
              + (NGX_HTTP_FLUENTAI_SQL_COUNT + 1)
                * (NGX_HTTP_FLUENTAI_METRICS_BUCKETS + 4) * 2);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->last = ngx_http_fluentai_metrics_render(b->pos, b->end);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    if (ngx_http_fluentai_header(r, "Cache-Control", (u_char *) "no-store",
                                 sizeof("no-store") - 1)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));
}


static u_char *
ngx_http_fluentai_metrics_render(u_char *p, u_char *last)
{
    ngx_uint_t                        i, j, status;
    ngx_atomic_uint_t                 n, busy, idle, waiting, hashing, pid;
    const char                       *prev;
    ngx_http_fluentai_metrics_shm_t  *m;

    m = ngx_http_fluentai_metrics_shm;

    p = ngx_slprintf(p, last,
            "# HELP fluentai_http_requests_total Requests to the module's "
            "endpoints, by endpoint and final status.\n"
            "# TYPE fluentai_http_requests_total counter\n");

    for (i = 0; i < NGX_HTTP_FLUENTAI_METRICS_ENDPOINTS; i++) {
        for (j = 0; j <= NGX_HTTP_FLUENTAI_METRICS_OTHER; j++) {
            n = m->requests[i][j];
            if (n == 0) {
                continue;
            }

            status = ngx_http_fluentai_metrics_statuses[j];

            if (j == NGX_HTTP_FLUENTAI_METRICS_OTHER) {
                p = ngx_slprintf(p, last, "fluentai_http_requests_total"
                                 "{endpoint=\"%V\",status=\"other\"} %uA\n",
                                 &ngx_http_fluentai_metrics_eps[i], n);
            } else {
                p = ngx_slprintf(p, last, "fluentai_http_requests_total"
                                 "{endpoint=\"%V\",status=\"%ui\"} %uA\n",
                                 &ngx_http_fluentai_metrics_eps[i], status,
                                 n);
            }
        }
    }

    prev = NULL;

    for (i = 0; i < NGX_HTTP_FLUENTAI_M_COUNT; i++) {
        if (prev == NULL || ngx_strcmp(prev, ngx_http_fluentai_counters[i].name)
                            != 0)
        {
            prev = ngx_http_fluentai_counters[i].name;
            p = ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s counter\n",
                             prev, ngx_http_fluentai_counters[i].help, prev);
        }

        p = ngx_slprintf(p, last, "%s{%s=\"%s\"} %uA\n", prev,
                         ngx_http_fluentai_counters[i].key,
                         ngx_http_fluentai_counters[i].value,
                         m->counters[i]);
    }

    busy = 0;
    idle = 0;
    waiting = 0;
    hashing = 0;

    for (i = 0; i < NGX_HTTP_FLUENTAI_METRICS_WORKERS; i++) {
        pid = m->workers[i].pid;

        if (pid == 0
            || (kill((pid_t) pid, 0) != 0 && ngx_errno == ESRCH))
        {
            continue;
        }

        busy += m->workers[i].busy;
        idle += m->workers[i].idle;
        waiting += m->workers[i].waiting;
        hashing += m->workers[i].hashing;
    }

    p = ngx_slprintf(p, last,
            "# HELP fluentai_db_connections Database connections of all "
            "workers, by state.\n"
            "# TYPE fluentai_db_connections gauge\n"
            "fluentai_db_connections{state=\"busy\"} %uA\n"
            "fluentai_db_connections{state=\"idle\"} %uA\n"
            "# HELP fluentai_db_waiting_requests Requests waiting for a "
            "database connection.\n"
            "# TYPE fluentai_db_waiting_requests gauge\n"
            "fluentai_db_waiting_requests %uA\n"
            "# HELP fluentai_hashing_jobs Password hashing jobs queued or "
            "running on the thread pools.\n"
            "# TYPE fluentai_hashing_jobs gauge\n"
            "fluentai_hashing_jobs %uA\n",
            busy, idle, waiting, hashing);

    p = ngx_slprintf(p, last,
            "# HELP fluentai_password_hash_seconds Time of one password "
            "hashing job (verify and/or hash) on a pool thread.\n"
            "# TYPE fluentai_password_hash_seconds histogram\n");
    p = ngx_http_fluentai_metrics_histogram(p, last,
                                            "fluentai_password_hash_seconds",
                                            NULL, &m->hash);

    p = ngx_slprintf(p, last,
            "# HELP fluentai_db_statement_seconds Time from sending a "
            "statement to its result, by statement.\n"
            "# TYPE fluentai_db_statement_seconds histogram\n");

    for (i = 0; i < NGX_HTTP_FLUENTAI_SQL_COUNT; i++) {
        p = ngx_http_fluentai_metrics_histogram(p, last,
                                            "fluentai_db_statement_seconds",
                                            ngx_http_fluentai_sql[i].name,
                                            &m->statements[i]);
    }

    return ngx_http_fluentai_metrics_batches(p, last);
}


/* the coalescable lookups' statements, by size (see pg_batch.c) */

static u_char *
ngx_http_fluentai_metrics_batches(u_char *p, u_char *last)
{
    ngx_uint_t                      i, j;
    const char                     *name;
    ngx_atomic_uint_t               cum, count;
    ngx_http_fluentai_histogram_t  *h;

    p = ngx_slprintf(p, last,
            "# HELP fluentai_db_batch_size Lookups one statement served "
            "(1: it went alone), by lookup statement.\n"
            "# TYPE fluentai_db_batch_size histogram\n");

    for (i = 0; i < NGX_HTTP_FLUENTAI_SQL_COUNT; i++) {
        if (ngx_http_fluentai_sql[i].keys == 0) {
            continue;
        }

        h = &ngx_http_fluentai_metrics_shm->batches[i];
        name = ngx_http_fluentai_sql[i].name;
        count = h->count;
        cum = 0;

        for (j = 0; j < NGX_HTTP_FLUENTAI_METRICS_BATCH; j++) {
            cum += h->bucket[j];
            p = ngx_slprintf(p, last, "fluentai_db_batch_size_bucket"
                             "{statement=\"%s\",le=\"%ui\"} %uA\n",
                             name, (ngx_uint_t) 1 << j, ngx_min(cum, count));
        }

        p = ngx_slprintf(p, last, "fluentai_db_batch_size_bucket"
                         "{statement=\"%s\",le=\"+Inf\"} %uA\n"
                         "fluentai_db_batch_size_sum{statement=\"%s\"} %uA\n"
                         "fluentai_db_batch_size_count{statement=\"%s\"} "
                         "%uA\n", name, count, name, h->sum, name, count);
    }

    return p;
}


static u_char *
ngx_http_fluentai_metrics_histogram(u_char *p, u_char *last,
    const char *name, const char *label, ngx_http_fluentai_histogram_t *h)
{
    ngx_uint_t         i;
    const char        *sep;
    ngx_atomic_uint_t  cum, count, sum;
    u_char             lbl[NGX_HTTP_FLUENTAI_METRICS_LINE];

    sep = label ? "," : "";

    if (label) {
        *ngx_snprintf(lbl, sizeof(lbl) - 1, "statement=\"%s\"", label) = '\0';
    } else {
        lbl[0] = '\0';
    }

    /* the count first: buckets may run ahead of it, never behind */
    count = h->count;
    sum = h->sum;
    cum = 0;

    for (i = 0; i < NGX_HTTP_FLUENTAI_METRICS_BUCKETS; i++) {
        cum += h->bucket[i];
        p = ngx_slprintf(p, last, "%s_bucket{%s%sle=\"%uL.%06uL\"} %uA\n",
                         name, lbl, sep,
                         ngx_http_fluentai_metrics_bounds[i] / 1000000,
                         ngx_http_fluentai_metrics_bounds[i] % 1000000,
                         ngx_min(cum, count));
    }

    p = ngx_slprintf(p, last, "%s_bucket{%s%sle=\"+Inf\"} %uA\n",
                     name, lbl, sep, count);

    if (label) {
        return ngx_slprintf(p, last, "%s_sum{%s} %uA.%06uA\n"
                            "%s_count{%s} %uA\n",
                            name, lbl, sum / 1000000, sum % 1000000,
                            name, lbl, count);
    }

    return ngx_slprintf(p, last, "%s_sum %uA.%06uA\n%s_count %uA\n",
                        name, sum / 1000000, sum % 1000000, name, count);
}
