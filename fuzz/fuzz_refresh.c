
/*
 * libFuzzer target: ngx_http_fluentai_refresh_token_decode() from
 * src/ngx_http_fluentai_token.c (the refresh token a client sends).
 *
 * Invariants (abort on violation):
 *   - success only for 43-character inputs, all base64url, whose last
 *     character carries no stray bits (one of AEIMQUYcgkosw048): exactly
 *     the canonical encodings of 32 bytes, checked by decoding and
 *     re-encoding here;
 *   - on success the hash is SHA-256 of the 43 characters, and nothing
 *     is written past its 32 bytes.
 */


#include <openssl/sha.h>

#include "fuzz_common.h"
#include "ngx_http_fluentai_token.h"
#include "ngx_http_fluentai_jwt.h"


static int
fuzz_ref_decode(const u_char *s, size_t len)
{
    int       v;
    size_t    i, n;
    uint32_t  acc;
    u_char    raw[33], re[48];

    if (len != 43) {
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
            raw[n++] = (u_char) (acc >> 16);
            raw[n++] = (u_char) (acc >> 8);
            raw[n++] = (u_char) acc;
            acc = 0;
        }
    }

    /* 43 = 10 * 4 + 3: two more bytes, 2 bits left over */

    raw[n++] = (u_char) (acc >> 10);
    raw[n++] = (u_char) (acc >> 2);

    if (n != 32) {
        abort();
    }

    if (ngx_http_fluentai_b64url_encode(raw, 32, re) != 43
        || memcmp(re, s, 43) != 0)
    {
        return -1;
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int     rc, ref;
    u_char  hash[NGX_HTTP_FLUENTAI_HASH_LEN + 1], want[SHA256_DIGEST_LENGTH];

    memset(hash, 0x5a, sizeof(hash));

    rc = ngx_http_fluentai_refresh_token_decode(data, size, hash);
    ref = fuzz_ref_decode(data, size);

    FUZZ_CHECK(rc == 0 || rc == -1);

    if (rc != ref) {
        fprintf(stderr, "refresh_token_decode: %d, reference: %d\n", rc, ref);
        FUZZ_CHECK(rc == ref);
    }

    FUZZ_CHECK(hash[NGX_HTTP_FLUENTAI_HASH_LEN] == 0x5a);

    if (rc == 0) {
        FUZZ_CHECK(size == NGX_HTTP_FLUENTAI_REFRESH_LEN);
        FUZZ_CHECK(strchr("AEIMQUYcgkosw048", data[42]) != NULL);

        SHA256(data, size, want);
        FUZZ_CHECK(memcmp(hash, want, sizeof(want)) == 0);
    }

    return 0;
}
