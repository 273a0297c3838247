
/*
 * The database layer, connections: opened with PQconnectStart and
 * PQconnectPoll (no DNS: host names are resolved at configuration time),
 * statements prepared once per connection, sockets registered with the
 * event loop level-triggered, so no result can be stranded in the kernel.
 */


#include "ngx_http_fluentai_pg_int.h"


static void ngx_http_fluentai_pg_connect_step(
    ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_ready(ngx_http_fluentai_pg_conn_t *conn);
static ngx_int_t ngx_http_fluentai_pg_attach(
    ngx_http_fluentai_pg_conn_t *conn);
static ngx_uint_t ngx_http_fluentai_pg_moved(
    ngx_http_fluentai_pg_conn_t *conn);
static void ngx_http_fluentai_pg_detach(ngx_http_fluentai_pg_conn_t *conn);
static ngx_int_t ngx_http_fluentai_pg_want_write(
    ngx_http_fluentai_pg_conn_t *conn, ngx_uint_t on);
static void ngx_http_fluentai_pg_event(ngx_event_t *ev);
static void ngx_http_fluentai_pg_idle_read(ngx_http_fluentai_pg_conn_t *conn);


void
ngx_http_fluentai_pg_connect(ngx_http_fluentai_pg_pool_t *pool)
{
    PGconn                       *pg;
    ngx_http_fluentai_pg_conn_t  *conn;

    pg = PQconnectStart((char *) pool->conf->conninfo.data);

    if (pg == NULL) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "fluentai: database connection: out of memory");
        return;
    }

    conn = ngx_calloc(sizeof(ngx_http_fluentai_pg_conn_t), pool->log);
    if (conn == NULL) {
        PQfinish(pg);
        return;
    }

    conn->pool = pool;
    conn->pg = pg;
    conn->state = NGX_HTTP_FLUENTAI_PG_CONNECTING;
    conn->timer.handler = ngx_http_fluentai_pg_timeout;
    conn->timer.data = conn;
    conn->timer.log = pool->log;
    conn->timer.cancelable = 1;

    ngx_queue_insert_tail(&pool->all, &conn->all);
    pool->nconns++;
    pool->connecting++;

    if (PQstatus(pg) == CONNECTION_BAD || PQsetnonblocking(pg, 1) != 0) {
        ngx_http_fluentai_pg_connect_failed(conn, PQerrorMessage(pg));
        return;
    }

    if (ngx_http_fluentai_pg_attach(conn) != NGX_OK) {
        ngx_http_fluentai_pg_connect_failed(conn, "no free connection");
        return;
    }

    ngx_add_timer(&conn->timer, pool->conf->timeout);

    /* libpq: behave as if PQconnectPoll had said PGRES_POLLING_WRITING */

    if (ngx_http_fluentai_pg_want_write(conn, 1) != NGX_OK) {
        ngx_http_fluentai_pg_connect_failed(conn, "event registration");
    }
}


static void
ngx_http_fluentai_pg_connect_step(ngx_http_fluentai_pg_conn_t *conn)
{
    PostgresPollingStatusType  st;

    st = PQconnectPoll(conn->pg);

    if (st != PGRES_POLLING_FAILED && ngx_http_fluentai_pg_moved(conn)) {

        /*
         * libpq closed its socket and opened another (SSL or GSS
         * fallback, the next host of a list): the kernel dropped the old
         * registration with the old socket, whatever number the new one
         * got; register the new one
         */

        ngx_http_fluentai_pg_detach(conn);

        if (ngx_http_fluentai_pg_attach(conn) != NGX_OK) {
            ngx_http_fluentai_pg_connect_failed(conn, "no free connection");
            return;
        }
    }

    switch (st) {

    case PGRES_POLLING_READING:
        if (ngx_http_fluentai_pg_want_write(conn, 0) != NGX_OK) {
            ngx_http_fluentai_pg_connect_failed(conn, "event registration");
        }
        return;

    case PGRES_POLLING_WRITING:
        if (ngx_http_fluentai_pg_want_write(conn, 1) != NGX_OK) {
            ngx_http_fluentai_pg_connect_failed(conn, "event registration");
        }
        return;

    case PGRES_POLLING_OK:
        break;

    default:
        ngx_http_fluentai_pg_connect_failed(conn, PQerrorMessage(conn->pg));
        return;
    }

    if (ngx_http_fluentai_pg_want_write(conn, 0) != NGX_OK) {
        ngx_http_fluentai_pg_connect_failed(conn, "event registration");
        return;
    }

    conn->pool->connecting--;

    if (conn->pool->down) {
        ngx_log_error(NGX_LOG_NOTICE, conn->pool->log, 0,
                      "fluentai: database connection restored");
    }

    conn->pool->down = 0;
    conn->pool->backoff = 0;

    conn->state = NGX_HTTP_FLUENTAI_PG_PREPARING;
    ngx_http_fluentai_pg_prepare_next(conn);
}


