
/*
 * Between the SMTP client's files only: the session (smtp.c: its life,
 * the connection, reading replies) and the dialogue (smtp_dialog.c: the
 * command that answers each reply, STARTTLS, AUTH PLAIN).
 */

#ifndef _NGX_HTTP_FLUENTAI_SMTP_INT_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_SMTP_INT_H_INCLUDED_


#include "ngx_http_fluentai_smtp.h"


#define NGX_HTTP_FLUENTAI_SMTP_CONNECT    0
#define NGX_HTTP_FLUENTAI_SMTP_GREETING   1
#define NGX_HTTP_FLUENTAI_SMTP_EHLO       2
#define NGX_HTTP_FLUENTAI_SMTP_STARTTLS   3
#define NGX_HTTP_FLUENTAI_SMTP_AUTH       4
#define NGX_HTTP_FLUENTAI_SMTP_MAIL       5
#define NGX_HTTP_FLUENTAI_SMTP_RCPT       6
#define NGX_HTTP_FLUENTAI_SMTP_DATA       7
#define NGX_HTTP_FLUENTAI_SMTP_BODY       8
#define NGX_HTTP_FLUENTAI_SMTP_QUIT       9

#define NGX_HTTP_FLUENTAI_SMTP_IN         4096
#define NGX_HTTP_FLUENTAI_SMTP_CMD        1024
#define NGX_HTTP_FLUENTAI_SMTP_REPLY      200


struct ngx_http_fluentai_smtp_s {
    ngx_http_fluentai_smtp_conf_t   *conf;
    ngx_peer_connection_t            peer;
    ngx_pool_t                      *pool;
    ngx_log_t                        log;
    ngx_event_t                      post;

    ngx_str_t                       *from;
    ngx_str_t                       *rcpt;
    ngx_str_t                       *data;
    ngx_http_fluentai_smtp_done_pt   done;
    void                            *done_data;

    ngx_uint_t                       state;
    ngx_uint_t                       outcome;
    ngx_uint_t                       code;
    ngx_uint_t                       lines;

    u_char                          *out;
    size_t                           out_len;
    size_t                           in_len;

    ngx_str_t                        reply;

    unsigned                         tls:1;
    unsigned                         has_starttls:1;
    unsigned                         has_auth_plain:1;
    unsigned                         authed:1;
    unsigned                         sent:1;

    u_char                           cmd[NGX_HTTP_FLUENTAI_SMTP_CMD];
    u_char                           in[NGX_HTTP_FLUENTAI_SMTP_IN];
    u_char                           reply_buf[NGX_HTTP_FLUENTAI_SMTP_REPLY];
};


/* smtp.c */
void ngx_http_fluentai_smtp_event(ngx_event_t *ev);
void ngx_http_fluentai_smtp_run(ngx_http_fluentai_smtp_t *s);
void ngx_http_fluentai_smtp_fail(ngx_http_fluentai_smtp_t *s, ngx_uint_t rc,
    const char *why);

/* smtp_dialog.c: acts on the reply in s->code, NGX_OK: a command queued */
ngx_int_t ngx_http_fluentai_smtp_step(ngx_http_fluentai_smtp_t *s);


#endif /* _NGX_HTTP_FLUENTAI_SMTP_INT_H_INCLUDED_ */
