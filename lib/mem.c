#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static void __attribute__((noreturn))
oom(size_t n)
{
    fprintf(stderr, "vsnap: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
vs_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        oom(size);
    return p;
}

void *
vs_xcalloc(size_t nmemb, size_t size)
{
    void *p;

    if (nmemb == 0 || size == 0)
        nmemb = size = 1;
    p = calloc(nmemb, size);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *
vs_xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    void *p;
    size_t total;

    if (size && nmemb > SIZE_MAX / size)
        oom(SIZE_MAX);
    total = nmemb * size;
    p = realloc(ptr, total ? total : 1);
    if (!p)
        oom(total);
    return p;
}

char *
vs_xstrdup(const char *s)
{
    char *p;

    if (!s)
        return NULL;
    p = strdup(s);
    if (!p)
        oom(strlen(s) + 1);
    return p;
}

char *
vs_xstrndup(const char *s, size_t n)
{
    char *p;

    if (!s)
        return NULL;
    p = strndup(s, n);
    if (!p)
        oom(n + 1);
    return p;
}

char *
vs_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom(0);
    return s;
}

void
vs_xgrow(void *arr_ptr, size_t *cap, size_t need, size_t elsize)
{
    void **arr = arr_ptr;
    size_t ncap;

    if (need < *cap)
        return;
    ncap = *cap ? *cap : 8;
    while (ncap <= need) {
        if (ncap > SIZE_MAX / 2)
            oom(SIZE_MAX);
        ncap *= 2;
    }
    *arr = vs_xreallocarray(*arr, ncap, elsize);
    memset((char *)*arr + *cap * elsize, 0, (ncap - *cap) * elsize);
    *cap = ncap;
}

void
vs_strv_free(char **strv)
{
    char **p;

    if (!strv)
        return;
    for (p = strv; *p; p++)
        free(*p);
    free(strv);
}

size_t
vs_strv_len(char *const *strv)
{
    size_t n = 0;

    if (strv)
        while (strv[n])
            n++;
    return n;
}

void
vs_strv_push(char ***strv, const char *s)
{
    size_t n = vs_strv_len(*strv);

    *strv = vs_xreallocarray(*strv, n + 2, sizeof(char *));
    (*strv)[n] = vs_xstrdup(s);
    (*strv)[n + 1] = NULL;
}
