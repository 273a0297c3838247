
/*
 * Sessions seen from the client: the JWT secret, access and refresh
 * tokens, and the response bodies that carry them and the user.
 */


#include "ngx_http_fluentai.h"

#include <openssl/sha.h>


#define NGX_HTTP_FLUENTAI_SECRET_MAX  4096


/*
 * Configuration time: read the HS256 secret (trailing newlines dropped),
 * at least 32 bytes; its kid is the first 8 bytes of its SHA-256 in hex.
 */

char *
ngx_http_fluentai_load_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_http_fluentai_main_conf_t *mcf)
{
    u_char           *buf;
    ssize_t           n;
    ngx_str_t         name;
    ngx_file_t        file;
    ngx_file_info_t   fi;
    u_char            digest[SHA256_DIGEST_LENGTH];

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    buf = NULL;
    n = -1;

    if (ngx_fd_info(file.fd, &fi) != NGX_FILE_ERROR
        && ngx_file_size(&fi) <= NGX_HTTP_FLUENTAI_SECRET_MAX)
    {
        buf = ngx_pnalloc(cf->pool, NGX_HTTP_FLUENTAI_SECRET_MAX);
        if (buf) {
            n = ngx_read_file(&file, buf, NGX_HTTP_FLUENTAI_SECRET_MAX, 0);
        }
    }

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    if (buf == NULL || n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot read the JWT secret from \"%V\" "
                           "(at most %d bytes)", &name,
                           NGX_HTTP_FLUENTAI_SECRET_MAX);
        return NGX_CONF_ERROR;
    }

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }

    if (n < NGX_HTTP_FLUENTAI_SECRET_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the JWT secret in \"%V\" is too short: %z bytes, "
                           "at least %d needed", &name, n,
                           NGX_HTTP_FLUENTAI_SECRET_MIN);
        ngx_explicit_memzero(buf, NGX_HTTP_FLUENTAI_SECRET_MAX);
        return NGX_CONF_ERROR;
    }

    mcf->secret.data = buf;
    mcf->secret.len = n;

    SHA256(buf, n, digest);
    ngx_hex_dump(mcf->kid, digest, 8);
    mcf->kid[16] = '\0';

    return NGX_CONF_OK;
}


/* a new refresh token for this response: ctx->refresh, ctx->refresh_hash */

ngx_int_t
ngx_http_fluentai_issue_tokens(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    if (ngx_http_fluentai_refresh_token_new(ctx->refresh,
                                            sizeof(ctx->refresh),
                                            ctx->refresh_hash)
        != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fluentai: RAND_bytes failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * {"access_token", "refresh_token", "token_type", "expires_in"} for the
 * session; the access token is signed here.
 */

json_t *
ngx_http_fluentai_token_body(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *user_id,
    const char *session_id)
{
    ngx_http_fluentai_jwt_claims_t   claims;
    char                             jwt[NGX_HTTP_FLUENTAI_JWT_MAX_LEN];

    ngx_memzero(&claims, sizeof(ngx_http_fluentai_jwt_claims_t));

    if (ngx_strlen(user_id) > NGX_HTTP_FLUENTAI_UUID_LEN
        || ngx_strlen(session_id) > NGX_HTTP_FLUENTAI_UUID_LEN)
    {
        return NULL;
    }

    ngx_cpystrn((u_char *) claims.sub, (u_char *) user_id,
                sizeof(claims.sub));
    ngx_cpystrn((u_char *) claims.sid, (u_char *) session_id,
                sizeof(claims.sid));

    claims.iat = ngx_time();
    claims.exp = claims.iat + ctx->mcf->access_ttl;

    /* never past the session's absolute end (fluentai_session_max_lifetime) */

    if (ctx->session_end > 0 && claims.exp > ctx->session_end) {
        claims.exp = ctx->session_end;
    }

    if (ngx_http_fluentai_jwt_sign(ctx->mcf->secret.data,
                                   ctx->mcf->secret.len,
                                   (char *) ctx->mcf->kid, &claims,
                                   jwt, sizeof(jwt))
        < 0)
    {
        return NULL;
    }

    ngx_http_fluentai_set_ids(r, ctx, user_id, session_id);

    return json_pack("{s:s, s:s, s:s, s:I}",
                     "access_token", jwt,
                     "refresh_token", (char *) ctx->refresh,
                     "token_type", "bearer",
                     "expires_in", (json_int_t) ctx->mcf->access_ttl);
}


/* the user object from columns col..col+4: id, email, name, avatar, bio */

json_t *
ngx_http_fluentai_user_json(PGresult *res, int row, int col)
{
    int          i;
    json_t      *user, *v;
    static char *keys[] = { "id", "email", "name", "avatar", "bio" };

    user = json_object();
    if (user == NULL) {
        return NULL;
    }

    for (i = 0; i < 5; i++) {
        if (PQgetisnull(res, row, col + i)) {
            v = json_null();

        } else {
            v = json_stringn(PQgetvalue(res, row, col + i),
                             PQgetlength(res, row, col + i));
        }

        if (v == NULL || json_object_set_new(user, keys[i], v) != 0) {
            json_decref(user);
            return NULL;
        }
    }

    return user;
}


/* $fluentai_user_id and $fluentai_session_id, copied into r->pool */

void
ngx_http_fluentai_set_ids(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx, const char *user_id,
    const char *session_id)
{
    ngx_str_t  *ids[2];
    const char *vals[2];
    ngx_uint_t  i;
    size_t      len;

    ids[0] = &ctx->user_id;
    ids[1] = &ctx->session_id;
    vals[0] = user_id;
    vals[1] = session_id;

    for (i = 0; i < 2; i++) {
        len = ngx_strlen(vals[i]);

        ids[i]->data = ngx_pnalloc(r->pool, len);
        if (ids[i]->data == NULL) {
            ids[i]->len = 0;
            continue;
        }

        ngx_memcpy(ids[i]->data, vals[i], len);
        ids[i]->len = len;
    }
}


/*
 * The end of profile, GET and PUT alike: no row means the session is not
 * active (revoked, expired, user deactivated), else the user.
 */

void
ngx_http_fluentai_user_done(ngx_http_request_t *r, PGresult *res)
{
    ngx_int_t  n;

    n = ngx_http_fluentai_rows(r, res, 0);
    if (n < 0) {
        return;
    }

    if (n == 0) {
        ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, "invalid_token");
        return;
    }

    ngx_http_fluentai_finish(r, NGX_HTTP_OK,
                             ngx_http_fluentai_user_json(res, 0, 0));
}
