
/*
 * JSON text written directly, byte for byte as jansson's json_dumps()
 * (without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH) writes it, for the
 * responses built on every request.  Pure C.
 */

#ifndef _NGX_HTTP_FLUENTAI_JSON_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_JSON_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


/*
 * The length of s[0..len) as a JSON string, quotes included; -1 if s is
 * not UTF-8 (jansson refuses such a string: json_stringn() gives NULL).
 */
ssize_t ngx_http_fluentai_json_str_len(const u_char *s, size_t len);

/* writes that string (json_str_len() bytes) at dst; returns the end */
u_char *ngx_http_fluentai_json_str(u_char *dst, const u_char *s,
    size_t len);


#endif /* _NGX_HTTP_FLUENTAI_JSON_H_INCLUDED_ */
