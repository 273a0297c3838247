
/*
 * The database layer, coalesced lookups.  When a connection comes free
 * and the first caller waiting for one is a lookup whose statement has a
 * batch statement (sql.h: "keys", "batch"), the lookups of the same
 * statement that arrived while it waited join it, up to
 * "fluentai_database_coalesce", and one statement serves them all: its
 * key parameters are arrays of theirs, its last column says whose each
 * row is.  Every caller is then called back as if its own statement had
 * run: with a result of its own (its row, or no row), with the batch
 * statement's failure, or with the kind of error.  Nothing waits to fill
 * a batch: a lookup that finds a free connection while fewer than
 * "inflight=" statements of its kind run goes out alone with its own
 * statement; one that arrives while they run waits in the queue (even
 * beside an idle connection: pg_pool.c) until one of them ends, so the
 * lookups of one round trip go out together.
 *
 * Only read-only statements have a batch statement: a batch that fails
 * on a connection that had served before is retried once as a whole,
 * like any read-only statement (pg_query.c), and nothing a batch does
 * can depend on its mates.  A caller that goes away while its batch runs
 * only leaves its place (ngx_http_fluentai_pg_cancel).
 */


#include "ngx_http_fluentai_pg_int.h"


#define NGX_HTTP_FLUENTAI_PG_BATCH_COLUMNS  32


struct ngx_http_fluentai_pg_batch_s {
    ngx_http_fluentai_pg_req_t      req;        /* on the connection */
    ngx_http_fluentai_query_t       query;      /* the batch statement */
    ngx_http_fluentai_pg_pool_t    *pool;
    ngx_http_fluentai_pg_batch_t   *next;       /* pool->batches */
    ngx_http_fluentai_pg_batch_t   *next_free;  /* pool->free */
    ngx_uint_t                      n;
    ngx_http_fluentai_pg_req_t    **members;    /* coalesce of them */
    int                            *rows;       /* each member's row */
    u_char                         *buf;        /* the parameters' text */
    size_t                          size;
    unsigned                        running:1;
};


static ngx_http_fluentai_pg_batch_t *ngx_http_fluentai_pg_batch_get(
    ngx_http_fluentai_pg_pool_t *pool);
static void ngx_http_fluentai_pg_batch_gather(ngx_http_fluentai_pg_batch_t *b,
    ngx_http_fluentai_pg_req_t *pr);
static ngx_uint_t ngx_http_fluentai_pg_batch_same(
    ngx_http_fluentai_query_t *a, ngx_http_fluentai_query_t *b, int keys);
static ngx_int_t ngx_http_fluentai_pg_batch_params(
    ngx_http_fluentai_pg_batch_t *b, ngx_http_fluentai_query_t *q, int keys);
static size_t ngx_http_fluentai_pg_batch_need(ngx_http_fluentai_pg_batch_t *b,
    ngx_http_fluentai_query_t *q, int keys);
static u_char *ngx_http_fluentai_pg_batch_array(u_char *p,
    ngx_http_fluentai_pg_batch_t *b, int k);
static void ngx_http_fluentai_pg_batch_done(void *data, ngx_int_t rc,
    PGresult *res);
static PGresult *ngx_http_fluentai_pg_batch_split(
    ngx_http_fluentai_pg_batch_t *b, PGresult *res, int ncolumns);
static PGresult *ngx_http_fluentai_pg_batch_row(PGresult *empty,
    PGresult *res, int row, int ncolumns);


/*
 * pr has left the wait queue for conn: NGX_OK if lookups waiting beside
 * it were coalesced with it and their batch statement now runs on conn,
 * NGX_DECLINED if pr is to run alone.
 */

