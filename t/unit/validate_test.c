
/*
 * Unit tests for ngx_http_fluentai_validate.c, TAP output.
 *
 *   gcc -std=gnu99 -Wall -Wextra -Werror -Isrc t/unit/validate_test.c \
 *       src/ngx_http_fluentai_validate.c -ljansson \
 *       -o build/unit/validate_test
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "ngx_http_fluentai_validate.h"



/* the last body a helper validated: outputs point into it */
static json_t  *ngx_http_fluentai_test_body;


static void
ngx_http_fluentai_keep(json_t *body)
{
    json_decref(ngx_http_fluentai_test_body);
    ngx_http_fluentai_test_body = body;
}


static json_t *
ngx_http_fluentai_body(const char *text)
{
    json_t        *v;
    json_error_t   err;

    v = json_loads(text, 0, &err);

    if (v == NULL) {
        printf("# bad test json: %s: %s\n", text, err.text);
    }

    return v;
}


/* details has exactly one entry for field, and it has the given type */

static int
ngx_http_fluentai_has(json_t *details, const char *field, const char *type)
{
    int          found;
    size_t       i;
    json_t      *e, *loc;
    const char  *t, *f, *b, *msg;

    found = 0;

    json_array_foreach(details, i, e) {
        loc = json_object_get(e, "loc");
        b = json_string_value(json_array_get(loc, 0));
        f = json_string_value(json_array_get(loc, 1));
        t = json_string_value(json_object_get(e, "type"));
        msg = json_string_value(json_object_get(e, "msg"));

        if (json_array_size(loc) != 2 || b == NULL || f == NULL
            || t == NULL || msg == NULL || msg[0] == '\0'
            || strcmp(b, "body") != 0 || json_object_size(e) != 3)
        {
            printf("# malformed details entry\n");
            return 0;
        }

        if (strcmp(f, field) != 0) {
            continue;
        }

        found++;

        if (type != NULL && strcmp(t, type) != 0) {
            printf("# %s: type %s, expected %s\n", field, t, type);
            return 0;
        }
    }

    return found == 1;
}


static const char *
ngx_http_fluentai_msg(json_t *details, size_t i)
{
    return json_string_value(json_object_get(json_array_get(details, i),
                                             "msg"));
}


/* runs register on text; returns the count, details in *d */

static int
ngx_http_fluentai_reg(const char *text, json_t **d,
    ngx_http_fluentai_credentials_t *c)
{
    int      rc;
    json_t  *body;

    body = ngx_http_fluentai_body(text);
    *d = json_array();

    rc = ngx_http_fluentai_validate_register(body, *d, c);

    ngx_http_fluentai_keep(body);

    return rc;
}


/* register with one field replaced by raw bytes (any bytes at all) */

static int
ngx_http_fluentai_reg_raw(const char *field, const char *bytes, size_t len,
    json_t **d, ngx_http_fluentai_credentials_t *c)
{
    int      rc;
    json_t  *body;

    body = json_pack("{s:s,s:s,s:s}", "name", "Ann",
                     "email", "ann@example.com", "password", "password1");
    json_object_set_new(body, field, json_stringn_nocheck(bytes, len));

    *d = json_array();

    rc = ngx_http_fluentai_validate_register(body, *d, c);

    ngx_http_fluentai_keep(body);

    return rc;
}


static int
ngx_http_fluentai_prof(const char *text, json_t **d,
    ngx_http_fluentai_profile_update_t *p)
{
    int      rc;
    json_t  *body;

    body = ngx_http_fluentai_body(text);
    *d = json_array();

    rc = ngx_http_fluentai_validate_profile(body, *d, p);

    ngx_http_fluentai_keep(body);

    return rc;
}


