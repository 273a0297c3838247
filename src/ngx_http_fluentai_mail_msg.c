
/*
 * Mail messages: RFC 5322 + MIME text from a template.  Pure C.
 * See ngx_http_fluentai_mail_msg.h.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ngx_http_fluentai_mail_msg.h"


#define NGX_HTTP_FLUENTAI_MAIL_WORD_BYTES   42    /* 56 base64 chars */
#define NGX_HTTP_FLUENTAI_MAIL_BODY_BYTES   57    /* 76 base64 chars */
#define NGX_HTTP_FLUENTAI_MAIL_PLAIN_MAX    69    /* "Subject: " + 69 = 78 */


typedef struct {
    char     *p;
    size_t    len;
    size_t    cap;
    int       failed;
} ngx_http_fluentai_mbuf_t;


static const char  *ngx_http_fluentai_mail_var_names[] = {
    "{{name}}", "{{link}}", "{{lifetime}}"
};


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


static void
ngx_http_fluentai_mbuf_add(ngx_http_fluentai_mbuf_t *b, const char *s,
    size_t len)
{
    char    *p;
    size_t   cap;

    if (b->failed) {
        return;
    }

    if (b->len + len + 1 > b->cap) {
        cap = b->cap ? b->cap : 1024;

        while (cap < b->len + len + 1) {
            cap *= 2;
        }

        p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }

        b->p = p;
        b->cap = cap;
    }

    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}


static void
ngx_http_fluentai_mbuf_str(ngx_http_fluentai_mbuf_t *b, const char *s)
{
    ngx_http_fluentai_mbuf_add(b, s, strlen(s));
}


/* bytes of the UTF-8 sequence at s (at most left), 0 if invalid */

static size_t
ngx_http_fluentai_mail_utf8(const unsigned char *s, size_t left)
{
    size_t         n, i;
    unsigned long  cp, min;

    if (s[0] < 0x80) {
        return 1;
    }

    if ((s[0] & 0xe0) == 0xc0) {
        n = 2; cp = s[0] & 0x1f; min = 0x80;

    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3; cp = s[0] & 0x0f; min = 0x800;

    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4; cp = s[0] & 0x07; min = 0x10000;

    } else {
        return 0;
    }

    if (n > left) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (s[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


static int
ngx_http_fluentai_mail_utf8_ok(const char *s, size_t len)
{
    size_t  i, n;

    for (i = 0; i < len; i += n) {
        n = ngx_http_fluentai_mail_utf8((const unsigned char *) s + i,
                                        len - i);
        if (n == 0 || s[i] == '\0') {
            return 0;
        }
    }

    return 1;
}


static int
ngx_http_fluentai_mail_atext(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}


static const char *
ngx_http_fluentai_mail_addr_check(const char *s, size_t len,
    ngx_http_fluentai_mstr_t *domain)
{
    size_t       i, at, label;
    const char  *p;

    if (len == 0 || len > NGX_HTTP_FLUENTAI_MAIL_ADDR_MAX) {
        return "address length";
    }

    p = memchr(s, '@', len);
    if (p == NULL) {
        return "no \"@\" in the address";
    }

    at = p - s;

    if (at == 0 || at > 64 || s[0] == '.' || s[at - 1] == '.') {
        return "invalid local part";
    }

    for (i = 0; i < at; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.') {
                return "invalid local part";
            }
            continue;
        }

        if (!ngx_http_fluentai_mail_atext((unsigned char) s[i])) {
            return "invalid character in the local part";
        }
    }

    if (at + 1 >= len) {
        return "empty domain";
    }

    label = 0;

    for (i = at + 1; i < len; i++) {
        if (s[i] == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return "invalid domain";
            }
            label = 0;
            continue;
        }

        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')
            || (label == 0 && s[i] == '-')
            || ++label > 63)
        {
            return "invalid domain";
        }
    }

    if (label == 0 || s[len - 1] == '-') {
        return "invalid domain";
    }

    domain->data = s + at + 1;
    domain->len = len - at - 1;

    return NULL;
}


