
/*
 * Password work on the nginx thread pool.  argon2id and bcrypt take tens
 * of milliseconds, so they never run on the event loop: the request posts
 * a task holding copies of what it needs and resumes when the task is
 * done.
 */


#include "ngx_http_fluentai.h"

#include <openssl/rand.h>
#include <sys/resource.h>
#include <sys/syscall.h>


#define NGX_HTTP_FLUENTAI_TASK_NICE       10


static void ngx_http_fluentai_task_thread(void *data, ngx_log_t *log);
static void ngx_http_fluentai_task_work(ngx_http_fluentai_pw_job_t *job);
static void ngx_http_fluentai_task_event(ngx_event_t *ev);
static void ngx_http_fluentai_task_timer(ngx_event_t *ev);
static void ngx_http_fluentai_task_free(ngx_http_fluentai_task_t *t);


static __thread ngx_uint_t  ngx_http_fluentai_task_niced;


/*
 * Posts ctx->job; resume(r) runs when it is done.  A full thread pool
 * queue is answered with 503 "overloaded".
 *
 * The request is not blocked while it waits: its client is watched, and
 * a client that goes away ends the request at once (499, the connection
 * is closed).  The job is then on its own (ngx_http_fluentai_task_release):
 * one still queued is skipped, one running finishes and its result is
 * dropped.
 */

void
ngx_http_fluentai_task(ngx_http_request_t *r, ngx_http_fluentai_ctx_t *ctx,
    ngx_http_fluentai_step_pt resume)
{
    ngx_http_fluentai_task_t  *t;

    t = ctx->task;

    t->task.ctx = &t->job;
    t->task.handler = ngx_http_fluentai_task_thread;
    t->task.event.handler = ngx_http_fluentai_task_event;
    t->task.event.data = t;
    t->task.event.log = ngx_cycle->log;

    if (ngx_thread_task_post(ctx->mcf->thread_pool, &t->task) != NGX_OK) {
        ngx_http_fluentai_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE, "overloaded",
                               NULL);
        return;
    }

    ngx_http_fluentai_metrics_hashing(1);

    t->posted = 1;
    t->request = r;
    ctx->resume = resume;

    /*
     * A gracefully exiting worker (reload, quit) waits only for timers
     * that are not cancelable, and a running task holds none: this one
     * keeps the worker until the task is done, even if the request has
     * ended meanwhile.
     */

    t->timer.handler = ngx_http_fluentai_task_timer;
    t->timer.data = t;
    t->timer.log = ngx_cycle->log;
    ngx_add_timer(&t->timer, 60000);

    r->aio = 1;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_fluentai_watch_client(r);
}


/* runs in a pool thread: only the job's own copies, no nginx calls */

static void
ngx_http_fluentai_task_thread(void *data, ngx_log_t *log)
{
    ngx_http_fluentai_pw_job_t *job = data;

    uint64_t  start;

    start = ngx_http_fluentai_metrics_now();

    ngx_http_fluentai_task_work(job);

    ngx_http_fluentai_metrics_hash_time(ngx_http_fluentai_metrics_now()
                                        - start);
}


static void
ngx_http_fluentai_task_work(ngx_http_fluentai_pw_job_t *job)
{
    /*
     * The first job of a pool thread lowers the thread's priority: with
     * as many hashing threads as cores, the event loops would otherwise
     * queue behind argon2id (bench/: profile p99 during a login storm).
     */

    if (!ngx_http_fluentai_task_niced) {
        ngx_http_fluentai_task_niced = 1;
        (void) setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid),
                           NGX_HTTP_FLUENTAI_TASK_NICE);
    }

    job->hashed = -1;

    /* the request ended while the job was queued: nobody wants it */

    ngx_memory_barrier();

    if (job->cancelled) {
        return;
    }

    if (job->verify) {
        job->verified = ngx_http_fluentai_password_verify(job->encoded,
                                                (char *) job->password,
                                                job->password_len);
        if (job->verified != 1) {
            return;
        }
    }

    if (job->hash) {
        job->hashed = ngx_http_fluentai_password_hash_salted(&job->argon2,
                                                (char *) job->new_password,
                                                job->new_password_len,
                                                job->salt,
                                                job->out, sizeof(job->out));
    }
}


