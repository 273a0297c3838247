
/*
 * An SMTP client on nginx events (RFC 5321, RFC 3207 STARTTLS, RFC 4954
 * AUTH PLAIN).  One session sends one message to one recipient:
 *
 *   connect -> 220 -> EHLO -> [STARTTLS -> TLS -> EHLO] -> [AUTH PLAIN]
 *   -> MAIL FROM -> RCPT TO -> DATA -> message -> 250 -> QUIT
 *
 * Nothing blocks: the connect is nginx's non-blocking one, every wait for
 * the relay is bounded by a timer.  A failure before the message was
 * accepted is temporary (connection, timeout, 4xx, a relay that does not
 * offer what is configured) except a 5xx to MAIL, RCPT or the message,
 * which is permanent for the message.  Nothing of the message, and no
 * credential, is ever logged.
 *
 * This file: a session's life, its connection, reading replies; which
 * command answers which reply: ngx_http_fluentai_smtp_dialog.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_fluentai_smtp_int.h"


static ngx_int_t ngx_http_fluentai_smtp_write(ngx_http_fluentai_smtp_t *s);
static ngx_int_t ngx_http_fluentai_smtp_read(ngx_http_fluentai_smtp_t *s);
static ngx_int_t ngx_http_fluentai_smtp_line(ngx_http_fluentai_smtp_t *s,
    u_char *p, size_t len);
static ngx_int_t ngx_http_fluentai_smtp_test_connect(ngx_connection_t *c);
static void ngx_http_fluentai_smtp_posted(ngx_event_t *ev);
static void ngx_http_fluentai_smtp_close(ngx_http_fluentai_smtp_t *s);


ngx_http_fluentai_smtp_t *
ngx_http_fluentai_smtp_send(ngx_http_fluentai_smtp_conf_t *conf,
    ngx_str_t *from, ngx_str_t *rcpt, ngx_str_t *data,
    ngx_http_fluentai_smtp_done_pt done, void *done_data, ngx_log_t *log)
{
    ngx_int_t                  rc;
    ngx_pool_t                *pool;
    ngx_connection_t          *c;
    ngx_http_fluentai_smtp_t  *s;

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return NULL;
    }

    s = ngx_pcalloc(pool, sizeof(ngx_http_fluentai_smtp_t));
    if (s == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    s->pool = pool;
    s->conf = conf;
    s->from = from;
    s->rcpt = rcpt;
    s->data = data;
    s->done = done;
    s->done_data = done_data;

    s->log = *log;
    s->log.action = "sending mail to the SMTP relay";
    pool->log = &s->log;

    s->post.handler = ngx_http_fluentai_smtp_posted;
    s->post.data = s;
    s->post.log = &s->log;

    s->peer.sockaddr = conf->addr->sockaddr;
    s->peer.socklen = conf->addr->socklen;
    s->peer.name = &conf->addr->name;
    s->peer.get = ngx_event_get_peer;
    s->peer.log = &s->log;
    s->peer.log_error = NGX_ERROR_ERR;

    s->state = NGX_HTTP_FLUENTAI_SMTP_CONNECT;

    rc = ngx_event_connect_peer(&s->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "cannot connect");
        return s;
    }

    c = s->peer.connection;
    c->data = s;
    c->pool = pool;
    c->log = &s->log;
    c->read->log = &s->log;
    c->write->log = &s->log;
    c->read->handler = ngx_http_fluentai_smtp_event;
    c->write->handler = ngx_http_fluentai_smtp_event;

    if (rc == NGX_AGAIN) {
        ngx_add_timer(c->write, conf->timeout);
        return s;
    }

    /* connected at once (loopback): the greeting comes by event */

    s->state = NGX_HTTP_FLUENTAI_SMTP_GREETING;
    ngx_add_timer(c->read, conf->timeout);

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "event registration failed");
    }

    return s;
}


void
ngx_http_fluentai_smtp_abort(ngx_http_fluentai_smtp_t *s)
{
    s->done = NULL;
    ngx_http_fluentai_smtp_close(s);
}


void
ngx_http_fluentai_smtp_event(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_fluentai_smtp_t  *s;

    c = ev->data;
    s = c->data;

    if (ev->timedout) {
        ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                    "timed out");
        return;
    }

    if (s->state == NGX_HTTP_FLUENTAI_SMTP_CONNECT) {
        if (ngx_http_fluentai_smtp_test_connect(c) != NGX_OK) {
            ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                        "connection failed");
            return;
        }

        if (c->write->timer_set) {
            ngx_del_timer(c->write);
        }

        s->state = NGX_HTTP_FLUENTAI_SMTP_GREETING;
    }

    ngx_http_fluentai_smtp_run(s);
}


/* write what is pending, read a reply, act on it; until something waits */

void
ngx_http_fluentai_smtp_run(ngx_http_fluentai_smtp_t *s)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = s->peer.connection;

    for ( ;; ) {

        if (s->out_len) {
            rc = ngx_http_fluentai_smtp_write(s);

            if (rc == NGX_ERROR) {
                ngx_http_fluentai_smtp_fail(s,
                                            NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                            "connection lost");
                return;
            }

            if (rc == NGX_AGAIN) {
                ngx_add_timer(c->write, s->conf->timeout);

                if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                    ngx_http_fluentai_smtp_fail(s,
                                            NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                            "event registration failed");
                }

                return;
            }

            if (c->write->timer_set) {
                ngx_del_timer(c->write);
            }
        }

        rc = ngx_http_fluentai_smtp_read(s);

        if (rc == NGX_ERROR) {
            ngx_http_fluentai_smtp_fail(s, NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                        "connection lost or bad reply");
            return;
        }

        if (rc == NGX_AGAIN) {
            if (!c->read->timer_set) {
                ngx_add_timer(c->read, s->conf->timeout);
            }

            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                ngx_http_fluentai_smtp_fail(s,
                                            NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL,
                                            "event registration failed");
            }

            return;
        }

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        rc = ngx_http_fluentai_smtp_step(s);

        if (rc != NGX_OK) {
            /* finished, failed, or waiting for the TLS handshake */
            return;
        }
    }
}


