
/*
 * The unit-test harness (TAP for prove), shared by the t/unit tests:
 *
 *     #include "unit.h"
 *     ...
 *     ngx_http_fluentai_ok(cond, "what %s", name);
 *     ...
 *     return ngx_http_fluentai_test_done();
 */

#ifndef _NGX_HTTP_FLUENTAI_UNIT_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_UNIT_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  ngx_http_fluentai_test_n;
static int  ngx_http_fluentai_test_failed;


static void ngx_http_fluentai_ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));


/* one TAP line: "ok N - ..." or "not ok N - ..." */

static void
ngx_http_fluentai_ok(int cond, const char *fmt, ...)
{
    va_list  ap;

    ngx_http_fluentai_test_n++;

    if (!cond) {
        ngx_http_fluentai_test_failed++;
    }

    printf("%sok %d - ", cond ? "" : "not ", ngx_http_fluentai_test_n);

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");
}

#define ngx_http_fluentai_test_ok  ngx_http_fluentai_ok


/* the plan, after the tests; main's exit status */

static int __attribute__((unused))
ngx_http_fluentai_test_done(void)
{
    printf("1..%d\n", ngx_http_fluentai_test_n);

    return ngx_http_fluentai_test_failed ? 1 : 0;
}


#endif /* _NGX_HTTP_FLUENTAI_UNIT_H_INCLUDED_ */
