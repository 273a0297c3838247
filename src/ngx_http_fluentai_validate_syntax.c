
/*
 * The syntax of the values validation checks that are not just text: an
 * email address and an avatar URL.  Pure C; byte strings in, yes or no
 * out (ngx_http_fluentai_validate.c turns a no into its 422 detail).
 */


#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "ngx_http_fluentai_validate.h"


#define NGX_HTTP_FLUENTAI_LOCAL_MAX      64
#define NGX_HTTP_FLUENTAI_LABEL_MAX      63


/* e is trimmed and lower-cased, len <= NGX_HTTP_FLUENTAI_EMAIL_MAX */

int
ngx_http_fluentai_email_valid(const char *e, size_t len)
{
    size_t       i, at, label, dots;
    const char  *d;
    u_char       c;

    at = len;

    for (i = 0; i < len; i++) {
        c = (u_char) e[i];

        if (c == '@') {
            if (at != len) {
                return 0;
            }

            at = i;
            continue;
        }

        if (at == len && (c <= 0x20 || c >= 0x7f)) {
            return 0;
        }
    }

    if (at == len || at == 0 || at > NGX_HTTP_FLUENTAI_LOCAL_MAX) {
        return 0;
    }

    d = e + at + 1;
    len -= at + 1;

    if (len == 0) {
        return 0;
    }

    label = 0;
    dots = 0;

    for (i = 0; i <= len; i++) {

        if (i == len || d[i] == '.') {
            if (label == 0 || label > NGX_HTTP_FLUENTAI_LABEL_MAX
                || d[i - label] == '-' || d[i - 1] == '-')
            {
                return 0;
            }

            if (i < len) {
                dots++;
            }

            label = 0;
            continue;
        }

        c = (u_char) d[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }

        label++;
    }

    return dots > 0;
}


/*
 * http:// or https:// (scheme case-insensitive), a non-empty host,
 * valid UTF-8, no white space, controls or characters that are never
 * valid in a URL.
 */

int
ngx_http_fluentai_url_valid(const char *s, size_t len)
{
    size_t         i, skip;
    uint32_t       c;
    const u_char  *p, *last, *host, *host_end, *port;

    p = (const u_char *) s;
    last = p + len;

    while (p < last) {
        c = ngx_http_fluentai_utf8_next(&p, last);

        if (c == NGX_HTTP_FLUENTAI_UTF8_BAD
            || c == ' '
            || ngx_http_fluentai_is_control(c)
            || ngx_http_fluentai_is_space(c)
            || c == '"' || c == '<' || c == '>' || c == '\\' || c == '`')
        {
            return 0;
        }
    }

    if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
        skip = 7;

    } else if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
        skip = 8;

    } else {
        return 0;
    }

    /* authority: up to the path, query or fragment */

    host = (const u_char *) s + skip;
    last = (const u_char *) s + len;

    for (p = host; p < last; p++) {
        if (*p == '/' || *p == '?' || *p == '#') {
            break;
        }
    }

    host_end = p;

    /* skip userinfo */

    for (p = host_end; p > host; p--) {
        if (p[-1] == '@') {
            host = p;
            break;
        }
    }

    port = NULL;

    if (host < host_end && *host == '[') {
        for (p = host; p < host_end && *p != ']'; p++) { /* void */ }

        if (p == host_end || p - host < 3) {
            return 0;
        }

        if (p + 1 < host_end) {
            if (p[1] != ':') {
                return 0;
            }

            port = p + 2;
        }

    } else {
        for (p = host; p < host_end && *p != ':'; p++) { /* void */ }

        if (p == host) {
            return 0;
        }

        if (p < host_end) {
            port = p + 1;
        }
    }

    if (port != NULL) {
        for (i = 0; port + i < host_end; i++) {
            if (port[i] < '0' || port[i] > '9' || i == 5) {
                return 0;
            }
        }
    }

    return 1;
}