static void
ngx_http_fluentai_test_utf8(void)
{
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("", 0) == 0,
                         "utf8_count empty");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("abc", 3) == 3,
                         "utf8_count ascii");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count(
                             "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0", 8) == 4,
                         "utf8_count Cyrillic: 8 bytes, 4 code points");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count(
                             "\xe2\x82\xac\xf0\x9f\x98\x80", 7) == 2,
                         "utf8_count 3- and 4-byte sequences");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("\xff", 1) == -1,
                         "utf8_count invalid byte -1");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("a\x80", 2) == -1,
                         "utf8_count stray continuation -1");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("\xd0", 1) == -1,
                         "utf8_count truncated sequence -1");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("\xe2\x82", 2) == -1,
                         "utf8_count truncated 3-byte sequence -1");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("\xc0\x80", 2) == -1,
                         "utf8_count overlong C0 80 -1");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("\xe0\x80\xaf", 3)
                         == -1,
                         "utf8_count overlong E0 80 AF -1");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("\xed\xa0\x80", 3)
                         == -1,
                         "utf8_count surrogate ED A0 80 -1");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("\xf4\x90\x80\x80", 4)
                         == -1,
                         "utf8_count above U+10FFFF -1");
    ngx_http_fluentai_ok(ngx_http_fluentai_utf8_count("\xf5\x80\x80\x80", 4)
                         == -1,
                         "utf8_count F5 lead byte -1");
}


static void
ngx_http_fluentai_test_name(void)
{
    int                              rc;
    char                             buf[4096];
    json_t                          *d;
    size_t                           i;
    ngx_http_fluentai_credentials_t  c;

    rc = ngx_http_fluentai_reg("{\"name\":\"\\u0410\\u043d\\u043d\\u0430\","
                               "\"email\":\"anna@example.com\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 0 && json_array_size(d) == 0
                         && c.name.len == 8
                         && memcmp(c.name.data,
                                   "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0", 8)
                            == 0,
                         "Cyrillic name of 4 code points is valid");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"\\u0410\","
                               "\"email\":\"anna@example.com\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && json_array_size(d) == 1
                         && ngx_http_fluentai_has(d, "name",
                                                  "value_error.name"),
                         "1-code-point name fails (2 bytes)");
    ngx_http_fluentai_ok(rc == 1
                         && strcmp(ngx_http_fluentai_msg(d, 0),
                                   "ensure this value has at least 2 "
                                   "characters") == 0,
                         "short name message");
    json_decref(d);

    /* 100 and 101 Cyrillic letters */

    strcpy(buf, "{\"email\":\"a@b.cd\",\"password\":\"password1\",\"name\":\"");
    for (i = 0; i < 100; i++) {
        strcat(buf, "\\u0416");
    }
    strcat(buf, "\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.name.len == 200,
                         "name of 100 code points is valid");
    json_decref(d);

    buf[strlen(buf) - 2] = '\0';
    strcat(buf, "\\u0416\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name",
                                                          "value_error.name"),
                         "name of 101 code points fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\" \\t\\u00a0\\u3000Ann "
                               "Lee\\u2003\\ufeff\\r\\n\","
                               "\"email\":\"a@b.cd\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.name.len == 7
                         && memcmp(c.name.data, "Ann Lee", 7) == 0,
                         "name trimmed of Unicode white space");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"  A \\u2000\","
                               "\"email\":\"a@b.cd\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name", NULL),
                         "name of 1 code point after trimming fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"   \","
                               "\"email\":\"a@b.cd\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name", NULL),
                         "blank name fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"An\\u0007n\","
                               "\"email\":\"a@b.cd\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name",
                                                          "value_error.name"),
                         "name with a C0 control fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"Ann\\nLee\","
                               "\"email\":\"a@b.cd\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name", NULL),
                         "name with an inner newline fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"Ann\\u007f\","
                               "\"email\":\"a@b.cd\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name", NULL),
                         "name with DEL fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"An\\u009bn\","
                               "\"email\":\"a@b.cd\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name", NULL),
                         "name with a C1 control fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg_raw("name", "An\xc0\x80n", 5, &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name",
                                                          "value_error.name"),
                         "name with invalid UTF-8 fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg_raw("name", "An\0n", 4, &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "name", NULL),
                         "name with NUL fails");
    json_decref(d);
}


