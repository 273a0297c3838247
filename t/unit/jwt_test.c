
/*
 * Unit tests for ngx_http_fluentai_jwt.c and _jwt_claims.c: RFC 7515 A.1
 * vector, sign and verify, hostile tokens, claims in any layout, bearer
 * and UUID parsing.  Prints TAP.
 *
 *   gcc -std=gnu99 -Wall -Wextra -Werror -Isrc t/unit/jwt_test.c \
 *       src/ngx_http_fluentai_jwt.c src/ngx_http_fluentai_jwt_claims.c \
 *       src/ngx_http_fluentai_token.c \
 *       -ljansson -lcrypto -o build/unit/jwt_test
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "ngx_http_fluentai_jwt.h"


#define T_MAX     4096
#define T_NOW     1700000000
#define T_SUB     "0b7e2f4c-1d3a-4c5b-9e6f-7a8b9c0d1e2f"
#define T_SID     "f47ac10b-58cc-4372-a567-0e02b2c3d479"
#define T_KEY     "0123456789abcdef0123456789abcdef-test-key"
#define T_KEYLEN  (sizeof(T_KEY) - 1)
#define T_HDR     "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
#define T_PLD(type, exp)                                                     \
    "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"" type "\","    \
    "\"iat\":1700000000,\"exp\":" exp ",\"jti\":\"abc\"}"
#define T_PLD_OK  T_PLD("access", "1700001800")




/* printable copy of s for test names (static buffer) */

static const char *
ngx_http_fluentai_test_esc(const char *s)
{
    size_t       n;
    static char  buf[256];

    for (n = 0; *s && n < sizeof(buf) - 5; s++) {
        if (*s >= 0x20 && *s < 0x7f && *s != '#' && *s != '\\') {
            buf[n++] = *s;

        } else {
            n += sprintf(buf + n, "\\x%02x", (u_char) *s);
        }
    }

    buf[n] = '\0';

    return buf;
}


static size_t
ngx_http_fluentai_test_b64enc(const u_char *src, size_t len, char *dst)
{
    size_t       i, n;
    uint32_t     acc;
    unsigned     bits;
    static const char  a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    n = 0;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        acc = (acc << 8) | src[i];
        bits += 8;

        while (bits >= 6) {
            bits -= 6;
            dst[n++] = a[(acc >> bits) & 0x3f];
        }
    }

    if (bits) {
        dst[n++] = a[(acc << (6 - bits)) & 0x3f];
    }

    dst[n] = '\0';

    return n;
}


/* lenient decoder, for test vectors only; returns the length or -1 */

static int
ngx_http_fluentai_test_b64dec(const char *src, u_char *dst)
{
    int        n;
    uint32_t   acc;
    unsigned   bits;
    const char  *p;
    static const char  a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    n = 0;
    acc = 0;
    bits = 0;

    for ( /* void */ ; *src; src++) {
        p = strchr(a, *src);
        if (p == NULL) {
            return -1;
        }

        acc = (acc << 6) | (uint32_t) (p - a);
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[n++] = (u_char) (acc >> bits);
        }
    }

    return n;
}


/* builds b64(hdr).b64(pld).sig; sig NULL: a valid HS256 signature */

static size_t
ngx_http_fluentai_test_token(const char *hdr, const char *pld,
    const char *sig, char *out)
{
    size_t  n;

    n = ngx_http_fluentai_test_b64enc((const u_char *) hdr, strlen(hdr), out);
    out[n++] = '.';
    n += ngx_http_fluentai_test_b64enc((const u_char *) pld, strlen(pld),
                                       out + n);

    if (sig == NULL) {
        out[n++] = '.';

        if (ngx_http_fluentai_jwt_hs256((const u_char *) T_KEY, T_KEYLEN,
                                        (u_char *) out, n - 1,
                                        (u_char *) out + n, T_MAX - n)
            != 43)
        {
            fprintf(stderr, "# hs256 failed\n");
            exit(2);
        }

        return n + 43;
    }

    n += sprintf(out + n, ".%s", sig);

    return n;
}


static int
ngx_http_fluentai_test_verify(const char *tok, size_t len, int64_t now)
{
    ngx_http_fluentai_jwt_claims_t  c;

    return ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                        (const u_char *) tok, len, now,
                                        NGX_HTTP_FLUENTAI_JWT_LEEWAY, &c);
}


/* verify a crafted token (validly signed unless sig is given) */

static int
ngx_http_fluentai_test_craft(const char *hdr, const char *pld,
    const char *sig)
{
    size_t  n;
    char    tok[T_MAX];

    n = ngx_http_fluentai_test_token(hdr, pld, sig, tok);

    return ngx_http_fluentai_test_verify(tok, n, T_NOW);
}


/* the next base64url character: same high bits, last bit set */

static char
ngx_http_fluentai_test_b64next(char ch)
{
    static const char  a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    return a[strchr(a, ch) - a + 1];
}


