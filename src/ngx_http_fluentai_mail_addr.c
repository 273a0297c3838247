
/*
 * Mailboxes: "Display Name <local@domain>" or "local@domain", as
 * configured (fluentai_mail_from) or stored (the recipient).  Pure C.
 * See ngx_http_fluentai_mail_msg.h.
 */


#include <string.h>

#include "ngx_http_fluentai_utf8.h"
#include "ngx_http_fluentai_mail_msg.h"


/* RFC 5322 atext */

int
ngx_http_fluentai_mail_atext(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}


const char *
ngx_http_fluentai_mail_addr_check(const char *s, size_t len,
    ngx_http_fluentai_mstr_t *domain)
{
    size_t       i, at, label;
    const char  *p;

    if (len == 0 || len > NGX_HTTP_FLUENTAI_MAIL_ADDR_MAX) {
        return "address length";
    }

    p = memchr(s, '@', len);
    if (p == NULL) {
        return "no \"@\" in the address";
    }

    at = p - s;

    if (at == 0 || at > 64 || s[0] == '.' || s[at - 1] == '.') {
        return "invalid local part";
    }

    for (i = 0; i < at; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.') {
                return "invalid local part";
            }
            continue;
        }

        if (!ngx_http_fluentai_mail_atext((unsigned char) s[i])) {
            return "invalid character in the local part";
        }
    }

    if (at + 1 >= len) {
        return "empty domain";
    }

    label = 0;

    for (i = at + 1; i < len; i++) {
        if (s[i] == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return "invalid domain";
            }
            label = 0;
            continue;
        }

        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')
            || (label == 0 && s[i] == '-')
            || ++label > 63)
        {
            return "invalid domain";
        }
    }

    if (label == 0 || s[len - 1] == '-') {
        return "invalid domain";
    }

    domain->data = s + at + 1;
    domain->len = len - at - 1;

    return NULL;
}


const char *
ngx_http_fluentai_mailbox_parse(const char *s, size_t len,
    ngx_http_fluentai_mailbox_t *mb)
{
    size_t       i;
    const char  *end, *lt, *name, *name_end, *err;

    memset(mb, 0, sizeof(ngx_http_fluentai_mailbox_t));

    if (!ngx_http_fluentai_utf8_text(s, len)) {
        return "not UTF-8";
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return "control character";
        }
    }

    end = s + len;

    while (end > s && end[-1] == ' ') {
        end--;
    }

    while (s < end && *s == ' ') {
        s++;
    }

    lt = memchr(s, '<', end - s);

    if (lt == NULL) {
        mb->addr.data = s;
        mb->addr.len = end - s;
        return ngx_http_fluentai_mail_addr_check(mb->addr.data, mb->addr.len,
                                                 &mb->domain);
    }

    if (end[-1] != '>' || memchr(lt + 1, '<', end - lt - 1)) {
        return "expected \"Name <address>\"";
    }

    name = s;
    name_end = lt;

    while (name_end > name && name_end[-1] == ' ') {
        name_end--;
    }

    /* a quoted display name is taken without its quotes */

    if (name_end - name >= 2 && *name == '"' && name_end[-1] == '"') {
        name++;
        name_end--;
    }

    if (memchr(name, '"', name_end - name)
        || memchr(name, '\\', name_end - name))
    {
        return "quote or backslash in the display name";
    }

    mb->name.data = name;
    mb->name.len = name_end - name;
    mb->addr.data = lt + 1;
    mb->addr.len = end - 1 - (lt + 1);

    err = ngx_http_fluentai_mail_addr_check(mb->addr.data, mb->addr.len,
                                            &mb->domain);

    return err;
}
