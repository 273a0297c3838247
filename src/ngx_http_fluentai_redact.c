
/*
 * No secret in any log line.
 *
 * nginx writes the request line (query string included) into every error
 * log line of a request, prints request headers and the request line at
 * debug level before any module runs, and records $request in the access
 * log.  Two measures:
 *
 *   - every error log of a configuration that uses the module gets a
 *     writer that redacts each line, whatever module wrote it and at any
 *     level, before it reaches the file, syslog or the memory buffer: the
 *     value of any name=value or "name":"value" pair whose name contains
 *     "token", "password", "passwd", "secret" or "refresh", of an
 *     Authorization header, and any JWT-shaped string;
 *
 *   - in endpoint locations, a rewrite-phase handler (before limit_req,
 *     access and the log phase) replaces such values in the request line,
 *     $args and $request_uri by "[redacted]"; the module reads the query
 *     form "?refresh_token=" from the original, kept in its context.
 */


#include "ngx_http_fluentai.h"


#define NGX_HTTP_FLUENTAI_REDACTED       "[redacted]"
#define NGX_HTTP_FLUENTAI_REDACT_LINE    (NGX_MAX_ERROR_STR + 256)
#define NGX_HTTP_FLUENTAI_REDACT_WRITERS 64


typedef struct {
    void                       *wdata;
    ngx_log_writer_pt           writer;
} ngx_http_fluentai_redact_writer_t;


static void ngx_http_fluentai_redact_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len);
static ngx_uint_t ngx_http_fluentai_redact_name(u_char *start, u_char *end);
static u_char *ngx_http_fluentai_redact_jwt(u_char *p, u_char *end);
static ngx_int_t ngx_http_fluentai_redact_str(ngx_http_request_t *r,
    ngx_str_t *s);
static void ngx_http_fluentai_redact_cleanup(void *data);


/* the writers (syslog, memory) our writer stands in front of, by wdata */

static ngx_http_fluentai_redact_writer_t
    ngx_http_fluentai_redact_writers[NGX_HTTP_FLUENTAI_REDACT_WRITERS];
static ngx_uint_t  ngx_http_fluentai_redact_nwriters;


/*
 * Copies src[0..len) into dst (cap bytes), secrets replaced by
 * "[redacted]"; returns the length written (truncated to cap).
 */

size_t
ngx_http_fluentai_redact(u_char *dst, size_t cap, u_char *src, size_t len)
{
    u_char  *p, *end, *d, *dend, *v, *jwt, quote;
    size_t   n;

    p = src;
    end = src + len;
    d = dst;
    dend = dst + cap;

#define ngx_http_fluentai_redact_put(s, l)                                   \
    n = ngx_min((size_t) (l), (size_t) (dend - d));                           \
    d = ngx_cpymem(d, s, n)

    while (p < end && d < dend) {

        /* JWT-shaped: header.payload.signature, header from "eyJ" */

        jwt = ngx_http_fluentai_redact_jwt(p, end);
        if (jwt) {
            ngx_http_fluentai_redact_put(NGX_HTTP_FLUENTAI_REDACTED,
                                     sizeof(NGX_HTTP_FLUENTAI_REDACTED) - 1);
            p = jwt;
            continue;
        }

        v = NULL;
        quote = 0;

        if (*p == '=' && ngx_http_fluentai_redact_name(src, p)) {
            v = p + 1;

        } else if (*p == '"' && end - p > 2 && p[1] == ':'
                   && ngx_http_fluentai_redact_name(src, p))
        {
            v = p + 2;
            while (v < end && *v == ' ') {
                v++;
            }

            if (v < end && *v == '"') {
                v++;
                quote = '"';

            } else {
                v = NULL;
            }

        } else if ((*p == ':' || *p == ' ') && p - src >= 13
                   && ngx_strncasecmp(p - 13, (u_char *) "authorization",
                                      13) == 0)
        {
            v = p + 1;
            while (v < end && *v == ' ') {
                v++;
            }

            quote = '"';

        } else if ((*p == ' ') && p - src >= 6
                   && (ngx_strncasecmp(p - 6, (u_char *) "bearer", 6) == 0))
        {
            v = p + 1;
        }

        if (v == NULL) {
            *d++ = *p++;
            continue;
        }

        ngx_http_fluentai_redact_put(p, v - p);

        /* the value: up to a separator (or the closing quote) */

        while (v < end) {
            if (quote ? (*v == quote && v[-1] != '\\')
                      : (*v == '&' || *v == ' ' || *v == '"' || *v == '\''
                         || *v == ';' || *v == ',' || *v == '\n'
                         || *v == '\r'))
            {
                break;
            }

            v++;
        }

        ngx_http_fluentai_redact_put(NGX_HTTP_FLUENTAI_REDACTED,
                                     sizeof(NGX_HTTP_FLUENTAI_REDACTED) - 1);
        p = v;
    }

#undef ngx_http_fluentai_redact_put

    return d - dst;
}


