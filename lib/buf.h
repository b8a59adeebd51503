/* A growable string buffer. */
#ifndef VSNAP_BUF_H
#define VSNAP_BUF_H

#include <stddef.h>
#include "error.h"

typedef struct vs_buf {
    char *data;   /* always NUL-terminated once anything was added; may be NULL when empty */
    size_t len;
    size_t cap;
} vs_buf;

#define VS_BUF_INIT { NULL, 0, 0 }

void vs_buf_add(vs_buf *b, const char *s);
void vs_buf_addn(vs_buf *b, const char *s, size_t n);
void vs_buf_addc(vs_buf *b, char c);
void vs_buf_addf(vs_buf *b, const char *fmt, ...) VS_PRINTF(2, 3);
void vs_buf_indent(vs_buf *b, int spaces);
/* libvirt's XML escaping: < > & ' " become entities; C0 controls other than
 * TAB, LF, CR are dropped. */
void vs_buf_add_xml_escaped(vs_buf *b, const char *s);
/* Detach the string (never NULL; "" for an empty buffer); the buffer is reset.
 * The caller frees the result. */
char *vs_buf_steal(vs_buf *b);
/* Return the contents ("" when empty); the buffer keeps ownership. */
const char *vs_buf_str(const vs_buf *b);
void vs_buf_reset(vs_buf *b);   /* free the storage */

#endif
