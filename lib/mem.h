/* Allocation helpers that never return NULL: on exhaustion they print and abort,
 * so callers never check (tmux's xmalloc rule). Every pointer they return is
 * owned by the caller and released with free(). */
#ifndef VSNAP_MEM_H
#define VSNAP_MEM_H

#include <stddef.h>
#include "error.h"

void *vs_xmalloc(size_t size);
void *vs_xcalloc(size_t nmemb, size_t size);
void *vs_xreallocarray(void *ptr, size_t nmemb, size_t size);
char *vs_xstrdup(const char *s);              /* NULL in -> NULL out */
char *vs_xstrndup(const char *s, size_t n);
char *vs_xasprintf(const char *fmt, ...) VS_PRINTF(1, 2);

/* Grow *arr (element size elsize) so that index `need` fits; *cap updated. */
void vs_xgrow(void *arr_ptr, size_t *cap, size_t need, size_t elsize);

/* NULL-terminated string vectors. */
void vs_strv_free(char **strv);
size_t vs_strv_len(char *const *strv);
/* Append a copy of s to *strv (NULL-terminated, reallocated). */
void vs_strv_push(char ***strv, const char *s);

#endif
