
/*
 * Unit tests for ngx_http_fluentai_token.c: opaque refresh tokens.
 * Prints TAP.
 *
 *   gcc -std=gnu99 -Wall -Wextra -Werror -Isrc t/unit/token_test.c \
 *       src/ngx_http_fluentai_jwt.c src/ngx_http_fluentai_token.c \
 *       -ljansson -lcrypto -o build/unit/token_test
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ngx_http_fluentai_jwt.h"
#include "ngx_http_fluentai_token.h"


#define T_B64                                                                \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"




static void ngx_http_fluentai_test_successor(void);


static int
ngx_http_fluentai_test_decode(const char *s, size_t len, u_char *hash)
{
    return ngx_http_fluentai_refresh_token_decode((const u_char *) s, len,
                                                  hash);
}


int
main(void)
{
    int     rc, rc2, accepted, i;
    char    bad[64];
    size_t  j;
    u_char  tok[64], tok2[64], small[64];
    u_char  hash[NGX_HTTP_FLUENTAI_HASH_LEN], hash2[NGX_HTTP_FLUENTAI_HASH_LEN];
    u_char  expect[SHA256_DIGEST_LENGTH];

    static const char  bad_chars[] = "+/= .\t\"\x80\xff";

    memset(tok, 'x', sizeof(tok));
    rc = ngx_http_fluentai_refresh_token_new(tok, sizeof(tok), hash);

    ngx_http_fluentai_test_ok(rc == 0 && strlen((char *) tok) == 43,
                              "new: 43 characters, NUL-terminated");

    ngx_http_fluentai_test_ok(strspn((char *) tok, T_B64) == 43,
                              "new: base64url alphabet only (%s)", tok);

    SHA256(tok, 43, expect);
    ngx_http_fluentai_test_ok(memcmp(hash, expect, sizeof(expect)) == 0,
                              "new: hash is SHA-256 of the 43 characters");

    memset(hash2, 0, sizeof(hash2));
    rc = ngx_http_fluentai_test_decode((char *) tok, 43, hash2);
    ngx_http_fluentai_test_ok(rc == 0
                              && memcmp(hash, hash2, sizeof(hash)) == 0,
                              "new -> decode gives the same hash");

    rc = ngx_http_fluentai_refresh_token_new(tok2, sizeof(tok2), hash2);
    ngx_http_fluentai_test_ok(rc == 0
                              && memcmp(tok, tok2, 43) != 0
                              && memcmp(hash, hash2, sizeof(hash)) != 0,
                              "two new tokens (and hashes) differ");

    rc = ngx_http_fluentai_refresh_token_new(small, 44, hash2);
    ngx_http_fluentai_test_ok(rc == 0 && small[43] == '\0',
                              "new fits in exactly 44 bytes");

    rc = ngx_http_fluentai_refresh_token_new(small, 43, hash2);
    ngx_http_fluentai_test_ok(rc == -1, "new rejects out_cap 43");

    /* 100 new tokens all decode, all end in a valid final character */

    rc2 = 0;

    for (i = 0; i < 100; i++) {
        if (ngx_http_fluentai_refresh_token_new(small, sizeof(small), hash)
            != 0
            || ngx_http_fluentai_test_decode((char *) small, 43, hash2) != 0
            || memcmp(hash, hash2, sizeof(hash)) != 0)
        {
            rc2++;
        }
    }

    ngx_http_fluentai_test_ok(rc2 == 0, "100 new tokens round-trip");

    /* lengths */

    rc = ngx_http_fluentai_test_decode((char *) tok, 42, hash2);
    ngx_http_fluentai_test_ok(rc == -1, "decode rejects 42 characters");

    memcpy(bad, tok, 43);
    bad[43] = 'A';
    rc = ngx_http_fluentai_test_decode(bad, 44, hash2);
    ngx_http_fluentai_test_ok(rc == -1, "decode rejects 44 characters");

    rc = ngx_http_fluentai_test_decode("", 0, hash2);
    ngx_http_fluentai_test_ok(rc == -1, "decode rejects an empty token");

    rc = ngx_http_fluentai_refresh_token_decode(NULL, 43, hash2);
    ngx_http_fluentai_test_ok(rc == -1, "decode rejects NULL");

    /* characters */

    for (j = 0; j < sizeof(bad_chars) - 1; j++) {
        memcpy(bad, tok, 43);
        bad[17] = bad_chars[j];
        rc = ngx_http_fluentai_test_decode(bad, 43, hash2);
        ngx_http_fluentai_test_ok(rc == -1,
                                  "decode rejects byte 0x%02x inside",
                                  (u_char) bad_chars[j]);
    }

    memcpy(bad, tok, 43);
    bad[20] = '\0';
    rc = ngx_http_fluentai_test_decode(bad, 43, hash2);
    ngx_http_fluentai_test_ok(rc == -1, "decode rejects an embedded NUL");

    memcpy(bad, tok, 42);
    bad[42] = '=';
    rc = ngx_http_fluentai_test_decode(bad, 43, hash2);
    ngx_http_fluentai_test_ok(rc == -1, "decode rejects a final '='");

    /* final character: only the 16 with two zero low bits */

    memcpy(bad, tok, 43);
    bad[42] = 'B';
    rc = ngx_http_fluentai_test_decode(bad, 43, hash2);
    ngx_http_fluentai_test_ok(rc == -1, "decode rejects final 'B'");

    bad[42] = 'E';
    rc = ngx_http_fluentai_test_decode(bad, 43, hash2);
    SHA256((u_char *) bad, 43, expect);
    ngx_http_fluentai_test_ok(rc == 0
                              && memcmp(hash2, expect, sizeof(expect)) == 0,
                              "decode accepts final 'E', hashes the text");

    accepted = 0;
    rc2 = 0;

    for (j = 0; j < 64; j++) {
        bad[42] = T_B64[j];
        rc = ngx_http_fluentai_test_decode(bad, 43, hash2);

        if (rc == 0) {
            accepted++;

            if (j % 4 != 0) {
                rc2++;
            }
        }
    }

    ngx_http_fluentai_test_ok(accepted == 16 && rc2 == 0,
                              "exactly 16 final characters accepted "
                              "(AEIMQUYcgkosw048)");

    ngx_http_fluentai_test_successor();

    return ngx_http_fluentai_test_done();
}


