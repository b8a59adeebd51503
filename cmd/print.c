#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>
#include <wctype.h>

#include "buf.h"
#include "mem.h"
#include "print.h"

/* ---------------------------------------------------------------- output -- */

void
vs_out(vs_ctl *ctl, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(ctl->out ? ctl->out : stdout, fmt, ap);
    va_end(ap);
}

void
vs_out_extra(vs_ctl *ctl, const char *fmt, ...)
{
    va_list ap;

    if (ctl->quiet)
        return;
    va_start(ap, fmt);
    vfprintf(ctl->out ? ctl->out : stdout, fmt, ap);
    va_end(ap);
}

static void print_prefixed(vs_ctl *ctl, const char *prefix, const char *fmt, va_list ap)
    VS_PRINTF(3, 0);

static void
print_prefixed(vs_ctl *ctl, const char *prefix, const char *fmt, va_list ap)
{
    /* stdout first, so that a terminal shows output and error in order */
    fflush(ctl->out ? ctl->out : stdout);
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void
vs_print_error(vs_ctl *ctl, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_prefixed(ctl, "error: ", fmt, ap);
    va_end(ap);
}

void
vs_print_warning(vs_ctl *ctl, const char *fmt, ...)
{
    vs_error w;
    va_list ap;

    /* Through vs_error for its \xNN encoding of control bytes. */
    va_start(ap, fmt);
    vs_error_setv(&w, VS_ERR_PLAIN, fmt, ap);
    va_end(ap);
    fflush(ctl->out ? ctl->out : stdout);
    fprintf(stderr, "warning: %s\n", w.msg);
    fflush(stderr);
}

/* ----------------------------------------------------------------- table -- */

typedef struct cell {
    char *text;     /* safe-encoded */
    size_t width;   /* columns it takes on a terminal */
} cell;

struct vs_table {
    size_t ncols;
    cell *header;
    cell **rows;
    size_t nrows, cap;
    size_t *widths;         /* of the header and every row widened so far */
    vs_buf line;            /* the streamed rows' scratch */
};

/*
 * Names come from users and files, so they may hold anything: every byte
 * that is not part of a printable character in the current locale is shown
 * as \xNN (virsh's table does the same), and the width is what the
 * terminal will use, so multibyte names still line up.
 */
static void
cell_set(cell *c, const char *s)
{
    vs_buf b = VS_BUF_INIT;
    mbstate_t st;
    size_t len = strlen(s), i = 0, width = 0;

    /* all printable ASCII (the usual case): as it is */
    while (i < len && s[i] >= 0x20 && s[i] < 0x7f)
        i++;
    if (i == len) {
        c->text = vs_xstrdup(s);
        c->width = len;
        return;
    }
    i = 0;
    memset(&st, 0, sizeof(st));
    while (i < len) {
        wchar_t wc;
        size_t n, k;
        int w;

        /* printable ASCII is one column in every locale: a run at once */
        for (k = i; k < len && s[k] >= 0x20 && s[k] < 0x7f; k++)
            ;
        if (k > i) {
            vs_buf_addn(&b, s + i, k - i);
            width += k - i;
            i = k;
            continue;
        }
        n = mbrtowc(&wc, s + i, len - i, &st);

        if (n == (size_t)-1 || n == (size_t)-2 || n == 0 ||
            !iswprint((wint_t)wc) || (w = wcwidth(wc)) < 0) {
            vs_buf_addf(&b, "\\x%02x", (unsigned char)s[i]);
            width += 4;
            memset(&st, 0, sizeof(st));
            i++;
            continue;
        }
        vs_buf_addn(&b, s + i, n);
        width += (size_t)w;
        i += n;
    }
    c->text = vs_buf_steal(&b);
    c->width = width;
}

vs_table *
vs_table_new(const char *const headers[], size_t ncols)
{
    vs_table *t = vs_xcalloc(1, sizeof(*t));
    size_t i;

    t->ncols = ncols;
    t->header = vs_xcalloc(ncols, sizeof(*t->header));
    t->widths = vs_xcalloc(ncols ? ncols : 1, sizeof(*t->widths));
    for (i = 0; i < ncols; i++) {
        cell_set(&t->header[i], headers[i]);
        t->widths[i] = t->header[i].width;
    }
    return t;
}

static cell *row_cells(const vs_table *t, const char *const cells[]);

void
vs_table_add_row(vs_table *t, const char *const cells[])
{
    cell *row = row_cells(t, cells);

    vs_xgrow(&t->rows, &t->cap, t->nrows, sizeof(*t->rows));
    t->rows[t->nrows++] = row;
}

/* One row into b (written out a row at a time: one stdio call, not one per cell). */
static void
print_row(vs_ctl *ctl, vs_buf *b, const vs_table *t, const cell *row, const size_t *widths)
{
    size_t i, k;

    b->len = 0;
    for (i = 0; i < t->ncols; i++) {
        vs_buf_addc(b, ' ');
        vs_buf_add(b, row[i].text);
        for (k = 0; i + 1 < t->ncols && k < widths[i] - row[i].width + 2; k++)
            vs_buf_addc(b, ' ');
    }
    vs_buf_addc(b, '\n');
    fwrite(b->data, 1, b->len, ctl->out ? ctl->out : stdout);
}

/* The widths the stored rows add to the streamed ones' (caller frees). */
static size_t *
widths_of(const vs_table *t)
{
    size_t *widths = vs_xcalloc(t->ncols ? t->ncols : 1, sizeof(*widths));
    size_t i, r;

    for (i = 0; i < t->ncols; i++) {
        widths[i] = t->widths[i];
        for (r = 0; r < t->nrows; r++)
            if (t->rows[r][i].width > widths[i])
                widths[i] = t->rows[r][i].width;
    }
    return widths;
}

static void
print_head(vs_ctl *ctl, vs_buf *b, const vs_table *t, const size_t *widths)
{
    size_t i, total = 0;

    if (ctl->quiet)
        return;
    print_row(ctl, b, t, t->header, widths);
    for (i = 0; i < t->ncols; i++)
        total += widths[i] + 3;
    for (i = 0; i < total; i++)
        vs_out(ctl, "-");
    vs_out(ctl, "\n");
}

void
vs_table_print(vs_ctl *ctl, const vs_table *t)
{
    size_t *widths = widths_of(t);
    size_t r;
    vs_buf b = VS_BUF_INIT;

    print_head(ctl, &b, t, widths);
    for (r = 0; r < t->nrows; r++)
        print_row(ctl, &b, t, t->rows[r], widths);
    vs_buf_reset(&b);
    free(widths);
}

/* A row's cells measured and shown as the table shows them (caller frees
 * each text and the array). */
static cell *
row_cells(const vs_table *t, const char *const cells[])
{
    cell *row = vs_xcalloc(t->ncols ? t->ncols : 1, sizeof(*row));
    size_t i;

    for (i = 0; i < t->ncols; i++)
        cell_set(&row[i], cells[i] ? cells[i] : "");
    return row;
}

static void row_free(cell *row, size_t ncols);

/* The length of s when it is all printable ASCII (shown as it is, one
 * column a byte: the usual case), else (size_t)-1. */
static size_t
plain_len(const char *s)
{
    const char *p = s;

    while (*p >= 0x20 && *p < 0x7f)
        p++;
    return *p ? (size_t)-1 : (size_t)(p - s);
}

size_t
vs_table_text_width(const char *s)
{
    size_t w = plain_len(s);
    cell c;

    if (w != (size_t)-1)
        return w;
    cell_set(&c, s);
    free(c.text);
    return c.width;
}

void
vs_table_widen_col(vs_table *t, size_t col, size_t width)
{
    if (width > t->widths[col])
        t->widths[col] = width;
}

void
vs_table_widen(vs_table *t, const char *const cells[])
{
    size_t i;

    for (i = 0; i < t->ncols; i++)
        vs_table_widen_col(t, i, vs_table_text_width(cells[i] ? cells[i] : ""));
}

void
vs_table_print_head(vs_ctl *ctl, const vs_table *t)
{
    vs_buf b = VS_BUF_INIT;

    print_head(ctl, &b, t, t->widths);
    vs_buf_reset(&b);
}

/* As print_row, without a cell made for each text (a listing prints tens
 * of thousands of rows): printable ASCII goes in as it is. */
void
vs_table_print_cells(vs_ctl *ctl, vs_table *t, const char *const cells[])
{
    vs_buf *b = &t->line;
    size_t i, k, w, pad;

    b->len = 0;
    for (i = 0; i < t->ncols; i++) {
        const char *s = cells[i] ? cells[i] : "";

        vs_buf_addc(b, ' ');
        if ((w = plain_len(s)) != (size_t)-1) {
            vs_buf_addn(b, s, w);
        } else {
            cell c;

            cell_set(&c, s);
            vs_buf_add(b, c.text);
            w = c.width;
            free(c.text);
        }
        if (i + 1 < t->ncols) {
            pad = t->widths[i] - w + 2;
            for (k = 0; k < pad; k++)
                vs_buf_addc(b, ' ');
        }
    }
    vs_buf_addc(b, '\n');
    fwrite(b->data, 1, b->len, ctl->out ? ctl->out : stdout);
}

static void
row_free(cell *row, size_t ncols)
{
    size_t i;

    for (i = 0; i < ncols; i++)
        free(row[i].text);
    free(row);
}

void
vs_table_free(vs_table *t)
{
    size_t r;

    if (!t)
        return;
    for (r = 0; r < t->nrows; r++)
        row_free(t->rows[r], t->ncols);
    free(t->rows);
    row_free(t->header, t->ncols);
    free(t->widths);
    vs_buf_reset(&t->line);
    free(t);
}

/* ---------------------------------------------------------------- fields -- */

void
vs_print_field(vs_ctl *ctl, const char *label, const char *value)
{
    vs_out(ctl, "%-15s %s\n", label, value);
}

/* n as `width` decimal digits at p; returns p past them */
static char *
put_num(char *p, long n, int width)
{
    int i;

    for (i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + n % 10);
        n /= 10;
    }
    return p + width;
}

