
/*
 * Password hashing: argon2id (libargon2) PHC strings, legacy bcrypt
 * verification through crypt_r (libcrypt).  Pure C, thread-safe; never
 * logs, never keeps a copy of a password.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ngx_http_fluentai_password.h"


#define NGX_HTTP_FLUENTAI_TAG_LEN        32
#define NGX_HTTP_FLUENTAI_SALT_B64       22     /* unpadded base64 of 16 */
#define NGX_HTTP_FLUENTAI_TAG_B64        43     /* unpadded base64 of 32 */

#define NGX_HTTP_FLUENTAI_M_MAX          4194304
#define NGX_HTTP_FLUENTAI_T_MAX          100
#define NGX_HTTP_FLUENTAI_P_MAX          64


static int ngx_http_fluentai_argon2_number(const char *s, size_t len,
    uint32_t *value);
static const char *ngx_http_fluentai_phc_number(const char *s,
    const char *name, uint32_t *value);
static size_t ngx_http_fluentai_b64_span(const char *s);
static int ngx_http_fluentai_bcrypt_verify(const char *encoded,
    const char *password, size_t len);


/* decimal digits only, no sign, no overflow */

static int
ngx_http_fluentai_argon2_number(const char *s, size_t len, uint32_t *value)
{
    size_t    i;
    uint32_t  v, d;

    if (len == 0) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        d = (uint32_t) (s[i] - '0');

        if (v > (UINT32_MAX - d) / 10) {
            return -1;
        }

        v = v * 10 + d;
    }

    *value = v;

    return 0;
}


const char *
ngx_http_fluentai_argon2_parse(ngx_http_fluentai_argon2_t *a,
    const char *const *argv, size_t argc, const size_t *lens)
{
    size_t                       i, len;
    uint32_t                     v, *dst;
    unsigned                     seen, bit;
    const char                  *w;
    ngx_http_fluentai_argon2_t   r;

    if (a == NULL || (argv == NULL && argc != 0)) {
        return "invalid argon2 parameters";
    }

    seen = 0;
    r.m = 0;
    r.t = 0;
    r.p = 0;

    for (i = 0; i < argc; i++) {
        w = argv[i];

        if (w == NULL) {
            return "invalid argon2 parameter";
        }

        len = lens ? lens[i] : strlen(w);

        if (len < 2 || w[1] != '=') {
            return "invalid argon2 parameter, expected m=, t= or p=";
        }

        switch (w[0]) {

        case 'm':
            dst = &r.m;
            bit = 1;
            break;

        case 't':
            dst = &r.t;
            bit = 2;
            break;

        case 'p':
            dst = &r.p;
            bit = 4;
            break;

        default:
            return "invalid argon2 parameter, expected m=, t= or p=";
        }

        if (seen & bit) {
            return "duplicate argon2 parameter";
        }

        if (ngx_http_fluentai_argon2_number(w + 2, len - 2, &v) != 0) {
            return "invalid argon2 parameter value, expected a number";
        }

        seen |= bit;
        *dst = v;
    }

    if (seen != 7) {
        return "argon2 parameters m=, t= and p= are all required";
    }

    if (r.p < 1 || r.p > NGX_HTTP_FLUENTAI_P_MAX) {
        return "argon2 p= must be between 1 and 64";
    }

    if (r.t < 1 || r.t > NGX_HTTP_FLUENTAI_T_MAX) {
        return "argon2 t= must be between 1 and 100";
    }

    if (r.m > NGX_HTTP_FLUENTAI_M_MAX) {
        return "argon2 m= must be at most 4194304 (KiB)";
    }

    if (r.m < 8 * r.p) {
        return "argon2 m= must be at least 8 * p";
    }

    *a = r;

    return NULL;
}


int
ngx_http_fluentai_password_hash(const ngx_http_fluentai_argon2_t *a,
    const char *password, size_t len, char *out, size_t out_cap)
{
    int            rc;
    unsigned char  salt[NGX_HTTP_FLUENTAI_SALT_LEN];

    if (RAND_bytes(salt, sizeof(salt)) != 1) {
        return -1;
    }

    rc = ngx_http_fluentai_password_hash_salted(a, password, len, salt, out,
                                                out_cap);

    OPENSSL_cleanse(salt, sizeof(salt));

    return rc;
}


int
ngx_http_fluentai_password_hash_salted(const ngx_http_fluentai_argon2_t *a,
    const char *password, size_t len, const unsigned char *salt, char *out,
    size_t out_cap)
{
    int      rc;
    size_t   need;

    if (a == NULL || out == NULL || out_cap == 0 || salt == NULL
        || (password == NULL && len != 0) || len > UINT32_MAX)
    {
        return -1;
    }

    out[0] = '\0';

    need = argon2_encodedlen(a->t, a->m, a->p, NGX_HTTP_FLUENTAI_SALT_LEN,
                             NGX_HTTP_FLUENTAI_TAG_LEN, Argon2_id);

    if (need == 0 || need > out_cap) {
        return -1;
    }

    rc = argon2id_hash_encoded(a->t, a->m, a->p, password, len,
                               salt, NGX_HTTP_FLUENTAI_SALT_LEN,
                               NGX_HTTP_FLUENTAI_TAG_LEN, out, need);

    if (rc != ARGON2_OK) {
        OPENSSL_cleanse(out, out_cap);
        out[0] = '\0';
        return -1;
    }

    return 0;
}


