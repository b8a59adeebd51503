/* The result model and its renderings (result.h). */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "print.h"
#include "result.h"

/* ---- the model ----------------------------------------------------------- */

void
vs_result_init(vs_result *r, const char *member, const vs_rcol *cols, size_t ncols,
               const char *domain)
{
    memset(r, 0, sizeof(*r));
    r->member = member;
    r->cols = cols;
    r->ncols = ncols;
    r->domain = vs_xstrdup(domain);
}

void
vs_result_set_head(vs_result *r, const vs_rcol *head, size_t nhead)
{
    r->head = head;
    r->nhead = nhead;
    r->headv = vs_xcalloc(nhead ? nhead : 1, sizeof(*r->headv));
}

struct vs_rsource {
    vs_result_fill_fn *fill;
    void *arg;
    size_t row;             /* the row the scratch holds, or SIZE_MAX */
    bool filling;
};

size_t
vs_result_add_row(vs_result *r)
{
    size_t need = (r->nrows + 1) * r->ncols, cap = r->cap * r->ncols;

    if (need > cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->cells = vs_xreallocarray(r->cells, r->cap * r->ncols, sizeof(*r->cells));
        memset(r->cells + cap, 0, (r->cap * r->ncols - cap) * sizeof(*r->cells));
    }
    return r->nrows++;
}

static void cell_clear(vs_rcell *c);

static vs_rcell *
cell(vs_result *r, size_t row, size_t col)
{
    if (row == VS_RHEAD)
        return &r->headv[col];
    if (r->src) {
        /* only the fill function writes a row, and only the row it fills */
        assert(r->src->filling && row == r->src->row);
        return &r->cells[col];
    }
    return &r->cells[row * r->ncols + col];
}

void
vs_result_set_source(vs_result *r, size_t n, vs_result_fill_fn *fill, void *arg)
{
    assert(!r->src && r->nrows == 0);
    r->src = vs_xcalloc(1, sizeof(*r->src));
    r->src->fill = fill;
    r->src->arg = arg;
    r->src->row = SIZE_MAX;
    r->cells = vs_xcalloc(r->ncols ? r->ncols : 1, sizeof(*r->cells));
    r->nrows = n;
}

/* With a row source, bring row into the scratch (the result is logically
 * const: the rows it stands for do not change). */
static void
fetch(const vs_result *r, size_t row)
{
    struct vs_rsource *src = r->src;
    vs_result *w = (vs_result *)r;
    size_t k;

    if (!src || row == VS_RHEAD || src->row == row)
        return;
    assert(row < r->nrows);
    for (k = 0; k < r->ncols; k++) {
        vs_rcell *c = &w->cells[k];

        if ((c->s && !c->borrowed) || c->v)
            cell_clear(c);
        memset(c, 0, sizeof(*c));
    }
    src->row = row;
    src->filling = true;
    src->fill(w, row, src->arg);
    src->filling = false;
}

static const vs_rcell *
ccell(const vs_result *r, size_t row, size_t col)
{
    if (row == VS_RHEAD)
        return &r->headv[col];
    fetch(r, row);
    if (r->src)
        return &r->cells[col];
    return &r->cells[row * r->ncols + col];
}

void
vs_result_str(vs_result *r, size_t row, size_t col, const char *s)
{
    vs_rcell *c = cell(r, row, col);

    if (!c->borrowed)
        free(c->s);
    c->s = vs_xstrdup(s);
    c->borrowed = false;
    c->set = s != NULL;
}

void
vs_result_str_ref(vs_result *r, size_t row, size_t col, const char *s)
{
    vs_rcell *c = cell(r, row, col);

    if (!c->borrowed)
        free(c->s);
    c->s = (char *)s;
    c->borrowed = true;
    c->set = s != NULL;
}

void
vs_result_int(vs_result *r, size_t row, size_t col, long long v)
{
    vs_rcell *c = cell(r, row, col);

    c->i = v;
    c->set = true;
}

void
vs_result_bool(vs_result *r, size_t row, size_t col, bool v)
{
    vs_result_int(r, row, col, v ? 1 : 0);
}

void
vs_result_strv(vs_result *r, size_t row, size_t col, char *const *v)
{
    vs_rcell *c = cell(r, row, col);
    size_t i;

    vs_strv_free(c->v);
    c->v = vs_xcalloc(1, sizeof(*c->v));
    for (i = 0; v && v[i]; i++)
        vs_strv_push(&c->v, v[i]);
    c->set = v != NULL;
}

