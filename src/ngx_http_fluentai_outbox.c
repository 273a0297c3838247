
/*
 * The outbox sender: one per server (in worker 0), delivering the rows of
 * fluentai_mail_outbox one at a time through the SMTP client, with a
 * database pool of its own (one connection), so that it never takes a
 * connection or a queue place from requests.
 *
 *   claim a due row (FOR UPDATE SKIP LOCKED; next_attempt_at moved past
 *   the session: a lease) -> build the message -> SMTP -> record sent,
 *   retry (with backoff) or failed -> the next row
 *
 * Rows are claimed by one sender at a time across workers and servers.
 * When a sender dies before recording (worker crash, PostgreSQL gone
 * after the relay took the message), the lease runs out and the row is
 * sent again: delivery is at-least-once, never lost.  Nothing waits on
 * the event loop: the database calls are the pool's, the SMTP session is
 * evented, pauses are timers.  Tokens and links are never logged; the
 * message is wiped once sent.
 */


#include "ngx_http_fluentai.h"
#include "ngx_http_fluentai_mail.h"


#define NGX_HTTP_FLUENTAI_OUTBOX_IDLE       0
#define NGX_HTTP_FLUENTAI_OUTBOX_CLAIMING   1
#define NGX_HTTP_FLUENTAI_OUTBOX_SENDING    2
#define NGX_HTTP_FLUENTAI_OUTBOX_RECORDING  3

#define NGX_HTTP_FLUENTAI_OUTBOX_POLL       1000    /* ms, when idle */
#define NGX_HTTP_FLUENTAI_OUTBOX_RECORD     1000    /* ms, record retry */
#define NGX_HTTP_FLUENTAI_OUTBOX_ERROR_MAX  200

/* the sender's connection in pg_stat_activity (the last keyword wins) */
#define NGX_HTTP_FLUENTAI_OUTBOX_APP        " application_name='fluentai-mail'"


typedef struct {
    ngx_http_fluentai_mail_conf_t  *mcf;
    ngx_log_t                      *log;
    ngx_event_t                     timer;
    ngx_http_fluentai_pg_conf_t     db;
    ngx_http_fluentai_pg_pool_t    *db_pool;
    ngx_http_fluentai_pg_req_t      pr;
    ngx_http_fluentai_query_t       query;
    ngx_pool_t                     *pool;       /* one message's */
    ngx_pool_t                     *qpool;      /* query parameters */
    ngx_str_t                       from;
    ngx_http_fluentai_smtp_t       *smtp;
    ngx_uint_t                      state;

    u_char                          id[NGX_INT64_LEN + 1];
    ngx_uint_t                      kind;
    ngx_int_t                       attempts;
    ngx_str_t                       rcpt;
    ngx_str_t                       data;

    const char                     *status;     /* sent, retry, failed */
    time_t                          delay;
    ngx_str_t                       error;
    ngx_uint_t                      record_tries;
    u_char                          error_buf[
                                        NGX_HTTP_FLUENTAI_OUTBOX_ERROR_MAX];
} ngx_http_fluentai_outbox_t;


static void ngx_http_fluentai_outbox_tick(ngx_event_t *ev);
static void ngx_http_fluentai_outbox_claimed(void *data, ngx_int_t rc,
    PGresult *res);
static ngx_int_t ngx_http_fluentai_outbox_build(
    ngx_http_fluentai_outbox_t *ob, PGresult *res);
static ngx_int_t ngx_http_fluentai_outbox_seed(PGresult *res, int col,
    u_char *seed);
static void ngx_http_fluentai_outbox_sent(void *data, ngx_uint_t rc,
    ngx_str_t *reply);
static void ngx_http_fluentai_outbox_record(ngx_http_fluentai_outbox_t *ob);
static void ngx_http_fluentai_outbox_recorded(void *data, ngx_int_t rc,
    PGresult *res);
