
/*
 * libFuzzer target: ngx_http_fluentai_bearer_parse() (Authorization
 * header values) and ngx_http_fluentai_uuid_valid() from
 * src/ngx_http_fluentai_jwt.c.
 *
 * Invariants (abort on violation):
 *   - on success the token lies inside the input, is non-empty and is an
 *     RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
 *     "+" / "/" ) *"=";
 *   - the result and the token equal those of a reference parser of the
 *     header's grammar: [ \t]* "bearer"(any case) " "+ b64token [ \t]*;
 *   - uuid_valid(input) equals a reference check (lower-case 8-4-4-4-12).
 */


#include <ctype.h>

#include "fuzz_common.h"
#include "ngx_http_fluentai_jwt.h"


static int
fuzz_token_char(u_char c)
{
    return ngx_http_fluentai_b64url_value(c) >= 0
           || c == '.' || c == '~' || c == '+'
           || c == '/';
}


/* 1*token_char *"=" */

static int
fuzz_b64token(const u_char *t, size_t n)
{
    size_t  i;

    for (i = 0; i < n && fuzz_token_char(t[i]); i++) { /* void */ }

    if (i == 0) {
        return 0;
    }

    while (i < n && t[i] == '=') {
        i++;
    }

    return i == n;
}


/* the grammar, matched right to left after the scheme */

static int
fuzz_ref_bearer(const u_char *v, size_t len, size_t *start, size_t *n)
{
    size_t  i, j, e;

    i = 0;

    while (i < len && (v[i] == ' ' || v[i] == '\t')) {
        i++;
    }

    if (len - i < 7) {
        return -1;
    }

    for (j = 0; j < 6; j++) {
        if (tolower(v[i + j]) != "bearer"[j] || v[i + j] >= 0x80) {
            return -1;
        }
    }

    i += 6;

    if (v[i] != ' ') {
        return -1;
    }

    while (i < len && v[i] == ' ') {
        i++;
    }

    e = len;

    while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
        e--;
    }

    if (!fuzz_b64token(v + i, e - i)) {
        return -1;
    }

    *start = i;
    *n = e - i;

    return 0;
}


static int
fuzz_ref_uuid(const u_char *s, size_t len)
{
    size_t  i;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (!isdigit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) {
            return 0;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc, ref;
    size_t         n, rs, rn;
    const u_char  *tok;

    tok = NULL;
    n = 0;

    rc = ngx_http_fluentai_bearer_parse(data, size, &tok, &n);
    ref = fuzz_ref_bearer(data, size, &rs, &rn);

    FUZZ_CHECK(rc == 0 || rc == -1);

    if (rc != ref) {
        fprintf(stderr, "bearer_parse: %d, reference: %d\n", rc, ref);
        FUZZ_CHECK(rc == ref);
    }

    if (rc == 0) {
        FUZZ_CHECK(tok != NULL && n > 0);
        FUZZ_CHECK(tok >= data && tok + n <= data + size);
        FUZZ_CHECK(fuzz_b64token(tok, n));

        FUZZ_CHECK(tok == data + rs && n == rn);
    }

    FUZZ_CHECK(ngx_http_fluentai_uuid_valid(data, size)
               == fuzz_ref_uuid(data, size));

    return 0;
}
