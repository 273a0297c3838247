
/*
 * Request body validation: the contract's 422 table.  Pure C on jansson
 * values (no nginx).  Every string is checked here for strict UTF-8 and
 * NUL bytes too, whatever built the json value.  The syntax of an email
 * address and of a URL: ngx_http_fluentai_validate_syntax.c.
 */


#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "ngx_http_fluentai_validate.h"


#define NGX_HTTP_FLUENTAI_NAME_MIN       2
#define NGX_HTTP_FLUENTAI_NAME_MAX       100
#define NGX_HTTP_FLUENTAI_PASSWORD_MIN   8
#define NGX_HTTP_FLUENTAI_PASSWORD_MAX   128
#define NGX_HTTP_FLUENTAI_BIO_MAX        500
#define NGX_HTTP_FLUENTAI_AVATAR_MAX     500


#define NGX_HTTP_FLUENTAI_MSG_MISSING    "field required"
#define NGX_HTTP_FLUENTAI_MSG_STR        "str type expected"
#define NGX_HTTP_FLUENTAI_MSG_NONE       "none is not an allowed value"
#define NGX_HTTP_FLUENTAI_MSG_BOOL       "value is not a valid boolean"
#define NGX_HTTP_FLUENTAI_MSG_UTF8       "value is not valid UTF-8"
#define NGX_HTTP_FLUENTAI_MSG_NUL        "value must not contain NUL"
#define NGX_HTTP_FLUENTAI_MSG_EMAIL      "not a valid email address"
#define NGX_HTTP_FLUENTAI_MSG_URL                                             \
    "not a valid http or https URL"

#define NGX_HTTP_FLUENTAI_T_MISSING      "value_error.missing"
#define NGX_HTTP_FLUENTAI_T_STR          "type_error.str"
#define NGX_HTTP_FLUENTAI_T_NONE         "type_error.none.not_allowed"
#define NGX_HTTP_FLUENTAI_T_BOOL         "type_error.bool"
#define NGX_HTTP_FLUENTAI_T_NAME         "value_error.name"
#define NGX_HTTP_FLUENTAI_T_EMAIL        "value_error.email"
#define NGX_HTTP_FLUENTAI_T_PASSWORD     "value_error.password"
#define NGX_HTTP_FLUENTAI_T_BIO          "value_error.bio"
#define NGX_HTTP_FLUENTAI_T_URL          "value_error.url"


/* what a field's json value is, before its own rule runs */
typedef enum {
    NGX_HTTP_FLUENTAI_FIELD_ABSENT = 0,
    NGX_HTTP_FLUENTAI_FIELD_NULL,
    NGX_HTTP_FLUENTAI_FIELD_STRING,
    NGX_HTTP_FLUENTAI_FIELD_OTHER
} ngx_http_fluentai_field_e;


static int ngx_http_fluentai_fail(json_t *details, const char *field,
    const char *msg, const char *type);
static ngx_http_fluentai_field_e ngx_http_fluentai_field(json_t *body,
    const char *key, ngx_http_fluentai_vstr_t *s);
static int ngx_http_fluentai_field_error(json_t *details, const char *field,
    ngx_http_fluentai_field_e kind);
static int ngx_http_fluentai_text(json_t *details, const char *field,
    const char *type, ngx_http_fluentai_vstr_t *s, long min, long max);
static int ngx_http_fluentai_check_name(json_t *details,
    ngx_http_fluentai_vstr_t *s);
static size_t ngx_http_fluentai_email_copy(ngx_http_fluentai_vstr_t *s,
    ngx_http_fluentai_credentials_t *out);
static int ngx_http_fluentai_string_field(json_t *body, json_t *details,
    const char *key, ngx_http_fluentai_vstr_t *s);
static int ngx_http_fluentai_alias_field(json_t *body, json_t *details,
    const char *camel, const char *snake, ngx_http_fluentai_vstr_t *s);


static int
ngx_http_fluentai_fail(json_t *details, const char *field, const char *msg,
    const char *type)
{
    json_t  *e;

    if (details != NULL && json_is_array(details)) {
        e = json_pack("{s:[s,s],s:s,s:s}", "loc", "body", field,
                      "msg", msg, "type", type);

        if (e != NULL) {
            json_array_append_new(details, e);
        }
    }

    return 1;
}


