
/*
 * Unit tests for ngx_http_fluentai_password.c, TAP output.
 *
 *   gcc -std=gnu99 -Wall -Wextra -Werror -Isrc t/unit/password_test.c \
 *       src/ngx_http_fluentai_password.c -largon2 -lcrypt -lcrypto \
 *       -o build/unit/password_test
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include <argon2.h>
#include <crypt.h>

#include "ngx_http_fluentai_password.h"




/* parses a space-separated line of words */

static const char *
ngx_http_fluentai_parse(ngx_http_fluentai_argon2_t *a, const char *line)
{
    char         buf[256], *w;
    size_t       argc, lens[16];
    const char  *argv[16];

    snprintf(buf, sizeof(buf), "%s", line);
    argc = 0;

    for (w = strtok(buf, " "); w != NULL && argc < 16; w = strtok(NULL, " "))
    {
        argv[argc] = w;
        lens[argc] = strlen(w);
        argc++;
    }

    return ngx_http_fluentai_argon2_parse(a, argv, argc, lens);
}


static void
ngx_http_fluentai_test_parse(void)
{
    size_t                       i;
    const char                  *err;
    ngx_http_fluentai_argon2_t   a;

    static const char           *bad[] = {
        "",
        "m=19456 t=2",
        "m=19456 p=1",
        "t=2 p=1",
        "m=0 t=1 p=1",
        "m=19456 t=abc p=1",
        "m=19456 t=0 p=1",
        "m=19456 t=101 p=1",
        "m=19456 t=2 p=0",
        "m=19456 t=2 p=65",
        "m=19456 m=1024 t=2 p=1",
        "m=19456 t=2 t=2 p=1",
        "m=8 t=1 p=2",
        "m=4194305 t=1 p=1",
        "m=99999999999999999999 t=1 p=1",
        "m=4294967296 t=1 p=1",
        "m=-1 t=1 p=1",
        "m=+1024 t=1 p=1",
        "m=0x400 t=1 p=1",
        "m= t=1 p=1",
        "m=1024 t=1 p=1 x=1",
        "m=1024 t=1 p=1 m",
        "m1024 t=1 p=1",
        "M=1024 t=1 p=1",
    };

    a.m = 7;
    a.t = 7;
    a.p = 7;

    err = ngx_http_fluentai_parse(&a, "m=19456 t=2 p=1");
    ngx_http_fluentai_ok(err == NULL && a.m == 19456 && a.t == 2 && a.p == 1,
                         "parse m=19456 t=2 p=1");

    err = ngx_http_fluentai_parse(&a, "p=4 t=3 m=65536");
    ngx_http_fluentai_ok(err == NULL && a.m == 65536 && a.t == 3 && a.p == 4,
                         "parse in any order");

    err = ngx_http_fluentai_parse(&a, "m=16 t=100 p=2");
    ngx_http_fluentai_ok(err == NULL && a.m == 16 && a.t == 100 && a.p == 2,
                         "parse m = 8 * p, t = 100");

    err = ngx_http_fluentai_parse(&a, "m=4194304 t=1 p=64");
    ngx_http_fluentai_ok(err == NULL && a.m == 4194304 && a.p == 64,
                         "parse upper limits");

    {
        const char   *argv[] = { "m=1024xx", "t=1", "p=1" };
        const size_t  lens[] = { 6, 3, 3 };

        err = ngx_http_fluentai_argon2_parse(&a, argv, 3, lens);
        ngx_http_fluentai_ok(err == NULL && a.m == 1024,
                             "parse honours lens");
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a.m = 1;
        a.t = 2;
        a.p = 3;

        err = ngx_http_fluentai_parse(&a, bad[i]);
        ngx_http_fluentai_ok(err != NULL && err[0] != '\0'
                             && a.m == 1 && a.t == 2 && a.p == 3,
                             "parse \"%s\" fails: %s", bad[i],
                             err ? err : "(accepted)");
    }
}


