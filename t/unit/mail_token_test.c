
/*
 * Unit tests for ngx_http_fluentai_mail_token.c: one-time email tokens
 * derived from an outbox seed.  Prints TAP.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_http_fluentai_mail_token.h"
#include "unit.h"


int
main(void)
{
    u_char  key[NGX_HTTP_FLUENTAI_MAIL_KEY_LEN];
    u_char  key2[NGX_HTTP_FLUENTAI_MAIL_KEY_LEN];
    u_char  seed[NGX_HTTP_FLUENTAI_MAIL_SEED_LEN];
    u_char  seed2[NGX_HTTP_FLUENTAI_MAIL_SEED_LEN];
    u_char  t1[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1];
    u_char  t2[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1];
    u_char  h1[NGX_HTTP_FLUENTAI_HASH_LEN], h2[NGX_HTTP_FLUENTAI_HASH_LEN];
    u_char  h3[NGX_HTTP_FLUENTAI_HASH_LEN];

    ngx_http_fluentai_ok(ngx_http_fluentai_mail_token_key(
        (u_char *) "0123456789abcdef0123456789abcdef", 32, key) == 0,
        "key derived");
    ngx_http_fluentai_ok(ngx_http_fluentai_mail_token_key(
        (u_char *) "0123456789abcdef0123456789abcdeX", 32, key2) == 0
        && memcmp(key, key2, sizeof(key)) != 0,
        "another secret, another key");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_mail_token(key, seed, 1, t1, h1) == 0
        && strlen((char *) t1) == NGX_HTTP_FLUENTAI_REFRESH_LEN,
        "new token: 43 characters");

    memcpy(seed2, seed, sizeof(seed));
    ngx_http_fluentai_ok(
        ngx_http_fluentai_mail_token(key, seed2, 0, t2, h2) == 0
        && strcmp((char *) t1, (char *) t2) == 0
        && memcmp(h1, h2, sizeof(h1)) == 0,
        "the same seed gives the same token and hash");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_refresh_token_decode(t1,
                                               NGX_HTTP_FLUENTAI_REFRESH_LEN,
                                               h3) == 0
        && memcmp(h1, h3, sizeof(h1)) == 0,
        "the hash is the one of the presented token");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_mail_token(key2, seed2, 0, t2, h2) == 0
        && strcmp((char *) t1, (char *) t2) != 0,
        "another key, another token");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_mail_token(key, seed2, 1, t2, h2) == 0
        && memcmp(seed, seed2, sizeof(seed)) != 0
        && strcmp((char *) t1, (char *) t2) != 0,
        "a random seed each time");

    return ngx_http_fluentai_test_done();
}
