
/*
 * The mail module: directives for account recovery, email verification
 * and mail delivery, and the per-worker outbox sender's start and stop.
 * A module of its own in the FluentAI shared object (load_module loads
 * both), so that everything about mail stays in the mail files.
 */


#include "ngx_http_fluentai.h"
#include "ngx_http_fluentai_mail.h"


#define NGX_HTTP_FLUENTAI_MAIL_AUTH_MAX  512


static void *ngx_http_fluentai_mail_create_conf(ngx_conf_t *cf);
static char *ngx_http_fluentai_mail_init_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_fluentai_mail_public_url(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_fluentai_mail_from(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fluentai_mail_template(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_fluentai_mail_retry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fluentai_mail_relay(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fluentai_mail_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_fluentai_mail_tls(ngx_conf_t *cf,
    ngx_http_fluentai_mail_conf_t *mcf);
static ngx_int_t ngx_http_fluentai_mail_init_process(ngx_cycle_t *cycle);
static void ngx_http_fluentai_mail_exit_process(ngx_cycle_t *cycle);


const char  *ngx_http_fluentai_mail_kinds[2] = {
    "reset_password", "verify_email"
};


static ngx_conf_enum_t  ngx_http_fluentai_mail_verification[] = {
    { ngx_string("off"), NGX_HTTP_FLUENTAI_VERIFY_OFF },
    { ngx_string("on"), NGX_HTTP_FLUENTAI_VERIFY_ON },
    { ngx_string("required"), NGX_HTTP_FLUENTAI_VERIFY_REQUIRED },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_fluentai_mail_per_hour_bounds = {
    ngx_conf_check_num_bounds, 1, 1000
};


static ngx_command_t  ngx_http_fluentai_mail_commands[] = {

    { ngx_string("fluentai_public_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_mail_public_url,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_reset_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_mail_conf_t, ttl[0]),
      NULL },

    { ngx_string("fluentai_verify_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_mail_conf_t, ttl[1]),
      NULL },

    { ngx_string("fluentai_email_verification"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_mail_conf_t, verification),
      &ngx_http_fluentai_mail_verification },

    { ngx_string("fluentai_mail_from"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_mail_from,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_mail_template"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_fluentai_mail_template,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_mail_per_hour"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_mail_conf_t, per_hour),
      &ngx_http_fluentai_mail_per_hour_bounds },

    { ngx_string("fluentai_mail_retry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_fluentai_mail_retry,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_mail_sender"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_mail_conf_t, sender),
      NULL },

    { ngx_string("fluentai_smtp_relay"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_mail_relay,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fluentai_smtp_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_mail_conf_t, smtp.timeout),
      NULL },

    { ngx_string("fluentai_smtp_starttls"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_mail_conf_t, smtp.starttls),
      NULL },

    { ngx_string("fluentai_smtp_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fluentai_mail_conf_t, smtp_trusted),
      NULL },

    { ngx_string("fluentai_smtp_auth"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fluentai_mail_auth,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_fluentai_mail_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_fluentai_mail_create_conf,    /* create main configuration */
    ngx_http_fluentai_mail_init_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_fluentai_mail_module = {
    NGX_MODULE_V1,
    &ngx_http_fluentai_mail_module_ctx,    /* module context */
    ngx_http_fluentai_mail_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_fluentai_mail_init_process,   /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_fluentai_mail_exit_process,   /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_fluentai_mail_create_conf(ngx_conf_t *cf)
{
    ngx_http_fluentai_mail_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fluentai_mail_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->public_url = { 0, NULL };
     *     mcf->from_text = { 0, NULL };
     *     mcf->tmpl[] = { 0, NULL };
     *     mcf->smtp.addr = NULL;
     *     mcf->smtp_trusted = { 0, NULL };
     */

    mcf->ttl[0] = NGX_CONF_UNSET;
    mcf->ttl[1] = NGX_CONF_UNSET;
    mcf->verification = NGX_CONF_UNSET_UINT;
    mcf->per_hour = NGX_CONF_UNSET_UINT;
    mcf->retry_min = NGX_CONF_UNSET;
    mcf->retry_max = NGX_CONF_UNSET;
    mcf->sender = NGX_CONF_UNSET;
    mcf->smtp.timeout = NGX_CONF_UNSET_MSEC;
    mcf->smtp.starttls = NGX_CONF_UNSET;

    return mcf;
}


static char *
ngx_http_fluentai_mail_init_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_fluentai_mail_conf_t *mcf = conf;

    ngx_str_t   from;
    ngx_uint_t  i;

    ngx_conf_init_value(mcf->ttl[0], 3600);
    ngx_conf_init_value(mcf->ttl[1], 86400);
    ngx_conf_init_uint_value(mcf->verification, NGX_HTTP_FLUENTAI_VERIFY_OFF);
    ngx_conf_init_uint_value(mcf->per_hour, 5);
    ngx_conf_init_value(mcf->retry_min, 30);
    ngx_conf_init_value(mcf->retry_max, 3600);
    ngx_conf_init_value(mcf->sender, 1);
    ngx_conf_init_msec_value(mcf->smtp.timeout, 30000);
    ngx_conf_init_value(mcf->smtp.starttls, 0);

    if (mcf->public_url.len == 0) {
        ngx_str_set(&mcf->public_url, "http://localhost");
    }

    if (mcf->from_text.len == 0) {
        ngx_str_set(&from, "FluentAI <no-reply@localhost>");

        if (ngx_http_fluentai_mailbox_parse((char *) from.data, from.len,
                                            &mcf->from)
            != NULL)
        {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 0; i < 2; i++) {
        if (mcf->ttl[i] < 60 || mcf->ttl[i] > 30 * 86400) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"fluentai_%s_token_ttl\" must be between 1m "
                          "and 30d", i ? "verify" : "reset");
            return NGX_CONF_ERROR;
        }

        if (mcf->tmpl[i].len == 0) {
            mcf->tmpl[i].data = (u_char *)
                                ngx_http_fluentai_mail_default_tmpl[i];
            mcf->tmpl[i].len = ngx_strlen(mcf->tmpl[i].data);
        }
    }

    if (mcf->smtp.addr == NULL
        && ngx_http_fluentai_mail_relay(cf, NULL, mcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    mcf->smtp.helo = cf->cycle->hostname;

    if (mcf->smtp.user.len && !mcf->smtp.starttls) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"fluentai_smtp_auth\" needs "
                      "\"fluentai_smtp_starttls on\": credentials are "
                      "never sent in clear text");
        return NGX_CONF_ERROR;
    }

    if (mcf->smtp.starttls && ngx_http_fluentai_mail_tls(cf, mcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_fluentai_mail_public_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_mail_conf_t *mcf = conf;

    u_char     *p;
    ngx_str_t  *value, url;

    if (mcf->public_url.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    url = value[1];

    while (url.len && url.data[url.len - 1] == '/') {
        url.len--;
    }

    if (!((url.len > 7 && ngx_strncasecmp(url.data, (u_char *) "http://", 7)
                          == 0)
          || (url.len > 8
              && ngx_strncasecmp(url.data, (u_char *) "https://", 8) == 0)))
    {
        return "must be an http:// or https:// URL";
    }

    for (p = url.data; p < url.data + url.len; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '?' || *p == '#'
            || *p == '"' || *p == '<' || *p == '>')
        {
            return "must be an absolute URL without query or fragment";
        }
    }

    mcf->public_url = url;

    return NGX_CONF_OK;
}


static char *
ngx_http_fluentai_mail_from(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_mail_conf_t *mcf = conf;

    ngx_str_t   *value;
    const char  *err;

    if (mcf->from_text.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    err = ngx_http_fluentai_mailbox_parse((char *) value[1].data,
                                          value[1].len, &mcf->from);
    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"fluentai_mail_from\" \"%V\": %s "
                           "(expected \"Name <address>\" or an address)",
                           &value[1], err);
        return NGX_CONF_ERROR;
    }

    mcf->from_text = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_fluentai_mail_template(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_mail_conf_t *mcf = conf;

    ngx_str_t   *value, text;
    ngx_uint_t   i;
    const char  *err;

    value = cf->args->elts;

    for (i = 0; i < 2; i++) {
        if (value[1].len == ngx_strlen(ngx_http_fluentai_mail_kinds[i])
            && ngx_strncmp(value[1].data, ngx_http_fluentai_mail_kinds[i],
                           value[1].len) == 0)
        {
            break;
        }
    }

    if (i == 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown mail \"%V\" (expected reset_password "
                           "or verify_email)", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (mcf->tmpl[i].data) {
        return "is duplicate";
    }

    if (ngx_http_fluentai_conf_read_file(cf, &value[2], cf->pool, 65536, "",
                                         &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    err = ngx_http_fluentai_mail_template_check((char *) text.data,
                                                text.len);
    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid mail template \"%V\": %s", &value[2],
                           err);
        return NGX_CONF_ERROR;
    }

    mcf->tmpl[i] = text;

    return NGX_CONF_OK;
}


static char *
ngx_http_fluentai_mail_retry(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_mail_conf_t *mcf = conf;

    ngx_str_t  *value;

    if (mcf->retry_min != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mcf->retry_min = ngx_parse_time(&value[1], 1);
    mcf->retry_max = ngx_parse_time(&value[2], 1);

    if (mcf->retry_min == (time_t) NGX_ERROR
        || mcf->retry_max == (time_t) NGX_ERROR
        || mcf->retry_min < 1 || mcf->retry_max < mcf->retry_min
        || mcf->retry_max > 86400)
    {
        return "needs two times: 1s <= first <= second <= 1d";
    }

    return NGX_CONF_OK;
}


/*
 * "host[:port]", port 25 by default; a host name is resolved now, at
 * configuration time, so that sending never needs DNS.  Called with
 * cmd == NULL for the default.
 */

static char *
ngx_http_fluentai_mail_relay(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_mail_conf_t *mcf = conf;

    ngx_url_t   u;
    ngx_str_t  *value;

    if (cmd && mcf->smtp.addr) {
        return "is duplicate";
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    if (cmd) {
        value = cf->args->elts;
        u.url = value[1];

    } else {
        ngx_str_set(&u.url, "127.0.0.1:25");
    }

    u.default_port = 25;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"fluentai_smtp_relay\" \"%V\": %s",
                           &u.url, u.err ? u.err : "no address");
        return NGX_CONF_ERROR;
    }

    mcf->smtp.addr = &u.addrs[0];

    /* NUL-terminated: the TLS server name */

    mcf->smtp.host.data = ngx_pnalloc(cf->pool, u.host.len + 1);
    if (mcf->smtp.host.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(mcf->smtp.host.data, u.host.data, u.host.len + 1);
    mcf->smtp.host.len = u.host.len;

    return NGX_CONF_OK;
}


/* "fluentai_smtp_auth file": one line "user:password", kept out of logs */

static char *
ngx_http_fluentai_mail_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_mail_conf_t *mcf = conf;

    u_char     *colon;
    ngx_str_t  *value, text;

    if (mcf->smtp.user.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_fluentai_conf_read_file(cf, &value[1], cf->pool,
                                         NGX_HTTP_FLUENTAI_MAIL_AUTH_MAX, "",
                                         &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    while (text.len && (text.data[text.len - 1] == '\n'
                        || text.data[text.len - 1] == '\r'))
    {
        text.len--;
    }

    colon = ngx_strlchr(text.data, text.data + text.len, ':');

    if (colon == NULL || colon == text.data
        || ngx_strlchr(text.data, text.data + text.len, '\n'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must hold one line \"user:password\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    mcf->smtp.user.data = text.data;
    mcf->smtp.user.len = colon - text.data;
    mcf->smtp.password.data = colon + 1;
    mcf->smtp.password.len = text.data + text.len - colon - 1;

    return NGX_CONF_OK;
}


/* STARTTLS: a client context that trusts the given CAs or the system's */

static ngx_int_t
ngx_http_fluentai_mail_tls(ngx_conf_t *cf, ngx_http_fluentai_mail_conf_t *mcf)
{
#if (NGX_SSL)
    ngx_pool_cleanup_t  *cln;

    mcf->smtp.ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (mcf->smtp.ssl == NULL) {
        return NGX_ERROR;
    }

    mcf->smtp.ssl->log = cf->log;

    if (ngx_ssl_create(mcf->smtp.ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(mcf->smtp.ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = mcf->smtp.ssl;

    if (ngx_ssl_trusted_certificate(cf, mcf->smtp.ssl, &mcf->smtp_trusted, 4)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (mcf->smtp_trusted.len == 0
        && SSL_CTX_set_default_verify_paths(mcf->smtp.ssl->ctx) != 1)
    {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_default_verify_paths() failed");
        return NGX_ERROR;
    }

    return NGX_OK;

#else

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"fluentai_smtp_starttls\" needs nginx built with SSL");
    return NGX_ERROR;

#endif
}


ngx_uint_t
ngx_http_fluentai_mail_required(ngx_http_request_t *r)
{
    ngx_http_fluentai_mail_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_mail_module);

    return mcf->verification == NGX_HTTP_FLUENTAI_VERIFY_REQUIRED;
}


static ngx_int_t
ngx_http_fluentai_mail_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fluentai_main_conf_t  *fcf;
    ngx_http_fluentai_mail_conf_t  *mcf;

    if (ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module)
        == NULL)
    {
        return NGX_OK;
    }

    fcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_fluentai_module);
    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_fluentai_mail_module);

    if (fcf == NULL || mcf == NULL || fcf->secret.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_fluentai_mail_token_key(fcf->secret.data, fcf->secret.len,
                                         mcf->key)
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "fluentai: mail token key derivation failed");
        return NGX_ERROR;
    }

    mcf->key_set = 1;

    if (fcf->db.conninfo.len == 0 || fcf->endpoints == 0 || !mcf->sender) {
        return NGX_OK;
    }

    return ngx_http_fluentai_outbox_init(cycle, mcf, &fcf->db);
}


static void
ngx_http_fluentai_mail_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_fluentai_outbox_exit(cycle);
}
