
/*
 * FluentAI auth API for nginx: the configuration, the request context,
 * and the HTTP side's functions.  The database layer has its own headers
 * (ngx_http_fluentai_pg.h, ngx_http_fluentai_sql.h) and knows nothing of
 * what is declared here.
 */

#ifndef _NGX_HTTP_FLUENTAI_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <jansson.h>

#include "ngx_http_fluentai_jwt.h"
#include "ngx_http_fluentai_json.h"
#include "ngx_http_fluentai_token.h"
#include "ngx_http_fluentai_password.h"
#include "ngx_http_fluentai_validate.h"
#include "ngx_http_fluentai_pg.h"
#include "ngx_http_fluentai_task.h"


#define NGX_HTTP_FLUENTAI_MAX_BODY         16384
#define NGX_HTTP_FLUENTAI_SECRET_MIN       32
#define NGX_HTTP_FLUENTAI_UNPROCESSABLE    422

/* "fluentai_auth_jwt": off, on (stateless), session (and the database) */
#define NGX_HTTP_FLUENTAI_GATE_OFF         0
#define NGX_HTTP_FLUENTAI_GATE_ON          1
#define NGX_HTTP_FLUENTAI_GATE_SESSION     2


/* a step of a request: an endpoint, or a continuation after a hash */
typedef void (*ngx_http_fluentai_step_pt)(ngx_http_request_t *r);

/* a continuation after a query: res is the statement's result */
typedef void (*ngx_http_fluentai_done_pt)(ngx_http_request_t *r,
    PGresult *res);


/* one row of the endpoint table (ngx_http_fluentai_module.c) */
typedef struct {
    ngx_str_t                       name;       /* "fluentai_endpoint" */
    ngx_uint_t                      methods;    /* OPTIONS always too */
    ngx_http_fluentai_step_pt       get;        /* GET, HEAD */
    ngx_http_fluentai_step_pt       post;       /* POST, PUT, DELETE */
    unsigned                        body_required:1;
} ngx_http_fluentai_endpoint_t;


typedef struct {
    ngx_http_fluentai_pg_conf_t     db;

    ngx_str_t                       secret;
    u_char                          kid[17];
    u_char                          successor_key[32]; /* conf.c */

    time_t                          access_ttl;
    time_t                          refresh_ttl;
    time_t                          short_ttl;
    time_t                          reuse_interval;
    time_t                          max_lifetime;    /* of a session */

    ngx_http_fluentai_argon2_t      argon2;
    ngx_flag_t                      argon2_set;
    char                            dummy_hash[NGX_HTTP_FLUENTAI_HASH_MAX];

    ngx_thread_pool_t              *thread_pool;

    ngx_array_t                    *cors_origins;    /* of ngx_str_t */
    ngx_array_t                    *redacted_logs;   /* of ngx_log_t * */

    ngx_flag_t                      metrics;
    ngx_shm_zone_t                 *metrics_zone;
    ngx_int_t                       metrics_var;     /* $fluentai_endpoint */

    ngx_hash_t                      blocklist;       /* common passwords */

    ngx_msec_t                      login_failure_delay;
    ngx_int_t                       throttle_max;    /* 0: off */
    time_t                          throttle_window;

    ngx_uint_t                      endpoints;       /* number mounted */
    ngx_uint_t                      jwt_used;
    ngx_uint_t                      gate_session;    /* "session" used */
    ngx_str_t                      *conf_file;
    ngx_uint_t                      conf_line;
} ngx_http_fluentai_main_conf_t;


typedef struct {
    ngx_http_fluentai_endpoint_t   *endpoint;        /* NULL: none */
    ngx_str_t                       allow;           /* "GET, ..., OPTIONS" */
    ngx_uint_t                      auth_jwt;        /* GATE_* */
    ngx_flag_t                      error_page;      /* fluentai_error_page */
    ngx_str_t                       retry_after;     /* its 429's header */
} ngx_http_fluentai_loc_conf_t;


