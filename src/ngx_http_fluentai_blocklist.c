
/*
 * New passwords that are too weak to take: "fluentai_password_blocklist
 * FILE" (one password a line, loaded at configuration time into a hash
 * table, compared case-insensitively) and passwords of only white space.
 * Register, change-password and reset-password call
 * ngx_http_fluentai_new_password_or_fail after their validation; so does
 * any other endpoint that sets a password.
 */


#include "ngx_http_fluentai.h"


/* john's password.lst marks its comment lines so */
#define NGX_HTTP_FLUENTAI_BLOCKLIST_COMMENT   "#!comment:"

#define NGX_HTTP_FLUENTAI_BLOCKLIST_FILE_MAX  (256 * 1024 * 1024)

/* longest entry kept: 128 code points of up to 4 bytes */
#define NGX_HTTP_FLUENTAI_BLOCKLIST_KEY_MAX   512


static ngx_int_t ngx_http_fluentai_blocklist_keys(ngx_conf_t *cf,
    ngx_str_t *text, ngx_hash_keys_arrays_t *keys, size_t *longest);
static ngx_uint_t ngx_http_fluentai_blank(ngx_http_fluentai_vstr_t *s);


char *
ngx_http_fluentai_password_blocklist(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fluentai_main_conf_t *mcf = conf;

    size_t                   longest;
    ngx_str_t               *value, text;
    ngx_hash_init_t          hinit;
    ngx_hash_keys_arrays_t   keys;

    if (mcf->blocklist.buckets) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_fluentai_conf_read_file(cf, &value[1], cf->temp_pool,
                                         NGX_HTTP_FLUENTAI_BLOCKLIST_FILE_MAX,
                                         "the password blocklist ", &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&keys, sizeof(ngx_hash_keys_arrays_t));
    keys.pool = cf->pool;
    keys.temp_pool = cf->temp_pool;

    if (ngx_hash_keys_array_init(&keys, NGX_HASH_LARGE) != NGX_OK
        || ngx_http_fluentai_blocklist_keys(cf, &text, &keys, &longest)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    hinit.hash = &mcf->blocklist;
    hinit.key = ngx_hash_key;
    hinit.max_size = ngx_max(4 * keys.keys.nelts, 1024);
    hinit.bucket_size = ngx_align(longest + 2 + 2 * sizeof(void *),
                                  ngx_cacheline_size);
    hinit.bucket_size = ngx_max(hinit.bucket_size, 128);
    hinit.name = "fluentai_password_blocklist";
    hinit.pool = cf->pool;
    hinit.temp_pool = NULL;

    if (ngx_hash_init(&hinit, keys.keys.elts, keys.keys.nelts) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * One key a line, lower-cased (ASCII) in place: a trailing "\r" is
 * dropped, empty lines, john's "#!comment:" lines and lines too long to
 * be a valid password are skipped, duplicates are kept once.
 */

static ngx_int_t
ngx_http_fluentai_blocklist_keys(ngx_conf_t *cf, ngx_str_t *text,
    ngx_hash_keys_arrays_t *keys, size_t *longest)
{
    u_char     *p, *last, *eol;
    ngx_int_t   rc;
    ngx_str_t   key;

    *longest = 0;
    p = text->data;
    last = text->data + text->len;

    while (p < last) {
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        key.data = p;
        key.len = eol - p;
        p = eol + 1;

        if (key.len && key.data[key.len - 1] == '\r') {
            key.len--;
        }

        if (key.len == 0
            || key.len > NGX_HTTP_FLUENTAI_BLOCKLIST_KEY_MAX
            || (key.len >= sizeof(NGX_HTTP_FLUENTAI_BLOCKLIST_COMMENT) - 1
                && ngx_strncmp(key.data, NGX_HTTP_FLUENTAI_BLOCKLIST_COMMENT,
                       sizeof(NGX_HTTP_FLUENTAI_BLOCKLIST_COMMENT) - 1)
                   == 0))
        {
            continue;
        }

        ngx_strlow(key.data, key.data, key.len);

        rc = ngx_hash_add_key(keys, &key, (void *) 1, NGX_HASH_READONLY_KEY);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK && key.len > *longest) {
            *longest = key.len;
        }
    }

    if (keys->keys.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the password blocklist has no passwords");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* 1: the password is on the blocklist (ASCII case-insensitively) */

ngx_uint_t
ngx_http_fluentai_password_common(ngx_http_fluentai_main_conf_t *mcf,
    ngx_http_fluentai_vstr_t *password)
{
    void        *found;
    ngx_uint_t   key;
    u_char       low[NGX_HTTP_FLUENTAI_BLOCKLIST_KEY_MAX];

    if (mcf->blocklist.buckets == NULL
        || password->len == 0
        || password->len > NGX_HTTP_FLUENTAI_BLOCKLIST_KEY_MAX)
    {
        return 0;
    }

    key = ngx_hash_strlow(low, (u_char *) password->data, password->len);
    found = ngx_hash_find(&mcf->blocklist, key, low, password->len);

    ngx_explicit_memzero(low, password->len);

    return found != NULL;
}


/* only Unicode white space (the password is valid UTF-8 by now) */

static ngx_uint_t
ngx_http_fluentai_blank(ngx_http_fluentai_vstr_t *s)
{
    uint32_t       c;
    const u_char  *p, *last;

    p = (const u_char *) s->data;
    last = p + s->len;

    while (p < last) {
        c = ngx_http_fluentai_utf8_next(&p, last);

        if (!ngx_http_fluentai_is_space(c)) {
            return 0;
        }
    }

    return 1;
}


/*
 * A new password that passed validation: NGX_OK if it may be used; else
 * answers 422 "password_too_common" (details name the field) and returns
 * NGX_DONE.  For every endpoint that sets a password.
 */

ngx_int_t
ngx_http_fluentai_new_password_or_fail(ngx_http_request_t *r,
    const char *field, ngx_http_fluentai_vstr_t *password)
{
    const char               *msg;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_blank(password)) {
        msg = "the password must not be only white space";

    } else if (ngx_http_fluentai_password_common(ctx->mcf, password)) {
        msg = "this password is too common, choose another one";

    } else {
        return NGX_OK;
    }

    ngx_http_fluentai_fail(r, NGX_HTTP_FLUENTAI_UNPROCESSABLE,
                           "password_too_common",
                           ngx_http_fluentai_detail(field, msg,
                                        "value_error.password_too_common"));

    return NGX_DONE;
}
