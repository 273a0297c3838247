
/*
 * Shared helpers for the libFuzzer targets in fuzz/.  Header-only: each
 * target is one translation unit plus the pure-C sources it fuzzes.
 */

#ifndef _FUZZ_COMMON_H_INCLUDED_
#define _FUZZ_COMMON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>


/* an invariant of the code under test: report it and crash */

#define FUZZ_CHECK(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: invariant violated: %s\n",               \
                    __FILE__, __LINE__, #cond);                              \
            abort();                                                         \
        }                                                                    \
    } while (0)


/* the JWT test secret: 48 fixed bytes, like t/data/jwt.key */

static const u_char  fuzz_jwt_key[48] __attribute__((unused)) = {
    0x79, 0x6d, 0xff, 0x37, 0xa4, 0xd4, 0xaa, 0x97,
    0xe4, 0xca, 0xe6, 0x5a, 0xbe, 0x20, 0x04, 0xe8,
    0x8a, 0x06, 0x65, 0xc8, 0xfb, 0x9f, 0x91, 0xd7,
    0x5f, 0x51, 0xc9, 0xb4, 0xa2, 0xa1, 0x5b, 0x57,
    0x19, 0x7c, 0x7a, 0x32, 0xef, 0xa6, 0xec, 0x16,
    0xad, 0x08, 0x8a, 0xf6, 0x26, 0xc9, 0x4f, 0x3f
};

#define FUZZ_JWT_NOW     1700000000
#define FUZZ_JWT_LEEWAY  30


/*
 * base64url: the targets use the module's own (ngx_http_fluentai_b64url_*
 * in src/ngx_http_fluentai_jwt.c), linked into each target that needs it.
 */


/* an exact-size heap copy, so ASan sees any read past the end */

static inline u_char *
fuzz_dup(const uint8_t *data, size_t size)
{
    u_char  *p;

    p = malloc(size ? size : 1);
    FUZZ_CHECK(p != NULL);

    if (size) {
        memcpy(p, data, size);
    }

    return p;
}


#endif /* _FUZZ_COMMON_H_INCLUDED_ */
