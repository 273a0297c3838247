
/*
 * FluentAI auth API for nginx: the table of contents.  The endpoint
 * table, the directives and the configuration; the work itself lives in
 * src/, one file per concern (README.md: "Code map").
 */


#include "ngx_http_fluentai.h"


static void *ngx_http_fluentai_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_fluentai_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_fluentai_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_fluentai_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_fluentai_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_fluentai_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_fluentai_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fluentai_allow(ngx_conf_t *cf,
    ngx_http_fluentai_loc_conf_t *lcf);
static char *ngx_http_fluentai_unknown_endpoint(ngx_conf_t *cf,
    ngx_str_t *name);
static ngx_int_t ngx_http_fluentai_init_process(ngx_cycle_t *cycle);
static void ngx_http_fluentai_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_fluentai_auth_jwt_modes[] = {
    { ngx_string("off"), NGX_HTTP_FLUENTAI_GATE_OFF },
    { ngx_string("on"), NGX_HTTP_FLUENTAI_GATE_ON },
    { ngx_string("session"), NGX_HTTP_FLUENTAI_GATE_SESSION },
    { ngx_null_string, 0 }
};


/*
 * The endpoint table: what an endpoint is.  "fluentai_endpoint NAME"
 * mounts one; its Allow header (the methods, in this order: GET, HEAD,
 * POST, PUT, DELETE, then OPTIONS, which every endpoint answers) and the
 * list of names "nginx -t" gives for an unknown one are made from it, and
 * t/openapi.t reads it.  GET and HEAD run .get; POST, PUT and DELETE read
 * the JSON body and run .post; a body that is not required may be empty.
 */

