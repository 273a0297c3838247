
/*
 * Account recovery and email verification: the mail module's
 * configuration (its own nginx module in the same shared object, so the
 * mail directives live with the mail code) and the outbox sender.
 */

#ifndef _NGX_HTTP_FLUENTAI_MAIL_H_INCLUDED_
#define _NGX_HTTP_FLUENTAI_MAIL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_fluentai_pg.h"
#include "ngx_http_fluentai_mail_msg.h"
#include "ngx_http_fluentai_mail_token.h"
#include "ngx_http_fluentai_smtp.h"


/* "fluentai_email_verification" */
#define NGX_HTTP_FLUENTAI_VERIFY_OFF        0
#define NGX_HTTP_FLUENTAI_VERIFY_ON         1
#define NGX_HTTP_FLUENTAI_VERIFY_REQUIRED   2

/* mail kinds: index of templates and link paths */
#define NGX_HTTP_FLUENTAI_MAIL_RESET        0
#define NGX_HTTP_FLUENTAI_MAIL_VERIFY       1


typedef struct {
    ngx_str_t                       public_url;      /* no trailing '/' */
    time_t                          ttl[2];          /* reset, verify */
    ngx_uint_t                      verification;
    ngx_str_t                       from_text;
    ngx_http_fluentai_mailbox_t     from;
    ngx_str_t                       tmpl[2];
    ngx_uint_t                      per_hour;
    time_t                          retry_min;
    time_t                          retry_max;
    ngx_flag_t                      sender;
    ngx_http_fluentai_smtp_conf_t   smtp;
    ngx_str_t                       smtp_trusted;
    ngx_str_t                       smtp_auth_file;
    u_char                          key[NGX_HTTP_FLUENTAI_MAIL_KEY_LEN];
    unsigned                        key_set:1;
} ngx_http_fluentai_mail_conf_t;


extern ngx_module_t  ngx_http_fluentai_mail_module;
extern const char   *ngx_http_fluentai_mail_kinds[2];


/* the outbox sender: one per server, in worker 0 */
ngx_int_t ngx_http_fluentai_outbox_init(ngx_cycle_t *cycle,
    ngx_http_fluentai_mail_conf_t *mcf, ngx_http_fluentai_pg_conf_t *db);
void ngx_http_fluentai_outbox_exit(ngx_cycle_t *cycle);
void ngx_http_fluentai_outbox_kick(void);

/* "fluentai_email_verification required" */
ngx_uint_t ngx_http_fluentai_mail_required(ngx_http_request_t *r);


#endif /* _NGX_HTTP_FLUENTAI_MAIL_H_INCLUDED_ */