static void
ngx_http_fluentai_test_email(void)
{
    int                              rc;
    char                             buf[4096];
    json_t                          *d;
    size_t                           i;
    ngx_http_fluentai_credentials_t  c;

    static const char               *bad[] = {
        "ann.example.com",
        "ann@@example.com",
        "ann@x@example.com",
        "ann@localhost",
        "ann@-example.com",
        "ann@example-.com",
        "ann@example.-com",
        "ann@example..com",
        "ann@example.com.",
        "ann@.example.com",
        "@example.com",
        "ann@",
        "an n@example.com",
        "ann@exa_mple.com",
        "",
    };

    rc = ngx_http_fluentai_reg("{\"name\":\"Ann\","
                               "\"email\":\"  Ann.Lee+X@Example.COM \\t\","
                               "\"password\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.email.data == c.email_buf
                         && c.email.len == 21
                         && strcmp(c.email_buf, "ann.lee+x@example.com")
                            == 0,
                         "email trimmed and lower-cased into email_buf");
    json_decref(d);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf),
                 "{\"name\":\"Ann\",\"email\":\"%s\","
                 "\"password\":\"password1\"}", bad[i]);

        rc = ngx_http_fluentai_reg(buf, &d, &c);
        ngx_http_fluentai_ok(rc == 1
                             && ngx_http_fluentai_has(d, "email",
                                                      "value_error.email")
                             && strcmp(ngx_http_fluentai_msg(d, 0),
                                       "not a valid email address") == 0,
                             "email \"%s\" fails", bad[i]);
        json_decref(d);
    }

    /* local part 64 ok, 65 fails */

    strcpy(buf, "{\"name\":\"Ann\",\"password\":\"password1\",\"email\":\"");
    for (i = 0; i < 64; i++) {
        strcat(buf, "l");
    }
    strcat(buf, "@example.com\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 0, "local part of 64 bytes is valid");
    json_decref(d);

    strcpy(buf, "{\"name\":\"Ann\",\"password\":\"password1\",\"email\":\"l");
    for (i = 0; i < 64; i++) {
        strcat(buf, "l");
    }
    strcat(buf, "@example.com\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "email", NULL),
                         "local part of 65 bytes fails");
    json_decref(d);

    /* label of 64 fails */

    strcpy(buf, "{\"name\":\"Ann\",\"password\":\"password1\","
                "\"email\":\"a@");
    for (i = 0; i < 64; i++) {
        strcat(buf, "d");
    }
    strcat(buf, ".com\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "email", NULL),
                         "domain label of 64 bytes fails");
    json_decref(d);

    /* total 254 ok, 255 fails: "a@" + labels */

    strcpy(buf, "{\"name\":\"Ann\",\"password\":\"password1\","
                "\"email\":\"a@");
    for (i = 0; i < 3; i++) {
        strcat(buf, "ddddddddddddddddddddddddddddddddddddddddddddddddddddd"
                    "dddddddddd.");
    }
    /* 2 + 3 * 64 = 194; add 60 more: 56 d + ".com" */
    for (i = 0; i < 56; i++) {
        strcat(buf, "e");
    }
    strcat(buf, ".com\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.email.len == 254,
                         "email of 254 bytes is valid");
    json_decref(d);

    buf[strlen(buf) - 6] = '\0';
    strcat(buf, "e.com\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "email", NULL)
                         && c.email.len == 0,
                         "email of 255 bytes fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"Ann\",\"password\":\"password1\","
                               "\"email\":\"\\u0430nn@example.com\"}",
                               &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "email", NULL),
                         "non-ASCII email fails");
    json_decref(d);
}


