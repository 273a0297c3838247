
/*
 * The directives' values and the configuration-time work they need: the
 * database, the JWT secret file, the hashing parameters and the dummy
 * hash, the thread pool, the login throttle, the gate; reading a file at
 * configuration time (the secret, the blocklist, the mail templates and
 * the SMTP credentials).  The table of directives is in
 * ngx_http_fluentai_module.c.
 */


#include "ngx_http_fluentai.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>


#define NGX_HTTP_FLUENTAI_SECRET_MAX      4096
#define NGX_HTTP_FLUENTAI_DUMMY_PASSWORD  "fluentai-dummy-password"
#define NGX_HTTP_FLUENTAI_SUCCESSOR_LABEL                                     \
    "fluentai refresh token successor v1"


static ngx_int_t ngx_http_fluentai_conf_number(ngx_str_t *value,
    const char *key, ngx_int_t min, ngx_int_t max, ngx_uint_t *n);
static char *ngx_http_fluentai_load_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_fluentai_main_conf_t *mcf);


char *
ngx_http_fluentai_database(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_str_t  *value;

    if (mcf->db.conninfo.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_fluentai_pg_check_conninfo(cf, &value[1],
                                                &mcf->db.conninfo);
}


char *
ngx_http_fluentai_database_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (mcf->db.size != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        rc = ngx_http_fluentai_conf_number(&value[i], "size=", 1, 1024,
                                           &mcf->db.size);

        if (rc == NGX_DECLINED) {
            rc = ngx_http_fluentai_conf_number(&value[i], "queue=", 1,
                                               1048576, &mcf->db.queue);
        }

        if (rc != NGX_OK) {
            goto invalid;
        }
    }

    if (mcf->db.size == NGX_CONF_UNSET_UINT) {
        return "needs \"size=N\"";
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" (expected size=1..1024 "
                       "and optional queue=1..1048576)", &value[i]);
    return NGX_CONF_ERROR;
}


/*
 * "fluentai_database_coalesce off | N [inflight=M]": the most lookups in
 * one batch; the most statements of one kind of lookup running at once
 * per worker (0: as many as the pool has connections)
 */

char *
ngx_http_fluentai_database_coalesce(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (mcf->db.coalesce != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {

        if (cf->args->nelts > 2) {
            return "takes no inflight= with off";
        }

        mcf->db.coalesce = 1;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 2 || n > 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" (expected off or 2..1024)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    mcf->db.coalesce = n;

    if (cf->args->nelts > 2
        && ngx_http_fluentai_conf_number(&value[2], "inflight=", 0, 1024,
                                         &mcf->db.inflight)
           != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" "
                           "(expected inflight=0..1024)", &value[2]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * "key=N" with N in min..max: NGX_OK (*n set), NGX_DECLINED (another key),
 * NGX_ERROR (not a number in range)
 */

static ngx_int_t
ngx_http_fluentai_conf_number(ngx_str_t *value, const char *key,
    ngx_int_t min, ngx_int_t max, ngx_uint_t *n)
{
    size_t     len;
    ngx_int_t  v;

    len = ngx_strlen(key);

    if (value->len < len || ngx_strncmp(value->data, key, len) != 0) {
        return NGX_DECLINED;
    }

    v = ngx_atoi(value->data + len, value->len - len);

    if (v < min || v > max) {
        return NGX_ERROR;
    }

    *n = v;

    return NGX_OK;
}


/* a time, or "off": the server's own statement_timeout is left alone */

char *
ngx_http_fluentai_statement_timeout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_str_t  *value;

    if (mcf->db.stmt_timeout != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        mcf->db.stmt_timeout = 0;
        return NGX_CONF_OK;
    }

    mcf->db.stmt_timeout = ngx_parse_time(&value[1], 0);

    if (mcf->db.stmt_timeout == (ngx_msec_t) NGX_ERROR
        || mcf->db.stmt_timeout == 0)
    {
        return "invalid value";
    }

    return NGX_CONF_OK;
}


char *
ngx_http_fluentai_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_str_t  *value;

    if (mcf->secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_fluentai_load_secret(cf, &value[1], mcf);
}


char *
ngx_http_fluentai_password_hash_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    size_t       lens[3];
    ngx_str_t   *value;
    const char  *argv[3], *err;
    ngx_uint_t   i;

    if (mcf->argon2_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; i < 3; i++) {
        argv[i] = (const char *) value[i + 1].data;
        lens[i] = value[i + 1].len;
    }

    err = ngx_http_fluentai_argon2_parse(&mcf->argon2, argv, 3, lens);
    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid argon2id parameters: %s", err);
        return NGX_CONF_ERROR;
    }

    mcf->argon2_set = 1;

    return NGX_CONF_OK;
}


char *
ngx_http_fluentai_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_str_t  *value;

    if (mcf->thread_pool) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* nginx reports a pool no "thread_pool" directive defines */

    mcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (mcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "fluentai_login_throttle N WINDOW" or "off" */

char *
ngx_http_fluentai_login_throttle(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;
    time_t      window;

    if (mcf->throttle_max != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
            mcf->throttle_max = 0;
            mcf->throttle_window = 1;
            return NGX_CONF_OK;
        }

        return "needs a number of attempts and a window, or \"off\"";
    }

    n = ngx_atoi(value[1].data, value[1].len);
    window = ngx_parse_time(&value[2], 1);

    if (n < 1 || n > 1000000 || window == (time_t) NGX_ERROR || window < 1
        || window > 366 * 86400)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V %V\" (expected 1..1000000 attempts "
                           "and a window of 1s..366d)", &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    mcf->throttle_max = n;
    mcf->throttle_window = window;

    return NGX_CONF_OK;
}

/* "fluentai_auth_jwt off | on | session" */

char *
ngx_http_fluentai_auth_jwt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fluentai_loc_conf_t *lcf = conf;

    char                           *rv;
    ngx_http_fluentai_main_conf_t  *mcf;

    rv = ngx_conf_set_enum_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fluentai_module);
    mcf->jwt_used = 1;

    if (lcf->auth_jwt == NGX_HTTP_FLUENTAI_GATE_SESSION) {
        mcf->gate_session = 1;
    }

    return NGX_CONF_OK;
}


