
/*
 * One-time email tokens.  See ngx_http_fluentai_mail_token.h.
 */


#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ngx_http_fluentai_jwt.h"
#include "ngx_http_fluentai_mail_token.h"


#define NGX_HTTP_FLUENTAI_MAIL_KEY_LABEL  "fluentai mail token v1"


int
ngx_http_fluentai_mail_token_key(const u_char *secret, size_t len,
    u_char key[NGX_HTTP_FLUENTAI_MAIL_KEY_LEN])
{
    unsigned int  n;

    n = 0;

    if (HMAC(EVP_sha256(), secret, (int) len,
             (const u_char *) NGX_HTTP_FLUENTAI_MAIL_KEY_LABEL,
             sizeof(NGX_HTTP_FLUENTAI_MAIL_KEY_LABEL) - 1, key, &n)
        == NULL || n != NGX_HTTP_FLUENTAI_MAIL_KEY_LEN)
    {
        return -1;
    }

    return 0;
}


int
ngx_http_fluentai_mail_token(const u_char *key, u_char *seed,
    int random_seed, u_char token[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1],
    u_char hash[NGX_HTTP_FLUENTAI_HASH_LEN])
{
    u_char        mac[EVP_MAX_MD_SIZE];
    unsigned int  n;

    if (random_seed
        && RAND_bytes(seed, NGX_HTTP_FLUENTAI_MAIL_SEED_LEN) != 1)
    {
        return -1;
    }

    n = 0;

    if (HMAC(EVP_sha256(), key, NGX_HTTP_FLUENTAI_MAIL_KEY_LEN, seed,
             NGX_HTTP_FLUENTAI_MAIL_SEED_LEN, mac, &n)
        == NULL || n != 32)
    {
        return -1;
    }

    (void) ngx_http_fluentai_b64url_encode(mac, 32, token);
    token[NGX_HTTP_FLUENTAI_REFRESH_LEN] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));

    /* the hash of what the client will present, as for refresh tokens */

    return ngx_http_fluentai_refresh_token_decode(token,
                                                  NGX_HTTP_FLUENTAI_REFRESH_LEN,
                                                  hash);
}