static void
ngx_http_fluentai_test_password(void)
{
    int                              rc;
    char                             buf[4096];
    json_t                          *d;
    size_t                           i;
    ngx_http_fluentai_credentials_t  c;

    /* 7 Cyrillic letters: 14 bytes, 7 code points */

    rc = ngx_http_fluentai_reg("{\"name\":\"Ann\",\"email\":\"a@b.cd\","
                               "\"password\":\"\\u043f\\u0430\\u0440\\u043e"
                               "\\u043b\\u044c\\u044c\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && c.password.len == 14
                         && ngx_http_fluentai_has(d, "password",
                                                  "value_error.password"),
                         "password of 7 code points (14 bytes) fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"Ann\",\"email\":\"a@b.cd\","
                               "\"password\":\"\\u043f\\u0430\\u0440\\u043e"
                               "\\u043b\\u044c\\u044c\\u044c\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.password.len == 16,
                         "password of 8 code points is valid");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"Ann\",\"email\":\"a@b.cd\","
                               "\"password\":\"  pass  \"}", &d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.password.len == 8,
                         "password is not trimmed");
    json_decref(d);

    strcpy(buf, "{\"name\":\"Ann\",\"email\":\"a@b.cd\",\"password\":\"");
    for (i = 0; i < 128; i++) {
        strcat(buf, "\\u20ac");
    }
    strcat(buf, "\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.password.len == 384,
                         "password of 128 code points (384 bytes) is valid");
    json_decref(d);

    buf[strlen(buf) - 2] = '\0';
    strcat(buf, "x\"}");

    rc = ngx_http_fluentai_reg(buf, &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "password",
                                                      "value_error.password"),
                         "password of 129 code points fails");
    json_decref(d);

    rc = ngx_http_fluentai_reg_raw("password", "passw\xed\xa0\x80rd", 11,
                                   &d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "password",
                                                      "value_error.password"),
                         "password with a surrogate fails");
    json_decref(d);
}


static void
ngx_http_fluentai_test_register(void)
{
    int                              rc;
    json_t                          *d;
    ngx_http_fluentai_credentials_t  c;

    rc = ngx_http_fluentai_reg("{}", &d, &c);
    ngx_http_fluentai_ok(rc == 3 && json_array_size(d) == 3
                         && ngx_http_fluentai_has(d, "name",
                                                  "value_error.missing")
                         && ngx_http_fluentai_has(d, "email",
                                                  "value_error.missing")
                         && ngx_http_fluentai_has(d, "password",
                                                  "value_error.missing"),
                         "empty body: three field required entries");
    ngx_http_fluentai_ok(strcmp(ngx_http_fluentai_msg(d, 0),
                                "field required") == 0,
                         "missing field message");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"Ann\",\"password\":\"password1\","
                               "\"confirmPassword\":\"password1\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 1 && json_array_size(d) == 1
                         && ngx_http_fluentai_has(d, "email",
                                                  "value_error.missing"),
                         "missing email only, unknown field ignored");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":\"A\",\"email\":\"nope\","
                               "\"password\":\"short\"}", &d, &c);
    ngx_http_fluentai_ok(rc == 3 && json_array_size(d) == 3
                         && ngx_http_fluentai_has(d, "name",
                                                  "value_error.name")
                         && ngx_http_fluentai_has(d, "email",
                                                  "value_error.email")
                         && ngx_http_fluentai_has(d, "password",
                                                  "value_error.password"),
                         "three bad fields: three details");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":42,\"email\":[\"a@b.cd\"],"
                               "\"password\":{\"x\":1}}", &d, &c);
    ngx_http_fluentai_ok(rc == 3 && json_array_size(d) == 3
                         && ngx_http_fluentai_has(d, "name", "type_error.str")
                         && ngx_http_fluentai_has(d, "email",
                                                  "type_error.str")
                         && ngx_http_fluentai_has(d, "password",
                                                  "type_error.str"),
                         "number, array, object: type_error.str");
    json_decref(d);

    rc = ngx_http_fluentai_reg("{\"name\":true,\"email\":null,"
                               "\"password\":1.5}", &d, &c);
    ngx_http_fluentai_ok(rc == 3
                         && ngx_http_fluentai_has(d, "name", "type_error.str")
                         && ngx_http_fluentai_has(d, "email",
                                                 "type_error.none.not_allowed")
                         && ngx_http_fluentai_has(d, "password",
                                                  "type_error.str"),
                         "bool, null, real: errors");
    json_decref(d);

    rc = ngx_http_fluentai_reg("[1,2]", &d, &c);
    ngx_http_fluentai_ok(rc == 3, "array body: every field missing");
    json_decref(d);

    rc = ngx_http_fluentai_validate_register(NULL, NULL, &c);
    ngx_http_fluentai_ok(rc == 3, "NULL body and details do not crash");
}