/*
 * Configuration time: a whole file of at most max bytes into pool,
 * NUL-terminated (the name relative to the prefix, as nginx's own).
 * "what" starts the error message: "cannot read <what>"<path>"".
 */

ngx_int_t
ngx_http_fluentai_conf_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_pool_t *pool, size_t max, const char *what, ngx_str_t *out)
{
    off_t            size;
    ssize_t          n;
    ngx_str_t        path;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_ERROR;
    }

    n = -1;
    out->data = NULL;

    if (ngx_fd_info(file.fd, &fi) != NGX_FILE_ERROR) {
        size = ngx_file_size(&fi);

        if (size >= 0 && (uint64_t) size <= max) {
            out->data = ngx_pnalloc(pool, (size_t) size + 1);
            if (out->data) {
                n = ngx_read_file(&file, out->data, (size_t) size, 0);
            }
        }
    }

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &path);
    }

    if (out->data == NULL || n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot read %s\"%V\" (at most %uz bytes)",
                           what, &path, max);
        return NGX_ERROR;
    }

    out->data[n] = '\0';
    out->len = n;

    return NGX_OK;
}


/*
 * Configuration time: read the HS256 secret (trailing newlines dropped),
 * at least 32 bytes; its kid is the first 8 bytes of its SHA-256 in hex.
 */

static char *
ngx_http_fluentai_load_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_fluentai_main_conf_t *mcf)
{
    ngx_str_t  text;
    u_char     digest[SHA256_DIGEST_LENGTH];

    if (ngx_http_fluentai_conf_read_file(cf, path, cf->pool,
                                         NGX_HTTP_FLUENTAI_SECRET_MAX,
                                         "the JWT secret from ", &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    while (text.len && (text.data[text.len - 1] == '\n'
                        || text.data[text.len - 1] == '\r'))
    {
        text.len--;
    }

    if (text.len < NGX_HTTP_FLUENTAI_SECRET_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the JWT secret in \"%V\" is too short: %uz "
                           "bytes, at least %d needed", path, text.len,
                           NGX_HTTP_FLUENTAI_SECRET_MIN);
        ngx_explicit_memzero(text.data, text.len);
        return NGX_CONF_ERROR;
    }

    mcf->secret = text;

    SHA256(text.data, text.len, digest);
    ngx_hex_dump(mcf->kid, digest, 8);
    mcf->kid[16] = '\0';

    /* the key refresh-token successors are derived with (token.c) */

    if (HMAC(EVP_sha256(), text.data, (int) text.len,
             (u_char *) NGX_HTTP_FLUENTAI_SUCCESSOR_LABEL,
             sizeof(NGX_HTTP_FLUENTAI_SUCCESSOR_LABEL) - 1,
             mcf->successor_key, NULL)
        == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "HMAC() failed");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Configuration time: a dummy hash with the configured parameters, so a
 * login for an unknown email costs exactly one verify, like any other.
 */

ngx_int_t
ngx_http_fluentai_dummy_hash(ngx_conf_t *cf,
    ngx_http_fluentai_main_conf_t *mcf)
{
    if (ngx_http_fluentai_password_hash(&mcf->argon2,
                                        NGX_HTTP_FLUENTAI_DUMMY_PASSWORD,
                                sizeof(NGX_HTTP_FLUENTAI_DUMMY_PASSWORD) - 1,
                                        mcf->dummy_hash,
                                        sizeof(mcf->dummy_hash))
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "fluentai: argon2id hashing failed with the "
                      "configured parameters");
        return NGX_ERROR;
    }

    return NGX_OK;
}
