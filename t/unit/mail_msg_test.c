
/*
 * Unit tests for ngx_http_fluentai_mail_msg.c: mailboxes, templates,
 * RFC 5322 / MIME / RFC 2047 messages, SMTP dot-stuffing.  Prints TAP.
 * Run from the top directory (reads the shipped templates in mail/).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ngx_http_fluentai_mail_msg.h"
#include "unit.h"


static const char *
ngx_http_fluentai_test_mb(const char *s, ngx_http_fluentai_mailbox_t *mb)
{
    return ngx_http_fluentai_mailbox_parse(s, strlen(s), mb);
}


static char *
ngx_http_fluentai_test_file(const char *path)
{
    FILE    *f;
    char    *buf;
    size_t   n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    buf = calloc(1, 65536);
    n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);

    if (buf) {
        buf[n] = '\0';
    }

    return buf;
}


/* the decoded base64 body of a built message */

static char *
ngx_http_fluentai_test_body(const char *msg)
{
    const char  *p, *q;
    char        *b64, *out;
    size_t       n;
    int          len, pad;

    p = strstr(msg, "\r\n\r\n");
    if (p == NULL) {
        return NULL;
    }

    p += 4;
    b64 = calloc(1, strlen(p) + 1);
    out = calloc(1, strlen(p) + 1);
    n = 0;

    for (q = p; *q; q++) {
        if (*q != '\r' && *q != '\n') {
            b64[n++] = *q;
        }
    }

    len = EVP_DecodeBlock((unsigned char *) out, (unsigned char *) b64,
                          (int) n);
    pad = (n > 0 && b64[n - 1] == '=') + (n > 1 && b64[n - 2] == '=');
    out[len - pad] = '\0';
    free(b64);

    return out;
}


static int
ngx_http_fluentai_test_lines(const char *msg, size_t len)
{
    size_t  i, col;

    col = 0;

    for (i = 0; i < len; i++) {
        if (msg[i] == '\n') {
            if (i == 0 || msg[i - 1] != '\r') {
                return 0;
            }
            col = 0;
            continue;
        }

        if (msg[i] == '\r' && (i + 1 == len || msg[i + 1] != '\n')) {
            return 0;
        }

        if ((unsigned char) msg[i] > 0x7e || ++col > 78) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_http_fluentai_test_mailboxes(void)
{
    ngx_http_fluentai_mailbox_t  mb;

    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("no-reply@example.com", &mb) == NULL
        && mb.name.len == 0 && mb.addr.len == 20 && mb.domain.len == 11
        && memcmp(mb.domain.data, "example.com", 11) == 0,
        "bare address");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("FluentAI <no-reply@mail.example.com>",
                                  &mb) == NULL
        && mb.name.len == 8 && memcmp(mb.name.data, "FluentAI", 8) == 0
        && mb.addr.len == 25
        && memcmp(mb.addr.data, "no-reply@mail.example.com", 25) == 0,
        "name and address");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("\"Fluent AI\" <a@b.c>", &mb) == NULL
        && mb.name.len == 9, "quoted name");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("Флюент <a@b.c>", &mb) == NULL
        && mb.name.len == strlen("Флюент"), "UTF-8 name");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("a@b", &mb) == NULL, "single label");

    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("a\r\nBcc: x@y.z", &mb) != NULL,
        "CR LF refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("<a@b.c>\r\n", &mb) != NULL,
        "trailing CR LF refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("a>b@c.d", &mb) != NULL, "'>' refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("a b@c.d", &mb) != NULL, "space refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("\"a\"@c.d", &mb) != NULL,
        "quoted local part refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("a..b@c.d", &mb) != NULL, "'..' refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("a@-c.d", &mb) != NULL,
        "label starting with '-' refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("a@c..d", &mb) != NULL,
        "empty label refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("@c.d", &mb) != NULL,
        "empty local part refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("a@", &mb) != NULL, "empty domain refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("A \"B\" <a@b.c>", &mb) != NULL,
        "inner quote refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("A <a@b.c> <d@e.f>", &mb) != NULL,
        "two addresses refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_test_mb("A <a@b.c", &mb) != NULL,
        "missing '>' refused");
    ngx_http_fluentai_ok(
        ngx_http_fluentai_mailbox_parse("a\xff@b.c", 7, &mb) != NULL,
        "invalid UTF-8 refused");
}


