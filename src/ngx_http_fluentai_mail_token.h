
/*
 * One-time email tokens (password reset, email verification): 256 bits,
 * base64url, 43 characters, like refresh tokens; the database stores the
 * SHA-256 of the token only.  The mail outbox stores a random seed, and
 * the token is HMAC-SHA256(key, seed) with a key derived from the JWT
 * secret: the database alone (a dump, a replica) never holds a usable
 * token or link.  Pure C (OpenSSL).
 */

#ifndef _NGX_HTTP_FLUENTAI_MAIL_TOKEN_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_MAIL_TOKEN_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>

#include "ngx_http_fluentai_token.h"


#define NGX_HTTP_FLUENTAI_MAIL_KEY_LEN    32
#define NGX_HTTP_FLUENTAI_MAIL_SEED_LEN   32


/* the HMAC key for mail tokens from the JWT secret; 0 or -1 */
int ngx_http_fluentai_mail_token_key(const u_char *secret, size_t len,
    u_char key[NGX_HTTP_FLUENTAI_MAIL_KEY_LEN]);

/*
 * token (43 characters + NUL) and its hash from seed; with random_seed
 * set, seed is filled with random bytes first.  0 or -1.
 */
int ngx_http_fluentai_mail_token(const u_char *key, u_char *seed,
    int random_seed, u_char token[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1],
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN]);


#endif /* _NGX_HTTP_FLUENTAI_MAIL_TOKEN_H_INCLUDED_ */