/* successors: deterministic, keyed, decodable, HMAC-SHA256 of the parent */

static void
ngx_http_fluentai_test_successor(void)
{
    int            rc;
    u_char         a[64], b[64], c[64], md[32], expect[64];
    u_char         ha[32], hb[32], hc[32], hd[32];
    unsigned int   len;

    static const u_char  key[] = "0123456789abcdef0123456789abcdef";
    static const u_char  key2[] = "0123456789abcdef0123456789abcdeX";
    static const u_char  parent[] =
        "q8Zr0F3n2yJ9pWc1vX7bT4kLmN6sHdQeUaGiOoRtYfE";
    static const u_char  parent2[] =
        "q8Zr0F3n2yJ9pWc1vX7bT4kLmN6sHdQeUaGiOoRtYfA";

    rc = ngx_http_fluentai_refresh_token_successor(key, 32, parent, 43, a,
                                                   sizeof(a), ha);
    ngx_http_fluentai_test_ok(rc == 0 && strlen((char *) a) == 43
                              && strspn((char *) a, T_B64) == 43,
                              "successor: 43 base64url characters");

    rc = ngx_http_fluentai_refresh_token_successor(key, 32, parent, 43, b,
                                                   sizeof(b), hb);
    ngx_http_fluentai_test_ok(rc == 0 && strcmp((char *) a, (char *) b) == 0
                              && memcmp(ha, hb, sizeof(ha)) == 0,
                              "successor: the same parent, the same one");

    len = 0;
    HMAC(EVP_sha256(), key, 32, parent, 43, md, &len);
    ngx_http_fluentai_b64url_encode(md, 32, expect);
    ngx_http_fluentai_test_ok(len == 32 && memcmp(a, expect, 43) == 0,
                              "successor: base64url(HMAC-SHA256(key, "
                              "parent))");

    ngx_http_fluentai_test_ok(ngx_http_fluentai_test_decode((char *) a, 43,
                                                            hd) == 0
                              && memcmp(ha, hd, sizeof(ha)) == 0,
                              "successor: decodes as a token, same hash");

    rc = ngx_http_fluentai_refresh_token_successor(key2, 32, parent, 43, c,
                                                   sizeof(c), hc);
    ngx_http_fluentai_test_ok(rc == 0 && strcmp((char *) a, (char *) c) != 0,
                              "successor: another key, another successor");

    rc = ngx_http_fluentai_refresh_token_successor(key, 32, parent2, 43, c,
                                                   sizeof(c), hc);
    ngx_http_fluentai_test_ok(rc == 0 && strcmp((char *) a, (char *) c) != 0,
                              "successor: another parent, another successor");

    rc = ngx_http_fluentai_refresh_token_successor(key, 32, parent, 43, c,
                                                   43, hc);
    ngx_http_fluentai_test_ok(rc == -1, "successor: out too small: -1");
}
