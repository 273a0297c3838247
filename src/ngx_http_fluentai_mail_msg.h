
/*
 * Mail messages: RFC 5322 + MIME text from a template.  Pure C (OpenSSL
 * for base64 only), no nginx, so it is unit-tested and fuzzed.
 *
 * A template is UTF-8 text: a first line "Subject: ...", an empty line,
 * then the body.  {{name}}, {{link}} and {{lifetime}} are replaced
 * wherever they occur; {{link}} must occur in the body.  The message is
 * text/plain; charset=UTF-8, base64 body, the subject and display names
 * as RFC 2047 encoded-words when not plain ASCII; lines end in CRLF.
 */

#ifndef _NGX_HTTP_FLUENTAI_MAIL_MSG_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_MAIL_MSG_H_INCLUDED_


#include <stddef.h>
#include <time.h>


#define NGX_HTTP_FLUENTAI_MAIL_ADDR_MAX   254
#define NGX_HTTP_FLUENTAI_MAIL_VARS       3     /* name, link, lifetime */


typedef struct {
    const char   *data;
    size_t        len;
} ngx_http_fluentai_mstr_t;


/* a parsed "Display Name <local@domain>" or "local@domain" */
typedef struct {
    ngx_http_fluentai_mstr_t  name;     /* may be empty */
    ngx_http_fluentai_mstr_t  addr;
    ngx_http_fluentai_mstr_t  domain;   /* points into addr */
} ngx_http_fluentai_mailbox_t;


typedef struct {
    ngx_http_fluentai_mailbox_t  from;
    ngx_http_fluentai_mailbox_t  to;
    ngx_http_fluentai_mstr_t     tmpl;
    ngx_http_fluentai_mstr_t     vars[NGX_HTTP_FLUENTAI_MAIL_VARS];
    ngx_http_fluentai_mstr_t     id;        /* Message-ID left part */
    time_t                       date;
} ngx_http_fluentai_mail_t;


/*
 * The built-in English templates (identical to the files shipped in
 * mail/), kind 0: reset password, 1: verify email.
 */
extern const char  *ngx_http_fluentai_mail_default_tmpl[2];


/*
 * Parses a mailbox as configured or stored: an address is a dot-atom
 * local part (RFC 5322 atext), '@', a domain of [A-Za-z0-9-] labels.
 * Returns NULL, or what is wrong.
 */
const char *ngx_http_fluentai_mailbox_parse(const char *s, size_t len,
    ngx_http_fluentai_mailbox_t *mb);

/* NULL, or what is wrong with the template */
const char *ngx_http_fluentai_mail_template_check(const char *s,
    size_t len);

/* "1 hour", "24 hours", "30 minutes", "3 days", "90 seconds" */
size_t ngx_http_fluentai_mail_lifetime(long seconds, char *buf,
    size_t size);

/*
 * The whole message in malloc()ed memory (*len bytes, NUL-terminated),
 * or NULL (bad input, out of memory).
 */
char *ngx_http_fluentai_mail_build(const ngx_http_fluentai_mail_t *m,
    size_t *len);

/*
 * Between the mail_*.c files: RFC 5322 atext (mail_addr.c); the address
 * rule of ngx_http_fluentai_mailbox_parse() on a bare address, *domain
 * set to its domain (mail_addr.c); a template's subject (after
 * "Subject: ", trimmed) and body (mail_tmpl.c).  NULL, or what is wrong.
 */
int ngx_http_fluentai_mail_atext(int c);
const char *ngx_http_fluentai_mail_addr_check(const char *s, size_t len,
    ngx_http_fluentai_mstr_t *domain);
const char *ngx_http_fluentai_mail_split(const char *s, size_t len,
    ngx_http_fluentai_mstr_t *subject, ngx_http_fluentai_mstr_t *body);

/*
 * The message as SMTP DATA content: dot-stuffed, bare LF made CRLF,
 * ending in CRLF "." CRLF.  malloc()ed, or NULL.
 */
char *ngx_http_fluentai_mail_smtp_data(const char *msg, size_t len,
    size_t *out_len);


#endif /* _NGX_HTTP_FLUENTAI_MAIL_MSG_H_INCLUDED_ */
