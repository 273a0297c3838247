
/*
 * The statements the module runs (their texts: sql.c) and one query as
 * handed to the database layer.  No HTTP here.
 */

#ifndef _NGX_HTTP_FLUENTAI_SQL_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_SQL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_FLUENTAI_MAX_PARAMS       12


/* the statements, by name; sql.c keys its table by these */
typedef enum {
    NGX_HTTP_FLUENTAI_SQL_HEALTH = 0,
    NGX_HTTP_FLUENTAI_SQL_REGISTER,
    NGX_HTTP_FLUENTAI_SQL_LOGIN_USER,
    NGX_HTTP_FLUENTAI_SQL_LOGIN_SESSION,
    NGX_HTTP_FLUENTAI_SQL_LOGIN_FAILED,
    NGX_HTTP_FLUENTAI_SQL_REFRESH,
    NGX_HTTP_FLUENTAI_SQL_LOGOUT,
    NGX_HTTP_FLUENTAI_SQL_PROFILE,
    NGX_HTTP_FLUENTAI_SQL_PROFILE_UPDATE,
    NGX_HTTP_FLUENTAI_SQL_PASSWORD_GET,
    NGX_HTTP_FLUENTAI_SQL_PASSWORD_SET,
    NGX_HTTP_FLUENTAI_SQL_MAIL_REQUEST,
    NGX_HTTP_FLUENTAI_SQL_RESET_PASSWORD,
    NGX_HTTP_FLUENTAI_SQL_VERIFY_EMAIL,
    NGX_HTTP_FLUENTAI_SQL_OUTBOX_CLAIM,
    NGX_HTTP_FLUENTAI_SQL_OUTBOX_DONE,
    NGX_HTTP_FLUENTAI_SQL_GATE,
    NGX_HTTP_FLUENTAI_SQL_SESSIONS,
    NGX_HTTP_FLUENTAI_SQL_SESSION_DELETE,
    NGX_HTTP_FLUENTAI_SQL_PROFILE_BATCH,
    NGX_HTTP_FLUENTAI_SQL_GATE_BATCH,
    NGX_HTTP_FLUENTAI_SQL_COUNT
} ngx_http_fluentai_sql_e;


typedef struct {
    const char                     *name;       /* prepared statement */
    const char                     *text;
    int                             nparams;
    int                             ncolumns;   /* of a row it returns */
    unsigned                        readonly:1; /* may be retried */

    /*
     * Coalescing (pg_batch.c), read-only lookups only: "keys" > 0 means
     * that lookups of this statement waiting for a connection may be
     * served by one "batch" statement.  Its first "keys" parameters are
     * arrays of the lookups' first "keys" parameters (the others are
     * the same for all of them), and it returns this statement's columns
     * plus a last one: the 1-based place of the lookup the row is for.
     */
    int                             keys;
    ngx_http_fluentai_sql_e         batch;
} ngx_http_fluentai_sql_t;


/* one query: a statement and its parameters */
typedef struct {
    ngx_http_fluentai_sql_e         sql;
    int                             nparams;
    const char                     *values[NGX_HTTP_FLUENTAI_MAX_PARAMS];
    int                             lengths[NGX_HTTP_FLUENTAI_MAX_PARAMS];
    int                             formats[NGX_HTTP_FLUENTAI_MAX_PARAMS];
    unsigned                        failed:1;
} ngx_http_fluentai_query_t;


extern ngx_http_fluentai_sql_t  ngx_http_fluentai_sql[];


void ngx_http_fluentai_param(ngx_pool_t *pool, ngx_http_fluentai_query_t *q,
    ngx_uint_t i, const char *value, size_t len);
void ngx_http_fluentai_param_bin(ngx_http_fluentai_query_t *q,
    ngx_uint_t i, const u_char *value, size_t len);
void ngx_http_fluentai_param_int(ngx_pool_t *pool,
    ngx_http_fluentai_query_t *q, ngx_uint_t i, ngx_int_t value);


#endif /* _NGX_HTTP_FLUENTAI_SQL_H_INCLUDED_ */