void
vs_format_time(long long t, char out[64])
{
    time_t tt = (time_t)t;
    struct tm tm;
    long off;
    char *p = out;

    if (!localtime_r(&tt, &tm)) {
        snprintf(out, 64, "%lld", t);
        return;
    }
    /* strftime's "%Y-%m-%d %H:%M:%S %z" without its cost (a listing makes
     * one per snapshot): numbers only, the same in every locale */
    if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        if (strftime(out, 64, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
            snprintf(out, 64, "%lld", t);
        return;
    }
    p = put_num(p, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = put_num(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_num(p, tm.tm_mday, 2);
    *p++ = ' ';
    p = put_num(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_num(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_num(p, tm.tm_sec, 2);
    *p++ = ' ';
    off = tm.tm_gmtoff / 60;
    *p++ = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    p = put_num(p, off / 60 % 100, 2);
    p = put_num(p, off % 60, 2);
    *p = '\0';
}

size_t
vs_format_time_width(long long t)
{
    char when[64];

    /* years 1 to 9999 in every time zone: "YYYY-MM-DD HH:MM:SS +hhmm" */
    if (t >= -62135596800LL + 2 * 86400 && t <= 253402300799LL - 2 * 86400)
        return 25;
    vs_format_time(t, when);
    return strlen(when);
}

/* ------------------------------------------------------------------ tree -- */

typedef struct indent {
    char *s;
    size_t len, cap;
} indent;

static void
indent_add(indent *in, const char *two)
{
    vs_xgrow(&in->s, &in->cap, in->len + 2, 1);
    in->s[in->len++] = two[0];
    in->s[in->len++] = two[1];
}

typedef struct frame {
    size_t k;          /* the node */
    long cursor;       /* next child to visit, -1 = done */
    bool root, last;
} frame;

void
vs_tree_draw(const char *const *names, const long *parent, size_t n, vs_buf *b, FILE *out)
{
    long *first, *next;
    frame *stack;
    size_t depth = 0, k;
    indent in = { NULL, 0, 64 };

    if (!n)
        return;
    in.s = vs_xmalloc(in.cap);
    first = vs_xmalloc(n * sizeof(*first));
    next = vs_xmalloc(n * sizeof(*next));
    for (k = 0; k < n; k++)
        first[k] = next[k] = -1;
    /* Children lists in node order (prepend while walking backwards). */
    for (k = n; k-- > 0;) {
        long p = parent[k];

        if (p >= 0) {
            next[k] = first[p];
            first[p] = (long)k;
        }
    }
    stack = vs_xmalloc(n * sizeof(*stack));

    for (k = 0; k < n; k++) {
        size_t cur = k;
        bool root = true, last = true;

        if (parent[k] >= 0)
            continue;
        /* A root is its own last sibling, as in virsh. */
        for (;;) {
            frame *f;

            /* enter node `cur` */
            vs_buf_addn(b, in.s, in.len);
            if (!root)
                vs_buf_add(b, "+- ");
            vs_buf_add(b, names[cur]);
            vs_buf_addc(b, '\n');
            if (!root)
                indent_add(&in, last ? "  " : "| ");
            if (first[cur] >= 0) {
                vs_buf_addn(b, in.s, in.len);
                vs_buf_add(b, "  |\n");
            }
            indent_add(&in, "  ");
            f = &stack[depth++];
            f->k = cur;
            f->cursor = first[cur];
            f->root = root;
            f->last = last;

            if (out && b->len >= 1 << 16) {
                fwrite(b->data, 1, b->len, out);
                b->len = 0;
            }
            /* leave finished nodes until one has a child left to visit */
            while (depth > 0 && stack[depth - 1].cursor < 0) {
                f = &stack[--depth];
                in.len -= 2;
                if (first[f->k] < 0 && f->last) {
                    vs_buf_addn(b, in.s, in.len);
                    vs_buf_addc(b, '\n');
                }
                if (!f->root)
                    in.len -= 2;
            }
            if (depth == 0)
                break;
            f = &stack[depth - 1];
            cur = (size_t)f->cursor;
            f->cursor = next[cur];
            root = false;
            last = next[cur] < 0;
        }
    }
    free(in.s);
    free(stack);
    free(next);
    free(first);
}