static void ngx_http_fluentai_outbox_finish(ngx_http_fluentai_outbox_t *ob,
    const char *status, time_t delay, const char *error, size_t len);
static void ngx_http_fluentai_outbox_wipe(ngx_http_fluentai_outbox_t *ob);
static void ngx_http_fluentai_outbox_idle(ngx_http_fluentai_outbox_t *ob,
    ngx_msec_t after);
static time_t ngx_http_fluentai_outbox_lease(
    ngx_http_fluentai_mail_conf_t *mcf);


static ngx_http_fluentai_outbox_t  *ngx_http_fluentai_outbox;


ngx_int_t
ngx_http_fluentai_outbox_init(ngx_cycle_t *cycle,
    ngx_http_fluentai_mail_conf_t *mcf, ngx_http_fluentai_pg_conf_t *db)
{
    ngx_http_fluentai_outbox_t  *ob;

    if (ngx_worker != 0) {
        return NGX_OK;
    }

    ob = ngx_pcalloc(cycle->pool, sizeof(ngx_http_fluentai_outbox_t));
    if (ob == NULL) {
        return NGX_ERROR;
    }

    ob->qpool = ngx_create_pool(512, cycle->log);
    if (ob->qpool == NULL) {
        return NGX_ERROR;
    }

    /* one query at a time: one connection, one waiting place */

    ob->db = *db;
    ob->db.size = 1;
    ob->db.queue = 1;

    ob->db.conninfo.len = db->conninfo.len
                          + sizeof(NGX_HTTP_FLUENTAI_OUTBOX_APP) - 1;
    ob->db.conninfo.data = ngx_pnalloc(cycle->pool, ob->db.conninfo.len + 1);
    if (ob->db.conninfo.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ob->db.conninfo.data, "%V%s%Z", &db->conninfo,
                NGX_HTTP_FLUENTAI_OUTBOX_APP);

    ob->db_pool = ngx_http_fluentai_pg_pool_create(cycle, &ob->db);
    if (ob->db_pool == NULL) {
        return NGX_ERROR;
    }

    ob->mcf = mcf;
    ob->log = cycle->log;
    ob->from.data = (u_char *) mcf->from.addr.data;
    ob->from.len = mcf->from.addr.len;
    ob->state = NGX_HTTP_FLUENTAI_OUTBOX_IDLE;

    ob->timer.handler = ngx_http_fluentai_outbox_tick;
    ob->timer.data = ob;
    ob->timer.log = cycle->log;
    ob->timer.cancelable = 1;

    ngx_http_fluentai_outbox = ob;

    /* workers start apart, not all at the same millisecond */

    ngx_add_timer(&ob->timer, 100 + ngx_random() % 500);

    return NGX_OK;
}


void
ngx_http_fluentai_outbox_exit(ngx_cycle_t *cycle)
{
    ngx_http_fluentai_outbox_t  *ob;

    ob = ngx_http_fluentai_outbox;

    if (ob == NULL) {
        return;
    }

    ngx_http_fluentai_outbox = NULL;

    /* a row being sent stays leased and is sent again after the lease */

    if (ob->smtp) {
        ngx_http_fluentai_smtp_abort(ob->smtp);
        ob->smtp = NULL;
    }

    ngx_http_fluentai_pg_cancel(&ob->pr);
    ngx_http_fluentai_pg_pool_destroy(ob->db_pool);

    if (ob->timer.timer_set) {
        ngx_del_timer(&ob->timer);
    }

    ngx_http_fluentai_outbox_wipe(ob);
    ngx_destroy_pool(ob->qpool);
}


/* a request queued a mail: look at the outbox now (in worker 0) */

void
ngx_http_fluentai_outbox_kick(void)
{
    ngx_http_fluentai_outbox_t  *ob;

    ob = ngx_http_fluentai_outbox;

    if (ob == NULL || ob->state != NGX_HTTP_FLUENTAI_OUTBOX_IDLE) {
        return;
    }

    if (ob->timer.timer_set) {
        ngx_del_timer(&ob->timer);
    }

    ngx_add_timer(&ob->timer, 1);
}


