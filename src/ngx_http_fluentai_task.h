
/*
 * Password work on the nginx thread pool (task.c): a job holds copies of
 * everything it needs; the request resumes when the job is done.  The job
 * lives outside the request's pool, so a request whose client went away
 * can end while its job is still queued or running.
 */

#ifndef _NGX_HTTP_FLUENTAI_TASK_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_TASK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_thread_pool.h>

#include "ngx_http_fluentai_password.h"


/* a password job for the thread pool; all data copied in */
typedef struct {
    ngx_http_fluentai_argon2_t      argon2;
    char                           *encoded;        /* verify against */
    u_char                         *password;
    size_t                          password_len;
    u_char                         *new_password;   /* hash this */
    size_t                          new_password_len;
    unsigned                        verify:1;
    unsigned                        hash:1;
    int                             verified;       /* 1, 0, -1 */
    int                             hashed;         /* 0 ok, -1 */
    ngx_atomic_t                    cancelled;      /* the request ended */
    u_char                          salt[NGX_HTTP_FLUENTAI_SALT_LEN];
    char                            out[NGX_HTTP_FLUENTAI_HASH_MAX];
} ngx_http_fluentai_pw_job_t;


/*
 * A job with its thread pool task, in memory of its own (ngx_alloc): the
 * request that posted it may end first (its client went away); then the
 * job's completion frees it.  Otherwise the request's cleanup does.
 */
typedef struct {
    ngx_thread_task_t               task;
    ngx_http_fluentai_pw_job_t      job;
    ngx_http_request_t             *request;        /* NULL: it has ended */
    ngx_event_t                     timer;          /* keeps the worker */
    unsigned                        posted:1;       /* in the thread pool */
} ngx_http_fluentai_task_t;


#endif /* _NGX_HTTP_FLUENTAI_TASK_H_INCLUDED_ */
