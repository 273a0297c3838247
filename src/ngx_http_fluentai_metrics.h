
/*
 * Prometheus metrics: counters, gauges and histograms in a shared memory
 * zone, summed over all workers (src/ngx_http_fluentai_metrics*.c).
 *
 * To add a counter: a value below (before NGX_HTTP_FLUENTAI_M_COUNT), a
 * line in ngx_http_fluentai_counters[] in metrics_text.c at the same index
 * (series of one metric name stay next to each other), and a call to
 * ngx_http_fluentai_metrics_count() where it happens.  Everything works
 * without the zone ("fluentai_metrics off"): the calls do nothing.
 */


#ifndef _NGX_HTTP_FLUENTAI_METRICS_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef enum {
    NGX_HTTP_FLUENTAI_M_LOGIN_SUCCESS = 0,
    NGX_HTTP_FLUENTAI_M_LOGIN_INVALID_CREDENTIALS,
    NGX_HTTP_FLUENTAI_M_LOGIN_INVALID_REQUEST,
    NGX_HTTP_FLUENTAI_M_LOGIN_THROTTLED,
    NGX_HTTP_FLUENTAI_M_LOGIN_UNAVAILABLE,
    NGX_HTTP_FLUENTAI_M_LOGIN_ERROR,

    NGX_HTTP_FLUENTAI_M_REGISTER_CREATED,
    NGX_HTTP_FLUENTAI_M_REGISTER_EMAIL_EXISTS,
    NGX_HTTP_FLUENTAI_M_REGISTER_INVALID_REQUEST,
    NGX_HTTP_FLUENTAI_M_REGISTER_THROTTLED,
    NGX_HTTP_FLUENTAI_M_REGISTER_UNAVAILABLE,
    NGX_HTTP_FLUENTAI_M_REGISTER_ERROR,

    NGX_HTTP_FLUENTAI_M_REFRESH_ROTATED,
    NGX_HTTP_FLUENTAI_M_REFRESH_REUSED,
    NGX_HTTP_FLUENTAI_M_REFRESH_INVALID,
    NGX_HTTP_FLUENTAI_M_REFRESH_THROTTLED,
    NGX_HTTP_FLUENTAI_M_REFRESH_UNAVAILABLE,
    NGX_HTTP_FLUENTAI_M_REFRESH_ERROR,
    NGX_HTTP_FLUENTAI_M_REFRESH_REISSUED,

    NGX_HTTP_FLUENTAI_M_PASSWORD_CHANGED,
    NGX_HTTP_FLUENTAI_M_PASSWORD_INCORRECT,

    NGX_HTTP_FLUENTAI_M_REVOKED_LOGOUT,
    NGX_HTTP_FLUENTAI_M_REVOKED_REUSED,
    NGX_HTTP_FLUENTAI_M_REVOKED_BY_USER,

    NGX_HTTP_FLUENTAI_M_COUNT
} ngx_http_fluentai_metric_e;


typedef struct ngx_http_fluentai_metrics_shm_s
    ngx_http_fluentai_metrics_shm_t;


/* configuration: the zone, $fluentai_endpoint, the phase handlers */
ngx_int_t ngx_http_fluentai_metrics_preconfiguration(ngx_conf_t *cf);
char *ngx_http_fluentai_metrics_zone(ngx_conf_t *cf, ngx_shm_zone_t **zone);
ngx_int_t ngx_http_fluentai_metrics_postconfiguration(ngx_conf_t *cf,
    ngx_http_fluentai_endpoint_t *endpoints);

/* worker start and exit */
ngx_int_t ngx_http_fluentai_metrics_init_worker(ngx_cycle_t *cycle,
    ngx_shm_zone_t *zone);
void ngx_http_fluentai_metrics_exit_worker(ngx_cycle_t *cycle);

/* counting; safe in pool threads (atomics on the zone only) */
void ngx_http_fluentai_metrics_count(ngx_http_fluentai_metric_e m,
    ngx_uint_t n);
uint64_t ngx_http_fluentai_metrics_now(void);
void ngx_http_fluentai_metrics_hash_time(uint64_t usec);
void ngx_http_fluentai_metrics_statement_time(ngx_uint_t sql, uint64_t usec);
void ngx_http_fluentai_metrics_batch(ngx_uint_t sql, ngx_uint_t n);
void ngx_http_fluentai_metrics_hashing(ngx_int_t delta);

/* the endpoint: "fluentai_endpoint metrics" */
void ngx_http_fluentai_metrics_send(ngx_http_request_t *r);


#endif /* _NGX_HTTP_FLUENTAI_METRICS_H_INCLUDED_ */
