
/*
 * HS256 JSON Web Tokens: signing and strict verification.
 * Pure C (OpenSSL + jansson): builds without nginx, for unit tests and
 * fuzzing.  Every input to ngx_http_fluentai_jwt_verify() and
 * ngx_http_fluentai_bearer_parse() is treated as hostile.
 */


#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <jansson.h>

#include "ngx_http_fluentai_jwt.h"


#define NGX_HTTP_FLUENTAI_JWT_SIG_LEN      32   /* HMAC-SHA256 */
#define NGX_HTTP_FLUENTAI_JWT_SIG_B64_LEN  43   /* its base64url form */
#define NGX_HTTP_FLUENTAI_JWT_JTI_BYTES    16   /* random jti: 128 bits */

#define ngx_http_fluentai_jwt_b64_len(n)                                     \
    ((n) / 3 * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))


static int ngx_http_fluentai_jwt_mac(const u_char *key, size_t key_len,
    const u_char *input, size_t input_len, u_char *md);
static ssize_t ngx_http_fluentai_jwt_b64_decode(const u_char *src,
    size_t len, u_char *dst, size_t cap);
static int ngx_http_fluentai_jwt_future(int64_t t, int64_t now, int leeway);


/*
 * Per-thread caches (tokens are handled on the event loop only, one
 * thread per worker): OpenSSL 3's one-shot HMAC() fetches the algorithm on
 * every call, so a keyed EVP_MAC context is kept and re-initialised for
 * the same key; and the last header that passed the checks.
 */

#define NGX_HTTP_FLUENTAI_JWT_KEY_CACHE    512

static __thread EVP_MAC_CTX  *ngx_http_fluentai_jwt_mac_ctx;
static __thread size_t        ngx_http_fluentai_jwt_mac_key_len;
static __thread u_char
    ngx_http_fluentai_jwt_mac_key[NGX_HTTP_FLUENTAI_JWT_KEY_CACHE];
static __thread size_t        ngx_http_fluentai_jwt_header_len;
static __thread u_char        ngx_http_fluentai_jwt_header[128];
static __thread char          ngx_http_fluentai_jwt_header_kid[64];


static const u_char  ngx_http_fluentai_jwt_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* a character's 6 bits, or -1; ASCII only, every byte >= 0x80 is -1 */

static const signed char  ngx_http_fluentai_jwt_b64_values[128] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
};


int
ngx_http_fluentai_jwt_hs256(const u_char *key, size_t key_len,
    const u_char *input, size_t input_len, u_char *out, size_t out_cap)
{
    u_char                md[EVP_MAX_MD_SIZE];
    unsigned int          md_len;
    static const u_char   empty[1] = { 0 };

    if (key == NULL || key_len == 0 || key_len > INT_MAX
        || out == NULL || out_cap < NGX_HTTP_FLUENTAI_JWT_SIG_B64_LEN + 1)
    {
        return -1;
    }

    if (input == NULL) {
        if (input_len != 0) {
            return -1;
        }

        input = empty;
    }

    if (ngx_http_fluentai_jwt_mac(key, key_len, input, input_len, md) != 0) {
        return -1;
    }

    md_len = NGX_HTTP_FLUENTAI_JWT_SIG_LEN;

    (void) ngx_http_fluentai_b64url_encode(md, md_len, out);
    out[NGX_HTTP_FLUENTAI_JWT_SIG_B64_LEN] = '\0';

    OPENSSL_cleanse(md, sizeof(md));

    return NGX_HTTP_FLUENTAI_JWT_SIG_B64_LEN;
}