typedef struct {
    ngx_http_fluentai_main_conf_t  *mcf;
    json_t                         *body;
    json_t                         *user;

    ngx_http_fluentai_step_pt       resume;          /* after a hash */
    ngx_http_fluentai_task_t       *task;            /* see task.c */
    ngx_http_fluentai_pw_job_t     *job;             /* &task->job */

    ngx_http_fluentai_done_pt       done;            /* after a query */
    ngx_http_fluentai_pg_req_t      pg;
    ngx_http_fluentai_query_t       query;

    ngx_http_fluentai_jwt_claims_t  claims;
    ngx_http_fluentai_credentials_t cred;
    ngx_http_fluentai_profile_update_t  profile;
    ngx_http_fluentai_password_change_t passwords;

    ngx_str_t                       user_id;         /* $fluentai_user_id */
    ngx_str_t                       session_id;
    ngx_str_t                       error_code;      /* $fluentai_error_code */
    ngx_str_t                       old_hash;        /* verified hash */
    ngx_str_t                       cred_version;    /* read with it */
    ngx_str_t                       raw_args;        /* before redaction */
    time_t                          session_end;     /* 0: unknown */
    ngx_flag_t                      active;
    const char                     *gate_code;       /* session check */
    const char                     *logout_scope;    /* local, others, ... */

    ngx_msec_t                      login_start;     /* see brute.c */
    ngx_event_t                     delay_timer;

    /* the new refresh token and its hash; the hash of the presented one */
    u_char                          refresh[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1];
    u_char                          refresh_hash[NGX_HTTP_FLUENTAI_HASH_LEN];
    u_char                          presented[NGX_HTTP_FLUENTAI_HASH_LEN];

    unsigned                        query_sync:1;
    unsigned                        query_failures:1; /* done gets NULL */
    unsigned                        has_bearer:1;
    unsigned                        has_refresh:1;
    unsigned                        email_verified:1; /* login */
    unsigned                        mail_queued:1;    /* register */
    ngx_uint_t                      mail_kind;        /* recovery.c */
    unsigned                        gate:2;          /* 1 waits, 2 done */
    unsigned                        reissued:1;      /* refresh, metrics */
} ngx_http_fluentai_ctx_t;


extern ngx_module_t  ngx_http_fluentai_module;


/* adds a response header (key and value are not copied) */

static ngx_inline ngx_int_t
ngx_http_fluentai_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


#include "ngx_http_fluentai_metrics.h"


/* http.c: the content handler, the one way to answer, variables */
ngx_int_t ngx_http_fluentai_handler(ngx_http_request_t *r);
ngx_http_fluentai_ctx_t *ngx_http_fluentai_ctx(ngx_http_request_t *r);
void ngx_http_fluentai_finish(ngx_http_request_t *r, ngx_uint_t status,
    json_t *obj);
void ngx_http_fluentai_finish_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b);
void ngx_http_fluentai_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, json_t *details);
ngx_int_t ngx_http_fluentai_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
json_t *ngx_http_fluentai_detail(const char *field, const char *msg,
    const char *type);
json_t *ngx_http_fluentai_details_or_fail(ngx_http_request_t *r);
void ngx_http_fluentai_watch_client(ngx_http_request_t *r);
ngx_int_t ngx_http_fluentai_add_variables(ngx_conf_t *cf);

