
/*
 * JSON strings written as jansson writes them: '"' and '\\' escaped,
 * \b \f \n \r \t, other control characters as \u00XX (upper-case hex),
 * everything else (DEL, '/', UTF-8 sequences) as is; the input must be
 * UTF-8 as jansson checks it (no overlong forms, no surrogates, nothing
 * above U+10FFFF).  Pure C.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_http_fluentai_json.h"


static size_t ngx_http_fluentai_json_utf8(const u_char *p,
    const u_char *end);


ssize_t
ngx_http_fluentai_json_str_len(const u_char *s, size_t len)
{
    size_t         n, k;
    const u_char  *p, *end;

    n = 2;
    end = s + len;

    for (p = s; p < end; /* void */) {

        if (*p >= 0x80) {
            k = ngx_http_fluentai_json_utf8(p, end);
            if (k == 0) {
                return -1;
            }

            p += k;
            n += k;
            continue;
        }

        switch (*p) {

        case '"': case '\\': case '\b': case '\f': case '\n': case '\r':
        case '\t':
            n += 2;
            break;

        default:
            n += (*p < 0x20) ? 6 : 1;
        }

        p++;
    }

    return (ssize_t) n;
}


u_char *
ngx_http_fluentai_json_str(u_char *dst, const u_char *s, size_t len)
{
    u_char         c;
    const u_char  *end;

    static const u_char  hex[] = "0123456789ABCDEF";

    end = s + len;

    *dst++ = '"';

    while (s < end) {
        c = *s++;

        if (c >= 0x20 && c != '"' && c != '\\') {
            *dst++ = c;
            continue;
        }

        *dst++ = '\\';

        switch (c) {

        case '"': case '\\':
            *dst++ = c;
            break;

        case '\b':
            *dst++ = 'b';
            break;

        case '\f':
            *dst++ = 'f';
            break;

        case '\n':
            *dst++ = 'n';
            break;

        case '\r':
            *dst++ = 'r';
            break;

        case '\t':
            *dst++ = 't';
            break;

        default:
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 0x0f];
        }
    }

    *dst++ = '"';

    return dst;
}


/* the length of the UTF-8 sequence at p (a byte >= 0x80), or 0 */

static size_t
ngx_http_fluentai_json_utf8(const u_char *p, const u_char *end)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2;
        cp = *p & 0x1f;
        min = 0x80;

    } else if (*p >= 0xe0 && *p <= 0xef) {
        n = 3;
        cp = *p & 0x0f;
        min = 0x800;

    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4;
        cp = *p & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (end - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}
