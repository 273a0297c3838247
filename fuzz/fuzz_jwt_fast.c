
/*
 * libFuzzer target: JWT verify's two ways of reading the claims
 * (src/ngx_http_fluentai_jwt_claims.c), differentially.
 * ngx_http_fluentai_jwt_payload() reads a payload in jwt_sign's own layout
 * directly (jwt_payload_fast) and anything else with jansson
 * (jwt_payload_jansson); for every payload, its result, claims and nbf
 * must be the jansson way's, and whenever the fast way accepts, jansson
 * must accept with the same claims.  Then the payload is signed with the
 * fixed key (so the signature passes) and jwt_verify's verdict and
 * claims must be what the jansson way's claims give (iat/nbf beyond the
 * leeway ahead INVALID, exp + leeway < now EXPIRED).
 *
 * The first input byte picks the payload:
 *   0x00  jwt_sign's layout {"sub":"..","sid":"..","type":"..",
 *         "iat":..,"exp":..,"jti":".."}: the next byte's bits 0-5 say
 *         which of the six values come from the input (the rest split
 *         on 0x00, in order, substituted raw: quotes, escapes, signs,
 *         floats, leading zeros, spaces as given); the others, and any
 *         missing, are valid ones, so the fuzzer starts on the fast path
 *         and can change one value at a time;
 *   else  the rest is the payload as is.
 */


#include <inttypes.h>

#include "fuzz_common.h"
#include "ngx_http_fluentai_jwt.h"


#define FUZZ_PAYLOAD_MAX  1400    /* its base64url fits a 2048-byte token */


static const char  fuzz_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static const char  *fuzz_keys[] = {
    "{\"sub\":\"", "\",\"sid\":\"", "\",\"type\":\"", "\",\"iat\":",
    ",\"exp\":", ",\"jti\":\"", "\"}"
};

static const char  *fuzz_defaults[] = {
    "0b6c4a52-3e2d-4c61-9a3e-4f2b8d9e1c07",
    "7f3e2a10-5b4c-4d8e-8f9a-0c1b2d3e4f50",
    "access", "1700000000", "1700000900",
    "Xq3v9LwTzR1mN0pK2sJ4hG"
};


static void
fuzz_dump(const char *what, const u_char *p, size_t len, int rc,
    const ngx_http_fluentai_jwt_claims_t *c, int64_t nbf)
{
    fprintf(stderr, "%s: rc %d sub \"%s\" sid \"%s\" iat %" PRId64
            " exp %" PRId64 " jti \"%s\" nbf %" PRId64 "\n",
            what, rc, c->sub, c->sid, c->iat, c->exp, c->jti, nbf);
    fprintf(stderr, "payload (%zu bytes): %.*s\n", len, (int) len, p);
}


static int
fuzz_same(const ngx_http_fluentai_jwt_claims_t *a,
    const ngx_http_fluentai_jwt_claims_t *b)
{
    return strcmp(a->sub, b->sub) == 0 && strcmp(a->sid, b->sid) == 0
           && strcmp(a->jti, b->jti) == 0 && a->iat == b->iat
           && a->exp == b->exp;
}


