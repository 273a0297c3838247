
/*
 * Sessions seen from the client: the bearer access token a request
 * presents, new access and refresh tokens, and the response bodies that
 * carry them and the user.
 */


#include "ngx_http_fluentai.h"



/*
 * Verifies the bearer access token, fills ctx->claims and the variables.
 * Returns NULL or the error code to answer with.
 */

const char *
ngx_http_fluentai_bearer(ngx_http_request_t *r, ngx_http_fluentai_ctx_t *ctx)
{
    int              rc;
    size_t           len;
    const u_char    *token;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL) {
        return "not_authenticated";
    }

    if (ngx_http_fluentai_bearer_parse(h->value.data, h->value.len,
                                       &token, &len)
        != 0)
    {
        return "not_authenticated";
    }

    rc = ngx_http_fluentai_jwt_verify(ctx->mcf->secret.data,
                                      ctx->mcf->secret.len,
                                      (char *) ctx->mcf->kid, token, len,
                                      (int64_t) ngx_time(),
                                      NGX_HTTP_FLUENTAI_JWT_LEEWAY,
                                      &ctx->claims);

    if (rc == NGX_HTTP_FLUENTAI_JWT_INVALID) {
        return "invalid_token";
    }

    ctx->has_bearer = 1;

    if (rc == NGX_HTTP_FLUENTAI_JWT_EXPIRED) {
        return "token_expired";
    }

    ngx_http_fluentai_set_ids(r, ctx, ctx->claims.sub, ctx->claims.sid);

    return NULL;
}


/* NGX_OK: a valid bearer token; NGX_DONE: answered with 401 */

ngx_int_t
ngx_http_fluentai_bearer_or_fail(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    const char  *code;

    code = ngx_http_fluentai_bearer(r, ctx);
    if (code == NULL) {
        return NGX_OK;
    }

    ngx_http_fluentai_fail(r, NGX_HTTP_UNAUTHORIZED, code, NULL);

    return NGX_DONE;
}


/*
 * PUT profile, change password: the bearer (401), then a details array
 * for the body's validation; NULL: answered
 */

json_t *
ngx_http_fluentai_bearer_details_or_fail(ngx_http_request_t *r,
    ngx_http_fluentai_ctx_t *ctx)
{
    if (ngx_http_fluentai_bearer_or_fail(r, ctx) != NGX_OK) {
        return NULL;
    }

    return ngx_http_fluentai_details_or_fail(r);
}


/* a new refresh token for this response: ctx->refresh, ctx->refresh_hash */

ngx_int_t
ngx_http_fluentai_new_refresh_token(ngx_http_request_t *r,
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


/*
 * the user object from columns col..col+5: id, email, name, avatar, bio,
 * is_email_verified (a boolean)
 */

json_t *
ngx_http_fluentai_user_json(PGresult *res, int row, int col)
{
    int          i;
    json_t      *user, *v;
    static char *keys[] = { "id", "email", "name", "avatar", "bio",
                            "is_email_verified" };

    user = json_object();
    if (user == NULL) {
        return NULL;
    }

    for (i = 0; i < 6; i++) {
        if (i == 5) {
            v = json_boolean(PQgetvalue(res, row, col + i)[0] == 't');

        } else if (PQgetisnull(res, row, col + i)) {
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


/*
 * The same user object as JSON text in a buffer of r->pool, byte for
 * byte what json_dumps(user_json(), JSON_COMPACT) gives, without
 * building it: the profile's answer.  NULL: no memory, or a value that
 * is not UTF-8 (user_json gives NULL too).
 */

ngx_buf_t *
ngx_http_fluentai_user_buf(ngx_http_request_t *r, PGresult *res, int row,
    int col)
{
    int          i;
    size_t       len;
    ssize_t      n;
    u_char      *v[5];
    ngx_buf_t   *b;
    ngx_uint_t   verified;

    static ngx_str_t  keys[] = {
        ngx_string("{\"id\":"), ngx_string(",\"email\":"),
        ngx_string(",\"name\":"), ngx_string(",\"avatar\":"),
        ngx_string(",\"bio\":")
    };

    len = sizeof(",\"is_email_verified\":false}") - 1;

    for (i = 0; i < 5; i++) {
        len += keys[i].len;

        if (PQgetisnull(res, row, col + i)) {
            v[i] = NULL;
            len += sizeof("null") - 1;
            continue;
        }

        v[i] = (u_char *) PQgetvalue(res, row, col + i);
        n = ngx_http_fluentai_json_str_len(v[i],
                                           PQgetlength(res, row, col + i));
        if (n < 0) {
            return NULL;
        }

        len += n;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    for (i = 0; i < 5; i++) {
        b->last = ngx_cpymem(b->last, keys[i].data, keys[i].len);

        if (v[i] == NULL) {
            b->last = ngx_cpymem(b->last, "null", sizeof("null") - 1);
            continue;
        }

        b->last = ngx_http_fluentai_json_str(b->last, v[i],
                                             PQgetlength(res, row, col + i));
    }

    verified = (PQgetvalue(res, row, col + 5)[0] == 't');

    b->last = verified
              ? ngx_cpymem(b->last, ",\"is_email_verified\":true}",
                           sizeof(",\"is_email_verified\":true}") - 1)
              : ngx_cpymem(b->last, ",\"is_email_verified\":false}",
                           sizeof(",\"is_email_verified\":false}") - 1);

    return b;
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