static void
ngx_http_fluentai_test_argon2(void)
{
    int                          rc;
    char                         h1[NGX_HTTP_FLUENTAI_HASH_MAX];
    char                         h2[NGX_HTTP_FLUENTAI_HASH_MAX];
    char                         small[40];
    const char                  *pw;
    ngx_http_fluentai_argon2_t   a, b;

    /* "пароль123": 12 bytes, the length is passed, no NUL needed */
    pw = "\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c" "123XXXX";

    a.m = 1024;
    a.t = 1;
    a.p = 1;

    rc = ngx_http_fluentai_password_hash(&a, pw, 15, h1, sizeof(h1));
    ngx_http_fluentai_ok(rc == 0
                         && strncmp(h1, "$argon2id$v=19$m=1024,t=1,p=1$", 30)
                            == 0,
                         "hash gives an argon2id PHC string");

    rc = ngx_http_fluentai_password_hash(&a, pw, 15, h2, sizeof(h2));
    ngx_http_fluentai_ok(rc == 0 && strcmp(h1, h2) != 0,
                         "hash salts are random");

    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(h1, pw, 15) == 1,
                         "verify argon2id: match");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(h1, pw, 14) == 0,
                         "verify argon2id: wrong password mismatch");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(h1, pw, 16) == 0,
                         "verify argon2id: longer password mismatch");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(h1, "", 0) == 0,
                         "verify argon2id: empty password mismatch");

    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&a, h1) == 0,
                         "needs_rehash: same parameters 0");

    b = a;
    b.m = 2048;
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&b, h1) == 1,
                         "needs_rehash: other m 1");

    b = a;
    b.t = 2;
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&b, h1) == 1,
                         "needs_rehash: other t 1");

    b = a;
    b.p = 2;
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&b, h1) == 1,
                         "needs_rehash: other p 1");

    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&a,
                             "$argon2id$v=19$m=01024,t=1,p=1$"
                             "c29tZXNhbHRzb21lc2FsdA$"
                             "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY")
                         == 1,
                         "needs_rehash: leading zero 1");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&a,
                             "$argon2id$v=16$m=1024,t=1,p=1$"
                             "c29tZXNhbHRzb21lc2FsdA$"
                             "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY")
                         == 1,
                         "needs_rehash: version 16 1");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&a,
                             "$argon2i$v=19$m=1024,t=1,p=1$"
                             "c29tZXNhbHRzb21lc2FsdA$"
                             "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY")
                         == 1,
                         "needs_rehash: argon2i 1");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&a,
                             "$argon2id$v=19$m=1024,t=1,p=1$x") == 1,
                         "needs_rehash: truncated 1");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&a, NULL)
                         == 1,
                         "needs_rehash: NULL 1");

    rc = ngx_http_fluentai_password_hash(&a, pw, 15, small, sizeof(small));
    ngx_http_fluentai_ok(rc == -1, "hash into a too small buffer fails");

    b.m = 4;
    b.t = 1;
    b.p = 1;
    rc = ngx_http_fluentai_password_hash(&b, pw, 15, h2, sizeof(h2));
    ngx_http_fluentai_ok(rc == -1, "hash with m below argon2's minimum fails");

    /* an argon2i hash verifies with its own type */

    rc = argon2i_hash_encoded(1, 1024, 1, "secret-pw", 9,
                              "0123456789abcdef", 16, 32, h2, sizeof(h2));
    ngx_http_fluentai_ok(rc == ARGON2_OK
                         && ngx_http_fluentai_password_verify(h2,
                                                      "secret-pw", 9) == 1
                         && ngx_http_fluentai_password_verify(h2,
                                                      "secret-px", 9) == 0,
                         "verify argon2i: match and mismatch");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&a, h2) == 1,
                         "needs_rehash: argon2i hash 1");

    /* a tampered argon2id hash: bad base64 in the tag */

    strcpy(h2, h1);
    h2[strlen(h2) - 3] = '!';
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(h2, pw, 15) == -1,
                         "verify argon2id: malformed hash -1");
}


static void
ngx_http_fluentai_test_bcrypt(void)
{
    char                         setting[CRYPT_GENSALT_OUTPUT_SIZE];
    char                         hash[128], other[256];
    const char                  *res;
    struct crypt_data           *data;
    ngx_http_fluentai_argon2_t   a;

    a.m = 1024;
    a.t = 1;
    a.p = 1;

    data = calloc(1, sizeof(struct crypt_data));

    res = crypt_gensalt_rn("$2b$", 4, NULL, 0, setting, sizeof(setting));
    ngx_http_fluentai_ok(res != NULL && strncmp(setting, "$2b$04$", 7) == 0
                         && strlen(setting) == 29,
                         "crypt_gensalt_rn gives a $2b$04$ setting");

    res = (data && res) ? crypt_r("legacy-pass", setting, data) : NULL;
    ngx_http_fluentai_ok(res != NULL && res[0] != '*' && strlen(res) == 60,
                         "crypt_r gives a bcrypt hash");

    snprintf(hash, sizeof(hash), "%s", res ? res : "*");

    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(hash,
                                                    "legacy-passXX", 11) == 1,
                         "verify bcrypt: match (length, not NUL)");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(hash,
                                                    "legacy-pasS", 11) == 0,
                         "verify bcrypt: wrong password mismatch");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(hash,
                                                    "legacy-pass\0x", 13)
                         != 1,
                         "verify bcrypt: password with NUL never matches");
    ngx_http_fluentai_ok(ngx_http_fluentai_password_needs_rehash(&a, hash)
                         == 1,
                         "needs_rehash: bcrypt 1");

    /* $2y$ and $2a$: the same hash under the other prefixes */

    snprintf(other, sizeof(other), "%s", hash);
    other[2] = 'y';
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(other,
                                                    "legacy-pass", 11) == 1,
                         "verify $2y$: match");

    other[2] = 'a';
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(other,
                                                    "legacy-pass", 11) == 1,
                         "verify $2a$: match");

    /* trailing garbage, truncation */

    snprintf(other, sizeof(other), "%sx", hash);
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(other,
                                                    "legacy-pass", 11) == -1,
                         "verify bcrypt: trailing garbage -1");

    snprintf(other, sizeof(other), "%.29s", hash);
    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(other,
                                                    "legacy-pass", 11) == -1,
                         "verify bcrypt: bare setting -1");

    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify("$2b$04$short",
                                                    "legacy-pass", 11) == -1,
                         "verify bcrypt: malformed -1");

    if (data) {
        free(data);
    }
}


static void
ngx_http_fluentai_test_garbage(void)
{
    size_t              i;

    static const char  *bad[] = {
        "",
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=1$",
        "$argon2d$v=19$m=1024,t=1,p=1$$",
        "$2x$04$abcdefghijklmnopqrstuu",
        "$1$salt$hash",
        "$6$salt$hash",
        "*0",
        "plaintext-password",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(bad[i],
                                                           "password", 8)
                             == -1,
                             "verify garbage hash \"%s\" -1", bad[i]);
    }

    ngx_http_fluentai_ok(ngx_http_fluentai_password_verify(NULL,
                                                           "password", 8)
                         == -1,
                         "verify NULL hash -1");
}


int
main(void)
{
    ngx_http_fluentai_test_parse();
    ngx_http_fluentai_test_argon2();
    ngx_http_fluentai_test_bcrypt();
    ngx_http_fluentai_test_garbage();

    return ngx_http_fluentai_test_done();
}
