
/*
 * The JSON inside a JWT, once its signature has been checked: the
 * header's fields and the access token's claims.  Pure C (jansson).
 *
 * The claims of every token we sign have one byte layout (jwt_sign:
 * compact, in order, sub sid type iat exp jti); a payload in exactly
 * that layout, with plain ASCII values, is read here without jansson.
 * Anything else (other order, spaces, escapes, other keys, nbf) goes to
 * jansson and the same checks; both ways give the same answer.
 */


#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_fluentai_jwt.h"


#define ngx_http_fluentai_jwt_lit(p, end, s)                                 \
    ((size_t) ((end) - (p)) >= sizeof(s) - 1                                 \
     && memcmp(p, s, sizeof(s) - 1) == 0)


static int ngx_http_fluentai_jwt_fast(const u_char *p, const u_char *end,
    ngx_http_fluentai_jwt_claims_t *c);
static const u_char *ngx_http_fluentai_jwt_fast_uuid(const u_char *p,
    const u_char *end, const char *key, size_t key_len, char *dst);
static const u_char *ngx_http_fluentai_jwt_fast_int(const u_char *p,
    const u_char *end, int64_t *v);
static json_t *ngx_http_fluentai_jwt_load(const u_char *json, size_t len);
static int ngx_http_fluentai_jwt_str_eq(json_t *v, const char *s);
static int ngx_http_fluentai_jwt_get_uuid(json_t *o, const char *name,
    char *dst);
static int ngx_http_fluentai_jwt_get_claims(json_t *p,
    ngx_http_fluentai_jwt_claims_t *c);


int
ngx_http_fluentai_jwt_header_ok(const u_char *json, size_t len,
    const char *kid)
{
    int      rc;
    json_t  *h, *v;

    h = ngx_http_fluentai_jwt_load(json, len);
    if (h == NULL) {
        return -1;
    }

    rc = -1;

    if (!ngx_http_fluentai_jwt_str_eq(json_object_get(h, "alg"), "HS256")) {
        goto done;
    }

    v = json_object_get(h, "typ");
    if (v != NULL && !ngx_http_fluentai_jwt_str_eq(v, "JWT")) {
        goto done;
    }

    v = json_object_get(h, "kid");
    if (v != NULL
        && (!json_is_string(v)
            || (kid != NULL && !ngx_http_fluentai_jwt_str_eq(v, kid))))
    {
        goto done;
    }

    /* RFC 7515 4.1.11: we understand no extensions */

    if (json_object_get(h, "crit") != NULL) {
        goto done;
    }

    rc = 0;

done:

    json_decref(h);

    return rc;
}


int
ngx_http_fluentai_jwt_payload(const u_char *json, size_t len,
    ngx_http_fluentai_jwt_claims_t *c, int64_t *nbf)
{
    *nbf = INT64_MIN;

    memset(c, 0, sizeof(ngx_http_fluentai_jwt_claims_t));

    if (ngx_http_fluentai_jwt_fast(json, json + len, c) == 0) {
        return 0;
    }

    return ngx_http_fluentai_jwt_payload_jansson(json, len, c, nbf);
}


int
ngx_http_fluentai_jwt_payload_fast(const u_char *json, size_t len,
    ngx_http_fluentai_jwt_claims_t *c)
{
    memset(c, 0, sizeof(ngx_http_fluentai_jwt_claims_t));

    return ngx_http_fluentai_jwt_fast(json, json + len, c);
}


int
ngx_http_fluentai_jwt_payload_jansson(const u_char *json, size_t len,
    ngx_http_fluentai_jwt_claims_t *c, int64_t *nbf)
{
    int      rc;
    json_t  *p, *v;

    *nbf = INT64_MIN;

    memset(c, 0, sizeof(ngx_http_fluentai_jwt_claims_t));

    p = ngx_http_fluentai_jwt_load(json, len);
    if (p == NULL) {
        return -1;
    }

    rc = ngx_http_fluentai_jwt_get_claims(p, c);

    /* nbf is optional; we never issue one, but honour it if signed in */

    v = json_object_get(p, "nbf");

    if (json_is_integer(v)) {
        *nbf = (int64_t) json_integer_value(v);

    } else if (v != NULL) {
        rc = -1;
    }

    json_decref(p);

    return rc;
}


