/*
 * Reading tests/corpus/ (see tests/corpus/README.md): each area has a
 * manifest `cases` with one case a line,
 *
 *     NAME WORD... [KEY=VALUE...]    # comment
 *
 * and beside it the case's files NAME.xml (input), NAME.out (expected output)
 * or NAME.err (expected error message). Files may hold placeholders (@DIR@,
 * @SCHEMAS@, ...) that the test program replaces.
 */
#ifndef VSNAP_TEST_CORPUS_H
#define VSNAP_TEST_CORPUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "path.h"
#include "tap.h"

#define CORPUS_MAX_WORDS 16

typedef struct corpus_case {
    char *name;
    char *words[CORPUS_MAX_WORDS];   /* the positional words after the name */
    size_t nwords;
    char *keys[CORPUS_MAX_WORDS];    /* KEY=VALUE words, split at '=' */
    char *values[CORPUS_MAX_WORDS];
    size_t nkeys;
    int line;
} corpus_case;

typedef struct corpus {
    char *dir;                       /* $top_srcdir/tests/corpus/AREA */
    corpus_case *cases;
    size_t ncases;
} corpus;

/* $top_srcdir/tests/corpus/<area> (caller frees). */
static inline char *
corpus_dir(const char *area)
{
    const char *top = getenv("top_srcdir");

    return vs_xasprintf("%s/tests/corpus/%s", top && *top ? top : ".", area);
}

static inline void
corpus_free(corpus *c)
{
    size_t i, k;

    for (i = 0; i < c->ncases; i++) {
        free(c->cases[i].name);
        for (k = 0; k < c->cases[i].nwords; k++)
            free(c->cases[i].words[k]);
        for (k = 0; k < c->cases[i].nkeys; k++) {
            free(c->cases[i].keys[k]);
            free(c->cases[i].values[k]);
        }
    }
    free(c->cases);
    free(c->dir);
}

/* Read the manifest of `area`; a missing or malformed manifest is a TAP
 * failure (the corpus is part of the tree) and leaves c empty. */
static inline int
corpus_open(corpus *c, const char *area)
{
    char *path, *data = NULL, *line, *save = NULL;
    vs_error err;
    int lineno = 0;

    memset(c, 0, sizeof(*c));
    c->dir = corpus_dir(area);
    path = vs_xasprintf("%s/cases", c->dir);
    if (vs_file_read(path, 1 << 20, &data, NULL, &err) < 0) {
        ok(0, "corpus %s: manifest readable (%s)", area, err.msg);
        free(path);
        return -1;
    }
    free(path);
    for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        corpus_case *cc;
        char *hash = strchr(line, '#'), *w, *wsave = NULL;

        lineno++;
        if (hash)
            *hash = '\0';
        if (!(w = strtok_r(line, " \t", &wsave)))
            continue;
        c->cases = vs_xreallocarray(c->cases, c->ncases + 1, sizeof(*c->cases));
        cc = &c->cases[c->ncases++];
        memset(cc, 0, sizeof(*cc));
        cc->name = vs_xstrdup(w);
        cc->line = lineno;
        while ((w = strtok_r(NULL, " \t", &wsave))) {
            char *eq = strchr(w, '=');

            if (eq && cc->nkeys < CORPUS_MAX_WORDS) {
                cc->keys[cc->nkeys] = vs_xstrndup(w, (size_t)(eq - w));
                cc->values[cc->nkeys++] = vs_xstrdup(eq + 1);
            } else if (!eq && cc->nwords < CORPUS_MAX_WORDS) {
                cc->words[cc->nwords++] = vs_xstrdup(w);
            }
        }
    }
    free(data);
    ok(c->ncases > 0, "corpus %s: %zu cases", area, c->ncases);
    return c->ncases > 0 ? 0 : -1;
}

/* The i-th positional word, or "" (so a short line fails its case, not the program). */
static inline const char *
corpus_word(const corpus_case *cc, size_t i)
{
    return i < cc->nwords ? cc->words[i] : "";
}

/* The value of KEY=VALUE, or NULL. */
static inline const char *
corpus_key(const corpus_case *cc, const char *key)
{
    size_t i;

    for (i = 0; i < cc->nkeys; i++)
        if (strcmp(cc->keys[i], key) == 0)
            return cc->values[i];
    return NULL;
}

/* Every `from` in s (freed) replaced by `to`. */
static inline char *
corpus_subst(char *s, const char *from, const char *to)
{
    vs_buf b = VS_BUF_INIT;
    const char *p = s, *q;

    if (!s || !strstr(s, from))
        return s;
    while ((q = strstr(p, from))) {
        vs_buf_addf(&b, "%.*s%s", (int)(q - p), p, to);
        p = q + strlen(from);
    }
    vs_buf_add(&b, p);
    free(s);
    return vs_buf_steal(&b);
}

/* The file <dir>/<file>, or NULL when it does not exist (caller frees). */
static inline char *
corpus_read(const corpus *c, const char *file)
{
    char *path = vs_xasprintf("%s/%s", c->dir, file), *data = NULL;

    if (!vs_is_regular_file(path) || vs_file_read(path, 1 << 24, &data, NULL, NULL) < 0)
        data = NULL;
    free(path);
    return data;
}

/* The case's file NAME<ext> ("NAME.xml", "NAME.out", ...), or NULL. */
static inline char *
corpus_file(const corpus *c, const corpus_case *cc, const char *ext)
{
    char *f = vs_xasprintf("%s%s", cc->name, ext), *data = corpus_read(c, f);

    free(f);
    return data;
}

/* An expected error message: the file's one line without its newline. */
static inline char *
corpus_chomp(char *s)
{
    size_t n;

    if (s && (n = strlen(s)) > 0 && s[n - 1] == '\n')
        s[n - 1] = '\0';
    return s;
}

#endif