static void
fuzz_check(const u_char *p, size_t len)
{
    int                              fast, slow, rc, ref;
    size_t                           n, hn;
    u_char                          *d, *t;
    int64_t                          nbf, snbf;
    ngx_http_fluentai_jwt_claims_t   fc, sc, pc, vc;

    d = fuzz_dup(p, len);       /* exact size: ASan catches overreads */

    fast = ngx_http_fluentai_jwt_payload_fast(d, len, &fc);
    slow = ngx_http_fluentai_jwt_payload_jansson(d, len, &sc, &snbf);
    rc = ngx_http_fluentai_jwt_payload(d, len, &pc, &nbf);

    FUZZ_CHECK(fast == 0 || fast == -1);
    FUZZ_CHECK(slow == 0 || slow == -1);

    if (fast == 0 && (slow != 0 || !fuzz_same(&fc, &sc)
                      || snbf != INT64_MIN))
    {
        fuzz_dump("fast", d, len, fast, &fc, INT64_MIN);
        fuzz_dump("jansson", d, len, slow, &sc, snbf);
        abort();
    }

    if (rc != slow || (rc == 0 && (!fuzz_same(&pc, &sc) || nbf != snbf))) {
        fuzz_dump("jwt_payload", d, len, rc, &pc, nbf);
        fuzz_dump("jansson", d, len, slow, &sc, snbf);
        abort();
    }

    /* the whole verify, on the payload signed with the fixed key */

    t = malloc(NGX_HTTP_FLUENTAI_JWT_MAX_LEN + 64);
    FUZZ_CHECK(t != NULL);

    hn = ngx_http_fluentai_b64url_encode((const u_char *) fuzz_header,
                                         sizeof(fuzz_header) - 1, t);
    t[hn] = '.';
    n = hn + 1 + ngx_http_fluentai_b64url_encode(d, len, t + hn + 1);
    t[n] = '.';
    FUZZ_CHECK(ngx_http_fluentai_jwt_hs256(fuzz_jwt_key, sizeof(fuzz_jwt_key),
                                           t, n, t + n + 1, 44)
               == 43);
    n += 44;

    memset(&vc, 0xa5, sizeof(vc));
    rc = ngx_http_fluentai_jwt_verify(fuzz_jwt_key, sizeof(fuzz_jwt_key),
                                      NULL, t, n, FUZZ_JWT_NOW,
                                      FUZZ_JWT_LEEWAY, &vc);

    if (slow != 0
        || (__int128) sc.iat > (__int128) FUZZ_JWT_NOW + FUZZ_JWT_LEEWAY
        || (__int128) snbf > (__int128) FUZZ_JWT_NOW + FUZZ_JWT_LEEWAY)
    {
        ref = NGX_HTTP_FLUENTAI_JWT_INVALID;

    } else if ((__int128) sc.exp + FUZZ_JWT_LEEWAY < FUZZ_JWT_NOW) {
        ref = NGX_HTTP_FLUENTAI_JWT_EXPIRED;

    } else {
        ref = NGX_HTTP_FLUENTAI_JWT_OK;
    }

    if (rc != ref
        || (rc != NGX_HTTP_FLUENTAI_JWT_INVALID && !fuzz_same(&vc, &sc)))
    {
        fuzz_dump("jwt_verify", d, len, rc, &vc, 0);
        fuzz_dump("jansson", d, len, ref, &sc, snbf);
        abort();
    }

    free(t);
    free(d);
}


static void
fuzz_mode_layout(const uint8_t *data, size_t size)
{
    int             i, mask;
    size_t          n, k;
    u_char          buf[FUZZ_PAYLOAD_MAX + 1];
    const uint8_t  *p, *end, *z, *v;

    if (size == 0) {
        fuzz_check((const u_char *) "", 0);
        return;
    }

    mask = data[0];
    p = data + 1;
    end = data + size;
    n = 0;

#define fuzz_put(s, l)                                                       \
    if (n + (l) > FUZZ_PAYLOAD_MAX) {                                        \
        return;                                                              \
    }                                                                        \
    memcpy(buf + n, s, l);                                                   \
    n += (l)

    for (i = 0; i < 6; i++) {
        fuzz_put(fuzz_keys[i], strlen(fuzz_keys[i]));

        if ((mask & (1 << i)) && p < end) {
            z = memchr(p, '\0', end - p);
            v = p;
            k = (z ? z : end) - p;
            p = z ? z + 1 : end;

        } else {
            v = (const uint8_t *) fuzz_defaults[i];
            k = strlen(fuzz_defaults[i]);
        }

        fuzz_put(v, k);
    }

    fuzz_put(fuzz_keys[6], strlen(fuzz_keys[6]));

#undef fuzz_put

    fuzz_check(buf, n);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > FUZZ_PAYLOAD_MAX + 1) {
        return 0;
    }

    if (data[0] == 0x00) {
        fuzz_mode_layout(data + 1, size - 1);

    } else {
        fuzz_check(data + 1, size - 1);
    }

    return 0;
}