static void
ngx_http_fluentai_outbox_tick(ngx_event_t *ev)
{
    ngx_http_fluentai_outbox_t  *ob;

    ob = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (ob->state == NGX_HTTP_FLUENTAI_OUTBOX_RECORDING) {
        ngx_http_fluentai_outbox_record(ob);
        return;
    }

    if (ob->state != NGX_HTTP_FLUENTAI_OUTBOX_IDLE) {
        return;
    }

    ob->state = NGX_HTTP_FLUENTAI_OUTBOX_CLAIMING;

    ngx_memzero(&ob->query, sizeof(ngx_http_fluentai_query_t));
    ob->query.sql = NGX_HTTP_FLUENTAI_SQL_OUTBOX_CLAIM;
    ngx_reset_pool(ob->qpool);

    ngx_http_fluentai_param_int(ob->qpool, &ob->query, 0,
                        ngx_http_fluentai_outbox_lease(ob->mcf));

    ngx_http_fluentai_pg_pool_query(ob->db_pool, &ob->pr, &ob->query,
                                    ob->log, ngx_http_fluentai_outbox_claimed,
                                    ob);
}


/*
 * Columns: id, kind, recipient, name, seed, lifetime, attempts, expired,
 * created (epoch seconds).
 */

static void
ngx_http_fluentai_outbox_claimed(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_fluentai_outbox_t  *ob = data;

    ngx_int_t  n;

    if (rc != NGX_HTTP_FLUENTAI_PG_OK
        || PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        if (rc == NGX_HTTP_FLUENTAI_PG_OK) {
            ngx_log_error(NGX_LOG_ERR, ob->log, 0,
                          "fluentai: mail outbox: %s",
                          PQresultErrorMessage(res));
        }

        ob->state = NGX_HTTP_FLUENTAI_OUTBOX_IDLE;
        ngx_http_fluentai_outbox_idle(ob, NGX_HTTP_FLUENTAI_OUTBOX_POLL);
        return;
    }

    if (PQntuples(res) != 1) {
        ob->state = NGX_HTTP_FLUENTAI_OUTBOX_IDLE;
        ngx_http_fluentai_outbox_idle(ob, NGX_HTTP_FLUENTAI_OUTBOX_POLL);
        return;
    }

    ngx_cpystrn(ob->id, (u_char *) PQgetvalue(res, 0, 0), sizeof(ob->id));
    ob->kind = ngx_strcmp(PQgetvalue(res, 0, 1), "verify_email") == 0
               ? NGX_HTTP_FLUENTAI_MAIL_VERIFY : NGX_HTTP_FLUENTAI_MAIL_RESET;
    n = ngx_atoi((u_char *) PQgetvalue(res, 0, 6),
                 PQgetlength(res, 0, 6));
    ob->attempts = (n > 0) ? n : 1;
    ob->record_tries = 0;

    if (PQgetvalue(res, 0, 7)[0] == 't') {
        ngx_log_error(NGX_LOG_WARN, ob->log, 0,
                      "fluentai: mail %s (%s) not sent: its token expired",
                      ob->id, ngx_http_fluentai_mail_kinds[ob->kind]);
        ngx_http_fluentai_outbox_finish(ob, "failed", 0, "token expired",
                                        sizeof("token expired") - 1);
        return;
    }

    if (ngx_http_fluentai_outbox_build(ob, res) != NGX_OK) {
        ngx_http_fluentai_outbox_finish(ob, "failed", 0,
                                        "message could not be built",
                                 sizeof("message could not be built") - 1);
        return;
    }

    ob->state = NGX_HTTP_FLUENTAI_OUTBOX_SENDING;

    ob->smtp = ngx_http_fluentai_smtp_send(&ob->mcf->smtp,
                                  &ob->from,
                                  &ob->rcpt, &ob->data,
                                  ngx_http_fluentai_outbox_sent, ob, ob->log);

    if (ob->smtp == NULL) {
        ngx_http_fluentai_outbox_finish(ob, "retry", ob->mcf->retry_min,
                                        "out of memory",
                                        sizeof("out of memory") - 1);
    }
}