const char *
ngx_http_fluentai_mailbox_parse(const char *s, size_t len,
    ngx_http_fluentai_mailbox_t *mb)
{
    size_t       i;
    const char  *end, *lt, *name, *name_end, *err;

    memset(mb, 0, sizeof(ngx_http_fluentai_mailbox_t));

    if (!ngx_http_fluentai_mail_utf8_ok(s, len)) {
        return "not UTF-8";
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return "control character";
        }
    }

    end = s + len;

    while (end > s && end[-1] == ' ') {
        end--;
    }

    while (s < end && *s == ' ') {
        s++;
    }

    lt = memchr(s, '<', end - s);

    if (lt == NULL) {
        mb->addr.data = s;
        mb->addr.len = end - s;
        return ngx_http_fluentai_mail_addr_check(mb->addr.data, mb->addr.len,
                                                 &mb->domain);
    }

    if (end[-1] != '>' || memchr(lt + 1, '<', end - lt - 1)) {
        return "expected \"Name <address>\"";
    }

    name = s;
    name_end = lt;

    while (name_end > name && name_end[-1] == ' ') {
        name_end--;
    }

    /* a quoted display name is taken without its quotes */

    if (name_end - name >= 2 && *name == '"' && name_end[-1] == '"') {
        name++;
        name_end--;
    }

    if (memchr(name, '"', name_end - name)
        || memchr(name, '\\', name_end - name))
    {
        return "quote or backslash in the display name";
    }

    mb->name.data = name;
    mb->name.len = name_end - name;
    mb->addr.data = lt + 1;
    mb->addr.len = end - 1 - (lt + 1);

    err = ngx_http_fluentai_mail_addr_check(mb->addr.data, mb->addr.len,
                                            &mb->domain);

    return err;
}


/* the template's parts: subject (after "Subject: ") and body */

static const char *
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

    if (!ngx_http_fluentai_mail_utf8_ok(s, len)) {
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


/* the template part with the placeholders replaced */

static void
ngx_http_fluentai_mail_expand(ngx_http_fluentai_mbuf_t *b,
    ngx_http_fluentai_mstr_t *part, const ngx_http_fluentai_mail_t *m)
{
    size_t       i, k, n;
    const char  *p, *end;

    p = part->data;
    end = p + part->len;

    while (p < end) {

        if (*p == '{' && end - p > 1 && p[1] == '{') {
            for (k = 0; k < NGX_HTTP_FLUENTAI_MAIL_VARS; k++) {
                n = strlen(ngx_http_fluentai_mail_var_names[k]);

                if ((size_t) (end - p) >= n
                    && memcmp(p, ngx_http_fluentai_mail_var_names[k], n) == 0)
                {
                    ngx_http_fluentai_mbuf_add(b, m->vars[k].data,
                                               m->vars[k].len);
                    p += n;
                    break;
                }
            }

            if (k < NGX_HTTP_FLUENTAI_MAIL_VARS) {
                continue;
            }
        }

        for (i = 1; p + i < end && p[i] != '{'; i++) { /* void */ }

        ngx_http_fluentai_mbuf_add(b, p, i);
        p += i;
    }
}


static void
ngx_http_fluentai_mail_b64(ngx_http_fluentai_mbuf_t *b, const char *s,
    size_t len)
{
    int            n;
    unsigned char  out[4 * NGX_HTTP_FLUENTAI_MAIL_BODY_BYTES / 3 + 4];

    n = EVP_EncodeBlock(out, (const unsigned char *) s, (int) len);

    ngx_http_fluentai_mbuf_add(b, (char *) out, n);
}


/*
 * A header value of UTF-8 text: as is when it is short printable ASCII
 * (and "=?" free), else RFC 2047 "B" encoded-words of whole characters,
 * folded one per line.  Control characters were replaced by spaces.
 */

static void
ngx_http_fluentai_mail_words(ngx_http_fluentai_mbuf_t *b, const char *s,
    size_t len, int phrase)
{
    int          plain;
    size_t       i, n, start;
    const char  *special;

    special = phrase ? "\"(),.:;<>@[\\]" : "";
    plain = (len <= NGX_HTTP_FLUENTAI_MAIL_PLAIN_MAX);

    for (i = 0; plain && i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e
            || strchr(special, s[i]) != NULL
            || (i + 1 < len && s[i] == '=' && s[i + 1] == '?'))
        {
            plain = 0;
        }
    }

    if (plain) {
        ngx_http_fluentai_mbuf_add(b, s, len);
        return;
    }

    start = 0;

    while (start < len) {
        i = start;

        while (i < len) {
            n = ngx_http_fluentai_mail_utf8((const unsigned char *) s + i,
                                            len - i);
            if (n == 0) {
                n = 1;
            }

            if (i + n - start > NGX_HTTP_FLUENTAI_MAIL_WORD_BYTES) {
                break;
            }

            i += n;
        }

        if (start > 0) {
            ngx_http_fluentai_mbuf_str(b, "\r\n ");
        }

        ngx_http_fluentai_mbuf_str(b, "=?UTF-8?B?");
        ngx_http_fluentai_mail_b64(b, s + start, i - start);
        ngx_http_fluentai_mbuf_str(b, "?=");

        start = i;
    }
}


