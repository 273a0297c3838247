
/*
 * TAP output for the unit tests: ok(cond, fmt, ...), then tap_done().
 */

#ifndef _NGX_HTTP_FLUENTAI_TAP_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>


static int  ngx_http_fluentai_tap_n;
static int  ngx_http_fluentai_tap_failed;


static void
ngx_http_fluentai_test_ok(int cond, const char *fmt, ...)
{
    va_list  args;

    ngx_http_fluentai_tap_n++;

    if (!cond) {
        ngx_http_fluentai_tap_failed++;
    }

    printf("%sok %d - ", cond ? "" : "not ", ngx_http_fluentai_tap_n);

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
}


static int
ngx_http_fluentai_tap_done(void)
{
    printf("1..%d\n", ngx_http_fluentai_tap_n);

    return ngx_http_fluentai_tap_failed ? 1 : 0;
}


#endif /* _NGX_HTTP_FLUENTAI_TAP_H_INCLUDED_ */
