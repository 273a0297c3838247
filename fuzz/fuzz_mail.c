
/*
 * libFuzzer target: the mail message builder, src/ngx_http_fluentai_mail_msg.c
 * (a mailbox as configured or stored, a user's name, a template file).
 *
 * The input is split at NUL bytes: mailbox, name, template.
 * Invariants (abort on violation):
 *   - a parsed mailbox's address has exactly one '@', its domain is the
 *     part after it, and no control character, space, '<', '>' or '"'
 *     is in the address or a CR/LF in the name;
 *   - a template that passes the check builds a message (with a valid
 *     UTF-8 name and a valid recipient): 7-bit, CRLF line ends only,
 *     lines of at most 78 characters, a header section whose every line
 *     is "Name: ..." or a continuation (no injected header or body);
 *   - its SMTP form ends in CRLF "." CRLF and has no other line that is
 *     a lone ".".
 */


#include "fuzz_common.h"
#include "ngx_http_fluentai_mail_msg.h"


static void
fuzz_check_message(const char *msg, size_t len)
{
    size_t   i, col, start;
    int      in_head;
    char    *data;
    size_t   dlen;

    col = 0;
    start = 0;
    in_head = 1;

    for (i = 0; i < len; i++) {
        FUZZ_CHECK((unsigned char) msg[i] < 0x80);

        if (msg[i] == '\r') {
            FUZZ_CHECK(i + 1 < len && msg[i + 1] == '\n');
            continue;
        }

        if (msg[i] == '\n') {
            FUZZ_CHECK(i > 0 && msg[i - 1] == '\r');

            if (in_head) {
                if (col == 0) {
                    in_head = 0;

                } else if (msg[start] != ' ') {
                    const char *c = memchr(msg + start, ':', col);
                    FUZZ_CHECK(c != NULL && c > msg + start);
                    for (const char *p = msg + start; p < c; p++) {
                        FUZZ_CHECK((*p >= 'A' && *p <= 'Z')
                                   || (*p >= 'a' && *p <= 'z') || *p == '-');
                    }
                }
            }

            col = 0;
            start = i + 1;
            continue;
        }

        col++;
        FUZZ_CHECK(col <= 78);
    }

    FUZZ_CHECK(!in_head);

    data = ngx_http_fluentai_mail_smtp_data(msg, len, &dlen);
    FUZZ_CHECK(data != NULL);
    FUZZ_CHECK(dlen >= 5 && memcmp(data + dlen - 5, "\r\n.\r\n", 5) == 0);
    FUZZ_CHECK(strstr(data, "\r\n.\r\n") == data + dlen - 5);
    free(data);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                        i, n;
    char                         *msg;
    const char                   *parts[3], *err;
    size_t                        lens[3];
    ngx_http_fluentai_mail_t      m;
    ngx_http_fluentai_mailbox_t   mb;

    n = 0;
    parts[0] = (const char *) data;

    for (i = 0; i < size && n < 2; i++) {
        if (data[i] == '\0') {
            lens[n] = (const char *) data + i - parts[n];
            parts[++n] = (const char *) data + i + 1;
        }
    }

    lens[n] = (const char *) data + size - parts[n];

    for (i = n + 1; i < 3; i++) {
        parts[i] = "";
        lens[i] = 0;
    }

    err = ngx_http_fluentai_mailbox_parse(parts[0], lens[0], &mb);

    if (err == NULL) {
        FUZZ_CHECK(mb.addr.len > 0 && mb.domain.len > 0);
        FUZZ_CHECK(mb.domain.data + mb.domain.len
                   == mb.addr.data + mb.addr.len);
        FUZZ_CHECK(mb.domain.data[-1] == '@');
        FUZZ_CHECK(memchr(mb.addr.data, '@', mb.addr.len)
                   == mb.domain.data - 1);

        for (i = 0; i < mb.addr.len; i++) {
            FUZZ_CHECK((unsigned char) mb.addr.data[i] > 0x20
                       && (unsigned char) mb.addr.data[i] < 0x7f
                       && !strchr("<>\"", mb.addr.data[i]));
        }

        for (i = 0; i < mb.name.len; i++) {
            FUZZ_CHECK(mb.name.data[i] != '\r' && mb.name.data[i] != '\n');
        }
    }

    if (ngx_http_fluentai_mail_template_check(parts[2], lens[2]) != NULL) {
        return 0;
    }

    memset(&m, 0, sizeof(ngx_http_fluentai_mail_t));

    (void) ngx_http_fluentai_mailbox_parse("Fuzz <from@fuzz.test>", 21,
                                           &m.from);
    (void) ngx_http_fluentai_mailbox_parse("to@fuzz.test", 12, &m.to);

    m.to.name.data = parts[1];
    m.to.name.len = lens[1];
    m.tmpl.data = parts[2];
    m.tmpl.len = lens[2];
    m.vars[0] = m.to.name;
    m.vars[1].data = "https://app.fuzz.test/reset-password?token=x";
    m.vars[1].len = strlen(m.vars[1].data);
    m.vars[2].data = "1 hour";
    m.vars[2].len = 6;
    m.id.data = "fluentai.1.2";
    m.id.len = 12;
    m.date = 1796129650;

    msg = ngx_http_fluentai_mail_build(&m, &n);

    /* only an invalid UTF-8 name may refuse a valid template */

    if (msg == NULL) {
        return 0;
    }

    FUZZ_CHECK(strlen(msg) == n);
    fuzz_check_message(msg, n);
    free(msg);

    return 0;
}