/* the message, dot-stuffed for DATA, in ob->pool */

static ngx_int_t
ngx_http_fluentai_outbox_build(ngx_http_fluentai_outbox_t *ob, PGresult *res)
{
    char                           *msg, *data;
    u_char                         *p;
    size_t                          len, dlen;
    ngx_http_fluentai_mail_t        m;
    ngx_http_fluentai_mail_conf_t  *mcf;
    u_char                          seed[NGX_HTTP_FLUENTAI_MAIL_SEED_LEN];
    u_char                          token[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1];
    u_char                          hash[NGX_HTTP_FLUENTAI_HASH_LEN];
    u_char                          id[64], life[32];
    u_char                          link[NGX_HTTP_FLUENTAI_REFRESH_LEN + 1024];

    mcf = ob->mcf;

    if (!mcf->key_set
        || ngx_http_fluentai_outbox_seed(res, 4, seed) != NGX_OK
        || ngx_http_fluentai_mail_token(mcf->key, seed, 0, token, hash) != 0
        || mcf->public_url.len > 900)
    {
        return NGX_ERROR;
    }

    ngx_memzero(&m, sizeof(ngx_http_fluentai_mail_t));

    m.from = mcf->from;
    m.to.addr.data = PQgetvalue(res, 0, 2);
    m.to.addr.len = PQgetlength(res, 0, 2);
    m.to.name.data = PQgetvalue(res, 0, 3);
    m.to.name.len = PQgetlength(res, 0, 3);
    m.tmpl.data = (char *) mcf->tmpl[ob->kind].data;
    m.tmpl.len = mcf->tmpl[ob->kind].len;

    p = ngx_snprintf(link, sizeof(link) - 1, "%V%s%s", &mcf->public_url,
                     ob->kind == NGX_HTTP_FLUENTAI_MAIL_VERIFY
                     ? "/verify-email?token=" : "/reset-password?token=",
                     token);

    m.vars[0] = m.to.name;
    m.vars[1].data = (char *) link;
    m.vars[1].len = p - link;
    m.vars[2].data = (char *) life;
    m.vars[2].len = ngx_http_fluentai_mail_lifetime(
                               ngx_atoi((u_char *) PQgetvalue(res, 0, 5),
                                        PQgetlength(res, 0, 5)),
                               (char *) life, sizeof(life));

    /* one Message-ID per row: a resent copy is recognisably the same */

    p = ngx_snprintf(id, sizeof(id) - 1, "fluentai.%s.%s", ob->id,
                     PQgetvalue(res, 0, 8));
    m.id.data = (char *) id;
    m.id.len = p - id;
    m.date = ngx_time();

    msg = ngx_http_fluentai_mail_build(&m, &len);

    ngx_explicit_memzero(token, sizeof(token));
    ngx_explicit_memzero(link, sizeof(link));
    ngx_explicit_memzero(seed, sizeof(seed));

    if (msg == NULL) {
        return NGX_ERROR;
    }

    data = ngx_http_fluentai_mail_smtp_data(msg, len, &dlen);
    ngx_explicit_memzero(msg, len);
    free(msg);

    if (data == NULL) {
        return NGX_ERROR;
    }

    ob->pool = ngx_create_pool(dlen + 1024, ob->log);

    if (ob->pool != NULL) {
        ob->data.data = ngx_pnalloc(ob->pool, dlen);
        ob->rcpt.data = ngx_pnalloc(ob->pool, m.to.addr.len);
    }

    if (ob->pool == NULL || ob->data.data == NULL || ob->rcpt.data == NULL) {
        ngx_explicit_memzero(data, dlen);
        free(data);
        return NGX_ERROR;
    }

    ngx_memcpy(ob->data.data, data, dlen);
    ob->data.len = dlen;
    ngx_explicit_memzero(data, dlen);
    free(data);

    ngx_memcpy(ob->rcpt.data, m.to.addr.data, m.to.addr.len);
    ob->rcpt.len = m.to.addr.len;

    return NGX_OK;
}


