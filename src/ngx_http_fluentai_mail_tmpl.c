
/*
 * Mail templates: the built-in ones, their check (a subject line, an
 * empty line, a body with {{link}}), their parts, the lifetime in words.
 * Pure C.  See ngx_http_fluentai_mail_msg.h.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_http_fluentai_utf8.h"
#include "ngx_http_fluentai_mail_msg.h"


const char  *ngx_http_fluentai_mail_default_tmpl[2] = {

    "Subject: Reset your FluentAI password\n"
    "\n"
    "Hello {{name}},\n"
    "\n"
    "someone, hopefully you, asked to reset the password of your FluentAI\n"
    "account. To choose a new password, open this link:\n"
    "\n"
    "{{link}}\n"
    "\n"
    "The link works once and expires in {{lifetime}}. If you did not ask\n"
    "for this, ignore this message: your password stays as it is.\n"
    "\n"
    "-- \n"
    "FluentAI\n",

    "Subject: Confirm your email address for FluentAI\n"
    "\n"
    "Hello {{name}},\n"
    "\n"
    "please confirm that this is your email address by opening this link:\n"
    "\n"
    "{{link}}\n"
    "\n"
    "The link works once and expires in {{lifetime}}. If you did not\n"
    "create a FluentAI account, ignore this message.\n"
    "\n"
    "-- \n"
    "FluentAI\n"
};


/* the template's parts: subject (after "Subject: ") and body */

const char *
ngx_http_fluentai_mail_split(const char *s, size_t len,
    ngx_http_fluentai_mstr_t *subject, ngx_http_fluentai_mstr_t *body)
{
    const char  *nl, *end;

    end = s + len;

    if (len < 9 || strncmp(s, "Subject:", 8) != 0) {
        return "the first line must be \"Subject: ...\"";
    }

    nl = memchr(s, '\n', len);
    if (nl == NULL) {
        return "no body after the subject line";
    }

    subject->data = s + 8;
    subject->len = nl - subject->data;

    while (subject->len && subject->data[0] == ' ') {
        subject->data++;
        subject->len--;
    }

    while (subject->len && (subject->data[subject->len - 1] == '\r'
                            || subject->data[subject->len - 1] == ' '))
    {
        subject->len--;
    }

    s = nl + 1;

    if (s < end && *s == '\r') {
        s++;
    }

    if (s >= end || *s != '\n') {
        return "an empty line must follow the subject line";
    }

    body->data = s + 1;
    body->len = end - body->data;

    return NULL;
}


/* whether part (not NUL-terminated) contains the string */

static int
ngx_http_fluentai_mail_has(ngx_http_fluentai_mstr_t *part, const char *str)
{
    size_t  i, n;

    n = strlen(str);

    for (i = 0; i + n <= part->len; i++) {
        if (memcmp(part->data + i, str, n) == 0) {
            return 1;
        }
    }

    return 0;
}


const char *
ngx_http_fluentai_mail_template_check(const char *s, size_t len)
{
    ngx_http_fluentai_mstr_t  subject, body;
    const char               *err;

    if (len > 65536) {
        return "longer than 64k";
    }

    if (!ngx_http_fluentai_utf8_text(s, len)) {
        return "not UTF-8 (or a NUL byte)";
    }

    err = ngx_http_fluentai_mail_split(s, len, &subject, &body);
    if (err) {
        return err;
    }

    if (subject.len == 0) {
        return "empty subject";
    }

    if (!ngx_http_fluentai_mail_has(&body, "{{link}}")) {
        return "the body does not contain {{link}}";
    }

    return NULL;
}


size_t
ngx_http_fluentai_mail_lifetime(long seconds, char *buf, size_t size)
{
    int          n;
    long         v;
    const char  *unit;

    if (seconds >= 2 * 86400 && seconds % 86400 == 0) {
        v = seconds / 86400;
        unit = "day";

    } else if (seconds >= 3600 && seconds % 3600 == 0) {
        v = seconds / 3600;
        unit = "hour";

    } else if (seconds >= 60 && seconds % 60 == 0) {
        v = seconds / 60;
        unit = "minute";

    } else {
        v = seconds;
        unit = "second";
    }

    n = snprintf(buf, size, "%ld %s%s", v, unit, v == 1 ? "" : "s");

    return (n < 0 || (size_t) n >= size) ? 0 : (size_t) n;
}