void
vs_result_set_forest(vs_result *r, const long *parent)
{
    free(r->parent);
    r->parent = vs_xmalloc((r->nrows ? r->nrows : 1) * sizeof(*r->parent));
    if (r->nrows)
        memcpy(r->parent, parent, r->nrows * sizeof(*r->parent));
}

static void
cell_clear(vs_rcell *c)
{
    if (!c->borrowed)
        free(c->s);
    vs_strv_free(c->v);
}

void
vs_result_release(vs_result *r)
{
    size_t i;

    for (i = 0; i < (r->src ? 1 : r->nrows) * r->ncols; i++)
        cell_clear(&r->cells[i]);
    free(r->src);
    for (i = 0; i < r->nhead; i++)
        cell_clear(&r->headv[i]);
    free(r->cells);
    free(r->headv);
    free(r->parent);
    free(r->domain);
    memset(r, 0, sizeof(*r));
}

/* ---- text ---------------------------------------------------------------- */

static char *
text_of(const vs_rcol *col, const vs_rcell *c)
{
    vs_buf b = VS_BUF_INIT;
    char when[64];
    size_t i;

    if (!c->set)
        return vs_xstrdup(col->none ? col->none : "");
    switch (col->type) {
    case VS_RT_STR:
        return vs_xstrdup(c->s);
    case VS_RT_INT:
        return vs_xasprintf("%lld", c->i);
    case VS_RT_BOOL:
        return vs_xstrdup(c->i ? "yes" : "no");
    case VS_RT_TIME:
        vs_format_time(c->i, when);
        return vs_xstrdup(when);
    case VS_RT_STRV:
        for (i = 0; c->v && c->v[i]; i++) {
            if (i)
                vs_buf_addc(&b, ',');
            vs_buf_add(&b, c->v[i]);
        }
        if (!b.len)
            vs_buf_add(&b, col->none ? col->none : "");
        return vs_buf_steal(&b);
    }
    return vs_xstrdup("");
}

char *
vs_result_text(const vs_result *r, size_t row, size_t col)
{
    return text_of(row == VS_RHEAD ? &r->head[col] : &r->cols[col], ccell(r, row, col));
}

/* A cell's text as text_of makes it, without a copy where it can:
 * scratch (64 bytes) holds a number or a time; *owned is set to what the
 * caller frees (a list of strings), else NULL. */
static const char *
cell_text(const vs_rcol *col, const vs_rcell *c, char *scratch, char **owned)
{
    *owned = NULL;
    if (!c->set)
        return col->none ? col->none : "";
    switch (col->type) {
    case VS_RT_STR:
        return c->s;
    case VS_RT_INT:
        snprintf(scratch, 64, "%lld", c->i);
        return scratch;
    case VS_RT_BOOL:
        return c->i ? "yes" : "no";
    case VS_RT_TIME:
        vs_format_time(c->i, scratch);
        return scratch;
    case VS_RT_STRV:
        return *owned = text_of(col, c);
    }
    return "";
}

/* Streamed (vs_table_widen, then the rows again): the rows are never all
 * held as text, whatever their number. Neither pass copies a text, and
 * the first measures a time without making it. */
void
vs_result_print_table(vs_ctl *ctl, const vs_result *r, unsigned long mask)
{
    const char **headers = vs_xcalloc(r->ncols + 1, sizeof(*headers));
    const char **texts = vs_xcalloc(r->ncols + 1, sizeof(*texts));
    char **owned = vs_xcalloc(r->ncols + 1, sizeof(*owned));
    char (*scratch)[64] = vs_xcalloc(r->ncols + 1, sizeof(*scratch));
    size_t *which = vs_xcalloc(r->ncols + 1, sizeof(*which));
    size_t n = 0, row, k;
    vs_table *t;

    for (k = 0; k < r->ncols; k++)
        if (r->cols[k].header && (mask & (1UL << k))) {
            headers[n] = r->cols[k].header;
            which[n++] = k;
        }
    t = vs_table_new(headers, n);
    for (row = 0; row < r->nrows; row++) {
        for (k = 0; k < n; k++) {
            const vs_rcol *col = &r->cols[which[k]];
            const vs_rcell *c = ccell(r, row, which[k]);
            size_t w;

            if (c->set && col->type == VS_RT_TIME) {
                w = vs_format_time_width(c->i);
            } else {
                w = vs_table_text_width(cell_text(col, c, scratch[k], &owned[k]));
                free(owned[k]);
            }
            vs_table_widen_col(t, k, w);
        }
    }
    vs_table_print_head(ctl, t);
    for (row = 0; row < r->nrows; row++) {
        for (k = 0; k < n; k++)
            texts[k] = cell_text(&r->cols[which[k]], ccell(r, row, which[k]), scratch[k],
                                 &owned[k]);
        vs_table_print_cells(ctl, t, texts);
        for (k = 0; k < n; k++)
            free(owned[k]);
    }
    vs_table_free(t);
    free(which);
    free(scratch);
    free(owned);
    free(texts);
    free(headers);
}