void
ngx_http_fluentai_pg_connect_failed(ngx_http_fluentai_pg_conn_t *conn,
    const char *why)
{
    ngx_http_fluentai_pg_pool_t  *pool;

    pool = conn->pool;

    ngx_http_fluentai_pg_log(pool, "connection", why);

    ngx_http_fluentai_pg_close(conn);

    pool->down = 1;
    pool->backoff = pool->backoff ? ngx_min(pool->backoff * 2,
                                            NGX_HTTP_FLUENTAI_PG_BACKOFF_MAX)
                                  : NGX_HTTP_FLUENTAI_PG_BACKOFF_MIN;
    pool->retry_at = ngx_current_msec + pool->backoff;

    if (pool->nconns > 0) {
        return;
    }

    ngx_http_fluentai_pg_fail_waiting(pool);
}


/*
 * A new connection's setup: first "SET statement_timeout" (below the
 * module's timeout: a statement the module gives up on is cancelled and
 * rolled back by the server too), then, unless "fluentai_database_prepare
 * off", every statement is prepared.  Each step's result arrives in
 * ngx_http_fluentai_pg_complete() (pg_query.c), which calls this again.
 */

void
ngx_http_fluentai_pg_prepare_next(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_http_fluentai_sql_t  *sql;

    /* "fluentai_database_statement_timeout off": nothing to set */

    if (!conn->configured && conn->pool->conf->statement_timeout[0] == '\0')
    {
        conn->configured = 1;
    }

    if (!conn->configured) {
        if (!PQsendQuery(conn->pg,
                         (char *) conn->pool->conf->statement_timeout)
            || ngx_http_fluentai_pg_flush(conn) != NGX_OK)
        {
            ngx_http_fluentai_pg_error(conn, "set statement_timeout");
        }

        return;
    }

    if (conn->prepared == NGX_HTTP_FLUENTAI_SQL_COUNT
        || !conn->pool->conf->prepare)
    {
        ngx_http_fluentai_pg_ready(conn);
        return;
    }

    sql = &ngx_http_fluentai_sql[conn->prepared];

    if (!PQsendPrepare(conn->pg, sql->name, sql->text, 0, NULL)
        || ngx_http_fluentai_pg_flush(conn) != NGX_OK)
    {
        ngx_http_fluentai_pg_error(conn, "prepare");
    }
}


static void
ngx_http_fluentai_pg_ready(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_http_fluentai_pg_park(conn);
    ngx_http_fluentai_pg_dispatch(conn->pool);
}


/* most recently used first: warm connections stay warm */

void
ngx_http_fluentai_pg_park(ngx_http_fluentai_pg_conn_t *conn)
{
    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    conn->timer.cancelable = 1;

    conn->state = NGX_HTTP_FLUENTAI_PG_IDLE;
    conn->in_idle = 1;
    ngx_queue_insert_head(&conn->pool->idle, &conn->idle);
    ngx_reusable_connection(conn->c, 1);
}


