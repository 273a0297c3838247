
/*
 * Unit tests for the validators of forgot-password, reset-password,
 * verify-email and resend-verification.  Prints TAP.
 */


#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_fluentai_validate.h"
#include "unit.h"


static char  ngx_http_fluentai_test_pw[8];


static int
ngx_http_fluentai_test_reset(const char *json, ngx_http_fluentai_reset_t *out,
    const char *loc, const char *type)
{
    int      bad, found;
    size_t   i;
    json_t  *body, *details, *d;

    body = json_loads(json, 0, NULL);
    details = json_array();
    bad = ngx_http_fluentai_validate_reset(body, details, out);

    found = (loc == NULL);

    json_array_foreach(details, i, d) {
        if (loc
            && strcmp(json_string_value(json_array_get(
                          json_object_get(d, "loc"), 1)), loc) == 0
            && strcmp(json_string_value(json_object_get(d, "type")), type)
               == 0)
        {
            found = 1;
        }
    }

    if (bad == 0) {
        memcpy(ngx_http_fluentai_test_pw, out->new_password.data, 5);
    }

    json_decref(details);
    json_decref(body);

    return loc ? (bad > 0 && found) : (bad == 0);
}


int
main(void)
{
    json_t                          *body, *details;
    ngx_http_fluentai_reset_t        r;
    ngx_http_fluentai_vstr_t         t;
    ngx_http_fluentai_credentials_t  c;

    ngx_http_fluentai_ok(ngx_http_fluentai_test_reset(
        "{\"token\": \"abc\", \"new_password\": \"new password 1\"}", &r,
        NULL, NULL) && r.token.len == 3 && r.new_password.len == 14,
        "reset: token and new_password");
    ngx_http_fluentai_ok(ngx_http_fluentai_test_reset(
        "{\"token\": \"abc\", \"newPassword\": \"camel case 1\", "
        "\"new_password\": \"snake case 1\"}", &r, NULL, NULL)
        && memcmp(ngx_http_fluentai_test_pw, "camel", 5) == 0,
        "reset: newPassword wins");
    ngx_http_fluentai_ok(ngx_http_fluentai_test_reset(
        "{\"new_password\": \"new password 1\"}", &r, "token",
        "value_error.missing"), "reset: token required");
    ngx_http_fluentai_ok(ngx_http_fluentai_test_reset(
        "{\"token\": 5, \"new_password\": \"new password 1\"}", &r, "token",
        "type_error.str"), "reset: token must be a string");
    ngx_http_fluentai_ok(ngx_http_fluentai_test_reset(
        "{\"token\": \"abc\", \"new_password\": \"short\"}", &r,
        "newPassword", "value_error.password"),
        "reset: the register password rule");
    ngx_http_fluentai_ok(ngx_http_fluentai_test_reset(
        "{\"token\": \"abc\"}", &r, "newPassword", "value_error.missing"),
        "reset: new password required");

    body = json_loads("{\"token\": \"xyz\"}", 0, NULL);
    details = json_array();
    ngx_http_fluentai_ok(
        ngx_http_fluentai_validate_token(body, details, &t) == 0
        && t.len == 3, "verify: token");
    json_decref(body);

    body = json_loads("{\"token\": null}", 0, NULL);
    ngx_http_fluentai_ok(
        ngx_http_fluentai_validate_token(body, details, &t) == 1,
        "verify: null token refused");
    json_decref(body);

    body = json_loads("{\"email\": \"  Ann@Example.COM \"}", 0, NULL);
    ngx_http_fluentai_ok(
        ngx_http_fluentai_validate_email_request(body, details, &c) == 0
        && c.email.len == 15
        && memcmp(c.email.data, "ann@example.com", 15) == 0,
        "forgot: email trimmed and lower-cased");
    json_decref(body);

    body = json_loads("{\"email\": \"not an email\"}", 0, NULL);
    ngx_http_fluentai_ok(
        ngx_http_fluentai_validate_email_request(body, details, &c) == 0,
        "forgot: a malformed email is merely unknown");
    json_decref(body);

    body = json_loads("{}", 0, NULL);
    ngx_http_fluentai_ok(
        ngx_http_fluentai_validate_email_request(body, details, &c) == 1,
        "forgot: email required");
    json_decref(body);

    body = json_loads("{\"email\": \"\"}", 0, NULL);
    ngx_http_fluentai_ok(
        ngx_http_fluentai_validate_email_request(body, details, &c) == 1,
        "forgot: empty email refused");
    json_decref(body);
    json_decref(details);

    return ngx_http_fluentai_test_done();
}