void
vs_result_print_names(vs_ctl *ctl, const vs_result *r, size_t col, long col2)
{
    size_t row;

    for (row = 0; row < r->nrows; row++) {
        const vs_rcell *a = ccell(r, row, col);
        const vs_rcell *b = col2 >= 0 ? ccell(r, row, (size_t)col2) : NULL;

        FILE *out = ctl->out ? ctl->out : stdout;

        fputs(a->s ? a->s : "", out);
        if (b && b->set) {
            putc('\t', out);
            fputs(b->s, out);
        }
        putc('\n', out);
    }
}

void
vs_result_print_tree(vs_ctl *ctl, const vs_result *r, size_t col)
{
    const char **names = vs_xcalloc(r->nrows + 1, sizeof(*names));
    FILE *out = ctl->out ? ctl->out : stdout;
    vs_buf b = VS_BUF_INIT;
    size_t row;

    /* a row source reuses its scratch row: the names are copied then */
    for (row = 0; row < r->nrows; row++) {
        const vs_rcell *c = ccell(r, row, col);
        const char *s = c->s ? c->s : "";

        names[row] = r->src ? vs_xstrdup(s) : s;
    }
    vs_tree_draw(names, r->parent, r->nrows, &b, out);
    fwrite(b.data ? b.data : "", 1, b.len, out);
    vs_buf_reset(&b);
    if (r->src)
        for (row = 0; row < r->nrows; row++)
            free((char *)names[row]);
    free(names);
}

void
vs_result_print_fields(vs_ctl *ctl, const vs_result *r)
{
    size_t k;

    if (r->nrows == 0)
        return;
    for (k = 0; k < r->ncols; k++) {
        char *v;

        if (!r->cols[k].label)
            continue;
        v = vs_result_text(r, 0, k);
        vs_print_field(ctl, r->cols[k].label, v);
        free(v);
    }
}

/* ---- JSON ---------------------------------------------------------------- */

