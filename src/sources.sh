# The module's source files: the one list `config` (nginx's build), the
# Makefile (unit tests) and fuzz/fuzz.mk (fuzz targets) read.  Shell
# syntax; paths are relative to the module's top directory.

# pure C, no nginx: the unit tests and the fuzz targets link these
FLUENTAI_PURE_SRCS="
    src/ngx_http_fluentai_jwt.c
    src/ngx_http_fluentai_jwt_claims.c
    src/ngx_http_fluentai_json.c
    src/ngx_http_fluentai_token.c
    src/ngx_http_fluentai_password.c
    src/ngx_http_fluentai_utf8.c
    src/ngx_http_fluentai_validate.c
    src/ngx_http_fluentai_validate_syntax.c
    src/ngx_http_fluentai_mail_msg.c
    src/ngx_http_fluentai_mail_addr.c
    src/ngx_http_fluentai_mail_tmpl.c
    src/ngx_http_fluentai_mail_token.c
"

# the database layer: nginx's core and event loop and libpq, no HTTP
FLUENTAI_PG_SRCS="
    src/ngx_http_fluentai_pg_pool.c
    src/ngx_http_fluentai_pg_conn.c
    src/ngx_http_fluentai_pg_query.c
    src/ngx_http_fluentai_pg_batch.c
    src/ngx_http_fluentai_pg_conninfo.c
    src/ngx_http_fluentai_sql.c
"

# the HTTP side
FLUENTAI_HTTP_SRCS="
    ngx_http_fluentai_module.c
    src/ngx_http_fluentai_http.c
    src/ngx_http_fluentai_cors.c
    src/ngx_http_fluentai_gate.c
    src/ngx_http_fluentai_error_page.c
    src/ngx_http_fluentai_query.c
    src/ngx_http_fluentai_task.c
    src/ngx_http_fluentai_session.c
    src/ngx_http_fluentai_conf.c
    src/ngx_http_fluentai_auth.c
    src/ngx_http_fluentai_profile.c
    src/ngx_http_fluentai_change_password.c
    src/ngx_http_fluentai_health.c
    src/ngx_http_fluentai_metrics.c
    src/ngx_http_fluentai_metrics_log.c
    src/ngx_http_fluentai_metrics_text.c
    src/ngx_http_fluentai_audit.c
    src/ngx_http_fluentai_blocklist.c
    src/ngx_http_fluentai_brute.c
    src/ngx_http_fluentai_sessions.c
    src/ngx_http_fluentai_redact.c
    src/ngx_http_fluentai_wipe.c
"

# mail: the SMTP client (nginx events only), the outbox sender, the
# recovery and verification endpoints, the mail module's directives
FLUENTAI_MAIL_SRCS="
    src/ngx_http_fluentai_smtp.c
    src/ngx_http_fluentai_smtp_dialog.c
    src/ngx_http_fluentai_outbox.c
    src/ngx_http_fluentai_recovery.c
    src/ngx_http_fluentai_mail_module.c
"

FLUENTAI_HDRS="
    src/ngx_http_fluentai.h
    src/ngx_http_fluentai_task.h
    src/ngx_http_fluentai_sql.h
    src/ngx_http_fluentai_pg.h
    src/ngx_http_fluentai_pg_int.h
    src/ngx_http_fluentai_jwt.h
    src/ngx_http_fluentai_json.h
    src/ngx_http_fluentai_token.h
    src/ngx_http_fluentai_password.h
    src/ngx_http_fluentai_utf8.h
    src/ngx_http_fluentai_validate.h
    src/ngx_http_fluentai_metrics.h
    src/ngx_http_fluentai_metrics_int.h
    src/ngx_http_fluentai_mail_msg.h
    src/ngx_http_fluentai_mail_token.h
    src/ngx_http_fluentai_smtp.h
    src/ngx_http_fluentai_smtp_int.h
    src/ngx_http_fluentai_mail.h
"
