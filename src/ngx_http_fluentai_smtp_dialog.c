
/*
 * The SMTP dialogue: the command that answers each reply of the relay,
 * STARTTLS (RFC 3207: the certificate and the host name verified, EHLO
 * again) and AUTH PLAIN (RFC 4954: only on an encrypted session).  The
 * session and its connection: ngx_http_fluentai_smtp.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_fluentai_smtp_int.h"


static ngx_int_t ngx_http_fluentai_smtp_after_ehlo(
    ngx_http_fluentai_smtp_t *s);
static void ngx_http_fluentai_smtp_cmd(ngx_http_fluentai_smtp_t *s,
    ngx_uint_t state, const char *verb, ngx_str_t *arg, const char *end);
static ngx_int_t ngx_http_fluentai_smtp_auth(ngx_http_fluentai_smtp_t *s);
#if (NGX_SSL)
static ngx_int_t ngx_http_fluentai_smtp_tls(ngx_http_fluentai_smtp_t *s);
static void ngx_http_fluentai_smtp_tls_done(ngx_connection_t *c);
#endif


/* acts on the reply in s->code: NGX_OK when a command is queued */

ngx_int_t
ngx_http_fluentai_smtp_step(ngx_http_fluentai_smtp_t *s)
{
    ngx_uint_t  code, perm;

    code = s->code;
    perm = NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL;

    switch (s->state) {

    case NGX_HTTP_FLUENTAI_SMTP_GREETING:
        if (code != 220) {
            break;
        }

        s->has_starttls = 0;
        s->has_auth_plain = 0;
        ngx_http_fluentai_smtp_cmd(s, NGX_HTTP_FLUENTAI_SMTP_EHLO, "EHLO ",
                                   &s->conf->helo, "");
        return NGX_OK;

    case NGX_HTTP_FLUENTAI_SMTP_EHLO:
        if (code != 250) {
            break;
        }

        return ngx_http_fluentai_smtp_after_ehlo(s);

#if (NGX_SSL)
    case NGX_HTTP_FLUENTAI_SMTP_STARTTLS:
        if (code != 220) {
            break;
        }

        return ngx_http_fluentai_smtp_tls(s);
#endif

    case NGX_HTTP_FLUENTAI_SMTP_AUTH:
        if (code != 235) {
            ngx_log_error(NGX_LOG_ERR, &s->log, 0,
                          "fluentai: SMTP relay %V refused AUTH: \"%V\"",
                          &s->conf->host, &s->reply);
            break;
        }

        s->authed = 1;
        ngx_http_fluentai_smtp_cmd(s, NGX_HTTP_FLUENTAI_SMTP_MAIL,
                                   "MAIL FROM:<", s->from, ">");
        return NGX_OK;

    case NGX_HTTP_FLUENTAI_SMTP_MAIL:
        if (code != 250) {
            perm = (code >= 500) ? NGX_HTTP_FLUENTAI_SMTP_PERMFAIL : perm;
            break;
        }

        ngx_http_fluentai_smtp_cmd(s, NGX_HTTP_FLUENTAI_SMTP_RCPT,
                                   "RCPT TO:<", s->rcpt, ">");
        return NGX_OK;

    case NGX_HTTP_FLUENTAI_SMTP_RCPT:
        if (code != 250 && code != 251) {
            perm = (code >= 500) ? NGX_HTTP_FLUENTAI_SMTP_PERMFAIL : perm;
            break;
        }

        ngx_http_fluentai_smtp_cmd(s, NGX_HTTP_FLUENTAI_SMTP_DATA, "DATA",
                                   NULL, "");
        return NGX_OK;

    case NGX_HTTP_FLUENTAI_SMTP_DATA:
        if (code != 354) {
            perm = (code >= 500) ? NGX_HTTP_FLUENTAI_SMTP_PERMFAIL : perm;
            break;
        }

        s->state = NGX_HTTP_FLUENTAI_SMTP_BODY;
        s->out = s->data->data;
        s->out_len = s->data->len;
        return NGX_OK;

    case NGX_HTTP_FLUENTAI_SMTP_BODY:
        if (code != 250) {
            perm = (code >= 500) ? NGX_HTTP_FLUENTAI_SMTP_PERMFAIL : perm;
            break;
        }

        s->sent = 1;
        ngx_http_fluentai_smtp_cmd(s, NGX_HTTP_FLUENTAI_SMTP_QUIT, "QUIT",
                                   NULL, "");
        return NGX_OK;

    case NGX_HTTP_FLUENTAI_SMTP_QUIT:
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_SENT, NULL);
        return NGX_DONE;
    }

    ngx_http_fluentai_smtp_fail(s, perm, NULL);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_fluentai_smtp_after_ehlo(ngx_http_fluentai_smtp_t *s)
{
    if (s->conf->starttls && !s->tls) {
#if (NGX_SSL)
        if (s->has_starttls) {
            ngx_http_fluentai_smtp_cmd(s, NGX_HTTP_FLUENTAI_SMTP_STARTTLS,
                                       "STARTTLS", NULL, "");
            return NGX_OK;
        }
#endif

        ngx_log_error(NGX_LOG_ERR, &s->log, 0,
                      "fluentai: SMTP relay %V does not offer STARTTLS",
                      &s->conf->host);
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "no STARTTLS");
        return NGX_DONE;
    }

    if (s->conf->user.len && !s->authed) {
        if (!s->has_auth_plain) {
            ngx_log_error(NGX_LOG_ERR, &s->log, 0,
                          "fluentai: SMTP relay %V does not offer "
                          "AUTH PLAIN", &s->conf->host);
            ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                        "no AUTH PLAIN");
            return NGX_DONE;
        }

        return ngx_http_fluentai_smtp_auth(s);
    }

    ngx_http_fluentai_smtp_cmd(s, NGX_HTTP_FLUENTAI_SMTP_MAIL,
                               "MAIL FROM:<", s->from, ">");
    return NGX_OK;
}