static void
ngx_http_fluentai_test_login(void)
{
    int                              rc;
    json_t                          *d, *body;
    ngx_http_fluentai_credentials_t  c;

    body = ngx_http_fluentai_body("{\"email\":\" Not An Email \","
                                  "\"password\":\"x\"}");
    d = json_array();
    rc = ngx_http_fluentai_validate_login(body, d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.remember == 1
                         && strcmp(c.email_buf, "not an email") == 0
                         && c.email.len == 12 && c.password.len == 1,
                         "login is lenient about email, remember default 1");
    json_decref(body);
    json_decref(d);

    body = ngx_http_fluentai_body("{\"email\":\"a@b.cd\",\"password\":\"x\","
                                  "\"remember\":false}");
    d = json_array();
    rc = ngx_http_fluentai_validate_login(body, d, &c);
    ngx_http_fluentai_ok(rc == 0 && c.remember == 0, "remember false");
    json_decref(body);
    json_decref(d);

    body = ngx_http_fluentai_body("{\"email\":\"a@b.cd\",\"password\":\"x\","
                                  "\"remember\":\"yes\"}");
    d = json_array();
    rc = ngx_http_fluentai_validate_login(body, d, &c);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "remember",
                                                          "type_error.bool"),
                         "remember as a string: type_error.bool");
    json_decref(body);
    json_decref(d);

    body = ngx_http_fluentai_body("{\"email\":\"  \",\"password\":\"\"}");
    d = json_array();
    rc = ngx_http_fluentai_validate_login(body, d, &c);
    ngx_http_fluentai_ok(rc == 2 && ngx_http_fluentai_has(d, "email", NULL)
                         && ngx_http_fluentai_has(d, "password", NULL),
                         "login: blank email, empty password fail");
    json_decref(body);
    json_decref(d);

    body = ngx_http_fluentai_body("{\"password\":7}");
    d = json_array();
    rc = ngx_http_fluentai_validate_login(body, d, &c);
    ngx_http_fluentai_ok(rc == 2 && ngx_http_fluentai_has(d, "email",
                                                      "value_error.missing")
                         && ngx_http_fluentai_has(d, "password",
                                                  "type_error.str"),
                         "login: missing email, numeric password");
    json_decref(body);
    json_decref(d);
}


