
/*
 * Strict UTF-8 decoding and character classes.  Pure C.
 * See ngx_http_fluentai_utf8.h.
 */


#include <string.h>
#include <sys/types.h>

#include "ngx_http_fluentai_utf8.h"


long
ngx_http_fluentai_utf8_count(const char *s, size_t len)
{
    long           n;
    const u_char  *p, *last;

    if (s == NULL) {
        return len ? -1 : 0;
    }

    p = (const u_char *) s;
    last = p + len;
    n = 0;

    while (p < last) {
        if (*p < 0x80) {
            p++;

        } else if (ngx_http_fluentai_utf8_next(&p, last)
                   == NGX_HTTP_FLUENTAI_UTF8_BAD)
        {
            return -1;
        }

        n++;
    }

    return n;
}


/*
 * Decodes one code point at *p (p < last) and advances *p past it.
 * Rejects truncated sequences, overlong forms, surrogates and values
 * over U+10FFFF.
 */

uint32_t
ngx_http_fluentai_utf8_next(const u_char **p, const u_char *last)
{
    size_t         n, i;
    uint32_t       c, min;
    const u_char  *s;

    s = *p;
    c = *s;

    if (c < 0x80) {
        *p = s + 1;
        return c;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        c &= 0x1f;
        min = 0x80;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        c &= 0x0f;
        min = 0x800;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        c &= 0x07;
        min = 0x10000;

    } else {
        return NGX_HTTP_FLUENTAI_UTF8_BAD;
    }

    if ((size_t) (last - s) <= n) {
        return NGX_HTTP_FLUENTAI_UTF8_BAD;
    }

    for (i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return NGX_HTTP_FLUENTAI_UTF8_BAD;
        }

        c = (c << 6) | (s[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return NGX_HTTP_FLUENTAI_UTF8_BAD;
    }

    *p = s + n + 1;

    return c;
}


int
ngx_http_fluentai_utf8_text(const char *s, size_t len)
{
    if (len && memchr(s, '\0', len) != NULL) {
        return 0;
    }

    return ngx_http_fluentai_utf8_count(s, len) >= 0;
}


/* Unicode White_Space, plus U+FEFF (a stray byte order mark) */

int
ngx_http_fluentai_is_space(uint32_t c)
{
    switch (c) {
    case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d:
    case 0x20: case 0x85: case 0xa0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202f: case 0x205f:
    case 0x3000: case 0xfeff:
        return 1;
    }

    return c >= 0x2000 && c <= 0x200a;
}


/* C0, DEL and C1 */

int
ngx_http_fluentai_is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}