int
ngx_http_fluentai_password_verify(const char *encoded, const char *password,
    size_t len)
{
    int           rc;
    argon2_type   type;

    if (encoded == NULL || (password == NULL && len != 0)
        || len > UINT32_MAX)
    {
        return -1;
    }

    if (strncmp(encoded, "$argon2id$", 10) == 0) {
        type = Argon2_id;

    } else if (strncmp(encoded, "$argon2i$", 9) == 0) {
        type = Argon2_i;

    } else if (strncmp(encoded, "$argon2d$", 9) == 0) {
        type = Argon2_d;

    } else if (strncmp(encoded, "$2a$", 4) == 0
               || strncmp(encoded, "$2b$", 4) == 0
               || strncmp(encoded, "$2y$", 4) == 0)
    {
        return ngx_http_fluentai_bcrypt_verify(encoded, password, len);

    } else {
        return -1;
    }

    if (type == Argon2_id) {
        rc = argon2id_verify(encoded, password, len);

    } else {
        rc = argon2_verify(encoded, password, len, type);
    }

    if (rc == ARGON2_OK) {
        return 1;
    }

    if (rc == ARGON2_VERIFY_MISMATCH) {
        return 0;
    }

    return -1;
}


static int
ngx_http_fluentai_bcrypt_verify(const char *encoded, const char *password,
    size_t len)
{
    int                 rc;
    char               *buf;
    size_t              elen, rlen;
    const char         *res;
    struct crypt_data  *data;

    /* bcrypt cannot take a NUL: no such password can match */

    if (len && memchr(password, '\0', len) != NULL) {
        return 0;
    }

    buf = malloc(len + 1);
    if (buf == NULL) {
        return -1;
    }

    data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) {
        free(buf);
        return -1;
    }

    if (len) {
        memcpy(buf, password, len);
    }

    buf[len] = '\0';

    res = crypt_r(buf, encoded, data);

    if (res == NULL || res[0] == '*') {
        rc = -1;

    } else {
        elen = strlen(encoded);
        rlen = strlen(res);

        if (elen != rlen) {
            /* the same setting always gives the same length */
            rc = -1;

        } else {
            rc = CRYPTO_memcmp(res, encoded, elen) == 0 ? 1 : 0;
        }
    }

    OPENSSL_cleanse(buf, len + 1);
    OPENSSL_cleanse(data, sizeof(struct crypt_data));
    free(buf);
    free(data);

    return rc;
}


/*
 * Parses "<name>=<decimal>" at s, the number without a sign or leading
 * zeros; returns the character after it, or NULL.
 */

static const char *
ngx_http_fluentai_phc_number(const char *s, const char *name,
    uint32_t *value)
{
    size_t  n, i;

    n = strlen(name);

    if (strncmp(s, name, n) != 0 || s[n] != '=') {
        return NULL;
    }

    s += n + 1;

    for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) { /* void */ }

    if (i == 0 || (i > 1 && s[0] == '0')) {
        return NULL;
    }

    if (ngx_http_fluentai_argon2_number(s, i, value) != 0) {
        return NULL;
    }

    return s + i;
}


/* length of the unpadded standard base64 run at s */

static size_t
ngx_http_fluentai_b64_span(const char *s)
{
    size_t  n;
    char    c;

    for (n = 0; /* void */; n++) {
        c = s[n];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '+' || c == '/'))
        {
            return n;
        }
    }
}


/*
 * 0 only for what password_hash writes now with the parameters a:
 * "$argon2id$v=19$m=<m>,t=<t>,p=<p>$<22 b64 salt>$<43 b64 tag>".
 */

int
ngx_http_fluentai_password_needs_rehash(const ngx_http_fluentai_argon2_t *a,
    const char *encoded)
{
    size_t       n;
    uint32_t     v, m, t, p;
    const char  *s;

    if (a == NULL || encoded == NULL
        || strncmp(encoded, "$argon2id$", 10) != 0)
    {
        return 1;
    }

    s = ngx_http_fluentai_phc_number(encoded + 10, "v", &v);
    if (s == NULL || v != ARGON2_VERSION_13 || *s++ != '$') {
        return 1;
    }

    s = ngx_http_fluentai_phc_number(s, "m", &m);
    if (s == NULL || *s++ != ',') {
        return 1;
    }

    s = ngx_http_fluentai_phc_number(s, "t", &t);
    if (s == NULL || *s++ != ',') {
        return 1;
    }

    s = ngx_http_fluentai_phc_number(s, "p", &p);
    if (s == NULL || *s++ != '$') {
        return 1;
    }

    if (m != a->m || t != a->t || p != a->p) {
        return 1;
    }

    n = ngx_http_fluentai_b64_span(s);
    if (n != NGX_HTTP_FLUENTAI_SALT_B64 || s[n] != '$') {
        return 1;
    }

    s += n + 1;

    n = ngx_http_fluentai_b64_span(s);
    if (n != NGX_HTTP_FLUENTAI_TAG_B64 || s[n] != '\0') {
        return 1;
    }

    return 0;
}
