
/*
 * Request body validation: the contract's 422 table.  Pure C on jansson
 * values (no nginx), so it can be unit-tested and fuzzed.
 *
 * Each validator appends one entry per failing field to the details array:
 *     {"loc": ["body", "<field>"], "msg": "<human text>",
 *      "type": "<pydantic-style type>"}
 * and fills its output struct with pointers into the json strings (valid
 * as long as the body is) or into the struct's own buffers.  It returns
 * the number of failing fields (0 = valid); then the output is not to be
 * used (a profile update has no set_ bit at all).
 *
 * Rules (code points are counted on UTF-8).  jansson's decoder already
 * refuses invalid UTF-8 and "\u0000", but values built otherwise may hold
 * any bytes: every string is checked again here, and invalid UTF-8 or a
 * NUL byte fails its field.
 *   name      string, trimmed of Unicode white space at both ends, 2..100
 *             code points, no control characters (C0, DEL, C1);
 *             type "value_error.name" / "type_error.str" /
 *             "value_error.missing"
 *   email     string, trimmed, lower-cased (ASCII), exactly one '@', local
 *             part 1..64 bytes of printable ASCII without spaces, domain
 *             of dot-separated labels [a-z0-9-]{1,63} not starting or
 *             ending with '-', at least one dot, total <= 254 bytes;
 *             type "value_error.email"
 *   password  string, 8..128 code points, never trimmed;
 *             type "value_error.password"
 *   bio       null, or string <= 500 code points; "value_error.bio"
 *   avatar    null, or string <= 500 bytes starting with "http://" or
 *             "https://" (case-insensitive scheme) followed by a non-empty
 *             host, no control characters or spaces; "value_error.url";
 *             "" clears the avatar like null (an emptied form field)
 *   remember  absent, or boolean; "type_error.bool"
 * A required field that is absent: msg "field required",
 * type "value_error.missing"; null where a string is required (and a
 * null name in a profile update): "type_error.none.not_allowed".
 * Wrong JSON type: "type_error.str".
 * Fields not listed are ignored (the React client sends confirmPassword).
 */

#ifndef _NGX_HTTP_FLUENTAI_VALIDATE_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_VALIDATE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ngx_http_fluentai_utf8.h"


#define NGX_HTTP_FLUENTAI_EMAIL_MAX      254


typedef struct {
    const char   *data;
    size_t        len;
} ngx_http_fluentai_vstr_t;


typedef struct {
    ngx_http_fluentai_vstr_t   name;       /* trimmed */
    ngx_http_fluentai_vstr_t   email;      /* points into email_buf */
    ngx_http_fluentai_vstr_t   password;
    int                        remember;   /* login: 1 unless false */
    char                       email_buf[NGX_HTTP_FLUENTAI_EMAIL_MAX + 1];
} ngx_http_fluentai_credentials_t;


typedef struct {
    unsigned                   set_name:1;
    unsigned                   set_avatar:1;
    unsigned                   set_bio:1;
    ngx_http_fluentai_vstr_t   name;       /* trimmed */
    ngx_http_fluentai_vstr_t   avatar;     /* data NULL: clear */
    ngx_http_fluentai_vstr_t   bio;        /* data NULL: clear */
} ngx_http_fluentai_profile_update_t;


typedef struct {
    ngx_http_fluentai_vstr_t   current;
    ngx_http_fluentai_vstr_t   new_password;
} ngx_http_fluentai_password_change_t;


typedef struct {
    ngx_http_fluentai_vstr_t   token;
    ngx_http_fluentai_vstr_t   new_password;
} ngx_http_fluentai_reset_t;


/* register: name, email, password all required */
int ngx_http_fluentai_validate_register(json_t *body, json_t *details,
    ngx_http_fluentai_credentials_t *out);

/*
 * login: email and password required, remember optional.  The email is
 * checked only for being a string of 1..254 bytes (a malformed one is
 * simply unknown, as for any login); password 1..128 code points.
 */
int ngx_http_fluentai_validate_login(json_t *body, json_t *details,
    ngx_http_fluentai_credentials_t *out);

/* PUT /user/profile: name, avatar, bio optional; null name is invalid */
int ngx_http_fluentai_validate_profile(json_t *body, json_t *details,
    ngx_http_fluentai_profile_update_t *out);

/*
 * change-password: currentPassword or current_password (1..128 code
 * points, required) and newPassword or new_password (password rule,
 * required); camelCase wins when both are present.  The details loc
 * names the camelCase field.
 */
int ngx_http_fluentai_validate_password_change(json_t *body,
    json_t *details, ngx_http_fluentai_password_change_t *out);

/* forgot-password, resend-verification: email as for login */
int ngx_http_fluentai_validate_email_request(json_t *body, json_t *details,
    ngx_http_fluentai_credentials_t *out);

/*
 * reset-password: token (string, required; its format is the caller's
 * check) and newPassword or new_password (password rule, required)
 */
int ngx_http_fluentai_validate_reset(json_t *body, json_t *details,
    ngx_http_fluentai_reset_t *out);

/* verify-email: token (string, required) */
int ngx_http_fluentai_validate_token(json_t *body, json_t *details,
    ngx_http_fluentai_vstr_t *token);

/*
 * the syntax rules above (ngx_http_fluentai_validate_syntax.c): e is
 * trimmed and lower-cased, len <= NGX_HTTP_FLUENTAI_EMAIL_MAX; s is an
 * avatar URL of any bytes
 */
int ngx_http_fluentai_email_valid(const char *e, size_t len);
int ngx_http_fluentai_url_valid(const char *s, size_t len);


#endif /* _NGX_HTTP_FLUENTAI_VALIDATE_H_INCLUDED_ */