static void
ngx_http_fluentai_smtp_cmd(ngx_http_fluentai_smtp_t *s, ngx_uint_t state,
    const char *verb, ngx_str_t *arg, const char *end)
{
    u_char  *p, *last;

    p = s->cmd;
    last = s->cmd + sizeof(s->cmd) - 2;

    p = ngx_slprintf(p, last, "%s", verb);

    if (arg) {
        p = ngx_slprintf(p, last, "%V", arg);
    }

    p = ngx_slprintf(p, last, "%s", end);
    *p++ = '\r';
    *p++ = '\n';

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, &s->log, 0,
                   "fluentai smtp: state %ui, %s", state, verb);

    s->state = state;
    s->out = s->cmd;
    s->out_len = p - s->cmd;
}


/* AUTH PLAIN <base64("\0user\0password")>, only on an encrypted session */

static ngx_int_t
ngx_http_fluentai_smtp_auth(ngx_http_fluentai_smtp_t *s)
{
    u_char     *p;
    ngx_str_t   plain, b64;
    u_char      buf[NGX_HTTP_FLUENTAI_SMTP_CMD / 2];

    plain.len = 2 + s->conf->user.len + s->conf->password.len;

    if (!s->tls || plain.len > sizeof(buf)
        || ngx_base64_encoded_length(plain.len) + 13 > sizeof(s->cmd))
    {
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "AUTH not possible");
        return NGX_DONE;
    }

    p = buf;
    *p++ = '\0';
    p = ngx_cpymem(p, s->conf->user.data, s->conf->user.len);
    *p++ = '\0';
    p = ngx_cpymem(p, s->conf->password.data, s->conf->password.len);

    plain.data = buf;

    p = ngx_cpymem(s->cmd, "AUTH PLAIN ", 11);
    b64.data = p;
    ngx_encode_base64(&b64, &plain);
    p += b64.len;
    *p++ = '\r';
    *p++ = '\n';

    ngx_explicit_memzero(buf, sizeof(buf));

    s->state = NGX_HTTP_FLUENTAI_SMTP_AUTH;
    s->out = s->cmd;
    s->out_len = p - s->cmd;

    return NGX_OK;
}


#if (NGX_SSL)

static ngx_int_t
ngx_http_fluentai_smtp_tls(ngx_http_fluentai_smtp_t *s)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = s->peer.connection;

    if (s->in_len) {
        /* plain text after "220" would be injected into the TLS session */
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "data after the STARTTLS reply");
        return NGX_DONE;
    }

    if (ngx_ssl_create_connection(s->conf->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "TLS setup failed");
        return NGX_DONE;
    }

    if (SSL_set_tlsext_host_name(c->ssl->connection,
                                 (char *) s->conf->host.data)
        != 1)
    {
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "TLS setup failed");
        return NGX_DONE;
    }

    s->state = NGX_HTTP_FLUENTAI_SMTP_STARTTLS;

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, s->conf->timeout);
        }

        c->ssl->handler = ngx_http_fluentai_smtp_tls_done;
        return NGX_DONE;
    }

    ngx_http_fluentai_smtp_tls_done(c);

    return NGX_DONE;
}


static void
ngx_http_fluentai_smtp_tls_done(ngx_connection_t *c)
{
    long                       rc;
    ngx_http_fluentai_smtp_t  *s;

    s = c->data;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (!c->ssl->handshaked) {
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "TLS handshake failed");
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(NGX_LOG_ERR, &s->log, 0,
                      "fluentai: SMTP relay %V: certificate verify "
                      "error: (%l:%s)", &s->conf->host, rc,
                      X509_verify_cert_error_string(rc));
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "certificate not trusted");
        return;
    }

    if (ngx_ssl_check_host(c, &s->conf->host) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, &s->log, 0,
                      "fluentai: SMTP relay certificate does not match "
                      "\"%V\"", &s->conf->host);
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "certificate name mismatch");
        return;
    }

    s->tls = 1;
    c->read->handler = ngx_http_fluentai_smtp_event;
    c->write->handler = ngx_http_fluentai_smtp_event;

    /* RFC 3207: forget what was learnt before TLS, greet again */

    s->has_starttls = 0;
    s->has_auth_plain = 0;
    ngx_http_fluentai_smtp_cmd(s, NGX_HTTP_FLUENTAI_SMTP_EHLO, "EHLO ",
                               &s->conf->helo, "");

    ngx_http_fluentai_smtp_run(s);
}

#endif