/* verify hdr64.b64(pld).sig, validly signed over the parts as given */

static int
ngx_http_fluentai_test_raw(const char *hdr64, const char *pld)
{
    size_t  n;
    char    tok[T_MAX];

    n = sprintf(tok, "%s.", hdr64);
    n += ngx_http_fluentai_test_b64enc((const u_char *) pld, strlen(pld),
                                       tok + n);
    tok[n++] = '.';

    if (ngx_http_fluentai_jwt_hs256((const u_char *) T_KEY, T_KEYLEN,
                                    (u_char *) tok, n - 1,
                                    (u_char *) tok + n, T_MAX - n)
        != 43)
    {
        exit(2);
    }

    return ngx_http_fluentai_test_verify(tok, n + 43, T_NOW);
}


static void
ngx_http_fluentai_test_rfc7515(void)
{
    int      n, klen;
    u_char   key[128];
    u_char   out[64];
    static const char  k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4"
        "hcgUuTwjAzZr1Z9CAow";
    static const char  input[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
        "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    static const char  expect[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    klen = ngx_http_fluentai_test_b64dec(k, key);
    ngx_http_fluentai_test_ok(klen == 64, "RFC 7515 A.1 key decodes to 64 "
                              "bytes");

    memset(out, 'x', sizeof(out));
    n = ngx_http_fluentai_jwt_hs256(key, (size_t) klen,
                                    (const u_char *) input,
                                    sizeof(input) - 1, out, sizeof(out));
    ngx_http_fluentai_test_ok(n == 43 && memcmp(out, expect, 43) == 0
                              && out[43] == '\0',
                              "RFC 7515 A.1 HS256 signature");

    n = ngx_http_fluentai_jwt_hs256(key, (size_t) klen,
                                    (const u_char *) input,
                                    sizeof(input) - 1, out, 44);
    ngx_http_fluentai_test_ok(n == 43, "hs256 fits in exactly 44 bytes");

    n = ngx_http_fluentai_jwt_hs256(key, (size_t) klen,
                                    (const u_char *) input,
                                    sizeof(input) - 1, out, 43);
    ngx_http_fluentai_test_ok(n == -1, "hs256 rejects out_cap 43");

    n = ngx_http_fluentai_jwt_hs256(key, 0, (const u_char *) input,
                                    sizeof(input) - 1, out, sizeof(out));
    ngx_http_fluentai_test_ok(n == -1, "hs256 rejects an empty key");
}


static void
ngx_http_fluentai_test_sign(void)
{
    int                              n, n2, rc;
    char                            *d1, *d2;
    char                             tok[T_MAX], tok2[T_MAX];
    char                             part[T_MAX];
    u_char                           dec[T_MAX];
    ngx_http_fluentai_jwt_claims_t   c, v;

    memset(&c, 0, sizeof(c));
    strcpy(c.sub, T_SUB);
    strcpy(c.sid, T_SID);
    strcpy(c.jti, "0123456789abcdef");
    c.iat = T_NOW;
    c.exp = T_NOW + 1800;

    n = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN, "k1",
                                   &c, tok, sizeof(tok));
    ngx_http_fluentai_test_ok(n > 0 && (size_t) n == strlen(tok),
                              "sign returns the token length");

    d1 = strchr(tok, '.');
    d2 = d1 ? strchr(d1 + 1, '.') : NULL;

    ngx_http_fluentai_test_ok(d1 && d2 && strchr(d2 + 1, '.') == NULL
                              && strlen(d2 + 1) == 43,
                              "signed token has three parts");

    if (d1 == NULL || d2 == NULL) {
        return;
    }

    memcpy(part, tok, d1 - tok);
    part[d1 - tok] = '\0';
    n2 = ngx_http_fluentai_test_b64dec(part, dec);
    ngx_http_fluentai_test_ok(n2 == (int) sizeof(T_HDR) - 1
                              && memcmp(dec, T_HDR, n2) == 0,
                              "header is exactly %s", T_HDR);

    memcpy(part, d1 + 1, d2 - d1 - 1);
    part[d2 - d1 - 1] = '\0';
    n2 = ngx_http_fluentai_test_b64dec(part, dec);
    dec[n2 < 0 ? 0 : n2] = '\0';
    ngx_http_fluentai_test_ok(strcmp((char *) dec,
                                     "{\"sub\":\"" T_SUB "\",\"sid\":\""
                                     T_SID "\",\"type\":\"access\","
                                     "\"iat\":1700000000,\"exp\":1700001800,"
                                     "\"jti\":\"0123456789abcdef\"}") == 0,
                              "payload keys and order");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, (size_t) n,
                                      T_NOW, NGX_HTTP_FLUENTAI_JWT_LEEWAY,
                                      &v);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK
                              && strcmp(v.sub, T_SUB) == 0
                              && strcmp(v.sid, T_SID) == 0
                              && strcmp(v.jti, c.jti) == 0
                              && v.iat == c.iat && v.exp == c.exp,
                              "sign -> verify roundtrip, claims equal");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, (size_t) n,
                                      T_NOW, NGX_HTTP_FLUENTAI_JWT_LEEWAY,
                                      NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK,
                              "verify accepts c == NULL");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) "another-key-of-32-"
                                      "bytes-or-more!!", 32, NULL,
                                      (const u_char *) tok, (size_t) n,
                                      T_NOW, NGX_HTTP_FLUENTAI_JWT_LEEWAY,
                                      &v);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID
                              && v.sub[0] == '\0',
                              "wrong key: INVALID, claims zeroed");

    /* exact and too small output buffers */

    n2 = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN, "k1",
                                    &c, tok2, (size_t) n + 1);
    ngx_http_fluentai_test_ok(n2 == n && strcmp(tok, tok2) == 0,
                              "sign fits in exactly len + 1 bytes");

    n2 = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN, "k1",
                                    &c, tok2, (size_t) n);
    ngx_http_fluentai_test_ok(n2 == -1, "sign rejects out_cap == len");

    /* random jti */

    c.jti[0] = '\0';
    n = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN, "k1",
                                   &c, tok, sizeof(tok));
    strcpy(part, c.jti);
    ngx_http_fluentai_test_ok(n > 0 && strlen(c.jti) == 22,
                              "empty jti: a random one is generated (%s)",
                              c.jti);

    c.jti[0] = '\0';
    n2 = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN, "k1",
                                    &c, tok2, sizeof(tok2));
    ngx_http_fluentai_test_ok(n2 > 0 && strcmp(part, c.jti) != 0
                              && strcmp(tok, tok2) != 0,
                              "two random jtis differ");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok2, (size_t) n2,
                                      T_NOW, NGX_HTTP_FLUENTAI_JWT_LEEWAY,
                                      &v);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK
                              && strcmp(v.jti, c.jti) == 0,
                              "random jti survives verify");

    /* bad claims to sign */

    strcpy(c.sub, "0B7E2F4C-1D3A-4C5B-9E6F-7A8B9C0D1E2F");
    n = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN, "k1",
                                   &c, tok, sizeof(tok));
    ngx_http_fluentai_test_ok(n == -1, "sign rejects a non-canonical sub");

    strcpy(c.sub, T_SUB);
    memset(c.sid, 'a', sizeof(c.sid));
    n = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN, "k1",
                                   &c, tok, sizeof(tok));
    ngx_http_fluentai_test_ok(n == -1, "sign rejects an unterminated sid");

    strcpy(c.sid, T_SID);
    n = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN,
                                   "k\"1\\", &c, tok, sizeof(tok));
    rc = n > 0 ? ngx_http_fluentai_test_verify(tok, (size_t) n, T_NOW) : -1;
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK,
                              "kid with quote and backslash is escaped");

    n = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN,
                                   "\xff\xfe", &c, tok, sizeof(tok));
    ngx_http_fluentai_test_ok(n == -1, "sign rejects a non-UTF-8 kid");

    memset(part, 'k', 2100);
    part[2100] = '\0';
    n = ngx_http_fluentai_jwt_sign((const u_char *) T_KEY, T_KEYLEN, part,
                                   &c, tok, sizeof(tok));
    ngx_http_fluentai_test_ok(n == -1, "sign refuses tokens over MAX_LEN");
}


