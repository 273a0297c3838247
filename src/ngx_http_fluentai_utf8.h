
/*
 * Strict UTF-8 and the character classes the rules use: pure C
 * (src/ngx_http_fluentai_utf8.c).  Strict: no overlong forms, no
 * surrogates, nothing over U+10FFFF, no truncated sequences.
 */

#ifndef _NGX_HTTP_FLUENTAI_UTF8_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_UTF8_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_HTTP_FLUENTAI_UTF8_BAD       0xffffffff


/*
 * one code point at *p (p < last), *p advanced past it; 0xffffffff (and
 * *p unchanged) for invalid UTF-8
 */
uint32_t ngx_http_fluentai_utf8_next(const unsigned char **p,
    const unsigned char *last);

/* number of UTF-8 code points in s[0..len), or -1 if invalid UTF-8 */
long ngx_http_fluentai_utf8_count(const char *s, size_t len);

/* 1 if s[0..len) is valid UTF-8 without a NUL byte */
int ngx_http_fluentai_utf8_text(const char *s, size_t len);

/* Unicode White_Space, plus U+FEFF */
int ngx_http_fluentai_is_space(uint32_t c);

/* C0, DEL and C1 */
int ngx_http_fluentai_is_control(uint32_t c);


#endif /* _NGX_HTTP_FLUENTAI_UTF8_H_INCLUDED_ */
