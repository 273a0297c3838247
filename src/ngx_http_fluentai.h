
/*
 * FluentAI auth API for nginx: shared declarations.
 */

#ifndef _NGX_HTTP_FLUENTAI_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "ngx_http_fluentai_jwt.h"
#include "ngx_http_fluentai_token.h"
#include "ngx_http_fluentai_password.h"
#include "ngx_http_fluentai_validate.h"


#define NGX_HTTP_FLUENTAI_MAX_BODY         16384
#define NGX_HTTP_FLUENTAI_SECRET_MIN       32
#define NGX_HTTP_FLUENTAI_MAX_PARAMS       10
#define NGX_HTTP_FLUENTAI_UNPROCESSABLE    422


/* endpoints, the values of "fluentai_endpoint" */
typedef enum {
    NGX_HTTP_FLUENTAI_EP_NONE = 0,
    NGX_HTTP_FLUENTAI_EP_REGISTER,
    NGX_HTTP_FLUENTAI_EP_LOGIN,
    NGX_HTTP_FLUENTAI_EP_REFRESH,
    NGX_HTTP_FLUENTAI_EP_LOGOUT,
    NGX_HTTP_FLUENTAI_EP_PROFILE,
    NGX_HTTP_FLUENTAI_EP_USER_PROFILE,
    NGX_HTTP_FLUENTAI_EP_CHANGE_PASSWORD,
    NGX_HTTP_FLUENTAI_EP_HEALTH
} ngx_http_fluentai_endpoint_e;


/* fixed SQL statements, prepared once per connection */
typedef enum {
    NGX_HTTP_FLUENTAI_SQL_HEALTH = 0,
    NGX_HTTP_FLUENTAI_SQL_REGISTER,
    NGX_HTTP_FLUENTAI_SQL_LOGIN_USER,
    NGX_HTTP_FLUENTAI_SQL_LOGIN_SESSION,
    NGX_HTTP_FLUENTAI_SQL_REFRESH,
    NGX_HTTP_FLUENTAI_SQL_LOGOUT,
    NGX_HTTP_FLUENTAI_SQL_PROFILE,
    NGX_HTTP_FLUENTAI_SQL_PROFILE_UPDATE,
    NGX_HTTP_FLUENTAI_SQL_PASSWORD_GET,
    NGX_HTTP_FLUENTAI_SQL_PASSWORD_SET,
    NGX_HTTP_FLUENTAI_SQL_COUNT
} ngx_http_fluentai_sql_e;


typedef struct {
    const char                     *name;
    const char                     *text;
    int                             nparams;
    unsigned                        readonly:1;
} ngx_http_fluentai_sql_t;


typedef struct ngx_http_fluentai_pg_pool_s  ngx_http_fluentai_pg_pool_t;
typedef struct ngx_http_fluentai_pg_conn_s  ngx_http_fluentai_pg_conn_t;


typedef struct {
    ngx_str_t                       conninfo;
    ngx_uint_t                      pool_size;
    ngx_uint_t                      queue_size;
    ngx_msec_t                      timeout;
    ngx_flag_t                      prepare;

    ngx_str_t                       secret;
    u_char                          kid[17];

    time_t                          access_ttl;
    time_t                          refresh_ttl;
    time_t                          short_ttl;
    time_t                          max_lifetime;    /* of a session */
    ngx_msec_t                      stmt_timeout;    /* 0: off */
    u_char                          statement_timeout[48];  /* SET ... */

    ngx_http_fluentai_argon2_t      argon2;
    ngx_flag_t                      argon2_set;
    char                            dummy_hash[NGX_HTTP_FLUENTAI_HASH_MAX];

    ngx_str_t                       thread_pool_name;
    ngx_thread_pool_t              *thread_pool;

    ngx_array_t                    *cors_origins;    /* of ngx_str_t */
    ngx_array_t                    *redacted_logs;   /* of ngx_log_t * */

    ngx_uint_t                      endpoints;       /* number mounted */
    ngx_uint_t                      jwt_used;
    ngx_str_t                      *conf_file;
    ngx_uint_t                      conf_line;
} ngx_http_fluentai_main_conf_t;


