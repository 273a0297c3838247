
/*
 * Mail messages: RFC 5322 + MIME text from a template, and as SMTP DATA.
 * Pure C.  See ngx_http_fluentai_mail_msg.h; the mailboxes are parsed in
 * ngx_http_fluentai_mail_addr.c, the templates checked and split in
 * ngx_http_fluentai_mail_tmpl.c.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ngx_http_fluentai_utf8.h"
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
    int                   plain;
    size_t                i, n, start;
    const char           *special;
    const unsigned char  *p, *q, *last;

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
    last = (const unsigned char *) s + len;

    while (start < len) {
        i = start;

        while (i < len) {
            q = (const unsigned char *) s + i;
            p = q;

            if (ngx_http_fluentai_utf8_next(&p, last)
                == NGX_HTTP_FLUENTAI_UTF8_BAD)
            {
                p = q + 1;
            }

            n = p - q;

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
        if (!ngx_http_fluentai_utf8_text(m->vars[k].data, m->vars[k].len)) {
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
