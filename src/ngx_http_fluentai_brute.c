
/*
 * Brute force and account enumeration: the answers of a failed login.
 *
 * A failed login (unknown email, wrong password, inactive user) is
 * answered no earlier than fluentai_login_failure_delay after the login
 * began, on a timer: whatever the stored hash (a legacy bcrypt one, an
 * argon2id one with old parameters, the dummy hash of an unknown email)
 * every failure takes the same time, as long as the verify itself took
 * less.  An account over its failed-login limit (counted in the database,
 * sql/migrations/040) is answered 429 "too_many_attempts" with
 * Retry-After.
 */


#include "ngx_http_fluentai.h"


/* at most one "verify took longer than the delay" line a minute a worker */
#define NGX_HTTP_FLUENTAI_SLOW_WARN_EVERY   60


static void ngx_http_fluentai_delay_event(ngx_event_t *ev);
static void ngx_http_fluentai_fail_login_now(ngx_http_request_t *r);


static time_t  ngx_http_fluentai_slow_warned;


/* the clock of fluentai_login_failure_delay starts here */

void
ngx_http_fluentai_login_begin(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    ctx->login_start = ngx_current_msec;
}


/*
 * 401 invalid_credentials, once fluentai_login_failure_delay has passed
 * since the login began.  Meanwhile the client is watched (as while a
 * hash or a query runs): a client that goes away ends the request at
 * once, and its cleanup deletes the timer.
 */

void
ngx_http_fluentai_fail_login(ngx_http_request_t *r)
{
    ngx_msec_t                elapsed, delay;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    delay = ctx->mcf->login_failure_delay;
    elapsed = ngx_current_msec - ctx->login_start;

    if (elapsed >= delay) {
        if (delay && ngx_time() - ngx_http_fluentai_slow_warned
                     >= NGX_HTTP_FLUENTAI_SLOW_WARN_EVERY)
        {
            ngx_http_fluentai_slow_warned = ngx_time();
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "fluentai: a failed login took %M ms, longer "
                          "than fluentai_login_failure_delay %M ms: its "
                          "time may tell the kind of stored hash",
                          elapsed, delay);
        }

        ngx_http_fluentai_fail_login_now(r);
        return;
    }

    ctx->delay_timer.handler = ngx_http_fluentai_delay_event;
    ctx->delay_timer.data = r;
    ctx->delay_timer.log = r->connection->log;
    ngx_add_timer(&ctx->delay_timer, delay - elapsed);

    r->aio = 1;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_fluentai_watch_client(r);
}


static void
ngx_http_fluentai_delay_event(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    r->aio = 0;

    ngx_http_fluentai_fail_login_now(r);

    ngx_http_run_posted_requests(c);
}


/* the request's cleanup: a delay still pending ends with it */

void
ngx_http_fluentai_login_delay_release(ngx_http_fluentai_ctx_t *ctx)
{
    if (ctx->delay_timer.timer_set) {
        ngx_del_timer(&ctx->delay_timer);
    }
}


static void
ngx_http_fluentai_fail_login_now(ngx_http_request_t *r)
{
    ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid_credentials",
                           NULL);
}


/*
 * 429 too_many_attempts: the account's failed-login window is full;
 * retry_after (seconds, as the database computed it) is at least 1.
 */

void
ngx_http_fluentai_fail_too_many_attempts(ngx_http_request_t *r,
    ngx_int_t retry_after)
{
    u_char  *p, *last;

    if (retry_after < 1) {
        retry_after = 1;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);

    if (p) {
        last = ngx_sprintf(p, "%i", retry_after);

        if (ngx_http_fluentai_header(r, "Retry-After", p, last - p)
            != NGX_OK)
        {
            p = NULL;
        }
    }

    if (p == NULL) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    ngx_http_fluentai_fail(r, NGX_HTTP_TOO_MANY_REQUESTS,
                           "too_many_attempts", NULL);
}
