
/*
 * Opaque refresh tokens: 256 random bits, base64url, 43 characters.
 * Only their SHA-256 is stored in the database.  Pure C (OpenSSL).
 */

#ifndef _NGX_HTTP_FLUENTAI_TOKEN_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_TOKEN_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


#define NGX_HTTP_FLUENTAI_REFRESH_LEN    43     /* base64url of 32 bytes */
#define NGX_HTTP_FLUENTAI_HASH_LEN       32     /* SHA-256 */


/*
 * Generates a new token: out gets 43 characters plus a NUL (cap >= 44),
 * hash gets SHA-256 of those 43 characters.  Returns 0, or -1 if
 * RAND_bytes failed.
 */
int ngx_http_fluentai_refresh_token_new(u_char *out, size_t out_cap,
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN]);

/*
 * The successor of a refresh token at rotation: base64url of
 * HMAC-SHA256(key, parent's 43 characters), 43 characters plus a NUL in
 * out (cap >= 44), and its SHA-256 in hash.  Deterministic, so that a
 * retry of the parent within the reuse interval gets the same successor;
 * without the key it is as unpredictable as a random token.  0 or -1.
 */
int ngx_http_fluentai_refresh_token_successor(const u_char *key,
    size_t key_len, const u_char *parent, size_t parent_len, u_char *out,
    size_t out_cap, u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN]);

/*
 * Checks a client-supplied token (exactly 43 base64url characters, the
 * last one a valid final character for 32 bytes) and computes its hash.
 * Returns 0, or -1 when the token cannot be one we issued.
 */
int ngx_http_fluentai_refresh_token_decode(const u_char *token, size_t len,
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN]);


#endif /* _NGX_HTTP_FLUENTAI_TOKEN_H_INCLUDED_ */
