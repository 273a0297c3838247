
/*
 * The HTTP face of every endpoint: methods, request body, JSON parsing,
 * JSON responses and the one error shape, variables.
 */


#include "ngx_http_fluentai.h"


typedef struct {
    const char                 *code;
    const char                 *message;
} ngx_http_fluentai_message_t;


static void ngx_http_fluentai_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fluentai_body_read(ngx_http_request_t *r,
    ngx_str_t *out);
static ngx_int_t ngx_http_fluentai_json_type(ngx_http_request_t *r);
static void ngx_http_fluentai_ctx_cleanup(void *data);
static ngx_uint_t ngx_http_fluentai_refuse(ngx_http_request_t *r,
    ngx_http_fluentai_loc_conf_t *lcf, const char **code);
static ngx_int_t ngx_http_fluentai_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, json_t *details);
static ngx_int_t ngx_http_fluentai_send_json(ngx_http_request_t *r,
    ngx_uint_t status, json_t *obj);
static ngx_int_t ngx_http_fluentai_send_buf(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);
static ngx_int_t ngx_http_fluentai_challenge(ngx_http_request_t *r,
    const char *code);
static const char *ngx_http_fluentai_category(ngx_uint_t status);
static ngx_int_t ngx_http_fluentai_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_fluentai_message_t  ngx_http_fluentai_messages[] = {
    { "invalid_json", "Request body must be a JSON object" },
    { "not_authenticated", "Not authenticated" },
    { "invalid_token", "Invalid or revoked token" },
    { "token_expired", "Token has expired" },
    { "invalid_credentials", "Incorrect email or password" },
    { "invalid_refresh_token", "Invalid or expired refresh token" },
    { "refresh_token_reused",
      "Refresh token was already used; the session has been revoked" },
    { "current_password_incorrect", "Current password is incorrect" },
    { "invalid_reset_token", "Invalid or expired reset token" },
    { "invalid_verification_token",
      "Invalid or expired verification token" },
    { "email_not_verified", "Email address is not verified" },
    { "method_not_allowed", "Method not allowed" },
    { "email_exists", "A user with this email already exists" },
    { "payload_too_large", "Request body is too large" },
    { "unsupported_media_type", "Content-Type must be application/json" },
    { "validation_failed", "Input validation failed" },
    { "same_password",
      "The new password must differ from the current one" },
    { "password_too_common",
      "This password is too common or too weak, choose another one" },
    { "rate_limited", "Too many requests" },
    { "too_many_attempts",
      "Too many failed attempts for this account, try again later" },
    { "database_unavailable", "Database is unavailable" },
    { "overloaded", "Server is overloaded, try again later" },
    { "not_found", "Not found" },
    { "session_not_found", "Session not found" },
    { "internal_error", "Internal server error" },
    { "bad_request", "Bad request" },
    { "forbidden", "Forbidden" },
    { "uri_too_long", "Request URI is too long" },
    { "request_header_too_large", "Request header or cookie is too large" },
    { "service_unavailable", "Service unavailable" },
    { "http_error", "Request failed" },
    { NULL, NULL }
};


