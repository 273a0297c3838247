
/*
 * libFuzzer target: ngx_http_fluentai_argon2_parse() from
 * src/ngx_http_fluentai_password.c (the fluentai_argon2 directive's
 * "m=19456 t=2 p=1" arguments).  Hashing itself is not fuzzed.
 *
 * The input is split on spaces into argv (empty words kept), each word
 * in its own exact-size, not NUL-terminated heap buffer passed with
 * lens; then again as NUL-terminated strings with lens == NULL (when no
 * word holds a NUL byte).
 *
 * Invariants (abort on violation):
 *   - the result (NULL or an error) and, on success, m, t, p equal those
 *     of a reference parser written from password.h: each of m=, t=, p=
 *     exactly once, decimal digits only, no overflow, m >= 8 * p,
 *     m <= 4194304, 1 <= t <= 100, 1 <= p <= 64;
 *   - errors are non-empty strings; *a is unchanged on error;
 *   - both calling conventions agree.
 */


#include "fuzz_common.h"
#include "ngx_http_fluentai_password.h"


#define FUZZ_MAX_WORDS  64


static int
fuzz_ref_parse(u_char **w, size_t *lens, size_t n, uint32_t out[3])
{
    int        k;
    size_t     i, j;
    uint64_t   v;
    unsigned   seen;

    seen = 0;

    for (i = 0; i < n; i++) {
        if (lens[i] < 2 || w[i][1] != '=') {
            return -1;
        }

        switch (w[i][0]) {
        case 'm': k = 0; break;
        case 't': k = 1; break;
        case 'p': k = 2; break;
        default: return -1;
        }

        if (seen & (1u << k) || lens[i] == 2) {
            return -1;
        }

        v = 0;

        for (j = 2; j < lens[i]; j++) {
            if (w[i][j] < '0' || w[i][j] > '9') {
                return -1;
            }

            v = v * 10 + (w[i][j] - '0');

            if (v > UINT32_MAX) {
                return -1;
            }
        }

        seen |= 1u << k;
        out[k] = (uint32_t) v;
    }

    if (seen != 7
        || out[2] < 1 || out[2] > 64
        || out[1] < 1 || out[1] > 100
        || out[0] > 4194304 || (uint64_t) out[0] < 8 * (uint64_t) out[2])
    {
        return -1;
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                          ref, nul;
    size_t                       i, n, s, lens[FUZZ_MAX_WORDS];
    u_char                      *w[FUZZ_MAX_WORDS], *z[FUZZ_MAX_WORDS];
    uint32_t                     want[3];
    const char                  *err, *err2;
    ngx_http_fluentai_argon2_t   a, b;

    /* split on ' ': "a  b" gives "a", "", "b" */

    n = 0;
    s = 0;
    nul = 0;

    for (i = 0; i <= size; i++) {
        if (i < size && data[i] != ' ') {
            nul |= data[i] == '\0';
            continue;
        }

        if (n == FUZZ_MAX_WORDS) {
            break;
        }

        lens[n] = i - s;
        w[n] = fuzz_dup(data + s, lens[n]);

        z[n] = malloc(lens[n] + 1);
        FUZZ_CHECK(z[n] != NULL);
        memcpy(z[n], data + s, lens[n]);
        z[n][lens[n]] = '\0';

        n++;
        s = i + 1;
    }

    memset(&a, 0x77, sizeof(a));
    b = a;

    err = ngx_http_fluentai_argon2_parse(&a, (const char *const *) w, n,
                                         lens);
    ref = fuzz_ref_parse(w, lens, n, want);

    if ((err == NULL) != (ref == 0)) {
        fprintf(stderr, "argon2_parse: %s, reference: %d\n",
                err ? err : "OK", ref);
        FUZZ_CHECK((err == NULL) == (ref == 0));
    }

    if (err == NULL) {
        FUZZ_CHECK(a.m == want[0] && a.t == want[1] && a.p == want[2]);

    } else {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }

    if (!nul) {
        memset(&b, 0x77, sizeof(b));

        err2 = ngx_http_fluentai_argon2_parse(&b, (const char *const *) z, n,
                                              NULL);

        FUZZ_CHECK((err == NULL) == (err2 == NULL));
        FUZZ_CHECK(err == NULL || strcmp(err, err2) == 0);
        FUZZ_CHECK(err != NULL || memcmp(&a, &b, sizeof(a)) == 0);
    }

    for (i = 0; i < n; i++) {
        free(w[i]);
        free(z[i]);
    }

    return 0;
}