/*
 * {"sub":"<uuid>","sid":"<uuid>","type":"access","iat":N,"exp":N,
 * "jti":"<ASCII>"} exactly, as jwt_sign writes it: 0, or -1 for anything
 * else (then jansson decides).  Only what jansson reads the same way is
 * taken: no escapes, no control or non-ASCII bytes, integers without a
 * sign or leading zero and of at most 18 digits.
 */

static int
ngx_http_fluentai_jwt_fast(const u_char *p, const u_char *end,
    ngx_http_fluentai_jwt_claims_t *c)
{
    size_t         n;
    const u_char  *s;

    p = ngx_http_fluentai_jwt_fast_uuid(p, end, "{\"sub\":\"",
                                        sizeof("{\"sub\":\"") - 1, c->sub);
    if (p == NULL) {
        return -1;
    }

    p = ngx_http_fluentai_jwt_fast_uuid(p, end, ",\"sid\":\"",
                                        sizeof(",\"sid\":\"") - 1, c->sid);
    if (p == NULL) {
        return -1;
    }

    if (!ngx_http_fluentai_jwt_lit(p, end, ",\"type\":\"access\",\"iat\":")) {
        return -1;
    }

    p = ngx_http_fluentai_jwt_fast_int(p + sizeof(",\"type\":\"access\","
                                                  "\"iat\":") - 1,
                                       end, &c->iat);
    if (p == NULL || !ngx_http_fluentai_jwt_lit(p, end, ",\"exp\":")) {
        return -1;
    }

    p = ngx_http_fluentai_jwt_fast_int(p + sizeof(",\"exp\":") - 1, end,
                                       &c->exp);
    if (p == NULL || !ngx_http_fluentai_jwt_lit(p, end, ",\"jti\":\"")) {
        return -1;
    }

    s = p + sizeof(",\"jti\":\"") - 1;

    for (p = s; p < end && *p != '"'; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '\\') {
            return -1;
        }
    }

    n = p - s;

    if (n == 0 || n > sizeof(c->jti) - 1 || end - p != 2 || p[1] != '}') {
        return -1;
    }

    memcpy(c->jti, s, n);
    c->jti[n] = '\0';

    return 0;
}


/* key, then a canonical UUID and its closing quote; what follows or NULL */

static const u_char *
ngx_http_fluentai_jwt_fast_uuid(const u_char *p, const u_char *end,
    const char *key, size_t key_len, char *dst)
{
    if ((size_t) (end - p) < key_len + NGX_HTTP_FLUENTAI_UUID_LEN + 1
        || memcmp(p, key, key_len) != 0)
    {
        return NULL;
    }

    p += key_len;

    if (!ngx_http_fluentai_uuid_valid(p, NGX_HTTP_FLUENTAI_UUID_LEN)
        || p[NGX_HTTP_FLUENTAI_UUID_LEN] != '"')
    {
        return NULL;
    }

    memcpy(dst, p, NGX_HTTP_FLUENTAI_UUID_LEN);
    dst[NGX_HTTP_FLUENTAI_UUID_LEN] = '\0';

    return p + NGX_HTTP_FLUENTAI_UUID_LEN + 1;
}


/* 0 or [1-9][0-9]{0,17}; what follows or NULL */

static const u_char *
ngx_http_fluentai_jwt_fast_int(const u_char *p, const u_char *end,
    int64_t *v)
{
    int64_t        n;
    const u_char  *s;

    if (p == end || *p < '0' || *p > '9') {
        return NULL;
    }

    if (*p == '0') {
        *v = 0;
        p++;
        return (p < end && *p >= '0' && *p <= '9') ? NULL : p;
    }

    n = 0;

    for (s = p; p < end && *p >= '0' && *p <= '9'; p++) {
        if (p - s == 18) {
            return NULL;
        }

        n = n * 10 + (*p - '0');
    }

    *v = n;

    return p;
}


/* an object parsed by jansson, or NULL */

static json_t *
ngx_http_fluentai_jwt_load(const u_char *json, size_t len)
{
    json_t        *o;
    json_error_t   err;

    o = json_loadb((const char *) json, len, JSON_REJECT_DUPLICATES, &err);
    if (o == NULL) {
        return NULL;
    }

    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }

    return o;
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
