
/*
 * libFuzzer target: ngx_http_fluentai_jwt_verify() (and _hs256, _sign)
 * from src/ngx_http_fluentai_jwt.c, NULL, with a fixed 48-byte key and a fixed
 * "now".
 *
 * The first input byte picks a mode:
 *   0x01  header JSON, 0x00, payload JSON: both are base64url-encoded,
 *         joined with '.', signed with jwt_hs256 and verified, so the
 *         fuzzer gets past the signature to the header/claims checks;
 *   0x02  the rest is "header.payload" text as is (any bytes, any
 *         base64url, any dots): signed with jwt_hs256 and verified, for
 *         the strict base64url decoder and the token structure;
 *   0x03  the rest seeds claims (sub, sid, iat, exp, jti) for jwt_sign;
 *         verify must give them back;
 *   else  the whole input is the token (signature forgery, structure).
 *
 * Every verify result is compared with a reference verifier written
 * here independently (OpenSSL HMAC, decode + re-encode base64url,
 * jansson checks): any difference aborts.  On OK/EXPIRED, also: sub and
 * sid are canonical UUIDs, jti is 1..63 bytes, the claims are the
 * payload's, EXPIRED iff exp + leeway < now, another key or a changed
 * signature gives INVALID, and c == NULL gives the same result; on
 * INVALID the claims are zeroed.
 */


#include <inttypes.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_common.h"
#include "ngx_http_fluentai_jwt.h"


#define FUZZ_MAX  (3 * NGX_HTTP_FLUENTAI_JWT_MAX_LEN)


/* lower-case 8-4-4-4-12 hex, checked without the module's helper */

static int
fuzz_uuid_ok(const char *s, size_t len)
{
    size_t  i;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0') {
            return 0;
        }
    }

    return 1;
}


/*
 * Strict base64url, the reference way: decode ignoring the trailing
 * bits, then the text must be exactly the canonical encoding of the
 * result.  Returns the length, or -1.
 */

static ssize_t
fuzz_b64url_decode(const u_char *s, size_t len, u_char *dst)
{
    int       v;
    size_t    i, n;
    uint32_t  acc;
    u_char    re[FUZZ_MAX];

    if (len % 4 == 1 || len > sizeof(re)) {
        return -1;
    }

    n = 0;
    acc = 0;

    for (i = 0; i < len; i++) {
        v = ngx_http_fluentai_b64url_value(s[i]);
        if (v < 0) {
            return -1;
        }

        acc = (acc << 6) | (uint32_t) v;

        if (i % 4 == 3) {
            dst[n++] = (u_char) (acc >> 16);
            dst[n++] = (u_char) (acc >> 8);
            dst[n++] = (u_char) acc;
            acc = 0;
        }
    }

    if (len % 4 == 2) {
        dst[n++] = (u_char) (acc >> 4);

    } else if (len % 4 == 3) {
        dst[n++] = (u_char) (acc >> 10);
        dst[n++] = (u_char) (acc >> 2);
    }

    if (ngx_http_fluentai_b64url_encode(dst, n, re) != len
        || memcmp(re, s, len) != 0)
    {
        return -1;
    }

    return (ssize_t) n;
}


static json_t *
fuzz_part(const u_char *s, size_t len)
{
    ssize_t       n;
    json_t       *o;
    json_error_t  err;
    u_char        buf[FUZZ_MAX];

    n = fuzz_b64url_decode(s, len, buf);
    if (n <= 0) {
        return NULL;
    }

    o = json_loadb((const char *) buf, (size_t) n, JSON_REJECT_DUPLICATES,
                   &err);

    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }

    return o;
}


static int
fuzz_is_str(json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s)
           && strcmp(json_string_value(v), s) == 0;
}


/* the reference verifier: same contract, written from jwt.h */