static ngx_http_fluentai_field_e
ngx_http_fluentai_field(json_t *body, const char *key,
    ngx_http_fluentai_vstr_t *s)
{
    json_t  *v;

    s->data = NULL;
    s->len = 0;

    if (body == NULL || !json_is_object(body)) {
        return NGX_HTTP_FLUENTAI_FIELD_ABSENT;
    }

    v = json_object_get(body, key);

    if (v == NULL) {
        return NGX_HTTP_FLUENTAI_FIELD_ABSENT;
    }

    if (json_is_null(v)) {
        return NGX_HTTP_FLUENTAI_FIELD_NULL;
    }

    if (!json_is_string(v)) {
        return NGX_HTTP_FLUENTAI_FIELD_OTHER;
    }

    s->data = json_string_value(v);
    s->len = json_string_length(v);

    if (s->data == NULL) {
        s->len = 0;
        return NGX_HTTP_FLUENTAI_FIELD_OTHER;
    }

    return NGX_HTTP_FLUENTAI_FIELD_STRING;
}


/* the error for a required string field that is not a string */

static int
ngx_http_fluentai_field_error(json_t *details, const char *field,
    ngx_http_fluentai_field_e kind)
{
    switch (kind) {

    case NGX_HTTP_FLUENTAI_FIELD_ABSENT:
        return ngx_http_fluentai_fail(details, field,
                                      NGX_HTTP_FLUENTAI_MSG_MISSING,
                                      NGX_HTTP_FLUENTAI_T_MISSING);

    case NGX_HTTP_FLUENTAI_FIELD_NULL:
        return ngx_http_fluentai_fail(details, field,
                                      NGX_HTTP_FLUENTAI_MSG_NONE,
                                      NGX_HTTP_FLUENTAI_T_NONE);

    case NGX_HTTP_FLUENTAI_FIELD_OTHER:
        return ngx_http_fluentai_fail(details, field,
                                      NGX_HTTP_FLUENTAI_MSG_STR,
                                      NGX_HTTP_FLUENTAI_T_STR);

    default:
        return 0;
    }
}


/*
 * A string of min..max code points (max 0: no limit), valid UTF-8,
 * without NUL.
 */

static int
ngx_http_fluentai_text(json_t *details, const char *field, const char *type,
    ngx_http_fluentai_vstr_t *s, long min, long max)
{
    long   n;
    char   msg[64];

    n = ngx_http_fluentai_utf8_count(s->data, s->len);

    if (n < 0) {
        return ngx_http_fluentai_fail(details, field,
                                      NGX_HTTP_FLUENTAI_MSG_UTF8, type);
    }

    if (s->len && memchr(s->data, '\0', s->len) != NULL) {
        return ngx_http_fluentai_fail(details, field,
                                      NGX_HTTP_FLUENTAI_MSG_NUL, type);
    }

    if (n < min) {
        snprintf(msg, sizeof(msg),
                 "ensure this value has at least %ld character%s",
                 min, min == 1 ? "" : "s");
        return ngx_http_fluentai_fail(details, field, msg, type);
    }

    if (max && n > max) {
        snprintf(msg, sizeof(msg),
                 "ensure this value has at most %ld characters", max);
        return ngx_http_fluentai_fail(details, field, msg, type);
    }

    return 0;
}


/* trims s in place (on success) and checks the name rule */

static int
ngx_http_fluentai_check_name(json_t *details, ngx_http_fluentai_vstr_t *s)
{
    long           n, first, last_cp;
    uint32_t       c;
    const u_char  *p, *q, *last, *start, *end;
    char           msg[64];

    p = (const u_char *) s->data;
    last = p + s->len;

    start = NULL;
    end = NULL;
    first = 0;
    last_cp = -1;
    n = 0;

    /* the trimmed bounds and their code point indexes */

    while (p < last) {
        q = p;
        c = ngx_http_fluentai_utf8_next(&p, last);

        if (c == NGX_HTTP_FLUENTAI_UTF8_BAD) {
            return ngx_http_fluentai_fail(details, "name",
                                          NGX_HTTP_FLUENTAI_MSG_UTF8,
                                          NGX_HTTP_FLUENTAI_T_NAME);
        }

        if (!ngx_http_fluentai_is_space(c)) {
            if (start == NULL) {
                start = q;
                first = n;
            }

            end = p;
            last_cp = n;
        }

        n++;
    }

    n = last_cp - first + 1;

    if (n < NGX_HTTP_FLUENTAI_NAME_MIN) {
        snprintf(msg, sizeof(msg),
                 "ensure this value has at least %d characters",
                 NGX_HTTP_FLUENTAI_NAME_MIN);
        return ngx_http_fluentai_fail(details, "name", msg,
                                      NGX_HTTP_FLUENTAI_T_NAME);
    }

    if (n > NGX_HTTP_FLUENTAI_NAME_MAX) {
        snprintf(msg, sizeof(msg),
                 "ensure this value has at most %d characters",
                 NGX_HTTP_FLUENTAI_NAME_MAX);
        return ngx_http_fluentai_fail(details, "name", msg,
                                      NGX_HTTP_FLUENTAI_T_NAME);
    }

    /* controls inside the trimmed name: "\tAnn\n" is just "Ann" */

    for (p = start; p < end; /* void */) {
        c = ngx_http_fluentai_utf8_next(&p, end);

        if (ngx_http_fluentai_is_control(c)) {
            return ngx_http_fluentai_fail(details, "name",
                                          "value must not contain control "
                                          "characters",
                                          NGX_HTTP_FLUENTAI_T_NAME);
        }
    }

    s->data = (const char *) start;
    s->len = (size_t) (end - start);

    return 0;
}


