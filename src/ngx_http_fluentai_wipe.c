
/*
 * Plaintext passwords are wiped before their memory is freed.
 *
 * A password reaches nginx in the request body: nginx's buffers (or a
 * temporary file), the module's one-buffer copy, jansson's lexer buffer
 * and the JSON string, then the password job's copies (wiped in http.c).
 * The body is wiped as soon as it is parsed; jansson's memory (strings,
 * lexer buffers, everything) is wiped when jansson frees it, through
 * allocation functions set before the module uses jansson.
 */


#include "ngx_http_fluentai.h"

#include <malloc.h>


static void ngx_http_fluentai_wipe_free(void *p);


void
ngx_http_fluentai_wipe_init(void)
{
    json_set_alloc_funcs(malloc, ngx_http_fluentai_wipe_free);
}


static void
ngx_http_fluentai_wipe_free(void *p)
{
    if (p) {
        ngx_explicit_memzero(p, malloc_usable_size(p));
        free(p);
    }
}


/* the request body as nginx holds it, and the module's copy */

void
ngx_http_fluentai_wipe_body(ngx_http_request_t *r, ngx_str_t *copy)
{
    off_t         off;
    size_t        n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;
    u_char        zero[1024];

    if (copy->data) {
        ngx_explicit_memzero(copy->data, copy->len);
    }

    if (r->request_body == NULL) {
        return;
    }

    ngx_memzero(zero, sizeof(zero));

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            if (b->pos && b->last > b->pos) {
                ngx_explicit_memzero(b->pos, b->last - b->pos);
            }

            continue;
        }

        /* a body in a temporary file: overwritten before it is deleted */

        for (off = b->file_pos; off < b->file_last; off += n) {
            n = (size_t) ngx_min((off_t) sizeof(zero), b->file_last - off);

            if (ngx_write_file(b->file, zero, n, off) == NGX_ERROR) {
                break;
            }
        }
    }
}