static ngx_http_fluentai_endpoint_t  ngx_http_fluentai_endpoints[] = {

    { ngx_string("register"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_register, 1 },

    { ngx_string("login"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_login, 1 },

    { ngx_string("refresh"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_refresh, 0 },

    { ngx_string("logout"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_logout, 0 },

    { ngx_string("profile"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_fluentai_profile, NULL, 0 },

    { ngx_string("user_profile"), NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PUT,
      ngx_http_fluentai_profile, ngx_http_fluentai_profile_update, 1 },

    { ngx_string("change_password"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_change_password, 1 },

    { ngx_string("health"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_fluentai_health, NULL, 0 },

    { ngx_string("metrics"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_fluentai_metrics_send, NULL, 0 },
    { ngx_string("forgot_password"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_forgot_password, 1 },

    { ngx_string("reset_password"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_reset_password, 1 },

    { ngx_string("verify_email"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_verify_email, 1 },

    { ngx_string("resend_verification"), NGX_HTTP_POST,
      NULL, ngx_http_fluentai_resend_verification, 1 },

    { ngx_string("sessions"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_fluentai_sessions, NULL, 0 },

    { ngx_string("session"), NGX_HTTP_DELETE,
      NULL, ngx_http_fluentai_session_delete, 0 },

    { ngx_null_string, 0, NULL, NULL, 0 }
};


static ngx_command_t  ngx_http_fluentai_commands[] = {

    { ngx_string("fluentai_database"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_database,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_database_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_fluentai_database_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_database_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, db.timeout),
      NULL },

    { ngx_string("fluentai_database_statement_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_statement_timeout,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_database_prepare"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, db.prepare),
      NULL },

    { ngx_string("fluentai_database_coalesce"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_fluentai_database_coalesce,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_jwt_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_secret_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_access_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, access_ttl),
      NULL },

    { ngx_string("fluentai_refresh_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, refresh_ttl),
      NULL },

    { ngx_string("fluentai_refresh_token_short_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, short_ttl),
      NULL },

    { ngx_string("fluentai_refresh_reuse_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, reuse_interval),
      NULL },

    { ngx_string("fluentai_session_max_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, max_lifetime),
      NULL },

    { ngx_string("fluentai_password_hash"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_fluentai_password_hash_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_cors_origins"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_fluentai_cors_origins,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_metrics"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, metrics),
      NULL },

    { ngx_string("fluentai_password_blocklist"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_password_blocklist,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_login_failure_delay"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_main_conf_t, login_failure_delay),
      NULL },

    { ngx_string("fluentai_login_throttle"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_fluentai_login_throttle,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_endpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_error_page"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_fluentai_error_page,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_auth_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_auth_jwt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fluentai_loc_conf_t, auth_jwt),
      &ngx_http_fluentai_auth_jwt_modes },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_fluentai_module_ctx = {
    ngx_http_fluentai_preconfiguration,    /* preconfiguration */
    ngx_http_fluentai_postconfiguration,   /* postconfiguration */

    ngx_http_fluentai_create_main_conf,    /* create main configuration */
    ngx_http_fluentai_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_fluentai_create_loc_conf,     /* create location configuration */
    ngx_http_fluentai_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_fluentai_module = {
    NGX_MODULE_V1,
    &ngx_http_fluentai_module_ctx,         /* module context */
    ngx_http_fluentai_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_fluentai_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_fluentai_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_fluentai_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_fluentai_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fluentai_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->db.conninfo = { 0, NULL };
     *     mcf->secret = { 0, NULL };
     *     mcf->thread_pool = NULL;
     *     mcf->cors_origins = NULL;
     *     mcf->endpoints = 0;
     */

    mcf->db.size = NGX_CONF_UNSET_UINT;
    mcf->db.queue = NGX_CONF_UNSET_UINT;
    mcf->db.timeout = NGX_CONF_UNSET_MSEC;
    mcf->db.prepare = NGX_CONF_UNSET;
    mcf->db.coalesce = NGX_CONF_UNSET_UINT;
    mcf->db.inflight = NGX_CONF_UNSET_UINT;
    mcf->metrics = NGX_CONF_UNSET;
    mcf->access_ttl = NGX_CONF_UNSET;
    mcf->refresh_ttl = NGX_CONF_UNSET;
    mcf->short_ttl = NGX_CONF_UNSET;
    mcf->login_failure_delay = NGX_CONF_UNSET_MSEC;
    mcf->throttle_max = NGX_CONF_UNSET;
    mcf->throttle_window = NGX_CONF_UNSET;
    mcf->reuse_interval = NGX_CONF_UNSET;
    mcf->max_lifetime = NGX_CONF_UNSET;
    mcf->db.stmt_timeout = NGX_CONF_UNSET_MSEC;

    return mcf;
}


static char *
ngx_http_fluentai_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_conf_init_uint_value(mcf->db.size, 8);
    ngx_conf_init_uint_value(mcf->db.queue, 1024);
    ngx_conf_init_msec_value(mcf->db.timeout, 5000);
    ngx_conf_init_value(mcf->db.prepare, 1);
    ngx_conf_init_uint_value(mcf->db.coalesce, 32);
    ngx_conf_init_uint_value(mcf->db.inflight,
                             NGX_HTTP_FLUENTAI_PG_INFLIGHT);
    mcf->db.batched = ngx_http_fluentai_metrics_batch;
    ngx_conf_init_value(mcf->metrics, 1);
    ngx_conf_init_value(mcf->access_ttl, 1800);
    ngx_conf_init_value(mcf->refresh_ttl, 7 * 86400);
    ngx_conf_init_value(mcf->short_ttl, 86400);
    ngx_conf_init_msec_value(mcf->login_failure_delay, 1000);
    ngx_conf_init_value(mcf->throttle_max, 100);
    ngx_conf_init_value(mcf->throttle_window, 3600);
    ngx_conf_init_value(mcf->reuse_interval, 10);
    ngx_conf_init_value(mcf->max_lifetime, 30 * 86400);

    if (mcf->max_lifetime < 1 || mcf->max_lifetime > NGX_MAX_INT32_VALUE) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"fluentai_session_max_lifetime\" must be between "
                      "1s and 68 years");
        return NGX_CONF_ERROR;
    }

    /*
     * The server gives up on a statement before the module does, so a
     * statement the module answered 503 for is rolled back, never
     * committed behind the client's back (see pg_conn.c).
     */

    ngx_conf_init_msec_value(mcf->db.stmt_timeout,
                             ngx_max(mcf->db.timeout - mcf->db.timeout / 5,
                                     1));

    if (mcf->db.stmt_timeout >= mcf->db.timeout && mcf->db.stmt_timeout) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"fluentai_database_statement_timeout\" must be "
                      "shorter than \"fluentai_database_timeout\"");
        return NGX_CONF_ERROR;
    }

    if (mcf->db.stmt_timeout) {
        ngx_sprintf(mcf->db.statement_timeout,
                    "SET statement_timeout = %M%Z", mcf->db.stmt_timeout);
    }

    if (!mcf->argon2_set) {
        mcf->argon2.m = 19456;
        mcf->argon2.t = 2;
        mcf->argon2.p = 1;
    }

    if (mcf->endpoints == 0 && !mcf->jwt_used) {
        return NGX_CONF_OK;
    }

    if (mcf->gate_session && mcf->db.conninfo.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"fluentai_database\" is required by "
                      "\"fluentai_auth_jwt session\"");
        return NGX_CONF_ERROR;
    }

    if (mcf->secret.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"fluentai_jwt_secret_file\" is required by "
                      "\"fluentai_endpoint\" or \"fluentai_auth_jwt\"");
        return NGX_CONF_ERROR;
    }

    if (mcf->endpoints == 0) {
        return NGX_CONF_OK;
    }

    if (mcf->db.conninfo.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"fluentai_database\" is required by "
                      "\"fluentai_endpoint\" in %V:%ui",
                      mcf->conf_file, mcf->conf_line);
        return NGX_CONF_ERROR;
    }

    if (mcf->thread_pool == NULL) {
        mcf->thread_pool = ngx_thread_pool_add(cf, NULL);
        if (mcf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_fluentai_dummy_hash(cf, mcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (mcf->metrics) {
        return ngx_http_fluentai_metrics_zone(cf, &mcf->metrics_zone);
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_fluentai_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_fluentai_loc_conf_t  *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fluentai_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    lcf->auth_jwt = NGX_CONF_UNSET_UINT;

    return lcf;
}


static char *
ngx_http_fluentai_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_fluentai_loc_conf_t *prev = parent;
    ngx_http_fluentai_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_fluentai_main_conf_t  *mcf;

    ngx_conf_merge_uint_value(conf->auth_jwt, prev->auth_jwt,
                              NGX_HTTP_FLUENTAI_GATE_OFF);

    /* where the module is used, every error log line is redacted */

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fluentai_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if ((mcf->endpoints || mcf->jwt_used)
        && ngx_http_fluentai_redact_log(cf, &mcf->redacted_logs,
                                        clcf->error_log)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fluentai_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_fluentai_wipe_init();

    if (ngx_http_fluentai_metrics_preconfiguration(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_fluentai_add_variables(cf);
}


static ngx_int_t
ngx_http_fluentai_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fluentai_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fluentai_redact_handler;

    return ngx_http_fluentai_metrics_postconfiguration(cf,
                                                ngx_http_fluentai_endpoints);
}



static char *
ngx_http_fluentai_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_loc_conf_t *lcf = conf;

    ngx_str_t                      *value;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_fluentai_endpoint_t   *ep;
    ngx_http_fluentai_main_conf_t  *mcf;

    if (lcf->endpoint) {
        return "is duplicate";
    }

    if (lcf->error_page) {
        return "cannot be used with \"fluentai_error_page\"";
    }

    value = cf->args->elts;

    for (ep = ngx_http_fluentai_endpoints; ep->name.len; ep++) {
        if (ep->name.len == value[1].len
            && ngx_strncmp(ep->name.data, value[1].data, value[1].len) == 0)
        {
            break;
        }
    }

    if (ep->name.len == 0) {
        return ngx_http_fluentai_unknown_endpoint(cf, &value[1]);
    }

    lcf->endpoint = ep;

    if (ngx_http_fluentai_allow(cf, lcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fluentai_module);

    if (mcf->endpoints++ == 0) {
        mcf->conf_file = &cf->conf_file->file.name;
        mcf->conf_line = cf->conf_file->line;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fluentai_handler;

    return NGX_CONF_OK;
}


/* "GET, HEAD, PUT, OPTIONS" from the endpoint's methods */

static char *
ngx_http_fluentai_allow(ngx_conf_t *cf, ngx_http_fluentai_loc_conf_t *lcf)
{
    u_char      *p;
    ngx_uint_t   i;

    static ngx_uint_t  methods[] = {
        NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_POST, NGX_HTTP_PUT,
        NGX_HTTP_DELETE
    };
    static ngx_str_t   names[] = {
        ngx_string("GET, "), ngx_string("HEAD, "), ngx_string("POST, "),
        ngx_string("PUT, "), ngx_string("DELETE, ")
    };

    p = ngx_pnalloc(cf->pool,
                    sizeof("GET, HEAD, POST, PUT, DELETE, OPTIONS") - 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    lcf->allow.data = p;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (lcf->endpoint->methods & methods[i]) {
            p = ngx_cpymem(p, names[i].data, names[i].len);
        }
    }

    p = ngx_cpymem(p, "OPTIONS", sizeof("OPTIONS") - 1);
    lcf->allow.len = p - lcf->allow.data;

    return NGX_CONF_OK;
}


/* "unknown endpoint "x" (expected register, login, ... or health)" */

static char *
ngx_http_fluentai_unknown_endpoint(ngx_conf_t *cf, ngx_str_t *name)
{
    u_char                        *p, *last;
    ngx_http_fluentai_endpoint_t  *ep;
    u_char                         list[NGX_MAX_CONF_ERRSTR];

    p = list;
    last = list + sizeof(list);

    for (ep = ngx_http_fluentai_endpoints; ep->name.len; ep++) {
        if (ep != ngx_http_fluentai_endpoints) {
            p = ngx_slprintf(p, last, (ep + 1)->name.len ? ", " : " or ");
        }

        p = ngx_slprintf(p, last, "%V", &ep->name);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown endpoint \"%V\" (expected %*s)",
                       name, p - list, list);

    return NGX_CONF_ERROR;
}



static ngx_int_t
ngx_http_fluentai_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fluentai_main_conf_t  *mcf;

    if (ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module)
        == NULL)
    {
        return ngx_http_fluentai_pg_init_worker(cycle, NULL);
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_fluentai_module);

    if (mcf && ngx_http_fluentai_metrics_init_worker(cycle,
                                                     mcf->metrics_zone)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_fluentai_pg_init_worker(cycle, mcf ? &mcf->db : NULL);
}


static void
ngx_http_fluentai_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_fluentai_pg_exit_worker(cycle);
    ngx_http_fluentai_metrics_exit_worker(cycle);
}