/* bytea in text format: "\x" and 64 hex digits */

static ngx_int_t
ngx_http_fluentai_outbox_seed(PGresult *res, int col, u_char *seed)
{
    char        *s;
    ngx_int_t    hi, lo;
    ngx_uint_t   i;

    if (PQgetisnull(res, 0, col)
        || PQgetlength(res, 0, col) != 2 + 2 * NGX_HTTP_FLUENTAI_MAIL_SEED_LEN)
    {
        return NGX_ERROR;
    }

    s = PQgetvalue(res, 0, col) + 2;

    for (i = 0; i < NGX_HTTP_FLUENTAI_MAIL_SEED_LEN; i++) {
        hi = ngx_hextoi((u_char *) s + 2 * i, 1);
        lo = ngx_hextoi((u_char *) s + 2 * i + 1, 1);

        if (hi < 0 || lo < 0) {
            return NGX_ERROR;
        }

        seed[i] = (u_char) (hi * 16 + lo);
    }

    return NGX_OK;
}


static void
ngx_http_fluentai_outbox_sent(void *data, ngx_uint_t rc, ngx_str_t *reply)
{
    ngx_http_fluentai_outbox_t  *ob = data;

    time_t                          delay;
    ngx_int_t                       i;
    ngx_http_fluentai_mail_conf_t  *mcf;

    mcf = ob->mcf;
    ob->smtp = NULL;

    if (rc == NGX_HTTP_FLUENTAI_SMTP_SENT) {
        ngx_log_error(NGX_LOG_INFO, ob->log, 0,
                      "fluentai: mail %s (%s) accepted by %V: \"%V\"",
                      ob->id, ngx_http_fluentai_mail_kinds[ob->kind],
                      &mcf->smtp.host, reply);
        ngx_http_fluentai_outbox_finish(ob, "sent", 0, NULL, 0);
        return;
    }

    if (rc == NGX_HTTP_FLUENTAI_SMTP_PERMFAIL) {
        ngx_log_error(NGX_LOG_ERR, ob->log, 0,
                      "fluentai: mail %s (%s) refused by %V, not retried: "
                      "\"%V\"", ob->id,
                      ngx_http_fluentai_mail_kinds[ob->kind],
                      &mcf->smtp.host, reply);
        ngx_http_fluentai_outbox_finish(ob, "failed", 0, (char *) reply->data,
                                        reply->len);
        return;
    }

    /* temporary: retry_min doubling per attempt, at most retry_max */

    delay = mcf->retry_min;

    for (i = 1; i < ob->attempts && delay < mcf->retry_max; i++) {
        delay *= 2;
    }

    delay = ngx_min(delay, mcf->retry_max);

    ngx_log_error(NGX_LOG_WARN, ob->log, 0,
                  "fluentai: mail %s (%s) not delivered to %V (attempt "
                  "%i): \"%V\", retrying in %T s", ob->id,
                  ngx_http_fluentai_mail_kinds[ob->kind], &mcf->smtp.host,
                  ob->attempts, reply, delay);

    ngx_http_fluentai_outbox_finish(ob, "retry", delay, (char *) reply->data,
                                    reply->len);
}