/*
 * Copies the ASCII-white-space-trimmed, lower-cased email into
 * out->email_buf and points out->email at it.  Returns the trimmed length
 * (which may exceed the buffer: then nothing is copied).
 */

static size_t
ngx_http_fluentai_email_copy(ngx_http_fluentai_vstr_t *s,
    ngx_http_fluentai_credentials_t *out)
{
    size_t       len, i;
    const char  *p;
    u_char       c;

    p = s->data;
    len = s->len;

    while (len && (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))) {
        p++;
        len--;
    }

    while (len && (p[len - 1] == ' '
                   || (p[len - 1] >= '\t' && p[len - 1] <= '\r')))
    {
        len--;
    }

    out->email_buf[0] = '\0';
    out->email.data = out->email_buf;
    out->email.len = 0;

    if (len > NGX_HTTP_FLUENTAI_EMAIL_MAX) {
        return len;
    }

    for (i = 0; i < len; i++) {
        c = (u_char) p[i];

        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }

        out->email_buf[i] = (char) c;
    }

    out->email_buf[len] = '\0';
    out->email.len = len;

    return len;
}




/* a required string field: fills s or appends the type/missing error */

static int
ngx_http_fluentai_string_field(json_t *body, json_t *details,
    const char *key, ngx_http_fluentai_vstr_t *s)
{
    ngx_http_fluentai_field_e  kind;

    kind = ngx_http_fluentai_field(body, key, s);

    if (kind == NGX_HTTP_FLUENTAI_FIELD_STRING) {
        return 0;
    }

    return ngx_http_fluentai_field_error(details, key, kind);
}


/*
 * camel or snake; camel wins when it is present and not null.  Errors
 * name the camel field.
 */

static int
ngx_http_fluentai_alias_field(json_t *body, json_t *details,
    const char *camel, const char *snake, ngx_http_fluentai_vstr_t *s)
{
    ngx_http_fluentai_field_e  kind, alt;

    kind = ngx_http_fluentai_field(body, camel, s);

    if (kind == NGX_HTTP_FLUENTAI_FIELD_ABSENT
        || kind == NGX_HTTP_FLUENTAI_FIELD_NULL)
    {
        alt = ngx_http_fluentai_field(body, snake, s);

        if (alt != NGX_HTTP_FLUENTAI_FIELD_ABSENT) {
            kind = (kind == NGX_HTTP_FLUENTAI_FIELD_NULL
                    && alt == NGX_HTTP_FLUENTAI_FIELD_NULL)
                   ? NGX_HTTP_FLUENTAI_FIELD_NULL : alt;
        }
    }

    if (kind == NGX_HTTP_FLUENTAI_FIELD_STRING) {
        return 0;
    }

    return ngx_http_fluentai_field_error(details, camel, kind);
}