/*
 * 1 if the name that ends at end (a run of letters, digits, "_", "-",
 * "." back from it) names a secret
 */

static ngx_uint_t
ngx_http_fluentai_redact_name(u_char *start, u_char *end)
{
    u_char      *p, c, name[64];
    size_t       len;
    ngx_uint_t   i;

    static const char  *secrets[] = {
        "token", "password", "passwd", "secret", "refresh", NULL
    };

    p = end;

    while (p > start) {
        c = p[-1];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
        {
            break;
        }

        p--;
    }

    len = end - p;

    if (len == 0 || len > sizeof(name)) {
        return 0;
    }

    ngx_strlow(name, p, len);

    for (i = 0; secrets[i]; i++) {
        if (ngx_strlcasestrn(name, name + len, (u_char *) secrets[i],
                             ngx_strlen(secrets[i]) - 1))
        {
            return 1;
        }
    }

    return 0;
}


/* the end of a JWT-shaped string at p ("eyJ" + 2 more dotted parts) */

static u_char *
ngx_http_fluentai_redact_jwt(u_char *p, u_char *end)
{
    u_char      c;
    ngx_uint_t  dots;

    if (end - p < 10 || p[0] != 'e' || p[1] != 'y' || p[2] != 'J') {
        return NULL;
    }

    dots = 0;

    for (p += 3; p < end; p++) {
        c = *p;

        if (c == '.') {
            if (++dots > 2) {
                break;
            }

            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            break;
        }
    }

    return (dots >= 2) ? p : NULL;
}


/*
 * Configuration: puts the redacting writer in front of every log of the
 * chain (a location's error_log, inherited ones included).  The logs are
 * listed in *logs; when the configuration's pool goes, a cleanup puts the
 * original writers back, before the module itself is unloaded.
 */

ngx_int_t
ngx_http_fluentai_redact_log(ngx_conf_t *cf, ngx_array_t **logs,
    ngx_log_t *log)
{
    ngx_uint_t           i;
    ngx_log_t          **l;
    ngx_pool_cleanup_t  *cln;

    if (*logs == NULL) {
        *logs = ngx_array_create(cf->pool, 4, sizeof(ngx_log_t *));
        cln = ngx_pool_cleanup_add(cf->pool, 0);

        if (*logs == NULL || cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_fluentai_redact_cleanup;
        cln->data = *logs;
    }

    for ( /* void */ ; log; log = log->next) {

        if (log->writer == ngx_http_fluentai_redact_writer) {
            continue;
        }

        if (log->writer) {
            for (i = 0; i < ngx_http_fluentai_redact_nwriters; i++) {
                if (ngx_http_fluentai_redact_writers[i].wdata == log->wdata) {
                    break;
                }
            }

            if (i == NGX_HTTP_FLUENTAI_REDACT_WRITERS) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "fluentai: too many syslog or memory "
                                   "error logs to redact (at most %d)",
                                   NGX_HTTP_FLUENTAI_REDACT_WRITERS);
                return NGX_ERROR;
            }

            /* the latest wins: wdata may be reused after a reload */

            ngx_http_fluentai_redact_writers[i].wdata = log->wdata;
            ngx_http_fluentai_redact_writers[i].writer = log->writer;

            if (i == ngx_http_fluentai_redact_nwriters) {
                ngx_http_fluentai_redact_nwriters++;
            }
        }

        l = ngx_array_push(*logs);
        if (l == NULL) {
            return NGX_ERROR;
        }

        *l = log;
        log->writer = ngx_http_fluentai_redact_writer;
    }

    return NGX_OK;
}