static ngx_int_t
ngx_http_fluentai_pg_attach(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_socket_t       fd;
    ngx_file_info_t    fi;
    ngx_connection_t  *c;

    fd = PQsocket(conn->pg);
    if (fd == (ngx_socket_t) -1 || ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        return NGX_ERROR;
    }

    conn->ino = fi.st_ino;

    c = ngx_get_connection(fd, conn->pool->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = conn;
    c->read->handler = ngx_http_fluentai_pg_event;
    c->write->handler = ngx_http_fluentai_pg_event;
    c->read->log = conn->pool->log;
    c->write->log = conn->pool->log;

    conn->c = c;
    conn->writing = 0;

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Is libpq's socket another one than the registered one?  A new socket
 * usually gets the old one's descriptor number back (the lowest free), so
 * the number alone says nothing: the socket's inode does.
 */

static ngx_uint_t
ngx_http_fluentai_pg_moved(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_socket_t     fd;
    ngx_file_info_t  fi;

    fd = PQsocket(conn->pg);

    if (conn->c == NULL || fd != conn->c->fd) {
        return 1;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        return 1;
    }

    return fi.st_ino != conn->ino;
}


/* forget the nginx side of the socket; libpq owns and closes the fd */

static void
ngx_http_fluentai_pg_detach(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_connection_t  *c;

    c = conn->c;

    if (c == NULL) {
        return;
    }

    if (c->reusable) {
        ngx_reusable_connection(c, 0);
    }

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    conn->c = NULL;
    conn->writing = 0;
}


static ngx_int_t
ngx_http_fluentai_pg_want_write(ngx_http_fluentai_pg_conn_t *conn,
    ngx_uint_t on)
{
    if (on && !conn->writing) {
        if (ngx_add_event(conn->c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        conn->writing = 1;

    } else if (!on && conn->writing) {
        if (ngx_del_event(conn->c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        conn->writing = 0;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_fluentai_pg_flush(ngx_http_fluentai_pg_conn_t *conn)
{
    switch (PQflush(conn->pg)) {

    case 0:
        return ngx_http_fluentai_pg_want_write(conn, 0);

    case 1:
        return ngx_http_fluentai_pg_want_write(conn, 1);

    default:
        return NGX_ERROR;
    }
}


static void
ngx_http_fluentai_pg_event(ngx_event_t *ev)
{
    ngx_connection_t             *c;
    ngx_http_fluentai_pg_conn_t  *conn;

    c = ev->data;
    conn = c->data;

    if (c->close) {
        /* graceful shutdown or connections running out: only idle ones */
        ngx_http_fluentai_pg_close(conn);
        return;
    }

    switch (conn->state) {

    case NGX_HTTP_FLUENTAI_PG_CONNECTING:
        ngx_http_fluentai_pg_connect_step(conn);
        return;

    case NGX_HTTP_FLUENTAI_PG_IDLE:
        if (!ev->write) {
            ngx_http_fluentai_pg_idle_read(conn);
        }
        return;

    default:
        ngx_http_fluentai_pg_io(conn);
    }
}


static void
ngx_http_fluentai_pg_idle_read(ngx_http_fluentai_pg_conn_t *conn)
{
    PGnotify  *n;
    PGresult  *res;

    if (!PQconsumeInput(conn->pg) || PQstatus(conn->pg) == CONNECTION_BAD) {
        ngx_http_fluentai_pg_log(conn->pool, "idle connection",
                                 PQerrorMessage(conn->pg));
        ngx_http_fluentai_pg_close(conn);
        return;
    }

    while ((n = PQnotifies(conn->pg)) != NULL) {
        PQfreemem(n);
    }

    while (!PQisBusy(conn->pg)) {
        res = PQgetResult(conn->pg);
        if (res == NULL) {
            break;
        }

        PQclear(res);
    }
}


void
ngx_http_fluentai_pg_close(ngx_http_fluentai_pg_conn_t *conn)
{
    ngx_http_fluentai_pg_pool_t  *pool;

    pool = conn->pool;

    if (conn->in_idle) {
        ngx_queue_remove(&conn->idle);
        conn->in_idle = 0;
    }

    if (conn->state == NGX_HTTP_FLUENTAI_PG_CONNECTING) {
        pool->connecting--;
    }

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    if (conn->req) {
        conn->req->conn = NULL;
        conn->req = NULL;
    }

    ngx_http_fluentai_pg_release(conn);

    if (conn->result) {
        PQclear(conn->result);
        conn->result = NULL;
    }

    ngx_http_fluentai_pg_detach(conn);

    PQfinish(conn->pg);

    ngx_queue_remove(&conn->all);
    pool->nconns--;

    ngx_free(conn);
}


/* one line per failure event, libpq's message without its newline */

void
ngx_http_fluentai_pg_log(ngx_http_fluentai_pg_pool_t *pool,
    const char *what, const char *msg)
{
    size_t  len;

    len = ngx_strlen(msg);

    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' ')) {
        len--;
    }

    ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                  "fluentai: database %s failed: %*s", what, len, msg);
}