/* error_page.c: nginx's own errors in the contract's shape */
char *ngx_http_fluentai_error_page(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* cors.c */
ngx_int_t ngx_http_fluentai_cors_headers(ngx_http_request_t *r);
ngx_int_t ngx_http_fluentai_cors_preflight(ngx_http_request_t *r,
    ngx_str_t *allow);
char *ngx_http_fluentai_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* query.c: a request's query through the database layer */
void ngx_http_fluentai_query(ngx_http_request_t *r,
    ngx_http_fluentai_done_pt done);
void ngx_http_fluentai_param_max(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i);
ngx_int_t ngx_http_fluentai_rows(ngx_http_request_t *r, PGresult *res,
    ngx_uint_t exactly_one);
ngx_int_t ngx_http_fluentai_rows_or_fail(ngx_http_request_t *r,
    PGresult *res, ngx_uint_t exactly_one);
ngx_int_t ngx_http_fluentai_sqlstate(PGresult *res, const char *state);
void ngx_http_fluentai_param_session(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);

/* audit.c: the trail's client address and user agent, failed logins */
void ngx_http_fluentai_audit_params(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i);
void ngx_http_fluentai_audit_login_failed(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *reason);

/* task.c: password work on the thread pool */
void ngx_http_fluentai_task(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, ngx_http_fluentai_step_pt resume);
ngx_http_fluentai_pw_job_t *ngx_http_fluentai_job(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *encoded,
    ngx_http_fluentai_vstr_t *password,
    ngx_http_fluentai_vstr_t *new_password);
void ngx_http_fluentai_task_release(ngx_http_fluentai_ctx_t *ctx);
void ngx_http_fluentai_task_hash(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, ngx_http_fluentai_vstr_t *new_password,
    ngx_http_fluentai_step_pt resume);
ngx_int_t ngx_http_fluentai_hashed_or_fail(ngx_http_request_t *r,
    ngx_http_fluentai_pw_job_t *job);

/* redact.c: no secret in any log line */
size_t ngx_http_fluentai_redact(u_char *dst, size_t cap, u_char *src,
    size_t len);
ngx_int_t ngx_http_fluentai_redact_log(ngx_conf_t *cf, ngx_array_t **logs,
    ngx_log_t *log);
ngx_int_t ngx_http_fluentai_redact_handler(ngx_http_request_t *r);

/* wipe.c: plaintext passwords before their memory is freed */
void ngx_http_fluentai_wipe_init(void);
void ngx_http_fluentai_wipe_body(ngx_http_request_t *r, ngx_str_t *copy);

/* gate.c: "fluentai_auth_jwt" for other locations */
ngx_int_t ngx_http_fluentai_access_handler(ngx_http_request_t *r);

/* session.c: the bearer token, new tokens, the bodies that carry them */
const char *ngx_http_fluentai_bearer(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
ngx_int_t ngx_http_fluentai_bearer_or_fail(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
json_t *ngx_http_fluentai_bearer_details_or_fail(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
ngx_int_t ngx_http_fluentai_new_refresh_token(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
json_t *ngx_http_fluentai_token_body(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *user_id,
    const char *session_id);
json_t *ngx_http_fluentai_user_json(PGresult *res, int row, int col);
ngx_buf_t *ngx_http_fluentai_user_buf(ngx_http_request_t *r, PGresult *res,
    int row, int col);
void ngx_http_fluentai_set_ids(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *user_id,
    const char *session_id);

/* conf.c: the directives' values, configuration-time work */
char *ngx_http_fluentai_database(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fluentai_database_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fluentai_database_coalesce(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_fluentai_statement_timeout(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_fluentai_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fluentai_password_hash_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_fluentai_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fluentai_login_throttle(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_fluentai_auth_jwt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_fluentai_conf_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_pool_t *pool, size_t max, const char *what, ngx_str_t *out);
ngx_int_t ngx_http_fluentai_dummy_hash(ngx_conf_t *cf,
    ngx_http_fluentai_main_conf_t *mcf);

/* blocklist.c: new passwords too weak to take */
char *ngx_http_fluentai_password_blocklist(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_uint_t ngx_http_fluentai_password_common(
    ngx_http_fluentai_main_conf_t *mcf, ngx_http_fluentai_vstr_t *password);
ngx_int_t ngx_http_fluentai_new_password_or_fail(ngx_http_request_t *r,
    const char *field, ngx_http_fluentai_vstr_t *password);

/* brute.c: the answers of a failed login */
void ngx_http_fluentai_login_begin(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
void ngx_http_fluentai_fail_login(ngx_http_request_t *r);
void ngx_http_fluentai_login_delay_release(ngx_http_fluentai_ctx_t *ctx);
void ngx_http_fluentai_fail_too_many_attempts(ngx_http_request_t *r,
    ngx_int_t retry_after);

/* the endpoints: auth.c, profile.c, password.c (change), health.c */
void ngx_http_fluentai_register(ngx_http_request_t *r);
void ngx_http_fluentai_login(ngx_http_request_t *r);
void ngx_http_fluentai_refresh(ngx_http_request_t *r);
void ngx_http_fluentai_logout(ngx_http_request_t *r);
void ngx_http_fluentai_profile(ngx_http_request_t *r);
void ngx_http_fluentai_profile_update(ngx_http_request_t *r);
void ngx_http_fluentai_change_password(ngx_http_request_t *r);

/* recovery.c: forgot/reset password, verify email (mail.h: the mail) */
void ngx_http_fluentai_forgot_password(ngx_http_request_t *r);
void ngx_http_fluentai_reset_password(ngx_http_request_t *r);
void ngx_http_fluentai_verify_email(ngx_http_request_t *r);
void ngx_http_fluentai_resend_verification(ngx_http_request_t *r);
void ngx_http_fluentai_health(ngx_http_request_t *r);

/* sessions.c: GET /auth/sessions, DELETE /auth/sessions/{id} */
void ngx_http_fluentai_sessions(ngx_http_request_t *r);
void ngx_http_fluentai_session_delete(ngx_http_request_t *r);


#endif /* _NGX_HTTP_FLUENTAI_H_INCLUDED_ */