typedef struct {
    ngx_uint_t                      endpoint;
    ngx_flag_t                      auth_jwt;
} ngx_http_fluentai_loc_conf_t;


typedef struct ngx_http_fluentai_ctx_s  ngx_http_fluentai_ctx_t;

typedef void (*ngx_http_fluentai_step_pt)(ngx_http_request_t *r);
typedef void (*ngx_http_fluentai_pg_done_pt)(ngx_http_request_t *r,
    PGresult *res);
typedef void (*ngx_http_fluentai_task_pt)(void *data);


/* one query of a request, as handed to the pool */
typedef struct {
    ngx_http_fluentai_sql_e         sql;
    int                             nparams;
    const char                     *values[NGX_HTTP_FLUENTAI_MAX_PARAMS];
    int                             lengths[NGX_HTTP_FLUENTAI_MAX_PARAMS];
    int                             formats[NGX_HTTP_FLUENTAI_MAX_PARAMS];
    unsigned                        failed:1;
} ngx_http_fluentai_query_t;


/* a request's place in the pool: waiting, or running on a connection */
typedef struct {
    ngx_queue_t                     queue;
    ngx_event_t                     timer;
    ngx_http_fluentai_query_t      *query;
    ngx_http_fluentai_pg_done_pt    done;
    ngx_http_fluentai_pg_conn_t    *conn;
    ngx_http_request_t             *request;
    ngx_uint_t                      status;         /* failure: 503 ... */
    const char                     *code;
    unsigned                        waiting:1;
    unsigned                        retried:1;
} ngx_http_fluentai_pg_req_t;


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
    unsigned                        rehash:1;       /* hash password */
    int                             verified;       /* 1, 0, -1 */
    int                             hashed;         /* 0 ok, -1 */
    u_char                          salt[NGX_HTTP_FLUENTAI_SALT_LEN];
    char                            out[NGX_HTTP_FLUENTAI_HASH_MAX];
} ngx_http_fluentai_pw_job_t;


struct ngx_http_fluentai_ctx_s {
    ngx_http_request_t             *request;
    ngx_http_fluentai_main_conf_t  *mcf;
    json_t                         *body;
    json_t                         *user;
    ngx_http_fluentai_step_pt       resume;
    ngx_event_t                     task_timer;      /* see task.c */
    ngx_http_fluentai_pw_job_t     *job;
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

    /* the new refresh token and its hash; the hash of the presented one */
    u_char                          refresh[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1];
    u_char                          refresh_hash[NGX_HTTP_FLUENTAI_HASH_LEN];
    u_char                          presented[NGX_HTTP_FLUENTAI_HASH_LEN];

    unsigned                        task_done:1;
    unsigned                        logout_all:1;
    unsigned                        has_bearer:1;
    unsigned                        has_refresh:1;
};


extern ngx_module_t  ngx_http_fluentai_module;


/* module: config lookup */
ngx_http_fluentai_ctx_t *ngx_http_fluentai_ctx(ngx_http_request_t *r);

/* http: request body, JSON and error responses */
ngx_int_t ngx_http_fluentai_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_fluentai_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len);
ngx_int_t ngx_http_fluentai_send_json(ngx_http_request_t *r,
    ngx_uint_t status, json_t *obj);
ngx_int_t ngx_http_fluentai_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, json_t *details);
void ngx_http_fluentai_finish(ngx_http_request_t *r, ngx_uint_t status,
    json_t *obj);
void ngx_http_fluentai_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *code);
ngx_int_t ngx_http_fluentai_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
void ngx_http_fluentai_invalid(ngx_http_request_t *r, json_t *details);
json_t *ngx_http_fluentai_details(ngx_http_request_t *r);
json_t *ngx_http_fluentai_detail(const char *field, const char *msg,
    const char *type);
