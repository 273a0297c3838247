
/*
 * Opaque refresh tokens: 256 random bits, base64url, 43 characters.
 * Only their SHA-256 is stored in the database.  Pure C (OpenSSL); the
 * base64url code is the JWT's.
 */


#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ngx_http_fluentai_jwt.h"
#include "ngx_http_fluentai_token.h"


#define NGX_HTTP_FLUENTAI_REFRESH_BYTES  32


static int ngx_http_fluentai_token_sha256(const u_char *data, size_t len,
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN]);


int
ngx_http_fluentai_refresh_token_new(u_char *out, size_t out_cap,
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN])
{
    u_char  rnd[NGX_HTTP_FLUENTAI_REFRESH_BYTES];

    if (out == NULL || hash == NULL
        || out_cap < NGX_HTTP_FLUENTAI_REFRESH_LEN + 1)
    {
        return -1;
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return -1;
    }

    (void) ngx_http_fluentai_b64url_encode(rnd, sizeof(rnd), out);
    out[NGX_HTTP_FLUENTAI_REFRESH_LEN] = '\0';

    OPENSSL_cleanse(rnd, sizeof(rnd));

    if (ngx_http_fluentai_token_sha256(out, NGX_HTTP_FLUENTAI_REFRESH_LEN,
                                       hash)
        != 0)
    {
        OPENSSL_cleanse(out, NGX_HTTP_FLUENTAI_REFRESH_LEN);
        out[0] = '\0';
        return -1;
    }

    return 0;
}


int
ngx_http_fluentai_refresh_token_successor(const u_char *key, size_t key_len,
    const u_char *parent, size_t parent_len, u_char *out, size_t out_cap,
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN])
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  md_len;

    if (key == NULL || parent == NULL || out == NULL || hash == NULL
        || out_cap < NGX_HTTP_FLUENTAI_REFRESH_LEN + 1)
    {
        return -1;
    }

    md_len = 0;

    if (HMAC(EVP_sha256(), key, (int) key_len, parent, parent_len, md,
             &md_len)
        == NULL
        || md_len != NGX_HTTP_FLUENTAI_REFRESH_BYTES)
    {
        return -1;
    }

    (void) ngx_http_fluentai_b64url_encode(md, NGX_HTTP_FLUENTAI_REFRESH_BYTES,
                                           out);
    out[NGX_HTTP_FLUENTAI_REFRESH_LEN] = '\0';

    OPENSSL_cleanse(md, sizeof(md));

    return ngx_http_fluentai_token_sha256(out, NGX_HTTP_FLUENTAI_REFRESH_LEN,
                                          hash);
}


int
ngx_http_fluentai_refresh_token_decode(const u_char *token, size_t len,
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN])
{
    int     v;
    size_t  i;

    if (token == NULL || hash == NULL || len != NGX_HTTP_FLUENTAI_REFRESH_LEN)
    {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        v = ngx_http_fluentai_b64url_value(token[i]);
        if (v < 0) {
            return -1;
        }
    }

    /*
     * 43 characters carry 258 bits for 256: the last one encodes 4 bits
     * of data and 2 zero bits, so only every fourth character fits there
     */

    if (v & 0x03) {
        return -1;
    }

    return ngx_http_fluentai_token_sha256(token, len, hash);
}


static int
ngx_http_fluentai_token_sha256(const u_char *data, size_t len,
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN])
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  md_len;

    md_len = 0;

    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1
        || md_len != NGX_HTTP_FLUENTAI_HASH_LEN)
    {
        return -1;
    }

    memcpy(hash, md, NGX_HTTP_FLUENTAI_HASH_LEN);

    return 0;
}