/* text for a header: placeholders expanded, controls made spaces */

static int
ngx_http_fluentai_mail_header_text(ngx_http_fluentai_mbuf_t *t,
    ngx_http_fluentai_mstr_t *part, const ngx_http_fluentai_mail_t *m)
{
    size_t  i;

    ngx_http_fluentai_mail_expand(t, part, m);

    if (t->failed || t->p == NULL) {
        return t->failed ? -1 : 0;
    }

    for (i = 0; i < t->len; i++) {
        if ((unsigned char) t->p[i] < 0x20 || t->p[i] == 0x7f) {
            t->p[i] = ' ';
        }
    }

    return 0;
}


static void
ngx_http_fluentai_mail_mailbox(ngx_http_fluentai_mbuf_t *b,
    const char *header, const ngx_http_fluentai_mailbox_t *mb)
{
    ngx_http_fluentai_mbuf_t  t;
    size_t                    i;

    ngx_http_fluentai_mbuf_str(b, header);

    if (mb->name.len) {
        memset(&t, 0, sizeof(ngx_http_fluentai_mbuf_t));
        ngx_http_fluentai_mbuf_add(&t, mb->name.data, mb->name.len);

        if (t.failed) {
            b->failed = 1;
            return;
        }

        for (i = 0; i < t.len; i++) {
            if ((unsigned char) t.p[i] < 0x20 || t.p[i] == 0x7f) {
                t.p[i] = ' ';
            }
        }

        ngx_http_fluentai_mail_words(b, t.p, t.len, 1);
        ngx_http_fluentai_mbuf_str(b, "\r\n <");
        free(t.p);

    } else {
        ngx_http_fluentai_mbuf_str(b, "<");
    }

    ngx_http_fluentai_mbuf_add(b, mb->addr.data, mb->addr.len);
    ngx_http_fluentai_mbuf_str(b, ">\r\n");
}


/* the body: expanded, LF and CRLF line ends made CRLF, base64 lines */

static void
ngx_http_fluentai_mail_body(ngx_http_fluentai_mbuf_t *b,
    ngx_http_fluentai_mstr_t *part, const ngx_http_fluentai_mail_t *m)
{
    size_t                    i, n;
    ngx_http_fluentai_mbuf_t  t, crlf;

    memset(&t, 0, sizeof(ngx_http_fluentai_mbuf_t));
    memset(&crlf, 0, sizeof(ngx_http_fluentai_mbuf_t));

    ngx_http_fluentai_mail_expand(&t, part, m);

    for (i = 0; !t.failed && i < t.len; i++) {
        if (t.p[i] == '\r') {
            continue;
        }

        if (t.p[i] == '\n') {
            ngx_http_fluentai_mbuf_add(&crlf, "\r\n", 2);
            continue;
        }

        ngx_http_fluentai_mbuf_add(&crlf, t.p + i, 1);
    }

    if (t.failed || crlf.failed) {
        b->failed = 1;
        goto done;
    }

    for (i = 0; i < crlf.len; i += n) {
        n = crlf.len - i;
        if (n > NGX_HTTP_FLUENTAI_MAIL_BODY_BYTES) {
            n = NGX_HTTP_FLUENTAI_MAIL_BODY_BYTES;
        }

        ngx_http_fluentai_mail_b64(b, crlf.p + i, n);
        ngx_http_fluentai_mbuf_str(b, "\r\n");
    }

done:

    free(t.p);
    free(crlf.p);
}


