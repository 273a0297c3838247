
/*
 * HS256 JSON Web Tokens: signing and strict verification.
 * Pure C (OpenSSL + jansson): builds without nginx, for unit tests and
 * fuzzing.  Thread-safe: the only state is per-thread caches (a keyed HMAC
 * context, the last accepted header).
 */

#ifndef _NGX_HTTP_FLUENTAI_JWT_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define NGX_HTTP_FLUENTAI_JWT_MAX_LEN    2048   /* longer tokens: invalid */
#define NGX_HTTP_FLUENTAI_JWT_LEEWAY     30     /* s, for exp, iat, nbf */
#define NGX_HTTP_FLUENTAI_UUID_LEN       36

#define NGX_HTTP_FLUENTAI_JWT_OK         0
#define NGX_HTTP_FLUENTAI_JWT_INVALID    1      /* malformed, bad sig/alg */
#define NGX_HTTP_FLUENTAI_JWT_EXPIRED    2      /* valid, but past exp */


typedef struct {
    char       sub[NGX_HTTP_FLUENTAI_UUID_LEN + 1];   /* user id */
    char       sid[NGX_HTTP_FLUENTAI_UUID_LEN + 1];   /* session id */
    char       jti[64];
    int64_t    iat;
    int64_t    exp;
} ngx_http_fluentai_jwt_claims_t;


/*
 * Computes base64url(HMAC-SHA256(key, input)) into out (>= 44 bytes):
 * 43 characters plus a NUL; returns 43, or -1 (also for an empty key).
 */
int ngx_http_fluentai_jwt_hs256(const u_char *key, size_t key_len,
    const u_char *input, size_t input_len, u_char *out, size_t out_cap);

/*
 * Signs an access token: header {"alg":"HS256","typ":"JWT","kid":kid},
 * claims sub, sid, type "access", iat, exp, jti (from c; if c->jti is
 * empty a random 128-bit jti is generated with RAND_bytes).
 * Writes a NUL-terminated token into out; returns its length or -1.
 */
int ngx_http_fluentai_jwt_sign(const u_char *key, size_t key_len,
    const char *kid, ngx_http_fluentai_jwt_claims_t *c, char *out,
    size_t out_cap);

/*
 * Verifies a token of len bytes (not NUL-terminated): three base64url
 * parts, header alg exactly "HS256" (any other alg, "none" included, is
 * INVALID), typ "JWT" if present, kid if present a string, and equal to
 * kid unless kid is NULL (a token without kid is checked against the one
 * key), signature compared with CRYPTO_memcmp, payload type "access", sub
 * and sid canonical lower-case UUID strings, iat and exp integers, nbf an
 * integer if present, jti a string of 1..63 bytes; an iat or nbf more than
 * leeway in the future is INVALID; exp + leeway < now gives EXPIRED (a
 * negative leeway counts as 0).  Oversized, non-base64url, non-JSON input
 * gives INVALID.  Fills *c on OK and on EXPIRED (zeroes it otherwise); c
 * may be NULL.
 */
int ngx_http_fluentai_jwt_verify(const u_char *key, size_t key_len,
    const char *kid, const u_char *token, size_t len, int64_t now,
    int leeway, ngx_http_fluentai_jwt_claims_t *c);

/*
 * Parses an Authorization header value: "Bearer" (case-insensitive),
 * one or more spaces, an RFC 6750 b64token (letters, digits, "-._~+/",
 * then any "="; verification rejects what a JWT cannot contain), optional
 * trailing spaces or tabs; leading spaces or tabs are skipped.  Sets
 * *token and *token_len to the token inside value.
 * Returns 0 on success, -1 if the value is not a bearer credential.
 */
int ngx_http_fluentai_bearer_parse(const u_char *value, size_t len,
    const u_char **token, size_t *token_len);

/*
 * base64url without padding, shared with the refresh tokens: encode
 * writes 4 * len / 3 rounded up bytes (no NUL) and returns that count;
 * value gives a character's 6 bits, or -1.
 */
size_t ngx_http_fluentai_b64url_encode(const u_char *src, size_t len,
    u_char *dst);
int ngx_http_fluentai_b64url_value(u_char ch);

/* 1 if s[0..len) is a canonical lower-case UUID (8-4-4-4-12 hex) */
int ngx_http_fluentai_uuid_valid(const u_char *s, size_t len);

/*
 * jwt_claims.c, for verify: a decoded header is an object with alg
 * "HS256", typ "JWT" if present, kid a string (equal to kid unless NULL)
 * if present, no crit (0, else -1); a decoded payload's claims into *c
 * (zeroed first) and nbf into *nbf (INT64_MIN if absent): 0, or -1 if it
 * is not an object with the claims verify documents.
 */
int ngx_http_fluentai_jwt_header_ok(const u_char *json, size_t len,
    const char *kid);
int ngx_http_fluentai_jwt_payload(const u_char *json, size_t len,
    ngx_http_fluentai_jwt_claims_t *c, int64_t *nbf);

/*
 * jwt_payload's two ways, callable separately for the differential fuzz
 * target (fuzz/fuzz_jwt_fast.c).  jwt_payload_fast reads only jwt_sign's
 * own layout (0, or -1 for any other text: *c then means nothing);
 * jwt_payload_jansson is the general parser.  jwt_payload() is the fast
 * one, else the jansson one.
 */
int ngx_http_fluentai_jwt_payload_fast(const u_char *json, size_t len,
    ngx_http_fluentai_jwt_claims_t *c);
int ngx_http_fluentai_jwt_payload_jansson(const u_char *json, size_t len,
    ngx_http_fluentai_jwt_claims_t *c, int64_t *nbf);


#endif /* _NGX_HTTP_FLUENTAI_JWT_H_INCLUDED_ */