static void
ngx_http_fluentai_test_templates(void)
{
    size_t       i;
    char        *file, buf[64];
    const char  *files[2] = { "mail/reset-password.txt",
                              "mail/verify-email.txt" };

    for (i = 0; i < 2; i++) {
        file = ngx_http_fluentai_test_file(files[i]);

        ngx_http_fluentai_ok(file != NULL
            && strcmp(file, ngx_http_fluentai_mail_default_tmpl[i]) == 0,
            "%s is the built-in default", files[i]);

        ngx_http_fluentai_ok(
            ngx_http_fluentai_mail_template_check(
                ngx_http_fluentai_mail_default_tmpl[i],
                strlen(ngx_http_fluentai_mail_default_tmpl[i])) == NULL,
            "built-in template %d is valid", (int) i);

        free(file);
    }

#define T_TMPL(s)  ngx_http_fluentai_mail_template_check(s, sizeof(s) - 1)

    ngx_http_fluentai_ok(T_TMPL("Subject: x\r\n\r\n{{link}}\r\n")
                              == NULL, "CRLF template");
    ngx_http_fluentai_ok(T_TMPL("Hello\n\n{{link}}") != NULL,
                              "no subject line refused");
    ngx_http_fluentai_ok(T_TMPL("Subject: x\nbody {{link}}") != NULL,
                              "no empty line refused");
    ngx_http_fluentai_ok(T_TMPL("Subject: \n\nbody {{link}}") != NULL,
                              "empty subject refused");
    ngx_http_fluentai_ok(T_TMPL("Subject: {{link}}\n\nno link here")
                              != NULL, "no {{link}} in the body refused");
    ngx_http_fluentai_ok(T_TMPL("Subject: a\n\n\xc0\xaf {{link}}")
                              != NULL, "overlong UTF-8 refused");
    ngx_http_fluentai_ok(T_TMPL("Subject: a\n\n\0 {{link}}") != NULL,
                              "NUL refused");

    ngx_http_fluentai_mail_lifetime(3600, buf, sizeof(buf));
    ngx_http_fluentai_ok(strcmp(buf, "1 hour") == 0, "1 hour");
    ngx_http_fluentai_mail_lifetime(86400, buf, sizeof(buf));
    ngx_http_fluentai_ok(strcmp(buf, "24 hours") == 0, "24 hours");
    ngx_http_fluentai_mail_lifetime(3 * 86400, buf, sizeof(buf));
    ngx_http_fluentai_ok(strcmp(buf, "3 days") == 0, "3 days");
    ngx_http_fluentai_mail_lifetime(1800, buf, sizeof(buf));
    ngx_http_fluentai_ok(strcmp(buf, "30 minutes") == 0, "30 minutes");
    ngx_http_fluentai_mail_lifetime(60, buf, sizeof(buf));
    ngx_http_fluentai_ok(strcmp(buf, "1 minute") == 0, "1 minute");
    ngx_http_fluentai_mail_lifetime(90, buf, sizeof(buf));
    ngx_http_fluentai_ok(strcmp(buf, "90 seconds") == 0, "90 seconds");
}


static char *
ngx_http_fluentai_test_build(const char *tmpl, const char *name,
    const char *to, size_t *len)
{
    ngx_http_fluentai_mail_t  m;

    memset(&m, 0, sizeof(ngx_http_fluentai_mail_t));

    (void) ngx_http_fluentai_mailbox_parse("FluentAI <no-reply@example.org>",
                                   sizeof("FluentAI <no-reply@example.org>")
                                   - 1, &m.from);
    (void) ngx_http_fluentai_mailbox_parse(to, strlen(to), &m.to);
    m.to.name.data = name;
    m.to.name.len = strlen(name);

    m.tmpl.data = tmpl;
    m.tmpl.len = strlen(tmpl);
    m.vars[0].data = name;
    m.vars[0].len = strlen(name);
    m.vars[1].data = "https://app.example.org/reset-password?token=abc-_12";
    m.vars[1].len = strlen(m.vars[1].data);
    m.vars[2].data = "1 hour";
    m.vars[2].len = 6;
    m.id.data = "fluentai.42.x1";
    m.id.len = strlen(m.id.data);
    m.date = 1796129650;   /* Tue, 01 Dec 2026 12:54:10 +0000 */

    return ngx_http_fluentai_mail_build(&m, len);
}