static void
ngx_http_fluentai_test_profile(void)
{
    int                                 rc;
    char                                buf[4096];
    json_t                             *d;
    size_t                              i;
    ngx_http_fluentai_profile_update_t  p;

    rc = ngx_http_fluentai_prof("{}", &d, &p);
    ngx_http_fluentai_ok(rc == 0 && !p.set_name && !p.set_avatar
                         && !p.set_bio,
                         "profile: absent fields are not set");
    json_decref(d);

    rc = ngx_http_fluentai_prof("{\"avatar\":null,\"bio\":null}", &d, &p);
    ngx_http_fluentai_ok(rc == 0 && !p.set_name && p.set_avatar
                         && p.avatar.data == NULL && p.set_bio
                         && p.bio.data == NULL,
                         "profile: null avatar and bio clear");
    json_decref(d);

    rc = ngx_http_fluentai_prof("{\"name\":null}", &d, &p);
    ngx_http_fluentai_ok(rc == 1 && !p.set_name
                         && ngx_http_fluentai_has(d, "name",
                                                 "type_error.none.not_allowed"),
                         "profile: null name is an error");
    json_decref(d);

    rc = ngx_http_fluentai_prof("{\"name\":\" Bob \","
                                "\"avatar\":\"https://cdn.example.com/a.png\","
                                "\"bio\":\"hi\\nthere\"}", &d, &p);
    ngx_http_fluentai_ok(rc == 0 && p.set_name && p.name.len == 3
                         && memcmp(p.name.data, "Bob", 3) == 0
                         && p.set_avatar && p.avatar.len == 29
                         && p.set_bio && p.bio.len == 8,
                         "profile: name, https avatar, bio set");
    json_decref(d);

    rc = ngx_http_fluentai_prof("{\"avatar\":\"HTTP://host:8080/x?y#z\"}",
                                &d, &p);
    ngx_http_fluentai_ok(rc == 0 && p.set_avatar,
                         "profile: HTTP:// avatar with port is valid");
    json_decref(d);

    rc = ngx_http_fluentai_prof("{\"avatar\":\"\"}", &d, &p);
    ngx_http_fluentai_ok(rc == 0 && p.set_avatar && p.avatar.data == NULL,
                         "profile: empty avatar clears");
    json_decref(d);

    {
        static const char  *bad[] = {
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "JaVaScRiPt:alert(1)",
            "ftp://example.com/a.png",
            "https://",
            "https:///a.png",
            "http://:80/",
            "https://user@/x",
            "https://exa mple.com/",
            "https://example.com/\\u0001",
            "https://example.com/\\\"onerror=\\\"x",
            "https://example.com:8o/",
            "//example.com/a.png",
            "/a.png",
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            snprintf(buf, sizeof(buf), "{\"avatar\":\"%s\"}", bad[i]);

            rc = ngx_http_fluentai_prof(buf, &d, &p);
            ngx_http_fluentai_ok(rc == 1 && !p.set_avatar
                                 && ngx_http_fluentai_has(d, "avatar",
                                                          "value_error.url"),
                                 "avatar %s fails", bad[i]);
            json_decref(d);
        }
    }

    strcpy(buf, "{\"avatar\":\"https://example.com/");
    for (i = 0; i < 500 - 20; i++) {
        strcat(buf, "a");
    }
    strcat(buf, "\"}");

    rc = ngx_http_fluentai_prof(buf, &d, &p);
    ngx_http_fluentai_ok(rc == 0 && p.avatar.len == 500,
                         "avatar of 500 bytes is valid");
    json_decref(d);

    buf[strlen(buf) - 2] = '\0';
    strcat(buf, "a\"}");

    rc = ngx_http_fluentai_prof(buf, &d, &p);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "avatar",
                                                          "value_error.url"),
                         "avatar of 501 bytes fails");
    json_decref(d);

    strcpy(buf, "{\"bio\":\"");
    for (i = 0; i < 500; i++) {
        strcat(buf, "\\u044f");
    }
    strcat(buf, "\"}");

    rc = ngx_http_fluentai_prof(buf, &d, &p);
    ngx_http_fluentai_ok(rc == 0 && p.set_bio && p.bio.len == 1000,
                         "bio of 500 code points (1000 bytes) is valid");
    json_decref(d);

    buf[strlen(buf) - 2] = '\0';
    strcat(buf, "x\"}");

    rc = ngx_http_fluentai_prof(buf, &d, &p);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "bio",
                                                          "value_error.bio"),
                         "bio of 501 code points fails");
    json_decref(d);

    rc = ngx_http_fluentai_prof("{\"name\":\"X\",\"avatar\":5,"
                                "\"bio\":[\"x\"]}", &d, &p);
    ngx_http_fluentai_ok(rc == 3 && json_array_size(d) == 3
                         && ngx_http_fluentai_has(d, "name",
                                                  "value_error.name")
                         && ngx_http_fluentai_has(d, "avatar",
                                                  "type_error.str")
                         && ngx_http_fluentai_has(d, "bio", "type_error.str")
                         && !p.set_name && !p.set_avatar && !p.set_bio,
                         "profile: three bad fields, nothing set");
    json_decref(d);
}