static void
ngx_http_fluentai_test_tamper(void)
{
    int     rc;
    char    ch;
    size_t  n, d1, d2;
    char    tok[T_MAX];

    n = ngx_http_fluentai_test_token(T_HDR, T_PLD_OK, NULL, tok);

    ngx_http_fluentai_test_ok(ngx_http_fluentai_test_verify(tok, n, T_NOW)
                              == NGX_HTTP_FLUENTAI_JWT_OK,
                              "crafted reference token is OK");

    d1 = strchr(tok, '.') - tok;
    d2 = strrchr(tok, '.') - tok;

    ch = tok[d1 + 5];
    tok[d1 + 5] = (ch == 'A') ? 'B' : 'A';
    rc = ngx_http_fluentai_test_verify(tok, n, T_NOW);
    tok[d1 + 5] = ch;
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "tampered payload");

    ch = tok[2];
    tok[2] = (ch == 'A') ? 'B' : 'A';
    rc = ngx_http_fluentai_test_verify(tok, n, T_NOW);
    tok[2] = ch;
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "tampered header");

    ch = tok[d2 + 10];
    tok[d2 + 10] = (ch == 'A') ? 'B' : 'A';
    rc = ngx_http_fluentai_test_verify(tok, n, T_NOW);
    tok[d2 + 10] = ch;
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "tampered signature");

    rc = ngx_http_fluentai_test_verify(tok, n - 1, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "truncated signature");

    /* the last signature char carries 2 zero bits: flip one of them */

    ch = tok[n - 1];
    tok[n - 1] = ngx_http_fluentai_test_b64next(ch);
    rc = ngx_http_fluentai_test_verify(tok, n, T_NOW);
    tok[n - 1] = ch;
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "non-canonical final signature character");

    ngx_http_fluentai_test_ok(ngx_http_fluentai_test_verify(tok, n, T_NOW)
                              == NGX_HTTP_FLUENTAI_JWT_OK,
                              "restored token is OK again");

    tok[d1 + 3] = '\0';
    rc = ngx_http_fluentai_test_verify(tok, n, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "embedded NUL");
}


