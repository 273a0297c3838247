
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
static int ngx_http_fluentai_jwt_str_eq(json_t *v, const char *s);
static json_t *ngx_http_fluentai_jwt_parse(const u_char *src, size_t len,
    u_char *buf, size_t cap);
static int ngx_http_fluentai_jwt_check_header(json_t *h, const char *kid);
static int ngx_http_fluentai_jwt_future(int64_t t, int64_t now, int leeway);
static int ngx_http_fluentai_jwt_get_uuid(json_t *o, const char *name,
    char *dst);
static int ngx_http_fluentai_jwt_get_claims(json_t *p,
    ngx_http_fluentai_jwt_claims_t *c);


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
    int                              rc;
    int64_t                          nbf;
    const char                      *ckid;
    size_t                           i, d1, d2, ndots;
    json_t                          *h, *p, *v;
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

    d1 = 0;
    d2 = 0;
    ndots = 0;

    for (i = 0; i < len; i++) {
        if (token[i] != '.') {
            continue;
        }

        if (++ndots == 1) {
            d1 = i;

        } else {
            d2 = i;
        }
    }

    if (ndots != 2 || d1 == 0 || d2 == d1 + 1
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
        h = ngx_http_fluentai_jwt_parse(token, d1, buf, sizeof(buf));
        if (h == NULL) {
            return NGX_HTTP_FLUENTAI_JWT_INVALID;
        }

        rc = ngx_http_fluentai_jwt_check_header(h, kid);
        json_decref(h);

        if (rc != 0) {
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

    /* payload */

    p = ngx_http_fluentai_jwt_parse(token + d1 + 1, d2 - (d1 + 1), buf,
                                    sizeof(buf));
    if (p == NULL) {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    memset(&claims, 0, sizeof(ngx_http_fluentai_jwt_claims_t));

    rc = ngx_http_fluentai_jwt_get_claims(p, &claims);

    /* nbf is optional; we never issue one, but honour it if signed in */

    v = json_object_get(p, "nbf");
    nbf = json_is_integer(v) ? (int64_t) json_integer_value(v) : INT64_MIN;

    if (v != NULL && !json_is_integer(v)) {
        rc = -1;
    }

    json_decref(p);

    if (leeway < 0) {
        leeway = 0;
    }

    /* not yet valid: issued, or valid from, beyond the leeway ahead */

    if (rc != 0
        || ngx_http_fluentai_jwt_future(claims.iat, now, leeway)
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
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }

    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }

    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }

    if (ch == '-') {
        return 62;
    }

    if (ch == '_') {
        return 63;
    }

    return -1;
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
    int        v;
    size_t     i, n;
    u_char    *d;
    uint32_t   acc;
    unsigned   bits;

    if (len % 4 == 1) {
        return -1;
    }

    n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);

    if (n > cap || n > (size_t) SSIZE_MAX) {
        return -1;
    }

    d = dst;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        v = ngx_http_fluentai_b64url_value(src[i]);
        if (v < 0) {
            return -1;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *d++ = (u_char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    if (acc != 0) {
        return -1;
    }

    return (ssize_t) n;
}


/* 1 if v is a JSON string exactly equal to s */

static int
ngx_http_fluentai_jwt_str_eq(json_t *v, const char *s)
{
    size_t  n;

    if (!json_is_string(v)) {
        return 0;
    }

    n = strlen(s);

    return json_string_length(v) == n
           && memcmp(json_string_value(v), s, n) == 0;
}


/* decodes one part into buf and parses it; returns an object or NULL */

static json_t *
ngx_http_fluentai_jwt_parse(const u_char *src, size_t len, u_char *buf,
    size_t cap)
{
    ssize_t        n;
    json_t        *o;
    json_error_t   err;

    n = ngx_http_fluentai_jwt_b64_decode(src, len, buf, cap);
    if (n <= 0) {
        return NULL;
    }

    o = json_loadb((const char *) buf, (size_t) n, JSON_REJECT_DUPLICATES,
                   &err);
    if (o == NULL) {
        return NULL;
    }

    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }

    return o;
}


/* 1 if t is more than leeway seconds after now, without overflow */

static int
ngx_http_fluentai_jwt_future(int64_t t, int64_t now, int leeway)
{
    return t > now && (uint64_t) t - (uint64_t) now > (uint64_t) leeway;
}


static int
ngx_http_fluentai_jwt_check_header(json_t *h, const char *kid)
{
    json_t  *v;

    if (!ngx_http_fluentai_jwt_str_eq(json_object_get(h, "alg"), "HS256")) {
        return -1;
    }

    v = json_object_get(h, "typ");
    if (v != NULL && !ngx_http_fluentai_jwt_str_eq(v, "JWT")) {
        return -1;
    }

    v = json_object_get(h, "kid");
    if (v != NULL
        && (!json_is_string(v)
            || (kid != NULL && !ngx_http_fluentai_jwt_str_eq(v, kid))))
    {
        return -1;
    }

    /* RFC 7515 4.1.11: we understand no extensions */

    if (json_object_get(h, "crit") != NULL) {
        return -1;
    }

    return 0;
}


static int
ngx_http_fluentai_jwt_get_uuid(json_t *o, const char *name, char *dst)
{
    json_t  *v;

    v = json_object_get(o, name);

    if (!json_is_string(v)
        || !ngx_http_fluentai_uuid_valid((const u_char *) json_string_value(v),
                                         json_string_length(v)))
    {
        return -1;
    }

    memcpy(dst, json_string_value(v), NGX_HTTP_FLUENTAI_UUID_LEN);
    dst[NGX_HTTP_FLUENTAI_UUID_LEN] = '\0';

    return 0;
}


static int
ngx_http_fluentai_jwt_get_claims(json_t *p, ngx_http_fluentai_jwt_claims_t *c)
{
    size_t   n;
    json_t  *v;

    if (!ngx_http_fluentai_jwt_str_eq(json_object_get(p, "type"), "access")) {
        return -1;
    }

    if (ngx_http_fluentai_jwt_get_uuid(p, "sub", c->sub) != 0
        || ngx_http_fluentai_jwt_get_uuid(p, "sid", c->sid) != 0)
    {
        return -1;
    }

    v = json_object_get(p, "iat");
    if (!json_is_integer(v)) {
        return -1;
    }

    c->iat = (int64_t) json_integer_value(v);

    v = json_object_get(p, "exp");
    if (!json_is_integer(v)) {
        return -1;
    }

    c->exp = (int64_t) json_integer_value(v);

    v = json_object_get(p, "jti");
    if (!json_is_string(v)) {
        return -1;
    }

    n = json_string_length(v);

    if (n == 0 || n > sizeof(c->jti) - 1) {
        return -1;
    }

    memcpy(c->jti, json_string_value(v), n);
    c->jti[n] = '\0';

    return 0;
}
