
/*
 * JSON strings written as jansson writes them: '"' and '\\' escaped,
 * \b \f \n \r \t, other control characters as \u00XX (upper-case hex),
 * everything else (DEL, '/', UTF-8 sequences) as is; the input must be
 * UTF-8 as jansson checks it (no overlong forms, no surrogates, nothing
 * above U+10FFFF).  Pure C.
 */


#include <string.h>

#include "ngx_http_fluentai_json.h"
#include "ngx_http_fluentai_utf8.h"


ssize_t
ngx_http_fluentai_json_str_len(const u_char *s, size_t len)
{
    size_t         n;
    const u_char  *p, *q, *end;

    n = 2;
    end = s + len;

    for (p = s; p < end; /* void */) {

        if (*p >= 0x80) {
            q = p;

            if (ngx_http_fluentai_utf8_next(&p, end)
                == NGX_HTTP_FLUENTAI_UTF8_BAD)
            {
                return -1;
            }

            n += p - q;
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
