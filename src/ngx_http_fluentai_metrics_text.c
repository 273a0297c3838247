
/*
 * Prometheus metrics: GET /metrics, the text format (version 0.0.4) of
 * the shared zone (metrics.c), the counters' names and help texts.
 */


#include "ngx_http_fluentai_metrics_int.h"


#define NGX_HTTP_FLUENTAI_METRICS_LINE       256


typedef struct {
    const char                     *name;
    const char                     *help;
    const char                     *key;
    const char                     *value;
} ngx_http_fluentai_counter_t;


static u_char *ngx_http_fluentai_metrics_render(u_char *p, u_char *last);
static u_char *ngx_http_fluentai_metrics_requests(u_char *p, u_char *last);
static u_char *ngx_http_fluentai_metrics_counters(u_char *p, u_char *last);
static u_char *ngx_http_fluentai_metrics_gauges(u_char *p, u_char *last);
static u_char *ngx_http_fluentai_metrics_batches(u_char *p, u_char *last);
static u_char *ngx_http_fluentai_metrics_histogram(u_char *p, u_char *last,
    const char *name, const char *label, ngx_http_fluentai_histogram_t *h);


/*
 * At the indexes of ngx_http_fluentai_metric_e.  The request outcomes of
 * an endpoint: success, its own failure, then the common ones in the
 * order ngx_http_fluentai_metrics_class() (metrics_log.c) counts them.
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
    ngx_uint_t                        i;
    ngx_http_fluentai_metrics_shm_t  *m;

    m = ngx_http_fluentai_metrics_shm;

    p = ngx_http_fluentai_metrics_requests(p, last);
    p = ngx_http_fluentai_metrics_counters(p, last);
    p = ngx_http_fluentai_metrics_gauges(p, last);

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
                         "fluentai_db_batch_size_sum{statement=\"%s\"} "
                         "%uA\n"
                         "fluentai_db_batch_size_count{statement=\"%s\"} "
                         "%uA\n", name, count, name, h->sum, name, count);
    }

    return p;
}


/* fluentai_http_requests_total: the series seen at least once */

static u_char *
ngx_http_fluentai_metrics_requests(u_char *p, u_char *last)
{
    ngx_uint_t                        i, j, status;
    ngx_atomic_uint_t                 n;
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

    return p;
}


/* the table's counters, a HELP and TYPE before each metric name */

static u_char *
ngx_http_fluentai_metrics_counters(u_char *p, u_char *last)
{
    ngx_uint_t                        i;
    const char                       *prev;
    ngx_http_fluentai_metrics_shm_t  *m;

    m = ngx_http_fluentai_metrics_shm;
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

    return p;
}


/* the gauges: the sums of the slots of live workers */

static u_char *
ngx_http_fluentai_metrics_gauges(u_char *p, u_char *last)
{
    ngx_uint_t                        i;
    ngx_atomic_uint_t                 busy, idle, waiting, held, hashing,
                                      pid;
    ngx_http_fluentai_metrics_shm_t  *m;

    m = ngx_http_fluentai_metrics_shm;

    busy = 0;
    idle = 0;
    waiting = 0;
    held = 0;
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
        held += m->workers[i].held;
        hashing += m->workers[i].hashing;
    }

    return ngx_slprintf(p, last,
            "# HELP fluentai_db_connections Database connections of all "
            "workers, by state.\n"
            "# TYPE fluentai_db_connections gauge\n"
            "fluentai_db_connections{state=\"busy\"} %uA\n"
            "fluentai_db_connections{state=\"idle\"} %uA\n"
            "# HELP fluentai_db_waiting_requests Requests waiting for a "
            "database connection.\n"
            "# TYPE fluentai_db_waiting_requests gauge\n"
            "fluentai_db_waiting_requests %uA\n"
            "# HELP fluentai_db_coalescing_lookups Session lookups waiting "
            "for a statement of their kind to end, to go out together.\n"
            "# TYPE fluentai_db_coalescing_lookups gauge\n"
            "fluentai_db_coalescing_lookups %uA\n"
            "# HELP fluentai_hashing_jobs Password hashing jobs queued or "
            "running on the thread pools.\n"
            "# TYPE fluentai_hashing_jobs gauge\n"
            "fluentai_hashing_jobs %uA\n",
            busy, idle, waiting, held, hashing);
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
