
/*
 * The database layer at configuration time: "fluentai_database".
 */


#include "ngx_http_fluentai_pg.h"

#include <netdb.h>


static ngx_int_t ngx_http_fluentai_pg_hosts(ngx_conf_t *cf, char *host,
    char *hostaddr, char *port, ngx_str_t *addrs);
static ngx_uint_t ngx_http_fluentai_pg_count(char *list);
static ngx_int_t ngx_http_fluentai_pg_resolve(ngx_conf_t *cf, char *host,
    char *addr);
static u_char *ngx_http_fluentai_pg_kv(u_char *p, const char *key,
    const char *val);



/*
 * Configuration time: parse the conninfo (keyword/value or URI), resolve a
 * host name now so that connecting never needs DNS, and rebuild it as a
 * keyword/value string with hostaddr set.
 */

char *
ngx_http_fluentai_pg_check_conninfo(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *conninfo)
{
    char               *ci, *err, *host, *hostaddr, *port;
    u_char             *p;
    size_t              len;
    ngx_str_t           addrs;
    PQconninfoOption   *opts, *o;

    ci = (char *) ngx_pnalloc(cf->pool, value->len + 1);
    if (ci == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn((u_char *) ci, value->data, value->len + 1);

    err = NULL;
    opts = PQconninfoParse(ci, &err);

    if (opts == NULL) {
        len = err ? ngx_strlen(err) : 0;
        while (len && err[len - 1] == '\n') {
            len--;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"fluentai_database\": %*s", len,
                           err ? err : "out of memory");
        PQfreemem(err);
        return NGX_CONF_ERROR;
    }

    host = NULL;
    hostaddr = NULL;
    port = NULL;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            port = o->val;
        }
    }

    if (ngx_http_fluentai_pg_hosts(cf, host, hostaddr, port, &addrs)
        != NGX_OK)
    {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    len = sizeof("hostaddr=''") + 2 * addrs.len;

    for (o = opts; o->keyword; o++) {
        if (o->val && o->val[0]) {
            len += ngx_strlen(o->keyword) + 4 + 2 * ngx_strlen(o->val);
        }
    }

    p = ngx_pnalloc(cf->pool, len + 1);
    if (p == NULL) {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    conninfo->data = p;

    for (o = opts; o->keyword; o++) {
        if (o->val && o->val[0]) {
            p = ngx_http_fluentai_pg_kv(p, o->keyword, o->val);
        }
    }

    if (addrs.len) {
        p = ngx_http_fluentai_pg_kv(p, "hostaddr", (char *) addrs.data);
    }

    *p = '\0';
    conninfo->len = p - conninfo->data;

    PQconninfoFree(opts);

    return NGX_CONF_OK;
}


/*
 * host, hostaddr and port may be lists (libpq's "host=a,b port=1,2"): the
 * counts must agree as libpq wants them (as many hostaddrs as hosts when
 * both are given; one port for all or one per host).  Without hostaddr,
 * every element of host that is a name is resolved now, into the same
 * element of a hostaddr list; a socket directory or an empty element gets
 * an empty one, which libpq reads as "use host".  addrs is empty when
 * nothing was resolved.
 */

static ngx_int_t
ngx_http_fluentai_pg_hosts(ngx_conf_t *cf, char *host, char *hostaddr,
    char *port, ngx_str_t *addrs)
{
    char        *p, *end, *name;
    u_char      *a;
    size_t       len;
    ngx_uint_t   nhosts, naddrs, nports, n, resolved;
    char         addr[NGX_SOCKADDR_STRLEN];

    ngx_str_null(addrs);

    nhosts = host ? ngx_http_fluentai_pg_count(host) : 0;
    naddrs = hostaddr ? ngx_http_fluentai_pg_count(hostaddr) : 0;
    nports = port ? ngx_http_fluentai_pg_count(port) : 1;

    if (nhosts && naddrs && nhosts != naddrs) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fluentai_database\": %ui hosts but %ui "
                           "hostaddrs (give one hostaddr per host)",
                           nhosts, naddrs);
        return NGX_ERROR;
    }

    n = ngx_max(nhosts, naddrs);

    if (nports != 1 && nports != ngx_max(n, 1)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fluentai_database\": %ui hosts but %ui ports "
                           "(give one port for all or one per host)",
                           ngx_max(n, 1), nports);
        return NGX_ERROR;
    }

    if (host == NULL || hostaddr) {
        return NGX_OK;
    }

    a = ngx_pnalloc(cf->pool, nhosts * NGX_SOCKADDR_STRLEN + 1);
    if (a == NULL) {
        return NGX_ERROR;
    }

    addrs->data = a;
    resolved = 0;

    for (p = host; /* void */; p = end + 1) {
        end = ngx_strchr(p, ',');
        len = end ? (size_t) (end - p) : ngx_strlen(p);

        if (a != addrs->data) {
            *a++ = ',';
        }

        if (len && p[0] != '/' && p[0] != '@') {
            name = ngx_pnalloc(cf->pool, len + 1);
            if (name == NULL) {
                return NGX_ERROR;
            }

            ngx_cpystrn((u_char *) name, (u_char *) p, len + 1);

            if (ngx_http_fluentai_pg_resolve(cf, name, addr) != NGX_OK) {
                return NGX_ERROR;
            }

            a = ngx_cpymem(a, addr, ngx_strlen(addr));
            resolved++;
        }

        if (end == NULL) {
            break;
        }
    }

    *a = '\0';
    addrs->len = resolved ? (size_t) (a - addrs->data) : 0;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_fluentai_pg_count(char *list)
{
    ngx_uint_t  n;

    for (n = 1; *list; list++) {
        if (*list == ',') {
            n++;
        }
    }

    return n;
}


static ngx_int_t
ngx_http_fluentai_pg_resolve(ngx_conf_t *cf, char *host, char *addr)
{
    int               rc;
    size_t            len;
    struct addrinfo   hints, *res, *ai;

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, NULL, &hints, &res);

    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fluentai_database\": host \"%s\" could not "
                           "be resolved: %s", host, gai_strerror(rc));
        return NGX_ERROR;
    }

    /* IPv4 first: "localhost" must not land on ::1 the server ignores */

    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            break;
        }
    }

    if (ai == NULL) {
        ai = res;
    }

    len = ngx_sock_ntop(ai->ai_addr, ai->ai_addrlen, (u_char *) addr,
                        NGX_SOCKADDR_STRLEN - 1, 0);
    addr[len] = '\0';

    freeaddrinfo(res);

    return NGX_OK;
}


static u_char *
ngx_http_fluentai_pg_kv(u_char *p, const char *key, const char *val)
{
    p = ngx_cpymem(p, key, ngx_strlen(key));
    *p++ = '=';
    *p++ = '\'';

    while (*val) {
        if (*val == '\'' || *val == '\\') {
            *p++ = '\\';
        }

        *p++ = *val++;
    }

    *p++ = '\'';
    *p++ = ' ';

    return p;
}