static void
ngx_http_fluentai_test_messages(void)
{
    char        *msg, *body, *data;
    size_t       len, dlen;
    const char  *cyr;

    cyr = "Анна Каренина-Вронская, урождённая Облонская";

    msg = ngx_http_fluentai_test_build(ngx_http_fluentai_mail_default_tmpl[0],
                                       cyr, "anna@example.com", &len);

    ngx_http_fluentai_ok(msg != NULL, "message built");
    if (msg == NULL) {
        return;
    }

    ngx_http_fluentai_ok(strlen(msg) == len, "length");
    ngx_http_fluentai_ok(ngx_http_fluentai_test_lines(msg, len),
                              "7-bit, CRLF only, lines <= 78");
    ngx_http_fluentai_ok(
        strncmp(msg, "Date: Tue, 01 Dec 2026 12:54:10 +0000\r\n", 39) == 0,
        "Date first, RFC 5322 format");
    ngx_http_fluentai_ok(
        strstr(msg, "\r\nFrom: FluentAI\r\n <no-reply@example.org>\r\n")
        != NULL, "From");
    ngx_http_fluentai_ok(
        strstr(msg, "\r\nTo: =?UTF-8?B?") != NULL
        && strstr(msg, "\r\n <anna@example.com>\r\n") != NULL,
        "To with an encoded name");
    ngx_http_fluentai_ok(
        strstr(msg, "\r\nMessage-ID: <fluentai.42.x1@example.org>\r\n")
        != NULL, "Message-ID on the From domain");
    ngx_http_fluentai_ok(
        strstr(msg, "\r\nSubject: Reset your FluentAI password\r\n") != NULL,
        "ASCII subject as is");
    ngx_http_fluentai_ok(
        strstr(msg, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
                    "charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n")
        != NULL, "MIME headers");

    body = ngx_http_fluentai_test_body(msg);
    ngx_http_fluentai_ok(body && strncmp(body, "Hello ", 6) == 0
        && strstr(body, cyr) != NULL
        && strstr(body, "\r\nhttps://app.example.org/reset-password?"
                        "token=abc-_12\r\n") != NULL
        && strstr(body, "expires in 1 hour.") != NULL
        && strstr(body, "{{") == NULL, "body decodes with the values");
    ngx_http_fluentai_ok(body && strstr(body, "\n") != NULL
        && strstr(body, "t\nF") == NULL, "body lines end in CRLF");
    free(body);

    data = ngx_http_fluentai_mail_smtp_data(msg, len, &dlen);
    ngx_http_fluentai_ok(data && dlen == len + 3
        && memcmp(data + dlen - 5, "\r\n.\r\n", 5) == 0,
        "SMTP data ends in CRLF . CRLF");
    free(data);
    free(msg);

    /* a subject with the Cyrillic name: several encoded-words */

    msg = ngx_http_fluentai_test_build("Subject: Привет, {{name}}!\n\n"
                                       "{{link}}\n", cyr,
                                       "a@b.c", &len);
    ngx_http_fluentai_ok(msg
        && strstr(msg, "\r\nSubject: =?UTF-8?B?") != NULL
        && strstr(msg, "?=\r\n =?UTF-8?B?") != NULL
        && ngx_http_fluentai_test_lines(msg, len),
        "UTF-8 subject: folded encoded-words");
    free(msg);

    /* header injection through the name goes nowhere */

    msg = ngx_http_fluentai_test_build("Subject: Hi {{name}}\n\n{{link}}\n",
                                       "x\r\nBcc: evil@example.com",
                                       "a@b.c", &len);
    ngx_http_fluentai_ok(msg && strstr(msg, "\r\nBcc:") == NULL
        && ngx_http_fluentai_test_lines(msg, len), "no header injection");
    free(msg);

    /* "=?" in an ASCII subject is encoded, not passed as a word */

    msg = ngx_http_fluentai_test_build("Subject: =?x?= {{name}}\n\n{{link}}",
                                       "Ann", "a@b.c", &len);
    ngx_http_fluentai_ok(msg
        && strstr(msg, "\r\nSubject: =?UTF-8?B?") != NULL,
        "'=?' in a subject is encoded");
    free(msg);

    msg = ngx_http_fluentai_test_build("Subject: x\n\n{{link}}", "Ann",
                                       "not an address", &len);
    ngx_http_fluentai_ok(msg == NULL, "no recipient: no message");

    /* dot-stuffing and bare LF */

    data = ngx_http_fluentai_mail_smtp_data(".a\n..b\r\nc", 9, &dlen);
    ngx_http_fluentai_ok(data
        && strcmp(data, "..a\r\n...b\r\nc\r\n.\r\n") == 0,
        "dot-stuffing, bare LF, final line");
    free(data);
}


int
main(void)
{
    ngx_http_fluentai_test_mailboxes();
    ngx_http_fluentai_test_templates();
    ngx_http_fluentai_test_messages();

    return ngx_http_fluentai_test_done();
}
