
/*
 * libFuzzer target: request body JSON -> the four validators
 * (src/ngx_http_fluentai_validate.c).
 *
 * Input: JSON text, parsed as the module parses bodies (json_loadb with
 * JSON_REJECT_DUPLICATES); an object goes through validate_register,
 * _login, _profile and _password_change, each with a fresh details
 * array.  Bodies holding "\u0000" are also parsed with JSON_ALLOW_NUL,
 * which the module never does, to reach the validators' NUL checks.
 *
 * An input starting with a 0x00 byte instead builds the object with
 * jansson's *_nocheck calls, so string values may hold any bytes
 * (invalid UTF-8 too): records of [key index][type][length][bytes].
 *
 * Invariants (abort on violation):
 *   - the return value is >= 0 and equals json_array_size(details);
 *   - each entry is {"loc":["body",<field of this validator>],
 *     "msg":<non-empty string>,"type":<known type>}, one per field;
 *   - details serialize with json_dumps (the module sends them);
 *   - on success the outputs are consistent (trimmed name inside the
 *     body's string, lower-case email of one '@', set_ bits, ...);
 *     a failed profile update has no set_ bit;
 *   - register's email verdict equals a reference check of the rule in
 *     validate.h;
 *   - validating twice gives the same result.
 */


#define _GNU_SOURCE             /* memmem */

#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "ngx_http_fluentai_validate.h"


static const char  *fuzz_keys[] = {
    "name", "email", "password", "remember", "avatar", "bio",
    "currentPassword", "current_password", "newPassword", "new_password",
    "confirmPassword", "Name", ""
};

#define FUZZ_NKEYS  (sizeof(fuzz_keys) / sizeof(fuzz_keys[0]))


static const char  *fuzz_types[] = {
    "value_error.missing", "type_error.str", "type_error.none.not_allowed",
    "type_error.bool", "value_error.name", "value_error.email",
    "value_error.password", "value_error.bio", "value_error.url", NULL
};


static const char  *fuzz_register_fields[] = {
    "name", "email", "password", NULL
};

static const char  *fuzz_login_fields[] = {
    "email", "password", "remember", NULL
};

static const char  *fuzz_profile_fields[] = {
    "name", "avatar", "bio", NULL
};

static const char  *fuzz_change_fields[] = {
    "currentPassword", "newPassword", NULL
};


static int
fuzz_in(const char *s, const char **set)
{
    int  i;

    for (i = 0; set[i]; i++) {
        if (strcmp(s, set[i]) == 0) {
            return i;
        }
    }

    return -1;
}


/* details: one well-formed entry per failing field, rc of them */

static void
fuzz_check_details(json_t *details, int rc, const char **fields)
{
    int        i;
    char      *dump;
    size_t     k;
    json_t    *e, *loc, *msg, *type;
    unsigned   seen;

    FUZZ_CHECK(rc >= 0);
    FUZZ_CHECK(json_is_array(details));
    FUZZ_CHECK((size_t) rc == json_array_size(details));

    seen = 0;

    json_array_foreach(details, k, e) {
        FUZZ_CHECK(json_is_object(e));
        FUZZ_CHECK(json_object_size(e) == 3);

        loc = json_object_get(e, "loc");
        msg = json_object_get(e, "msg");
        type = json_object_get(e, "type");

        FUZZ_CHECK(json_is_array(loc) && json_array_size(loc) == 2);
        FUZZ_CHECK(json_is_string(json_array_get(loc, 0)));
        FUZZ_CHECK(strcmp(json_string_value(json_array_get(loc, 0)), "body")
                   == 0);
        FUZZ_CHECK(json_is_string(json_array_get(loc, 1)));

        i = fuzz_in(json_string_value(json_array_get(loc, 1)), fields);
        FUZZ_CHECK(i >= 0);
        FUZZ_CHECK((seen & (1u << i)) == 0);
        seen |= 1u << i;

        FUZZ_CHECK(json_is_string(msg) && json_string_length(msg) > 0);
        FUZZ_CHECK(json_is_string(type));
        FUZZ_CHECK(fuzz_in(json_string_value(type), fuzz_types) >= 0);
    }

    dump = json_dumps(details, JSON_COMPACT);
    FUZZ_CHECK(dump != NULL);
    free(dump);
}


/* p[0..len) lies inside the body's string value of key */

static int
fuzz_inside(json_t *body, const char *key, const char *p, size_t len)
{
    json_t      *v;
    const char  *s;

    v = json_object_get(body, key);

    if (!json_is_string(v) || p == NULL) {
        return 0;
    }

    s = json_string_value(v);

    return p >= s && p + len <= s + json_string_length(v);
}


static int
fuzz_is_ascii_space(u_char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}


/* details has an entry for field */