ngx_int_t
ngx_http_fluentai_pg_batch_run(ngx_http_fluentai_pg_conn_t *conn,
    ngx_http_fluentai_pg_req_t *pr)
{
    ngx_uint_t                     i;
    ngx_http_fluentai_sql_t       *sql;
    ngx_http_fluentai_pg_pool_t   *pool;
    ngx_http_fluentai_pg_batch_t  *b;

    pool = conn->pool;
    sql = &ngx_http_fluentai_sql[pr->query->sql];

    if (sql->keys == 0
        || pool->conf->coalesce < 2
        || ngx_queue_empty(&pool->same[pr->query->sql]))
    {
        return NGX_DECLINED;
    }

    b = ngx_http_fluentai_pg_batch_get(pool);
    if (b == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_fluentai_pg_batch_gather(b, pr);

    if (b->n < 2
        || ngx_http_fluentai_pg_batch_params(b, pr->query, sql->keys)
           != NGX_OK)
    {
        b->next_free = pool->free;
        pool->free = b;
        return NGX_DECLINED;
    }

    /* the mates leave the wait queue: their timers are the batch's now */

    for (i = 0; i < b->n; i++) {
        ngx_http_fluentai_pg_unwait(pool, b->members[i]);
        b->members[i]->batch = b;
        b->members[i]->slot = i;
    }

    if (pool->conf->batched) {
        pool->conf->batched(pr->query->sql, b->n);
    }

    b->running = 1;

    b->req.pool = pool;
    b->req.query = &b->query;
    b->req.done = ngx_http_fluentai_pg_batch_done;
    b->req.data = b;
    b->req.log = pool->log;
    b->req.conn = NULL;
    b->req.batch = NULL;
    b->req.lookup = pr->lookup;
    b->req.retried = 0;
    b->req.waiting = 0;
    b->req.coalescable = 0;

    ngx_http_fluentai_pg_run(conn, &b->req);

    return NGX_OK;
}


static ngx_http_fluentai_pg_batch_t *
ngx_http_fluentai_pg_batch_get(ngx_http_fluentai_pg_pool_t *pool)
{
    size_t                         size;
    ngx_uint_t                     cap;
    ngx_http_fluentai_pg_batch_t  *b;

    b = pool->free;

    if (b) {
        pool->free = b->next_free;
        b->n = 0;
        return b;
    }

    cap = pool->conf->coalesce;
    size = sizeof(ngx_http_fluentai_pg_batch_t)
           + cap * (sizeof(ngx_http_fluentai_pg_req_t *) + sizeof(int));

    b = ngx_calloc(size, pool->log);
    if (b == NULL) {
        return NULL;
    }

    b->pool = pool;
    b->members = (ngx_http_fluentai_pg_req_t **) (b + 1);
    b->rows = (int *) (b->members + cap);

    b->next = pool->batches;
    pool->batches = b;

    return b;
}


/* pr first, then who waits for the same statement with the same rest */

static void
ngx_http_fluentai_pg_batch_gather(ngx_http_fluentai_pg_batch_t *b,
    ngx_http_fluentai_pg_req_t *pr)
{
    int                          keys;
    ngx_queue_t                 *q, *same;
    ngx_http_fluentai_pg_req_t  *m;

    keys = ngx_http_fluentai_sql[pr->query->sql].keys;
    same = &b->pool->same[pr->query->sql];

    b->members[0] = pr;
    b->n = 1;

    for (q = ngx_queue_head(same);
         q != ngx_queue_sentinel(same) && b->n < b->pool->conf->coalesce;
         q = ngx_queue_next(q))
    {
        m = ngx_queue_data(q, ngx_http_fluentai_pg_req_t, same);

        if (ngx_http_fluentai_pg_batch_same(pr->query, m->query, keys)) {
            b->members[b->n++] = m;
        }
    }
}


/* the same parameters after the keys; keys in text */

static ngx_uint_t
ngx_http_fluentai_pg_batch_same(ngx_http_fluentai_query_t *a,
    ngx_http_fluentai_query_t *b, int keys)
{
    int  i;

    if (a->nparams != b->nparams) {
        return 0;
    }

    for (i = 0; i < a->nparams; i++) {

        if (a->formats[i] != b->formats[i]) {
            return 0;
        }

        if (i < keys) {
            if (a->formats[i] != 0) {
                return 0;
            }

            continue;
        }

        if (a->values[i] == NULL || b->values[i] == NULL) {
            if (a->values[i] != b->values[i]) {
                return 0;
            }

            continue;
        }

        /* sql.c's parameters: the length of text ones too */

        if (a->lengths[i] != b->lengths[i]
            || ngx_memcmp(a->values[i], b->values[i], (size_t) a->lengths[i])
               != 0)
        {
            return 0;
        }
    }

    return 1;
}


/*
 * The batch statement's parameters, copied into the batch (a retry sends
 * them again, after members may have gone): the key arrays, then the
 * rest as q has them.
 */

static ngx_int_t
ngx_http_fluentai_pg_batch_params(ngx_http_fluentai_pg_batch_t *b,
    ngx_http_fluentai_query_t *q, int keys)
{
    int                         i;
    size_t                      need, len;
    u_char                     *p, *start;
    ngx_http_fluentai_query_t  *bq;

    need = ngx_http_fluentai_pg_batch_need(b, q, keys);

    if (need > b->size) {
        p = ngx_alloc(need, b->pool->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (b->buf) {
            ngx_free(b->buf);
        }

        b->buf = p;
        b->size = need;
    }

    bq = &b->query;
    ngx_memzero(bq, sizeof(ngx_http_fluentai_query_t));

    bq->sql = ngx_http_fluentai_sql[q->sql].batch;
    bq->nparams = q->nparams;

    p = b->buf;

    for (i = 0; i < q->nparams; i++) {
        start = p;

        if (i < keys) {
            p = ngx_http_fluentai_pg_batch_array(p, b, i);
            len = p - start;
            *p++ = '\0';

        } else if (q->values[i] == NULL) {
            bq->values[i] = NULL;
            continue;

        } else {
            len = q->formats[i] ? (size_t) q->lengths[i]
                                : ngx_strlen(q->values[i]);
            p = ngx_cpymem(p, q->values[i], len);
            *p++ = '\0';
        }

        bq->values[i] = (const char *) start;
        bq->lengths[i] = (int) len;
        bq->formats[i] = q->formats[i];
    }

    return NGX_OK;
}


static size_t
ngx_http_fluentai_pg_batch_need(ngx_http_fluentai_pg_batch_t *b,
    ngx_http_fluentai_query_t *q, int keys)
{
    int          i;
    size_t       need;
    ngx_uint_t   j;
    const char  *v;

    need = 0;

    for (i = 0; i < q->nparams; i++) {

        if (i >= keys) {
            v = q->values[i];
            need += (v == NULL) ? 0
                    : (q->formats[i] ? (size_t) q->lengths[i]
                                     : ngx_strlen(v)) + 1;
            continue;
        }

        /* {"a","b"}: every byte escaped at worst, quotes, commas */

        need += 3;

        for (j = 0; j < b->n; j++) {
            v = b->members[j]->query->values[i];
            need += (v == NULL) ? sizeof("NULL,") : 2 * ngx_strlen(v) + 3;
        }
    }

    return need;
}


/* an array literal of the members' k-th parameters: {"...","..."} */

static u_char *
ngx_http_fluentai_pg_batch_array(u_char *p, ngx_http_fluentai_pg_batch_t *b,
    int k)
{
    ngx_uint_t   j;
    const char  *v;

    *p++ = '{';

    for (j = 0; j < b->n; j++) {
        if (j) {
            *p++ = ',';
        }

        v = b->members[j]->query->values[k];

        if (v == NULL) {
            p = ngx_cpymem(p, "NULL", 4);
            continue;
        }

        *p++ = '"';

        for ( /* void */ ; *v; v++) {
            if (*v == '"' || *v == '\\') {
                *p++ = '\\';
            }

            *p++ = (u_char) *v;
        }

        *p++ = '"';
    }

    *p++ = '}';

    return p;
}


/* the batch statement's outcome, to every member still there */

static void
ngx_http_fluentai_pg_batch_done(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_fluentai_pg_batch_t *b = data;

    int                           ncolumns;
    ngx_uint_t                    i;
    PGresult                     *empty, *own;
    ngx_http_fluentai_pg_req_t   *m;
    ngx_http_fluentai_pg_pool_t  *pool;

    pool = b->pool;
    ncolumns = ngx_http_fluentai_sql[b->query.sql].ncolumns - 1;

    empty = NULL;

    if (rc == NGX_HTTP_FLUENTAI_PG_OK) {
        empty = ngx_http_fluentai_pg_batch_split(b, res, ncolumns);
    }

    for (i = 0; i < b->n; i++) {
        m = b->members[i];

        if (m == NULL) {
            continue;
        }

        b->members[i] = NULL;
        m->batch = NULL;
        m->usec = b->req.usec;

        if (rc != NGX_HTTP_FLUENTAI_PG_OK || empty == NULL) {
            /* an error kind, or the statement's failure: the same to all */
            ngx_http_fluentai_pg_finish(m, rc, res);
            continue;
        }

        own = empty;

        if (b->rows[i] >= 0) {
            own = ngx_http_fluentai_pg_batch_row(empty, res, b->rows[i],
                                                 ncolumns);
            if (own == NULL) {
                /* out of memory */
                ngx_http_fluentai_pg_finish(m, NGX_HTTP_FLUENTAI_PG_BAD_QUERY,
                                            NULL);
                continue;
            }
        }

        ngx_http_fluentai_pg_finish(m, NGX_HTTP_FLUENTAI_PG_OK, own);

        if (own != empty) {
            PQclear(own);
        }
    }

    PQclear(empty);

    b->running = 0;
    b->next_free = pool->free;
    pool->free = b;
}


/*
 * A successful result: each member's row (b->rows, -1: none) and an
 * empty result with the lookup statement's columns; NULL for a failed
 * statement or an unexpected result, which every member then gets as is.
 */

static PGresult *
ngx_http_fluentai_pg_batch_split(ngx_http_fluentai_pg_batch_t *b,
    PGresult *res, int ncolumns)
{
    int            row, nrows;
    ngx_int_t      i;
    ngx_uint_t     j;
    PGresult      *empty;
    PGresAttDesc   attrs[NGX_HTTP_FLUENTAI_PG_BATCH_COLUMNS];

    if (PQresultStatus(res) != PGRES_TUPLES_OK
        || PQnfields(res) != ncolumns + 1
        || ncolumns > NGX_HTTP_FLUENTAI_PG_BATCH_COLUMNS)
    {
        return NULL;
    }

    for (j = 0; j < b->n; j++) {
        b->rows[j] = -1;
    }

    nrows = PQntuples(res);

    for (row = 0; row < nrows; row++) {
        i = ngx_atoi((u_char *) PQgetvalue(res, row, ncolumns),
                     PQgetlength(res, row, ncolumns));

        if (i >= 1 && (ngx_uint_t) i <= b->n) {
            b->rows[i - 1] = row;
        }
    }

    for (j = 0; j < (ngx_uint_t) ncolumns; j++) {
        attrs[j].name = PQfname(res, j);
        attrs[j].tableid = PQftable(res, j);
        attrs[j].columnid = PQftablecol(res, j);
        attrs[j].format = PQfformat(res, j);
        attrs[j].typid = PQftype(res, j);
        attrs[j].typlen = PQfsize(res, j);
        attrs[j].atttypmod = PQfmod(res, j);
    }

    empty = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

    if (empty && !PQsetResultAttrs(empty, ncolumns, attrs)) {
        PQclear(empty);
        empty = NULL;
    }

    return empty;
}


static PGresult *
ngx_http_fluentai_pg_batch_row(PGresult *empty, PGresult *res, int row,
    int ncolumns)
{
    int        c;
    PGresult  *own;

    own = PQcopyResult(empty, PG_COPYRES_ATTRS);
    if (own == NULL) {
        return NULL;
    }

    for (c = 0; c < ncolumns; c++) {
        if (!PQsetvalue(own, 0, c,
                        PQgetisnull(res, row, c) ? NULL
                                                 : PQgetvalue(res, row, c),
                        PQgetisnull(res, row, c) ? -1
                                                 : PQgetlength(res, row, c)))
        {
            PQclear(own);
            return NULL;
        }
    }

    return own;
}


/* a member goes away while its batch runs: its place stays empty */

void
ngx_http_fluentai_pg_batch_leave(ngx_http_fluentai_pg_req_t *pr)
{
    pr->batch->members[pr->slot] = NULL;
    pr->batch = NULL;
}


/* the pool is destroyed: its connections are closed already */

void
ngx_http_fluentai_pg_batch_free(ngx_http_fluentai_pg_pool_t *pool)
{
    ngx_uint_t                     i;
    ngx_http_fluentai_pg_batch_t  *b, *next;

    for (b = pool->batches; b; b = next) {
        next = b->next;

        for (i = 0; b->running && i < b->n; i++) {
            if (b->members[i]) {
                b->members[i]->batch = NULL;
            }
        }

        if (b->buf) {
            ngx_free(b->buf);
        }

        ngx_free(b);
    }

    pool->batches = NULL;
    pool->free = NULL;
}