static ngx_http_variable_t  ngx_http_fluentai_vars[] = {

    { ngx_string("fluentai_user_id"), NULL, ngx_http_fluentai_variable,
      offsetof(ngx_http_fluentai_ctx_t, user_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fluentai_session_id"), NULL, ngx_http_fluentai_variable,
      offsetof(ngx_http_fluentai_ctx_t, session_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fluentai_error_code"), NULL, ngx_http_fluentai_variable,
      offsetof(ngx_http_fluentai_ctx_t, error_code),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_http_fluentai_ctx_t *
ngx_http_fluentai_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fluentai_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_fluentai_ctx_cleanup;
    cln->data = ctx;

    ctx->mcf = ngx_http_get_module_main_conf(r, ngx_http_fluentai_module);

    ngx_http_set_ctx(r, ctx, ngx_http_fluentai_module);

    return ctx;
}


static void
ngx_http_fluentai_ctx_cleanup(void *data)
{
    ngx_http_fluentai_ctx_t *ctx = data;

    ngx_http_fluentai_pg_cancel(&ctx->pg);
    ngx_http_fluentai_task_release(ctx);
    ngx_http_fluentai_login_delay_release(ctx);

    if (ctx->body) {
        json_decref(ctx->body);
        ctx->body = NULL;
    }

    if (ctx->user) {
        json_decref(ctx->user);
        ctx->user = NULL;
    }
}


ngx_int_t
ngx_http_fluentai_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_uint_t                     status;
    const char                    *code;
    ngx_http_fluentai_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);

    if (ngx_http_fluentai_ctx(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_fluentai_cors_preflight(r, &lcf->allow);
    }

    status = ngx_http_fluentai_refuse(r, lcf, &code);

    if (status == NGX_OK && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        rc = ngx_http_read_client_request_body(r,
                                               ngx_http_fluentai_body_handler);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* from here on answered by fail() or the endpoint, as after a body */

    r->main->count++;

    if (status == NGX_OK) {
        lcf->endpoint->get(r);
        return NGX_DONE;
    }

    if (status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_fluentai_header(r, "Allow", lcf->allow.data,
                                    lcf->allow.len)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    ngx_http_fluentai_fail(r, status, code, NULL);

    return NGX_DONE;
}


/* NGX_OK, or the status and code to refuse the request with */

static ngx_uint_t
ngx_http_fluentai_refuse(ngx_http_request_t *r,
    ngx_http_fluentai_loc_conf_t *lcf, const char **code)
{
    if (!(r->method & lcf->endpoint->methods)) {
        *code = "method_not_allowed";
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return NGX_OK;
    }

    if (r->headers_in.content_length_n > NGX_HTTP_FLUENTAI_MAX_BODY) {
        *code = "payload_too_large";
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (ngx_http_fluentai_json_type(r) != NGX_OK) {
        *code = "unsupported_media_type";
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    return NGX_OK;
}


/*
 * A body, if there is one, must be declared JSON: "application/json" or
 * any "+json" type, parameters (charset) allowed.  No body, no check.
 */

static ngx_int_t
ngx_http_fluentai_json_type(ngx_http_request_t *r)
{
    u_char     *p, *end;
    ngx_str_t   type;

    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return NGX_OK;
    }

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    type = r->headers_in.content_type->value;

    end = ngx_strlchr(type.data, type.data + type.len, ';');
    if (end == NULL) {
        end = type.data + type.len;
    }

    while (end > type.data && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    p = type.data;
    type.len = end - p;

    if (type.len == sizeof("application/json") - 1
        && ngx_strncasecmp(p, (u_char *) "application/json", type.len) == 0)
    {
        return NGX_OK;
    }

    if (type.len > sizeof("application/+json") - 1
        && ngx_strncasecmp(p, (u_char *) "application/", 12) == 0
        && ngx_strncasecmp(end - 5, (u_char *) "+json", 5) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_http_fluentai_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      body;
    json_error_t                   err;
    ngx_http_fluentai_ctx_t       *ctx;
    ngx_http_fluentai_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_fluentai_module);
    ctx = ngx_http_fluentai_ctx(r);

    rc = ngx_http_fluentai_body_read(r, &body);

    if (rc == NGX_DECLINED) {
        ngx_http_fluentai_fail(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                               "payload_too_large", NULL);
        return;
    }

    if (rc != NGX_OK || ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (body.len == 0 && !lcf->endpoint->body_required) {
        lcf->endpoint->post(r);
        return;
    }

    ctx->body = json_loadb((char *) body.data, body.len,
                           JSON_REJECT_DUPLICATES, &err);

    /* parsed: the only plaintext password left is jansson's string */

    ngx_http_fluentai_wipe_body(r, &body);
    ngx_explicit_memzero(&err, sizeof(json_error_t));  /* quotes the body */

    if (ctx->body == NULL || !json_is_object(ctx->body)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "fluentai: request body is not a JSON object");

        ngx_http_fluentai_fail(r, NGX_HTTP_BAD_REQUEST, "invalid_json",
                               NULL);
        return;
    }

    lcf->endpoint->post(r);
}


/* the whole body in one buffer of r->pool; NGX_DECLINED: over the limit */

static ngx_int_t
ngx_http_fluentai_body_read(ngx_http_request_t *r, ngx_str_t *out)
{
    off_t         len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    out->len = 0;
    out->data = NULL;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > NGX_HTTP_FLUENTAI_MAX_BODY) {
        return NGX_DECLINED;
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            return NGX_ERROR;
        }

        p += n;
    }

    out->len = p - out->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_fluentai_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *obj)
{
    char       *dump;
    size_t      len;
    ngx_buf_t  *b;

    dump = json_dumps(obj, JSON_COMPACT);
    if (dump == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(dump);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        free(dump);
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->last, dump, len);
    free(dump);

    return ngx_http_fluentai_send_buf(r, status, b);
}


/* b: a JSON text in r->pool */

static ngx_int_t
ngx_http_fluentai_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    ngx_int_t     rc;
    ngx_chain_t   out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_fluentai_header(r, "Cache-Control", (u_char *) "no-store",
                                 sizeof("no-store") - 1)
        != NGX_OK
        || ngx_http_fluentai_cors_headers(r) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_fluentai_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, json_t *details)
{
    ngx_int_t                     rc;
    const char                   *message;
    json_t                       *obj;
    ngx_http_fluentai_ctx_t      *ctx;
    ngx_http_fluentai_message_t  *m;

    message = "Error";

    for (m = ngx_http_fluentai_messages; m->code; m++) {
        if (ngx_strcmp(m->code, code) == 0) {
            message = m->message;
            break;
        }
    }

    ctx = ngx_http_fluentai_ctx(r);
    if (ctx) {
        ctx->error_code.data = (u_char *) code;
        ctx->error_code.len = ngx_strlen(code);
    }

    if (status == NGX_HTTP_UNAUTHORIZED
        && ngx_http_fluentai_challenge(r, code) != NGX_OK)
    {
        json_decref(details);
        return NGX_ERROR;
    }

    obj = json_pack("{s:s, s:s, s:s, s:i}",
                    "error", ngx_http_fluentai_category(status),
                    "code", code,
                    "message", message,
                    "status_code", (int) status);

    if (obj == NULL) {
        json_decref(details);
        return NGX_ERROR;
    }

    if (details && json_object_set_new(obj, "details", details) != 0) {
        json_decref(obj);
        return NGX_ERROR;
    }

    rc = ngx_http_fluentai_send_json(r, status, obj);
    json_decref(obj);

    return rc;
}


static ngx_int_t
ngx_http_fluentai_challenge(ngx_http_request_t *r, const char *code)
{
    static u_char  bearer[] = "Bearer";
    static u_char  invalid[] = "Bearer error=\"invalid_token\"";

    if (ngx_strcmp(code, "not_authenticated") == 0) {
        return ngx_http_fluentai_header(r, "WWW-Authenticate", bearer,
                                        sizeof(bearer) - 1);
    }

    if (ngx_strcmp(code, "invalid_token") == 0
        || ngx_strcmp(code, "token_expired") == 0)
    {
        return ngx_http_fluentai_header(r, "WWW-Authenticate", invalid,
                                        sizeof(invalid) - 1);
    }

    return NGX_OK;
}


static const char *
ngx_http_fluentai_category(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_UNAUTHORIZED:
        return "authentication_error";

    case NGX_HTTP_FLUENTAI_UNPROCESSABLE:
        return "validation_error";

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return "rate_limited";

    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case NGX_HTTP_GATEWAY_TIME_OUT:
    case NGX_HTTP_BAD_GATEWAY:
        return "service_unavailable";

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
        return "internal_server_error";

    default:
        return "http_error";
    }
}


/*
 * The one way to answer: finish() a JSON body with its status, or fail()
 * with the one error shape; details (a 422's array) may be NULL.  Both
 * take over the JSON they are given and finalize the request.
 */

void
ngx_http_fluentai_finish(ngx_http_request_t *r, ngx_uint_t status,
    json_t *obj)
{
    ngx_int_t  rc;

    if (obj == NULL) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    rc = ngx_http_fluentai_send_json(r, status, obj);
    json_decref(obj);

    ngx_http_finalize_request(r, rc);
}


/* finish() with the JSON text already written into b, in r->pool */

void
ngx_http_fluentai_finish_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    if (b == NULL) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_fluentai_send_buf(r, status, b));
}