static void
ngx_http_fluentai_redact_cleanup(void *data)
{
    ngx_array_t *logs = data;

    ngx_uint_t   i, k;
    ngx_log_t  **l, *log;

    l = logs->elts;

    for (k = 0; k < logs->nelts; k++) {
        log = l[k];

        if (log->writer != ngx_http_fluentai_redact_writer) {
            continue;
        }

        log->writer = NULL;

        for (i = 0; log->wdata && i < ngx_http_fluentai_redact_nwriters; i++)
        {
            if (ngx_http_fluentai_redact_writers[i].wdata == log->wdata) {
                log->writer = ngx_http_fluentai_redact_writers[i].writer;
                break;
            }
        }
    }
}


static void
ngx_http_fluentai_redact_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len)
{
    size_t      n;
    ngx_uint_t  i;
    u_char      line[NGX_HTTP_FLUENTAI_REDACT_LINE];

    n = ngx_http_fluentai_redact(line, sizeof(line), buf, len);

    if (n == sizeof(line) && len > 0 && buf[len - 1] == LF) {
        line[n - 1] = LF;
    }

    if (log->wdata) {
        for (i = 0; i < ngx_http_fluentai_redact_nwriters; i++) {
            if (ngx_http_fluentai_redact_writers[i].wdata == log->wdata) {
                ngx_http_fluentai_redact_writers[i].writer(log, level, line,
                                                           n);
                return;
            }
        }

        return;
    }

    if (log->file == NULL || ngx_time() == log->disk_full_time) {
        return;
    }

    if (ngx_write_fd(log->file->fd, line, n) == -1
        && ngx_errno == NGX_ENOSPC)
    {
        log->disk_full_time = ngx_time();
    }
}


/*
 * Rewrite phase, endpoint locations: the request line, $args and
 * $request_uri with secrets redacted, before limit_req or anything else
 * logs them; the original query string stays in ctx->raw_args.
 */

ngx_int_t
ngx_http_fluentai_redact_handler(ngx_http_request_t *r)
{
    ngx_http_fluentai_ctx_t       *ctx;
    ngx_http_fluentai_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);

    if (lcf->endpoint == NULL || r->args.len == 0) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_fluentai_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->raw_args.data) {
        return NGX_DECLINED;        /* done already (internal redirect) */
    }

    ctx->raw_args = r->args;

    if (ngx_http_fluentai_redact_str(r, &r->args) != NGX_OK
        || ngx_http_fluentai_redact_str(r, &r->request_line) != NGX_OK
        || ngx_http_fluentai_redact_str(r, &r->unparsed_uri) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* s redacted into a new r->pool copy */

static ngx_int_t
ngx_http_fluentai_redact_str(ngx_http_request_t *r, ngx_str_t *s)
{
    u_char  *p;
    size_t   cap;

    if (s->len == 0) {
        return NGX_OK;
    }

    /* each "[redacted]" replaces at least one byte of a name=value pair */

    cap = s->len * (sizeof(NGX_HTTP_FLUENTAI_REDACTED) + 1);

    p = ngx_pnalloc(r->pool, cap);
    if (p == NULL) {
        return NGX_ERROR;
    }

    s->len = ngx_http_fluentai_redact(p, cap, s->data, s->len);
    s->data = p;

    return NGX_OK;
}
