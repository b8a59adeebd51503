#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

static void
buf_reserve(vs_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;

    if (need <= b->cap)
        return;
    if (need < 64)
        need = 64;
    if (need < b->cap * 2)
        need = b->cap * 2;
    b->data = vs_xreallocarray(b->data, need, 1);
    b->cap = need;
}

void
vs_buf_addn(vs_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
vs_buf_add(vs_buf *b, const char *s)
{
    vs_buf_addn(b, s, strlen(s));
}

void
vs_buf_addc(vs_buf *b, char c)
{
    vs_buf_addn(b, &c, 1);
}

void
vs_buf_addf(vs_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
vs_buf_indent(vs_buf *b, int spaces)
{
    if (spaces <= 0)
        return;
    buf_reserve(b, (size_t)spaces);
    memset(b->data + b->len, ' ', (size_t)spaces);
    b->len += (size_t)spaces;
    b->data[b->len] = '\0';
}

void
vs_buf_add_xml_escaped(vs_buf *b, const char *s)
{
    const char *p, *run = s;

    /* Copy runs of plain bytes in one go; stop only at bytes that change. */
    for (p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        const char *rep;

        switch (c) {
        case '<':  rep = "&lt;"; break;
        case '>':  rep = "&gt;"; break;
        case '&':  rep = "&amp;"; break;
        case '\'': rep = "&apos;"; break;
        case '"':  rep = "&quot;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                rep = "";
            else
                continue;
        }
        vs_buf_addn(b, run, (size_t)(p - run));
        vs_buf_add(b, rep);
        run = p + 1;
    }
    vs_buf_addn(b, run, (size_t)(p - run));
}

char *
vs_buf_steal(vs_buf *b)
{
    char *s = b->data ? b->data : vs_xstrdup("");

    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

const char *
vs_buf_str(const vs_buf *b)
{
    return b->data ? b->data : "";
}

void
vs_buf_reset(vs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