static void
json_string(vs_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;

    vs_buf_addc(b, '"');
    while (*p) {
        const unsigned char *run = p;

        /* runs of bytes that need no escape go in at once */
        while (*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            vs_buf_addn(b, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        switch (*p) {
        case '"': vs_buf_add(b, "\\\""); break;
        case '\\': vs_buf_add(b, "\\\\"); break;
        case '\n': vs_buf_add(b, "\\n"); break;
        case '\t': vs_buf_add(b, "\\t"); break;
        case '\r': vs_buf_add(b, "\\r"); break;
        default:
            vs_buf_add(b, "\\u00");
            vs_buf_addc(b, hex[*p >> 4]);
            vs_buf_addc(b, hex[*p & 15]);
        }
        p++;
    }
    vs_buf_addc(b, '"');
}

static void
json_value(vs_buf *b, const vs_rcol *col, const vs_rcell *c)
{
    size_t i;

    if (!c->set) {
        vs_buf_add(b, "null");
        return;
    }
    switch (col->type) {
    case VS_RT_STR:
        json_string(b, c->s);
        break;
    case VS_RT_INT:
    case VS_RT_TIME:
        vs_buf_addf(b, "%lld", c->i);
        break;
    case VS_RT_BOOL:
        vs_buf_add(b, c->i ? "true" : "false");
        break;
    case VS_RT_STRV:
        vs_buf_addc(b, '[');
        for (i = 0; c->v && c->v[i]; i++) {
            if (i)
                vs_buf_addc(b, ',');
            json_string(b, c->v[i]);
        }
        vs_buf_addc(b, ']');
        break;
    }
}

/* The members of row (or of the head), each preceded by a comma when
 * `more` (something came before in the object). */
static void
json_members(vs_buf *b, const vs_result *r, size_t row, bool more)
{
    const vs_rcol *cols = row == VS_RHEAD ? r->head : r->cols;
    size_t n = row == VS_RHEAD ? r->nhead : r->ncols, k;

    for (k = 0; k < n; k++) {
        if (!cols[k].key)
            continue;
        if (more)
            vs_buf_addc(b, ',');
        more = true;
        json_string(b, cols[k].key);
        vs_buf_addc(b, ':');
        json_value(b, &cols[k], ccell(r, row, k));
    }
}

/* Write out what b holds once it is large: a listing of any size is
 * written in pieces, never held whole. */
static void
json_flush(FILE *f, vs_buf *b, bool force)
{
    if (b->len && (force || b->len >= 1 << 16)) {
        fwrite(b->data, 1, b->len, f);
        b->len = 0;
    }
}

/* The forest, nested, without recursion: a chain of any depth is fine. */
static void
json_forest(FILE *f, vs_buf *b, const vs_result *r)
{
    size_t n = r->nrows, k, depth = 0;
    long *first = vs_xmalloc((n ? n : 1) * sizeof(*first));
    long *next = vs_xmalloc((n ? n : 1) * sizeof(*next));
    long *cursor = vs_xmalloc((n ? n : 1) * sizeof(*cursor));
    size_t *stack = vs_xmalloc((n ? n : 1) * sizeof(*stack));
    bool any = false;

    for (k = 0; k < n; k++)
        first[k] = next[k] = -1;
    for (k = n; k-- > 0;) {
        long p = r->parent[k];

        if (p >= 0) {
            next[k] = first[p];
            first[p] = (long)k;
        }
    }
    vs_buf_addc(b, '[');
    for (k = 0; k < n; k++) {
        if (r->parent[k] >= 0)
            continue;
        if (any)
            vs_buf_addc(b, ',');
        any = true;
        vs_buf_addc(b, '{');
        json_members(b, r, k, false);
        vs_buf_add(b, ",\"children\":[");
        stack[depth++] = k;
        cursor[k] = first[k];
        while (depth > 0) {
            size_t top = stack[depth - 1];
            long c = cursor[top];

            if (c < 0) {
                vs_buf_add(b, "]}");
                depth--;
                continue;
            }
            cursor[top] = next[c];
            if (c != first[top])
                vs_buf_addc(b, ',');
            vs_buf_addc(b, '{');
            json_members(b, r, (size_t)c, false);
            vs_buf_add(b, ",\"children\":[");
            stack[depth++] = (size_t)c;
            cursor[c] = first[c];
            json_flush(f, b, false);
        }
    }
    vs_buf_addc(b, ']');
    free(stack);
    free(cursor);
    free(next);
    free(first);
}

void
vs_result_print_json(vs_ctl *ctl, const vs_result *r)
{
    FILE *f = ctl->out ? ctl->out : stdout;
    vs_buf b = VS_BUF_INIT;
    size_t k;

    vs_buf_addf(&b, "{\"version\":%d", VS_JSON_VERSION);
    if (r->domain) {
        vs_buf_add(&b, ",\"domain\":");
        json_string(&b, r->domain);
    }
    json_members(&b, r, VS_RHEAD, true);
    if (r->member) {
        vs_buf_addc(&b, ',');
        json_string(&b, r->member);
        vs_buf_addc(&b, ':');
        if (r->single) {
            vs_buf_addc(&b, '{');
            if (r->nrows)
                json_members(&b, r, 0, false);
            vs_buf_addc(&b, '}');
        } else if (r->parent) {
            json_forest(f, &b, r);
        } else {
            vs_buf_addc(&b, '[');
            for (k = 0; k < r->nrows; k++) {
                if (k)
                    vs_buf_addc(&b, ',');
                vs_buf_addc(&b, '{');
                json_members(&b, r, k, false);
                vs_buf_addc(&b, '}');
                json_flush(f, &b, false);
            }
            vs_buf_addc(&b, ']');
        }
    }
    vs_buf_add(&b, "}\n");
    json_flush(f, &b, true);
    vs_buf_reset(&b);
}