int
ngx_http_fluentai_validate_register(json_t *body, json_t *details,
    ngx_http_fluentai_credentials_t *out)
{
    int                       bad;
    size_t                    len;
    ngx_http_fluentai_vstr_t  email;

    memset(out, 0, sizeof(ngx_http_fluentai_credentials_t));
    out->remember = 1;
    out->email.data = out->email_buf;

    bad = 0;

    if (ngx_http_fluentai_string_field(body, details, "name", &out->name)) {
        bad++;

    } else if (ngx_http_fluentai_check_name(details, &out->name)) {
        bad++;
    }

    if (ngx_http_fluentai_string_field(body, details, "email", &email)) {
        bad++;

    } else {
        len = ngx_http_fluentai_email_copy(&email, out);

        if (len > NGX_HTTP_FLUENTAI_EMAIL_MAX
            || !ngx_http_fluentai_email_valid(out->email_buf, len))
        {
            bad += ngx_http_fluentai_fail(details, "email",
                                          NGX_HTTP_FLUENTAI_MSG_EMAIL,
                                          NGX_HTTP_FLUENTAI_T_EMAIL);
        }
    }

    if (ngx_http_fluentai_string_field(body, details, "password",
                                       &out->password))
    {
        bad++;

    } else {
        bad += ngx_http_fluentai_text(details, "password",
                                      NGX_HTTP_FLUENTAI_T_PASSWORD,
                                      &out->password,
                                      NGX_HTTP_FLUENTAI_PASSWORD_MIN,
                                      NGX_HTTP_FLUENTAI_PASSWORD_MAX);
    }

    return bad;
}


/*
 * An email to look an account up by (login, forgot password): any
 * string of 1..254 bytes of UTF-8; a malformed one is simply unknown.
 */

static int
ngx_http_fluentai_lookup_email(json_t *body, json_t *details,
    ngx_http_fluentai_credentials_t *out)
{
    size_t                    len;
    ngx_http_fluentai_vstr_t  email;

    if (ngx_http_fluentai_string_field(body, details, "email", &email)) {
        return 1;
    }

    len = ngx_http_fluentai_email_copy(&email, out);

    if (len == 0
        || len > NGX_HTTP_FLUENTAI_EMAIL_MAX
        || !ngx_http_fluentai_utf8_text(out->email_buf, len))
    {
        return ngx_http_fluentai_fail(details, "email",
                                      NGX_HTTP_FLUENTAI_MSG_EMAIL,
                                      NGX_HTTP_FLUENTAI_T_EMAIL);
    }

    return 0;
}


int
ngx_http_fluentai_validate_login(json_t *body, json_t *details,
    ngx_http_fluentai_credentials_t *out)
{
    int                       bad;
    json_t                   *v;

    memset(out, 0, sizeof(ngx_http_fluentai_credentials_t));
    out->remember = 1;
    out->email.data = out->email_buf;

    bad = ngx_http_fluentai_lookup_email(body, details, out);

    if (ngx_http_fluentai_string_field(body, details, "password",
                                       &out->password))
    {
        bad++;

    } else {
        bad += ngx_http_fluentai_text(details, "password",
                                      NGX_HTTP_FLUENTAI_T_PASSWORD,
                                      &out->password, 1,
                                      NGX_HTTP_FLUENTAI_PASSWORD_MAX);
    }

    v = (body != NULL && json_is_object(body))
        ? json_object_get(body, "remember") : NULL;

    if (v != NULL) {
        if (json_is_boolean(v)) {
            out->remember = json_is_true(v);

        } else {
            bad += ngx_http_fluentai_fail(details, "remember",
                                          NGX_HTTP_FLUENTAI_MSG_BOOL,
                                          NGX_HTTP_FLUENTAI_T_BOOL);
        }
    }

    return bad;
}


