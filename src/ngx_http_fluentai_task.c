
/*
 * Password work on the nginx thread pool.  argon2id and bcrypt take tens
 * of milliseconds, so they never run on the event loop: the request posts
 * a task holding copies of what it needs, stays blocked, and resumes
 * through its write event handler when the task is done.
 */


#include "ngx_http_fluentai.h"

#include <openssl/rand.h>
#include <sys/resource.h>
#include <sys/syscall.h>


#define NGX_HTTP_FLUENTAI_TASK_NICE       10


static void ngx_http_fluentai_task_thread(void *data, ngx_log_t *log);
static void ngx_http_fluentai_task_work(ngx_http_fluentai_pw_job_t *job);
static void ngx_http_fluentai_task_event(ngx_event_t *ev);
static void ngx_http_fluentai_wait_resume(ngx_http_request_t *r);
static void ngx_http_fluentai_task_timer(ngx_event_t *ev);


static __thread ngx_uint_t  ngx_http_fluentai_task_niced;


/*
 * Posts ctx->job; resume(r) runs when it is done.  A full thread pool
 * queue is answered with 503 "overloaded".
 */

void
ngx_http_fluentai_task(ngx_http_request_t *r, ngx_http_fluentai_ctx_t *ctx,
    ngx_http_fluentai_step_pt resume)
{
    ngx_thread_task_t  *task;

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_fluentai_pw_job_t *));
    if (task == NULL) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    *(ngx_http_fluentai_pw_job_t **) task->ctx = ctx->job;

    task->handler = ngx_http_fluentai_task_thread;
    task->event.handler = ngx_http_fluentai_task_event;
    task->event.data = r;

    if (ngx_thread_task_post(ctx->mcf->thread_pool, task) != NGX_OK) {
        ngx_http_fluentai_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE, "overloaded",
                               NULL);
        return;
    }

    ngx_http_fluentai_metrics_hashing(1);

    /*
     * A gracefully exiting worker (reload, quit) waits only for timers
     * that are not cancelable, and a running task holds none: this one
     * keeps the worker until the task is done and the request answered.
     */

    ctx->task_timer.handler = ngx_http_fluentai_task_timer;
    ctx->task_timer.data = r;
    ctx->task_timer.log = r->connection->log;
    ngx_add_timer(&ctx->task_timer, 60000);

    ngx_http_fluentai_wait(r, ctx, resume);
}


/*
 * The request waits for an event (a thread-pool task, a timer): it stays
 * blocked, so that nginx does not free it if the client goes away, until
 * ngx_http_fluentai_wait_done(); then resume(r) runs.
 */

void
ngx_http_fluentai_wait(ngx_http_request_t *r, ngx_http_fluentai_ctx_t *ctx,
    ngx_http_fluentai_step_pt resume)
{
    ctx->task_done = 0;
    ctx->resume = resume;

    r->main->blocked++;
    r->aio = 1;
    r->write_event_handler = ngx_http_fluentai_wait_resume;
}


void
ngx_http_fluentai_wait_done(ngx_http_request_t *r)
{
    ngx_connection_t         *c;
    ngx_http_fluentai_ctx_t  *ctx;

    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    r->main->blocked--;
    r->aio = 0;
    ctx->task_done = 1;

    if (ctx->task_timer.timer_set) {
        ngx_del_timer(&ctx->task_timer);
    }

    /* ours, or nginx's finalizer if the request was aborted meanwhile */
    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}


/* runs in a pool thread: only the job's own copies, no nginx calls */

static void
ngx_http_fluentai_task_thread(void *data, ngx_log_t *log)
{
    ngx_http_fluentai_pw_job_t *job = *(ngx_http_fluentai_pw_job_t **) data;

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
    ngx_http_fluentai_metrics_hashing(-1);

    ngx_http_fluentai_wait_done(ev->data);
}


static void
ngx_http_fluentai_task_timer(ngx_event_t *ev)
{
    /* still in the thread pool queue or hashing: keep waiting */
    ngx_add_timer(ev, 60000);
}


static void
ngx_http_fluentai_wait_resume(ngx_http_request_t *r)
{
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ctx == NULL || !ctx->task_done) {
        return;     /* the socket became writable meanwhile */
    }

    ctx->task_done = 0;
    r->write_event_handler = ngx_http_request_empty_handler;

    ctx->resume(r);
}


/*
 * A new job in r->pool with copies of the passwords; verify against
 * encoded (if set) and/or hash (if set).  Zeroed when the request ends.
 */

ngx_http_fluentai_pw_job_t *
ngx_http_fluentai_job(ngx_http_request_t *r, ngx_http_fluentai_ctx_t *ctx,
    const char *encoded, ngx_http_fluentai_vstr_t *password,
    ngx_http_fluentai_vstr_t *new_password)
{
    size_t                       len;
    ngx_http_fluentai_pw_job_t  *job;

    job = ngx_pcalloc(r->pool, sizeof(ngx_http_fluentai_pw_job_t));
    if (job == NULL) {
        return NULL;
    }

    job->argon2 = ctx->mcf->argon2;

    /* a salt for any hash the job may do, drawn here, not in the thread */

    if (RAND_bytes(job->salt, sizeof(job->salt)) != 1) {
        return NULL;
    }

    if (encoded) {
        len = ngx_strlen(encoded);

        job->verify = 1;
        job->encoded = ngx_pnalloc(r->pool, len + 1);
        job->password = ngx_pnalloc(r->pool, password->len + 1);

        if (job->encoded == NULL || job->password == NULL) {
            return NULL;
        }

        ngx_memcpy(job->encoded, encoded, len + 1);
        ngx_memcpy(job->password, password->data, password->len);
        job->password_len = password->len;
    }

    if (new_password) {
        job->hash = 1;
        job->new_password = ngx_pnalloc(r->pool, new_password->len + 1);

        if (job->new_password == NULL) {
            return NULL;
        }

        ngx_memcpy(job->new_password, new_password->data,
                   new_password->len);
        job->new_password_len = new_password->len;
    }

    ctx->job = job;

    return job;
}