int
ngx_http_fluentai_jwt_sign(const u_char *key, size_t key_len,
    const char *kid, ngx_http_fluentai_jwt_claims_t *c, char *out,
    size_t out_cap)
{
    int      rc;
    char    *hdr, *pld;
    size_t   hlen, plen, need, n;
    u_char  *p;
    json_t  *h, *b;
    u_char   rnd[NGX_HTTP_FLUENTAI_JWT_JTI_BYTES];

    if (key == NULL || key_len == 0 || kid == NULL || c == NULL
        || out == NULL || out_cap == 0)
    {
        return -1;
    }

    if (memchr(c->sub, '\0', sizeof(c->sub)) == NULL
        || memchr(c->sid, '\0', sizeof(c->sid)) == NULL
        || memchr(c->jti, '\0', sizeof(c->jti)) == NULL
        || !ngx_http_fluentai_uuid_valid((u_char *) c->sub, strlen(c->sub))
        || !ngx_http_fluentai_uuid_valid((u_char *) c->sid, strlen(c->sid)))
    {
        return -1;
    }

    if (c->jti[0] == '\0') {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            return -1;
        }

        n = ngx_http_fluentai_b64url_encode(rnd, sizeof(rnd),
                                             (u_char *) c->jti);
        c->jti[n] = '\0';
    }

    h = json_pack("{s:s, s:s, s:s}",
                  "alg", "HS256", "typ", "JWT", "kid", kid);
    b = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}",
                  "sub", c->sub, "sid", c->sid, "type", "access",
                  "iat", (json_int_t) c->iat, "exp", (json_int_t) c->exp,
                  "jti", c->jti);

    hdr = (h == NULL) ? NULL : json_dumps(h, JSON_COMPACT|JSON_PRESERVE_ORDER);
    pld = (b == NULL) ? NULL : json_dumps(b, JSON_COMPACT|JSON_PRESERVE_ORDER);

    json_decref(h);     /* NULL-safe */
    json_decref(b);

    rc = -1;

    if (hdr == NULL || pld == NULL) {
        goto done;
    }

    hlen = strlen(hdr);
    plen = strlen(pld);

    if (hlen > NGX_HTTP_FLUENTAI_JWT_MAX_LEN
        || plen > NGX_HTTP_FLUENTAI_JWT_MAX_LEN)
    {
        goto done;
    }

    need = ngx_http_fluentai_jwt_b64_len(hlen) + 1
           + ngx_http_fluentai_jwt_b64_len(plen) + 1
           + NGX_HTTP_FLUENTAI_JWT_SIG_B64_LEN;

    if (need > NGX_HTTP_FLUENTAI_JWT_MAX_LEN || need + 1 > out_cap) {
        goto done;
    }

    p = (u_char *) out;
    p += ngx_http_fluentai_b64url_encode((u_char *) hdr, hlen, p);
    *p++ = '.';
    p += ngx_http_fluentai_b64url_encode((u_char *) pld, plen, p);

    n = p - (u_char *) out;
    *p++ = '.';

    if (ngx_http_fluentai_jwt_hs256(key, key_len, (u_char *) out, n, p,
                                    out_cap - (n + 1))
        != NGX_HTTP_FLUENTAI_JWT_SIG_B64_LEN)
    {
        goto done;
    }

    rc = (int) need;

done:

    if (rc == -1) {
        out[0] = '\0';
    }

    free(hdr);
    free(pld);

    return rc;
}