static int
fuzz_has_error(json_t *details, const char *field)
{
    size_t   k;
    json_t  *e;

    json_array_foreach(details, k, e) {
        if (strcmp(json_string_value(json_array_get(
                       json_object_get(e, "loc"), 1)), field) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* the register email rule of validate.h, on the raw string */

static int
fuzz_ref_email(const char *s, size_t len)
{
    int     dots;
    char    e[256];
    size_t  i, at, label;

    while (len && fuzz_is_ascii_space((u_char) s[0])) {
        s++;
        len--;
    }

    while (len && fuzz_is_ascii_space((u_char) s[len - 1])) {
        len--;
    }

    if (len > 254) {
        return 0;
    }

    at = len;

    for (i = 0; i < len; i++) {
        e[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];

        if (e[i] == '@') {
            if (at != len) {
                return 0;
            }

            at = i;
        }
    }

    if (at == len || at < 1 || at > 64) {
        return 0;
    }

    for (i = 0; i < at; i++) {
        if (e[i] < 0x21 || e[i] > 0x7e) {
            return 0;
        }
    }

    dots = 0;
    label = 0;

    for (i = at + 1; i <= len; i++) {
        if (i == len || e[i] == '.') {
            if (label < 1 || label > 63 || e[i - label] == '-'
                || e[i - 1] == '-')
            {
                return 0;
            }

            dots += i < len;
            label = 0;

        } else if ((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= '0' && e[i] <= '9')
                   || e[i] == '-')
        {
            label++;

        } else {
            return 0;
        }
    }

    return dots > 0;
}


static void
fuzz_check_email(const ngx_http_fluentai_credentials_t *c)
{
    size_t  i;

    FUZZ_CHECK(c->email.data == c->email_buf);
    FUZZ_CHECK(c->email.len > 0 && c->email.len <= 254);
    FUZZ_CHECK(memchr(c->email_buf, '\0', c->email.len) == NULL);
    FUZZ_CHECK(c->email_buf[c->email.len] == '\0');
    FUZZ_CHECK(!fuzz_is_ascii_space((u_char) c->email_buf[0]));
    FUZZ_CHECK(!fuzz_is_ascii_space((u_char) c->email_buf[c->email.len - 1]));

    for (i = 0; i < c->email.len; i++) {
        FUZZ_CHECK(!(c->email_buf[i] >= 'A' && c->email_buf[i] <= 'Z'));
    }
}


static void
fuzz_validate(json_t *body)
{
    int                                   rc, rc2, i;
    size_t                                k, at;
    json_t                               *details, *v;
    ngx_http_fluentai_credentials_t       cred;
    ngx_http_fluentai_profile_update_t    prof;
    ngx_http_fluentai_password_change_t   pw;

    /* register */

    details = json_array();
    FUZZ_CHECK(details != NULL);

    rc = ngx_http_fluentai_validate_register(body, details, &cred);
    fuzz_check_details(details, rc, fuzz_register_fields);

    v = json_object_get(body, "email");

    if (json_is_string(v)) {
        FUZZ_CHECK(fuzz_has_error(details, "email")
                   == !fuzz_ref_email(json_string_value(v),
                                      json_string_length(v)));
    }

    json_decref(details);

    if (rc == 0) {
        FUZZ_CHECK(fuzz_inside(body, "name", cred.name.data, cred.name.len));
        FUZZ_CHECK(cred.name.len >= 2 && cred.name.len <= 400);
        FUZZ_CHECK(!fuzz_is_ascii_space((u_char) cred.name.data[0]));
        FUZZ_CHECK(!fuzz_is_ascii_space(
                       (u_char) cred.name.data[cred.name.len - 1]));
        FUZZ_CHECK(memchr(cred.name.data, '\0', cred.name.len) == NULL);
        FUZZ_CHECK(ngx_http_fluentai_utf8_count(cred.name.data,
                                                cred.name.len) >= 2);

        fuzz_check_email(&cred);

        at = 0;
        for (k = 0; k < cred.email.len; k++) {
            at += cred.email_buf[k] == '@';
        }
        FUZZ_CHECK(at == 1);
        FUZZ_CHECK(strchr(strchr(cred.email_buf, '@'), '.') != NULL);

        FUZZ_CHECK(fuzz_inside(body, "password", cred.password.data,
                               cred.password.len));
        FUZZ_CHECK(cred.password.len
                   == json_string_length(json_object_get(body, "password")));
        FUZZ_CHECK(cred.password.len >= 8 && cred.password.len <= 512);
        i = (int) ngx_http_fluentai_utf8_count(cred.password.data,
                                               cred.password.len);
        FUZZ_CHECK(i >= 8 && i <= 128);
    }

    rc2 = ngx_http_fluentai_validate_register(body, NULL, &cred);
    FUZZ_CHECK(rc2 == rc);

    /* login */

    details = json_array();
    FUZZ_CHECK(details != NULL);

    rc = ngx_http_fluentai_validate_login(body, details, &cred);
    fuzz_check_details(details, rc, fuzz_login_fields);
    json_decref(details);

    if (rc == 0) {
        fuzz_check_email(&cred);

        FUZZ_CHECK(fuzz_inside(body, "password", cred.password.data,
                               cred.password.len));
        FUZZ_CHECK(cred.password.len >= 1 && cred.password.len <= 512);
        FUZZ_CHECK(memchr(cred.password.data, '\0', cred.password.len)
                   == NULL);

        v = json_object_get(body, "remember");
        FUZZ_CHECK(cred.remember == (v == NULL || json_is_true(v)));
    }

    rc2 = ngx_http_fluentai_validate_login(body, NULL, &cred);
    FUZZ_CHECK(rc2 == rc);

    /* profile */

    details = json_array();
    FUZZ_CHECK(details != NULL);

    rc = ngx_http_fluentai_validate_profile(body, details, &prof);
    fuzz_check_details(details, rc, fuzz_profile_fields);
    json_decref(details);

    if (rc == 0) {
        FUZZ_CHECK(prof.set_name == (json_object_get(body, "name") != NULL));
        FUZZ_CHECK(prof.set_avatar
                   == (json_object_get(body, "avatar") != NULL));
        FUZZ_CHECK(prof.set_bio == (json_object_get(body, "bio") != NULL));

        if (prof.set_name) {
            FUZZ_CHECK(fuzz_inside(body, "name", prof.name.data,
                                   prof.name.len));
            FUZZ_CHECK(prof.name.len >= 2);
        }

        if (prof.set_avatar && prof.avatar.data != NULL) {
            FUZZ_CHECK(fuzz_inside(body, "avatar", prof.avatar.data,
                                   prof.avatar.len));
            FUZZ_CHECK(prof.avatar.len > 7 && prof.avatar.len <= 500);
            FUZZ_CHECK(strncasecmp(prof.avatar.data, "http://", 7) == 0
                       || strncasecmp(prof.avatar.data, "https://", 8) == 0);
            FUZZ_CHECK(memchr(prof.avatar.data, '\0', prof.avatar.len)
                       == NULL);
        }

        if (prof.set_bio && prof.bio.data != NULL) {
            FUZZ_CHECK(fuzz_inside(body, "bio", prof.bio.data, prof.bio.len));
            FUZZ_CHECK(ngx_http_fluentai_utf8_count(prof.bio.data,
                                                    prof.bio.len) <= 500);
        }

    } else {
        FUZZ_CHECK(!prof.set_name && !prof.set_avatar && !prof.set_bio);
    }

    rc2 = ngx_http_fluentai_validate_profile(body, NULL, &prof);
    FUZZ_CHECK(rc2 == rc);

    /* change-password */

    details = json_array();
    FUZZ_CHECK(details != NULL);

    rc = ngx_http_fluentai_validate_password_change(body, details, &pw);
    fuzz_check_details(details, rc, fuzz_change_fields);
    json_decref(details);

    if (rc == 0) {
        FUZZ_CHECK(fuzz_inside(body, "currentPassword", pw.current.data,
                               pw.current.len)
                   || fuzz_inside(body, "current_password", pw.current.data,
                                  pw.current.len));
        FUZZ_CHECK(fuzz_inside(body, "newPassword", pw.new_password.data,
                               pw.new_password.len)
                   || fuzz_inside(body, "new_password", pw.new_password.data,
                                  pw.new_password.len));
        FUZZ_CHECK(pw.current.len >= 1);
        FUZZ_CHECK(pw.new_password.len >= 8);
    }

    rc2 = ngx_http_fluentai_validate_password_change(body, NULL, &pw);
    FUZZ_CHECK(rc2 == rc);
}


/* 0x00, then records [key index][type][length][bytes] */

static json_t *
fuzz_build(const uint8_t *data, size_t size)
{
    size_t       i, n;
    json_t      *o, *v;
    const char  *key;

    o = json_object();
    FUZZ_CHECK(o != NULL);

    i = 1;

    while (i + 3 <= size) {
        key = fuzz_keys[data[i] % FUZZ_NKEYS];

        switch (data[i + 1] % 8) {
        case 0:
            v = json_null();
            break;
        case 1:
            v = json_true();
            break;
        case 2:
            v = json_false();
            break;
        case 3:
            v = json_integer((json_int_t) data[i + 2]);
            break;
        case 4:
            v = json_array();
            break;
        default:
            v = NULL;
        }

        n = data[i + 2];
        i += 3;

        if (v == NULL) {
            if (n > size - i) {
                n = size - i;
            }

            v = json_stringn_nocheck((const char *) data + i, n);
            i += n;
        }

        FUZZ_CHECK(v != NULL);
        FUZZ_CHECK(json_object_set_new_nocheck(o, key, v) == 0);
    }

    return o;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t        *body;
    json_error_t   err;

    if (size > 65536) {
        return 0;
    }

    if (size > 0 && data[0] == 0x00) {
        body = fuzz_build(data, size);
        fuzz_validate(body);
        json_decref(body);
        return 0;
    }

    /* exactly as ngx_http_fluentai_http.c parses a request body */

    body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                      &err);

    if (body != NULL && json_is_object(body)) {
        fuzz_validate(body);
    }

    json_decref(body);

    if (size >= 6 && memmem(data, size, "\\u0000", 6) != NULL) {
        body = json_loadb((const char *) data, size,
                          JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);

        if (body != NULL && json_is_object(body)) {
            fuzz_validate(body);
        }

        json_decref(body);
    }

    return 0;
}