static int
fuzz_ref_verify(const u_char *t, size_t len, int leeway,
    ngx_http_fluentai_jwt_claims_t *c)
{
    int            rc;
    size_t         i, d[2], nd;
    json_t        *h, *p, *v;
    u_char         sig[FUZZ_MAX], mac[EVP_MAX_MD_SIZE];
    unsigned int   mac_len;

    memset(c, 0, sizeof(*c));

    if (len == 0 || len > NGX_HTTP_FLUENTAI_JWT_MAX_LEN) {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    nd = 0;

    for (i = 0; i < len; i++) {
        if (t[i] == '.') {
            if (nd == 2) {
                return NGX_HTTP_FLUENTAI_JWT_INVALID;
            }

            d[nd++] = i;
        }
    }

    if (nd != 2) {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    if (fuzz_b64url_decode(t + d[1] + 1, len - d[1] - 1, sig) != 32) {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    if (HMAC(EVP_sha256(), fuzz_jwt_key, sizeof(fuzz_jwt_key), t, d[1], mac,
             &mac_len) == NULL
        || mac_len != 32)
    {
        abort();
    }

    if (memcmp(mac, sig, 32) != 0) {
        return NGX_HTTP_FLUENTAI_JWT_INVALID;
    }

    h = fuzz_part(t, d[0]);
    p = fuzz_part(t + d[0] + 1, d[1] - d[0] - 1);

    rc = NGX_HTTP_FLUENTAI_JWT_INVALID;

    if (h == NULL || p == NULL) {
        goto done;
    }

    if (!fuzz_is_str(json_object_get(h, "alg"), "HS256")
        || ((v = json_object_get(h, "typ")) && !fuzz_is_str(v, "JWT"))
        || ((v = json_object_get(h, "kid")) && !json_is_string(v))
        || json_object_get(h, "crit") != NULL)
    {
        goto done;
    }

    if (!fuzz_is_str(json_object_get(p, "type"), "access")) {
        goto done;
    }

    v = json_object_get(p, "sub");
    if (!json_is_string(v)
        || !fuzz_uuid_ok(json_string_value(v), json_string_length(v)))
    {
        goto done;
    }

    strcpy(c->sub, json_string_value(v));

    v = json_object_get(p, "sid");
    if (!json_is_string(v)
        || !fuzz_uuid_ok(json_string_value(v), json_string_length(v)))
    {
        goto done;
    }

    strcpy(c->sid, json_string_value(v));

    v = json_object_get(p, "iat");
    if (!json_is_integer(v)) {
        goto done;
    }

    c->iat = json_integer_value(v);

    v = json_object_get(p, "exp");
    if (!json_is_integer(v)) {
        goto done;
    }

    c->exp = json_integer_value(v);

    v = json_object_get(p, "jti");
    if (!json_is_string(v) || json_string_length(v) < 1
        || json_string_length(v) > 63)
    {
        goto done;
    }

    memcpy(c->jti, json_string_value(v), json_string_length(v));

    /* iat, and nbf if present (an integer), no more than leeway ahead */

    v = json_object_get(p, "nbf");

    if ((v != NULL && !json_is_integer(v))
        || (__int128) c->iat > (__int128) FUZZ_JWT_NOW + leeway
        || (v != NULL
            && (__int128) json_integer_value(v)
               > (__int128) FUZZ_JWT_NOW + leeway))
    {
        goto done;
    }

    rc = ((__int128) c->exp + leeway < (__int128) FUZZ_JWT_NOW)
         ? NGX_HTTP_FLUENTAI_JWT_EXPIRED : NGX_HTTP_FLUENTAI_JWT_OK;

done:

    if (rc == NGX_HTTP_FLUENTAI_JWT_INVALID) {
        memset(c, 0, sizeof(*c));
    }

    json_decref(h);
    json_decref(p);

    return rc;
}


static int
fuzz_zero(const void *p, size_t n)
{
    const u_char  *s = p;

    while (n--) {
        if (*s++) {
            return 0;
        }
    }

    return 1;
}


/* 1 if the header of a token (known to be well-formed) has a "kid" */

static int
fuzz_has_kid(const u_char *t, size_t len)
{
    int       has;
    json_t   *h;
    u_char   *dot;

    dot = memchr(t, '.', len);
    h = (dot == NULL) ? NULL : fuzz_part(t, dot - t);
    has = (h != NULL && json_object_get(h, "kid") != NULL);
    json_decref(h);

    return has;
}


/* verifies t[0..len) and checks everything; returns the result */

static int
fuzz_verify(const u_char *data, size_t len)
{
    int                              rc, ref, i;
    u_char                          *t, *s, other[48];
    ngx_http_fluentai_jwt_claims_t   c, rc_claims;

    t = fuzz_dup(data, len);        /* exact size: ASan catches overreads */

    memset(&c, 0xa5, sizeof(c));

    rc = ngx_http_fluentai_jwt_verify(fuzz_jwt_key, sizeof(fuzz_jwt_key), NULL,
                                      t, len, FUZZ_JWT_NOW, FUZZ_JWT_LEEWAY,
                                      &c);

    FUZZ_CHECK(rc == NGX_HTTP_FLUENTAI_JWT_OK
               || rc == NGX_HTTP_FLUENTAI_JWT_INVALID
               || rc == NGX_HTTP_FLUENTAI_JWT_EXPIRED);

    ref = fuzz_ref_verify(t, len, FUZZ_JWT_LEEWAY, &rc_claims);

    if (rc != ref) {
        fprintf(stderr, "jwt_verify: %d, reference: %d\n", rc, ref);
        FUZZ_CHECK(rc == ref);
    }

    FUZZ_CHECK(ngx_http_fluentai_jwt_verify(fuzz_jwt_key,
                                            sizeof(fuzz_jwt_key), NULL, t, len,
                                            FUZZ_JWT_NOW, FUZZ_JWT_LEEWAY,
                                            NULL)
               == rc);

    if (rc == NGX_HTTP_FLUENTAI_JWT_INVALID) {
        FUZZ_CHECK(fuzz_zero(&c, sizeof(c)));
        free(t);
        return rc;
    }

    /* OK or EXPIRED */

    FUZZ_CHECK(len <= NGX_HTTP_FLUENTAI_JWT_MAX_LEN);
    FUZZ_CHECK(c.sub[36] == '\0' && c.sid[36] == '\0');
    FUZZ_CHECK(fuzz_uuid_ok(c.sub, strlen(c.sub)));
    FUZZ_CHECK(fuzz_uuid_ok(c.sid, strlen(c.sid)));
    FUZZ_CHECK(ngx_http_fluentai_uuid_valid((u_char *) c.sub, 36));
    FUZZ_CHECK(ngx_http_fluentai_uuid_valid((u_char *) c.sid, 36));
    FUZZ_CHECK(memchr(c.jti, '\0', sizeof(c.jti)) != NULL);
    FUZZ_CHECK(c.jti[0] != '\0');
    FUZZ_CHECK(strcmp(c.sub, rc_claims.sub) == 0);
    FUZZ_CHECK(strcmp(c.sid, rc_claims.sid) == 0);
    FUZZ_CHECK(strcmp(c.jti, rc_claims.jti) == 0);
    FUZZ_CHECK(c.iat == rc_claims.iat && c.exp == rc_claims.exp);

    FUZZ_CHECK((rc == NGX_HTTP_FLUENTAI_JWT_EXPIRED)
               == ((__int128) c.exp + FUZZ_JWT_LEEWAY < FUZZ_JWT_NOW));

    /* a negative leeway counts as 0 */

    i = ngx_http_fluentai_jwt_verify(fuzz_jwt_key, sizeof(fuzz_jwt_key),
                                     NULL, t, len, FUZZ_JWT_NOW, -7, NULL);
    FUZZ_CHECK(i == fuzz_ref_verify(t, len, 0, &rc_claims));

    /* the expected kid: a token naming another kid is INVALID */

    i = ngx_http_fluentai_jwt_verify(fuzz_jwt_key, sizeof(fuzz_jwt_key),
                                     "fuzz-no-such-kid", t, len,
                                     FUZZ_JWT_NOW, FUZZ_JWT_LEEWAY, NULL);
    FUZZ_CHECK(i == (fuzz_has_kid(t, len) ? NGX_HTTP_FLUENTAI_JWT_INVALID
                                          : rc));

    /* another key */

    memcpy(other, fuzz_jwt_key, sizeof(other));
    other[len % sizeof(other)] ^= 0x01;

    FUZZ_CHECK(ngx_http_fluentai_jwt_verify(other, sizeof(other), NULL,
                                            t, len,
                                            FUZZ_JWT_NOW, FUZZ_JWT_LEEWAY,
                                            NULL)
               == NGX_HTTP_FLUENTAI_JWT_INVALID);

    /* any changed signature character */

    s = t + len - 1 - (len % 43);
    *s = (*s == 'A') ? 'B' : 'A';

    FUZZ_CHECK(ngx_http_fluentai_jwt_verify(fuzz_jwt_key,
                                            sizeof(fuzz_jwt_key), NULL, t, len,
                                            FUZZ_JWT_NOW, FUZZ_JWT_LEEWAY,
                                            NULL)
               == NGX_HTTP_FLUENTAI_JWT_INVALID);

    free(t);

    return rc;
}


/* appends ".<signature>" to t[0..n); t has room for 44 more bytes */

static size_t
fuzz_sign(u_char *t, size_t n)
{
    int  rc;

    t[n] = '.';

    rc = ngx_http_fluentai_jwt_hs256(fuzz_jwt_key, sizeof(fuzz_jwt_key),
                                     t, n, t + n + 1, 44);
    FUZZ_CHECK(rc == 43);
    FUZZ_CHECK(t[n + 44] == '\0');

    return n + 44;
}


static void
fuzz_mode_json(const uint8_t *data, size_t size)
{
    size_t          hl, n;
    const uint8_t  *z;
    u_char          t[2 * FUZZ_MAX];

    if (size > NGX_HTTP_FLUENTAI_JWT_MAX_LEN) {
        return;
    }

    z = memchr(data, '\0', size);
    hl = z ? (size_t) (z - data) : size;

    n = ngx_http_fluentai_b64url_encode(data, hl, t);
    t[n++] = '.';

    if (z != NULL) {
        n += ngx_http_fluentai_b64url_encode(z + 1, size - hl - 1,
                                             t + n);
    }

    fuzz_verify(t, fuzz_sign(t, n));
}


static void
fuzz_mode_text(const uint8_t *data, size_t size)
{
    u_char  t[FUZZ_MAX];

    if (size + 44 > sizeof(t)) {
        return;
    }

    memcpy(t, data, size);
    fuzz_verify(t, fuzz_sign(t, size));
}


static void
fuzz_mode_sign(const uint8_t *data, size_t size)
{
    int                              rc, i, n;
    size_t                           k;
    u_char                           b[56];
    char                             tok[NGX_HTTP_FLUENTAI_JWT_MAX_LEN + 1];
    char                             kid[16];
    int64_t                          iat, exp;
    ngx_http_fluentai_jwt_claims_t   c, v;

    memset(b, 0, sizeof(b));
    memcpy(b, data, size < sizeof(b) ? size : sizeof(b));

    memset(&c, 0, sizeof(c));

    for (i = 0, n = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            c.sub[n] = '-';
            c.sid[n++] = '-';
        }

        snprintf(c.sub + n, 3, "%02x", b[i]);
        snprintf(c.sid + n, 3, "%02x", b[16 + i]);
        n += 2;
    }

    memcpy(&iat, b + 32, 8);
    memcpy(&exp, b + 40, 8);
    c.iat = iat;
    c.exp = exp;

    snprintf(kid, sizeof(kid), "k%u", b[48]);

    /* jti: the rest as printable ASCII (none: a random one) */

    for (k = 0; k + 56 < size && k < sizeof(c.jti) - 1; k++) {
        c.jti[k] = (char) (0x20 + data[56 + k] % 95);
    }

    rc = ngx_http_fluentai_jwt_sign(fuzz_jwt_key, sizeof(fuzz_jwt_key), kid,
                                    &c, tok, sizeof(tok));
    FUZZ_CHECK(rc > 0 && (size_t) rc == strlen(tok));

    /* what we sign verifies, unless it was issued in the future */

    i = fuzz_verify((u_char *) tok, (size_t) rc);
    FUZZ_CHECK((i == NGX_HTTP_FLUENTAI_JWT_INVALID)
               == ((__int128) c.iat
                   > (__int128) FUZZ_JWT_NOW + FUZZ_JWT_LEEWAY));

    if (i == NGX_HTTP_FLUENTAI_JWT_INVALID) {
        return;
    }

    ngx_http_fluentai_jwt_verify(fuzz_jwt_key, sizeof(fuzz_jwt_key), NULL,
                                 (u_char *) tok, (size_t) rc, FUZZ_JWT_NOW,
                                 FUZZ_JWT_LEEWAY, &v);

    FUZZ_CHECK(strcmp(v.sub, c.sub) == 0 && strcmp(v.sid, c.sid) == 0);
    FUZZ_CHECK(strcmp(v.jti, c.jti) == 0);
    FUZZ_CHECK(v.iat == c.iat && v.exp == c.exp);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX) {
        return 0;
    }

    if (size > 0) {
        switch (data[0]) {

        case 0x01:
            fuzz_mode_json(data + 1, size - 1);
            return 0;

        case 0x02:
            fuzz_mode_text(data + 1, size - 1);
            return 0;

        case 0x03:
            fuzz_mode_sign(data + 1, size - 1);
            return 0;
        }
    }

    fuzz_verify(data, size);

    return 0;
}
