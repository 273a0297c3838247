
/*
 * Password work on the nginx thread pool (task.c): a job holds copies of
 * everything it needs; the request resumes when the job is done.
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
    u_char                          salt[NGX_HTTP_FLUENTAI_SALT_LEN];
    char                            out[NGX_HTTP_FLUENTAI_HASH_MAX];
} ngx_http_fluentai_pw_job_t;


#endif /* _NGX_HTTP_FLUENTAI_TASK_H_INCLUDED_ */
