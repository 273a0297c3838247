
/*
 * Unit tests for ngx_http_fluentai_json.c: every string is written byte
 * for byte as jansson's json_dumps() writes it, and refused exactly when
 * jansson refuses it (not UTF-8).  Single bytes, code point boundaries,
 * broken sequences, then random strings against jansson.  Prints TAP.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "unit.h"

#include "ngx_http_fluentai_json.h"


/* 1 if ours and jansson's agree on s[0..len) */

static int
ngx_http_fluentai_test_same(const u_char *s, size_t len)
{
    int       same;
    char     *dump;
    json_t   *j;
    ssize_t   n;
    u_char   *end, out[6 * 64 + 2 + 1];

    if (len > 64) {
        return 0;
    }

    n = ngx_http_fluentai_json_str_len(s, len);
    j = json_stringn((const char *) s, len);

    if (j == NULL) {
        return n == -1;
    }

    dump = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);

    if (dump == NULL || n < 0) {
        free(dump);
        return 0;
    }

    memset(out, 0xee, sizeof(out));
    end = ngx_http_fluentai_json_str(out, s, len);

    same = (size_t) n == strlen(dump)
           && end - out == n
           && out[n] == 0xee
           && memcmp(out, dump, n) == 0;

    free(dump);

    return same;
}


/* a code point as UTF-8 (also the invalid ones: surrogates, too big) */

static size_t
ngx_http_fluentai_test_utf8(unsigned cp, u_char *p)
{
    if (cp < 0x80) {
        p[0] = (u_char) cp;
        return 1;
    }

    if (cp < 0x800) {
        p[0] = (u_char) (0xc0 | cp >> 6);
        p[1] = (u_char) (0x80 | (cp & 0x3f));
        return 2;
    }

    if (cp < 0x10000) {
        p[0] = (u_char) (0xe0 | cp >> 12);
        p[1] = (u_char) (0x80 | (cp >> 6 & 0x3f));
        p[2] = (u_char) (0x80 | (cp & 0x3f));
        return 3;
    }

    p[0] = (u_char) (0xf0 | (cp >> 18 & 0x07));
    p[1] = (u_char) (0x80 | (cp >> 12 & 0x3f));
    p[2] = (u_char) (0x80 | (cp >> 6 & 0x3f));
    p[3] = (u_char) (0x80 | (cp & 0x3f));
    return 4;
}


static void
ngx_http_fluentai_test_bytes(void)
{
    int     ok;
    size_t  n, i;
    u_char  s[8];

    static const unsigned  cps[] = {
        0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00,
        0xdfff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff, 0x110000,
        0x1fffff
    };

    static const char  *broken[] = {
        "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "\xff", "\xfe", "\x80", "\xbf",
        "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xc3\x28", "\xe2\x28\xa1",
        "a\xc3", "\xc3\xa9\xc3"
    };

    ok = 1;

    for (i = 0; i < 256; i++) {
        s[0] = (u_char) i;
        ok = ok && ngx_http_fluentai_test_same(s, 1);
    }

    ngx_http_fluentai_test_ok(ok, "every single byte as jansson");

    for (i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
        n = ngx_http_fluentai_test_utf8(cps[i], s);
        ngx_http_fluentai_test_ok(ngx_http_fluentai_test_same(s, n),
                                  "code point U+%04X as jansson", cps[i]);
    }

    for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        n = strlen(broken[i]);
        ngx_http_fluentai_test_ok(
            ngx_http_fluentai_json_str_len((const u_char *) broken[i], n)
            == -1
            && ngx_http_fluentai_test_same((const u_char *) broken[i], n),
            "not UTF-8, refused (broken sequence %zu)", i);
    }

    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_test_same((const u_char *) "a\0b", 3),
        "NUL as \\u0000");
    ngx_http_fluentai_test_ok(ngx_http_fluentai_test_same(
        (const u_char *) "", 0), "empty string");
}


/* random strings: mostly ASCII with controls, valid and broken UTF-8 */

static void
ngx_http_fluentai_test_random(void)
{
    int       ok, bad;
    size_t    i, n, k;
    unsigned  cp;
    u_char    s[64 + 4];

    static const char  pick[] = "aZ0 \"\\/\b\f\n\r\t\x01\x1f\x7f";

    srand(19);
    ok = 1;
    bad = 0;

    for (i = 0; i < 200000; i++) {
        n = 0;
        k = (size_t) rand() % 16;

        while (k-- && n < 60) {
            switch (rand() % 4) {

            case 0:
                s[n++] = (u_char) pick[rand() % (sizeof(pick) - 1)];
                break;

            case 1:
                cp = (unsigned) rand() % 0x110000;
                n += ngx_http_fluentai_test_utf8(cp, s + n);
                break;

            case 2:
                s[n++] = (u_char) (rand() % 256);
                break;

            default:
                s[n++] = (u_char) (0x20 + rand() % 95);
            }
        }

        if (!ngx_http_fluentai_test_same(s, n)) {
            ok = 0;
        }

        bad += (ngx_http_fluentai_json_str_len(s, n) == -1);
    }

    ngx_http_fluentai_test_ok(ok && bad > 1000 && bad < 199000,
                              "200000 random strings as jansson "
                              "(%d of them refused)", bad);
}


int
main(void)
{
    ngx_http_fluentai_test_bytes();
    ngx_http_fluentai_test_random();

    return ngx_http_fluentai_test_done();
}