static ngx_int_t
ngx_http_fluentai_smtp_write(ngx_http_fluentai_smtp_t *s)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = s->peer.connection;

    while (s->out_len) {
        n = c->send(c, s->out, s->out_len);

        if (n == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (n <= 0) {
            return NGX_ERROR;
        }

        s->out += n;
        s->out_len -= n;
    }

    return NGX_OK;
}


/* NGX_OK: a whole reply is in s->code (and s->reply), NGX_AGAIN: more */

static ngx_int_t
ngx_http_fluentai_smtp_read(ngx_http_fluentai_smtp_t *s)
{
    u_char            *p, *nl;
    size_t             len;
    ssize_t            n;
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = s->peer.connection;

    for ( ;; ) {

        /* complete lines already buffered */

        while ((nl = ngx_strlchr(s->in, s->in + s->in_len, '\n')) != NULL) {
            p = s->in;
            len = nl - p;

            if (len && p[len - 1] == '\r') {
                len--;
            }

            rc = ngx_http_fluentai_smtp_line(s, p, len);

            s->in_len -= nl + 1 - s->in;
            ngx_memmove(s->in, nl + 1, s->in_len);

            if (rc != NGX_AGAIN) {
                return rc;
            }
        }

        if (s->in_len == sizeof(s->in)) {
            return NGX_ERROR;          /* a line longer than 4k */
        }

        n = c->recv(c, s->in + s->in_len, sizeof(s->in) - s->in_len);

        if (n == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (n <= 0) {
            return NGX_ERROR;
        }

        s->in_len += n;
    }
}


/* one reply line: NGX_AGAIN (more lines follow), NGX_OK (last), error */

static ngx_int_t
ngx_http_fluentai_smtp_line(ngx_http_fluentai_smtp_t *s, u_char *p,
    size_t len)
{
    size_t      i, n;
    ngx_int_t   code;

    if (len < 3 || (len > 3 && p[3] != ' ' && p[3] != '-')) {
        return NGX_ERROR;
    }

    code = ngx_atoi(p, 3);
    if (code < 200 || code > 599 || (s->lines && (ngx_uint_t) code != s->code))
    {
        return NGX_ERROR;
    }

    s->code = code;

    /* EHLO keywords, from the second line on */

    if (s->state == NGX_HTTP_FLUENTAI_SMTP_EHLO && s->lines > 0 && len > 4) {
        if (len - 4 == 8 && ngx_strncasecmp(p + 4, (u_char *) "STARTTLS", 8)
                            == 0)
        {
            s->has_starttls = 1;
        }

        if (len - 4 > 5 && ngx_strncasecmp(p + 4, (u_char *) "AUTH", 4) == 0
            && ngx_strlcasestrn(p + 8, p + len, (u_char *) "PLAIN", 5 - 1))
        {
            s->has_auth_plain = 1;
        }
    }

    s->lines++;

    if (len > 3 && p[3] == '-') {
        return NGX_AGAIN;
    }

    /* the last line, printable characters only, for the caller */

    n = ngx_min(len, NGX_HTTP_FLUENTAI_SMTP_REPLY);

    for (i = 0; i < n; i++) {
        s->reply_buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
    }

    s->reply.data = s->reply_buf;
    s->reply.len = n;
    s->lines = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_fluentai_smtp_test_connect(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        (void) ngx_connection_error(c, err, "connect() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the end of a session, successful or not: done runs from a posted event */

void
ngx_http_fluentai_smtp_fail(ngx_http_fluentai_smtp_t *s, ngx_uint_t rc,
    const char *why)
{
    if (s->sent) {
        rc = NGX_HTTP_FLUENTAI_SMTP_SENT;     /* a QUIT that went wrong */
    }

    s->outcome = rc;

    if (why && rc != NGX_HTTP_FLUENTAI_SMTP_SENT) {
        s->reply.data = (u_char *) why;
        s->reply.len = ngx_strlen(why);
    }

    if (s->peer.connection) {
        ngx_http_fluentai_smtp_close(s);
        s->peer.connection = NULL;
    }

    ngx_post_event(&s->post, &ngx_posted_events);
}


static void
ngx_http_fluentai_smtp_posted(ngx_event_t *ev)
{
    ngx_http_fluentai_smtp_t  *s;

    s = ev->data;

    if (s->done) {
        s->done(s->done_data, s->outcome, &s->reply);
    }

    ngx_destroy_pool(s->pool);
}


/* closes the connection; without one left, frees the session */

static void
ngx_http_fluentai_smtp_close(ngx_http_fluentai_smtp_t *s)
{
    ngx_connection_t  *c;

    c = s->peer.connection;

    if (c) {
        s->peer.connection = NULL;

#if (NGX_SSL)
        if (c->ssl) {
            c->ssl->no_wait_shutdown = 1;
            c->ssl->no_send_shutdown = 1;
            (void) ngx_ssl_shutdown(c);
        }
#endif

        c->pool = NULL;
        ngx_close_connection(c);

        if (s->done) {
            return;         /* the posted event frees the session */
        }
    }

    if (s->post.posted) {
        ngx_delete_posted_event(&s->post);
    }

    ngx_destroy_pool(s->pool);
}