static void
ngx_http_fluentai_test_alg(void)
{
    int  rc;

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"none\",\"typ\":\"JWT\"}",
                                      T_PLD_OK, "");
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg none, empty signature");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"none\",\"typ\":\"JWT\"}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg none, with a valid HMAC signature");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg HS512");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg RS256");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg hs256 (case)");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS256 \",\"typ\":\"JWT\"}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg \"HS256 \" (trailing space)");

    rc = ngx_http_fluentai_test_craft("{\"typ\":\"JWT\"}", T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg missing");

    rc = ngx_http_fluentai_test_craft("{\"alg\":256}", T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg not a string");

    rc = ngx_http_fluentai_test_craft("{\"alg\":[\"HS256\"]}", T_PLD_OK,
                                      NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "alg an array");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS256\",\"typ\":\"xyz\"}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "typ xyz");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS256\",\"typ\":null}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "typ null");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS256\"}", T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK,
                              "typ absent is fine");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS256\",\"kid\":7}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "kid not a string");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}",
                                      T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "crit header");
}


static void
ngx_http_fluentai_test_claims(void)
{
    int                              rc;
    size_t                           n;
    char                             tok[T_MAX];
    ngx_http_fluentai_jwt_claims_t   c;

    rc = ngx_http_fluentai_test_craft(T_HDR, T_PLD("refresh", "1700001800"),
                                      NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "type refresh");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\","
        "\"iat\":1700000000,\"exp\":1700001800,\"jti\":\"abc\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "type missing");

    /* expiry: exp = T_NOW - 100, iat = T_NOW - 1000 (never ahead) */

    n = ngx_http_fluentai_test_token(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1699999000,\"exp\":1699999900,\"jti\":\"abc\"}", NULL, tok);

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, n, T_NOW,
                                      NGX_HTTP_FLUENTAI_JWT_LEEWAY, &c);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_EXPIRED
                              && strcmp(c.sub, T_SUB) == 0
                              && strcmp(c.sid, T_SID) == 0
                              && c.exp == 1699999900,
                              "expired beyond leeway: EXPIRED, claims filled");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, n,
                                      T_NOW - 80,
                                      NGX_HTTP_FLUENTAI_JWT_LEEWAY, &c);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK,
                              "expired 20 s ago, within leeway: OK");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, n,
                                      1699999900 + 30, 30, &c);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK,
                              "exp + leeway == now: OK");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, n,
                                      1699999900 + 31, 30, &c);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_EXPIRED,
                              "exp + leeway == now - 1: EXPIRED");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, n,
                                      1699999900 + 1, -5, &c);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_EXPIRED,
                              "negative leeway counts as 0");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        T_PLD("access", "-9223372036854775808"), NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_EXPIRED,
                              "exp INT64_MIN: EXPIRED, no overflow");

    n = ngx_http_fluentai_test_token(T_HDR,
        T_PLD("access", "9223372036854775807"), NULL, tok);
    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, n, INT64_MAX,
                                      0x7fffffff, &c);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK,
                              "exp INT64_MAX, huge leeway: no overflow");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        T_PLD("access", "99999999999999999999"), NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "exp beyond int64");

    rc = ngx_http_fluentai_test_craft(T_HDR, T_PLD("access", "1.7e9"), NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "exp a real number");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        T_PLD("access", "\"1700001800\""), NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "exp a string");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":\"x\",\"exp\":1700001800,\"jti\":\"abc\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "iat a string");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"0B7E2F4C-1D3A-4C5B-9E6F-7A8B9C0D1E2F\",\"sid\":\"" T_SID
        "\",\"type\":\"access\",\"iat\":1,\"exp\":1800000000,"
        "\"jti\":\"abc\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "sub upper-case uuid");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"42\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1,\"exp\":1800000000,\"jti\":\"abc\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "sub not a uuid");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":42,\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1,\"exp\":1800000000,\"jti\":\"abc\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "sub a number");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "x\",\"type\":\"access\","
        "\"iat\":1,\"exp\":1800000000,\"jti\":\"abc\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "sid too long");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1,\"exp\":1800000000}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "jti missing");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1,\"exp\":1800000000,\"jti\":\""
        "0123456789012345678901234567890123456789012345678901234567890123"
        "\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "jti of 64 bytes: INVALID");

    n = ngx_http_fluentai_test_token(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1,\"exp\":1800000000,\"jti\":\""
        "012345678901234567890123456789012345678901234567890123456789012"
        "\"}", NULL, tok);
    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      (const u_char *) tok, n, T_NOW,
                                      NGX_HTTP_FLUENTAI_JWT_LEEWAY, &c);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK
                              && strlen(c.jti) == 63,
                              "jti of 63 bytes: OK");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1,\"exp\":1800000000,\"jti\":\"a\\u0000b\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "jti with \\u0000");
}


