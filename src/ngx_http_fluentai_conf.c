
/*
 * Configuration-time work the directives need: the JWT secret file and
 * the dummy password hash.
 */


#include "ngx_http_fluentai.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>


#define NGX_HTTP_FLUENTAI_SECRET_MAX      4096
#define NGX_HTTP_FLUENTAI_DUMMY_PASSWORD  "fluentai-dummy-password"
#define NGX_HTTP_FLUENTAI_SUCCESSOR_LABEL                                     \
    "fluentai refresh token successor v1"


/*
 * Configuration time: read the HS256 secret (trailing newlines dropped),
 * at least 32 bytes; its kid is the first 8 bytes of its SHA-256 in hex.
 */

char *
ngx_http_fluentai_load_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_fluentai_main_conf_t *mcf)
{
    u_char           *buf;
    ssize_t           n;
    ngx_str_t         name;
    ngx_file_t        file;
    ngx_file_info_t   fi;
    u_char            digest[SHA256_DIGEST_LENGTH];

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    buf = NULL;
    n = -1;

    if (ngx_fd_info(file.fd, &fi) != NGX_FILE_ERROR
        && ngx_file_size(&fi) <= NGX_HTTP_FLUENTAI_SECRET_MAX)
    {
        buf = ngx_pnalloc(cf->pool, NGX_HTTP_FLUENTAI_SECRET_MAX);
        if (buf) {
            n = ngx_read_file(&file, buf, NGX_HTTP_FLUENTAI_SECRET_MAX, 0);
        }
    }

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    if (buf == NULL || n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot read the JWT secret from \"%V\" "
                           "(at most %d bytes)", &name,
                           NGX_HTTP_FLUENTAI_SECRET_MAX);
        return NGX_CONF_ERROR;
    }

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }

    if (n < NGX_HTTP_FLUENTAI_SECRET_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the JWT secret in \"%V\" is too short: %z bytes, "
                           "at least %d needed", &name, n,
                           NGX_HTTP_FLUENTAI_SECRET_MIN);
        ngx_explicit_memzero(buf, NGX_HTTP_FLUENTAI_SECRET_MAX);
        return NGX_CONF_ERROR;
    }

    mcf->secret.data = buf;
    mcf->secret.len = n;

    SHA256(buf, n, digest);
    ngx_hex_dump(mcf->kid, digest, 8);
    mcf->kid[16] = '\0';

    /* the key refresh-token successors are derived with (token.c) */

    if (HMAC(EVP_sha256(), buf, (int) n,
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
