
/*
 * Password hashing: argon2id (libargon2) PHC strings, legacy bcrypt
 * ($2a$/$2b$/$2y$) verification through crypt_r (libcrypt).  Pure C,
 * thread-safe: these functions run on nginx thread pool threads, never on
 * the event loop.  They never log and never keep a copy of a password.
 */

#ifndef _NGX_HTTP_FLUENTAI_PASSWORD_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_PASSWORD_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_HTTP_FLUENTAI_SALT_LEN       16     /* argon2id salt */
#define NGX_HTTP_FLUENTAI_HASH_MAX       256    /* encoded hash buffer */


typedef struct {
    uint32_t   m;          /* memory, KiB */
    uint32_t   t;          /* iterations */
    uint32_t   p;          /* lanes */
} ngx_http_fluentai_argon2_t;


/*
 * Parses "m=19456 t=2 p=1" style values (each of m=, t=, p= once, any
 * order, among argc words); checks argon2's limits (m >= 8 * p, m <=
 * 4194304, 1 <= t <= 100, 1 <= p <= 64).  Returns NULL on success or a
 * static error message.
 */
const char *ngx_http_fluentai_argon2_parse(ngx_http_fluentai_argon2_t *a,
    const char *const *argv, size_t argc, const size_t *lens);

/*
 * argon2id hash with a 16-byte RAND_bytes salt and a 32-byte tag into
 * out (NUL-terminated PHC string).  Returns 0 or -1.
 */
int ngx_http_fluentai_password_hash(const ngx_http_fluentai_argon2_t *a,
    const char *password, size_t len, char *out, size_t out_cap);

/*
 * The same with a given 16-byte salt: for pool threads, whose salt is drawn
 * on the event loop (OpenSSL keeps a random generator per thread that
 * calls RAND_bytes, and nginx's pool threads exit without OpenSSL's thread
 * clean-up running).
 */
int ngx_http_fluentai_password_hash_salted(
    const ngx_http_fluentai_argon2_t *a, const char *password, size_t len,
    const unsigned char *salt, char *out, size_t out_cap);

/*
 * Verifies password against encoded: "$argon2id$..." via argon2id_verify
 * ("$argon2i$"/"$argon2d$" via argon2_verify), "$2a$"/"$2b$"/"$2y$" via
 * crypt_r with a constant-time comparison (a password holding a NUL never
 * matches a bcrypt hash).  Returns 1 on match, 0 on mismatch, -1 on an
 * unusable hash.
 */
int ngx_http_fluentai_password_verify(const char *encoded,
    const char *password, size_t len);

/*
 * 1 if encoded is not an argon2id hash with exactly the parameters a
 * (bcrypt, other argon2 variants, versions or parameters, a salt or tag
 * length other than 16 and 32 bytes), else 0.
 */
int ngx_http_fluentai_password_needs_rehash(
    const ngx_http_fluentai_argon2_t *a, const char *encoded);


#endif /* _NGX_HTTP_FLUENTAI_PASSWORD_H_INCLUDED_ */