char *
ngx_http_fluentai_mail_build(const ngx_http_fluentai_mail_t *m, size_t *len)
{
    char                       date[64];
    size_t                     k;
    struct tm                  tm;
    ngx_http_fluentai_mstr_t   subject, body, domain;
    ngx_http_fluentai_mbuf_t   b, t;

    if (ngx_http_fluentai_mail_template_check(m->tmpl.data, m->tmpl.len)
        || ngx_http_fluentai_mail_addr_check(m->to.addr.data, m->to.addr.len,
                                             &domain)
        || ngx_http_fluentai_mail_addr_check(m->from.addr.data,
                                             m->from.addr.len, &domain)
        || ngx_http_fluentai_mail_split(m->tmpl.data, m->tmpl.len,
                                        &subject, &body)
        || m->from.addr.len == 0 || m->from.domain.len == 0
        || m->to.addr.len == 0 || m->id.len == 0 || m->id.len > 128)
    {
        return NULL;
    }

    for (k = 0; k < NGX_HTTP_FLUENTAI_MAIL_VARS; k++) {
        if (!ngx_http_fluentai_mail_utf8_ok(m->vars[k].data, m->vars[k].len))
        {
            return NULL;
        }
    }

    for (k = 0; k < m->id.len; k++) {
        if (!ngx_http_fluentai_mail_atext((unsigned char) m->id.data[k])
            && m->id.data[k] != '.')
        {
            return NULL;
        }
    }

    if (gmtime_r(&m->date, &tm) == NULL
        || strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm)
           == 0)
    {
        return NULL;
    }

    memset(&b, 0, sizeof(ngx_http_fluentai_mbuf_t));
    memset(&t, 0, sizeof(ngx_http_fluentai_mbuf_t));

    ngx_http_fluentai_mbuf_str(&b, "Date: ");
    ngx_http_fluentai_mbuf_str(&b, date);
    ngx_http_fluentai_mbuf_str(&b, "\r\n");

    ngx_http_fluentai_mail_mailbox(&b, "From: ", &m->from);
    ngx_http_fluentai_mail_mailbox(&b, "To: ", &m->to);

    ngx_http_fluentai_mbuf_str(&b, "Message-ID: <");
    ngx_http_fluentai_mbuf_add(&b, m->id.data, m->id.len);
    ngx_http_fluentai_mbuf_str(&b, "@");
    ngx_http_fluentai_mbuf_add(&b, m->from.domain.data, m->from.domain.len);
    ngx_http_fluentai_mbuf_str(&b, ">\r\n");

    ngx_http_fluentai_mbuf_str(&b, "Subject: ");

    if (ngx_http_fluentai_mail_header_text(&t, &subject, m) != 0) {
        b.failed = 1;

    } else {
        ngx_http_fluentai_mail_words(&b, t.p ? t.p : "", t.len, 0);
    }

    free(t.p);

    ngx_http_fluentai_mbuf_str(&b, "\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: text/plain; charset=UTF-8\r\n"
                               "Content-Transfer-Encoding: base64\r\n"
                               "Auto-Submitted: auto-generated\r\n"
                               "\r\n");

    ngx_http_fluentai_mail_body(&b, &body, m);

    if (b.failed) {
        free(b.p);
        return NULL;
    }

    *len = b.len;

    return b.p;
}


char *
ngx_http_fluentai_mail_smtp_data(const char *msg, size_t len,
    size_t *out_len)
{
    size_t                    i;
    int                       bol;
    ngx_http_fluentai_mbuf_t  b;

    memset(&b, 0, sizeof(ngx_http_fluentai_mbuf_t));

    bol = 1;

    for (i = 0; i < len; i++) {

        if (bol && msg[i] == '.') {
            ngx_http_fluentai_mbuf_add(&b, ".", 1);
        }

        if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r')) {
            ngx_http_fluentai_mbuf_add(&b, "\r", 1);
        }

        ngx_http_fluentai_mbuf_add(&b, msg + i, 1);
        bol = (msg[i] == '\n');
    }

    if (!bol) {
        ngx_http_fluentai_mbuf_add(&b, "\r\n", 2);
    }

    ngx_http_fluentai_mbuf_add(&b, ".\r\n", 3);

    if (b.failed) {
        free(b.p);
        return NULL;
    }

    *out_len = b.len;

    return b.p;
}