const char *ngx_http_fluentai_bearer(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
ngx_int_t ngx_http_fluentai_add_variables(ngx_conf_t *cf);

/* cors */
ngx_int_t ngx_http_fluentai_cors_headers(ngx_http_request_t *r);
ngx_int_t ngx_http_fluentai_cors_preflight(ngx_http_request_t *r,
    const char *allow);
char *ngx_http_fluentai_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* pg: per-worker connection pool */
ngx_int_t ngx_http_fluentai_pg_init_worker(ngx_cycle_t *cycle);
void ngx_http_fluentai_pg_exit_worker(ngx_cycle_t *cycle);
void ngx_http_fluentai_pg_query(ngx_http_request_t *r,
    ngx_http_fluentai_pg_req_t *pr, ngx_http_fluentai_query_t *q,
    ngx_http_fluentai_pg_done_pt done);
void ngx_http_fluentai_pg_cancel(ngx_http_fluentai_pg_req_t *pr);
void ngx_http_fluentai_pg_fail(ngx_http_request_t *r,
    ngx_http_fluentai_pg_req_t *pr);
char *ngx_http_fluentai_pg_check_conninfo(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *conninfo);

/* sql: the statements */
extern ngx_http_fluentai_sql_t  ngx_http_fluentai_sql[];
void ngx_http_fluentai_param(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i, const char *value,
    size_t len);
void ngx_http_fluentai_param_bin(ngx_http_fluentai_query_t *q,
    ngx_uint_t i, const u_char *value, size_t len);
ngx_int_t ngx_http_fluentai_sqlstate(PGresult *res, const char *state);
void ngx_http_fluentai_param_int(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i, ngx_int_t value);
void ngx_http_fluentai_param_session(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
void ngx_http_fluentai_param_max(ngx_http_request_t *r,
    ngx_http_fluentai_query_t *q, ngx_uint_t i);
ngx_int_t ngx_http_fluentai_rows(ngx_http_request_t *r, PGresult *res,
    ngx_uint_t exactly_one);

/* task: password work on the thread pool */
void ngx_http_fluentai_task(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, ngx_http_fluentai_step_pt resume);
ngx_http_fluentai_pw_job_t *ngx_http_fluentai_job(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *encoded,
    ngx_http_fluentai_vstr_t *password, ngx_http_fluentai_vstr_t *new_password);

/* redact: no secret in any log line */
size_t ngx_http_fluentai_redact(u_char *dst, size_t cap, u_char *src,
    size_t len);
ngx_int_t ngx_http_fluentai_redact_log(ngx_conf_t *cf, ngx_array_t **logs,
    ngx_log_t *log);
ngx_int_t ngx_http_fluentai_redact_handler(ngx_http_request_t *r);

/* wipe: plaintext passwords before their memory is freed */
void ngx_http_fluentai_wipe_init(void);
void ngx_http_fluentai_wipe_body(ngx_http_request_t *r, ngx_str_t *copy);

/* gate: "fluentai_auth_jwt" for other locations */
ngx_int_t ngx_http_fluentai_access_handler(ngx_http_request_t *r);

/* session: tokens and the shared response bodies */
ngx_int_t ngx_http_fluentai_issue_tokens(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx);
json_t *ngx_http_fluentai_token_body(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *user_id,
    const char *session_id);
json_t *ngx_http_fluentai_user_json(PGresult *res, int row, int col);
void ngx_http_fluentai_user_done(ngx_http_request_t *r, PGresult *res);
void ngx_http_fluentai_set_ids(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *user_id,
    const char *session_id);

/* endpoints */
void ngx_http_fluentai_register(ngx_http_request_t *r);
void ngx_http_fluentai_login(ngx_http_request_t *r);
void ngx_http_fluentai_refresh(ngx_http_request_t *r);
void ngx_http_fluentai_logout(ngx_http_request_t *r);
void ngx_http_fluentai_profile(ngx_http_request_t *r);
void ngx_http_fluentai_profile_update(ngx_http_request_t *r);
void ngx_http_fluentai_change_password(ngx_http_request_t *r);
void ngx_http_fluentai_health(ngx_http_request_t *r);

ngx_int_t ngx_http_fluentai_password_init(ngx_conf_t *cf,
    ngx_http_fluentai_main_conf_t *mcf);
char *ngx_http_fluentai_load_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_fluentai_main_conf_t *mcf);


#endif /* _NGX_HTTP_FLUENTAI_H_INCLUDED_ */