void
ngx_http_fluentai_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, json_t *details)
{
    ngx_http_finalize_request(r,
                    ngx_http_fluentai_send_error(r, status, code, details));
}


/* an empty details array for a validator; NULL: answered with 500 */

json_t *
ngx_http_fluentai_details_or_fail(ngx_http_request_t *r)
{
    json_t  *details;

    details = json_array();
    if (details == NULL) {
        ngx_http_fluentai_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal_error", NULL);
    }

    return details;
}


/* details with one entry, for a 422 about one field */

json_t *
ngx_http_fluentai_detail(const char *field, const char *msg,
    const char *type)
{
    return json_pack("[{s:[s, s], s:s, s:s}]", "loc", "body", field,
                     "msg", msg, "type", type);
}


/*
 * A query argument, percent-decoded into r->pool; from the query string
 * as sent (r->args is redacted in endpoint locations, see redact.c).
 */

ngx_int_t
ngx_http_fluentai_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char                   *dst, *src;
    ngx_int_t                 rc;
    ngx_str_t                 raw, args;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);
    args = r->args;

    if (ctx && ctx->raw_args.data) {
        r->args = ctx->raw_args;
    }

    rc = ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw);
    r->args = args;

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, raw.len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    value->len = dst - value->data;

    return NGX_OK;
}


/*
 * While the request waits (database queue, query, hash), a client that
 * closes its connection is noticed, as limit_req and upstream do: nginx
 * then terminates the request, and its cleanup leaves the pool's queue
 * at once and lets go of a password job (ngx_http_fluentai_ctx_cleanup).
 * A body still being discarded keeps its own handler, which notices a
 * close by itself.
 */

void
ngx_http_fluentai_watch_client(ngx_http_request_t *r)
{
    if (r->read_event_handler == ngx_http_block_reading) {
        r->read_event_handler = ngx_http_test_reading;
    }
}


ngx_int_t
ngx_http_fluentai_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_fluentai_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_fluentai_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                *s;
    ngx_http_fluentai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fluentai_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}