static void
ngx_http_fluentai_test_malformed(void)
{
    int     rc, k;
    char   *big;
    size_t  n;
    char    tok[T_MAX], kid[T_MAX], hdr[T_MAX];

    rc = ngx_http_fluentai_test_verify("", 0, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "empty token");

    rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, NULL,
                                      NULL, 10, T_NOW, 30, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "NULL token");

    rc = ngx_http_fluentai_test_verify("..", 2, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "two dots only");

    n = ngx_http_fluentai_test_token(T_HDR, T_PLD_OK, NULL, tok);

    memmove(strchr(tok, '.'), strchr(tok, '.') + 1,
            n - (strchr(tok, '.') - tok));
    rc = ngx_http_fluentai_test_verify(tok, n - 1, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "one dot");

    n = ngx_http_fluentai_test_token(T_HDR, T_PLD_OK, NULL, tok);
    strcpy(tok + n, ".");
    rc = ngx_http_fluentai_test_verify(tok, n + 1, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "three dots");

    /* oversized: the longest valid token, and one kid byte more */

    memset(kid, 'k', sizeof(kid));

    for (k = 1000; k < 2000; k++) {
        sprintf(hdr, "{\"alg\":\"HS256\",\"kid\":\"%.*s\"}", k, kid);
        if (ngx_http_fluentai_test_token(hdr, T_PLD_OK, NULL, tok)
            > NGX_HTTP_FLUENTAI_JWT_MAX_LEN)
        {
            break;
        }
    }

    sprintf(hdr, "{\"alg\":\"HS256\",\"kid\":\"%.*s\"}", k - 1, kid);
    n = ngx_http_fluentai_test_token(hdr, T_PLD_OK, NULL, tok);
    rc = ngx_http_fluentai_test_verify(tok, n, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK
                              && n <= NGX_HTTP_FLUENTAI_JWT_MAX_LEN
                              && n > NGX_HTTP_FLUENTAI_JWT_MAX_LEN - 3,
                              "valid token of %d bytes (MAX_LEN %d)",
                              (int) n, NGX_HTTP_FLUENTAI_JWT_MAX_LEN);

    sprintf(hdr, "{\"alg\":\"HS256\",\"kid\":\"%.*s\"}", k, kid);
    n = ngx_http_fluentai_test_token(hdr, T_PLD_OK, NULL, tok);
    rc = ngx_http_fluentai_test_verify(tok, n, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID
                              && n > NGX_HTTP_FLUENTAI_JWT_MAX_LEN,
                              "validly signed token of %d bytes: INVALID",
                              (int) n);

    big = malloc(100000);
    if (big == NULL) {
        exit(2);
    }

    memset(big, 'A', 100000);
    big[10] = '.';
    big[100000 - 44] = '.';
    rc = ngx_http_fluentai_test_verify(big, 100000, T_NOW);
    free(big);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "100000-byte token");

    /* garbage base64 */

    n = ngx_http_fluentai_test_token(T_HDR, T_PLD_OK, NULL, tok);
    tok[3] = '+';
    rc = ngx_http_fluentai_test_verify(tok, n, T_NOW);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "'+' in header");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS256\"}", T_PLD_OK,
                                      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r/wW1gFW"
                                      "FOEjXk");
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "'/' in signature");

    rc = ngx_http_fluentai_test_craft("{\"alg\":\"HS256\"}", T_PLD_OK,
                                      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFW"
                                      "FOEjXk=");
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "padded signature");

    /*
     * raw header parts that a real encoder never makes, all validly
     * signed over the bytes as sent: only the base64url check stops them
     */

    n = ngx_http_fluentai_test_b64enc((const u_char *) "{\"alg\":\"HS256\"} ",
                                      16, hdr);

    rc = ngx_http_fluentai_test_raw(hdr, T_PLD_OK);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK,
                              "canonical 22-char header: OK");

    strcpy(hdr + n, "==");
    rc = ngx_http_fluentai_test_raw(hdr, T_PLD_OK);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "'=' padding in header");

    /* 15 bytes: 20 characters, then one more that decodes to no bits */

    n = ngx_http_fluentai_test_b64enc((const u_char *) "{\"alg\":\"HS256\"}",
                                      15, hdr);
    strcpy(hdr + n, "A");
    rc = ngx_http_fluentai_test_raw(hdr, T_PLD_OK);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID
                              && strlen(hdr) % 4 == 1,
                              "header length %% 4 == 1");

    n = ngx_http_fluentai_test_b64enc((const u_char *) "{\"alg\":\"HS256\"} ",
                                      16, hdr);

    hdr[n] = '\0';
    hdr[n - 1] = ngx_http_fluentai_test_b64next(hdr[n - 1]);
    rc = ngx_http_fluentai_test_raw(hdr, T_PLD_OK);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "header with non-zero trailing bits");

    /* JSON shape */

    rc = ngx_http_fluentai_test_craft("[\"HS256\"]", T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "header a JSON array");

    rc = ngx_http_fluentai_test_craft("\"HS256\"", T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "header a JSON string");

    rc = ngx_http_fluentai_test_craft(T_HDR, "[1,2,3]", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "payload a JSON array");

    rc = ngx_http_fluentai_test_craft(T_HDR, "42", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "payload a JSON number");

    rc = ngx_http_fluentai_test_craft(T_HDR, "not json", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "payload not JSON");

    rc = ngx_http_fluentai_test_craft(T_HDR, T_PLD_OK "{}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "payload with trailing garbage");

    rc = ngx_http_fluentai_test_craft(
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "duplicate alg in header");

    rc = ngx_http_fluentai_test_craft(
        "{\"alg\":\"none\",\"alg\":\"HS256\"}", T_PLD_OK, NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "duplicate alg none/HS256 in header");

    rc = ngx_http_fluentai_test_craft(T_HDR,
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1,\"exp\":1800000000,\"jti\":\"abc\","
        "\"sub\":\"" T_SID "\"}", NULL);
    ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_INVALID,
                              "duplicate sub in payload");
}


