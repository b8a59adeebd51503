/*
 * jsonflat: read one JSON document from stdin (json-c, strict, nesting up to
 * 1,000,000 deep), refuse anything else after it, and print every scalar as
 * PATH=VALUE, one per line, in document order: ".snapshots[0].name=s1",
 * ".snapshots[0].children[0].parent=s1", ".plan=null". Strings are printed
 * as they are (the tests compare names byte for byte). Exit 1 on any error.
 * For the shell tests of --json (tests/scenarios/json.sh, prune.sh).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"

static char *path;
static size_t plen, pcap;

static void
path_cut(size_t len)
{
    plen = len;
    path[plen] = '\0';
}

static void
path_add(const char *s)
{
    size_t n = strlen(s);

    if (plen + n + 1 > pcap) {
        pcap = (plen + n + 1) * 2;
        path = realloc(path, pcap);
    }
    memcpy(path + plen, s, n + 1);
    plen += n;
}

/* Iterative, like vsnap's writer: a chain of any depth is fine. */
typedef struct frame {
    json_object *o;
    size_t path_len;
    size_t i, n;
    struct json_object_iterator it, end;
} frame;

static void
scalar(const char *at, json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null: printf("%s=null\n", at); break;
    case json_type_boolean: printf("%s=%s\n", at, json_object_get_boolean(o) ? "true" : "false"); break;
    case json_type_int: printf("%s=%lld\n", at, (long long)json_object_get_int64(o)); break;
    case json_type_double: printf("%s=%g\n", at, json_object_get_double(o)); break;
    case json_type_string: printf("%s=%s\n", at, json_object_get_string(o)); break;
    default: break;
    }
}

static void
walk(json_object *root)
{
    frame *st = calloc(1024, sizeof(*st));
    size_t depth = 0, cap = 1024;
    char num[32];

    path_cut(0);
    if (!json_object_is_type(root, json_type_object) && !json_object_is_type(root, json_type_array)) {
        scalar("", root);
        free(st);
        return;
    }
    st[depth].o = root;
    st[depth].path_len = 0;
    st[depth].i = 0;
    st[depth].n = json_object_is_type(root, json_type_array) ? json_object_array_length(root) : 0;
    if (json_object_is_type(root, json_type_object)) {
        st[depth].it = json_object_iter_begin(root);
        st[depth].end = json_object_iter_end(root);
    }
    depth++;
    while (depth > 0) {
        frame *f = &st[depth - 1];
        json_object *child;

        path_cut(f->path_len);
        if (json_object_is_type(f->o, json_type_array)) {
            if (f->i >= f->n) {
                depth--;
                continue;
            }
            child = json_object_array_get_idx(f->o, f->i);
            snprintf(num, sizeof(num), "[%zu]", f->i++);
            path_add(num);
        } else {
            if (json_object_iter_equal(&f->it, &f->end)) {
                depth--;
                continue;
            }
            child = json_object_iter_peek_value(&f->it);
            path_add(".");
            path_add(json_object_iter_peek_name(&f->it));
            json_object_iter_next(&f->it);
        }
        if (json_object_is_type(child, json_type_object) || json_object_is_type(child, json_type_array)) {
            if (depth == cap) {
                cap *= 2;
                st = realloc(st, cap * sizeof(*st));
            }
            f = &st[depth++];
            memset(f, 0, sizeof(*f));
            f->o = child;
            f->path_len = plen;
            if (json_object_is_type(child, json_type_array)) {
                f->n = json_object_array_length(child);
                if (f->n == 0)
                    printf("%s=[]\n", path);
            } else {
                f->it = json_object_iter_begin(child);
                f->end = json_object_iter_end(child);
                if (json_object_iter_equal(&f->it, &f->end))
                    printf("%s={}\n", path);
            }
        } else {
            scalar(path, child);
        }
    }
    free(st);
}

int
main(void)
{
    pcap = 256;
    path = calloc(1, pcap);
    vs_buf in = VS_BUF_INIT;
    char chunk[65536];
    size_t r;
    json_tokener *tok;
    json_object *doc;
    size_t used;

    while ((r = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        vs_buf_addn(&in, chunk, r);
    tok = json_tokener_new_ex(1000000);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    doc = json_tokener_parse_ex(tok, in.data ? in.data : "", (int)in.len);
    if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
        fprintf(stderr, "jsonflat: not JSON: %s\n",
                json_tokener_error_desc(json_tokener_get_error(tok)));
        return 1;
    }
    used = (size_t)json_tokener_get_parse_end(tok);
    while (used < in.len && (in.data[used] == '\n' || in.data[used] == ' '))
        used++;
    if (used != in.len) {
        fprintf(stderr, "jsonflat: more after the document\n");
        return 1;
    }
    walk(doc);
    json_object_put(doc);
    json_tokener_free(tok);
    vs_buf_reset(&in);
    free(path);
    return 0;
}
