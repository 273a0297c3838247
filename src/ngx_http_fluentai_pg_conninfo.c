
/*
 * The database layer at configuration time: "fluentai_database".
 */


#include "ngx_http_fluentai_pg.h"

#include <netdb.h>


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
    char               *ci, *err, *host, *hostaddr;
    u_char             *p;
    size_t              len;
    PQconninfoOption   *opts, *o;
    char                addr[NGX_SOCKADDR_STRLEN];

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

    for (o = opts; o->keyword; o++) {
        if (o->val && o->val[0] && ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;
        }

        if (o->val && o->val[0] && ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;
        }
    }

    addr[0] = '\0';

    if (host && hostaddr == NULL && host[0] != '/' && host[0] != '@') {
        if (ngx_http_fluentai_pg_resolve(cf, host, addr) != NGX_OK) {
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }
    }

    len = sizeof("hostaddr=''") + ngx_strlen(addr);

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

    if (addr[0]) {
        p = ngx_http_fluentai_pg_kv(p, "hostaddr", addr);
    }

    *p = '\0';
    conninfo->len = p - conninfo->data;

    PQconninfoFree(opts);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fluentai_pg_resolve(ngx_conf_t *cf, char *host, char *addr)
{
    int               rc;
    size_t            len;
    struct addrinfo   hints, *res, *ai;

    if (ngx_strchr(host, ',')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fluentai_database\": several hosts are not "
                           "supported, use one host or a pooler");
        return NGX_ERROR;
    }

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