static void
ngx_http_fluentai_test_mutate(void)
{
    int       i, j, bad;
    size_t    n, pos;
    char      tok[T_MAX], mut[T_MAX];
    uint32_t  seed;
    static const char  chars[] = "AZaz09-_.=+/ \"{}";

    n = ngx_http_fluentai_test_token(T_HDR, T_PLD_OK, NULL, tok);

    seed = 12345;
    bad = 0;

    for (i = 0; i < 2000; i++) {
        memcpy(mut, tok, n);

        for (j = 0; j < 1 + i % 3; j++) {
            seed = seed * 1103515245 + 12345;
            pos = (seed >> 8) % n;
            seed = seed * 1103515245 + 12345;
            mut[pos] = chars[(seed >> 8) % (sizeof(chars) - 1)];
        }

        if (memcmp(mut, tok, n) != 0
            && ngx_http_fluentai_test_verify(mut, n, T_NOW)
               != NGX_HTTP_FLUENTAI_JWT_INVALID)
        {
            bad++;
        }
    }

    ngx_http_fluentai_test_ok(bad == 0, "2000 mutated tokens all INVALID");
}


static void
ngx_http_fluentai_test_bearer(void)
{
    int            rc;
    size_t         i, tl;
    const u_char  *t;

    static const struct {
        const char  *value;
        const char  *token;       /* NULL: must be rejected */
    } cases[] = {
        { "Bearer abc.def.ghi", "abc.def.ghi" },
        { "bearer x", "x" },
        { "BEARER x", "x" },
        { "bEaReR a-b_c", "a-b_c" },
        { "Bearer  x  ", "x" },
        { "Bearer x\t", "x" },
        { "  Bearer x", "x" },
        { "Basic x", NULL },
        { "Bearer", NULL },
        { "Bearer ", NULL },
        { "Bearer    ", NULL },
        { "Bearer x y", NULL },
        { "Bearerx", NULL },
        { "Bearer\tx", NULL },
        { "Bearer x=", "x=" },                 /* RFC 6750 b64token */
        { "Bearer x+y/z~==", "x+y/z~==" },
        { "Bearer x=y", NULL },
        { "Bearer x,", NULL },
        { "Bearer\xc3\xa9 x", NULL },
        { "", NULL },
        { "Bearer x\r\n", NULL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t = NULL;
        tl = 0;

        rc = ngx_http_fluentai_bearer_parse((const u_char *) cases[i].value,
                                            strlen(cases[i].value), &t, &tl);

        if (cases[i].token == NULL) {
            ngx_http_fluentai_test_ok(rc == -1, "bearer_parse rejects \"%s\"",
                                      ngx_http_fluentai_test_esc(
                                          cases[i].value));

        } else {
            ngx_http_fluentai_test_ok(rc == 0
                                      && tl == strlen(cases[i].token)
                                      && memcmp(t, cases[i].token, tl) == 0,
                                      "bearer_parse \"%s\" -> \"%s\"",
                                      ngx_http_fluentai_test_esc(
                                          cases[i].value),
                                      cases[i].token);
        }
    }

    rc = ngx_http_fluentai_bearer_parse((const u_char *) "Bearer x\0y", 10,
                                        &t, &tl);
    ngx_http_fluentai_test_ok(rc == -1, "bearer_parse rejects embedded NUL");

    rc = ngx_http_fluentai_bearer_parse((const u_char *) "Bearer xyz", 8,
                                        &t, &tl);
    ngx_http_fluentai_test_ok(rc == 0 && tl == 1 && t[0] == 'x',
                              "bearer_parse honours len");
}


static void
ngx_http_fluentai_test_uuid(void)
{
    size_t  i;

    static const struct {
        const char  *s;
        int          valid;
    } cases[] = {
        { "f47ac10b-58cc-4372-a567-0e02b2c3d479", 1 },
        { "00000000-0000-0000-0000-000000000000", 1 },
        { "F47AC10B-58CC-4372-A567-0E02B2C3D479", 0 },
        { "f47ac10b58cc4372a5670e02b2c3d479", 0 },
        { "f47ac10b-58cc-4372-a567-0e02b2c3d47", 0 },
        { "f47ac10b-58cc-4372-a567-0e02b2c3d4790", 0 },
        { "{f47ac10b-58cc-4372-a567-0e02b2c3d47}", 0 },
        { "f47ac10b-58cc-4372-a567_0e02b2c3d479", 0 },
        { "f47ac10b-58cc-4372-a567-0e02b2c3d47g", 0 },
        { "f47ac10b-58cc4-372-a567-0e02b2c3d479", 0 },
        { "", 0 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ngx_http_fluentai_test_ok(
            ngx_http_fluentai_uuid_valid((const u_char *) cases[i].s,
                                         strlen(cases[i].s))
            == cases[i].valid,
            "uuid_valid(\"%s\") == %d", cases[i].s, cases[i].valid);
    }
}


/* kid pinned to the current key; iat and nbf no more than 30 s ahead */

static void
ngx_http_fluentai_test_not_yet(void)
{
    size_t  n;
    char    tok[T_MAX];

#define T_PLD_AT(iat, extra)                                                 \
    "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","  \
    "\"iat\":" iat ",\"exp\":1700001800,\"jti\":\"abc\"" extra "}"

    n = ngx_http_fluentai_test_token(T_HDR, T_PLD_OK, NULL, tok);

    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, "k1",
                                     (const u_char *) tok, n, T_NOW,
                                     NGX_HTTP_FLUENTAI_JWT_LEEWAY, NULL)
        == NGX_HTTP_FLUENTAI_JWT_OK, "kid k1, expected k1: OK");
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, "k2",
                                     (const u_char *) tok, n, T_NOW,
                                     NGX_HTTP_FLUENTAI_JWT_LEEWAY, NULL)
        == NGX_HTTP_FLUENTAI_JWT_INVALID,
        "kid k1, expected k2: INVALID (also right after an OK: cache)");
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, "k1",
                                     (const u_char *) tok, n, T_NOW,
                                     NGX_HTTP_FLUENTAI_JWT_LEEWAY, NULL)
        == NGX_HTTP_FLUENTAI_JWT_OK, "kid k1, expected k1 again: OK");

    n = ngx_http_fluentai_test_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                                     T_PLD_OK, NULL, tok);
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN, "k1",
                                     (const u_char *) tok, n, T_NOW,
                                     NGX_HTTP_FLUENTAI_JWT_LEEWAY, NULL)
        == NGX_HTTP_FLUENTAI_JWT_OK, "no kid, expected k1: OK (one key)");

    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_test_craft(T_HDR, T_PLD_AT("1700000030", ""), NULL)
        == NGX_HTTP_FLUENTAI_JWT_OK, "iat now + 30: OK (leeway)");
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_test_craft(T_HDR, T_PLD_AT("1700000031", ""), NULL)
        == NGX_HTTP_FLUENTAI_JWT_INVALID, "iat now + 31: INVALID");
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_test_craft(T_HDR,
                                     T_PLD_AT("9223372036854775807", ""),
                                     NULL)
        == NGX_HTTP_FLUENTAI_JWT_INVALID, "iat INT64_MAX: INVALID");
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_test_craft(T_HDR,
            T_PLD_AT("1700000000", ",\"nbf\":1700000030"), NULL)
        == NGX_HTTP_FLUENTAI_JWT_OK, "nbf now + 30: OK (leeway)");
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_test_craft(T_HDR,
            T_PLD_AT("1700000000", ",\"nbf\":1700000031"), NULL)
        == NGX_HTTP_FLUENTAI_JWT_INVALID, "nbf now + 31: INVALID");
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_test_craft(T_HDR,
                                     T_PLD_AT("1700000000", ",\"nbf\":\"0\""),
                                     NULL)
        == NGX_HTTP_FLUENTAI_JWT_INVALID, "nbf a string: INVALID");
    ngx_http_fluentai_test_ok(
        ngx_http_fluentai_test_craft(T_HDR,
                                     T_PLD_AT("1700000000", ",\"nbf\":1"),
                                     NULL)
        == NGX_HTTP_FLUENTAI_JWT_OK, "nbf in the past: OK");