static void
ngx_http_fluentai_test_change(void)
{
    int                                  rc;
    json_t                              *d, *body;
    ngx_http_fluentai_password_change_t  pc;

    body = ngx_http_fluentai_body("{\"currentPassword\":\"old\","
                                  "\"newPassword\":\"new-password\"}");
    d = json_array();
    rc = ngx_http_fluentai_validate_password_change(body, d, &pc);
    ngx_http_fluentai_ok(rc == 0 && pc.current.len == 3
                         && pc.new_password.len == 12,
                         "change password: camelCase accepted");
    json_decref(body);
    json_decref(d);

    body = ngx_http_fluentai_body("{\"current_password\":\"old\","
                                  "\"new_password\":\"new-password\"}");
    d = json_array();
    rc = ngx_http_fluentai_validate_password_change(body, d, &pc);
    ngx_http_fluentai_ok(rc == 0 && pc.current.len == 3
                         && memcmp(pc.current.data, "old", 3) == 0
                         && pc.new_password.len == 12,
                         "change password: snake_case accepted");
    json_decref(body);
    json_decref(d);

    body = ngx_http_fluentai_body("{\"current_password\":\"snake-old\","
                                  "\"currentPassword\":\"camel\","
                                  "\"new_password\":\"snake-new-pw\","
                                  "\"newPassword\":\"camel-new-pw!\"}");
    d = json_array();
    rc = ngx_http_fluentai_validate_password_change(body, d, &pc);
    ngx_http_fluentai_ok(rc == 0 && pc.current.len == 5
                         && memcmp(pc.current.data, "camel", 5) == 0
                         && pc.new_password.len == 13
                         && memcmp(pc.new_password.data, "camel-new-pw!", 13)
                            == 0,
                         "change password: camelCase wins");
    json_decref(body);
    json_decref(d);

    body = ngx_http_fluentai_body("{\"new_password\":\"short\"}");
    d = json_array();
    rc = ngx_http_fluentai_validate_password_change(body, d, &pc);
    ngx_http_fluentai_ok(rc == 2 && json_array_size(d) == 2
                         && ngx_http_fluentai_has(d, "currentPassword",
                                                  "value_error.missing")
                         && ngx_http_fluentai_has(d, "newPassword",
                                                  "value_error.password"),
                         "change password: errors name the camelCase field");
    json_decref(body);
    json_decref(d);

    body = ngx_http_fluentai_body("{\"currentPassword\":1,"
                                  "\"newPassword\":\"new-password\"}");
    d = json_array();
    rc = ngx_http_fluentai_validate_password_change(body, d, &pc);
    ngx_http_fluentai_ok(rc == 1 && ngx_http_fluentai_has(d, "currentPassword",
                                                          "type_error.str"),
                         "change password: numeric current password");
    json_decref(body);
    json_decref(d);
}


int
main(void)
{
    ngx_http_fluentai_test_utf8();
    ngx_http_fluentai_test_name();
    ngx_http_fluentai_test_email();
    ngx_http_fluentai_test_password();
    ngx_http_fluentai_test_register();
    ngx_http_fluentai_test_login();
    ngx_http_fluentai_test_profile();
    ngx_http_fluentai_test_change();

    ngx_http_fluentai_keep(NULL);

    return ngx_http_fluentai_test_done();
}
