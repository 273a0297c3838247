
/*
 * libFuzzer target: the JSON string writer of src/ngx_http_fluentai_json.c
 * (json_str_len, json_str) against jansson, which wrote the profile's
 * user object before: json_stringn() of each column's bytes,
 * json_dumps(user, JSON_COMPACT).
 *
 * Input: byte 0 holds the null mask of the five string fields (bits
 * 0-4: id, email, name, avatar, bio) and is_email_verified (bit 5); the
 * rest is the field values, split on 0xfe.  The whole rest is also
 * checked as one string (so 0xfe is tested too).
 *
 * For every string: json_str_len is -1 iff json_stringn() refuses it;
 * otherwise json_str writes exactly json_str_len bytes (into an
 * exact-size buffer: ASan sees any overrun) and they are byte for byte
 * json_dumps(json_stringn(...), JSON_COMPACT | JSON_ENCODE_ANY).  The
 * user object composed as ngx_http_fluentai_user_buf() composes it (same
 * key texts, "null", true/false) equals json_dumps() of the object
 * ngx_http_fluentai_user_json() builds, or both refuse.  Any difference
 * aborts.
 */


#include <jansson.h>

#include "fuzz_common.h"
#include "ngx_http_fluentai_json.h"


#define FUZZ_FIELDS  5


static void
fuzz_diff(const char *what, const u_char *s, size_t len, const char *want,
    size_t want_len, const u_char *got, ssize_t got_len)
{
    size_t  i;

    fprintf(stderr, "%s differs\ninput (%zu bytes):", what, len);

    for (i = 0; i < len; i++) {
        fprintf(stderr, " %02x", s[i]);
    }

    fprintf(stderr, "\njansson (%zd): %.*s\njson.c  (%zd): %.*s\n",
            want ? (ssize_t) want_len : (ssize_t) -1,
            (int) want_len, want ? want : "", got_len,
            got_len > 0 ? (int) got_len : 0, got ? (const char *) got : "");

    abort();
}


/* one string: the writer vs jansson; returns jansson's text or NULL */

static char *
fuzz_string(const uint8_t *data, size_t len)
{
    char     *want;
    u_char   *s, *buf, *end;
    json_t   *j;
    ssize_t   n;

    s = fuzz_dup(data, len);

    n = ngx_http_fluentai_json_str_len(s, len);
    j = json_stringn((const char *) s, len);

    if (j == NULL) {
        if (n != -1) {
            fuzz_diff("refusal", s, len, NULL, 0, NULL, n);
        }

        free(s);
        return NULL;
    }

    want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    FUZZ_CHECK(want != NULL);

    if (n < 2) {
        fuzz_diff("refusal", s, len, want, strlen(want), NULL, n);
    }

    buf = malloc(n);
    FUZZ_CHECK(buf != NULL);

    end = ngx_http_fluentai_json_str(buf, s, len);

    if (end - buf != n || strlen(want) != (size_t) n
        || memcmp(buf, want, n) != 0)
    {
        fuzz_diff("string", s, len, want, strlen(want), buf, end - buf);
    }

    free(buf);
    free(s);

    return want;
}


/* ngx_http_fluentai_user_json() + json_dumps(JSON_COMPACT), as before */

static char *
fuzz_user_jansson(const uint8_t **v, const size_t *len, int verified)
{
    int          i;
    char        *dump;
    json_t      *user, *j;
    static char *keys[] = { "id", "email", "name", "avatar", "bio",
                            "is_email_verified" };

    user = json_object();
    FUZZ_CHECK(user != NULL);

    for (i = 0; i < FUZZ_FIELDS + 1; i++) {
        if (i == FUZZ_FIELDS) {
            j = json_boolean(verified);

        } else if (v[i] == NULL) {
            j = json_null();

        } else {
            j = json_stringn((const char *) v[i], len[i]);
        }

        if (j == NULL || json_object_set_new(user, keys[i], j) != 0) {
            json_decref(user);
            return NULL;
        }
    }

    dump = json_dumps(user, JSON_COMPACT);
    json_decref(user);
    FUZZ_CHECK(dump != NULL);

    return dump;
}


/* the object as ngx_http_fluentai_user_buf() writes it, or NULL */

static u_char *
fuzz_user_direct(const uint8_t **v, const size_t *len, int verified,
    size_t *out_len)
{
    int       i;
    size_t    total;
    ssize_t   n;
    u_char   *b, *p;

    static const char  *keys[] = {
        "{\"id\":", ",\"email\":", ",\"name\":", ",\"avatar\":", ",\"bio\":"
    };
    static const char  yes[] = ",\"is_email_verified\":true}";
    static const char  no[] = ",\"is_email_verified\":false}";

    total = sizeof(no) - 1;

    for (i = 0; i < FUZZ_FIELDS; i++) {
        total += strlen(keys[i]);

        if (v[i] == NULL) {
            total += 4;
            continue;
        }

        n = ngx_http_fluentai_json_str_len(v[i], len[i]);
        if (n < 0) {
            return NULL;
        }

        total += n;
    }

    b = malloc(total);
    FUZZ_CHECK(b != NULL);

    p = b;

    for (i = 0; i < FUZZ_FIELDS; i++) {
        memcpy(p, keys[i], strlen(keys[i]));
        p += strlen(keys[i]);

        if (v[i] == NULL) {
            memcpy(p, "null", 4);
            p += 4;
            continue;
        }

        p = ngx_http_fluentai_json_str(p, v[i], len[i]);
    }

    if (verified) {
        memcpy(p, yes, sizeof(yes) - 1);
        p += sizeof(yes) - 1;

    } else {
        memcpy(p, no, sizeof(no) - 1);
        p += sizeof(no) - 1;
    }

    FUZZ_CHECK((size_t) (p - b) <= total);
    *out_len = p - b;

    return b;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             i, verified;
    char           *want;
    size_t          len[FUZZ_FIELDS], n, got_len;
    u_char         *got;
    const uint8_t  *v[FUZZ_FIELDS], *p, *end, *sep;

    if (size == 0 || size > 4096) {
        return 0;
    }

    free(fuzz_string(data + 1, size - 1));

    p = data + 1;
    end = data + size;

    for (i = 0; i < FUZZ_FIELDS; i++) {
        sep = memchr(p, 0xfe, end - p);
        n = (sep ? sep : end) - p;

        v[i] = (data[0] & (1 << i)) ? NULL : p;
        len[i] = n;

        free(fuzz_string(p, n));

        p = sep ? sep + 1 : end;
    }

    verified = (data[0] >> 5) & 1;

    want = fuzz_user_jansson(v, len, verified);
    got = fuzz_user_direct(v, len, verified, &got_len);

    if ((want == NULL) != (got == NULL)
        || (want != NULL
            && (strlen(want) != got_len || memcmp(want, got, got_len) != 0)))
    {
        fuzz_diff("user object", data, size, want, want ? strlen(want) : 0,
                  got, got ? (ssize_t) got_len : -1);
    }

    free(want);
    free(got);

    return 0;
}