#undef T_PLD_AT
}


/*
 * The claims read the same way in the layout jwt_sign writes (read
 * without jansson) and in any other (jansson): pairs that must give the
 * same result and claims, and near-misses of the layout that must not
 * slip through.
 */

static void
ngx_http_fluentai_test_layouts(void)
{
    int                              rc, rc2;
    size_t                           n, i;
    char                             tok[T_MAX];
    ngx_http_fluentai_jwt_claims_t   c, c2;

#define T_CANON(iat, jti)                                                    \
    "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","      \
    "\"iat\":" iat ",\"exp\":1700001800,\"jti\":\"" jti "\"}"
#define T_EXP(exp)                                                           \
    "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","      \
    "\"iat\":1700000000,\"exp\":" exp ",\"jti\":\"abc\"}"

    static const char  *same[][2] = {
        { T_CANON("1700000000", "abc"),
          "{ \"jti\": \"abc\", \"exp\": 1700001800, \"iat\": 1700000000,"
          " \"type\": \"access\", \"sid\": \"" T_SID "\","
          " \"sub\": \"" T_SUB "\" }" },
        { T_CANON("1700000000", "a~b c!"),
          T_CANON("1700000000", "a~b c!") "\n" },
        { T_CANON("0", "abc"), T_CANON("-0", "abc") },
        { T_CANON("1700000000", "A"), T_CANON("1700000000", "\\u0041") },
        { T_EXP("999999999999999999"), T_EXP("999999999999999999") " " },
        { T_EXP("1000000000000000000"), T_EXP("1000000000000000000") "\t" },
    };

    static const char  *invalid[] = {
        T_CANON("01", "abc"),
        T_CANON("1.5", "abc"),
        T_CANON("1e3", "abc"),
        T_CANON("99999999999999999999", "abc"),
        T_CANON("1700000000", ""),
        T_CANON("1700000000", "a\x01" "b"),
        T_CANON("1700000000", "a\"b"),
        T_CANON("1700000000", "abc") "x",
        T_CANON("1700000000", "abc") "}",
        T_CANON("1700000000",
                "0123456789012345678901234567890123456789012345678901234567"
                "890123"),
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1700000000,\"exp\":1700001800,\"jti\":\"a\",\"jti\":\"b\"}",
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"access\","
        "\"iat\":1700000000,\"exp\":1700001800,\"jti\":\"a\"",
        "{\"sub\":\"" T_SUB "\",\"sid\":\"" T_SID "\",\"type\":\"acces\","
        "\"iat\":1700000000,\"exp\":1700001800,\"jti\":\"a\"}",
        "{\"sub\":\"0B7E2F4C-1D3A-4C5B-9E6F-7A8B9C0D1E2F\",\"sid\":\""
        T_SID "\",\"type\":\"access\","
        "\"iat\":1700000000,\"exp\":1700001800,\"jti\":\"a\"}",
    };

    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        n = ngx_http_fluentai_test_token(T_HDR, same[i][0], NULL, tok);
        rc = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN,
                                          NULL, (const u_char *) tok, n,
                                          T_NOW, 30, &c);

        n = ngx_http_fluentai_test_token(T_HDR, same[i][1], NULL, tok);
        rc2 = ngx_http_fluentai_jwt_verify((const u_char *) T_KEY, T_KEYLEN,
                                           NULL, (const u_char *) tok, n,
                                           T_NOW, 30, &c2);

        ngx_http_fluentai_test_ok(rc == NGX_HTTP_FLUENTAI_JWT_OK
                                  && rc2 == rc
                                  && memcmp(&c, &c2, sizeof(c)) == 0,
                                  "same claims in any layout: %s",
                                  ngx_http_fluentai_test_esc(same[i][1]));
    }

    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        ngx_http_fluentai_test_ok(
            ngx_http_fluentai_test_craft(T_HDR, invalid[i], NULL)
            == NGX_HTTP_FLUENTAI_JWT_INVALID,
            "near the signed layout, INVALID: %s",
            ngx_http_fluentai_test_esc(invalid[i]));
    }

#undef T_CANON
#undef T_EXP
}


int
main(void)
{
    ngx_http_fluentai_test_rfc7515();
    ngx_http_fluentai_test_sign();
    ngx_http_fluentai_test_tamper();
    ngx_http_fluentai_test_alg();
    ngx_http_fluentai_test_claims();
    ngx_http_fluentai_test_malformed();
    ngx_http_fluentai_test_mutate();
    ngx_http_fluentai_test_bearer();
    ngx_http_fluentai_test_uuid();
    ngx_http_fluentai_test_not_yet();
    ngx_http_fluentai_test_layouts();

    return ngx_http_fluentai_test_done();
}