int
ngx_http_fluentai_jwt_verify(const u_char *key, size_t key_len,
    const char *kid, const u_char *token, size_t len, int64_t now,
    int leeway, ngx_http_fluentai_jwt_claims_t *c)
{
    int64_t                          nbf;
    ssize_t                          n;
    const char                      *ckid;
    size_t                           d1, d2;
    const u_char                    *dot1, *dot2;
    u_char                           mac[EVP_MAX_MD_SIZE];
    ngx_http_fluentai_jwt_claims_t   claims;
    u_char                           sig[NGX_HTTP_FLUENTAI_JWT_SIG_LEN];
    u_char                           buf[NGX_HTTP_FLUENTAI_JWT_MAX_LEN];

    if (c != NULL) {
        memset(c, 0, sizeof(ngx_http_fluentai_jwt_claims_t));
    }

    if (key == NULL || key_len == 0 || key_len > INT_MAX
        || token == NULL || len == 0 || len > NGX_HTTP_FLUENTAI_JWT_MAX_LEN)
    {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    /* structure: exactly two dots, three parts */

    dot1 = memchr(token, '.', len);
    dot2 = (dot1 == NULL) ? NULL
                          : memchr(dot1 + 1, '.', len - (dot1 + 1 - token));

    if (dot2 == NULL
        || memchr(dot2 + 1, '.', len - (dot2 + 1 - token)) != NULL)
    {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    d1 = dot1 - token;
    d2 = dot2 - token;

    if (d1 == 0 || d2 == d1 + 1
        || len - (d2 + 1) != NGX_HTTP_FLUENTAI_JWT_SIG_B64_LEN)
    {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    /* the signature, before anything else is looked at */

    if (ngx_http_fluentai_jwt_b64_decode(token + d2 + 1,
                                         NGX_HTTP_FLUENTAI_JWT_SIG_B64_LEN,
                                         sig, sizeof(sig))
        != NGX_HTTP_FLUENTAI_JWT_SIG_LEN)
    {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    if (ngx_http_fluentai_jwt_mac(key, key_len, token, d2, mac) != 0
        || CRYPTO_memcmp(mac, sig, NGX_HTTP_FLUENTAI_JWT_SIG_LEN) != 0)
    {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    /*
     * header: alg pinned to HS256, kid the current key's; a header
     * byte-identical to the last one accepted in this thread for the same
     * expected kid (every token we issue has the same) is not parsed again
     */

    ckid = (kid != NULL) ? kid : "";

    if (d1 != ngx_http_fluentai_jwt_header_len
        || memcmp(token, ngx_http_fluentai_jwt_header, d1) != 0
        || strcmp(ckid, ngx_http_fluentai_jwt_header_kid) != 0)
    {
        n = ngx_http_fluentai_jwt_b64_decode(token, d1, buf, sizeof(buf));

        if (n <= 0 || ngx_http_fluentai_jwt_header_ok(buf, n, kid) != 0) {
            return NGX_HTTP_FLUENTAI_JWT_INVALID;
        }

        ngx_http_fluentai_jwt_header_len = 0;

        if (d1 <= sizeof(ngx_http_fluentai_jwt_header)
            && strlen(ckid) < sizeof(ngx_http_fluentai_jwt_header_kid))
        {
            memcpy(ngx_http_fluentai_jwt_header, token, d1);
            strcpy(ngx_http_fluentai_jwt_header_kid, ckid);
            ngx_http_fluentai_jwt_header_len = d1;
        }
    }

    /* payload: the claims, and nbf if signed in (INT64_MIN if not) */

    n = ngx_http_fluentai_jwt_b64_decode(token + d1 + 1, d2 - (d1 + 1), buf,
                                         sizeof(buf));

    if (n <= 0
        || ngx_http_fluentai_jwt_payload(buf, n, &claims, &nbf) != 0)
    {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    if (leeway < 0) {
        leeway = 0;
    }

    /* not yet valid: issued, or valid from, beyond the leeway ahead */

    if (ngx_http_fluentai_jwt_future(claims.iat, now, leeway)
        || ngx_http_fluentai_jwt_future(nbf, now, leeway))
    {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    if (c != NULL) {
        *c = claims;
    }

    /* exp + leeway < now, without signed overflow */

    if (claims.exp < now
        && (uint64_t) now - (uint64_t) claims.exp > (uint64_t) leeway)
    {
        return NGX_HTTP_FLUENTAI_JWT_EXPIRED;
    }

    return NGX_HTTP_FLUENTAI_JWT_OK;
}


int
ngx_http_fluentai_bearer_parse(const u_char *value, size_t len,
    const u_char **token, size_t *token_len)
{
    size_t              i;
    const u_char       *p, *end, *start;
    static const char   bearer[] = "bearer";

    if (value == NULL || token == NULL || token_len == NULL) {
        return -1;
    }

    p = value;
    end = value + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if ((size_t) (end - p) < sizeof(bearer) - 1) {
        return -1;
    }

    for (i = 0; i < sizeof(bearer) - 1; i++) {
        if (p[i] != (u_char) bearer[i]
            && p[i] != (u_char) (bearer[i] - 'a' + 'A'))
        {
            return -1;
        }
    }

    p += sizeof(bearer) - 1;

    if (p == end || *p != ' ') {
        return -1;
    }

    while (p < end && *p == ' ') {
        p++;
    }

    start = p;

    /* RFC 6750 b64token: verification rejects what a JWT cannot hold */

    while (p < end
           && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
               || (*p >= '0' && *p <= '9')
               || *p == '-' || *p == '_' || *p == '.' || *p == '~'
               || *p == '+' || *p == '/'))
    {
        p++;
    }

    if (p == start) {
        return -1;
    }

    while (p < end && *p == '=') {
        p++;
    }

    *token = start;
    *token_len = p - start;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p != end) {
        return -1;
    }

    return 0;
}


int
ngx_http_fluentai_uuid_valid(const u_char *s, size_t len)
{
    size_t  i;

    if (s == NULL || len != NGX_HTTP_FLUENTAI_UUID_LEN) {
        return 0;
    }

    for (i = 0; i < NGX_HTTP_FLUENTAI_UUID_LEN; i++) {

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

            continue;
        }

        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}


/* HMAC-SHA256 of input into md (32 bytes); 0 or -1 */

static int
ngx_http_fluentai_jwt_mac(const u_char *key, size_t key_len,
    const u_char *input, size_t input_len, u_char *md)
{
    size_t         md_len;
    EVP_MAC       *mac;
    EVP_MAC_CTX   *ctx;
    unsigned int   len;
    OSSL_PARAM     params[2];

    ctx = ngx_http_fluentai_jwt_mac_ctx;

    if (key_len > NGX_HTTP_FLUENTAI_JWT_KEY_CACHE) {
        len = 0;

        if (HMAC(EVP_sha256(), key, (int) key_len, input, input_len, md,
                 &len)
            == NULL
            || len != NGX_HTTP_FLUENTAI_JWT_SIG_LEN)
        {
            return -1;
        }

        return 0;
    }

    if (ctx == NULL) {
        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (mac == NULL) {
            return -1;
        }

        ctx = EVP_MAC_CTX_new(mac);
        EVP_MAC_free(mac);

        if (ctx == NULL) {
            return -1;
        }

        ngx_http_fluentai_jwt_mac_ctx = ctx;
        ngx_http_fluentai_jwt_mac_key_len = 0;
    }

    if (key_len == ngx_http_fluentai_jwt_mac_key_len
        && memcmp(key, ngx_http_fluentai_jwt_mac_key, key_len) == 0)
    {
        if (!EVP_MAC_init(ctx, NULL, 0, NULL)) {
            return -1;
        }

    } else {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     (char *) "SHA256", 0);
        params[1] = OSSL_PARAM_construct_end();

        ngx_http_fluentai_jwt_mac_key_len = 0;

        if (!EVP_MAC_init(ctx, key, key_len, params)) {
            return -1;
        }

        memcpy(ngx_http_fluentai_jwt_mac_key, key, key_len);
        ngx_http_fluentai_jwt_mac_key_len = key_len;
    }

    md_len = 0;

    if (!EVP_MAC_update(ctx, input, input_len)
        || !EVP_MAC_final(ctx, md, &md_len, EVP_MAX_MD_SIZE)
        || md_len != NGX_HTTP_FLUENTAI_JWT_SIG_LEN)
    {
        return -1;
    }

    return 0;
}


int
ngx_http_fluentai_b64url_value(u_char ch)
{
    return (ch < 0x80) ? ngx_http_fluentai_jwt_b64_values[ch] : -1;
}


/* dst needs ngx_http_fluentai_jwt_b64_len(len) bytes; no padding, no NUL */

size_t
ngx_http_fluentai_b64url_encode(const u_char *src, size_t len, u_char *dst)
{
    u_char        *d;
    const u_char  *a;

    a = ngx_http_fluentai_jwt_b64_alphabet;
    d = dst;

    while (len > 2) {
        *d++ = a[src[0] >> 2];
        *d++ = a[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *d++ = a[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *d++ = a[src[2] & 0x3f];

        src += 3;
        len -= 3;
    }

    if (len == 1) {
        *d++ = a[src[0] >> 2];
        *d++ = a[(src[0] & 0x03) << 4];

    } else if (len == 2) {
        *d++ = a[src[0] >> 2];
        *d++ = a[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *d++ = a[(src[1] & 0x0f) << 2];
    }

    return d - dst;
}


/*
 * Strict base64url: no padding, no other characters, no impossible
 * lengths, no non-zero trailing bits (one encoding per byte string).
 * Returns the decoded length, or -1 (also if it would exceed cap).
 */

static ssize_t
ngx_http_fluentai_jwt_b64_decode(const u_char *src, size_t len, u_char *dst,
    size_t cap)
{
    int        a, b, c, e;
    size_t     n, r;
    u_char    *d;
    uint32_t   acc;

#define ngx_http_fluentai_b64(ch)                                            \
    (((ch) < 0x80) ? ngx_http_fluentai_jwt_b64_values[ch] : -1)

    r = len % 4;

    if (r == 1) {
        return -1;
    }

    n = len / 4 * 3 + (r ? r - 1 : 0);

    if (n > cap || n > (size_t) SSIZE_MAX) {
        return -1;
    }

    d = dst;

    for ( /* void */ ; len >= 4; len -= 4, src += 4) {
        a = ngx_http_fluentai_b64(src[0]);
        b = ngx_http_fluentai_b64(src[1]);
        c = ngx_http_fluentai_b64(src[2]);
        e = ngx_http_fluentai_b64(src[3]);

        if ((a | b | c | e) < 0) {
            return -1;
        }

        acc = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) c << 6
              | (uint32_t) e;

        *d++ = (u_char) (acc >> 16);
        *d++ = (u_char) (acc >> 8);
        *d++ = (u_char) acc;
    }

    if (r == 0) {
        return (ssize_t) n;
    }

    /* 2 or 3 characters left: 1 or 2 bytes, the rest of the bits zero */

    a = ngx_http_fluentai_b64(src[0]);
    b = ngx_http_fluentai_b64(src[1]);
    c = (r == 3) ? ngx_http_fluentai_b64(src[2]) : 0;

#undef ngx_http_fluentai_b64

    if ((a | b | c) < 0) {
        return -1;
    }

    acc = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) c << 6;

    *d++ = (u_char) (acc >> 16);

    if (r == 3) {
        *d++ = (u_char) (acc >> 8);
    }

    if (acc & (r == 3 ? 0xff : 0xffff)) {
        return -1;
    }

    return (ssize_t) n;
}


/* 1 if t is more than leeway seconds after now, without overflow */

static int
ngx_http_fluentai_jwt_future(int64_t t, int64_t now, int leeway)
{
    return t > now && (uint64_t) t - (uint64_t) now > (uint64_t) leeway;
}