static void
ngx_http_fluentai_task_event(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_fluentai_ctx_t   *ctx;
    ngx_http_fluentai_task_t  *t;

    t = ev->data;
    t->posted = 0;

    ngx_http_fluentai_metrics_hashing(-1);

    if (t->timer.timer_set) {
        ngx_del_timer(&t->timer);
    }

    r = t->request;

    if (r == NULL) {
        /* the request ended while its job ran: the result is dropped */
        ngx_http_fluentai_task_free(t);
        return;
    }

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    r->aio = 0;

    ctx->resume(r);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fluentai_task_timer(ngx_event_t *ev)
{
    /* still in the thread pool queue or hashing: keep waiting */
    ngx_add_timer(ev, 60000);
}


/*
 * The request's cleanup: a job not in the thread pool is wiped and freed
 * now; a posted one is left to its completion, and skipped if no thread
 * has taken it yet.
 */

void
ngx_http_fluentai_task_release(ngx_http_fluentai_ctx_t *ctx)
{
    ngx_http_fluentai_task_t  *t;

    t = ctx->task;

    if (t == NULL) {
        return;
    }

    ctx->task = NULL;
    ctx->job = NULL;

    if (!t->posted) {
        ngx_http_fluentai_task_free(t);
        return;
    }

    t->request = NULL;

    (void) ngx_atomic_cmp_set(&t->job.cancelled, 0, 1);
}


static void
ngx_http_fluentai_task_free(ngx_http_fluentai_task_t *t)
{
    ngx_http_fluentai_pw_job_t  *job;

    job = &t->job;

    if (job->password) {
        ngx_explicit_memzero(job->password, job->password_len);
    }

    if (job->new_password) {
        ngx_explicit_memzero(job->new_password, job->new_password_len);
    }

    ngx_explicit_memzero(t, sizeof(ngx_http_fluentai_task_t));
    ngx_free(t);
}


/*
 * Hashes a new password on the thread pool, then runs resume (register,
 * reset-password).  A continuation launcher: it answers 500 itself if
 * the job cannot be made.
 */

void
ngx_http_fluentai_task_hash(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, ngx_http_fluentai_vstr_t *new_password,
    ngx_http_fluentai_step_pt resume)
{
    if (ngx_http_fluentai_job(r, ctx, NULL, NULL, new_password) == NULL) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    ngx_http_fluentai_task(r, ctx, resume);
}


/*
 * In a continuation of a job that hashed a new password: NGX_OK if it
 * did; else logs it, answers 500 and returns NGX_DONE.
 */

ngx_int_t
ngx_http_fluentai_hashed_or_fail(ngx_http_request_t *r,
    ngx_http_fluentai_pw_job_t *job)
{
    if (job->hashed == 0) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "fluentai: password hashing failed");
    ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "internal_error", NULL);

    return NGX_DONE;
}


/*
 * A new job with copies of the passwords; verify against encoded (if
 * set) and/or hash (if set).  Outside r->pool (see task.h); wiped and
 * freed when the request ends, or after that when the job is done.
 */

ngx_http_fluentai_pw_job_t *
ngx_http_fluentai_job(ngx_http_request_t *r, ngx_http_fluentai_ctx_t *ctx,
    const char *encoded, ngx_http_fluentai_vstr_t *password,
    ngx_http_fluentai_vstr_t *new_password)
{
    u_char                      *p;
    size_t                       len, enc_len;
    ngx_http_fluentai_task_t    *t;
    ngx_http_fluentai_pw_job_t  *job;

    ngx_http_fluentai_task_release(ctx);

    enc_len = encoded ? ngx_strlen(encoded) : 0;

    len = sizeof(ngx_http_fluentai_task_t)
          + (encoded ? enc_len + 1 + password->len + 1 : 0)
          + (new_password ? new_password->len + 1 : 0);

    t = ngx_alloc(len, r->connection->log);
    if (t == NULL) {
        return NULL;
    }

    ngx_memzero(t, len);

    ctx->task = t;
    job = &t->job;
    p = (u_char *) (t + 1);

    job->argon2 = ctx->mcf->argon2;

    /* a salt for any hash the job may do, drawn here, not in the thread */

    if (RAND_bytes(job->salt, sizeof(job->salt)) != 1) {
        return NULL;
    }

    if (encoded) {
        job->verify = 1;

        job->encoded = (char *) p;
        p = ngx_cpymem(p, encoded, enc_len + 1);

        job->password = p;
        p = ngx_cpymem(p, password->data, password->len) + 1;
        job->password_len = password->len;
    }

    if (new_password) {
        job->hash = 1;

        job->new_password = p;
        ngx_memcpy(p, new_password->data, new_password->len);
        job->new_password_len = new_password->len;
    }

    ctx->job = job;

    return job;
}