int
ngx_http_fluentai_validate_profile(json_t *body, json_t *details,
    ngx_http_fluentai_profile_update_t *out)
{
    int                        bad;
    ngx_http_fluentai_field_e  kind;

    memset(out, 0, sizeof(ngx_http_fluentai_profile_update_t));

    bad = 0;

    /* name: absent = unchanged, null is an error */

    kind = ngx_http_fluentai_field(body, "name", &out->name);

    if (kind == NGX_HTTP_FLUENTAI_FIELD_STRING) {
        if (ngx_http_fluentai_check_name(details, &out->name)) {
            bad++;

        } else {
            out->set_name = 1;
        }

    } else if (kind != NGX_HTTP_FLUENTAI_FIELD_ABSENT) {
        bad += ngx_http_fluentai_field_error(details, "name", kind);
    }

    /* avatar: absent = unchanged, null or "" = clear */

    kind = ngx_http_fluentai_field(body, "avatar", &out->avatar);

    switch (kind) {

    case NGX_HTTP_FLUENTAI_FIELD_ABSENT:
        break;

    case NGX_HTTP_FLUENTAI_FIELD_NULL:
        out->set_avatar = 1;
        break;

    case NGX_HTTP_FLUENTAI_FIELD_STRING:
        if (out->avatar.len == 0) {
            out->avatar.data = NULL;
            out->set_avatar = 1;

        } else if (out->avatar.len > NGX_HTTP_FLUENTAI_AVATAR_MAX) {
            bad += ngx_http_fluentai_fail(details, "avatar",
                                          "ensure this value has at most "
                                          "500 bytes",
                                          NGX_HTTP_FLUENTAI_T_URL);

        } else if (!ngx_http_fluentai_url_valid(out->avatar.data,
                                                out->avatar.len))
        {
            bad += ngx_http_fluentai_fail(details, "avatar",
                                          NGX_HTTP_FLUENTAI_MSG_URL,
                                          NGX_HTTP_FLUENTAI_T_URL);

        } else {
            out->set_avatar = 1;
        }

        break;

    default:
        bad += ngx_http_fluentai_field_error(details, "avatar", kind);
        break;
    }

    /* bio: absent = unchanged, null = clear */

    kind = ngx_http_fluentai_field(body, "bio", &out->bio);

    switch (kind) {

    case NGX_HTTP_FLUENTAI_FIELD_ABSENT:
        break;

    case NGX_HTTP_FLUENTAI_FIELD_NULL:
        out->set_bio = 1;
        break;

    case NGX_HTTP_FLUENTAI_FIELD_STRING:
        if (ngx_http_fluentai_text(details, "bio", NGX_HTTP_FLUENTAI_T_BIO,
                                   &out->bio, 0, NGX_HTTP_FLUENTAI_BIO_MAX))
        {
            bad++;

        } else {
            out->set_bio = 1;
        }

        break;

    default:
        bad += ngx_http_fluentai_field_error(details, "bio", kind);
        break;
    }

    if (bad) {
        out->set_name = 0;
        out->set_avatar = 0;
        out->set_bio = 0;
    }

    return bad;
}


/* newPassword or new_password, the register rule (change, reset) */

static int
ngx_http_fluentai_new_password(json_t *body, json_t *details,
    ngx_http_fluentai_vstr_t *pw)
{
    if (ngx_http_fluentai_alias_field(body, details, "newPassword",
                                      "new_password", pw))
    {
        return 1;
    }

    return ngx_http_fluentai_text(details, "newPassword",
                                  NGX_HTTP_FLUENTAI_T_PASSWORD, pw,
                                  NGX_HTTP_FLUENTAI_PASSWORD_MIN,
                                  NGX_HTTP_FLUENTAI_PASSWORD_MAX);
}


int
ngx_http_fluentai_validate_password_change(json_t *body, json_t *details,
    ngx_http_fluentai_password_change_t *out)
{
    int  bad;

    memset(out, 0, sizeof(ngx_http_fluentai_password_change_t));

    bad = 0;

    if (ngx_http_fluentai_alias_field(body, details, "currentPassword",
                                      "current_password", &out->current))
    {
        bad++;

    } else {
        bad += ngx_http_fluentai_text(details, "currentPassword",
                                      NGX_HTTP_FLUENTAI_T_PASSWORD,
                                      &out->current, 1,
                                      NGX_HTTP_FLUENTAI_PASSWORD_MAX);
    }

    bad += ngx_http_fluentai_new_password(body, details, &out->new_password);

    return bad;
}


int
ngx_http_fluentai_validate_email_request(json_t *body, json_t *details,
    ngx_http_fluentai_credentials_t *out)
{
    memset(out, 0, sizeof(ngx_http_fluentai_credentials_t));
    out->email.data = out->email_buf;

    return ngx_http_fluentai_lookup_email(body, details, out);
}


int
ngx_http_fluentai_validate_reset(json_t *body, json_t *details,
    ngx_http_fluentai_reset_t *out)
{
    int  bad;

    memset(out, 0, sizeof(ngx_http_fluentai_reset_t));

    bad = ngx_http_fluentai_string_field(body, details, "token",
                                         &out->token);

    bad += ngx_http_fluentai_new_password(body, details, &out->new_password);

    return bad;
}


int
ngx_http_fluentai_validate_token(json_t *body, json_t *details,
    ngx_http_fluentai_vstr_t *token)
{
    memset(token, 0, sizeof(ngx_http_fluentai_vstr_t));

    return ngx_http_fluentai_string_field(body, details, "token", token);
}