static void
ngx_http_fluentai_outbox_finish(ngx_http_fluentai_outbox_t *ob,
    const char *status, time_t delay, const char *error, size_t len)
{
    ngx_http_fluentai_outbox_wipe(ob);

    ob->status = status;
    ob->delay = delay;
    ob->error.len = ngx_min(len, sizeof(ob->error_buf));
    ob->error.data = ob->error_buf;

    if (error) {
        ngx_memcpy(ob->error_buf, error, ob->error.len);
    }

    ob->state = NGX_HTTP_FLUENTAI_OUTBOX_RECORDING;

    ngx_http_fluentai_outbox_record(ob);
}


static void
ngx_http_fluentai_outbox_record(ngx_http_fluentai_outbox_t *ob)
{
    ngx_http_fluentai_query_t  *q;

    q = &ob->query;
    ngx_memzero(q, sizeof(ngx_http_fluentai_query_t));
    q->sql = NGX_HTTP_FLUENTAI_SQL_OUTBOX_DONE;
    ngx_reset_pool(ob->qpool);

    ngx_http_fluentai_param(ob->qpool, q, 0, (char *) ob->id,
                            ngx_strlen(ob->id));
    ngx_http_fluentai_param(ob->qpool, q, 1, ob->status,
                            ngx_strlen(ob->status));
    ngx_http_fluentai_param_int(ob->qpool, q, 2, ob->delay);
    ngx_http_fluentai_param(ob->qpool, q, 3,
                            ob->error.len ? (char *) ob->error.data : NULL,
                            ob->error.len);

    ngx_http_fluentai_pg_pool_query(ob->db_pool, &ob->pr, q, ob->log,
                                    ngx_http_fluentai_outbox_recorded, ob);
}


static void
ngx_http_fluentai_outbox_recorded(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_fluentai_outbox_t  *ob = data;

    if (rc == NGX_HTTP_FLUENTAI_PG_OK
        && PQresultStatus(res) == PGRES_COMMAND_OK)
    {
        ob->state = NGX_HTTP_FLUENTAI_OUTBOX_IDLE;
        ngx_http_fluentai_outbox_idle(ob, 1);     /* the next one, if any */
        return;
    }

    /*
     * The database is away: try again for about half the lease; after
     * that the lease runs out and the row is sent again (at-least-once).
     */

    if (++ob->record_tries * NGX_HTTP_FLUENTAI_OUTBOX_RECORD / 1000
        < (ngx_uint_t) ngx_http_fluentai_outbox_lease(ob->mcf) / 2)
    {
        if (ob->record_tries == 1) {
            ngx_log_error(NGX_LOG_WARN, ob->log, 0,
                          "fluentai: mail %s: could not record \"%s\", "
                          "retrying", ob->id, ob->status);
        }

        ngx_add_timer(&ob->timer, NGX_HTTP_FLUENTAI_OUTBOX_RECORD);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ob->log, 0,
                  "fluentai: mail %s: could not record \"%s\"; it will be "
                  "tried again after its lease", ob->id, ob->status);

    ob->state = NGX_HTTP_FLUENTAI_OUTBOX_IDLE;
    ngx_http_fluentai_outbox_idle(ob, NGX_HTTP_FLUENTAI_OUTBOX_POLL);
}


static void
ngx_http_fluentai_outbox_wipe(ngx_http_fluentai_outbox_t *ob)
{
    if (ob->pool) {
        if (ob->data.data) {
            ngx_explicit_memzero(ob->data.data, ob->data.len);
        }

        ngx_destroy_pool(ob->pool);
        ob->pool = NULL;
    }

    ngx_str_null(&ob->data);
    ngx_str_null(&ob->rcpt);
}


static void
ngx_http_fluentai_outbox_idle(ngx_http_fluentai_outbox_t *ob,
    ngx_msec_t after)
{
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_add_timer(&ob->timer, after);
}


/* longer than any SMTP session: each of its <= 12 steps is bounded */

static time_t
ngx_http_fluentai_outbox_lease(ngx_http_fluentai_mail_conf_t *mcf)
{
    return ngx_max(5, (time_t) (12 * mcf->smtp.timeout / 1000));
}
