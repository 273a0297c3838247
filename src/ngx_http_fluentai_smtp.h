
/*
 * An SMTP client on nginx events: one message to one recipient per
 * session, non-blocking connect, every wait a timer, optional STARTTLS
 * (certificate and host name verified) and AUTH PLAIN.  Knows nothing of
 * HTTP or PostgreSQL.
 */

#ifndef _NGX_HTTP_FLUENTAI_SMTP_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_SMTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>


/* the outcome handed to the done callback */
#define NGX_HTTP_FLUENTAI_SMTP_SENT       0
#define NGX_HTTP_FLUENTAI_SMTP_TEMPFAIL   1    /* retry later */
#define NGX_HTTP_FLUENTAI_SMTP_PERMFAIL   2    /* 5xx for this message */


typedef struct {
    ngx_addr_t                     *addr;       /* resolved at startup */
    ngx_str_t                       host;       /* as configured */
    ngx_str_t                       helo;
    ngx_msec_t                      timeout;    /* per step */
    ngx_flag_t                      starttls;
#if (NGX_SSL)
    ngx_ssl_t                      *ssl;
#endif
    ngx_str_t                       user;       /* AUTH PLAIN if set */
    ngx_str_t                       password;
} ngx_http_fluentai_smtp_conf_t;


typedef struct ngx_http_fluentai_smtp_s  ngx_http_fluentai_smtp_t;

/*
 * rc is one of the outcomes above; reply is the server's last reply
 * line or a short description of the failure (never message content).
 */
typedef void (*ngx_http_fluentai_smtp_done_pt)(void *data, ngx_uint_t rc,
    ngx_str_t *reply);


/*
 * Starts a session that sends data (already dot-stuffed and terminated,
 * see ngx_http_fluentai_mail_smtp_data()) from "from" to "rcpt"; the
 * session copies nothing: from, rcpt and data must live until done is
 * called.  done is called exactly once, never from inside this call;
 * NULL: no session (out of memory), done will not be called.
 */
ngx_http_fluentai_smtp_t *ngx_http_fluentai_smtp_send(
    ngx_http_fluentai_smtp_conf_t *conf, ngx_str_t *from, ngx_str_t *rcpt,
    ngx_str_t *data, ngx_http_fluentai_smtp_done_pt done, void *done_data,
    ngx_log_t *log);

/* ends a session at once; done is not called */
void ngx_http_fluentai_smtp_abort(ngx_http_fluentai_smtp_t *s);


#endif /* _NGX_HTTP_FLUENTAI_SMTP_H_INCLUDED_ */
